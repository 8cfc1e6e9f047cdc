//! The plan: every write a migration makes, decided before the first one is
//! made, from the judged functions, the digests of their files and what the
//! destination already holds. Pure: a run and a dry run share it.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::catalog::{Catalog, Object};
use crate::function::{Function, Problem};
use crate::se2::{self, Module, TenantOutcome};
use crate::v0::{self, Version};

/// The stages of a migration, in the order their writes happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteKind {
    Binary,
    Draft,
    Module,
    Tenant,
    System,
}

/// What must hold at the destination key for a put to go ahead.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Condition {
    /// Write whatever is there.
    #[default]
    Overwrite,
    /// The key must not exist yet.
    Absent,
    /// The key must still hold the version that was read.
    Unchanged { e_tag: Option<String>, version: Option<String> },
}

/// One write of the plan: a copy of `source`, or a put of `body`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Write {
    pub kind: WriteKind,
    pub source: Option<String>,
    pub destination: String,
    pub digest: String,
    pub bytes: u64,
    #[serde(skip)]
    pub body: Option<Bytes>,
    #[serde(skip)]
    pub condition: Condition,
}

impl Write {
    fn copy(kind: WriteKind, source: &Object, destination: String, digest: &str) -> Write {
        Write {
            kind,
            source: Some(source.key.clone()),
            destination,
            digest: digest.to_owned(),
            bytes: source.size,
            body: None,
            condition: Condition::Overwrite,
        }
    }

    fn put(kind: WriteKind, destination: String, body: Vec<u8>, condition: Condition) -> Write {
        Write {
            kind,
            source: None,
            destination,
            digest: hex(&Sha256::digest(&body)),
            bytes: body.len() as u64,
            body: Some(body.into()),
            condition,
        }
    }
}

/// A function that will not be migrated, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Rejection {
    pub function: String,
    pub key: String,
    pub reason: String,
}

impl Rejection {
    pub fn new(function: &se2::FunctionId, problem: Problem) -> Rejection {
        Rejection { function: function.dir(), key: problem.key, reason: problem.reason }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rejected: {}: {}", self.function, self.key, self.reason)
    }
}

/// An object that already exists at the destination, as read before planning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing<T> {
    pub value: T,
    pub e_tag: Option<String>,
    pub version: Option<String>,
}

impl<T> Existing<T> {
    fn condition(&self) -> Condition {
        Condition::Unchanged { e_tag: self.e_tag.clone(), version: self.version.clone() }
    }
}

/// The SE2 metadata found at the destination, read before planning.
#[derive(Clone, Debug, Default)]
pub struct Destination {
    /// Every `tenant.json`, by tenant identifier: parsed, or why not.
    pub tenants: BTreeMap<String, Existing<Result<Value, String>>>,
    /// The bytes of each existing `.module.yaml` of a module this run produces.
    pub modules: HashMap<String, Vec<u8>>,
    /// The bytes of `system/version`, if any.
    pub system: Option<Existing<Vec<u8>>>,
    /// Whether a killed run left its journal.
    pub pending: bool,
    /// The SHA-256 of each draft already at a key this run may copy a draft
    /// of the same size to: the digest directory is the binary's, so a draft
    /// there may be another version's.
    pub drafts: HashMap<String, String>,
}

/// Every write of a run, in stage order, and what it found wrong.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub binaries: Vec<Write>,
    pub drafts: Vec<Write>,
    pub modules: Vec<Write>,
    pub tenants: Vec<Write>,
    pub system: Option<Write>,
    /// Functions migrated (whether or not anything had to be written for them).
    pub functions: usize,
    pub rejections: Vec<Rejection>,
    pub warnings: Vec<Problem>,
    /// Whether the run clears a killed run's journal.
    pub pending: bool,
}

impl Plan {
    /// The writes of each stage, in order.
    pub fn stages(&self) -> [(WriteKind, &[Write]); 5] {
        [
            (WriteKind::Binary, &self.binaries),
            (WriteKind::Draft, &self.drafts),
            (WriteKind::Module, &self.modules),
            (WriteKind::Tenant, &self.tenants),
            (WriteKind::System, self.system.as_slice()),
        ]
    }

    pub fn writes(&self) -> impl Iterator<Item = &Write> {
        self.stages().into_iter().flat_map(|(_, writes)| writes.iter())
    }

    pub fn is_empty(&self) -> bool {
        self.writes().next().is_none()
    }

    /// Every write, in stage order, without the bodies of puts.
    pub fn into_writes(self) -> Vec<Write> {
        let Plan { binaries, drafts, modules, tenants, system, .. } = self;
        [binaries, drafts, modules, tenants, system.into_iter().collect()]
            .into_iter()
            .flatten()
            .map(|write| Write { body: None, ..write })
            .collect()
    }
}

