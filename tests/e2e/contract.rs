//! The value contract on every surface. `tests/fixtures/contract.json` says,
//! as data, which JSON each function of `contract.py` accepts and what it
//! gives back, and which JSON it refuses and how the refusal names the
//! argument and the path inside it. The same table runs through:
//! - the library (`App::call_json`, `App::stream_json`), which the CLI uses;
//! - `snakebox serve`, over real HTTP;
//! - the `--http` component, whose guest reads the JSON itself;
//! - the OpenAPI document `snakebox serve` gives: every accepted body and
//!   every reply fits its schema, and every refused body does not.

use std::sync::OnceLock;

use serde_json::{Value, json};
use snakebox::Calls as _;
use snakebox::futures::StreamExt as _;

use crate::serve::{Served, stream_request};
use crate::util::{app, cache_dir, python_tool, root, stderr};
use crate::wasi_http::Proxy;

const FIXTURE: &str = "contract";

/// What a case expects.
enum Expect {
    /// The call's result.
    Result(Value),
    /// A stream's items.
    Items(Vec<Value>),
    /// A refusal whose message holds this fragment.
    Refused(String),
}

/// One row of the table: a function, a body, and what it must give.
struct Case {
    row: String,
    function: String,
    body: Value,
    expect: Expect,
    /// `false` where the servers and the document differ on purpose (see
    /// the table's `about`).
    documented: bool,
}

/// What one surface answered.
#[derive(Debug)]
#[expect(
    dead_code,
    reason = "the fields are read through Debug, in failure messages"
)]
enum Answer {
    Result(Value),
    Items(Vec<Value>),
    /// A refusal of the arguments, with its message.
    Refused(String),
    /// Anything else: another error or status.
    Other(String),
}

/// The table's cases, read once.
fn table() -> &'static [Case] {
    static TABLE: OnceLock<Vec<Case>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let path = root().join("tests/fixtures/contract.json");
        let text = std::fs::read_to_string(&path).expect("the table reads");
        let table: Value = serde_json::from_str(&text).expect("the table is JSON");
        let mut cases = Vec::new();
        for row in table["rows"].as_array().expect("rows") {
            let name = row["row"].as_str().expect("a row name");
            let function = row["function"].as_str().expect("a function");
            for accepted in row["accepted"].as_array().expect("accepted") {
                let expect = match accepted.get("items") {
                    Some(items) => Expect::Items(items.as_array().expect("items").clone()),
                    None => Expect::Result(accepted["result"].clone()),
                };
                cases.push(Case {
                    row: name.to_owned(),
                    function: function.to_owned(),
                    body: accepted["body"].clone(),
                    expect,
                    documented: accepted["documented"] != false,
                });
            }
            for refused in row["refused"].as_array().expect("refused") {
                let error = refused["error"].as_str().expect("an error fragment");
                cases.push(Case {
                    row: name.to_owned(),
                    function: function.to_owned(),
                    body: refused["body"].clone(),
                    expect: Expect::Refused(error.to_owned()),
                    documented: refused["documented"] != false,
                });
            }
        }
        cases
    })
}

/// JSON as text: `1.0` is not `1`, and `-0.0` is not `0.0`.
fn text(values: &[Value]) -> String {
    Value::Array(values.to_vec()).to_string()
}

/// `None` when `answer` is what `case` expects, else what went wrong.
fn mismatch(surface: &str, case: &Case, answer: &Answer) -> Option<String> {
    let fits = match (&case.expect, answer) {
        (Expect::Result(want), Answer::Result(got)) => {
            text(std::slice::from_ref(want)) == text(std::slice::from_ref(got))
        }
        (Expect::Items(want), Answer::Items(got)) => text(want) == text(got),
        (Expect::Refused(fragment), Answer::Refused(message)) => message.contains(fragment),
        _ => false,
    };
    let want = match &case.expect {
        Expect::Result(value) => format!("result {value}"),
        Expect::Items(items) => format!("items {}", text(items)),
        Expect::Refused(fragment) => format!("a refusal with {fragment:?}"),
    };
    (!fits).then(|| {
        format!(
            "{surface}: {} ({}): {}({}) should give {want}, gave {answer:?}",
            case.row, case.function, case.function, case.body
        )
    })
}

