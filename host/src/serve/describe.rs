//! What `GET /functions` lists.

use serde_json::{Value, json};
use wasmtime::component::types::Type;

use crate::app::App;
use crate::signature::{Function, wit_type};

/// Every export of `app`, with its parameters, types and docs. What the
/// component's description says (defaults, docs, Python signatures, stream
/// items) is there when it has one.
pub(super) fn functions(app: &App) -> Value {
    Value::Array(app.functions().iter().map(|f| describe(f)).collect())
}

fn describe(function: &Function) -> Value {
    let described = function.described.as_ref();
    let params: Vec<Value> = function
        .params
        .iter()
        .enumerate()
        .map(|(index, (name, ty))| {
            let name = described.map_or_else(
                || name.replace('-', "_"),
                |d| d.function().params[index].name.clone(),
            );
            json!({
                "name": name,
                "type": wit_type(ty),
                "required": !function.may_omit(index),
            })
        })
        .collect();
    let mut out = json!({
        "name": function.call_name,
        "wit_name": function.qualified_name(),
        "async": function.is_async,
        "params": params,
        "result": result_type(function),
        "doc": function.docs(),
        "signature": function.wit_signature(),
    });
    if let Some(described) = described {
        out["python_signature"] = described.python_signature().into();
        out["stream"] = described.function().stream.into();
    }
    out
}

/// The type of a successful result: the `T` of `result<T, python-error>`;
/// for a described generator, the WIT type of each item.
fn result_type(function: &Function) -> Value {
    if let Some(described) = &function.described
        && described.function().stream
    {
        return Value::String(snakebox_generator::wit::type_name(
            &described.function().result,
        ));
    }
    match &function.result {
        Some(Type::Result(result)) if function.returns_python_error() => result
            .ok()
            .map_or(Value::Null, |ok| Value::String(wit_type(&ok))),
        Some(ty) => Value::String(wit_type(ty)),
        None => Value::Null,
    }
}
