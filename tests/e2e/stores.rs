//! Each calling thread has its own store; futures are Send and 'static.

use serde_json::json;

use crate::util::app;

#[test]
fn each_thread_keeps_its_own_store() {
    let basics = app("basics");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let basics = basics.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    let mut seen = Vec::new();
                    for _ in 0..5 {
                        seen.push(basics.call_json("count", &[], &[]).await.expect("count"));
                    }
                    seen
                })
            })
        })
        .collect();
    for thread in threads {
        let seen = thread.join().expect("thread ran");
        assert_eq!(seen, [json!(1), json!(2), json!(3), json!(4), json!(5)]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_send_futures_on_a_multi_threaded_runtime() {
    let basics = app("basics");
    let handles: Vec<_> = (0..50)
        .map(|i| tokio::spawn(basics.call_json("add", &[json!(i), json!(i)], &[])))
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let value = handle.await.expect("task ran").expect("add");
        assert_eq!(value, json!(2 * i));
    }
}

#[test]
fn sessions_and_pools_share_state_as_documented() {
    let basics = app("basics");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        let session = basics.session().expect("session");
        for expected in 1..=3 {
            assert_eq!(
                session.call_json("count", &[], &[]).await.expect("count"),
                json!(expected)
            );
        }
        let pool = basics.pool(2).expect("pool");
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(pool.call_json("count", &[], &[]).await.expect("count"));
        }
        // Round-robin over two fresh stores.
        assert_eq!(seen, [json!(1), json!(1), json!(2), json!(2)]);
    });
}

#[test]
fn fresh_sessions_are_isolated_and_come_from_the_reserve() {
    let basics = crate::util::app_with("basics", snakebox::Policy::default());
    basics.keep_fresh(2).expect("reserve");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        // Let the reserve instantiate.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let fresh = basics.fresh().expect("fresh");
            let handed_out = started.elapsed();
            assert_eq!(
                fresh.call_json("count", &[], &[]).await.expect("count"),
                json!(1)
            );
            assert_eq!(
                fresh.call_json("count", &[], &[]).await.expect("count"),
                json!(2)
            );
            eprintln!(
                "fresh store handed out in {handed_out:?}, ready after {:?}",
                started.elapsed()
            );
        }
    });
}
