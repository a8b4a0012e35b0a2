//! Binds JSON arguments, positional and named, to a function's parameters.

use serde_json::Value;
use wasmtime::component::Val;
use wasmtime::component::types::Type;

use snakebox_generator::keyword_names;

use crate::component::signature::{Function, wit_type};
use crate::error::{Error, Result};
use crate::values::json;

/// Converts positional and `name=value` arguments to the values of a call.
/// A parameter that [`Function::may_omit`] may be left out, and is then
/// `none`; any other omission is an error.
pub fn bind(
    function: &Function,
    positional: &[Value],
    named: &[(String, Value)],
) -> Result<Vec<Val>> {
    let refused = match &function.described {
        Some(described) => described
            .function()
            .json_refusal(described.module(), &function.call_name),
        None => function.uses_objects().then(|| {
            format!(
                "`{}` takes or returns objects, which JSON cannot hold: call it from Rust, \
                 with `snakebox::Object`",
                function.call_name
            )
        }),
    };
    if let Some(why) = refused {
        return Err(Error::BadArguments(why));
    }
    let params = &function.params;
    let name = &function.python_name;
    if positional.len() > params.len() {
        return Err(Error::BadArguments(format!(
            "{name}() takes {} argument{}, got {}",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            positional.len()
        )));
    }
    let mut slots: Vec<Option<&Value>> = positional.iter().map(Some).collect();
    slots.resize(params.len(), None);
    let described = function.described.as_ref().map(|d| d.function());
    let python_name = |index: usize| described.map(|d| d.params[index].name.as_str());
    // The name a message shows: Python's own when the component says it.
    let shown = |index: usize| match python_name(index) {
        Some(name) => name.to_owned(),
        None => params[index].0.replace('-', "_"),
    };
    for (key, value) in named {
        let Some(index) = (0..params.len())
            .find(|&index| keyword_names(key, python_name(index), &params[index].0))
        else {
            let known: Vec<String> = (0..params.len()).map(shown).collect();
            return Err(Error::BadArguments(format!(
                "{name}() has no parameter `{key}`; its parameters are: {}",
                if known.is_empty() {
                    "(none)".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        };
        if slots[index].is_some() {
            return Err(Error::BadArguments(format!("{name}() got `{key}` twice")));
        }
        slots[index] = Some(value);
    }
    params
        .iter()
        .zip(slots)
        .enumerate()
        .map(|(index, ((_, ty), slot))| {
            let bad = |message: String| {
                Error::BadArguments(format!(
                    "argument `{}` of {name}(): {message}",
                    shown(index)
                ))
            };
            match (slot, ty) {
                // A parameter with a Python default travels as `option<T>`,
                // `none` for "left out". A value given must be a `T`: `null`
                // is `None` only where the annotation says `Optional`.
                (Some(value), Type::Option(inner))
                    if described.is_some_and(|d| d.params[index].has_default) =>
                {
                    let value = json::to_val(&inner.ty(), value).map_err(bad)?;
                    Ok(Val::Option(Some(Box::new(value))))
                }
                (Some(value), _) => json::to_val(ty, value).map_err(bad),
                (None, _) if function.may_omit(index) => Ok(Val::Option(None)),
                (None, _) => Err(Error::BadArguments(format!(
                    "{name}() is missing argument `{}` ({})",
                    shown(index),
                    wit_type(ty)
                ))),
            }
        })
        .collect()
}

/// The JSON form of a call's result: `null` for no value.
pub fn result_json(function: &Function, value: Option<&Val>) -> Value {
    let Some(value) = value else {
        return Value::Null;
    };
    match &function.result {
        Some(Type::Result(result)) if function.returns_python_error() => match result.ok() {
            Some(ok) => json::from_val(&ok, value),
            None => Value::Null,
        },
        Some(ty) => json::from_val(ty, value),
        None => Value::Null,
    }
}