/// The tenants whose existing `tenant.json` cannot be merged into, with why:
/// their functions are rejected, and nothing of them is written.
pub fn unmergeable(tenants: &BTreeMap<String, Existing<Result<Value, String>>>) -> BTreeMap<&str, String> {
    tenants
        .iter()
        .filter_map(|(ident, existing)| {
            let reason = match &existing.value {
                Err(reason) => reason.clone(),
                Ok(document) => se2::merge_tenant(ident, Some(document), &[]).err()?,
            };
            Some((ident.as_str(), format!("{reason}; refusing to overwrite it")))
        })
        .collect()
}

/// The digest directories of a function: each digest with the versions
/// whose binaries hash to it, ascending.
fn digest_groups<'a>(function: &Function, digests: &'a HashMap<String, String>) -> BTreeMap<&'a str, Vec<Version>> {
    let mut groups: BTreeMap<&str, Vec<Version>> = BTreeMap::new();
    for (version, build) in &function.builds {
        groups.entry(digest(digests, &build.bin)).or_default().push(*version);
    }
    groups
}

fn digest<'a>(digests: &'a HashMap<String, String>, object: &Object) -> &'a str {
    digests.get(&object.key).map(String::as_str).expect("every build was hashed")
}

/// The binary copies of one function: one per digest directory the
/// destination lacks, from the highest version with those bytes.
pub fn binary_writes(function: &Function, digests: &HashMap<String, String>, dest: &Catalog) -> Vec<Write> {
    let id = &function.id;
    digest_groups(function, digests)
        .into_iter()
        .filter_map(|(digest, versions)| {
            let highest = &function.builds[versions.last().expect("a digest has a version")];
            let key = id.digest_key(digest, &v0::binary_file(&id.name));
            needed(dest, &key, highest.bin.size).then(|| Write::copy(WriteKind::Binary, &highest.bin, key, digest))
        })
        .collect()
}

/// True when the destination lacks `key`, or holds it with another size.
fn needed(dest: &Catalog, key: &str, size: u64) -> bool {
    dest.get(key).is_none_or(|asset| asset.size != size)
}

/// Plans the migration of `functions` into the destination whose objects
/// are `dest` and whose metadata is `meta`; `digests` maps each binary and
/// draft key to its SHA-256.
pub fn plan(functions: &[Function], digests: &HashMap<String, String>, dest: &Catalog, meta: &Destination) -> Plan {
    let mut plan = Plan { pending: meta.pending, ..Plan::default() };
    let unmergeable = unmergeable(&meta.tenants);
    let mut produced: BTreeMap<&str, Vec<Module>> = BTreeMap::new();
    for function in functions {
        let ident = function.id.ident.as_str();
        if let Some(reason) = unmergeable.get(ident) {
            let problem = Problem::new(se2::tenant_key(ident), reason.clone());
            plan.rejections.push(Rejection::new(&function.id, problem));
            continue;
        }
        plan.functions += 1;
        produced.entry(ident).or_default().push(plan_function(function, digests, dest, meta, &mut plan));
    }

    let mut versions: BTreeMap<&str, u64> = meta
        .tenants
        .iter()
        .map(|(ident, existing)| {
            (ident.as_str(), existing.value.as_ref().ok().and_then(se2::tenant_version).unwrap_or(0))
        })
        .collect();
    for (ident, modules) in produced {
        let existing = meta.tenants.get(ident);
        let document = existing.and_then(|e| e.value.as_ref().ok());
        let outcome = se2::merge_tenant(ident, document, &modules).expect("unmergeable tenants were rejected");
        versions.insert(ident, outcome.version());
        if let TenantOutcome::Write { document, .. } = outcome {
            let condition = existing.map_or(Condition::Absent, Existing::condition);
            let body = se2::tenant_json(&document);
            plan.tenants.push(Write::put(WriteKind::Tenant, se2::tenant_key(ident), body, condition));
        }
    }

    let previous = meta.system.as_ref().map(|s| se2::parse_system_version(&s.value));
    if let Some(None) = previous {
        plan.warnings.push(Problem::new(se2::SYSTEM_VERSION_KEY, "does not hold a decimal integer; it is rewritten"));
    }
    let sum = versions.values().sum();
    let wrote = !plan.is_empty() || plan.pending || matches!(previous, Some(None));
    if let Some(next) = se2::next_system_version(previous.flatten(), sum, wrote) {
        let condition = meta.system.as_ref().map_or(Condition::Absent, Existing::condition);
        let body = next.to_string().into_bytes();
        plan.system = Some(Write::put(WriteKind::System, se2::SYSTEM_VERSION_KEY.into(), body, condition));
    }
    plan.rejections.sort();
    plan
}

