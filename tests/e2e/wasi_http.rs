//! `snakebox build --http`: the component serves the module's HTTP API by
//! itself. Each test serves it through wasmtime-wasi-http's own proxy host,
//! the library that `wasmtime serve` is built on (a fresh instance per
//! request, as there), and checks it against `snakebox serve` on the same
//! module.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use serde_json::{Value, json};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use crate::serve::{Served, assert_streams, request, request_as, stream_request};
use crate::types::{RAISES, ROWS, STREAMS, arguments, json as parse};
use crate::util::{cache_dir, fixture, root};

/// The `--http` component of fixture `name`, with the requirements in
/// `tests/fixtures/{requirements}` if any.
fn http_component(name: &str, requirements: Option<&str>) -> PathBuf {
    let options = snakebox::builder::BuildOptions {
        http: true,
        requirements: requirements.map(|file| root().join("tests/fixtures").join(file)),
        ..Default::default()
    };
    snakebox::builder::build_with(&fixture(name), &cache_dir(), &options)
        .unwrap_or_else(|e| panic!("building {name} with --http failed: {e}"))
        .wasm
}

/// A fixture's `--http` component served on a loopback port, with what its
/// instances wrote to stdout and stderr.
pub struct Proxy {
    pub address: String,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Proxy {
    /// The proxy of fixture `name`, started once per run.
    pub fn of(name: &str) -> &'static Proxy {
        Proxy::with_requirements(name, None)
    }

    /// The proxy of fixture `name` built with `requirements`, once per run,
    /// granting the files the component carries as `snakebox files` says.
    pub fn with_requirements(name: &str, requirements: Option<&str>) -> &'static Proxy {
        static STARTED: OnceLock<Mutex<HashMap<String, &'static Proxy>>> = OnceLock::new();
        let mut started = STARTED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(proxy) = started.get(name) {
            return proxy;
        }
        let wasm = http_component(name, requirements);
        let stem = wasm.file_stem().expect("a file name").to_owned();
        let files = cache_dir().join("http-files").join(stem);
        let grants = snakebox::extract_files(&wasm, &files).expect("the files unpack");
        let dirs = grants.into_iter().map(|g| (g.host, g.guest)).collect();
        let proxy: &'static Proxy = Box::leak(Box::new(Proxy::start(&wasm, dirs)));
        started.insert(name.to_owned(), proxy);
        proxy
    }

    fn start(wasm: &Path, dirs: Vec<(PathBuf, String)>) -> Proxy {
        let engine = Engine::new(&Config::new()).expect("engine");
        let component = Component::from_file(&engine, wasm).expect("the component compiles");
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi links");
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).expect("http links");
        let pre = ProxyPre::new(
            linker
                .instantiate_pre(&component)
                .expect("the component imports only WASI"),
        )
        .expect("the component exports wasi:http/incoming-handler");
        let (stdout, stderr) = (
            MemoryOutputPipe::new(1 << 20),
            MemoryOutputPipe::new(1 << 20),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.set_nonblocking(true).expect("nonblocking");
        let address = listener.local_addr().expect("address").to_string();
        let setup = Setup {
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            dirs,
        };
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("tokio");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    let (pre, setup) = (pre.clone(), setup.clone());
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            handle(pre.clone(), setup.clone(), req)
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(client), service)
                            .await;
                    });
                }
            });
        });
        Proxy {
            address,
            stdout,
            stderr,
        }
    }

    pub fn call(&self, function: &str, body: &Value) -> (u16, Value) {
        let reply = request(
            &self.address,
            "POST",
            &format!("/call/{function}"),
            &body.to_string(),
        );
        (reply.status, reply.body)
    }
}

/// What each request's WASI gets: the output pipes and the granted folders.
#[derive(Clone)]
struct Setup {
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
    dirs: Vec<(PathBuf, String)>,
}

