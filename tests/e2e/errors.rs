//! Python exceptions come back as typed errors, and the store survives them.

use serde_json::json;
use snakebox::Error;

use crate::util::{app, call};

/// The store that just raised answers the next call.
async fn still_serves(app: &snakebox::App) {
    let sum = call(app, "add", &[json!(1), json!(2)]).await.expect("add");
    assert_eq!(sum, json!(3));
}

#[tokio::test]
async fn a_raise_is_a_python_error_and_the_store_survives() {
    let basics = app("basics");
    let error = call(&basics, "fail", &[json!("boom")])
        .await
        .expect_err("fail raises");
    let python = error.python().expect("a Python error");
    assert_eq!(python.type_name, "ValueError");
    assert_eq!(python.message, "boom");
    assert!(
        python
            .traceback
            .starts_with("Traceback (most recent call last):"),
        "{}",
        python.traceback
    );
    // The frame that raised, by file and line (the sandbox has no source
    // files to quote lines from).
    assert!(
        python.traceback.contains("basics.py\", line 16, in fail\n"),
        "{}",
        python.traceback
    );
    assert!(
        python.traceback.trim_end().ends_with("ValueError: boom"),
        "{}",
        python.traceback
    );
    assert!(
        !python.traceback.contains("snakebox_guest"),
        "runtime frames are hidden"
    );
    // Same thread, same store: it keeps serving.
    still_serves(&basics).await;
}

#[tokio::test]
async fn results_that_break_the_annotation_are_errors_not_traps() {
    let basics = app("basics");
    let error = call(&basics, "too_big", &[])
        .await
        .expect_err("2**70 does not fit");
    let python = error.python().expect("a Python error");
    assert_eq!(python.type_name, "OverflowError");
    assert!(
        python
            .message
            .contains("does not fit in a signed 64-bit integer"),
        "{}",
        python.message
    );

    let error = call(&basics, "wrong_type", &[])
        .await
        .expect_err("a str is not an int");
    let python = error.python().expect("a Python error");
    assert_eq!(python.type_name, "TypeError");
    assert!(
        python.message.contains("wrong_type() returned"),
        "{}",
        python.message
    );
    still_serves(&basics).await;
}

#[tokio::test]
async fn async_raises_are_python_errors() {
    let aio = app("aio");
    let error = call(&aio, "raises_later", &[json!("missing")])
        .await
        .expect_err("raises");
    let python = error.python().expect("a Python error");
    assert_eq!(python.type_name, "KeyError");
    assert_eq!(python.message, "'missing'");
    assert_eq!(
        call(&aio, "sleep_echo", &[json!(5), json!(0.0)])
            .await
            .expect("next call"),
        json!(5)
    );
}

#[tokio::test]
async fn bad_arguments_never_reach_the_guest() {
    let basics = app("basics");
    let cases = [
        ("add", vec![json!(1)], "missing argument `b`"),
        ("add", vec![json!(1), json!(2.5)], "expected s64"),
        ("add", vec![json!(1), json!(1e30)], "expected s64"),
        ("stats", vec![json!([1, "x"])], "at [1]"),
        ("echo_str", vec![json!(["no"])], "expected string"),
    ];
    for (name, args, expected) in cases {
        let error = call(&basics, name, &args).await.expect_err(name);
        assert!(matches!(error, Error::BadArguments(_)), "{name}: {error}");
        assert!(error.to_string().contains(expected), "{name}: {error}");
    }
    let error = call(&basics, "missing", &[])
        .await
        .expect_err("no such function");
    assert!(matches!(error, Error::NoSuchFunction(_)), "{error}");
}

#[tokio::test]
async fn modules_the_sandbox_lacks_import_and_raise_when_used() {
    // `basics` imports bz2, lzma and ctypes at the top, as packages do; the
    // build succeeded, and each says what is missing when it is used.
    let basics = app("basics");
    for (function, args, what) in [
        ("compressed", vec![json!("abc"), json!("bz2")], "bz2"),
        ("compressed", vec![json!("abc"), json!("lzma")], "lzma"),
        ("c_int_value", vec![], "ctypes"),
    ] {
        let error = call(&basics, function, &args)
            .await
            .expect_err("unavailable");
        let python = error.python().unwrap_or_else(|| panic!("{what}: {error}"));
        assert_eq!(python.type_name, "ModuleNotFoundError", "{what}");
        assert!(
            python
                .message
                .starts_with(&format!("{what} is not available in the sandbox")),
            "{what}: {}",
            python.message
        );
    }
    // What ctypes knows without its C half: the sizes of wasm32's C types.
    assert_eq!(
        call(&basics, "c_sizes", &[]).await.expect("sizes"),
        json!([4, 8])
    );
    still_serves(&basics).await;
}
