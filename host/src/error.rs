//! The error callers can match on.

use std::fmt;
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

/// Why a snakebox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Python function raised; the store is healthy.
    #[error("{0}")]
    Python(PythonError),
    /// The guest trapped; its store was discarded and will be replaced.
    #[error("the guest trapped: {0}")]
    Trap(String),
    /// The call ran past its time limit.
    #[error("the call ran past its time limit of {0:?}")]
    Timeout(Duration),
    /// The store ran past its memory limit and was discarded.
    #[error("the store ran past its memory limit of {0} bytes")]
    MemoryLimit(u64),
    /// The call was cancelled before it finished, from inside Python: a
    /// `CancelledError` reached the export that the host did not ask for
    /// (another task cancelled it). A call the host cancels is dropped, so
    /// nobody waits for its error.
    #[error("the call was cancelled")]
    Cancelled,
    /// The arguments do not match the function's signature.
    #[error("bad arguments: {0}")]
    BadArguments(String),
    /// The component has no export of that name.
    #[error("no function `{0}` in the component")]
    NoSuchFunction(String),
    /// The file is not a component snakebox can run.
    #[error("bad component: {0}")]
    BadComponent(String),
    /// The component calls host functions that nothing is bound to, by
    /// Python name (`directory.find_person`).
    #[error(
        "the component calls host functions that are not bound: {}; bind each with \
         `HostFunctions` (or `--bind NAME=URL` on the command line)",
        .0.join(", ")
    )]
    MissingHostFunctions(Vec<String>),
    /// Building a component from Python failed.
    #[error("build failed: {0}")]
    Build(String),
    /// Anything else, with the chain of context that led to it.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
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
            Error::BadComponent(message) if !message.starts_with(&file) => {
                Error::BadComponent(format!("{file}: {message}"))
            }
            other => other,
        }
    }
}

impl From<snakebox_generator::builder::BuildError> for Error {
    fn from(error: snakebox_generator::builder::BuildError) -> Self {
        Error::Build(error.0)
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
