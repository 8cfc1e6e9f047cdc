//! Moving bytes: small metadata objects read whole (with a size limit),
//! binaries hashed as streams, and copies made store-side when source and
//! destination are one store, by the kernel between two local directories,
//! and streamed (hashed on the way, in bounded memory) otherwise.

use std::io::Read;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::buffered::BufWriter;
use object_store::{ObjectStoreExt, PutMode, PutOptions, UpdateVersion};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::plan::{Condition, hex};
use crate::root::Root;
use crate::se2;

/// Part size of streamed uploads (S3's smallest multipart part is 5 MiB).
const PART_BYTES: usize = 8 << 20;
/// Parts of one streamed upload in flight at once.
const PARTS_IN_FLIGHT: usize = 2;
/// Read buffer for local files.
const READ_BUFFER: usize = 1 << 20;
/// Bytes that all streamed copies together may buffer, in KiB permits.
const STREAM_BUDGET_KIB: u32 = 64 << 10;

/// Bounds the memory of streamed copies: each holds permits for what it may buffer.
static STREAM_BUDGET: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(STREAM_BUDGET_KIB as usize)));

/// Attempts of one operation (a whole get, copy or put, body included).
const ATTEMPTS: u32 = 3;

/// Runs `operation` again after a transient failure. Remote stores already
/// retry each request; this also covers what they cannot, such as a body
/// stream cut halfway through a large copy.
pub(crate) async fn retrying<T, F, Fut>(mut operation: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match operation().await {
            Err(error) if attempt < ATTEMPTS && is_transient(&error) => {
                tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// True when the store answered with an HTTP 4xx that another attempt
/// would meet again (a missing bucket, refused credentials), as opposed to
/// a timeout (408) or throttling (429). object_store keeps the status in an
/// error type it does not export, so its text is read.
fn is_client_error(error: &object_store::Error) -> bool {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.split("status code: ")
        .skip(1)
        .any(|rest| rest.starts_with('4') && !rest.starts_with("408") && !rest.starts_with("429"))
}

/// Failures that another attempt may not meet; not a missing object, a
/// refused precondition, bad credentials or an unsupported call.
fn is_transient(error: &Error) -> bool {
    use std::io::ErrorKind as K;
    match error {
        Error::Store { source: source @ object_store::Error::Generic { .. }, .. } => !is_client_error(source),
        Error::Store { source, .. } => matches!(source, object_store::Error::JoinError { .. }),
        Error::Io { source, .. } => matches!(
            source.kind(),
            K::Interrupted
                | K::TimedOut
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::Other
        ),
        _ => false,
    }
}

/// A small object read whole, with what identifies its version.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Bytes,
    pub e_tag: Option<String>,
    pub version: Option<String>,
}

/// Reads a small object whole; `Ok(None)` when it does not exist, an
/// `Error::Object` when it is larger than `limit`.
pub async fn read_small(root: &Root, key: &str, limit: u64) -> Result<Option<Fetched>> {
    retrying(|| read_small_once(root, key, limit)).await
}

async fn read_small_once(root: &Root, key: &str, limit: u64) -> Result<Option<Fetched>> {
    let result = match root.store.get(&root.location(key)?).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(Error::store(key, e)),
    };
    if result.meta.size > limit {
        let reason =
            format!("too large: {} bytes, over the {limit} se2 reads for this kind of object", result.meta.size);
        return Err(Error::Object { key: key.into(), reason });
    }
    let (e_tag, version, size) = (result.meta.e_tag.clone(), result.meta.version.clone(), result.meta.size);
    let bytes = result.bytes().await.map_err(|e| Error::store(key, e))?;
    if bytes.len() as u64 != size {
        // A body that ended early would parse as a shorter file: read it again.
        let cause = format!("the body ended after {} of its {size} bytes", bytes.len());
        return Err(Error::store(key, object_store::Error::Generic { store: "se2", source: cause.into() }));
    }
    Ok(Some(Fetched { bytes, e_tag, version }))
}

/// Reads SE2 metadata objects (`tenant.json`, `.module.yaml`, …) whole,
/// `jobs` at once; the ones that vanished since listing are left out.
pub async fn read_metadata(root: &Root, keys: Vec<String>, jobs: usize) -> Result<Vec<(String, Fetched)>> {
    stream::iter(keys)
        .map(|key| async move { Ok::<_, Error>(read_small(root, &key, se2::MAX_METADATA_BYTES).await?.map(|f| (key, f))) })
        .buffer_unordered(jobs)
        .try_filter_map(|found| async move { Ok(found) })
        .try_collect()
        .await
}

/// Hashes an object as a stream; returns its SHA-256 (hex) and its length.
pub async fn hash(root: &Root, key: &str) -> Result<(String, u64)> {
    retrying(|| hash_once(root, key)).await
}

async fn hash_once(root: &Root, key: &str) -> Result<(String, u64)> {
    if let Some(file) = root.file(key) {
        let key = key.to_owned();
        return tokio::task::spawn_blocking(move || hash_file(&file).map_err(|e| Error::io(key, e)))
            .await
            .expect("hashing does not panic");
    }
    let mut stream = root.store.get(&root.location(key)?).await.map_err(|e| Error::store(key, e))?.into_stream();
    let mut hasher = Sha256::new();
    let mut length = 0;
    while let Some(chunk) = stream.try_next().await.map_err(|e| Error::store(key, e))? {
        hasher.update(&chunk);
        length += chunk.len() as u64;
    }
    Ok((hex(&hasher.finalize()), length))
}

fn hash_file(file: &FsPath) -> std::io::Result<(String, u64)> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_BUFFER]);
    }
    let mut input = std::fs::File::open(file)?;
    let mut hasher = Sha256::new();
    let mut length = 0;
    BUFFER.with_borrow_mut(|buffer| {
        loop {
            let n = match input.read(buffer) {
                Ok(0) => return Ok((hex(&hasher.finalize_reset()), length)),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buffer[..n]);
            length += n as u64;
        }
    })
}

