//! Host functions bound to HTTP endpoints: `--bind NAME=URL`.
//!
//! The host POSTs the arguments as a JSON array to the URL. A `200`
//! response's JSON body is the result; any other status is a `HostError`
//! carrying the body's text. Only the URLs bound here are contacted, by
//! the host; the sandbox itself still has no network.
//!
//! Requests go through one pooled client (hyper-util's, with rustls for
//! https) that runs on its own thread, so that a connection outlives the
//! store that opened it and any store may reuse it. Endpoints on one
//! origin bound with the same [`HttpOptions`] share a pool and a cap on
//! requests in flight; the rest wait their turn.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::{HostError, HostResult};

/// The largest answer read from an endpoint: a result, like a call's, is
/// held whole, and an endpoint must not make the host hold more.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// How long an idle pooled connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How the host reaches the endpoints it binds
/// ([`HostFunctions::add_http_with`](super::HostFunctions::add_http_with)).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Requests in flight to one origin (scheme, host and port) at once;
    /// the rest wait in order. It also bounds the connections the host
    /// opens there. 32 by default.
    pub max_in_flight: usize,
    /// How long opening a connection (TCP, then TLS) may take. 10 seconds
    /// by default. A request's answer may take as long as its call's time
    /// limit allows: when the call ends, the request is dropped.
    pub connect_timeout: Duration,
    /// Headers sent with every request, such as `Authorization` or an API
    /// key. Their values are never printed.
    pub headers: Vec<(String, String)>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_in_flight: 32,
            connect_timeout: Duration::from_secs(10),
            headers: Vec::new(),
        }
    }
}

impl fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, _)| format!("{name}: <hidden>"))
            .collect();
        f.debug_struct("HttpOptions")
            .field("max_in_flight", &self.max_in_flight)
            .field("connect_timeout", &self.connect_timeout)
            .field("headers", &headers)
            .finish()
    }
}

/// An endpoint, read once at bind time.
pub(super) struct Endpoint {
    /// The URL as given, for messages.
    url: String,
    uri: hyper::Uri,
    headers: HeaderMap,
    origin: Arc<Origin>,
}

impl Endpoint {
    /// Reads an `http://` or `https://` URL and the options' headers.
    pub(super) fn new(url: &str, options: &HttpOptions) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let https = match parsed.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(format!(
                    "`{url}` is a {other}: URL; bind an http:// or https:// one"
                ));
            }
        };
        let Some(host) = parsed.host_str().filter(|host| !host.is_empty()) else {
            return Err(format!("`{url}` names no host"));
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!(
                "`{url}` carries credentials; send them as a header (--bind-header) instead"
            ));
        }
        if parsed.fragment().is_some() {
            return Err(format!("`{url}` has a #fragment, which HTTP never sends"));
        }
        let uri: hyper::Uri = parsed
            .as_str()
            .parse()
            .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &options.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a header name"))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of the header `{name}` is not valid in HTTP"))?;
            value.set_sensitive(true);
            headers.append(header, value);
        }
        if options.max_in_flight == 0 {
            return Err("the cap on requests in flight must be at least 1".to_owned());
        }
        let port = parsed.port_or_known_default().unwrap_or(80);
        let key = OriginKey {
            origin: format!("{}://{host}:{port}", parsed.scheme()),
            max_in_flight: options.max_in_flight,
            connect_timeout: options.connect_timeout,
        };
        Ok(Endpoint {
            url: url.to_owned(),
            uri,
            headers,
            origin: Origin::shared(key, https)?,
        })
    }

    /// POSTs `args` and reads the answer as the host function's result.
    pub(super) async fn call(self: Arc<Self>, args: Vec<Value>) -> HostResult {
        let body = serde_json::to_vec(&Value::Array(args)).unwrap_or_default();
        let endpoint = Arc::clone(&self);
        // The request runs on the client's thread; dropping this future
        // (the call was given up) drops it there, and its connection.
        let mut task = AbortOnDrop(
            client()
                .runtime
                .spawn(async move { endpoint.send(body).await }),
        );
        match (&mut task.0).await {
            Ok(outcome) => outcome,
            Err(e) => Err(HostError::new(format!(
                "the request to the host endpoint {} failed: {e}",
                self.url
            ))),
        }
    }

    async fn send(&self, body: Vec<u8>) -> HostResult {
        // Wait for a turn: the origin takes so many requests at once.
        let _turn = self.origin.in_flight.acquire().await.map_err(|e| {
            HostError::new(format!("the host endpoint {} is closed: {e}", self.url))
        })?;
        let mut request = hyper::Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| HostError::new(format!("cannot ask {}: {e}", self.url)))?;
        request.headers_mut().extend(self.headers.clone());
        let response = self
            .origin
            .client
            .request(request)
            .await
            .map_err(|e| HostError::new(format!("{}: {}", self.url, why(&e))))?;
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

