//! Host functions: the Python of `tests/fixtures/host/host_calls.py` calls
//! the functions declared in `directory.pyi`, bound here in Rust (and, for
//! the command line, to a loopback HTTP service).

use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use snakebox::Calls as _;
use snakebox::{App, Error, HostError, HostFunctions, Policy};
use tokio::sync::oneshot;

use crate::util::{component, runtime, snakebox, stderr, stdout};

/// What the host functions saw.
#[derive(Default)]
struct Seen {
    audits: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    /// When set, each `pause` waits until this many are in flight at once
    /// (a barrier), so that "all at once" does not depend on timing.
    gate: AtomicUsize,
    all_in: tokio::sync::Notify,
    /// Senders dropped with the futures of `never`, when the host drops them.
    dropped: Mutex<Vec<oneshot::Receiver<()>>>,
}

impl Seen {
    fn audits(&self) -> Vec<String> {
        self.audits.lock().expect("audits").clone()
    }
}

fn person(id: i64) -> Value {
    json!({"id": id, "name": format!("person {id}"), "role": "guest", "manager": null})
}

/// Every function of the stub, bound.
fn host(seen: &Arc<Seen>) -> HostFunctions {
    let mut host = HostFunctions::new();
    host.add_async("directory.find_person", |_caller, args| async move {
        match args[0].as_i64() {
            Some(404) => Err(HostError::kind("NotFound", "no person 404")),
            Some(403) => Err(HostError::kind("PermissionError", "not yours")),
            Some(500) => Err(HostError::new("the directory is down")),
            Some(418) => Err(HostError::kind("Teapot", "short and stout")),
            // Not a `Person`: the stub says `name` is a string.
            Some(13) => Ok(json!({"id": 13, "name": 13, "role": "guest", "manager": null})),
            Some(id) => Ok(person(id)),
            None => Err(HostError::new(format!("not an id: {}", args[0]))),
        }
    });
    host.add_async("directory.save_person", |_caller, args| async move {
        // The record arrives by field name, the enum by its case name.
        let saved = args[0].clone();
        let mut boss = person(1);
        boss["role"] = json!("admin");
        Ok(json!([saved, boss]))
    });
    let audits = Arc::clone(seen);
    host.add_sync("directory.audit", move |caller, args| {
        let event = args[0].as_str().unwrap_or_default().to_owned();
        let line = format!("{}: {event}", caller.function());
        audits.audits.lock().expect("audits").push(line);
        Ok(Value::Null)
    });
    let counts = Arc::clone(seen);
    host.add_async("directory.pause", move |_caller, args| {
        let counts = Arc::clone(&counts);
        async move {
            // Registered before counting, so the last one in wakes it.
            let all_in = counts.all_in.notified();
            let now = counts.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            counts.peak.fetch_max(now, Ordering::SeqCst);
            let gate = counts.gate.load(Ordering::SeqCst);
            if gate > 0 {
                match now >= gate {
                    true => counts.all_in.notify_waiters(),
                    // Bounded, so that a regression fails instead of hanging.
                    false => {
                        let _ = tokio::time::timeout(Duration::from_secs(60), all_in).await;
                    }
                }
            }
            let ms = args[0].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            counts.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(json!(ms))
        }
    });
    host.add_sync("directory.tenant", |caller, _args| {
        Ok(json!(caller.state::<Tenant>().map_or("nobody", |t| t.0)))
    });
    let dropped = Arc::clone(seen);
    let never = move |_caller, _args| {
        // The sender lives in the future: it is dropped with it.
        let (alive, watch) = oneshot::channel::<()>();
        dropped.dropped.lock().expect("dropped").push(watch);
        async move {
            let _alive = alive;
            std::future::pending::<()>().await;
            Ok(Value::Null)
        }
    };
    host.add_async("directory.never", never.clone());
    host.add_async("directory.never_sync", never);
    host.add_sync("directory.explode", |_caller, _args| {
        panic!("the host function blew up")
    });
    host
}

struct Tenant(&'static str);

/// The string a Python function returned.
async fn returned(call: impl std::future::Future<Output = snakebox::Result<Value>>) -> String {
    match call.await {
        Ok(Value::String(text)) => text,
        other => panic!("expected a string, got {other:?}"),
    }
}

fn load(seen: &Arc<Seen>, timeout: Option<Duration>) -> App {
    let policy = Policy {
        host: host(seen),
        timeout,
        ..Policy::default()
    };
    runtime()
        .load_with(component("host"), policy)
        .expect("the host fixture loads")
}

/// "`import directory` is a real module: the stub's own classes and
/// constants, and functions that call the host."
#[tokio::test]
async fn the_host_module_has_the_stub_s_constants() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, None);
    let size = app.call_json("page_size", &[], &[]).await;
    assert_eq!(size.expect("page_size"), 50);
}

#[tokio::test]
async fn async_and_sync_host_functions_answer_with_named_types() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, None);
    let greeting = app.call_json("greet", &[json!(7)], &[]).await;
    assert_eq!(greeting.expect("greet"), "Hello, person 7");
    let audited = app.call_json("greet_sync", &[json!(8)], &[]).await;
    assert_eq!(audited.expect("greet_sync"), "audited 8");
    assert_eq!(seen.audits(), ["greet: greeted 7", "greet_sync: sync 8"]);
    // A dataclass with an enum and an Optional, there and back.
    let team = app.call_json("promote", &[json!(5)], &[]).await;
    assert_eq!(
        team.expect("promote"),
        json!(["person 5:admin:None", "person 1:admin:None"])
    );
}

