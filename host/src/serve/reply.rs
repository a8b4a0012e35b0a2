//! Request bodies in, results and errors out, with their status codes.

use std::io::Write;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wasmtime::component::Val;

use snakebox_generator::replies::{ErrorBody, ErrorKind};

use crate::component::signature::Function;
use crate::error::Error;

/// Why a request did not produce a result.
pub(super) enum Failure {
    /// The call itself failed, or never started.
    Call(Error),
    /// The body is not arguments.
    Body(String),
    /// Every store is busy and the queue is full.
    Busy { workers: usize, max_pending: usize },
    /// The result is larger than the server sends.
    TooLarge { limit: usize },
    /// The request body is larger than the server reads.
    BodyTooLarge { limit: usize },
    /// The body is not sent as JSON.
    NotJson,
    /// The server holds its most connections.
    Connections { max: usize },
    /// The request's `Host` or `Origin` is not one the server answers.
    Forbidden(String),
    /// The request carries no token, or not the server's.
    Unauthorized,
    /// The body did not arrive within the time the server gives it.
    BodyTimeout { after: std::time::Duration },
}

impl Failure {
    /// The body of a failure other than the call's own, which
    /// [`call_error`] describes.
    pub(super) fn body(self) -> std::result::Result<ErrorBody, Error> {
        Ok(match self {
            Failure::Call(error) => return Err(error),
            Failure::Body(message) => ErrorBody::new(ErrorKind::BadArguments, message),
            Failure::Busy {
                workers,
                max_pending,
            } => ErrorBody::new(
                ErrorKind::Busy,
                format!(
                    "all {workers} workers are busy and {max_pending} requests are already admitted; retry later"
                ),
            ),
            Failure::Connections { max } => ErrorBody::new(
                ErrorKind::Busy,
                format!("the server holds its most connections ({max}); retry later"),
            ),
            Failure::NotJson => ErrorBody::new(
                ErrorKind::UnsupportedMediaType,
                "send the arguments with `Content-Type: application/json`",
            ),
            Failure::BodyTooLarge { limit } => ErrorBody::new(
                ErrorKind::BodyTooLarge,
                format!("the body is larger than the limit of {limit} bytes"),
            ),
            Failure::Forbidden(message) => ErrorBody::new(ErrorKind::Forbidden, message),
            Failure::Unauthorized => ErrorBody::new(
                ErrorKind::Unauthorized,
                "send the server's token as `Authorization: Bearer <token>`",
            ),
            Failure::BodyTimeout { after } => ErrorBody::new(
                ErrorKind::BodyTimeout,
                format!("the body did not arrive within {after:?}"),
            ),
            Failure::TooLarge { limit } => ErrorBody::new(
                ErrorKind::ResultTooLarge,
                format!("the result is larger than the server's limit of {limit} bytes of JSON"),
            ),
        })
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = match self.body() {
            Ok(body) => body,
            Err(error) => {
                let (status, body) = call_error(error);
                return (status, axum::Json(body)).into_response();
            }
        };
        let kind = body.error;
        let mut response = (status_of(kind), axum::Json(body)).into_response();
        // How to authenticate, as RFC 6750 asks of a 401.
        if kind == ErrorKind::Unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"snakebox\""),
            );
        }
        let busy = kind == ErrorKind::Busy;
        // A busy server is worth retrying, elsewhere or in a second.
        if busy {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The status of a failure of `kind`, as the document lists it.
fn status_of(kind: ErrorKind) -> StatusCode {
    StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The status and JSON body of a failed call: the Python exception, or an
/// [`ErrorBody`].
pub(super) fn call_error(error: Error) -> (StatusCode, Value) {
    if let Error::Python(error) = error {
        return (StatusCode::UNPROCESSABLE_ENTITY, to_json(&error));
    }
    let kind = match &error {
        Error::BadArguments(_) => ErrorKind::BadArguments,
        Error::NoSuchFunction(_) => ErrorKind::NoSuchFunction,
        Error::Timeout(_) => ErrorKind::Timeout,
        Error::MemoryLimit(_) => ErrorKind::MemoryLimit,
        Error::Trap(_) => ErrorKind::Trap,
        Error::Cancelled => ErrorKind::Cancelled,
        _ => ErrorKind::Internal,
    };
    let mut message = error.to_string();
    if matches!(error, Error::MemoryLimit(_) | Error::Trap(_)) {
        message.push_str("; the store was replaced");
    }
    (status_of(kind), to_json(&ErrorBody::new(kind, message)))
}

/// A fixed body as JSON; these types always serialize.
fn to_json(body: &impl serde::Serialize) -> Value {
    serde_json::to_value(body).unwrap_or_default()
}

/// One line of a streamed reply: `{"item": value}`, or, last, the failure
/// that ended the stream as `{"error": body, "status": code}`, with the body
/// and status a plain call that failed that way would get.
pub(super) fn stream_line(item: Result<Value, Error>) -> Vec<u8> {
    let line = match item {
        Ok(value) => json!({ "item": value }),
        Err(error) => {
            let (status, body) = call_error(error);
            json!({ "error": body, "status": status.as_u16() })
        }
    };
    let mut bytes = line.to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

/// Keyword arguments, in the order given.
pub(super) type Named = Vec<(String, Value)>;

/// Reads a call's body: empty (no arguments), a JSON array of positional
/// arguments, or a JSON object of named arguments.
pub(super) fn parse_body(body: &[u8]) -> Result<(Vec<Value>, Named), Failure> {
    // Only no body at all is no arguments: white space is not JSON, and
    // the document does not allow it.
    if body.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Failure::Body(format!("the body is not valid JSON: {e}")))?;
    match value {
        Value::Array(positional) => Ok((positional, Vec::new())),
        Value::Object(named) => Ok((Vec::new(), named.into_iter().collect())),
        other => Err(Failure::Body(format!(
            "the body must be a JSON array of positional arguments or an object of named arguments, not `{other}`"
        ))),
    }
}

/// The result as JSON bytes, unless it is larger than `limit`.
pub(super) fn encode_result(
    function: &Function,
    value: Option<&Val>,
    limit: usize,
) -> Result<Vec<u8>, Failure> {
    // Measure the WIT value first, so a huge result is never copied into JSON.
    if let Some(value) = value
        && size_at_least(value, limit + 1) > limit
    {
        return Err(Failure::TooLarge { limit });
    }
    let json = crate::values::arguments::result_json(function, value);
    let mut out = Capped {
        bytes: Vec::new(),
        limit,
    };
    match serde_json::to_writer(&mut out, &json) {
        Ok(()) => Ok(out.bytes),
        Err(_) => Err(Failure::TooLarge { limit }),
    }
}

/// A lower bound on the size of a value's JSON, counted up to `stop`.
fn size_at_least(value: &Val, stop: usize) -> usize {
    let mut total = 0;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        if total >= stop {
            break;
        }
        total += match value {
            Val::String(text) => text.len() + 2,
            Val::List(items) | Val::Tuple(items) => {
                stack.extend(items);
                items.len() + 1
            }
            Val::Record(fields) => {
                stack.extend(fields.iter().map(|(_, value)| value));
                fields.iter().map(|(name, _)| name.len() + 4).sum::<usize>() + 1
            }
            Val::Option(Some(inner)) | Val::Variant(_, Some(inner)) => {
                stack.push(inner);
                0
            }
            Val::Result(Ok(Some(inner)) | Err(Some(inner))) => {
                stack.push(inner);
                0
            }
            _ => 1,
        };
    }
    total
}

/// A buffer that refuses to grow past its limit.
struct Capped {
    bytes: Vec<u8>,
    limit: usize,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            return Err(std::io::Error::other("result too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