/// Plans one function's binaries and drafts and returns its module.
fn plan_function(
    function: &Function,
    digests: &HashMap<String, String>,
    dest: &Catalog,
    meta: &Destination,
    plan: &mut Plan,
) -> Module {
    let id = &function.id;
    let digest_of = |object: &Object| digest(digests, object);
    plan.binaries.extend(binary_writes(function, digests, dest));
    for (digest, versions) in &digest_groups(function, digests) {
        let drafts: Vec<(Version, &Object)> =
            versions.iter().filter_map(|v| function.builds[v].draft.as_ref().map(|d| (*v, d))).collect();
        let Some((winner, draft)) = drafts.last() else { continue };
        let key = draft_key(id, digest, draft);
        let losers: Vec<String> =
            drafts.iter().filter(|(_, d)| digest_of(d) != digest_of(draft)).map(|(v, _)| v.to_string()).collect();
        if !losers.is_empty() {
            let losers = losers.join(", ");
            let reason = format!(
                "draft conflict: {losers} and {winner} share binary {digest} but their drafts differ; \
                 the draft of {winner} is kept, not that of {losers}"
            );
            plan.warnings.push(Problem::new(&key, reason));
        }
        let stale = match meta.drafts.get(&key) {
            Some(found) => found != digest_of(draft),
            None => needed(dest, &key, draft.size),
        };
        if stale {
            plan.drafts.push(Write::copy(WriteKind::Draft, draft, key, digest_of(draft)));
        }
    }

    let runnable = &function.runnable;
    let reference = digest_of(&function.builds[&runnable.version].bin);
    let draft_ref = function.draft_version().map(|v| digest_of(&function.builds[&v].bin));
    let revisions: Vec<&str> = function.builds.values().map(|b| digest_of(&b.bin)).collect();
    let module = Module::new(id, &runnable.lang, reference, draft_ref, runnable.api_version.as_deref(), &revisions);
    let yaml = module.to_yaml().into_bytes();
    let key = id.module_key();
    if meta.modules.get(&key) != Some(&yaml) {
        plan.modules.push(Write::put(WriteKind::Module, key, yaml, Condition::Overwrite));
    }
    module
}

/// Where `draft` is copied: beside the binary whose digest is `digest`.
pub fn draft_key(id: &se2::FunctionId, digest: &str, draft: &Object) -> String {
    id.digest_key(digest, draft.key.rsplit('/').next().expect("a key has a file name"))
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Entry;
    use crate::function::Build;
    use crate::se2::FunctionId;
    use crate::v0::Runnable;

    fn object(key: &str, size: u64) -> Object {
        Object { key: key.into(), size }
    }

    #[test]
    fn a_draft_of_the_same_size_is_compared_by_digest() {
        // v1.0.0 and v2.0.0 share a binary; their drafts differ but have the same size.
        let id = FunctionId { ident: "t".into(), namespace: "ns".into(), name: "f".into() };
        let version = |text: &str| Version::parse(text).unwrap();
        let runnable = Runnable {
            name: "f".into(),
            namespace: "ns".into(),
            lang: "rust".into(),
            version: version("v2.0.0"),
            draft_version: None,
            unusable_draft_version: None,
            api_version: None,
        };
        let build = |v: &str| Build {
            bin: object(&format!("t/ns/f/{v}/f.wasm"), 4),
            draft: Some(object(&format!("t/ns/f/{v}/lib.rs"), 5)),
        };
        let builds = [(version("v1.0.0"), build("v1.0.0")), (version("v2.0.0"), build("v2.0.0"))].into();
        let function = Function { id, runnable, builds };
        let (bin, old, new) = ("b".repeat(64), "1".repeat(64), "2".repeat(64));
        let digests: HashMap<String, String> = [
            ("t/ns/f/v1.0.0/f.wasm", &bin),
            ("t/ns/f/v2.0.0/f.wasm", &bin),
            ("t/ns/f/v1.0.0/lib.rs", &old),
            ("t/ns/f/v2.0.0/lib.rs", &new),
        ]
        .map(|(key, digest)| (key.to_owned(), digest.clone()))
        .into();
        let draft = format!("t/ns/f/{bin}/lib.rs");
        let dest = Catalog::build([Entry::new(format!("t/ns/f/{bin}/f.wasm"), 4), Entry::new(&draft, 5)]);

        // (digest of the draft already there, whether v2.0.0's draft is copied over it)
        for (found, copied) in [(Some(&old), true), (Some(&new), false), (None, false)] {
            let drafts = found.map(|d| (draft.clone(), d.clone())).into_iter().collect();
            let meta = Destination { drafts, ..Default::default() };
            let plan = plan(std::slice::from_ref(&function), &digests, &dest, &meta);
            let sources: Vec<Option<&str>> = plan.drafts.iter().map(|w| w.source.as_deref()).collect();
            let expected = if copied { vec![Some("t/ns/f/v2.0.0/lib.rs")] } else { vec![] };
            assert_eq!(sources, expected, "found {found:?}");
            assert!(plan.binaries.is_empty());
            assert_eq!(plan.warnings.len(), 1, "the conflict is told either way: {:?}", plan.warnings);
        }
    }
}
