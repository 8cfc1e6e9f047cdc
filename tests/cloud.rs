//! se2 on real object-store servers, beyond what every backend shares
//! (`tests/e2e.rs`): GCS as a source, migrations from one kind of store to
//! another compared with an in-place reference, prefix scoping inside one
//! bucket, a binary larger than any buffer copied in bounded memory, and the
//! store's own errors. Each test skips when a server it needs is not
//! configured, and fails instead when `SE2_TEST_REQUIRE_SERVERS` says it
//! must be there (`common::servers::required`).

#[allow(dead_code, reason = "the harness is shared with tests/e2e.rs; this file uses part of it")]
mod common;

use std::collections::BTreeSet;
use std::io::Write;

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use common::servers::{self, Server};
use common::spec::{self, binary_key, digest_key, module_key, tenant_key};
use common::tree::{self, wasm};
use common::{Backend, Output, TestRoot, Tree, backends, se2_binary};

/// The backends `names`, or `None` (the test is skipped) when one is not
/// configured; panics instead when a missing one is required.
fn available<const N: usize>(test: &str, names: [&str; N]) -> Option<[Backend; N]> {
    let found = names.map(|name| (name, backends::named(name)));
    for (name, backend) in &found {
        if backend.is_none() {
            assert!(
                !servers::required(name),
                "{test}: server {name} is not configured but SE2_TEST_REQUIRE_SERVERS is set"
            );
            eprintln!("{test}: skipped, server {name} is not configured");
            return None;
        }
    }
    Some(found.map(|(_, backend)| backend.expect("checked above")))
}

/// The server `name`, or `None` (the test is skipped), as `backends`.
fn server(test: &str, name: &str) -> Option<Server> {
    servers::or_skip(Server::named(name), name, test)
}

/// Bytes that do not compress: xorshift from `seed`.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

const BIG: &str = "com.big/default/big";
/// Over one 8 MiB part: a streamed copy of it is a multipart upload.
const BIG_BYTES: usize = 12 << 20;

/// The sample root of the conformance suite, and one binary of 12 MiB.
fn cross_tree() -> Tree {
    let mut tree = tree::sample();
    let mut big = b"\0asm\x01\0\0\0".to_vec();
    big.extend(noise(7, BIG_BYTES));
    tree.runnable(BIG, "rust", "v1.0.0", "").binary(BIG, "v1.0.0", big);
    tree
}

/// The SE2 keys that SPEC.md §3 gives `cross_tree()`, worked out by hand.
fn cross_layout(tree: &Tree) -> BTreeSet<String> {
    const HELLO: &str = "com.acme/default/hello";
    const GREET: &str = "com.acme/default/greet";
    const INVOICE: &str = "com.widgets/billing/invoice";
    const ECHO: &str = "com.widgets/default/echo";
    let d = |dir: &str, version: &str| tree.digest(dir, version);
    // hello v9.0.0 and v10.0.0 have the same bytes: one digest directory.
    assert_eq!(d(HELLO, "v9.0.0"), d(HELLO, "v10.0.0"));
    BTreeSet::from([
        binary_key(HELLO, &d(HELLO, "v1.0.0")),
        binary_key(HELLO, &d(HELLO, "v9.0.0")),
        digest_key(HELLO, &d(HELLO, "v9.0.0"), "lib.rs"),
        binary_key(GREET, &d(GREET, "v1.0.0")),
        digest_key(GREET, &d(GREET, "v1.0.0"), "lib.js"),
        binary_key(GREET, &d(GREET, "v1.1.0")),
        digest_key(GREET, &d(GREET, "v1.1.0"), "lib.js"),
        binary_key(INVOICE, &d(INVOICE, "v0.1.0")),
        digest_key(INVOICE, &d(INVOICE, "v0.1.0"), "main.go"),
        binary_key(INVOICE, &d(INVOICE, "v0.2.0")),
        digest_key(INVOICE, &d(INVOICE, "v0.2.0"), "main.go"),
        binary_key(ECHO, &d(ECHO, "v1.0.0")),
        binary_key(BIG, &d(BIG, "v1.0.0")),
        module_key(HELLO),
        module_key(GREET),
        module_key(INVOICE),
        module_key(ECHO),
        module_key(BIG),
        tenant_key("com.acme"),
        tenant_key("com.widgets"),
        tenant_key("com.big"),
        spec::SYSTEM_VERSION.to_owned(),
    ])
}

