//! The category trie: every key the walker listed, indexed by what it is in
//! either layout (tenant overview, runnable, binary, draft source, digest
//! file, …), and the grouping of v0 keys into functions. Pure: no IO.

use radix_trie::{Trie, TrieCommon};

use crate::se2::{self, FunctionId};
use crate::v0::{self, Version};

/// One listed object: its key relative to the root, and its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub size: u64,
}

impl Entry {
    pub fn new(key: impl Into<String>, size: u64) -> Entry {
        Entry { key: key.into(), size }
    }
}

/// What a key is, judged from the key alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// v0 `<t>/<ns>/<n>/.runnable.yaml`.
    Runnable,
    /// v0 `<t>/<ns>/<n>/<version>/.runnable.yaml`.
    VersionRunnable(Version),
    /// v0 `<t>/<ns>/<n>/<version>/<n>.wasm`.
    Bin(Version),
    /// v0 `<t>/<ns>/<n>/<version>/<draft file>`, for some language.
    Src(Version),
    /// Any other file under a v0 version directory.
    VersionStray(Version),
    /// A file in a function's directory that no rule explains.
    Loose,
    /// se2's journal of an interrupted prune, `<t>/<ns>/<n>/.se2-prune`.
    PruneJournal,
    /// SE2 `<t>/<ns>/<n>/.module.yaml`.
    Module,
    /// SE2 `<t>/<ns>/<n>/<digest>/<file>`.
    DigestFile,
    /// SE2 `<t>/tenant.json`.
    TenantJson,
    /// SE2 `system/version`.
    SystemVersion,
    /// se2's own journal, `system/.se2-pending`.
    Pending,
    /// Anything else.
    Other,
}

impl Category {
    /// Judges a key (relative to the root) by its segments.
    pub fn of(key: &str) -> Category {
        let segments: Vec<&str> = key.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Category::Other;
        }
        match segments[..] {
            _ if key == se2::SYSTEM_VERSION_KEY => Category::SystemVersion,
            _ if key == se2::PENDING_KEY => Category::Pending,
            [_, file] if file == se2::TENANT_FILE => Category::TenantJson,
            [_, _, _, file] if file == v0::RUNNABLE_FILE => Category::Runnable,
            [_, _, _, file] if file == se2::MODULE_FILE => Category::Module,
            [_, _, _, file] if file == se2::PRUNE_JOURNAL_FILE => Category::PruneJournal,
            [_, _, _, _] => Category::Loose,
            [_, _, _, dir, _] if se2::is_digest(dir) => Category::DigestFile,
            [_, _, name, dir, ref rest @ ..] => match Version::parse(dir) {
                None => Category::Loose,
                Some(version) => match rest {
                    [file] if *file == v0::binary_file(name) => Category::Bin(version),
                    [file] if *file == v0::RUNNABLE_FILE => Category::VersionRunnable(version),
                    [file] if v0::DRAFT_FILES.contains(file) => Category::Src(version),
                    _ => Category::VersionStray(version),
                },
            },
            _ => Category::Other,
        }
    }

    /// True for the categories that make a directory a v0 function.
    pub fn is_v0(self) -> bool {
        matches!(
            self,
            Category::Runnable
                | Category::PruneJournal
                | Category::VersionRunnable(_)
                | Category::Bin(_)
                | Category::Src(_)
                | Category::VersionStray(_)
        )
    }
}

/// A listed object as the trie holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asset {
    pub category: Category,
    pub size: u64,
}

/// A key and its size, as the later stages see an object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Object {
    pub key: String,
    pub size: u64,
}

/// What one v0 version directory holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionAssets {
    pub bin: Option<Object>,
    pub runnable: Option<Object>,
    /// Files named like a draft of some language (`lib.rs`, `main.go`, …).
    pub sources: Vec<Object>,
    /// Everything else in the directory.
    pub strays: Vec<Object>,
}

