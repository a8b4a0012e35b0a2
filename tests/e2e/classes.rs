//! Python classes as WIT resources: objects that stay in their store,
//! called from Rust, released when Rust drops them.

use std::time::Duration;

use snakebox::{App, Calls as _, Error, Object, Val, Value};

use crate::util::{app, snakebox, stderr};

fn s(text: &str) -> Value {
    Val::String(text.into()).into()
}

fn int(n: i64) -> Value {
    Val::S64(n).into()
}

/// The call's value, which holds no object.
async fn value(call: snakebox::ValueCall) -> Val {
    call.await
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("a value")
        .into_val()
        .expect("no object")
}

async fn object(call: snakebox::ValueCall) -> Object {
    call.await
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("a value")
        .into_object()
        .expect("an object")
}

/// Polls `count` until it gives `want`: objects are released by their
/// store's worker, soon after the last handle is dropped.
async fn eventually(app: &impl snakebox::Calls, count: &str, want: i64) {
    let what = format!("{count}() did not come to {want}");
    crate::util::eventually_async(Duration::from_secs(2), &what, || async {
        match value(app.call_values(count, vec![])).await {
            Val::S64(now) if now == want => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}

fn bank() -> App {
    app("examples/bank/bank.py")
}

#[tokio::test]
async fn the_bank_example_works_from_rust() {
    let bank = bank();
    let session = bank.session().expect("a session");
    // With and without the default.
    let ann = object(session.call_values("Account", vec![s("ann")])).await;
    let bob = object(session.call_values("Account", vec![s("bob"), int(50)])).await;
    assert_eq!(ann.class().name, "Account");
    assert_eq!(
        value(ann.call("deposit", vec![int(30)])).await,
        Val::S64(30)
    );
    assert_eq!(
        value(ann.call("deposit", vec![int(5), s("tip")])).await,
        Val::S64(35)
    );
    // A static function, on the class or through an object.
    assert_eq!(
        value(session.call_values("Account.currency", vec![])).await,
        Val::String("EUR".into())
    );
    assert_eq!(
        value(bob.call("currency", vec![])).await,
        Val::String("EUR".into())
    );
    // A function that returns an object, and one that borrows two.
    let cy = object(session.call_values("open_account", vec![s("cy")])).await;
    assert_eq!(
        value(session.call_values("transfer", vec![(&bob).into(), (&cy).into(), int(20)])).await,
        Val::S64(20)
    );
    assert_eq!(value(bob.call("deposit", vec![int(1)])).await, Val::S64(31));
    // The same through JSON, for a method JSON can carry.
    assert_eq!(
        cy.call_json("deposit", &[5.into()], &[("note".into(), "gift".into())])
            .await
            .expect("deposit"),
        serde_json::json!(25)
    );
    // An async method interleaves with another call on the same store.
    let settle = ann.call("settle", vec![Val::Float64(0.3).into()]);
    let started = std::time::Instant::now();
    let (settled, deposited) = tokio::join!(settle, bob.call("deposit", vec![int(9)]));
    let deposited = deposited
        .expect("deposit")
        .expect("a value")
        .into_val()
        .expect("a value");
    assert_eq!(deposited, Val::S64(40));
    let settled = settled
        .expect("settle")
        .expect("a value")
        .into_val()
        .expect("a value");
    assert_eq!(settled, Val::S64(35));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        value(session.call_values("open_accounts", vec![])).await,
        Val::S64(3)
    );
    drop((ann, bob, cy));
    eventually(&session, "open_accounts", 0).await;
}

#[tokio::test]
async fn python_errors_of_constructors_and_methods_are_python_errors() {
    let bank = bank();
    let session = bank.session().expect("a session");
    let error = session
        .call_values("Account", vec![s("")])
        .await
        .expect_err("no owner");
    let python = error.python().unwrap_or_else(|| panic!("{error}"));
    assert_eq!(python.type_name, "ValueError");
    assert_eq!(python.message, "an account needs an owner");
    assert!(
        python.traceback.contains("__init__"),
        "{}",
        python.traceback
    );
    let ann = object(session.call_values("Account", vec![s("ann")])).await;
    let error = ann
        .call("deposit", vec![int(-1)])
        .await
        .expect_err("negative");
    assert_eq!(
        error.python().map(|p| p.message.as_str()),
        Some("cannot deposit -1")
    );
    // The store is healthy, and so is the object.
    assert_eq!(value(ann.call("deposit", vec![int(2)])).await, Val::S64(2));
    let error = ann
        .call("withdraw", vec![])
        .await
        .expect_err("no such method");
    assert!(
        matches!(&error, Error::NoSuchFunction(m) if m.contains("deposit")),
        "{error}"
    );
}

#[tokio::test]
async fn dropping_an_object_releases_the_python_object() {
    let objects = app("objects");
    let session = objects.session().expect("a session");
    let counters: Vec<Object> = {
        let made = session
            .call_values(
                "make",
                vec![Val::List(vec![Val::S64(4), Val::S64(5)]).into()],
            )
            .await
            .expect("make")
            .expect("a value");
        made.into_objects().expect("objects")
    };
    let third = object(session.call_values("Counter", vec![int(6)])).await;
    assert_eq!(
        value(session.call_values("alive", vec![])).await,
        Val::S64(3)
    );
    // Lists and options of borrowed objects.
    let total = session.call_values(
        "total",
        vec![
            Value::List(counters.iter().map(Value::from).collect()),
            Value::Option(Some(Box::new(Value::Option(Some(Box::new(
                (&third).into(),
            )))))),
        ],
    );
    assert_eq!(value(total).await, Val::S64(15));
    let none = session
        .call_values("maybe", vec![int(0)])
        .await
        .expect("maybe")
        .expect("a value");
    assert!(matches!(none, Value::Option(None)), "{none:?}");
    // A clone keeps the object alive; the last handle releases it, and
    // its `__del__` runs.
    let kept = third.clone();
    drop(third);
    drop(counters);
    eventually(&session, "alive", 1).await;
    assert_eq!(value(kept.call("add", vec![int(1)])).await, Val::S64(7));
    drop(kept);
    eventually(&session, "alive", 0).await;
    let finalized = value(session.call_values("finalized", vec![])).await;
    let Val::List(finalized) = finalized else {
        panic!("{finalized:?}")
    };
    let mut finalized: Vec<Val> = finalized;
    finalized.sort_by_key(|v| match v {
        Val::S64(n) => *n,
        _ => 0,
    });
    assert_eq!(finalized, [Val::S64(4), Val::S64(5), Val::S64(7)]);
}

#[tokio::test]
async fn ten_thousand_objects_come_and_go_on_one_store() {
    let objects = app("objects");
    let session = objects.session().expect("a session");
    let blocks = |session: &snakebox::Session| {
        let call = session.call_json("blocks", &[], &[]);
        async move { call.await.expect("blocks").as_i64().expect("a count") }
    };
    let round = |n: usize| {
        let session = &session;
        async move {
            for i in 0..n {
                let counter = object(session.call_values("Counter", vec![int(i as i64)])).await;
                drop(counter);
            }
            eventually(session, "alive", 0).await;
        }
    };
    round(1_000).await;
    let after_1k = blocks(&session).await;
    round(10_000).await;
    let after_11k = blocks(&session).await;
    // Python's allocations stay flat: nothing of the objects is kept (each
    // kept object would hold three blocks or more).
    assert!(
        after_11k < after_1k + 1_000,
        "Python's memory blocks grew from {after_1k} to {after_11k}"
    );
}

#[tokio::test]
async fn an_object_stays_in_its_own_store() {
    let objects = app("objects");
    let first = objects.session().expect("a session");
    let second = objects.session().expect("another session");
    let counter = object(first.call_values("Counter", vec![int(1)])).await;
    let error = second
        .call_values("total", vec![Value::List(vec![(&counter).into()])])
        .await
        .expect_err("another store");
    assert!(
        matches!(&error, Error::BadArguments(m) if m.contains("another store")),
        "{error}"
    );
    // Through the app, the call goes to the object's store.
    assert_eq!(
        value(objects.call_values("total", vec![Value::List(vec![(&counter).into()])])).await,
        Val::S64(1)
    );
    // Objects of two stores cannot meet.
    let other = object(second.call_values("Counter", vec![int(2)])).await;
    let error = objects
        .call_values(
            "total",
            vec![Value::List(vec![(&counter).into(), (&other).into()])],
        )
        .await
        .expect_err("two stores");
    assert!(
        matches!(&error, Error::BadArguments(m) if m.contains("two stores")),
        "{error}"
    );
}

#[tokio::test]
async fn a_trap_takes_the_store_s_objects_with_it() {
    let objects = app("objects");
    let session = objects.session().expect("a session");
    let counter = object(session.call_values("Counter", vec![int(1)])).await;
    let error = counter.call("crash", vec![]).await.expect_err("a trap");
    assert!(matches!(error, Error::Trap(_)), "{error}");
    let error = counter
        .call("add", vec![int(1)])
        .await
        .expect_err("its store is gone");
    assert!(
        matches!(&error, Error::StaleObject(m) if m.contains("store was replaced")),
        "{error}"
    );
    // The new store serves, objects and all.
    let fresh = object(session.call_values("Counter", vec![int(5)])).await;
    assert_eq!(value(fresh.call("add", vec![int(1)])).await, Val::S64(6));
    drop(counter);
    assert_eq!(
        value(session.call_values("alive", vec![])).await,
        Val::S64(1)
    );
}

#[tokio::test]
async fn dropping_a_method_call_cancels_it_in_python() {
    let objects = app("objects");
    let session = objects.session().expect("a session");
    let counter = object(session.call_values("Counter", vec![int(3)])).await;
    let slow = counter.call("slow", vec![Val::Float64(30.0).into()]);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), slow)
            .await
            .is_err(),
        "the call sleeps on"
    );
    // The coroutine saw `CancelledError` and marked the counter.
    crate::util::eventually_async(
        Duration::from_secs(2),
        "the method was not cancelled",
        || async {
            match value(counter.call("add", vec![int(0)])).await {
                Val::S64(-1) => Ok(()),
                other => Err(format!("the counter is {other:?}")),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn json_surfaces_refuse_functions_with_objects_by_name() {
    let objects = app("objects");
    let error = objects
        .call_json("total", &[serde_json::json!([])], &[])
        .await
        .expect_err("objects");
    let Error::BadArguments(message) = &error else {
        panic!("{error}")
    };
    assert!(
        message.contains("`total` takes an object of class `Counter` (parameter `counters`)")
            && message.contains("snakebox::Object"),
        "{message}"
    );
    // Every other function works as before.
    assert_eq!(
        objects
            .call_json("plain", &[21.into()], &[])
            .await
            .expect("plain"),
        serde_json::json!(42)
    );
    // The raw WIT path says where objects go.
    let error = objects
        .call("make", vec![Val::List(vec![])])
        .await
        .expect_err("objects");
    assert!(error.to_string().contains("call_values"), "{error}");
    // The CLI says the same.
    let output = snakebox(&["run", "tests/fixtures/objects.py", "maybe", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("`maybe` returns an object of class `Counter`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn serve_lists_object_functions_as_not_served_and_serves_the_rest() {
    let server = crate::serve::Served::fixture("objects", &["--workers", "1"]);
    let functions = server.get("/functions");
    assert_eq!(functions.status, 200);
    let listed = |name: &str| {
        functions
            .body
            .as_array()
            .expect("a list")
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} is listed"))
            .clone()
    };
    let total = listed("total");
    assert_eq!(total["served"], false, "{total}");
    assert!(
        total["not_served"]
            .as_str()
            .is_some_and(|why| why.contains("class `Counter`")),
        "{total}"
    );
    assert!(listed("plain").get("served").is_none());
    // OpenAPI leaves them out; every other function is there.
    let document = server.get("/openapi.json");
    let paths = document.body["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/call/plain"));
    for name in ["total", "make", "maybe"] {
        assert!(
            !paths.contains_key(&format!("/call/{name}")),
            "{name} is in OpenAPI"
        );
    }
    // A call says why, and names the class.
    let reply = server.call("make", &serde_json::json!({"values": [1]}));
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("returns an object of class `Counter`")),
        "{:?}",
        reply.body
    );
    assert_eq!(
        server.call("plain", &serde_json::json!({"n": 4})).body,
        serde_json::json!(8)
    );
}

#[test]
fn the_readme_shows_the_bank_as_it_is() {
    let root = crate::util::root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let bank = std::fs::read_to_string(root.join("examples/bank/bank.py")).expect("bank.py");
    assert!(
        readme.contains(&bank),
        "the README does not show bank.py as it is"
    );
    // The WIT it shows is what `snakebox wit` prints.
    let output = snakebox(&["wit", "examples/bank/bank.py"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let wit = crate::util::stdout(&output);
    let section = readme
        .split("## Classes")
        .nth(1)
        .expect("a Classes section");
    let shown = section
        .split("```wit\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a WIT block");
    for line in shown.lines().filter(|line| !line.trim().is_empty()) {
        assert!(
            wit.contains(line),
            "`snakebox wit` has no line {line:?}:\n{wit}"
        );
    }
    // Its Rust runs, line for line, in the typed bindings' example.
    let example =
        std::fs::read_to_string(root.join("host/examples/typed-bindings/tests/classes.rs"))
            .expect("the example's test");
    let rust = section
        .split("```rust,ignore\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a Rust block");
    for line in rust.lines().filter(|line| !line.trim().is_empty()) {
        assert!(
            example.contains(line.trim()),
            "the typed example does not run {line:?}"
        );
    }
}

#[tokio::test]
async fn a_method_past_its_time_limit_takes_its_store_s_objects_with_it() {
    let policy = snakebox::Policy {
        timeout: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let objects = crate::util::app_with("objects", policy);
    let session = objects.session().expect("a session");
    let counter = object(session.call_values("Counter", vec![int(1)])).await;
    let error = counter.call("spin", vec![]).await.expect_err("a loop");
    assert!(matches!(error, Error::Timeout(_)), "{error}");
    let error = counter.call("add", vec![int(1)]).await.expect_err("gone");
    assert!(matches!(error, Error::StaleObject(_)), "{error}");
    // The session goes on, on a fresh store.
    let fresh = object(session.call_values("Counter", vec![int(2)])).await;
    assert_eq!(value(fresh.call("add", vec![int(1)])).await, Val::S64(3));
}

#[test]
fn objects_cross_threads() {
    fn send_and_share<T: Send + Sync + 'static>() {}
    send_and_share::<Object>();
    send_and_share::<Value>();
    send_and_share::<snakebox::ValueCall>();
}

#[test]
fn inspect_lists_each_class_with_its_members() {
    let wasm = crate::util::component("examples/bank/bank.py");
    let output = snakebox(&["inspect", wasm.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let listed = crate::util::stdout(&output);
    for line in [
        "class Account (resource `account`, made by `Account`",
        "    One account and its history.",
        "  constructor(owner: string, balance: option<s64>) -> result<account, python-error>",
        "      def __init__(self, owner: str, balance: int = ...) -> None",
        "      def deposit(self, amount: int, note: str = ...) -> int",
        "        Adds `amount`, and gives the new balance.",
        "      async def settle(self, delay: float) -> int",
        "  currency: static func() -> result<string, python-error>",
        "      @staticmethod def currency() -> str",
    ] {
        assert!(listed.contains(line), "no {line:?} in:\n{listed}");
    }
    assert!(!listed.contains("snakebox-release"), "{listed}");
}

#[tokio::test]
async fn a_package_s_classes_are_called_by_module() {
    let shapes = app("shapes");
    let circle = object(shapes.call_values("geo.Circle", vec![Val::Float64(2.0).into()])).await;
    assert_eq!(value(circle.call("area", vec![])).await, Val::Float64(12.0));
    let unit = object(shapes.call_values("geo.unit", vec![])).await;
    assert_eq!(unit.class().name, "Circle");
    assert_eq!(value(unit.call("area", vec![])).await, Val::Float64(3.0));
    let error = shapes
        .call_values("Circle", vec![Val::Float64(1.0).into()])
        .await
        .expect_err("named by its module");
    assert!(matches!(error, Error::NoSuchFunction(_)), "{error}");
}
