//! SPEC.md §2–§3 on a fresh root: the SE2 layout written, and every edge
//! rule that decides it (semver order, nested `.runnable.yaml`, drafts per
//! lang, shared digests, draft conflicts, draftRef, revisions, versions).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::spec::{self, binary_key, digest_key, module, module_key, tenant, tenant_key};
use crate::common::tree::wasm;
use crate::common::{Harness, Tree};

/// Asserts an account with no rejection and no warning.
fn assert_clean(account: &Value) {
    assert_eq!(account["rejections"], json!([]), "{account:#}");
    assert_eq!(account["warnings"], json!([]), "{account:#}");
}

pub async fn fresh_root_gets_the_spec_layout(h: &Harness) {
    const HELLO: &str = "com.acme/default/hello";
    const APPLE: &str = "com.acme/default/apple";
    const BETA: &str = "com.acme/zeta/beta";
    const ALPHA: &str = "com.acme/alpha/alpha";
    const ONE: &str = "com.other/default/one";
    let mut tree = Tree::new();
    tree.runnable(HELLO, "rust", "v2.0.0", "apiVersion: 0.4.0\ndraftVersion: v1.0.0\nunknownField: [1, 2]\n")
        .binary(HELLO, "v1.0.0", wasm("hello 1"))
        .draft(HELLO, "v1.0.0", "lib.rs", "fn hello1() {}")
        .binary(HELLO, "v2.0.0", wasm("hello 2"))
        .draft(HELLO, "v2.0.0", "lib.rs", "fn hello2() {}");
    tree.runnable(APPLE, "tinygo", "v1.0.0", "").binary(APPLE, "v1.0.0", wasm("apple")).draft(
        APPLE,
        "v1.0.0",
        "main.go",
        "package main",
    );
    tree.runnable(BETA, "javascript", "v1.0.0", "").binary(BETA, "v1.0.0", wasm("beta")).draft(
        BETA,
        "v1.0.0",
        "lib.js",
        "export {}",
    );
    tree.function(ALPHA, "grain", &["v1.0.0"]);
    tree.runnable(ONE, "typescript", "v1.0.0", "draftVersion: v1.0.0\n").binary(ONE, "v1.0.0", wasm("one")).draft(
        ONE,
        "v1.0.0",
        "lib.ts",
        "export const one = 1;",
    );
    let root = h.root();
    root.seed(&tree).await;

    let account = h.migrate_v0(&root, &tree, &[], 0).await;
    assert_clean(&account);

    let d = |dir: &str, version: &str| tree.digest(dir, version);
    let (h1, h2, apple, beta, alpha, one) = (
        d(HELLO, "v1.0.0"),
        d(HELLO, "v2.0.0"),
        d(APPLE, "v1.0.0"),
        d(BETA, "v1.0.0"),
        d(ALPHA, "v1.0.0"),
        d(ONE, "v1.0.0"),
    );
    let copies = [
        (format!("{HELLO}/v1.0.0/hello.wasm"), binary_key(HELLO, &h1)),
        (format!("{HELLO}/v2.0.0/hello.wasm"), binary_key(HELLO, &h2)),
        (format!("{APPLE}/v1.0.0/apple.wasm"), binary_key(APPLE, &apple)),
        (format!("{BETA}/v1.0.0/beta.wasm"), binary_key(BETA, &beta)),
        (format!("{ALPHA}/v1.0.0/alpha.wasm"), binary_key(ALPHA, &alpha)),
        (format!("{ONE}/v1.0.0/one.wasm"), binary_key(ONE, &one)),
        (format!("{HELLO}/v1.0.0/lib.rs"), digest_key(HELLO, &h1, "lib.rs")),
        (format!("{HELLO}/v2.0.0/lib.rs"), digest_key(HELLO, &h2, "lib.rs")),
        (format!("{APPLE}/v1.0.0/main.go"), digest_key(APPLE, &apple, "main.go")),
        (format!("{BETA}/v1.0.0/lib.js"), digest_key(BETA, &beta, "lib.js")),
        (format!("{ONE}/v1.0.0/lib.ts"), digest_key(ONE, &one, "lib.ts")),
    ];
    for (source, destination) in &copies {
        assert_eq!(root.read(destination).await, tree.bytes(source), "{destination} is not a copy of {source}");
    }

    // Exactly the SE2 layout was added: no journal, nothing else.
    let mut expected: BTreeSet<String> = tree.keys().map(str::to_owned).collect();
    expected.extend(copies.iter().map(|(_, destination)| destination.clone()));
    expected.extend([HELLO, APPLE, BETA, ALPHA, ONE].map(module_key));
    expected.extend([tenant_key("com.acme"), tenant_key("com.other"), spec::SYSTEM_VERSION.to_owned()]);
    assert_eq!(root.keys().await, expected);
    assert_eq!(root.assert_binaries_match_digests().await, 6);

    let hello = module(HELLO, "rust", &h2, Some(&h1), Some("0.4.0"), &[&h1, &h2]);
    let apple = module(APPLE, "tinygo", &apple, None, None, &[&apple]);
    let beta = module(BETA, "javascript", &beta, None, None, &[&beta]);
    let alpha = module(ALPHA, "grain", &alpha, None, None, &[&alpha]);
    let one = module(ONE, "typescript", &one, Some(&one), None, &[&one]);
    for (dir, expected) in [(HELLO, &hello), (APPLE, &apple), (BETA, &beta), (ALPHA, &alpha), (ONE, &one)] {
        assert_eq!(&root.yaml(&module_key(dir)).await, expected, "{dir}/.module.yaml");
    }
    assert!(hello.get("draftRef").is_some() && beta.get("draftRef").is_none() && beta.get("apiVersion").is_none());

    // Written out in full, not with the helper: the sort orders are the point.
    let acme = json!({
        "overview": {
            "identifier": "com.acme",
            "version": 5,
            "config": {
                "identifier": "com.acme",
                "specVersion": 1,
                "tenantVersion": 5,
                "defaultNamespace": {"name": "default", "modules": [apple, hello]},
                "namespaces": [{"name": "alpha", "modules": [alpha]}, {"name": "zeta", "modules": [beta]}],
                "modules": [alpha, apple, hello, beta],
            }
        },
        "stale": false
    });
    assert_eq!(root.json(&tenant_key("com.acme")).await, acme);
    assert_eq!(root.json(&tenant_key("com.other")).await, tenant("com.other", 1, &[one]));
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"6");

    let summary = &account["summary"];
    assert_eq!((&summary["functions"], &summary["binaries"], &summary["drafts"]), (&json!(5), &json!(6), &json!(5)));
    assert_eq!((&summary["rejected"], &summary["warnings"]), (&json!(0), &json!(0)));
    assert_eq!(account["dryRun"], false);
    assert_eq!((account["root"].as_str(), account["destination"].as_str()), (Some(&*root.url), Some(&*root.url)));
    let written: BTreeSet<String> =
        spec::writes(&account).iter().map(|w| w["destination"].as_str().unwrap().to_owned()).collect();
    let added: BTreeSet<String> = expected.difference(&tree.keys().map(str::to_owned).collect()).cloned().collect();
    assert_eq!(written, added, "the account lists every write, and only those");
}