/// Copies `from_key` of `source` to `to_key` of `dest`; `digest` and `size`
/// are what the object hashed to, and a streamed copy checks them.
pub async fn copy(source: &Root, dest: &Root, from_key: &str, to_key: &str, digest: &str, size: u64) -> Result<()> {
    retrying(|| copy_once(source, dest, from_key, to_key, digest, size)).await
}

async fn copy_once(source: &Root, dest: &Root, from_key: &str, to_key: &str, digest: &str, size: u64) -> Result<()> {
    if source.same_store(dest) {
        let copied = dest.store.copy(&source.location(from_key)?, &dest.location(to_key)?).await;
        match copied {
            Ok(()) => return Ok(()),
            // A hard link cannot cross filesystems: copy the file instead.
            Err(_) if dest.is_local() => {}
            Err(e) => return Err(Error::store(to_key, e)),
        }
    }
    if let (Some(from), Some(to)) = (source.file(from_key), dest.file(to_key)) {
        let key = to_key.to_owned();
        return tokio::task::spawn_blocking(move || copy_file(&from, &to).map_err(|e| Error::io(key, e)))
            .await
            .expect("copying does not panic");
    }
    stream_copy(source, dest, from_key, to_key, digest, size).await
}

/// Copies a file by the kernel (`copy_file_range`, reflinks where the
/// filesystem has them) into a staging name beside the target, then renames
/// it into place so that no reader ever sees half a file.
fn copy_file(from: &FsPath, to: &FsPath) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let staged = staging_path(to);
    let result = std::fs::copy(from, &staged).and_then(|_| std::fs::rename(&staged, to));
    if result.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    result
}

/// `<file>#<digits>`: the staging name object_store's local store uses too,
/// which its listings skip and se2's walker cleans up.
fn staging_path(to: &FsPath) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let unique = u64::from(std::process::id()) * 1_000_000 + NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = to.as_os_str().to_owned();
    name.push(format!("#{unique}"));
    PathBuf::from(name)
}

