//! SPEC.md §4's `verify` and `prune`: every identifier checked and each
//! mismatch named by its key (exit 0 / 3); prune deleting only the v0
//! objects of functions verify finds fully migrated, archiving first when
//! asked, never touching an SE2 object.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::spec::{binary_key, module_key, tenant_key};
use crate::common::{Harness, TestRoot, Tree};

const HELLO: &str = "t.verify/default/hello";
const GREET: &str = "t.verify/jobs/greet";
/// A function migrate rejects (its fqfn disagrees with its key path).
const BROKEN: &str = "t.verify/default/broken";

fn tree() -> Tree {
    let mut tree = Tree::new();
    tree.function(HELLO, "rust", &["v1.0.0", "v2.0.0"]).draft(HELLO, "v2.0.0", "lib.rs", "// hello");
    tree.function(GREET, "javascript", &["v0.1.0"]).draft(GREET, "v0.1.0", "lib.js", "// greet");
    tree
}

fn with_broken(tree: &Tree) -> Tree {
    let mut tree = tree.clone();
    tree.function(BROKEN, "rust", &["v1.0.0"]);
    let yaml = String::from_utf8(tree.bytes(&format!("{BROKEN}/.runnable.yaml")).to_vec()).unwrap();
    tree.file(&format!("{BROKEN}/.runnable.yaml"), yaml.replace("t.verify#", "t.other#"));
    tree
}

/// Runs `se2 verify ARGS... --json`, expects `code`, returns the findings.
async fn verify(h: &Harness, args: &[&str], code: i32) -> Value {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    all.push("--json");
    let output = h.se2(&all).await;
    output.expect_code(code);
    output.json()
}

fn finding_keys(verification: &Value) -> BTreeSet<String> {
    verification["findings"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap().to_owned()).collect()
}

fn v0_keys(tree: &Tree, function: &str) -> BTreeSet<String> {
    tree.files.keys().filter(|k| k.starts_with(&format!("{function}/"))).cloned().collect()
}

async fn migrated(h: &Harness, tree: &Tree, code: i32) -> TestRoot {
    let root = h.root();
    root.seed(tree).await;
    h.migrate(&root, &["--quiet"]).await.expect_code(code);
    root
}

