//! `FaultyStore`: a test-only `ObjectStore` that wraps another and injects
//! faults, one behaviour per knob of `Faults`, in the manner of object_store's
//! `throttle.rs`: transient errors on every Nth call of a kind, bodies cut
//! midway, latency, permanent failures on chosen keys, writes that fail after
//! N bytes, and a full disk. Every fault injected is counted in `Counts`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, future};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, UploadPart,
};

/// The kinds of call a fault can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `list`, `list_with_delimiter` (the key is the prefix).
    List,
    /// `get_opts` (heads included): the call itself fails.
    Get,
    /// The body of a `get`: it stops halfway through with an error.
    Body,
    /// The body of a `get`: it ends halfway through, without an error.
    ShortBody,
    /// `put_opts`, and a multipart upload's creation, parts and completion.
    Put,
    /// `copy_opts` (the key is the destination).
    Copy,
    /// Each location of `delete_stream`.
    Delete,
}

/// Which keys a fault applies to.
pub type KeyMatch = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Matches one exact key.
pub fn exact(key: &str) -> KeyMatch {
    let key = key.to_owned();
    Arc::new(move |k| k == key)
}

/// Matches every key.
pub fn any_key() -> KeyMatch {
    Arc::new(|_| true)
}

/// A call that always fails.
#[derive(Clone)]
pub struct Permanent {
    pub kinds: Vec<Kind>,
    pub key: KeyMatch,
    /// Fail with `PermissionDenied` (not retried by se2) rather than `Generic` (retried, in vain).
    pub denied: bool,
    /// The first `after` matching calls succeed (so a read can fail only during the copy, not the hash).
    pub after: u64,
}

/// The faults a store injects; the default injects none.
#[derive(Clone, Default)]
pub struct Faults {
    /// Kind → N: every Nth call of that kind fails once with `Error::Generic`.
    /// A key is faulted at most once in all (transient faults and cut bodies
    /// together), so an operation meets at most one fault per store.
    pub transient: HashMap<Kind, u64>,
    /// Every Nth body of a `get` stops halfway with `Error::Generic` (once per key, as above).
    pub cut_body_every: Option<u64>,
    /// Sleep before each call: this, times 1 to 4 depending on the key (so calls finish out of order).
    pub latency: Duration,
    /// Calls that always fail.
    pub permanent: Vec<Permanent>,
    /// A write to a matching key fails once more than N bytes of it were written.
    pub fail_after_bytes: Option<(KeyMatch, u64)>,
    /// Writes fail with "no space left on device" once this many bytes were written in all.
    pub quota: Option<u64>,
}

/// How many faults of each sort a store injected.
#[derive(Debug, Default)]
pub struct Counts {
    pub transient: AtomicU64,
    pub cut_bodies: AtomicU64,
    pub permanent: AtomicU64,
    pub after_bytes: AtomicU64,
    pub full_disk: AtomicU64,
    pub delayed: AtomicU64,
}

impl Counts {
    /// Faults injected (delays are not faults).
    pub fn faults(&self) -> u64 {
        [&self.transient, &self.cut_bodies, &self.permanent, &self.after_bytes, &self.full_disk]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        write!(
            f,
            "transient={} cut_bodies={} permanent={} after_bytes={} full_disk={} (delayed calls={})",
            n(&self.transient),
            n(&self.cut_bodies),
            n(&self.permanent),
            n(&self.after_bytes),
            n(&self.full_disk),
            n(&self.delayed)
        )
    }
}

#[derive(Default)]
struct State {
    calls: HashMap<Kind, u64>,
    bodies: u64,
    /// Keys that met a transient fault already.
    faulted: HashSet<String>,
    /// Matching calls seen per permanent fault.
    permanent_calls: HashMap<usize, u64>,
    /// Bytes written in all, against the quota.
    used: u64,
}

struct Shared {
    faults: Mutex<Faults>,
    state: Mutex<State>,
    counts: Counts,
}

