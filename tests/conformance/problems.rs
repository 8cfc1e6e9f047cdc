//! SPEC.md §4's problems: each kind of rejection (exit 3, the function
//! named with its reason, nothing written for it, the others migrated) and
//! each kind of warning (exit 0, the key named with its reason).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::spec::{self, module, module_key, tenant, tenant_key};
use crate::common::tree::{runnable_yaml, wasm};
use crate::common::{Harness, Tree};

/// The function that migrates cleanly beside every problem.
const GOOD: &str = "t.mixed/default/good";

fn with_good(problems: &Tree) -> Tree {
    let mut tree = problems.clone();
    tree.function(GOOD, "rust", &["v1.0.0", "v2.0.0"]).draft(GOOD, "v2.0.0", "lib.rs", "// good");
    tree
}

/// Asserts that `GOOD` was migrated in full.
async fn assert_good_migrated(root: &crate::common::TestRoot, tree: &Tree) {
    let (g1, g2) = (tree.digest(GOOD, "v1.0.0"), tree.digest(GOOD, "v2.0.0"));
    assert_eq!(root.yaml(&module_key(GOOD)).await, module(GOOD, "rust", &g2, None, None, &[&g1, &g2]));
    assert_eq!(root.read(&spec::digest_key(GOOD, &g2, "lib.rs")).await, b"// good");
    assert_eq!(root.read(&spec::binary_key(GOOD, &g1)).await, tree.bytes(&format!("{GOOD}/v1.0.0/good.wasm")));
}

/// Migrates `bad` beside a good function and checks that exactly the
/// `(function, key, reason fragment)` rejections are made, and that
/// nothing of a rejected function is written.
async fn expect_rejections(h: &Harness, bad: &Tree, expected: &[(&str, &str, &str)]) {
    let tree = with_good(bad);
    let root = h.root();
    root.seed(&tree).await;
    let report = h.scratch("report.json");
    let before = root.snapshot_of(tree.keys()).await;
    let output = h.migrate(&root, &["--json", "--report", report.to_str().unwrap()]).await;
    output.expect_code(3);
    root.assert_holds(&before).await;
    let account = output.json();

    let found = spec::rejections(&account);
    for (function, key, why) in expected {
        let named = found.iter().any(|(f, k, reason)| f == function && k == key && reason.contains(why));
        assert!(named, "no rejection of {function} at {key} mentioning {why:?}; rejections: {found:#?}");
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    assert_eq!(account["summary"]["rejected"], expected.len());
    assert_eq!(account["summary"]["functions"], 1);
    let file: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(file["rejections"], account["rejections"]);

    for (function, ..) in expected {
        let prefix = format!("{function}/");
        let added: Vec<String> =
            root.keys_under(&prefix).await.into_iter().filter(|k| !tree.files.contains_key(k)).collect();
        assert_eq!(added, Vec::<String>::new(), "something was written for rejected {function}");
        assert!(spec::writes(&account).iter().all(|w| !w["destination"].as_str().unwrap().starts_with(&prefix)));
    }
    assert_good_migrated(&root, &tree).await;
    let (g1, g2) = (tree.digest(GOOD, "v1.0.0"), tree.digest(GOOD, "v2.0.0"));
    let good = module(GOOD, "rust", &g2, None, None, &[&g1, &g2]);
    assert_eq!(
        root.json(&tenant_key("t.mixed")).await,
        tenant("t.mixed", 2, &[good]),
        "the tenant lists no rejected function"
    );
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"2");
    if let Some(stderr) = &output.stderr {
        for (function, ..) in expected {
            assert!(stderr.contains(function), "stderr does not name rejected {function}:\n{stderr}");
        }
    }
}

/// `.runnable.yaml` text with each field given.
fn yaml(name: &str, namespace: &str, version: &str, fqfn: &str) -> String {
    format!("name: {name}\nnamespace: {namespace}\nlang: rust\nversion: {version}\nfqfn: {fqfn}\n")
}

