//! Building S3, Google Cloud Storage and Azure Blob stores from a root URL
//! and the environment their users already have (`AWS_*`, `GOOGLE_*`,
//! `AZURE_*`), with retries and timeouts fit for large binaries. A setting
//! se2 does not understand stops the run instead of being ignored.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{BackoffConfig, Certificate, ClientOptions, ObjectStore, ObjectStoreScheme, RetryConfig};

/// The environment a root is opened with: variable name → value.
#[derive(Clone, Debug, Default)]
pub struct Env(pub BTreeMap<String, String>);

impl Env {
    /// The process's environment (variables that are not UTF-8 are left out).
    pub fn process() -> Env {
        Env(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0.iter().filter(move |(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Variables of the AWS tools that are not object_store settings: left
/// alone (`AWS_CA_BUNDLE` is read by `client_options`, `AWS_PROFILE` is
/// checked on its own).
const AWS_TOOL_VARIABLES: &[&str] = &[
    "AWS_PROFILE",
    "AWS_CA_BUNDLE",
    "AWS_CLI_AUTO_PROMPT",
    "AWS_CLI_FILE_ENCODING",
    "AWS_CONFIG_FILE",
    "AWS_DEFAULT_OUTPUT",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EXECUTION_ENV",
    "AWS_MAX_ATTEMPTS",
    "AWS_PAGER",
    "AWS_RETRY_MODE",
    "AWS_SDK_LOAD_CONFIG",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
];

/// Variables of Google's tools that se2 has no use for.
const GOOGLE_TOOL_VARIABLES: &[&str] = &["GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_QUOTA_PROJECT"];

/// Variables of Azure's tools that se2 has no use for.
const AZURE_TOOL_VARIABLES: &[&str] = &["AZURE_CONFIG_DIR", "AZURE_CORE_OUTPUT", "AZURE_EXTENSION_DIR"];

/// se2's own settings for remote stores.
const SE2_RETRIES: &str = "SE2_MAX_RETRIES";
const SE2_RETRY_TIMEOUT: &str = "SE2_RETRY_TIMEOUT_SECS";

/// Opens the store of a cloud URL, scoped to the URL's bucket; returns the
/// store and the prefix inside it.
pub fn open(url: &url::Url, env: &Env) -> Result<(Arc<dyn ObjectStore>, object_store::path::Path), String> {
    let (scheme, prefix) = ObjectStoreScheme::parse(url).map_err(|e| e.to_string())?;
    let options = client_options(env)?;
    let retry = retry_config(env)?;
    let store: Arc<dyn ObjectStore> = match scheme {
        ObjectStoreScheme::AmazonS3 => {
            let mut builder = AmazonS3Builder::new().with_client_options(options).with_retry(retry);
            for (name, value) in settings(env, "AWS_", AWS_TOOL_VARIABLES, |k| k.parse::<AmazonS3ConfigKey>().ok())? {
                builder = builder.with_config(name, value);
            }
            if env.get("AWS_PROFILE").is_some_and(|p| p != "default") {
                return Err("AWS_PROFILE is set, but se2 reads credentials from AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY (or the instance's role), not from profiles: export the \
                     profile's keys, or unset AWS_PROFILE"
                    .into());
            }
            Arc::new(builder.with_url(url.as_str()).build().map_err(|e| e.to_string())?)
        }
        ObjectStoreScheme::GoogleCloudStorage => {
            let mut builder = GoogleCloudStorageBuilder::new().with_client_options(options).with_retry(retry);
            for (name, value) in settings(env, "GOOGLE_", GOOGLE_TOOL_VARIABLES, |k| k.parse::<GoogleConfigKey>().ok())?
            {
                builder = builder.with_config(name, value);
            }
            Arc::new(builder.with_url(url.as_str()).build().map_err(|e| e.to_string())?)
        }
        ObjectStoreScheme::MicrosoftAzure => {
            let mut builder = MicrosoftAzureBuilder::new().with_client_options(options).with_retry(retry);
            for (name, value) in settings(env, "AZURE_", AZURE_TOOL_VARIABLES, |k| k.parse::<AzureConfigKey>().ok())? {
                builder = builder.with_config(name, value);
            }
            Arc::new(builder.with_url(url.as_str()).build().map_err(|e| e.to_string())?)
        }
        other => return Err(format!("unsupported kind of store: {other:?}")),
    };
    Ok((store, prefix))
}

/// The variables under `prefix` that object_store understands, as config
/// keys; any other variable under `prefix` that is not a known tool variable
/// is an error naming it.
fn settings<K>(
    env: &Env,
    prefix: &str,
    tool_variables: &[&str],
    parse: impl Fn(&str) -> Option<K>,
) -> Result<Vec<(K, String)>, String> {
    let mut found = Vec::new();
    for (name, value) in env.with_prefix(prefix) {
        if tool_variables.contains(&name) {
            continue;
        }
        match parse(&name.to_ascii_lowercase()) {
            Some(key) => found.push((key, value.to_owned())),
            None => return Err(format!("{name} is set, but it is not a setting se2 knows; is it misspelt?")),
        }
    }
    Ok(found)
}

/// Timeouts for large objects: no limit on a whole request (a multi-GiB
/// binary takes minutes), but a connection that stalls fails.
fn client_options(env: &Env) -> Result<ClientOptions, String> {
    let mut options = ClientOptions::new()
        .with_timeout_disabled()
        .with_connect_timeout(Duration::from_secs(10))
        .with_read_timeout(Duration::from_secs(60))
        .with_pool_idle_timeout(Duration::from_secs(60));
    if let Some(bundle) = env.get("AWS_CA_BUNDLE") {
        let pem = std::fs::read(bundle).map_err(|e| format!("AWS_CA_BUNDLE {bundle}: {e}"))?;
        for certificate in Certificate::from_pem_bundle(&pem).map_err(|e| format!("AWS_CA_BUNDLE {bundle}: {e}"))? {
            options = options.with_root_certificate(certificate);
        }
    }
    Ok(options)
}

/// object_store's retries (transient errors, throttling), tunable with
/// `SE2_MAX_RETRIES` and `SE2_RETRY_TIMEOUT_SECS`.
fn retry_config(env: &Env) -> Result<RetryConfig, String> {
    let number = |name: &str, default: u64| -> Result<u64, String> {
        env.get(name).map_or(Ok(default), |v| v.parse().map_err(|_| format!("{name}={v:?} is not a whole number")))
    };
    Ok(RetryConfig {
        max_retries: number(SE2_RETRIES, 10)? as usize,
        retry_timeout: Duration::from_secs(number(SE2_RETRY_TIMEOUT, 180)?),
        backoff: BackoffConfig::default(),
    })
}
