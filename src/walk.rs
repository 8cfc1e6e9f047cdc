//! The walker: lists a root and indexes every object into the category
//! trie. Local directories are walked by se2 itself rather than through
//! object_store's listing, which hides files named like `name#123`, stops at
//! a name that is not UTF-8 and follows symbolic links: se2 shows each of
//! those instead, and never follows a link.

use std::path::Path as FsPath;

use futures::TryStreamExt;

use crate::catalog::{Catalog, Category, Entry};
use crate::error::{Error, Result};
use crate::report::{Reporter, Stage};
use crate::root::Root;

/// Why a file under a local root is not in the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Its name is not UTF-8: no object key can name it.
    NotUtf8,
    /// A symbolic link: se2 does not follow links.
    Symlink,
    /// Not a regular file (socket, device, fifo).
    Special,
    /// Named like the staging file of a write (`<key>#<digits>`), which
    /// object_store's local store neither lists nor reads.
    Staging,
}

/// A file the walker saw but did not index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The key it would have (lossily decoded when not UTF-8).
    pub key: String,
    pub why: Skip,
}

impl Skipped {
    /// What a user should be told about it.
    pub fn reason(&self) -> &'static str {
        match self.why {
            Skip::NotUtf8 => "the name is not UTF-8, so no object key can name it: not migrated; rename it",
            Skip::Symlink => "a symbolic link: se2 does not follow links",
            Skip::Special => "not a regular file",
            Skip::Staging => "named like a staging file (`#<digits>`), which object_store cannot address: left alone",
        }
    }

    /// True for a staging file of an object se2 writes (safe to remove).
    pub fn is_stale_staging(&self) -> bool {
        self.why == Skip::Staging
            && self.key.rsplit_once('#').is_some_and(|(key, _)| {
                matches!(
                    Category::of(key),
                    Category::DigestFile
                        | Category::Module
                        | Category::TenantJson
                        | Category::SystemVersion
                        | Category::Pending
                        | Category::PruneJournal
                )
            })
    }
}

/// What a walk found.
#[derive(Default)]
pub struct Listing {
    pub catalog: Catalog,
    pub skipped: Vec<Skipped>,
}

/// Lists every object under the root.
pub async fn walk(root: &Root, reporter: &dyn Reporter) -> Result<Listing> {
    reporter.start(Stage::List, None);
    let listing = match root.dir() {
        Some(dir) => {
            let dir = dir.to_owned();
            tokio::task::spawn_blocking(move || walk_dir(&dir)).await.expect("walking does not panic")?
        }
        None => {
            let mut catalog = Catalog::default();
            let mut objects = root.store.list(None);
            while let Some(meta) = objects.try_next().await.map_err(|e| Error::store(&root.url, e))? {
                reporter.advance(Stage::List, meta.size);
                catalog.insert(Entry::new(meta.location.as_ref(), meta.size));
            }
            Listing { catalog, skipped: Vec::new() }
        }
    };
    reporter.finish(Stage::List);
    Ok(listing)
}

/// Walks a directory tree without following links.
fn walk_dir(root: &FsPath) -> Result<Listing> {
    let mut listing = Listing::default();
    let mut pending = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let failed = |e: std::io::Error| Error::io(if prefix.is_empty() { root.display().to_string() } else { prefix.clone() }, e);
        for entry in std::fs::read_dir(&dir).map_err(failed)? {
            let entry = entry.map_err(failed)?;
            let name = entry.file_name();
            let key = match name.to_str() {
                Some(name) => format!("{prefix}{name}"),
                None => {
                    let key = format!("{prefix}{}", name.to_string_lossy());
                    listing.skipped.push(Skipped { key, why: Skip::NotUtf8 });
                    continue;
                }
            };
            let kind = entry.file_type().map_err(|e| Error::io(&key, e))?;
            if kind.is_symlink() {
                listing.skipped.push(Skipped { key, why: Skip::Symlink });
            } else if kind.is_dir() {
                pending.push((entry.path(), format!("{key}/")));
            } else if !kind.is_file() {
                listing.skipped.push(Skipped { key, why: Skip::Special });
            } else if is_staging(&key) {
                listing.skipped.push(Skipped { key, why: Skip::Staging });
            } else {
                let size = entry.metadata().map_err(|e| Error::io(&key, e))?.len();
                listing.catalog.insert(Entry::new(key, size));
            }
        }
    }
    Ok(listing)
}

/// `<name>#<digits>`: how object_store's local store (and se2) stage a write.
fn is_staging(key: &str) -> bool {
    key.rsplit_once('#').is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