/// Every v0 key of one function, grouped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionAssets {
    pub id: FunctionId,
    pub runnable: Option<Object>,
    pub versions: v0::VersionMap<VersionAssets>,
    /// Files in the function's directory that no rule explains.
    pub loose: Vec<Object>,
    /// The journal of an interrupted prune.
    pub journal: Option<Object>,
}

impl FunctionAssets {
    fn new(id: FunctionId) -> FunctionAssets {
        FunctionAssets { id, runnable: None, versions: Default::default(), loose: Vec::new(), journal: None }
    }

    /// Every `.runnable.yaml` of the function, with its version directory.
    pub fn runnables(&self) -> impl Iterator<Item = (&Object, Option<Version>)> {
        let top = self.runnable.iter().map(|o| (o, None));
        top.chain(self.versions.iter().filter_map(|(v, a)| a.runnable.as_ref().map(|o| (o, Some(*v)))))
    }
}

/// One node of the trie: the objects of a function directory
/// (`<t>/<ns>/<n>/`), or a single object that lies outside any.
#[derive(Debug)]
enum Node {
    /// Objects under the directory, by the rest of their key, sorted.
    Dir(Vec<(Box<str>, Asset)>),
    Object(Asset),
}

/// Everything under a root, indexed by key. The trie is keyed by function
/// directory (with every object below it held in that one node), so it
/// stays small for roots of millions of keys.
#[derive(Default)]
pub struct Catalog {
    trie: Trie<String, Node>,
    len: usize,
}

impl Catalog {
    /// Indexes entries; their order does not matter, a repeated key keeps the last size.
    pub fn build(entries: impl IntoIterator<Item = Entry>) -> Catalog {
        let mut catalog = Catalog::default();
        for entry in entries {
            catalog.insert(entry);
        }
        catalog
    }

    pub fn insert(&mut self, entry: Entry) {
        let asset = Asset { category: Category::of(&entry.key), size: entry.size };
        match split_dir(&entry.key) {
            Some((dir, rest)) => {
                let node = match self.trie.get_mut(dir) {
                    Some(node) => node,
                    None => {
                        self.trie.insert(dir.to_owned(), Node::Dir(Vec::new()));
                        self.trie.get_mut(dir).expect("just inserted")
                    }
                };
                let Node::Dir(objects) = node else { unreachable!("directory keys end with '/'") };
                match objects.binary_search_by(|(r, _)| (**r).cmp(rest)) {
                    Ok(at) => objects[at].1 = asset,
                    Err(at) => {
                        objects.insert(at, (rest.into(), asset));
                        self.len += 1;
                    }
                }
            }
            None => {
                if self.trie.insert(entry.key, Node::Object(asset)).is_none() {
                    self.len += 1;
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, key: &str) -> Option<Asset> {
        match split_dir(key) {
            Some((dir, rest)) => match self.trie.get(dir)? {
                Node::Dir(objects) => objects.binary_search_by(|(r, _)| (**r).cmp(rest)).ok().map(|at| objects[at].1),
                Node::Object(_) => None,
            },
            None => match self.trie.get(key)? {
                Node::Object(asset) => Some(*asset),
                Node::Dir(_) => None,
            },
        }
    }

    /// Every object, in byte order of keys.
    pub fn iter(&self) -> impl Iterator<Item = (String, Asset)> + '_ {
        self.trie.iter().flat_map(|(key, node)| expand(key, node))
    }

    /// Every object whose key starts with `prefix`, in byte order of keys.
    pub fn under<'a>(&'a self, prefix: &str) -> Box<dyn Iterator<Item = (String, Asset)> + 'a> {
        let prefix = prefix.to_owned();
        match self.trie.get_raw_descendant(&prefix) {
            Some(sub) => Box::new(
                sub.iter().flat_map(|(key, node)| expand(key, node)).filter(move |(k, _)| k.starts_with(&prefix)),
            ),
            None => Box::new(std::iter::empty()),
        }
    }

