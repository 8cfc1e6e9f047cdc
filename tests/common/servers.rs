//! The object-store servers the suite runs against (moto, s3s-fs, MinIO,
//! Azurite, fake-gcs-server): where each one is, from the `SE2_TEST_*`
//! variables that `scripts/servers.sh` (or docker-compose) provides; the
//! environment `se2` is given to reach it; and the same bucket opened
//! through object_store alone (never through se2) to seed and read roots.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    ClientOptions, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RetryConfig,
};

use super::TestRoot;

/// Azurite's development account and its published key.
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// One server, as the environment names it.
#[derive(Clone, Debug)]
pub struct Server {
    /// `moto`, `s3s`, `minio`, `azurite` or `gcs`: as `SE2_TEST_SERVERS` lists it.
    pub name: &'static str,
    /// The bucket (container) every root of the run lives in.
    pub bucket: String,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    S3 {
        endpoint: String,
        access_key: String,
        secret_key: String,
    },
    /// `endpoint` is the account URL, `http://HOST:PORT/devstoreaccount1`.
    Azure {
        endpoint: String,
    },
    Gcs {
        endpoint: String,
    },
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn bucket() -> String {
    var("SE2_TEST_BUCKET").unwrap_or_else(|| "se2-test".into())
}

/// True when `SE2_TEST_REQUIRE_SERVERS` says that server `name` must be
/// there: it is set, and `SE2_TEST_SERVERS` lists `name` (unset, it means
/// what `scripts/servers.sh` starts: moto, s3s, azurite, gcs; never minio).
pub fn required(name: &str) -> bool {
    let set = |v: &str| !v.is_empty() && v != "0";
    if !std::env::var("SE2_TEST_REQUIRE_SERVERS").is_ok_and(|v| set(&v)) {
        return false;
    }
    let listed = var("SE2_TEST_SERVERS").unwrap_or_else(|| "moto,s3s,azurite,gcs".into());
    listed.split(',').any(|s| s.trim() == name)
}

/// `Some(server)`, or `None` after saying why `what` is skipped; panics
/// instead when the server is required (see `required`).
pub fn or_skip(server: Option<Server>, name: &str, what: &str) -> Option<Server> {
    if server.is_none() {
        assert!(!required(name), "{what}: server {name} is not configured but SE2_TEST_REQUIRE_SERVERS is set");
        eprintln!("{what}: skipped, server {name} is not configured");
    }
    server
}

/// A prefix that no other root of this run, or of another run against the
/// same server, uses: `<label>-<pid>-<n>`, the label cut to 24 bytes. Short,
/// because s3s-fs keeps a sidecar file per object named by the base64 of its
/// whole key, and fails (500, "File name too long") on keys over ~160 bytes.
pub fn unique_prefix(label: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let cut = label.char_indices().nth(24).map_or(label, |(i, _)| &label[..i]);
    format!("{cut}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Server {
    fn s3(
        name: &'static str,
        endpoint: &str,
        access_key: Option<String>,
        secret_key: Option<String>,
    ) -> Option<Server> {
        let endpoint = var(endpoint)?;
        let (access_key, secret_key) = (access_key?, secret_key?);
        Some(Server { name, bucket: bucket(), kind: Kind::S3 { endpoint, access_key, secret_key } })
    }

    /// moto (`SE2_TEST_MOTO_ENDPOINT`): any credentials do.
    pub fn moto() -> Option<Server> {
        Server::s3("moto", "SE2_TEST_MOTO_ENDPOINT", Some("se2-test".into()), Some("se2-test".into()))
    }

    /// s3s-fs (`SE2_TEST_S3S_ENDPOINT`, `_ACCESS_KEY`, `_SECRET_KEY`): signatures are checked.
    pub fn s3s() -> Option<Server> {
        Server::s3("s3s", "SE2_TEST_S3S_ENDPOINT", var("SE2_TEST_S3S_ACCESS_KEY"), var("SE2_TEST_S3S_SECRET_KEY"))
    }

    /// MinIO (`SE2_TEST_MINIO_ENDPOINT`, `_ACCESS_KEY`, `_SECRET_KEY`), from docker-compose.
    pub fn minio() -> Option<Server> {
        Server::s3(
            "minio",
            "SE2_TEST_MINIO_ENDPOINT",
            var("SE2_TEST_MINIO_ACCESS_KEY"),
            var("SE2_TEST_MINIO_SECRET_KEY"),
        )
    }

    /// Azurite (`SE2_TEST_AZURITE_ENDPOINT`, the account URL).
    pub fn azurite() -> Option<Server> {
        let endpoint = var("SE2_TEST_AZURITE_ENDPOINT")?.trim_end_matches('/').to_owned();
        Some(Server { name: "azurite", bucket: bucket(), kind: Kind::Azure { endpoint } })
    }

    /// fake-gcs-server (`SE2_TEST_GCS_ENDPOINT`): reads only, see `JsonUploads`.
    pub fn gcs() -> Option<Server> {
        let endpoint = var("SE2_TEST_GCS_ENDPOINT")?.trim_end_matches('/').to_owned();
        Some(Server { name: "gcs", bucket: bucket(), kind: Kind::Gcs { endpoint } })
    }

    /// The server of that name, if configured.
    pub fn named(name: &str) -> Option<Server> {
        match name {
            "moto" => Server::moto(),
            "s3s" => Server::s3s(),
            "minio" => Server::minio(),
            "azurite" => Server::azurite(),
            "gcs" => Server::gcs(),
            other => panic!("no server named {other}"),
        }
    }

    /// The URL scheme of its roots.
    pub fn scheme(&self) -> &'static str {
        match self.kind {
            Kind::S3 { .. } => "s3",
            Kind::Azure { .. } => "az",
            Kind::Gcs { .. } => "gs",
        }
    }

    /// The root URL of `prefix` in the bucket.
    pub fn url(&self, prefix: &str) -> String {
        format!("{}://{}/{prefix}", self.scheme(), self.bucket)
    }

    /// A root URL in a bucket that does not exist.
    pub fn missing_url(&self, prefix: &str) -> String {
        format!("{}://se2-no-such-bucket-{}/{prefix}", self.scheme(), std::process::id())
    }

    /// What `se2` is run with to reach the server: the variables its users
    /// would set, and few retries so that a failure costs milliseconds.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = match &self.kind {
            Kind::S3 { endpoint, access_key, secret_key } => vec![
                ("AWS_ENDPOINT".into(), endpoint.clone()),
                ("AWS_ACCESS_KEY_ID".into(), access_key.clone()),
                ("AWS_SECRET_ACCESS_KEY".into(), secret_key.clone()),
                ("AWS_REGION".into(), "us-east-1".into()),
                ("AWS_ALLOW_HTTP".into(), "true".into()),
            ],
            Kind::Azure { endpoint } => vec![
                ("AZURE_STORAGE_USE_EMULATOR".into(), "true".into()),
                // object_store wants the service URL here; it adds the account itself.
                (
                    "AZURITE_BLOB_STORAGE_URL".into(),
                    endpoint.trim_end_matches(AZURITE_ACCOUNT).trim_end_matches('/').into(),
                ),
            ],
            Kind::Gcs { endpoint } => vec![
                ("GOOGLE_ALLOW_HTTP".into(), "true".into()),
                ("GOOGLE_SERVICE_ACCOUNT_KEY".into(), gcs_service_account(endpoint)),
            ],
        };
        env.extend([("SE2_MAX_RETRIES".into(), "1".into()), ("SE2_RETRY_TIMEOUT_SECS".into(), "5".into())]);
        env
    }

    /// The whole bucket, opened through object_store alone.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        let options = ClientOptions::new().with_allow_http(true);
        let retry = RetryConfig { max_retries: 2, ..Default::default() };
        match &self.kind {
            Kind::S3 { endpoint, access_key, secret_key } => Arc::new(
                AmazonS3Builder::new()
                    .with_endpoint(endpoint)
                    .with_bucket_name(&self.bucket)
                    .with_access_key_id(access_key)
                    .with_secret_access_key(secret_key)
                    .with_region("us-east-1")
                    .with_client_options(options)
                    .with_retry(retry)
                    .build()
                    .unwrap_or_else(|e| panic!("{}: {e}", self.name)),
            ),
            // Addressed as an account endpoint, not in emulator mode: emulator
            // mode reads its URL from the process environment only.
            Kind::Azure { endpoint } => Arc::new(
                MicrosoftAzureBuilder::new()
                    .with_endpoint(endpoint.clone())
                    .with_account(AZURITE_ACCOUNT)
                    .with_access_key(AZURITE_KEY)
                    .with_container_name(&self.bucket)
                    .with_client_options(options)
                    .with_retry(retry)
                    .build()
                    .unwrap_or_else(|e| panic!("{}: {e}", self.name)),
            ),
            Kind::Gcs { endpoint } => {
                let store = GoogleCloudStorageBuilder::new()
                    .with_service_account_key(gcs_service_account(endpoint))
                    .with_bucket_name(&self.bucket)
                    .with_client_options(options)
                    .with_retry(retry)
                    .build()
                    .unwrap_or_else(|e| panic!("{}: {e}", self.name));
                Arc::new(JsonUploads {
                    inner: Arc::new(store),
                    endpoint: endpoint.clone(),
                    bucket: self.bucket.clone(),
                })
            }
        }
    }

    /// The root of `prefix`: its URL, and the bucket scoped to it.
    pub fn root(&self, prefix: &str) -> TestRoot {
        let url = self.url(prefix);
        let store = Arc::new(PrefixStore::new(self.store(), prefix));
        TestRoot::new(url.clone(), se2::Root::from_store(url, store))
    }

    /// A fresh root under a unique prefix for `label`.
    pub fn fresh_root(&self, label: &str) -> TestRoot {
        self.root(&unique_prefix(label))
    }
}

