//! The fixed bodies of a module's HTTP API, as Rust types that `snakebox
//! serve` serializes and the OpenAPI document describes: the error body
//! and its kinds, each with its status. The `--http` guest writes the same
//! bodies, and the end-to-end tests compare its answers with `serve`'s.

use serde::{Deserialize, Serialize};

/// Why a call failed: the `error` field of an [`ErrorBody`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The body or the arguments do not fit the function.
    BadArguments,
    /// The request carries no token, or not the server's
    /// (`Authorization: Bearer <token>`).
    Unauthorized,
    /// The request's `Host` or `Origin` is not one the server answers: a
    /// guard against web pages that reach a local server (DNS rebinding,
    /// cross-site requests).
    Forbidden,
    /// No function of that name.
    NoSuchFunction,
    /// The body did not arrive in time.
    BodyTimeout,
    /// The body is larger than the server reads.
    BodyTooLarge,
    /// The body is not sent as `application/json`: a browser must ask
    /// first (CORS preflight) before it can send that.
    UnsupportedMediaType,
    /// The store ran past its memory limit (it was replaced).
    MemoryLimit,
    /// The guest trapped (the store was replaced).
    Trap,
    /// The call was cancelled.
    Cancelled,
    /// Anything else that went wrong in the server.
    Internal,
    /// The result is over the server's limit.
    ResultTooLarge,
    /// Every store is busy and the queue is full.
    Busy,
    /// The call ran past its time limit.
    Timeout,
}

impl ErrorKind {
    /// Every kind, in the order the document lists them.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::BadArguments,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NoSuchFunction,
        ErrorKind::BodyTimeout,
        ErrorKind::BodyTooLarge,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::MemoryLimit,
        ErrorKind::Trap,
        ErrorKind::Cancelled,
        ErrorKind::Internal,
        ErrorKind::ResultTooLarge,
        ErrorKind::Busy,
        ErrorKind::Timeout,
    ];

    /// The HTTP status a failure of this kind is answered with.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadArguments => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NoSuchFunction => 404,
            ErrorKind::BodyTimeout => 408,
            ErrorKind::BodyTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::MemoryLimit
            | ErrorKind::Trap
            | ErrorKind::Cancelled
            | ErrorKind::Internal
            | ErrorKind::ResultTooLarge => 500,
            ErrorKind::Busy => 503,
            ErrorKind::Timeout => 504,
        }
    }
}

/// The body of every failed call except one where Python raised (that is
/// the exception: type, message, traceback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Why.
    pub error: ErrorKind,
    /// What happened, for a person.
    pub message: String,
}

impl ErrorBody {
    /// A body of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ErrorBody {
            error: kind,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ErrorBody, ErrorKind};

    #[test]
    fn each_kind_reads_back_as_written() {
        for kind in ErrorKind::ALL {
            let written = serde_json::to_value(ErrorBody::new(kind, "m")).expect("serializes");
            let read: ErrorBody = serde_json::from_value(written.clone()).expect("reads");
            assert_eq!(read.error, kind, "{written}");
            assert!(written["error"].is_string(), "{written}");
        }
    }
}