pub async fn versions_order_as_semver(h: &Harness) {
    const SEM: &str = "t.semver/default/sem";
    const MINOR: &str = "t.semver/default/minor";
    const OLDER: &str = "t.semver/default/older";
    let versions = ["v1.2.3", "v1.9.9", "v1.10.0", "v9.0.0", "v10.0.0"];
    let mut tree = Tree::new();
    tree.runnable(SEM, "rust", "v10.0.0", "draftVersion: v1.10.0\n");
    for version in versions {
        tree.binary(SEM, version, wasm(&format!("sem {version}")));
    }
    tree.draft(SEM, "v1.9.9", "lib.rs", "// v1.9.9").draft(SEM, "v1.10.0", "lib.rs", "// v1.10.0");
    // Only `.runnable.yaml` files in version directories: the highest one, by semver, is current.
    for version in ["v1.9.9", "v1.10.0"] {
        tree.version_runnable(MINOR, "rust", version, "").binary(MINOR, version, wasm(&format!("minor {version}")));
    }
    // The current version is what the yaml says, even below the highest directory.
    tree.runnable(OLDER, "rust", "v9.0.0", "");
    tree.binary(OLDER, "v9.0.0", wasm("older v9")).binary(OLDER, "v10.0.0", wasm("older v10"));
    let root = h.root();
    root.seed(&tree).await;

    let account = h.migrate_v0(&root, &tree, &[], 0).await;
    assert_clean(&account);

    let revisions: Vec<String> = versions.iter().map(|v| tree.digest(SEM, v)).collect();
    let revisions: Vec<&str> = revisions.iter().map(String::as_str).collect();
    let sem = module(SEM, "rust", revisions[4], Some(revisions[2]), None, &revisions);
    assert_eq!(root.yaml(&module_key(SEM)).await, sem);
    assert_eq!(root.read(&digest_key(SEM, revisions[2], "lib.rs")).await, b"// v1.10.0");
    assert_eq!(root.read(&digest_key(SEM, revisions[1], "lib.rs")).await, b"// v1.9.9");

    let (m9, m10) = (tree.digest(MINOR, "v1.9.9"), tree.digest(MINOR, "v1.10.0"));
    let minor = module(MINOR, "rust", &m10, None, None, &[&m9, &m10]);
    assert_eq!(root.yaml(&module_key(MINOR)).await, minor);

    let (o9, o10) = (tree.digest(OLDER, "v9.0.0"), tree.digest(OLDER, "v10.0.0"));
    let older = module(OLDER, "rust", &o9, None, None, &[&o9, &o10]);
    assert_eq!(root.yaml(&module_key(OLDER)).await, older);

    assert_eq!(root.json(&tenant_key("t.semver")).await, tenant("t.semver", 9, &[sem, minor, older]));
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"9");
}