/// What a request's store holds: WASI, with stdout and stderr captured, and
/// `wasi:http`.
struct State {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: NoOutgoing,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The guest sends no requests of its own; any would be denied.
struct NoOutgoing;

impl WasiHttpHooks for NoOutgoing {
    fn send_request(
        &mut self,
        _request: hyper::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        hyper::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

type Answer =
    Pin<Box<dyn Future<Output = anyhow::Result<hyper::Response<HyperOutgoingBody>>> + Send>>;

/// One request on a fresh instance, as `wasmtime serve` runs it.
fn handle(
    pre: ProxyPre<State>,
    setup: Setup,
    req: hyper::Request<hyper::body::Incoming>,
) -> Answer {
    Box::pin(async move {
        let mut wasi = WasiCtx::builder();
        wasi.stdout(setup.stdout).stderr(setup.stderr);
        for (host, guest) in &setup.dirs {
            wasi.preopened_dir(host, guest, FsPerms::ReadOnly)?;
        }
        let wasi = wasi.build();
        let mut store = Store::new(
            pre.engine(),
            State {
                table: ResourceTable::new(),
                wasi,
                http: WasiHttpCtx::new(),
                hooks: NoOutgoing,
            },
        );
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let task = tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(anyhow::anyhow!(
                "the guest answered with an error: {code:?}"
            )),
            Err(_) => Err(anyhow::anyhow!(
                "the guest never set a response: {:?}",
                task.await
            )),
        }
    })
}

/// A request body of one row's arguments: an array, or an object when
/// they are named.
fn body(args: &[&str]) -> Option<Value> {
    let (positional, named) = arguments(args);
    match (positional.is_empty(), named.is_empty()) {
        (_, true) => Some(Value::Array(positional)),
        (true, false) => Some(Value::Object(named.into_iter().collect())),
        (false, false) => None,
    }
}

#[test]
fn every_type_row_crosses_http_as_it_does_through_the_host() {
    let proxy = Proxy::of("types_table");
    let mut checked = 0;
    for (row, function, args, expected) in ROWS {
        let Some(body) = body(args) else {
            continue; // an HTTP body is positional or named, not both
        };
        let (status, value) = proxy.call(function, &body);
        assert_eq!(
            (status, &value),
            (200, &parse(expected)),
            "{row}: {function} {body}"
        );
        checked += 1;
    }
    assert!(
        checked * 10 >= ROWS.len() * 9,
        "{checked} of {} rows",
        ROWS.len()
    );
    for (function, kind, message) in RAISES {
        let (status, value) = proxy.call(function, &json!([]));
        assert_eq!((status, &value["type"]), (422, &json!(kind)), "{function}");
        let text = value["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{function}: {text}");
    }
    for (row, function, args, items) in STREAMS {
        let body = body(args).expect("stream rows are one kind");
        let (status, head, lines) = stream_request(&proxy.address, function, &body.to_string());
        assert_eq!(status, 200, "{row}");
        assert!(
            head.contains("content-type: application/x-ndjson"),
            "{head}"
        );
        let expected: Vec<Value> = items
            .iter()
            .map(|item| json!({"item": parse(item)}))
            .collect();
        assert_eq!(lines, expected, "{row}");
    }
}

/// The same requests to `snakebox serve` and to the `--http` component.
fn same_answers(name: &str, requests: &[(&str, &str, &str)]) {
    let served = Served::fixture(name, &["--workers", "1"]);
    let proxy = Proxy::of(name);
    for (method, path, body) in requests {
        let ours = request(&proxy.address, method, path, body);
        let mut theirs = request(&served.address, method, path, body);
        // Only the JSON parser's own words differ (Python's against serde's).
        let parser = "the body is not valid JSON: ";
        if let (Some(a), Some(b)) = (
            ours.body["message"].as_str(),
            theirs.body["message"].as_str(),
        ) && a.starts_with(parser)
            && b.starts_with(parser)
        {
            theirs.body["message"] = ours.body["message"].clone();
        }
        assert_eq!(
            (ours.status, &ours.body),
            (theirs.status, &theirs.body),
            "{method} {path} {body}"
        );
    }
}

#[test]
fn each_outcome_has_the_status_and_body_that_snakebox_serve_gives() {
    same_answers(
        "streams",
        &[
            ("GET", "/functions", ""),
            ("POST", "/call/point", "[3]"),
            ("POST", "/call/point", r#"{"i": 4}"#),
            ("POST", "/call/point", r#"["three"]"#),
            ("POST", "/call/point", "[1, 2]"),
            ("POST", "/call/point", r#"{"j": 1}"#),
            ("POST", "/call/point", "[1,"),
            ("POST", "/call/point", "7"),
            ("POST", "/call/no_such", "[]"),
            ("POST", "/call/fails_after", "[0]"),
        ],
    );
    same_answers(
        "aio",
        &[
            ("GET", "/functions", ""),
            ("POST", "/call/answer", ""),
            ("POST", "/call/sleep_echo", "[5, 0.01]"),
            ("POST", "/call/raises_later", r#"["late"]"#),
            ("POST", "/call/times_out", "[]"),
            ("POST", "/call/gathered", "[3, 0.01]"),
        ],
    );
}

#[test]
fn module_function_names_a_function_of_a_one_module_package_here_too() {
    let proxy = Proxy::of("solo");
    for name in ["hello", "greet.hello"] {
        assert_eq!(
            proxy.call(name, &json!(["ada"])),
            (200, json!("hello, ada")),
            "{name}"
        );
    }
}

#[test]
fn a_body_not_sent_as_json_is_refused_alike() {
    // A browser may POST `text/plain` or a form to any server without
    // asking first; both servers refuse all but JSON with 415.
    let served = Served::fixture("streams", &["--workers", "1"]);
    let proxy = Proxy::of("streams");
    for (content_type, status) in [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("", 415),
        ("application/json; charset=utf-8", 200),
        ("Application/JSON", 200),
    ] {
        let ours = request_as(&proxy.address, "POST", "/call/point", content_type, "[3]");
        let theirs = request_as(&served.address, "POST", "/call/point", content_type, "[3]");
        assert_eq!(ours.status, status, "{content_type}: {:?}", ours.body);
        assert_eq!(
            (ours.status, &ours.body),
            (theirs.status, &theirs.body),
            "{content_type}"
        );
        if status == 415 {
            assert_eq!(ours.body["error"], "unsupported_media_type");
        }
    }
}

#[test]
fn the_openapi_document_and_the_body_limit_are_snakebox_serves() {
    let served = Served::fixture("corpus", &["--workers", "1"]);
    let proxy = Proxy::of("corpus");
    let mut ours = request(&proxy.address, "GET", "/openapi.json", "").body;
    let mut theirs = served.get("/openapi.json").body;
    assert_eq!(ours["openapi"], json!("3.1.0"));
    // Only `/healthz` differs, where `snakebox serve` reports its load, and
    // `servers`: `snakebox serve` knows its address.
    for document in [&mut ours, &mut theirs] {
        let paths = document["paths"].as_object_mut().expect("paths");
        assert!(paths.remove("/healthz").is_some());
    }
    let servers = theirs
        .as_object_mut()
        .and_then(|document| document.remove("servers"))
        .expect("serve lists where it is");
    assert_eq!(
        servers,
        json!([{"url": format!("http://{}", served.address)}])
    );
    assert_eq!(ours, theirs);
    let big = format!(
        "[{}]",
        "1,".repeat(snakebox_generator::http::MAX_BODY_BYTES / 2 + 1)
    );
    let path = "/call/need";
    let (ours, theirs) = (
        request(&proxy.address, "POST", path, &big),
        request(&served.address, "POST", path, &big),
    );
    assert_eq!((ours.status, &ours.body), (413, &theirs.body));
    assert_eq!(theirs.status, 413);
}

#[test]
fn generators_stream_ndjson_and_a_late_failure_ends_the_stream() {
    let proxy = Proxy::of("streams");
    assert_streams(&proxy.address);
    let (status, _, lines) = stream_request(&proxy.address, "ticks", "[3]");
    assert_eq!(status, 200, "an async generator streams too");
    assert_eq!(
        lines,
        [json!({"item": 0}), json!({"item": 1}), json!({"item": 2})]
    );
}

#[test]
fn a_client_that_goes_away_closes_the_generator() {
    use std::io::{BufRead as _, BufReader, Write as _};
    let proxy = Proxy::of("streams");
    let mut stream = std::net::TcpStream::connect(&proxy.address).expect("connects");
    write!(
        stream,
        "POST /call/endless HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
    )
    .expect("sends");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !line.contains("\"item\"") {
        line.clear();
        reader.read_line(&mut line).expect("reads a line");
    }
    drop(reader);
    // The next write to the client fails; the guest closes the generator,
    // whose `finally` prints, and the endless call ends.
    crate::util::eventually(
        Duration::from_secs(30),
        "the generator was not closed",
        || {
            let stderr = String::from_utf8_lossy(&proxy.stderr.contents()).into_owned();
            match stderr.contains("endless closed after") {
                true => Ok(()),
                false => Err(stderr),
            }
        },
    );
}

#[test]
fn the_http_component_answers_healthz() {
    let proxy = Proxy::of("aio");
    let reply = request(&proxy.address, "GET", "/healthz", "");
    assert_eq!((reply.status, &reply.body["status"]), (200, &json!("ok")));
}

#[test]
fn async_functions_sleep_for_real_on_the_wasi_clock() {
    let proxy = Proxy::of("aio");
    let started = Instant::now();
    let (status, value) = proxy.call("sleep_echo", &json!([7, 0.3]));
    let elapsed = started.elapsed();
    assert_eq!((status, value), (200, json!(7)));
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    // `asyncio.wait_for` times out on the same clock: the 5 s sleep is
    // cut off, not waited out.
    let started = Instant::now();
    let (status, value) = proxy.call("times_out", &json!([]));
    assert_eq!((status, value), (200, json!("timed out")));
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn print_and_logging_go_to_stderr() {
    let proxy = Proxy::of("basics");
    let (status, _) = proxy.call("talk", &json!(["to stderr"]));
    assert_eq!(status, 200);
    let stderr = String::from_utf8_lossy(&proxy.stderr.contents()).into_owned();
    let stdout = String::from_utf8_lossy(&proxy.stdout.contents()).into_owned();
    assert!(stderr.contains("to stderr\n"), "print: {stderr:?}");
    assert!(stderr.contains("logged to stderr"), "logging: {stderr:?}");
    assert!(!stdout.contains("to stderr"), "stdout: {stdout:?}");
}

#[test]
fn a_body_over_the_limit_is_413_and_malformed_json_is_400() {
    let proxy = Proxy::of("streams");
    let big = format!(
        "[{}]",
        "1,".repeat(snakebox_generator::http::MAX_BODY_BYTES / 2 + 1)
    );
    let reply = request(&proxy.address, "POST", "/call/point", &big);
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.body["error"], json!("body_too_large"));
    let reply = request(&proxy.address, "POST", "/call/point", "{oops");
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (400, &json!("bad_arguments"))
    );
    // White space is not JSON, and not the empty body of no arguments.
    let reply = request(&proxy.address, "POST", "/call/floats", "\r\n");
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (400, &json!("bad_arguments"))
    );
    // The instance after them serves as before.
    assert_eq!(proxy.call("point", &json!([1])).0, 200);
}

#[test]
fn host_functions_cannot_be_built_for_http() {
    let options = snakebox::builder::BuildOptions {
        http: true,
        imports: vec![fixture("host").join("directory.pyi")],
        ..Default::default()
    };
    let Err(error) = snakebox::builder::build_with(
        &fixture("host").join("host_calls.py"),
        &cache_dir(),
        &options,
    ) else {
        panic!("a module with host functions built for --http");
    };
    assert!(error.to_string().contains("--http"), "{error}");
}

#[test]
fn requirements_and_their_data_come_along() {
    let proxy = Proxy::with_requirements(
        "tests/fixtures/pypi/lazy.py",
        Some("pypi/lazy-requirements.txt"),
    );
    // Imported inside the function, and by name at run time.
    let (status, value) = proxy.call("table", &json!([[["a", "b"], ["1", "2"]]]));
    assert_eq!(status, 200, "{value}");
    assert!(value.as_str().unwrap_or_default().contains('a'), "{value}");
    let (status, value) = proxy.call("by_name", &json!(["dateutil.easter", "EASTER_ORTHODOX"]));
    assert_eq!((status, value), (200, json!("2")));
    // Package data and metadata, from the folders `snakebox files` wrote
    // and the engine granted.
    let (status, value) = proxy.call("utc_offset", &json!(["Asia/Kolkata"]));
    assert_eq!((status, value), (200, json!("5:30:00")));
    let (status, value) = proxy.call("data_header", &json!(["pytz", "zoneinfo/UTC"]));
    let tzif: Vec<u8> = b"TZif".to_vec();
    assert_eq!((status, value), (200, json!([tzif, tzif, tzif])));
    let (status, value) = proxy.call("version", &json!(["pytz"]));
    assert_eq!((status, value), (200, json!("2025.2")));
}

#[test]
fn snakebox_says_where_an_http_component_runs() {
    let wasm = http_component("basics", None);
    let error = crate::util::runtime()
        .load(&wasm)
        .err()
        .expect("the snakebox host refuses a wasi:http component");
    assert!(error.to_string().contains("wasmtime serve"), "{error}");
}
