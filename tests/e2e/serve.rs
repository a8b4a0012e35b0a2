//! `snakebox serve`, driven over HTTP as a client would: every row of the
//! status table, admission, cancellation on disconnect, graceful shutdown.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{app_with, cache_dir, component, eventually, fixture};

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

/// The time limit `snakebox serve` sets unless told otherwise.
fn serve_policy() -> snakebox::Policy {
    snakebox::Policy {
        timeout: Some(Duration::from_secs(30)),
        ..snakebox::Policy::default()
    }
}

impl Served {
    /// Serves the fixture component `name` with extra CLI arguments.
    pub fn fixture(name: &str, args: &[&str]) -> Served {
        // Loading it here first compiles it once into the shared cache, in
        // the form `serve` runs (with a time limit, so with epoch checks),
        // so that servers started in parallel only deserialize it.
        static COMPILING: Mutex<()> = Mutex::new(());
        {
            let _one_at_a_time = COMPILING.lock().unwrap_or_else(|e| e.into_inner());
            let _ = app_with(name, serve_policy());
        }
        Served::launch(&component(name), args, None)
    }

    /// Serves `app` (a component or a .py module) on a free loopback port.
    pub fn start(app: &Path, args: &[&str]) -> Served {
        Served::launch(app, args, None)
    }

    /// [`Served::start`] with more environment.
    pub fn start_with_env(app: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
        Served::launch_with(app, args, None, env)
    }

    /// [`Served::start`], under a descriptor limit (`ulimit -n`) if given.
    fn launch(app: &Path, args: &[&str], descriptors: Option<u32>) -> Served {
        Served::launch_with(app, args, descriptors, &[])
    }

    fn launch_with(
        app: &Path,
        args: &[&str],
        descriptors: Option<u32>,
        env: &[(&str, &str)],
    ) -> Served {
        let binary = env!("CARGO_BIN_EXE_snakebox");
        let mut command = match descriptors {
            None => Command::new(binary),
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell.args([
                    "-c",
                    &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
                    binary,
                ]);
                shell
            }
        };
        let mut child = command
            .arg("serve")
            .arg(app)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("SNAKEBOX_CACHE_DIR", cache_dir())
            .env("NO_COLOR", "1")
            .env("SNAKEBOX_TEST_SECRET", "hunter2")
            .envs(env.iter().copied())
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
    request_as(address, method, path, "application/json", body)
}

/// [`request`] with the body sent as `content_type`; none when empty.
pub fn request_as(
    address: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Reply {
    let (status, head, body) = exchange(address, method, path, content_type, body);
    let body = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    Reply {
        status,
        headers: head,
        body,
    }
}

/// Sends one request and reads the whole reply: status, lowercased
/// headers, and the raw body.
fn exchange(
    address: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String, String) {
    let content_type = match content_type {
        "" => String::new(),
        media => format!("Content-Type: {media}\r\n"),
    };
    let length = body.len();
    send_raw(
        address,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{content_type}Content-Length: {length}\r\nConnection: close\r\n\r\n{body}"
        ),
    )
}