#[tokio::test]
async fn host_errors_raise_the_class_the_host_named() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, None);
    for (id, expected) in [
        (404, "NotFound(no person 404) host=True"),
        (403, "PermissionError(not yours) host=True"),
        (500, "HostError(the directory is down) kind=''"),
        (418, "Teapot(short and stout) kind='Teapot'"),
    ] {
        let outcome = app.call_json("lookup", &[json!(id)], &[]).await;
        assert_eq!(outcome.expect("lookup"), expected, "id {id}");
    }
    // Uncaught, it is the call's Python error, with the host's message.
    let error = app
        .call_json("greet", &[json!(404)], &[])
        .await
        .expect_err("greet fails");
    let python = error.python().expect("a Python error");
    assert_eq!(
        (python.type_name.as_str(), python.message.as_str()),
        ("directory.NotFound", "no person 404")
    );
    assert!(python.traceback.contains("host_calls.py"), "{python:?}");
    assert!(!python.traceback.contains("snakebox_guest"), "{python:?}");
}

#[tokio::test]
async fn wrong_types_are_refused_on_the_side_that_made_them() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, None);
    // The guest's mistake: TypeError in Python, before the host is called.
    let message = returned(app.call_json("wrong_type", &[json!("seven")], &[])).await;
    assert!(
        message.starts_with("TypeError: directory.find_person() argument 'id'"),
        "{message}"
    );
    let message = returned(app.call_json("wrong_arity", &[], &[])).await;
    assert!(
        message.contains("too many positional arguments"),
        "{message}"
    );
    assert!(
        seen.audits().is_empty(),
        "the host was called: {:?}",
        seen.audits()
    );
    // The host's mistake: a HostError in Python, naming what did not match.
    let message = returned(app.call_json("lookup", &[json!(13)], &[])).await;
    assert!(
        message.contains("does not match its stub") && message.contains("expected string, got 13"),
        "{message}"
    );
}

#[tokio::test]
async fn a_panicking_host_function_fails_only_its_call() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, None);
    let session = app.session().expect("a session");
    let message = returned(session.call_json("panics", &[], &[])).await;
    assert!(
        message.contains("panicked: the host function blew up"),
        "{message}"
    );
    let greeting = session.call_json("greet", &[json!(2)], &[]).await;
    assert_eq!(greeting.expect("the store still serves"), "Hello, person 2");
}

#[tokio::test]
async fn each_session_hands_its_own_state_to_the_host() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, None);
    let acme = app.session().expect("a session").with_state(Tenant("acme"));
    let globex = app
        .session()
        .expect("a session")
        .with_state(Tenant("globex"));
    let (a, g, none) = tokio::join!(
        acme.call_json("whose", &[], &[]),
        globex.call_json("whose", &[], &[]),
        app.call_json("whose", &[], &[]),
    );
    assert_eq!(a.expect("acme"), "acme");
    assert_eq!(g.expect("globex"), "globex");
    assert_eq!(none.expect("no session state"), "nobody");

    // Every handle calls through `Calls`, so a pool and an app carry state
    // too, and the sessions and pools they hand out inherit it.
    let pool = app.pool(2).expect("a pool").with_state(Tenant("initech"));
    let tenant_app = app.clone().with_state(Tenant("hooli"));
    let inherited = tenant_app.session().expect("a session");
    let function = app.function("whose").expect("whose");
    let (p, t, i) = tokio::join!(
        pool.call_function(Arc::clone(&function), Vec::new()),
        tenant_app.call_json("whose", &[], &[]),
        inherited.call_json("whose", &[], &[]),
    );
    let p = p.expect("pool").expect("a value");
    assert_eq!(snakebox::result_json(&function, Some(&p)), "initech");
    assert_eq!(t.expect("app"), "hooli");
    assert_eq!(i.expect("inherited"), "hooli");
    assert_eq!(
        app.call_json("whose", &[], &[])
            .await
            .expect("the first app"),
        "nobody",
        "with_state gave a new handle; the app it came from is unchanged"
    );
}

#[tokio::test]
async fn a_thousand_host_awaits_interleave_on_one_store() {
    let seen = Arc::new(Seen::default());
    seen.gate.store(1000, Ordering::SeqCst);
    let app = load(&seen, None);
    let session = app.session().expect("a session");
    let total = session
        .call_json("fan_out", &[json!(1000), json!(10)], &[])
        .await;
    assert_eq!(total.expect("fan_out"), 10_000);
    // All of them were waiting on the host at once: none returned before
    // the thousandth started (each waits for it), however slow the machine.
    assert_eq!(seen.peak.load(Ordering::SeqCst), 1000);
}

