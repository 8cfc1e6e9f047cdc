//! `se2 verify`: re-reads the SE2 layout under a destination and checks
//! every identifier against the bytes and against the v0 root it came from.
//! Each mismatch is a finding that names its key; prune trusts only
//! functions without one.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Catalog, Category, Object};
use crate::error::{Error, Result};
use crate::function::Function;
use crate::report::{Reporter, Stage, Work};
use crate::root::Root;
use crate::se2::{self, FunctionId, Module};
use crate::survey::{Survey, survey};
use crate::transfer;
use crate::v0;
use crate::walk::walk;

/// What a finding is about, which decides what prune must keep.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase", tag = "scope", content = "of")]
pub enum Scope {
    /// One function (`<t>/<ns>/<n>`): its v0 objects or its module.
    Function(String),
    /// A whole tenant (its `tenant.json`).
    Tenant(String),
    /// The whole root (`system/version`).
    Root,
}

/// One identifier that does not hold.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    #[serde(flatten)]
    pub scope: Scope,
    pub key: String,
    pub problem: String,
}

impl Finding {
    /// True when the finding puts function `dir` (`<t>/<ns>/<n>`) in doubt:
    /// it is about the function, its tenant, or the whole root.
    pub fn concerns(&self, dir: &str) -> bool {
        match &self.scope {
            Scope::Function(function) => function == dir,
            Scope::Tenant(ident) => dir.split('/').next() == Some(ident.as_str()),
            Scope::Root => true,
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

/// How much was checked.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checked {
    pub binaries: u64,
    pub bytes: u64,
    pub modules: u64,
    pub tenants: u64,
    pub v0_versions: u64,
}

/// The outcome of a verification.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub root: String,
    pub destination: String,
    pub checked: Checked,
    pub findings: Vec<Finding>,
    /// v0 functions found fully migrated: nothing of theirs, their tenant or the root is in doubt.
    pub migrated: Vec<String>,
}

impl Verification {
    /// True when `function` (`<t>/<ns>/<n>`) was found fully migrated.
    pub fn is_migrated(&self, function: &str) -> bool {
        self.migrated.binary_search_by(|f| f.as_str().cmp(function)).is_ok()
    }
}

/// Verifies the SE2 layout under `dest` and that every v0 version under
/// `source` has its counterpart there.
pub async fn verify(source: &Root, dest: &Root, jobs: usize, reporter: &dyn Reporter) -> Result<Verification> {
    let survey = survey(source, &[], jobs, reporter).await?;
    verify_survey(source, &survey, dest, jobs, reporter).await
}

/// Like `verify`, over a survey of `source` already made.
pub async fn verify_survey(
    source: &Root,
    survey: &Survey,
    dest: &Root,
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<Verification> {
    let walked = if source.same_store(dest) { None } else { Some(walk(dest, jobs, reporter).await?.catalog) };
    let catalog = walked.as_ref().unwrap_or(&survey.catalog);
    let mut findings = Vec::new();
    let mut checked = Checked::default();

    let accepted: Vec<&Function> = survey.functions.iter().filter_map(|s| s.judgement.outcome.as_ref().ok()).collect();
    let v0_binaries: Vec<&Object> = accepted.iter().flat_map(|f| f.builds.values().map(|b| &b.bin)).collect();
    let se2_binaries: Vec<Object> = catalog
        .iter()
        .filter(|(key, asset)| asset.category == Category::DigestFile && is_module_binary(key))
        .map(|(key, asset)| Object { key: key.to_owned(), size: asset.size })
        .collect();
    let work = Work {
        items: (v0_binaries.len() + se2_binaries.len()) as u64,
        bytes: v0_binaries.iter().map(|o| o.size).chain(se2_binaries.iter().map(|o| o.size)).sum(),
    };
    reporter.start(Stage::Verify, Some(work));
    let v0_digests = hash_all(source, v0_binaries.into_iter().cloned().collect(), jobs, reporter).await?;
    let se2_digests = hash_all(dest, se2_binaries, jobs, reporter).await?;
    reporter.finish(Stage::Verify);

    for (key, digest) in &se2_digests {
        checked.binaries += 1;
        checked.bytes += catalog.get(key).map_or(0, |a| a.size);
        let dir = key.split('/').nth(3).unwrap_or_default();
        if *digest != dir {
            findings.push(function_finding(key, format!("hashes to {digest}, not to its directory's name")));
        }
    }

    let (tenants, mut tenant_findings) = read_tenants(dest, catalog, jobs).await?;
    findings.append(&mut tenant_findings);
    checked.tenants = tenants.len() as u64;
    let modules = check_modules(dest, catalog, &tenants, &mut findings, jobs).await?;
    checked.modules = modules.len() as u64;
    check_system(dest, catalog, &tenants, &mut findings).await?;

    for surveyed in &survey.functions {
        let dir = surveyed.assets.id.dir();
        match &surveyed.judgement.outcome {
            Err(problem) => findings.push(Finding {
                scope: Scope::Function(dir),
                key: problem.key.clone(),
                problem: format!("not migrated: migrate rejects it: {}", problem.reason),
            }),
            Ok(function) => {
                checked.v0_versions += function.builds.len() as u64;
                check_counterparts(function, &v0_digests, catalog, &modules, &mut findings);
            }
        }
    }

    findings.sort();
    findings.dedup();
    let mut migrated: Vec<String> =
        accepted.iter().map(|f| f.id.dir()).filter(|dir| !findings.iter().any(|f| f.concerns(dir))).collect();
    migrated.sort();
    Ok(Verification { root: source.url.clone(), destination: dest.url.clone(), checked, findings, migrated })
}

/// `<t>/<ns>/<n>/<digest>/<n>.wasm`: the binary a digest directory is named after.
fn is_module_binary(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    parts.len() == 5 && parts[4] == v0::binary_file(parts[2])
}

/// A finding about the function whose directory holds `key`.
fn function_finding(key: &str, problem: String) -> Finding {
    let dir: Vec<&str> = key.splitn(4, '/').take(3).collect();
    Finding { scope: Scope::Function(dir.join("/")), key: key.to_owned(), problem }
}

async fn hash_all(
    root: &Root,
    objects: Vec<Object>,
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<HashMap<String, String>> {
    stream::iter(objects)
        .map(|object| async move {
            let (digest, length) = transfer::hash(root, &object.key).await?;
            reporter.advance(Stage::Verify, length);
            Ok::<_, Error>((object.key, digest))
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await
}

/// Every tenant overview under the destination, parsed: identifier → (declared version, modules).
type Tenants = BTreeMap<String, (u64, Vec<Module>)>;

async fn read_tenants(dest: &Root, catalog: &Catalog, jobs: usize) -> Result<(Tenants, Vec<Finding>)> {
    let keys = catalog.tenant_overviews().map(|ident| se2::tenant_key(&ident)).collect();
    let read = transfer::read_metadata(dest, keys, jobs).await?;
    let mut tenants = Tenants::new();
    let mut findings = Vec::new();
    for (key, found) in read {
        let ident = key.split('/').next().expect("a tenant key has an identifier").to_owned();
        let finding = |problem: String| Finding { scope: Scope::Tenant(ident.clone()), key: key.clone(), problem };
        let document: Value = match serde_json::from_slice(&found.bytes) {
            Ok(document) => document,
            Err(e) => {
                findings.push(finding(format!("does not parse: {e}")));
                continue;
            }
        };
        let version = se2::tenant_version(&document);
        let entries = document.pointer("/overview/config/modules").and_then(Value::as_array);
        let (Some(version), Some(entries)) = (version, entries) else {
            findings.push(finding("not an SE2 tenant overview: no overview.version or overview.config.modules".into()));
            continue;
        };
        let mut modules = Vec::new();
        for entry in entries {
            match serde_json::from_value::<Module>(entry.clone()) {
                Ok(module) => modules.push(module),
                Err(e) => findings.push(finding(format!("a module entry is malformed ({e}): {entry}"))),
            }
        }
        let revisions: u64 = modules.iter().map(|m| m.revisions.len() as u64).sum();
        if version < revisions {
            findings.push(finding(format!("version {version} is below its {revisions} revisions")));
        }
        tenants.insert(ident, (version, modules));
    }
    Ok((tenants, findings))
}

/// Checks each module of each tenant against its `.module.yaml`, its
/// identifiers and its binaries; returns the modules by function.
async fn check_modules(
    dest: &Root,
    catalog: &Catalog,
    tenants: &Tenants,
    findings: &mut Vec<Finding>,
    jobs: usize,
) -> Result<BTreeMap<FunctionId, Module>> {
    let mut modules = BTreeMap::new();
    for (ident, (_, entries)) in tenants {
        for module in entries {
            let id =
                FunctionId { ident: ident.clone(), namespace: module.namespace.clone(), name: module.name.clone() };
            modules.insert(id, module.clone());
        }
    }
    let yaml_keys: Vec<String> =
        catalog.iter().filter(|(_, a)| a.category == Category::Module).map(|(k, _)| k.to_owned()).collect();
    let yamls: HashMap<String, bytes::Bytes> = transfer::read_metadata(dest, yaml_keys, jobs)
        .await?
        .into_iter()
        .map(|(key, found)| (key, found.bytes))
        .collect();

    for (id, module) in &modules {
        let finding = |key: String, problem: String| Finding { scope: Scope::Function(id.dir()), key, problem };
        let key = id.module_key();
        match yamls.get(&key) {
            None => findings.push(finding(key, "missing, but the tenant.json lists the module".into())),
            Some(bytes) => match serde_saphyr::from_slice::<Module>(bytes) {
                Err(e) => findings.push(finding(key, format!("does not parse: {e}"))),
                Ok(yaml) if yaml != *module => {
                    findings.push(finding(key, "disagrees with the module's entry in tenant.json".into()))
                }
                Ok(_) => {}
            },
        }
        let expected = Module::new(
            id,
            &module.lang,
            &module.reference,
            module.draft_ref.as_deref(),
            module.api_version.as_deref(),
            &[],
        );
        let tenant_key = se2::tenant_key(&id.ident);
        if module.fqmn != expected.fqmn {
            findings
                .push(finding(tenant_key.clone(), format!("{id}: fqmn {} should be {}", module.fqmn, expected.fqmn)));
        }
        if module.uri != expected.uri {
            findings.push(finding(tenant_key.clone(), format!("{id}: uri {} should be {}", module.uri, expected.uri)));
        }
        let refs = std::iter::once(("ref", &module.reference))
            .chain(module.draft_ref.iter().map(|r| ("draftRef", r)))
            .chain(module.revisions.iter().map(|r| ("revision", &r.reference)));
        for (what, reference) in refs {
            let binary = id.digest_key(reference, &v0::binary_file(&id.name));
            if catalog.get(&binary).is_none() {
                findings.push(finding(binary, format!("missing: the binary of {what} {reference} of {id}")));
            }
        }
    }
    for key in yamls.keys() {
        let dir = key.rsplit_once('/').map_or("", |(dir, _)| dir);
        if !modules.keys().any(|id| id.dir() == dir) {
            findings.push(function_finding(key, "no tenant.json lists this module".into()));
        }
    }
    Ok(modules)
}

/// `system/version` must hold a number at least the sum of tenant versions.
async fn check_system(dest: &Root, catalog: &Catalog, tenants: &Tenants, findings: &mut Vec<Finding>) -> Result<()> {
    let sum: u64 = tenants.values().map(|(version, _)| version).sum();
    let key = se2::SYSTEM_VERSION_KEY;
    let finding = |problem: String| Finding { scope: Scope::Root, key: key.into(), problem };
    let keys = catalog.get(key).map(|_| key.to_owned()).into_iter().collect();
    let found = transfer::read_metadata(dest, keys, 1).await?.pop().map(|(_, found)| found.bytes);
    match found.map(|bytes| se2::parse_system_version(&bytes)) {
        None if tenants.is_empty() => {}
        None => findings.push(finding(format!("missing, but the tenant versions sum to {sum}"))),
        Some(None) => findings.push(finding("does not hold a decimal integer".into())),
        Some(Some(version)) if version < sum => {
            findings.push(finding(format!("{version} is below the sum of tenant versions, {sum}")))
        }
        Some(Some(_)) => {}
    }
    Ok(())
}

/// Every version of a v0 function must have its binary (and draft) in a
/// digest directory and its digest among its module's revisions.
fn check_counterparts(
    function: &Function,
    v0_digests: &HashMap<String, String>,
    catalog: &Catalog,
    modules: &BTreeMap<FunctionId, Module>,
    findings: &mut Vec<Finding>,
) {
    let id = &function.id;
    let finding = |key: &str, problem: String| Finding { scope: Scope::Function(id.dir()), key: key.into(), problem };
    let module = modules.get(id);
    if module.is_none() {
        let key = se2::tenant_key(&id.ident);
        findings.push(finding(&key, format!("not migrated: no tenant.json lists module {id}")));
    }
    for (version, build) in &function.builds {
        let digest = &v0_digests[&build.bin.key];
        let binary = id.digest_key(digest, &v0::binary_file(&id.name));
        if catalog.get(&binary).is_none() {
            findings
                .push(finding(&build.bin.key, format!("{version} has no migrated counterpart: {binary} is missing")));
        }
        if let Some(draft) = &build.draft {
            let file = draft.key.rsplit('/').next().unwrap_or_default();
            let copy = id.digest_key(digest, file);
            if catalog.get(&copy).is_none() {
                findings
                    .push(finding(&draft.key, format!("the draft of {version} has no counterpart: {copy} is missing")));
            }
        }
        if module.is_some_and(|m| !m.revisions.iter().any(|r| &r.reference == digest)) {
            findings.push(finding(&build.bin.key, format!("{version} ({digest}) is not among the revisions of {id}")));
        }
    }
}