/// Sends `request` as it is on a connection of its own and reads the whole
/// reply: status, lowercased headers, and the raw body.
fn send_raw(address: &str, request: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("sends");
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
    // Served from the .py source, so docstrings are known; the source is
    // built into the shared cache first.
    let _ = component("hostile");
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

/// A file that gated calls (`wait_for_file`) wait for: they return once
/// the test opens it.
struct Gate {
    dir: PathBuf,
}

impl Gate {
    fn new(name: &str) -> Gate {
        let dir = cache_dir()
            .join("gates")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("gate dir");
        Gate { dir }
    }

    /// The `--dir` flag that shows the gate's folder to the guest as `/gate`.
    fn grant(&self) -> String {
        format!("{}:/gate", self.dir.display())
    }

    /// Starts a call that waits for the gate, on its own thread.
    fn wait(&self, address: &str) -> std::thread::JoinHandle<Reply> {
        let address = address.to_owned();
        std::thread::spawn(move || {
            request(&address, "POST", "/call/wait_for_file", r#"["/gate/open"]"#)
        })
    }

    /// Starts a sync call that holds its store until the gate opens, and
    /// returns once it holds it.
    fn hold(&self, server: &Served) -> std::thread::JoinHandle<Reply> {
        let address = server.address.clone();
        let held =
            std::thread::spawn(move || request(&address, "POST", "/call/hold", r#"["/gate"]"#));
        eventually(
            Duration::from_secs(20),
            "the held call never started",
            || match self.dir.join("held").exists() {
                true => Ok(()),
                false => Err(server.log()),
            },
        );
        held
    }

    fn open(&self) {
        std::fs::write(self.dir.join("open"), "opened").expect("open the gate");
    }
}

/// Waits until `/healthz` counts `pending` requests admitted.
pub fn wait_for_pending(server: &Served, pending: usize) {
    eventually(
        Duration::from_secs(20),
        &format!("never {pending} pending"),
        || {
            let health = server.get("/healthz").body;
            match health["pending"] == pending {
                true => Ok(()),
                false => Err(health.to_string()),
            }
        },
    );
}

#[test]
fn past_the_bounded_queue_requests_get_503() {
    let gate = Gate::new("queue");
    let server = Served::fixture(
        "hostile",
        &[
            "--workers",
            "1",
            "--max-pending",
            "2",
            "--dir",
            &gate.grant(),
        ],
    );
    let waiting = [gate.wait(&server.address), gate.wait(&server.address)];
    wait_for_pending(&server, 2);
    assert_busy(&server.call("add", &json!([1, 1])));
    gate.open();
    for handle in waiting {
        let reply = handle.join().expect("thread");
        assert_eq!((reply.status, &reply.body), (200, &json!("opened")));
    }
    let reply = server.call("add", &json!([1, 1]));
    assert_eq!(reply.status, 200, "admitted again once the queue drains");
}

/// "An async function that hogs the CPU fails the other async calls on its
/// store (their time runs out while it holds the loop), and the store is
/// replaced."
#[test]
fn an_async_hog_fails_the_async_calls_on_its_store_which_is_replaced() {
    let server = Served::fixture("hostile", &["--workers", "1", "--timeout", "1s"]);
    let start = |function: &'static str, body: &'static str| {
        let address = server.address.clone();
        std::thread::spawn(move || request(&address, "POST", &format!("/call/{function}"), body))
    };
    // An async call sleeping on the one store, then a hog beside it.
    let victim = start("slow_add", "[1, 2, 0.5]");
    wait_for_pending(&server, 1);
    let hog = start("spin_async", "[]");
    for (name, reply) in [("victim", victim), ("hog", hog)] {
        let reply = reply.join().expect("thread");
        assert_eq!(
            (reply.status, &reply.body["error"]),
            (504, &json!("timeout")),
            "{name}"
        );
    }
    // A new store serves the next calls.
    let after = server.call("slow_add", &json!([1, 2, 0.01]));
    assert_eq!((after.status, &after.body), (200, &json!(3)));
    assert_eq!(server.get("/healthz").body["stores"], 1);
}

/// "Past that [`--max-stores`] it waits for the least busy store": with
/// both stores held, a call waits on one, and the next on the other, which
/// is then the less busy; it runs as soon as that store is free.
#[test]
fn past_max_stores_a_call_waits_for_the_least_busy_store() {
    let gate = Gate::new("least-busy");
    let server = Served::fixture(
        "hostile",
        &[
            "--workers",
            "1",
            "--max-stores",
            "2",
            "--dir",
            &gate.grant(),
        ],
    );
    let start = |body: String| {
        let address = server.address.clone();
        std::thread::spawn(move || request(&address, "POST", "/call/hold", &body))
    };
    // Each of the two stores held by a sync call, behind a gate of its own.
    let mut held = Vec::new();
    for name in ["a", "b"] {
        std::fs::create_dir_all(gate.dir.join(name)).expect("a gate");
        held.push(start(format!(r#"["/gate/{name}"]"#)));
        eventually(Duration::from_secs(20), "never held", || {
            match gate.dir.join(name).join("held").exists() {
                true => Ok(()),
                false => Err(server.log()),
            }
        });
    }
    assert_eq!(server.get("/healthz").body["stores"], 2);
    // Two more: the first waits on one store, the second on the other.
    let address = server.address.clone();
    let first = std::thread::spawn(move || request(&address, "POST", "/call/add", "[1, 1]"));
    wait_for_pending(&server, 3);
    let address = server.address.clone();
    let second = std::thread::spawn(move || request(&address, "POST", "/call/add", "[2, 2]"));
    wait_for_pending(&server, 4);
    // Free one store: exactly one of the two waiting calls runs, whichever
    // waits there; the other still waits for its own store.
    std::fs::write(gate.dir.join("b/open"), "b").expect("open b");
    assert_eq!(
        held.pop().expect("b").join().expect("thread").body,
        json!("b")
    );
    eventually(Duration::from_secs(20), "no waiting call ran", || {
        match first.is_finished() || second.is_finished() {
            true => Ok(()),
            false => Err(server.get("/healthz").body.to_string()),
        }
    });
    // Had both waited on this store, the other would follow within
    // milliseconds.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !(first.is_finished() && second.is_finished()),
        "both waited on one store"
    );
    std::fs::write(gate.dir.join("a/open"), "a").expect("open a");
    assert_eq!(
        held.pop().expect("a").join().expect("thread").body,
        json!("a")
    );
    assert_eq!(first.join().expect("thread").body, json!(2));
    assert_eq!(second.join().expect("thread").body, json!(4));
}

/// "A store started this way is let go after 30 s unused" (`--store-idle`).
#[test]
fn a_store_started_on_demand_is_let_go_once_idle() {
    let gate = Gate::new("idle-store");
    let server = Served::fixture(
        "hostile",
        &[
            "--workers",
            "1",
            "--store-idle",
            "1s",
            "--dir",
            &gate.grant(),
        ],
    );
    let held = gate.hold(&server);
    // The one store is held: the next call gets a store started for it.
    assert_eq!(server.call("add", &json!([2, 40])).body, json!(42));
    assert_eq!(server.get("/healthz").body["stores"], 2);
    gate.open();
    assert_eq!(held.join().expect("thread").body, json!("opened"));
    // Unused past its idle time, it goes when the next call is placed.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(server.call("add", &json!([1, 1])).body, json!(2));
    assert_eq!(server.get("/healthz").body["stores"], 1);
}

#[test]
fn a_call_that_holds_its_store_holds_up_no_other() {
    let gate = Gate::new("held-store");
    let server = Served::fixture("hostile", &["--workers", "1", "--dir", &gate.grant()]);
    let held = gate.hold(&server);
    // The server's one store is taken until the gate opens: the next calls
    // get a store started for them, sync and async alike.
    let reply = server.call("add", &json!([2, 40]));
    assert_eq!((reply.status, &reply.body), (200, &json!(42)));
    let reply = server.call("slow_add", &json!([1, 2, 0.01]));
    assert_eq!((reply.status, &reply.body), (200, &json!(3)));
    assert!(!held.is_finished(), "the gate is still closed");
    let health = server.get("/healthz").body;
    assert_eq!(
        (&health["workers"], &health["stores"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(
        health["max_stores"],
        crate::util::default_max_stores(1, 512 << 20)
    );
    gate.open();
    let reply = held.join().expect("thread");
    assert_eq!((reply.status, &reply.body), (200, &json!("opened")));
    // Calls made one after another go to the server's own store first, so
    // its module state is the one they see.
    let first = server.call("bump", &json!([]));
    let second = server.call("bump", &json!([]));
    assert_eq!((first.status, second.status), (200, 200));
    let first = first.body.as_i64().expect("a count");
    assert_eq!(second.body, json!(first + 1), "one store's module state");
}

#[test]
fn past_max_stores_calls_wait_for_a_store() {
    let gate = Gate::new("max-stores");
    let server = Served::fixture(
        "hostile",
        &[
            "--workers",
            "1",
            "--max-stores",
            "1",
            "--dir",
            &gate.grant(),
        ],
    );
    let held = gate.hold(&server);
    let address = server.address.clone();
    let waiting = std::thread::spawn(move || request(&address, "POST", "/call/add", "[2, 40]"));
    wait_for_pending(&server, 2);
    assert!(
        !waiting.is_finished(),
        "no store for it until the gate opens"
    );
    assert_eq!(server.get("/healthz").body["stores"], 1);
    gate.open();
    let reply = waiting.join().expect("thread");
    assert_eq!((reply.status, &reply.body), (200, &json!(42)));
    let reply = held.join().expect("thread");
    assert_eq!((reply.status, &reply.body), (200, &json!("opened")));
}

#[test]
fn serve_caps_time_memory_results_and_admission_by_default() {
    let server = Served::fixture("hostile", &["--workers", "1"]);
    let health = server.get("/healthz").body;
    assert_eq!(health["max_pending"], 128, "128 per worker");
    assert_eq!(
        health["limits"],
        json!({"timeout_ms": 30_000, "memory_bytes": 512 << 20, "max_result_bytes": 16 << 20})
    );
    // The caps hold, not only their figures: memory stops at 512 MiB, and a
    // result of 20 MB is refused while one of 16 MB is sent.
    let reply = server.call("memory_bomb", &json!([]));
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (500, &json!("memory_limit"))
    );
    let reply = server.call("big_result", &json!([20]));
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (500, &json!("result_too_large"))
    );
    let reply = server.call("big_result", &json!([16]));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.as_str().map(str::len), Some(16_000_000));
}

#[test]
fn max_result_refuses_a_larger_result() {
    // `big_result(1)` is 1,000,002 bytes of JSON: its quotes and a million x.
    let server = Served::fixture("hostile", &["--workers", "1", "--max-result", "1000001"]);
    assert_eq!(
        server.get("/healthz").body["limits"]["max_result_bytes"],
        1_000_001
    );
    let reply = server.call("big_result", &json!([1]));
    assert_eq!(reply.status, 500, "{:?}", reply.body);
    assert_eq!(reply.body["error"], "result_too_large");
    let loose = Served::fixture("hostile", &["--workers", "1", "--max-result", "1000002"]);
    assert_eq!(loose.call("big_result", &json!([1])).status, 200);
    // The store that refused is healthy: nothing was wrong with the guest.
    assert_eq!(server.call("add", &json!([1, 2])).body, json!(3));
}

#[test]
fn a_calls_time_limit_starts_when_it_reaches_its_store() {
    // Two sync naps of 1.2 s on one store, each under the 2 s limit; the
    // second waits 1.2 s for the store first, and is not charged for it.
    let server = Served::fixture(
        "hostile",
        &["--workers", "1", "--max-stores", "1", "--timeout", "2s"],
    );
    let naps: Vec<_> = (0..2)
        .map(|_| {
            let address = server.address.clone();
            std::thread::spawn(move || request(&address, "POST", "/call/nap", "[1.2]"))
        })
        .collect();
    for nap in naps {
        let reply = nap.join().expect("thread");
        assert_eq!((reply.status, &reply.body), (200, &json!(1.2)));
    }
    // The limit itself holds.
    let reply = server.call("nap", &json!([2.5]));
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (504, &json!("timeout"))
    );
}

#[test]
fn async_calls_interleave_on_one_store() {
    let server = Served::fixture("hostile", &["--workers", "1"]);
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let address = server.address.clone();
            std::thread::spawn(move || request(&address, "POST", "/call/guarded", "[1.0]"))
        })
        .collect();
    for handle in handles {
        let reply = handle.join().expect("thread");
        assert_eq!((reply.status, &reply.body), (200, &json!("done")));
    }
    // By the order of events on the store, not the clock: all twenty
    // started before any finished.
    let events = server.call("recorded", &json!([])).body;
    let mut expected = vec![json!("start"); 20];
    expected.extend(vec![json!("done"); 20]);
    assert_eq!(events, json!(expected));
    // And they shared the one store: none was started on demand.
    assert_eq!(server.get("/healthz").body["stores"], 1);
}

#[test]
fn a_client_that_disconnects_cancels_the_python_call() {
    let server = Served::fixture("hostile", &["--workers", "1"]);
    let mut stream = TcpStream::connect(&server.address).expect("connects");
    let body = json!([30]).to_string();
    write!(
        stream,
        "POST /call/guarded HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("sends");
    let server = &server;
    let recorded = |want: Value| {
        move || {
            let events = server.call("recorded", &json!([])).body;
            match events == want {
                true => Ok(()),
                false => Err(events.to_string()),
            }
        }
    };
    eventually(
        Duration::from_secs(10),
        "never started",
        recorded(json!(["start"])),
    );
    drop(stream);
    eventually(
        Duration::from_secs(10),
        "not cancelled",
        recorded(json!(["start", "cancelled"])),
    );
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("function=\"guarded\"") && l.contains("status=499")),
        "{log}"
    );
}

#[test]
fn sigterm_finishes_the_calls_in_flight_then_exits_0() {
    let gate = Gate::new("drain");
    let mut server = Served::fixture("hostile", &["--workers", "1", "--dir", &gate.grant()]);
    let in_flight = gate.wait(&server.address);
    wait_for_pending(&server, 1);
    server.terminate();
    // During the drain new connections are refused, while the call waits
    // for the gate: it cannot finish before the test opens it.
    eventually(
        Duration::from_secs(10),
        "still accepting after SIGTERM",
        || match TcpStream::connect(&server.address) {
            Ok(_) => Err("a connection was accepted".to_owned()),
            Err(_) => Ok(()),
        },
    );
    assert!(
        server.child.try_wait().expect("try_wait").is_none(),
        "exited before the call finished"
    );
    gate.open();
    let reply = in_flight.join().expect("thread");
    assert_eq!((reply.status, &reply.body), (200, &json!("opened")));
    let status = server.wait(Duration::from_secs(20));
    assert!(status.success(), "{status:?}\n{}", server.log());
}

#[test]
fn a_second_signal_exits_at_once() {
    let gate = Gate::new("second-signal");
    let mut server = Served::fixture("hostile", &["--workers", "1", "--dir", &gate.grant()]);
    let in_flight = gate.wait(&server.address);
    wait_for_pending(&server, 1);
    server.terminate();
    eventually(Duration::from_secs(10), "no shutdown on the log", || {
        let log = server.log();
        match log.contains("shutting down") {
            true => Ok(()),
            false => Err(log),
        }
    });
    server.terminate();
    // The gate stays shut: the call in flight is abandoned.
    let status = server.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(130), "{}", server.log());
    // Its connection closed with no reply (the reading thread finds no
    // header block), rather than an answer after the exit.
    let abandoned = in_flight.join();
    assert!(
        abandoned.is_err(),
        "the call in flight was answered: {:?}",
        abandoned.map(|reply| reply.status)
    );
}

/// `POST /call/{function}` of a generator: the status, the headers, and the
/// NDJSON lines of the (chunked) body.
/// What every server of the `streams` fixture streams alike: the items of
/// a generator as NDJSON lines, and a failure after the first item as the
/// stream's last line.
pub fn assert_streams(address: &str) {
    let (status, head, lines) = stream_request(address, "count", "[3]");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: application/x-ndjson"),
        "{head}"
    );
    assert_eq!(
        lines,
        [json!({"item": 0}), json!({"item": 1}), json!({"item": 2})]
    );
    let (status, _, lines) = stream_request(address, "fails_after", "[1]");
    assert_eq!(status, 200, "the first item was sent before the failure");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], json!({"item": 0}));
    assert_eq!(lines[1]["status"], json!(422));
    assert_eq!(lines[1]["error"]["type"], json!("ValueError"));
}