/// A migrated root verifies, and verify counts what it checked.
pub async fn verify_passes_after_migrate(h: &Harness) {
    let tree = tree();
    let root = migrated(h, &tree, 0).await;
    let verification = verify(h, &[&root.url], 0).await;
    assert_eq!(verification["findings"], Value::Array(vec![]));
    assert_eq!(verification["checked"]["binaries"], 3);
    assert_eq!(verification["checked"]["modules"], 2);
    assert_eq!(verification["checked"]["tenants"], 1);
    assert_eq!(verification["checked"]["v0Versions"], 3);
    let mut migrated: Vec<&str> =
        verification["migrated"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    migrated.sort();
    assert_eq!(migrated, [HELLO, GREET]);
}

/// Before migrating, every v0 version lacks its counterpart.
pub async fn verify_finds_an_unmigrated_root(h: &Harness) {
    let tree = tree();
    let root = h.root();
    root.seed(&tree).await;
    let verification = verify(h, &[&root.url], 3).await;
    let keys = finding_keys(&verification);
    for version in ["v1.0.0", "v2.0.0"] {
        assert!(keys.contains(&format!("{HELLO}/{version}/hello.wasm")), "{keys:?}");
    }
    assert!(keys.contains(&format!("{GREET}/v0.1.0/greet.wasm")), "{keys:?}");
    assert_eq!(verification["migrated"], Value::Array(vec![]));
}

/// Each broken identifier is a finding that names its key.
pub async fn verify_names_each_mismatch(h: &Harness) {
    let tree = tree();
    let root = migrated(h, &tree, 0).await;
    let hello2 = tree.digest(HELLO, "v2.0.0");
    let greet = tree.digest(GREET, "v0.1.0");
    // A binary whose bytes no longer hash to its directory's name.
    root.put(&binary_key(HELLO, &hello2), b"not the module".to_vec()).await;
    // A .module.yaml that disagrees with tenant.json.
    let yaml = String::from_utf8(root.read(&module_key(GREET)).await).unwrap();
    root.put(&module_key(GREET), yaml.replace("lang: javascript", "lang: rust")).await;
    // A system version below the sum of tenant versions.
    root.put("system/version", "1").await;

    let verification = verify(h, &[&root.url], 3).await;
    let keys = finding_keys(&verification);
    assert!(keys.contains(&binary_key(HELLO, &hello2)), "{keys:?}");
    assert!(keys.contains(&module_key(GREET)), "{keys:?}");
    assert!(keys.contains("system/version"), "{keys:?}");
    assert!(!keys.contains(&binary_key(GREET, &greet)), "an intact binary is not a finding: {keys:?}");
    // The root is in doubt, so no function counts as migrated.
    assert_eq!(verification["migrated"], Value::Array(vec![]));
}

/// A binary that a tenant.json names but that is gone is a finding.
pub async fn verify_finds_a_missing_binary(h: &Harness) {
    let tree = tree();
    let root = migrated(h, &tree, 0).await;
    let hello1 = tree.digest(HELLO, "v1.0.0");
    root.delete(&binary_key(HELLO, &hello1)).await;
    let verification = verify(h, &[&root.url], 3).await;
    let keys = finding_keys(&verification);
    assert!(keys.contains(&binary_key(HELLO, &hello1)), "{keys:?}");
    let migrated: Vec<&str> = verification["migrated"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(migrated, [GREET], "only the intact function counts as migrated");
}

/// `se2 migrate A --to B` is checked by `se2 verify A --to B`.
pub async fn verify_checks_another_destination(h: &Harness) {
    let tree = tree();
    let (source, dest) = (h.root(), h.root());
    source.seed(&tree).await;
    h.migrate(&source, &["--to", &dest.url, "--quiet"]).await.expect_code(0);
    verify(h, &[&source.url, "--to", &dest.url], 0).await;
    // The v0 root alone holds no SE2 layout.
    verify(h, &[&source.url], 3).await;
}

/// Prune deletes the v0 objects of verified functions only; a rejected
/// function keeps everything, and no SE2 object is touched.
pub async fn prune_deletes_only_verified_functions(h: &Harness) {
    let tree = with_broken(&tree());
    let root = migrated(h, &tree, 3).await;
    let se2_before: BTreeSet<String> =
        root.keys().await.into_iter().filter(|k| !tree.files.contains_key(k)).collect();
    let se2_snapshot = root.snapshot_of(se2_before.iter().map(String::as_str)).await;

    let output = h.se2(&["prune", &root.url, "--yes"]).await;
    output.expect_code(3);
    assert!(output.stdout.contains(BROKEN), "prune says which function it keeps: {}", output.stdout);

    let after = root.keys().await;
    for key in v0_keys(&tree, HELLO).iter().chain(&v0_keys(&tree, GREET)) {
        assert!(!after.contains(key), "{key} of a migrated function survived prune");
    }
    for key in v0_keys(&tree, BROKEN) {
        assert!(after.contains(&key), "{key} of a rejected function was pruned");
    }
    root.assert_holds(&se2_snapshot).await;
    assert!(after.contains(&tenant_key("t.verify")));

    // What remains still verifies, but for the rejected function.
    let verification = verify(h, &[&root.url], 3).await;
    assert!(finding_keys(&verification).iter().all(|k| k.starts_with(BROKEN)), "{verification:#}");
    // A second prune has nothing more to delete.
    h.se2(&["prune", &root.url, "--yes"]).await.expect_code(3);
    assert_eq!(root.keys().await, after);
}

/// `--archive` copies every pruned object to another root first.
pub async fn prune_archives_before_deleting(h: &Harness) {
    let tree = tree();
    let root = migrated(h, &tree, 0).await;
    let archive = h.root();
    h.se2(&["prune", &root.url, "--archive", &archive.url, "--yes"]).await.expect_code(0);
    let archived = archive.keys().await;
    assert_eq!(archived, tree.files.keys().cloned().collect::<BTreeSet<_>>(), "the archive holds exactly the v0 objects");
    for (key, bytes) in &tree.files {
        assert_eq!(&archive.read(key).await, bytes, "{key} archived byte for byte");
        assert!(root.get(key).await.is_none(), "{key} was archived but not deleted");
    }
    verify(h, &[&root.url], 0).await;
}
