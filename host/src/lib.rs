//! Run Python modules as sandboxed WebAssembly components, and call them from
//! Rust as typed, async functions.
//!
//! A Python module becomes a component with [`builder::build`]: its annotated
//! top-level functions become a WIT world (see `snakebox-generator`), and
//! componentize-py compiles CPython, the module and snakebox's guest runtime
//! into one component. A [`Runtime`] loads components, with compiled code
//! cached on disk, and hands out [`App`]s.
//!
//! # The model
//! - Each calling thread gets its own store: one CPython instance with its own
//!   asyncio event loop, on a dedicated worker thread, created on the thread's
//!   first call and dropped when the thread ends or the app is dropped.
//!   [`App::session`] pins a store; [`App::pool`] spreads calls over several;
//!   all three call alike, through [`Calls`].
//! - Every call is a `Send + 'static` future ([`Call`]). Async Python
//!   functions interleave on their store's event loop; separate stores run in
//!   parallel, with no lock between them.
//! - Dropping a call cancels it: the Python coroutine sees
//!   `asyncio.CancelledError` at its `await`, and its `finally` blocks run.
//! - A trap or a limit discards that store only; the next call gets a fresh one.
//! - A class of the module is a WIT resource: its objects stay in the store
//!   that made them. Rust holds [`Object`]s, which call their methods there
//!   and release the Python object when the last clone is dropped;
//!   [`Calls::call_values`] passes and returns them as [`Value`]s.
//!
//! # Layout
//! Each module imports only those above it in this list (a test keeps the
//! files free of import cycles):
//! - `error`; `limits` (the epoch clock, the fair share of the CPU);
//! - `store` (what a store holds, the runtime's own WIT imports);
//! - `engine` (wasmtime engines and their linker, the caches of compiled
//!   components and functions);
//! - `component` (what a component file is: exports, description, the
//!   files it carries);
//! - `values` (the one JSON ⇄ WIT value rule, and argument binding);
//! - `host_functions` (Rust that Python calls); `policy` (what a store may
//!   use);
//! - `exec` (worker threads, streams);
//! - `app` (`App`, `Session`, `Pool`, and `Object`s of the module's classes);
//!   then `runtime` (loading), `serve`
//!   (the HTTP server, behind the default feature `serve`) and `typed`
//!   (support for generated bindings).
//!
//! # Features
//! - `serve` (default): [`serve`], the HTTP server with its OpenAPI
//!   document, on axum. `default-features = false` leaves the runtime
//!   alone, without axum. The `snakebox` command is the package
//!   `snakebox-cli`.
//!
//! # Example
//! This runs: it builds `examples/async_demo.py` (cached by content), loads
//! it, and calls it from several kinds of store.
//! ```
//! # fn main() -> Result<(), snakebox::Error> {
//! use std::time::Duration;
//! use snakebox::Calls as _;
//!
//! let runtime = snakebox::Runtime::new()?;
//! let source = std::path::Path::new("../examples/async_demo.py");
//! let built = snakebox::builder::build(source, &snakebox::default_cache_dir())?;
//! let app = runtime.load(&built.wasm)?;
//!
//! let tokio = tokio::runtime::Runtime::new().expect("a tokio runtime");
//! tokio.block_on(async {
//!     // This thread's own store: created now, reused by its later calls.
//!     let sum = app.call_json("add", &[2.into(), 40.into()], &[]).await?;
//!     assert_eq!(sum, 42);
//!
//!     // Python errors are typed.
//!     let error = app.call_json("fail", &["boom".into()], &[]).await.unwrap_err();
//!     assert_eq!(error.python().map(|e| e.type_name.as_str()), Some("ValueError"));
//!
//!     // Async calls interleave on one store: three 1 s sleeps take about 1 s.
//!     let session = app.session()?;
//!     let calls = (0..3).map(|_| session.call_json("async_function", &[], &[]));
//!     let answers = futures::future::try_join_all(calls).await?;
//!     assert_eq!(answers, [42, 42, 42]);
//!
//!     // Dropping a call (here, by a timeout) cancels the Python coroutine.
//!     let dropped = tokio::time::timeout(Duration::from_millis(10), app.call_json("async_function", &[], &[]));
//!     assert!(dropped.await.is_err());
//!     Ok(())
//! })
//! # }
//! ```

mod app;
mod component;
mod engine;
mod error;
mod exec;
mod host_functions;
mod limits;
mod policy;
mod runtime;
#[cfg(feature = "serve")]
pub mod serve;
mod store;
pub mod typed;
mod values;

pub use app::{App, Call, Calls, Class, JsonStream, Object, Pool, Session, Value, ValueCall};
pub use component::bundle::extract as extract_files;
pub use component::signature::{Described, Function, wit_type};
pub use engine::prune::{Pruned, prune_cache};
pub use error::{Detail, Error, PythonError, Result};
pub use futures;
pub use host_functions::{HostError, HostFunctions, HostFuture, HostResult, HttpOptions};
pub use policy::{DirGrant, Policy};
pub use runtime::{Runtime, WASMTIME_VERSION};
pub use serde;
pub use serde_json;
pub use snakebox_generator::builder;
pub use snakebox_generator::builder::default_cache_dir;
pub use store::Caller;
pub use values::arguments::{bind, result_json};
pub use values::json::{from_val, to_val};
pub use wasmtime::component::Val;
