//! The walker: lists a root and indexes every object into the category
//! trie. Local directories are walked by se2 itself rather than through
//! object_store's listing, which hides files named like `name#123`, stops at
//! a name that is not UTF-8 and follows symbolic links: se2 shows each of
//! those instead, and never follows a link.

use std::path::Path as FsPath;

use futures::{StreamExt, TryStreamExt, stream};
use object_store::ObjectMeta;

use crate::catalog::{Catalog, Category, Entry};
use crate::error::{Error, Result};
use crate::report::{Reporter, Stage};
use crate::root::Root;
use crate::transfer;

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

/// Lists every object under the root; up to `jobs` listings run at once.
pub async fn walk(root: &Root, jobs: usize, reporter: &dyn Reporter) -> Result<Listing> {
    reporter.start(Stage::List, None);
    let listing = match root.dir() {
        Some(dir) => {
            let dir = dir.to_owned();
            tokio::task::spawn_blocking(move || walk_dir(&dir)).await.expect("walking does not panic")?
        }
        None => Listing { catalog: list(root, jobs, reporter).await?, skipped: Vec::new() },
    };
    reporter.finish(Stage::List);
    Ok(listing)
}

/// Lists a store one top-level prefix (tenant) at a time, `jobs` at once:
/// remote listings run in parallel, and no single listing holds the whole
/// root. A listing cut by a transient failure is made again from the start:
/// not every store lists in key order, so it cannot resume at an offset.
async fn list(root: &Root, jobs: usize, reporter: &dyn Reporter) -> Result<Catalog> {
    let failed = |e| Error::store(&root.url, e);
    let top = transfer::retrying(|| async { root.store.list_with_delimiter(None).await.map_err(failed) }).await?;
    let mut catalog = Catalog::default();
    let mut add = |meta: ObjectMeta| {
        reporter.advance(Stage::List, meta.size);
        catalog.insert(Entry::new(meta.location.as_ref(), meta.size));
    };
    top.objects.into_iter().for_each(&mut add);
    let mut listings = stream::iter(&top.common_prefixes)
        .map(|prefix| transfer::retrying(move || root.store.list(Some(prefix)).map_err(failed).try_collect::<Vec<_>>()))
        .buffer_unordered(jobs);
    while let Some(objects) = listings.try_next().await? {
        objects.into_iter().for_each(&mut add);
    }
    Ok(catalog)
}

/// Walks a directory tree without following links.
fn walk_dir(root: &FsPath) -> Result<Listing> {
    let mut listing = Listing::default();
    let mut pending = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let failed = |e: std::io::Error| {
            Error::io(if prefix.is_empty() { root.display().to_string() } else { prefix.clone() }, e)
        };
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures::StreamExt;
    use futures::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt,
        PutMultipartOptions, PutOptions, PutPayload, PutResult,
    };

    use super::*;
    use crate::report::Silent;

    /// A store whose first listing fails after one object.
    #[derive(Debug)]
    struct CutListing {
        inner: InMemory,
        cut: AtomicBool,
    }

    impl std::fmt::Display for CutListing {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("CutListing")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for CutListing {
        async fn put_opts(&self, l: &Path, p: PutPayload, o: PutOptions) -> object_store::Result<PutResult> {
            self.inner.put_opts(l, p, o).await
        }
        async fn put_multipart_opts(
            &self,
            l: &Path,
            o: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(l, o).await
        }
        async fn get_opts(&self, l: &Path, o: GetOptions) -> object_store::Result<GetResult> {
            self.inner.get_opts(l, o).await
        }
        fn delete_stream(
            &self,
            l: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            self.inner.delete_stream(l)
        }
        fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            let listing = self.inner.list(prefix);
            if !self.cut.swap(false, Ordering::SeqCst) {
                return listing;
            }
            let failure = object_store::Error::Generic { store: "CutListing", source: "connection reset".into() };
            listing.take(1).chain(futures::stream::once(async { Err(failure) })).boxed()
        }
        async fn list_with_delimiter(&self, p: Option<&Path>) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(p).await
        }
        async fn copy_opts(&self, f: &Path, t: &Path, o: CopyOptions) -> object_store::Result<()> {
            self.inner.copy_opts(f, t, o).await
        }
    }

    #[tokio::test]
    async fn a_listing_cut_by_a_transient_failure_is_made_again() {
        let store = CutListing { inner: InMemory::new(), cut: AtomicBool::new(true) };
        for key in ["t/ns/f/.runnable.yaml", "t/ns/f/v1.0.0/f.wasm", "t/tenant.json"] {
            store.put(&Path::parse(key).unwrap(), "x".into()).await.unwrap();
        }
        let root = Root::from_store("memory://cut", Arc::new(store));
        let listing = walk(&root, 4, &Silent).await.expect("the second listing succeeds");
        assert_eq!(listing.catalog.len(), 3);
    }
}
