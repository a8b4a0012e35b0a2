//! Support for the typed bindings that `snakebox-generator` emits.
//!
//! The bindings carry the module's description and check it once against
//! the loaded component ([`bind`]). Each call then lowers its Rust
//! arguments straight to WIT values and lifts the result back ([`Lower`],
//! [`Lift`]), with no JSON in between. A generator's items are written as
//! JSON by the guest, so they are read with serde ([`stream`], [`from_json`]).

mod lenient;
mod values;

use std::sync::Arc;

use futures::{Stream, StreamExt as _};
use serde::de::DeserializeOwned;
use serde_json::Value;
use snakebox_generator::Module;
use wasmtime::component::Val;

use crate::app::{App, JsonStream};
use crate::component::described;
use crate::component::signature::{self, Function};
use crate::error::{Detail, Error, Result};

pub use lenient::from_json;
pub use values::{Lift, Lower, field, mismatch};

/// The functions of `app` that the bindings call, in the order of the
/// module's description `description` (JSON, as the bindings embed it),
/// each checked against its WIT signature; the first mismatch is the error.
pub fn bind(app: &App, description: &str) -> Result<Arc<[Arc<Function>]>> {
    let module: Module = serde_json::from_str(description).map_err(|e| {
        Error::BadComponent(Detail::caused_by(
            "the bindings' description cannot be read",
            e,
        ))
    })?;
    for class in &module.classes {
        check_class(app, &module, class)?;
    }
    module
        .functions
        .iter()
        .map(|expected| {
            let function = app
                .functions()
                .iter()
                .find(|f| {
                    f.interface_name() == Some(module.wit_name.as_str())
                        && f.name == expected.wit_name
                })
                .ok_or_else(|| {
                    Error::BadComponent(Detail::new(format!(
                        "the component does not match the bindings: it has no function `{}` in `{}`",
                        expected.name, module.wit_name
                    )))
                })?;
            described::check(function, &module, expected).map_err(|what| {
                Error::BadComponent(Detail::new(format!(
                    "the component does not match the bindings: `{}`: {what}",
                    expected.name
                )))
            })?;
            Ok(Arc::clone(function))
        })
        .collect()
}

/// Checks that the component has `class`, each member with the signature
/// the bindings expect.
fn check_class(app: &App, module: &Module, class: &snakebox_generator::Class) -> Result<()> {
    let differ = |what: String| {
        Error::BadComponent(Detail::new(format!(
            "the component does not match the bindings: {what}"
        )))
    };
    let found = app
        .classes()
        .iter()
        .find(|c| {
            c.wit_name == class.wit_name
                && c.interface.as_deref().map(signature::short_interface)
                    == Some(module.wit_name.as_str())
        })
        .ok_or_else(|| differ(format!("it has no class `{}`", class.name)))?;
    let expected =
        std::iter::once(&class.constructor).chain(class.methods.iter().map(|m| &m.function));
    for function in expected {
        let member = match function.name.as_str() {
            "__init__" => found.constructor(),
            name => found.member(name),
        }
        .ok_or_else(|| differ(format!("`{}` has no `{}`", class.name, function.name)))?;
        described::check(member, module, function)
            .map_err(|what| differ(format!("`{}.{}`: {what}", class.name, function.name)))?;
    }
    Ok(())
}

/// Lifts the value of a typed call into the Rust type the bindings promise;
/// a function that returns nothing gives `()`.
pub fn lift<T: Lift>(value: Option<Val>) -> Result<T> {
    T::lift(value.unwrap_or(Val::Tuple(Vec::new()))).map_err(|e| {
        Error::Other(anyhow::anyhow!(
            "the result does not match the bindings' type: {e}"
        ))
    })
}

/// The error of a call whose value (which may hold objects) does not have
/// the shape the bindings promise.
pub fn wrong_shape(what: &str) -> Error {
    Error::Other(anyhow::anyhow!(
        "the result does not match the bindings' type: {what}"
    ))
}

/// Reads the next argument of a host function into the type the trait
/// declares; a mismatch is the guest's `HostError`, naming the parameter.
pub fn host_arg<T: DeserializeOwned>(
    args: &mut impl Iterator<Item = Value>,
    name: &str,
) -> std::result::Result<T, crate::HostError> {
    let value = args.next().unwrap_or(Value::Null);
    from_json(&value).map_err(|e| {
        crate::HostError::new(format!(
            "the argument `{name}` ({value}) cannot be read: {e}"
        ))
    })
}

/// A host function's typed result as the JSON the host hands the guest.
pub fn host_result<T: serde::Serialize>(value: T) -> crate::HostResult {
    serde_json::to_value(value)
        .map_err(|e| crate::HostError::new(format!("the result cannot be written as JSON: {e}")))
}

/// Deserializes a generator's item into the Rust type the bindings promise.
fn item<T: DeserializeOwned>(value: Value) -> Result<T> {
    from_json(&value).map_err(|e| {
        Error::Other(anyhow::anyhow!(
            "the item {value} does not match the bindings' type: {e}"
        ))
    })
}

/// The items of a typed generator call, each deserialized with serde.
pub fn stream<T: DeserializeOwned + Send + 'static>(
    stream: JsonStream,
) -> impl Stream<Item = Result<T>> + Send + 'static {
    stream.map(|next| next.and_then(item))
}
