//! `GET /openapi.json`: the OpenAPI 3.1 document of the served component,
//! made by `snakebox_generator::openapi` from its description, so that
//! client generators and API explorers take a served module as it is. A
//! function of a component without a description gets schemas that accept
//! any JSON.

use serde_json::{Value, json};
use snakebox_generator::openapi::{self, Operation};

use crate::app::App;

/// The document, for `app`; with `token`, every operation but the
/// health check declares the bearer scheme the server requires.
pub(super) fn document(app: &App, token: bool) -> Value {
    // A function that takes or returns objects has no JSON form.
    let operations: Vec<Operation> = app
        .functions()
        .iter()
        .filter(|function| !function.uses_objects())
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
    let mut document = openapi::document(&operations, super::health::schema());
    if token {
        document["components"]["securitySchemes"] = json!({
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "the server's token (`--auth-token-file`)",
            }
        });
        document["security"] = json!([{ "bearer": [] }]);
        // Probes need no token.
        if let Some(health) = document["paths"]["/healthz"]["get"].as_object_mut() {
            health.insert("security".into(), json!([]));
        }
    }
    document
}
