//! A worker: one OS thread that looks after one store (one CPython instance
//! and its asyncio loop) and runs the calls sent to it on that store's event
//! loop.
//!
//! The calls sent to it run inside one `run_concurrent`, so async calls
//! interleave. Between them the store rests in its [`Station`], where a sync
//! call made on the store's own thread ([`WorkerHandle::call_here`]) takes it
//! and runs on the caller's thread, with no hop to the worker and back. Both
//! paths run a call with the same [`call`]. A trap or a limit ends the store:
//! the calls in flight get a clear error and the worker instantiates a fresh
//! store for the next call.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::{
    Accessor, ComponentExportIndex, Instance, InstancePre, ResourceAny, Val,
};
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::component::signature::Function;
use crate::error::{Detail, Error, Result};
use crate::exec::streaming;
use crate::limits::epoch::EpochClock;
use crate::limits::fair_share::{self, Present, Runner, thread_cpu_time};
use crate::policy::Policy;
use crate::store::records;
use crate::store::{CallEntry, Deadline, StoreData, Tick};
use crate::store::{Caller, CallerState, GivenUp};

/// What every worker of one app shares.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<StoreData>,
    /// The runtime's `warm` export, called once on each store made ahead
    /// of its first call.
    pub(crate) warm: Option<ComponentExportIndex>,
    pub(crate) policy: Policy,
    /// The host modules the component calls, from its description.
    pub(crate) host_modules: Vec<snakebox_generator::Module>,
    /// The epoch clock, when the policy sets a time limit: the app's engine
    /// then compiles in epoch checks, and its stores trap a call out of
    /// time. Held here, it keeps time limits working after the `Runtime`
    /// itself is dropped.
    pub(crate) clock: Option<Arc<EpochClock>>,
}

/// One call, as sent to a worker.
pub(crate) struct CallRequest {
    pub(crate) function: Arc<Function>,
    pub(crate) args: Vec<Val>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) reply: oneshot::Sender<Result<Option<Val>>>,
    /// Completes (with an error) when the caller drops its future.
    pub(crate) cancel: oneshot::Receiver<()>,
    /// Where a generator's items go; the reply then comes when the stream
    /// ends. Without it, a stream the function returns is closed at once.
    pub(crate) items: Option<futures::channel::mpsc::Sender<String>>,
    /// What the caller hands to the host functions this call calls.
    pub(crate) state: Option<CallerState>,
    /// Turns `true` when the caller drops its future.
    pub(crate) given_up: GivenUp,
    /// The store generation the call's objects live in: on any other
    /// store (the one they lived in was replaced) the call is refused.
    pub(crate) expects: Option<u64>,
    /// Where the worker writes the generation of the store the call ran
    /// on, for the objects it returns.
    pub(crate) ran_on: Option<Arc<AtomicU64>>,
}

/// An object to let go: its handle, the method of its class that lets the
/// Python object go, and the generation of the store it lives in.
pub(crate) struct Release {
    resource: ResourceAny,
    method: Option<ComponentExportIndex>,
    generation: u64,
}

/// A job for a worker.
enum Job {
    Call(CallRequest),
    /// The store was discarded by a call made on the caller's thread:
    /// instantiate its replacement.
    Refill,
    /// The caller dropped its last handle to an object of the store of
    /// this generation: release it (see [`Release`]).
    Release(Release),
}

/// A store between its calls, and what its worker and its callers share.
struct Station {
    /// The store, when it is not running calls; `None` while a replacement
    /// is due. The worker holds the lock while calls sent to it run, a
    /// caller while its call runs on its own thread.
    resident: tokio::sync::Mutex<Option<Resident>>,
    /// Set while the store is instantiated.
    ready: AtomicBool,
    /// Set while the worker's thread runs at the lowest priority, after a
    /// long run, until the store moves to a new thread: calls go to other
    /// stores meanwhile.
    lowered: Arc<AtomicBool>,
    /// Calls sent to the worker that it has not taken up yet: a call on the
    /// caller's thread does not overtake them.
    queued: AtomicUsize,
    /// The token of the store's next call, whichever path runs it.
    next_token: AtomicU64,
    /// How many stores the worker has instantiated: the generation of the
    /// current one, which its objects carry.
    generation: AtomicU64,
    /// The worker's event loop: the timers and IO of a call run here,
    /// wherever the call itself runs.
    runtime: tokio::runtime::Handle,
}

