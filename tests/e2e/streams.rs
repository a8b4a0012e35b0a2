//! Generators stream their items to Rust: lazily, in order, as the same JSON
//! a single value has; an exception, a time limit or a dropped stream ends
//! the generator, and the store keeps serving.

use std::time::Duration;

use futures::StreamExt as _;
use serde_json::{Value, json};
use snakebox::Calls as _;
use snakebox::{Error, JsonStream, Policy, Session};

use crate::util::{app, app_with, component, snakebox, stderr, stdout};

/// Every item, and the error that ended the stream, if any.
async fn drain(mut stream: JsonStream) -> (Vec<Value>, Option<Error>) {
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(value) => items.push(value),
            Err(error) => {
                assert!(stream.next().await.is_none(), "an error ends the stream");
                return (items, Some(error));
            }
        }
    }
    (items, None)
}

async fn items(name: &str, args: &[Value]) -> Vec<Value> {
    crate::util::items_of("streams", name, args).await
}

async fn counter(session: &Session, name: &str) -> i64 {
    let value = session.call_json(name, &[], &[]).await.expect(name);
    value.as_i64().expect("an int")
}

/// The counter `name` once it reaches `wanted`; fails after 5 s.
async fn wait_for(session: &Session, name: &str, wanted: i64) -> i64 {
    let what = format!("`{name}` never reached {wanted}");
    crate::util::eventually_async(Duration::from_secs(5), &what, || async {
        let value = counter(session, name).await;
        match value >= wanted {
            true => Ok(value),
            false => Err(format!("it is {value}")),
        }
    })
    .await
}

/// "`Generator[Y, S, R]` with a send or return type: a stream of `Y`, with
/// an `SB109` warning: each `yield` gets `None`, and the return value does
/// not reach the caller."
#[tokio::test]
async fn a_generator_with_send_and_return_types_streams_its_yields() {
    assert_eq!(
        items("sent", &[json!(3)]).await,
        [json!("0:None"), json!("1:None"), json!("2:None")]
    );
    let output = crate::util::snakebox(&["wit", "tests/fixtures/streams.py"]);
    let log = crate::util::stderr(&output);
    assert!(
        log.contains("warning[SB109]") && log.contains("`sent`"),
        "{log}"
    );
}

#[tokio::test]
async fn items_arrive_in_order_as_the_json_of_single_values() {
    assert_eq!(
        Value::from(items("count", &[json!(5)]).await),
        json!([0, 1, 2, 3, 4])
    );
    assert_eq!(items("count", &[json!(0)]).await, Vec::<Value>::new());
    assert_eq!(
        items("words", &[json!("héllo big  world")]).await,
        [json!("héllo"), json!("big"), json!("world")]
    );
    let points = items("points", &[json!(3)]).await;
    for (i, streamed) in points.iter().enumerate() {
        let single = app("streams")
            .call_json("point", &[json!(i)], &[])
            .await
            .expect("point");
        assert_eq!(
            streamed, &single,
            "item {i} is the JSON of a single `Point`"
        );
    }
    assert_eq!(points[1], json!({"x": 1, "y": 0.5, "label": null}));
    assert_eq!(
        items("floats", &[]).await,
        [json!("NaN"), json!("Infinity"), json!(-0.0), json!(1.5)]
    );
    assert_eq!(
        items("tables", &[json!(3)]).await,
        [
            json!({"row0": []}),
            json!({"row1": [0]}),
            json!({"row2": [0, 1]})
        ]
    );
}

#[tokio::test]
async fn async_generators_run_on_the_event_loop() {
    assert_eq!(
        items("ticks", &[json!(4)]).await,
        [json!(0), json!(1), json!(2), json!(3)]
    );
    assert_eq!(items("gathered", &[json!(4)]).await, [json!([0, 1, 4, 9])]);
    // Several streams interleave on one store.
    let app = app("streams");
    let (a, b) = tokio::join!(
        drain(app.stream_json("ticks", &[json!(20)], &[("delay".into(), json!(0.005))])),
        drain(app.stream_json("count", &[json!(100)], &[])),
    );
    assert_eq!((a.0.len(), b.0.len()), (20, 100));
    assert!(a.1.is_none() && b.1.is_none());
}

