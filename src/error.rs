//! The one error type: every variant names the root or key at fault and the cause.

use std::path::PathBuf;

/// Why a run could not proceed (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A root could not be opened.
    #[error("{root}: {reason}")]
    Root { root: String, reason: String },
    /// The store failed on a key after its retries.
    #[error("{key}: {}", crate::error::store_cause(source))]
    Store {
        key: String,
        #[source]
        source: object_store::Error,
    },
    /// Local IO failed on a key.
    #[error("{key}: {source}")]
    Io {
        key: String,
        #[source]
        source: std::io::Error,
    },
    /// An object is not what the run needs (changed under it, too large, not a valid key).
    #[error("{key}: {reason}")]
    Object { key: String, reason: String },
    /// The report file could not be written.
    #[error("{}: cannot write the report: {source}", path.display())]
    Report {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn store(key: impl Into<String>, source: object_store::Error) -> Error {
        Error::Store { key: key.into(), source }
    }

    pub fn io(key: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { key: key.into(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The cause of a store error, without the noise object_store adds: request
/// timings, retry settings, whole XML bodies.
pub(crate) fn store_cause(error: &object_store::Error) -> String {
    use object_store::Error as E;
    match error {
        E::NotFound { .. } => "not found".into(),
        E::Precondition { .. } => "changed by someone else during the run".into(),
        E::AlreadyExists { .. } => "created by someone else during the run".into(),
        _ => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                let line = cause.to_string();
                if !text.contains(&line) {
                    text = format!("{text}: {line}");
                }
                source = cause.source();
            }
            summarize(&text)
        }
    }
}

/// Shortens object_store's error text to what an operator needs: the
/// operation, the HTTP status with the service's own code and message, or
/// the transport error, and how many retries were spent.
fn summarize(text: &str) -> String {
    let operation = text
        .split("Error performing ")
        .nth(1)
        .and_then(|rest| rest.split([':', ' ']).next())
        .filter(|op| !op.is_empty() && op.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let retries = text.split(", after ").nth(1).and_then(|rest| rest.split(" retries").next()).map(str::to_owned);
    let cause = if let Some((_, rest)) = text.split_once("Server returned non-2xx status code: ") {
        let (status, body) = rest.split_once(": ").unwrap_or((rest, ""));
        // Azure's <Message> goes on with RequestId and Time lines: the first line says it.
        let tag = |name: &str| {
            let open = format!("<{name}>");
            let value = body.split_once(open.as_str()).and_then(|(_, r)| r.split_once('<')).map(|(v, _)| v.trim());
            value.map(|v| v.lines().next().unwrap_or_default().trim().to_owned())
        };
        let json = |name: &str| {
            let field = format!("\"{name}\":\"");
            body.split_once(field.as_str()).and_then(|(_, r)| r.split_once('"')).map(|(v, _)| v.to_owned())
        };
        let detail: Vec<String> =
            [tag("Code"), tag("Message").or_else(|| json("message"))].into_iter().flatten().collect();
        if detail.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {}", detail.join(": ")) }
    } else if let Some((_, rest)) = text.split_once(" - ") {
        rest.trim_start_matches("HTTP error: ").trim().to_owned()
    } else {
        return text.to_owned();
    };
    let mut summary = String::new();
    if let Some(operation) = operation {
        summary.push_str(&format!("{operation} failed"));
    }
    if let Some(retries) = retries {
        summary.push_str(&format!(" after {retries} retries"));
    }
    if summary.is_empty() { cause } else { format!("{summary}: {cause}") }
}

#[cfg(test)]
mod tests {
    use super::summarize;

    #[test]
    fn store_errors_are_summarized() {
        let cases = [
            (
                "Generic S3 error: Error performing list request: Error performing GET http://127.0.0.1:41511/nope?list-type=2 in 7.7ms - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>x</RequestId></Error>",
                "list failed: HTTP 404 Not Found: NoSuchBucket: The specified bucket does not exist",
            ),
            (
                "Generic S3 error: Error performing list request: Error performing GET http://127.0.0.1:1/b?list-type=2 in 283ms, after 2 retries, max_retries: 2, retry_timeout: 5s  - HTTP error: error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)",
                "list failed after 2 retries: error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)",
            ),
            (
                "Generic GCS error: Error performing PUT http://127.0.0.1:5/b/o in 869µs - Server returned non-2xx status code: 400 Bad Request: {\"error\":{\"code\":400,\"message\":\"invalid uploadType\"}}",
                "PUT failed: HTTP 400 Bad Request: invalid uploadType",
            ),
            (
                "Generic MicrosoftAzure error: Error performing list request: Error performing GET http://127.0.0.1:10000/devstoreaccount1/nope?restype=container&comp=list in 2.1ms - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error>\n  <Code>ContainerNotFound</Code>\n  <Message>The specified container does not exist.\nRequestId:97fb0924-c741-46ab-a1c8-3be1188a85f6\nTime:2026-11-22T04:57:08.286Z</Message>\n</Error>",
                "list failed: HTTP 404 Not Found: ContainerNotFound: The specified container does not exist.",
            ),
            (
                "Generic LocalFileSystem error: Unable to open file: Permission denied (os error 13)",
                "Generic LocalFileSystem error: Unable to open file: Permission denied (os error 13)",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(summarize(text), expected);
        }
    }
}
