//! The description a built component carries, and what the host reads from
//! it: one JSON shape in every position, defaults, docs, and clear refusals
//! of descriptions that are unknown, corrupt or disagree with the WIT.

use serde_json::{Value, json};
use snakebox::Calls as _;
use snakebox::{Error, Policy};
use snakebox_generator::Type;
use snakebox_generator::description::{self, Description};

use crate::serve::Served;
use crate::util::{app, component, runtime, snakebox, stderr, stdout};

/// Each corpus of `tests/fixtures/corpus.py`, with its number of values.
pub const CORPORA: &[(&str, usize)] = &[
    ("loose_or_boxed", 2),
    ("float_or_int", 4),
    ("bytes_or_str", 4),
    ("keyed", 2),
    ("pairs", 3),
    ("color_counts", 1),
    ("int_keys", 1),
    ("floats", 5),
    ("maybe", 3),
    ("modes", 2),
    ("any", 5),
    ("nodes", 2),
    ("wide", 7),
    ("movies", 2),
    ("named_pairs", 2),
    ("held", 7),
];

async fn items(name: &str, args: &[Value]) -> Vec<Value> {
    crate::util::items_of("corpus", name, args).await
}

#[tokio::test]
async fn every_value_reads_the_same_as_result_stream_item_argument_and_field() {
    let corpus = app("corpus");
    for (name, count) in CORPORA {
        let mut results = Vec::new();
        for i in 0..*count {
            let value = corpus
                .call_json(&format!("result_{name}"), &[json!(i)], &[])
                .await
                .unwrap_or_else(|e| panic!("result_{name}({i}): {e}"));
            results.push(value);
        }
        let streamed = items(&format!("stream_{name}"), &[]).await;
        assert_eq!(streamed, results, "{name}: stream items against results");
        for value in &results {
            let echoed = corpus
                .call_json(&format!("echo_{name}"), std::slice::from_ref(value), &[])
                .await
                .unwrap_or_else(|e| panic!("echo_{name}({value}): {e}"));
            assert_eq!(&echoed, value, "{name}: an argument reads back as itself");
        }
    }
    // The two records of one shape keep their case apart, in every position.
    let boxed = json!({"boxed": {"count": 2}});
    let held = corpus
        .call_json("result_held", &[json!(1)], &[])
        .await
        .expect("held");
    assert_eq!(held["loose-or-boxed"], boxed);
    assert_eq!(items("stream_loose_or_boxed", &[]).await[1], boxed);
}

#[test]
fn the_cli_prints_what_call_json_gives() {
    let wasm = component("corpus");
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    for (name, count) in CORPORA {
        for i in 0..*count {
            let function = format!("result_{name}");
            let expected = tokio
                .block_on(app("corpus").call_json(&function, &[json!(i)], &[]))
                .expect("call_json");
            let output = snakebox(&[
                "call",
                wasm.to_str().expect("utf-8"),
                &function,
                &i.to_string(),
            ]);
            assert!(
                output.status.success(),
                "{function}({i}): {}",
                stderr(&output)
            );
            let printed: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
            assert_eq!(printed, expected, "{function}({i})");
        }
    }
}

