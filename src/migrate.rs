//! The migration engine: survey the root, read what the destination already
//! holds, hash every binary and draft while copying the binaries, plan the
//! rest, then write it stage by stage (drafts, modules, tenants, system
//! version) through a sink.

use std::collections::{BTreeSet, HashMap};

use futures::{SinkExt, StreamExt, TryStreamExt, stream};
use serde_json::Value;

use crate::catalog::{Catalog, Category, Object};
use crate::error::{Error, Result};
use crate::function::Function;
use crate::plan::{self, Destination, Existing, Plan, Rejection, Write, WriteKind};
use crate::report::{Report, Reporter, Stage, Stopwatch, Summary, Work};
use crate::root::Root;
use crate::se2;
use crate::sink::{DryRun, Sink, StoreSink};
use crate::survey::survey;
use crate::transfer;
use crate::walk::walk;

/// How a migration runs.
#[derive(Clone, Debug)]
pub struct MigrateOptions {
    /// Read and hash, plan, but write nothing.
    pub dry_run: bool,
    /// Limit the run to these tenants (all when empty).
    pub tenants: Vec<String>,
    /// Requests in flight at once.
    pub jobs: usize,
}

/// Migrates the v0 layout under `source` into the SE2 layout under `dest`
/// (the same root for an in-place migration).
pub async fn migrate(source: &Root, dest: &Root, options: &MigrateOptions, reporter: &dyn Reporter) -> Result<Report> {
    let jobs = options.jobs.max(1);
    let mut clock = Stopwatch::new();
    let survey = survey(source, &options.tenants, jobs, reporter).await?;
    clock.lap(Stage::Read);

    let mut rejections = survey.rejections;
    let mut warnings = survey.warnings;
    let mut functions = Vec::new();
    for surveyed in survey.functions {
        warnings.extend(surveyed.judgement.warnings);
        match surveyed.judgement.outcome {
            Ok(function) => functions.push(function),
            Err(problem) => rejections.push(Rejection::new(&surveyed.assets.id, problem)),
        }
    }
    // Told at once, not after hours of hashing.
    rejections.iter().for_each(|r| reporter.reject(r));
    warnings.iter().for_each(|w| reporter.warn(w));

    // What the destination holds is read before anything is written: a
    // tenant whose tenant.json cannot be merged into gets nothing.
    let (dest_catalog, stale) = if source.same_store(dest) {
        (None, survey.stale)
    } else {
        let listing = walk(dest, jobs, reporter).await?;
        let stale = listing.skipped.into_iter().filter(|s| s.is_stale_staging()).map(|s| s.key).collect();
        (Some(listing.catalog), stale)
    };
    let dest_catalog = dest_catalog.as_ref().unwrap_or(&survey.catalog);
    let overviews = read_overviews(dest, dest_catalog, jobs).await?;

    let sink: Box<dyn Sink + '_> =
        if options.dry_run { Box::new(DryRun) } else { Box::new(StoreSink { source, dest }) };
    let journaled = Journaled::new(sink.as_ref());
    for key in &stale {
        sink.remove(key).await?;
    }
    let blocked = plan::unmergeable(&overviews.tenants);
    let writable: Vec<&Function> = functions.iter().filter(|f| !blocked.contains_key(f.id.ident.as_str())).collect();
    let (digests, copied) = hash_and_copy(source, &writable, dest_catalog, &journaled, jobs, reporter).await?;
    // Hashing and copying binaries overlap: their time is one lap.
    clock.lap(Stage::Binaries);

    let meta = read_existing(dest, dest_catalog, &writable, &digests, overviews, jobs).await?;
    let plan = plan::plan(&functions, &digests, dest_catalog, &meta);
    debug_assert_eq!(copied, plan.binaries.len(), "the binaries copied are the plan's");
    plan.rejections.iter().for_each(|r| reporter.reject(r));
    plan.warnings.iter().for_each(|w| reporter.warn(w));
    rejections.extend(plan.rejections.iter().cloned());
    warnings.extend(plan.warnings.iter().cloned());
    rejections.sort();
    warnings.sort();
    clock.lap(Stage::Plan);

    execute(&plan, &journaled, jobs, reporter, &mut clock).await?;

    let summary = Summary {
        functions: plan.functions,
        binaries: plan.binaries.len(),
        drafts: plan.drafts.len(),
        bytes: plan.writes().map(|w| w.bytes).sum(),
        rejected: rejections.len(),
        warnings: warnings.len(),
        elapsed_seconds: clock.elapsed().as_secs_f64(),
    };
    Ok(Report {
        root: source.url.clone(),
        destination: dest.url.clone(),
        dry_run: options.dry_run,
        summary,
        writes: plan.into_writes(),
        rejections,
        warnings,
        stages: clock.timings,
    })
}

