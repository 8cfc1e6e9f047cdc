//! Fault injection (issue 4, "Faults (prove it)"): a v0 root is migrated
//! through a `FaultyStore`, in place (one store: store-side copies) and
//! across stores (source → destination: streamed copies, multipart for the
//! large binary). Transient faults and latency must change nothing in the
//! result; a permanent fault, a write failing after N bytes and a full disk
//! must end the run with an error naming the key, leave nothing half-written
//! referenced and no v0 object changed, and a later run without the fault
//! must complete the root to exactly what a fault-free run writes, which
//! `verify` then passes. Each test prints the faults it injected.

#[path = "faults/store.rs"]
mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use se2::report::Silent;
use se2::{MigrateOptions, Root};
use sha2::{Digest, Sha256};

use store::{Faults, FaultyStore, Kind, Permanent, any_key, exact};

/// Size of the large binary: over one 8 MiB part, so a streamed copy of it is a multipart upload.
const BIG: usize = (8 << 20) + (1 << 20) + 123;

type Tree = BTreeMap<String, Bytes>;

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic bytes, different for every `seed`.
fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut state =
        seed.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn runnable(ident: &str, ns: &str, name: &str, lang: &str, version: &str, extra: &str) -> Vec<u8> {
    format!(
        "name: {name}\nnamespace: {ns}\nlang: {lang}\nversion: {version}\nfqfn: {ident}#{ns}::{name}@{version}\n{extra}"
    )
    .into_bytes()
}

/// The v0 root every test migrates: drafts, a draftVersion, versions that
/// share a digest with differing drafts, a zero-byte binary, a name with a
/// space, `%`, `+` and non-ASCII, a large binary, and enough small functions
/// that every Nth-call fault lands many times.
fn seed() -> Tree {
    static SEED: std::sync::OnceLock<Tree> = std::sync::OnceLock::new();
    SEED.get_or_init(make_seed).clone()
}

fn make_seed() -> Tree {
    let mut tree: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let hello = "com.acme/default/hello";
    tree.insert(
        format!("{hello}/.runnable.yaml"),
        runnable("com.acme", "default", "hello", "rust", "v10.0.0", "draftVersion: v2.0.0\n"),
    );
    for v in ["v1.0.0", "v2.0.0", "v10.0.0"] {
        tree.insert(format!("{hello}/{v}/hello.wasm"), noise(&format!("hello {v}"), 3000));
        tree.insert(format!("{hello}/{v}/lib.rs"), format!("// hello {v}\n").into_bytes());
    }
    let twin = "com.acme/default/twin";
    tree.insert(format!("{twin}/.runnable.yaml"), runnable("com.acme", "default", "twin", "javascript", "v2.0.0", ""));
    for v in ["v1.0.0", "v2.0.0"] {
        tree.insert(format!("{twin}/{v}/twin.wasm"), noise("twin", 500));
        tree.insert(format!("{twin}/{v}/lib.js"), format!("// twin {v}\n").into_bytes());
    }
    let odd = "com.acme/default/hé llo+%41";
    tree.insert(format!("{odd}/.runnable.yaml"), runnable("com.acme", "default", "hé llo+%41", "grain", "v1.0.0", ""));
    tree.insert(format!("{odd}/v1.0.0/hé llo+%41.wasm"), noise("odd", 77));
    tree.insert("com.acme/prod/big/.runnable.yaml".into(), runnable("com.acme", "prod", "big", "grain", "v1.0.0", ""));
    tree.insert("com.acme/prod/big/v1.0.0/big.wasm".into(), noise("big", BIG));
    tree.insert("com.beta/ns0/empty/.runnable.yaml".into(), runnable("com.beta", "ns0", "empty", "wat", "v1.0.0", ""));
    tree.insert("com.beta/ns0/empty/v1.0.0/empty.wasm".into(), Vec::new());
    for ns in 0..3 {
        for f in 0..6 {
            let dir = format!("com.beta/ns{ns}/fn{f}");
            tree.insert(
                format!("{dir}/.runnable.yaml"),
                runnable("com.beta", &format!("ns{ns}"), &format!("fn{f}"), "tinygo", "v1.1.0", ""),
            );
            for v in ["v1.0.0", "v1.1.0"] {
                tree.insert(format!("{dir}/{v}/fn{f}.wasm"), noise(&format!("{dir} {v}"), 200 + 37 * f));
                tree.insert(format!("{dir}/{v}/main.go"), format!("package main // {dir} {v}\n").into_bytes());
            }
        }
    }
    tree.into_iter().map(|(k, v)| (k, Bytes::from(v))).collect()
}

