//! `snakebox serve`, driven over HTTP as a client would: every row of the
//! status table, admission, cancellation on disconnect, graceful shutdown.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{app, cache_dir, component, fixture};

/// A running `snakebox serve` process, stopped when dropped.
pub struct Served {
    child: Child,
    pub address: String,
    log: Arc<Mutex<String>>,
}

/// One HTTP reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: Value,
}

impl Served {
    /// Serves the fixture component `name` with extra CLI arguments.
    pub fn fixture(name: &str, args: &[&str]) -> Served {
        // Loading it here first compiles it once into the shared cache, so
        // that servers started in parallel only deserialize it.
        let _ = app(name);
        Served::start(&component(name), args)
    }

    /// Serves `app` (a component or a .py module) on a free loopback port.
    pub fn start(app: &Path, args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_snakebox"))
            .arg("serve")
            .arg(app)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("SNAKEBOX_CACHE_DIR", cache_dir())
            .env("NO_COLOR", "1")
            .env("SNAKEBOX_TEST_SECRET", "hunter2")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("snakebox serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("reads the bound address");
        let Some(address) = line.trim().strip_prefix("listening on http://") else {
            let _ = child.kill();
            let _ = child.wait();
            let log = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
            panic!("snakebox serve did not start: stdout {line:?}, stderr:\n{log}");
        };
        Served {
            address: address.to_owned(),
            child,
            log,
        }
    }

    /// `POST /call/{function}` with a JSON body.
    pub fn call(&self, function: &str, body: &Value) -> Reply {
        self.request("POST", &format!("/call/{function}"), &body.to_string())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, "")
    }

