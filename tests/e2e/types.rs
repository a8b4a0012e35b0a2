//! Every row of the README's type table round-trips through a real
//! component: Rust JSON → Python → Rust JSON unchanged, and the same through
//! the CLI. Bad values come back as clear Python errors, never traps.

use serde_json::{Value, json};

use snakebox::Calls as _;
use snakebox::futures::StreamExt as _;

use crate::util::{app, call, component, snakebox, stderr, stdout};

const FIXTURE: &str = "types_table";

async fn echo(name: &str, args: &[Value]) -> Value {
    crate::util::echo_in(FIXTURE, name, args).await
}

/// Sends `value` to an echo function and expects it back unchanged.
async fn round_trip(name: &str, value: Value) {
    assert_eq!(
        echo(name, std::slice::from_ref(&value)).await,
        value,
        "{name}"
    );
}

async fn python_error(name: &str, args: &[Value]) -> (String, String) {
    let error = call(&app(FIXTURE), name, args)
        .await
        .expect_err("the call fails");
    let python = error
        .python()
        .unwrap_or_else(|| panic!("{name}: expected a Python error, got {error}"));
    (python.type_name.clone(), python.message.clone())
}

#[tokio::test]
async fn sequences_tuples_and_mappings() {
    round_trip("echo_sequence", json!([1, -2, i64::MAX])).await;
    round_trip("echo_sequence", json!([])).await;
    round_trip("echo_iterable", json!(["a", "", "ü🐍"])).await;
    round_trip("echo_tuple", json!([7, "seven", true])).await;
    round_trip("echo_var_tuple", json!([1.5, -0.0, "NaN"])).await;
    round_trip("echo_mapping", json!({"a": [1, 2], "": []})).await;
    round_trip("echo_int_keys", json!([[1, "one"], [-2, "minus two"]])).await;
    round_trip("echo_color_counts", json!({"red": 1, "dark-blue": 2})).await;
    // A list of pairs is an object only while no key repeats: no pair is lost.
    round_trip("echo_pairs", json!([["a", 1], ["a", 2]])).await;
    round_trip("echo_pairs", json!({"a": 1, "b": 2})).await;
}

#[tokio::test]
async fn unions_are_variants_untagged_where_unambiguous() {
    round_trip("echo_union", json!(5)).await;
    round_trip("echo_union", json!("five")).await;
    for value in [
        json!(3),
        json!(2.5),
        json!("s"),
        json!(false),
        json!([1, 2]),
        json!({"x": 1.5, "y": -2.0}),
        Value::Null,
    ] {
        round_trip("echo_wide_union", value).await;
    }
    // Python sees the member type the value belongs to.
    for (value, kind) in [
        (json!(2), "int"),
        (json!(2.5), "float"),
        (json!("red"), "str"),
        (json!(true), "bool"),
        (json!({"color": "red"}), "Color"),
        (json!({"x": 0.0, "y": 1.0}), "Point"),
    ] {
        assert_eq!(
            echo("union_kind", std::slice::from_ref(&value)).await,
            json!(kind),
            "{value}"
        );
    }
    // An integer prefers the `int` case even when `float` comes first.
    round_trip("echo_float_or_int", json!(3)).await;
    round_trip("echo_float_or_int", json!(3.5)).await;
    assert_eq!(echo("float_or_int_kind", &[json!(3)]).await, json!("int"));
    assert_eq!(
        echo("float_or_int_kind", &[json!(3.0)]).await,
        json!("float")
    );
    // A string prefers the `str` case even when `bytes` comes first.
    assert_eq!(
        echo("bytes_or_str_kind", &[json!("ab")]).await,
        json!("str")
    );
    assert_eq!(
        echo("bytes_or_str_kind", &[json!([97, 98])]).await,
        json!("bytes")
    );
    // "red" alone reads as the `str` case, so a `Color` comes back tagged.
    round_trip("echo_color_or_str", json!("red")).await;
    round_trip("echo_color_or_str", json!({"color": "red"})).await;
    let error = call(&app(FIXTURE), "echo_union", &[json!([1])])
        .await
        .expect_err("a list is neither int nor str");
    assert!(
        error
            .to_string()
            .contains("expected variant { int(s64), str(string) }"),
        "{error}"
    );
}

