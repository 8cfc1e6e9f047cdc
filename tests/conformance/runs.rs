//! SPEC.md §4 on whole runs: a second run writes nothing, a dry run
//! writes nothing and lists exactly what the real run then writes, `--to`
//! leaves its source alone, `--report` holds the full account, and stdout
//! is what `--json`, `--quiet` and the summary say.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::spec::{self, module_key, tenant_key};
use crate::common::tree::{self, wasm};
use crate::common::{Harness, TestRoot, Tree};

/// The account without what differs between two runs of the same plan:
/// `dryRun`, elapsed time and stage timings.
fn comparable(account: &Value) -> Value {
    let mut account = account.clone();
    account.as_object_mut().unwrap().remove("dryRun");
    account.as_object_mut().unwrap().remove("stages");
    account["summary"].as_object_mut().unwrap().remove("elapsedSeconds");
    account
}

/// The sample tree with one rejected function and one stray file.
fn troubled() -> Tree {
    let mut tree = tree::sample();
    tree.file("com.acme/default/broken/.runnable.yaml", "name: [").binary(
        "com.acme/default/broken",
        "v1.0.0",
        wasm("broken"),
    );
    tree.file("com.acme/default/hello/v1.0.0/notes.txt", "a stray");
    tree
}

pub async fn second_run_writes_nothing(h: &Harness) {
    let tree = tree::sample();
    let root = h.root();
    root.seed(&tree).await;
    let first = h.migrate_v0(&root, &tree, &[], 0).await;
    assert!(!spec::writes(&first).is_empty());
    assert!(
        !root.keys().await.iter().any(|k| k.starts_with("system/") && k != spec::SYSTEM_VERSION),
        "no journal is left"
    );
    let migrated = root.listing().await;
    let snapshot = root.snapshot().await;

    let second = h.migrate_v0(&root, &tree, &[], 0).await;
    assert_eq!(second["writes"], json!([]));
    let summary = &second["summary"];
    assert_eq!((&summary["binaries"], &summary["drafts"], &summary["bytes"]), (&json!(0), &json!(0), &json!(0)));
    assert_eq!(summary["functions"], first["summary"]["functions"]);
    assert_eq!(root.listing().await, migrated, "no object was rewritten, not even with equal bytes");
    root.assert_unchanged(&snapshot).await;

    // And once more, the way an operator runs it.
    h.migrate(&root, &["--quiet"]).await.expect_code(0);
    assert_eq!(root.listing().await, migrated);
}

pub async fn dry_run_lists_exactly_the_real_writes(h: &Harness) {
    let tree = troubled();
    let root = h.root();
    root.seed(&tree).await;
    let before = root.snapshot().await;

    let dry = h.migrate_json(&root, &["--dry-run"], 3).await;
    root.assert_unchanged(&before).await;
    assert_eq!(dry["dryRun"], true);
    let text = h.migrate(&root, &["--dry-run"]).await;
    text.expect_code(3);
    root.assert_unchanged(&before).await;
    let lines: Vec<&str> = text.stdout.lines().filter(|l| l.starts_with("would ")).collect();
    assert_eq!(lines.len(), spec::writes(&dry).len(), "one line per write:\n{}", text.stdout);
    for (line, write) in lines.iter().zip(spec::writes(&dry)) {
        assert!(line.contains(write["destination"].as_str().unwrap()), "{line} is not {write}");
    }

    let real = h.migrate_v0(&root, &tree, &[], 3).await;
    assert_eq!(real["dryRun"], false);
    assert!(!spec::writes(&real).is_empty());
    assert_eq!(dry["writes"], real["writes"], "the dry run lists exactly the writes of the real run, in order");
    assert_eq!(comparable(&dry), comparable(&real));
    assert_layout_written(&root, &real).await;
}

/// Asserts that every write of `account` is in `dest` as the account says.
async fn assert_layout_written(dest: &TestRoot, account: &Value) {
    for write in spec::writes(account) {
        let key = write["destination"].as_str().unwrap();
        let bytes = dest.read(key).await;
        assert_eq!(write["bytes"], bytes.len(), "{write}");
        if write["source"].is_null() {
            assert_eq!(write["digest"], spec::sha256(&bytes), "{write}");
        }
    }
}

