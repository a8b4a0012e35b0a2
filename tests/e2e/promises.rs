//! Promises of the README that no other test held: each here is one
//! sentence of it, run as a user would.

use serde_json::json;
use snakebox::Calls as _;

use crate::serve::Served;
use crate::util::{app, call, component, snakebox, snakebox_with_env, stderr, stdout};

/// `snakebox precompile APP`: "a component (or a `.py`, built first)".
#[test]
fn precompile_takes_a_python_module() {
    let output = snakebox(&["precompile", "examples/async_demo.py"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(
        log.contains("compiled") || log.contains("was compiled already"),
        "{log}"
    );
}

/// `snakebox build --http` from the command line; `inspect`, `call` and
/// `serve` refuse what it makes, saying to run it on a wasi:http engine.
#[test]
fn build_http_from_the_command_line_and_call_and_serve_refuse_it() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("aio-http.wasm");
    let path = out.display().to_string();
    let built = snakebox(&["build", "tests/fixtures/aio.py", "--http", "-o", &path]);
    assert!(built.status.success(), "{}", stderr(&built));
    assert!(
        stderr(&built).contains(&format!("wrote {path}")),
        "{}",
        stderr(&built)
    );
    for args in [
        vec!["inspect", path.as_str()],
        vec!["call", path.as_str(), "sleep_echo", "1", "0"],
        vec!["serve", path.as_str(), "--listen", "127.0.0.1:0"],
    ] {
        let refused = snakebox(&args);
        assert_eq!(
            refused.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&refused)
        );
        assert!(
            stderr(&refused).contains("run it with `wasmtime serve`"),
            "{args:?}: {}",
            stderr(&refused)
        );
    }
}

/// "`SNAKEBOX_LOG=debug` shows more."
#[test]
fn snakebox_log_debug_shows_more() {
    let basics = component("basics").display().to_string();
    let args = ["call", basics.as_str(), "add", "1", "2"];
    let quiet = snakebox(&args);
    let debug = snakebox_with_env(&args, &[("SNAKEBOX_LOG", "debug")]);
    for output in [&quiet, &debug] {
        assert_eq!(stdout(output), "3", "{}", stderr(output));
    }
    assert!(!stderr(&quiet).contains("DEBUG"), "{}", stderr(&quiet));
    assert!(stderr(&debug).contains("DEBUG"), "{}", stderr(&debug));
}

