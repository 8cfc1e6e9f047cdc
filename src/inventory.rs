//! `se2 inventory`: what the walker found under a root, counted, with every
//! problem visible from keys and metadata alone. Binaries are never read.

use serde::Serialize;

use crate::catalog::{Category, Object};
use crate::error::Result;
use crate::function::Problem;
use crate::plan::Rejection;
use crate::report::Reporter;
use crate::root::Root;
use crate::survey::survey;
use crate::v0;

/// Counts and bytes over the whole root.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub objects: u64,
    pub bytes: u64,
    pub tenants: u64,
    pub functions: u64,
    pub rejected: u64,
    pub versions: u64,
    pub binaries: u64,
    pub binary_bytes: u64,
    pub drafts: u64,
    pub draft_bytes: u64,
    pub runnables: u64,
    pub se2_objects: u64,
    pub se2_bytes: u64,
    pub other: u64,
    pub other_bytes: u64,
}

/// One version directory of a function.
#[derive(Clone, Debug, Serialize)]
pub struct VersionEntry {
    pub version: String,
    /// Size of the binary, when there is one.
    pub binary: Option<u64>,
    /// Size of the draft kept for the function's lang, when there is one.
    pub draft: Option<u64>,
}

/// One v0 function.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionEntry {
    pub namespace: String,
    pub name: String,
    pub lang: Option<String>,
    pub current: Option<String>,
    pub versions: Vec<VersionEntry>,
    /// Why migrate would reject it, if it would.
    pub rejected: Option<String>,
}

/// One tenant and its v0 functions.
#[derive(Clone, Debug, Serialize)]
pub struct TenantEntry {
    pub identifier: String,
    pub functions: Vec<FunctionEntry>,
}

/// The inventory of a root.
#[derive(Clone, Debug, Serialize)]
pub struct Inventory {
    pub root: String,
    pub totals: Totals,
    pub tenants: Vec<TenantEntry>,
    pub other: Vec<Object>,
    pub rejections: Vec<Rejection>,
    pub warnings: Vec<Problem>,
}

/// Surveys `root` and counts what it holds.
pub async fn inventory(root: &Root, jobs: usize, reporter: &dyn Reporter) -> Result<Inventory> {
    let survey = survey(root, &[], jobs, reporter).await?;
    let mut totals = Totals::default();
    for (_, asset) in survey.catalog.iter() {
        totals.objects += 1;
        totals.bytes += asset.size;
        match asset.category {
            Category::Runnable | Category::VersionRunnable(_) => totals.runnables += 1,
            Category::Bin(_) => {
                totals.binaries += 1;
                totals.binary_bytes += asset.size;
            }
            Category::Module
            | Category::DigestFile
            | Category::TenantJson
            | Category::SystemVersion
            | Category::Pending => {
                totals.se2_objects += 1;
                totals.se2_bytes += asset.size;
            }
            _ => {}
        }
    }
    totals.other = survey.others.len() as u64;
    totals.other_bytes = survey.others.iter().map(|o| o.size).sum();

    let mut tenants: Vec<TenantEntry> = Vec::new();
    // Names that are not UTF-8 reject what holds them, though no function is seen there.
    let mut rejections = survey.rejections;
    totals.rejected += rejections.len() as u64;
    let mut warnings = survey.warnings;
    for surveyed in survey.functions {
        let id = &surveyed.assets.id;
        let accepted = surveyed.judgement.outcome.as_ref().ok();
        let draft_file = accepted.and_then(|f| v0::draft_file(&f.runnable.lang));
        let versions: Vec<VersionEntry> = surveyed
            .assets
            .versions
            .iter()
            .map(|(version, files)| VersionEntry {
                version: version.to_string(),
                binary: files.bin.as_ref().map(|b| b.size),
                draft: files
                    .sources
                    .iter()
                    .find(|s| Some(s.key.rsplit('/').next().unwrap_or_default()) == draft_file)
                    .map(|s| s.size),
            })
            .collect();
        totals.functions += 1;
        totals.versions += versions.len() as u64;
        for draft in versions.iter().filter_map(|v| v.draft) {
            totals.drafts += 1;
            totals.draft_bytes += draft;
        }
        let entry = FunctionEntry {
            namespace: id.namespace.clone(),
            name: id.name.clone(),
            lang: accepted.map(|f| f.runnable.lang.clone()),
            current: accepted.map(|f| f.runnable.version.to_string()),
            versions,
            rejected: surveyed.judgement.outcome.as_ref().err().map(ToString::to_string),
        };
        if let Err(problem) = surveyed.judgement.outcome {
            totals.rejected += 1;
            rejections.push(Rejection::new(id, problem));
        }
        warnings.extend(surveyed.judgement.warnings);
        match tenants.last_mut() {
            Some(tenant) if tenant.identifier == id.ident => tenant.functions.push(entry),
            _ => tenants.push(TenantEntry { identifier: id.ident.clone(), functions: vec![entry] }),
        }
    }
    totals.tenants = tenants.len() as u64;
    warnings.sort();
    for warning in &warnings {
        reporter.warn(warning);
    }
    for rejection in &rejections {
        reporter.reject(rejection);
    }
    Ok(Inventory { root: root.url.clone(), totals, tenants, other: survey.others, rejections, warnings })
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;
    use crate::report::Silent;

    #[tokio::test]
    async fn a_directory_named_in_bytes_that_are_not_utf8_is_a_rejection() {
        let dir = tempfile::tempdir().unwrap();
        let function = dir.path().join(std::ffi::OsStr::from_bytes(b"t/ns/f\xfe/v1.0.0"));
        std::fs::create_dir_all(&function).unwrap();
        std::fs::write(function.join("f.wasm"), "bin").unwrap();
        let root = Root::directory("test", dir.path()).unwrap();
        let found = inventory(&root, 2, &Silent).await.unwrap();
        assert_eq!(found.rejections.len(), 1, "{:?}", found.rejections);
        assert_eq!(found.rejections[0].function, "t/ns/f\u{FFFD}");
        assert_eq!(found.totals.rejected, 1);
    }
}