/// `tree` migrated in place on a fresh local directory: what every other
/// migration of it must produce. Returns the root and its account.
async fn reference(disk: &Backend, tree: &Tree) -> (TestRoot, Value) {
    let root = disk.root("reference");
    root.seed(tree).await;
    let output = se2_binary(disk.env(), None, &["migrate", &root.url, "--json"]).await;
    output.expect_code(0);
    (root, output.json())
}

/// Asserts that `dest` holds exactly the SE2 layout of `tree` (the keys
/// `layout`) and nothing else, equal to what the in-place `reference` got:
/// `tenant.json` JSON for JSON, `.module.yaml` YAML for YAML, and every
/// object byte for byte.
async fn assert_same_layout(dest: &TestRoot, reference: &TestRoot, tree: &Tree, layout: &BTreeSet<String>) {
    let migrated: BTreeSet<String> =
        reference.keys().await.into_iter().filter(|key| !tree.files.contains_key(key)).collect();
    assert_eq!(&migrated, layout, "the in-place reference holds the SPEC layout");
    assert_eq!(&dest.keys().await, layout, "{} holds the SPEC layout and nothing else", dest.url);
    for key in layout {
        if key.ends_with("tenant.json") {
            assert_eq!(dest.json(key).await, reference.json(key).await, "{key}");
        } else if key.ends_with(".module.yaml") {
            assert_eq!(dest.yaml(key).await, reference.yaml(key).await, "{key}");
        }
        let (ours, theirs) = (dest.read(key).await, reference.read(key).await);
        assert!(ours == theirs, "{key} of {} differs from the in-place reference, byte for byte", dest.url);
    }
    assert_eq!(dest.assert_binaries_match_digests().await, 8, "8 digests: hello v9.0.0 and v10.0.0 share one");
}

/// The environment of two backends together (`AWS_*` and `AZURE_*` side by side).
fn both(a: &Backend, b: &Backend) -> Vec<(String, String)> {
    a.env().iter().chain(b.env()).cloned().collect()
}

/// `se2 migrate SRC --to DEST` from a root of `from` into an empty root of
/// `to`: exactly the layout of an in-place migration, the source untouched,
/// `se2 verify SRC --to DEST` exits 0, and a second run writes nothing.
async fn migrate_across(from: &str, to: &str) {
    let test = format!("{from}_to_{to}");
    let Some([source_backend, dest_backend, disk]) = available(&test, [from, to, "disk"]) else { return };
    let env = both(&source_backend, &dest_backend);
    let tree = cross_tree();
    let (reference, planned) = reference(&disk, &tree).await;
    let (source, dest) = (source_backend.root(&test), dest_backend.root(&test));
    source.seed(&tree).await;
    let before = source.snapshot().await;

    let output = se2_binary(&env, None, &["migrate", &source.url, "--to", &dest.url, "--json"]).await;
    output.expect_code(0);
    let account = output.json();
    source.assert_unchanged(&before).await;
    assert_same_layout(&dest, &reference, &tree, &cross_layout(&tree)).await;
    assert_eq!(account["writes"], planned["writes"], "the same writes as in place, in the same order");
    assert_eq!((&account["rejections"], &account["warnings"]), (&json!([]), &json!([])));
    assert_eq!(dest.read(spec::SYSTEM_VERSION).await, b"9");

    se2_binary(&env, None, &["verify", &source.url, "--to", &dest.url]).await.expect_code(0);
    let migrated = dest.listing().await;
    let again = se2_binary(&env, None, &["migrate", &source.url, "--to", &dest.url, "--json"]).await;
    again.expect_code(0);
    assert_eq!(again.json()["writes"], json!([]), "a second run writes nothing");
    assert_eq!(dest.listing().await, migrated);
}