fn location(key: &str) -> Path {
    Path::parse(key).expect("a valid key")
}

async fn fill(store: &dyn ObjectStore, tree: &Tree) {
    for (key, bytes) in tree {
        store.put(&location(key), bytes.clone().into()).await.expect("seeding");
    }
}

/// Every object of a store, key → bytes.
async fn snapshot(store: &dyn ObjectStore) -> Tree {
    let metas: Vec<_> = store.list(None).try_collect().await.expect("listing");
    let mut tree = Tree::new();
    for meta in metas {
        let bytes = store.get(&meta.location).await.expect("reading").bytes().await.expect("reading");
        tree.insert(meta.location.to_string(), bytes);
    }
    tree
}

fn options() -> MigrateOptions {
    MigrateOptions { dry_run: false, tenants: Vec::new(), jobs: 8 }
}

async fn migrate(source: &Root, dest: &Root) -> Result<se2::Report, se2::Error> {
    se2::migrate(source, dest, &options(), &Silent).await
}

/// The two ways se2 copies binaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Route {
    /// Source and destination are one store: store-side copies.
    InPlace,
    /// Source and destination are two stores: streamed copies.
    Across,
}

/// The roots of one run: the stores under them, and which are faulty.
struct Setup {
    source: Root,
    dest: Root,
    /// The plain stores under the roots (one when in place).
    source_inner: Arc<dyn ObjectStore>,
    dest_inner: Arc<dyn ObjectStore>,
    faulty: Vec<Arc<FaultyStore>>,
}

impl Setup {
    /// Seeds a source; `source_faults` (across only) and `dest_faults` wrap the stores.
    async fn new(route: Route, source_faults: Faults, dest_faults: Faults) -> Setup {
        Setup::over(Arc::new(InMemory::new()), route, source_faults, dest_faults).await
    }

    /// Like `new`, with the source (and, in place, the destination) on `source_inner`.
    async fn over(
        source_inner: Arc<dyn ObjectStore>,
        route: Route,
        source_faults: Faults,
        dest_faults: Faults,
    ) -> Setup {
        fill(source_inner.as_ref(), &seed()).await;
        match route {
            Route::InPlace => {
                let store = Arc::new(FaultyStore::new(source_inner.clone(), dest_faults));
                let root = Root::from_store("faulty://in-place", store.clone());
                Setup {
                    source: root.clone(),
                    dest: root,
                    dest_inner: source_inner.clone(),
                    source_inner,
                    faulty: vec![store],
                }
            }
            Route::Across => {
                let dest_inner = Arc::new(InMemory::new());
                let source_store = Arc::new(FaultyStore::new(source_inner.clone(), source_faults));
                let dest_store = Arc::new(FaultyStore::new(dest_inner.clone(), dest_faults));
                Setup {
                    source: Root::from_store("faulty://source", source_store.clone()),
                    dest: Root::from_store("faulty://dest", dest_store.clone()),
                    source_inner,
                    dest_inner,
                    faulty: vec![source_store, dest_store],
                }
            }
        }
    }

    fn lift(&self) {
        self.faulty.iter().for_each(|s| s.lift());
    }

    fn faults(&self) -> u64 {
        self.faulty.iter().map(|s| s.counts().faults()).sum()
    }

    fn counts(&self) -> String {
        self.faulty.iter().map(|s| s.counts().to_string()).collect::<Vec<_>>().join("; ")
    }
}

