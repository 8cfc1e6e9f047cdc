//! SPEC.md §3–§4 on a root that already holds an SE2 layout: merging into
//! existing `tenant.json` files, tenant and system versions that never go
//! back, and `--tenant` limiting a run to some tenants.

use serde_json::{Value, json};

use crate::common::spec::{self, module, module_key, tenant, tenant_key};
use crate::common::{Harness, Tree};

fn document(value: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("JSON serializes")
}

pub async fn merge_keeps_existing_modules(h: &Harness) {
    let root = h.root();
    // A first run migrates t.same alone.
    let mut first = Tree::new();
    first.function("t.same/default/s", "rust", &["v1.0.0"]);
    root.seed(&first).await;
    h.migrate_v0(&root, &first, &["--tenant", "t.same"], 0).await;
    let same = root.snapshot_of([tenant_key("t.same").as_str(), module_key("t.same/default/s").as_str()]).await;
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"1");

    // Then an SE2 overview written by someone else, with a module se2 does
    // not produce (an unknown field included) and a stale entry it does.
    let (aa, bb, zero) = ("a".repeat(64), "b".repeat(64), "0".repeat(64));
    let mut legacy = module("t.grow/default/legacy", "rust", &aa, None, None, &[&bb, &aa]);
    legacy["x-note"] = json!("kept as it is");
    let stale = module("t.grow/default/new", "rust", &zero, None, None, &[&zero]);
    let old = module("t.jump/default/old", "rust", &aa, None, None, &[&aa]);
    let mut second = Tree::new();
    second.file(&tenant_key("t.grow"), document(&tenant("t.grow", 10, &[legacy.clone(), stale])));
    second.function("t.grow/default/new", "rust", &["v1.0.0"]);
    second.file(&tenant_key("t.jump"), document(&tenant("t.jump", 1, std::slice::from_ref(&old))));
    second.function("t.jump/default/big", "rust", &["v1.0.0", "v2.0.0", "v3.0.0", "v4.0.0"]);
    root.seed(&second).await;
    root.put(spec::SYSTEM_VERSION, "1000").await;

    let mut v0 = first.clone();
    v0.files.extend(second.files.clone().into_iter().filter(|(key, _)| !key.ends_with("tenant.json")));
    let account = h.migrate_v0(&root, &v0, &[], 0).await;
    assert_eq!((&account["rejections"], &account["warnings"]), (&json!([]), &json!([])));

    let n = second.digest("t.grow/default/new", "v1.0.0");
    let new = module("t.grow/default/new", "rust", &n, None, None, &[&n]);
    // Changed: max(old + 1, computed) = max(11, 2 + 1).
    assert_eq!(root.json(&tenant_key("t.grow")).await, tenant("t.grow", 11, &[legacy, new]));
    let big: Vec<String> =
        ["v1.0.0", "v2.0.0", "v3.0.0", "v4.0.0"].iter().map(|v| second.digest("t.jump/default/big", v)).collect();
    let big = module("t.jump/default/big", "rust", &big[3], None, None, &[&big[0], &big[1], &big[2], &big[3]]);
    // Changed: max(old + 1, computed) = max(2, 1 + 4).
    assert_eq!(root.json(&tenant_key("t.jump")).await, tenant("t.jump", 5, &[old, big]));
    // Unchanged: untouched, byte for byte, not even rewritten.
    root.assert_holds(&same).await;
    assert_eq!(spec::written(&account, "tenant"), [tenant_key("t.grow"), tenant_key("t.jump")]);
    // Modules kept from an overview get no .module.yaml from se2.
    assert_eq!(root.get(&module_key("t.grow/default/legacy")).await, None);
    assert_eq!(root.get(&module_key("t.jump/default/old")).await, None);
    // max(1000 + 1, 11 + 5 + 1).
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"1001");
}