#[tokio::test]
async fn disk_to_moto() {
    migrate_across("disk", "moto").await;
}

#[tokio::test]
async fn moto_to_azurite() {
    migrate_across("moto", "azurite").await;
}

#[tokio::test]
async fn gcs_to_disk() {
    migrate_across("gcs", "disk").await;
}

#[tokio::test]
async fn s3s_to_disk() {
    migrate_across("s3s", "disk").await;
}

/// Sizes in `tree` of the keys `keep` picks.
fn bytes_of(tree: &Tree, keep: impl Fn(&str) -> bool) -> usize {
    tree.files.iter().filter(|(key, _)| keep(key)).map(|(_, bytes)| bytes.len()).sum()
}

/// GCS as a source (fake-gcs-server takes no uploads from object_store, so
/// se2 reads GCS here and writes elsewhere): `inventory` counts exactly,
/// `verify --to` an empty directory finds nothing migrated, `migrate --to`
/// a directory writes the SPEC layout, `verify --to` it holds; then, with
/// that layout uploaded next to the v0 root, `inventory` counts it, `verify`
/// in place holds and an in-place `migrate` has nothing to write.
#[tokio::test]
async fn gcs_is_a_source_for_inventory_migrate_and_verify() {
    let test = "gcs_is_a_source";
    let Some([gcs, disk]) = available(test, ["gcs", "disk"]) else { return };
    let mut tree = cross_tree();
    tree.file("README.md", "what this bucket was");
    let (reference, _) = reference(&disk, &tree).await;
    let source = gcs.root(test);
    source.seed(&tree).await;
    let before = source.snapshot().await;
    let env = gcs.env();

    let output = se2_binary(env, None, &["inventory", &source.url, "--json"]).await;
    output.expect_code(0);
    let is_binary = |key: &str| key.ends_with(".wasm");
    let is_draft = |key: &str| ["lib.rs", "lib.js", "main.go"].iter().any(|d| key.ends_with(&format!("/{d}")));
    let expected = json!({
        "objects": 21,
        "bytes": bytes_of(&tree, |_| true),
        "tenants": 3,
        "functions": 5,
        "rejected": 0,
        "versions": 9,
        "binaries": 9,
        "binaryBytes": bytes_of(&tree, is_binary),
        "drafts": 5,
        "draftBytes": bytes_of(&tree, is_draft),
        "runnables": 6,
        "se2Objects": 0,
        "se2Bytes": 0,
        "other": 1,
        "otherBytes": tree.bytes("README.md").len(),
    });
    assert_eq!(tree.files.len(), 21, "18 files of the sample, 2 of com.big, README.md");
    assert_eq!(output.json()["totals"], expected);

    let empty = disk.root(test);
    let output = se2_binary(env, None, &["verify", &source.url, "--to", &empty.url]).await;
    output.expect_code(3);
    assert!(output.stdout.contains("com.big/default/big"), "verify names what is not migrated:\n{}", output.stdout);

    let dest = disk.root(test);
    let output = se2_binary(env, None, &["migrate", &source.url, "--to", &dest.url, "--json"]).await;
    output.expect_code(0);
    spec::assert_warns(&output.json(), "README.md", "");
    let layout = cross_layout(&tree);
    assert_same_layout(&dest, &reference, &tree, &layout).await;
    se2_binary(env, None, &["verify", &source.url, "--to", &dest.url]).await.expect_code(0);
    source.assert_unchanged(&before).await;

    // The SE2 layout next to the v0 root on GCS, as a finished in-place run leaves it.
    for key in &layout {
        source.put(key, dest.read(key).await).await;
    }
    let output = se2_binary(env, None, &["inventory", &source.url, "--json"]).await;
    output.expect_code(0);
    let mut after = expected;
    let se2_bytes: usize = dest.read_all(&layout).await.iter().map(Vec::len).sum();
    after["objects"] = json!(21 + layout.len());
    after["bytes"] = json!(bytes_of(&tree, |_| true) + se2_bytes);
    after["se2Objects"] = json!(layout.len());
    after["se2Bytes"] = json!(se2_bytes);
    assert_eq!(output.json()["totals"], after);
    se2_binary(env, None, &["verify", &source.url]).await.expect_code(0);
    let complete = source.snapshot().await;
    let output = se2_binary(env, None, &["migrate", &source.url, "--json"]).await;
    output.expect_code(0);
    assert_eq!(output.json()["writes"], json!([]), "a finished root has nothing left to write");
    source.assert_unchanged(&complete).await;
}