impl Station {
    fn token(&self) -> u64 {
        self.next_token.fetch_add(1, Ordering::Relaxed)
    }
}

struct Resident {
    store: Store<StoreData>,
    instance: Instance,
    /// See [`Station::generation`].
    generation: u64,
}

/// The sending side of a worker; the worker stops once every handle is gone
/// and its calls have finished.
#[derive(Clone)]
pub(crate) struct WorkerHandle {
    requests: mpsc::UnboundedSender<Job>,
    station: Arc<Station>,
}

thread_local! {
    /// How many calls this thread is running on a store of its own
    /// ([`WorkerHandle::call_here`]): a host function one of them calls
    /// that calls back into the app gets a store of another depth.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// How deep in calls run on their caller's thread this thread is.
pub(crate) fn depth() -> usize {
    DEPTH.with(Cell::get)
}

impl WorkerHandle {
    /// Starts a worker thread, which instantiates its store at once. A
    /// store made ahead of its first call (`ahead`) also runs the runtime's
    /// `warm` export before it counts as ready, so that its first call
    /// finds the interpreter's first-call set-up done.
    pub(crate) fn spawn(shared: Arc<Shared>, ahead: bool) -> std::io::Result<Self> {
        // Timers for the guest's sleeps and time limits; IO for the host
        // functions.
        // Its parks and wakes tell the fair share when the store is idle.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(fair_share::parking)
            .on_thread_unpark(fair_share::unparked)
            .build()?;
        let (requests, receiver) = mpsc::unbounded_channel();
        let station = Arc::new(Station {
            resident: tokio::sync::Mutex::new(None),
            ready: AtomicBool::new(false),
            lowered: Arc::default(),
            queued: AtomicUsize::new(0),
            next_token: AtomicU64::new(1),
            generation: AtomicU64::new(0),
            runtime: runtime.handle().clone(),
        });
        let worker = Arc::clone(&station);
        std::thread::Builder::new()
            .name("snakebox-store".into())
            .spawn(move || run(shared, runtime, receiver, worker, ahead))?;
        Ok(WorkerHandle { requests, station })
    }

    /// `true` once the worker's store can take a call without waiting.
    pub(crate) fn is_ready(&self) -> bool {
        self.station.ready.load(Ordering::Acquire) && !self.is_lowered()
    }

    /// `true` while the worker's thread is lowered by a long run, until the
    /// store moves on to a new thread.
    pub(crate) fn is_lowered(&self) -> bool {
        self.station.lowered.load(Ordering::Acquire)
    }

    /// `true` when both handles reach the same worker, and so the same store.
    pub(crate) fn same_worker(&self, other: &WorkerHandle) -> bool {
        Arc::ptr_eq(&self.station, &other.station)
    }

    /// Lets the object `resource` of the store of `generation` go once the
    /// store is between calls: its class's `method` lets the Python
    /// object go, then the handle is dropped. Nothing if that store is gone.
    pub(crate) fn release(
        &self,
        resource: ResourceAny,
        method: Option<ComponentExportIndex>,
        generation: u64,
    ) {
        let _ = self.requests.send(Job::Release(Release {
            resource,
            method,
            generation,
        }));
    }

    pub(crate) fn submit(&self, request: CallRequest) {
        self.station.queued.fetch_add(1, Ordering::SeqCst);
        if let Err(mpsc::error::SendError(job)) = self.requests.send(Job::Call(request)) {
            self.station.queued.fetch_sub(1, Ordering::SeqCst);
            if let Job::Call(request) = job {
                let _ = request.reply.send(Err(Error::Trap(Detail::new(
                    "the store's worker thread has stopped",
                ))));
            }
        }
    }

    /// Runs a sync call on the calling thread, which waits for it, when the
    /// store is idle: instantiated, with no call in flight and none sent
    /// ahead of it. Gives the request back otherwise, for [`submit`](Self::submit).
    pub(crate) fn call_here(&self, request: CallRequest) -> Option<CallRequest> {
        if request.function.is_async || request.items.is_some() {
            return Some(request);
        }
        let Ok(mut resident) = self.station.resident.try_lock() else {
            return Some(request);
        };
        if self.station.queued.load(Ordering::SeqCst) > 0 {
            return Some(request);
        }
        let Some(Resident {
            store,
            instance,
            generation,
        }) = resident.as_mut()
        else {
            return Some(request);
        };
        let generation = *generation;
        let token = self.station.token();
        let inflight = Inflight::default();
        // Inside another tokio runtime, a wake may be deferred to that
        // runtime's scheduler, which cannot run while this thread waits.
        let nested = tokio::runtime::Handle::try_current().is_ok();
        let outcome = {
            let _runtime = self.station.runtime.enter();
            let _depth = Deeper::enter();
            let _present = Present::enter(store.data().runner.clone());
            let run = store.run_concurrent(async |accessor| {
                call(accessor, instance, request, token, generation, &inflight).await;
                match accessor.with(|mut access| access.get().memory.hit) {
                    true => Served::Retired,
                    false => Served::Idle,
                }
            });
            block_on(run, nested)
        };
        if !keeps_serving(store, &inflight, outcome) {
            *resident = None;
            self.station.ready.store(false, Ordering::Release);
            // The worker instantiates the replacement, off the caller's
            // thread; a call that comes first is sent to it.
            let _ = self.requests.send(Job::Refill);
        }
        None
    }
}

/// One level deeper in calls run on their caller's thread, until dropped.
struct Deeper;

impl Deeper {
    fn enter() -> Self {
        DEPTH.with(|depth| depth.set(depth.get() + 1));
        Deeper
    }
}

impl Drop for Deeper {
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get() - 1));
    }
}

