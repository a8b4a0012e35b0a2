//! A loaded component and the stores that run it.
//!
//! Calls go to a store chosen by how they are made:
//! - [`App::call`] uses the calling thread's own store, created on the
//!   thread's first call and reused until the thread ends. A sync call
//!   made while that store is idle runs on the calling thread itself, as
//!   the call is made;
//! - [`Session`] pins one store, for stateful use;
//! - [`Pool`] spreads calls over N stores, for servers.
//!
//! Module globals live per store, so they are shared by the calls of one
//! thread, of one session, or of one pool worker, and never between them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::thread::ThreadId;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;
use wasmtime::component::Val;

use crate::component::signature::Function;
use crate::error::{Error, Result};
use crate::exec::streaming;
use crate::exec::worker::{self, CallRequest, Shared, WorkerHandle};
use crate::store::{CallerState, GiveUp};
use crate::values::arguments;

/// A loaded component. Cheap to clone and to send between threads.
///
/// Dropping the last clone (with the sessions and pools made from it) ends
/// its stores and their threads once their calls have finished.
#[derive(Clone)]
pub struct App {
    shared: Arc<Shared>,
    functions: Arc<[Arc<Function>]>,
    reserve: Arc<Reserve>,
    threads: Arc<ThreadStores>,
}

/// The store of each thread that has made an [`App::call`]. The app owns
/// them, so they end with it; a thread that ends first removes its own.
///
/// A host function that calls back into the app from a call running on its
/// caller's thread gets a store of its own, one level deeper: the thread's
/// store is busy with the call that waits for it.
#[derive(Default)]
struct ThreadStores {
    by_thread: Mutex<HashMap<(ThreadId, usize), WorkerHandle>>,
}

thread_local! {
    /// The apps this thread has a store in, to leave when the thread ends.
    static THREAD_APPS: RefCell<ThreadApps> = RefCell::new(ThreadApps {
        thread: std::thread::current().id(),
        apps: Vec::new(),
    });
}

struct ThreadApps {
    thread: ThreadId,
    apps: Vec<Weak<ThreadStores>>,
}

impl Drop for ThreadApps {
    fn drop(&mut self) {
        for stores in self.apps.iter().filter_map(Weak::upgrade) {
            stores
                .lock()
                .retain(|(thread, _), _| *thread != self.thread);
        }
    }
}

impl ThreadStores {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(ThreadId, usize), WorkerHandle>> {
        self.by_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The calling thread's store, started on its first call.
    fn current(
        self: &Arc<Self>,
        spawn: impl FnOnce() -> Result<WorkerHandle>,
    ) -> Result<WorkerHandle> {
        let thread = (std::thread::current().id(), worker::depth());
        if let Some(worker) = self.lock().get(&thread) {
            return Ok(worker.clone());
        }
        let worker = spawn()?;
        self.lock().insert(thread, worker.clone());
        let registered = THREAD_APPS.try_with(|apps| {
            let mut apps = apps.borrow_mut();
            apps.apps.retain(|app| app.strong_count() > 0);
            apps.apps.push(Arc::downgrade(self));
        });
        if registered.is_err() {
            // The thread is ending: its store serves this call alone.
            self.lock().remove(&thread);
        }
        Ok(worker)
    }
}

/// Stores instantiated ahead of time, handed out by [`App::fresh`].
#[derive(Default)]
struct Reserve {
    workers: std::sync::Mutex<Vec<WorkerHandle>>,
    /// How many to keep instantiated.
    target: AtomicUsize,
    /// Wakes the thread that refills the reserve, once it is started: a
    /// store taken is replaced off the taker's thread. The thread ends
    /// with the reserve.
    keeper: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

impl Reserve {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<WorkerHandle>> {
        self.workers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts stores until `target` are kept.
    fn refill(&self, shared: &Arc<Shared>) -> Result<()> {
        let target = self.target.load(Ordering::Relaxed);
        let mut workers = self.lock();
        while workers.len() < target {
            workers.push(spawn_worker(shared, true)?);
        }
        Ok(())
    }

