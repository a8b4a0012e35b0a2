//! The `snakebox` command, driven as a user would, on the README's example.

use std::time::{Duration, Instant};

use crate::util::{cache_dir, component, snakebox, snakebox_with_env, stderr, stdout};

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
    // Strict: an unannotated parameter is refused, as the gradual mode
    // would carry it as `Any` (see `gradual.rs`).
    let output = snakebox(&["wit", "--strict", partial.to_str().expect("utf-8")]);
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
    let output = snakebox(&["wit", "--strict", empty.to_str().expect("utf-8")]);
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
    // Exit 1: the call refused them. Exit 2: clap did, before loading
    // anything, naming the flag or ARG the value came from.
    let cases: &[(&[&str], i32, &str)] = &[
        (&["add", "2"], 1, "missing argument `b`"),
        (&["add", "1", "2", "3"], 1, "takes 2 arguments, got 3"),
        (
            &["add", "2", "\"x\""],
            1,
            "argument `b` of add(): expected s64, got \"x\"",
        ),
        (&["add", "2", "c=3"], 1, "has no parameter `c`"),
        (&["nope"], 1, "no function `nope`"),
        (&["add", "2", "x"], 2, "`x` is not valid JSON"),
        (
            &["add", "1", "2", "--timeout", "99999999999999999999999s"],
            2,
            "too long a duration",
        ),
        (
            &["add", "1", "2", "--timeout", "5x"],
            2,
            "invalid value '5x' for '--timeout <DURATION>': unknown duration unit",
        ),
        (&["add", "1", "2", "--memory", "1KiB"], 2, "too small"),
        (
            &["add", "1", "2", "--dir", ":ro"],
            2,
            "must be HOST[:GUEST][:ro]",
        ),
        (&["add", "1", "2", "--bind", "nourl"], 2, "write NAME=URL"),
    ];
    for (args, code, expected) in cases {
        let mut full = vec!["call", demo.as_str()];
        full.extend_from_slice(args);
        let output = snakebox(&full);
        assert_eq!(output.status.code(), Some(*code), "{args:?}");
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

#[test]
fn negative_numbers_are_arguments_not_flags() {
    let demo = demo();
    let output = snakebox(&["call", &demo, "add", "-1", "-41"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "-42");
    let output = snakebox(&["call", &demo, "add", "a=-1", "-2"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a positional after a keyword"
    );
    assert!(
        stderr(&output).contains("follows a keyword argument"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn call_and_run_refuse_the_serve_only_workers_flag() {
    let demo = demo();
    for args in [
        vec!["call", demo.as_str(), "add", "1", "2", "--workers", "2"],
        vec!["run", DEMO, "add", "1", "2", "--workers", "2"],
    ] {
        let output = snakebox(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains("unexpected argument '--workers'"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

/// A module that fails at import, in a folder of its own: `app.py` imports
/// `helper.py`, whose second line is not Python.
fn broken_project(name: &str) -> std::path::PathBuf {
    let dir = cache_dir().join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("app.py"),
        "import helper\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n",
    )
    .expect("write app.py");
    std::fs::write(dir.join("helper.py"), "X = 1\ndef broken(:\n    pass\n")
        .expect("write helper.py");
    dir
}

fn build_in(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    crate::util::snakebox_command()
        .args(["build", "app.py", "-o", "app.wasm"])
        .args(extra)
        .current_dir(dir)
        .output()
        .expect("snakebox runs")
}

#[test]
fn a_module_that_fails_at_import_is_a_python_error_with_its_position() {
    let dir = broken_project("cli-broken-import");
    let output = build_in(&dir, &[]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    let first = text
        .lines()
        .find(|line| !line.contains("INFO"))
        .expect("an error line");
    assert!(
        first.starts_with("helper.py:2:") && first.contains(": error: SyntaxError"),
        "{text}"
    );
    assert!(text.contains("  File \"helper.py\", line 2"), "{text}");
    for noise in [
        "Stack backtrace",
        "libc_start",
        "main.c",
        "snakebox_glue",
        "<string>",
    ] {
        assert!(!text.contains(noise), "`{noise}` in {text}");
    }
    // Logs into a pipe carry no colour codes.
    assert!(text.contains("INFO building app.py"), "{text}");
    assert!(!text.contains('\u{1b}'), "ANSI codes in {text:?}");

    let verbose = stderr(&build_in(&dir, &["--verbose"]));
    assert!(
        verbose.starts_with(
            text.trim_end_matches('\n')
                .lines()
                .next()
                .unwrap_or_default()
        )
    );
    assert!(
        verbose.contains("componentize-py's log:") && verbose.contains("Stack backtrace"),
        "{verbose}"
    );
}

#[test]
fn wit_out_writes_a_folder_that_componentize_py_takes_as_it_is() {
    let dir = cache_dir().join("cli-wit-out");
    let _ = std::fs::remove_dir_all(&dir);
    let output = snakebox(&["wit", DEMO, "--out", dir.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("world `async-demo-world`"),
        "{}",
        stderr(&output)
    );
    assert!(dir.join("world.wit").is_file());
    assert!(dir.join("deps/snakebox-runtime/runtime.wit").is_file());
    let toolchain =
        snakebox::builder::Toolchain::find_or_install(&cache_dir()).expect("componentize-py");
    let bindings = dir.with_extension("bindings");
    let _ = std::fs::remove_dir_all(&bindings);
    toolchain
        .bindings(&dir, "async-demo-world", &[], &bindings)
        .expect("componentize-py bindings accepts the folder");
    let exports = std::fs::read_dir(bindings.join("wit_world"))
        .expect("bindings were written")
        .count();
    assert!(exports > 0, "componentize-py wrote no bindings");
}

/// "`snakebox wit --out DIR` … which wit-bindgen and jco take as it is":
/// their parser (wit-parser, as wit-bindgen and wasm-tools use it) reads
/// the folder and finds the world, for functions and for classes.
#[test]
fn wit_out_folders_read_with_wit_bindgen_s_parser() {
    for (module, world, expected) in [
        (DEMO, "async-demo-world", "async-function"),
        ("examples/bank/bank.py", "bank-world", "account"),
    ] {
        let dir = cache_dir().join(format!("wit-parser-{world}"));
        let _ = std::fs::remove_dir_all(&dir);
        let output = snakebox(&["wit", module, "--out", dir.to_str().expect("utf-8")]);
        assert!(output.status.success(), "{}", stderr(&output));
        let mut resolve = wit_parser::Resolve::default();
        let (package, _) = resolve
            .push_dir(&dir)
            .unwrap_or_else(|e| panic!("{module}: {e:#}"));
        let world = resolve
            .select_world(&[package], Some(world))
            .unwrap_or_else(|e| panic!("{module}: {e:#}"));
        let exported: Vec<String> = resolve.worlds[world]
            .exports
            .keys()
            .map(|key| resolve.name_world_key(key))
            .collect();
        assert!(!exported.is_empty(), "{module}: no exports");
        let interfaces = resolve.interfaces.iter().map(|(_, i)| i);
        let named: Vec<&str> = interfaces
            .flat_map(|i| i.functions.keys().chain(i.types.keys()))
            .map(String::as_str)
            .collect();
        assert!(
            named.iter().any(|n| n.contains(expected)),
            "{module}: no `{expected}` among {named:?}"
        );
    }
}

#[test]
fn long_steps_show_a_spinner_with_the_time_at_a_terminal() {
    let dir = broken_project("cli-terminal");
    // `script` runs the build on a pseudo-terminal and copies what it shows.
    let command = format!(
        "{} build app.py -o app.wasm",
        env!("CARGO_BIN_EXE_snakebox")
    );
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("SNAKEBOX_CACHE_DIR", cache_dir())
        .current_dir(&dir)
        .output()
        .expect("script runs (util-linux)");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(
        screen.contains("\u{1b}[2K⠋ building app.py 0.0s"),
        "{screen:?}"
    );
    assert!(
        screen.contains("⠙ building app.py 0.1s"),
        "the time moves: {screen:?}"
    );
    assert!(
        screen.contains("\u{1b}[32m INFO"),
        "colour at a terminal: {screen:?}"
    );
    assert!(
        screen.contains("helper.py:2:12: error: SyntaxError"),
        "{screen:?}"
    );
}

/// Runs `snakebox` and expects success; its stdout.
fn succeeds(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = snakebox_with_env(args, env);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    stdout(&output)
}

/// Runs `snakebox` and expects exit status 1; its stderr.
fn fails(args: &[&str]) -> String {
    let output = snakebox(args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?}: {}",
        stdout(&output)
    );
    stderr(&output)
}

#[test]
fn sandbox_flags_take_effect_on_call_and_run() {
    let hostile = component("hostile").display().to_string();
    let source = "tests/fixtures/hostile.py";
    // --timeout stops a loop; --memory stops an allocation.
    let error = fails(&["call", &hostile, "spin", "--timeout", "300ms"]);
    assert!(error.contains("time limit of 300ms"), "{error}");
    let error = fails(&["run", source, "memory_bomb", "--memory", "64MiB"]);
    assert!(
        error.contains(&format!("memory limit of {} bytes", 64 << 20)),
        "{error}"
    );
    // --dir grants a folder, read-write or read-only, and nothing else.
    let dir = cache_dir().join(format!("cli-sandbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let grant = format!("{}:/data", dir.display());
    let note = "\"/data/note.txt\"";
    assert_eq!(
        succeeds(
            &[
                "call",
                &hostile,
                "write_file",
                note,
                "\"hi\"",
                "--dir",
                &grant
            ],
            &[]
        ),
        "2"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("note.txt")).expect("written on the host"),
        "hi"
    );
    let read_only = format!("{grant}:ro");
    assert_eq!(
        succeeds(
            &["run", source, "read_file", note, "--dir", &read_only],
            &[]
        ),
        "\"hi\""
    );
    let error = fails(&[
        "call",
        &hostile,
        "write_file",
        note,
        "\"no\"",
        "--dir",
        &read_only,
    ]);
    assert!(error.contains("PermissionError"), "{error}");
    let error = fails(&["call", &hostile, "read_file", note]);
    assert!(error.contains("FileNotFoundError"), "{error}");
    // --env NAME=VALUE sets a variable; --env NAME passes the host's own.
    let env = [("SNAKEBOX_TEST_SECRET", "hunter2")];
    let granted = succeeds(
        &[
            "call",
            &hostile,
            "env_names",
            "--env",
            "GRANTED=yes",
            "--env",
            "SNAKEBOX_TEST_SECRET",
        ],
        &env,
    );
    assert_eq!(granted, r#"["GRANTED","SNAKEBOX_TEST_SECRET"]"#);
    let secret = "\"SNAKEBOX_TEST_SECRET\"";
    let passed = succeeds(
        &[
            "run",
            source,
            "get_env",
            secret,
            "--env",
            "SNAKEBOX_TEST_SECRET",
        ],
        &env,
    );
    assert_eq!(passed, "\"hunter2\"");
    let error = fails(&["call", &hostile, "get_env", secret]);
    assert!(
        error.contains("KeyError"),
        "nothing is passed by default: {error}"
    );
}

#[test]
fn precompile_fills_the_cache_so_the_first_call_compiles_nothing() {
    let cache = cache_dir().join(format!("precompiled-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let cache_env = cache.to_str().expect("UTF-8 path");
    let env = [("SNAKEBOX_CACHE_DIR", cache_env)];
    let basics = component("basics").display().to_string();
    let first = snakebox_with_env(&["precompile", &basics], &env);
    assert!(first.status.success(), "{}", stderr(&first));
    // The log line the calls below must not have: a compile says it.
    assert!(
        stderr(&first).contains("compiling the component")
            && stderr(&first).contains("compiled ")
            && stderr(&first).contains(cache_env),
        "{}",
        stderr(&first)
    );
    let again = snakebox_with_env(&["precompile", &basics], &env);
    assert!(
        stderr(&again).contains("was compiled already"),
        "{}",
        stderr(&again)
    );
    // A new process with that cache: the first call compiles nothing, with
    // a time limit (whose code checks the epoch) or without.
    for limit in [&[][..], &["--timeout", "5s"]] {
        let args = [&["call", basics.as_str(), "add", "1", "2"][..], limit].concat();
        let call = snakebox_with_env(&args, &env);
        assert_eq!(stdout(&call), "3", "{}", stderr(&call));
        assert!(
            !stderr(&call).contains("compiling the component"),
            "{}",
            stderr(&call)
        );
    }
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn without_a_cache_folder_the_command_says_how_to_name_one() {
    // No HOME, as for many system services: no shared temporary folder
    // stands in for the cache.
    let output = crate::util::snakebox_command()
        .args(["run", DEMO, "add", "1", "2"])
        .env_remove("HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("SNAKEBOX_CACHE_DIR")
        .output()
        .expect("snakebox runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let errors = stderr(&output);
    assert!(errors.contains("there is no cache folder"), "{errors}");
    assert!(errors.contains("set SNAKEBOX_CACHE_DIR"), "{errors}");
}

#[test]
fn files_prints_flags_and_refuses_a_truncated_component() {
    // A component with files (python-dateutil's zoneinfo and metadata):
    // the flags print quoted.
    let options = snakebox::builder::BuildOptions {
        requirements: Some(crate::util::root().join("tests/fixtures/pypi/requirements.txt")),
        ..Default::default()
    };
    let built = snakebox::builder::build_with(
        &crate::util::fixture("tests/fixtures/pypi/dates.py"),
        &crate::util::cache_dir(),
        &options,
    )
    .expect("builds with packages")
    .wasm;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("files out");
    let _ = std::fs::remove_dir_all(&dir);
    let wasm = built.display().to_string();
    let out = dir.display().to_string();
    let output = snakebox(&["files", &wasm, &out]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let flags = stdout(&output);
    assert!(
        flags.starts_with(&format!("--dir '{}/", dir.display())),
        "quoted, for the space: {flags}"
    );
    // Cut short: an error, not "carries no files".
    let cut = dir.with_file_name("cut.wasm");
    let bytes = std::fs::read(&built).expect("reads");
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).expect("writes");
    let output = snakebox(&["files", &cut.display().to_string(), &out]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(stderr(&output).contains("cut short"), "{}", stderr(&output));
}