/// Runs `future` to its end on this thread, parking the thread while it
/// waits. The future's timers and IO are driven by the worker's event loop.
/// Unlike `futures::executor::block_on`, it may run inside another
/// executor's task: the call it runs is that task's own sync call.
///
/// Inside a tokio runtime (`nested`), tokio hands some wakes to that
/// runtime's scheduler instead of the waker: a task out of its cooperative
/// budget, and `tokio::task::yield_now` (which WASI's clocks use for a
/// sleep of zero). The scheduler cannot run while this thread waits, so
/// the budget is lifted and, while nested, the future is polled again
/// every [`RECHECK`] even without a wake.
fn block_on<F: Future>(future: F, nested: bool) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(tokio::task::coop::unconstrained(future));
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        fair_share::parking();
        match nested {
            true => std::thread::park_timeout(RECHECK),
            false => std::thread::park(),
        }
        fair_share::unparked();
    }
}

/// How long a call on its caller's thread, inside another tokio runtime,
/// waits for a wake before it looks again: the most a wake that tokio
/// deferred can cost it.
const RECHECK: Duration = Duration::from_millis(1);

/// Raised from the epoch callback when a call is past its hard deadline.
#[derive(Debug, thiserror::Error)]
#[error("call {token} ran past its time limit")]
struct TimeLimitExceeded {
    token: u64,
}

/// A call in flight, whose reply is still owed.
struct Pending {
    reply: oneshot::Sender<Result<Option<Val>>>,
    function: String,
    timeout: Option<Duration>,
    /// When the call's own time is up.
    deadline: Option<Instant>,
}

type Inflight = Arc<Mutex<HashMap<u64, Pending>>>;

fn respond(inflight: &Inflight, token: u64, outcome: Result<Option<Val>>) {
    let pending = inflight
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&token);
    if let Some(pending) = pending {
        let _ = pending.reply.send(outcome);
    }
}