    /// Has the keeper refill the reserve, starting it on first use.
    fn wake_keeper(self: &Arc<Self>, shared: &Arc<Shared>) -> Result<()> {
        let mut keeper = self.keeper.lock().unwrap_or_else(PoisonError::into_inner);
        if keeper.as_ref().is_some_and(|wake| wake.send(()).is_ok()) {
            return Ok(());
        }
        let (wake, woken) = std::sync::mpsc::channel::<()>();
        let (reserve, shared) = (Arc::downgrade(self), Arc::clone(shared));
        std::thread::Builder::new()
            .name("snakebox-reserve".into())
            .spawn(move || {
                // Ends when the reserve does, which drops the sender.
                while woken.recv().is_ok() {
                    let Some(reserve) = reserve.upgrade() else {
                        return;
                    };
                    if let Err(error) = reserve.refill(&shared) {
                        tracing::warn!("failed to refill the warm reserve: {error}");
                    }
                }
            })
            .map_err(|e| {
                Error::Other(anyhow::anyhow!("failed to start the reserve's thread: {e}"))
            })?;
        let _ = wake.send(());
        *keeper = Some(wake);
        Ok(())
    }
}

/// Starts a store; `warm` for one made ahead of its first call.
fn spawn_worker(shared: &Arc<Shared>, warm: bool) -> Result<WorkerHandle> {
    WorkerHandle::spawn(Arc::clone(shared), warm)
        .map_err(|e| Error::Other(anyhow::anyhow!("failed to start a store thread: {e}")))
}

impl App {
    pub(crate) fn new(shared: Arc<Shared>, functions: Vec<Function>) -> Self {
        App {
            shared,
            functions: functions.into_iter().map(Arc::new).collect(),
            reserve: Arc::default(),
            threads: Arc::default(),
        }
    }

    /// The host modules the component calls, as its description names
    /// them: each stub's functions, which [`Policy::host`](crate::Policy::host)
    /// binds by `module.function`.
    pub fn host_modules(&self) -> &[snakebox_generator::Module] {
        &self.shared.host_modules
    }

    /// Every exported function.
    pub fn functions(&self) -> &[Arc<Function>] {
        &self.functions
    }