/// A call whose only timer is an hour away still wakes for its host
/// function's answer: the host wait does not stand for the timer alone.
#[tokio::test]
async fn a_host_answer_wakes_a_call_whose_only_timer_is_far_away() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, None);
    let started = Instant::now();
    let value = tokio::time::timeout(
        Duration::from_secs(60),
        app.call_json("pause_beside_far_timer", &[json!(20)], &[]),
    )
    .await
    .expect("woken by the host's answer, not the hour-long timer");
    assert_eq!(value.expect("pause_beside_far_timer"), json!(20));
    assert!(started.elapsed() >= Duration::from_millis(20));
}

fn all_dropped(seen: &Seen, count: usize) -> bool {
    let mut dropped = seen.dropped.lock().expect("dropped");
    dropped.len() >= count
        && dropped
            .iter_mut()
            .all(|watch| matches!(watch.try_recv(), Err(oneshot::error::TryRecvError::Closed)))
}

/// Waits until `count` futures of `never` exist and then until each is
/// dropped; fails with `what` after 5 s.
async fn never_futures_dropped(seen: &Seen, count: usize, what: &str) {
    crate::util::eventually_async(Duration::from_secs(5), what, || async {
        match all_dropped(seen, count) {
            true => Ok(()),
            false => Err(format!(
                "{} of {count} made, not all dropped",
                seen.dropped.lock().expect("dropped").len()
            )),
        }
    })
    .await;
}

/// "A Python-side timeout (`asyncio.wait_for` around a host call) only
/// abandons the result: the host function runs to its end, or until the
/// export call returns."
#[tokio::test]
async fn wait_for_abandons_a_host_call_which_runs_on_until_the_export_returns() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, None);
    let session = app.session().expect("a session");
    let call =
        tokio::spawn(async move { session.call_json("impatient", &[json!(1.0)], &[]).await });
    crate::util::eventually_async(Duration::from_secs(10), "no timeout in Python", || {
        let audits = seen.audits();
        async move {
            match audits.iter().any(|a| a.ends_with("timed out")) {
                true => Ok(()),
                false => Err(format!("{audits:?}")),
            }
        }
    })
    .await;
    // Python gave up on it, and the host function runs on.
    assert!(
        !all_dropped(&seen, 1),
        "dropped while the export still runs"
    );
    let outcome = call.await.expect("the call's task");
    assert_eq!(outcome.expect("impatient"), "gave up");
    // The export returned: now it is dropped.
    never_futures_dropped(&seen, 1, "a host future lives on").await;
}

#[tokio::test]
async fn dropping_a_call_drops_the_host_future_and_python_sees_cancelled() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, None);
    let session = app.session().expect("a session");
    let mut call = Box::pin(session.call_json("wait_forever", &[], &[]));
    // Poll until the host function is running, then drop the call.
    loop {
        tokio::select! {
            outcome = &mut call => panic!("wait_forever returned: {outcome:?}"),
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
        if !seen.dropped.lock().expect("dropped").is_empty() {
            break;
        }
    }
    drop(call);
    never_futures_dropped(&seen, 1, "the host future lives on").await;
    // The coroutine saw CancelledError, and could still call the host.
    crate::util::eventually_async(Duration::from_secs(2), "Python called no host", || async {
        match seen.audits().is_empty() {
            true => Err("no audit".to_owned()),
            false => Ok(()),
        }
    })
    .await;
    assert_eq!(
        seen.audits(),
        ["wait_forever: wait_forever saw CancelledError"]
    );
    let greeting = session.call_json("greet", &[json!(3)], &[]).await;
    assert_eq!(greeting.expect("the store still serves"), "Hello, person 3");
}

#[tokio::test]
async fn a_host_function_that_never_returns_is_cut_off_by_the_time_limit() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, Some(Duration::from_millis(300)));
    let session = app.session().expect("a session");
    for function in ["wait_forever", "block_forever"] {
        let started = Instant::now();
        let outcome = session.call_json(function, &[], &[]).await;
        assert!(
            matches!(outcome, Err(Error::Timeout(_))),
            "{function}: {outcome:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{function}");
    }
    never_futures_dropped(&seen, 2, "a host future lives on").await;
    // Time in the host counted, the store survived, and serves on.
    let greeting = session.call_json("greet", &[json!(4)], &[]).await;
    assert_eq!(greeting.expect("the store still serves"), "Hello, person 4");
}