pub async fn system_version_never_decreases(h: &Harness) {
    let root = h.root();
    let mut tree = Tree::new();
    tree.function("t.sys/default/f", "rust", &["v1.0.0", "v2.0.0"]);
    root.seed(&tree).await;
    root.put(spec::SYSTEM_VERSION, "2").await;

    // A root that had a counter: max(previous + 1, sum) = max(3, 2).
    h.migrate_v0(&root, &tree, &[], 0).await;
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"3");

    // Nothing to write: the counter stays.
    let before = root.snapshot().await;
    let account = h.migrate_v0(&root, &tree, &[], 0).await;
    assert_eq!(account["writes"], json!([]));
    root.assert_unchanged(&before).await;

    // One more revision: the tenant goes to max(2 + 1, 3) = 3, the counter to max(3 + 1, 3).
    let mut more = Tree::new();
    more.function("t.sys/default/g", "rust", &["v1.0.0"]);
    root.seed(&more).await;
    h.migrate_v0(&root, &more, &[], 0).await;
    assert_eq!(root.json(&tenant_key("t.sys")).await["overview"]["version"], 3);
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"4");

    // A counter far above the sum only rises by one.
    root.put(spec::SYSTEM_VERSION, "50").await;
    let mut more = Tree::new();
    more.function("t.sys/default/h", "rust", &["v1.0.0"]);
    root.seed(&more).await;
    h.migrate_v0(&root, &more, &[], 0).await;
    assert_eq!(root.json(&tenant_key("t.sys")).await["overview"]["version"], 4);
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"51");

    // A counter below the sum of the tenant versions is raised to it.
    root.put(spec::SYSTEM_VERSION, "1").await;
    let account = h.migrate_v0(&root, &more, &[], 0).await;
    assert_eq!(spec::written(&account, "system"), [spec::SYSTEM_VERSION]);
    assert_eq!(spec::writes(&account).len(), 1, "{account:#}");
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"4");
}

pub async fn tenant_filter_limits_the_run(h: &Harness) {
    let mut tree = Tree::new();
    tree.function("t.a/default/fa", "rust", &["v1.0.0", "v2.0.0"]);
    tree.function("t.b/default/fb", "rust", &["v1.0.0"]);
    tree.file("t.b/default/bad/.runnable.yaml", "name: [").binary("t.b/default/bad", "v1.0.0", "bad");
    tree.function("t.c/default/fc", "grain", &["v1.0.0"]);
    let root = h.root();
    root.seed(&tree).await;

    let account = h.migrate_v0(&root, &tree, &["--tenant", "t.a", "--tenant", "t.c"], 0).await;
    assert_eq!((&account["rejections"], &account["warnings"]), (&json!([]), &json!([])));
    assert_eq!(account["summary"]["functions"], 2);
    let b: Vec<String> = tree.keys().filter(|k| k.starts_with("t.b/")).map(str::to_owned).collect();
    assert_eq!(root.keys_under("t.b/").await.into_iter().collect::<Vec<_>>(), b, "t.b is left alone");
    for dir in ["t.a/default/fa", "t.c/default/fc"] {
        assert!(root.get(&module_key(dir)).await.is_some(), "{dir} is migrated");
    }
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"3");

    let others = root.snapshot_of([tenant_key("t.a").as_str(), tenant_key("t.c").as_str()]).await;
    let account = h.migrate_v0(&root, &tree, &["--tenant", "t.b"], 3).await;
    let rejected: Vec<String> = spec::rejections(&account).into_iter().map(|(function, ..)| function).collect();
    assert_eq!(rejected, ["t.b/default/bad"]);
    let fb = tree.digest("t.b/default/fb", "v1.0.0");
    let fb = module("t.b/default/fb", "rust", &fb, None, None, &[&fb]);
    assert_eq!(root.json(&tenant_key("t.b")).await, tenant("t.b", 1, &[fb]));
    root.assert_holds(&others).await;
    assert!(spec::writes(&account).iter().all(|w| {
        let key = w["destination"].as_str().unwrap();
        key.starts_with("t.b/") || key == spec::SYSTEM_VERSION
    }));
    // max(3 + 1, 2 + 1 + 1).
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"4");

    // A tenant that is not there: a warning, and nothing written.
    let before = root.snapshot().await;
    let account = h.migrate_v0(&root, &tree, &["--tenant", "t.nosuch"], 0).await;
    assert_eq!(account["writes"], json!([]));
    let warnings = spec::warnings(&account);
    assert!(warnings.iter().any(|(key, _)| key.starts_with("t.nosuch")), "{warnings:#?}");
    root.assert_unchanged(&before).await;
}

