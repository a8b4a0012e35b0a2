//! Who a host function serves: the Python call waiting for it, the
//! session's state, and the signal that the host gave up on that call.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;

/// Turns `true` when the host gives up on a call: the caller dropped it,
/// its time limit passed, or it is over. The host functions it waits for
/// watch it, so they are dropped even while the store is blocked in one.
pub(crate) type GivenUp = Arc<watch::Sender<bool>>;

/// Gives up on its call when dropped, with the caller's future.
#[derive(Default)]
pub(crate) struct GiveUp(GivenUp);

impl GiveUp {
    pub(crate) fn signal(&self) -> GivenUp {
        Arc::clone(&self.0)
    }
}

impl Drop for GiveUp {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// What a session hands to the host functions its calls call.
pub(crate) type CallerState = Arc<dyn Any + Send + Sync>;

/// The Python call a host function serves.
#[derive(Clone)]
pub struct Caller {
    function: Arc<str>,
    state: Option<CallerState>,
}

impl Caller {
    pub(crate) fn new(function: String, state: Option<CallerState>) -> Self {
        Caller {
            function: function.into(),
            state,
        }
    }

    /// The exported Python function whose call this is (`greet`), or an
    /// empty name when the call could not be told.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The state of the session the call came through
    /// ([`Calls::with_state`](crate::Calls::with_state)), if it is a `T`.
    pub fn state<T: Any>(&self) -> Option<&T> {
        self.state.as_deref()?.downcast_ref()
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("function", &self.function)
            .field("has_state", &self.state.is_some())
            .finish()
    }
}
