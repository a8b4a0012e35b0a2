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
//! `handles` owns the handles and their stores; `calls` the call methods,
//! written once, and the futures and streams they hand out.

mod calls;
mod handles;

pub use calls::{Call, Calls, JsonStream};
pub use handles::{App, Pool, Session};