pub async fn highest_runnable_is_current(h: &Harness) {
    const NEST: &str = "t.nest/default/nest";
    const TOP: &str = "t.nest/default/top";
    let mut tree = Tree::new();
    tree.runnable(NEST, "rust", "v1.0.0", "apiVersion: 0.3.0\n")
        .version_runnable(NEST, "rust", "v2.0.0", "apiVersion: 0.4.0\ndraftVersion: v2.0.0\n")
        .version_runnable(NEST, "javascript", "v10.0.0", "apiVersion: 0.5.0\ndraftVersion: v9.0.0\n");
    for version in ["v1.0.0", "v2.0.0", "v9.0.0", "v10.0.0"] {
        tree.binary(NEST, version, wasm(&format!("nest {version}")));
    }
    tree.draft(NEST, "v2.0.0", "lib.rs", "// rust, before the move to javascript")
        .draft(NEST, "v9.0.0", "lib.js", "// js");
    // The function-level file is current when it names the highest version.
    tree.runnable(TOP, "tinygo", "v3.0.0", "draftVersion: v3.0.0\n")
        .version_runnable(TOP, "rust", "v2.0.0", "")
        .binary(TOP, "v2.0.0", wasm("top v2"))
        .draft(TOP, "v2.0.0", "lib.rs", "// rust")
        .binary(TOP, "v3.0.0", wasm("top v3"))
        .draft(TOP, "v3.0.0", "main.go", "package main");
    let root = h.root();
    root.seed(&tree).await;

    let account = h.migrate_v0(&root, &tree, &[], 0).await;
    assert_eq!(account["rejections"], json!([]));

    let n: Vec<String> = ["v1.0.0", "v2.0.0", "v9.0.0", "v10.0.0"].iter().map(|v| tree.digest(NEST, v)).collect();
    let nest = module(NEST, "javascript", &n[3], Some(&n[2]), Some("0.5.0"), &[&n[0], &n[1], &n[2], &n[3]]);
    assert_eq!(root.yaml(&module_key(NEST)).await, nest);
    assert_eq!(root.read(&digest_key(NEST, &n[2], "lib.js")).await, b"// js");
    assert_eq!(root.get(&digest_key(NEST, &n[1], "lib.rs")).await, None, "lib.rs is no javascript draft");

    let (t2, t3) = (tree.digest(TOP, "v2.0.0"), tree.digest(TOP, "v3.0.0"));
    let top = module(TOP, "tinygo", &t3, Some(&t3), None, &[&t2, &t3]);
    assert_eq!(root.yaml(&module_key(TOP)).await, top);
    assert_eq!(root.read(&digest_key(TOP, &t3, "main.go")).await, b"package main");
    assert_eq!(root.get(&digest_key(TOP, &t2, "lib.rs")).await, None, "lib.rs is no tinygo draft");

    let keys: BTreeSet<String> = spec::warnings(&account).into_iter().map(|(key, _)| key).collect();
    assert_eq!(keys, BTreeSet::from([format!("{NEST}/v2.0.0/lib.rs"), format!("{TOP}/v2.0.0/lib.rs")]));
    spec::assert_warns(&account, &format!("{NEST}/v2.0.0/lib.rs"), "matches nothing");
}