pub async fn rejects_unparsable_yaml(h: &Harness) {
    let mut bad = Tree::new();
    bad.file("t.mixed/default/syntax/.runnable.yaml", "name: [unclosed\nlang: rust\n").binary(
        "t.mixed/default/syntax",
        "v1.0.0",
        wasm("s"),
    );
    bad.file("t.mixed/default/fields/.runnable.yaml", "name: fields\nnamespace: default\nlang: rust\n");
    bad.binary("t.mixed/default/fields", "v1.0.0", wasm("f"));
    bad.file("t.mixed/default/bytes/.runnable.yaml", b"\xff\xfe\x00not text").binary(
        "t.mixed/default/bytes",
        "v1.0.0",
        wasm("b"),
    );
    bad.runnable("t.mixed/default/nested", "rust", "v1.0.0", "").binary("t.mixed/default/nested", "v1.0.0", wasm("n"));
    bad.file("t.mixed/default/nested/v1.0.0/.runnable.yaml", "version: {");
    expect_rejections(
        h,
        &bad,
        &[
            ("t.mixed/default/syntax", "t.mixed/default/syntax/.runnable.yaml", "parse"),
            ("t.mixed/default/fields", "t.mixed/default/fields/.runnable.yaml", "parse"),
            ("t.mixed/default/bytes", "t.mixed/default/bytes/.runnable.yaml", "parse"),
            ("t.mixed/default/nested", "t.mixed/default/nested/v1.0.0/.runnable.yaml", "parse"),
        ],
    )
    .await;
}

pub async fn rejects_malformed_fqfn(h: &Harness) {
    let mut bad = Tree::new();
    for (name, fqfn) in [
        ("nohash", "t.mixed-default::nohash@v1.0.0"),
        ("colon", "t.mixed#default:colon@v1.0.0"),
        ("noat", "t.mixed#default::noat-v1.0.0"),
        ("semver", "t.mixed#default::semver@1.0.0"),
        ("empty", ""),
    ] {
        let dir = format!("t.mixed/default/{name}");
        bad.file(&format!("{dir}/.runnable.yaml"), yaml(name, "default", "v1.0.0", fqfn)).binary(
            &dir,
            "v1.0.0",
            wasm(name),
        );
    }
    let expected: Vec<(String, String)> = ["nohash", "colon", "noat", "semver", "empty"]
        .iter()
        .map(|name| (format!("t.mixed/default/{name}"), format!("t.mixed/default/{name}/.runnable.yaml")))
        .collect();
    let expected: Vec<(&str, &str, &str)> = expected.iter().map(|(f, k)| (f.as_str(), k.as_str(), "fqfn")).collect();
    expect_rejections(h, &bad, &expected).await;
}

pub async fn rejects_fqfn_disagreeing_with_fields(h: &Harness) {
    let mut bad = Tree::new();
    let cases = [
        ("byname", yaml("othername", "default", "v1.0.0", "t.mixed#default::byname@v1.0.0"), "othername"),
        ("byns", yaml("byns", "prod", "v1.0.0", "t.mixed#default::byns@v1.0.0"), "prod"),
        ("byversion", yaml("byversion", "default", "v2.0.0", "t.mixed#default::byversion@v1.0.0"), "v2.0.0"),
    ];
    for (name, text, _) in &cases {
        let dir = format!("t.mixed/default/{name}");
        bad.file(&format!("{dir}/.runnable.yaml"), text).binary(&dir, "v1.0.0", wasm(name)).binary(
            &dir,
            "v2.0.0",
            wasm(name),
        );
    }
    let keys: Vec<(String, String)> = cases
        .iter()
        .map(|(name, ..)| (format!("t.mixed/default/{name}"), format!("t.mixed/default/{name}/.runnable.yaml")))
        .collect();
    let expected: Vec<(&str, &str, &str)> =
        keys.iter().zip(&cases).map(|((f, k), (.., why))| (f.as_str(), k.as_str(), *why)).collect();
    expect_rejections(h, &bad, &expected).await;
}

pub async fn rejects_fqfn_disagreeing_with_key_path(h: &Harness) {
    let mut bad = Tree::new();
    // The yaml agrees with its fqfn; the key path does not.
    bad.file(
        "t.mixed/default/tenant/.runnable.yaml",
        yaml("tenant", "default", "v1.0.0", "t.other#default::tenant@v1.0.0"),
    );
    bad.file("t.mixed/default/ns/.runnable.yaml", yaml("ns", "prod", "v1.0.0", "t.mixed#prod::ns@v1.0.0"));
    bad.file(
        "t.mixed/default/name/.runnable.yaml",
        yaml("renamed", "default", "v1.0.0", "t.mixed#default::renamed@v1.0.0"),
    );
    bad.runnable("t.mixed/default/dir", "rust", "v1.0.0", "");
    bad.file("t.mixed/default/dir/v2.0.0/.runnable.yaml", runnable_yaml("t.mixed/default/dir", "rust", "v1.0.0", ""));
    for name in ["tenant", "ns", "name", "dir"] {
        bad.binary(&format!("t.mixed/default/{name}"), "v1.0.0", wasm(name));
    }
    bad.binary("t.mixed/default/dir", "v2.0.0", wasm("dir 2"));
    expect_rejections(
        h,
        &bad,
        &[
            ("t.mixed/default/tenant", "t.mixed/default/tenant/.runnable.yaml", "t.other"),
            ("t.mixed/default/ns", "t.mixed/default/ns/.runnable.yaml", "prod"),
            ("t.mixed/default/name", "t.mixed/default/name/.runnable.yaml", "renamed"),
            ("t.mixed/default/dir", "t.mixed/default/dir/v2.0.0/.runnable.yaml", "v2.0.0"),
        ],
    )
    .await;
}

