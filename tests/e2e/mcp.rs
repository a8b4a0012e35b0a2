//! `snakebox mcp`, driven over stdio by the official MCP Python SDK's
//! client (`mcp` on PyPI, pinned, installed into the test cache), through
//! `tests/e2e/mcp_client.py`.

use std::process::Command;

use serde_json::{Value, json};

use crate::util::{cache_dir, component, python_tool, root, stderr};

/// The MCP Python SDK, pinned.
const MCP_SDK: &str = "mcp==2.3.0";

/// Runs `plan` (see `mcp_client.py`) against `snakebox mcp` serving the
/// fixture `name` with `flags`; gives one JSON value per step.
pub fn drive(name: &str, flags: &[&str], plan: &Value) -> Vec<Value> {
    let wasm = component(name);
    let mut server = vec![
        env!("CARGO_BIN_EXE_snakebox").to_owned(),
        "mcp".to_owned(),
        wasm.display().to_string(),
    ];
    server.extend(flags.iter().map(|flag| (*flag).to_owned()));
    client(("MCP_SERVER", json!(server).to_string()), plan)
}

/// Runs `plan` with the SDK's client, told where the server is by `server`
/// (`MCP_SERVER` or `MCP_URL`).
fn client(server: (&str, String), plan: &Value) -> Vec<Value> {
    let sdk = python_tool(MCP_SDK);
    let output = Command::new(snakebox::builder::python())
        .arg(root().join("tests/e2e/mcp_client.py"))
        .arg(plan.to_string())
        .env(server.0, server.1)
        .env("PYTHONPATH", &sdk)
        .env("SNAKEBOX_CACHE_DIR", cache_dir())
        .env("NO_COLOR", "1")
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the MCP client failed:\n{}",
        stderr(&output)
    );
    let steps: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON value per step"))
        .collect();
    assert_eq!(
        steps.len(),
        plan.as_array().map_or(0, Vec::len),
        "{steps:?}"
    );
    steps
}

#[test]
fn tools_are_listed_with_docs_signatures_and_the_openapi_schemas() {
    let steps = drive("basics", &["--workers", "1"], &json!([{"list": true}]));
    let tools = steps[0].as_array().expect("tools");
    let tool = |name: &str| {
        tools
            .iter()
            .find(|tool| tool["name"] == name)
            .unwrap_or_else(|| panic!("no tool {name} in {tools:?}"))
    };
    let greet = tool("greet");
    assert!(
        greet["description"].as_str().is_some_and(|d| d.contains(
            "def greet(name: str, greeting: str = ..., *, punctuation: str = ...) -> str"
        )),
        "{greet}"
    );
    assert_eq!(greet["input"]["required"], json!(["name"]));
    assert_eq!(
        greet["input"]["properties"]["greeting"],
        json!({"type": "string"})
    );
    assert_eq!(
        greet["output"]["properties"]["result"],
        json!({"type": "string"})
    );
    let add = tool("add");
    assert!(
        add["description"]
            .as_str()
            .is_some_and(|d| d.ends_with("`def add(a: int, b: int) -> int`")),
        "{add}"
    );
    assert_eq!(add["input"]["required"], json!(["a", "b"]));
}

