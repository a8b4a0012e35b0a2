//! Hostile guests against a real `snakebox serve`: each attempt comes back
//! as a clear error, the server keeps serving, and healthy requests running
//! at the same time all succeed.
//!
//! The CPU hog here is a sync function, which the server runs alone on its
//! store. An async function that hogs the CPU shares its store with other
//! async calls, and they fail with it when the store is discarded; its own
//! 504 is checked in `serve`.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::serve::{Reply, Served, request};
use crate::util::cache_dir;

/// What a hostile call must come back as.
enum Expect {
    /// Python raised this exception type.
    Raised(&'static str),
    /// The server refused with this status and error kind.
    Refused(u16, &'static str),
}

struct Case {
    function: &'static str,
    args: Value,
    expect: Expect,
}

fn case(function: &'static str, args: Value, expect: Expect) -> Case {
    Case {
        function,
        args,
        expect,
    }
}

fn check(case: &Case, reply: &Reply) {
    let function = case.function;
    match case.expect {
        Expect::Raised(type_name) => {
            assert_eq!(reply.status, 422, "{function}: {:?}", reply.body);
            assert_eq!(
                reply.body["type"], type_name,
                "{function}: {:?}",
                reply.body
            );
            assert!(
                reply.body["message"].is_string() && reply.body["traceback"].is_string(),
                "{function}: {:?}",
                reply.body
            );
        }
        Expect::Refused(status, kind) => {
            assert_eq!(reply.status, status, "{function}: {:?}", reply.body);
            assert_eq!(reply.body["error"], kind, "{function}: {:?}", reply.body);
            assert!(reply.body["message"].is_string(), "{function}");
        }
    }
}

#[test]
fn hostile_guests_get_clear_errors_while_healthy_requests_succeed() {
    let root = cache_dir().join("hostile");
    let (rw, ro) = (root.join("rw"), root.join("ro"));
    std::fs::create_dir_all(&rw).expect("dir");
    std::fs::create_dir_all(&ro).expect("dir");
    std::fs::write(ro.join("kept.txt"), "original").expect("write");
    let outside = root.join("outside.txt");
    let _ = std::fs::remove_file(&outside);
    // A real listener on the host, so a denied connect is the sandbox's doing.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();

    let rw_grant = format!("{}:/data", rw.display());
    let ro_grant = format!("{}:/config:ro", ro.display());
    let server = Served::fixture(
        "hostile",
        &[
            "--workers",
            "2",
            // Generous, so that the memory bomb reaches the memory limit
            // before the time limit even on a loaded machine.
            "--timeout",
            "3s",
            "--memory",
            "256MiB",
            "--dir",
            &rw_grant,
            "--dir",
            &ro_grant,
            "--env",
            "GRANTED=yes",
        ],
    );

    let cases = [
        case(
            "read_file",
            json!(["/etc/passwd"]),
            Expect::Raised("FileNotFoundError"),
        ),
        case(
            "list_dir",
            json!(["/"]),
            Expect::Raised("FileNotFoundError"),
        ),
        case(
            "write_file",
            json!(["/data/../outside.txt", "escaped"]),
            Expect::Raised("PermissionError"),
        ),
        case(
            "write_file",
            json!([outside.display().to_string(), "escaped"]),
            Expect::Raised("FileNotFoundError"),
        ),
        case(
            "write_file",
            json!(["/config/kept.txt", "overwritten"]),
            Expect::Raised("PermissionError"),
        ),
        case(
            "get_env",
            json!(["SNAKEBOX_TEST_SECRET"]),
            Expect::Raised("KeyError"),
        ),
        case("get_env", json!(["HOME"]), Expect::Raised("KeyError")),
        case(
            "open_socket",
            json!(["127.0.0.1", port]),
            Expect::Raised("PermissionError"),
        ),
        case(
            "spawn",
            json!(["cat /etc/passwd"]),
            Expect::Raised("OSError"),
        ),
        case(
            "use_ctypes",
            json!([]),
            // `ctypes.cast` is a name the stand-in lacks.
            Expect::Raised("AttributeError"),
        ),
        case("spin", json!([]), Expect::Refused(504, "timeout")),
        // Python raises MemoryError at the limit; the caller hears of the limit.
        case(
            "memory_bomb",
            json!([]),
            Expect::Refused(500, "memory_limit"),
        ),
        case("recurse", json!([0]), Expect::Raised("RecursionError")),
        // With Python's limit lifted, the frames fill the store's memory.
        case(
            "recurse_unlimited",
            json!([0]),
            Expect::Refused(500, "memory_limit"),
        ),
        case(
            "big_result",
            json!([100]),
            Expect::Refused(500, "result_too_large"),
        ),
        // A trap (wasm `unreachable`) costs its store, not the server.
        case("abort", json!([]), Expect::Refused(500, "trap")),
    ];

    // Healthy traffic, sync and async, for as long as the attacks run.
    let stop = Arc::new(AtomicBool::new(false));
    let healthy: Vec<_> = (0..3)
        .map(|client| {
            let address = server.address.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut replies = Vec::new();
                let mut i = 0_i64;
                while !stop.load(Ordering::Relaxed) {
                    let (function, body) = if client == 0 {
                        ("slow_add", json!([i, client, 0.05]))
                    } else {
                        ("add", json!([i, client]))
                    };
                    let reply = request(
                        &address,
                        "POST",
                        &format!("/call/{function}"),
                        &body.to_string(),
                    );
                    replies.push((i + client, reply));
                    i += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
                replies
            })
        })
        .collect();

    for case in &cases {
        let reply = server.call(case.function, &case.args);
        check(case, &reply);
    }
    // Flooding stdout is bounded by the host, and the call itself succeeds.
    let reply = server.call("flood_stdout", &json!([20_000]));
    assert_eq!((reply.status, &reply.body), (200, &json!(20_000)));

    stop.store(true, Ordering::Relaxed);
    let mut served = 0;
    for handle in healthy {
        for (expected, reply) in handle.join().expect("healthy client") {
            assert_eq!(
                (reply.status, &reply.body),
                (200, &json!(expected)),
                "a healthy request failed"
            );
            served += 1;
        }
    }
    assert!(served > 10, "only {served} healthy requests ran");

    // Nothing escaped onto the host.
    assert!(!outside.exists(), "a write escaped the granted directory");
    assert!(!root.join("outside.txt").exists());
    assert_eq!(
        std::fs::read_to_string(ro.join("kept.txt")).expect("read"),
        "original"
    );
    // What was granted does work.
    let reply = server.call("write_file", &json!(["/data/ok.txt", "fine"]));
    assert_eq!((reply.status, &reply.body), (200, &json!(4)));
    assert_eq!(
        std::fs::read_to_string(rw.join("ok.txt")).expect("read"),
        "fine"
    );
    let reply = server.call("get_env", &json!(["GRANTED"]));
    assert_eq!((reply.status, &reply.body), (200, &json!("yes")));
    let reply = server.call("env_names", &json!([]));
    assert_eq!(reply.body, json!(["GRANTED"]));

    // The flood reached the log only up to its budget.
    let log = server.log();
    let flooded = log.lines().filter(|l| l.contains("flood line")).count();
    assert!(flooded < 2_000, "{flooded} flood lines were logged");
    assert!(
        log.contains("over its budget of 65536 bytes per second"),
        "{log}"
    );
    drop(listener);
}