/// Roots side by side in one bucket (`…/a`, `…/a-b`, one a string prefix
/// of the other) and nested (`…/x`, `…/x/y`): a migration of one writes
/// nothing outside its own prefix, and `inventory` of one counts only its
/// own objects.
async fn prefixes_scope_roots(name: &str) {
    let test = format!("{name}_prefixes_scope_roots");
    let Some(server) = server(&test, name) else { return };
    let env = server.env();
    let base = servers::unique_prefix("scope");
    let bucket = server.root(&base);
    let mut trees = Vec::new();
    for (suffix, tenant) in [("a", "t.a"), ("a-b", "t.ab"), ("x", "t.x"), ("x/y", "t.y")] {
        let mut tree = Tree::new();
        tree.function(&format!("{tenant}/default/{}", tenant.replace('.', "")), "rust", &["v1.0.0", "v2.0.0"]);
        // The same function name in every root, with bytes of its own.
        tree.runnable("t.same/default/s", "rust", "v1.0.0", "").binary("t.same/default/s", "v1.0.0", wasm(suffix));
        let root = server.root(&format!("{base}/{suffix}"));
        root.seed(&tree).await;
        trees.push((suffix, root, tree));
    }
    let count = |output: &Output| output.json()["totals"]["objects"].clone();

    for (suffix, root, tree) in &trees {
        let output = se2_binary(&env, None, &["inventory", &root.url, "--json"]).await;
        if *suffix == "x" {
            // `x` holds `x/y` too, which is neither a v0 nor an SE2 layout seen from `x`.
            assert_eq!(count(&output), json!(tree.files.len() + trees[3].2.files.len()), "inventory of {}", root.url);
            continue;
        }
        output.expect_code(0);
        assert_eq!(count(&output), json!(tree.files.len()), "inventory of {}", root.url);
        assert_eq!(output.json()["totals"]["functions"], 2, "inventory of {}", root.url);
    }
    if name == "gcs" {
        return; // fake-gcs-server takes no writes from se2
    }
    for (suffix, root, tree) in trees.iter().filter(|(suffix, ..)| *suffix != "x") {
        let everything = bucket.snapshot().await;
        let own = format!("{suffix}/");
        let others: Vec<&str> =
            everything.objects.keys().map(String::as_str).filter(|k| !k.starts_with(&own)).collect();
        let others = bucket.snapshot_of(others).await;
        se2_binary(&env, None, &["migrate", &root.url, "--quiet"]).await.expect_code(0);
        bucket.assert_holds(&others).await;
        let added: Vec<String> =
            bucket.keys().await.into_iter().filter(|k| !everything.objects.contains_key(k)).collect();
        assert!(added.iter().all(|k| k.starts_with(&own)), "{} wrote outside its prefix: {added:#?}", root.url);
        assert_eq!(root.read(spec::SYSTEM_VERSION).await, b"3", "{}: its own two tenants, 2 + 1", root.url);
        let same = root.json(&tenant_key("t.same")).await;
        let digest = tree.digest("t.same/default/s", "v1.0.0");
        assert_eq!(same["overview"]["config"]["modules"][0]["ref"], json!(digest), "{}", root.url);
        let output = se2_binary(&env, None, &["inventory", &root.url, "--json"]).await;
        output.expect_code(0);
        assert_eq!(output.json()["totals"]["se2Objects"], json!(added.len()), "{}", root.url);
        assert_eq!(count(&output), json!(tree.files.len() + added.len()), "{}", root.url);
    }
}

