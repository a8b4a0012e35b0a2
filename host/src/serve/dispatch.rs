//! Which store runs a request, and how many requests may wait.
//!
//! - **Admission.** At most `max_pending` requests are admitted at once,
//!   running or waiting for a store. One more is refused at once with `503`,
//!   so a flood never grows an unbounded queue.
//! - **Placement.** A request goes to a store it can run on now: a sync
//!   call to a free one, an async call to the one with the fewest requests
//!   among those no sync call holds. The server's first `workers` stores
//!   are tried before any other, so that calls made one after another
//!   share their module state as they always did.
//! - **Stores on demand.** When no store can take a request now, a new one
//!   is started for it, up to `max_stores`: a guest that spins until its
//!   time limit holds one store, not every healthy request behind it. Past
//!   the cap, the request waits for the store with the fewest requests.
//!   A store started on demand that has taken no request for
//!   `store_idle` (30 s by default) is let go.
//! - **Isolation.** A sync Python function holds its store's CPU until it
//!   returns, so it gets the store to itself: it waits until the store's
//!   other calls are done, and no call joins it while it runs. If it then
//!   traps or hits a limit, the discarded store takes no other request with
//!   it. Async calls share their store and interleave on its event loop; an
//!   async call that traps fails the async calls on the same store.
//!
//! A call's time limit starts when it reaches its store, not while it waits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, Semaphore};
use wasmtime::component::Val;

use super::reply::Failure;
use crate::Calls as _;
use crate::app::{App, JsonStream, Session};
use crate::component::signature::Function;
use crate::error::Result;

/// The stores of a server and the bound on waiting requests.
pub(super) struct Dispatcher {
    app: App,
    /// The first `workers` are the server's own; the rest were started on
    /// demand.
    slots: Mutex<Vec<Arc<Slot>>>,
    workers: usize,
    max_stores: usize,
    admission: Arc<Semaphore>,
    max_pending: usize,
    /// How long a store started on demand may go without a request
    /// before it is let go.
    store_idle: Duration,
    next: AtomicUsize,
}

/// One store and the requests admitted to it.
struct Slot {
    session: Session,
    admitted: AtomicUsize,
    /// Shared by async calls, held alone by a sync call.
    gate: Arc<RwLock<()>>,
    /// When a request last left the store.
    last_used: Mutex<Instant>,
}

impl Slot {
    fn new(session: Session) -> Arc<Self> {
        Arc::new(Slot {
            session,
            admitted: AtomicUsize::new(0),
            gate: Arc::new(RwLock::new(())),
            last_used: Mutex::new(Instant::now()),
        })
    }