async fn stream_copy(source: &Root, dest: &Root, from_key: &str, to_key: &str, digest: &str, size: u64) -> Result<()> {
    let buffered = size.min((PART_BYTES * (PARTS_IN_FLIGHT + 1)) as u64);
    let permits = (buffered.div_ceil(1024) as u32).clamp(1, STREAM_BUDGET_KIB);
    let _permit = STREAM_BUDGET.acquire_many(permits).await.expect("the budget is never closed");

    let mut stream =
        source.store.get(&source.location(from_key)?).await.map_err(|e| Error::store(from_key, e))?.into_stream();
    let mut writer = BufWriter::with_capacity(dest.store.clone(), dest.location(to_key)?, PART_BYTES)
        .with_max_concurrency(PARTS_IN_FLIGHT);
    let mut hasher = Sha256::new();
    let mut length = 0;
    let copied: Result<()> = async {
        while let Some(chunk) = stream.try_next().await.map_err(|e| Error::store(from_key, e))? {
            hasher.update(&chunk);
            length += chunk.len() as u64;
            writer.put(chunk).await.map_err(|e| Error::store(to_key, e))?;
        }
        let found = hex(&hasher.finalize_reset());
        if found != digest || length != size {
            let reason = format!("changed while se2 copied it: now {length} bytes hashing to {found}");
            return Err(Error::Object { key: from_key.into(), reason });
        }
        Ok(())
    }
    .await;
    match copied {
        Ok(()) => writer.shutdown().await.map_err(|e| Error::io(to_key, e)),
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

/// Puts a small object under `condition`. Stores that cannot check a
/// condition (local disk cannot compare versions) write unconditionally.
pub async fn put(root: &Root, key: &str, body: Bytes, condition: &Condition) -> Result<()> {
    retrying(|| put_once(root, key, body.clone(), condition)).await
}

async fn put_once(root: &Root, key: &str, body: Bytes, condition: &Condition) -> Result<()> {
    let location = root.location(key)?;
    let mode = match condition {
        Condition::Overwrite => PutMode::Overwrite,
        Condition::Absent => PutMode::Create,
        Condition::Unchanged { e_tag, version } => {
            PutMode::Update(UpdateVersion { e_tag: e_tag.clone(), version: version.clone() })
        }
    };
    let options = PutOptions { mode: mode.clone(), ..Default::default() };
    match root.store.put_opts(&location, body.clone().into(), options).await {
        Ok(_) => Ok(()),
        Err(object_store::Error::NotImplemented { .. }) if mode != PutMode::Overwrite => {
            root.store.put(&location, body.into()).await.map(|_| ()).map_err(|e| Error::store(key, e))
        }
        Err(e) => Err(Error::store(key, e)),
    }
}

/// Removes the staging file (`<key>#<digits>`) an interrupted write left
/// on local disk; only local roots have them.
pub fn remove_staging(root: &Root, key: &str) -> Result<()> {
    let Some(file) = root.file(key) else { return Ok(()) };
    match std::fs::remove_file(&file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(key, e)),
        _ => Ok(()),
    }
}

/// Deletes an object; a missing one is not an error.
pub async fn delete(root: &Root, key: &str) -> Result<()> {
    retrying(|| delete_once(root, key)).await
}

async fn delete_once(root: &Root, key: &str) -> Result<()> {
    match root.store.delete(&root.location(key)?).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(Error::store(key, e)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::stream::BoxStream;
    use object_store::path::Path;
    use object_store::{
        CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
        PutMultipartOptions, PutOptions, PutPayload, PutResult,
    };

    use super::*;

    /// A store whose every object announces 10 bytes and ends after 5.
    #[derive(Debug)]
    struct ShortBodies;

    impl std::fmt::Display for ShortBodies {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("ShortBodies")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for ShortBodies {
        async fn get_opts(&self, location: &Path, _: GetOptions) -> object_store::Result<GetResult> {
            let meta = ObjectMeta {
                location: location.clone(),
                last_modified: Default::default(),
                size: 10,
                e_tag: None,
                version: None,
            };
            let body = futures::stream::once(async { Ok(Bytes::from_static(b"name:")) });
            let payload = GetResultPayload::Stream(Box::pin(body));
            Ok(GetResult {
                payload,
                meta,
                range: 0..10,
                attributes: Default::default(),
                extensions: Default::default(),
            })
        }
        async fn put_opts(&self, _: &Path, _: PutPayload, _: PutOptions) -> object_store::Result<PutResult> {
            unimplemented!()
        }
        async fn put_multipart_opts(
            &self,
            _: &Path,
            _: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            unimplemented!()
        }
        fn delete_stream(
            &self,
            _: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            unimplemented!()
        }
        fn list(&self, _: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            unimplemented!()
        }
        async fn list_with_delimiter(&self, _: Option<&Path>) -> object_store::Result<ListResult> {
            unimplemented!()
        }
        async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> object_store::Result<()> {
            unimplemented!()
        }
    }

    #[tokio::test]
    async fn a_small_object_whose_body_ends_early_is_not_taken_for_a_shorter_one() {
        let root = Root::from_store("memory://short", Arc::new(ShortBodies));
        let error = read_small(&root, "t/ns/f/.runnable.yaml", 1 << 20).await.unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("t/ns/f/.runnable.yaml: "), "{text}");
        assert!(text.contains("ended after 5 of its 10 bytes"), "{text}");
    }

    #[test]
    fn client_errors_are_not_retried() {
        let generic = |text: &str| object_store::Error::Generic {
            store: "S3",
            source: Box::new(std::io::Error::other(text.to_owned())),
        };
        let cases = [
            (
                "Error performing GET http://h/b in 1ms - Server returned non-2xx status code: 404 Not Found: NoSuchBucket",
                false,
            ),
            (
                "Error performing GET http://h/b in 1ms - Server returned non-2xx status code: 403 Forbidden: denied",
                false,
            ),
            (
                "Error performing GET http://h/b in 1ms - Server returned non-2xx status code: 429 Too Many Requests",
                true,
            ),
            ("Error performing GET http://h/b in 1ms - Server returned non-2xx status code: 408 Request Timeout", true),
            ("Error performing GET http://h/b in 1ms - Server returned non-2xx status code: 503 Slow Down", true),
            ("Error performing GET http://h/b after 3 retries - HTTP error: connection reset", true),
        ];
        for (text, transient) in cases {
            assert_eq!(is_transient(&Error::store("k", generic(text))), transient, "{text}");
        }
    }
}
