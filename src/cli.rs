//! The command line: clap's arguments, turned into validated settings, run,
//! printed, and mapped to an exit code. Nothing past this module sees clap.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{Error, Result};
use crate::inventory::{Inventory, inventory};
use crate::migrate::{MigrateOptions, migrate};
use crate::progress::Progress;
use crate::report::Report;
use crate::root::Root;

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

/// Parses the process arguments, runs, and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let outcome = runtime.block_on(run(cli)).unwrap_or_else(|error| {
        eprintln!("se2: error: {error}");
        Outcome::Failed
    });
    ExitCode::from(outcome as u8)
}

async fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Migrate { root, to, dry_run, tenants, jobs, report, json, quiet } => {
            let source = Root::open(&root)?;
            let dest = match to {
                None => source.clone(),
                Some(to) if dry_run => Root::open(&to).or_else(|_| Ok::<_, Error>(Root::memory()))?,
                Some(to) => Root::open_for_writing(&to)?,
            };
            let jobs = jobs.map_or_else(|| source.default_jobs().max(dest.default_jobs()), NonZeroUsize::get);
            let options = MigrateOptions { dry_run, tenants, jobs };
            let progress = Progress::new(quiet);
            let account = migrate(&source, &dest, &options, &progress).await?;
            if let Some(path) = report {
                let text = serde_json::to_vec_pretty(&account).expect("a report serializes");
                std::fs::write(&path, text).map_err(|source| Error::Report { path, source })?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&account).expect("a report serializes"));
            } else {
                print_migration(&account, quiet);
            }
            Ok(if account.rejections.is_empty() { Outcome::Done } else { Outcome::Rejected })
        }
        Command::Inventory { root, json } => {
            let root = Root::open(&root)?;
            let jobs = root.default_jobs();
            let found = inventory(&root, jobs, &Progress::new(json)).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&found).expect("an inventory serializes"));
            } else {
                print_inventory(&found);
            }
            Ok(if found.rejections.is_empty() { Outcome::Done } else { Outcome::Rejected })
        }
    }
}

fn print_migration(report: &Report, quiet: bool) {
    if report.dry_run {
        for write in &report.writes {
            match &write.source {
                Some(source) => println!(
                    "would copy {source} -> {} ({} bytes, sha256 {})",
                    write.destination, write.bytes, write.digest
                ),
                None => println!("would put  {} ({} bytes)", write.destination, write.bytes),
            }
        }
    }
    if quiet {
        return;
    }
    let s = &report.summary;
    println!(
        "{}{} functions, {} binaries, {} drafts, {} written, {} rejected, {} warnings, {:.2}s",
        if report.dry_run { "dry run, nothing written: " } else { "" },
        s.functions,
        s.binaries,
        s.drafts,
        human_bytes(s.bytes),
        s.rejected,
        s.warnings,
        s.elapsed_seconds
    );
}

fn print_inventory(found: &Inventory) {
    let t = &found.totals;
    println!("root {}: {} objects, {}", found.root, t.objects, human_bytes(t.bytes));
    println!("  tenants    {:>8}", t.tenants);
    println!("  functions  {:>8}  ({} rejected)", t.functions, t.rejected);
    println!("  versions   {:>8}", t.versions);
    println!("  binaries   {:>8}  {}", t.binaries, human_bytes(t.binary_bytes));
    println!("  drafts     {:>8}  {}", t.drafts, human_bytes(t.draft_bytes));
    println!("  runnables  {:>8}", t.runnables);
    println!("  se2        {:>8}  {}", t.se2_objects, human_bytes(t.se2_bytes));
    println!("  other      {:>8}  {}", t.other, human_bytes(t.other_bytes));
    for tenant in &found.tenants {
        println!("{}", tenant.identifier);
        for f in &tenant.functions {
            let versions: Vec<&str> = f.versions.iter().map(|v| v.version.as_str()).collect();
            match (&f.rejected, &f.lang, &f.current) {
                (Some(reason), _, _) => println!("  {}/{}  REJECTED {reason}", f.namespace, f.name),
                (None, Some(lang), Some(current)) => {
                    println!("  {}/{}  {lang}  current {current}  versions {}", f.namespace, f.name, versions.join(" "))
                }
                _ => println!("  {}/{}", f.namespace, f.name),
            }
        }
    }
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