/// "`--strict` (on `wit`, `build`, `run` and `serve`; `Bindings::strict` in
/// a build script) refuses all of these instead."
#[test]
fn strict_refuses_unannotated_code_everywhere() {
    let module = "tests/fixtures/gradual.py";
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("gradual-strict.wasm");
    let out = out.display().to_string();
    for args in [
        vec!["wit", module, "--strict"],
        vec!["build", module, "--strict", "-o", &out],
        vec!["run", "--strict", module, "pair", "1", "2"],
        vec!["serve", module, "--strict", "--listen", "127.0.0.1:0"],
    ] {
        let output = snakebox(&args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
        let log = stderr(&output);
        assert!(
            log.contains("gradual.py:8:10: warning[SB100]: `echo` skipped")
                && log.contains("error[SB107]: the module has no public, fully annotated"),
            "{args:?}: {log}"
        );
    }
    // Without it, the same module builds, its unannotated values as Any.
    let lenient = snakebox(&["run", module, "pair", "1", "2"]);
    assert_eq!(stdout(&lenient), "[1,2]", "{}", stderr(&lenient));
    // `Bindings::strict` is the generator's unit test
    // `strict_bindings_refuse_unannotated_code`.
}

/// "`bytes`, `bytearray`: Python gets the type it annotated."
#[tokio::test]
async fn bytes_and_bytearray_arrive_as_annotated() {
    let types = call(
        &app("basics"),
        "buffer_types",
        &[json!([1, 2]), json!("ab")],
    )
    .await
    .expect("buffer_types");
    assert_eq!(types, json!(["bytes", "bytearray"]));
}

/// "The dynamic API (`call_json`, or `call` with `snakebox::Val`)."
#[tokio::test]
async fn call_takes_and_gives_wit_values() {
    use snakebox::Val;
    let basics = app("basics");
    let sum = basics
        .call("add", vec![Val::S64(2), Val::S64(40)])
        .await
        .expect("add");
    assert_eq!(sum, Some(Val::S64(42)));
    let error = basics
        .call("add", vec![Val::String("2".into()), Val::S64(40)])
        .await
        .expect_err("a string for an int");
    assert!(matches!(error, snakebox::Error::BadArguments(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("argument `a` of add(): expected s64, found a string"),
        "{error}"
    );
    let error = basics
        .call("add", vec![Val::S64(2)])
        .await
        .expect_err("one argument of two");
    assert!(
        error.to_string().contains("add() takes 2 arguments, got 1"),
        "{error}"
    );
    // The store was never reached, and serves on.
    let sum = basics.call("add", vec![Val::S64(1), Val::S64(2)]).await;
    assert_eq!(sum.expect("add"), Some(Val::S64(3)));
}

/// `serve`'s defaults: `--max-stores` what the memory holds at 512 MiB a
/// store, from 16 to 256 (or twice the workers if more), `--max-pending`
/// 128 per worker, as `/healthz` reports them.
#[test]
fn serve_s_defaults_with_two_workers() {
    let server = Served::fixture("basics", &["--workers", "2"]);
    let health = server.get("/healthz").body;
    assert_eq!(health["workers"], 2, "{health}");
    let stores = crate::util::default_max_stores(2, 512 << 20);
    assert_eq!(health["max_stores"], stores, "{health}");
    assert_eq!(health["max_pending"], 256, "{health}");
    assert_eq!(health["limits"]["timeout_ms"], 30_000, "{health}");
    assert_eq!(health["limits"]["memory_bytes"], 512 << 20, "{health}");
    assert_eq!(health["limits"]["max_result_bytes"], 16 << 20, "{health}");
    // A smaller --memory holds more stores, up to 256.
    let small = Served::fixture("basics", &["--workers", "2", "--memory", "64MiB"]);
    let health = small.get("/healthz").body;
    let stores_small = crate::util::default_max_stores(2, 64 << 20);
    assert_eq!(health["max_stores"], stores_small, "{health}");
    assert!(stores_small >= stores, "{stores_small} < {stores}");
    let many = Served::fixture("basics", &["--workers", "9"]);
    let health = many.get("/healthz").body;
    assert_eq!(
        (&health["max_stores"], &health["max_pending"]),
        (
            &json!(crate::util::default_max_stores(9, 512 << 20)),
            &json!(9 * 128)
        ),
        "{health}"
    );
}

/// "Each request logs one line (target `snakebox::access`)": a filter on
/// the target keeps those lines and drops the rest.
#[test]
fn the_access_log_has_its_own_target() {
    let wasm = component("basics");
    let mut server = Served::start_with_env(
        &wasm,
        &["--workers", "1"],
        &[("SNAKEBOX_LOG", "snakebox::access=info")],
    );
    assert_eq!(server.call("add", &json!([1, 2])).body, json!(3));
    server.terminate();
    server.wait(std::time::Duration::from_secs(20));
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("function=\"add\"") && l.contains("status=200")),
        "{log}"
    );
    assert!(!log.contains("serving"), "only the access log: {log}");
}

/// `Server::serve` from a program: it serves until its shutdown future
/// completes, then returns.
#[tokio::test]
async fn server_serve_runs_until_its_shutdown() {
    let app = crate::util::app_with(
        "basics",
        snakebox::Policy {
            timeout: Some(std::time::Duration::from_secs(30)),
            ..snakebox::Policy::default()
        },
    );
    let server =
        snakebox::serve::Server::new(&app, snakebox::serve::ServeOptions::new(1)).expect("server");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    let reply = tokio::task::spawn_blocking(move || {
        crate::serve::request(&address, "POST", "/call/add", "[2, 40]")
    })
    .await
    .expect("client");
    assert_eq!((reply.status, reply.body), (200, json!(42)));
    stop.send(()).expect("still serving");
    let result = tokio::time::timeout(std::time::Duration::from_secs(20), served)
        .await
        .expect("returns after shutdown")
        .expect("task");
    assert!(result.is_ok(), "{result:?}");
}
