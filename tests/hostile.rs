//! Hostile input (issue 4, "Hostile input (prove it)"): a corpus of bad v0
//! roots on local disk, each with its expected outcome: a function rejected
//! (exit 3, named in the `--json` report's `rejections` with its reason), a
//! key warned about (in `warnings`), or exit 1 with the key on stderr. Every
//! run is the built binary under a hard timeout and a memory ceiling, and
//! must not panic; every migrate checks that no v0 object (file or link)
//! changed. Links are never followed: each is a warning.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// A run that takes longer is a hang: killed, and the test fails.
const TIMEOUT: Duration = Duration::from_secs(30);
/// A run whose peak resident set grows past this is killed, and the test fails.
const MEMORY_LIMIT_KIB: u64 = 512 << 10;
/// The SHA-256 of no bytes.
const EMPTY_DIGEST: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How one run of the binary ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    peak_kib: u64,
    elapsed: Duration,
}

/// The peak resident set of a running process, in KiB (0 once it is gone).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Runs se2 (as `nobody` when `unprivileged`) under the timeout and the memory ceiling.
fn se2(args: &[&OsStr], unprivileged: bool) -> Run {
    let binary = env!("CARGO_BIN_EXE_se2");
    let mut command = if unprivileged {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", binary]);
        command
    } else {
        Command::new(binary)
    };
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("se2 starts");
    let pid = child.id();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for se2") {
            break status;
        }
        peak = peak.max(peak_kib(pid));
        let over = if peak > MEMORY_LIMIT_KIB {
            Some(format!("its peak resident set reached {peak} KiB"))
        } else if started.elapsed() > TIMEOUT {
            Some(format!("it ran for more than {TIMEOUT:?}"))
        } else {
            None
        };
        if let Some(why) = over {
            let _ = child.kill();
            let _ = child.wait();
            panic!("se2 {args:?} was killed: {why}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let run = Run {
        code: status.code().unwrap_or_else(|| panic!("se2 {args:?} died of a signal: {status:?}")),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        peak_kib: peak,
        elapsed: started.elapsed(),
    };
    assert!(!run.stderr.contains("panicked"), "se2 {args:?} panicked:\n{}", run.stderr);
    assert!([0, 1, 3].contains(&run.code), "se2 {args:?} exited {}:\n{}", run.code, run.stderr);
    run
}

/// One node of a tree on disk, never following links.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    File(String),
    Link(PathBuf),
    Dir,
    Other,
}

/// Every node under `dir`, by path relative to it.
fn nodes(dir: &Path) -> BTreeMap<PathBuf, Node> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
            let node = if kind.is_symlink() {
                Node::Link(std::fs::read_link(&path).unwrap())
            } else if kind.is_dir() {
                pending.push(path.clone());
                Node::Dir
            } else if kind.is_file() {
                std::fs::read(&path).map_or(Node::Other, |bytes| Node::File(sha256(&bytes)))
            } else {
                Node::Other
            };
            found.insert(path.strip_prefix(dir).unwrap().to_owned(), node);
        }
    }
    found
}

