//! The served OpenAPI document, held to by tools nobody here wrote:
//! schemathesis (a property-based fuzzer that sends what the document
//! allows, and checks every reply against it) against `snakebox serve` and
//! against the `--http` component, and openapi-python-client (the most used
//! Python client generator) calling the served module through the client it
//! generates. Both are pinned and installed into the test cache.

use std::path::Path;
use std::process::Command;

use crate::serve::Served;
use crate::util::{cache_dir, python_tool, root, stderr};
use crate::wasi_http::Proxy;

const FIXTURE: &str = "contract";

/// schemathesis, pinned: its checks change between releases.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// openapi-python-client, pinned, and the HTTP client its code imports.
const CLIENT_GENERATOR: &str = "openapi-python-client==0.29.1";

/// A fixed seed keeps CI stable; `scripts/fuzz-openapi.sh` runs with a
/// random one.
const SEED: &str = "20261204";

/// Runs schemathesis with every check against the server at `base`, and
/// fails with its report unless it found nothing.
///
/// The documented exceptions are the statuses a correct server gives for
/// valid input that the schema cannot foresee, declared in
/// `tests/e2e/schemathesis.toml`: `422` when the Python function itself
/// raised, and `504` past the time limit. `contract.py` is total on its
/// inputs, so neither is expected in practice.
fn schemathesis(base: &str, name: &str) {
    let tools = python_tool(SCHEMATHESIS);
    let reports = cache_dir().join("schemathesis").join(name);
    let _ = std::fs::remove_dir_all(&reports);
    let output = Command::new(snakebox::builder::python())
        .args(["-m", "schemathesis.cli"])
        .arg("--config-file")
        .arg(root().join("tests/e2e/schemathesis.toml"))
        .args(["run", &format!("{base}/openapi.json")])
        .args(["--checks", "all", "--seed", SEED, "--no-color"])
        .args(["--max-examples", "40", "--workers", "1"])
        .arg("--report-dir")
        .arg(&reports)
        // The hooks module mends a schemathesis bug with OpenAPI 3.1 tuples
        // in responses; see the module's docstring.
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env(
            "PYTHONPATH",
            pythonpath(&[&root().join("tests/e2e"), &tools]),
        )
        .current_dir(cache_dir())
        .output()
        .expect("python3 runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures against {name}:\n{printed}{}",
        stderr(&output)
    );
    // It read every operation, and none of its schemas was an error.
    assert!(!printed.contains("errored"), "{printed}");
    assert!(printed.contains("passed"), "{printed}");
    // Its summary, for `--nocapture`: how many cases it ran.
    for line in printed.lines().filter(|line| line.contains("generated")) {
        println!("schemathesis against {name}: {}", line.trim());
    }
}

#[test]
fn schemathesis_finds_nothing_against_snakebox_serve() {
    let server = Served::fixture(FIXTURE, &["--workers", "2"]);
    schemathesis(&format!("http://{}", server.address), "serve");
}

#[test]
fn schemathesis_finds_nothing_against_the_http_component() {
    let proxy = Proxy::of(FIXTURE);
    schemathesis(&format!("http://{}", proxy.address), "http");
}

#[test]
fn a_generated_python_client_calls_the_served_module() {
    let server = Served::fixture(FIXTURE, &["--workers", "1"]);
    let tools = python_tool(CLIENT_GENERATOR);
    let work = cache_dir().join("python-client");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("a folder for the client");
    let document = work.join("openapi.json");
    std::fs::write(&document, server.get("/openapi.json").body.to_string())
        .expect("write the document");
    let python = snakebox::builder::python();
    let generated = Command::new(&python)
        .args(["-m", "openapi_python_client", "generate", "--meta", "none"])
        .arg("--path")
        .arg(&document)
        .arg("--config")
        .arg(root().join("tests/e2e/python_client.yaml"))
        .arg("--output-path")
        .arg(work.join("contract_client"))
        .env("PYTHONPATH", &tools)
        .current_dir(&work)
        .output()
        .expect("python3 runs");
    let printed = String::from_utf8_lossy(&generated.stdout);
    assert!(
        generated.status.success(),
        "openapi-python-client refused the document:\n{printed}{}",
        stderr(&generated)
    );
    assert!(
        !printed.contains("Warning") && !printed.contains("Unable"),
        "openapi-python-client warned about the document:\n{printed}"
    );
    let called = Command::new(&python)
        .arg(root().join("tests/e2e/python_client.py"))
        .arg(format!("http://{}", server.address))
        .env("PYTHONPATH", pythonpath(&[&work, &tools]))
        .output()
        .expect("python3 runs");
    let printed = String::from_utf8_lossy(&called.stdout);
    assert!(
        called.status.success(),
        "the generated client failed:\n{printed}{}",
        stderr(&called)
    );
    assert!(printed.contains("5 calls answered"), "{printed}");
}

fn pythonpath(dirs: &[&Path]) -> std::ffi::OsString {
    std::env::join_paths(dirs).expect("paths join")
}