/// What a fault-free run leaves: the destination tree (the source's, when in place).
async fn expected(route: Route) -> Tree {
    let setup = Setup::new(route, Faults::default(), Faults::default()).await;
    let report = migrate(&setup.source, &setup.dest).await.expect("a fault-free run");
    assert!(report.rejections.is_empty(), "{:?}", report.rejections);
    snapshot(setup.dest_inner.as_ref()).await
}

/// Checks a root after a failed run: the v0 objects are as seeded, every
/// other object is the pending journal or exactly what a fault-free run
/// writes there (nothing half-written), and no `tenant.json` names a binary
/// that is missing or has other bytes.
async fn assert_nothing_half_written(setup: &Setup, route: Route, expected: &Tree, what: &str) {
    let seed = seed();
    let source = snapshot(setup.source_inner.as_ref()).await;
    for (key, bytes) in &seed {
        assert_eq!(source.get(key), Some(bytes), "{what}: v0 object {key} changed");
    }
    let dest = snapshot(setup.dest_inner.as_ref()).await;
    for (key, bytes) in &dest {
        if (route == Route::InPlace && seed.contains_key(key)) || key == "system/.se2-pending" {
            continue;
        }
        assert_eq!(expected.get(key), Some(bytes), "{what}: {key} is not what a fault-free run writes");
    }
    for (key, bytes) in dest.iter().filter(|(k, _)| k.ends_with("/tenant.json")) {
        let ident = key.trim_end_matches("/tenant.json");
        let document: serde_json::Value = serde_json::from_slice(bytes).expect("tenant.json parses");
        let modules = document["overview"]["config"]["modules"].as_array().expect("modules");
        for module in modules {
            let (ns, name) = (module["namespace"].as_str().unwrap(), module["name"].as_str().unwrap());
            let revisions = module["revisions"].as_array().unwrap().iter().map(|r| &r["ref"]);
            let refs = [&module["ref"], &module["draftRef"]].into_iter().chain(revisions);
            for digest in refs.filter_map(|r| r.as_str()) {
                let binary = format!("{ident}/{ns}/{name}/{digest}/{name}.wasm");
                let found =
                    dest.get(&binary).unwrap_or_else(|| panic!("{what}: {key} names {binary}, which is missing"));
                assert_eq!(sha256(found), digest, "{what}: {binary} does not hash to its directory");
            }
        }
    }
}

/// Runs again without faults: completes, leaves exactly `expected`, and verify finds nothing.
async fn assert_later_run_completes(setup: &Setup, expected: &Tree, what: &str) {
    setup.lift();
    let report =
        migrate(&setup.source, &setup.dest).await.unwrap_or_else(|e| panic!("{what}: the later run failed: {e}"));
    assert!(report.rejections.is_empty(), "{what}: {:?}", report.rejections);
    assert_same_tree(&snapshot(setup.dest_inner.as_ref()).await, expected, what);
    let verification = se2::verify::verify(&setup.source, &setup.dest, 8, &Silent).await.expect("verify runs");
    assert!(verification.findings.is_empty(), "{what}: verify: {:?}", verification.findings);
}

fn assert_same_tree(found: &Tree, expected: &Tree, what: &str) {
    let keys = |t: &Tree| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(found), keys(expected), "{what}: the keys differ from a fault-free run's");
    for (key, bytes) in expected {
        assert!(found[key] == *bytes, "{what}: {key} differs from a fault-free run's");
    }
}

/// Transient faults on every kind of call, about one call in three.
fn transient() -> Faults {
    let every = [(Kind::List, 1), (Kind::Get, 3), (Kind::Put, 3), (Kind::Copy, 3), (Kind::Delete, 1)];
    Faults { transient: HashMap::from(every), cut_body_every: Some(4), ..Faults::default() }
}