#[tokio::test]
async fn moto_prefixes_scope_roots() {
    prefixes_scope_roots("moto").await;
}

#[tokio::test]
async fn s3s_prefixes_scope_roots() {
    prefixes_scope_roots("s3s").await;
}

#[tokio::test]
async fn azurite_prefixes_scope_roots() {
    prefixes_scope_roots("azurite").await;
}

#[tokio::test]
async fn gcs_prefixes_scope_roots() {
    prefixes_scope_roots("gcs").await;
}

/// The lines of a run's stderr.
fn stderr_lines(output: &Output) -> Vec<&str> {
    output.stderr.as_deref().expect("the binary's stderr is captured").lines().collect()
}

/// Asserts that `se2 ARGS...` exits 1 with one line on stderr, naming
/// `root` and each of `causes`.
fn assert_stops(output: &Output, root: &str, causes: &[&str]) {
    output.expect_code(1);
    assert_eq!(output.stdout, "", "{:?}", output.args);
    let lines = stderr_lines(output);
    assert_eq!(lines.len(), 1, "se2 {:?} says why in one line: {lines:#?}", output.args);
    for named in [root].iter().chain(causes) {
        assert!(lines[0].contains(named), "se2 {:?} does not name {named:?}: {}", output.args, lines[0]);
    }
}

/// A bucket that does not exist stops `inventory` and `migrate` with exit 1
/// and one line naming the root and the server's reason.
async fn missing_bucket_is_named(name: &str, causes: &[&str]) {
    let test = format!("{name}_missing_bucket_is_named");
    let Some(server) = server(&test, name) else { return };
    let missing = server.missing_url("p");
    for command in ["inventory", "migrate"] {
        let output = se2_binary(&server.env(), None, &[command, &missing]).await;
        assert_stops(&output, &missing, causes);
    }
}

#[tokio::test]
async fn moto_missing_bucket_is_named() {
    missing_bucket_is_named("moto", &["404", "NoSuchBucket"]).await;
}

#[tokio::test]
async fn s3s_missing_bucket_is_named() {
    missing_bucket_is_named("s3s", &["404", "NoSuchBucket"]).await;
}

#[tokio::test]
async fn azurite_missing_bucket_is_named() {
    missing_bucket_is_named("azurite", &["404", "ContainerNotFound"]).await;
}

/// fake-gcs-server answers a listing of a missing bucket with a 500 (GCS
/// itself says 404), so only the root is checked for here.
#[tokio::test]
async fn gcs_missing_bucket_is_named() {
    missing_bucket_is_named("gcs", &[]).await;
}

/// The environment of `server` with `name` set to `value` (added or replaced).
fn with(server: &Server, name: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = server.env().into_iter().filter(|(n, _)| n != name).collect();
    env.push((name.into(), value.into()));
    env
}

/// s3s-fs checks signatures: a wrong secret or an unknown key id stops the run, named.
#[tokio::test]
async fn s3s_bad_credentials_are_named() {
    let test = "s3s_bad_credentials_are_named";
    let Some(server) = server(test, "s3s") else { return };
    let root = server.fresh_root(test);
    root.seed(&tree::sample()).await;
    for (variable, value, cause) in
        [("AWS_SECRET_ACCESS_KEY", "not-the-secret", "SignatureDoesNotMatch"), ("AWS_ACCESS_KEY_ID", "nobody", "403")]
    {
        for command in ["inventory", "migrate"] {
            let output = se2_binary(&with(&server, variable, value), None, &[command, &root.url]).await;
            assert_stops(&output, &root.url, &["403", cause]);
        }
    }
    assert_eq!(root.get(spec::SYSTEM_VERSION).await, None, "nothing was written");
}

