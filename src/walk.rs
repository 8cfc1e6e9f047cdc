//! The walker: lists a root and indexes every object into the category trie.

use futures::TryStreamExt;

use crate::catalog::{Catalog, Entry};
use crate::error::{Error, Result};
use crate::report::{Reporter, Stage};
use crate::root::Root;

/// Lists every object under the root into a catalog.
pub async fn walk(root: &Root, reporter: &dyn Reporter) -> Result<Catalog> {
    reporter.start(Stage::List, None);
    let mut catalog = Catalog::default();
    let mut listing = root.store.list(None);
    while let Some(meta) = listing.try_next().await.map_err(|e| Error::store(&root.url, e))? {
        reporter.advance(Stage::List, meta.size);
        catalog.insert(Entry::new(meta.location.as_ref(), meta.size));
    }
    reporter.finish(Stage::List);
    Ok(catalog)
}
