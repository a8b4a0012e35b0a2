//! Binds JSON arguments, positional and named, to a function's parameters.

use serde_json::Value;
use wasmtime::component::Val;
use wasmtime::component::types::Type;

use crate::error::{Error, Result};
use crate::json;
use crate::signature::{Function, wit_type};

/// Converts positional and `name=value` arguments to the values of a call.
/// A parameter that [`Function::may_omit`] may be left out, and is then
/// `none`; any other omission is an error.
pub fn bind(
    function: &Function,
    positional: &[Value],
    named: &[(String, Value)],
) -> Result<Vec<Val>> {
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
    for (key, value) in named {
        let wanted = key.replace('_', "-");
        let Some(index) = params
            .iter()
            .position(|(param, _)| *param == wanted || param == key)
        else {
            let known: Vec<String> = params.iter().map(|(p, _)| p.replace('-', "_")).collect();
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
        .map(|(index, ((param, ty), slot))| {
            let shown = param.replace('-', "_");
            match slot {
                Some(value) => json::to_val(ty, value).map_err(|message| {
                    Error::BadArguments(format!("argument `{shown}` of {name}(): {message}"))
                }),
                None if function.may_omit(index) => Ok(Val::Option(None)),
                None => Err(Error::BadArguments(format!(
                    "{name}() is missing argument `{shown}` ({})",
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
