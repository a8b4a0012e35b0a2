//! The calls every handle on a component makes alike, written once: the
//! [`Calls`] trait, which [`App`], [`Session`] and [`Pool`] implement by
//! saying which store a call goes to, and the futures and streams it
//! hands out ([`Call`], [`JsonStream`]).
//!
//! [`Session`]: crate::Session
//! [`Pool`]: crate::Pool

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use serde_json::Value;
use wasmtime::component::Val;

use crate::app::call::{Call, request};
use crate::app::handles::{App, Pool, Session};
use crate::app::objects::{self, Value as ObjectValue, ValueCall};
use crate::component::signature::Function;
use crate::error::{Error, Result};
use crate::exec::streaming;
use crate::exec::worker::WorkerHandle;
use crate::store::CallerState;
use crate::values::arguments;

/// The state a caller hands to every host function its calls reach.
type State = Arc<dyn Any + Send + Sync>;

pub(crate) mod sealed {
    /// Where a handle sends its calls. Sealed: only this crate's handles
    /// route calls.
    pub trait Routed {
        /// The app, the store and the caller's state of the next call.
        fn route(&self) -> super::Route<'_>;
        /// The same handle, whose calls carry `state`.
        fn set_state(self, state: super::State) -> Self
        where
            Self: Sized;
    }
}

/// Where one call goes.
pub struct Route<'a> {
    pub(crate) app: &'a App,
    pub(crate) store: Target<'a>,
    pub(crate) state: Option<&'a CallerState>,
    /// The handle promises its store (a session): a call with objects of
    /// another store is an error, not a reason to run there.
    pub(crate) pinned: bool,
}

/// Which store: the calling thread's own, or a given worker's.
pub(crate) enum Target<'a> {
    Thread,
    Worker(&'a WorkerHandle),
}

/// Calls into a component, the same on every handle: [`App`] calls on the
/// calling thread's own store, a [`Session`](crate::Session) on its one
/// store, a [`Pool`](crate::Pool) on the next of its stores.
///
/// Bring it into scope to call: `use snakebox::Calls as _;`.
///
/// On an [`App`], a sync function called while the thread's store is idle
/// runs here and now, on the calling thread, with no hop to the store's
/// worker thread: the call is over when `call` returns, and the future is
/// ready. Async functions, generators and calls made while the store is
/// busy run on the worker, and the future waits for them. An async task
/// that makes long sync calls holds up its executor's thread meanwhile, as
/// any blocking call does; a session or a pool runs every call on a worker
/// instead.
pub trait Calls: sealed::Routed {
    /// Calls a function, a constructor (by the class's name, `Account`) or
    /// a method or static function (`Account.deposit`) with values that
    /// may hold [`Object`](crate::Object)s, and gives its value with the
    /// objects it returns. A method takes its object as its first value.
    ///
    /// A call that passes objects runs on their store (on a session, it
    /// must be the session's own).
    fn call_values(&self, name: &str, args: Vec<ObjectValue>) -> ValueCall {
        let route = self.route();
        match route.app.callable(name) {
            Ok(function) => route.call_values(function, args),
            Err(error) => ValueCall::failed(error),
        }
    }

    /// [`call_values`](Self::call_values) on an already looked-up function.
    fn call_function_values(&self, function: Arc<Function>, args: Vec<ObjectValue>) -> ValueCall {
        self.route().call_values(function, args)
    }

    /// Calls a function, by name, with WIT values. A function that takes
    /// or returns objects is called with [`call_values`](Self::call_values).
    fn call(&self, name: &str, args: Vec<Val>) -> Call {
        let route = self.route();
        match route.app.function(name) {
            Ok(function) => route.submit_checked(function, args),
            Err(error) => Call::failed(error),
        }
    }

    /// Calls an already looked-up function with WIT values.
    fn call_function(&self, function: Arc<Function>, args: Vec<Val>) -> Call {
        self.route().submit_checked(function, args)
    }

    /// Calls a function with JSON arguments (`named` by any of the names
    /// the keyword rule takes), and gives its result as JSON.
    fn call_json(
        &self,
        name: &str,
        positional: &[Value],
        named: &[(String, Value)],
    ) -> impl Future<Output = Result<Value>> + Send + use<Self> {
        let route = self.route();
        let prepared = route.app.callable(name).and_then(|function| {
            let args = arguments::bind(&function, positional, named)?;
            Ok((Arc::clone(&function), route.submit(function, args, None)))
        });
        async move {
            let (function, call) = prepared?;
            let value = call.await?;
            Ok(arguments::result_json(&function, value.as_ref()))
        }
    }

    /// Calls a generator function with JSON arguments, and streams its
    /// items as JSON.
    fn stream_json(
        &self,
        name: &str,
        positional: &[Value],
        named: &[(String, Value)],
    ) -> JsonStream {
        let route = self.route();
        let prepared = route.app.function(name).and_then(|function| {
            let args = arguments::bind(&function, positional, named)?;
            Ok((function, args))
        });
        match prepared {
            Ok((function, args)) => route.stream(function, args),
            Err(error) => JsonStream::failed(error),
        }
    }

    /// Calls an already looked-up generator function, and streams its
    /// items as JSON.
    fn stream_function(&self, function: Arc<Function>, args: Vec<Val>) -> JsonStream {
        self.route().stream(function, args)
    }