pub fn stream_request(address: &str, function: &str, body: &str) -> (u16, String, Vec<Value>) {
    let (status, head, body) = exchange(
        address,
        "POST",
        &format!("/call/{function}"),
        "application/json",
        body,
    );
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
    assert_streams(&served.address);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_server_mounts_in_an_axum_app() {
    let app = app_with("hostile", serve_policy());
    let server =
        snakebox::serve::Server::new(&app, snakebox::serve::ServeOptions::new(1)).expect("server");
    let router = axum::Router::new()
        .route("/", axum::routing::get(|| async { "\"home\"" }))
        .nest("/python", server.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let served = tokio::spawn(async move { axum::serve(listener, router).await });
    let replies = tokio::task::spawn_blocking(move || {
        [
            request(&address, "GET", "/", ""),
            request(&address, "POST", "/python/call/add", "[2, 40]"),
            request(&address, "POST", "/python/call/fail", r#"["boom"]"#),
            request(&address, "GET", "/python/healthz", ""),
        ]
    })
    .await
    .expect("client");
    let [home, add, fail, health] = replies;
    assert_eq!((home.status, home.body), (200, json!("home")));
    assert_eq!((add.status, add.body), (200, json!(42)));
    assert_eq!(
        (fail.status, &fail.body["type"]),
        (422, &json!("ValueError"))
    );
    assert_eq!((health.status, &health.body["workers"]), (200, &json!(1)));
    served.abort();
}

/// A `503` busy reply, which a balancer may retry after a second.
fn assert_busy(reply: &Reply) {
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.body["error"], "busy");
    assert!(
        reply.headers.contains("retry-after: 1"),
        "{}",
        reply.headers
    );
}

/// Opens a connection and sends `partial`, the start of a request that
/// never ends.
fn half_sent(address: &str, partial: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream.write_all(partial.as_bytes()).expect("sends");
    stream
}

#[test]
fn a_client_too_slow_with_its_headers_is_cut_off() {
    let server = Served::fixture("basics", &["--workers", "1", "--header-timeout", "1s"]);
    let mut slow = half_sent(&server.address, "POST /call/add HTTP/1.1\r\nHo");
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let started = Instant::now();
    let mut rest = Vec::new();
    // Closed by the server (with or without a 408), not by our timeout.
    let _ = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(15), "{waited:?}");
    let text = String::from_utf8_lossy(&rest);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    // The server serves on.
    assert_eq!(server.call("add", &json!([2, 3])).body, json!(5));
}

#[test]
fn past_the_connection_cap_healthz_answers_and_calls_wait_their_turn() {
    let server = Served::fixture("basics", &["--workers", "1", "--max-connections", "2"]);
    // Two idle connections take both places.
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(&server.address).expect("connects"))
        .collect();
    let health = server.get("/healthz");
    assert_eq!((health.status, &health.body["status"]), (200, &json!("ok")));
    assert_busy(&server.call("add", &json!([2, 3])));
    // Their places free, calls are served again.
    drop(idle);
    let sum = eventually(
        Duration::from_secs(10),
        "calls were not served again",
        || {
            let reply = server.call("add", &json!([2, 3]));
            match reply.status {
                200 => Ok(reply.body),
                _ => Err(reply.body.to_string()),
            }
        },
    );
    assert_eq!(sum, json!(5));
}