#[tokio::test]
async fn literals_and_enums_are_wit_enums() {
    round_trip("echo_literal", json!("read")).await;
    round_trip("echo_literal", json!("read-write")).await;
    assert_eq!(
        echo("check_literal", &[json!("read-write")]).await,
        json!(true),
        "Python sees its own literal string"
    );
    let (kind, message) = python_error("bad_literal", &[]).await;
    assert_eq!(kind, "ValueError");
    assert!(message.contains("'append'"), "{message}");
    for color in ["red", "green", "dark-blue"] {
        round_trip("echo_color", json!(color)).await;
    }
    assert_eq!(
        echo("color_value", &[json!("dark-blue")]).await,
        json!("3"),
        "Python sees its own enum member"
    );
    let error = call(&app(FIXTURE), "echo_color", &[json!("blue")])
        .await
        .expect_err("no such member");
    assert!(error.to_string().contains("unknown case `blue`"), "{error}");
}

#[tokio::test]
async fn classes_are_records_with_nested_records() {
    let shape = json!({
        "name": "triangle",
        "corners": [{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 0.5}, {"x": -1.0, "y": 2.0}],
        "color": "green",
        "label": "ü",
    });
    round_trip("echo_shape", shape.clone()).await;
    round_trip(
        "echo_shape",
        json!({"name": "", "corners": [], "color": "red", "label": null}),
    )
    .await;
    assert_eq!(echo("is_shape", &[shape]).await, json!(true));
    let scaled = echo(
        "scale",
        &[
            json!({"name": "s", "corners": [{"x": 1.0, "y": 2.0}], "color": "red", "label": null}),
            json!(2.0),
        ],
    )
    .await;
    assert_eq!(scaled["corners"], json!([{"x": 2.0, "y": 4.0}]));
    round_trip("echo_movie", json!({"title": "Up", "year": 2009})).await;
    assert_eq!(
        echo("movie_kind", &[json!({"title": "Up", "year": 2009})]).await,
        json!("dict")
    );
    round_trip("echo_pair", json!({"left": -1, "right": "r"})).await;
    assert_eq!(
        echo("pair_kind", &[json!({"left": 1, "right": ""})]).await,
        json!("Pair")
    );
    // `TypedDict` keys that may be absent (`total=False`, `NotRequired`) are
    // options: absent in Python is `null` (or left out) in JSON.
    let keys =
        |options: Value, query: Value| async move { echo("option_keys", &[options, query]).await };
    assert_eq!(
        keys(json!({"name": "n"}), json!({"text": "t"})).await,
        json!(["name", "text"])
    );
    assert_eq!(
        keys(
            json!({"name": "n", "level": null, "verbose": false}),
            json!({"text": "t", "limit": 3})
        )
        .await,
        json!(["level", "name", "verbose", "limit", "text"]),
        "a key present with None stays present"
    );
    assert_eq!(
        echo(
            "echo_options",
            &[json!({"name": "n", "level": 2}), json!({"text": "t"})]
        )
        .await,
        json!([
            {"verbose": null, "name": "n", "level": 2},
            {"text": "t", "limit": null}
        ])
    );
    let (kind, message) = python_error("bad_record", &[]).await;
    assert_eq!(kind, "TypeError");
    assert!(message.contains("field 'x' of Point"), "{message}");
}

#[tokio::test]
async fn wit_keywords_and_aliases_are_carried() {
    // `class Record`, `class Stream` and fields `type`, `from_`, `list` are
    // all WIT keywords, escaped in the WIT and plain in JSON.
    let value = json!({"type": "t", "from": 3, "list": [1, 2]});
    assert_eq!(
        echo("echo_keywords", &[value.clone(), json!("true")]).await,
        json!([value, "true"])
    );
    assert_eq!(
        echo("echo_alias", &[json!([1, 2]), json!("slow")]).await,
        json!([[1, 2], "slow"])
    );
}