pub async fn dry_run_into_existing_layout_lists_the_real_writes(h: &Harness) {
    let tree = tree::sample();
    let root = h.root();
    root.seed(&tree).await;
    h.migrate_v0(&root, &tree, &[], 0).await;

    // New versions of one function and a new function of another tenant.
    let mut more = Tree::new();
    more.runnable("com.acme/default/greet", "javascript", "v2.0.0", "")
        .binary("com.acme/default/greet", "v2.0.0", wasm("greet v2"))
        .draft("com.acme/default/greet", "v2.0.0", "lib.js", "export const greet = 3;\n");
    more.function("com.widgets/default/fresh", "rust", &["v1.0.0"]);
    let mut all = tree.clone();
    all.files.extend(more.files.clone());
    root.seed(&more).await;
    let before = root.snapshot().await;

    let dry = h.migrate_json(&root, &["--dry-run"], 0).await;
    root.assert_unchanged(&before).await;
    let real = h.migrate_v0(&root, &all, &[], 0).await;
    assert_eq!(dry["writes"], real["writes"]);
    assert_eq!(comparable(&dry), comparable(&real));
    let greet = all.digest("com.acme/default/greet", "v2.0.0");
    let expected = BTreeSet::from([
        spec::binary_key("com.acme/default/greet", &greet),
        spec::binary_key("com.widgets/default/fresh", &all.digest("com.widgets/default/fresh", "v1.0.0")),
        spec::digest_key("com.acme/default/greet", &greet, "lib.js"),
        module_key("com.acme/default/greet"),
        module_key("com.widgets/default/fresh"),
        tenant_key("com.acme"),
        tenant_key("com.widgets"),
        spec::SYSTEM_VERSION.to_owned(),
    ]);
    let written: BTreeSet<String> =
        spec::writes(&real).iter().map(|w| w["destination"].as_str().unwrap().to_owned()).collect();
    assert_eq!(written, expected, "what is new or changed, nothing that is already there");
    let kinds: Vec<&str> = spec::writes(&real).iter().map(|w| w["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["binary", "binary", "draft", "module", "module", "tenant", "tenant", "system"]);
    assert_layout_written(&root, &real).await;
}

pub async fn to_dest_leaves_the_source_untouched(h: &Harness) {
    let tree = tree::sample();
    let (source, dest, in_place) = (h.root(), h.root(), h.root());
    source.seed(&tree).await;
    in_place.seed(&tree).await;
    // DEST already holds the overview of a tenant that ROOT does not have.
    let foreign = crate::common::spec::tenant("com.elsewhere", 5, &[]);
    let foreign_key = tenant_key("com.elsewhere");
    dest.put(&foreign_key, serde_json::to_vec(&foreign).unwrap()).await;
    let kept = dest.snapshot().await;
    let before = source.snapshot().await;
    let to = ["--to", dest.url.as_str()];

    let dry = h.migrate_json(&source, &[to[0], to[1], "--dry-run"], 0).await;
    dest.assert_unchanged(&kept).await;
    let account = h.migrate_json(&source, &to, 0).await;
    dest.assert_holds(&kept).await;
    source.assert_unchanged(&before).await;
    assert_eq!(dry["writes"], account["writes"]);
    assert_eq!((account["root"].as_str(), account["destination"].as_str()), (Some(&*source.url), Some(&*dest.url)));

    // DEST holds the SE2 layout and nothing of v0.
    let keys = dest.keys().await;
    assert!(keys.iter().all(|k| !tree.files.contains_key(k)), "no v0 key in DEST: {keys:#?}");
    assert_eq!(dest.assert_binaries_match_digests().await, 7);
    for write in spec::writes(&account) {
        let key = write["destination"].as_str().unwrap();
        if let Some(from) = write["source"].as_str() {
            assert_eq!(dest.read(key).await, tree.bytes(from), "{key} is a copy of {from} of ROOT");
        }
    }
    assert_layout_written(&dest, &account).await;

    // The same layout as an in-place migration of the same tree; system/version
    // also counts the tenant DEST had: 5 + 8.
    h.migrate_v0(&in_place, &tree, &[], 0).await;
    let se2_keys: BTreeSet<String> =
        in_place.keys().await.into_iter().filter(|k| !tree.files.contains_key(k)).collect();
    let migrated: BTreeSet<String> = keys.iter().filter(|k| **k != foreign_key).cloned().collect();
    assert_eq!(migrated, se2_keys);
    for key in migrated.iter().filter(|k| *k != spec::SYSTEM_VERSION) {
        assert_eq!(dest.read(key).await, in_place.read(key).await, "{key}");
    }
    assert_eq!(in_place.read(spec::SYSTEM_VERSION).await, b"8");
    assert_eq!(dest.read(spec::SYSTEM_VERSION).await, b"13");

    // A second run writes nothing into DEST.
    let migrated = dest.listing().await;
    let again = h.migrate_json(&source, &to, 0).await;
    assert_eq!(again["writes"], json!([]));
    assert_eq!(dest.listing().await, migrated);
    source.assert_unchanged(&before).await;
}

pub async fn report_file_holds_the_full_account(h: &Harness) {
    let tree = troubled();
    let root = h.root();
    root.seed(&tree).await;
    let path = h.scratch("report.json");
    let output = h.migrate(&root, &["--json", "--report", path.to_str().unwrap()]).await;
    output.expect_code(3);
    let report: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("the report is written")).expect("the report is JSON");
    assert_eq!(report, output.json(), "--report and --json tell the same account");

    assert_eq!((report["root"].as_str(), report["destination"].as_str()), (Some(&*root.url), Some(&*root.url)));
    assert_eq!(report["dryRun"], false);
    let stages = ["binary", "draft", "module", "tenant", "system"];
    let mut last = 0;
    for write in spec::writes(&report) {
        let kind = stages.iter().position(|k| write["kind"] == *k).unwrap_or_else(|| panic!("unknown kind: {write}"));
        assert!(kind >= last, "writes go binaries, drafts, modules, tenants, system: {write} came late");
        last = kind;
        let key = write["destination"].as_str().unwrap();
        let written = root.read(key).await;
        assert_eq!(write["bytes"], written.len(), "{write}");
        assert_eq!(write["digest"], spec::sha256(&written), "{write}");
        match write["source"].as_str() {
            Some(source) => {
                assert!(kind <= 1, "only binaries and drafts are copied: {write}");
                assert_eq!(tree.bytes(source), written, "{write}");
            }
            None => assert!(write["source"].is_null() && kind >= 2, "modules, tenants and system are put: {write}"),
        }
        if kind == 0 {
            assert_eq!(key.split('/').nth(3), write["digest"].as_str(), "a binary goes under its digest: {write}");
        }
    }
    assert_eq!(
        spec::writes(&report).last().unwrap()["destination"],
        spec::SYSTEM_VERSION,
        "system/version is written last"
    );

    let summary = &report["summary"];
    let count = |kind: &str| spec::written(&report, kind).len();
    let bytes: u64 = spec::writes(&report).iter().map(|w| w["bytes"].as_u64().unwrap()).sum();
    assert_eq!(summary["functions"], 4);
    assert_eq!((&summary["binaries"], &summary["drafts"]), (&json!(count("binary")), &json!(count("draft"))));
    assert_eq!((count("binary"), count("draft")), (7, 5));
    assert_eq!(summary["bytes"], bytes);
    assert_eq!((&summary["rejected"], &summary["warnings"]), (&json!(1), &json!(1)));
    assert!(summary["elapsedSeconds"].as_f64().is_some_and(|s| s >= 0.0), "{summary}");

    assert_eq!(
        spec::rejections(&report).into_iter().map(|(f, k, _)| (f, k)).collect::<Vec<_>>(),
        [("com.acme/default/broken".to_owned(), "com.acme/default/broken/.runnable.yaml".to_owned())]
    );
    assert!(!spec::rejections(&report)[0].2.is_empty(), "a rejection gives its reason");
    let warnings = spec::warnings(&report);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].0, "com.acme/default/hello/v1.0.0/notes.txt");
    assert!(!warnings[0].1.is_empty(), "a warning gives its reason");

    let timed: Vec<&str> = report["stages"]
        .as_array()
        .expect("per-stage timings")
        .iter()
        .map(|s| {
            assert!(s["seconds"].as_f64().is_some_and(|t| t >= 0.0), "{s}");
            s["stage"].as_str().expect("a stage has a name")
        })
        .collect();
    for stage in ["binaries", "drafts", "modules", "tenants", "system"] {
        assert!(timed.contains(&stage), "no timing for stage {stage}: {timed:?}");
    }

    // --report alone, and in a dry run.
    let quiet = h.root();
    quiet.seed(&tree).await;
    let path = h.scratch("quiet.json");
    let output = h.migrate(&quiet, &["--quiet", "--dry-run", "--report", path.to_str().unwrap()]).await;
    output.expect_code(3);
    let dry: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["writes"], report["writes"]);
    assert_eq!(output.stdout.lines().filter(|l| !l.starts_with("would ")).count(), 0, "{}", output.stdout);
}

