//! A ready-made HTTP server for a component: `snakebox serve`.
//!
//! | route | reply |
//! |---|---|
//! | `GET /functions` | the exports: names, parameters, types, docs |
//! | `GET /openapi.json` | an OpenAPI 3.1 document of the calls, with JSON Schemas made from the component's description |
//! | `POST /call/{name}` | `200` with the JSON result; `422` Python raised; `400` bad arguments; `404` unknown function; `504` time limit; `500` memory limit, trap or oversized result; `503` busy |
//! | `POST /call/{name}` of a generator | `200` with NDJSON, `{"item": value}` per line as the items come; a failure after the first item ends it with `{"error": body, "status": code}` |
//! | `GET /healthz` | `200` `{"status": "ok", ...}` |
//! | `/mcp` | with the feature `mcp`: the functions as MCP tools over streamable HTTP (the `mcp` module), on the same stores, for loopback hosts |
//!
//! Calls run on the server's own stores (see [`ServeOptions::workers`]), and
//! on stores started when every one is taken, up to
//! [`ServeOptions::max_stores`]; admission is bounded by
//! [`ServeOptions::max_pending`]. See `dispatch` for how a call picks its
//! store. Dropping a request's future, which hyper does when
//! the client disconnects, cancels the Python call.

mod capacity;
mod describe;
mod dispatch;
mod guard;
mod health;
mod listen;
#[cfg(feature = "mcp")]
pub mod mcp;
mod openapi;
mod reply;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::app::App;
use crate::component::signature::Function;
use crate::error::{Error, Result};
use dispatch::Dispatcher;
use health::{Health, Limits};
use reply::Failure;
use snakebox_generator::http::MAX_BODY_BYTES;

/// The target of the access log: one event per request.
pub const ACCESS_TARGET: &str = "snakebox::access";

/// How a server runs its component.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The number of stores always kept, each on its own thread.
    pub workers: usize,
    /// The most stores at once. When every store is taken (a sync call
    /// holds its store alone until it returns), a request gets a store
    /// started for it, so that one slow or spinning call does not hold up
    /// the others; one unused for 30 s is let go again.
    pub max_stores: usize,
    /// How long a store started on demand may go without a request before
    /// it is let go.
    pub store_idle: Duration,
    /// The most requests admitted at once, running or waiting for a store.
    /// Past it, requests get `503` at once.
    pub max_pending: usize,
    /// The largest result, in bytes of JSON, a call may return. Past it the
    /// call fails with `500` and nothing is sent.
    pub max_result_bytes: usize,
    /// How long a client has to send a request's headers, and how long an
    /// idle keep-alive connection is kept; then it is closed.
    pub header_timeout: Duration,
    /// The most connections served at once. Past it, a connection gets
    /// `/healthz` and `503` for anything else, and is closed.
    pub max_connections: usize,
    /// How long the requests in flight get to finish on shutdown.
    pub shutdown_grace: Duration,
    /// How long a client has to send a request's body, once its headers
    /// are in; then it gets `408`.
    pub body_timeout: Duration,
    /// The names the server is reached by, besides loopback names and IP
    /// addresses; a request for another `Host` gets `403` (a guard against
    /// DNS rebinding). `*` allows any, for a proxy that checks `Host`.
    pub allowed_hosts: Vec<String>,
    /// The origins (`https://app.example`) whose web pages may call the
    /// server, with CORS; a request from another page gets `403`. None by
    /// default.
    pub allowed_origins: Vec<String>,
    /// A token every request but `/healthz` must carry as `Authorization:
    /// Bearer <token>`, or get `401`; the OpenAPI document then declares
    /// the scheme. None by default.
    pub auth_token: Option<String>,
}

