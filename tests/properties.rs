//! Properties of the pure v0 core (issue 4: fuzzing the parser and the key
//! classification), checked with proptest on a bounded number of cases so
//! the suite runs them in seconds: nothing panics on arbitrary input, and
//! generated valid keys, fqfns, versions and `.runnable.yaml` files are
//! classified and parsed right.

use proptest::prelude::*;
use se2::catalog::{Catalog, Category, Entry};
use se2::v0::{self, Fqfn, RunnableSite, Version};

const CASES: u32 = 512;

fn config() -> ProptestConfig {
    ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() }
}

/// A key segment: no `/`, not empty; with spaces, `%`, `#`, `+`, dots and non-ASCII.
fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ._+%#@é日-]{1,12}"
}

/// A part of an fqfn: any text without its separators (`#`, `::`, `@`) or `/`.
fn fqfn_part() -> impl Strategy<Value = String> {
    "[^#@/:]{1,16}"
}

fn version() -> impl Strategy<Value = Version> {
    (0u64..1_000_000, any::<u64>(), 0u64..20).prop_map(|(major, minor, patch)| Version { major, minor, patch })
}

/// A key segment that could never be a version or a digest directory.
fn plain_segment() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9._-]{0,10}".prop_filter("not a v0 or SE2 file name", |s| {
        !s.starts_with('v') && s != ".runnable.yaml" && s != ".module.yaml" && s != ".se2-prune" && s != "tenant.json"
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn categorizing_any_key_never_panics(key in any::<String>()) {
        let _ = Category::of(&key);
    }

    #[test]
    fn categorizing_keys_of_many_segments_never_panics(segments in prop::collection::vec("[^/]{0,8}", 0..10)) {
        let _ = Category::of(&segments.join("/"));
    }

    #[test]
    fn generated_v0_and_se2_keys_are_categorized_right(
        t in segment(), ns in segment(), n in segment(), v in version(),
        draft in prop::sample::select(v0::DRAFT_FILES.to_vec()),
        digest in "[0-9a-f]{64}", file in segment(),
    ) {
        let dir = format!("{t}/{ns}/{n}");
        prop_assert_eq!(Category::of(&format!("{dir}/.runnable.yaml")), Category::Runnable);
        prop_assert_eq!(Category::of(&format!("{dir}/.module.yaml")), Category::Module);
        prop_assert_eq!(Category::of(&format!("{dir}/{v}/{n}.wasm")), Category::Bin(v));
        prop_assert_eq!(Category::of(&format!("{dir}/{v}/.runnable.yaml")), Category::VersionRunnable(v));
        prop_assert_eq!(Category::of(&format!("{dir}/{v}/{draft}")), Category::Src(v));
        prop_assert_eq!(Category::of(&format!("{dir}/{v}/deeper/{n}.wasm")), Category::VersionStray(v));
        prop_assert_eq!(Category::of(&format!("{dir}/{digest}/{file}")), Category::DigestFile);
        prop_assert_eq!(Category::of(&format!("{t}/tenant.json")), Category::TenantJson);
        // An empty segment anywhere makes a key nothing se2 knows.
        prop_assert_eq!(Category::of(&format!("{t}//{n}/.runnable.yaml")), Category::Other);
        prop_assert_eq!(Category::of(&format!("{dir}/{v}/")), Category::Other);
    }

    #[test]
    fn a_file_beside_versions_is_loose(t in segment(), ns in segment(), n in segment(), file in plain_segment()) {
        prop_assert_eq!(Category::of(&format!("{t}/{ns}/{n}/{file}")), Category::Loose);
        prop_assert_eq!(Category::of(&format!("{t}/{ns}/{n}/{file}/{n}.wasm")), Category::Loose);
    }

    #[test]
    fn grouping_into_functions_ignores_listing_order(
        keys in prop::collection::vec((0usize..3, 0usize..3, version(), 0usize..4), 1..40)
            .prop_map(|picks| {
                let names = ["f", "f-x", "f.x"];
                let files = ["bin", "lib.rs", ".runnable.yaml", "notes"];
                picks.into_iter().map(|(ns, name, v, file)| {
                    let name = names[name];
                    let file = if files[file] == "bin" { format!("{name}.wasm") } else { files[file].to_owned() };
                    format!("t/ns{ns}/{name}/{v}/{file}")
                }).collect::<Vec<_>>()
            })
            .prop_flat_map(|keys| (Just(keys.clone()), Just(keys).prop_shuffle())),
    ) {
        let (listed, shuffled) = keys;
        let build = |keys: &[String]| Catalog::build(keys.iter().map(|k| Entry::new(k.as_str(), k.len() as u64)));
        let mut others_a = Vec::new();
        let mut others_b = Vec::new();
        let a = build(&listed).functions(|k, _| others_a.push(k.to_owned()));
        let b = build(&shuffled).functions(|k, _| others_b.push(k.to_owned()));
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(others_a, others_b);
        for function in &a {
            let dir = format!("{}/", function.id.dir());
            for version in function.versions.values() {
                for object in version.bin.iter().chain(&version.runnable).chain(&version.sources).chain(&version.strays) {
                    prop_assert!(object.key.starts_with(&dir), "{} grouped under {}", object.key, dir);
                }
            }
        }
    }

    #[test]
    fn parsing_any_fqfn_never_panics_and_what_parses_prints_back(text in any::<String>()) {
        if let Ok(fqfn) = Fqfn::parse(&text) {
            let printed = format!("{}#{}::{}@{}", fqfn.ident, fqfn.namespace, fqfn.name, fqfn.version);
            prop_assert_eq!(printed, text);
        }
    }

    #[test]
    fn parsing_near_fqfns_never_panics(
        parts in prop::collection::vec(prop_oneof!["[a-z]{0,3}", Just("#".to_owned()), Just("::".to_owned()),
            Just(":".to_owned()), Just("@".to_owned()), Just("/".to_owned()), Just("v1.2.3".to_owned())], 0..12),
    ) {
        let text = parts.concat();
        if let Ok(fqfn) = Fqfn::parse(&text) {
            prop_assert_eq!(format!("{}#{}::{}@{}", fqfn.ident, fqfn.namespace, fqfn.name, fqfn.version), text);
        }
    }

    #[test]
    fn generated_fqfns_round_trip(ident in fqfn_part(), namespace in fqfn_part(), name in fqfn_part(), version in version()) {
        let text = format!("{ident}#{namespace}::{name}@{version}");
        prop_assert_eq!(Fqfn::parse(&text), Ok(Fqfn { ident, namespace, name, version }));
    }

    #[test]
    fn versions_round_trip_through_display(major in any::<u64>(), minor in any::<u64>(), patch in any::<u64>()) {
        let version = Version { major, minor, patch };
        prop_assert_eq!(Version::parse(&version.to_string()), Some(version));
    }

    #[test]
    fn what_parses_as_a_version_prints_back_and_orders_numerically(text in "v?[0-9.]{0,12}|.{0,12}", other in version()) {
        if let Some(version) = Version::parse(&text) {
            prop_assert_eq!(version.to_string(), text);
            let tuple = |v: Version| (v.major, v.minor, v.patch);
            prop_assert_eq!(version.cmp(&other), tuple(version).cmp(&tuple(other)));
        }
    }

    #[test]
    fn parsing_any_runnable_text_never_panics(text in any::<String>()) {
        let _ = v0::parse_runnable(&text, site("t", "ns", "f"));
    }

    #[test]
    fn parsing_yaml_shaped_text_never_panics(
        text in prop::collection::vec(prop_oneof![
            "[a-zA-Z]{1,6}", Just(": ".to_owned()), Just("\n".to_owned()), Just("  ".to_owned()), Just("- ".to_owned()),
            Just("[".to_owned()), Just("]".to_owned()), Just("{".to_owned()), Just("}".to_owned()), Just(", ".to_owned()),
            Just("&a ".to_owned()), Just("*a".to_owned()), Just("!!str ".to_owned()), Just("|\n".to_owned()),
            Just("'".to_owned()), Just("\"".to_owned()), Just("# ".to_owned()), Just("---\n".to_owned()),
            Just("? ".to_owned()), Just("<<: ".to_owned()), Just("\t".to_owned()), Just("%YAML 1.2\n".to_owned()),
        ], 0..64).prop_map(|parts| parts.concat()),
    ) {
        let _ = v0::parse_runnable(&text, site("t", "ns", "f"));
    }

    #[test]
    fn parsing_mutated_runnables_never_panics(
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(
            vec!['[', ']', '{', '}', ':', '&', '*', '!', '|', '>', '-', '#', '\'', '"', ' ', '\n', '\t', '?', '%', '@', '\0', 'é'],
        )), 1..8),
    ) {
        let mut text: Vec<char> = valid_yaml("t", "ns", "f", "rust", "v1.2.3", "draftVersion: v1.0.0\napiVersion: 0.4.0\n")
            .chars().collect();
        for (at, edit, c) in edits {
            let at = at.index(text.len() + 1);
            match edit {
                0 => text.insert(at, c),
                1 if at < text.len() => { text.remove(at); }
                _ if at < text.len() => text[at] = c,
                _ => text.push(c),
            }
        }
        let text: String = text.into_iter().collect();
        let _ = v0::parse_runnable(&text, site("t", "ns", "f"));
    }

    #[test]
    fn generated_runnables_parse_and_agree(
        ident in "[a-z][a-z0-9.]{0,10}", namespace in "[a-z][a-z0-9-]{0,10}", name in "[a-z][a-z0-9_-]{0,10}",
        lang in prop::sample::select(vec!["rust", "assemblyscript", "typescript", "javascript", "tinygo", "grain", "swift"]),
        version in version(), draft in prop::option::of(version()),
    ) {
        let extra = draft.map_or_else(String::new, |d| format!("draftVersion: {d}\n"));
        // Quoted, as subo wrote them: a function may be named `null`.
        let text = format!(
            "name: '{name}'\nnamespace: '{namespace}'\nlang: {lang}\nversion: '{version}'\nfqfn: '{ident}#{namespace}::{name}@{version}'\n{extra}"
        );
        let parsed = v0::parse_runnable(&text, site(&ident, &namespace, &name));
        let runnable = parsed.map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(runnable.version, version);
        prop_assert_eq!(runnable.draft_version, draft);
        prop_assert_eq!(runnable.lang, lang);
        prop_assert_eq!(runnable.name, name.clone());
        // The same file found in the wrong place disagrees with its key.
        let elsewhere = format!("{name}x");
        prop_assert!(v0::parse_runnable(&text, site(&ident, &namespace, &elsewhere)).is_err());
    }
}

fn site<'a>(ident: &'a str, namespace: &'a str, name: &'a str) -> RunnableSite<'a> {
    RunnableSite { ident, namespace, name, version_dir: None }
}

fn valid_yaml(ident: &str, namespace: &str, name: &str, lang: &str, version: &str, extra: &str) -> String {
    format!(
        "name: {name}\nnamespace: {namespace}\nlang: {lang}\nversion: {version}\nfqfn: {ident}#{namespace}::{name}@{version}\n{extra}"
    )
}
