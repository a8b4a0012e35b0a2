//! `GET /openapi.json` of a real served component, checked by a real
//! OpenAPI validator (openapi-spec-validator, from PyPI), with real bodies
//! and replies of that server checked against its JSON Schemas.

use serde_json::{Value, json};

use crate::contract::check_openapi;
use crate::description::CORPORA;
use crate::serve::{Served, stream_request};

/// One sample for the checker: a body, whether it must fit the request
/// schema, and the reply it got.
fn sample(path: &str, body: Value, status: u16, reply: Value) -> Value {
    json!({
        "path": format!("/call/{path}"),
        "body": body,
        "body_fits": status != 400,
        "status": status,
        "reply": reply,
    })
}

#[test]
fn the_served_document_is_valid_openapi_and_fits_real_calls() {
    let server = Served::fixture("corpus", &["--workers", "1"]);
    let reply = server.get("/openapi.json");
    assert_eq!(reply.status, 200);
    let document = reply.body;
    assert_eq!(document["openapi"], "3.1.0");
    let need = &document["paths"]["/call/need"]["post"];
    assert_eq!(
        need["description"],
        "Has no default: `x` must be given, even though it may be None."
    );
    assert_eq!(need["operationId"], "need");
    for status in [
        "200", "400", "403", "404", "408", "413", "415", "422", "500", "503", "504",
    ] {
        assert!(
            need["responses"][status].is_object(),
            "no {status} response"
        );
    }
    assert!(document["components"]["schemas"]["loose-or-boxed"].is_object());

    let mut samples = Vec::new();
    for (name, count) in CORPORA {
        for i in 0..*count {
            let result = server.call(&format!("result_{name}"), &json!([i]));
            assert_eq!(result.status, 200, "result_{name}({i}): {:?}", result.body);
            let value = result.body.clone();
            samples.push(sample(
                &format!("result_{name}"),
                json!([i]),
                200,
                value.clone(),
            ));
            for body in [json!([value]), json!({ "x": value })] {
                let echoed = server.call(&format!("echo_{name}"), &body);
                assert_eq!(echoed.status, 200, "echo_{name}({body})");
                samples.push(sample(&format!("echo_{name}"), body, 200, echoed.body));
            }
        }
        let (status, _, lines) = stream_request(&server.address, &format!("stream_{name}"), "");
        assert_eq!(status, 200);
        assert_eq!(lines.len(), *count, "stream_{name}");
        for line in lines {
            samples.push(sample(&format!("stream_{name}"), json!([]), 200, line));
        }
    }
    // Bodies the host refuses must not fit the schemas either, and the
    // error replies must fit theirs.
    for (function, body) in [
        ("need", json!([])),
        ("need", json!({})),
        ("need", json!(["text"])),
        ("need", json!([1, 2])),
        ("need", json!({ "y": 1 })),
        ("echo_modes", json!(["write"])),
        ("echo_nodes", json!([{ "label": "a", "extra": 1 }])),
        (
            "echo_loose_or_boxed",
            json!([{ "boxed": { "count": "two" } }]),
        ),
    ] {
        let refused = server.call(function, &body);
        assert_eq!(
            refused.status, 400,
            "{function}({body}): {:?}",
            refused.body
        );
        samples.push(sample(function, body, 400, refused.body));
    }
    for (function, body) in [
        ("need", json!([null])),
        ("may", json!([])),
        ("may", json!({ "x": null })),
    ] {
        let reply = server.call(function, &body);
        assert_eq!(reply.status, 200, "{function}({body})");
        samples.push(sample(function, body, 200, reply.body));
    }

    // Python raised: an IndexError, as a 422 with the exception.
    let raised = server.call("result_floats", &json!([99]));
    assert_eq!(raised.status, 422, "{:?}", raised.body);
    assert_eq!(raised.body["type"], "IndexError");
    samples.push(sample("result_floats", json!([99]), 422, raised.body));

    let (printed, _) = check_openapi("corpus", &document, &samples);
    assert!(
        printed.contains(&format!("{} samples checked, 0 failed", samples.len())),
        "{printed}"
    );
}
