fn main() -> std::process::ExitCode {
    se2::cli::main()
}
