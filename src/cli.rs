//! The command line: clap's arguments, turned into validated settings, run,
//! printed, and mapped to an exit code. Nothing past this module sees clap.

use std::ffi::OsString;
use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{Error, Result};
use crate::inventory::{Inventory, inventory};
use crate::migrate::{MigrateOptions, migrate};
use crate::progress::Progress;
use crate::prune::{PrunePlan, plan_prune, prune};
use crate::report::Report;
use crate::root::Root;
use crate::verify::{Verification, verify};

/// Migrate Suborbital v0 storage roots into the SE2 layout.
#[derive(Debug, Parser)]
#[command(name = "se2", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the v0 layout under ROOT into the SE2 layout under DEST (default: ROOT).
    Migrate {
        /// The v0 root: a directory, file:///path, s3://, gs://, az:// or memory://.
        root: String,
        /// Write the SE2 layout into this root instead of ROOT.
        #[arg(long, value_name = "DEST")]
        to: Option<String>,
        /// Read and hash, but write nothing; print every write it would make.
        #[arg(long)]
        dry_run: bool,
        /// Migrate only this tenant (repeatable).
        #[arg(long = "tenant", value_name = "IDENT")]
        tenants: Vec<String>,
        /// Requests in flight at once (default: 2 per core on local disk, 32 on remote stores).
        #[arg(long, value_name = "N")]
        jobs: Option<NonZeroUsize>,
        /// Write the full account of the run as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Print the account as one JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// No progress bars and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Check every identifier of the SE2 layout under DEST (default: ROOT) against ROOT.
    Verify {
        root: String,
        /// Check the SE2 layout under this root instead of ROOT.
        #[arg(long, value_name = "DEST")]
        to: Option<String>,
        /// Print the findings as one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Delete the v0 objects of functions that verify finds fully migrated.
    Prune {
        root: String,
        /// Where the SE2 layout lives (default: ROOT).
        #[arg(long, value_name = "DEST")]
        to: Option<String>,
        /// Copy the v0 objects to this root first, and delete only what was archived and read back.
        #[arg(long, value_name = "ARCHIVE")]
        archive: Option<String>,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
    /// List what ROOT holds, without reading binaries.
    Inventory {
        root: String,
        /// Print the inventory as one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// Exit codes of SPEC.md §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything found was handled (warnings allowed).
    Done = 0,
    /// The run could not proceed.
    Failed = 1,
    /// The run finished, but some functions were rejected.
    Rejected = 3,
}

/// Runs the process's command line and returns its exit code.
pub fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    ExitCode::from(runtime.block_on(run(std::env::args_os(), &mut std::io::stdout().lock())))
}

/// Runs one command line, printing its results on `out` and its messages on
/// stderr; returns the exit code (2 for a bad command line).
pub async fn run<I, T>(args: I, out: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return error.exit_code() as u8;
        }
    };
    match execute(cli, out).await {
        Ok(outcome) => outcome as u8,
        Err(error) => {
            eprintln!("se2: error: {error}");
            Outcome::Failed as u8
        }
    }
}