/// A sink that journals its first write: `begin` runs once, right before
/// it, so a run that writes nothing leaves no trace.
struct Journaled<'a> {
    sink: &'a dyn Sink,
    begun: tokio::sync::OnceCell<()>,
}

impl<'a> Journaled<'a> {
    fn new(sink: &'a dyn Sink) -> Journaled<'a> {
        Journaled { sink, begun: tokio::sync::OnceCell::new() }
    }

    async fn write(&self, write: &Write) -> Result<()> {
        self.begun.get_or_try_init(|| self.sink.begin()).await?;
        self.sink.write(write).await
    }

    async fn end(&self) -> Result<()> {
        match self.begun.get() {
            Some(()) => self.sink.end().await,
            None => Ok(()),
        }
    }
}

/// Hashes every binary and draft to migrate and, as soon as all of one
/// function's files are hashed, copies its binaries: hashing and copying
/// run as two bounded stages side by side. A binary is content-addressed
/// and nothing names it until its tenant.json is written, so it may be
/// copied before the rest of the plan exists. Returns key → SHA-256, and
/// how many binaries were written.
async fn hash_and_copy(
    root: &Root,
    functions: &[&Function],
    dest: &Catalog,
    sink: &Journaled<'_>,
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<(HashMap<String, String>, usize)> {
    let objects: Vec<(usize, &Object)> = functions
        .iter()
        .enumerate()
        .flat_map(|(i, f)| {
            f.builds.values().flat_map(move |b| std::iter::once(&b.bin).chain(&b.draft).map(move |o| (i, o)))
        })
        .collect();
    let work = Work { items: objects.len() as u64, bytes: objects.iter().map(|(_, o)| o.size).sum() };
    reporter.start(Stage::Hash, Some(work));
    reporter.start(Stage::Binaries, None);
    let mut unhashed: Vec<usize> =
        functions.iter().map(|f| f.builds.values().map(|b| 1 + usize::from(b.draft.is_some())).sum()).collect();
    let mut digests = HashMap::with_capacity(objects.len());
    let (ready, queue) = futures::channel::mpsc::channel::<Write>(jobs * 2);

    let hashing = async move {
        let mut ready = ready;
        let mut hashed = stream::iter(objects)
            .map(|(i, object)| async move {
                let (digest, length) = transfer::hash(root, &object.key).await?;
                if length != object.size {
                    let reason = format!("changed while se2 read it: listed with {} bytes, read {length}", object.size);
                    return Err(Error::Object { key: object.key.clone(), reason });
                }
                reporter.advance(Stage::Hash, length);
                Ok((i, object.key.clone(), digest))
            })
            .buffer_unordered(jobs);
        while let Some((i, key, digest)) = hashed.try_next().await? {
            digests.insert(key, digest);
            unhashed[i] -= 1;
            if unhashed[i] == 0 {
                for write in plan::binary_writes(functions[i], &digests, dest) {
                    // The copying side only hangs up when it failed; its error is the one reported.
                    if ready.send(write).await.is_err() {
                        break;
                    }
                }
            }
        }
        Ok::<_, Error>(digests)
    };
    let copying = queue
        .map(|write| async move {
            sink.write(&write).await?;
            reporter.advance(Stage::Binaries, write.bytes);
            Ok::<_, Error>(())
        })
        .buffer_unordered(jobs)
        .try_fold(0, |copied, ()| async move { Ok(copied + 1) });
    let (digests, copied) = futures::try_join!(hashing, copying)?;
    reporter.finish(Stage::Hash);
    reporter.finish(Stage::Binaries);
    Ok((digests, copied))
}

/// The overviews the destination holds: every `tenant.json`, `system/version`
/// and whether a killed run left its journal.
async fn read_overviews(dest: &Root, catalog: &Catalog, jobs: usize) -> Result<Destination> {
    let keys = catalog.tenant_overviews().map(|ident| se2::tenant_key(&ident)).collect();
    let tenants = transfer::read_metadata(dest, keys, jobs)
        .await?
        .into_iter()
        .map(|(key, found)| {
            let value = serde_json::from_slice::<Value>(&found.bytes)
                .map_err(|e| format!("the existing tenant.json does not parse: {e}"));
            let ident = key.split('/').next().expect("a tenant key has an identifier").to_owned();
            (ident, Existing { value, e_tag: found.e_tag, version: found.version })
        })
        .collect();
    let system = transfer::read_metadata(dest, present(catalog, se2::SYSTEM_VERSION_KEY), 1)
        .await?
        .pop()
        .map(|(_, found)| Existing { value: found.bytes.to_vec(), e_tag: found.e_tag, version: found.version });
    let pending = catalog.get(se2::PENDING_KEY).is_some();
    Ok(Destination { tenants, system, pending, ..Destination::default() })
}

/// Adds to `overviews` what the destination holds of the modules this run
/// produces: each existing `.module.yaml`, and the digest of each draft
/// already where one of its drafts goes.
async fn read_existing(
    dest: &Root,
    catalog: &Catalog,
    functions: &[&Function],
    digests: &HashMap<String, String>,
    overviews: Destination,
    jobs: usize,
) -> Result<Destination> {
    let module_keys: Vec<String> = functions
        .iter()
        .map(|f| f.id.module_key())
        .filter(|key| catalog.get(key).is_some_and(|a| a.category == Category::Module))
        .collect();
    let modules = transfer::read_metadata(dest, module_keys, jobs)
        .await?
        .into_iter()
        .map(|(key, found)| (key, found.bytes.to_vec()))
        .collect();

    // A draft sits under its binary's digest, not its own: one already there
    // with the size of a draft to copy may still be another version's.
    let draft_keys: BTreeSet<String> = functions
        .iter()
        .flat_map(|f| f.builds.values().map(move |build| (f, build)))
        .filter_map(|(f, build)| {
            let draft = build.draft.as_ref()?;
            let key = plan::draft_key(&f.id, &digests[&build.bin.key], draft);
            catalog.get(&key).is_some_and(|found| found.size == draft.size).then_some(key)
        })
        .collect();
    let drafts = stream::iter(draft_keys)
        .map(|key| async move {
            let (digest, _) = transfer::hash(dest, &key).await?;
            Ok::<_, Error>((key, digest))
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    Ok(Destination { modules, drafts, ..overviews })
}

/// `key` when the catalog lists it: the keys worth reading.
fn present(catalog: &Catalog, key: &str) -> Vec<String> {
    catalog.get(key).map(|_| key.to_owned()).into_iter().collect()
}

/// Makes the plan's writes, stage after stage; a stage starts only when
/// every write of the one before has succeeded.
async fn execute(
    plan: &Plan,
    sink: &Journaled<'_>,
    jobs: usize,
    reporter: &dyn Reporter,
    clock: &mut Stopwatch,
) -> Result<()> {
    // The binaries were copied while hashing.
    for (kind, writes) in plan.stages().into_iter().filter(|(kind, _)| *kind != WriteKind::Binary) {
        let stage = Stage::of(kind);
        let work = Work { items: writes.len() as u64, bytes: writes.iter().map(|w| w.bytes).sum() };
        reporter.start(stage, Some(work));
        stream::iter(writes)
            .map(|write| async move {
                sink.write(write).await?;
                reporter.advance(stage, write.bytes);
                Ok::<_, Error>(())
            })
            .buffer_unordered(jobs)
            .try_collect::<()>()
            .await?;
        reporter.finish(stage);
        clock.lap(stage);
    }
    sink.end().await
}
