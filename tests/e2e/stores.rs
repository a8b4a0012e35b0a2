//! Each calling thread has its own store; futures are Send and 'static.

use futures::FutureExt as _;
use serde_json::json;

use crate::util::{app, eventually, eventually_async};
use snakebox::Calls as _;

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

/// A sync call on the thread's idle store runs on the calling thread: it
/// is over when the call is made. One made while an async call is in
/// flight on that store goes to the store's worker, and runs between the
/// async call's awaits; both see one interpreter.
#[test]
fn sync_calls_run_on_the_calling_thread_while_its_store_is_idle() {
    let aio = app("aio");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        // The thread's first call waits for its store to be instantiated.
        let first = aio.call_json("recorded", &[], &[]).await;
        assert_eq!(first.expect("recorded"), json!([]));
        assert_eq!(recorded_at_once(&aio).await, json!([]));
        let slow = aio.call_json("guarded", &[json!("slow"), json!(1.0)], &[]);
        let mut slow = std::pin::pin!(slow);
        let during = tokio::select! {
            biased;
            done = &mut slow => panic!("the sync call waited for the async one: {done:?}"),
            during = aio.call_json("recorded", &[], &[]) => during.expect("recorded"),
        };
        assert_eq!(during, json!(["slow:start"]));
        assert_eq!(slow.await.expect("guarded"), json!("slow"));
        assert_eq!(
            recorded_at_once(&aio).await,
            json!(["slow:start", "slow:done", "slow:finally"])
        );
    });
}

/// `recorded()` on the thread's store once a call is over when it is made.
/// The store's worker lets go of the store just after it answers a call, so
/// a call made at once may still find it busy and go to the worker.
async fn recorded_at_once(aio: &snakebox::App) -> serde_json::Value {
    crate::util::eventually_async(
        std::time::Duration::from_secs(1),
        "no call on the idle store was over when it was made",
        || async {
            match aio.call_json("recorded", &[], &[]).now_or_never() {
                Some(done) => Ok(done.expect("recorded")),
                None => Err("the store was busy".to_owned()),
            }
        },
    )
    .await
}

/// A sync call on the calling thread inside a tokio runtime, where tokio
/// hands some wakes to that runtime's scheduler instead (WASI's sleep of
/// zero yields to tokio): the call still ends.
#[test]
fn a_call_on_the_calling_thread_that_yields_to_tokio_ends() {
    let aio = app("aio");
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        runtime.block_on(async {
            // The thread's first call waits for its store; the others run here.
            for count in [1, 1, 50] {
                let slept = aio.call_json("zero_sleeps", &[json!(count)], &[]).await;
                let _ = done.send((count, slept));
            }
        });
    });
    for count in [1, 1, 50] {
        let (sent, slept) = ended
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the call ended");
        assert_eq!(sent, count);
        assert_eq!(slept.expect("zero_sleeps"), json!(count));
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
        for round in 0..3 {
            // Wait for the reserve to be ready (the bound only catches a hang).
            eventually_async(
                std::time::Duration::from_secs(60),
                "the reserve never became ready",
                || async { ready(basics.ready_fresh(), 2) },
            )
            .await;
            let fresh = basics.fresh().expect("fresh");
            assert!(
                fresh.was_ready(),
                "round {round}: not from the ready reserve"
            );
            assert_eq!(
                fresh.call_json("count", &[], &[]).await.expect("count"),
                json!(1)
            );
            assert_eq!(
                fresh.call_json("count", &[], &[]).await.expect("count"),
                json!(2)
            );
        }
    });
}

