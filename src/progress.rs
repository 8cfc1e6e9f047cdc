//! The terminal side of reporting: indicatif bars per stage on stderr when
//! it is a terminal (and not `--quiet`), and problems printed as found.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::function::Problem;
use crate::plan::Rejection;
use crate::report::{Reporter, Stage, Work};

/// What a bar counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Bytes,
    Items,
}

/// Draws progress bars and prints problems on stderr.
pub struct Progress {
    bars: Option<MultiProgress>,
    active: Mutex<HashMap<&'static str, (ProgressBar, Unit)>>,
}

impl Progress {
    /// Bars only when stderr is a terminal and `quiet` is off.
    pub fn new(quiet: bool) -> Progress {
        let bars = (!quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)));
        Progress { bars, active: Mutex::new(HashMap::new()) }
    }

    fn print(&self, line: String) {
        match &self.bars {
            Some(bars) => bars.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> ")
}

impl Reporter for Progress {
    fn start(&self, stage: Stage, work: Option<Work>) {
        let Some(bars) = &self.bars else { return };
        let (bar, unit) = match work {
            Some(work) if work.bytes > 0 => (
                ProgressBar::new(work.bytes)
                    .with_style(style("{prefix:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")),
                Unit::Bytes,
            ),
            Some(work) => {
                (ProgressBar::new(work.items).with_style(style("{prefix:>9} [{bar:30}] {pos}/{len}")), Unit::Items)
            }
            None => (ProgressBar::new_spinner().with_style(style("{prefix:>9} {spinner} {pos} objects")), Unit::Items),
        };
        let bar = bars.add(bar.with_prefix(stage.name()));
        bar.enable_steady_tick(Duration::from_millis(125));
        self.active.lock().expect("not poisoned").insert(stage.name(), (bar, unit));
    }

    fn advance(&self, stage: Stage, bytes: u64) {
        if let Some((bar, unit)) = self.active.lock().expect("not poisoned").get(stage.name()) {
            bar.inc(if *unit == Unit::Bytes { bytes } else { 1 });
        }
    }

    fn finish(&self, stage: Stage) {
        if let Some((bar, _)) = self.active.lock().expect("not poisoned").remove(stage.name()) {
            bar.finish_and_clear();
        }
    }

    fn warn(&self, problem: &Problem) {
        self.print(format!("warning: {problem}"));
    }

    fn reject(&self, rejection: &Rejection) {
        self.print(format!("rejected: {rejection}"));
    }
}