/// Why a request got no answer, in a user's words: refused, timed out,
/// TLS, or the causes as they came.
fn why(error: &hyper_util::client::legacy::Error) -> String {
    let mut causes = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return format!(
                "cannot reach the host endpoint: TLS failed: {tls} (a certificate \
                 of a private authority is trusted through SSL_CERT_FILE)"
            );
        }
        let io = cause.downcast_ref::<std::io::Error>();
        match io.map(std::io::Error::kind) {
            Some(std::io::ErrorKind::ConnectionRefused) => {
                return "cannot reach the host endpoint: connection refused".to_owned();
            }
            Some(std::io::ErrorKind::TimedOut) => {
                return "cannot reach the host endpoint: the connection timed out".to_owned();
            }
            _ => {}
        }
        let text = cause.to_string();
        if !causes.iter().any(|seen: &String| seen.contains(&text)) {
            causes.push(text);
        }
        // An io::Error's `source` skips the error it wraps.
        next = match io.and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => cause.source(),
        };
    }
    match (error.is_connect(), causes.is_empty()) {
        (true, true) => "cannot reach the host endpoint".to_owned(),
        (true, false) => format!("cannot reach the host endpoint: {}", causes.join(": ")),
        (false, true) => format!("the host endpoint failed: {error}"),
        (false, false) => format!("the host endpoint failed: {}", causes.join(": ")),
    }
}

/// Aborts the task when the future waiting for it is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What makes endpoints share a pool and a cap.
#[derive(Clone, PartialEq, Eq, Hash)]
struct OriginKey {
    origin: String,
    max_in_flight: usize,
    connect_timeout: Duration,
}

/// The pool of connections to one origin, and its turns.
struct Origin {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    in_flight: Semaphore,
}

impl Origin {
    /// The origin's pool, shared while any endpoint holds it.
    fn shared(key: OriginKey, https: bool) -> Result<Arc<Origin>, String> {
        static ORIGINS: OnceLock<Mutex<HashMap<OriginKey, Weak<Origin>>>> = OnceLock::new();
        let mut origins = ORIGINS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(origin) = origins.get(&key).and_then(Weak::upgrade) {
            return Ok(origin);
        }
        origins.retain(|_, origin| origin.strong_count() > 0);
        let tls = match https {
            true => tls()?,
            // Never used: the connector speaks plain http to an http:// URL.
            false => Arc::new(tls_with(rustls::RootCertStore::empty())?),
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(key.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(key.max_in_flight)
            .build(connector);
        let origin = Arc::new(Origin {
            client,
            in_flight: Semaphore::new(key.max_in_flight),
        });
        origins.insert(key, Arc::downgrade(&origin));
        Ok(origin)
    }
}

/// The TLS settings of https endpoints: the system's roots, or those of
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, read once.
fn tls() -> Result<Arc<rustls::ClientConfig>, String> {
    static TLS: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    TLS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = rustls::RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
            return Err(format!(
                "cannot use https: no trusted root certificate was found{} (install the \
                 system's CA certificates, or name a PEM file in SSL_CERT_FILE)",
                match errors.is_empty() {
                    true => String::new(),
                    false => format!(": {}", errors.join("; ")),
                }
            ));
        }
        Ok(Arc::new(tls_with(roots)?))
    })
    .clone()
}

/// TLS settings that trust `roots`, with the process's default crypto
/// provider if one is installed, and ring's otherwise (ring builds with a
/// C compiler alone, where aws-lc-rs needs CMake and a long build).
fn tls_with(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, String> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| {
            #[allow(deprecated)] // for its lack of post-quantum key exchange
            let ring = rustls::crypto::ring::default_provider();
            Arc::new(ring)
        });
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot use https: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The thread the client's connections live on.
struct HttpClient {
    runtime: tokio::runtime::Runtime,
}

fn client() -> &'static HttpClient {
    static CLIENT: OnceLock<HttpClient> = OnceLock::new();
    CLIENT.get_or_init(|| HttpClient {
        runtime: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("snakebox-http")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the HTTP client's thread: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::{Endpoint, HttpOptions};

    #[test]
    fn urls_are_read_once_and_refused_clearly() {
        let options = HttpOptions::default();
        let endpoint = Endpoint::new("http://127.0.0.1:9000/person", &options).expect("a URL");
        assert_eq!(endpoint.uri.to_string(), "http://127.0.0.1:9000/person");
        let endpoint = Endpoint::new("http://localhost", &options).expect("a URL");
        assert_eq!(endpoint.uri.to_string(), "http://localhost/");
        for (url, says) in [
            ("ftp://example.com/x", "bind an http:// or https:// one"),
            ("http://:80/x", "empty host"),
            ("http://host:port/x", "invalid port number"),
            ("http://user:secret@host/x", "send them as a header"),
            ("http://host/x#part", "#fragment"),
            ("person", "not a URL"),
        ] {
            let Err(error) = Endpoint::new(url, &options) else {
                panic!("{url} was taken");
            };
            assert!(error.contains(says), "{url}: {error}");
        }
    }

    #[test]
    fn endpoints_of_one_origin_share_a_pool_and_header_values_stay_hidden() {
        let options = HttpOptions {
            headers: vec![("Authorization".into(), "Bearer s3cret".into())],
            ..HttpOptions::default()
        };
        let a = Endpoint::new("http://127.0.0.1:9001/a", &options).expect("a URL");
        let b = Endpoint::new("http://127.0.0.1:9001/b", &options).expect("a URL");
        let other = Endpoint::new("http://127.0.0.1:9002/a", &options).expect("a URL");
        assert!(std::sync::Arc::ptr_eq(&a.origin, &b.origin));
        assert!(!std::sync::Arc::ptr_eq(&a.origin, &other.origin));
        let printed = format!("{options:?} {:?}", a.headers);
        assert!(!printed.contains("s3cret"), "{printed}");
        let bad = HttpOptions {
            headers: vec![("Bad Name".into(), "x".into())],
            ..HttpOptions::default()
        };
        let Err(error) = Endpoint::new("http://127.0.0.1:9001/a", &bad) else {
            panic!("a bad header name was taken");
        };
        assert!(error.contains("not a header name"), "{error}");
    }
}