    /// The tenants holding SE2 overviews, by identifier.
    pub fn tenant_overviews(&self) -> impl Iterator<Item = String> + '_ {
        self.trie.iter().filter_map(|(key, node)| match node {
            Node::Object(asset) if asset.category == Category::TenantJson => key.split('/').next().map(str::to_owned),
            _ => None,
        })
    }

    /// Groups keys into v0 functions; a directory is a function when it holds
    /// at least one v0 key. Keys outside every function are passed to `other`.
    pub fn functions(&self, mut other: impl FnMut(&str, Asset)) -> Vec<FunctionAssets> {
        let mut functions = Vec::new();
        for (key, node) in self.trie.iter() {
            match node {
                Node::Dir(objects) => {
                    let is_function = objects.iter().any(|(_, a)| a.category.is_v0());
                    let mut members = Vec::new();
                    for (rest, asset) in objects {
                        let full = format!("{key}{rest}");
                        if is_function && (asset.category == Category::Loose || asset.category.is_v0()) {
                            members.push((full, *asset));
                        } else {
                            other(&full, *asset);
                        }
                    }
                    if is_function {
                        functions.push(assemble(key, members));
                    }
                }
                Node::Object(asset) => other(key, *asset),
            }
        }
        functions.sort_by(|a, b| a.id.cmp(&b.id));
        functions
    }
}

/// The objects of one trie node, with their full keys.
fn expand<'a>(key: &'a str, node: &'a Node) -> Box<dyn Iterator<Item = (String, Asset)> + 'a> {
    match node {
        Node::Object(asset) => Box::new(std::iter::once((key.to_owned(), *asset))),
        Node::Dir(objects) => Box::new(objects.iter().map(move |(rest, asset)| (format!("{key}{rest}"), *asset))),
    }
}

/// Splits a key of at least four segments into its function directory
/// (`<t>/<ns>/<n>/`, slash included) and the rest.
fn split_dir(key: &str) -> Option<(&str, &str)> {
    let end = key.match_indices('/').nth(2)?.0 + 1;
    Some(key.split_at(end))
}

