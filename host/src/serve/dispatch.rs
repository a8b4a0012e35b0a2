//! Which store runs a request, and how many requests may wait.
//!
//! - **Admission.** At most `max_pending` requests are admitted at once,
//!   running or waiting for a store. One more is refused at once with `503`,
//!   so a flood never grows an unbounded queue.
//! - **Placement.** A request goes to the store with the fewest requests
//!   admitted to it. A sync call goes to a store that is free, if one is.
//! - **Isolation.** A sync Python function holds its store's CPU until it
//!   returns, so it gets the store to itself: it waits until the store's
//!   other calls are done, and no call joins it while it runs. If it then
//!   traps or hits a limit, the discarded store takes no other request with
//!   it. Async calls share their store and interleave on its event loop; an
//!   async call that traps fails the async calls on the same store.
//!
//! A call's time limit starts when it reaches its store, not while it waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, Semaphore};
use wasmtime::component::Val;

use super::reply::Failure;
use crate::app::{App, JsonStream, Session};
use crate::error::Result;
use crate::signature::Function;

/// The stores of a server and the bound on waiting requests.
pub(super) struct Dispatcher {
    app: App,
    slots: Vec<Arc<Slot>>,
    admission: Arc<Semaphore>,
    max_pending: usize,
    next: AtomicUsize,
}

/// One store and the requests admitted to it.
struct Slot {
    session: Session,
    admitted: AtomicUsize,
    /// Shared by async calls, held alone by a sync call.
    gate: Arc<RwLock<()>>,
}

/// What `/healthz` reports.
pub(super) struct Load {
    pub(super) workers: usize,
    pub(super) pending: usize,
    pub(super) max_pending: usize,
}

/// The store a request holds while it runs: shared or exclusive.
struct Hold {
    _shared: Option<OwnedRwLockReadGuard<()>>,
    _exclusive: Option<OwnedRwLockWriteGuard<()>>,
}

impl Hold {
    fn shared(guard: OwnedRwLockReadGuard<()>) -> Self {
        Hold {
            _shared: Some(guard),
            _exclusive: None,
        }
    }

    fn exclusive(guard: OwnedRwLockWriteGuard<()>) -> Self {
        Hold {
            _shared: None,
            _exclusive: Some(guard),
        }
    }
}

/// Counts a request against its slot until dropped.
struct Admitted(Arc<Slot>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Dispatcher {
    pub(super) fn new(app: &App, workers: usize, max_pending: usize) -> Result<Self> {
        let slots = (0..workers.max(1))
            .map(|_| {
                Ok(Arc::new(Slot {
                    session: app.session()?,
                    admitted: AtomicUsize::new(0),
                    gate: Arc::new(RwLock::new(())),
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        let max_pending = max_pending.max(1);
        Ok(Dispatcher {
            app: app.clone(),
            slots,
            admission: Arc::new(Semaphore::new(max_pending)),
            max_pending,
            next: AtomicUsize::new(0),
        })
    }

    pub(super) fn app(&self) -> &App {
        &self.app
    }

    pub(super) fn load(&self) -> Load {
        Load {
            workers: self.slots.len(),
            pending: self.max_pending - self.admission.available_permits(),
            max_pending: self.max_pending,
        }
    }

    /// Runs one call on a store of its own choosing. Dropping the future
    /// cancels the call, wherever it is.
    pub(super) async fn call(
        &self,
        function: &Arc<Function>,
        args: Vec<Val>,
    ) -> std::result::Result<Option<Val>, Failure> {
        let Ok(_permit) = Arc::clone(&self.admission).try_acquire_owned() else {
            return Err(Failure::Busy {
                workers: self.slots.len(),
                max_pending: self.max_pending,
            });
        };
        let (slot, _hold) = self.place(function.is_async).await;
        let value = slot
            .0
            .session
            .call(&function.qualified_name(), args)
            .await
            .map_err(Failure::Call)?;
        Ok(value)
    }

    /// Starts a generator on a store; the store and the admission are held
    /// by the returned guard for as long as the stream is read.
    pub(super) async fn stream(
        &self,
        function: &Arc<Function>,
        positional: &[Value],
        named: &[(String, Value)],
    ) -> std::result::Result<(impl Send + 'static, JsonStream), Failure> {
        let Ok(permit) = Arc::clone(&self.admission).try_acquire_owned() else {
            return Err(Failure::Busy {
                workers: self.slots.len(),
                max_pending: self.max_pending,
            });
        };
        let (slot, hold) = self.place(true).await;
        let stream = slot
            .0
            .session
            .stream_json(&function.qualified_name(), positional, named);
        Ok(((permit, slot, hold), stream))
    }

    /// Picks a store and waits until the call may run on it.
    async fn place(&self, shared: bool) -> (Admitted, Hold) {
        // Start the scan at a rotating slot so that ties spread out.
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let order: Vec<&Arc<Slot>> = (0..self.slots.len())
            .map(|i| &self.slots[(start + i) % self.slots.len()])
            .collect();
        if !shared {
            for slot in &order {
                if let Ok(hold) = Arc::clone(&slot.gate).try_write_owned() {
                    return (admit(slot), Hold::exclusive(hold));
                }
            }
        }
        let least = order
            .iter()
            .min_by_key(|slot| slot.admitted.load(Ordering::Relaxed))
            .copied()
            .unwrap_or(&self.slots[0]);
        let admitted = admit(least);
        let gate = Arc::clone(&least.gate);
        let hold = if shared {
            Hold::shared(gate.read_owned().await)
        } else {
            Hold::exclusive(gate.write_owned().await)
        };
        (admitted, hold)
    }
}

fn admit(slot: &Arc<Slot>) -> Admitted {
    slot.admitted.fetch_add(1, Ordering::Relaxed);
    Admitted(Arc::clone(slot))
}
