//! Opening a storage root from its URL: a directory on local disk, an
//! in-process memory store, or a bucket/container (with optional prefix)
//! on S3, Google Cloud Storage or Azure Blob.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;

use crate::cloud::{self, Env};
use crate::error::{Error, Result};

/// The directory a root URL names, if it names one on local disk.
fn local_dir(url: &str) -> Result<Option<PathBuf>> {
    match url.strip_prefix("file://") {
        Some(path) if path.starts_with('/') => Ok(Some(PathBuf::from(path))),
        Some(_) => Err(Error::Root { root: url.into(), reason: "a file:// URL needs an absolute path".into() }),
        None if !url.contains("://") => Ok(Some(PathBuf::from(url))),
        None => Ok(None),
    }
}

/// An opened storage root: the store, scoped to the root, and how to name it.
#[derive(Clone, Debug)]
pub struct Root {
    /// The root as the user wrote it.
    pub url: String,
    /// The store; keys are relative to the root.
    pub store: Arc<dyn ObjectStore>,
    /// The directory, when the root is on local disk.
    dir: Option<PathBuf>,
}

impl Root {
    /// A fresh, empty in-process store.
    pub fn memory() -> Root {
        Root { url: "memory://".into(), store: Arc::new(InMemory::new()), dir: None }
    }

    /// `memory://NAME`: the in-process store of that name, shared by every
    /// root opened with it in this process (a bare `memory://` is always fresh).
    fn named_memory(url: &str, name: &str) -> Root {
        static STORES: LazyLock<Mutex<HashMap<String, Arc<InMemory>>>> = LazyLock::new(Default::default);
        if name.is_empty() {
            return Root::memory();
        }
        let mut stores = STORES.lock().expect("not poisoned");
        let store = stores.entry(name.to_owned()).or_insert_with(|| Arc::new(InMemory::new()));
        Root::from_store(url, store.clone())
    }

    /// Wraps a store the caller built (tests and fault injection use this).
    pub fn from_store(url: impl Into<String>, store: Arc<dyn ObjectStore>) -> Root {
        Root { url: url.into(), store, dir: None }
    }

    /// Opens a directory on local disk, which must exist.
    pub fn directory(url: &str, dir: &FsPath) -> Result<Root> {
        let failed = |reason: String| Error::Root { root: url.into(), reason };
        let meta = std::fs::metadata(dir).map_err(|e| failed(format!("cannot open the directory: {e}")))?;
        if !meta.is_dir() {
            return Err(failed("not a directory".into()));
        }
        let dir = std::fs::canonicalize(dir).map_err(|e| failed(format!("cannot open the directory: {e}")))?;
        let store = LocalFileSystem::new_with_prefix(&dir).map_err(|e| failed(e.to_string()))?;
        Ok(Root { url: url.into(), store: Arc::new(store.with_automatic_cleanup(true)), dir: Some(dir) })
    }

    /// Opens an existing root, configured from the process environment.
    pub fn open(url: &str) -> Result<Root> {
        Root::open_with(url, &Env::process(), false)
    }

    /// Opens a root that is written to, creating a local directory if needed.
    pub fn open_for_writing(url: &str) -> Result<Root> {
        Root::open_with(url, &Env::process(), true)
    }

    /// A destination for a dry run: like `open`, except that a local
    /// directory that does not exist yet is an empty root (nothing is created).
    pub fn open_for_dry_run(url: &str) -> Result<Root> {
        match local_dir(url) {
            Ok(Some(dir)) if !dir.exists() => Ok(Root::from_store(url, Arc::new(InMemory::new()))),
            _ => Root::open(url),
        }
    }

    /// Opens a root configured from `env`; `create` makes a missing local directory.
    pub fn open_with(url: &str, env: &Env, create: bool) -> Result<Root> {
        if let Some(name) = url.strip_prefix("memory://") {
            return Ok(Root::named_memory(url, name.trim_matches('/')));
        }
        let failed = |reason: String| Error::Root { root: url.into(), reason };
        let Some(dir) = local_dir(url)? else {
            let parsed = url::Url::parse(url).map_err(|e| failed(format!("not a storage URL: {e}")))?;
            let (store, prefix) = cloud::open(&parsed, env).map_err(failed)?;
            let store: Arc<dyn ObjectStore> =
                if prefix.as_ref().is_empty() { store } else { Arc::new(PrefixStore::new(store, prefix)) };
            return Ok(Root::from_store(url, store));
        };
        if create && !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| failed(format!("cannot create the directory: {e}")))?;
        }
        Root::directory(url, &dir)
    }

    /// True when both roots are the same store, so copies can stay store-side.
    pub fn same_store(&self, other: &Root) -> bool {
        Arc::ptr_eq(&self.store, &other.store)
    }

    /// The directory, when the root is on local disk.
    pub fn dir(&self) -> Option<&FsPath> {
        self.dir.as_deref()
    }

    /// The file behind `key` when the root is on local disk.
    pub fn file(&self, key: &str) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(key))
    }

    /// True when the root is a directory on local disk.
    pub fn is_local(&self) -> bool {
        self.dir.is_some()
    }

    /// The object_store location of `key`. Keys are raw names, never
    /// re-encoded: `Path::from` would percent-encode `%`, `#` and non-ASCII,
    /// and on local disk name another file.
    pub fn location(&self, key: &str) -> Result<Path> {
        Path::parse(key).map_err(|e| Error::Object { key: key.into(), reason: format!("not a valid object key: {e}") })
    }

    /// Default concurrency: a few per core on local disk, wide for remote stores.
    pub fn default_jobs(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        if self.is_local() || self.url.starts_with("memory:") { cores * 2 } else { 32 }
    }
}
