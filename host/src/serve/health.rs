//! `GET /healthz`: the server's load and limits, one Rust type serialized
//! with serde, and the JSON Schema the OpenAPI document gives it, tested
//! to name exactly the fields the type writes (and the same for the error
//! bodies, whose schemas the generator writes).

use serde::Serialize;
use serde_json::{Value, json};

/// The body of `GET /healthz`.
#[derive(Serialize)]
pub(super) struct Health {
    /// Always `"ok"`: the server answers.
    pub(super) status: &'static str,
    /// The stores the server keeps.
    pub(super) workers: usize,
    /// The stores alive now, including those started on demand.
    pub(super) stores: usize,
    /// The most stores the server starts.
    pub(super) max_stores: usize,
    /// Calls waiting for a store.
    pub(super) pending: usize,
    /// The most calls that may wait.
    pub(super) max_pending: usize,
    /// What each call may use.
    pub(super) limits: Limits,
}

/// What each call may use: `None` is no limit.
#[derive(Serialize)]
pub(super) struct Limits {
    pub(super) timeout_ms: Option<u128>,
    pub(super) memory_bytes: Option<u64>,
    pub(super) max_result_bytes: usize,
}

/// The schema of [`Health`].
pub(super) fn schema() -> Value {
    let count = || json!({ "type": "integer", "minimum": 0 });
    let limit = || json!({ "type": ["integer", "null"], "minimum": 0 });
    json!({
        "type": "object",
        "properties": {
            "status": { "const": "ok" },
            "workers": count(),
            "stores": count(),
            "max_stores": count(),
            "pending": count(),
            "max_pending": count(),
            "limits": {
                "type": "object",
                "description": "what each call may use: null is no limit",
                "properties": {
                    "timeout_ms": limit(),
                    "memory_bytes": limit(),
                    "max_result_bytes": count(),
                },
                "required": ["timeout_ms", "memory_bytes", "max_result_bytes"],
                "additionalProperties": false,
            },
        },
        "required": ["status", "workers", "stores", "max_stores", "pending", "max_pending", "limits"],
        "additionalProperties": false,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use snakebox_generator::openapi;
    use snakebox_generator::replies::{ErrorBody, ErrorKind};

    use super::{Health, Limits, schema};

    /// The keys of an object, sorted, and those a schema lists, both as
    /// `properties` and as `required`.
    fn same_keys(value: &Value, schema: &Value) {
        let mut written: Vec<&String> = value.as_object().expect("an object").keys().collect();
        let mut properties: Vec<&String> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .collect();
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        written.sort();
        properties.sort();
        required.sort_unstable();
        assert_eq!(written, properties);
        assert_eq!(
            written.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            required
        );
    }

    #[test]
    fn the_schema_names_every_field_the_body_has() {
        let health = Health {
            status: "ok",
            workers: 2,
            stores: 3,
            max_stores: 8,
            pending: 0,
            max_pending: 64,
            limits: Limits {
                timeout_ms: Some(5000),
                memory_bytes: None,
                max_result_bytes: 1 << 20,
            },
        };
        let value = serde_json::to_value(&health).expect("serializes");
        let schema = schema();
        same_keys(&value, &schema);
        same_keys(&value["limits"], &schema["properties"]["limits"]);
        assert_eq!(value["limits"]["memory_bytes"], json!(null));
    }

    /// The other fixed bodies are described by the generator's document:
    /// the same check holds them to the types `serve` writes.
    #[test]
    fn the_error_schemas_name_every_field_the_bodies_have() {
        let python = crate::error::PythonError {
            type_name: "ValueError".into(),
            message: "boom".into(),
            traceback: "Traceback".into(),
        };
        let value = serde_json::to_value(&python).expect("serializes");
        same_keys(&value, &openapi::python_error());
        let schema = openapi::error_body();
        let kinds = &schema["properties"]["error"]["enum"];
        for kind in ErrorKind::ALL {
            let value = serde_json::to_value(ErrorBody::new(kind, "m")).expect("serializes");
            same_keys(&value, &schema);
            assert!(
                kinds
                    .as_array()
                    .is_some_and(|k| k.contains(&value["error"])),
                "{value} is not in {kinds}"
            );
        }
        assert_eq!(kinds.as_array().map(Vec::len), Some(ErrorKind::ALL.len()));
    }
}
