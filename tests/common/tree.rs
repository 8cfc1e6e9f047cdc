//! v0 trees made by hand: `.runnable.yaml` files, small fake wasm
//! binaries and drafts, keyed as SPEC.md §2 lays them out.

use std::collections::BTreeMap;

/// Files of a storage root, by key.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    pub files: BTreeMap<String, Vec<u8>>,
}

/// `<ident>/<namespace>/<name>` split into its parts.
pub fn parts(dir: &str) -> (&str, &str, &str) {
    let mut parts = dir.split('/');
    let mut next = || parts.next().unwrap_or_else(|| panic!("{dir} is not <ident>/<namespace>/<name>"));
    (next(), next(), next())
}

/// A `.runnable.yaml` of function `dir` at `version`, fqfn included;
/// `extra` lines (`draftVersion: ...`) are appended.
pub fn runnable_yaml(dir: &str, lang: &str, version: &str, extra: &str) -> String {
    let (ident, namespace, name) = parts(dir);
    format!(
        "name: {name}\nnamespace: {namespace}\nlang: {lang}\nversion: {version}\n\
         fqfn: {ident}#{namespace}::{name}@{version}\n{extra}"
    )
}

/// A small fake wasm module: the wasm header, then `tag`.
pub fn wasm(tag: &str) -> Vec<u8> {
    [b"\0asm\x01\0\0\0".as_slice(), tag.as_bytes()].concat()
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    pub fn file(&mut self, key: &str, bytes: impl AsRef<[u8]>) -> &mut Tree {
        self.files.insert(key.to_owned(), bytes.as_ref().to_vec());
        self
    }

    /// `<dir>/.runnable.yaml` naming `version` current.
    pub fn runnable(&mut self, dir: &str, lang: &str, version: &str, extra: &str) -> &mut Tree {
        self.file(&format!("{dir}/.runnable.yaml"), runnable_yaml(dir, lang, version, extra))
    }

    /// `<dir>/<version>/.runnable.yaml`.
    pub fn version_runnable(&mut self, dir: &str, lang: &str, version: &str, extra: &str) -> &mut Tree {
        self.file(&format!("{dir}/{version}/.runnable.yaml"), runnable_yaml(dir, lang, version, extra))
    }

    /// `<dir>/<version>/<name>.wasm`.
    pub fn binary(&mut self, dir: &str, version: &str, bytes: impl AsRef<[u8]>) -> &mut Tree {
        let (_, _, name) = parts(dir);
        self.file(&format!("{dir}/{version}/{name}.wasm"), bytes)
    }

    /// `<dir>/<version>/<file>`.
    pub fn draft(&mut self, dir: &str, version: &str, file: &str, bytes: impl AsRef<[u8]>) -> &mut Tree {
        self.file(&format!("{dir}/{version}/{file}"), bytes)
    }

    /// A whole function: its `.runnable.yaml` naming the last of `versions`
    /// current, and for each version a distinct binary `wasm("<dir>@<version>")`.
    pub fn function(&mut self, dir: &str, lang: &str, versions: &[&str]) -> &mut Tree {
        let current = versions.last().expect("a function has a version");
        self.runnable(dir, lang, current, "");
        for version in versions {
            self.binary(dir, version, wasm(&format!("{dir}@{version}")));
        }
        self
    }

    /// The bytes of `key`, which the tree must hold.
    pub fn bytes(&self, key: &str) -> &[u8] {
        self.files.get(key).unwrap_or_else(|| panic!("the tree holds no {key}"))
    }

    /// The SHA-256 of the binary of `dir` at `version`.
    pub fn digest(&self, dir: &str, version: &str) -> String {
        let (_, _, name) = parts(dir);
        crate::common::spec::sha256(self.bytes(&format!("{dir}/{version}/{name}.wasm")))
    }

    /// Every key of the tree.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }
}

/// A small root with a bit of everything that migrates cleanly (no
/// rejection, no warning): two tenants, four languages, a shared digest,
/// drafts, `.runnable.yaml` files inside version directories.
pub fn sample() -> Tree {
    let mut tree = Tree::new();
    let hello = "com.acme/default/hello";
    tree.runnable(hello, "rust", "v10.0.0", "apiVersion: 0.4.0\ndraftVersion: v9.0.0\n")
        .binary(hello, "v1.0.0", wasm("hello v1"))
        .binary(hello, "v9.0.0", wasm("hello v9"))
        .draft(hello, "v9.0.0", "lib.rs", "pub fn hello() -> &'static str { \"v9\" }\n")
        .binary(hello, "v10.0.0", wasm("hello v9"));
    let greet = "com.acme/default/greet";
    tree.runnable(greet, "javascript", "v1.1.0", "draftVersion: v1.1.0\n")
        .binary(greet, "v1.0.0", wasm("greet v1.0"))
        .draft(greet, "v1.0.0", "lib.js", "export const greet = 1;\n")
        .binary(greet, "v1.1.0", wasm("greet v1.1"))
        .draft(greet, "v1.1.0", "lib.js", "export const greet = 2;\n");
    let invoice = "com.widgets/billing/invoice";
    for version in ["v0.1.0", "v0.2.0"] {
        tree.version_runnable(invoice, "tinygo", version, &format!("apiVersion: 0.4.0\ndraftVersion: {version}\n"))
            .binary(invoice, version, wasm(&format!("invoice {version}")))
            .draft(invoice, version, "main.go", format!("package main // {version}\n"));
    }
    tree.function("com.widgets/default/echo", "grain", &["v1.0.0"]);
    tree
}
