//! SPEC.md §4's exit codes for runs that never start: 2 for a bad command
//! line, 1 for a root that cannot be opened, the root named in the message.

use crate::common::{Harness, spec, tree};

pub async fn bad_command_line_exits_2(h: &Harness) {
    let tree = tree::sample();
    let root = h.root();
    root.seed(&tree).await;
    let before = root.snapshot().await;
    let url = root.url.as_str();
    let cases: [(&[&str], &str); 9] = [
        (&["migrate", url, "--bogus"], "--bogus"),
        (&["migrate", url, "--jobs", "0"], "--jobs"),
        (&["migrate", url, "--jobs", "many"], "--jobs"),
        (&["migrate", url, "--to"], "--to"),
        (&["migrate", url, "another-root"], "another-root"),
        (&["migrate"], "ROOT"),
        (&["inventory"], "ROOT"),
        (&["transmogrify", url], "transmogrify"),
        (&[], "Usage"),
    ];
    for (args, named) in cases {
        let output = h.se2(args).await;
        output.expect_code(2);
        assert_eq!(output.stdout, "", "se2 {args:?} prints its complaint on stderr, not stdout");
        if let Some(stderr) = &output.stderr {
            assert!(stderr.contains(named), "se2 {args:?}: stderr does not name {named}:\n{stderr}");
        }
    }
    root.assert_unchanged(&before).await;
}

pub async fn missing_root_exits_1(h: &Harness) {
    let missing = h.missing_root();
    let dest = h.root();
    for args in [
        &["migrate", &missing][..],
        &["migrate", &missing, "--json"],
        &["migrate", &missing, "--dry-run"],
        &["migrate", &missing, "--to", &dest.url],
        &["inventory", &missing],
        &["inventory", &missing, "--json"],
    ] {
        let output = h.se2(args).await;
        output.expect_code(1);
        assert_eq!(output.stdout, "", "se2 {args:?} prints nothing on stdout when it cannot start");
        let stderr = output.stderr.as_deref().expect("the backend captures stderr");
        assert!(stderr.contains(&missing), "se2 {args:?}: the message does not name the root:\n{stderr}");
    }
    assert!(!std::path::Path::new(&missing).exists() || !missing.starts_with('/'), "a missing ROOT is never created");
    assert_eq!(dest.keys().await.len(), 0, "nothing is written into DEST when ROOT is missing");
}

/// A directory on local disk as `/abs/path`, `file:///abs/path` and `./rel/path`.
pub async fn local_roots_in_every_form(h: &Harness) {
    let tree = tree::sample();
    let (by_url, relative) = (h.root(), h.root());
    by_url.seed(&tree).await;
    relative.seed(&tree).await;

    let url = format!("file://{}", by_url.url);
    let output = h.se2(&["migrate", &url, "--json"]).await;
    output.expect_code(0);
    assert_eq!(output.json()["root"], url);
    assert_eq!(by_url.read(spec::SYSTEM_VERSION).await, b"8");
    assert_eq!(by_url.assert_binaries_match_digests().await, 7);

    let path = std::path::Path::new(&relative.url);
    let (parent, name) = (path.parent().unwrap(), path.file_name().unwrap().to_str().unwrap());
    let rel = format!("./{name}");
    h.se2_in(parent, &["migrate", &rel, "--quiet"]).await.expect_code(0);
    assert_eq!(relative.read(spec::SYSTEM_VERSION).await, b"8");
    for key in by_url.keys().await {
        assert_eq!(relative.read(&key).await, by_url.read(&key).await, "{key}");
    }
    let output = h.se2_in(parent, &["inventory", &rel, "--json"]).await;
    output.expect_code(0);
    assert_eq!(output.json()["totals"]["functions"], 4);
}