    /// The same handle, whose calls hand `state` to every host function
    /// they call, as [`Caller::state`](crate::Caller::state): a tenant, a
    /// user, a request id.
    fn with_state(self, state: impl Any + Send + Sync) -> Self
    where
        Self: Sized,
    {
        self.set_state(Arc::new(state))
    }
}

impl<T: sealed::Routed> Calls for T {}

impl sealed::Routed for App {
    /// This thread's own store.
    fn route(&self) -> Route<'_> {
        Route {
            app: self,
            store: Target::Thread,
            state: self.state.as_ref(),
            pinned: false,
        }
    }

    fn set_state(mut self, state: CallerState) -> Self {
        self.state = Some(state);
        self
    }
}

impl sealed::Routed for Session {
    fn route(&self) -> Route<'_> {
        Route {
            app: &self.app,
            store: Target::Worker(&self.worker),
            state: self.state.as_ref(),
            pinned: true,
        }
    }

    fn set_state(mut self, state: CallerState) -> Self {
        self.state = Some(state);
        self
    }
}

impl sealed::Routed for Pool {
    /// The next store, round-robin.
    fn route(&self) -> Route<'_> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        Route {
            app: &self.app,
            store: Target::Worker(&self.workers[index]),
            state: self.state.as_ref(),
            pinned: false,
        }
    }

    fn set_state(mut self, state: CallerState) -> Self {
        self.state = Some(state);
        self
    }
}

impl Route<'_> {
    fn call_values(&self, function: Arc<Function>, args: Vec<ObjectValue>) -> ValueCall {
        let app = objects::with_state(self.app, self.state);
        let worker = match self.store {
            Target::Thread => None,
            Target::Worker(worker) => Some(worker),
        };
        objects::submit(&app, worker, self.pinned, function, args)
    }

    /// Sends a call to its store; `items` receives a generator's items.
    /// [`submit`](Self::submit) of values the caller made: checked
    /// against the function's types first.
    fn submit_checked(&self, function: Arc<Function>, args: Vec<Val>) -> Call {
        match crate::values::check::check_args(&function, &args) {
            Ok(()) => self.submit(function, args, None),
            Err(error) => Call::failed(error),
        }
    }

    fn submit(
        &self,
        function: Arc<Function>,
        args: Vec<Val>,
        items: Option<futures::channel::mpsc::Sender<String>>,
    ) -> Call {
        if function.uses_objects() {
            return Call::failed(Error::BadArguments(format!(
                "`{}` takes or returns objects: call it with `call_values`",
                function.call_name
            )));
        }
        let (request, call) = request(self.app, function, args, items, self.state);
        match self.store {
            Target::Thread => match self.app.thread_store() {
                Ok(worker) => {
                    if let Some(request) = worker.call_here(request) {
                        worker.submit(request);
                    }
                }
                Err(error) => return Call::failed(error),
            },
            Target::Worker(worker) => worker.submit(request),
        }
        call
    }

    fn stream(&self, function: Arc<Function>, args: Vec<Val>) -> JsonStream {
        if !function.returns_stream() {
            return JsonStream::failed(Error::BadArguments(format!(
                "`{}` returns one value, not a stream: call it with `call_json`",
                function.call_name
            )));
        }
        let (sender, items) = futures::channel::mpsc::channel(streaming::BUFFER);
        JsonStream {
            items: Some(items),
            call: Some(self.submit(function, args, Some(sender))),
        }
    }
}

impl JsonStream {
    fn failed(error: Error) -> Self {
        JsonStream {
            items: None,
            call: Some(Call::failed(error)),
        }
    }
}

/// The items of a generator, as JSON, read lazily: the generator runs
/// ahead of the reader by a few items at most. Dropping the stream stops
/// the generator: Python sees `GeneratorExit` at its `yield` (or
/// `CancelledError` at an `await`), and its `finally` blocks run.
///
/// An error ends the stream: the Python exception that stopped the
/// generator, a time limit (each item must come within it), or a trap.
#[must_use = "a stream does nothing unless polled, and dropping it stops the generator"]
pub struct JsonStream {
    items: Option<futures::channel::mpsc::Receiver<String>>,
    /// The call, which completes when the stream is over; `None` after.
    call: Option<Call>,
}

impl futures::Stream for JsonStream {
    type Item = Result<Value>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(items) = &mut self.items {
            match Pin::new(items).poll_next(cx) {
                Poll::Ready(Some(text)) => {
                    let item = streaming::decode_item(&text);
                    if item.is_err() {
                        self.items = None;
                        self.call = None;
                    }
                    return Poll::Ready(Some(item));
                }
                Poll::Ready(None) => self.items = None,
                Poll::Pending => {}
            }
        }
        let Some(call) = &mut self.call else {
            return Poll::Ready(None);
        };
        match Pin::new(call).poll(cx) {
            Poll::Ready(outcome) => {
                self.call = None;
                match outcome {
                    // Items still buffered come first; the channel then ends.
                    Ok(_) if self.items.is_some() => self.poll_next(cx),
                    Ok(_) => Poll::Ready(None),
                    Err(error) => {
                        self.items = None;
                        Poll::Ready(Some(Err(error)))
                    }
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