async fn transient_faults_are_retried(what: &str, route: Route, inner: Arc<dyn ObjectStore>) {
    let expected = expected(route).await;
    let setup = Setup::over(inner, route, transient(), transient()).await;
    let report =
        migrate(&setup.source, &setup.dest).await.unwrap_or_else(|e| panic!("{route:?}: {e} ({})", setup.counts()));
    assert!(report.rejections.is_empty());
    eprintln!("faults: transient, {what} ({route:?}): {} faults injected: {}", setup.faults(), setup.counts());
    assert!(setup.faults() >= 20, "too few faults landed: {}", setup.counts());
    assert_same_tree(&snapshot(setup.dest_inner.as_ref()).await, &expected, "transient");
    let verification = se2::verify::verify(&setup.source, &setup.dest, 8, &Silent).await.expect("verify runs");
    assert!(verification.findings.is_empty(), "{:?}", verification.findings);
}

#[tokio::test]
async fn transient_faults_in_place_are_retried_and_change_nothing() {
    transient_faults_are_retried("in memory", Route::InPlace, Arc::new(InMemory::new())).await;
}

#[tokio::test]
async fn transient_faults_over_local_disk_are_retried_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let disk = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    transient_faults_are_retried("on local disk", Route::InPlace, Arc::new(disk)).await;
}

#[tokio::test]
async fn transient_faults_across_stores_are_retried_and_change_nothing() {
    transient_faults_are_retried("in memory", Route::Across, Arc::new(InMemory::new())).await;
}

#[tokio::test]
async fn latency_changes_nothing() {
    for route in [Route::InPlace, Route::Across] {
        let expected = expected(route).await;
        let slow = Faults { latency: Duration::from_millis(2), ..Faults::default() };
        let setup = Setup::new(route, slow.clone(), slow).await;
        migrate(&setup.source, &setup.dest).await.expect("a slow run");
        eprintln!("faults: latency {route:?}: {}", setup.counts());
        assert_same_tree(&snapshot(setup.dest_inner.as_ref()).await, &expected, "latency");
    }
}

/// One fault that does not go away until lifted, and the key the error must name.
struct Case {
    what: &'static str,
    route: Route,
    /// Faults of the source store (across only) and of the destination store.
    source: Faults,
    dest: Faults,
    /// The key the error must name; `None`: some key the run writes.
    key: Option<String>,
    /// Words the error must hold besides the key.
    reason: Option<&'static str>,
    /// The fault leaves a complete root with its journal, which owes system/version a bump.
    owes_a_bump: bool,
}

fn permanent(kinds: &[Kind], key: &str, denied: bool, after: u64) -> Faults {
    let fault = Permanent { kinds: kinds.to_vec(), key: exact(key), denied, after };
    Faults { permanent: vec![fault], ..Faults::default() }
}

/// `<dir>/<digest>/<file>` of the binary `v0_key`'s bytes in the seed.
fn digest_key(v0_key: &str, file: &str) -> String {
    let seed = seed();
    let dir = v0_key.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    format!("{dir}/{}/{file}", sha256(&seed[v0_key]))
}

/// Runs each case (all at once): the run fails naming the key, leaves
/// nothing half-written, and a later run without the fault completes.
async fn run_cases(cases: Vec<Case>) {
    let mut expected_trees = HashMap::new();
    for route in [Route::InPlace, Route::Across] {
        expected_trees.insert(route, expected(route).await);
    }
    let expected_trees = &expected_trees;
    let count = cases.len();
    let runs = cases.into_iter().map(|case| async move {
        let what = format!("{} ({:?})", case.what, case.route);
        let mut expected = expected_trees[&case.route].clone();
        let setup = Setup::new(case.route, case.source, case.dest).await;
        let error = match migrate(&setup.source, &setup.dest).await {
            Ok(report) => panic!("{what}: the run succeeded despite the fault: {:?}", report.summary),
            Err(error) => error.to_string(),
        };
        match &case.key {
            Some(key) => assert!(error.contains(key.as_str()), "{what}: the error does not name {key}: {error}"),
            None => {
                let seed = seed();
                let written = expected.keys().filter(|k| !seed.contains_key(*k)).map(String::as_str);
                let named = written.chain(["system/.se2-pending"]).any(|k| error.starts_with(&format!("{k}: ")));
                assert!(named, "{what}: the error names no key the run writes: {error}");
            }
        }
        if let Some(reason) = case.reason {
            assert!(error.contains(reason), "{what}: the error does not say {reason:?}: {error}");
        }
        assert!(setup.faults() > 0, "{what}: no fault was injected");
        eprintln!("faults: {what}: {} faults injected ({}); error: {error}", setup.faults(), setup.counts());
        assert_nothing_half_written(&setup, case.route, &expected, &what).await;
        if case.owes_a_bump {
            // The journal outlived a complete run, so the later run bumps system/version once more.
            let sum: u64 = std::str::from_utf8(&expected["system/version"]).unwrap().parse().unwrap();
            expected.insert("system/version".into(), Bytes::from((sum + 1).to_string()));
        }
        assert_later_run_completes(&setup, &expected, &what).await;
        setup.faults()
    });
    let total: u64 = futures::future::join_all(runs).await.into_iter().sum();
    eprintln!("faults: {total} injected over {count} cases");
}