pub async fn drafts_follow_lang(h: &Harness) {
    let langs = [
        ("rust", Some("lib.rs")),
        ("assemblyscript", Some("lib.ts")),
        ("typescript", Some("lib.ts")),
        ("javascript", Some("lib.js")),
        ("tinygo", Some("main.go")),
        ("grain", None),
        ("swift", None),
        ("wat", None),
    ];
    let files = ["lib.rs", "lib.ts", "lib.js", "main.go"];
    let mut tree = Tree::new();
    for (lang, _) in langs {
        let dir = format!("t.langs/default/{lang}");
        tree.runnable(&dir, lang, "v1.0.0", "draftVersion: v1.0.0\n").binary(&dir, "v1.0.0", wasm(lang));
        for file in files {
            tree.draft(&dir, "v1.0.0", file, format!("{lang} {file}"));
        }
    }
    let root = h.root();
    root.seed(&tree).await;

    let account = h.migrate_v0(&root, &tree, &[], 0).await;
    assert_eq!(account["rejections"], json!([]));
    let mut modules = Vec::new();
    let mut warned = 0;
    for (lang, draft) in langs {
        let dir = format!("t.langs/default/{lang}");
        let digest = tree.digest(&dir, "v1.0.0");
        let mut expected = BTreeSet::from([binary_key(&dir, &digest)]);
        if let Some(file) = draft {
            let key = digest_key(&dir, &digest, file);
            assert_eq!(root.read(&key).await, format!("{lang} {file}").as_bytes(), "{key}");
            expected.insert(key);
        }
        assert_eq!(root.keys_under(&format!("{dir}/{digest}/")).await, expected, "{lang}");
        let draft_ref = draft.map(|_| digest.as_str());
        let expected = module(&dir, lang, &digest, draft_ref, None, &[&digest]);
        assert_eq!(root.yaml(&module_key(&dir)).await, expected, "{lang}");
        modules.push(expected);

        for file in files.iter().filter(|f| Some(**f) != draft) {
            spec::assert_warns(&account, &format!("{dir}/v1.0.0/{file}"), "");
            warned += 1;
        }
        if draft.is_none() {
            let found = spec::warnings(&account);
            let on_draft_version =
                |(key, reason): &(String, String)| key.starts_with(&dir) && reason.contains("draftVersion");
            assert!(
                found.iter().any(on_draft_version),
                "{lang}: no warning that draftVersion has no draft: {found:#?}"
            );
            warned += 1;
        }
    }
    assert_eq!(spec::warnings(&account).len(), warned, "{:#}", account["warnings"]);
    assert_eq!(account["summary"]["drafts"], 5);
    assert_eq!(root.json(&tenant_key("t.langs")).await, tenant("t.langs", 8, &modules));
}

