//! Python behaves as native CPython 3.14 does: each case here differed
//! once, on a module a new user would write.

use serde_json::json;
use snakebox::{Calls as _, Error};

use crate::util::{app, call, snakebox, stderr, stdout};

#[tokio::test]
async fn an_unencodable_result_raises_python_s_own_error() {
    let basics = app("basics");
    let error = call(&basics, "unencodable", &[])
        .await
        .expect_err("a lone surrogate");
    let python = error.python().unwrap_or_else(|| panic!("{error}"));
    // The exception itself, not a copy built with one argument.
    assert_eq!(python.type_name, "UnicodeEncodeError", "{python:?}");
    assert!(
        python.message.contains("surrogates not allowed"),
        "{python:?}"
    );
    assert!(
        python
            .message
            .contains("unencodable() returned a value that does not match its annotation"),
        "the context is a note: {python:?}"
    );
    assert!(
        !python.traceback.contains("snakebox_guest"),
        "runtime frames in {}",
        python.traceback
    );
    assert!(
        python.traceback.contains("UnicodeEncodeError"),
        "{python:?}"
    );
}

#[tokio::test]
async fn stand_in_modules_answer_feature_detection() {
    let basics = app("basics");
    assert_eq!(
        call(&basics, "feature_detection", &[])
            .await
            .expect("answers"),
        json!([false, true, true, true])
    );
    let error = call(&basics, "missing_attribute", &[])
        .await
        .expect_err("no windll");
    let python = error.python().unwrap_or_else(|| panic!("{error}"));
    assert_eq!(python.type_name, "AttributeError");
    assert!(
        python.message.contains("not available in the sandbox"),
        "it says why: {}",
        python.message
    );
}

#[tokio::test]
async fn logging_is_the_user_s_to_configure() {
    let basics = app("basics");
    // As natively: WARNING and no handler until `basicConfig` adds one.
    assert_eq!(
        call(&basics, "logging_config", &[]).await.expect("levels"),
        json!([30, 0, 40, 1])
    );
}

#[tokio::test]
async fn a_coroutine_that_cancels_itself_is_cancelled() {
    let aio = app("aio");
    let error = call(&aio, "cancels_itself", &[])
        .await
        .expect_err("natively, asyncio.run raises CancelledError");
    assert!(matches!(error, Error::Cancelled), "{error}");
    // The store is fine.
    assert_eq!(
        aio.call_json("sleep_echo", &[json!(7), json!(0.0)], &[])
            .await
            .expect("after"),
        7
    );
}

#[tokio::test]
async fn module_function_names_a_function_of_a_one_module_package() {
    let solo = app("solo");
    for name in ["hello", "greet.hello"] {
        assert_eq!(
            call(&solo, name, &[json!("ada")]).await.expect(name),
            json!("hello, ada"),
            "{name}"
        );
    }
}

#[test]
fn the_command_prints_a_python_error_once() {
    let basics = crate::util::component("basics").display().to_string();
    let output = snakebox(&["call", &basics, "unencodable"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "");
    let errors = stderr(&output);
    assert_eq!(
        errors.matches("does not match its annotation").count(),
        1,
        "{errors}"
    );
    assert_eq!(errors.matches("UnicodeEncodeError").count(), 1, "{errors}");
    // No frame of the user's raised it (the runtime's are left out), so
    // Python prints the exception and its note alone.
    let first = errors
        .lines()
        .find(|line| !line.contains("INFO"))
        .expect("an error line");
    assert!(
        first.starts_with("UnicodeEncodeError: 'utf-8' codec can't encode"),
        "{errors}"
    );
}

/// The private names of asyncio and componentize-py that the guest runtime
/// uses, as written in its sources.
const PRIVATE: &[&str] = &[
    "asyncio.events._",
    "_cas._",
    "._run()",
    "_must_cancel",
    "_asyncio_future_blocking",
    "_future_state",
    "_timer_handle_cancelled",
];

#[test]
fn private_cpython_names_are_used_in_one_module_that_checks_them() {
    let dir = crate::util::root().join("guest-python/snakebox_guest");
    let internals = std::fs::read_to_string(dir.join("internals.py")).expect("internals.py");
    for name in PRIVATE {
        assert!(internals.contains(name), "internals.py lists {name}");
    }
    assert!(internals.contains("\ncheck()\n"), "checked at import");
    for entry in std::fs::read_dir(&dir).expect("the runtime").flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "py") || path.ends_with("internals.py") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("reads");
        for line in text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
        {
            for name in PRIVATE {
                // An override's definition is the hook's name, not a use.
                let defines = line.trim_start().starts_with("def ") || line.contains('=');
                assert!(
                    !line.contains(name) || (defines && *name == "_timer_handle_cancelled"),
                    "{} uses {name} outside internals.py: {line}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn interleaved_async_calls_keep_their_own_half_lines() {
    use crate::serve::Served;

    // One store: the two calls interleave on its event loop. `a` prints
    // its head, then `b` prints its head and its tail while `a` sleeps.
    let server = Served::fixture("aio", &["--workers", "1", "--max-stores", "1"]);
    let address = server.address.clone();
    let slow = std::thread::spawn(move || {
        crate::serve::request(&address, "POST", "/call/halves", r#"["a", 0.5]"#)
    });
    crate::serve::wait_for_pending(&server, 1);
    let fast = server.call("halves", &json!(["b", 0.01]));
    assert_eq!((fast.status, &fast.body), (200, &json!("b")));
    let slow = slow.join().expect("thread");
    assert_eq!((slow.status, &slow.body), (200, &json!("a")));
    let log = server.log();
    for line in ["a-head-a-tail", "b-head-b-tail"] {
        assert!(log.contains(line), "no `{line}` in:\n{log}");
    }
    assert!(!log.contains("a-headb-head"), "{log}");
}