#[tokio::test]
async fn any_is_json() {
    for value in [
        json!({"a": [1, 2.5, null, true, "ü"], "b": {}}),
        json!([]),
        json!("text"),
        json!(-3),
        Value::Null,
    ] {
        round_trip("echo_any", value.clone()).await;
        round_trip("echo_object", value).await;
    }
    assert_eq!(echo("any_kind", &[json!({"k": 1})]).await, json!("dict"));
    assert_eq!(echo("any_kind", &[json!([1])]).await, json!("list"));
    let (kind, message) = python_error("not_json", &[]).await;
    assert_eq!(kind, "TypeError");
    assert!(message.contains("cannot be carried as JSON"), "{message}");
    let (kind, message) = python_error("huge_json", &[]).await;
    assert_eq!(kind, "OverflowError");
    assert!(
        message.contains("too large to be carried as JSON"),
        "{message}"
    );
    let (_, message) = python_error("nan_json", &[]).await;
    assert!(message.contains("cannot be carried as JSON"), "{message}");
}

#[tokio::test]
async fn argument_kinds_follow_python() {
    let app = app(FIXTURE);
    assert_eq!(echo("total", &[json!([1, 2, 3])]).await, json!(6));
    assert_eq!(echo("total", &[json!([])]).await, json!(0));
    assert_eq!(
        echo("keywords", &[json!({"a": "1", "b": "2"})]).await,
        json!(["a=1", "b=2"])
    );
    assert_eq!(
        echo("kinds", &[json!(1), json!(2), json!(3)]).await,
        json!("1-2-3")
    );
    let named = app
        .call_json(
            "kinds",
            &[json!(1)],
            &[("c".into(), json!(3)), ("b".into(), json!(2))],
        )
        .await
        .expect("b and c by name");
    assert_eq!(named, json!("1-2-3"));
    // A positional-only parameter named by the caller still reaches Python by position.
    let all_named = app
        .call_json(
            "kinds",
            &[],
            &[
                ("a".into(), json!(1)),
                ("b".into(), json!(2)),
                ("c".into(), json!(3)),
            ],
        )
        .await
        .expect("all by name");
    assert_eq!(all_named, json!("1-2-3"));
    assert_eq!(echo("total", &[]).await, json!(0), "`*values` left out");
    assert_eq!(
        echo("keywords", &[]).await,
        json!([]),
        "`**options` left out"
    );
    // Python's own defaults, not copies and not `None`.
    assert_eq!(echo("with_default", &[]).await, json!(""));
    assert_eq!(
        app.call_json("with_default", &[json!([1, 2])], &[])
            .await
            .expect("sep omitted"),
        json!("1/2")
    );
    assert_eq!(
        app.call_json("with_default", &[], &[("sep".into(), json!("-"))])
            .await
            .expect("items omitted"),
        json!("")
    );
    // Named types in defaults, `*args` and `**kwargs`.
    assert_eq!(echo("paint", &[]).await, json!("GREEN 0 - []"));
    assert_eq!(
        app.call_json(
            "paint",
            &[
                json!("red"),
                json!([{"x": 0.0, "y": 1.0}, {"x": 2.0, "y": 3.0}])
            ],
            &[
                ("label".into(), json!({"title": "Up", "year": 2009})),
                ("extra".into(), json!({"p": {"left": 7, "right": ""}})),
            ],
        )
        .await
        .expect("paint with everything"),
        json!("RED 2 Up [('p', 7)]")
    );
    // `Optional[T] = None`: leaving it out and passing `null` both give None,
    // and a value gives the value.
    assert_eq!(echo("maybe", &[]).await, json!("none"));
    assert_eq!(echo("maybe", &[Value::Null]).await, json!("none"));
    assert_eq!(echo("maybe", &[json!(4)]).await, json!("some 4"));
}

