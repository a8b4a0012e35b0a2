//! `GET /openapi.json`: the OpenAPI 3.1 document of the served component,
//! made by `snakebox_generator::openapi` from its description, so that
//! client generators and API explorers take a served module as it is. A
//! function of a component without a description gets schemas that accept
//! any JSON.

use serde_json::{Value, json};
use snakebox_generator::openapi::{self, Operation};

use crate::app::App;

/// The document, for `app`.
pub(super) fn document(app: &App) -> Value {
    let operations: Vec<Operation> = app
        .functions()
        .iter()
        .map(|function| match &function.described {
            Some(described) => Operation::Described {
                call_name: function.call_name.clone(),
                module: described.module(),
                function: described.function(),
            },
            None => Operation::Opaque {
                call_name: function.call_name.clone(),
                signature: function.wit_signature(),
                stream: function.returns_stream(),
            },
        })
        .collect();
    openapi::document(&operations, health())
}

/// `GET /healthz`'s reply: the server's load and limits.
fn health() -> Value {
    json!({
                "type": "object",
                "properties": {
                    "status": { "const": "ok" },
                    "workers": { "type": "integer" },
                    "pending": { "type": "integer" },
                    "max_pending": { "type": "integer" },
                    "limits": {
                        "type": "object",
                        "description": "what each call may use: null is no limit",
                        "properties": {
                            "timeout_ms": { "type": ["integer", "null"] },
                            "memory_bytes": { "type": ["integer", "null"] },
                            "max_result_bytes": { "type": "integer" },
                        },
                        "required": ["timeout_ms", "memory_bytes", "max_result_bytes"],
                    },
                },
                "required": ["status", "workers", "pending", "max_pending", "limits"],
    })
}
