//! Real projects: PyPI dependencies, packages with submodules, and
//! components built elsewhere, from a hand-written WIT.

use serde_json::json;
use snakebox::builder::{self, BuildOptions, Toolchain};

use crate::util::{cache_dir, call, fixture, root, runtime, snakebox, stderr, stdout};

#[tokio::test]
async fn pure_python_packages_from_pypi_are_bundled() {
    let options = BuildOptions {
        requirements: Some(root().join("tests/fixtures/pypi/requirements.txt")),
    };
    let source = fixture("tests/fixtures/pypi/dates.py");
    let built = builder::build_with(&source, &cache_dir(), &options).expect("builds with packages");
    let again = builder::build_with(&source, &cache_dir(), &options).expect("second build");
    assert!(again.cached, "the second build reuses the cache");
    let app = runtime().load(&built.wasm).expect("loads");
    let months = call(
        &app,
        "months_between",
        &[json!("2024-01-15"), json!("2025-03-20")],
    )
    .await;
    assert_eq!(months.expect("dateutil works"), json!(14));
    let described = call(&app, "describe", &[json!("a"), json!("b")])
        .await
        .expect("attrs works");
    assert_eq!(described, json!("_Span(start='a', end='b')"));
}

#[test]
fn a_package_without_a_pure_python_build_is_named_at_build_time() {
    let options = BuildOptions {
        requirements: Some(root().join("tests/fixtures/pypi/native-requirements.txt")),
    };
    let source = fixture("tests/fixtures/pypi/dates.py");
    let error = builder::build_with(&source, &cache_dir(), &options)
        .err()
        .expect("numpy cannot be bundled");
    let message = error.to_string();
    assert!(message.contains("numpy"), "{message}");
    assert!(message.contains("no pure-Python wheel"), "{message}");
}

#[tokio::test]
async fn packages_with_relative_and_lazy_imports_run() {
    let built =
        builder::build(&fixture("tests/fixtures/shop/api.py"), &cache_dir()).expect("builds");
    let app = runtime().load(&built.wasm).expect("loads");
    let names: Vec<&str> = app
        .functions()
        .iter()
        .map(|f| f.python_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["total", "report"],
        "only the entry module is exported"
    );
    assert_eq!(
        call(&app, "total", &[json!([100, 250])])
            .await
            .expect("total"),
        json!(420)
    );
    assert_eq!(
        call(&app, "report", &[json!([100, 250])])
            .await
            .expect("lazy import"),
        json!("total: 4.20")
    );
}

#[test]
fn components_built_elsewhere_are_inspected_and_called_by_their_own_types() {
    let dir = root().join("tests/fixtures/plain");
    let output = cache_dir().join("plain").join("plain.wasm");
    std::fs::create_dir_all(output.parent().expect("parent")).expect("dir");
    if !output.exists() {
        let toolchain = Toolchain::find_or_install(&cache_dir()).expect("componentize-py");
        toolchain
            .componentize(&dir.join("wit"), "plain", &[&dir], "app", &output)
            .expect("plain componentize-py build");
    }
    let wasm = output.to_str().expect("utf-8");
    let inspected = snakebox(&["inspect", wasm]);
    assert!(inspected.status.success(), "{}", stderr(&inspected));
    let listing = stdout(&inspected);
    assert!(
        listing.contains(
            "move-by: func(p: record { x: s32, y: s32 }, dx: s32) -> record { x: s32, y: s32 }"
        ),
        "{listing}"
    );
    assert!(
        listing.contains("checked-div: func(a: u32, b: u32) -> result<u32, string>"),
        "{listing}"
    );

    let cases: &[(&[&str], &str)] = &[
        (&["move_by", r#"{"x": 1, "y": 2}"#, "5"], r#"{"x":6,"y":2}"#),
        (&["next-color", r#""blue""#], r#""red""#),
        (&["area", r#"{"square": {"x": 3, "y": 4}}"#], "12.0"),
        (&["area", r#"{"circle": 1.0}"#], "3.0"),
        (&["area", r#""empty""#], "0.0"),
        (&["checked_div", "7", "2"], r#"{"ok":3}"#),
        (&["checked_div", "7", "0"], r#"{"err":"division by zero"}"#),
        (&["first_char", r#""snake""#], r#""s""#),
        (&["first_char", r#""""#], "null"),
        (&["swap", r#"["x", 7]"#], r#"[7,"x"]"#),
        (&["grant", r#"["write"]"#], r#"["read","write"]"#),
        (&["longest", r#"["a", "abc", "ab"]"#], r#""abc""#),
    ];
    for (args, expected) in cases {
        let mut full = vec!["call", wasm];
        full.extend_from_slice(args);
        let output = snakebox(&full);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert_eq!(stdout(&output), *expected, "{args:?}");
    }
    let bad = snakebox(&["call", wasm, "next_color", r#""purple""#]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("unknown case `purple`"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn wit_from_a_stub_alone() {
    let dir = cache_dir().join("stubs");
    std::fs::create_dir_all(&dir).expect("dir");
    let stub = dir.join("remote_api.pyi");
    std::fs::write(
        &stub,
        "async def fetch(url: str, retries: int = 3) -> bytes: ...\ndef parse(data: bytes) -> dict[str, int]: ...\n",
    )
    .expect("write");
    let output = snakebox(&["wit", "--from", stub.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let wit = stdout(&output);
    assert!(wit.contains("fetch: async func(url: string, retries: option<s64>) -> result<list<u8>, python-error>;"), "{wit}");
    assert!(
        wit.contains(
            "parse: func(data: list<u8>) -> result<list<tuple<string, s64>>, python-error>;"
        ),
        "{wit}"
    );
    let build = snakebox(&["build", stub.to_str().expect("utf-8"), "-o", "/dev/null"]);
    assert_eq!(build.status.code(), Some(1));
    assert!(stderr(&build).contains("is a stub"), "{}", stderr(&build));
}