/// A sync call that runs on its caller's thread (the thread's idle store)
/// and blocks in a host function: the time limit still cuts it off, and
/// the thread's store serves on.
#[tokio::test]
async fn a_host_function_blocking_a_call_on_its_callers_thread_is_cut_off_too() {
    let seen = Arc::new(Seen::default());
    let app = load(&seen, Some(Duration::from_millis(300)));
    // The thread's first call instantiates its store; the next runs here.
    assert_eq!(returned(app.call_json("whose", &[], &[])).await, "nobody");
    let started = Instant::now();
    let outcome = app.call_json("block_forever", &[], &[]).await;
    assert!(matches!(outcome, Err(Error::Timeout(_))), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    never_futures_dropped(&seen, 1, "a host future lives on").await;
    let greeting = app.call_json("greet_sync", &[json!(5)], &[]).await;
    assert_eq!(greeting.expect("the store still serves"), "audited 5");
}

/// A host function that calls back into the app, from a sync call running
/// on its caller's thread: the call back gets a store of its own, not the
/// thread's store, which is busy with the call that waits for it.
#[tokio::test]
async fn a_host_function_can_call_back_into_the_app() {
    let seen = Arc::new(Seen::default());
    let mut host = host(&seen);
    let app_slot: Arc<std::sync::OnceLock<App>> = Arc::default();
    let inner = Arc::clone(&app_slot);
    host.add_async("directory.tenant", move |_caller, _args| {
        let app = inner.get().expect("the app is loaded").clone();
        async move {
            let value = app.call_json("greet_sync", &[json!(9)], &[]).await;
            value.map_err(|error| HostError::new(error.to_string()))
        }
    });
    let policy = Policy {
        host,
        timeout: Some(Duration::from_secs(20)),
        ..Policy::default()
    };
    let app = runtime()
        .load_with(component("host"), policy)
        .expect("the host fixture loads");
    app_slot.set(app.clone()).ok().expect("set once");
    for round in 0..3 {
        let whose = app.call_json("whose", &[], &[]).await;
        assert_eq!(whose.expect("whose"), "audited 9", "round {round}");
    }
    assert_eq!(
        seen.audits(),
        [
            "greet_sync: sync 9",
            "greet_sync: sync 9",
            "greet_sync: sync 9"
        ]
    );
}

#[test]
fn a_missing_binding_is_refused_at_load_by_name() {
    let seen = Arc::new(Seen::default());
    let mut partial = HostFunctions::new();
    partial.add_sync("directory.audit", |_caller, _args| Ok(Value::Null));
    let policy = Policy {
        host: partial,
        ..Policy::default()
    };
    let error = runtime()
        .load_with(component("host"), policy)
        .err()
        .expect("the load is refused");
    let message = error.to_string();
    // Every unbound function of the stub, by name, in the stub's order;
    // the bound one is not among them.
    let Error::MissingHostFunctions(names) = &error else {
        panic!("expected MissingHostFunctions, got {message}");
    };
    assert_eq!(
        names,
        &[
            "directory.find_person",
            "directory.save_person",
            "directory.pause",
            "directory.tenant",
            "directory.never",
            "directory.never_sync",
            "directory.explode",
        ],
        "{message}"
    );
    assert!(message.contains(&names.join(", ")), "{message}");
    drop(seen);
}

/// A loopback HTTP service for `--bind`, and what it was asked.
struct Directory {
    /// `http://127.0.0.1:PORT`.
    base: String,
    /// The arguments `/audit` was given (and what `/never` saw).
    audits: Arc<Mutex<Vec<Value>>>,
    /// The path of every request, in order.
    paths: Arc<Mutex<Vec<String>>>,
}

/// The service: `/person` answers a person or 404, `/audit` records its
/// arguments, `/never` never answers.
async fn directory_service() -> Directory {
    use axum::Json;
    use axum::http::StatusCode;
    use axum::routing::post;

    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&paths);
    let audits = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&audits);
    let router = axum::Router::new()
        .route(
            "/person",
            post(|Json(args): Json<Vec<Value>>| async move {
                match args[0].as_i64() {
                    Some(404) => Err((StatusCode::NOT_FOUND, "no such person")),
                    // An answer past the 16 MiB the host reads.
                    Some(413) => Ok(Json(json!("x".repeat(17 << 20)))),
                    Some(id) => Ok(Json(person(id))),
                    None => Err((StatusCode::BAD_REQUEST, "not an id")),
                }
            }),
        )
        .route(
            "/audit",
            post(move |Json(args): Json<Vec<Value>>| async move {
                recorded.lock().expect("audits").push(Value::Array(args));
                Json(Value::Null)
            }),
        )
        .route("/never", post(never_answers(Arc::clone(&audits))))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let seen = Arc::clone(&seen);
                async move {
                    let path = request.uri().path().to_owned();
                    seen.lock().expect("paths").push(path);
                    next.run(request).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    Directory {
        base: format!("http://{address}"),
        audits,
        paths,
    }
}

/// A handler that never answers, and records in `log` that it started
/// and, when the host gives up on it (the connection closes), that it was
/// dropped.
fn never_answers(
    log: Arc<Mutex<Vec<Value>>>,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = &'static str> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    struct Dropped(Arc<Mutex<Vec<Value>>>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.lock().expect("log").push(json!("never: dropped"));
        }
    }
    move || {
        let log = Arc::clone(&log);
        Box::pin(async move {
            log.lock().expect("log").push(json!("never: started"));
            let _dropped = Dropped(log);
            std::future::pending::<&'static str>().await
        })
    }
}

/// `--bind` values for every function: the two the tests call to the
/// service at `base`, the others to a port nobody listens on (never called).
fn binds(base: &str) -> Vec<String> {
    let mut binds = vec![
        format!("directory.find_person={base}/person"),
        format!("directory.audit={base}/audit"),
    ];
    for name in [
        "save_person",
        "pause",
        "tenant",
        "never",
        "never_sync",
        "explode",
    ] {
        binds.push(format!("directory.{name}=http://127.0.0.1:9/{name}"));
    }
    binds
}

