//! One call in flight: the request a store's worker takes, and the
//! future ([`Call`]) that waits for its reply and cancels it when dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use wasmtime::component::Val;

use crate::app::handles::App;
use crate::component::signature::Function;
use crate::error::{Detail, Error, Result};
use crate::exec::worker::CallRequest;
use crate::store::{CallerState, GiveUp};

/// A call's request for its store, and the future that waits for it.
pub(crate) fn request(
    app: &App,
    function: Arc<Function>,
    args: Vec<Val>,
    items: Option<futures::channel::mpsc::Sender<String>>,
    state: Option<&CallerState>,
) -> (CallRequest, Call) {
    let (reply, receiver) = oneshot::channel();
    let (guard, cancel) = oneshot::channel();
    let given_up = GiveUp::default();
    let request = CallRequest {
        function,
        args,
        timeout: app.timeout(),
        reply,
        cancel,
        items,
        state: state.cloned(),
        given_up: given_up.signal(),
        expects: None,
        ran_on: None,
    };
    let call = Call {
        state: CallState::Waiting {
            receiver,
            _guard: guard,
            _given_up: given_up,
        },
    };
    (request, call)
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
    pub(crate) fn failed(error: Error) -> Self {
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