pub async fn summary_and_quiet_output(h: &Harness) {
    let tree = troubled();
    let root = h.root();
    root.seed(&tree).await;
    let planned = h.migrate_json(&root, &["--dry-run"], 3).await;
    let output = h.migrate(&root, &[]).await;
    output.expect_code(3);
    let s = &planned["summary"];
    let counts = format!("{} functions, {} binaries, {} drafts", s["functions"], s["binaries"], s["drafts"]);
    assert!(output.stdout.contains(&counts), "no {counts:?} in the summary:\n{}", output.stdout);
    assert!(output.stdout.contains("1 rejected, 1 warnings"), "{}", output.stdout);
    assert_eq!(output.stdout.lines().count(), 1, "one summary line:\n{}", output.stdout);
    if let Some(stderr) = &output.stderr {
        assert!(stderr.contains("com.acme/default/broken") && stderr.contains("notes.txt"), "{stderr}");
        assert!(
            !stderr.contains('\r') && !stderr.contains("\x1b["),
            "no progress bars when stderr is piped:\n{stderr:?}"
        );
    }

    let quiet = h.root();
    quiet.seed(&tree).await;
    let output = h.migrate(&quiet, &["--quiet"]).await;
    output.expect_code(3);
    assert_eq!(output.stdout, "", "--quiet prints no summary");
    assert!(quiet.get(spec::SYSTEM_VERSION).await.is_some(), "--quiet still migrates");
}