/// Runs the store's jobs on this thread, until the handles are gone or a
/// long run lowered the thread's priority: then the store moves on to a
/// new thread, with its event loop and its queue.
fn run(
    shared: Arc<Shared>,
    runtime: tokio::runtime::Runtime,
    requests: mpsc::UnboundedReceiver<Job>,
    station: Arc<Station>,
    ahead: bool,
) {
    fair_share::own_thread();
    station.lowered.store(false, Ordering::Release);
    let mut jobs = Some((runtime, requests));
    let mut ahead = ahead;
    while let Some((runtime, requests)) = jobs.take() {
        let served = serve_jobs(Arc::clone(&shared), requests, Arc::clone(&station), ahead);
        let Some(Handover {
            requests,
            discarded,
        }) = runtime.block_on(served)
        else {
            return;
        };
        ahead = false;
        // The next thread drops the discarded store: unmapping its memory
        // holds the process's memory map, which a thread at the lowest
        // priority could hold for long while every other thread waits.
        // If no thread can be started, the store stays on this one.
        let handed = Arc::new(Mutex::new(Some((runtime, requests, discarded))));
        let (next, next_shared, next_station) = (
            Arc::clone(&handed),
            Arc::clone(&shared),
            Arc::clone(&station),
        );
        let Some(clock) = shared.clock.clone() else {
            return;
        };
        let moved = clock.fair_share().start_thread("snakebox-store", move || {
            let taken = next.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some((runtime, requests, discarded)) = taken {
                drop(discarded);
                run(next_shared, runtime, requests, next_station, false);
            }
        });
        if let Err(error) = moved {
            tracing::debug!("a store stays on its lowered thread: {error}");
            station.lowered.store(false, Ordering::Release);
            jobs = handed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .map(|(runtime, requests, _)| (runtime, requests));
        } else {
            return;
        }
    }
}

/// Serves the store's jobs until the handles are gone (`None`), or until
/// the thread's priority was lowered (what goes on elsewhere).
async fn serve_jobs(
    shared: Arc<Shared>,
    mut requests: mpsc::UnboundedReceiver<Job>,
    station: Arc<Station>,
    ahead: bool,
) -> Option<Handover> {
    {
        let mut resident = station.resident.lock().await;
        if let Err(error) = fill(&shared, &station, &mut resident, ahead).await {
            // The first call tries again, and hears why if it fails.
            tracing::debug!("failed to instantiate a store: {error:#}");
        }
    }
    // Objects dropped while calls ran, released once they are done.
    let mut releases: Vec<Release> = Vec::new();
    while let Some(job) = requests.recv().await {
        let mut resident = station.resident.lock().await;
        let request = match job {
            Job::Call(request) => {
                station.queued.fetch_sub(1, Ordering::SeqCst);
                request
            }
            Job::Refill => {
                if let Err(error) = fill(&shared, &station, &mut resident, false).await {
                    tracing::debug!("failed to instantiate a store: {error:#}");
                }
                continue;
            }
            Job::Release(object) => {
                release(&station, &mut resident, object).await;
                continue;
            }
        };
        if let Err(error) = fill(&shared, &station, &mut resident, false).await {
            // Nothing can run; answer this caller and try again for the next.
            let _ = request.reply.send(Err(Error::Other(error)));
            continue;
        }
        let Some(Resident {
            store,
            instance,
            generation,
        }) = resident.as_mut()
        else {
            continue;
        };
        let inflight = Inflight::default();
        let stretch = Stretch {
            station: &station,
            generation: *generation,
            inflight: &inflight,
        };
        let outcome = {
            let _present = Present::enter(store.data().runner.clone());
            store
                .run_concurrent(async |accessor| {
                    serve(
                        accessor,
                        instance,
                        request,
                        &mut requests,
                        &stretch,
                        &mut releases,
                    )
                    .await
                })
                .await
        };
        let closed = matches!(outcome, Ok(Served::Closed));
        // A lowered thread leaves the replacement to the next thread, which
        // makes it at the usual priority, and drops the old store after.
        let lowered = station.lowered.load(Ordering::Acquire);
        let mut discarded = None;
        if !keeps_serving(store, &inflight, outcome) {
            discarded = resident.take();
            station.ready.store(false, Ordering::Release);
            if !lowered {
                drop(discarded.take());
                if let Err(error) = fill(&shared, &station, &mut resident, false).await {
                    tracing::debug!("failed to instantiate a store: {error:#}");
                }
            }
        }
        for object in releases.drain(..) {
            release(&station, &mut resident, object).await;
        }
        if closed {
            return None;
        }
        if lowered {
            return Some(Handover {
                requests,
                discarded,
            });
        }
    }
    None
}

