//! Partly annotated modules: unannotated values cross as JSON of any shape,
//! an overloaded function runs its implementation, and `--strict` refuses
//! them as before.

use serde_json::json;

use crate::util::{app, fixture, snakebox, stderr, stdout};
use snakebox::Calls as _;

#[tokio::test]
async fn unannotated_values_cross_as_json_of_every_shape() {
    let gradual = app("gradual");
    for value in [
        json!(null),
        json!(1),
        json!(-2.5),
        json!("text"),
        json!(true),
        json!([1, "two", [3.0], null]),
        json!({ "nested": { "list": [1, 2], "empty": {} } }),
    ] {
        let echoed = gradual
            .call_json("echo", std::slice::from_ref(&value), &[])
            .await;
        assert_eq!(echoed.expect("echo"), value);
    }
    let described = gradual
        .call_json(
            "describe",
            &[json!({ "a": 1 }), json!([2, "three"])],
            &[("options".into(), json!({ "flag": true, "name": "x" }))],
        )
        .await
        .expect("describe");
    assert_eq!(described, "dict 2 ['flag', 'name']");
    let paired = gradual
        .call_json("pair", &[json!(1), json!({ "b": [null] })], &[])
        .await
        .expect("pair");
    assert_eq!(paired, json!([1, { "b": [null] }]));
    assert_eq!(
        gradual
            .call_json("double", &[json!(21)], &[])
            .await
            .expect("int"),
        42
    );
    assert_eq!(
        gradual
            .call_json("double", &[json!("ab")], &[])
            .await
            .expect("str"),
        "abab"
    );
    assert_eq!(
        gradual
            .call_json("settle", &[], &[])
            .await
            .expect("default"),
        true
    );
    // A result JSON cannot carry is a Python error, not a trap.
    let error = gradual
        .call_json("opaque", &[], &[])
        .await
        .expect_err("a set");
    let python = error.python().expect("a Python error");
    assert_eq!(python.type_name, "TypeError");
    assert!(
        python.message.contains("cannot be carried as JSON"),
        "{python}"
    );
}

#[test]
fn wit_warns_for_each_untyped_value_and_strict_refuses_them() {
    let file = fixture("gradual");
    let file = file.to_str().expect("utf-8");
    let output = snakebox(&["wit", file]);
    assert!(output.status.success(), "{}", stderr(&output));
    let warnings = stderr(&output);
    assert!(
        warnings.contains("gradual.py:8:10: warning[SB112]: `echo`: parameter `value` has no annotation; it is carried as `Any` (JSON)"),
        "{warnings}"
    );
    assert!(
        warnings.contains("warning[SB106]: `double`: it is overloaded"),
        "{warnings}"
    );
    assert!(
        warnings.contains(
            "`pair`: a bare `tuple` has no item types, and is carried as `tuple[Any, ...]`"
        ),
        "{warnings}"
    );
    assert!(
        stdout(&output)
            .contains("echo: func(value: json-value) -> result<json-value, python-error>;")
    );
    let strict = snakebox(&["wit", file, "--strict"]);
    assert_eq!(
        strict.status.code(),
        Some(1),
        "nothing is left in strict mode"
    );
    let refused = stderr(&strict);
    for code in ["SB100", "SB102", "SB106", "error[SB107]"] {
        assert!(refused.contains(code), "{code} in {refused}");
    }
    let build = snakebox(&["run", file, "echo", "1", "--strict"]);
    assert_eq!(build.status.code(), Some(1));
    assert!(
        stderr(&build).contains("nothing to build"),
        "{}",
        stderr(&build)
    );
}