/// A body as the library's positional and named arguments.
fn arguments(body: &Value) -> (Vec<Value>, Vec<(String, Value)>) {
    match body {
        Value::Array(items) => (items.clone(), Vec::new()),
        Value::Object(object) => (
            Vec::new(),
            object.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
        other => panic!("a body is an array or an object, not {other}"),
    }
}

/// Runs every case through `answer` and fails with every mismatch.
fn run_table(surface: &str, mut answer: impl FnMut(&Case) -> Answer) {
    let failures: Vec<String> = table()
        .iter()
        .filter_map(|case| mismatch(surface, case, &answer(case)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        table().len(),
        failures.join("\n")
    );
}

/// What an HTTP server answered for `case`: a call, or a stream of
/// `{"item": value}` lines.
fn over_http(address: &str, case: &Case) -> (Answer, u16, Vec<Value>) {
    let (status, _, lines) = stream_request(address, &case.function, &case.body.to_string());
    let answer = match (status, &case.expect, lines.as_slice()) {
        (200, Expect::Items(_), _) => {
            Answer::Items(lines.iter().map(|l| l["item"].clone()).collect())
        }
        (200, _, [value]) => Answer::Result(value.clone()),
        (400, _, [body]) if body["error"] == "bad_arguments" => {
            Answer::Refused(body["message"].as_str().unwrap_or_default().to_owned())
        }
        _ => Answer::Other(format!("{status} {}", text(&lines))),
    };
    (answer, status, lines)
}

#[tokio::test]
async fn the_library_follows_the_table() {
    let app = app(FIXTURE);
    let mut answers = Vec::new();
    for case in table() {
        let (positional, named) = arguments(&case.body);
        let answer = match &case.expect {
            Expect::Items(_) => {
                let items: Vec<snakebox::Result<Value>> = app
                    .stream_json(&case.function, &positional, &named)
                    .collect()
                    .await;
                match items.into_iter().collect::<snakebox::Result<Vec<Value>>>() {
                    Ok(items) => Answer::Items(items),
                    Err(snakebox::Error::BadArguments(message)) => Answer::Refused(message),
                    Err(error) => Answer::Other(error.to_string()),
                }
            }
            _ => match app.call_json(&case.function, &positional, &named).await {
                Ok(value) => Answer::Result(value),
                Err(snakebox::Error::BadArguments(message)) => Answer::Refused(message),
                Err(error) => Answer::Other(error.to_string()),
            },
        };
        answers.push(answer);
    }
    let mut answers = answers.into_iter();
    run_table("library", |_| answers.next().expect("one answer per case"));
}

#[test]
fn the_http_component_follows_the_table() {
    let proxy = Proxy::of(FIXTURE);
    run_table("--http", |case| over_http(&proxy.address, case).0);
}

#[test]
fn snakebox_serve_and_its_openapi_document_follow_the_table() {
    let server = Served::fixture(FIXTURE, &["--workers", "1"]);
    let mut samples = Vec::new();
    run_table("serve", |case| {
        let (answer, status, lines) = over_http(&server.address, case);
        let replies = match &case.expect {
            Expect::Items(_) if status == 200 => lines,
            _ => lines.into_iter().take(1).collect(),
        };
        let path = format!("/call/{}", case.function);
        if !case.documented {
            return answer;
        }
        if replies.is_empty() {
            samples.push(json!({ "path": path, "body": case.body, "body_fits": true }));
        }
        for reply in replies {
            samples.push(json!({
                "path": path,
                "body": case.body,
                "body_fits": !matches!(case.expect, Expect::Refused(_)),
                "status": status,
                "reply": reply,
            }));
        }
        answer
    });
    let document = server.get("/openapi.json").body;
    let (printed, count) = check_openapi("contract", &document, &samples);
    assert!(
        printed.contains(&format!("{count} samples checked, 0 failed")),
        "{printed}"
    );
}

/// openapi-spec-validator, which brings jsonschema.
pub(crate) const VALIDATOR: &str = "openapi-spec-validator==0.7.2";

/// Checks `document` with a real OpenAPI validator, and `samples` (bodies
/// and replies) against its JSON Schemas; returns what the checker printed
/// and how many samples there were.
pub(crate) fn check_openapi(name: &str, document: &Value, samples: &[Value]) -> (String, usize) {
    let scratch = cache_dir().join("openapi").join(name);
    std::fs::create_dir_all(&scratch).expect("dir");
    let document_file = scratch.join("openapi.json");
    let samples_file = scratch.join("samples.json");
    std::fs::write(&document_file, document.to_string()).expect("write the document");
    std::fs::write(&samples_file, Value::Array(samples.to_vec()).to_string())
        .expect("write the samples");
    // The same Python the validator was installed for.
    let output = std::process::Command::new(snakebox::builder::python())
        .arg(root().join("tests/e2e/openapi_check.py"))
        .arg(&document_file)
        .arg(&samples_file)
        .env("PYTHONPATH", python_tool(VALIDATOR))
        .output()
        .expect("python3 runs");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{printed}{}", stderr(&output));
    (printed, samples.len())
}
