//! What SPEC.md §3 says se2 writes, computed here from the SPEC alone and
//! never with se2's own code: digests, SE2 keys, `.module.yaml` and
//! `tenant.json` contents, and the parts of a migration account.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::tree::parts;

pub const SYSTEM_VERSION: &str = "system/version";

/// Lowercase hex SHA-256, as digest directories are named.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `<dir>/<digest>/<name>.wasm`.
pub fn binary_key(dir: &str, digest: &str) -> String {
    let (_, _, name) = parts(dir);
    format!("{dir}/{digest}/{name}.wasm")
}

/// `<dir>/<digest>/<file>`.
pub fn digest_key(dir: &str, digest: &str, file: &str) -> String {
    format!("{dir}/{digest}/{file}")
}

pub fn module_key(dir: &str) -> String {
    format!("{dir}/.module.yaml")
}

pub fn tenant_key(ident: &str) -> String {
    format!("{ident}/tenant.json")
}

/// A module as `.module.yaml` and each `tenant.json` entry must carry it.
pub fn module(
    dir: &str,
    lang: &str,
    reference: &str,
    draft_ref: Option<&str>,
    api_version: Option<&str>,
    revisions: &[&str],
) -> Value {
    let (ident, namespace, name) = parts(dir);
    let mut module = json!({
        "name": name,
        "namespace": namespace,
        "lang": lang,
        "ref": reference,
        "fqmn": format!("fqmn://{ident}/{namespace}/{name}@{reference}"),
        "uri": format!("/{ident}/{reference}/{namespace}/{name}"),
        "revisions": revisions.iter().map(|r| json!({"ref": r})).collect::<Vec<_>>(),
    });
    if let Some(draft_ref) = draft_ref {
        module["draftRef"] = json!(draft_ref);
    }
    if let Some(api_version) = api_version {
        module["apiVersion"] = json!(api_version);
    }
    module
}

/// A `tenant.json` holding `modules` at tenant version `version`: modules
/// sorted by (namespace, name), `default` in `defaultNamespace`, the other
/// namespaces sorted by name.
pub fn tenant(ident: &str, version: u64, modules: &[Value]) -> Value {
    let field = |m: &Value, f: &str| m[f].as_str().unwrap_or_else(|| panic!("a module has a {f}: {m}")).to_owned();
    let sorted: BTreeMap<(String, String), Value> =
        modules.iter().map(|m| ((field(m, "namespace"), field(m, "name")), m.clone())).collect();
    let mut namespaces: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ((namespace, _), module) in &sorted {
        namespaces.entry(namespace.clone()).or_default().push(module.clone());
    }
    let default = namespaces.remove("default").unwrap_or_default();
    let others: Vec<Value> =
        namespaces.into_iter().map(|(name, modules)| json!({"name": name, "modules": modules})).collect();
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
                "modules": sorted.into_values().collect::<Vec<_>>(),
            }
        },
        "stale": false
    })
}

/// The `writes` of a migration account.
pub fn writes(account: &Value) -> &Vec<Value> {
    account["writes"].as_array().unwrap_or_else(|| panic!("an account has writes: {account}"))
}

/// The destinations of an account's writes of `kind`, in order.
pub fn written(account: &Value, kind: &str) -> Vec<String> {
    writes(account)
        .iter()
        .filter(|w| w["kind"] == kind)
        .map(|w| w["destination"].as_str().unwrap().to_owned())
        .collect()
}

/// `(key, reason)` of each warning of an account.
pub fn warnings(account: &Value) -> Vec<(String, String)> {
    problems(account, "warnings").into_iter().map(|(_, key, reason)| (key, reason)).collect()
}

/// `(function, key, reason)` of each rejection of an account.
pub fn rejections(account: &Value) -> Vec<(String, String, String)> {
    problems(account, "rejections")
}

fn problems(account: &Value, field: &str) -> Vec<(String, String, String)> {
    let list = account[field].as_array().unwrap_or_else(|| panic!("an account has {field}: {account}"));
    list.iter()
        .map(|p| {
            let text = |f: &str| p[f].as_str().map(str::to_owned);
            let key = text("key").unwrap_or_else(|| panic!("{field} entry without key: {p}"));
            let reason = text("reason").unwrap_or_else(|| panic!("{field} entry without reason: {p}"));
            (text("function").unwrap_or_default(), key, reason)
        })
        .collect()
}

/// Asserts that the account warns about `key` with a reason containing `why`.
pub fn assert_warns(account: &Value, key: &str, why: &str) {
    let found = warnings(account);
    assert!(
        found.iter().any(|(k, reason)| k == key && reason.contains(why)),
        "no warning on {key} mentioning {why:?}; warnings: {found:#?}"
    );
}