/// One case or more per row of the README's type table, each run from Rust
/// (`call_json`) and from the CLI (`snakebox call`): the row, the function,
/// its arguments as the CLI takes them (one JSON value each, or
/// `name=JSON`), and the JSON result.
pub(crate) const ROWS: &[(&str, &str, &[&str], &str)] = &[
    ("int", "echo_int", &["-5"], "-5"),
    (
        "int",
        "echo_int",
        &["9223372036854775807"],
        "9223372036854775807",
    ),
    ("float", "echo_float", &["1.5"], "1.5"),
    ("float: -0.0 survives", "echo_float", &["-0.0"], "-0.0"),
    ("float: NaN", "echo_float", &["\"NaN\""], "\"NaN\""),
    (
        "float: infinities",
        "echo_float",
        &["\"-Infinity\""],
        "\"-Infinity\"",
    ),
    ("bool", "echo_bool", &["false"], "false"),
    ("str: empty", "echo_str", &["\"\""], "\"\""),
    ("str: non-ASCII", "echo_str", &["\"ü🐍\""], "\"ü🐍\""),
    ("bytes", "echo_bytes", &["[0,1,255]"], "[0,1,255]"),
    (
        "bytes: a string is its UTF-8",
        "echo_bytes",
        &["\"aé\""],
        "[97,195,169]",
    ),
    ("bytearray", "echo_bytearray", &["[7,0]"], "[7,0]"),
    (
        "bytearray: Python gets one",
        "bytearray_kind",
        &["\"x\""],
        "\"bytearray\"",
    ),
    ("None result", "nothing", &[], "null"),
    (
        "list[T] result, Sequence[T]",
        "echo_sequence",
        &["[1,-2]"],
        "[1,-2]",
    ),
    (
        "Iterable[T], typing.List[T] result",
        "echo_iterable",
        &["[\"a\",\"\"]"],
        "[\"a\",\"\"]",
    ),
    (
        "MutableSequence[T]",
        "echo_mutable_sequence",
        &["[3]"],
        "[3]",
    ),
    ("typing.List[T]", "echo_typing_list", &["[]"], "[]"),
    (
        "tuple[A, B], typing.Tuple",
        "echo_tuple",
        &["[7,\"s\",true]"],
        "[7,\"s\",true]",
    ),
    (
        "tuple[T, ...]",
        "echo_var_tuple",
        &["[1.5,\"NaN\"]"],
        "[1.5,\"NaN\"]",
    ),
    (
        "Mapping[str, V]",
        "echo_mapping",
        &["{\"a\":[1],\"\":[]}"],
        "{\"a\":[1],\"\":[]}",
    ),
    (
        "MutableMapping[K, V]",
        "echo_mutable_mapping",
        &["{\"k\":1}"],
        "{\"k\":1}",
    ),
    (
        "typing.Dict[K, V]",
        "echo_typing_dict",
        &["{\"k\":true}"],
        "{\"k\":true}",
    ),
    (
        "dict, str keys given as pairs",
        "echo_typing_dict",
        &["[[\"k\",true]]"],
        "{\"k\":true}",
    ),
    (
        "dict, Enum keys",
        "echo_color_counts",
        &["{\"dark-blue\":1}"],
        "{\"dark-blue\":1}",
    ),
    (
        "dict, Literal keys",
        "echo_literal_keys",
        &["{\"low\":1,\"high\":2}"],
        "{\"low\":1,\"high\":2}",
    ),
    (
        "dict, other keys: pairs",
        "echo_int_keys",
        &["[[1,\"one\"]]"],
        "[[1,\"one\"]]",
    ),
    (
        "list[tuple[str, V]]: an object",
        "echo_pairs",
        &["{\"a\":1}"],
        "{\"a\":1}",
    ),
    (
        "list[tuple[str, V]]: a key repeats",
        "echo_pairs",
        &["[[\"a\",1],[\"a\",2]]"],
        "[[\"a\",1],[\"a\",2]]",
    ),
    ("Optional[T]: null", "echo_optional", &["null"], "null"),
    ("Optional[T]: a value", "echo_optional", &["4"], "4"),
    ("Union[T, None]", "echo_union_none", &["\"s\""], "\"s\""),
    ("Union: untagged", "echo_union", &["5"], "5"),
    (
        "Union: untagged record",
        "echo_wide_union",
        &["{\"x\":1.5,\"y\":0.0}"],
        "{\"x\":1.5,\"y\":0.0}",
    ),
    (
        "Union: a tagged input",
        "echo_union",
        &["{\"str\":\"5\"}"],
        "\"5\"",
    ),
    (
        "Union: tagged where ambiguous",
        "echo_color_or_str",
        &["{\"color\":\"red\"}"],
        "{\"color\":\"red\"}",
    ),
    (
        "Literal",
        "echo_literal",
        &["\"read-write\""],
        "\"read-write\"",
    ),
    ("Enum", "echo_color", &["\"dark-blue\""], "\"dark-blue\""),
    (
        "IntEnum",
        "echo_level",
        &["\"high-alert\""],
        "\"high-alert\"",
    ),
    (
        "IntEnum: Python gets its member",
        "level_kind",
        &["\"high-alert\""],
        "\"Level.HIGH_ALERT=2\"",
    ),
    ("StrEnum", "echo_tone", &["\"cool\""], "\"cool\""),
    (
        "StrEnum: Python gets its member",
        "tone_kind",
        &["\"cool\""],
        "\"Tone.COOL=cool\"",
    ),
    (
        "dataclass, nested",
        "echo_shape",
        &["{\"name\":\"t\",\"corners\":[{\"x\":1.5,\"y\":0.0}],\"color\":\"red\",\"label\":\"l\"}"],
        "{\"name\":\"t\",\"corners\":[{\"x\":1.5,\"y\":0.0}],\"color\":\"red\",\"label\":\"l\"}",
    ),
    (
        "dataclass: an Optional field left out",
        "echo_shape",
        &["{\"name\":\"t\",\"corners\":[],\"color\":\"green\"}"],
        "{\"name\":\"t\",\"corners\":[],\"color\":\"green\",\"label\":null}",
    ),
    (
        "TypedDict",
        "echo_movie",
        &["{\"title\":\"Up\",\"year\":2009}"],
        "{\"title\":\"Up\",\"year\":2009}",
    ),
    (
        "NamedTuple",
        "echo_pair",
        &["{\"left\":1,\"right\":\"r\"}"],
        "{\"left\":1,\"right\":\"r\"}",
    ),
    (
        "NotRequired, total=False: left out",
        "echo_options",
        &["{\"name\":\"n\"}", "{\"text\":\"t\"}"],
        "[{\"verbose\":null,\"name\":\"n\",\"level\":null},{\"text\":\"t\",\"limit\":null}]",
    ),
    (
        "Any",
        "echo_any",
        &["{\"a\":[1,2.5,null,true,\"ü\"],\"b\":{}}"],
        "{\"a\":[1,2.5,null,true,\"ü\"],\"b\":{}}",
    ),
    ("object", "echo_object", &["[]"], "[]"),
    (
        "alias",
        "echo_alias",
        &["[1,2]", "\"slow\""],
        "[[1,2],\"slow\"]",
    ),
    ("type X = …", "echo_ids", &["[1,2]"], "[1,2]"),
    ("a default, left out", "with_default", &[], "\"\""),
    (
        "defaults, by name",
        "with_default",
        &["sep=\"-\"", "items=[1,2]"],
        "\"1-2\"",
    ),
    ("Optional[T] = None: left out", "maybe", &[], "\"none\""),
    ("Optional[T] = None: null", "maybe", &["null"], "\"none\""),
    (
        "Optional[T] = None: a value",
        "maybe",
        &["value=4"],
        "\"some 4\"",
    ),
    ("*args", "total", &["[1,2,3]"], "6"),
    ("*args: left out", "total", &[], "0"),
    (
        "**kwargs",
        "keywords",
        &["{\"a\":\"1\",\"b\":\"2\"}"],
        "[\"a=1\",\"b=2\"]",
    ),
    ("**kwargs: left out", "keywords", &[], "[]"),
];

