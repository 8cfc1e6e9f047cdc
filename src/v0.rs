//! The v0 (subo ≤ 0.5) layout rules: versions, fqfns, `.runnable.yaml` and
//! which draft file a language keeps. Pure: no IO, no async.

use std::fmt;

use serde::Deserialize;

/// Largest `.runnable.yaml` se2 will read; anything bigger is rejected.
pub const MAX_RUNNABLE_BYTES: u64 = 1 << 20;

/// File name of function metadata, at function level or in a version directory.
pub const RUNNABLE_FILE: &str = ".runnable.yaml";

/// Every file name that is a draft for some language.
pub const DRAFT_FILES: [&str; 4] = ["lib.rs", "lib.ts", "lib.js", "main.go"];

/// A v0 version: `v` + semver `MAJOR.MINOR.PATCH`, ordered numerically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    /// Parses `vMAJOR.MINOR.PATCH`; numbers are decimal without leading zeros.
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.strip_prefix('v')?.split('.');
        let mut number = || -> Option<u64> {
            let part = parts.next()?;
            let valid =
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && (part == "0" || !part.starts_with('0'));
            valid.then(|| part.parse().ok()).flatten()
        };
        let version = Version { major: number()?, minor: number()?, patch: number()? };
        parts.next().is_none().then_some(version)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A parsed `<ident>#<namespace>::<name>@<version>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fqfn {
    pub ident: String,
    pub namespace: String,
    pub name: String,
    pub version: Version,
}

impl Fqfn {
    /// Parses an fqfn; the error says which part is malformed.
    pub fn parse(text: &str) -> Result<Fqfn, String> {
        let malformed = |why: &str| Err(format!("malformed fqfn {text:?}: {why}"));
        let Some((ident, rest)) = text.split_once('#') else {
            return malformed("no '#' after the tenant identifier");
        };
        let Some((namespace, rest)) = rest.split_once("::") else {
            return malformed("no '::' between namespace and name");
        };
        let Some((name, version)) = rest.split_once('@') else {
            return malformed("no '@' before the version");
        };
        for (part, label) in [(ident, "identifier"), (namespace, "namespace"), (name, "name")] {
            if part.is_empty() {
                return malformed(&format!("empty {label}"));
            }
            if part.contains(['#', '@', '/']) || part.contains("::") {
                return malformed(&format!("extra separator in {label} {part:?}"));
            }
        }
        match Version::parse(version) {
            Some(version) => Ok(Fqfn { ident: ident.into(), namespace: namespace.into(), name: name.into(), version }),
            None => malformed(&format!("version {version:?} is not v<MAJOR>.<MINOR>.<PATCH>")),
        }
    }
}

/// The fields of a `.runnable.yaml` that se2 uses; unknown fields are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunnableYaml {
    pub name: String,
    pub namespace: String,
    pub lang: String,
    pub version: String,
    pub fqfn: String,
    #[serde(default)]
    pub draft_version: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
}

/// A `.runnable.yaml` that parsed and agrees with itself and with its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runnable {
    pub name: String,
    pub namespace: String,
    pub lang: String,
    pub version: Version,
    pub draft_version: Option<Version>,
    /// `draftVersion` as written when it names no version (`latest`): the
    /// function still migrates, without a draftRef and with a warning.
    pub unusable_draft_version: Option<String>,
    pub api_version: Option<String>,
}

/// Where a `.runnable.yaml` was found: which function, and which version
/// directory (`None` for the function-level file).
#[derive(Clone, Copy, Debug)]
pub struct RunnableSite<'a> {
    pub ident: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub version_dir: Option<Version>,
}

/// Parses and checks one `.runnable.yaml`: it must parse, its fqfn must be
/// well formed and agree with the yaml fields and with the key path.
pub fn parse_runnable(text: &str, site: RunnableSite<'_>) -> Result<Runnable, String> {
    let yaml: RunnableYaml =
        serde_saphyr::from_str(text).map_err(|e| format!("does not parse: {}", one_line(&e.to_string())))?;
    let fqfn = Fqfn::parse(&yaml.fqfn)?;
    let disagree = |what: &str, found: &str, expected: &str| {
        Err(format!("fqfn {:?} disagrees with {what}: {found:?} there, {expected:?} in the fqfn", yaml.fqfn))
    };
    if yaml.namespace != fqfn.namespace {
        return disagree("the yaml namespace", &yaml.namespace, &fqfn.namespace);
    }
    if yaml.name != fqfn.name {
        return disagree("the yaml name", &yaml.name, &fqfn.name);
    }
    if yaml.version != fqfn.version.to_string() {
        return disagree("the yaml version", &yaml.version, &fqfn.version.to_string());
    }
    if site.ident != fqfn.ident {
        return disagree("the key path's tenant", site.ident, &fqfn.ident);
    }
    if site.namespace != fqfn.namespace {
        return disagree("the key path's namespace", site.namespace, &fqfn.namespace);
    }
    if site.name != fqfn.name {
        return disagree("the key path's name", site.name, &fqfn.name);
    }
    if let Some(dir) = site.version_dir.filter(|dir| *dir != fqfn.version) {
        return disagree("the key path's version directory", &dir.to_string(), &fqfn.version.to_string());
    }
    let draft_text = yaml.draft_version.filter(|v| !v.is_empty());
    let draft_version = draft_text.as_deref().and_then(Version::parse);
    Ok(Runnable {
        name: fqfn.name,
        namespace: fqfn.namespace,
        lang: yaml.lang,
        version: fqfn.version,
        draft_version,
        unusable_draft_version: draft_text.filter(|_| draft_version.is_none()),
        api_version: yaml.api_version.filter(|v| !v.is_empty()),
    })
}

/// The draft file a function written in `lang` keeps, if any.
pub fn draft_file(lang: &str) -> Option<&'static str> {
    match lang {
        "rust" => Some("lib.rs"),
        "assemblyscript" | "typescript" => Some("lib.ts"),
        "javascript" => Some("lib.js"),
        "tinygo" => Some("main.go"),
        _ => None,
    }
}

/// The binary's file name for function `name`.
pub fn binary_file(name: &str) -> String {
    format!("{name}.wasm")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A small map from versions to `V`, kept sorted in one vector: a function
/// has a handful of versions, and a root can hold a million functions, for
/// which a `BTreeMap` node each (sized for eleven entries) costs too much.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionMap<V>(Vec<(Version, V)>);

impl<V> Default for VersionMap<V> {
    fn default() -> Self {
        VersionMap(Vec::new())
    }
}

impl<V> VersionMap<V> {
    fn find(&self, version: &Version) -> Result<usize, usize> {
        self.0.binary_search_by(|(v, _)| v.cmp(version))
    }

    pub fn get(&self, version: &Version) -> Option<&V> {
        self.find(version).ok().map(|at| &self.0[at].1)
    }

    /// The value of `version`, inserted as `V::default()` when missing.
    pub fn slot(&mut self, version: Version) -> &mut V
    where
        V: Default,
    {
        let at = match self.find(&version) {
            Ok(at) => at,
            Err(at) => {
                self.0.insert(at, (version, V::default()));
                at
            }
        };
        &mut self.0[at].1
    }

    pub fn insert(&mut self, version: Version, value: V) {
        match self.find(&version) {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (version, value)),
        }
    }

    /// Entries in ascending version order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Version, &V)> + ExactSizeIterator {
        self.0.iter().map(|(v, value)| (v, value))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Version> + ExactSizeIterator {
        self.0.iter().map(|(v, _)| v)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.0.iter().map(|(_, value)| value)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V> FromIterator<(Version, V)> for VersionMap<V> {
    fn from_iter<I: IntoIterator<Item = (Version, V)>>(entries: I) -> Self {
        let mut map = VersionMap::default();
        for (version, value) in entries {
            map.insert(version, value);
        }
        map
    }
}

impl<V, const N: usize> From<[(Version, V); N]> for VersionMap<V> {
    fn from(entries: [(Version, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<V> std::ops::Index<&Version> for VersionMap<V> {
    type Output = V;

    fn index(&self, version: &Version) -> &V {
        self.get(version).expect("a version of the map")
    }
}

impl<'a, V> IntoIterator for &'a VersionMap<V> {
    type Item = (&'a Version, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (Version, V)>, fn(&'a (Version, V)) -> (&'a Version, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(v, value)| (v, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u64, minor: u64, patch: u64) -> Version {
        Version { major, minor, patch }
    }

    #[test]
    fn versions_parse_strictly() {
        let cases = [
            ("v1.0.0", Some(v(1, 0, 0))),
            ("v10.20.30", Some(v(10, 20, 30))),
            ("v0.0.0", Some(v(0, 0, 0))),
            ("1.0.0", None),
            ("v1.0", None),
            ("v1.0.0.0", None),
            ("v01.0.0", None),
            ("v1.0.0-beta", None),
            ("v1..0", None),
            ("v-1.0.0", None),
            ("V1.0.0", None),
            ("v1.0.x", None),
            ("", None),
            ("v99999999999999999999.0.0", None),
        ];
        for (text, expected) in cases {
            assert_eq!(Version::parse(text), expected, "{text}");
        }
    }

    #[test]
    fn versions_order_numerically() {
        let mut versions: Vec<Version> =
            ["v9.0.0", "v10.0.0", "v1.10.0", "v1.9.9", "v1.2.3"].iter().map(|t| Version::parse(t).unwrap()).collect();
        versions.sort();
        let sorted: Vec<String> = versions.iter().map(ToString::to_string).collect();
        assert_eq!(sorted, ["v1.2.3", "v1.9.9", "v1.10.0", "v9.0.0", "v10.0.0"]);
    }

    #[test]
    fn fqfns_parse_or_say_why() {
        let good = Fqfn::parse("com.acme#default::hello@v1.2.3").unwrap();
        assert_eq!(
            good,
            Fqfn { ident: "com.acme".into(), namespace: "default".into(), name: "hello".into(), version: v(1, 2, 3) }
        );
        let bad = [
            ("com.acme-default::hello@v1.0.0", "no '#'"),
            ("com.acme#default:hello@v1.0.0", "no '::'"),
            ("com.acme#default::hello-v1.0.0", "no '@'"),
            ("#default::hello@v1.0.0", "empty identifier"),
            ("com.acme#::hello@v1.0.0", "empty namespace"),
            ("com.acme#default::@v1.0.0", "empty name"),
            ("com.acme#default::hello@", "is not v<MAJOR>"),
            ("com.acme#default::hello@1.0.0", "is not v<MAJOR>"),
            ("com#acme#default::hello@v1.0.0", "extra separator in namespace"),
            ("com.acme#default::hello::x@v1.0.0", "extra separator in name"),
            ("com.acme#default::hello@v1.0.0@v2.0.0", "is not v<MAJOR>"),
            ("com.acme#default::hel/lo@v1.0.0", "extra separator in name"),
        ];
        for (text, why) in bad {
            let err = Fqfn::parse(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    const SITE: RunnableSite<'static> =
        RunnableSite { ident: "com.acme", namespace: "default", name: "hello", version_dir: None };

    fn yaml(fqfn: &str, extra: &str) -> String {
        format!("name: hello\nnamespace: default\nlang: rust\nversion: v1.0.0\nfqfn: {fqfn}\n{extra}")
    }

    #[test]
    fn runnables_parse_and_agree() {
        let ok = parse_runnable(
            &yaml("com.acme#default::hello@v1.0.0", "draftVersion: v1.0.0\napiVersion: 0.4.0\nunknown: [1, 2]\n"),
            SITE,
        )
        .unwrap();
        assert_eq!(ok.version, v(1, 0, 0));
        assert_eq!(ok.draft_version, Some(v(1, 0, 0)));
        assert_eq!(ok.unusable_draft_version, None);

        // A draftVersion that names no version only costs the draftRef.
        let latest = parse_runnable(&yaml("com.acme#default::hello@v1.0.0", "draftVersion: latest\n"), SITE).unwrap();
        assert_eq!((latest.draft_version, latest.unusable_draft_version.as_deref()), (None, Some("latest")));
        let empty = parse_runnable(&yaml("com.acme#default::hello@v1.0.0", "draftVersion: \"\"\n"), SITE).unwrap();
        assert_eq!((empty.draft_version, empty.unusable_draft_version), (None, None));
        assert_eq!(ok.api_version.as_deref(), Some("0.4.0"));
        assert_eq!(ok.lang, "rust");

        let rejected = [
            ("name: [unclosed", SITE, "does not parse"),
            ("name: hello\n", SITE, "does not parse"),
            ("name: {a: 1}\nnamespace: default\nlang: rust\nversion: v1.0.0\nfqfn: x\n", SITE, "does not parse"),
            (&yaml("com.acme#default::hello@v2.0.0", "") as &str, SITE, "the yaml version"),
            (&yaml("com.acme#other::hello@v1.0.0", ""), SITE, "the yaml namespace"),
            (&yaml("com.acme#default::bye@v1.0.0", ""), SITE, "the yaml name"),
            (&yaml("com.other#default::hello@v1.0.0", ""), SITE, "the key path's tenant"),
            (&yaml("com.acme#default::hello@v1.0.0", ""), RunnableSite { namespace: "prod", ..SITE }, "namespace"),
            (&yaml("com.acme#default::hello@v1.0.0", ""), RunnableSite { name: "bye", ..SITE }, "the key path's name"),
            (
                &yaml("com.acme#default::hello@v1.0.0", ""),
                RunnableSite { version_dir: Some(v(2, 0, 0)), ..SITE },
                "version directory",
            ),
            (&yaml("com.acme-default-hello", ""), SITE, "malformed fqfn"),
        ];
        for (text, site, why) in rejected {
            let err = parse_runnable(text, site).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn drafts_follow_lang() {
        let cases = [
            ("rust", Some("lib.rs")),
            ("assemblyscript", Some("lib.ts")),
            ("typescript", Some("lib.ts")),
            ("javascript", Some("lib.js")),
            ("tinygo", Some("main.go")),
            ("grain", None),
            ("swift", None),
            ("wat", None),
            ("", None),
        ];
        for (lang, file) in cases {
            assert_eq!(draft_file(lang), file, "{lang}");
        }
    }
}