pub async fn rejects_missing_current_binary(h: &Harness) {
    let mut bad = Tree::new();
    bad.runnable("t.mixed/default/nobin", "rust", "v2.0.0", "draftVersion: v2.0.0\n")
        .binary("t.mixed/default/nobin", "v1.0.0", wasm("v1"))
        .draft("t.mixed/default/nobin", "v2.0.0", "lib.rs", "// the draft of a binary never built");
    bad.runnable("t.mixed/default/gone", "rust", "v3.0.0", "").binary("t.mixed/default/gone", "v1.0.0", wasm("v1"));
    expect_rejections(
        h,
        &bad,
        &[
            ("t.mixed/default/nobin", "t.mixed/default/nobin/v2.0.0/nobin.wasm", "v2.0.0"),
            ("t.mixed/default/gone", "t.mixed/default/gone/v3.0.0/gone.wasm", "v3.0.0"),
        ],
    )
    .await;
}

/// Not in SPEC.md's list: without a `.runnable.yaml` nothing says the
/// function's lang or current version, so se2 refuses to guess.
pub async fn rejects_function_without_runnable(h: &Harness) {
    let mut bad = Tree::new();
    bad.binary("t.mixed/default/orphan", "v1.0.0", wasm("orphan")).draft(
        "t.mixed/default/orphan",
        "v1.0.0",
        "lib.rs",
        "//",
    );
    expect_rejections(h, &bad, &[("t.mixed/default/orphan", "t.mixed/default/orphan/.runnable.yaml", "missing")]).await;
}

