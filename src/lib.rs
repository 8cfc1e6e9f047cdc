//! se2 migrates Suborbital v0 storage roots into the SE2 (E2Core) layout.
//!
//! The pure core — `v0` and `se2` layout rules, the `catalog` trie, the
//! `function` judgement and the `plan` — does no IO. The edges open roots
//! (`root`), list them (`walk`), move bytes (`transfer`) and write only
//! through a `sink`. Commands (`migrate`, `inventory`) tie them together
//! and report through a `report::Reporter`; `cli` is the command line.

pub mod catalog;
pub mod cli;
pub mod cloud;
pub mod error;
pub mod function;
pub mod inventory;
pub mod migrate;
pub mod plan;
pub mod progress;
pub mod prune;
pub mod report;
pub mod root;
pub mod se2;
pub mod sink;
pub mod survey;
pub mod transfer;
pub mod v0;
pub mod verify;
pub mod walk;

pub use error::{Error, Result};
pub use inventory::{Inventory, inventory};
pub use migrate::{MigrateOptions, migrate};
pub use report::Report;
pub use root::Root;