#[test]
fn every_named_row_of_the_contract_gives_what_call_json_gives() {
    let path = root().join("tests/fixtures/contract.json");
    let table: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the table reads"))
            .expect("JSON");
    // Tools take their arguments by name: a positional body is named by
    // the parameters, unless they take `*args` or `**kwargs`.
    let contract = crate::util::app("contract");
    let named = |function: &str, body: &Value| -> Option<Value> {
        let Value::Array(values) = body else {
            return Some(body.clone());
        };
        let found = contract.function(function).expect("a function");
        let described = found.described.as_ref().expect("described").function();
        let plain = described.params.iter().all(|p| {
            !matches!(
                p.kind,
                snakebox_generator::ParamKind::VarPositional
                    | snakebox_generator::ParamKind::VarKeyword
            )
        });
        // More values than parameters have no names.
        (plain && values.len() <= described.params.len()).then(|| {
            let pairs = described.params.iter().zip(values);
            Value::Object(pairs.map(|(p, v)| (p.name.clone(), v.clone())).collect())
        })
    };
    let mut plan = Vec::new();
    let mut wanted = Vec::new();
    for row in table["rows"].as_array().expect("rows") {
        let function = row["function"].as_str().expect("a function");
        for accepted in row["accepted"].as_array().expect("accepted") {
            if let Some(arguments) = named(function, &accepted["body"]) {
                let result = match accepted.get("items") {
                    Some(items) => items.clone(),
                    None => accepted["result"].clone(),
                };
                plan.push(json!({"call": function, "arguments": arguments}));
                wanted.push(Ok(result));
            }
        }
        for refused in row["refused"].as_array().expect("refused") {
            if let Some(arguments) = named(function, &refused["body"]) {
                let fragment = refused["error"].as_str().expect("a fragment");
                plan.push(json!({"call": function, "arguments": arguments}));
                wanted.push(Err(fragment.to_owned()));
            }
        }
    }
    assert!(plan.len() > 100, "only {} rows", plan.len());
    let steps = drive("contract", &["--workers", "1"], &Value::Array(plan.clone()));
    for ((step, got), want) in plan.iter().zip(&steps).zip(&wanted) {
        match want {
            // Compared as text: 1.0 is not 1, -0.0 is not 0.0.
            Ok(result) => {
                assert_eq!(got["is_error"], false, "{step}: {got}");
                assert_eq!(
                    got["structured"]["result"].to_string(),
                    result.to_string(),
                    "{step}"
                );
                assert_eq!(
                    got["text"].as_str(),
                    Some(result.to_string().as_str()),
                    "{step}"
                );
            }
            Err(fragment) => {
                assert_eq!(got["is_error"], true, "{step}: {got}");
                assert!(
                    got["text"]
                        .as_str()
                        .is_some_and(|t| t.contains(fragment.as_str())),
                    "{step}: {got} does not say {fragment:?}"
                );
            }
        }
    }
}

#[test]
fn failures_are_tool_errors_and_the_server_serves_on() {
    let plan = json!([
        {"call": "fail", "arguments": {"message": "boom"}},
        {"call": "add", "arguments": {"a": 1}},
        {"call": "spin"},
        {"call": "flood_stdout", "arguments": {"lines": 200}},
        {"call": "add", "arguments": {"a": 2, "b": 40}},
    ]);
    let steps = drive("hostile", &["--workers", "1", "--timeout", "500ms"], &plan);
    let text = |step: &Value| step["text"].as_str().unwrap_or_default().to_owned();
    assert_eq!(steps[0]["is_error"], true);
    assert!(
        text(&steps[0]).starts_with("ValueError: boom"),
        "{}",
        steps[0]
    );
    assert!(text(&steps[0]).contains("Traceback"), "{}", steps[0]);
    assert_eq!(steps[1]["is_error"], true);
    assert!(
        text(&steps[1]).contains("missing argument `b`"),
        "{}",
        steps[1]
    );
    assert_eq!(steps[2]["is_error"], true);
    assert!(text(&steps[2]).contains("time limit"), "{}", steps[2]);
    // `print` goes to stderr: the protocol on stdout is intact.
    assert_eq!(steps[3]["is_error"], false, "{}", steps[3]);
    assert_eq!(steps[4]["structured"], json!({"result": 42}));
}