/// What a lowered thread hands on: the store's queue for the next thread,
/// and the store it discarded, which it drops itself once the next thread
/// runs.
struct Handover {
    requests: mpsc::UnboundedReceiver<Job>,
    discarded: Option<Resident>,
}

/// Drops an object's resource in its store, which runs the class's
/// destructor in the guest: Python releases the object. An object of a
/// store that was since replaced went with it.
async fn release(station: &Station, resident: &mut Option<Resident>, object: Release) {
    let Release {
        resource,
        method,
        generation,
    } = object;
    let Some(current) = resident.as_mut().filter(|r| r.generation == generation) else {
        return;
    };
    let Resident {
        store, instance, ..
    } = current;
    let released = async {
        if let Some(method) = method
            && let Some(func) = instance.get_func(&mut *store, method)
        {
            func.call_async(&mut *store, &[Val::Resource(resource)], &mut [])
                .await?;
        }
        resource.resource_drop_async(&mut *store).await
    };
    if let Err(error) = released.await {
        // The destructor trapped: the store cannot be trusted any more.
        tracing::warn!("discarding a store whose object could not be released: {error:#}");
        *resident = None;
        station.ready.store(false, Ordering::Release);
    }
}

/// What one stretch of calls on a store shares.
struct Stretch<'a> {
    station: &'a Station,
    /// The generation of the store the calls run on.
    generation: u64,
    inflight: &'a Inflight,
}

/// Instantiates the store, unless it is there.
async fn fill(
    shared: &Shared,
    station: &Station,
    resident: &mut Option<Resident>,
    ahead: bool,
) -> anyhow::Result<()> {
    if resident.is_none() {
        let (store, instance) = instantiate(shared, &station.lowered, ahead).await?;
        let generation = station.generation.fetch_add(1, Ordering::AcqRel) + 1;
        *resident = Some(Resident {
            store,
            instance,
            generation,
        });
        station.ready.store(true, Ordering::Release);
    }
    Ok(())
}

/// Whether a store serves on after a stretch of calls; when it does not,
/// the calls still in flight on it get their errors here.
fn keeps_serving(
    store: &Store<StoreData>,
    inflight: &Inflight,
    outcome: wasmtime::Result<Served>,
) -> bool {
    match outcome {
        Ok(Served::Idle | Served::Closed) => true,
        Ok(Served::Retired) => {
            tracing::warn!(
                "replacing a store that ran into its memory limit of {} bytes",
                store.data().memory.limit().unwrap_or_default()
            );
            false
        }
        Err(error) => {
            let memory = store.data().memory.hit.then(|| store.data().memory.limit());
            // The cause in one line; the guest's wasm backtrace only when
            // asked for (`SNAKEBOX_LOG=debug`).
            tracing::warn!("discarding a store: {}", error.root_cause());
            tracing::debug!("the store was discarded after: {error:?}");
            fail_inflight(inflight, error, memory.flatten());
            false
        }
    }
}