/// Azurite checks shared-key signatures too.
#[tokio::test]
async fn azurite_bad_credentials_are_named() {
    let test = "azurite_bad_credentials_are_named";
    let Some(server) = server(test, "azurite") else { return };
    let root = server.fresh_root(test);
    root.seed(&tree::sample()).await;
    let env = with(&server, "AZURE_STORAGE_ACCOUNT_KEY", "bm90IHRoZSBrZXkgb2YgZGV2c3RvcmVhY2NvdW50MQ==");
    let output = se2_binary(&env, None, &["inventory", &root.url]).await;
    assert_stops(&output, &root.url, &["403", "AuthorizationFailure"]);
}

/// A misspelt variable of the store's prefix stops the run, named, before
/// anything is asked of the server.
#[tokio::test]
async fn unknown_variables_are_refused() {
    let test = "unknown_variables_are_refused";
    for (name, variable) in
        [("moto", "AWS_ENDPONT"), ("azurite", "AZURE_STORAGE_USE_EMULATR"), ("gcs", "GOOGLE_SERVICE_ACOUNT")]
    {
        let Some(server) = server(test, name) else { continue };
        let url = server.url(&servers::unique_prefix(test));
        let output = se2_binary(&with(&server, variable, "true"), None, &["inventory", &url]).await;
        assert_stops(&output, &url, &[variable, "misspelt"]);
    }
}

/// Runs `se2 ARGS...` with `env`, polling its peak resident set (VmHWM of
/// /proc/PID/status) every 2 ms until it exits; returns the run and the
/// peak in bytes.
async fn se2_measured(env: &[(String, String)], args: &[&str]) -> (Output, u64) {
    let mut child = common::se2_command(env, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the se2 binary runs");
    let status = format!("/proc/{}/status", child.id().expect("a running child has a pid"));
    let mut peak = 0;
    let sample = |peak: &mut u64| {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        let hwm = text.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().strip_suffix("kB"));
        if let Some(kib) = hwm.and_then(|v| v.trim().parse::<u64>().ok()) {
            *peak = (*peak).max(kib << 10);
        }
    };
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let read = async move {
        use tokio::io::AsyncReadExt;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (a, b) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        a.and(b).expect("se2's output reads");
        (out, err)
    };
    tokio::pin!(read);
    let mut captured = None;
    let exit = loop {
        tokio::select! {
            output = &mut read, if captured.is_none() => captured = Some(output),
            exit = child.wait(), if captured.is_some() => break exit.expect("se2 is waited for"),
            _ = tokio::time::sleep(std::time::Duration::from_millis(2)) => sample(&mut peak),
        }
    };
    let (out, err) = captured.expect("read before the wait");
    let output = Output {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        code: exit.code().expect("se2 exits, not killed by a signal"),
        stdout: String::from_utf8(out).expect("UTF-8"),
        stderr: Some(String::from_utf8(err).expect("UTF-8")),
    };
    (output, peak)
}

const MIB: u64 = 1 << 20;
const LARGE: &str = "com.large/default/large";

