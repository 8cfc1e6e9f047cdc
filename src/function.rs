//! The judgement on one v0 function: accepted (its current runnable and the
//! versions to migrate, each with its binary and draft) or rejected with the
//! key and the reason, plus the warnings its keys deserve. Pure.

use serde::Serialize;

use crate::catalog::{FunctionAssets, Object};
use crate::se2::FunctionId;
use crate::v0::{self, Runnable, RunnableSite, Version, VersionMap};

/// A rejection or warning: the key at fault and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    pub key: String,
    pub reason: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Problem {
        Problem { key: key.into(), reason: reason.into() }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// One version to migrate: its binary and, when its language keeps one, its draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    pub bin: Object,
    pub draft: Option<Object>,
}

/// An accepted function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub id: FunctionId,
    /// The current `.runnable.yaml`: the one with the highest version.
    pub runnable: Runnable,
    /// Every version that has a binary, in ascending order.
    pub builds: VersionMap<Build>,
}

impl Function {
    /// The version whose digest is the draftRef: `draftVersion`, when that
    /// version has both a binary and a draft.
    pub fn draft_version(&self) -> Option<Version> {
        self.runnable.draft_version.filter(|v| self.builds.get(v).is_some_and(|b| b.draft.is_some()))
    }
}

/// What `judge` decided.
#[derive(Debug)]
pub struct Judgement {
    pub outcome: Result<Function, Problem>,
    pub warnings: Vec<Problem>,
}

/// Judges a function from its keys and the text of each of its
/// `.runnable.yaml` files (`text_of` fails with a reason, e.g. too large).
pub fn judge(assets: &FunctionAssets, text_of: impl Fn(&str) -> Result<String, String>) -> Judgement {
    match current_runnable(assets, text_of) {
        Err(problem) => Judgement { outcome: Err(problem), warnings: Vec::new() },
        Ok((runnable, key)) => accept(assets, runnable, key),
    }
}

/// The current `.runnable.yaml`, parsed, and its key.
fn current_runnable(
    assets: &FunctionAssets,
    text_of: impl Fn(&str) -> Result<String, String>,
) -> Result<(Runnable, String), Problem> {
    let id = &assets.id;
    if let Some(journal) = &assets.journal {
        let reason = "a prune of this function was interrupted: run se2 prune again to finish it";
        return Err(Problem::new(&journal.key, reason));
    }
    let mut current: Option<(Runnable, &str)> = None;
    for (object, version_dir) in assets.runnables() {
        let site = RunnableSite { ident: &id.ident, namespace: &id.namespace, name: &id.name, version_dir };
        let text = text_of(&object.key).map_err(|reason| Problem::new(&object.key, reason))?;
        let runnable = v0::parse_runnable(&text, site).map_err(|reason| Problem::new(&object.key, reason))?;
        if current.as_ref().is_none_or(|(c, _)| runnable.version > c.version) {
            current = Some((runnable, &object.key));
        }
    }
    let Some((runnable, key)) = current else {
        let key = format!("{}/{}", id.dir(), v0::RUNNABLE_FILE);
        return Err(Problem::new(
            key,
            "missing: without a .runnable.yaml the function's lang and current version are unknown",
        ));
    };
    if assets.versions.get(&runnable.version).and_then(|v| v.bin.as_ref()).is_none() {
        let key = format!("{}/{}/{}", id.dir(), runnable.version, v0::binary_file(&id.name));
        return Err(Problem::new(key, format!("missing: the binary of the current version {}", runnable.version)));
    }
    Ok((runnable, key.to_owned()))
}

