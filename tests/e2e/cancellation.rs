//! Dropping a call, or its time limit, cancels the Python coroutine: it sees
//! `CancelledError`, its `finally` runs, and the store keeps serving.

use std::time::Duration;

use serde_json::{Value, json};
use snakebox::Calls as _;
use snakebox::{Error, Policy, Session};

use crate::util::app_with;

async fn events(session: &Session) -> Vec<String> {
    let value = session
        .call_json("recorded", &[], &[])
        .await
        .expect("recorded");
    serde_json::from_value(value).expect("a list of strings")
}

/// What the guest recorded once it has recorded `wanted`; fails after 5 s.
async fn wait_for_events(session: &Session, wanted: &[&str]) -> Vec<String> {
    let what = format!("the guest never recorded {wanted:?}");
    crate::util::eventually_async(Duration::from_secs(5), &what, || async {
        let seen = events(session).await;
        match wanted.iter().all(|w| seen.iter().any(|s| s == w)) {
            true => Ok(seen),
            false => Err(format!("{seen:?}")),
        }
    })
    .await
}

#[tokio::test]
async fn dropping_a_call_cancels_the_coroutine() {
    let session = app_with("aio", Policy::default())
        .session()
        .expect("session");
    let mut call = Box::pin(session.call_json("guarded", &[json!("dropped"), json!(30.0)], &[]));
    // Dropped once the coroutine is running, and not before.
    tokio::select! {
        outcome = &mut call => panic!("the call finished: {outcome:?}"),
        seen = wait_for_events(&session, &["dropped:start"]) => {
            assert_eq!(seen, ["dropped:start"]);
        }
    }
    drop(call);
    let seen = wait_for_events(&session, &["dropped:cancelled", "dropped:finally"]).await;
    assert_eq!(
        seen,
        ["dropped:start", "dropped:cancelled", "dropped:finally"]
    );
    // The same store serves the next call.
    let next = session
        .call_json("sleep_echo", &[json!(3), json!(0.01)], &[])
        .await;
    assert_eq!(next.expect("next call"), json!(3));
}

/// Dropping one of 1,000 sleeping calls on a store cancels that call at
/// once, and only it: the others sleep on and finish.
#[tokio::test]
async fn cancelling_one_of_a_thousand_sleeping_calls_leaves_the_others() {
    let session = app_with("aio", Policy::default())
        .session()
        .expect("session");
    let name = |i: usize| format!("c{i}");
    let mut others =
        Box::pin(futures::future::try_join_all((0..1000).map(|i| {
            session.call_json("guarded", &[json!(name(i)), json!(3.0)], &[])
        })));
    let mut victim = Box::pin(session.call_json("guarded", &[json!("victim"), json!(3.0)], &[]));
    tokio::select! {
        outcome = &mut victim => panic!("the victim finished: {outcome:?}"),
        outcome = &mut others => panic!("the others finished first: {outcome:?}"),
        _ = wait_for_events(&session, &["victim:start", "c999:start"]) => {}
    }
    drop(victim);
    let values = others.await.expect("the others succeed");
    let expected: Vec<Value> = (0..1000).map(|i| json!(name(i))).collect();
    assert_eq!(values, expected);
    let seen = events(&session).await;
    let at = |wanted: &dyn Fn(&String) -> bool| seen.iter().position(wanted);
    let cancelled = at(&|e| e == "victim:cancelled").expect("the victim saw CancelledError");
    let first_done = at(&|e| e.ends_with(":done")).expect("a call finished");
    assert!(
        cancelled < first_done,
        "the victim was cancelled while the others slept"
    );
    assert_eq!(seen.iter().filter(|e| e.ends_with(":done")).count(), 1000);
    assert_eq!(seen.iter().filter(|e| e.ends_with(":cancelled")).count(), 1);
}

#[tokio::test]
async fn a_coroutine_cancelled_inside_python_is_cancelled() {
    let session = app_with("aio", Policy::default())
        .session()
        .expect("session");
    let error = session
        .call_json("cancelled_inside", &[], &[])
        .await
        .expect_err("another task cancelled it");
    assert!(matches!(error, Error::Cancelled), "{error}");
    let next = session
        .call_json("sleep_echo", &[json!(5), json!(0.0)], &[])
        .await;
    assert_eq!(next.expect("the store is healthy"), json!(5));
}

#[tokio::test]
async fn a_time_limit_cancels_the_coroutine_gracefully() {
    let policy = Policy {
        timeout: Some(Duration::from_millis(200)),
        ..Policy::default()
    };
    let session = app_with("aio", policy).session().expect("session");
    let error = session
        .call_json("guarded", &[json!("late"), json!(30.0)], &[])
        .await
        .expect_err("times out");
    assert!(matches!(error, Error::Timeout(_)), "{error}");
    let seen = wait_for_events(&session, &["late:finally"]).await;
    assert_eq!(seen, ["late:start", "late:cancelled", "late:finally"]);
    let next = session
        .call_json("sleep_echo", &[json!(4), json!(0.01)], &[])
        .await;
    assert_eq!(next.expect("the store survived"), json!(4));
}

#[tokio::test]
async fn interleaved_calls_with_cancellations_never_mix_results() {
    let session = app_with("aio", Policy::default())
        .session()
        .expect("session");
    let mut kept = Vec::new();
    let (mut dropped, mut finished) = (0, 0);
    for i in 0..300i64 {
        let seconds = 0.01 * ((i * 7) % 13) as f64;
        let call = session.call_json("sleep_echo", &[json!(i), json!(seconds)], &[]);
        if i % 3 == 0 {
            // Cancel a third of them at different points of their lives;
            // one that finishes first must carry its own value.
            let wait = Duration::from_millis(((i * 11) % 90) as u64);
            match tokio::time::timeout(wait, call).await {
                Err(_) => dropped += 1,
                Ok(value) => {
                    assert_eq!(value.expect("finished in time"), json!(i));
                    finished += 1;
                }
            }
        } else {
            kept.push((i, call));
        }
    }
    let (expected, calls): (Vec<i64>, Vec<_>) = kept.into_iter().unzip();
    let values = futures::future::try_join_all(calls)
        .await
        .expect("kept calls succeed");
    let expected: Vec<Value> = expected.into_iter().map(|i| json!(i)).collect();
    assert_eq!(values, expected);
    assert!(dropped > 0, "some calls were cancelled in flight");
    assert!(finished > 0, "some beat their deadline: {dropped} dropped");
    let next = session
        .call_json("sleep_echo", &[json!(-1), json!(0.0)], &[])
        .await;
    assert_eq!(next.expect("store healthy"), json!(-1));
}
