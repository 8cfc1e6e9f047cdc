//! `se2 prune`: deletes the v0 objects (version directories and
//! `.runnable.yaml` files) of functions that verify finds fully migrated,
//! optionally archiving them first; never touches an SE2 object.
//!
//! Each function's deletion is journaled: `<t>/<ns>/<n>/.se2-prune` lists
//! its keys before the first delete and goes after the last, so a killed
//! prune is finished by the next one even though the half-deleted function
//! no longer verifies.

use futures::{StreamExt, TryStreamExt, stream};
use serde::Serialize;

use crate::catalog::{FunctionAssets, Object};
use crate::error::{Error, Result};
use crate::report::{Reporter, Stage, Work};
use crate::root::Root;
use crate::se2;
use crate::survey::survey;
use crate::transfer;
use crate::verify::{Verification, verify_survey};

/// The v0 objects of one function that prune deletes.
#[derive(Clone, Debug, Serialize)]
pub struct Doomed {
    pub function: String,
    pub objects: Vec<Object>,
    /// True when an interrupted prune is being finished.
    pub resumed: bool,
}

/// A function prune keeps, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Kept {
    pub function: String,
    pub reasons: Vec<String>,
}

/// What prune will do, decided before it does anything.
#[derive(Clone, Debug, Serialize)]
pub struct PrunePlan {
    pub doomed: Vec<Doomed>,
    pub kept: Vec<Kept>,
    pub verification: Verification,
    /// Staging files of interrupted writes (journals among them), removed by prune.
    pub stale: Vec<String>,
}

impl PrunePlan {
    pub fn objects(&self) -> usize {
        self.doomed.iter().map(|d| d.objects.len()).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.doomed.iter().flat_map(|d| &d.objects).map(|o| o.size).sum()
    }
}

/// Verifies `source` against `dest` and decides what prune deletes.
pub async fn plan_prune(source: &Root, dest: &Root, jobs: usize, reporter: &dyn Reporter) -> Result<PrunePlan> {
    let survey = survey(source, &[], jobs, reporter).await?;
    let verification = verify_survey(source, &survey, dest, jobs, reporter).await?;
    let mut doomed = Vec::new();
    let mut kept = Vec::new();
    for surveyed in &survey.functions {
        let function = surveyed.assets.id.dir();
        if let Some(journal) = &surveyed.assets.journal {
            let objects = journaled(source, journal).await?;
            doomed.push(Doomed { function, objects, resumed: true });
        } else if verification.is_migrated(&function) {
            doomed.push(Doomed { function, objects: v0_objects(&surveyed.assets), resumed: false });
        } else {
            let mut reasons: Vec<String> =
                verification.findings.iter().filter(|f| f.concerns(&function)).map(ToString::to_string).collect();
            if reasons.is_empty() {
                reasons.push("not found fully migrated".into());
            }
            kept.push(Kept { function, reasons });
        }
    }
    Ok(PrunePlan { doomed, kept, verification, stale: survey.stale })
}

/// The v0 objects of a function: its `.runnable.yaml` and everything in its
/// version directories; runnables last, so a function stays recognisable
/// until its end.
fn v0_objects(assets: &FunctionAssets) -> Vec<Object> {
    let mut objects = Vec::new();
    let mut runnables = Vec::new();
    for files in assets.versions.values() {
        objects.extend(files.bin.iter().cloned());
        objects.extend(files.sources.iter().cloned());
        objects.extend(files.strays.iter().cloned());
        runnables.extend(files.runnable.iter().cloned());
    }
    runnables.extend(assets.runnable.iter().cloned());
    objects.extend(runnables);
    objects
}

/// The keys an interrupted prune's journal lists.
async fn journaled(root: &Root, journal: &Object) -> Result<Vec<Object>> {
    let fetched = transfer::read_small(root, &journal.key, se2::MAX_METADATA_BYTES).await?;
    let text = fetched.map(|f| String::from_utf8_lossy(&f.bytes).into_owned()).unwrap_or_default();
    Ok(text.lines().filter(|l| !l.is_empty()).map(|key| Object { key: key.to_owned(), size: 0 }).collect())
}

/// What prune did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Pruned {
    pub functions: usize,
    pub deleted: usize,
    pub archived: usize,
    pub bytes: u64,
}

/// Executes a prune plan: archives (when asked) and deletes, function by
/// function, each under its journal.
pub async fn prune(
    source: &Root,
    plan: &PrunePlan,
    archive: Option<&Root>,
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<Pruned> {
    let mut pruned = Pruned::default();
    for key in &plan.stale {
        transfer::remove_staging(source, key)?;
    }
    if let Some(archive) = archive {
        let fresh: Vec<&Object> = plan.doomed.iter().filter(|d| !d.resumed).flat_map(|d| &d.objects).collect();
        reporter
            .start(Stage::Archive, Some(Work { items: fresh.len() as u64, bytes: fresh.iter().map(|o| o.size).sum() }));
        pruned.archived = stream::iter(fresh)
            .map(|object| async move {
                archive_object(source, archive, object).await?;
                reporter.advance(Stage::Archive, object.size);
                Ok::<_, Error>(())
            })
            .buffer_unordered(jobs)
            .try_fold(0, |n, ()| async move { Ok(n + 1) })
            .await?;
        reporter.finish(Stage::Archive);
    }
    reporter.start(Stage::Delete, Some(Work { items: plan.objects() as u64, bytes: 0 }));
    let counts: Vec<usize> = stream::iter(&plan.doomed)
        .map(|doomed| async move {
            let journal = format!("{}/{}", doomed.function, se2::PRUNE_JOURNAL_FILE);
            if !doomed.resumed {
                let keys: String = doomed.objects.iter().map(|o| format!("{}\n", o.key)).collect();
                transfer::put(source, &journal, keys.into(), &Default::default()).await?;
            }
            for object in &doomed.objects {
                transfer::delete(source, &object.key).await?;
                reporter.advance(Stage::Delete, 0);
            }
            transfer::delete(source, &journal).await?;
            Ok::<_, Error>(doomed.objects.len())
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    reporter.finish(Stage::Delete);
    pruned.functions = counts.len();
    pruned.deleted = counts.iter().sum();
    pruned.bytes = plan.doomed.iter().filter(|d| !d.resumed).flat_map(|d| &d.objects).map(|o| o.size).sum();
    Ok(pruned)
}

/// Copies one object into the archive root and reads it back: only an
/// object whose archived bytes hash like the original may be deleted.
async fn archive_object(source: &Root, archive: &Root, object: &Object) -> Result<()> {
    let (digest, size) = transfer::hash(source, &object.key).await?;
    transfer::copy(source, archive, &object.key, &object.key, &digest, size).await?;
    let (archived, archived_size) = transfer::hash(archive, &object.key).await?;
    if archived != digest || archived_size != size {
        let reason =
            format!("the archived copy reads back as {archived_size} bytes hashing to {archived}, not {digest}");
        return Err(Error::Object { key: object.key.clone(), reason });
    }
    Ok(())
}