pub async fn identical_binaries_share_a_digest_directory(h: &Harness) {
    const SAME: &str = "t.same/default/same";
    const OTHER: &str = "t.same/default/other";
    let (shared, other) = (wasm("shared"), wasm("other"));
    let mut tree = Tree::new();
    tree.runnable(SAME, "rust", "v2.0.0", "draftVersion: v1.0.0\n")
        .binary(SAME, "v1.0.0", &shared)
        .draft(SAME, "v1.0.0", "lib.rs", "// same draft")
        .binary(SAME, "v1.1.0", &other)
        .binary(SAME, "v2.0.0", &shared)
        .draft(SAME, "v2.0.0", "lib.rs", "// same draft");
    tree.runnable(OTHER, "rust", "v1.0.0", "").binary(OTHER, "v1.0.0", &shared);
    let root = h.root();
    root.seed(&tree).await;

    let account = h.migrate_v0(&root, &tree, &[], 0).await;
    assert_clean(&account);
    let (s, x) = (spec::sha256(&shared), spec::sha256(&other));
    let se2_keys: BTreeSet<String> =
        root.keys_under(&format!("{SAME}/")).await.into_iter().filter(|k| !tree.files.contains_key(k)).collect();
    assert_eq!(
        se2_keys,
        BTreeSet::from([binary_key(SAME, &s), digest_key(SAME, &s, "lib.rs"), binary_key(SAME, &x), module_key(SAME)])
    );
    assert_eq!(root.read(&binary_key(OTHER, &s)).await, shared, "each function has its own digest directories");
    let same = module(SAME, "rust", &s, Some(&s), None, &[&s, &x, &s]);
    assert_eq!(root.yaml(&module_key(SAME)).await, same);
    let other = module(OTHER, "rust", &s, None, None, &[&s]);
    assert_eq!(root.json(&tenant_key("t.same")).await, tenant("t.same", 4, &[same, other]));
    assert_eq!(spec::written(&account, "binary").len(), 3);
    assert_eq!(spec::written(&account, "draft"), [digest_key(SAME, &s, "lib.rs")]);
}

pub async fn draft_conflict_keeps_the_highest_versions_draft(h: &Harness) {
    const CLASH: &str = "t.clash/default/clash";
    let shared = wasm("clash");
    let mut tree = Tree::new();
    tree.runnable(CLASH, "rust", "v10.0.0", "draftVersion: v10.0.0\n");
    for (version, draft) in
        [("v1.0.0", "// the kept draft"), ("v9.0.0", "// the lost draft"), ("v10.0.0", "// the kept draft")]
    {
        tree.binary(CLASH, version, &shared).draft(CLASH, version, "lib.rs", draft);
    }
    let root = h.root();
    root.seed(&tree).await;

    let account = h.migrate_v0(&root, &tree, &[], 0).await;
    assert_eq!(account["rejections"], json!([]));
    let digest = spec::sha256(&shared);
    let draft = digest_key(CLASH, &digest, "lib.rs");
    assert_eq!(root.read(&draft).await, b"// the kept draft", "the draft of the highest version, v10.0.0, wins");
    let drafts: Vec<&Value> = spec::writes(&account).iter().filter(|w| w["kind"] == "draft").collect();
    assert_eq!(drafts.len(), 1, "{drafts:#?}");
    assert_eq!(drafts[0]["source"], format!("{CLASH}/v10.0.0/lib.rs"));
    let warnings = spec::warnings(&account);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let (key, reason) = &warnings[0];
    assert!(
        key.starts_with(CLASH) && reason.contains("v9.0.0"),
        "the warning names the draft not kept: {key}: {reason}"
    );
    assert_eq!(
        root.yaml(&module_key(CLASH)).await,
        module(CLASH, "rust", &digest, Some(&digest), None, &[digest.as_str(); 3])
    );
}

