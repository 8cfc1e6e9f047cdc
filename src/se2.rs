//! The SE2 layout rules: where digests, drafts and metadata live, what a
//! `.module.yaml` and a `tenant.json` hold, how an existing tenant is merged
//! into and how `system/version` moves. Pure: no IO, no async.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Key of the system version counter.
pub const SYSTEM_VERSION_KEY: &str = "system/version";

/// Journal object written before a run's first write and removed after its
/// last: while it exists, `system/version` still owes a bump.
pub const PENDING_KEY: &str = "system/.se2-pending";

/// Metadata file of a module.
pub const MODULE_FILE: &str = ".module.yaml";

/// Journal of an interrupted prune, in the function's directory.
pub const PRUNE_JOURNAL_FILE: &str = ".se2-prune";

/// Largest SE2 metadata object (`tenant.json`, `.module.yaml`, `system/version`) se2 reads.
pub const MAX_METADATA_BYTES: u64 = 64 << 20;

/// Overview file of a tenant.
pub const TENANT_FILE: &str = "tenant.json";

/// A function's place in either layout: `<ident>/<namespace>/<name>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FunctionId {
    pub ident: String,
    pub namespace: String,
    pub name: String,
}

impl FunctionId {
    /// `<ident>/<namespace>/<name>`, the function's directory.
    pub fn dir(&self) -> String {
        format!("{}/{}/{}", self.ident, self.namespace, self.name)
    }

    /// Key of a file inside one of the module's digest directories.
    pub fn digest_key(&self, digest: &str, file: &str) -> String {
        format!("{}/{digest}/{file}", self.dir())
    }

    /// Key of the module's `.module.yaml`.
    pub fn module_key(&self) -> String {
        format!("{}/{MODULE_FILE}", self.dir())
    }
}

impl std::fmt::Display for FunctionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.dir())
    }
}

/// Key of a tenant's overview.
pub fn tenant_key(ident: &str) -> String {
    format!("{ident}/{TENANT_FILE}")
}

/// True when `segment` names a digest directory: 64 lowercase hex digits.
pub fn is_digest(segment: &str) -> bool {
    segment.len() == 64 && segment.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// One entry of a module's `revisions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    #[serde(rename = "ref")]
    pub reference: String,
}

/// A module as `.module.yaml` and `tenant.json` describe it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    pub name: String,
    pub namespace: String,
    pub lang: String,
    #[serde(rename = "ref")]
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    pub fqmn: String,
    pub uri: String,
    pub revisions: Vec<Revision>,
}

impl Module {
    /// Builds a module of tenant `ident`; `revisions` in ascending version order.
    pub fn new(
        id: &FunctionId,
        lang: &str,
        reference: &str,
        draft_ref: Option<&str>,
        api_version: Option<&str>,
        revisions: &[&str],
    ) -> Module {
        let FunctionId { ident, namespace, name } = id;
        Module {
            name: name.clone(),
            namespace: namespace.clone(),
            lang: lang.into(),
            reference: reference.into(),
            draft_ref: draft_ref.map(Into::into),
            api_version: api_version.map(Into::into),
            fqmn: format!("fqmn://{ident}/{namespace}/{name}@{reference}"),
            uri: format!("/{ident}/{reference}/{namespace}/{name}"),
            revisions: revisions.iter().map(|r| Revision { reference: (*r).into() }).collect(),
        }
    }

    /// The `.module.yaml` text: plain scalars, one line each.
    pub fn to_yaml(&self) -> String {
        let mut options = serde_saphyr::SerializerOptions::default();
        options.prefer_block_scalars = false;
        serde_saphyr::to_string_with_options(self, options).expect("a module always serializes")
    }
}

/// What a run does to one tenant's overview.
#[derive(Clone, Debug, PartialEq)]
pub enum TenantOutcome {
    /// The merged content equals what is there: leave the file untouched.
    Unchanged { version: u64 },
    /// Write this document; `version` is its tenant version.
    Write { version: u64, document: Value },
}

impl TenantOutcome {
    pub fn version(&self) -> u64 {
        match self {
            TenantOutcome::Unchanged { version } | TenantOutcome::Write { version, .. } => *version,
        }
    }
}

/// The tenant version an existing overview declares.
pub fn tenant_version(document: &Value) -> Option<u64> {
    document.pointer("/overview/version").and_then(Value::as_u64)
}