#[tokio::test]
async fn permanent_faults_fail_the_run_naming_the_key_and_a_later_run_completes() {
    use Route::*;
    let bin = "com.acme/default/hello/v2.0.0/hello.wasm";
    let big = "com.acme/prod/big/v1.0.0/big.wasm";
    let yaml = "com.beta/ns1/fn3/.runnable.yaml";
    let none = Faults::default;
    let mut cases = Vec::new();
    for route in [InPlace, Across] {
        let read = |faults: Faults| if route == InPlace { (none(), faults) } else { (faults, none()) };
        let (source, dest) = read(permanent(&[Kind::Get], bin, false, 0));
        cases.push(Case {
            what: "reading a v0 binary",
            route,
            source,
            dest,
            key: Some(bin.into()),
            reason: None,
            owes_a_bump: false,
        });
        let (source, dest) = read(permanent(&[Kind::Get], yaml, true, 0));
        cases.push(Case {
            what: "reading a .runnable.yaml: permission denied",
            route,
            source,
            dest,
            key: Some(yaml.into()),
            reason: None,
            owes_a_bump: false,
        });
        let (source, dest) = read(permanent(&[Kind::Body], bin, false, 0));
        cases.push(Case {
            what: "a v0 binary's body cut midway",
            route,
            source,
            dest,
            key: Some(bin.into()),
            reason: None,
            owes_a_bump: false,
        });
        let (source, dest) = read(permanent(&[Kind::ShortBody], bin, false, 0));
        cases.push(Case {
            what: "a v0 binary's body ending early",
            route,
            source,
            dest,
            key: Some(bin.into()),
            reason: None,
            owes_a_bump: false,
        });
        let (source, dest) = read(permanent(&[Kind::ShortBody], yaml, false, 0));
        cases.push(Case {
            what: "a .runnable.yaml's body ending early",
            route,
            source,
            dest,
            key: Some(yaml.into()),
            reason: None,
            owes_a_bump: false,
        });
        let (source, dest) = read(permanent(&[Kind::List], "", false, 0));
        let url = if route == InPlace { "faulty://in-place" } else { "faulty://source" };
        cases.push(Case {
            what: "listing the source",
            route,
            source,
            dest,
            key: Some(url.into()),
            reason: None,
            owes_a_bump: false,
        });

        let write = [Kind::Put, Kind::Copy];
        let binary = digest_key(bin, "hello.wasm");
        cases.push(Case {
            what: "writing a binary",
            route,
            source: none(),
            dest: permanent(&write, &binary, false, 0),
            key: Some(binary),
            reason: None,
            owes_a_bump: false,
        });
        let large = digest_key(big, "big.wasm");
        cases.push(Case {
            what: "writing the large binary",
            route,
            source: none(),
            dest: permanent(&write, &large, true, 0),
            key: Some(large),
            reason: None,
            owes_a_bump: false,
        });
        let draft = digest_key(bin, "lib.rs");
        cases.push(Case {
            what: "writing a draft",
            route,
            source: none(),
            dest: permanent(&write, &draft, false, 0),
            key: Some(draft),
            reason: None,
            owes_a_bump: false,
        });
        let module = "com.beta/ns2/fn5/.module.yaml";
        cases.push(Case {
            what: "writing a .module.yaml",
            route,
            source: none(),
            dest: permanent(&write, module, false, 0),
            key: Some(module.into()),
            reason: None,
            owes_a_bump: false,
        });
        let tenant = "com.acme/tenant.json";
        cases.push(Case {
            what: "writing a tenant.json",
            route,
            source: none(),
            dest: permanent(&write, tenant, true, 0),
            key: Some(tenant.into()),
            reason: None,
            owes_a_bump: false,
        });
        let system = "system/version";
        cases.push(Case {
            what: "writing system/version",
            route,
            source: none(),
            dest: permanent(&write, system, false, 0),
            key: Some(system.into()),
            reason: None,
            owes_a_bump: false,
        });
        let pending = "system/.se2-pending";
        let dest = permanent(&[Kind::Delete], pending, false, 0);
        cases.push(Case {
            what: "deleting the journal",
            route,
            source: none(),
            dest,
            key: Some(pending.into()),
            reason: None,
            owes_a_bump: true,
        });
    }
    // Across stores the large binary is read twice, hashed then copied: cut the copy only.
    cases.push(Case {
        what: "the large binary's body cut midway during its streamed copy",
        route: Across,
        source: permanent(&[Kind::Body], big, false, 1),
        dest: none(),
        key: Some(big.into()),
        reason: None,
        owes_a_bump: false,
    });
    cases.push(Case {
        what: "the large binary's body ending early during its streamed copy",
        route: Across,
        source: permanent(&[Kind::ShortBody], big, false, 1),
        dest: none(),
        key: Some(big.into()),
        reason: None,
        owes_a_bump: false,
    });
    cases.push(Case {
        what: "listing the destination",
        route: Across,
        source: none(),
        dest: permanent(&[Kind::List], "", false, 0),
        key: Some("faulty://dest".into()),
        reason: None,
        owes_a_bump: false,
    });
    run_cases(cases).await;
}