async fn instantiate(
    shared: &Shared,
    lowered: &Arc<AtomicBool>,
    ahead: bool,
) -> anyhow::Result<(Store<StoreData>, Instance)> {
    let mut store = Store::new(
        &shared.engine,
        StoreData::new(
            shared.policy.wasi()?,
            shared.policy.memory,
            shared
                .clock
                .as_ref()
                .map(|clock| Runner::new(Arc::clone(clock.fair_share()), Arc::clone(lowered))),
        ),
    );
    store.limiter(|data| &mut data.memory);
    if shared.clock.is_some() {
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|context| {
            match context.data().tick(Instant::now(), thread_cpu_time()) {
                Tick::Expired(token) => Err(wasmtime::Error::new(TimeLimitExceeded { token })),
                // Yield so that the host's timers (call time limits, sleeps) run
                // even while the guest is busy on the CPU.
                Tick::Go => Ok(UpdateDeadline::Yield(1)),
                Tick::Pause(pause) => Ok(UpdateDeadline::YieldCustom(1, Box::pin(pause.wait()))),
            }
        });
    }
    // With no time limit there are no epoch checks: a guest busy on the CPU
    // keeps its thread until it awaits, and the event loop runs then.
    let instance = shared.pre.instantiate_async(&mut store).await?;
    // The interpreter's first-call set-up runs now, before the store counts
    // as ready, not in the first call a caller waits for. A store made for
    // a call already waiting would only run it sooner.
    if let Some(warm) = shared.warm.as_ref().filter(|_| ahead) {
        let func = instance
            .get_func(&mut store, warm)
            .context("the component's `warm` export is not a function")?;
        func.call_async(&mut store, &[], &mut [])
            .await
            .map_err(anyhow::Error::from)
            .context("failed to warm the new store")?;
    }
    Ok((store, instance))
}

/// Gives every call still in flight on a discarded store its error.
fn fail_inflight(inflight: &Inflight, error: wasmtime::Error, memory_limit: Option<u64>) {
    let culprit = error.downcast_ref::<TimeLimitExceeded>().map(|e| e.token);
    let trap = trap(error);
    let pending: Vec<(u64, Pending)> = inflight
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain()
        .collect();
    let culprit_name = culprit
        .and_then(|token| pending.iter().find(|(t, _)| *t == token))
        .map(|(_, p)| p.function.clone());
    let now = Instant::now();
    for (token, pending) in pending {
        // A call whose own time is up timed out, whoever held the store.
        let out_of_time = pending.deadline.is_some_and(|deadline| now >= deadline);
        let outcome = match (culprit, memory_limit) {
            (Some(culprit), _) if culprit == token || out_of_time => {
                Error::Timeout(pending.timeout.unwrap_or_default())
            }
            (Some(_), _) => Error::Trap(Detail::new(format!(
                "the store was discarded because another call on it ({}) ran past its time limit",
                culprit_name.as_deref().unwrap_or("unknown")
            ))),
            (None, Some(limit)) => Error::MemoryLimit(limit),
            (None, None) => Error::Trap(trap.clone()),
        };
        let _ = pending.reply.send(Err(outcome));
    }
}

/// A trap in one line: its cause and the guest function it happened in
/// (`wasm trap: wasm \`unreachable\` instruction executed, in libc.so!abort`).
/// The whole wasm backtrace is logged at debug level.
fn trap(error: wasmtime::Error) -> Detail {
    let message = trap_message(&error);
    Detail::caused_by(message, error)
}

fn trap_message(error: &wasmtime::Error) -> String {
    let place = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .and_then(|backtrace| backtrace.frames().first())
        .map(|frame| {
            let module = frame.module().name().unwrap_or("<unknown>");
            let function = frame.func_name().unwrap_or("<unknown>");
            format!(", in {module}!{function}")
        });
    format!("{}{}", error.root_cause(), place.unwrap_or_default())
}

/// Why a store stopped serving.
enum Served {
    /// No call is in flight and none waits: the store rests until the next.
    Idle,
    /// Every handle is gone: the worker ends.
    Closed,
    /// A call ran into the memory limit: the store takes no more calls,
    /// finishes those in flight, and is replaced.
    Retired,
}

