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

/// The cause of a store error, without the repetition object_store adds.
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
                let cause = cause.to_string();
                if !text.contains(&cause) {
                    text = format!("{text}: {cause}");
                }
                source = cause_of(source);
            }
            text
        }
    }
}

fn cause_of<'a>(error: Option<&'a (dyn std::error::Error + 'static)>) -> Option<&'a (dyn std::error::Error + 'static)> {
    error.and_then(std::error::Error::source)
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
