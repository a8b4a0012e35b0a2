//! What each store holds: WASI state, limits, timers and the book of its
//! calls in flight; the runtime's own WIT imports that the guest calls on
//! it (timers, output, call tokens), through the bindings generated over
//! `wit/runtime.wit`; and that WIT's records as call values (`records`).

pub(crate) mod bindings;
mod caller;
pub(crate) mod imports;
mod output;
pub(crate) mod records;
mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use wasmtime::component::{GuestTaskId, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::limits::fair_share::{self, Pause, Runner};

pub use caller::Caller;
pub(crate) use caller::{CallerState, GiveUp, GivenUp};
use output::Budget;
pub(crate) use tokens::{CallTokens, after_ms};

/// What host functions need of a store, and all they may see of it: the
/// Python call a guest task belongs to, as the store's book of calls knows
/// it. Host functions reach the store through this view, as WASI's reach
/// theirs through `WasiView`, never through its fields.
pub(crate) trait CallerView: Send + 'static {
    /// The call `task` runs: its caller, the signal that the host gave up
    /// on it, and its hard deadline.
    fn caller_of(
        &self,
        task: GuestTaskId,
    ) -> Option<(Caller, watch::Receiver<bool>, Option<Instant>)>;
}

impl CallerView for StoreData {
    fn caller_of(
        &self,
        task: GuestTaskId,
    ) -> Option<(Caller, watch::Receiver<bool>, Option<Instant>)> {
        self.calls.lock().caller_of(task)
    }
}

/// The `tracing` target of what the guest prints and logs.
pub(crate) const GUEST_TARGET: &str = "snakebox::guest";

/// The data of one store: one Python interpreter and its event loop.
pub(crate) struct StoreData {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryLimiter,
    /// Pending host sleeps of asyncio timers, by timer id.
    pub(crate) timers: HashMap<u64, oneshot::Sender<()>>,
    /// The calls in flight.
    pub(crate) calls: Calls,
    /// How much guest output may still reach the host's log.
    pub(crate) output: Budget,
    /// The store's part in the fair share of the CPU, when its calls take
    /// part in it.
    pub(crate) runner: Option<Arc<Runner>>,
}

impl StoreData {
    /// A store's data; `runner` when its calls take part in the fair share
    /// (they have a time limit, and so epoch ticks).
    pub(crate) fn new(
        wasi: WasiCtx,
        memory_limit: Option<u64>,
        runner: Option<Arc<Runner>>,
    ) -> Self {
        StoreData {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryLimiter {
                limit: memory_limit,
                hit: false,
            },
            timers: HashMap::new(),
            calls: Calls(Arc::new(Mutex::new(CallBook {
                runner: runner.clone(),
                ..CallBook::default()
            }))),
            output: Budget::default(),
            runner,
        }
    }

    /// What the epoch callback does at a tick with the guest on the CPU,
    /// its thread having used `cpu` of CPU time.
    pub(crate) fn tick(&self, now: Instant, cpu: Duration) -> Tick {
        let book = self.calls.lock();
        let first = book
            .deadlines
            .iter()
            .min_by_key(|(_, deadline)| deadline.hard)
            .map(|(&token, deadline)| (token, deadline.hard));
        // The call whose time ran out first is the one to blame when the
        // store is discarded.
        if let Some((token, _)) = first.filter(|&(_, hard)| now >= hard) {
            return Tick::Expired(token);
        }
        drop(book);
        let pause = self
            .runner
            .as_ref()
            .and_then(|runner| runner.tick(now, cpu))
            // A pause never holds a deadline back.
            .map(|pause| pause.until(first.map(|(_, hard)| hard)));
        match pause {
            Some(pause) => Tick::Pause(pause),
            None => Tick::Go,
        }
    }
}

/// What a store does at an epoch tick (see [`StoreData::tick`]).
pub(crate) enum Tick {
    /// The call with this token is out of time: the store is interrupted.
    Expired(u64),
    /// Go on after yielding to the event loop.
    Go,
    /// Go on after this pause: the store has held the CPU for long while
    /// short calls on other stores want it (`fair_share`).
    Pause(Pause),
}

/// The book of one store's calls in flight: each call's cancellation
/// state, the component-model task that runs it (so that `enter` can tell
/// which call is asking), and its time limit. A call's entries are made by
/// [`CallEntry::begin`] and removed together when the entry is dropped,
/// however the call ends. It lives outside the store's borrow, behind a
/// lock, so that dropping an entry never needs the store.
#[derive(Clone, Default)]
pub(crate) struct Calls(Arc<Mutex<CallBook>>);