/// Runs `first` and every call sent while calls are in flight, until none
/// is left.
async fn serve(
    accessor: &Accessor<StoreData>,
    instance: &Instance,
    first: CallRequest,
    requests: &mut mpsc::UnboundedReceiver<Job>,
    stretch: &Stretch<'_>,
    releases: &mut Vec<Release>,
) -> Served {
    let Stretch {
        station,
        generation,
        inflight,
    } = *stretch;
    let mut calls = FuturesUnordered::new();
    calls.push(call(
        accessor,
        instance,
        first,
        station.token(),
        generation,
        inflight,
    ));
    loop {
        if accessor.with(|mut access| access.get().memory.hit) {
            while calls.next().await.is_some() {}
            return Served::Retired;
        }
        let job = if calls.is_empty() {
            match linger(requests) {
                Ok(job) => Some(job),
                Err(mpsc::error::TryRecvError::Empty) => return Served::Idle,
                Err(mpsc::error::TryRecvError::Disconnected) => return Served::Closed,
            }
        } else {
            tokio::select! {
                biased;
                Some(()) = calls.next() => continue,
                job = requests.recv() => job,
            }
        };
        match job {
            Some(Job::Call(request)) => {
                station.queued.fetch_sub(1, Ordering::SeqCst);
                calls.push(call(
                    accessor,
                    instance,
                    request,
                    station.token(),
                    generation,
                    inflight,
                ));
            }
            // The store is here, instantiated.
            Some(Job::Refill) => {}
            // A resource cannot be dropped while calls hold the store.
            Some(Job::Release(object)) => releases.push(object),
            None => {
                while calls.next().await.is_some() {}
                return Served::Closed;
            }
        }
    }
}

/// How long a worker whose calls are all done looks for its next call
/// before its thread sleeps. A caller that awaits each call before it
/// sends the next sends it about now, and waking a sleeping thread costs
/// tens of microseconds here, twice a call. Measured on `tick()` calls in
/// turn: 95 µs a call without, 48 µs with 30 or 60 µs, no better past.
const LINGER: Duration = Duration::from_micros(50);

/// The next job if one comes within [`LINGER`]; the thread yields to any
/// other that wants the CPU meanwhile.
fn linger(requests: &mut mpsc::UnboundedReceiver<Job>) -> Result<Job, mpsc::error::TryRecvError> {
    let until = Instant::now() + LINGER;
    loop {
        match requests.try_recv() {
            Err(mpsc::error::TryRecvError::Empty) if Instant::now() < until => {
                std::thread::yield_now();
            }
            other => return other,
        }
    }
}