#[tokio::test(flavor = "multi_thread")]
async fn mcp_tools_call_host_functions_bound_with_bind() {
    let Directory { base, audits, .. } = directory_service().await;
    let steps = tokio::task::spawn_blocking(move || {
        let mut flags = vec!["--workers".to_owned(), "1".to_owned()];
        for bind in binds(&base) {
            flags.extend(["--bind".to_owned(), bind]);
        }
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let plan = json!([
            {"call": "greet", "arguments": {"id": 7}},
            {"call": "greet", "arguments": {"id": 404}},
        ]);
        crate::mcp::drive("host", &flags, &plan)
    })
    .await
    .expect("the client runs");
    assert_eq!(steps[0]["structured"], json!({"result": "Hello, person 7"}));
    assert_eq!(*audits.lock().expect("audits"), [json!(["greeted 7"])]);
    assert_eq!(steps[1]["is_error"], true);
    assert!(
        steps[1]["text"]
            .as_str()
            .is_some_and(|t| t.contains("HostError: no such person")),
        "{}",
        steps[1]
    );
}

/// `HostFunctions::add_http`: the library's `--bind`.
#[tokio::test(flavor = "multi_thread")]
async fn add_http_binds_a_function_to_an_endpoint() {
    let Directory { base, audits, .. } = directory_service().await;
    let mut host = HostFunctions::new();
    host.allow_unbound();
    host.add_http("directory.find_person", &format!("{base}/person"))
        .expect("a URL");
    host.add_http("directory.audit", &format!("{base}/audit"))
        .expect("a URL");
    let mut other = HostFunctions::new();
    let Err(refused) = other.add_http("directory.audit", "ftp://example/x") else {
        panic!("an ftp URL was taken");
    };
    assert!(matches!(refused, Error::BadArguments(_)), "{refused}");
    let app = runtime()
        .load_with(
            component("host"),
            Policy {
                host,
                ..Policy::default()
            },
        )
        .expect("loads");
    let session = app.session().expect("a store");
    let greeting = session.call_json("greet", &[json!(9)], &[]).await;
    assert_eq!(greeting.expect("greet"), "Hello, person 9");
    assert_eq!(*audits.lock().expect("audits"), [json!(["greeted 9"])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_binds_host_functions_to_http_endpoints() {
    let Directory {
        base,
        audits,
        paths,
    } = directory_service().await;
    let wasm = component("host").display().to_string();
    let call = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            snakebox(&args)
        })
    };
    let mut args = vec!["call".to_owned(), wasm.clone(), "greet".into(), "7".into()];
    for bind in binds(&base) {
        args.extend(["--bind".to_owned(), bind]);
    }
    let output = call(args.clone()).await.expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "\"Hello, person 7\"");
    assert_eq!(*audits.lock().expect("audits"), [json!(["greeted 7"])]);
    // "Only the URLs given are contacted": of the eight bound, the two the
    // call used, once each (the rest lead to a port nobody listens on).
    assert_eq!(*paths.lock().expect("paths"), ["/person", "/audit"]);
    // A status other than 200 is a HostError carrying the body's text.
    args[3] = "404".into();
    let output = call(args.clone()).await.expect("runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("snakebox.HostError: no such person"),
        "{}",
        stderr(&output)
    );
    // An answer too large to hold is a HostError too.
    args[3] = "413".into();
    let output = call(args.clone()).await.expect("runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("answered with more than 16 MiB"),
        "{}",
        stderr(&output)
    );
    // `run` binds the same way, building the module with its stub.
    let mut run = vec![
        "run".to_owned(),
        "tests/fixtures/host/host_calls.py".into(),
        "--imports".into(),
        "tests/fixtures/host/directory.pyi".into(),
        "greet".into(),
        "8".into(),
    ];
    for bind in binds(&base) {
        run.extend(["--bind".to_owned(), bind]);
    }
    let output = call(run).await.expect("runs");
    assert_eq!(
        stdout(&output),
        "\"Hello, person 8\"",
        "{}",
        stderr(&output)
    );
    assert_eq!(
        *audits.lock().expect("audits"),
        [json!(["greeted 7"]), json!(["greeted 8"])]
    );
    // A missing binding names the function.
    let output = call(vec!["call".into(), wasm, "greet".into(), "7".into()])
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not bound: directory.find_person"),
        "{}",
        stderr(&output)
    );
}