/// The rows whose Python result has no JSON form: the exception raised.
pub(crate) const RAISES: &[(&str, &str, &str)] = &[
    (
        "overflow",
        "OverflowError",
        "does not fit in a signed 64-bit integer",
    ),
    ("not_json", "TypeError", "cannot be carried as JSON"),
    ("nan_json", "TypeError", "cannot be carried as JSON"),
];

/// The iterator results: the items each stream yields.
pub(crate) const STREAMS: &[(&str, &str, &[&str], &[&str])] = &[
    ("Iterator[T]", "count_up", &["3"], &["0", "1", "2"]),
    (
        "Generator[T, None, None]",
        "count_words",
        &["[\"a\",\"b\"]"],
        &["\"a\"", "\"b\""],
    ),
    (
        "AsyncIterator[T]",
        "count_up_async",
        &["2"],
        &["{\"x\":0.0,\"y\":-0.0}", "{\"x\":1.0,\"y\":-1.0}"],
    ),
    (
        "AsyncGenerator[T, None]",
        "count_down_async",
        &["2"],
        &["\"dark-blue\"", "\"red\""],
    ),
];

pub(crate) fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Arguments as the CLI reads them: `name=JSON` is a keyword argument.
pub(crate) fn arguments(args: &[&str]) -> (Vec<Value>, Vec<(String, Value)>) {
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for arg in args {
        match arg.split_once('=') {
            Some((name, value)) if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                named.push((name.to_owned(), json(value)));
            }
            _ => positional.push(json(arg)),
        }
    }
    (positional, named)
}