/// Writes a v0 root into `dir` whose one binary is `size` bytes of noise,
/// streamed to disk; returns the binary's digest.
fn write_large_root(dir: &std::path::Path, size: u64) -> String {
    let version = dir.join(LARGE).join("v1.0.0");
    std::fs::create_dir_all(&version).unwrap();
    std::fs::write(dir.join(LARGE).join(".runnable.yaml"), tree::runnable_yaml(LARGE, "rust", "v1.0.0", "")).unwrap();
    let mut file = std::io::BufWriter::new(std::fs::File::create(version.join("large.wasm")).unwrap());
    let mut hasher = Sha256::new();
    for chunk in 0..size / MIB {
        let bytes = noise(chunk + 1, MIB as usize);
        hasher.update(&bytes);
        file.write_all(&bytes).unwrap();
    }
    file.flush().unwrap();
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 and length of `key` of `root`, read as a stream.
async fn stream_digest(root: &TestRoot, key: &str) -> (String, u64) {
    let location = object_store::path::Path::parse(key).unwrap();
    let mut stream = root.root.store.get(&location).await.unwrap_or_else(|e| panic!("{key}: {e}")).into_stream();
    let (mut hasher, mut length) = (Sha256::new(), 0);
    while let Some(chunk) = stream.try_next().await.unwrap() {
        hasher.update(&chunk);
        length += chunk.len() as u64;
    }
    (hasher.finalize().iter().map(|b| format!("{b:02x}")).collect(), length)
}

/// Copies a local v0 root into `dest` with object_store, streamed.
async fn upload_dir(dir: &std::path::Path, dest: &TestRoot) {
    let disk = se2::Root::open(dir.to_str().unwrap()).unwrap();
    let files: Vec<_> = disk.store.list(None).try_collect().await.unwrap();
    for meta in files {
        let mut stream = disk.store.get(&meta.location).await.unwrap().into_stream();
        let mut writer = object_store::buffered::BufWriter::new(dest.root.store.clone(), meta.location.clone());
        while let Some(chunk) = stream.try_next().await.unwrap() {
            writer.put(chunk).await.unwrap();
        }
        tokio::io::AsyncWriteExt::shutdown(&mut writer).await.unwrap();
    }
}

/// A binary larger than any buffer se2 has, migrated from a directory to
/// S3 and from S3 to a directory by the built binary: the copy hashes right,
/// and se2's peak memory stays well below the binary's size and does not
/// grow with it.
#[tokio::test]
async fn large_binary_crosses_stores_in_bounded_memory() {
    let test = "large_binary";
    let Some([s3, disk]) = available(test, ["s3s", "disk"]) else { return };
    let env = s3.env();
    let mut peaks = Vec::new();
    // 1 MiB first: what se2 needs anyway, for the figures printed.
    for size in [MIB, 64 * MIB, 128 * MIB] {
        let v0 = tempfile::tempdir().unwrap();
        let digest = write_large_root(v0.path(), size);
        let key = binary_key(LARGE, &digest);
        let v0_url = v0.path().to_str().unwrap();

        let up = s3.root(test);
        let (output, up_peak) = se2_measured(env, &["migrate", v0_url, "--to", &up.url, "--quiet"]).await;
        output.expect_code(0);
        assert_eq!(stream_digest(&up, &key).await, (digest.clone(), size), "{key} on {}", up.url);

        let source = s3.root(test);
        upload_dir(v0.path(), &source).await;
        drop(v0);
        let down = disk.root(test);
        let (output, down_peak) = se2_measured(env, &["migrate", &source.url, "--to", &down.url, "--quiet"]).await;
        output.expect_code(0);
        assert_eq!(stream_digest(&down, &key).await, (digest, size), "{key} in {}", down.url);
        eprintln!(
            "large binary of {} MiB: peak RSS of se2 {:.1} MiB directory -> S3, {:.1} MiB S3 -> directory",
            size / MIB,
            up_peak as f64 / MIB as f64,
            down_peak as f64 / MIB as f64
        );
        peaks.push((up_peak, down_peak));
    }
    let [_, (up64, down64), (up128, down128)] = peaks[..] else { unreachable!() };
    for (what, small, large) in [("directory -> S3", up64, up128), ("S3 -> directory", down64, down128)] {
        assert!(small > 0 && large > 0, "{what}: no memory figure read from /proc");
        assert!(small < 64 * MIB, "{what}: a 64 MiB binary peaked at {} MiB", small / MIB);
        assert!(large < 64 * MIB, "{what}: a 128 MiB binary peaked at {} MiB", large / MIB);
        let growth = large.saturating_sub(small);
        assert!(growth < 16 * MIB, "{what}: twice the binary, {} MiB more memory", growth / MIB);
    }
}