    /// Finds a function by its call name (`name`, or `module.name` in a
    /// package), its Python name or WIT name when only one function has it,
    /// or `interface#name`.
    pub fn function(&self, name: &str) -> Result<Arc<Function>> {
        let matches: Vec<&Arc<Function>> = self
            .functions
            .iter()
            .filter(|f| f.call_name == name || f.has_qualified_name(name))
            .collect();
        let matches = match matches.is_empty() {
            true => self
                .functions
                .iter()
                .filter(|f| f.python_name == name || f.name == name)
                .collect(),
            false => matches,
        };
        match matches.as_slice() {
            [one] => Ok(Arc::clone(one)),
            [] => Err(Error::NoSuchFunction(name.to_owned())),
            many => Err(Error::BadArguments(format!(
                "`{name}` is ambiguous; name one of: {}",
                many.iter()
                    .map(|f| f.call_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Calls a function with WIT values on this thread's store.
    ///
    /// A sync function called while that store is idle runs here and now,
    /// on the calling thread, with no hop to the store's worker thread: the
    /// call is over when `call` returns, and the future is ready. Async
    /// functions, generators and calls made while the store is busy run on
    /// the worker, and the future waits for them. An async task that makes
    /// long sync calls holds up its executor's thread meanwhile, as any
    /// blocking call does; a [`Session`] or a [`Pool`] runs every call on a
    /// worker instead.
    pub fn call(&self, name: &str, args: Vec<Val>) -> Call {
        self.call_on(Target::Thread, name, args)
    }

    fn call_on(&self, target: Target<'_>, name: &str, args: Vec<Val>) -> Call {
        match self.function(name) {
            Ok(function) => self.submit(target, function, args),
            Err(error) => Call::failed(error),
        }
    }

    /// Calls a function with JSON arguments on this thread's store, and
    /// gives its result as JSON.
    pub fn call_json(
        &self,
        name: &str,
        positional: &[Value],
        named: &[(String, Value)],
    ) -> impl Future<Output = Result<Value>> + Send + use<> {
        json_call(self, Target::Thread, name, positional, named)
    }

    /// Calls a generator function with JSON arguments on this thread's
    /// store, and streams its items as JSON.
    pub fn stream_json(
        &self,
        name: &str,
        positional: &[Value],
        named: &[(String, Value)],
    ) -> JsonStream {
        json_stream(self, Target::Thread, name, positional, named)
    }

    /// Calls an already looked-up function on this thread's store.
    pub fn call_function(&self, function: Arc<Function>, args: Vec<Val>) -> Call {
        self.submit(Target::Thread, function, args)
    }

    /// Calls an already looked-up generator function on this thread's
    /// store, and streams its items as JSON.
    pub fn stream_function(&self, function: Arc<Function>, args: Vec<Val>) -> JsonStream {
        stream_on(self, Target::Thread, function, args)
    }

    /// A session pinned to one new store of its own.
    pub fn session(&self) -> Result<Session> {
        Ok(Session {
            app: self.clone(),
            worker: self.spawn_worker()?,
            state: None,
            was_ready: false,
        })
    }

    /// Keeps `count` fresh stores instantiated ahead of time, so that
    /// [`App::fresh`] hands one out without waiting for instantiation.
    /// Each costs a thread and its store's memory while it waits.
    pub fn keep_fresh(&self, count: usize) -> Result<()> {
        self.reserve.target.store(count, Ordering::Relaxed);
        self.reserve.refill(&self.shared)
    }

    /// A new, isolated interpreter of its own: nothing of earlier calls is
    /// in it. Taken from the reserve kept by [`App::keep_fresh`] when one is
    /// ready; the reserve is then refilled in the background, on a thread
    /// of its own.
    pub fn fresh(&self) -> Result<Session> {
        let taken = {
            let mut workers = self.reserve.lock();
            // Prefer a worker whose store is already instantiated.
            let index = workers.iter().position(WorkerHandle::is_ready);
            index
                .or_else(|| workers.len().checked_sub(1))
                .map(|index| workers.swap_remove(index))
        };
        let worker = match taken {
            Some(worker) => worker,
            None => self.spawn_worker()?,
        };
        if self.reserve.target.load(Ordering::Relaxed) > 0 {
            self.reserve.wake_keeper(&self.shared)?;
        }
        Ok(Session {
            was_ready: worker.is_ready(),
            app: self.clone(),
            worker,
            state: None,
        })
    }

    /// How many stores of the reserve ([`App::keep_fresh`]) are
    /// instantiated and waiting to be handed out.
    pub fn ready_fresh(&self) -> usize {
        let workers = self.reserve.lock();
        workers.iter().filter(|worker| worker.is_ready()).count()
    }

    /// A pool of `workers` stores; calls go round-robin.
    pub fn pool(&self, workers: usize) -> Result<Pool> {
        let workers = (0..workers.max(1))
            .map(|_| self.spawn_worker())
            .collect::<Result<Vec<_>>>()?;
        Ok(Pool {
            app: self.clone(),
            workers: workers.into(),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The time limit of each call, from the policy.
    pub fn timeout(&self) -> Option<Duration> {
        self.shared.policy.timeout
    }

    /// The memory limit of each store, in bytes, from the policy.
    pub fn memory_limit(&self) -> Option<u64> {
        self.shared.policy.memory
    }

    fn spawn_worker(&self) -> Result<WorkerHandle> {
        spawn_worker(&self.shared, false)
    }

    fn submit(&self, target: Target<'_>, function: Arc<Function>, args: Vec<Val>) -> Call {
        self.submit_with(target, function, args, None)
    }

    fn submit_with(
        &self,
        target: Target<'_>,
        function: Arc<Function>,
        args: Vec<Val>,
        items: Option<futures::channel::mpsc::Sender<String>>,
    ) -> Call {
        let (reply, receiver) = oneshot::channel();
        let (guard, cancel) = oneshot::channel();
        let given_up = GiveUp::default();
        let state = match &target {
            Target::Worker(_, state) => state.cloned(),
            Target::Thread => None,
        };
        let request = CallRequest {
            function,
            args,
            timeout: self.shared.policy.timeout,
            reply,
            cancel,
            items,
            state,
            given_up: given_up.signal(),
        };
        match target {
            Target::Thread => match self.threads.current(|| self.spawn_worker()) {
                Ok(worker) => {
                    if let Some(request) = worker.call_here(request) {
                        worker.submit(request);
                    }
                }
                Err(error) => return Call::failed(error),
            },
            Target::Worker(worker, _) => worker.submit(request),
        }
        Call {
            state: CallState::Waiting {
                receiver,
                _guard: guard,
                _given_up: given_up,
            },
        }
    }
}

/// Which store a call goes to, and the caller's state for host functions.
enum Target<'a> {
    Thread,
    Worker(&'a WorkerHandle, Option<&'a CallerState>),
}

fn json_call(
    app: &App,
    target: Target<'_>,
    name: &str,
    positional: &[Value],
    named: &[(String, Value)],
) -> impl Future<Output = Result<Value>> + Send + use<> {
    let prepared = app.function(name).and_then(|function| {
        let args = arguments::bind(&function, positional, named)?;
        Ok((Arc::clone(&function), app.submit(target, function, args)))
    });
    async move {
        let (function, call) = prepared?;
        let value = call.await?;
        Ok(arguments::result_json(&function, value.as_ref()))
    }
}

fn json_stream(
    app: &App,
    target: Target<'_>,
    name: &str,
    positional: &[Value],
    named: &[(String, Value)],
) -> JsonStream {
    let prepared = app.function(name).and_then(|function| {
        let args = arguments::bind(&function, positional, named)?;
        Ok((function, args))
    });
    match prepared {
        Ok((function, args)) => stream_on(app, target, function, args),
        Err(error) => JsonStream::failed(error),
    }
}

fn stream_on(app: &App, target: Target<'_>, function: Arc<Function>, args: Vec<Val>) -> JsonStream {
    if !function.returns_stream() {
        return JsonStream::failed(Error::BadArguments(format!(
            "`{}` returns one value, not a stream: call it with `call_json`",
            function.call_name
        )));
    }
    let (sender, items) = futures::channel::mpsc::channel(streaming::BUFFER);
    JsonStream {
        items: Some(items),
        call: Some(app.submit_with(target, function, args, Some(sender))),
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

/// One store of an app, for calls that must share module state.
pub struct Session {
    app: App,
    worker: WorkerHandle,
    state: Option<CallerState>,
    was_ready: bool,
}

impl Session {
    /// `true` when the session's store was already instantiated when it was
    /// handed out: [`App::fresh`] took it from a ready reserve.
    pub fn was_ready(&self) -> bool {
        self.was_ready
    }

    /// The same session, whose calls hand `state` to every host function
    /// they call, as [`Caller::state`](crate::Caller::state): a tenant, a user, a request id.
    pub fn with_state(mut self, state: impl std::any::Any + Send + Sync) -> Self {
        self.state = Some(Arc::new(state));
        self
    }

    /// Calls a function with WIT values on this session's store.
    pub fn call(&self, name: &str, args: Vec<Val>) -> Call {
        self.app.call_on(
            Target::Worker(&self.worker, self.state.as_ref()),
            name,
            args,
        )
    }

    /// Calls an already looked-up function on this session's store.
    pub fn call_function(&self, function: Arc<Function>, args: Vec<Val>) -> Call {
        self.app.submit(
            Target::Worker(&self.worker, self.state.as_ref()),
            function,
            args,
        )
    }

    /// Calls a generator function on this session's store and streams its items.
    pub fn stream_json(
        &self,
        name: &str,
        positional: &[Value],
        named: &[(String, Value)],
    ) -> JsonStream {
        json_stream(
            &self.app,
            Target::Worker(&self.worker, self.state.as_ref()),
            name,
            positional,
            named,
        )
    }

    /// Calls a function with JSON arguments on this session's store.
    pub fn call_json(
        &self,
        name: &str,
        positional: &[Value],
        named: &[(String, Value)],
    ) -> impl Future<Output = Result<Value>> + Send + use<> {
        json_call(
            &self.app,
            Target::Worker(&self.worker, self.state.as_ref()),
            name,
            positional,
            named,
        )
    }
}

/// N stores of an app, each on its own thread, so calls run in parallel.
#[derive(Clone)]
pub struct Pool {
    app: App,
    workers: Arc<[WorkerHandle]>,
    next: Arc<AtomicUsize>,
}

impl Pool {
    /// The number of stores.
    pub fn size(&self) -> usize {
        self.workers.len()
    }

    fn pick(&self) -> &WorkerHandle {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        &self.workers[index]
    }

    /// Calls a function with WIT values on the next store.
    pub fn call(&self, name: &str, args: Vec<Val>) -> Call {
        self.app
            .call_on(Target::Worker(self.pick(), None), name, args)
    }

    /// Calls a function with JSON arguments on the next store.
    pub fn call_json(
        &self,
        name: &str,
        positional: &[Value],
        named: &[(String, Value)],
    ) -> impl Future<Output = Result<Value>> + Send + use<> {
        json_call(
            &self.app,
            Target::Worker(self.pick(), None),
            name,
            positional,
            named,
        )
    }

    /// Calls a generator function on the next store and streams its items.
    pub fn stream_json(
        &self,
        name: &str,
        positional: &[Value],
        named: &[(String, Value)],
    ) -> JsonStream {
        json_stream(
            &self.app,
            Target::Worker(self.pick(), None),
            name,
            positional,
            named,
        )
    }

    /// The app this pool runs.
    pub fn app(&self) -> &App {
        &self.app
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
                outcome.unwrap_or_else(|_| Err(Error::Trap("the store's worker stopped".into())))
            }),
        }
    }
}