/// The Rust block of the README that follows `marker`, line by line, less
/// blank lines and comments.
fn readme_rust_after(readme: &str, marker: &str) -> Vec<String> {
    let after = &readme[readme.find(marker).expect("the marker is in the README")..];
    let block = after
        .split_once("```rust")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("a Rust block after the marker")
        .0;
    block
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_readme_example_runs_as_written() -> Result<(), Box<dyn std::error::Error>> {
    let readme = std::fs::read_to_string(crate::util::root().join("README.md"))?;
    let example = crate::util::root().join("examples/host-functions");
    for file in ["directory.pyi", "greeter.py"] {
        let source = std::fs::read_to_string(example.join(file))?;
        assert!(
            readme.contains(&source),
            "the README does not show {file} as it is"
        );
    }
    // `snakebox wit greeter.py --imports directory.pyi`
    let output = snakebox(&[
        "wit",
        "examples/host-functions/greeter.py",
        "--imports",
        "examples/host-functions/directory.pyi",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let wit = stdout(&output);
    for line in [
        "interface directory {",
        "find-person: async func(id: s64) -> result<person, host-error>;",
        "audit: func(event: string) -> result<_, host-error>;",
        "import directory;",
    ] {
        assert!(wit.contains(line), "no `{line}` in\n{wit}");
    }
    // `snakebox build greeter.py --imports directory.pyi -o greeter.wasm`
    let options = snakebox::builder::BuildOptions {
        imports: vec![example.join("directory.pyi")],
        ..Default::default()
    };
    let built = snakebox::builder::build_with(
        &example.join("greeter.py"),
        &crate::util::cache_dir(),
        &options,
    )?;
    let greeter_wasm = built.wasm;
    let runtime = runtime();
    // From here on, the README's Rust, line for line (checked below).
    let mut host = HostFunctions::new();
    host.add_async("directory.find_person", |_caller, args| async move {
        match args[0].as_i64() {
            Some(7) => Ok(json!({"id": 7, "name": "Ada"})),
            _ => Err(HostError::kind(
                "LookupError",
                format!("no person {}", args[0]),
            )),
        }
    });
    host.add_sync("directory.audit", |caller, args| {
        tracing::info!("{} audited {}", caller.function(), args[0]);
        Ok(json!(null))
    });
    let app = runtime.load_with(
        &greeter_wasm,
        Policy {
            host,
            ..Policy::default()
        },
    )?;
    assert_eq!(
        app.call_json("greet", &[7.into()], &[]).await?,
        "Hello, Ada"
    );
    // The README's end.
    let error = app
        .call_json("greet", &[8.into()], &[])
        .await
        .expect_err("no person 8");
    assert_eq!(
        error.python().map(|e| e.type_name.as_str()),
        Some("directory.LookupError")
    );
    // The lines above are the README's: each of its lines (its imports and
    // the component's path aside) is in this test's body. So the README's
    // Rust compiles and runs as written.
    // White space and trailing commas aside, as rustfmt lays lines out.
    let squeezed = |text: &str| {
        let text: String = text.split_whitespace().collect();
        [",)", ",}", ",]"]
            .iter()
            .fold(text, |text, comma| text.replace(comma, &comma[1..]))
    };
    let this = include_str!("host_functions.rs");
    let body = this
        .split_once("// From here on, the README's Rust")
        .and_then(|(_, rest)| rest.split_once("// The README's end."))
        .expect("the marked lines")
        .0;
    let readme_lines = readme_rust_after(&readme, "In Rust, bind each function by its Python name");
    assert!(readme_lines.len() > 10, "{readme_lines:?}");
    for line in readme_lines.iter().filter(|line| !line.starts_with("use ")) {
        let line = line.replace("\"greeter.wasm\"", "&greeter_wasm");
        assert!(
            squeezed(body).contains(squeezed(&line).trim_end_matches(',')),
            "the test does not run the README's line: {line}"
        );
    }
    Ok(())
}

#[test]
fn stubs_get_the_same_diagnostics_at_their_own_positions() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("host-stubs");
    std::fs::create_dir_all(&dir).expect("a folder");
    std::fs::write(
        dir.join("clock.pyi"),
        "def now() -> float: ...\n\ndef ticks() -> Iterator[int]: ...\n\ndef odd(x: complex) -> int: ...\n",
    )
    .expect("writes");
    std::fs::write(dir.join("other.pyi"), "def ping() -> str: ...\n").expect("writes");
    let module = crate::util::root().join("examples/host-functions/greeter.py");
    let (module, clock, other) = (
        module.display().to_string(),
        dir.join("clock.pyi").display().to_string(),
        dir.join("other.pyi").display().to_string(),
    );
    let output = snakebox(&[
        "wit",
        &module,
        "--imports",
        &clock,
        "--imports",
        &other,
        "--imports",
        "examples/host-functions/directory.pyi",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (wit, diagnostics) = (stdout(&output), stderr(&output));
    assert!(
        diagnostics.contains(&format!("{clock}:3:1: error[SB108]")),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains(&format!("{clock}:5:")),
        "{diagnostics}"
    );
    for line in [
        "import clock;",
        "import other;",
        "import directory;",
        "now: func() -> result<f64, host-error>;",
    ] {
        assert!(wit.contains(line), "no `{line}` in\n{wit}");
    }
    assert!(!wit.contains("ticks"), "{wit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_binds_host_functions_too() {
    let Directory { base, audits, .. } = directory_service().await;
    let wasm = component("host");
    let binds = binds(&base);
    let reply = tokio::task::spawn_blocking(move || {
        let mut args = vec!["--workers", "1"];
        for bind in &binds {
            args.extend(["--bind", bind.as_str()]);
        }
        let server = crate::serve::Served::start(&wasm, &args);
        let ok = server.request("POST", "/call/greet", "[7]");
        let missing = server.request("POST", "/call/greet", "[404]");
        (ok, missing)
    })
    .await
    .expect("the server runs");
    let (ok, missing) = reply;
    assert_eq!(
        (ok.status, ok.body.clone()),
        (200, json!("Hello, person 7"))
    );
    assert_eq!(missing.status, 422, "{:?}", missing.body);
    assert!(
        missing.body.to_string().contains("no such person"),
        "{:?}",
        missing.body
    );
    assert_eq!(*audits.lock().expect("audits"), [json!(["greeted 7"])]);
}

/// Under `serve`, a client that disconnects cancels its call, and the host
/// call it waits for is dropped: the endpoint sees its request go away.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_drops_the_host_call_under_serve() {
    use std::io::Write as _;

    let Directory {
        base, audits: log, ..
    } = directory_service().await;
    let wasm = component("host");
    let mut binds = binds(&base);
    for bind in &mut binds {
        if bind.starts_with("directory.never=") {
            *bind = format!("directory.never={base}/never");
        }
    }
    let has = |log: &Arc<Mutex<Vec<Value>>>, entry: Value| {
        let log = log.lock().expect("log").clone();
        match log.contains(&entry) {
            true => Ok(()),
            false => Err(format!("{log:?}")),
        }
    };
    let watched = Arc::clone(&log);
    tokio::task::spawn_blocking(move || {
        let mut args = vec!["--workers", "1"];
        for bind in &binds {
            args.extend(["--bind", bind.as_str()]);
        }
        let server = crate::serve::Served::start(&wasm, &args);
        let mut client = std::net::TcpStream::connect(&server.address).expect("connects");
        write!(
            client,
            "POST /call/wait_forever HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
        )
        .expect("sends");
        let started = json!("never: started");
        crate::util::eventually(Duration::from_secs(20), "the host call never started", || {
            has(&watched, started.clone())
        });
        drop(client);
        crate::util::eventually(Duration::from_secs(20), "the host call lives on", || {
            has(&watched, json!("never: dropped"))
        });
        // Python saw CancelledError at its await, and could still call the
        // host from its `except`.
        crate::util::eventually(Duration::from_secs(20), "Python saw no cancel", || {
            has(&watched, json!(["wait_forever saw CancelledError"]))
        });
    })
    .await
    .expect("the server runs");
}

#[test]
fn inspect_lists_the_host_functions_to_bind() {
    let output = snakebox(&["inspect", &component("host").display().to_string()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let listing = stdout(&output);
    assert!(
        listing.contains("host functions of `directory`"),
        "{listing}"
    );
    for line in [
        "async def directory.find_person(id: int) -> Person",
        "def directory.audit(event: str) -> None",
    ] {
        assert!(listing.contains(line), "no `{line}` in\n{listing}");
    }
}

#[tokio::test]
async fn allow_unbound_fails_only_the_calls_that_need_what_is_missing() {
    let mut host = HostFunctions::new();
    host.add_sync("directory.audit", |_caller, _args| Ok(Value::Null));
    host.allow_unbound();
    let policy = Policy {
        host,
        ..Policy::default()
    };
    let app = runtime()
        .load_with(component("host"), policy)
        .expect("loads with functions unbound");
    let audited = app.call_json("greet_sync", &[json!(1)], &[]).await;
    assert_eq!(audited.expect("bound"), "audited 1");
    let error = app
        .call_json("greet", &[json!(1)], &[])
        .await
        .expect_err("find_person is unbound");
    let python = error.python().expect("a Python error");
    assert_eq!(python.type_name, "snakebox.HostError");
    assert!(
        python
            .message
            .contains("`directory.find_person` is not bound"),
        "{python:?}"
    );
}

/// `tests/fixtures/host/endpoint.py`: an endpoint written with Python's
/// `http.server` alone, stopped when dropped.
struct PythonEndpoint {
    child: std::process::Child,
    port: u16,
}

impl PythonEndpoint {
    fn start(flags: &[&str]) -> PythonEndpoint {
        use std::io::BufRead as _;

        let mut child = std::process::Command::new("python3")
            .arg("tests/fixtures/host/endpoint.py")
            .args(flags)
            .current_dir(crate::util::root())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("its output"))
            .read_line(&mut line)
            .expect("it prints its port");
        let port = line.trim().parse().expect("a port");
        PythonEndpoint { child, port }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://localhost:{}/{path}", self.port)
    }
}

impl Drop for PythonEndpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--bind` flags for every function of `directory.pyi`: those given to
/// their URLs, the rest to a port nobody listens on.
fn bind_flags(bound: &[(&str, &str)]) -> Vec<String> {
    let mut flags = Vec::new();
    for name in [
        "find_person",
        "save_person",
        "audit",
        "pause",
        "tenant",
        "never",
        "never_sync",
        "explode",
    ] {
        let url = bound
            .iter()
            .find(|(bound, _)| *bound == name)
            .map_or(format!("http://127.0.0.1:9/{name}"), |(_, url)| {
                (*url).to_owned()
            });
        flags.extend(["--bind".to_owned(), format!("directory.{name}={url}")]);
    }
    flags
}

/// `snakebox call host.wasm FUNCTION ARGS… FLAGS…` with more environment.
fn call_host(function_and_args: &[&str], flags: &[String], env: &[(&str, &str)]) -> Output {
    let wasm = component("host").display().to_string();
    let mut args = vec!["call", wasm.as_str()];
    args.extend(function_and_args);
    args.extend(flags.iter().map(String::as_str));
    crate::util::snakebox_with_env(&args, env)
}

/// A thousand gathered host calls reach a server whose accept queue holds
/// five: the host pools its connections and keeps 32 in flight, where one
/// connection per call overflowed the queue and failed after two minutes.
#[test]
fn a_thousand_gathered_host_calls_reach_a_plain_http_server() {
    for server in [&[][..], &["--serial"][..]] {
        let endpoint = PythonEndpoint::start(server);
        let url = endpoint.url("http", "pause");
        let output = call_host(
            &["fan_out", "1000", "1"],
            &bind_flags(&[("pause", &url)]),
            &[],
        );
        assert!(output.status.success(), "{server:?}: {}", stderr(&output));
        assert_eq!(stdout(&output), "1000", "{server:?}");
    }
}

/// https: the system's roots, or `SSL_CERT_FILE`'s; a certificate of an
/// authority not trusted is refused, and the error says it was TLS.
#[test]
fn https_endpoints_are_trusted_through_ssl_cert_file() {
    let endpoint = PythonEndpoint::start(&[
        "--tls",
        "tests/fixtures/tls/server.pem",
        "tests/fixtures/tls/server.key",
    ]);
    let url = endpoint.url("https", "pause");
    let flags = bind_flags(&[("pause", &url)]);
    let authority = crate::util::root().join("tests/fixtures/tls/ca.pem");
    let authority = authority.display().to_string();
    let output = call_host(
        &["fan_out", "3", "1"],
        &flags,
        &[("SSL_CERT_FILE", &authority)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "3");

    // Trusting another certificate instead (the system's roots may be
    // missing on a bare machine), the endpoint's is refused.
    let other = crate::util::root().join("tests/fixtures/tls/server.pem");
    let other = other.display().to_string();
    let refused = call_host(&["fan_out", "3", "1"], &flags, &[("SSL_CERT_FILE", &other)]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains(&format!(
            "{url}: cannot reach the host endpoint: TLS failed: invalid peer certificate: UnknownIssuer"
        )),
        "{message}"
    );
    assert!(message.contains("SSL_CERT_FILE"), "{message}");

    // Refused and unreachable say so, and name the endpoint.
    let nobody = "http://127.0.0.1:9/pause";
    let output = call_host(&["fan_out", "1", "1"], &bind_flags(&[]), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "{nobody}: cannot reach the host endpoint: connection refused"
        )),
        "{}",
        stderr(&output)
    );
}

/// `--bind-header` sends a header to the endpoints of a function or a
/// module, with its secret read from a file or the environment.
#[test]
fn bind_headers_carry_secrets_from_a_file_or_the_environment() {
    let endpoint = PythonEndpoint::start(&[]);
    let url = endpoint.url("http", "header");
    let flags = bind_flags(&[("tenant", &url)]);
    let folder = tempfile::tempdir().expect("a folder");
    let token_file = folder.path().join("token");
    std::fs::write(&token_file, "from-a-file\n").expect("writes");
    let with = |header: String| {
        let mut flags = flags.clone();
        flags.extend(["--bind-header".to_owned(), header]);
        flags
    };
    let file_header = with(format!(
        "directory=Authorization: Bearer ${{file:{}}}",
        token_file.display()
    ));
    let output = call_host(&["whose"], &file_header, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "\"Bearer from-a-file\"");

    let env_header = with("directory.tenant=Authorization: Bearer ${SNAKEBOX_TEST_TOKEN}".into());
    let output = call_host(
        &["whose"],
        &env_header,
        &[("SNAKEBOX_TEST_TOKEN", "from-env")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "\"Bearer from-env\"");

    // A header for another function is not sent to this one.
    let output = call_host(
        &["whose"],
        &with("directory.audit=Authorization: Bearer x".into()),
        &[],
    );
    assert_eq!(stdout(&output), "\"\"", "{}", stderr(&output));

    for (header, says) in [
        (
            "directory=Authorization: Bearer ${SNAKEBOX_UNSET_TOKEN}",
            "the environment variable `SNAKEBOX_UNSET_TOKEN` is not set",
        ),
        (
            "billing=Authorization: Bearer x",
            "no --bind names `billing`",
        ),
        ("directory=Authorization", "write NAME=HEADER: VALUE"),
    ] {
        let output = call_host(&["whose"], &with(header.into()), &[]);
        assert!(
            matches!(output.status.code(), Some(1 | 2)),
            "{header}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(says),
            "{header}: {}",
            stderr(&output)
        );
    }
}

/// An endpoint that takes the request and never answers holds its call
/// only to the call's time limit; the store then serves on.
#[test]
fn an_endpoint_that_never_answers_ends_at_the_call_s_deadline() {
    let endpoint = PythonEndpoint::start(&[]);
    let never = endpoint.url("http", "never");
    let pause = endpoint.url("http", "pause");
    let flags = bind_flags(&[("never", &never), ("pause", &pause)]);
    let mut args = vec!["--workers", "1", "--timeout", "1s"];
    args.extend(flags.iter().map(String::as_str));
    let server = crate::serve::Served::start(&component("host"), &args);
    let started = Instant::now();
    let stuck = server.request("POST", "/call/wait_forever", "[]");
    let waited = started.elapsed();
    assert_eq!(stuck.status, 504, "{:?}", stuck.body);
    assert!(waited < Duration::from_secs(20), "{waited:?}");
    let next = server.request("POST", "/call/fan_out", "[3, 1]");
    assert_eq!((next.status, next.body), (200, json!(3)));
}
