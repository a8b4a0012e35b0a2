//! Ordinary asyncio runs inside the guest: sleeps, timeouts, gather, and
//! many calls interleaved on one store's event loop.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{app, call};
use snakebox::Calls as _;

#[tokio::test]
async fn all_three_coroutine_forms_are_async_exports() {
    let aio = app("aio");
    let started = Instant::now();
    assert_eq!(call(&aio, "answer", &[]).await.expect("answer"), json!(42));
    assert!(
        started.elapsed() >= Duration::from_millis(190),
        "the sleep is real"
    );
    assert_eq!(
        call(&aio, "sleep_echo", &[json!(7), json!(0.01)])
            .await
            .expect("sleep_echo"),
        json!(7)
    );
    assert_eq!(
        call(&aio, "plain_coroutine", &[json!(9)])
            .await
            .expect("plain"),
        json!(9)
    );
    let functions = aio.functions();
    for name in ["answer", "sleep_echo", "plain_coroutine"] {
        let function = functions
            .iter()
            .find(|f| f.python_name == name)
            .expect("exported");
        assert!(function.is_async, "{name} is a WIT async func");
    }
}

#[tokio::test]
async fn wait_for_and_timeout_fire_inside_python() {
    let aio = app("aio");
    let started = Instant::now();
    assert_eq!(
        call(&aio, "times_out", &[]).await.expect("wait_for"),
        json!("timed out")
    );
    assert_eq!(
        call(&aio, "timeout_block", &[]).await.expect("timeout"),
        json!("timed out")
    );
    // The 5 s sleeps were cancelled, not waited out.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn timers_due_at_once_run_after_the_call_that_set_them() {
    let aio = app("aio");
    let order = call(&aio, "due_at_once", &[]).await.expect("due_at_once");
    let order: Vec<String> = serde_json::from_value(order).expect("a list of strings");
    assert_eq!(order.first().map(String::as_str), Some("set"), "{order:?}");
    let mut fired = order[1..].to_vec();
    fired.sort();
    assert_eq!(fired, ["at(past)", "later(0)"], "{order:?}");
}

#[tokio::test]
async fn gather_runs_sleeps_concurrently() {
    let aio = app("aio");
    let values = call(&aio, "gathered", &[json!(20), json!(0.2)])
        .await
        .expect("gather");
    assert_eq!(values, json!((0..20).collect::<Vec<_>>()));
    // By the order of events, not the clock: every sleep starts before any
    // ends, as they would not one after another.
    let order = call(&aio, "gathered_events", &[json!(20), json!(0.05)])
        .await
        .expect("gather");
    let order: Vec<String> = serde_json::from_value(order).expect("a list of strings");
    let first_end = order
        .iter()
        .position(|event| event.starts_with("end"))
        .expect("an end");
    assert_eq!(first_end, 20, "{order:?}");
    assert_eq!(order.len(), 40, "{order:?}");
}

#[tokio::test]
async fn a_thousand_concurrent_calls_interleave_on_one_store() {
    let session = app("aio").session().expect("session");
    let calls: Vec<_> = (0..1000)
        .map(|i| session.call_json("guarded", &[json!(i.to_string()), json!(1.0)], &[]))
        .collect();
    let values = futures::future::try_join_all(calls)
        .await
        .expect("all succeed");
    let expected: Vec<Value> = (0..1000).map(|i| json!(i.to_string())).collect();
    assert_eq!(values, expected, "each call gets its own result");
    // By the order of events on the store, not the clock: every call
    // started before any finished, as calls one after another never do.
    let events = session
        .call_json("recorded", &[], &[])
        .await
        .expect("recorded");
    let events: Vec<String> = serde_json::from_value(events).expect("a list of strings");
    let first_done = events
        .iter()
        .position(|event| event.ends_with(":done"))
        .expect("a call finished");
    assert_eq!(first_done, 1000, "{:?}", &events[..first_done.min(20)]);
    // Each call records its start, its end and its `finally`.
    assert_eq!(events.len(), 3000);
}

#[tokio::test]
async fn stray_exceptions_are_logged_not_fatal() {
    let session = app("aio").session().expect("session");
    assert_eq!(
        session
            .call_json("stray_callback", &[], &[])
            .await
            .expect("stray"),
        json!(1)
    );
    assert_eq!(
        session
            .call_json("forgotten_task", &[], &[])
            .await
            .expect("forgotten"),
        json!(2)
    );
    let next = session
        .call_json("sleep_echo", &[json!(8), json!(0.0)], &[])
        .await;
    assert_eq!(next.expect("the store keeps serving"), json!(8));
    // Logged, as asyncio logs them, on the host's log.
    let aio = crate::util::component("aio").display().to_string();
    let output = crate::util::snakebox(&["call", &aio, "stray_callback"]);
    let errors = crate::util::stderr(&output);
    assert!(output.status.success(), "{errors}");
    assert_eq!(crate::util::stdout(&output), "1");
    assert!(
        errors.contains("ZeroDivisionError: division by zero"),
        "{errors}"
    );
}

/// asyncio's timer heap under churn, in one call: 10,000 timers at random
/// deadlines, some set while others fire and some cancelled, each firing
/// once, in deadline order, and none before its deadline.
#[tokio::test]
async fn ten_thousand_churning_timers_fire_in_deadline_order_and_never_early() {
    let aio = app("aio");
    let report = call(&aio, "timer_churn", &[json!(10_000), json!(38)])
        .await
        .expect("timer_churn");
    let count = |key: &str| report[key].as_u64().unwrap_or(u64::MAX);
    assert!(count("cancelled") >= 1_000, "{report}");
    assert_eq!(count("fired"), count("expected"), "{report}");
    assert_eq!(count("distinct"), count("expected"), "{report}");
    for key in ["early", "out_of_order", "cancelled_fired"] {
        assert_eq!(count(key), 0, "{key}: {report}");
    }
}