/// The function of directory `dir` (`<t>/<ns>/<n>/`) from its v0 and loose objects.
fn assemble(dir: &str, members: Vec<(String, Asset)>) -> FunctionAssets {
    let mut parts = dir.splitn(4, '/');
    let mut part = || parts.next().unwrap_or_default().to_owned();
    let mut function = FunctionAssets::new(FunctionId { ident: part(), namespace: part(), name: part() });
    for (key, asset) in members {
        let object = Object { key, size: asset.size };
        match asset.category {
            Category::Runnable => function.runnable = Some(object),
            Category::PruneJournal => function.journal = Some(object),
            Category::VersionRunnable(v) => function.versions.slot(v).runnable = Some(object),
            Category::Bin(v) => function.versions.slot(v).bin = Some(object),
            Category::Src(v) => function.versions.slot(v).sources.push(object),
            Category::VersionStray(v) => function.versions.slot(v).strays.push(object),
            _ => function.loose.push(object),
        }
    }
    function
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn keys_are_classified_by_segments() {
        let digest = "a".repeat(64);
        let cases = [
            ("t/ns/f/.runnable.yaml", Category::Runnable),
            ("t/ns/f/v1.0.0/.runnable.yaml", Category::VersionRunnable(v("v1.0.0"))),
            ("t/ns/f/v1.0.0/f.wasm", Category::Bin(v("v1.0.0"))),
            ("t/ns/f/v1.0.0/g.wasm", Category::VersionStray(v("v1.0.0"))),
            ("t/ns/f/v1.0.0/lib.rs", Category::Src(v("v1.0.0"))),
            ("t/ns/f/v1.0.0/main.go", Category::Src(v("v1.0.0"))),
            ("t/ns/f/v1.0.0/sub/f.wasm", Category::VersionStray(v("v1.0.0"))),
            ("t/ns/f/v1.0/f.wasm", Category::Loose),
            ("t/ns/f/README", Category::Loose),
            ("t/ns/f/.module.yaml", Category::Module),
            ("t/ns/f/.se2-prune", Category::PruneJournal),
            (&format!("t/ns/f/{digest}/f.wasm"), Category::DigestFile),
            ("t/tenant.json", Category::TenantJson),
            ("system/version", Category::SystemVersion),
            ("system/.se2-pending", Category::Pending),
            ("README.md", Category::Other),
            ("t/ns/file", Category::Other),
            ("t//f/.runnable.yaml", Category::Other),
            ("t/ns/f/v1.0.0/", Category::Other),
        ];
        for (key, category) in cases {
            assert_eq!(Category::of(key), category, "{key}");
        }
    }

    fn keys(entries: &[&str]) -> Vec<Entry> {
        entries.iter().map(|k| Entry::new(*k, k.len() as u64)).collect()
    }

    #[test]
    fn functions_group_whatever_the_listing_order() {
        let listed = [
            "t/ns/f/v2.0.0/f.wasm",
            "README.md",
            "t/ns/f-x/v1.0.0/f-x.wasm",
            "t/ns/f/.runnable.yaml",
            "t/ns/f.x/README",
            "t/ns/f/v1.0.0/lib.rs",
            "t/ns/f/v1.0.0/f.wasm",
            "t/ns/f/notes.txt",
            "t/tenant.json",
            "t/ns/f/v10.0.0/.runnable.yaml",
        ];
        let mut reversed = listed;
        reversed.reverse();
        for order in [listed, reversed] {
            let catalog = Catalog::build(keys(&order));
            let mut others = Vec::new();
            let functions = catalog.functions(|k, _| others.push(k.to_owned()));
            assert_eq!(others, ["README.md", "t/ns/f.x/README", "t/tenant.json"]);
            let dirs: Vec<String> = functions.iter().map(|f| f.id.dir()).collect();
            assert_eq!(dirs, ["t/ns/f", "t/ns/f-x"]);
            let f = &functions[0];
            assert_eq!(f.runnable.as_ref().unwrap().key, "t/ns/f/.runnable.yaml");
            assert_eq!(f.versions.keys().map(ToString::to_string).collect::<Vec<_>>(), ["v1.0.0", "v2.0.0", "v10.0.0"]);
            assert_eq!(f.versions[&v("v1.0.0")].sources[0].key, "t/ns/f/v1.0.0/lib.rs");
            assert!(f.versions[&v("v10.0.0")].bin.is_none());
            assert_eq!(f.loose[0].key, "t/ns/f/notes.txt");
            assert_eq!(f.runnables().count(), 2);
        }
    }

    #[test]
    fn the_trie_iterates_in_byte_order() {
        let listed = [
            "b",
            "a/b",
            "a",
            "a/a",
            "ab",
            "a-b",
            "é",
            "Z",
            "a/b/c",
            "a/b/c/d",
            "a/b/c/e/f",
            "a/b/c-d/x",
            "a/b/c.d/x",
            "a/b/cd/x/y",
        ];
        let catalog = Catalog::build(keys(&listed));
        let order: Vec<String> = catalog.iter().map(|(k, _)| k).collect();
        let mut sorted = listed.to_vec();
        sorted.sort();
        assert_eq!(order, sorted);
        let under: Vec<String> = catalog.under("a/").map(|(k, _)| k).collect();
        assert_eq!(under, ["a/a", "a/b", "a/b/c", "a/b/c-d/x", "a/b/c.d/x", "a/b/c/d", "a/b/c/e/f", "a/b/cd/x/y"]);
        assert_eq!(catalog.len(), listed.len());
        assert!(catalog.get("a/b/c/e/f").is_some() && catalog.get("a/b/c/e").is_none());
    }
}