/// Every component exports the runtime's `snakebox-lifecycle`, whose `warm`
/// the host runs on each reserved store before it counts as ready. It is
/// the host's: not listed, not callable, no prefix on a single module's call
/// names, and no clash with a module named `lifecycle`.
#[test]
fn the_runtimes_warm_export_is_the_hosts_own() {
    let basics = app("basics");
    let names: Vec<&str> = basics
        .functions()
        .iter()
        .map(|f| f.call_name.as_str())
        .collect();
    assert!(names.contains(&"count"), "{names:?}");
    assert!(
        names
            .iter()
            .all(|name| !name.contains('.') && !name.contains("warm")),
        "{names:?}"
    );
    assert!(
        matches!(
            basics.function("warm"),
            Err(snakebox::Error::NoSuchFunction(_))
        ),
        "warm is not the module's"
    );

    let lifecycle = app("lifecycle");
    lifecycle.keep_fresh(1).expect("reserve");
    eventually(
        std::time::Duration::from_secs(60),
        "the warmed reserve never became ready",
        || ready(lifecycle.ready_fresh(), 1),
    );
    let fresh = lifecycle.fresh().expect("fresh");
    assert!(fresh.was_ready());
    let staged = futures::executor::block_on(fresh.call_json("stage", &[json!("one")], &[]));
    assert_eq!(staged.expect("stage"), json!("stage one"));
    lifecycle.keep_fresh(0).expect("no reserve");
}

/// The process's threads, from `/proc`.
fn process_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads line")
}

/// Runs its body in a child process of its own, where no other test moves
/// the count of the process's threads.
#[test]
fn dropping_an_app_ends_the_stores_of_every_thread_that_called_it() {
    const CHILD: &str = "SNAKEBOX_TEST_THREAD_COUNT_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let exe = std::env::current_exe().expect("the test binary");
        let output = std::process::Command::new(exe)
            .args([
                "--exact",
                "stores::dropping_an_app_ends_the_stores_of_every_thread_that_called_it",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .expect("the child runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{text}");
        assert!(text.contains("1 passed"), "the child ran the test: {text}");
        return;
    }
    let wasm = crate::util::component("basics");
    let runtime = crate::util::runtime();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio");
    tokio.block_on(async {});
    // Loaded once first: compiling it (when no other test has yet) starts
    // wasmtime's compiler threads, which live on and are not stores.
    drop(runtime.load(&wasm).expect("loads"));
    let before = process_threads();
    for round in 0..5 {
        let app = runtime.load(&wasm).expect("loads");
        let calls: Vec<_> = (0..8)
            .map(|i| tokio.spawn(app.call_json("add", &[json!(i), json!(round)], &[])))
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            let sum = tokio.block_on(call).expect("joined").expect("add");
            assert_eq!(sum, json!(i + round));
        }
        assert!(process_threads() > before, "the calls started stores");
        drop(app);
    }
    // The stores finish on their own threads; give them a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while process_threads() > before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        process_threads(),
        before,
        "every store thread ended with its app"
    );
}

/// `Ok` once `count` stores of a reserve are ready.
fn ready(count: usize, wanted: usize) -> Result<(), String> {
    match count >= wanted {
        true => Ok(()),
        false => Err(format!("{count} of {wanted} ready")),
    }
}

/// The open descriptors of this process that lead to `dir`.
fn descriptors_of(dir: &std::path::Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target == dir)
        .count()
}

/// "`App`: the calling thread's own store, created on its first call,
/// dropped when the thread ends." A store holds its granted folder open,
/// so the folder's descriptors show whether the store lives.
#[test]
fn a_thread_s_store_is_dropped_when_the_thread_ends() {
    let folder = tempfile::tempdir().expect("a folder");
    let dir = std::fs::canonicalize(folder.path()).expect("canonical");
    let policy = snakebox::Policy {
        dirs: vec![snakebox::DirGrant {
            host: dir.clone(),
            guest: "/data".into(),
            read_only: false,
        }],
        ..snakebox::Policy::default()
    };
    let app = crate::util::app_with("hostile", policy);
    assert_eq!(descriptors_of(&dir), 0, "no store yet");
    let on_thread = app.clone();
    let seen = dir.clone();
    let held = std::thread::spawn(move || {
        let listed =
            futures::executor::block_on(on_thread.call_json("list_dir", &[json!("/data")], &[]));
        assert_eq!(listed.expect("list_dir"), json!([]));
        descriptors_of(&seen)
    })
    .join()
    .expect("the thread");
    assert!(held > 0, "the thread's store holds the folder");
    // The thread is gone, the app lives on: its store goes.
    eventually(
        std::time::Duration::from_secs(10),
        "the ended thread's store still holds the folder",
        || match descriptors_of(&dir) {
            0 => Ok(()),
            n => Err(format!("{n} descriptors")),
        },
    );
    drop(app);
}