/// `snakebox call` on the fixture's component.
fn cli(function: &str, args: &[&str]) -> std::process::Output {
    let wasm = component(FIXTURE);
    let mut command = vec!["call", wasm.to_str().expect("utf-8"), function];
    command.extend_from_slice(args);
    snakebox(&command)
}

#[tokio::test]
async fn every_row_round_trips_from_rust() {
    let app = app(FIXTURE);
    for (row, function, args, expected) in ROWS {
        let (positional, named) = arguments(args);
        let result = app
            .call_json(function, &positional, &named)
            .await
            .unwrap_or_else(|e| panic!("{row}: {function}{args:?}: {e}"));
        assert_eq!(result, json(expected), "{row}: {function}{args:?}");
    }
    for (function, kind, message) in RAISES {
        let (got_kind, got_message) = python_error(function, &[]).await;
        assert_eq!(
            (got_kind.as_str(), true),
            (*kind, got_message.contains(message)),
            "{function}: {got_message}"
        );
    }
    for (row, function, args, items) in STREAMS {
        let (positional, named) = arguments(args);
        let streamed: Vec<Value> = app
            .stream_json(function, &positional, &named)
            .map(|item| item.unwrap_or_else(|e| panic!("{row}: {e}")))
            .collect()
            .await;
        let expected: Vec<Value> = items.iter().map(|item| json(item)).collect();
        assert_eq!(streamed, expected, "{row}");
    }
}

#[test]
fn every_row_round_trips_from_the_cli() {
    for (row, function, args, expected) in ROWS {
        let output = cli(function, args);
        assert!(
            output.status.success(),
            "{row}: {function}{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(
            json(&stdout(&output)),
            json(expected),
            "{row}: {function}{args:?}"
        );
    }
    for (function, kind, message) in RAISES {
        let output = cli(function, &[]);
        assert_eq!(output.status.code(), Some(1), "{function}");
        let error = stderr(&output);
        assert!(
            error.contains(&format!("{kind}: ")) && error.contains(message),
            "{function}: {error}"
        );
    }
    // A stream prints one JSON value per line, as each item comes.
    for (row, function, args, items) in STREAMS {
        let output = cli(function, args);
        assert!(output.status.success(), "{row}: {}", stderr(&output));
        let printed: Vec<Value> = stdout(&output).lines().map(json).collect();
        let expected: Vec<Value> = items.iter().map(|item| json(item)).collect();
        assert_eq!(printed, expected, "{row}");
    }
}
