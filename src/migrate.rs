//! The migration engine: survey the root, hash what will be copied, read
//! what the destination already holds, plan, then execute the plan stage by
//! stage (binaries, drafts, modules, tenants, system version) through a sink.

use std::collections::{BTreeSet, HashMap};

use futures::{StreamExt, TryStreamExt, stream};
use serde_json::Value;

use crate::catalog::{Catalog, Category, Object};
use crate::error::{Error, Result};
use crate::function::Function;
use crate::plan::{self, Destination, Existing, Plan, Rejection, Write};
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

    let digests = hash_builds(source, &functions, jobs, reporter).await?;
    clock.lap(Stage::Hash);

    let (dest_catalog, stale) = if source.same_store(dest) {
        (None, survey.stale)
    } else {
        let listing = walk(dest, jobs, reporter).await?;
        let stale = listing.skipped.into_iter().filter(|s| s.is_stale_staging()).map(|s| s.key).collect();
        (Some(listing.catalog), stale)
    };
    let dest_catalog = dest_catalog.as_ref().unwrap_or(&survey.catalog);
    let meta = read_destination(dest, dest_catalog, &functions, &digests, jobs).await?;
    let plan = plan::plan(&functions, &digests, dest_catalog, &meta);
    rejections.extend(plan.rejections.iter().cloned());
    warnings.extend(plan.warnings.iter().cloned());
    rejections.sort();
    warnings.sort();
    for rejection in &rejections {
        reporter.reject(rejection);
    }
    for warning in &warnings {
        reporter.warn(warning);
    }
    clock.lap(Stage::Plan);

    let sink: Box<dyn Sink + '_> = if options.dry_run { Box::new(DryRun) } else { Box::new(StoreSink { source, dest }) };
    for key in &stale {
        sink.remove(key).await?;
    }
    execute(&plan, sink.as_ref(), jobs, reporter, &mut clock).await?;

    let writes: Vec<Write> = plan.writes().cloned().collect();
    let summary = Summary {
        functions: plan.functions,
        binaries: plan.binaries.len(),
        drafts: plan.drafts.len(),
        bytes: writes.iter().map(|w| w.bytes).sum(),
        rejected: rejections.len(),
        warnings: warnings.len(),
        elapsed_seconds: clock.elapsed().as_secs_f64(),
    };
    Ok(Report {
        root: source.url.clone(),
        destination: dest.url.clone(),
        dry_run: options.dry_run,
        summary,
        writes,
        rejections,
        warnings,
        stages: clock.timings,
    })
}

/// Hashes every binary and draft to migrate; returns key → SHA-256.
async fn hash_builds(
    root: &Root,
    functions: &[Function],
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<HashMap<String, String>> {
    let objects: Vec<&Object> =
        functions.iter().flat_map(|f| f.builds.values()).flat_map(|b| std::iter::once(&b.bin).chain(&b.draft)).collect();
    let work = Work { items: objects.len() as u64, bytes: objects.iter().map(|o| o.size).sum() };
    reporter.start(Stage::Hash, Some(work));
    let digests = stream::iter(objects)
        .map(|object| async move {
            let (digest, length) = transfer::hash(root, &object.key).await?;
            if length != object.size {
                let reason = format!("changed while se2 read it: listed with {} bytes, read {length}", object.size);
                return Err(Error::Object { key: object.key.clone(), reason });
            }
            reporter.advance(Stage::Hash, length);
            Ok((object.key.clone(), digest))
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    reporter.finish(Stage::Hash);
    Ok(digests)
}

/// Reads the SE2 metadata the destination holds: every `tenant.json`, the
/// `.module.yaml` of each module this run produces, and `system/version`.
async fn read_destination(
    dest: &Root,
    catalog: &Catalog,
    functions: &[Function],
    digests: &HashMap<String, String>,
    jobs: usize,
) -> Result<Destination> {
    let tenants: Vec<String> = catalog.tenant_overviews().collect();
    let tenants = stream::iter(tenants)
        .map(|ident| async move {
            let key = se2::tenant_key(&ident);
            let fetched = transfer::read_small(dest, &key, se2::MAX_METADATA_BYTES).await?;
            Ok::<_, Error>(fetched.map(|f| {
                let value = serde_json::from_slice::<Value>(&f.bytes)
                    .map_err(|e| format!("the existing tenant.json does not parse: {e}"));
                (ident, Existing { value, e_tag: f.e_tag, version: f.version })
            }))
        })
        .buffer_unordered(jobs)
        .try_filter_map(|found| async move { Ok(found) })
        .try_collect()
        .await?;

    let module_keys: Vec<String> = functions
        .iter()
        .map(|f| f.id.module_key())
        .filter(|key| catalog.get(key).is_some_and(|a| a.category == Category::Module))
        .collect();
    let modules = stream::iter(module_keys)
        .map(|key| async move {
            let fetched = transfer::read_small(dest, &key, se2::MAX_METADATA_BYTES).await?;
            Ok::<_, Error>(fetched.map(|f| (key, f.bytes.to_vec())))
        })
        .buffer_unordered(jobs)
        .try_filter_map(|found| async move { Ok(found) })
        .try_collect()
        .await?;

    let system = match catalog.get(se2::SYSTEM_VERSION_KEY) {
        None => None,
        Some(_) => transfer::read_small(dest, se2::SYSTEM_VERSION_KEY, se2::MAX_METADATA_BYTES)
            .await?
            .map(|f| Existing { value: f.bytes.to_vec(), e_tag: f.e_tag, version: f.version }),
    };
    let pending = catalog.get(se2::PENDING_KEY).is_some();

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
    Ok(Destination { tenants, modules, system, pending, drafts })
}

/// Makes the plan's writes, stage after stage; a stage starts only when
/// every write of the one before has succeeded.
async fn execute(plan: &Plan, sink: &dyn Sink, jobs: usize, reporter: &dyn Reporter, clock: &mut Stopwatch) -> Result<()> {
    if plan.is_empty() {
        return Ok(());
    }
    sink.begin().await?;
    for (kind, writes) in plan.stages() {
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
