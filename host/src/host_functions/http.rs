//! Host functions bound to HTTP endpoints: `--bind NAME=URL`.
//!
//! The host POSTs the arguments as a JSON array to the URL. A `200`
//! response's JSON body is the result; any other status is a `HostError`
//! carrying the body's text. Only the URLs bound here are contacted, by
//! the host; the sandbox itself still has no network.

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::{HostError, HostResult};

/// The largest answer read from an endpoint: a result, like a call's, is
/// held whole, and an endpoint must not make the host hold more.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// An `http://` endpoint, read once at bind time.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    url: String,
    authority: String,
    path: String,
}

impl Endpoint {
    /// Reads `http://HOST[:PORT][/PATH]`.
    pub(super) fn parse(url: &str) -> Result<Self, String> {
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(format!(
                "`{url}` is not an http:// URL (https is not supported: bind a local endpoint)"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("`{url}` names no host"));
        }
        let authority = match authority.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_ok() => authority.to_owned(),
            Some(_) if authority.ends_with(']') => format!("{authority}:80"),
            Some((_, port)) => return Err(format!("`{url}` has a bad port `{port}`")),
            None => format!("{authority}:80"),
        };
        Ok(Endpoint {
            url: url.to_owned(),
            authority,
            path: path.to_owned(),
        })
    }

    /// POSTs `args` and reads the answer as the host function's result.
    pub(super) async fn call(&self, args: Vec<Value>) -> HostResult {
        let unreachable = |e: &dyn std::fmt::Display| {
            HostError::new(format!("cannot reach the host endpoint {}: {e}", self.url))
        };
        let body = serde_json::to_vec(&Value::Array(args)).unwrap_or_default();
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| unreachable(&e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(&e))?;
        // The connection runs beside the request and ends with it.
        let connection = tokio::spawn(connection);
        let request = hyper::Request::post(&self.path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| unreachable(&e))?;
        let outcome = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| unreachable(&e))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| match e.is::<http_body_util::LengthLimitError>() {
                    true => HostError::new(format!(
                        "the host endpoint {} answered with more than {} MiB",
                        self.url,
                        MAX_RESPONSE_BYTES >> 20
                    )),
                    false => HostError::new(format!(
                        "the host endpoint {} failed mid-answer: {e}",
                        self.url
                    )),
                })?
                .to_bytes();
            Ok::<_, HostError>((status, bytes))
        }
        .await;
        connection.abort();
        let (status, bytes) = outcome?;
        if status == hyper::StatusCode::OK {
            return serde_json::from_slice(&bytes).map_err(|e| {
                HostError::new(format!(
                    "the host endpoint {} answered 200 with a body that is not JSON: {e}",
                    self.url
                ))
            });
        }
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        Err(HostError::new(match text.is_empty() {
            true => format!("the host endpoint {} answered {status}", self.url),
            false => text,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn urls_are_read_once_and_refused_clearly() {
        let endpoint = Endpoint::parse("http://127.0.0.1:9000/person").expect("a URL");
        assert_eq!(
            (endpoint.authority.as_str(), endpoint.path.as_str()),
            ("127.0.0.1:9000", "/person")
        );
        let endpoint = Endpoint::parse("http://localhost").expect("a URL");
        assert_eq!(
            (endpoint.authority.as_str(), endpoint.path.as_str()),
            ("localhost:80", "/")
        );
        for (url, says) in [
            ("https://example.com/x", "not an http:// URL"),
            ("http:///x", "names no host"),
            ("http://host:port/x", "bad port"),
        ] {
            let error = Endpoint::parse(url).expect_err("refused");
            assert!(error.contains(says), "{url}: {error}");
        }
    }
}
