//! The `snakebox` command, driven as a user would, on the README's example.

use std::time::{Duration, Instant};

use crate::util::{cache_dir, component, snakebox, stderr, stdout};

const DEMO: &str = "examples/async_demo.py";

/// The demo component, built through the library into the shared cache.
fn demo() -> String {
    component(DEMO).display().to_string()
}

#[test]
fn wit_prints_the_world() {
    let output = snakebox(&["wit", DEMO]);
    assert!(output.status.success(), "{}", stderr(&output));
    let wit = stdout(&output);
    assert!(wit.contains("package snakebox-py:async-demo;"), "{wit}");
    assert!(wit.contains("interface async-demo {"), "{wit}");
    assert!(wit.contains("world async-demo-world {"), "{wit}");
    assert!(
        wit.contains("async-function: async func() -> result<s64, python-error>;"),
        "{wit}"
    );
    assert!(
        wit.contains("add: func(a: s64, b: s64) -> result<s64, python-error>;"),
        "{wit}"
    );
    assert!(
        wit.contains("fail: func(message: string) -> result<string, python-error>;"),
        "{wit}"
    );
    assert!(wit.contains("/// Adds two integers."), "{wit}");
}

#[test]
fn wit_reports_unsupported_code_and_fails_when_nothing_is_left() {
    let dir = cache_dir().join("cli-wit");
    std::fs::create_dir_all(&dir).expect("dir");
    let partial = dir.join("partial.py");
    std::fs::write(
        &partial,
        "def ok(x: int) -> int:\n    return x\n\ndef bad(x) -> int:\n    return x\n",
    )
    .expect("write");
    let output = snakebox(&["wit", partial.to_str().expect("utf-8")]);
    assert!(output.status.success());
    let errors = stderr(&output);
    assert!(
        errors.contains("partial.py:4:9: warning[SB100]"),
        "{errors}"
    );
    assert!(errors.contains("help:"), "{errors}");
    assert!(stdout(&output).contains("ok: func(x: s64)"));

    let empty = dir.join("empty.py");
    std::fs::write(&empty, "def bad(x) -> int:\n    return x\n").expect("write");
    let output = snakebox(&["wit", empty.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("error[SB107]"),
        "{}",
        stderr(&output)
    );

    let broken = dir.join("broken.py");
    std::fs::write(&broken, "def f(:\n").expect("write");
    let output = snakebox(&["wit", broken.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("broken.py:1:7: error[SB001]"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn build_writes_a_component_that_inspect_lists() {
    let out = cache_dir().join("cli-build").join("demo.wasm");
    std::fs::create_dir_all(out.parent().expect("parent")).expect("dir");
    let output = snakebox(&["build", DEMO, "-o", out.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = snakebox(&["inspect", out.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).lines().collect::<Vec<_>>(),
        [
            "async-function: async func() -> result<s64, python-error>",
            "    async def async_function() -> int",
            "      Sleeps for a second on a real timer, then answers.",
            "add: func(a: s64, b: s64) -> result<s64, python-error>",
            "    def add(a: int, b: int) -> int",
            "      Adds two integers.",
            "fail: func(message: string) -> result<string, python-error>",
            "    def fail(message: str) -> str",
            "      Always raises, to show how Python errors reach the caller.",
        ]
    );
}

#[test]
fn call_sync_and_async_functions() {
    let demo = demo();
    let output = snakebox(&["call", &demo, "add", "2", "40"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "42");

    let started = Instant::now();
    let output = snakebox(&["call", &demo, "async_function"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "42");
    // The sleep is real: a timer, not an immediate return.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );

    let output = snakebox(&["call", &demo, "async-function"]);
    assert_eq!(stdout(&output), "42", "the WIT name is accepted too");
    let output = snakebox(&["call", &demo, "add", "a=2", "b=40"]);
    assert_eq!(stdout(&output), "42", "{}", stderr(&output));
}

#[test]
fn call_reports_python_errors_on_stderr() {
    let output = snakebox(&["call", &demo(), "fail", "\"boom\""]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "");
    let errors = stderr(&output);
    assert!(errors.contains("ValueError: boom"), "{errors}");
    assert!(
        errors.contains("Traceback (most recent call last):"),
        "{errors}"
    );
    assert!(errors.contains("in fail"), "{errors}");
}

#[test]
fn call_rejects_bad_arguments_clearly() {
    let demo = demo();
    let cases: &[(&[&str], &str)] = &[
        (&["add", "2"], "missing argument `b`"),
        (&["add", "1", "2", "3"], "takes 2 arguments, got 3"),
        (
            &["add", "2", "\"x\""],
            "argument `b` of add(): expected s64, got \"x\"",
        ),
        (&["add", "2", "x"], "is not valid JSON"),
        (&["add", "2", "c=3"], "has no parameter `c`"),
        (&["nope"], "no function `nope`"),
        (
            &["add", "1", "2", "--timeout", "99999999999999999999999s"],
            "too long a duration",
        ),
        (
            &["add", "1", "2", "--timeout", "5x"],
            "unknown duration unit",
        ),
        (&["add", "1", "2", "--memory", "1KiB"], "too small"),
        (
            &["add", "1", "2", "--dir", ":ro"],
            "must be HOST[:GUEST][:ro]",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["call", demo.as_str()];
        full.extend_from_slice(args);
        let output = snakebox(&full);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let errors = stderr(&output);
        assert!(errors.contains(expected), "{args:?}: {errors}");
        assert!(!errors.contains("panicked"), "{errors}");
    }
}

#[test]
fn run_builds_then_calls() {
    let output = snakebox(&["run", DEMO, "add", "2", "40"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "42");
}

#[test]
fn call_prints_null_for_none() {
    let basics = component("basics").display().to_string();
    let output = snakebox(&["call", &basics, "nothing"]);
    assert_eq!(stdout(&output), "null", "{}", stderr(&output));
}

#[test]
fn guest_output_reaches_the_cli() {
    let basics = component("basics").display().to_string();
    let output = snakebox(&["call", &basics, "talk", "\"hello there\""]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "\"hello there\"");
    let errors = stderr(&output);
    assert!(errors.contains("hello there"), "{errors}");
    assert!(errors.contains("logged hello there"), "{errors}");
    assert!(
        errors.contains("talk"),
        "output is tagged with the function: {errors}"
    );
}