    pub fn request(&self, method: &str, path: &str, body: &str) -> Reply {
        request(&self.address, method, path, body)
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(started.elapsed() < limit, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on its own connection.
pub fn request(address: &str, method: &str, path: &str, body: &str) -> Reply {
    let (status, head, body) = exchange(address, method, path, body);
    let body = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    Reply {
        status,
        headers: head,
        body,
    }
}

/// Sends one request and reads the whole reply: status, lowercased
/// headers, and the raw body.
fn exchange(address: &str, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("sends");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("reads the reply");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn hostile_source() -> PathBuf {
    fixture("hostile")
}

#[test]
fn functions_lists_names_params_types_and_docs() {
    // Served from the .py source, so docstrings are known.
    let _ = app("hostile");
    let server = Served::start(&hostile_source(), &["--workers", "1"]);
    let reply = server.get("/functions");
    assert_eq!(reply.status, 200);
    let functions = reply.body.as_array().expect("a list");
    let add = functions
        .iter()
        .find(|f| f["name"] == "add")
        .expect("add is listed");
    assert_eq!(
        add["params"][0],
        json!({"name": "a", "type": "s64", "required": true})
    );
    assert_eq!(add["result"], "s64");
    assert_eq!(add["async"], false);
    assert_eq!(add["doc"], "Adds two integers.");
    let slow = functions
        .iter()
        .find(|f| f["name"] == "slow_add")
        .expect("slow_add is listed");
    assert_eq!(slow["async"], true);
    assert_eq!(slow["params"][2]["type"], "f64");
    let health = server.get("/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["workers"], 1);
}

#[test]
fn every_outcome_has_its_status() {
    let server = Served::fixture(
        "hostile",
        &["--workers", "2", "--timeout", "1s", "--memory", "128MiB"],
    );
    // 200, positional and named.
    let reply = server.call("add", &json!([2, 40]));
    assert_eq!((reply.status, &reply.body), (200, &json!(42)));
    let reply = server.call("slow_add", &json!({"a": 1, "b": 2, "seconds": 0.01}));
    assert_eq!((reply.status, &reply.body), (200, &json!(3)));
    let reply = server.request("POST", "/call/recorded", "");
    assert_eq!(reply.status, 200, "an empty body is no arguments");
    // 422: Python raised.
    let reply = server.call("fail", &json!(["boom"]));
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["type"], "ValueError");
    assert_eq!(reply.body["message"], "boom");
    let traceback = reply.body["traceback"].as_str().expect("traceback");
    assert!(traceback.contains("in fail"), "{traceback}");
    // 400: bad arguments, each with a message naming the problem.
    for (body, expected) in [
        ("[2]", "missing argument `b`"),
        (r#"["two", 2]"#, "argument `a`"),
        ("[1, 2, 3]", "takes 2 arguments"),
        (r#"{"a": 1, "c": 2}"#, "no parameter `c`"),
        ("[1, 2", "not valid JSON"),
        ("7", "must be a JSON array"),
    ] {
        let reply = server.request("POST", "/call/add", body);
        assert_eq!(reply.status, 400, "{body}: {:?}", reply.body);
        assert_eq!(reply.body["error"], "bad_arguments");
        let message = reply.body["message"].as_str().expect("message");
        assert!(message.contains(expected), "{body}: {message}");
    }
    // 404: unknown function.
    let reply = server.call("no_such", &json!([]));
    assert_eq!(reply.status, 404);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("no_such")),
        "{:?}",
        reply.body
    );
    // 504: time limit, sync and async.
    for function in ["spin", "spin_async"] {
        let reply = server.call(function, &json!([]));
        assert_eq!(reply.status, 504, "{function}: {:?}", reply.body);
        assert_eq!(reply.body["error"], "timeout");
    }
    // 500: memory limit; the store is replaced.
    // 100 MB fits under 128 MiB, but not twice: the copy that returns it does not.
    let reply = server.call("big_result", &json!([100]));
    assert_eq!(reply.status, 500, "{:?}", reply.body);
    assert_eq!(reply.body["error"], "memory_limit");
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("memory limit") && m.contains("replaced")),
        "{:?}",
        reply.body
    );
    // The server still serves, on fresh stores.
    for i in 0..4 {
        let reply = server.call("add", &json!([i, 1]));
        assert_eq!((reply.status, &reply.body), (200, &json!(i + 1)));
    }
    // One access-log line per request: function, status, duration.
    let log = server.log();
    assert!(
        log.lines().any(|l| l.contains("function=\"fail\"")
            && l.contains("status=422")
            && l.contains("duration_ms=")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("function=\"spin\"") && l.contains("status=504"))
    );
}

#[test]
fn past_the_bounded_queue_requests_get_503() {
    let server = Served::fixture("hostile", &["--workers", "1", "--max-pending", "2"]);
    let address = server.address.clone();
    let slow: Vec<_> = (0..2)
        .map(|i| {
            let address = address.clone();
            std::thread::spawn(move || {
                let body = json!([i, 1, 1.5]).to_string();
                request(&address, "POST", "/call/slow_add", &body)
            })
        })
        .collect();
    // Wait until both are admitted.
    let started = Instant::now();
    while server.get("/healthz").body["pending"] != 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never admitted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let reply = server.call("add", &json!([1, 1]));
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.body["error"], "busy");
    assert!(
        reply.headers.contains("retry-after: 1"),
        "{}",
        reply.headers
    );
    for (i, handle) in slow.into_iter().enumerate() {
        let reply = handle.join().expect("thread");
        assert_eq!((reply.status, &reply.body), (200, &json!(i + 1)));
    }
    let reply = server.call("add", &json!([1, 1]));
    assert_eq!(reply.status, 200, "admitted again once the queue drains");
}

#[test]
fn async_calls_interleave_on_one_store() {
    let server = Served::fixture("hostile", &["--workers", "1"]);
    let started = Instant::now();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let address = server.address.clone();
            std::thread::spawn(move || {
                let body = json!([i, 0, 0.5]).to_string();
                request(&address, "POST", "/call/slow_add", &body)
            })
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let reply = handle.join().expect("thread");
        assert_eq!((reply.status, &reply.body), (200, &json!(i)));
    }
    // Twenty 0.5 s sleeps one after another would take 10 s.
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn a_client_that_disconnects_cancels_the_python_call() {
    let server = Served::fixture("hostile", &["--workers", "1"]);
    let mut stream = TcpStream::connect(&server.address).expect("connects");
    let body = json!([30]).to_string();
    write!(
        stream,
        "POST /call/guarded HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("sends");
    let started = Instant::now();
    while server.call("recorded", &json!([])).body != json!(["start"]) {
        assert!(started.elapsed() < Duration::from_secs(10), "never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stream);
    let started = Instant::now();
    loop {
        let events = server.call("recorded", &json!([])).body;
        if events == json!(["start", "cancelled"]) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not cancelled: {events}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("function=\"guarded\"") && l.contains("status=499")),
        "{log}"
    );
}

#[test]
fn sigterm_finishes_the_calls_in_flight_then_exits_0() {
    let mut server = Served::fixture("hostile", &["--workers", "1"]);
    let address = server.address.clone();
    let in_flight = std::thread::spawn(move || {
        request(
            &address,
            "POST",
            "/call/slow_add",
            &json!([20, 22, 3.0]).to_string(),
        )
    });
    let started = Instant::now();
    while server.get("/healthz").body["pending"] != 1 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never admitted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server.terminate();
    // During the drain: new connections are refused while the 3 s call is
    // still running.
    let draining = Instant::now();
    while TcpStream::connect(&server.address).is_ok() {
        assert!(
            draining.elapsed() < Duration::from_secs(10),
            "still accepting after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !in_flight.is_finished(),
        "the call was not in flight when new connections stopped"
    );
    let reply = in_flight.join().expect("thread");
    assert_eq!((reply.status, &reply.body), (200, &json!(42)));
    let status = server.wait(Duration::from_secs(20));
    assert!(status.success(), "{status:?}\n{}", server.log());
}

/// `POST /call/{function}` of a generator: the status, the headers, and the
/// NDJSON lines of the (chunked) body.
pub fn stream_request(address: &str, function: &str, body: &str) -> (u16, String, Vec<Value>) {
    let (status, head, body) = exchange(address, "POST", &format!("/call/{function}"), body);
    let mut rest = body.as_str();
    let mut payload = String::new();
    if head.contains("transfer-encoding: chunked") {
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
            if size == 0 {
                break;
            }
            payload.push_str(&after[..size]);
            rest = &after[size + 2..];
        }
    } else {
        payload.push_str(rest);
    }
    let lines = payload
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    (status, head, lines)
}

#[test]
fn generators_stream_ndjson_lines() {
    let served = Served::fixture("streams", &["--workers", "1"]);
    let (status, head, lines) = stream_request(&served.address, "count", "[3]");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: application/x-ndjson"),
        "{head}"
    );
    assert_eq!(
        lines,
        [json!({"item": 0}), json!({"item": 1}), json!({"item": 2})]
    );

    let (status, _, lines) = stream_request(&served.address, "fails_after", "[1]");
    assert_eq!(status, 200, "the first item was sent before the failure");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], json!({"item": 0}));
    assert_eq!(lines[1]["status"], json!(422));
    assert_eq!(lines[1]["error"]["type"], json!("ValueError"));

    let (status, _, lines) = stream_request(&served.address, "fails_after", "[0]");
    assert_eq!(status, 422, "a failure before any item keeps its status");
    assert_eq!(lines[0]["type"], json!("ValueError"));
    let (status, _, _) = stream_request(&served.address, "count", r#"["three"]"#);
    assert_eq!(status, 400);
    // The store serves plain calls after the streams.
    let reply = served.call("point", &json!([2]));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"x": 2, "y": 1.0, "label": "p2"}));
}
