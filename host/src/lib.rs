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
//!   first call and dropped when the thread ends. [`App::session`] pins a
//!   store; [`App::pool`] spreads calls over several.
//! - Every call is a `Send + 'static` future ([`Call`]). Async Python
//!   functions interleave on their store's event loop; separate stores run in
//!   parallel, with no lock between them.
//! - Dropping a call cancels it: the Python coroutine sees
//!   `asyncio.CancelledError` at its `await`, and its `finally` blocks run.
//! - A trap or a limit discards that store only; the next call gets a fresh one.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), snakebox::Error> {
//! let runtime = snakebox::Runtime::new()?;
//! let cache = runtime.cache_dir().expect("caching is on").to_owned();
//! let built = snakebox::builder::build("app.py".as_ref(), &cache)?;
//! let app = runtime.load(&built.wasm)?;
//! let answer = app.call_json("add", &[2.into(), 40.into()], &[]).await?;
//! assert_eq!(answer, 42);
//! # Ok(())
//! # }
//! ```

mod app;
mod arguments;
pub mod builder;
mod cache;
mod error;
mod imports;
mod json;
mod policy;
mod runtime;
mod signature;
mod store;
pub mod typed;
mod worker;

pub use app::{App, Call, Pool, Session};
pub use arguments::{bind, result_json};
pub use cache::default_dir as default_cache_dir;
pub use error::{Error, PythonError, Result};
pub use json::{from_val, to_val};
pub use policy::{DirGrant, Policy};
pub use runtime::Runtime;
pub use signature::{Function, wit_type};
pub use serde_json;
pub use wasmtime::component::Val;
