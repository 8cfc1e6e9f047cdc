//! The harness of the end-to-end conformance suite: the backends it runs
//! on, each able to make fresh, uniquely named roots; a way to run
//! `se2 ARGS...` against them; and what a test reads back from a root
//! (listings with e-tags and timestamps, objects, JSON and YAML documents).
//!
//! A backend is a name, a `Runner` (in this process through the library, or
//! the built binary with extra environment variables) and a function that
//! makes an empty root. See `backends` for the two that need no server and
//! the ones on the servers of `servers`.

pub mod servers;
pub mod spec;
pub mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde_json::Value;

pub use tree::Tree;

/// How `se2` runs against a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// In this process, through `se2::cli::run`: stdout is captured, stderr is not.
    Library,
    /// The built binary, as a child process given the backend's environment.
    Binary,
}

/// A fresh root made for one test.
pub struct TestRoot {
    /// The root as `se2` is given it on the command line.
    pub url: String,
    /// The same root opened through object_store, to seed it and read it back.
    pub root: se2::Root,
    /// Whatever must live as long as the root (a temp directory).
    _keep: Option<Box<dyn Send + Sync>>,
}

type MakeRoot = Box<dyn Fn(&str) -> TestRoot + Send + Sync>;
type MissingRoot = Box<dyn Fn(&str) -> String + Send + Sync>;

/// One kind of store the conformance suite runs on.
pub struct Backend {
    /// Prefix of its tests' names: `<name>_<case>`.
    pub name: &'static str,
    pub runner: Runner,
    make_root: MakeRoot,
    missing_root: Option<MissingRoot>,
    env: Vec<(String, String)>,
}

impl Backend {
    /// A backend whose roots `make_root(label)` makes: empty, and unique to
    /// `label` (itself unique within one run of the suite; a backend whose
    /// roots outlive the process, a bucket prefix, adds its own suffix).
    pub fn new(
        name: &'static str,
        runner: Runner,
        make_root: impl Fn(&str) -> TestRoot + Send + Sync + 'static,
    ) -> Backend {
        Backend { name, runner, make_root: Box::new(make_root), missing_root: None, env: Vec::new() }
    }

    /// An environment variable the binary is run with (endpoint, credentials).
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Backend {
        self.env.push((name.into(), value.into()));
        self
    }

    /// A fresh, empty root of the backend for `label`.
    pub fn root(&self, label: &str) -> TestRoot {
        (self.make_root)(label)
    }

    /// The environment the binary is run with on this backend.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// How to name a root of this backend that does not exist, for `label`.
    pub fn with_missing_root(mut self, missing_root: impl Fn(&str) -> String + Send + Sync + 'static) -> Backend {
        self.missing_root = Some(Box::new(missing_root));
        self
    }
}

impl TestRoot {
    pub fn new(url: impl Into<String>, root: se2::Root) -> TestRoot {
        TestRoot { url: url.into(), root, _keep: None }
    }

    /// Keeps `guard` alive as long as the root.
    pub fn keeping(mut self, guard: impl Send + Sync + 'static) -> TestRoot {
        self._keep = Some(Box::new(guard));
        self
    }
}

/// The backends. Those that need no server are always there; one that needs
/// a server returns `None` when the environment does not name it (its tests
/// then skip, or fail when `servers::required` says the server must be
/// there). Its roots are prefixes of one bucket, unique across runs
/// (`servers::unique_prefix`), opened for the test through object_store with
/// the same prefix; the binary gets the environment that `se2` reads
/// (`servers::Server::env`).
pub mod backends {
    use super::servers::Server;
    use super::{Backend, Runner, TestRoot};

    /// The backend of that name (`memory`, `disk` or a server's).
    pub fn named(name: &str) -> Option<Backend> {
        match name {
            "memory" => memory(),
            "disk" => disk(),
            server => Server::named(server).map(on),
        }
    }

    /// A backend on `server`, run through the built binary.
    fn on(server: Server) -> Backend {
        let (roots, missing) = (server.clone(), server.clone());
        let backend = Backend::new(server.name, Runner::Binary, move |label| roots.fresh_root(label))
            .with_missing_root(move |label| missing.missing_url(label));
        server.env().into_iter().fold(backend, |backend, (name, value)| backend.with_env(name, value))
    }

    /// moto, an S3 server in Python (`SE2_TEST_MOTO_ENDPOINT`).
    pub fn moto() -> Option<Backend> {
        Server::moto().map(on)
    }

    /// s3s-fs, an S3 server on a directory, checking signatures (`SE2_TEST_S3S_*`).
    pub fn s3s() -> Option<Backend> {
        Server::s3s().map(on)
    }