#[test]
fn half_sent_requests_do_not_hold_up_shutdown() {
    let mut server = Served::fixture("basics", &["--workers", "1", "--header-timeout", "2s"]);
    let _stuck: Vec<TcpStream> = (0..20)
        .map(|_| half_sent(&server.address, "POST /call/add HTTP/1.1\r\nContent-Le"))
        .collect();
    // Let the server take them all.
    assert_eq!(server.get("/healthz").status, 200);
    let started = Instant::now();
    server.terminate();
    let status = server.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", server.log());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_body_that_does_not_arrive_is_answered_not_waited_for() {
    let server = Served::fixture("basics", &["--workers", "1", "--body-timeout", "1s"]);
    let address = &server.address;
    let head = |rest: &str| {
        format!(
            "POST /call/add HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n{rest}"
        )
    };
    // A body announced but never sent whole: 408 once the time is up.
    let started = Instant::now();
    let (status, _, body) = send_raw(address, &head("Content-Length: 100\r\n\r\n[2, "));
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("body_timeout"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(15));
    // A length no server reads: 413 at once, not a read of 10^18 bytes.
    let (status, _, body) = send_raw(
        address,
        &head("Content-Length: 1000000000000000000\r\n\r\n[2, 3]"),
    );
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("body_too_large"), "{body}");
    // A chunk of 2^44 bytes announced, a few sent: refused or timed out,
    // never held.
    let started = Instant::now();
    let (status, _, body) = send_raw(
        address,
        &head("Transfer-Encoding: chunked\r\n\r\n100000000000\r\n[2, 3"),
    );
    assert!([408, 413].contains(&status), "{status} {body}");
    assert!(started.elapsed() < Duration::from_secs(15));
    // No body is no arguments; white space is not JSON.
    assert_eq!(server.request("POST", "/call/nothing", "").status, 200);
    let reply = server.request("POST", "/call/nothing", "\r\n");
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["error"], "bad_arguments");
    assert_eq!(server.call("add", &json!([2, 3])).body, json!(5));
}

