//! `se2 inventory`: counts and bytes of what a root holds, without writing
//! anything, and exit 3 when it sees what `migrate` would reject.

use serde_json::{Value, json};

use crate::common::spec;
use crate::common::tree::wasm;
use crate::common::{Harness, Tree};

fn sizes(tree: &Tree, keys: &[&str]) -> u64 {
    keys.iter().map(|k| tree.bytes(k).len() as u64).sum()
}

pub async fn inventory_counts_what_it_finds(h: &Harness) {
    const F: &str = "t.a/default/f";
    const G: &str = "t.a/default/g";
    const H: &str = "t.b/x/h";
    let mut tree = Tree::new();
    tree.runnable(F, "rust", "v2.0.0", "")
        .binary(F, "v1.0.0", wasm("f v1 is longer"))
        .draft(F, "v1.0.0", "lib.rs", "// f")
        .binary(F, "v2.0.0", wasm("f v2"));
    tree.version_runnable(G, "javascript", "v1.0.0", "")
        .binary(G, "v1.0.0", wasm("g"))
        .draft(G, "v1.0.0", "lib.js", "// g js");
    tree.runnable(H, "grain", "v1.0.0", "").binary(H, "v1.0.0", wasm("h")).draft(
        H,
        "v1.0.0",
        "lib.rs",
        "// not a grain draft",
    );
    tree.file("README.md", "what this bucket is");
    let root = h.root();
    root.seed(&tree).await;
    let before = root.snapshot().await;

    let output = h.se2(&["inventory", &root.url, "--json"]).await;
    output.expect_code(0);
    root.assert_unchanged(&before).await;
    let found = output.json();
    let binaries = [
        &format!("{F}/v1.0.0/f.wasm"),
        &format!("{F}/v2.0.0/f.wasm"),
        &format!("{G}/v1.0.0/g.wasm"),
        &format!("{H}/v1.0.0/h.wasm"),
    ];
    let binaries: Vec<&str> = binaries.iter().map(|k| k.as_str()).collect();
    let drafts = [format!("{F}/v1.0.0/lib.rs"), format!("{G}/v1.0.0/lib.js")];
    let drafts: Vec<&str> = drafts.iter().map(String::as_str).collect();
    let all: Vec<&str> = tree.keys().collect();
    let expected = json!({
        "objects": tree.files.len(),
        "bytes": sizes(&tree, &all),
        "tenants": 2,
        "functions": 3,
        "rejected": 0,
        "versions": 4,
        "binaries": 4,
        "binaryBytes": sizes(&tree, &binaries),
        "drafts": 2,
        "draftBytes": sizes(&tree, &drafts),
        "runnables": 3,
        "se2Objects": 0,
        "se2Bytes": 0,
        "other": 1,
        "otherBytes": tree.bytes("README.md").len(),
    });
    assert_eq!(found["totals"], expected);
    assert_eq!(found["root"], root.url);
    let f = &found["tenants"][0]["functions"][0];
    assert_eq!(
        (&found["tenants"][0]["identifier"], &f["name"], &f["lang"], &f["current"]),
        (&json!("t.a"), &json!("f"), &json!("rust"), &json!("v2.0.0"))
    );
    assert_eq!(
        f["versions"],
        json!([
            {"version": "v1.0.0", "binary": tree.bytes(binaries[0]).len(), "draft": tree.bytes(drafts[0]).len()},
            {"version": "v2.0.0", "binary": tree.bytes(binaries[1]).len(), "draft": null},
        ])
    );
    assert_eq!(found["tenants"][1]["identifier"], "t.b");
    assert_eq!(found["other"], json!([{"key": "README.md", "size": tree.bytes("README.md").len()}]));
    let text = h.se2(&["inventory", &root.url]).await;
    text.expect_code(0);
    assert!(text.stdout.contains("t.a") && text.stdout.contains("default/f"), "{}", text.stdout);

    // After a migration the SE2 objects are counted apart; the v0 counts stay.
    h.migrate_v0(&root, &tree, &[], 0).await;
    let se2: Vec<String> = root.keys().await.into_iter().filter(|k| !tree.files.contains_key(k)).collect();
    let mut se2_bytes = 0;
    for key in &se2 {
        se2_bytes += root.read(key).await.len();
    }
    let output = h.se2(&["inventory", &root.url, "--json"]).await;
    output.expect_code(0);
    let after = output.json();
    let mut expected = expected;
    expected["objects"] = json!(tree.files.len() + se2.len());
    expected["bytes"] = json!(sizes(&tree, &all) as usize + se2_bytes);
    expected["se2Objects"] = json!(se2.len());
    expected["se2Bytes"] = json!(se2_bytes);
    assert_eq!(after["totals"], expected);
}

pub async fn inventory_exits_3_on_what_migrate_rejects(h: &Harness) {
    let mut tree = Tree::new();
    tree.function("t.inv/default/good", "rust", &["v1.0.0"]);
    tree.file("t.inv/default/unparsable/.runnable.yaml", "name: [").binary(
        "t.inv/default/unparsable",
        "v1.0.0",
        wasm("u"),
    );
    tree.runnable("t.inv/default/nobin", "rust", "v2.0.0", "").binary("t.inv/default/nobin", "v1.0.0", wasm("n"));
    let root = h.root();
    root.seed(&tree).await;
    let before = root.snapshot().await;

    let output = h.se2(&["inventory", &root.url, "--json"]).await;
    output.expect_code(3);
    root.assert_unchanged(&before).await;
    let found = output.json();
    assert_eq!(found["totals"]["rejected"], 2);
    assert_eq!(found["totals"]["functions"], 3);
    let rejected: Vec<(String, String)> = spec::rejections(&found).into_iter().map(|(f, k, _)| (f, k)).collect();
    let expected = [
        ("t.inv/default/nobin".to_owned(), "t.inv/default/nobin/v2.0.0/nobin.wasm".to_owned()),
        ("t.inv/default/unparsable".to_owned(), "t.inv/default/unparsable/.runnable.yaml".to_owned()),
    ];
    assert_eq!(rejected, expected);
    let functions = found["tenants"][0]["functions"].as_array().unwrap();
    let reasons: Vec<(&Value, bool)> = functions.iter().map(|f| (&f["name"], f["rejected"].is_string())).collect();
    assert_eq!(reasons, [(&json!("good"), false), (&json!("nobin"), true), (&json!("unparsable"), true)]);

    let text = h.se2(&["inventory", &root.url]).await;
    text.expect_code(3);
    assert_eq!(text.stdout.matches("REJECTED").count(), 2, "{}", text.stdout);

    // migrate rejects the very same functions.
    let account = h.migrate_v0(&root, &tree, &[], 3).await;
    let migrate: Vec<(String, String)> = spec::rejections(&account).into_iter().map(|(f, k, _)| (f, k)).collect();
    assert_eq!(migrate, expected);
}