pub async fn draft_ref_is_the_draft_versions_binary(h: &Harness) {
    const DRAFTED: &str = "t.ref/default/drafted";
    const PLAIN: &str = "t.ref/default/plain";
    const EMPTY: &str = "t.ref/default/empty";
    const NODRAFT: &str = "t.ref/default/nodraft";
    const NOBIN: &str = "t.ref/default/nobin";
    let mut tree = Tree::new();
    tree.function(DRAFTED, "rust", &["v1.0.0", "v2.0.0"])
        .runnable(DRAFTED, "rust", "v2.0.0", "draftVersion: v1.0.0\n")
        .draft(DRAFTED, "v1.0.0", "lib.rs", "// v1")
        .draft(DRAFTED, "v2.0.0", "lib.rs", "// v2");
    tree.function(PLAIN, "rust", &["v1.0.0"]).draft(PLAIN, "v1.0.0", "lib.rs", "// plain");
    tree.function(EMPTY, "rust", &["v1.0.0"]).runnable(EMPTY, "rust", "v1.0.0", "draftVersion: \"\"\n");
    tree.draft(EMPTY, "v1.0.0", "lib.rs", "// empty");
    tree.function(NODRAFT, "rust", &["v1.0.0", "v2.0.0"]).runnable(NODRAFT, "rust", "v2.0.0", "draftVersion: v2.0.0\n");
    tree.draft(NODRAFT, "v1.0.0", "lib.rs", "// a draft, but not of draftVersion");
    tree.function(NOBIN, "rust", &["v1.0.0"]).runnable(NOBIN, "rust", "v1.0.0", "draftVersion: v0.9.0\n");
    tree.draft(NOBIN, "v0.9.0", "lib.rs", "// a draft without its binary");
    let root = h.root();
    root.seed(&tree).await;

    let account = h.migrate_v0(&root, &tree, &[], 0).await;
    assert_eq!(account["rejections"], json!([]));

    let (a, b) = (tree.digest(DRAFTED, "v1.0.0"), tree.digest(DRAFTED, "v2.0.0"));
    assert_ne!(a, b);
    assert_eq!(root.yaml(&module_key(DRAFTED)).await, module(DRAFTED, "rust", &b, Some(&a), None, &[&a, &b]));
    assert_eq!(root.read(&digest_key(DRAFTED, &a, "lib.rs")).await, b"// v1");
    assert_eq!(root.read(&digest_key(DRAFTED, &b, "lib.rs")).await, b"// v2");

    let p = tree.digest(PLAIN, "v1.0.0");
    assert_eq!(root.yaml(&module_key(PLAIN)).await, module(PLAIN, "rust", &p, None, None, &[&p]));
    assert_eq!(
        root.read(&digest_key(PLAIN, &p, "lib.rs")).await,
        b"// plain",
        "a draft is copied without draftVersion"
    );

    let e = tree.digest(EMPTY, "v1.0.0");
    assert_eq!(root.yaml(&module_key(EMPTY)).await, module(EMPTY, "rust", &e, None, None, &[&e]));

    let (n1, n2) = (tree.digest(NODRAFT, "v1.0.0"), tree.digest(NODRAFT, "v2.0.0"));
    assert_eq!(root.yaml(&module_key(NODRAFT)).await, module(NODRAFT, "rust", &n2, None, None, &[&n1, &n2]));

    let nb = tree.digest(NOBIN, "v1.0.0");
    assert_eq!(root.yaml(&module_key(NOBIN)).await, module(NOBIN, "rust", &nb, None, None, &[&nb]));

    let warned: BTreeSet<&str> = [DRAFTED, PLAIN, EMPTY, NODRAFT, NOBIN]
        .into_iter()
        .filter(|dir| spec::warnings(&account).iter().any(|(k, _)| k.starts_with(dir)))
        .collect();
    assert_eq!(warned, BTreeSet::from([NODRAFT, NOBIN]), "{:#}", account["warnings"]);
}

