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
use tokio::sync::oneshot;
use wasmtime::component::Val;

use crate::app::handles::{App, Pool, Session};
use crate::component::signature::Function;
use crate::error::{Detail, Error, Result};
use crate::exec::streaming;
use crate::exec::worker::{CallRequest, WorkerHandle};
use crate::store::{CallerState, GiveUp};
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
    /// Calls a function, by name, with WIT values.
    fn call(&self, name: &str, args: Vec<Val>) -> Call {
        let route = self.route();
        match route.app.function(name) {
            Ok(function) => route.submit(function, args, None),
            Err(error) => Call::failed(error),
        }
    }

    /// Calls an already looked-up function with WIT values.
    fn call_function(&self, function: Arc<Function>, args: Vec<Val>) -> Call {
        self.route().submit(function, args, None)
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
        let prepared = route.app.function(name).and_then(|function| {
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
        }
    }

    fn set_state(mut self, state: CallerState) -> Self {
        self.state = Some(state);
        self
    }
}

impl Route<'_> {
    /// Sends a call to its store; `items` receives a generator's items.
    fn submit(
        &self,
        function: Arc<Function>,
        args: Vec<Val>,
        items: Option<futures::channel::mpsc::Sender<String>>,
    ) -> Call {
        let (reply, receiver) = oneshot::channel();
        let (guard, cancel) = oneshot::channel();
        let given_up = GiveUp::default();
        let request = CallRequest {
            function,
            args,
            timeout: self.app.timeout(),
            reply,
            cancel,
            items,
            state: self.state.cloned(),
            given_up: given_up.signal(),
        };
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
        Call {
            state: CallState::Waiting {
                receiver,
                _guard: guard,
                _given_up: given_up,
            },
        }
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

/// A call in flight. Dropping it cancels the call: an async Python function
/// sees `asyncio.CancelledError` at its `await`, and its `finally` blocks run.
#[must_use = "a call does nothing useful unless awaited, and dropping it cancels it"]
pub struct Call {
    state: CallState,
}

enum CallState {
    Failed(Option<Error>),
    Waiting {
        receiver: oneshot::Receiver<Result<Option<Val>>>,
        /// Dropped with the call; the worker then cancels it.
        _guard: oneshot::Sender<()>,
        /// Tells the host functions the call waits for, even while its
        /// store is blocked in one.
        _given_up: GiveUp,
    },
}

impl Call {
    fn failed(error: Error) -> Self {
        Call {
            state: CallState::Failed(Some(error)),
        }
    }
}

impl Future for Call {
    /// The function's value (`None` when it returns nothing), or why not.
    type Output = Result<Option<Val>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            CallState::Failed(error) => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| Error::Other(anyhow::anyhow!("call polled after completion"))))),
            CallState::Waiting { receiver, .. } => Pin::new(receiver).poll(cx).map(|outcome| {
                outcome
                    .unwrap_or_else(|_| Err(Error::Trap(Detail::new("the store's worker stopped"))))
            }),
        }
    }
}
