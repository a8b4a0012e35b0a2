//! Calling a loaded component.
//!
//! Calls go to a store chosen by the handle they are made through, and
//! are made alike on all of them, through [`Calls`]:
//! - an [`App`] uses the calling thread's own store, created on the
//!   thread's first call and reused until the thread ends. A sync call
//!   made while that store is idle runs on the calling thread itself, as
//!   the call is made;
//! - a [`Session`] pins one store, for stateful use;
//! - a [`Pool`] spreads calls over N stores, for servers.
//!
//! `handles` owns the handles and their stores; `call` one call in flight;
//! `calls` the call methods, written once, and the streams they hand out;
//! `classes` the module's classes, and `objects` their instances, which
//! stay in their store.

mod call;
mod calls;
mod classes;
mod handles;
mod objects;

pub use call::Call;
pub use calls::{Calls, JsonStream};
pub use classes::Class;
pub use handles::{App, Pool, Session};
pub use objects::{Object, Value, ValueCall};