async fn call(
    accessor: &Accessor<StoreData>,
    instance: &Instance,
    request: CallRequest,
    token: u64,
    generation: u64,
    inflight: &Inflight,
) {
    let CallRequest {
        function,
        args,
        timeout,
        reply,
        mut cancel,
        items,
        state,
        given_up,
        expects,
        ran_on,
    } = request;
    if matches!(cancel.try_recv(), Err(oneshot::error::TryRecvError::Closed)) {
        // The caller gave up before the call started; don't start it.
        return;
    }
    if expects.is_some_and(|expected| expected != generation) {
        let _ = reply.send(Err(Error::StaleObject(format!(
            "`{}` was passed an object whose store was replaced (after a trap or a limit): \
             the object went with it; make a new one",
            function.call_name
        ))));
        return;
    }
    if let Some(ran_on) = &ran_on {
        ran_on.store(generation, Ordering::Release);
    }
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    inflight
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            token,
            Pending {
                reply,
                function: function.python_name.clone(),
                timeout,
                deadline,
            },
        );
    let Some(func) = accessor.with(|mut access| instance.get_func(&mut access, &function.index))
    else {
        respond(
            inflight,
            token,
            Err(Error::NoSuchFunction(function.qualified_name())),
        );
        return;
    };
    let mut results = vec![Val::Bool(false); usize::from(function.result.is_some())];
    let grace = if function.is_async {
        Deadline::GRACE
    } else {
        Duration::ZERO
    };
    let started = accessor.with(|mut access| {
        let call = func.start_call_concurrent(&mut access, &args, &mut results)?;
        let calls = access.get().calls.clone();
        // Entered before the guest runs, so that its `enter` finds the token.
        let caller = Caller::new(function.python_name.clone(), state);
        let entry = CallEntry::begin(
            &calls,
            token,
            call.task(),
            deadline.map(|d| d + grace),
            caller,
            given_up,
        );
        Ok::<_, wasmtime::Error>((call, entry))
    });
    let (started, entry) = match started {
        Ok(started) => started,
        Err(error) => {
            respond(
                inflight,
                token,
                Err(Error::BadArguments(format!("{error:#}"))),
            );
            return;
        }
    };
    let outcome = {
        let finish = func.finish_call_concurrent(accessor, started);
        tokio::pin!(finish);
        let limit = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(limit);
        let (mut cancelled, mut timed_out) = (false, false);
        let outcome = loop {
            tokio::select! {
                outcome = &mut finish => break outcome,
                _ = &mut cancel, if !cancelled => {
                    cancelled = true;
                    entry.cancel();
                    respond(inflight, token, Err(Error::Cancelled));
                }
                () = &mut limit, if !timed_out => {
                    timed_out = true;
                    entry.cancel();
                    respond(inflight, token, Err(Error::Timeout(timeout.unwrap_or_default())));
                }
            }
        };
        (outcome, cancelled || timed_out)
    };
    let (outcome, gave_up) = outcome;
    entry.deadline().set(None);
    let outcome = match outcome {
        Ok(()) => decode(&function, results.pop()),
        Err(error) => Err(Error::Trap(trap(error))),
    };
    // A call that ran into the memory limit and survived it (Python raised
    // `MemoryError`): the store is replaced once its calls finish, and the
    // caller hears of the limit, as when the guest traps on it.
    let limit = accessor.with(|mut access| {
        let memory = &access.get().memory;
        memory.hit.then(|| memory.limit()).flatten()
    });
    let outcome = match (outcome, limit) {
        (Err(Error::Python(error)), Some(limit)) if error.type_name == "MemoryError" => {
            Err(Error::MemoryLimit(limit))
        }
        (outcome, _) => outcome,
    };
    // A call blocked in a sync host function past its time limit: the
    // host function gave up at the deadline, and Python raised
    // `CancelledError` on its way out. The caller hears of the limit.
    let past_deadline = deadline.is_some_and(|deadline| Instant::now() >= deadline);
    let outcome = match outcome {
        Err(Error::Python(error))
            if past_deadline && !gave_up && error.type_name.ends_with("CancelledError") =>
        {
            Err(Error::Timeout(timeout.unwrap_or_default()))
        }
        // Cancelled from inside Python (another task cancelled it), not by
        // the host: the call did not finish, and says so.
        Err(Error::Python(error)) if !gave_up && error.type_name.ends_with("CancelledError") => {
            Err(Error::Cancelled)
        }
        outcome => outcome,
    };
    let outcome = match (outcome, items) {
        (Ok(Some(Val::Stream(stream))), Some(items)) if !gave_up => {
            let give_up = |error| respond(inflight, token, Err(error));
            let ended = streaming::forward(
                accessor,
                stream,
                items,
                &entry,
                timeout,
                &mut cancel,
                give_up,
            )
            .await;
            entry.deadline().set(None);
            ended.map(|()| None)
        }
        (Ok(Some(Val::Stream(mut stream))), _) => {
            // Nobody reads it: a plain call, or one the host gave up on.
            let _ = accessor.with(|mut access| stream.close(&mut access));
            Err(Error::BadArguments(format!(
                "`{}` streams its items: read them with `stream_json`",
                function.call_name
            )))
        }
        (outcome, _) => outcome,
    };
    drop(entry);
    respond(inflight, token, outcome);
}

/// Unwraps snakebox's `result<T, python-error>`; other results pass as they are.
fn decode(function: &Function, result: Option<Val>) -> Result<Option<Val>> {
    if !function.returns_python_error() {
        return Ok(result);
    }
    match result {
        Some(Val::Result(Ok(value))) => Ok(value.map(|value| *value)),
        Some(Val::Result(Err(Some(error)))) => match records::python_error(*error) {
            Some(error) => Err(Error::Python(error)),
            None => Err(Error::Trap(Detail::new(
                "the guest raised with an error that is not a python-error",
            ))),
        },
        other => Err(Error::Trap(Detail::new(format!(
            "unexpected result shape from the guest: {other:?}"
        )))),
    }
}
