//! `se2 prune` without `--yes` asks on a terminal; with none to ask on it
//! refuses (exit 1) and deletes nothing.

use std::process::{Command, Stdio};

const SE2: &str = env!("CARGO_BIN_EXE_se2");

#[test]
fn prune_without_yes_and_without_a_terminal_deletes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/v0-root");
    let status = Command::new("cp").arg("-r").arg(format!("{}/.", sample.display())).arg(root.path()).status().unwrap();
    assert!(status.success());
    let run = |args: &[&str]| Command::new(SE2).args(args).stdin(Stdio::null()).output().unwrap();
    let path = root.path().to_str().unwrap();
    assert_eq!(run(&["migrate", path, "--quiet"]).status.code(), Some(0));
    let before = run(&["inventory", path, "--json"]).stdout;

    let refused = run(&["prune", path]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--yes") && stderr.contains("no terminal"), "{stderr}");
    assert_eq!(run(&["inventory", path, "--json"]).stdout, before, "a refused prune deleted something");

    let pruned = run(&["prune", path, "--yes"]);
    assert_eq!(pruned.status.code(), Some(0), "{}", String::from_utf8_lossy(&pruned.stderr));
    assert_ne!(run(&["inventory", path, "--json"]).stdout, before);
}