/// A store that injects `Faults` into the calls it passes to `inner`.
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    shared: Arc<Shared>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>, faults: Faults) -> FaultyStore {
        let shared = Shared { faults: Mutex::new(faults), state: Mutex::default(), counts: Counts::default() };
        FaultyStore { inner, shared: Arc::new(shared) }
    }

    /// Stops injecting faults (the disk is freed, the network heals).
    pub fn lift(&self) {
        *self.shared.faults.lock().unwrap() = Faults::default();
    }

    pub fn counts(&self) -> &Counts {
        &self.shared.counts
    }
}

impl fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({:?})", self.inner)
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic { store: "FaultyStore", source: message.into() }
}

/// A small stable hash of a key, for latency spread.
fn spread(key: &str) -> u32 {
    key.bytes().fold(2166136261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619)) % 4 + 1
}

impl Shared {
    /// Sleeps the latency, then fails the call if a permanent or transient fault says so.
    async fn call(&self, kind: Kind, key: &str) -> Result<()> {
        let latency = self.faults.lock().unwrap().latency;
        if !latency.is_zero() {
            self.counts.delayed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(latency * spread(key)).await;
        }
        self.fail(kind, key)
    }

    /// Fails the call if a permanent or transient fault says so.
    fn fail(&self, kind: Kind, key: &str) -> Result<()> {
        self.permanent(kind, key)?;
        let faults = self.faults.lock().unwrap();
        let Some(every) = faults.transient.get(&kind).copied() else { return Ok(()) };
        let mut state = self.state.lock().unwrap();
        let count = state.calls.entry(kind).or_default();
        *count += 1;
        if (*count).is_multiple_of(every) && state.faulted.insert(key.to_owned()) {
            self.counts.transient.fetch_add(1, Ordering::Relaxed);
            return Err(generic(format!("injected transient fault: {kind:?} {key}")));
        }
        Ok(())
    }

    /// Fails the call when a permanent fault matches it.
    fn permanent(&self, kind: Kind, key: &str) -> Result<()> {
        let faults = self.faults.lock().unwrap();
        for (index, fault) in faults.permanent.iter().enumerate() {
            if !fault.kinds.contains(&kind) || !(fault.key)(key) {
                continue;
            }
            let mut state = self.state.lock().unwrap();
            let seen = state.permanent_calls.entry(index).or_default();
            *seen += 1;
            if *seen <= fault.after {
                continue;
            }
            self.counts.permanent.fetch_add(1, Ordering::Relaxed);
            let message = format!("injected permanent fault: {kind:?} {key}");
            return Err(if fault.denied {
                object_store::Error::PermissionDenied { path: key.to_owned(), source: message.into() }
            } else {
                generic(message)
            });
        }
        Ok(())
    }

    /// How this get's body is to be cut halfway, if it is.
    fn cuts_body(&self, key: &str) -> Option<Cut> {
        if self.permanent(Kind::Body, key).is_err() {
            return Some(Cut::Failing);
        }
        if self.permanent(Kind::ShortBody, key).is_err() {
            return Some(Cut::Short);
        }
        let faults = self.faults.lock().unwrap();
        let every = faults.cut_body_every?;
        let mut state = self.state.lock().unwrap();
        state.bodies += 1;
        let cut = state.bodies.is_multiple_of(every) && state.faulted.insert(key.to_owned());
        if cut {
            self.counts.cut_bodies.fetch_add(1, Ordering::Relaxed);
        }
        cut.then_some(Cut::Failing)
    }

    /// Accounts `bytes` more written to `key`, of which `so_far` were written
    /// before in the same upload; fails past the key's limit or the quota.
    fn write(&self, key: &str, so_far: u64, bytes: u64) -> Result<()> {
        let faults = self.faults.lock().unwrap();
        if let Some((matches, limit)) = &faults.fail_after_bytes
            && matches(key)
            && so_far + bytes > *limit
        {
            self.counts.after_bytes.fetch_add(1, Ordering::Relaxed);
            let message = format!("injected fault: connection reset after {limit} bytes of {key}");
            return Err(generic(message));
        }
        let mut state = self.state.lock().unwrap();
        if let Some(quota) = faults.quota
            && state.used + bytes > quota
        {
            self.counts.full_disk.fetch_add(1, Ordering::Relaxed);
            let full =
                std::io::Error::new(std::io::ErrorKind::StorageFull, format!("No space left on device writing {key}"));
            return Err(object_store::Error::Generic { store: "FaultyStore", source: Box::new(full) });
        }
        state.used += bytes;
        Ok(())
    }
}

