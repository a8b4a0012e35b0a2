//! What `GET /functions` lists.

use serde_json::{Value, json};
use wasmtime::component::types::Type;

use crate::app::App;
use crate::component::signature::{Function, wit_type};

/// Every export of `app`, with its parameters, types and docs.
pub(super) fn functions(app: &App) -> Value {
    Value::Array(app.functions().iter().map(|f| describe(f)).collect())
}

/// A described export is listed from its description, as the generator
/// lists it for a `--http` component (defaults, docs, Python signatures,
/// the WIT names of its types, stream items); any other from its WIT types.
fn describe(function: &Function) -> Value {
    if let Some(described) = &function.described {
        let names = snakebox_generator::http::CallNames {
            call_name: function.call_name.clone(),
            qualified: function.qualified_name(),
            by_module: snakebox_generator::http::by_module(
                function.interface_name().unwrap_or_default(),
                &function.python_name,
                &function.name,
            ),
        };
        return snakebox_generator::http::describe(
            described.module(),
            described.function(),
            &names,
        );
    }
    let params: Vec<Value> = function
        .params
        .iter()
        .enumerate()
        .map(|(index, (name, ty))| {
            json!({
                "name": name.replace('-', "_"),
                "type": wit_type(ty),
                "required": !function.may_omit(index),
            })
        })
        .collect();
    let mut listed = json!({
        "name": function.call_name,
        "wit_name": function.qualified_name(),
        "async": function.is_async,
        "params": params,
        "result": result_type(function),
        "doc": function.docs(),
        "signature": function.wit_signature(),
    });
    if function.uses_objects() {
        listed["served"] = false.into();
        listed["not_served"] = format!(
            "`{}` takes or returns objects, which JSON cannot hold: call it from Rust",
            function.call_name
        )
        .into();
    }
    listed
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
