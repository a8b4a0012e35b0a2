//! A worker: one OS thread that owns one store (one CPython instance and its
//! asyncio loop) and runs every call sent to it on that store's event loop.
//!
//! All calls run inside one `run_concurrent`, so async calls interleave. A
//! trap or a limit ends that store: the calls in flight get a clear error and
//! the worker instantiates a fresh store for the next call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::{Accessor, Instance, InstancePre, Val};
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::epoch::EpochClock;
use crate::error::{Error, PythonError, Result};
use crate::host_functions::{Caller, CallerState, GivenUp};
use crate::policy::Policy;
use crate::signature::Function;
use crate::store::{CallEntry, Deadline, StoreData};
use crate::streaming;

/// What every worker of one app shares.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<StoreData>,
    pub(crate) policy: Policy,
    /// The host modules the component calls, from its description.
    pub(crate) host_modules: Vec<snakebox_generator::Module>,
    /// Keeps time limits working after the `Runtime` itself is dropped.
    pub(crate) _clock: Arc<EpochClock>,
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
}

/// The sending side of a worker; the worker stops once every handle is gone
/// and its calls have finished.
#[derive(Clone)]
pub(crate) struct WorkerHandle {
    requests: mpsc::UnboundedSender<CallRequest>,
    /// Set once the worker's first store is instantiated.
    ready: Arc<AtomicBool>,
}

impl WorkerHandle {
    /// Starts a worker thread, which instantiates its store at once.
    pub(crate) fn spawn(shared: Arc<Shared>) -> std::io::Result<Self> {
        let (requests, receiver) = mpsc::unbounded_channel();
        let ready = Arc::new(AtomicBool::new(false));
        let signal = Arc::clone(&ready);
        std::thread::Builder::new()
            .name("snakebox-store".into())
            .spawn(move || run(shared, receiver, signal))?;
        Ok(WorkerHandle { requests, ready })
    }

    /// `true` once the worker's store can take a call without waiting.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub(crate) fn submit(&self, request: CallRequest) {
        if let Err(mpsc::error::SendError(request)) = self.requests.send(request) {
            let _ = request.reply.send(Err(Error::Trap(
                "the store's worker thread has stopped".into(),
            )));
        }
    }
}

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

fn run(
    shared: Arc<Shared>,
    mut requests: mpsc::UnboundedReceiver<CallRequest>,
    ready: Arc<AtomicBool>,
) {
    // Timers for the guest's sleeps and time limits; IO for the host
    // functions, which run here too.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            while let Some(request) = requests.blocking_recv() {
                let message = format!("failed to start the store's event loop: {error}");
                let _ = request.reply.send(Err(Error::Trap(message)));
            }
            return;
        }
    };
    runtime.block_on(async move {
        let mut next_token = 1;
        loop {
            let (mut store, instance) = match instantiate(&shared).await {
                Ok(instantiated) => {
                    ready.store(true, Ordering::Release);
                    instantiated
                }
                Err(error) => {
                    // Nothing can run; answer the next caller and try again for the one after.
                    match requests.recv().await {
                        Some(request) => {
                            let _ = request.reply.send(Err(Error::Other(error)));
                            continue;
                        }
                        None => return,
                    }
                }
            };
            let inflight = Inflight::default();
            let outcome = store
                .run_concurrent(async |accessor| {
                    serve(
                        accessor,
                        &instance,
                        &mut requests,
                        &inflight,
                        &mut next_token,
                    )
                    .await
                })
                .await;
            match outcome {
                Ok(Served::Closed) => return,
                Ok(Served::Retired) => {
                    tracing::warn!(
                        "replacing a store that ran into its memory limit of {} bytes",
                        store.data().memory.limit().unwrap_or_default()
                    );
                }
                Err(error) => {
                    let memory = store.data().memory.hit.then(|| store.data().memory.limit());
                    fail_inflight(&inflight, &error, memory.flatten());
                    // The cause in one line; the guest's wasm backtrace
                    // only when asked for (`SNAKEBOX_LOG=debug`).
                    tracing::warn!("discarding a store: {}", error.root_cause());
                    tracing::debug!("the store was discarded after: {error:?}");
                }
            }
        }
    });
}

