//! What a run tells: the `Reporter` the engine calls as it goes (progress
//! bars and messages live behind it, in the CLI), and the `Report`, the full
//! account of a migration that `--report` and `--json` write.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::function::Problem;
use crate::plan::{Rejection, Write, WriteKind};

/// A stage of a run, as progress shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    List,
    Read,
    Hash,
    Plan,
    Binaries,
    Drafts,
    Modules,
    Tenants,
    System,
    Verify,
    Archive,
    Delete,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::List => "list",
            Stage::Read => "read",
            Stage::Hash => "hash",
            Stage::Plan => "plan",
            Stage::Binaries => "binaries",
            Stage::Drafts => "drafts",
            Stage::Modules => "modules",
            Stage::Tenants => "tenants",
            Stage::System => "system",
            Stage::Verify => "verify",
            Stage::Archive => "archive",
            Stage::Delete => "delete",
        }
    }

    /// The stage that executes writes of a kind.
    pub fn of(kind: WriteKind) -> Stage {
        match kind {
            WriteKind::Binary => Stage::Binaries,
            WriteKind::Draft => Stage::Drafts,
            WriteKind::Module => Stage::Modules,
            WriteKind::Tenant => Stage::Tenants,
            WriteKind::System => Stage::System,
        }
    }
}

/// The size of a stage's work, when it is known up front.
#[derive(Clone, Copy, Debug, Default)]
pub struct Work {
    pub items: u64,
    pub bytes: u64,
}

/// Receives progress and problems as the engine finds them. Every method
/// has a silent default.
pub trait Reporter: Send + Sync {
    /// A stage starts; `work` is its size when known.
    fn start(&self, _stage: Stage, _work: Option<Work>) {}
    /// One item of the stage is done, `bytes` long.
    fn advance(&self, _stage: Stage, _bytes: u64) {}
    /// The stage is over.
    fn finish(&self, _stage: Stage) {}
    /// Something worth a warning.
    fn warn(&self, _problem: &Problem) {}
    /// A function that will not be migrated.
    fn reject(&self, _rejection: &Rejection) {}
}

/// A reporter that says nothing.
pub struct Silent;

impl Reporter for Silent {}

/// How long one stage took.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    pub stage: Stage,
    pub seconds: f64,
}

/// Per-stage stopwatch of a run.
#[derive(Debug)]
pub struct Stopwatch {
    began: Instant,
    lap: Instant,
    pub timings: Vec<Timing>,
}

impl Stopwatch {
    pub fn new() -> Stopwatch {
        let now = Instant::now();
        Stopwatch { began: now, lap: now, timings: Vec::new() }
    }

    /// Records the time since the last lap against `stage`.
    pub fn lap(&mut self, stage: Stage) {
        let now = Instant::now();
        self.timings.push(Timing { stage, seconds: (now - self.lap).as_secs_f64() });
        self.lap = now;
    }

    pub fn elapsed(&self) -> Duration {
        self.began.elapsed()
    }
}

impl Default for Stopwatch {
    fn default() -> Self {
        Stopwatch::new()
    }
}

/// The closing figures of a migration.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Functions migrated (including those that needed no write).
    pub functions: usize,
    /// Binaries written.
    pub binaries: usize,
    /// Drafts written.
    pub drafts: usize,
    /// Bytes written, over every write.
    pub bytes: u64,
    pub rejected: usize,
    pub warnings: usize,
    pub elapsed_seconds: f64,
}

/// The full account of a migration.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub root: String,
    pub destination: String,
    pub dry_run: bool,
    pub summary: Summary,
    /// Every write, made (or, in a dry run, that would be made), in order.
    pub writes: Vec<Write>,
    pub rejections: Vec<Rejection>,
    pub warnings: Vec<Problem>,
    pub stages: Vec<Timing>,
}