/// Merges the modules this run produced into a tenant's existing overview.
///
/// Modules already there that this run does not produce are kept as they are
/// (unknown fields included); a produced module replaces the entry with its
/// namespace and name. An unchanged tenant keeps its file; a changed one gets
/// version `max(old + 1, computed)`, computed being its number of revisions.
pub fn merge_tenant(ident: &str, existing: Option<&Value>, produced: &[Module]) -> Result<TenantOutcome, String> {
    let mut modules: BTreeMap<(String, String), Value> = BTreeMap::new();
    let old = match existing {
        None => None,
        Some(document) => {
            let entries = document
                .pointer("/overview/config/modules")
                .and_then(Value::as_array)
                .ok_or("not an SE2 tenant overview: no overview.config.modules array")?;
            for entry in entries {
                let field = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_owned);
                let (Some(namespace), Some(name)) = (field("namespace"), field("name")) else {
                    return Err(format!("a module entry has no namespace or name: {entry}"));
                };
                modules.insert((namespace, name), entry.clone());
            }
            let version = tenant_version(document).ok_or("not an SE2 tenant overview: no overview.version number")?;
            Some((modules.clone(), version))
        }
    };
    for module in produced {
        let value = serde_json::to_value(module).expect("a module always serializes");
        modules.insert((module.namespace.clone(), module.name.clone()), value);
    }
    let computed: u64 =
        modules.values().map(|m| m.get("revisions").and_then(Value::as_array).map_or(0, |r| r.len() as u64)).sum();
    let version = match old {
        Some((old_modules, version)) if old_modules == modules => return Ok(TenantOutcome::Unchanged { version }),
        Some((_, version)) => (version + 1).max(computed),
        None => computed,
    };
    Ok(TenantOutcome::Write { version, document: tenant_document(ident, version, modules) })
}

fn tenant_document(ident: &str, version: u64, modules: BTreeMap<(String, String), Value>) -> Value {
    let mut namespaces: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for ((namespace, _), module) in &modules {
        namespaces.entry(namespace).or_default().push(module);
    }
    let default = namespaces.remove("default").unwrap_or_default();
    let others: Vec<Value> =
        namespaces.into_iter().map(|(name, modules)| json!({"name": name, "modules": modules})).collect();
    let all: Vec<&Value> = modules.values().collect();
    json!({
        "overview": {
            "identifier": ident,
            "version": version,
            "config": {
                "identifier": ident,
                "specVersion": 1,
                "tenantVersion": version,
                "defaultNamespace": {"name": "default", "modules": default},
                "namespaces": others,
                "modules": all,
            }
        },
        "stale": false
    })
}

/// The bytes of a `tenant.json`.
pub fn tenant_json(document: &Value) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(document).expect("json always serializes");
    text.push(b'\n');
    text
}