/// How a body is cut.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Halfway, with an error.
    Failing,
    /// Halfway, as if it ended there.
    Short,
}

/// The body of a get, stopped halfway through its first chunk.
fn cut(stream: BoxStream<'static, Result<Bytes>>, key: String, how: Cut) -> BoxStream<'static, Result<Bytes>> {
    stream
        .take(1)
        .map(move |chunk| {
            let error = generic(format!("injected fault: body of {key} cut midway"));
            let items = match chunk {
                Ok(bytes) if how == Cut::Short => vec![Ok(bytes.slice(..bytes.len() / 2))],
                Ok(bytes) => vec![Ok(bytes.slice(..bytes.len() / 2)), Err(error)],
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        })
        .flatten()
        .boxed()
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let key = location.as_ref();
        self.shared.call(Kind::Put, key).await?;
        self.shared.write(key, 0, payload.content_length() as u64)?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.shared.call(Kind::Put, location.as_ref()).await?;
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FaultyUpload { upload, key: location.to_string(), written: 0, shared: self.shared.clone() }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let key = location.as_ref();
        self.shared.call(Kind::Get, key).await?;
        let head = options.head;
        let result = self.inner.get_opts(location, options).await?;
        let Some(how) = self.shared.cuts_body(key).filter(|_| !head) else { return Ok(result) };
        let GetResult { payload, meta, range, attributes, extensions } = result;
        let whole = GetResult {
            payload,
            meta: meta.clone(),
            range: range.clone(),
            attributes: attributes.clone(),
            extensions: Default::default(),
        };
        let payload = GetResultPayload::Stream(cut(whole.into_stream(), key.to_owned(), how));
        Ok(GetResult { payload, meta, range, attributes, extensions })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.shared.call(Kind::Get, location.as_ref()).await?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let shared = self.shared.clone();
        let checked = locations
            .then(move |location| {
                let shared = shared.clone();
                async move {
                    let location = location?;
                    shared.call(Kind::Delete, location.as_ref()).await?;
                    Ok(location)
                }
            })
            .boxed();
        self.inner.delete_stream(checked)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let shared = self.shared.clone();
        let key = prefix.map_or_else(String::new, |p| p.to_string());
        let listing = self.inner.list(prefix);
        futures::stream::once(async move {
            match shared.call(Kind::List, &key).await {
                Ok(()) => listing,
                Err(e) => futures::stream::once(future::ready(Err(e))).boxed(),
            }
        })
        .flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let key = prefix.map_or_else(String::new, |p| p.to_string());
        self.shared.call(Kind::List, &key).await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let key = to.as_ref();
        self.shared.call(Kind::Copy, key).await?;
        let size = self.inner.head(from).await?.size;
        self.shared.write(key, 0, size)?;
        self.inner.copy_opts(from, to, options).await
    }
}

/// A multipart upload whose parts count against the byte limits.
struct FaultyUpload {
    upload: Box<dyn MultipartUpload>,
    key: String,
    written: u64,
    shared: Arc<Shared>,
}

impl fmt::Debug for FaultyUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyUpload({})", self.key)
    }
}

#[async_trait]
impl MultipartUpload for FaultyUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let bytes = data.content_length() as u64;
        let checked =
            self.shared.fail(Kind::Put, &self.key).and_then(|()| self.shared.write(&self.key, self.written, bytes));
        if let Err(e) = checked {
            return Box::pin(future::ready(Err(e)));
        }
        self.written += bytes;
        self.upload.put_part(data)
    }

    async fn complete(&mut self) -> Result<PutResult> {
        self.shared.call(Kind::Put, &self.key).await?;
        self.upload.complete().await
    }

    async fn abort(&mut self) -> Result<()> {
        self.upload.abort().await
    }
}
