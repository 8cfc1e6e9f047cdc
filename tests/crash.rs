//! Crash safety: `se2 migrate` and `se2 prune` killed with SIGKILL at many
//! moments spread over a run. After each kill: no v0 object changed, no
//! `tenant.json` names a missing binary, no SE2 object lost; a second run
//! completes, ends in exactly the tree of an uninterrupted run, and verifies.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

const SE2: &str = env!("CARGO_BIN_EXE_se2");
const KILLS: u32 = 24;

/// A deterministic pseudo-random v0 root: tenants × functions × versions,
/// 2,400 functions with binaries of 0.5–12.5 KiB (a run takes about a
/// second: many objects, each a few requests), drafts for the languages that keep one.
fn generate(root: &Path) {
    let mut state: u64 = 0x9e3779b97f4a7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let langs =
        [("rust", Some("lib.rs")), ("javascript", Some("lib.js")), ("tinygo", Some("main.go")), ("grain", None)];
    for t in 0..8 {
        let ident = format!("com.crash.t{t}");
        for f in 0..300 {
            let namespace = if f % 3 == 0 { "default" } else { "jobs" };
            let name = format!("fn{f}");
            let (lang, draft) = langs[f % langs.len()];
            let versions = 1 + f % 4;
            let dir = root.join(&ident).join(namespace).join(&name);
            for v in 0..versions {
                let version = format!("v{}.{}.0", v / 2, v % 2 * 10);
                let vdir = dir.join(&version);
                fs::create_dir_all(&vdir).unwrap();
                let size = 512 + (next() % (12 * 1024)) as usize;
                let mut bytes = b"\0asm\x01\0\0\0".to_vec();
                while bytes.len() < size {
                    bytes.extend_from_slice(&next().to_le_bytes());
                }
                fs::write(vdir.join(format!("{name}.wasm")), &bytes).unwrap();
                if let Some(draft) = draft {
                    fs::write(vdir.join(draft), format!("// {ident} {name} {version}\n")).unwrap();
                }
            }
            let current = format!("v{}.{}.0", (versions - 1) / 2, (versions - 1) % 2 * 10);
            let yaml = format!(
                "name: {name}\nnamespace: {namespace}\nlang: {lang}\nversion: {current}\n\
                 fqfn: {ident}#{namespace}::{name}@{current}\ndraftVersion: {current}\napiVersion: 0.4.0\n"
            );
            fs::write(dir.join(".runnable.yaml"), yaml).unwrap();
        }
    }
}

/// Every file under `root`, by path relative to it.
fn files(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                pending.push(path);
            } else {
                files.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    files
}

/// Every file under `root`: relative path → SHA-256 of its bytes.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    files(root)
        .into_iter()
        .map(|key| {
            let digest = se2::plan::hex(&Sha256::digest(fs::read(root.join(&key)).unwrap()));
            (key, digest)
        })
        .collect()
}

/// The keys on which two snapshots differ, for a readable failure.
fn differences(found: &BTreeMap<String, String>, expected: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys: Vec<&String> = found.keys().chain(expected.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| found.get(*k) != expected.get(*k))
        .map(|k| format!("{k}: {:?} instead of {:?}", found.get(k), expected.get(k)))
        .take(20)
        .collect()
}

/// Asserts two snapshots are equal, naming the differing keys.
fn assert_same(found: &BTreeMap<String, String>, expected: &BTreeMap<String, String>, context: &str) {
    let differences = differences(found, expected);
    assert!(differences.is_empty(), "{context}:\n{}", differences.join("\n"));
}

fn copy_tree(from: &Path, to: &Path) {
    for key in files(from) {
        let target = to.join(&key);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(from.join(&key), target).unwrap();
    }
}

fn se2(args: &[&str]) -> i32 {
    let status = Command::new(SE2).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    status.code().expect("se2 exited by itself")
}