#[tokio::test]
async fn writes_failing_after_n_bytes_fail_the_run_naming_the_key() {
    let big = digest_key("com.acme/prod/big/v1.0.0/big.wasm", "big.wasm");
    let after = |key: &str, bytes: u64| Faults { fail_after_bytes: Some((exact(key), bytes)), ..Faults::default() };
    let none = Faults::default;
    let cases = vec![
        // In place the copy is store-side: it fails past 1 MiB.
        Case {
            what: "the large binary's copy",
            route: Route::InPlace,
            source: none(),
            dest: after(&big, 1 << 20),
            key: Some(big.clone()),
            reason: Some("after"),
            owes_a_bump: false,
        },
        // Across, the first 8 MiB part is uploaded, the second fails.
        Case {
            what: "the large binary's multipart upload",
            route: Route::Across,
            source: none(),
            dest: after(&big, 8 << 20),
            key: Some(big.clone()),
            reason: Some("after"),
            owes_a_bump: false,
        },
        Case {
            what: "a tenant.json put",
            route: Route::Across,
            source: none(),
            dest: after("com.beta/tenant.json", 64),
            key: Some("com.beta/tenant.json".into()),
            reason: Some("after 64 bytes"),
            owes_a_bump: false,
        },
        Case {
            what: "every write, past 100 bytes",
            route: Route::InPlace,
            source: none(),
            dest: Faults { fail_after_bytes: Some((any_key(), 100)), ..Faults::default() },
            key: None,
            reason: Some("after 100 bytes"),
            owes_a_bump: false,
        },
    ];
    run_cases(cases).await;
}

#[tokio::test]
async fn a_full_disk_fails_the_run_naming_the_key() {
    let full = |quota: u64| Faults { quota: Some(quota), ..Faults::default() };
    let mut cases = Vec::new();
    for route in [Route::InPlace, Route::Across] {
        for quota in [0, 4 << 10, 5 << 20, BIG as u64 + (20 << 10)] {
            cases.push(Case {
                what: "a full disk",
                route,
                source: Faults::default(),
                dest: full(quota),
                key: None,
                reason: Some("No space"),
                owes_a_bump: false,
            });
        }
    }
    run_cases(cases).await;
}
