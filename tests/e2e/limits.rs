//! Time and memory limits: the offending store is replaced, the caller gets a
//! clear error, and other stores never notice.

use std::time::{Duration, Instant};

use serde_json::json;
use snakebox::Calls as _;
use snakebox::{Error, Policy};

use crate::util::app_with;

fn limited(timeout_ms: u64, memory_mib: u64) -> Policy {
    Policy {
        timeout: Some(Duration::from_millis(timeout_ms)),
        memory: Some(memory_mib << 20),
        ..Policy::default()
    }
}

#[tokio::test]
async fn a_cpu_loop_times_out_and_the_store_is_replaced() {
    let session = app_with("basics", limited(300, 256))
        .session()
        .expect("session");
    assert_eq!(
        session.call_json("count", &[], &[]).await.expect("count"),
        json!(1)
    );
    assert_eq!(
        session.call_json("count", &[], &[]).await.expect("count"),
        json!(2)
    );
    let started = Instant::now();
    let error = session
        .call_json("spin", &[], &[])
        .await
        .expect_err("spins forever");
    assert!(matches!(error, Error::Timeout(_)), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A fresh store: the module state starts again.
    assert_eq!(
        session.call_json("count", &[], &[]).await.expect("count"),
        json!(1)
    );
}

#[tokio::test]
async fn an_async_cpu_loop_times_out_too() {
    let session = app_with("aio", limited(300, 256))
        .session()
        .expect("session");
    let bump = async || session.call_json("bump", &[], &[]).await.expect("bump");
    assert_eq!((bump().await, bump().await), (json!(1), json!(2)));
    let error = session
        .call_json("busy_async", &[], &[])
        .await
        .expect_err("spins forever");
    assert!(matches!(error, Error::Timeout(_)), "{error}");
    // A fresh store: the module state starts again.
    assert_eq!(bump().await, json!(1), "the store was not replaced");
}

#[tokio::test]
async fn an_async_cpu_hog_fails_the_other_async_calls_on_its_store() {
    let session = app_with("aio", limited(1000, 256))
        .session()
        .expect("session");
    let bump = async || session.call_json("bump", &[], &[]).await.expect("bump");
    assert_eq!(bump().await, json!(1));
    // Three naps of 0.2 s, then a call that spins once all three nap: the
    // naps would be done in 0.2 s, but the event loop never comes back.
    let naps: Vec<_> = (0..3)
        .map(|i| session.call_json("nap_echo", &[json!(i), json!(0.2)], &[]))
        .collect();
    let hog = session.call_json("hog_after", &[json!(3)], &[]);
    let (naps, hogged) = tokio::join!(futures::future::join_all(naps), hog);
    assert!(matches!(hogged, Err(Error::Timeout(_))), "{hogged:?}");
    for nap in naps {
        let error = nap.expect_err("the hog held the loop past its limit");
        assert!(matches!(error, Error::Timeout(_)), "{error}");
    }
    assert_eq!(bump().await, json!(1), "the store was not replaced");
}

#[tokio::test]
async fn a_trap_is_an_error_and_the_store_is_replaced() {
    let session = app_with("basics", limited(10_000, 256))
        .session()
        .expect("session");
    let count = async || session.call_json("count", &[], &[]).await.expect("count");
    assert_eq!((count().await, count().await), (json!(1), json!(2)));
    // `os.abort()` is wasm `unreachable`: no Python exception, a trap.
    let error = session
        .call_json("abort", &[], &[])
        .await
        .expect_err("aborts");
    assert!(
        matches!(&error, Error::Trap(detail) if detail.message().contains("`unreachable`") && detail.message().contains("abort")),
        "{error}"
    );
    // wasmtime's own error, with the guest's backtrace, is kept underneath.
    let source = std::error::Error::source(&error).expect("the trap keeps wasmtime's error");
    assert!(
        format!("{source:?}").contains("wasm backtrace"),
        "{source:?}"
    );
    assert_eq!(count().await, json!(1), "the store was not replaced");
}

#[tokio::test]
async fn memory_past_the_limit_is_an_error() {
    let session = app_with("basics", limited(10_000, 64))
        .session()
        .expect("session");
    let count = async || session.call_json("count", &[], &[]).await.expect("count");
    assert_eq!((count().await, count().await), (json!(1), json!(2)));
    // Python raised MemoryError inside; the caller hears of the limit, as
    // the README says, and the store is replaced: its state starts again.
    let error = session
        .call_json("hog", &[json!(200)], &[])
        .await
        .expect_err("over 64 MiB");
    assert!(
        matches!(error, Error::MemoryLimit(limit) if limit == 64 << 20),
        "{error}"
    );
    assert_eq!(count().await, json!(1), "the store was not replaced");
    let error = session
        .call_json("huge", &[json!(i32::MAX)], &[])
        .await
        .expect_err("2 GiB");
    // CPython's allocator refuses a block this size before the memory
    // grows at all: the limit was never reached, the store stays healthy.
    assert_eq!(
        error.python().map(|p| p.type_name.as_str()),
        Some("MemoryError"),
        "{error}"
    );
    assert_eq!(count().await, json!(2), "the healthy store was replaced");
    // wasm32 is a 32-bit target: CPython refuses sizes past its index range
    // before it allocates anything.
    let error = session
        .call_json("huge", &[json!(10_i64.pow(10))], &[])
        .await
        .expect_err("10 GB");
    assert_eq!(
        error.python().map(|p| p.type_name.as_str()),
        Some("OverflowError"),
        "{error}"
    );
    let small = session.call_json("hog", &[json!(4)], &[]).await;
    assert_eq!(small.expect("a small allocation still works"), json!(4));
}

/// "A call whose store reached its memory limit gets `MemoryLimit` even
/// when Python survived it with a `MemoryError`: that store finishes the
/// calls it has and is then replaced."
#[tokio::test]
async fn a_store_at_its_memory_limit_finishes_its_calls_then_is_replaced() {
    let session = app_with("hostile", limited(10_000, 64))
        .session()
        .expect("session");
    // An async call sleeping on the store while another one hits the limit.
    let sleeping = tokio::spawn(session.call_json("guarded", &[json!(0.5)], &[]));
    let recorded = || async {
        let events = session.call_json("recorded", &[], &[]).await;
        events.map_err(|e| e.to_string())
    };
    crate::util::eventually_async(Duration::from_secs(10), "guarded never started", || async {
        match recorded().await? {
            events if events == json!(["start"]) => Ok(()),
            events => Err(events.to_string()),
        }
    })
    .await;
    let error = session
        .call_json("memory_bomb", &[], &[])
        .await
        .expect_err("over 64 MiB");
    assert!(
        matches!(error, Error::MemoryLimit(limit) if limit == 64 << 20),
        "{error}"
    );
    // The call it had finishes, with its result.
    let finished = sleeping.await.expect("the task");
    assert_eq!(finished.expect("guarded finished on its store"), "done");
    // Then the store is replaced: its state starts again.
    assert_eq!(recorded().await.expect("recorded"), json!([]));
}

#[tokio::test]
async fn a_trap_on_one_store_does_not_reach_another() {
    let app = app_with("basics", limited(300, 256));
    let healthy = app.session().expect("session");
    let doomed = app.session().expect("session");
    assert_eq!(
        healthy.call_json("count", &[], &[]).await.expect("count"),
        json!(1)
    );
    assert_eq!(
        doomed.call_json("count", &[], &[]).await.expect("count"),
        json!(1)
    );
    // A trap (`os.abort()` is wasm `unreachable`) and a time limit, each on
    // the doomed store while the healthy one serves.
    for (function, trapped) in [("abort", true), ("spin", false)] {
        let failing = doomed.call_json(function, &[], &[]);
        let adds: Vec<_> = (0..20)
            .map(|i| healthy.call_json("add", &[json!(i), json!(1)], &[]))
            .collect();
        let (failed, added) = tokio::join!(failing, futures::future::try_join_all(adds));
        match trapped {
            true => assert!(matches!(failed, Err(Error::Trap(_))), "{failed:?}"),
            false => assert!(matches!(failed, Err(Error::Timeout(_))), "{failed:?}"),
        }
        assert_eq!(
            added.expect("healthy calls succeed"),
            (1..21).map(|i| json!(i)).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        healthy.call_json("count", &[], &[]).await.expect("count"),
        json!(2),
        "untouched store"
    );
    assert_eq!(
        doomed.call_json("count", &[], &[]).await.expect("count"),
        json!(1),
        "the doomed session got a fresh store"
    );
}

#[tokio::test]
async fn time_limits_hold_after_the_runtime_is_dropped() {
    let app = {
        let runtime =
            snakebox::Runtime::with_cache_dir(Some(crate::util::cache_dir())).expect("runtime");
        runtime
            .load_with(crate::util::component("basics"), limited(300, 256))
            .expect("loads")
    };
    spin_times_out(&app.session().expect("session")).await;
}

/// Calls `spin`, which loops forever, and expects its time limit to stop
/// it. Without epoch checks, or the clock that advances the epoch, the loop
/// would never be interrupted: the wait is bounded.
async fn spin_times_out(session: &snakebox::Session) {
    let call = session.call_json("spin", &[], &[]);
    let outcome = tokio::time::timeout(Duration::from_secs(20), call).await;
    let error = outcome
        .expect("the time limit fired")
        .expect_err("spins forever");
    assert!(matches!(error, Error::Timeout(_)), "{error}");
}

#[tokio::test]
async fn a_time_limit_holds_on_a_component_also_loaded_without_one() {
    // An app with no time limit runs code compiled without epoch checks; an
    // app of the same component with a limit must never be handed that code,
    // from this runtime or from the cache.
    let runtime =
        snakebox::Runtime::with_cache_dir(Some(crate::util::cache_dir())).expect("runtime");
    let component = crate::util::component("basics");
    let free = runtime
        .load(&component)
        .expect("loads")
        .session()
        .expect("session");
    assert_eq!(
        free.call_json("count", &[], &[]).await.expect("count"),
        json!(1)
    );
    for runtime in [
        runtime.clone(),
        snakebox::Runtime::with_cache_dir(Some(crate::util::cache_dir())).expect("runtime"),
    ] {
        let app = runtime.load_with(&component, limited(300, 256));
        spin_times_out(&app.expect("loads").session().expect("session")).await;
    }
    // The app without a limit was not disturbed.
    assert_eq!(
        free.call_json("count", &[], &[]).await.expect("count"),
        json!(2)
    );
}