/// The service account of fake-gcs-server: no OAuth, its own base URL.
fn gcs_service_account(endpoint: &str) -> String {
    serde_json::json!({
        "disable_oauth": true,
        "gcs_base_url": endpoint,
        "client_email": "",
        "private_key": "",
        "private_key_id": "",
    })
    .to_string()
}

/// A GCS bucket on fake-gcs-server whose puts go through the JSON API's
/// media upload: fake-gcs-server rejects object_store's own uploads
/// ("invalid uploadType"). Everything else is object_store's.
#[derive(Debug)]
struct JsonUploads {
    inner: Arc<dyn ObjectStore>,
    endpoint: String,
    bucket: String,
}

impl std::fmt::Display for JsonUploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JsonUploads({})", self.inner)
    }
}

fn generic(reason: String) -> object_store::Error {
    object_store::Error::Generic { store: "JsonUploads", source: reason.into() }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl JsonUploads {
    /// `POST /upload/storage/v1/b/BUCKET/o?uploadType=media&name=KEY`, by
    /// hand over HTTP/1.1 (the endpoint is plain HTTP on loopback).
    async fn upload(&self, key: &str, body: Bytes) -> object_store::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let authority =
            self.endpoint.strip_prefix("http://").ok_or_else(|| generic("not an http:// endpoint".into()))?;
        let target = format!("/upload/storage/v1/b/{}/o?uploadType=media&name={}", self.bucket, encode(key));
        let head = format!(
            "POST {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let io = |e: std::io::Error| generic(format!("upload of {key}: {e}"));
        let mut stream = tokio::net::TcpStream::connect(authority).await.map_err(io)?;
        stream.write_all(head.as_bytes()).await.map_err(io)?;
        stream.write_all(&body).await.map_err(io)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.map_err(io)?;
        let answer = String::from_utf8_lossy(&answer);
        let status = answer.split(' ').nth(1).unwrap_or("");
        if status != "200" {
            return Err(generic(format!("upload of {key}: {answer}")));
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for JsonUploads {
    async fn put_opts(&self, location: &Path, payload: PutPayload, _: PutOptions) -> object_store::Result<PutResult> {
        self.upload(location.as_ref(), Bytes::from(payload)).await?;
        Ok(PutResult { e_tag: None, version: None, extensions: Default::default() })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(generic(format!("{location}: no multipart uploads to fake-gcs-server")))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[std::ops::Range<u64>]) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