pub async fn versions_count_revisions(h: &Harness) {
    let mut tree = Tree::new();
    tree.function("t.one/default/f", "rust", &["v1.0.0", "v1.1.0", "v2.0.0"]);
    tree.function("t.one/other/g", "rust", &["v1.0.0"]);
    tree.function("t.two/default/h", "grain", &["v0.1.0", "v0.2.0"]);
    // A tenant that has only an SE2 overview counts too.
    let foreign =
        module("t.three/default/old", "rust", &"a".repeat(64), None, None, &[&"b".repeat(64), &"a".repeat(64)]);
    tree.file(&tenant_key("t.three"), serde_json::to_vec_pretty(&tenant("t.three", 5, &[foreign])).unwrap());
    let root = h.root();
    root.seed(&tree).await;

    let account = h.migrate_v0(&root, &tree, &[], 0).await;
    assert_clean(&account);
    for (ident, version) in [("t.one", 4), ("t.two", 2)] {
        let overview = root.json(&tenant_key(ident)).await;
        assert_eq!(overview["overview"]["version"], version, "{ident}");
        assert_eq!(overview["overview"]["config"]["tenantVersion"], version, "{ident}");
    }
    assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"11", "4 + 2 + the 5 of t.three");
    assert_eq!(spec::written(&account, "tenant"), [tenant_key("t.one"), tenant_key("t.two")]);
}

pub async fn listing_order_does_not_matter(h: &Harness) {
    let mut tree = Tree::new();
    for name in ["f", "f-x", "f.x", "f0", "F"] {
        let dir = format!("t.order/ns/{name}");
        tree.runnable(&dir, "rust", "v1.10.0", "draftVersion: v1.9.9\n");
        for version in ["v1.9.9", "v1.10.0", "v1.2.0"] {
            tree.binary(&dir, version, wasm(&format!("{name} {version}"))).draft(
                &dir,
                version,
                "lib.rs",
                format!("// {name} {version}"),
            );
        }
        tree.version_runnable(&dir, "rust", "v1.2.0", "");
    }
    let (forward, backward) = (h.root(), h.root());
    forward.seed(&tree).await;
    backward.seed_reversed(&tree).await;

    let a = h.migrate_v0(&forward, &tree, &["--jobs", "1"], 0).await;
    let b = h.migrate_v0(&backward, &tree, &["--jobs", "16"], 0).await;
    assert_clean(&a);
    assert_eq!(a["writes"], b["writes"]);
    assert_eq!(forward.keys().await, backward.keys().await);
    for key in forward.keys().await.iter().filter(|k| !tree.files.contains_key(*k)) {
        assert_eq!(forward.read(key).await, backward.read(key).await, "{key}");
    }
    let names: Vec<Value> =
        root_modules(&forward.json(&tenant_key("t.order")).await).iter().map(|m| m["name"].clone()).collect();
    assert_eq!(names, ["F", "f", "f-x", "f.x", "f0"], "modules sort by name, byte by byte");
    for name in ["f", "f-x", "f.x", "f0", "F"] {
        let dir = format!("t.order/ns/{name}");
        let d: Vec<String> = ["v1.2.0", "v1.9.9", "v1.10.0"].iter().map(|v| tree.digest(&dir, v)).collect();
        let expected = module(&dir, "rust", &d[2], Some(&d[1]), None, &[&d[0], &d[1], &d[2]]);
        assert_eq!(forward.yaml(&module_key(&dir)).await, expected, "{dir}");
    }
}

fn root_modules(overview: &Value) -> &Vec<Value> {
    overview["overview"]["config"]["modules"].as_array().expect("a tenant.json lists its modules")
}