/// Runs se2 and kills it with SIGKILL after `delay` (unless it ended first).
fn killed(args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(SE2).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap().is_some();
    if !finished {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    !finished
}

fn timed(args: &[&str]) -> Duration {
    let start = Instant::now();
    assert_eq!(se2(args), 0, "se2 {args:?}");
    start.elapsed()
}

/// The v0 keys of a snapshot: everything inside a version directory, and `.runnable.yaml`.
fn v0_part(files: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    files
        .iter()
        .filter(|(k, _)| k.ends_with(".runnable.yaml") || k.split('/').nth(3).is_some_and(|d| d.starts_with('v')))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// No `tenant.json` under `dest` names a binary that is not there.
fn assert_tenants_complete(dest: &Path, context: &str) {
    for tenant in fs::read_dir(dest).unwrap() {
        let overview = tenant.unwrap().path().join("tenant.json");
        let Ok(text) = fs::read(&overview) else { continue };
        let document: serde_json::Value = serde_json::from_slice(&text)
            .unwrap_or_else(|e| panic!("{context}: {} is not whole JSON: {e}", overview.display()));
        let ident = document["overview"]["identifier"].as_str().unwrap();
        for module in document["overview"]["config"]["modules"].as_array().unwrap() {
            let (ns, name) = (module["namespace"].as_str().unwrap(), module["name"].as_str().unwrap());
            let mut refs = vec![module["ref"].as_str().unwrap()];
            refs.extend(module["revisions"].as_array().unwrap().iter().map(|r| r["ref"].as_str().unwrap()));
            refs.extend(module["draftRef"].as_str());
            for reference in refs {
                let binary = dest.join(ident).join(ns).join(name).join(reference).join(format!("{name}.wasm"));
                assert!(binary.is_file(), "{context}: tenant.json names missing {}", binary.display());
            }
        }
    }
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("se2-crash-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Kills `se2 migrate` (in place, and `--to` another directory) at KILLS moments.
#[test]
fn migrate_survives_sigkill_at_any_moment() {
    let scratch = Scratch::new("migrate");
    let v0 = scratch.0.join("v0");
    generate(&v0);
    let original = snapshot(&v0);

    let in_place = scratch.0.join("reference-in-place");
    copy_tree(&v0, &in_place);
    let in_place_took = timed(&["migrate", path(&in_place), "--jobs", "2"]);
    let in_place_tree = snapshot(&in_place);
    let dest_ref = scratch.0.join("reference-dest");
    let to_took = timed(&["migrate", path(&v0), "--to", path(&dest_ref), "--jobs", "2"]);
    let to_tree = snapshot(&dest_ref);
    assert_same(&snapshot(&v0), &original, "an uninterrupted --to run changed the v0 root");

    let mut kills = 0;
    for i in 0..KILLS {
        let to = i % 2 == 1;
        let took = if to { to_took } else { in_place_took };
        let delay = took.mul_f64((f64::from(i / 2) + 0.5) / f64::from(KILLS / 2));
        let work = scratch.0.join(format!("run{i}"));
        let dest = scratch.0.join(format!("dest{i}"));
        copy_tree(&v0, &work);
        let args: Vec<&str> = if to {
            vec!["migrate", path(&work), "--to", path(&dest), "--jobs", "2"]
        } else {
            vec!["migrate", path(&work), "--jobs", "2"]
        };
        kills += u32::from(killed(&args, delay));
        let context = format!("kill {i} after {delay:?}");
        assert_same(&v0_part(&snapshot(&work)), &original, &format!("{context}: a v0 object changed"));
        let target = if to { &dest } else { &work };
        if target.exists() {
            assert_tenants_complete(target, &context);
        }
        assert_eq!(se2(&args), 0, "{context}: the second run failed");
        let (tree, expected) = if to { (snapshot(&dest), &to_tree) } else { (snapshot(&work), &in_place_tree) };
        assert_same(&tree, expected, &format!("{context}: the completed tree differs from an uninterrupted run's"));
        let verify: Vec<&str> =
            if to { vec!["verify", path(&work), "--to", path(&dest)] } else { vec!["verify", path(&work)] };
        assert_eq!(se2(&verify), 0, "{context}: verify failed");
        let _ = fs::remove_dir_all(&work);
        let _ = fs::remove_dir_all(&dest);
    }
    eprintln!(
        "migrate: {kills} of {KILLS} runs killed midway (runs took {in_place_took:?} in place, {to_took:?} with --to)"
    );
    assert!(kills >= KILLS * 3 / 4, "only {kills} kills landed midway; the root is too small to test");
}

/// Kills `se2 prune --yes` at KILLS moments: no function ever loses both its
/// v0 and its SE2 objects, and a second prune finishes the job.
#[test]
fn prune_survives_sigkill_at_any_moment() {
    let scratch = Scratch::new("prune");
    let migrated = scratch.0.join("migrated");
    generate(&migrated);
    assert_eq!(se2(&["migrate", path(&migrated)]), 0);
    let before = snapshot(&migrated);
    let v0 = v0_part(&before);
    let se2_part: BTreeMap<String, String> =
        before.iter().filter(|(k, _)| !v0.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();

    // The shortest of two runs, so that kills land before the end.
    let mut took = Duration::MAX;
    for attempt in 0..2 {
        let reference = scratch.0.join(format!("reference{attempt}"));
        copy_tree(&migrated, &reference);
        took = took.min(timed(&["prune", path(&reference), "--yes"]));
        assert_same(&snapshot(&reference), &se2_part, "prune left v0 objects or touched SE2 ones");
    }

    let mut kills = 0;
    for i in 0..KILLS {
        // Half the kills spread over the whole run, half over its last
        // third, where the deletes happen (verification comes first).
        let spread = (f64::from(i / 2) + 0.5) / f64::from(KILLS / 2);
        let delay = took.mul_f64(if i % 2 == 0 { spread } else { 2.0 / 3.0 + spread / 3.0 });
        let work = scratch.0.join(format!("run{i}"));
        copy_tree(&migrated, &work);
        let args = ["prune", path(&work), "--yes"];
        kills += u32::from(killed(&args, delay));
        let context = format!("kill {i} after {delay:?}");
        let now = snapshot(&work);
        for (key, digest) in &se2_part {
            assert_eq!(now.get(key), Some(digest), "{context}: SE2 object {key} lost or changed");
        }
        for (key, digest) in now.iter().filter(|(k, _)| v0.contains_key(*k)) {
            assert_eq!(&v0[key], digest, "{context}: v0 object {key} changed");
        }
        assert_eq!(se2(&args), 0, "{context}: the second prune failed");
        assert_same(&snapshot(&work), &se2_part, &format!("{context}: the second prune did not finish the job"));
        assert_eq!(se2(&["verify", path(&work)]), 0, "{context}: verify failed after prune");
        let _ = fs::remove_dir_all(&work);
    }
    eprintln!("prune: {kills} of {KILLS} runs killed midway (a run took {took:?})");
    assert!(kills >= KILLS / 2, "only {kills} kills landed midway");
}