/// Parses `system/version`: a decimal integer and nothing else (a trailing
/// newline is tolerated).
pub fn parse_system_version(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

/// The `system/version` a run must write, if any.
///
/// `previous` is the counter found (if any), `tenant_sum` the sum of the
/// tenant versions of every `tenant.json` under the root once this run is
/// done, `wrote` whether the run writes anything else (or a killed run still
/// owes its bump). The counter never decreases and never falls below the sum.
pub fn next_system_version(previous: Option<u64>, tenant_sum: u64, wrote: bool) -> Option<u64> {
    match previous {
        None => (wrote || tenant_sum > 0).then_some(tenant_sum),
        Some(previous) if wrote || previous < tenant_sum => Some((previous + 1).max(tenant_sum)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(namespace: &str, name: &str) -> FunctionId {
        FunctionId { ident: "com.acme".into(), namespace: namespace.into(), name: name.into() }
    }

    fn module(namespace: &str, name: &str, revisions: &[&str]) -> Module {
        Module::new(&id(namespace, name), "rust", revisions.last().unwrap(), None, None, revisions)
    }

    #[test]
    fn module_fields_follow_the_spec() {
        let m = Module::new(&id("default", "hello"), "rust", "aa", Some("bb"), Some("0.4.0"), &["bb", "aa"]);
        assert_eq!(m.fqmn, "fqmn://com.acme/default/hello@aa");
        assert_eq!(m.uri, "/com.acme/aa/default/hello");
        let value = serde_json::to_value(&m).unwrap();
        assert_eq!(
            value,
            json!({"name": "hello", "namespace": "default", "lang": "rust", "ref": "aa", "draftRef": "bb",
                   "apiVersion": "0.4.0", "fqmn": "fqmn://com.acme/default/hello@aa",
                   "uri": "/com.acme/aa/default/hello", "revisions": [{"ref": "bb"}, {"ref": "aa"}]})
        );
        let bare = serde_json::to_value(module("default", "hello", &["aa"])).unwrap();
        assert!(bare.get("draftRef").is_none() && bare.get("apiVersion").is_none());
        let back: Module = serde_saphyr::from_str(&m.to_yaml()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn digests_are_64_lowercase_hex() {
        assert!(is_digest(&"a".repeat(64)));
        assert!(is_digest(&"0123456789abcdef".repeat(4)));
        assert!(!is_digest(&"A".repeat(64)));
        assert!(!is_digest(&"a".repeat(63)));
        assert!(!is_digest(&"g".repeat(64)));
        assert!(!is_digest("v1.0.0"));
    }

    #[test]
    fn fresh_tenant_sorts_modules_and_counts_revisions() {
        let produced = [module("zeta", "b", &["1"]), module("default", "z", &["2", "3"]), module("alpha", "a", &["4"])];
        let TenantOutcome::Write { version, document } = merge_tenant("com.acme", None, &produced).unwrap() else {
            panic!("a fresh tenant is written");
        };
        assert_eq!(version, 4);
        let config = &document["overview"]["config"];
        assert_eq!(document["overview"]["identifier"], "com.acme");
        assert_eq!(document["overview"]["version"], 4);
        assert_eq!(config["tenantVersion"], 4);
        assert_eq!(config["specVersion"], 1);
        assert_eq!(document["stale"], false);
        let names = |v: &Value| -> Vec<String> {
            v.as_array().unwrap().iter().map(|m| format!("{}/{}", m["namespace"], m["name"]).replace('"', "")).collect()
        };
        assert_eq!(names(&config["modules"]), ["alpha/a", "default/z", "zeta/b"]);
        assert_eq!(names(&config["defaultNamespace"]["modules"]), ["default/z"]);
        assert_eq!(config["namespaces"][0]["name"], "alpha");
        assert_eq!(config["namespaces"][1]["name"], "zeta");
        assert_eq!(config["namespaces"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn merging_keeps_foreign_modules_and_raises_versions() {
        let first = merge_tenant("com.acme", None, &[module("default", "a", &["1"])]).unwrap();
        let TenantOutcome::Write { document, .. } = first else { panic!() };

        // The same content again leaves the file alone.
        let again = merge_tenant("com.acme", Some(&document), &[module("default", "a", &["1"])]).unwrap();
        assert_eq!(again, TenantOutcome::Unchanged { version: 1 });
        let nothing = merge_tenant("com.acme", Some(&document), &[]).unwrap();
        assert_eq!(nothing, TenantOutcome::Unchanged { version: 1 });

        // A new module: the old one is kept, the version is max(old + 1, computed).
        let TenantOutcome::Write { version, document: merged } =
            merge_tenant("com.acme", Some(&document), &[module("default", "b", &["2"])]).unwrap()
        else {
            panic!()
        };
        assert_eq!(version, 2);
        assert_eq!(merged["overview"]["config"]["modules"].as_array().unwrap().len(), 2);

        // A tenant whose declared version is high only rises by one.
        let mut high = merged.clone();
        high["overview"]["version"] = json!(40);
        let outcome = merge_tenant("com.acme", Some(&high), &[module("default", "b", &["2", "3"])]).unwrap();
        assert_eq!(outcome.version(), 41);

        let broken = json!({"overview": {}});
        assert!(merge_tenant("com.acme", Some(&broken), &[]).unwrap_err().contains("not an SE2 tenant overview"));
    }

    #[test]
    fn system_version_never_decreases() {
        let cases = [
            (None, 0, false, None),
            (None, 5, false, Some(5)),
            (None, 5, true, Some(5)),
            (Some(5), 5, false, None),
            (Some(5), 5, true, Some(6)),
            (Some(5), 9, true, Some(9)),
            (Some(5), 9, false, Some(9)),
            (Some(50), 9, true, Some(51)),
            (Some(50), 9, false, None),
        ];
        for (previous, sum, wrote, expected) in cases {
            assert_eq!(next_system_version(previous, sum, wrote), expected, "{previous:?} {sum} {wrote}");
        }
        assert_eq!(parse_system_version(b"12"), Some(12));
        assert_eq!(parse_system_version(b"12\n"), Some(12));
        assert_eq!(parse_system_version(b" 12"), None);
        assert_eq!(parse_system_version(b""), None);
        assert_eq!(parse_system_version(b"-1"), None);
    }
}