async fn instantiate(shared: &Shared) -> anyhow::Result<(Store<StoreData>, Instance)> {
    let mut store = Store::new(
        &shared.engine,
        StoreData::new(shared.policy.wasi()?, shared.policy.memory),
    );
    store.limiter(|data| &mut data.memory);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|context| {
        if let Some(token) = context.data().expired(Instant::now()) {
            return Err(wasmtime::Error::new(TimeLimitExceeded { token }));
        }
        // Yield so that the host's timers (call time limits, sleeps) run
        // even while the guest is busy on the CPU.
        Ok(UpdateDeadline::Yield(1))
    });
    let instance = shared.pre.instantiate_async(&mut store).await?;
    Ok((store, instance))
}

/// Gives every call still in flight on a discarded store its error.
fn fail_inflight(inflight: &Inflight, error: &wasmtime::Error, memory_limit: Option<u64>) {
    let culprit = error.downcast_ref::<TimeLimitExceeded>().map(|e| e.token);
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
            (Some(_), _) => Error::Trap(format!(
                "the store was discarded because another call on it ({}) ran past its time limit",
                culprit_name.as_deref().unwrap_or("unknown")
            )),
            (None, Some(limit)) => Error::MemoryLimit(limit),
            (None, None) => Error::Trap(trap_message(error)),
        };
        let _ = pending.reply.send(Err(outcome));
    }
}

/// A trap in one line: its cause and the guest function it happened in
/// (`wasm trap: wasm \`unreachable\` instruction executed, in libc.so!abort`).
/// The whole wasm backtrace is logged at debug level.
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
    /// Every handle is gone: the worker ends.
    Closed,
    /// A call ran into the memory limit: the store takes no more calls,
    /// finishes those in flight, and is replaced.
    Retired,
}

async fn serve(
    accessor: &Accessor<StoreData>,
    instance: &Instance,
    requests: &mut mpsc::UnboundedReceiver<CallRequest>,
    inflight: &Inflight,
    next_token: &mut u64,
) -> Served {
    let mut calls = FuturesUnordered::new();
    loop {
        if accessor.with(|mut access| access.get().memory.hit) {
            while calls.next().await.is_some() {}
            return Served::Retired;
        }
        tokio::select! {
            biased;
            Some(()) = calls.next(), if !calls.is_empty() => {}
            request = requests.recv() => match request {
                Some(request) => {
                    let token = *next_token;
                    *next_token += 1;
                    calls.push(call(accessor, instance, request, token, inflight));
                }
                None => break,
            },
        }
    }
    while calls.next().await.is_some() {}
    Served::Closed
}

async fn call(
    accessor: &Accessor<StoreData>,
    instance: &Instance,
    request: CallRequest,
    token: u64,
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
    } = request;
    if matches!(cancel.try_recv(), Err(oneshot::error::TryRecvError::Closed)) {
        // The caller gave up before the call started; don't start it.
        return;
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
        Err(error) => Err(Error::Trap(trap_message(&error))),
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
        Some(Val::Result(Err(Some(error)))) => Err(Error::Python(python_error(*error))),
        other => Err(Error::Trap(format!(
            "unexpected result shape from the guest: {other:?}"
        ))),
    }
}

fn python_error(value: Val) -> PythonError {
    let mut error = PythonError {
        type_name: String::new(),
        message: String::new(),
        traceback: String::new(),
    };
    if let Val::Record(fields) = value {
        for (name, value) in fields {
            let Val::String(text) = value else { continue };
            match name.as_str() {
                "type-name" => error.type_name = text,
                "message" => error.message = text,
                "traceback" => error.traceback = text,
                _ => {}
            }
        }
    }
    error
}