#[derive(Default)]
pub(crate) struct CallBook {
    pub(crate) tokens: CallTokens,
    tasks: HashMap<GuestTaskId, u64>,
    deadlines: HashMap<u64, Deadline>,
    /// Who each call is, for the host functions it calls, and the signal
    /// that the host gave up on it.
    callers: HashMap<u64, (Caller, GivenUp)>,
    /// The store's part in the fair share, told how many calls are in
    /// flight.
    runner: Option<Arc<Runner>>,
}

impl CallBook {
    fn count_calls(&self) {
        if let Some(runner) = &self.runner {
            runner.set_calls(self.tasks.len());
        }
    }
}

impl Calls {
    pub(crate) fn lock(&self) -> MutexGuard<'_, CallBook> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CallBook {
    /// The token of the call that `task` runs.
    pub(crate) fn token_of(&self, task: GuestTaskId) -> Option<u64> {
        self.tasks.get(&task).copied()
    }

    /// The caller of the call that `task` runs, and a receiver that turns
    /// `true` once the host gives up on that call.
    #[allow(clippy::type_complexity)]
    pub(crate) fn caller_of(
        &self,
        task: GuestTaskId,
    ) -> Option<(Caller, watch::Receiver<bool>, Option<Instant>)> {
        let token = self.token_of(task)?;
        let (caller, given_up) = self.callers.get(&token)?;
        let deadline = self.deadlines.get(&token).map(|d| d.hard);
        Some((caller.clone(), given_up.subscribe(), deadline))
    }
}

/// One call's entries in its store's [`Calls`].
pub(crate) struct CallEntry {
    calls: Calls,
    token: u64,
    task: GuestTaskId,
}

impl CallEntry {
    /// Enters the call that `task` runs, with a hard deadline if it has one.
    pub(crate) fn begin(
        calls: &Calls,
        token: u64,
        task: GuestTaskId,
        hard: Option<Instant>,
        caller: Caller,
        given_up: GivenUp,
    ) -> Self {
        let entry = CallEntry {
            calls: calls.clone(),
            token,
            task,
        };
        let mut book = calls.lock();
        book.tasks.insert(task, token);
        book.tokens.begin(token);
        book.callers.insert(token, (caller, given_up));
        book.count_calls();
        drop(book);
        fair_share::calls_changed();
        entry.deadline().set(hard);
        entry
    }

    /// The host gives up on the call: its Python task is cancelled.
    pub(crate) fn cancel(&self) {
        let mut book = self.calls.lock();
        book.tokens.cancel(self.token);
        if let Some((_, given_up)) = book.callers.get(&self.token) {
            given_up.send_replace(true);
        }
    }

    /// The handle that moves the call's hard deadline.
    pub(crate) fn deadline(&self) -> CallDeadline {
        CallDeadline {
            calls: self.calls.clone(),
            token: self.token,
        }
    }
}

impl Drop for CallEntry {
    fn drop(&mut self) {
        let mut book = self.calls.lock();
        book.tasks.remove(&self.task);
        book.deadlines.remove(&self.token);
        book.tokens.end(self.token);
        if let Some((_, given_up)) = book.callers.remove(&self.token) {
            // The call is over: nothing waits for its host functions.
            given_up.send_replace(true);
        }
        book.count_calls();
        drop(book);
        fair_share::calls_changed();
    }
}

/// Moves one call's hard deadline, from wherever its time is kept.
#[derive(Clone)]
pub(crate) struct CallDeadline {
    calls: Calls,
    token: u64,
}

impl CallDeadline {
    /// The store is interrupted once `hard` passes with the call on the
    /// CPU; `None` lifts the limit.
    pub(crate) fn set(&self, hard: Option<Instant>) {
        let mut book = self.calls.lock();
        match hard {
            Some(hard) => book.deadlines.insert(self.token, Deadline { hard }),
            None => book.deadlines.remove(&self.token),
        };
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// When a call must be stopped. An async call is first cancelled gracefully
/// at its time limit; only if it is still on the CPU `hard` later is the
/// store interrupted.
pub(crate) struct Deadline {
    hard: Instant,
}

impl Deadline {
    /// How long a cancelled async call may take to unwind before the store
    /// is interrupted.
    pub(crate) const GRACE: Duration = Duration::from_millis(200);
}

/// A per-store memory cap, as wasmtime's resource limiter.
pub(crate) struct MemoryLimiter {
    limit: Option<u64>,
    /// Set once the guest asked for more than the limit.
    pub(crate) hit: bool,
}

impl MemoryLimiter {
    pub(crate) fn limit(&self) -> Option<u64> {
        self.limit
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limit.is_none_or(|limit| desired as u64 <= limit);
        self.hit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // CPython's function table holds about 6,000 entries; a million is abuse.
        Ok(desired <= 1_000_000)
    }
}
