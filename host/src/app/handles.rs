//! The handles on a loaded component: the [`App`] itself, a [`Session`]
//! that keeps one store, a [`Pool`] that spreads calls over several, and
//! the stores they own (one per calling thread, and a reserve of fresh
//! ones). They make their calls through [`Calls`](crate::Calls).
//!
//! Module globals live per store, so they are shared by the calls of one
//! thread, of one session, or of one pool worker, and never between them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::ThreadId;
use std::time::Duration;

use crate::app::classes::Class;
use crate::component::signature::Function;
use crate::error::{Error, Result};
use crate::exec::worker::{self, Shared, WorkerHandle};
use crate::store::CallerState;

/// A loaded component. Cheap to clone and to send between threads.
///
/// Dropping the last clone (with the sessions and pools made from it) ends
/// its stores and their threads once their calls have finished.
#[derive(Clone)]
pub struct App {
    shared: Arc<Shared>,
    functions: Arc<[Arc<Function>]>,
    names: Arc<Names>,
    classes: Arc<[Arc<Class>]>,
    reserve: Arc<Reserve>,
    threads: Arc<ThreadStores>,
    /// Handed to the host functions of this handle's calls.
    pub(crate) state: Option<CallerState>,
}

/// The free functions by the names [`App::function`] finds them by, built
/// once: every call looks its function up by name.
struct Names {
    /// The call name, `interface#name`, and `module.name` in the module's
    /// Python and WIT spellings: indices into the app's functions.
    exact: HashMap<String, Vec<usize>>,
    /// The Python and WIT names, for a name that no function has exactly.
    plain: HashMap<String, Vec<usize>>,
}

impl Names {
    fn of(functions: &[Arc<Function>]) -> Self {
        let mut names = Names {
            exact: HashMap::new(),
            plain: HashMap::new(),
        };
        for (index, function) in functions.iter().enumerate() {
            let exact = [function.call_name.clone(), function.qualified_name()]
                .into_iter()
                .chain(function.module_names().into_iter().flatten());
            for name in exact {
                Self::add(&mut names.exact, name, index);
            }
            for name in [&function.python_name, &function.name] {
                Self::add(&mut names.plain, name.clone(), index);
            }
        }
        names
    }

    fn add(map: &mut HashMap<String, Vec<usize>>, name: String, index: usize) {
        let indices = map.entry(name).or_default();
        if indices.last() != Some(&index) {
            indices.push(index);
        }
    }

    /// The indices of the functions `name` names, in the app's order.
    fn find(&self, name: &str) -> &[usize] {
        self.exact
            .get(name)
            .or_else(|| self.plain.get(name))
            .map_or(&[], Vec::as_slice)
    }
}

/// The store of each thread that has called through its [`App`]. The app owns
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

    /// `true` when `worker` is the calling thread's own store.
    fn is_current(&self, worker: &WorkerHandle) -> bool {
        let thread = (std::thread::current().id(), worker::depth());
        self.lock()
            .get(&thread)
            .is_some_and(|own| own.same_worker(worker))
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
                Error::Other(anyhow::Error::new(e).context("failed to start the reserve's thread"))
            })?;
        let _ = wake.send(());
        *keeper = Some(wake);
        Ok(())
    }
}

/// Starts a store; `warm` for one made ahead of its first call.
fn spawn_worker(shared: &Arc<Shared>, warm: bool) -> Result<WorkerHandle> {
    WorkerHandle::spawn(Arc::clone(shared), warm)
        .map_err(|e| Error::Other(anyhow::Error::new(e).context("failed to start a store thread")))
}

impl App {
    /// An app over `functions`: free functions and class members alike.
    pub(crate) fn new(shared: Arc<Shared>, functions: Vec<Function>) -> Self {
        let (members, functions): (Vec<Function>, Vec<Function>) =
            functions.into_iter().partition(|f| f.member.is_some());
        let functions: Arc<[Arc<Function>]> = functions.into_iter().map(Arc::new).collect();
        App {
            shared,
            names: Arc::new(Names::of(&functions)),
            functions,
            classes: Class::gather(members).into(),
            reserve: Arc::default(),
            threads: Arc::default(),
            state: None,
        }
    }

