//! The error callers can match on.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A Python exception that escaped an exported function.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PythonError {
    /// The exception's type name, for example `ValueError`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `str(exception)`.
    pub message: String,
    /// The formatted Python traceback.
    pub traceback: String,
}

impl fmt::Display for PythonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.type_name)
        } else {
            write!(f, "{}: {}", self.type_name, self.message)
        }
    }
}

/// Why a snakebox operation failed: the variant is the kind, to match on;
/// [`source`](std::error::Error::source) reaches the error underneath
/// (wasmtime's, a `std::io::Error`), where there is one.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The Python function raised; the store is healthy.
    Python(PythonError),
    /// The guest trapped; its store was discarded and will be replaced.
    /// The detail names the trap and where it happened; its source is
    /// wasmtime's error, with the guest's backtrace.
    Trap(Detail),
    /// The call ran past its time limit.
    Timeout(Duration),
    /// The store ran past its memory limit and was discarded.
    MemoryLimit(u64),
    /// The call was cancelled before it finished, from inside Python: a
    /// `CancelledError` reached the export that the host did not ask for
    /// (another task cancelled it). A call the host cancels is dropped, so
    /// nobody waits for its error.
    Cancelled,
    /// The arguments do not match the function's signature.
    BadArguments(String),
    /// An object was used after its store was replaced (a trap or a limit
    /// discards a store together with its objects).
    StaleObject(String),
    /// The component has no export of that name.
    NoSuchFunction(String),
    /// The file is not a component snakebox can run; the source is the
    /// error that said so (the file could not be read, wasmtime refused
    /// it), if any.
    BadComponent(Detail),
    /// The component calls host functions that nothing is bound to, by
    /// Python name (`directory.find_person`).
    MissingHostFunctions(Vec<String>),
    /// Building a component from Python failed, or the cache that builds
    /// and compiled code share cannot be trusted; the error says what kind
    /// of failure it was, and keeps the one underneath.
    Build(snakebox_generator::builder::BuildError),
    /// Anything else, with the chain of context that led to it.
    Other(anyhow::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Python(error) => write!(f, "{error}"),
            Error::Trap(detail) => write!(f, "the guest trapped: {detail}"),
            Error::Timeout(limit) => write!(f, "the call ran past its time limit of {limit:?}"),
            Error::MemoryLimit(limit) => {
                write!(f, "the store ran past its memory limit of {limit} bytes")
            }
            Error::Cancelled => f.write_str("the call was cancelled"),
            Error::BadArguments(message) => write!(f, "bad arguments: {message}"),
            Error::StaleObject(message) => write!(f, "stale object: {message}"),
            Error::NoSuchFunction(name) => write!(f, "no function `{name}` in the component"),
            Error::BadComponent(detail) => write!(f, "bad component: {detail}"),
            Error::MissingHostFunctions(names) => write!(
                f,
                "the component calls host functions that are not bound: {}; bind each with \
                 `HostFunctions` (or `--bind NAME=URL` on the command line)",
                names.join(", ")
            ),
            Error::Build(error) => write!(f, "{error}"),
            Error::Other(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Trap(detail) | Error::BadComponent(detail) => detail.source(),
            Error::Build(error) => error.source(),
            Error::Other(error) => error.source(),
            _ => None,
        }
    }
}

impl From<snakebox_generator::builder::BuildError> for Error {
    fn from(error: snakebox_generator::builder::BuildError) -> Self {
        Error::Build(error)
    }
}

impl From<anyhow::Error> for Error {
    fn from(error: anyhow::Error) -> Self {
        Error::Other(error)
    }
}

/// What went wrong, in words, and the error underneath, if there is one.
/// Cloning shares the source: one trap fails every call in flight on its
/// store.
#[derive(Debug, Clone)]
pub struct Detail {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Detail {
    /// A detail with nothing underneath.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// `message`, caused by `source` (which the message does not repeat).
    pub fn caused_by(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Arc::from(source.into())),
        }
    }

    /// The message, without the error underneath.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error underneath.
    pub fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for Detail {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for Detail {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl Error {
    /// The Python exception, when Python raised.
    pub fn python(&self) -> Option<&PythonError> {
        match self {
            Error::Python(error) => Some(error),
            _ => None,
        }
    }

    /// Names the component file in a [`Error::BadComponent`] that does not yet.
    pub(crate) fn in_file(self, path: &std::path::Path) -> Self {
        let file = path.display().to_string();
        match self {
            Error::BadComponent(mut detail) if !detail.message.starts_with(&file) => {
                detail.message = format!("{file}: {}", detail.message);
                Error::BadComponent(detail)
            }
            other => other,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