pub async fn json_output_is_one_document(h: &Harness) {
    let tree = troubled();
    let root = h.root();
    root.seed(&tree).await;
    let account_fields = ["root", "destination", "dryRun", "summary", "writes", "rejections", "warnings", "stages"];
    let summary_fields = ["functions", "binaries", "drafts", "bytes", "rejected", "warnings", "elapsedSeconds"];
    for extra in [&["--json", "--dry-run"][..], &["--json", "--quiet"], &["--json"]] {
        let output = h.migrate(&root, extra).await;
        output.expect_code(3);
        let account = output.json();
        let fields: BTreeSet<&str> = account.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fields, account_fields.into_iter().collect(), "{extra:?}");
        let fields: BTreeSet<&str> = account["summary"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fields, summary_fields.into_iter().collect(), "{extra:?}");
    }
    let output = h.se2(&["inventory", &root.url, "--json"]).await;
    output.expect_code(3);
    let inventory = output.json();
    for field in ["root", "totals", "tenants", "other", "rejections", "warnings"] {
        assert!(inventory.get(field).is_some(), "inventory --json has no {field}: {inventory:#}");
    }
}

/// A run killed after each stage (or before its journal is cleared) is
/// completed by the next run: the same layout as an uninterrupted run, and
/// `system/version` still raised. The kill is simulated from the account of
/// an uninterrupted run: the writes of the stages after the cut are undone,
/// and the journal that a killed run leaves is left.
pub async fn interrupted_run_is_completed_by_the_next(h: &Harness) {
    let tree = tree::sample();
    let mut more = Tree::new();
    more.runnable("com.acme/default/greet", "javascript", "v2.0.0", "")
        .binary("com.acme/default/greet", "v2.0.0", wasm("greet v2"))
        .draft("com.acme/default/greet", "v2.0.0", "lib.js", "export const greet = 3;\n");
    more.function("com.widgets/default/late", "rust", &["v1.0.0"]);
    let stages = ["binary", "draft", "module", "tenant", "system"];
    for cut in 0..=stages.len() {
        let root = h.root();
        root.seed(&tree).await;
        h.migrate_v0(&root, &tree, &[], 0).await;
        root.seed(&more).await;
        // A counter above the sum of tenant versions: only the journal tells the next run to raise it.
        root.put(spec::SYSTEM_VERSION, "100").await;
        let before = root.snapshot().await;
        let account = h.migrate_json(&root, &[], 0).await;
        let complete = root.snapshot().await;

        for write in spec::writes(&account) {
            let stage = stages.iter().position(|s| write["kind"] == *s).unwrap();
            let key = write["destination"].as_str().unwrap();
            match before.objects.get(key) {
                _ if stage < cut => {}
                Some((_, bytes)) => root.put(key, bytes.clone()).await,
                None => root.delete(key).await,
            }
        }
        root.put(se2::se2::PENDING_KEY, "a se2 migrate run is writing here").await;

        h.migrate_json(&root, &[], 0).await;
        let resumed = root.snapshot().await;
        let keys = |s: &crate::common::Snapshot| s.objects.keys().cloned().collect::<BTreeSet<_>>();
        let differ: Vec<String> = keys(&resumed).symmetric_difference(&keys(&complete)).cloned().collect();
        assert!(differ.is_empty(), "cut after {cut} stages: these keys differ from an uninterrupted run: {differ:?}");
        for (key, (_, bytes)) in &complete.objects {
            let now = &resumed.objects[key].1;
            if key == spec::SYSTEM_VERSION {
                let number = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap().parse::<u64>().unwrap();
                let raised = if cut == stages.len() { 1 } else { 0 };
                assert_eq!(number(now), number(bytes) + raised, "cut after {cut} stages: system/version");
            } else {
                assert_eq!(now, bytes, "cut after {cut} stages: {key}");
            }
        }
    }
}