#[test]
fn async_calls_overlap_and_a_cancelled_call_reaches_finally() {
    let calls: Vec<Value> = (0..10)
        .map(|i| json!({"call": "slow_add", "arguments": {"a": i, "b": 1, "seconds": 1.0}}))
        .collect();
    let plan = json!([
        {"together": calls},
        {"cancel": "guarded", "arguments": {"seconds": 30.0}, "after": 0.5},
        {"poll": {"call": "recorded"}, "until": ["start", "cancelled"], "within": 5.0},
    ]);
    let steps = drive("hostile", &["--workers", "1"], &plan);
    let together = &steps[0];
    for (i, result) in together["results"]
        .as_array()
        .expect("results")
        .iter()
        .enumerate()
    {
        assert_eq!(result["structured"], json!({"result": i + 1}), "{result}");
    }
    // One after another they would take 10 s.
    let seconds = together["seconds"].as_f64().expect("seconds");
    assert!(seconds < 5.0, "ten 1 s calls took {seconds} s");
    assert_eq!(steps[1]["finished"], false);
    assert_eq!(
        steps[2]["structured"]["result"],
        json!(["start", "cancelled"]),
        "{}",
        steps[2]
    );
}

#[test]
fn serve_mounts_the_same_tools_at_mcp_over_streamable_http() {
    let server = crate::serve::Served::fixture("hostile", &["--workers", "1"]);
    let plan = json!([
        {"list": true},
        {"call": "add", "arguments": {"a": 2, "b": 40}},
        {"call": "fail", "arguments": {"message": "boom"}},
        {"together": [
            {"call": "slow_add", "arguments": {"a": 1, "b": 1, "seconds": 1.0}},
            {"call": "slow_add", "arguments": {"a": 2, "b": 2, "seconds": 1.0}},
            {"call": "slow_add", "arguments": {"a": 3, "b": 3, "seconds": 1.0}},
        ]},
    ]);
    let url = format!("http://{}/mcp", server.address);
    let steps = client(("MCP_URL", url), &plan);
    let names: Vec<&str> = steps[0]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert!(
        names.contains(&"add") && names.contains(&"slow_add"),
        "{names:?}"
    );
    assert_eq!(steps[1]["structured"], json!({"result": 42}));
    assert_eq!(steps[2]["is_error"], true);
    assert!(
        steps[2]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("ValueError: boom")),
        "{}",
        steps[2]
    );
    let seconds = steps[3]["seconds"].as_f64().expect("seconds");
    assert!(seconds < 2.5, "three 1 s calls took {seconds} s");
    // REST goes on beside it.
    assert_eq!(server.call("add", &json!({"a": 1, "b": 2})).body, json!(3));
}

#[test]
fn mcp_listen_speaks_streamable_http_alone() {
    use std::io::BufRead as _;
    let wasm = component("basics");
    let mut child = crate::util::snakebox_command()
        .args(["mcp", wasm.to_str().expect("utf-8")])
        .args(["--listen", "127.0.0.1:0", "--workers", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("snakebox mcp starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the endpoint");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    let steps = client(
        ("MCP_URL", url),
        &json!([{"call": "greet", "arguments": {"name": "Ada"}}]),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(steps[0]["structured"], json!({"result": "Hello, Ada!"}));
}

#[test]
fn a_generator_reports_each_item_as_progress_and_returns_them_all() {
    let plan = json!([
        {"call": "ticks", "arguments": {"n": 3}, "progress": true},
        {"call": "count", "arguments": {"n": 2}},
        {"call": "fails_after", "arguments": {"n": 1}},
    ]);
    let steps = drive("streams", &["--workers", "1"], &plan);
    assert_eq!(steps[0]["structured"], json!({"result": [0, 1, 2]}));
    assert_eq!(
        steps[0]["progress"],
        json!([
            {"progress": 1.0, "message": "0"},
            {"progress": 2.0, "message": "1"},
            {"progress": 3.0, "message": "2"},
        ])
    );
    assert_eq!(steps[1]["structured"], json!({"result": [0, 1]}));
    assert_eq!(steps[2]["is_error"], true, "{}", steps[2]);
}