    /// MinIO, from docker-compose (`SE2_TEST_MINIO_*`).
    pub fn minio() -> Option<Backend> {
        Server::minio().map(on)
    }

    /// Azurite, Azure Blob's emulator (`SE2_TEST_AZURITE_ENDPOINT`).
    pub fn azurite() -> Option<Backend> {
        Server::azurite().map(on)
    }

    /// fake-gcs-server (`SE2_TEST_GCS_ENDPOINT`): its roots are seeded
    /// through the JSON API, and se2 can only read them.
    pub fn gcs() -> Option<Backend> {
        Server::gcs().map(on)
    }

    /// `memory://NAME` roots, run through the library in this process.
    pub fn memory() -> Option<Backend> {
        Some(Backend::new("memory", Runner::Library, |label| {
            let url = format!("memory://{label}");
            let root = se2::Root::open(&url).expect("a memory root always opens");
            TestRoot::new(url, root)
        }))
    }

    /// A fresh temp directory per root, run through the built binary.
    pub fn disk() -> Option<Backend> {
        let backend = Backend::new("disk", Runner::Binary, |label| {
            let dir = tempfile::Builder::new().prefix(&format!("se2-{label}-")).tempdir().expect("a temp directory");
            let url = dir.path().to_str().expect("temp paths are UTF-8").to_owned();
            let root = se2::Root::open(&url).expect("a fresh temp directory opens");
            TestRoot::new(url, root).keeping(dir)
        });
        Some(backend.with_missing_root(|label| {
            let parent = tempfile::Builder::new().prefix("se2-missing-").tempdir().expect("a temp directory");
            // The directory is gone when `parent` drops at the end of this call.
            parent.path().join(label).to_str().expect("temp paths are UTF-8").to_owned()
        }))
    }
}

/// One conformance case on one backend: its roots, scratch files and runs.
pub struct Harness {
    backend: Backend,
    /// `<backend>_<case>`, the test's name; roots are labelled after it.
    pub name: String,
    roots: AtomicUsize,
    scratch: tempfile::TempDir,
}

impl Harness {
    /// The harness of `case` on `backend`; `None` (the test is skipped) when
    /// the backend is not available, unless `SE2_TEST_REQUIRE_SERVERS` is set.
    pub fn new(backend: Option<Backend>, backend_name: &str, case: &str) -> Option<Harness> {
        let name = format!("{backend_name}_{case}");
        if let Some(backend) = &backend {
            assert_eq!(backend.name, backend_name, "a backend is named as its constructor");
        }
        let Some(backend) = backend else {
            if servers::required(backend_name) {
                panic!("{name}: backend {backend_name} is not configured but SE2_TEST_REQUIRE_SERVERS is set");
            }
            eprintln!("{name}: skipped, backend {backend_name} is not configured");
            return None;
        };
        let scratch =
            tempfile::Builder::new().prefix(&format!("se2-{name}-scratch-")).tempdir().expect("a temp directory");
        Some(Harness { backend, name, roots: AtomicUsize::new(0), scratch })
    }

    /// A fresh, empty root of the backend, named for this test alone.
    pub fn root(&self) -> TestRoot {
        let n = self.roots.fetch_add(1, Ordering::Relaxed);
        self.backend.root(&format!("{}-{n}", self.name))
    }

    /// A root URL of the backend that does not exist.
    pub fn missing_root(&self) -> String {
        let missing = self.backend.missing_root.as_ref().expect("the backend names missing roots");
        missing(&format!("{}-missing", self.name))
    }

    /// A path for a local file of this test (a `--report FILE`).
    pub fn scratch(&self, file: &str) -> PathBuf {
        self.scratch.path().join(file)
    }

    /// Runs `se2 ARGS...` and returns its exit code and output.
    pub async fn se2(&self, args: &[&str]) -> Output {
        match self.backend.runner {
            Runner::Library => {
                let mut stdout = Vec::new();
                let code = se2::cli::run(std::iter::once("se2").chain(args.iter().copied()), &mut stdout).await;
                Output { args: strings(args), code: code.into(), stdout: utf8(stdout), stderr: None }
            }
            Runner::Binary => se2_binary(&self.backend.env, None, args).await,
        }
    }

    /// Runs the binary as `se2 ARGS...` in directory `cwd` (relative roots).
    pub async fn se2_in(&self, cwd: &std::path::Path, args: &[&str]) -> Output {
        assert_eq!(self.backend.runner, Runner::Binary, "only a child process has a directory of its own");
        se2_binary(&self.backend.env, Some(cwd), args).await
    }

