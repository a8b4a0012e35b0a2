//! What `GET /functions` lists.

use std::collections::HashMap;

use serde_json::{Value, json};
use wasmtime::component::types::Type;

use crate::app::App;
use crate::signature::{Function, wit_type};

/// Every export of `app`, with its parameters, types and docs.
pub(super) fn functions(app: &App, docs: &HashMap<String, String>) -> Value {
    Value::Array(
        app.functions()
            .iter()
            .map(|function| describe(function, docs.get(&function.call_name)))
            .collect(),
    )
}

fn describe(function: &Function, doc: Option<&String>) -> Value {
    let params: Vec<Value> = function
        .params
        .iter()
        .map(|(name, ty)| {
            json!({
                "name": name.replace('-', "_"),
                "type": wit_type(ty),
                // An `option` may be left out: Python's default (or None) applies.
                "required": !matches!(ty, Type::Option(_)),
            })
        })
        .collect();
    json!({
        "name": function.call_name,
        "wit_name": function.qualified_name(),
        "async": function.is_async,
        "params": params,
        "result": result_type(function),
        "doc": doc,
        "signature": function.wit_signature(),
    })
}

/// The type of a successful result: the `T` of `result<T, python-error>`.
fn result_type(function: &Function) -> Value {
    match &function.result {
        Some(Type::Result(result)) if function.returns_python_error() => result
            .ok()
            .map_or(Value::Null, |ok| Value::String(wit_type(&ok))),
        Some(ty) => Value::String(wit_type(ty)),
        None => Value::Null,
    }
}