fn accept(assets: &FunctionAssets, runnable: Runnable, runnable_key: String) -> Judgement {
    let id = &assets.id;
    let draft_file = v0::draft_file(&runnable.lang);
    let mut warnings = Vec::new();
    if let Some(text) = &runnable.unusable_draft_version {
        let reason = format!("draftVersion {text:?} is not v<MAJOR>.<MINOR>.<PATCH>, so no draftRef");
        warnings.push(Problem::new(runnable_key, reason));
    }
    let mut builds = VersionMap::default();
    for (version, files) in &assets.versions {
        let draft = files.sources.iter().find(|s| Some(file_name(&s.key)) == draft_file);
        match &files.bin {
            Some(bin) => {
                builds.insert(*version, Build { bin: bin.clone(), draft: draft.cloned() });
            }
            None => {
                let what = if draft.is_some() { "draft and version directory" } else { "version directory" };
                warnings.push(Problem::new(
                    format!("{}/{version}/", id.dir()),
                    format!("{what} without a binary {}: not migrated", v0::binary_file(&id.name)),
                ));
            }
        }
        for source in files.sources.iter().filter(|s| Some(file_name(&s.key)) != draft_file) {
            let reason =
                format!("matches nothing: lang {:?} keeps no draft named {}", runnable.lang, file_name(&source.key));
            warnings.push(Problem::new(&source.key, reason));
        }
        for stray in &files.strays {
            warnings.push(Problem::new(&stray.key, "matches nothing in the v0 layout"));
        }
    }
    for loose in &assets.loose {
        warnings.push(Problem::new(&loose.key, "matches nothing in the v0 layout"));
    }
    let function = Function { id: id.clone(), runnable, builds };
    if let Some(version) = function.runnable.draft_version.filter(|_| function.draft_version().is_none()) {
        let key = match draft_file {
            Some(file) => format!("{}/{version}/{file}", id.dir()),
            None => format!("{}/{version}/", id.dir()),
        };
        let reason = match (draft_file, function.builds.get(&version)) {
            (None, _) => format!("draftVersion {version} is set but lang {:?} keeps no draft", function.runnable.lang),
            (Some(_), None) => format!("draftVersion {version} has no binary, so no draftRef"),
            (Some(_), Some(_)) => format!("draftVersion {version} has no draft, so no draftRef"),
        };
        warnings.push(Problem::new(key, reason));
    }
    Judgement { outcome: Ok(function), warnings }
}

fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Entry};
    use std::collections::HashMap;

    fn yaml(version: &str, lang: &str, extra: &str) -> String {
        format!("name: f\nnamespace: ns\nlang: {lang}\nversion: {version}\nfqfn: t#ns::f@{version}\n{extra}")
    }

    /// Judges the single function made of `files` (key → content).
    fn judge_files(files: &[(&str, &str)]) -> Judgement {
        let catalog = Catalog::build(files.iter().map(|(k, c)| Entry::new(*k, c.len() as u64)));
        let texts: HashMap<&str, &str> = files.iter().copied().collect();
        let functions = catalog.functions(|_, _| {});
        assert_eq!(functions.len(), 1);
        judge(&functions[0], |key| Ok(texts[key].to_owned()))
    }

    fn rejection(files: &[(&str, &str)]) -> Problem {
        judge_files(files).outcome.unwrap_err()
    }

    #[test]
    fn the_highest_runnable_is_current() {
        let top = yaml("v1.0.0", "rust", "");
        let nested = yaml("v10.0.0", "rust", "draftVersion: v9.0.0\n");
        let judged = judge_files(&[
            ("t/ns/f/.runnable.yaml", &top),
            ("t/ns/f/v10.0.0/.runnable.yaml", &nested),
            ("t/ns/f/v1.0.0/f.wasm", "a"),
            ("t/ns/f/v9.0.0/f.wasm", "b"),
            ("t/ns/f/v9.0.0/lib.rs", "draft"),
            ("t/ns/f/v10.0.0/f.wasm", "c"),
        ]);
        let function = judged.outcome.unwrap();
        assert_eq!(function.runnable.version.to_string(), "v10.0.0");
        assert_eq!(function.draft_version().map(|v| v.to_string()).as_deref(), Some("v9.0.0"));
        assert_eq!(function.builds.len(), 3);
        assert!(judged.warnings.is_empty(), "{:?}", judged.warnings);
    }

    #[test]
    fn rejections_name_the_key_and_cause() {
        let ok = yaml("v1.0.0", "rust", "");
        type Case<'a> = (Vec<(&'a str, String)>, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (vec![("t/ns/f/.runnable.yaml", "name: [".into())], "t/ns/f/.runnable.yaml", "does not parse"),
            (
                vec![
                    ("t/ns/f/.runnable.yaml", ok.replace("t#ns::f@", "t#ns:f@")),
                    ("t/ns/f/v1.0.0/f.wasm", "a".into()),
                ],
                "t/ns/f/.runnable.yaml",
                "malformed fqfn",
            ),
            (
                vec![("t/ns/f/.runnable.yaml", ok.replace("t#ns", "u#ns")), ("t/ns/f/v1.0.0/f.wasm", "a".into())],
                "t/ns/f/.runnable.yaml",
                "key path's tenant",
            ),
            (
                vec![("t/ns/f/.runnable.yaml", ok.clone()), ("t/ns/f/v2.0.0/f.wasm", "a".into())],
                "t/ns/f/v1.0.0/f.wasm",
                "missing",
            ),
            (vec![("t/ns/f/v1.0.0/f.wasm", "a".into())], "t/ns/f/.runnable.yaml", "missing"),
            (
                vec![
                    ("t/ns/f/.runnable.yaml", ok.clone()),
                    ("t/ns/f/v1.0.0/f.wasm", "a".into()),
                    ("t/ns/f/v2.0.0/.runnable.yaml", yaml("v3.0.0", "rust", "")),
                ],
                "t/ns/f/v2.0.0/.runnable.yaml",
                "version directory",
            ),
        ];
        for (files, key, why) in cases {
            let files: Vec<(&str, &str)> = files.iter().map(|(k, c)| (*k, c.as_str())).collect();
            let problem = rejection(&files);
            assert_eq!(problem.key, key, "{problem}");
            assert!(problem.reason.contains(why), "{problem}");
        }
    }

    #[test]
    fn warnings_name_each_odd_key() {
        let runnable = yaml("v2.0.0", "rust", "draftVersion: v3.0.0\n");
        let judged = judge_files(&[
            ("t/ns/f/.runnable.yaml", &runnable),
            ("t/ns/f/v1.0.0/lib.rs", "orphan draft"),
            ("t/ns/f/v2.0.0/f.wasm", "b"),
            ("t/ns/f/v2.0.0/lib.ts", "wrong lang"),
            ("t/ns/f/v2.0.0/notes.txt", "x"),
            ("t/ns/f/v3.0.0/f.wasm", "c"),
            ("t/ns/f/junk", "x"),
        ]);
        assert!(judged.outcome.is_ok());
        let mut found: Vec<String> = judged.warnings.iter().map(|p| p.key.clone()).collect();
        found.sort();
        assert_eq!(
            found,
            [
                "t/ns/f/junk",
                "t/ns/f/v1.0.0/",
                "t/ns/f/v2.0.0/lib.ts",
                "t/ns/f/v2.0.0/notes.txt",
                "t/ns/f/v3.0.0/lib.rs"
            ]
        );
        let draft = judged.warnings.iter().find(|p| p.key == "t/ns/f/v3.0.0/lib.rs").unwrap();
        assert!(draft.reason.contains("draftVersion v3.0.0 has no draft"), "{draft}");
    }

    #[test]
    fn an_unusable_draft_version_is_a_warning() {
        let runnable = yaml("v1.0.0", "rust", "draftVersion: latest\n");
        let judged = judge_files(&[
            ("t/ns/f/.runnable.yaml", &runnable),
            ("t/ns/f/v1.0.0/f.wasm", "a"),
            ("t/ns/f/v1.0.0/lib.rs", "draft"),
        ]);
        let function = judged.outcome.unwrap();
        assert_eq!(function.draft_version(), None);
        assert_eq!(judged.warnings.len(), 1, "{:?}", judged.warnings);
        assert_eq!(judged.warnings[0].key, "t/ns/f/.runnable.yaml");
        assert!(judged.warnings[0].reason.contains("\"latest\""), "{}", judged.warnings[0]);
    }

    #[test]
    fn langs_without_drafts_keep_none() {
        let runnable = yaml("v1.0.0", "grain", "");
        let judged = judge_files(&[
            ("t/ns/f/.runnable.yaml", &runnable),
            ("t/ns/f/v1.0.0/f.wasm", "a"),
            ("t/ns/f/v1.0.0/lib.rs", "x"),
        ]);
        let function = judged.outcome.unwrap();
        assert!(function.builds.values().all(|b| b.draft.is_none()));
        assert_eq!(judged.warnings.len(), 1);
        assert!(judged.warnings[0].reason.contains("keeps no draft"));
    }
}