    /// The host modules the component calls, as its description names
    /// them: each stub's functions, which [`Policy::host`](crate::Policy::host)
    /// binds by `module.function`.
    pub fn host_modules(&self) -> &[snakebox_generator::Module] {
        &self.shared.host_modules
    }

    /// Every exported function; the members of classes are in
    /// [`classes`](Self::classes).
    pub fn functions(&self) -> &[Arc<Function>] {
        &self.functions
    }

    /// The module's classes, which WIT exports as resources.
    pub fn classes(&self) -> &[Arc<Class>] {
        &self.classes
    }

    /// A function as [`function`](Self::function) finds it, or a class
    /// member by its call name: `Account` (the constructor),
    /// `Account.deposit` (in a package, `module.Account.deposit`).
    pub fn callable(&self, name: &str) -> Result<Arc<Function>> {
        let members = self
            .classes
            .iter()
            .flat_map(|class| class.constructor().into_iter().chain(class.members()));
        for member in members {
            if member.call_name == name {
                return Ok(Arc::clone(member));
            }
        }
        self.function(name)
    }

    /// `true` when both run the same loaded component.
    pub(crate) fn same_component(&self, other: &App) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Finds a function by its call name (`name`, or `module.name` in a
    /// package), its Python name or WIT name when only one function has it,
    /// or `interface#name`.
    pub fn function(&self, name: &str) -> Result<Arc<Function>> {
        match self.names.find(name) {
            [one] => Ok(Arc::clone(&self.functions[*one])),
            [] => Err(Error::NoSuchFunction(name.to_owned())),
            many => Err(Error::BadArguments(format!(
                "`{name}` is ambiguous; name one of: {}",
                many.iter()
                    .map(|&index| self.functions[index].call_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// A session pinned to one new store of its own.
    pub fn session(&self) -> Result<Session> {
        Ok(Session {
            app: self.clone(),
            worker: self.spawn_worker()?,
            state: self.state.clone(),
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
            state: self.state.clone(),
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
            state: self.state.clone(),
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

    /// `true` when `worker` is the calling thread's own store, where a
    /// sync call may run on the calling thread itself.
    pub(crate) fn is_thread_store(&self, worker: &WorkerHandle) -> bool {
        self.threads.is_current(worker)
    }

    /// The calling thread's own store, started on its first call.
    pub(crate) fn thread_store(&self) -> Result<WorkerHandle> {
        self.threads.current(|| self.spawn_worker())
    }
}

/// One store of an app, for calls that must share module state.
pub struct Session {
    pub(crate) app: App,
    pub(crate) worker: WorkerHandle,
    pub(crate) state: Option<CallerState>,
    pub(crate) was_ready: bool,
}

impl Session {
    /// `true` when the session's store was already instantiated when it was
    /// handed out: [`App::fresh`] took it from a ready reserve.
    pub fn was_ready(&self) -> bool {
        self.was_ready
    }

    /// `true` while the session's store is on a thread lowered by a long
    /// run, until the store moves on to a new thread: a call placed on it
    /// would wait for a thread that runs only on an idle core.
    pub fn is_lowered(&self) -> bool {
        self.worker.is_lowered()
    }

    /// The app this session runs.
    pub fn app(&self) -> &App {
        &self.app
    }
}

/// N stores of an app, each on its own thread, so calls run in parallel.
#[derive(Clone)]
pub struct Pool {
    pub(crate) app: App,
    pub(crate) workers: Arc<[WorkerHandle]>,
    pub(crate) next: Arc<AtomicUsize>,
    pub(crate) state: Option<CallerState>,
}

impl Pool {
    /// The number of stores.
    pub fn size(&self) -> usize {
        self.workers.len()
    }

    /// The app this pool runs.
    pub fn app(&self) -> &App {
        &self.app
    }
}