#[test]
fn pages_of_other_sites_and_unknown_hosts_get_403() {
    let server = Served::fixture(
        "basics",
        &[
            "--workers",
            "1",
            "--allowed-host",
            "api.example",
            "--allow-origin",
            "https://app.example",
        ],
    );
    let address = &server.address;
    let call = |headers: &str| {
        let body = "[2, 3]";
        send_raw(
            address,
            &format!(
                "POST /call/add HTTP/1.1\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    // A page's own name bound to 127.0.0.1 (DNS rebinding): refused.
    let (status, _, body) = call("Host: evil.example:8000\r\n");
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("\"forbidden\"") && body.contains("--allowed-host"),
        "{body}"
    );
    // The same for the other routes but /healthz, which probes reach by
    // any name.
    for path in ["/functions", "/openapi.json", "/mcp"] {
        let (status, _, body) = send_raw(
            address,
            &format!("GET {path} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(status, 403, "{path}: {body}");
    }
    let (status, _, _) = send_raw(
        address,
        "GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    // The names it is reached by: loopback, addresses, and the one given.
    for host in [address.as_str(), "localhost:1", "10.1.2.3", "api.example"] {
        let (status, _, body) = call(&format!("Host: {host}\r\n"));
        assert_eq!((status, body.as_str()), (200, "5"), "{host}");
    }
    // Another site's page: refused, though the Host is fine.
    let (status, _, body) = call(&format!(
        "Host: {address}\r\nOrigin: https://evil.example\r\n"
    ));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("--allow-origin"), "{body}");
    // The allowed origin: preflight, then the call, with CORS headers.
    let (status, head, _) = send_raw(
        address,
        &format!(
            "OPTIONS /call/add HTTP/1.1\r\nHost: {address}\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 204, "{head}");
    for expected in [
        "access-control-allow-origin: https://app.example",
        "access-control-allow-methods: get, post, delete, options",
        "access-control-allow-headers: content-type",
    ] {
        assert!(head.contains(expected), "{expected}: {head}");
    }
    let (status, head, body) = call(&format!(
        "Host: {address}\r\nOrigin: https://app.example\r\n"
    ));
    assert_eq!((status, body.as_str()), (200, "5"));
    assert!(
        head.contains("access-control-allow-origin: https://app.example"),
        "{head}"
    );
    // Without --allow-origin, no page may call.
    let plain = Served::fixture("basics", &["--workers", "1"]);
    let (status, _, body) = send_raw(
        &plain.address,
        &format!(
            "GET /functions HTTP/1.1\r\nHost: {}\r\nOrigin: http://localhost:3000\r\nConnection: close\r\n\r\n",
            plain.address
        ),
    );
    assert_eq!(status, 403, "{body}");
}

#[test]
fn silent_connections_up_to_the_descriptor_limit_leave_healthz_answering() {
    let _ = app_with("basics", serve_policy());
    let server = Served::launch(&component("basics"), &["--workers", "1"], Some(128));
    // 150 connections that send nothing: more than the process may open.
    let _silent: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(&server.address).expect("connects"))
        .collect();
    let started = Instant::now();
    let health = server.get("/healthz");
    assert_eq!(health.status, 200, "{:?}", health.body);
    // Silent connections past the cap are let go after a second, not the
    // ten a connection within it gets.
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(6), "{waited:?}");
    let log = server.log();
    assert!(
        log.contains("the descriptor limit (ulimit -n) leaves room for 64 connections"),
        "{log}"
    );
}

#[test]
fn a_token_guards_every_route_but_healthz() {
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-token");
    std::fs::write(&file, "s3cret-token\n").expect("the token file");
    let server = Served::fixture(
        "basics",
        &[
            "--workers",
            "1",
            "--auth-token-file",
            file.to_str().expect("utf-8"),
        ],
    );
    let address = &server.address;
    let asked = |method: &str, path: &str, authorization: &str| {
        let body = if method == "POST" { "[2, 3]" } else { "" };
        send_raw(
            address,
            &format!(
                "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    // Without the token, or with another: 401, saying how to authenticate.
    for authorization in [
        "",
        "Authorization: Bearer s3cret\r\n",
        "Authorization: s3cret-token\r\n",
    ] {
        let (status, head, body) = asked("POST", "/call/add", authorization);
        assert_eq!(status, 401, "{authorization:?}: {body}");
        assert!(
            head.contains("www-authenticate: bearer realm=\"snakebox\""),
            "{head}"
        );
        assert!(body.contains("\"unauthorized\""), "{body}");
    }
    for path in ["/functions", "/openapi.json", "/mcp"] {
        let (status, _, body) = asked("GET", path, "");
        assert_eq!(status, 401, "{path}: {body}");
    }
    // Probes need none.
    assert_eq!(asked("GET", "/healthz", "").0, 200);
    // With it, everything answers.
    let token = "Authorization: Bearer s3cret-token\r\n";
    let (status, _, body) = asked("POST", "/call/add", token);
    assert_eq!((status, body.as_str()), (200, "5"));
    assert_eq!(asked("GET", "/functions", token).0, 200);
    // The document declares the scheme, and where the server is.
    let (status, _, body) = asked("GET", "/openapi.json", token);
    assert_eq!(status, 200);
    let document: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(document["security"], json!([{"bearer": []}]));
    assert_eq!(document["paths"]["/healthz"]["get"]["security"], json!([]));
    assert_eq!(document["servers"][0]["url"], format!("http://{address}"));
}

#[test]
fn listening_beyond_loopback_needs_a_token_or_a_proxy_that_authenticates() {
    let _ = app_with("basics", serve_policy());
    let wasm = component("basics");
    let serve = |extra: &[&str], env: &[(&str, &str)]| {
        crate::util::snakebox_command()
            .arg("serve")
            .arg(&wasm)
            .args(["--listen", "0.0.0.0:0", "--workers", "1"])
            .args(extra)
            .env_remove("SNAKEBOX_AUTH_TOKEN")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("snakebox serve starts")
    };
    let refused = serve(&[], &[]).wait_with_output().expect("it exits");
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("refusing to listen on 0.0.0.0:") && said.contains("--auth-token-file"),
        "{said}"
    );
    for (extra, env) in [
        (&["--allow-unauthenticated"][..], &[][..]),
        (
            &[][..],
            &[("SNAKEBOX_AUTH_TOKEN", "from-the-environment")][..],
        ),
    ] {
        let mut child = serve(extra, env);
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the address");
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            line.starts_with("listening on http://0.0.0.0:"),
            "{extra:?}: {line:?}"
        );
    }
}