pub async fn draft_conflict_across_runs_keeps_the_highest_versions_draft(h: &Harness) {
    const F: &str = "t.later/default/f";
    let shared = crate::common::tree::wasm("rebuilt from a comment fix: the same binary");
    let root = h.root();
    let mut first = Tree::new();
    first.runnable(F, "rust", "v1.0.0", "").binary(F, "v1.0.0", &shared).draft(F, "v1.0.0", "lib.rs", "// teh typo");
    root.seed(&first).await;
    h.migrate_v0(&root, &first, &[], 0).await;

    // v2.0.0: the same binary, a draft of the same size that differs.
    let mut second = first.clone();
    second.runnable(F, "rust", "v2.0.0", "").binary(F, "v2.0.0", &shared).draft(F, "v2.0.0", "lib.rs", "// the typo");
    root.seed(&second).await;
    let account = h.migrate_v0(&root, &second, &[], 0).await;
    let digest = spec::sha256(&shared);
    let draft = spec::digest_key(F, &digest, "lib.rs");
    assert_eq!(root.read(&draft).await, b"// the typo", "the draft of the highest version, v2.0.0, is written");
    assert_eq!(spec::written(&account, "draft"), std::slice::from_ref(&draft));
    let warnings = spec::warnings(&account);
    assert!(
        warnings.len() == 1 && warnings[0].1.contains("v1.0.0"),
        "the warning names the draft not kept: {warnings:#?}"
    );
    assert_eq!(root.yaml(&module_key(F)).await, module(F, "rust", &digest, None, None, &[&digest, &digest]));

    let before = root.snapshot().await;
    let again = h.migrate_v0(&root, &second, &[], 0).await;
    assert_eq!(again["writes"], json!([]));
    root.assert_unchanged(&before).await;
}

/// An existing `tenant.json` that se2 cannot read is never overwritten:
/// the functions of that tenant are rejected, naming it; the others migrate.
pub async fn unreadable_tenant_json_is_never_overwritten(h: &Harness) {
    let mut tree = Tree::new();
    tree.function("t.broken/default/f", "rust", &["v1.0.0"]);
    tree.function("t.fine/default/g", "rust", &["v1.0.0"]);
    let root = h.root();
    root.seed(&tree).await;
    root.put(&tenant_key("t.broken"), "{ not json").await;
    root.put(spec::SYSTEM_VERSION, "not a number").await;
    let overview = root.snapshot_of([tenant_key("t.broken").as_str()]).await;

    let account = h.migrate_v0(&root, &tree, &[], 3).await;
    root.assert_holds(&overview).await;
    let rejected: Vec<(String, String)> = spec::rejections(&account).into_iter().map(|(f, k, _)| (f, k)).collect();
    assert_eq!(rejected, [("t.broken/default/f".to_owned(), tenant_key("t.broken"))]);
    let added: Vec<String> = root
        .keys_under("t.broken/")
        .await
        .into_iter()
        .filter(|k| !tree.files.contains_key(k) && *k != tenant_key("t.broken"))
        .collect();
    assert_eq!(added, Vec::<String>::new(), "nothing is written for the rejected function");
    assert!(root.get(&module_key("t.fine/default/g")).await.is_some(), "the other tenant migrates");
    // A counter that is no number is named, and set to the sum of the tenant versions.
    spec::assert_warns(&account, spec::SYSTEM_VERSION, "");
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"1");
}