    /// Runs `se2 migrate ROOT EXTRA...`.
    pub async fn migrate(&self, root: &TestRoot, extra: &[&str]) -> Output {
        let mut args = vec!["migrate", root.url.as_str()];
        args.extend_from_slice(extra);
        self.se2(&args).await
    }

    /// Runs `se2 migrate ROOT --json EXTRA...`, expects `code`, and returns the account.
    pub async fn migrate_json(&self, root: &TestRoot, extra: &[&str], code: i32) -> Value {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let output = self.migrate(root, &args).await;
        output.expect_code(code);
        output.json()
    }
}

/// Variables of the clouds' own prefixes, which se2 reads: a child gets
/// only those its backend sets, none from the environment of the tests.
const STORE_VARIABLES: [&str; 4] = ["AWS_", "GOOGLE_", "AZURE_", "AZURITE_"];

/// The built binary as `se2 ARGS...`, with the store variables `env` only.
pub fn se2_command(env: &[(String, String)], args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_se2"));
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| STORE_VARIABLES.iter().any(|p| n.starts_with(p))) {
            command.env_remove(name);
        }
    }
    command.args(args).envs(env.iter().map(|(k, v)| (k, v))).stdin(std::process::Stdio::null());
    command
}

/// Runs the built binary as `se2 ARGS...` with `env`, in `cwd` if given.
pub async fn se2_binary(env: &[(String, String)], cwd: Option<&std::path::Path>, args: &[&str]) -> Output {
    let mut command = se2_command(env, args);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let output = command.output().await.expect("the se2 binary runs");
    let code = output.status.code().expect("se2 exits, not killed by a signal");
    Output { args: strings(args), code, stdout: utf8(output.stdout), stderr: Some(utf8(output.stderr)) }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("se2 prints UTF-8")
}

/// What one run of `se2` did.
#[derive(Debug)]
pub struct Output {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    /// Captured for the binary; `None` when run through the library.
    pub stderr: Option<String>,
}

impl Output {
    /// Asserts the exit code, showing the whole run when it differs.
    pub fn expect_code(&self, code: i32) -> &Output {
        assert_eq!(self.code, code, "se2 {:?} exited {}, not {code}:\n{self:#?}", self.args, self.code);
        self
    }

    /// stdout as the one JSON document it must be (nothing before or after it).
    pub fn json(&self) -> Value {
        let mut documents = serde_json::Deserializer::from_str(&self.stdout).into_iter::<Value>();
        let document = match documents.next() {
            Some(Ok(document)) => document,
            other => panic!("stdout of se2 {:?} is not a JSON document ({other:?}):\n{}", self.args, self.stdout),
        };
        let rest = documents.next();
        assert!(rest.is_none(), "stdout of se2 {:?} holds more than one JSON document:\n{}", self.args, self.stdout);
        document
    }
}

/// One object as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub size: u64,
    pub e_tag: Option<String>,
    pub version: Option<String>,
    pub last_modified: String,
}

/// Every object of a root, by key.
pub type Listing = BTreeMap<String, Listed>;

/// Every object of a root with its bytes, to compare before and after a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub objects: BTreeMap<String, (Listed, Vec<u8>)>,
}

fn path(key: &str) -> Path {
    Path::parse(key).unwrap_or_else(|e| panic!("{key} is not a valid key: {e}"))
}

impl TestRoot {
    pub async fn put(&self, key: &str, bytes: impl Into<Vec<u8>>) {
        let bytes: Vec<u8> = bytes.into();
        self.root.store.put(&path(key), bytes.into()).await.unwrap_or_else(|e| panic!("put {key}: {e}"));
    }

    pub async fn delete(&self, key: &str) {
        self.root.store.delete(&path(key)).await.unwrap_or_else(|e| panic!("delete {key}: {e}"));
    }

    /// Puts every file of `tree`, in key order.
    pub async fn seed(&self, tree: &Tree) {
        for (key, bytes) in &tree.files {
            self.put(key, bytes.clone()).await;
        }
    }

    /// Puts every file of `tree`, in reverse key order.
    pub async fn seed_reversed(&self, tree: &Tree) {
        for (key, bytes) in tree.files.iter().rev() {
            self.put(key, bytes.clone()).await;
        }
    }

    pub async fn listing(&self) -> Listing {
        let objects: Vec<_> = self.root.store.list(None).try_collect().await.expect("the root lists");
        objects
            .into_iter()
            .map(|meta| {
                let listed = Listed {
                    size: meta.size,
                    e_tag: meta.e_tag,
                    version: meta.version,
                    last_modified: meta.last_modified.to_rfc3339(),
                };
                (meta.location.to_string(), listed)
            })
            .collect()
    }

    pub async fn keys(&self) -> BTreeSet<String> {
        self.listing().await.into_keys().collect()
    }