/// True for what se2 itself writes (and may rewrite): `system/`, `tenant.json`,
/// `.module.yaml` and digest directories.
fn is_se2(path: &Path) -> bool {
    let parts: Vec<&[u8]> = path.iter().map(OsStr::as_bytes).collect();
    let digest = |part: &[u8]| part.len() == 64 && part.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    parts.first() == Some(&b"system".as_slice())
        || (parts.len() == 2 && parts[1] == b"tenant.json")
        || (parts.len() == 4 && parts[3] == b".module.yaml")
        || (parts.len() >= 4 && digest(parts[3]))
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A v0 root in a temp directory, built file by file.
struct Root {
    dir: tempfile::TempDir,
    /// Hostile inputs planted, for the closing count.
    inputs: usize,
}

impl Root {
    fn new() -> Root {
        Root { dir: tempfile::tempdir().unwrap(), inputs: 0 }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The path of `key`, which may be any bytes.
    fn at(&self, key: impl AsRef<[u8]>) -> PathBuf {
        self.path().join(OsStr::from_bytes(key.as_ref()))
    }

    fn file(&self, key: impl AsRef<[u8]>, bytes: impl AsRef<[u8]>) {
        let path = self.at(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn link(&self, key: &str, target: impl AsRef<Path>) {
        let path = self.at(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    /// A function `<ident>/<ns>/<name>` with a binary per version; the last is current.
    fn function(&self, ident: &str, ns: &str, name: &str, versions: &[&str]) {
        let current = versions.last().unwrap();
        self.file(format!("{ident}/{ns}/{name}/.runnable.yaml"), runnable(ident, ns, name, current, ""));
        for v in versions {
            self.file(format!("{ident}/{ns}/{name}/{v}/{name}.wasm"), format!("binary of {ident}/{ns}/{name}@{v}"));
        }
    }

    /// A function `t/ns/<name>` with one binary, whose `.runnable.yaml` is `yaml`.
    fn with_yaml(&mut self, name: &str, yaml: impl AsRef<[u8]>) {
        self.file(format!("t/ns/{name}/.runnable.yaml"), yaml);
        self.file(format!("t/ns/{name}/v1.0.0/{name}.wasm"), format!("binary of {name}"));
        self.inputs += 1;
    }

    /// Runs `se2 migrate ROOT --json [extra]`, checking that no v0 node changed;
    /// returns the run and its report (none when it failed).
    fn migrate(&self, extra: &[&OsStr], unprivileged: bool) -> (Run, Option<Value>) {
        let before = nodes(self.path());
        let mut args = vec![OsStr::new("migrate"), self.path().as_os_str(), OsStr::new("--json")];
        args.extend_from_slice(extra);
        let run = se2(&args, unprivileged);
        let after = nodes(self.path());
        for (path, node) in before.iter().filter(|(path, _)| !is_se2(path)) {
            assert_eq!(after.get(path), Some(node), "migrate changed the v0 node {}", path.display());
        }
        let report = (run.code != 1).then(|| serde_json::from_str(&run.stdout).expect("a JSON report"));
        (run, report)
    }

    fn verify(&self, unprivileged: bool) -> Run {
        se2(&[OsStr::new("verify"), self.path().as_os_str()], unprivileged)
    }
}

fn runnable(ident: &str, ns: &str, name: &str, version: &str, extra: &str) -> String {
    format!(
        "name: {name}\nnamespace: {ns}\nlang: rust\nversion: {version}\nfqfn: {ident}#{ns}::{name}@{version}\n{extra}"
    )
}

/// The `.runnable.yaml` of `t/ns/<name>`, with `field` set to `value` (added when absent).
fn yaml_with(name: &str, field: &str, value: &str) -> String {
    let mut lines: Vec<String> = runnable("t", "ns", name, "v1.0.0", "").lines().map(str::to_owned).collect();
    match lines.iter_mut().find(|l| l.starts_with(&format!("{field}:"))) {
        Some(line) => *line = format!("{field}: {value}"),
        None => lines.push(format!("{field}: {value}")),
    }
    lines.join("\n") + "\n"
}

fn problems<'a>(report: &'a Value, list: &str) -> impl Iterator<Item = &'a Value> {
    report[list].as_array().expect("a list of problems").iter()
}

/// Asserts that function `function` was rejected with a reason holding `reason`, and that nothing of it was written.
#[track_caller]
fn assert_rejected(root: &Root, report: &Value, function: &str, reason: &str) {
    let found = problems(report, "rejections").find(|r| r["function"] == function);
    let found = found.unwrap_or_else(|| panic!("{function} is not rejected: {:#}", report["rejections"]));
    let why = found["reason"].as_str().unwrap();
    assert!(why.contains(reason), "{function} is rejected for {why:?}, not {reason:?}");
    assert!(!root.at(format!("{function}/.module.yaml")).exists(), "{function} was rejected but written");
}

/// Asserts that `key` was warned about with a reason holding `reason`.
#[track_caller]
fn assert_warned(report: &Value, key: impl AsRef<str>, reason: &str) {
    let key = key.as_ref();
    let found = problems(report, "warnings").find(|w| w["key"] == key);
    let found = found.unwrap_or_else(|| panic!("no warning names {key}: {:#}", report["warnings"]));
    let why = found["reason"].as_str().unwrap();
    assert!(why.contains(reason), "{key} is warned about for {why:?}, not {reason:?}");
}

/// Asserts that `function` was migrated: its `.module.yaml` is there.
#[track_caller]
fn assert_migrated(root: &Root, function: &str) {
    assert!(root.at(format!("{function}/.module.yaml")).is_file(), "{function} was not migrated");
}

/// Migrates a root of functions that must each be rejected; `t/ns/good` must migrate.
fn assert_all_rejected(root: Root, cases: &[(&str, &str)], what: &str) {
    root.function("t", "ns", "good", &["v1.0.0"]);
    let (run, report) = root.migrate(&[], false);
    let report = report.unwrap_or_else(|| panic!("{what}: exit {}: {}", run.code, run.stderr));
    assert_eq!(run.code, 3, "{what}: {}", run.stderr);
    for (name, reason) in cases {
        assert_rejected(&root, &report, &format!("t/ns/{name}"), reason);
    }
    assert_migrated(&root, "t/ns/good");
    assert_eq!(report["rejections"].as_array().unwrap().len(), cases.len(), "{what}: {:#}", report["rejections"]);
    eprintln!(
        "hostile: {what}: {} inputs, all rejected by name; exit 3 in {:?}, peak {} KiB",
        root.inputs, run.elapsed, run.peak_kib
    );
}

#[test]
fn malformed_yaml_is_rejected() {
    let mut root = Root::new();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unclosed", b"name: [unclosed\n".to_vec()),
        ("tab", b"name:\tx\n\tnamespace: ns\n".to_vec()),
        ("quote", b"name: \"unclosed\n".to_vec()),
        ("duplicate", format!("{}name: other\n", runnable("t", "ns", "duplicate", "v1.0.0", "")).into_bytes()),
        ("garbage", b"\xff\xfe\x00\x01".to_vec()),
        ("nul", yaml_with("nul", "lang", "ru\0st").into_bytes()),
        ("empty", Vec::new()),
        ("marker", b"---\n".to_vec()),
        ("documents", format!("{0}---\n{0}", runnable("t", "ns", "documents", "v1.0.0", "")).into_bytes()),
        ("missing", b"name: missing\nnamespace: ns\n".to_vec()),
        ("scalar", b"just a string\n".to_vec()),
        ("list", b"- name\n- ns\n".to_vec()),
        ("bom", [b"\xef\xbb\xbf\xef\xbb\xbf".as_slice(), b"name: [".as_slice()].concat()),
    ];
    for (name, yaml) in &cases {
        root.with_yaml(name, yaml);
    }
    let expected: Vec<(&str, &str)> = cases.iter().map(|(name, _)| (*name, "does not parse")).collect();
    assert_all_rejected(root, &expected, "malformed yaml");
}

#[test]
fn yaml_of_the_wrong_types_is_rejected() {
    let mut root = Root::new();
    let cases = [
        ("version10", "version", "1.0", "disagrees with the yaml version"),
        ("versiontrue", "version", "true", "disagrees with the yaml version"),
        ("namelist", "name", "[a]", "does not parse"),
        ("namemap", "name", "{a: 1}", "does not parse"),
        ("langmap", "lang", "{x: 1}", "does not parse"),
        ("fqfnnull", "fqfn", "~", "does not parse"),
        ("fqfnint", "fqfn", "12", "malformed fqfn"),
        ("draftlist", "draftVersion", "[v1.0.0]", "does not parse"),
        ("apimap", "apiVersion", "{a: b}", "does not parse"),
        ("binaryname", "name", "!!binary aGVsbG8=", "disagrees with the yaml name"),
        ("namespacelist", "namespace", "[ns]", "does not parse"),
    ];
    for (name, field, value, _) in cases {
        root.with_yaml(name, yaml_with(name, field, value));
    }
    // Scalars of another type are read as their text: these migrate.
    root.with_yaml("langint", yaml_with("langint", "lang", "5"));
    root.with_yaml("apifloat", yaml_with("apifloat", "apiVersion", "0.4"));
    root.function("t", "ns", "good", &["v1.0.0"]);
    let (run, report) = root.migrate(&[], false);
    let report = report.expect("a report");
    assert_eq!(run.code, 3);
    for (name, _, _, reason) in cases {
        assert_rejected(&root, &report, &format!("t/ns/{name}"), reason);
    }
    assert_eq!(report["rejections"].as_array().unwrap().len(), cases.len());
    for name in ["langint", "apifloat", "good"] {
        assert_migrated(&root, &format!("t/ns/{name}"));
    }
    let module = std::fs::read_to_string(root.at("t/ns/apifloat/.module.yaml")).unwrap();
    assert!(module.contains("apiVersion: '0.4'") || module.contains("apiVersion: \"0.4\""), "{module}");
    eprintln!("hostile: wrong types: {} inputs: {} rejected, 2 read as text and migrated", root.inputs, cases.len());
}

/// `a` holds 9 strings, each next level 9 aliases of the one before: 9^9 strings if expanded.
fn billion_laughs() -> String {
    let mut text = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let levels = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in levels.windows(2) {
        text += &format!("{}: &{} [{}]\n", pair[1], pair[1], vec![format!("*{}", pair[0]); 9].join(","));
    }
    text
}

#[test]
fn alias_bombs_are_rejected_in_bounded_memory() {
    let mut root = Root::new();
    root.with_yaml("laughs", billion_laughs() + &runnable("t", "ns", "laughs", "v1.0.0", ""));
    root.with_yaml("laughsname", billion_laughs() + &yaml_with("laughsname", "name", "*i"));
    // One 400 KiB string aliased a thousand times: 400 MiB if copied.
    let big = format!("a: &a \"{}\"\n", "x".repeat(400 << 10));
    let aliases = vec!["*a"; 1000].join(",");
    root.with_yaml("quadratic", format!("{big}b: [{aliases}]\n{}", runnable("t", "ns", "quadratic", "v1.0.0", "")));
    root.with_yaml("quadraticname", format!("{big}{}", yaml_with("quadraticname", "name", &format!("[{aliases}]"))));
    // An anchor used as a field: a string, so allowed, but it disagrees with the fqfn.
    root.with_yaml("aliasname", format!("{big}{}", yaml_with("aliasname", "name", "*a")));
    let expected = [
        ("laughs", "budget breached"),
        ("laughsname", "budget breached"),
        ("quadratic", "budget breached"),
        ("quadraticname", "does not parse"),
        ("aliasname", "disagrees with the yaml name"),
    ];
    assert_all_rejected(root, &expected, "alias bombs");
}

#[test]
fn very_large_and_very_deep_yaml_is_rejected() {
    let mut root = Root::new();
    let over = runnable("t", "ns", "over", "v1.0.0", "") + "#" + &"x".repeat(1 << 20) + "\n";
    root.with_yaml("over", over);
    root.with_yaml("flow", format!("name: {}\n", "[".repeat(100_000)));
    root.with_yaml("flowclosed", yaml_with("flowclosed", "x", &("[".repeat(100_000) + &"]".repeat(100_000))));
    root.with_yaml("maps", format!("name: {}\n", "{a: ".repeat(100_000)));
    let block: String = (1..=900).map(|depth| format!("{}a:\n", "  ".repeat(depth))).collect();
    root.with_yaml("block", runnable("t", "ns", "block", "v1.0.0", "") + "extra:\n" + &block);
    let long_line = yaml_with("longline", "x", &"y".repeat(900 << 10));
    root.with_yaml("longline", long_line);
    // Exactly the limit is read, and migrates.
    let mut under = runnable("t", "ns", "under", "v1.0.0", "") + "#";
    under += &"x".repeat((1 << 20) - under.len() - 1);
    under += "\n";
    assert_eq!(under.len(), 1 << 20);
    root.with_yaml("under", under);
    root.function("t", "ns", "good", &["v1.0.0"]);

    let (run, report) = root.migrate(&[], false);
    let report = report.expect("a report");
    assert_eq!(run.code, 3);
    assert_rejected(&root, &report, "t/ns/over", "too large");
    for name in ["flow", "flowclosed", "maps", "block"] {
        assert_rejected(&root, &report, &format!("t/ns/{name}"), "does not parse");
    }
    for name in ["under", "longline", "good"] {
        assert_migrated(&root, &format!("t/ns/{name}"));
    }
    eprintln!(
        "hostile: large and deep yaml: {} inputs: 5 rejected, 2 migrated; {:?}, peak {} KiB",
        root.inputs, run.elapsed, run.peak_kib
    );
}

#[test]
fn a_runnable_yaml_that_is_not_a_file_is_rejected() {
    let mut root = Root::new();
    root.file("t/ns/dir/.runnable.yaml/inside", runnable("t", "ns", "dir", "v1.0.0", ""));
    root.file("t/ns/dir/v1.0.0/dir.wasm", "binary");
    std::fs::create_dir_all(root.at("t/ns/emptydir/.runnable.yaml")).unwrap();
    root.file("t/ns/emptydir/v1.0.0/emptydir.wasm", "binary");
    // A fifo: reading it would block for ever.
    root.file("t/ns/fifo/v1.0.0/fifo.wasm", "binary");
    assert!(Command::new("mkfifo").arg(root.at("t/ns/fifo/.runnable.yaml")).status().unwrap().success());
    root.inputs += 3;
    root.function("t", "ns", "good", &["v1.0.0"]);
    let (run, report) = root.migrate(&[], false);
    let report = report.expect("a report");
    assert_eq!(run.code, 3);
    for name in ["dir", "emptydir", "fifo"] {
        assert_rejected(&root, &report, &format!("t/ns/{name}"), "missing: without a .runnable.yaml");
    }
    assert_warned(&report, "t/ns/fifo/.runnable.yaml", "not a regular file");
    assert_migrated(&root, "t/ns/good");
    eprintln!("hostile: .runnable.yaml not a file: {} inputs, all rejected", root.inputs);
}

#[test]
fn malformed_fqfns_are_rejected() {
    let mut root = Root::new();
    let cases = [
        ("nohash", "t-ns::nohash@v1.0.0", "no '#'"),
        ("nocolons", "t#ns:nocolons@v1.0.0", "no '::'"),
        ("noat", "t#ns::noat-v1.0.0", "no '@'"),
        ("emptyident", "'#ns::emptyident@v1.0.0'", "empty identifier"),
        ("emptyns", "t#::emptyns@v1.0.0", "empty namespace"),
        ("emptyname", "t#ns::@v1.0.0", "empty name"),
        ("emptyversion", "t#ns::emptyversion@", "is not v<MAJOR>"),
        ("twohashes", "t#x#ns::twohashes@v1.0.0", "extra separator"),
        ("twocolons", "t#ns::x::twocolons@v1.0.0", "extra separator"),
        ("twoats", "t#ns::twoats@v1.0.0@v1.0.0", "is not v<MAJOR>"),
        ("slash", "t#ns::sl/ash@v1.0.0", "extra separator"),
        ("spaces", "' t#ns::spaces@v1.0.0 '", "malformed fqfn"),
        ("empty", "''", "no '#'"),
        ("othertenant", "u#ns::othertenant@v1.0.0", "the key path's tenant"),
        ("otherversion", "t#ns::otherversion@v2.0.0", "disagrees with the yaml version"),
    ];
    for (name, fqfn, _) in cases {
        root.with_yaml(name, yaml_with(name, "fqfn", fqfn));
    }
    // A name with a separator in it cannot have a well-formed fqfn at all.
    root.function("t", "ns", "c#d", &["v1.0.0"]);
    root.inputs += 1;
    let mut expected: Vec<(&str, &str)> = cases.iter().map(|(name, _, why)| (*name, *why)).collect();
    expected.push(("c#d", "extra separator in name"));
    assert_all_rejected(root, &expected, "malformed fqfns");
}

#[test]
fn versions_that_are_not_semver_are_warned_or_rejected() {
    let mut root = Root::new();
    root.function("t", "ns", "dirs", &["v1.0.0"]);
    let odd = ["v1.0", "1.0.0", "v01.0.0", "v1.0.0-beta", "V1.0.0", "v1.0.0.0", "v1.0.x", "v99999999999999999999.0.0"];
    for version in odd {
        root.file(format!("t/ns/dirs/{version}/dirs.wasm"), version);
        root.inputs += 1;
    }
    for (name, version) in
        [("yaml10", "v1.0"), ("yamlbare", "1.0.0"), ("yamlzero", "v01.0.0"), ("yamlbeta", "v1.0.0-beta")]
    {
        root.file(format!("t/ns/{name}/.runnable.yaml"), runnable("t", "ns", name, version, ""));
        root.file(format!("t/ns/{name}/{version}/{name}.wasm"), "binary");
        root.inputs += 1;
    }
    let (run, report) = root.migrate(&[], false);
    let report = report.expect("a report");
    assert_eq!(run.code, 3);
    for version in odd {
        assert_warned(&report, format!("t/ns/dirs/{version}/dirs.wasm"), "matches nothing");
    }
    assert_migrated(&root, "t/ns/dirs");
    for name in ["yaml10", "yamlbare", "yamlzero", "yamlbeta"] {
        assert_rejected(&root, &report, &format!("t/ns/{name}"), "is not v<MAJOR>.<MINOR>.<PATCH>");
    }
    eprintln!("hostile: non-semver versions: {} inputs: {} warned, 4 rejected", root.inputs, odd.len());
}

#[test]
fn keys_with_spaces_percent_plus_hash_and_non_ascii_migrate_and_verify() {
    let mut root = Root::new();
    let functions = [
        ("com.acme+x", "ná mespace", "a%2Fb c+d é日本"),
        ("t", "ns", "pct%41%"),
        ("t", "ns", "plus+sign"),
        ("t", "ns", "space name"),
        ("t", "ns", "ünïcödé"),
        ("t", "ns", "emoji🦀"),
        ("t", "ns", "dots..."),
        ("t", "ns", "a&b=c?d"),
        ("t", "default", "x*y[z]{w}"),
    ];
    for (ident, ns, name) in functions {
        root.function(ident, ns, name, &["v1.0.0", "v2.0.0"]);
        root.file(format!("{ident}/{ns}/{name}/v2.0.0/lib.rs"), format!("draft of {name}"));
        root.inputs += 1;
    }
    root.file("t/ns/plus+sign/notes#1.txt", "a file that matches nothing");
    root.inputs += 1;
    let (run, report) = root.migrate(&[], false);
    let report = report.unwrap_or_else(|| panic!("{}", run.stderr));
    assert_eq!(run.code, 0, "{:#}", report["rejections"]);
    assert_warned(&report, "t/ns/plus+sign/notes#1.txt", "matches nothing");
    for (ident, ns, name) in functions {
        // Written under the raw names, never decoded or re-encoded.
        let dir = format!("{ident}/{ns}/{name}");
        assert_migrated(&root, &dir);
        let digest = sha256(format!("binary of {dir}@v2.0.0").as_bytes());
        assert!(root.at(format!("{dir}/{digest}/{name}.wasm")).is_file(), "{dir}: no binary");
        assert!(root.at(format!("{dir}/{digest}/lib.rs")).is_file(), "{dir}: no draft");
        let tenant = std::fs::read_to_string(root.at(format!("{ident}/tenant.json"))).unwrap();
        assert!(tenant.contains(&format!("\"name\": \"{name}\"")), "{ident}/tenant.json lacks {name}");
    }
    assert!(!root.at("com.acme+x/ná mespace/a").exists(), "a %2F was decoded into a directory");
    let verify = root.verify(false);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    eprintln!("hostile: odd characters in keys: {} inputs, all migrated and verified", root.inputs);
}

#[test]
fn names_that_are_not_utf8_are_rejected_by_name() {
    let mut root = Root::new();
    root.function("t", "ns", "inside", &["v1.0.0"]);
    root.file(b"t/ns/inside/v1.0.0/notes\xff.txt", "x");
    root.file(b"t/ns/bad\xfe/v1.0.0/bad.wasm", "x");
    root.file(b"t\xfd/ns/f/v1.0.0/f.wasm", "x");
    root.inputs += 3;
    root.function("t", "ns", "good", &["v1.0.0"]);
    let (run, report) = root.migrate(&[], false);
    let report = report.expect("a report");
    assert_eq!(run.code, 3);
    assert_rejected(&root, &report, "t/ns/inside", "not UTF-8");
    assert_rejected(&root, &report, "t/ns/bad\u{FFFD}", "not UTF-8");
    let tenant = problems(&report, "rejections").find(|r| r["key"] == "t\u{FFFD}");
    assert!(tenant.is_some(), "the tenant directory is not named: {:#}", report["rejections"]);
    let overview = std::fs::read_to_string(root.at("t/tenant.json")).unwrap();
    assert!(!overview.contains("inside"), "a rejected function is in t/tenant.json");
    assert_migrated(&root, "t/ns/good");
    let inventory = se2(&[OsStr::new("inventory"), root.path().as_os_str(), OsStr::new("--json")], false);
    assert_eq!(inventory.code, 3, "inventory does not see what migrate rejects: {}", inventory.stdout);
    let inventory: Value = serde_json::from_str(&inventory.stdout).unwrap();
    assert_eq!(inventory["rejections"].as_array().unwrap().len(), 3, "{:#}", inventory["rejections"]);
    eprintln!("hostile: names not UTF-8: {} inputs, all rejected by name (by migrate and inventory)", root.inputs);
}

#[test]
fn files_named_like_staging_files_are_warned() {
    let mut root = Root::new();
    root.function("t", "ns", "f", &["v1.0.0"]);
    root.file("t/ns/f/v1.0.0/f.wasm#123", "x");
    root.file("t/ns/f/.runnable.yaml#5", "x");
    root.file("t/ns/f/v1.0.0/lib.rs#0", "x");
    // Its only binary is named like a staging file: object_store cannot read it.
    root.file("t/ns/g/.runnable.yaml", runnable("t", "ns", "g", "v1.0.0", ""));
    root.file("t/ns/g/v1.0.0/g.wasm#1", "x");
    root.inputs += 4;
    let (run, report) = root.migrate(&[], false);
    let report = report.expect("a report");
    assert_eq!(run.code, 3);
    for key in
        ["t/ns/f/v1.0.0/f.wasm#123", "t/ns/f/.runnable.yaml#5", "t/ns/f/v1.0.0/lib.rs#0", "t/ns/g/v1.0.0/g.wasm#1"]
    {
        assert_warned(&report, key, "staging file");
    }
    assert_migrated(&root, "t/ns/f");
    assert_rejected(&root, &report, "t/ns/g", "missing: the binary");
    eprintln!("hostile: staging-like names: {} inputs: 4 warned, 1 function rejected", root.inputs);
}

#[test]
fn symlinks_are_never_followed() {
    let mut root = Root::new();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    std::fs::write(&secret, "a secret outside the root").unwrap();
    let secret_digest = sha256(b"a secret outside the root");

    root.function("t", "ns", "links", &["v1.0.0"]);
    root.link("t/ns/links/v2.0.0/links.wasm", "../v1.0.0/links.wasm");
    root.link("t/ns/links/v1.0.0/lib.rs", &secret);
    root.link("t/ns/links/dangling", "/nonexistent/file");
    root.link("t/ns/links/loop1", "loop2");
    root.link("t/ns/links/loop2", "loop1");
    root.link("t/ns/links/v1.0.0/up", "..");
    root.link("t/ns/slash", "/");
    root.link("t/ns/outside", outside.path());
    root.link("t/ns/alias", "links");
    root.link("u", "t");
    // The current version's binary is a link: the function has no binary to migrate.
    root.function("t", "ns", "current", &["v1.0.0"]);
    root.file("t/ns/current/.runnable.yaml", runnable("t", "ns", "current", "v2.0.0", ""));
    root.link("t/ns/current/v2.0.0/current.wasm", "../v1.0.0/current.wasm");
    // So is its .runnable.yaml.
    root.file("t/ns/yaml/v1.0.0/yaml.wasm", "binary");
    root.file("elsewhere.yaml", runnable("t", "ns", "yaml", "v1.0.0", ""));
    root.link("t/ns/yaml/.runnable.yaml", "../../../elsewhere.yaml");
    root.inputs += 13;

    let (run, report) = root.migrate(&[], false);
    let report = report.expect("a report");
    assert_eq!(run.code, 3);
    let links = [
        "t/ns/links/v2.0.0/links.wasm",
        "t/ns/links/v1.0.0/lib.rs",
        "t/ns/links/dangling",
        "t/ns/links/loop1",
        "t/ns/links/loop2",
        "t/ns/links/v1.0.0/up",
        "t/ns/slash",
        "t/ns/outside",
        "t/ns/alias",
        "u",
        "t/ns/current/v2.0.0/current.wasm",
        "t/ns/yaml/.runnable.yaml",
    ];
    for key in links {
        assert_warned(&report, key, "symbolic link");
    }
    assert_migrated(&root, "t/ns/links");
    assert_rejected(&root, &report, "t/ns/current", "missing: the binary of the current version v2.0.0");
    assert_rejected(&root, &report, "t/ns/yaml", "missing: without a .runnable.yaml");
    let writes = report["writes"].as_array().unwrap();
    let through_links = ["u/", "t/ns/alias/", "t/ns/outside/", "t/ns/slash/"];
    let followed = writes
        .iter()
        .filter_map(|w| w["destination"].as_str())
        .find(|d| through_links.iter().any(|l| d.starts_with(l)));
    assert_eq!(followed, None, "a write went through a link");
    // Nothing outside was read into the root, nor changed.
    let inside = nodes(root.path());
    assert!(!inside.values().any(|n| *n == Node::File(secret_digest.clone())), "the secret was copied in");
    assert_eq!(std::fs::read(&secret).unwrap(), b"a secret outside the root");
    assert_eq!(nodes(outside.path()).len(), 1);

    // A root given through a link is the directory it names.
    let via = tempfile::tempdir().unwrap();
    let link = via.path().join("root");
    std::os::unix::fs::symlink(root.path(), &link).unwrap();
    let again = se2(&[OsStr::new("migrate"), link.as_os_str(), OsStr::new("--json")], false);
    assert_eq!(again.code, 3);
    let again: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(again["summary"]["binaries"], 0, "a second run wrote again: {:#}", again["writes"]);
    eprintln!("hostile: symlinks: {} inputs: {} warned, 2 functions rejected, none followed", root.inputs, links.len());
}

#[test]
fn special_files_are_never_opened() {
    let mut root = Root::new();
    root.function("t", "ns", "fifo", &["v1.0.0"]);
    root.file("t/ns/fifo/.runnable.yaml", runnable("t", "ns", "fifo", "v2.0.0", ""));
    std::fs::create_dir_all(root.at("t/ns/fifo/v2.0.0")).unwrap();
    assert!(Command::new("mkfifo").arg(root.at("t/ns/fifo/v2.0.0/fifo.wasm")).status().unwrap().success());
    root.function("t", "ns", "draft", &["v1.0.0"]);
    assert!(Command::new("mkfifo").arg(root.at("t/ns/draft/v1.0.0/lib.rs")).status().unwrap().success());
    let socket = std::os::unix::net::UnixListener::bind(root.at("t/ns/draft/v1.0.0/socket")).unwrap();
    root.inputs += 3;
    let (run, report) = root.migrate(&[], false);
    drop(socket);
    let report = report.expect("a report");
    assert_eq!(run.code, 3);
    assert_warned(&report, "t/ns/fifo/v2.0.0/fifo.wasm", "not a regular file");
    assert_warned(&report, "t/ns/draft/v1.0.0/lib.rs", "not a regular file");
    assert_warned(&report, "t/ns/draft/v1.0.0/socket", "not a regular file");
    assert_rejected(&root, &report, "t/ns/fifo", "missing: the binary of the current version v2.0.0");
    assert_migrated(&root, "t/ns/draft");
    eprintln!("hostile: fifos and sockets: {} inputs: warned, never opened", root.inputs);
}

#[test]
fn zero_byte_binaries_migrate() {
    let mut root = Root::new();
    root.file("t/ns/zero/.runnable.yaml", runnable("t", "ns", "zero", "v2.0.0", "draftVersion: v2.0.0\n"));
    root.file("t/ns/zero/v1.0.0/zero.wasm", "");
    root.file("t/ns/zero/v2.0.0/zero.wasm", "");
    root.file("t/ns/zero/v2.0.0/lib.rs", "");
    root.inputs += 3;
    let (run, report) = root.migrate(&[], false);
    let report = report.expect("a report");
    assert_eq!(run.code, 0, "{report:#}");
    let binary = root.at(format!("t/ns/zero/{EMPTY_DIGEST}/zero.wasm"));
    assert_eq!(std::fs::metadata(&binary).unwrap().len(), 0);
    assert_eq!(std::fs::metadata(root.at(format!("t/ns/zero/{EMPTY_DIGEST}/lib.rs"))).unwrap().len(), 0);
    let module = std::fs::read_to_string(root.at("t/ns/zero/.module.yaml")).unwrap();
    assert!(module.contains(&format!("ref: {EMPTY_DIGEST}")), "{module}");
    assert_eq!(root.verify(false).code, 0);
    eprintln!("hostile: zero-byte files: {} inputs, migrated and verified", root.inputs);
}

#[test]
fn a_function_with_thousands_of_versions_migrates_in_seconds() {
    let mut root = Root::new();
    const VERSIONS: usize = 3000;
    let versions: Vec<String> = (0..VERSIONS).map(|i| format!("v{}.{}.{}", i / 100, i % 100 / 10, i % 10)).collect();
    let refs: Vec<&str> = versions.iter().map(String::as_str).collect();
    root.function("t", "ns", "many", &refs);
    root.inputs += VERSIONS;
    let (run, report) = root.migrate(&[], false);
    let report = report.expect("a report");
    assert_eq!(run.code, 0);
    assert_eq!(report["summary"]["binaries"], VERSIONS);
    assert!(run.elapsed < Duration::from_secs(20), "{VERSIONS} versions took {:?}", run.elapsed);
    let tenant: Value = serde_json::from_slice(&std::fs::read(root.at("t/tenant.json")).unwrap()).unwrap();
    assert_eq!(tenant["overview"]["version"], VERSIONS);
    let verify = root.verify(false);
    assert_eq!(verify.code, 0);
    eprintln!(
        "hostile: {VERSIONS} versions: migrated in {:?} (peak {} KiB), verified in {:?}",
        run.elapsed, run.peak_kib, verify.elapsed
    );
}

#[test]
fn a_large_binary_is_streamed_in_bounded_memory() {
    let mut root = Root::new();
    root.function("t", "ns", "large", &["v1.0.0"]);
    let file = std::fs::File::create(root.at("t/ns/large/v1.0.0/large.wasm")).unwrap();
    file.set_len(256 << 20).unwrap();
    root.inputs += 1;
    let dest = tempfile::tempdir().unwrap();
    let (run, _) = root.migrate(&[OsStr::new("--to"), dest.path().as_os_str()], false);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.peak_kib < 128 << 10, "copying 256 MiB peaked at {} KiB", run.peak_kib);
    let verify =
        se2(&[OsStr::new("verify"), root.path().as_os_str(), OsStr::new("--to"), dest.path().as_os_str()], false);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    eprintln!("hostile: a 256 MiB binary: migrated in {:?} with a peak of {} KiB", run.elapsed, run.peak_kib);
}

/// Makes `path` and everything under it belong to `nobody`.
fn give_to_nobody(path: &Path) {
    std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            give_to_nobody(&entry.unwrap().path());
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// True when tests can run se2 as an unprivileged user (as root, permissions are not enforced).
fn can_drop_privileges() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    root && Command::new("setpriv").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

#[test]
fn unreadable_files_fail_the_run_naming_the_key() {
    if !can_drop_privileges() {
        eprintln!(
            "hostile: SKIPPED unreadable files: needs root and setpriv to run se2 as nobody (faults.rs covers permission denied)"
        );
        return;
    }
    let mut root = Root::new();
    set_mode(root.path(), 0o755);
    root.function("t", "ns", "f", &["v1.0.0", "v2.0.0"]);
    root.file("t/ns/f/v2.0.0/lib.rs", "draft");
    give_to_nobody(root.path());
    let cases: [(&str, &str, u32); 5] = [
        ("t/ns/f/v1.0.0/f.wasm", "t/ns/f/v1.0.0/f.wasm", 0o000),
        ("t/ns/f/v2.0.0/lib.rs", "t/ns/f/v2.0.0/lib.rs", 0o000),
        ("t/ns/f/.runnable.yaml", "t/ns/f/.runnable.yaml", 0o000),
        ("t/ns/f/v2.0.0", "t/ns/f/v2.0.0/", 0o000),
        // Readable, but nothing can be written in the function's directory.
        ("t/ns/f", "t/ns/f/", 0o555),
    ];
    for (path, key, mode) in cases {
        let target = root.at(path);
        let kept = std::fs::metadata(&target).unwrap().permissions().mode();
        set_mode(&target, mode);
        root.inputs += 1;
        let (run, _) = root.migrate(&[], true);
        set_mode(&target, kept);
        assert_eq!(run.code, 1, "{path} mode {mode:o}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(key), "{path}: the error does not name {key}: {}", run.stderr);
        assert!(run.stderr.contains("ermission denied"), "{path}: {}", run.stderr);
        eprintln!("hostile: unreadable {path} (mode {mode:o}): exit 1: {}", run.stderr.trim());
    }
    // With the permissions back, a run completes and verify passes.
    let (run, _) = root.migrate(&[], true);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(root.verify(true).code, 0);
    eprintln!(
        "hostile: permission denied: {} inputs, each exit 1 naming the key; then migrated and verified",
        root.inputs
    );
}