#[tokio::test]
async fn an_optional_parameter_without_a_default_must_be_given() {
    let corpus = app("corpus");
    let error = corpus
        .call_json("need", &[], &[])
        .await
        .expect_err("x is required");
    assert!(
        matches!(&error, Error::BadArguments(m) if m.contains("missing argument `x`")),
        "{error}"
    );
    assert_eq!(
        corpus
            .call_json("need", &[Value::Null], &[])
            .await
            .expect("None"),
        -1
    );
    assert_eq!(
        corpus.call_json("need", &[json!(3)], &[]).await.expect("3"),
        3
    );
    // With a default, leaving it out gives Python's default; null is None.
    assert_eq!(corpus.call_json("may", &[], &[]).await.expect("default"), 5);
    assert_eq!(
        corpus
            .call_json("may", &[Value::Null], &[])
            .await
            .expect("None"),
        -1
    );
    let output = snakebox(&["call", component("corpus").to_str().expect("utf-8"), "need"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("missing argument `x`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_served_component_lists_defaults_docs_and_python_signatures() {
    let server = Served::fixture("corpus", &["--workers", "1"]);
    let reply = server.get("/functions");
    assert_eq!(reply.status, 200);
    let functions = reply.body.as_array().expect("a list");
    let find = |name: &str| {
        functions
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} is listed"))
            .clone()
    };
    let need = find("need");
    assert_eq!(
        need["params"][0],
        json!({"name": "x", "type": "option<s64>", "required": true})
    );
    assert_eq!(
        need["doc"],
        "Has no default: `x` must be given, even though it may be None."
    );
    assert_eq!(need["python_signature"], "def need(x: int | None) -> int");
    assert_eq!(find("may")["params"][0]["required"], false);
    let stream = find("stream_loose_or_boxed");
    assert_eq!(stream["stream"], true);
    assert_eq!(stream["result"], "loose-or-boxed");
    assert_eq!(
        stream["python_signature"],
        "def stream_loose_or_boxed() -> Iterator[Loose | Boxed]"
    );
}

/// The component's bytes without its description, which `append` wrote as
/// the last section: an id, the payload's size, then the name and the data.
fn without_description(bytes: &[u8]) -> Vec<u8> {
    let data = description::find(&mut std::io::Cursor::new(bytes))
        .expect("well formed")
        .expect("a built component is described");
    assert!(
        bytes.ends_with(&data),
        "the description is the last section"
    );
    let payload = 1 + description::SECTION.len() + data.len();
    let size_len = (1..=5)
        .find(|n| payload < 1 << (7 * n))
        .expect("a u32 size");
    bytes[..bytes.len() - 1 - size_len - payload].to_vec()
}

fn corpus_parts() -> (Vec<u8>, Description) {
    let bytes = std::fs::read(component("corpus")).expect("read the component");
    let data = description::find(&mut std::io::Cursor::new(&bytes))
        .expect("well formed")
        .expect("described");
    let description = Description::from_bytes(&data).expect("decodes");
    (without_description(&bytes), description)
}

fn load_with(bare: &[u8], description: Option<&Description>) -> snakebox::Result<snakebox::App> {
    let mut bytes = bare.to_vec();
    if let Some(description) = description {
        description::append(&mut bytes, description);
    }
    runtime().load_bytes(&bytes, Policy::default())
}

fn bad_component(result: snakebox::Result<snakebox::App>) -> String {
    match result {
        Err(error @ Error::BadComponent(_)) => crate::util::chain(&error),
        Err(other) => panic!("expected a bad component, got {other}"),
        Ok(_) => panic!("expected a bad component, and it loaded"),
    }
}

#[tokio::test]
async fn a_component_without_description_is_read_from_its_wit_types() {
    let (bare, _) = corpus_parts();
    let plain = load_with(&bare, None).expect("loads");
    assert!(plain.functions().iter().all(|f| f.described.is_none()));
    // As before descriptions: any `option` may be left out.
    assert_eq!(
        plain.call_json("need", &[], &[]).await.expect("omitted"),
        -1
    );
    let boxed = plain
        .call_json("result_loose_or_boxed", &[json!(1)], &[])
        .await
        .expect("a union result");
    assert_eq!(boxed, json!({"boxed": {"count": 2}}));
}

/// A component built elsewhere: its operations' schemas accept any JSON,
/// and the server still types the call by the WIT.
#[test]
fn a_component_without_description_is_served_with_open_schemas() {
    let (bare, _) = corpus_parts();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-bare.wasm");
    std::fs::write(&path, &bare).expect("written");
    let server = Served::start(&path, &["--workers", "1"]);
    let document = server.get("/openapi.json").body;
    let need = &document["paths"]["/call/need"]["post"];
    let schema = &need["requestBody"]["content"]["application/json"]["schema"];
    let keys: Vec<&String> = schema.as_object().expect("a schema").keys().collect();
    assert_eq!(keys, ["description"], "any JSON: {schema}");
    assert_eq!(server.call("need", &json!([])).body, json!(-1));
    let refused = server.call("need", &json!(["not a number"]));
    assert_eq!(refused.status, 400, "{:?}", refused.body);
}

#[test]
fn an_unknown_or_corrupt_description_is_a_clear_load_error() {
    let (bare, description) = corpus_parts();
    let mut newer = description.clone();
    newer.version = 99;
    let message = bad_component(load_with(&bare, Some(&newer)));
    assert!(
        message.contains("version 99") && message.contains("version 1"),
        "{message}"
    );

    // Raw bytes that are not a description at all.
    let mut corrupt = bare.clone();
    let payload = [
        &[description::SECTION.len() as u8][..],
        description::SECTION.as_bytes(),
        b"{\"version\": 1, \"mod",
    ]
    .concat();
    corrupt.push(0);
    corrupt.push(payload.len() as u8);
    corrupt.extend_from_slice(&payload);
    let message = bad_component(runtime().load_bytes(&corrupt, Policy::default()));
    assert!(message.contains("description is corrupt"), "{message}");

    // From a file, the error names it.
    let file = crate::util::cache_dir()
        .join("description")
        .join("newer.wasm");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("dir");
    let mut bytes = bare.clone();
    description::append(&mut bytes, &newer);
    std::fs::write(&file, bytes).expect("write");
    let message = match runtime().load(&file) {
        Err(error @ Error::BadComponent(_)) => crate::util::chain(&error),
        Err(other) => panic!("expected a bad component, got {other}"),
        Ok(_) => panic!("a newer description loaded"),
    };
    assert!(
        message.contains("newer.wasm") && message.contains("version 99"),
        "{message}"
    );
}

#[test]
fn a_description_that_disagrees_with_the_wit_is_refused() {
    let (bare, description) = corpus_parts();
    let edit = |change: &dyn Fn(&mut Description)| {
        let mut edited = description.clone();
        change(&mut edited);
        bad_component(load_with(&bare, Some(&edited)))
    };
    let function = |d: &mut Description, name: &str| -> usize {
        d.modules[0]
            .functions
            .iter()
            .position(|f| f.name == name)
            .expect("function")
    };

    let message = edit(&|d| {
        let i = function(d, "need");
        d.modules[0].functions[i].params[0].ty = Type::Str;
    });
    assert!(
        message.contains("`need`") && message.contains("parameter `x`"),
        "{message}"
    );

    let message = edit(&|d| {
        let i = function(d, "may");
        d.modules[0].functions[i].params[0].has_default = false;
    });
    assert!(
        message.contains("`may`") && message.contains("option<s64>"),
        "{message}"
    );

    let message = edit(&|d| {
        let i = function(d, "result_held");
        d.modules[0].functions.remove(i);
    });
    assert!(
        message.contains("corpus#result-held`") && message.contains("not described"),
        "{message}"
    );

    let message = edit(&|d| {
        let mut extra = d.modules[0].functions[0].clone();
        extra.wit_name = "ghost".into();
        d.modules[0].functions.push(extra);
    });
    assert!(
        message.contains("ghost") && message.contains("not exported"),
        "{message}"
    );

    let message = edit(&|d| {
        for def in &mut d.modules[0].types {
            if let snakebox_generator::TypeDefKind::Record { fields, .. } = &mut def.kind
                && def.wit_name == "node"
            {
                fields[0].wit_name = "name".into();
            }
        }
    });
    assert!(
        message.contains("`node`") && message.contains("field `name`"),
        "{message}"
    );
}