async fn execute(cli: Cli, out: &mut dyn Write) -> Result<Outcome> {
    match cli.command {
        Command::Migrate { root, to, dry_run, tenants, jobs, report, json, quiet } => {
            let source = Root::open(&root)?;
            let dest = match to {
                None => source.clone(),
                Some(to) if dry_run => Root::open_for_dry_run(&to)?,
                Some(to) => Root::open_for_writing(&to)?,
            };
            let jobs = jobs.map_or_else(|| source.default_jobs().max(dest.default_jobs()), NonZeroUsize::get);
            let options = MigrateOptions { dry_run, tenants, jobs };
            let progress = Progress::new(quiet);
            let account = migrate(&source, &dest, &options, &progress).await?;
            if let Some(path) = report {
                let written = std::fs::File::create(&path).and_then(|file| {
                    let mut file = std::io::BufWriter::new(file);
                    serde_json::to_writer_pretty(&mut file, &account)?;
                    file.flush()
                });
                written.map_err(|source| Error::Report { path, source })?;
            }
            if json {
                print_json(out, &account)?;
            } else {
                print_migration(out, &account, quiet)?;
            }
            Ok(if account.rejections.is_empty() { Outcome::Done } else { Outcome::Rejected })
        }
        Command::Verify { root, to, json } => {
            let source = Root::open(&root)?;
            let dest = match to {
                None => source.clone(),
                Some(to) => Root::open(&to)?,
            };
            let jobs = source.default_jobs().max(dest.default_jobs());
            let verification = verify(&source, &dest, jobs, &Progress::new(json)).await?;
            if json {
                print_json(out, &verification)?;
            } else {
                print_verification(out, &verification)?;
            }
            Ok(if verification.findings.is_empty() { Outcome::Done } else { Outcome::Rejected })
        }
        Command::Prune { root, to, archive, yes } => {
            let source = Root::open(&root)?;
            let dest = match to {
                None => source.clone(),
                Some(to) => Root::open(&to)?,
            };
            let archive = archive.map(|a| Root::open_for_writing(&a)).transpose()?;
            let jobs = source.default_jobs().max(dest.default_jobs());
            let progress = Progress::new(false);
            let plan = plan_prune(&source, &dest, jobs, &progress).await?;
            print_prune_plan(out, &plan)?;
            let question = format!("delete {} v0 objects of {} functions?", plan.objects(), plan.doomed.len());
            if !plan.doomed.is_empty() && !yes && !confirm(&question)? {
                return Ok(Outcome::Failed);
            }
            let pruned = prune(&source, &plan, archive.as_ref(), jobs, &progress).await?;
            writeln!(
                out,
                "deleted {} v0 objects ({}) of {} functions; archived {}",
                pruned.deleted,
                human_bytes(pruned.bytes),
                pruned.functions,
                pruned.archived
            )
            .map_err(stdout_failed)?;
            Ok(if plan.kept.is_empty() { Outcome::Done } else { Outcome::Rejected })
        }
        Command::Inventory { root, json } => {
            let root = Root::open(&root)?;
            let jobs = root.default_jobs();
            let found = inventory(&root, jobs, &Progress::new(json)).await?;
            if json {
                print_json(out, &found)?;
            } else {
                print_inventory(out, &found)?;
            }
            Ok(if found.rejections.is_empty() { Outcome::Done } else { Outcome::Rejected })
        }
    }
}

/// Writes one JSON document, streamed: an account of a million writes is
/// never held as one string.
fn print_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| stdout_failed(e.into()))?;
    writeln!(out).and_then(|()| out.flush()).map_err(stdout_failed)
}

fn stdout_failed(source: std::io::Error) -> Error {
    Error::io("<stdout>", source)
}

fn print_migration(out: &mut dyn Write, report: &Report, quiet: bool) -> Result<()> {
    if report.dry_run {
        for write in &report.writes {
            match &write.source {
                Some(source) => writeln!(
                    out,
                    "would copy {source} -> {} ({} bytes, sha256 {})",
                    write.destination, write.bytes, write.digest
                ),
                None => writeln!(out, "would put  {} ({} bytes)", write.destination, write.bytes),
            }
            .map_err(stdout_failed)?;
        }
    }
    if quiet {
        return Ok(());
    }
    let s = &report.summary;
    writeln!(
        out,
        "{}{} functions, {} binaries, {} drafts, {} {}, {} rejected, {} warnings, {:.2}s",
        if report.dry_run { "dry run, nothing written: " } else { "" },
        s.functions,
        s.binaries,
        s.drafts,
        human_bytes(s.bytes),
        if report.dry_run { "to write" } else { "written" },
        s.rejected,
        s.warnings,
        s.elapsed_seconds
    )
    .map_err(stdout_failed)
}