impl ServeOptions {
    /// Requests admitted per worker by default.
    pub const PENDING_PER_WORKER: usize = 128;
    /// The default cap on a result: 16 MiB of JSON.
    pub const MAX_RESULT_BYTES: usize = 16 << 20;
    /// The default cap on stores, unless `workers` asks for more: an idle
    /// store costs about 1 MiB of memory of its own (BENCHMARKS.md).
    pub const MAX_STORES: usize = 16;
    /// The default time to send a request's headers, or to stay idle.
    pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default cap on connections, well under a default descriptor
    /// limit of 1,024.
    pub const MAX_CONNECTIONS: usize = 512;
    /// The default time the requests in flight get on shutdown.
    pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);
    /// The default time to send a request's body.
    pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default time a store started on demand is kept unused.
    pub const STORE_IDLE: Duration = Duration::from_secs(30);

    /// The most stores [`stores_for_memory`](Self::stores_for_memory)
    /// gives, whatever the memory.
    pub const MAX_STORES_BY_MEMORY: usize = 256;

    /// How many stores fit in this machine's memory (or its cgroup's
    /// limit, in a container) if each grows to `memory_limit`, from
    /// [`MAX_STORES`](Self::MAX_STORES) to
    /// [`MAX_STORES_BY_MEMORY`](Self::MAX_STORES_BY_MEMORY): a cap on
    /// stores started on demand that a spinning or memory-hungry guest
    /// cannot turn into an out-of-memory kill. The command line's default.
    pub fn stores_for_memory(memory_limit: u64) -> usize {
        let fit = capacity::memory_bytes().map_or(Self::MAX_STORES, |bytes| {
            usize::try_from(bytes / memory_limit.max(1)).unwrap_or(usize::MAX)
        });
        fit.clamp(Self::MAX_STORES, Self::MAX_STORES_BY_MEMORY)
    }

    /// Defaults for `workers` stores.
    pub fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        ServeOptions {
            workers,
            max_stores: Self::MAX_STORES.max(workers * 2),
            store_idle: Self::STORE_IDLE,
            max_pending: workers * Self::PENDING_PER_WORKER,
            max_result_bytes: Self::MAX_RESULT_BYTES,
            header_timeout: Self::HEADER_TIMEOUT,
            max_connections: Self::MAX_CONNECTIONS,
            shutdown_grace: Self::SHUTDOWN_GRACE,
            body_timeout: Self::BODY_TIMEOUT,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            auth_token: None,
        }
    }

    /// The `Host` and `Origin` checks these options ask for.
    fn guard(&self) -> Arc<guard::Guard> {
        guard::Guard::new(
            &self.allowed_hosts,
            &self.allowed_origins,
            self.auth_token.as_deref(),
        )
    }
}

/// An HTTP front end for one app, over a fixed set of stores.
pub struct Server {
    state: Arc<ServerState>,
    limits: listen::Limits,
    guard: Arc<guard::Guard>,
    /// The same functions as MCP tools, on the same stores, at `/mcp`.
    #[cfg(feature = "mcp")]
    tools: mcp::Tools,
}

struct ServerState {
    dispatcher: Arc<Dispatcher>,
    functions: Value,
    openapi: Value,
    max_result_bytes: usize,
    body_timeout: Duration,
    /// Where the server listens, once [`Server::serve`] knows it and it is
    /// an address clients can use: the document's `servers`.
    address: std::sync::OnceLock<std::net::SocketAddr>,
}

impl Server {
    /// Starts `options.workers` stores of `app`.
    pub fn new(app: &App, options: ServeOptions) -> Result<Self> {
        let functions = describe::functions(app);
        let openapi = openapi::document(app, options.auth_token.is_some());
        let dispatcher = Arc::new(Dispatcher::new(app, &options)?);
        Ok(Server {
            #[cfg(feature = "mcp")]
            tools: mcp::Tools::on(app, Arc::clone(&dispatcher)),
            state: Arc::new(ServerState {
                dispatcher,
                functions,
                openapi,
                max_result_bytes: options.max_result_bytes,
                body_timeout: options.body_timeout,
                address: std::sync::OnceLock::new(),
            }),
            guard: options.guard(),
            limits: listen::Limits {
                header_timeout: options.header_timeout,
                max_connections: options.max_connections.max(1),
                shutdown_grace: options.shutdown_grace,
            },
        })
    }

    /// The routes, for embedding in another axum server (with the feature
    /// `mcp`, the functions as MCP tools at `/mcp`), behind the `Host` and
    /// `Origin` checks of the options.
    pub fn router(&self) -> Router {
        let router = Router::new()
            .route("/functions", get(functions))
            .route("/openapi.json", get(openapi))
            .route("/healthz", get(healthz))
            .route("/call/{name}", post(call))
            .with_state(Arc::clone(&self.state));
        #[cfg(feature = "mcp")]
        let router = router.nest_service("/mcp", self.tools.guarded_http_service());
        guard::layer(router, &self.guard)
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting,
    /// closes idle connections, lets the requests in flight finish (up to
    /// `shutdown_grace`), and returns. Slow and idle clients are bounded
    /// as the [`ServeOptions`] say.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Ok(address) = listener.local_addr()
            && !address.ip().is_unspecified()
        {
            let _ = self.state.address.set(address);
        }
        let limits = self.limits.within_descriptors();
        let overloaded = Router::new()
            .route("/healthz", get(healthz))
            .with_state(Arc::clone(&self.state))
            .fallback(too_many_connections)
            .with_state(limits.max_connections);
        listen::serve(listener, self.router(), overloaded, limits, shutdown).await
    }
}

/// Past the connection cap: all but `/healthz`.
async fn too_many_connections(State(max): State<usize>) -> Response {
    Failure::Connections { max }.into_response()
}

async fn functions(State(state): State<Arc<ServerState>>) -> Response {
    let log = AccessLog::start("");
    log.finish(axum::Json(state.functions.clone()).into_response())
}

async fn openapi(State(state): State<Arc<ServerState>>) -> Response {
    let log = AccessLog::start("");
    let mut document = state.openapi.clone();
    if let Some(address) = state.address.get() {
        document["servers"] = serde_json::json!([{ "url": format!("http://{address}") }]);
    }
    log.finish(axum::Json(document).into_response())
}