    fn idle_since(&self) -> Instant {
        *self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A hold on the store if the call may run on it now.
    fn try_hold(&self, shared: bool) -> Option<Hold> {
        let gate = Arc::clone(&self.gate);
        match shared {
            true => gate.try_read_owned().ok().map(Hold::shared),
            false => gate.try_write_owned().ok().map(Hold::exclusive),
        }
    }
}

/// What `/healthz` reports.
pub(super) struct Load {
    pub(super) workers: usize,
    pub(super) stores: usize,
    pub(super) max_stores: usize,
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
        *self
            .0
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.0.admitted.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Dispatcher {
    /// The stores and admission `options` ask for.
    pub(super) fn new(app: &App, options: &super::ServeOptions) -> Result<Self> {
        let workers = options.workers.max(1);
        let slots = (0..workers)
            .map(|_| Ok(Slot::new(app.session()?)))
            .collect::<Result<Vec<_>>>()?;
        let max_pending = options.max_pending.max(1);
        Ok(Dispatcher {
            app: app.clone(),
            slots: Mutex::new(slots),
            workers,
            max_stores: options.max_stores.max(workers),
            admission: Arc::new(Semaphore::new(max_pending)),
            max_pending,
            store_idle: options.store_idle,
            next: AtomicUsize::new(0),
        })
    }

    pub(super) fn app(&self) -> &App {
        &self.app
    }

    pub(super) fn load(&self) -> Load {
        Load {
            workers: self.workers,
            stores: self.slots().len(),
            max_stores: self.max_stores,
            pending: self.max_pending - self.admission.available_permits(),
            max_pending: self.max_pending,
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn busy(&self) -> Failure {
        self.busy_with(self.slots().len())
    }

    /// The answer when no more calls may wait, for a server with `stores`.
    fn busy_with(&self, stores: usize) -> Failure {
        Failure::Busy {
            workers: stores,
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
            return Err(self.busy());
        };
        let (slot, _hold) = self.place(function.is_async).await?;
        let value = slot
            .0
            .session
            .call_function(Arc::clone(function), args)
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
            return Err(self.busy());
        };
        let (slot, hold) = self.place(true).await?;
        let stream = slot
            .0
            .session
            .stream_json(&function.qualified_name(), positional, named);
        Ok(((permit, slot, hold), stream))
    }

    /// Picks a store and waits until the call may run on it.
    async fn place(&self, shared: bool) -> std::result::Result<(Admitted, Hold), Failure> {
        let least = {
            let mut slots = self.slots();
            if let Some(placed) = self.place_now(&mut slots, shared) {
                return Ok(placed);
            }
            if slots.len() < self.max_stores {
                let slot = Slot::new(self.app.fresh().map_err(Failure::Call)?);
                slots.push(Arc::clone(&slot));
                tracing::debug!(
                    stores = slots.len(),
                    "every store is taken: started one more"
                );
                if let Some(hold) = slot.try_hold(shared) {
                    return Ok((admit(&slot), hold));
                }
            }
            // Wait for the least busy store, not for one whose thread a long
            // run lowered: that one must first get a core to move on.
            let least = slots
                .iter()
                .min_by_key(|slot| {
                    let admitted = slot.admitted.load(Ordering::Relaxed);
                    (slot.session.is_lowered(), admitted)
                })
                .map(Arc::clone);
            match least {
                Some(least) => admit(&least),
                None => return Err(self.busy_with(slots.len())),
            }
        };
        let gate = Arc::clone(&least.0.gate);
        let hold = match shared {
            true => Hold::shared(gate.read_owned().await),
            false => Hold::exclusive(gate.write_owned().await),
        };
        Ok((least, hold))
    }

    /// A store the call may run on at once: the server's own stores first,
    /// in a rotating order so that ties spread out, then those started on
    /// demand; never a store whose thread a long run lowered, which runs
    /// only on an idle core until the store moves to a new thread. Lets go
    /// of one store started on demand that has been idle for long.
    fn place_now(&self, slots: &mut Vec<Arc<Slot>>, shared: bool) -> Option<(Admitted, Hold)> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let own = (0..self.workers).map(|i| (start + i) % self.workers);
        let order: Vec<usize> = own
            .chain(self.workers..slots.len())
            .filter(|&i| !slots[i].session.is_lowered())
            .collect();
        let placed = match shared {
            // The fewest requests among the stores free to share.
            true => order
                .iter()
                .filter_map(|&i| slots[i].try_hold(true).map(|hold| (i, hold)))
                .min_by_key(|(i, _)| slots[*i].admitted.load(Ordering::Relaxed)),
            false => order
                .iter()
                .find_map(|&i| slots[i].try_hold(false).map(|hold| (i, hold))),
        };
        let idle = (self.workers..slots.len()).find(|&i| {
            slots[i].admitted.load(Ordering::Relaxed) == 0
                && slots[i].idle_since().elapsed() >= self.store_idle
                && placed.as_ref().is_none_or(|(p, _)| *p != i)
        });
        let placed = placed.map(|(i, hold)| (admit(&slots[i]), hold));
        if let Some(idle) = idle {
            slots.swap_remove(idle);
            tracing::debug!(stores = slots.len(), "let an idle store go");
        }
        placed
    }
}

fn admit(slot: &Arc<Slot>) -> Admitted {
    slot.admitted.fetch_add(1, Ordering::Relaxed);
    Admitted(Arc::clone(slot))
}