fn print_inventory(out: &mut dyn Write, found: &Inventory) -> Result<()> {
    use std::fmt::Write as _;
    let t = &found.totals;
    let mut text = String::new();
    let _ = writeln!(text, "root {}: {} objects, {}", found.root, t.objects, human_bytes(t.bytes));
    let _ = writeln!(text, "  tenants    {:>8}", t.tenants);
    let _ = writeln!(text, "  functions  {:>8}  ({} rejected)", t.functions, t.rejected);
    let _ = writeln!(text, "  versions   {:>8}", t.versions);
    let _ = writeln!(text, "  binaries   {:>8}  {}", t.binaries, human_bytes(t.binary_bytes));
    let _ = writeln!(text, "  drafts     {:>8}  {}", t.drafts, human_bytes(t.draft_bytes));
    let _ = writeln!(text, "  runnables  {:>8}", t.runnables);
    let _ = writeln!(text, "  se2        {:>8}  {}", t.se2_objects, human_bytes(t.se2_bytes));
    let _ = writeln!(text, "  other      {:>8}  {}", t.other, human_bytes(t.other_bytes));
    for tenant in &found.tenants {
        let _ = writeln!(text, "{}", tenant.identifier);
        for f in &tenant.functions {
            let versions: Vec<&str> = f.versions.iter().map(|v| v.version.as_str()).collect();
            let _ = match (&f.rejected, &f.lang, &f.current) {
                (Some(reason), _, _) => writeln!(text, "  {}/{}  REJECTED {reason}", f.namespace, f.name),
                (None, Some(lang), Some(current)) => writeln!(
                    text,
                    "  {}/{}  {lang}  current {current}  versions {}",
                    f.namespace,
                    f.name,
                    versions.join(" ")
                ),
                _ => writeln!(text, "  {}/{}", f.namespace, f.name),
            };
        }
    }
    out.write_all(text.as_bytes()).map_err(stdout_failed)
}

fn print_verification(out: &mut dyn Write, verification: &Verification) -> Result<()> {
    use std::fmt::Write as _;
    let mut text = String::new();
    for finding in &verification.findings {
        let _ = writeln!(text, "{finding}");
    }
    let c = &verification.checked;
    let _ = writeln!(
        text,
        "checked {} binaries ({}), {} modules, {} tenants, {} v0 versions: {}",
        c.binaries,
        human_bytes(c.bytes),
        c.modules,
        c.tenants,
        c.v0_versions,
        match verification.findings.len() {
            0 => "all hold".to_owned(),
            n => format!("{n} problems"),
        }
    );
    out.write_all(text.as_bytes()).map_err(stdout_failed)
}

fn print_prune_plan(out: &mut dyn Write, plan: &PrunePlan) -> Result<()> {
    use std::fmt::Write as _;
    let mut text = String::new();
    for kept in &plan.kept {
        let _ = writeln!(text, "keeping {}:", kept.function);
        for reason in &kept.reasons {
            let _ = writeln!(text, "  {reason}");
        }
    }
    for doomed in plan.doomed.iter().filter(|d| d.resumed) {
        let _ = writeln!(text, "finishing the interrupted prune of {}", doomed.function);
    }
    let _ = writeln!(
        text,
        "{} functions fully migrated: {} v0 objects ({}) to delete; {} functions kept",
        plan.doomed.len(),
        plan.objects(),
        human_bytes(plan.bytes()),
        plan.kept.len()
    );
    out.write_all(text.as_bytes()).map_err(stdout_failed)
}

/// Asks on the terminal; with no terminal to ask on, refuses.
fn confirm(question: &str) -> Result<bool> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        eprintln!("se2: {question} refusing: no terminal to ask on; pass --yes to delete");
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Error::io("<stdin>", e))?;
    let yes = matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes");
    if !yes {
        eprintln!("se2: nothing deleted");
    }
    Ok(yes)
}

/// Bytes in binary units, for people.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
