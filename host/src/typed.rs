//! Support for the typed bindings that `snakebox-generator` emits: values
//! cross as JSON through serde, typed on both ends.

use futures::{Stream, StreamExt as _};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app::JsonStream;
use crate::error::{Error, Result};

/// Serializes an argument of a typed call.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    serde_json::to_value(value)
        .map_err(|e| Error::BadArguments(format!("cannot serialize an argument: {e}")))
}

/// Deserializes the result of a typed call into the Rust type the bindings promise.
pub fn from_json<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value.clone()).map_err(|e| {
        Error::Other(anyhow::anyhow!(
            "the result {value} does not match the bindings' type: {e}"
        ))
    })
}

/// The items of a typed generator call, each deserialized as `from_json` does.
pub fn stream<T: DeserializeOwned + Send + 'static>(
    stream: Result<JsonStream>,
) -> impl Stream<Item = Result<T>> + Send + 'static {
    match stream {
        Ok(stream) => stream.map(|item| item.and_then(from_json)).left_stream(),
        Err(error) => futures::stream::once(async move { Err(error) }).right_stream(),
    }
}