async fn healthz(State(state): State<Arc<ServerState>>) -> Response {
    let load = state.dispatcher.load();
    let app = state.dispatcher.app();
    axum::Json(Health {
        status: "ok",
        workers: load.workers,
        stores: load.stores,
        max_stores: load.max_stores,
        pending: load.pending,
        max_pending: load.max_pending,
        limits: Limits {
            timeout_ms: app.timeout().map(|t| t.as_millis()),
            memory_bytes: app.memory_limit(),
            max_result_bytes: state.max_result_bytes,
        },
    })
    .into_response()
}

/// Whether the request says its body is `application/json` (any
/// parameters, such as a charset, aside).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// The request's body, read within the server's time and size limits.
async fn read_body(
    state: &ServerState,
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
) -> std::result::Result<Bytes, Failure> {
    let too_large = Failure::BodyTooLarge {
        limit: MAX_BODY_BYTES,
    };
    // A length past the limit is refused before a byte of it is read.
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large);
    }
    let read = axum::body::to_bytes(body, MAX_BODY_BYTES);
    match tokio::time::timeout(state.body_timeout, read).await {
        Err(_) => Err(Failure::BodyTimeout {
            after: state.body_timeout,
        }),
        Ok(Ok(body)) => Ok(body),
        Ok(Err(error)) => {
            let over = std::error::Error::source(&error)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
            match over {
                true => Err(too_large),
                false => Err(Failure::Body(format!(
                    "the body could not be read: {error}"
                ))),
            }
        }
    }
}

async fn call(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    let log = AccessLog::start(&name);
    let function = match state.dispatcher.app().function(&name) {
        Ok(function) => function,
        Err(error) => return log.finish(Failure::Call(error).into_response()),
    };
    // Only JSON: a browser may send a `text/plain` or form POST to any
    // server without asking, but must ask (CORS preflight) before JSON.
    if !is_json(&headers) {
        return log.finish(Failure::NotJson.into_response());
    }
    let body = match read_body(&state, &headers, body).await {
        Ok(body) => body,
        Err(failure) => return log.finish(failure.into_response()),
    };
    let response = match function.returns_stream() {
        true => run_stream(&state, &function, &body).await,
        false => run_call(&state, &function, &body).await.map(|json| {
            (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                json,
            )
                .into_response()
        }),
    };
    log.finish(response.unwrap_or_else(IntoResponse::into_response))
}

async fn run_call(
    state: &ServerState,
    function: &Arc<Function>,
    body: &[u8],
) -> std::result::Result<Vec<u8>, Failure> {
    let (positional, named) = reply::parse_body(body)?;
    let args = crate::values::arguments::bind(function, &positional, &named)?;
    let value = state.dispatcher.call(function, args).await?;
    reply::encode_result(function, value.as_ref(), state.max_result_bytes)
}

/// Streams a generator's items as NDJSON, one `{"item": value}` per line.
/// A failure before the first item gets the status a plain call would; a
/// later one ends the stream with an `{"error": ..., "status": ...}` line.
async fn run_stream(
    state: &ServerState,
    function: &Arc<Function>,
    body: &[u8],
) -> std::result::Result<Response, Failure> {
    let (positional, named) = reply::parse_body(body)?;
    // Bad arguments get their 400 before the request takes a store.
    crate::values::arguments::bind(function, &positional, &named)?;
    let (held, mut stream) = state
        .dispatcher
        .stream(function, &positional, &named)
        .await?;
    let first = match futures::StreamExt::next(&mut stream).await {
        Some(Err(error)) => return Err(Failure::Call(error)),
        first => first,
    };
    let lines = futures::StreamExt::map(
        futures::StreamExt::chain(futures::stream::iter(first), stream),
        move |item| {
            // The store and the admission stay held while the body is sent.
            let _held = &held;
            Ok::<_, std::convert::Infallible>(reply::stream_line(item))
        },
    );
    Ok((
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(lines),
    )
        .into_response())
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Call(error)
    }
}

/// One access-log event per request, also for requests dropped before they
/// finish (the client went away), which are logged with status 499.
struct AccessLog {
    function: String,
    started: Instant,
    done: bool,
}

impl AccessLog {
    fn start(function: &str) -> Self {
        AccessLog {
            function: function.to_owned(),
            started: Instant::now(),
            done: false,
        }
    }

    fn finish(mut self, response: Response) -> Response {
        self.done = true;
        self.emit(response.status().as_u16());
        response
    }

    fn emit(&self, status: u16) {
        let duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            target: ACCESS_TARGET,
            function = self.function.as_str(),
            status,
            duration_ms = format!("{duration_ms:.1}").as_str(),
            "request"
        );
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        if !self.done {
            // The client disconnected; the call, if any, was cancelled.
            self.emit(499);
        }
    }
}