#[tokio::test]
async fn an_exception_ends_the_stream_after_the_items_before_it() {
    let (items, error) = drain(app("streams").stream_json("fails_after", &[json!(2)], &[])).await;
    assert_eq!(items, [json!(0), json!(1)]);
    match error {
        Some(Error::Python(error)) => {
            assert_eq!(error.type_name, "ValueError");
            assert_eq!(error.message, "stopped after 2");
            assert!(
                error.traceback.contains("fails_after"),
                "{}",
                error.traceback
            );
        }
        other => panic!("expected ValueError, got {other:?}"),
    }
    let (items, error) = drain(app("streams").stream_json("wrong_item", &[], &[])).await;
    assert_eq!(items, [json!(1)]);
    let message = error.expect("a bad item is an error").to_string();
    assert!(
        message.contains("wrong_item() yielded a value"),
        "{message}"
    );
}

#[tokio::test]
async fn the_reader_sets_the_pace_and_dropping_closes_the_generator() {
    let session = app_with("streams", Policy::default())
        .session()
        .expect("session");
    let mut stream = session.stream_json("endless", &[], &[]);
    for expected in 0..3 {
        let item = stream.next().await.expect("an item").expect("ok");
        assert_eq!(item, json!(expected));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let produced = counter(&session, "produced_count").await;
    assert!(
        produced < 64,
        "an endless generator runs only a buffer ahead of its reader, not {produced} items"
    );
    drop(stream);
    assert_eq!(
        wait_for(&session, "closed_count", 1).await,
        1,
        "its `finally` ran"
    );

    let mut stream = session.stream_json("endless_async", &[], &[]);
    assert_eq!(stream.next().await.expect("an item").expect("ok"), json!(0));
    drop(stream);
    assert_eq!(wait_for(&session, "closed_count", 2).await, 2);
}

#[tokio::test]
async fn the_time_limit_applies_to_each_item_not_to_a_slow_reader() {
    let policy = Policy {
        timeout: Some(Duration::from_millis(300)),
        ..Policy::default()
    };
    let session = app_with("streams", policy).session().expect("session");

    // A reader slower than the time limit: the guest is waiting on it.
    let mut stream = session.stream_json("ticks", &[json!(3)], &[]);
    let mut seen = Vec::new();
    while let Some(item) = stream.next().await {
        seen.push(item.expect("a slow reader is not the guest's fault"));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(seen, [json!(0), json!(1), json!(2)]);

    // A generator that stops producing is cancelled at its `await`.
    let (items, error) = drain(session.stream_json("stalls", &[], &[])).await;
    assert_eq!(items, [json!(1)]);
    assert!(matches!(error, Some(Error::Timeout(_))), "{error:?}");
    assert_eq!(
        wait_for(&session, "closed_count", 1).await,
        1,
        "its `finally` ran"
    );

    // One that spins on the CPU is stopped; the session gets a fresh store.
    let (items, error) = drain(session.stream_json("spins", &[], &[])).await;
    assert_eq!(items, [json!(1)]);
    assert!(matches!(error, Some(Error::Timeout(_))), "{error:?}");
    assert_eq!(items_on(&session, "count", 2).await, [json!(0), json!(1)]);
}

async fn items_on(session: &Session, name: &str, n: i64) -> Vec<Value> {
    let (items, error) = drain(session.stream_json(name, &[json!(n)], &[])).await;
    assert!(error.is_none(), "{error:?}");
    items
}

#[tokio::test]
async fn streams_and_single_values_are_not_confused() {
    let app = app("streams");
    let error = app
        .call_json("count", &[json!(3)], &[])
        .await
        .expect_err("a stream");
    assert!(matches!(error, Error::BadArguments(_)), "{error:?}");
    assert!(error.to_string().contains("stream_json"), "{error}");
    let (items, error) = drain(app.stream_json("point", &[json!(1)], &[])).await;
    assert!(items.is_empty());
    let message = error.expect("not a stream").to_string();
    assert!(message.contains("call_json"), "{message}");
    let (_, error) = drain(app.stream_json("count", &[json!("three")], &[])).await;
    assert!(matches!(error, Some(Error::BadArguments(_))), "{error:?}");
}

#[test]
fn the_cli_prints_one_item_per_line() {
    let wasm = component("streams");
    let wasm = wasm.to_str().expect("UTF-8 path");
    let output = snakebox(&["call", wasm, "count", "3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), ["0", "1", "2"]);
    let output = snakebox(&["call", wasm, "fails_after", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "0");
    assert!(
        stderr(&output).contains("ValueError: stopped after 1"),
        "{}",
        stderr(&output)
    );
}