    /// Keys that start with `prefix`.
    pub async fn keys_under(&self, prefix: &str) -> BTreeSet<String> {
        self.keys().await.into_iter().filter(|k| k.starts_with(prefix)).collect()
    }

    /// The bytes of `key`, if it exists.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.root.store.get(&path(key)).await {
            Ok(result) => Some(result.bytes().await.expect("an object reads").to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("get {key}: {e}"),
        }
    }

    /// The bytes of `key`, which must exist.
    pub async fn read(&self, key: &str) -> Vec<u8> {
        self.get(key).await.unwrap_or_else(|| panic!("{} holds no {key}", self.url))
    }

    pub async fn json(&self, key: &str) -> Value {
        let bytes = self.read(key).await;
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{key} is not JSON: {e}\n{}", String::from_utf8_lossy(&bytes)))
    }

    pub async fn yaml(&self, key: &str) -> Value {
        let text = String::from_utf8(self.read(key).await).expect("YAML is UTF-8");
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{key} is not YAML: {e}\n{text}"))
    }

    pub async fn snapshot(&self) -> Snapshot {
        let listing = self.listing().await;
        let bytes = self.read_all(listing.keys()).await;
        Snapshot {
            objects: listing.into_iter().zip(bytes).map(|((key, listed), bytes)| (key, (listed, bytes))).collect(),
        }
    }

    /// The bytes of each of `keys`, which must exist, in order; read a few at
    /// once (a server that answers each read late, s3s-fs, is slow otherwise).
    pub async fn read_all(&self, keys: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<Vec<u8>> {
        use futures::StreamExt;
        let reads = keys.into_iter().map(|key| async move { self.read(key.as_ref()).await });
        futures::stream::iter(reads).buffered(16).collect().await
    }

    /// Asserts that every object of `before` is still here, unmodified: same
    /// bytes, and a listing (size, e-tag, version, last-modified) that shows
    /// no rewrite.
    pub async fn assert_holds(&self, before: &Snapshot) {
        let now = self.listing().await;
        for (key, (listed, _)) in &before.objects {
            let found = now.get(key).unwrap_or_else(|| panic!("{key} was deleted from {}", self.url));
            assert_eq!(found, listed, "{key} was rewritten in {}", self.url);
        }
        let read = self.read_all(before.objects.keys()).await;
        for ((key, (_, bytes)), now) in before.objects.iter().zip(read) {
            assert!(now == *bytes, "{key} changed in {}", self.url);
        }
    }

    /// Asserts that the root holds exactly what `before` held, untouched.
    pub async fn assert_unchanged(&self, before: &Snapshot) {
        self.assert_holds(before).await;
        let now = self.keys().await;
        let added: Vec<&String> = now.iter().filter(|k| !before.objects.contains_key(*k)).collect();
        assert!(added.is_empty(), "objects appeared in {}: {added:?}", self.url);
    }
}

impl Harness {
    /// Runs `se2 migrate ROOT --json EXTRA...` on a root seeded with `tree`,
    /// expects `code`, checks that no file of `tree` was modified or
    /// deleted, and returns the account.
    pub async fn migrate_v0(&self, root: &TestRoot, tree: &Tree, extra: &[&str], code: i32) -> Value {
        let before = root.snapshot_of(tree.keys()).await;
        let account = self.migrate_json(root, extra, code).await;
        root.assert_holds(&before).await;
        account
    }
}

impl TestRoot {
    /// The snapshot of the objects `keys` only.
    pub async fn snapshot_of(&self, keys: impl IntoIterator<Item = &str>) -> Snapshot {
        let listing = self.listing().await;
        let keys: Vec<&str> = keys.into_iter().collect();
        let bytes = self.read_all(&keys).await;
        let mut objects = BTreeMap::new();
        for (key, bytes) in keys.into_iter().zip(bytes) {
            let listed = listing.get(key).unwrap_or_else(|| panic!("{} holds no {key}", self.url)).clone();
            objects.insert(key.to_owned(), (listed, bytes));
        }
        Snapshot { objects }
    }

    /// Asserts that every `<dir>/<digest>/<name>.wasm` of the root hashes to its
    /// digest directory's name; returns how many there are.
    pub async fn assert_binaries_match_digests(&self) -> usize {
        let mut found = 0;
        for key in self.keys().await {
            let segments: Vec<&str> = key.split('/').collect();
            let [_, _, name, digest, file] = segments[..] else { continue };
            let is_digest = digest.len() == 64 && digest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if is_digest && file == format!("{name}.wasm") {
                assert_eq!(spec::sha256(&self.read(&key).await), digest, "{key} does not hash to its directory");
                found += 1;
            }
        }
        found
    }
}