/// Migrates `extra` beside a good function and checks that it exits 0,
/// rejects nothing, and warns exactly `expected` (key prefix, reason
/// fragment) and nothing else, each in the report too.
async fn expect_warnings(
    h: &Harness,
    extra: &Tree,
    expected: &[(&str, &str)],
) -> (crate::common::TestRoot, Tree, Value) {
    let tree = with_good(extra);
    let root = h.root();
    root.seed(&tree).await;
    let report = h.scratch("report.json");
    let before = root.snapshot_of(tree.keys()).await;
    let output = h.migrate(&root, &["--json", "--report", report.to_str().unwrap()]).await;
    output.expect_code(0);
    root.assert_holds(&before).await;
    let account = output.json();

    assert_eq!(account["rejections"], json!([]));
    let found = spec::warnings(&account);
    for (key, why) in expected {
        let named = found.iter().any(|(k, reason)| k.starts_with(key) && reason.contains(why));
        assert!(named, "no warning on {key} mentioning {why:?}; warnings: {found:#?}");
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    assert_eq!(account["summary"]["warnings"], expected.len());
    let file: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(file["warnings"], account["warnings"]);
    if let Some(stderr) = &output.stderr {
        for (key, _) in &found {
            assert!(stderr.contains(key.as_str()), "stderr does not name {key}:\n{stderr}");
        }
    }
    assert_good_migrated(&root, &tree).await;
    (root, tree, account)
}

pub async fn warns_draft_without_binary(h: &Harness) {
    const W: &str = "t.mixed/default/w";
    let mut extra = Tree::new();
    extra.function(W, "rust", &["v1.0.0"]).draft(W, "v2.0.0", "lib.rs", "// never built");
    let (root, tree, _) = expect_warnings(h, &extra, &[(&format!("{W}/v2.0.0/"), "binary")]).await;
    let w1 = tree.digest(W, "v1.0.0");
    assert_eq!(root.yaml(&module_key(W)).await, module(W, "rust", &w1, None, None, &[&w1]));
    let drafts: Vec<String> = root.keys_under(&format!("{W}/{w1}/")).await.into_iter().collect();
    assert_eq!(drafts, [spec::binary_key(W, &w1)], "the draft has no digest to go under");
}

pub async fn warns_version_directory_without_binary(h: &Harness) {
    const W1: &str = "t.mixed/default/w1";
    const W2: &str = "t.mixed/default/w2";
    let mut extra = Tree::new();
    extra.function(W1, "rust", &["v1.0.0"]).version_runnable(W1, "rust", "v0.9.0", "");
    extra.function(W2, "rust", &["v1.0.0"]).file(&format!("{W2}/v3.0.0/notes.txt"), "notes");
    let (root, tree, _) = expect_warnings(
        h,
        &extra,
        &[
            (&format!("{W1}/v0.9.0/"), "binary"),
            (&format!("{W2}/v3.0.0/"), "binary"),
            (&format!("{W2}/v3.0.0/notes.txt"), "matches nothing"),
        ],
    )
    .await;
    for dir in [W1, W2] {
        let d = tree.digest(dir, "v1.0.0");
        assert_eq!(root.yaml(&module_key(dir)).await, module(dir, "rust", &d, None, None, &[&d]), "{dir}");
    }
}

pub async fn warns_draft_version_without_draft(h: &Harness) {
    const D1: &str = "t.mixed/default/d1";
    const D2: &str = "t.mixed/default/d2";
    const D3: &str = "t.mixed/default/d3";
    let mut extra = Tree::new();
    extra.function(D1, "rust", &["v1.0.0", "v2.0.0"]).runnable(D1, "rust", "v2.0.0", "draftVersion: v1.0.0\n");
    extra.function(D2, "javascript", &["v1.0.0"]).runnable(D2, "javascript", "v1.0.0", "draftVersion: v5.0.0\n");
    // A draftVersion that names no version at all: the function still migrates.
    extra.function(D3, "rust", &["v1.0.0"]).runnable(D3, "rust", "v1.0.0", "draftVersion: latest\n");
    extra.draft(D3, "v1.0.0", "lib.rs", "// d3");
    let expected = [
        (format!("{D1}/v1.0.0/"), "draftVersion"),
        (format!("{D2}/v5.0.0/"), "draftVersion"),
        (format!("{D3}/.runnable.yaml"), "latest"),
    ];
    let expected: Vec<(&str, &str)> = expected.iter().map(|(key, why)| (key.as_str(), *why)).collect();
    let (root, tree, _) = expect_warnings(h, &extra, &expected).await;
    let (a, b) = (tree.digest(D1, "v1.0.0"), tree.digest(D1, "v2.0.0"));
    assert_eq!(root.yaml(&module_key(D1)).await, module(D1, "rust", &b, None, None, &[&a, &b]), "no draftRef");
    let c = tree.digest(D2, "v1.0.0");
    assert_eq!(root.yaml(&module_key(D2)).await, module(D2, "javascript", &c, None, None, &[&c]), "no draftRef");
    let d = tree.digest(D3, "v1.0.0");
    assert_eq!(root.yaml(&module_key(D3)).await, module(D3, "rust", &d, None, None, &[&d]), "no draftRef");
    assert_eq!(root.read(&spec::digest_key(D3, &d, "lib.rs")).await, b"// d3", "the draft is still copied");
}

pub async fn warns_file_matching_nothing(h: &Harness) {
    const W: &str = "t.mixed/default/w";
    let strays = [
        "README.md".to_owned(),
        "t.mixed/notes.txt".to_owned(),
        "t.mixed/default/notes.txt".to_owned(),
        format!("{W}/notes.txt"),
        format!("{W}/v1.0.0/notes.txt"),
        format!("{W}/v1.0.0/lib.ts"),
        format!("{W}/v1.0.0/sub/w.wasm"),
        format!("{W}/v1.0/w.wasm"),
    ];
    let mut extra = Tree::new();
    extra.function(W, "rust", &["v1.0.0"]);
    for key in &strays {
        extra.file(key, format!("stray {key}"));
    }
    let expected: Vec<(&str, &str)> = strays.iter().map(|key| (key.as_str(), "")).collect();
    let (root, tree, account) = expect_warnings(h, &extra, &expected).await;
    let keys: BTreeSet<String> = spec::warnings(&account).into_iter().map(|(key, _)| key).collect();
    assert_eq!(keys, strays.iter().cloned().collect(), "each stray is named by its own key");
    let w = tree.digest(W, "v1.0.0");
    assert_eq!(
        root.keys_under(&format!("{W}/{w}/")).await,
        BTreeSet::from([spec::binary_key(W, &w)]),
        "strays are not copied"
    );
}
