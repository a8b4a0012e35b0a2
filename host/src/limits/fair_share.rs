//! A fair share of the CPU between stores: a call that has held the CPU
//! for long gives way to short calls on other stores.
//!
//! A server's short calls and a guest that spins until its time limit run
//! on threads of their own, and the OS shares the cores between them
//! evenly: a few spinning guests would take most of the CPU from hundreds
//! of short calls. So the stores are scheduled as a scheduler that favours
//! the least attained service would:
//!
//! - A store's *stretch* runs from when its thread wakes to run its calls
//!   until the thread next goes idle (parks with nothing to run), or until
//!   one of its calls begins or ends ([`calls_changed`]): a stretch is the
//!   time one call held the thread on its own. Waiting for a core is not
//!   idle: the stretch goes on, measured by the thread's own CPU clock, not
//!   by the wall clock, so that a young call on a busy machine is not taken
//!   for a long one. The clock counts the kernel's time for the thread too,
//!   so a guest that page-faults its way through memory counts the CPU it
//!   costs.
//! - Once a stretch has used [`LONG_RUN`] of CPU, the store is a *long
//!   run*. Each store with a time limit stops at every epoch tick (the epoch
//!   callback); there a long run pauses while short runs (stores awake on
//!   a stretch that is not long) want the CPU: while one is awake, or was
//!   within the last tick. A pause of its own is not idle: the stretch
//!   goes on.
//! - So that long runs still finish, they take turns: while short runs want
//!   the CPU, one long run at a time may run one tick in every
//!   [`TURN_EVERY`]. Only runs that are not lowered (below) pause.
//! - What a tick cannot pause, the OS can: one wasm instruction that fills
//!   or copies a hundred megabytes, or the host lifting a huge result. On
//!   Linux the epoch clock's thread also watches the stores awake on their
//!   own threads ([`own_thread`], [`FairShare::watch`]), and puts the
//!   thread of a long run under the scheduler's idle policy: the kernel
//!   runs it only on a core no other thread wants. A thread cannot leave
//!   that policy without privileges, so the store moves to a new thread
//!   once its calls are done (the flag given to [`Runner::new`]), started
//!   by a thread that was never lowered ([`FairShare::start_thread`]);
//!   until then other calls are placed on other stores. Only a store with one call in flight is
//!   lowered: async calls that share a thread would all be slowed for one.
//!   A caller's own thread, which runs sync calls on a store of its own,
//!   is never lowered.
//!
//! With no short run wanting the CPU, a long run is not slowed at all:
//! CPU-bound work still scales across stores. Its time limit counts wall
//! time, so a spinning guest is stopped when it always was; it only burns
//! less CPU on the way. A guest that eats memory gives way as a spin does:
//! on a busy server it may meet its time limit before its memory limit.
//!
//! Stores without a time limit have no epoch checks and so no ticks: they
//! are neither slowed nor counted.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::EPOCH_TICK;

/// How much CPU a stretch uses before it counts as a long run: some two
/// hundred times a short call that a server answers in tens of
/// microseconds, and several times the first call on a new store, which
/// sets the interpreter up (a few milliseconds).
pub(crate) const LONG_RUN: Duration = Duration::from_millis(10);

/// While short runs are awake, one long run runs one tick in this many.
pub(crate) const TURN_EVERY: u32 = 10;

/// How the stores of one engine share the CPU: the short runs awake now,
/// and when the long runs' next turn is.
#[derive(Debug)]
pub(crate) struct FairShare {
    short: AtomicUsize,
    start: Instant,
    /// When a long run may next take a turn, in nanoseconds since `start`.
    next_turn: AtomicU64,
    /// When a short run last stopped, in nanoseconds since `start` (at
    /// least 1); 0 before any did.
    last_short: AtomicU64,
    /// Every store's runner, for [`FairShare::watch`].
    runners: Mutex<Vec<Weak<Runner>>>,
    /// Where lowered threads have their successors started.
    nursery: Mutex<Option<Nursery>>,
}

/// Starts a thread at the priority of the thread that made the nursery. A
/// thread that was lowered cannot start one itself: its threads inherit
/// its policy.
type Nursery = std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>;

impl Default for FairShare {
    fn default() -> Self {
        FairShare {
            short: AtomicUsize::new(0),
            start: Instant::now(),
            next_turn: AtomicU64::new(0),
            last_short: AtomicU64::new(0),
            runners: Mutex::default(),
            nursery: Mutex::default(),
        }
    }
}

impl FairShare {
    /// Starts the thread that starts the successors of lowered threads,
    /// at the calling thread's priority. It ends with the fair share.
    pub(crate) fn open_nursery(&self) -> std::io::Result<()> {
        let (sender, births) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("snakebox-nursery".into())
            .spawn(move || births.into_iter().for_each(|birth| birth()))?;
        *self.nursery.lock().unwrap_or_else(PoisonError::into_inner) = Some(sender);
        Ok(())
    }

    /// Starts a store's thread named `name`, which runs `body`: from the
    /// nursery when there is one, so that the new thread does not inherit
    /// the caller's lowered priority. The error says why none started.
    pub(crate) fn start_thread(
        &self,
        name: &str,
        body: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<()> {
        let builder = std::thread::Builder::new().name(name.to_owned());
        let nursery = self
            .nursery
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(nursery) = nursery else {
            return builder.spawn(body).map(drop);
        };
        let (told, started) = std::sync::mpsc::sync_channel(1);
        let birth = Box::new(move || {
            let _ = told.send(builder.spawn(body).map(drop));
        });
        nursery
            .send(birth)
            .map_err(|_| std::io::Error::other("the nursery thread has stopped"))?;
        started
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the nursery thread has stopped")))
    }

    /// Looks at every store awake on its own thread, from outside it (the
    /// epoch clock's thread does, at each tick): one whose stretch has used
    /// [`LONG_RUN`] of CPU is a long run, and its thread is lowered, even
    /// if it is inside one long instruction and never reaches a tick.
    pub(crate) fn watch(&self, now: Instant) {
        // Never waits: a thread that makes a store may be a lowered one.
        let Ok(mut runners) = self.runners.try_lock() else {
            return;
        };
        runners.retain(|runner| match runner.upgrade() {
            Some(runner) => {
                runner.watch(now);
                true
            }
            None => false,
        });
    }

    /// How many stores are awake on a short run.
    pub(crate) fn short_runs(&self) -> usize {
        self.short.load(Ordering::Relaxed)
    }

    /// Whether short runs want the CPU at `now`: one is awake, or one was
    /// within the last tick. Short calls come one after another with gaps
    /// of microseconds between them; a long run that took each gap would
    /// be on the CPU, or waiting for it, all the time.
    fn wanted(&self, now: Instant) -> bool {
        let last = self.last_short.load(Ordering::Relaxed);
        self.short_runs() > 0
            || (last > 0 && self.nanos(now).saturating_sub(last) < nanos(EPOCH_TICK))
    }

    fn nanos(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.start))
    }

    /// Whether a long run may take its turn at `now`; if so, the next turn
    /// is [`TURN_EVERY`] ticks away.
    fn take_turn(&self, now: Instant) -> bool {
        let now = self.nanos(now);
        let next = self.next_turn.load(Ordering::Relaxed);
        let period = nanos(EPOCH_TICK * TURN_EVERY);
        now >= next
            && self
                .next_turn
                .compare_exchange(next, now + period, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// One store's part in the fair share.
#[derive(Debug)]
pub(crate) struct Runner {
    share: Arc<FairShare>,
    state: Mutex<State>,
    /// Set once the store's thread is lowered; the thread that takes the
    /// store on clears it.
    lowered: Arc<AtomicBool>,
    /// How many calls the store has in flight.
    calls: AtomicUsize,
}

#[derive(Debug, Default)]
struct State {
    /// The store's thread is running its calls.
    awake: bool,
    /// The store is in a pause of its own (see [`Pause`]).
    pausing: bool,
    /// The thread's CPU time when the current stretch began.
    since: Option<Duration>,
    /// The wall time when it began.
    woke_at: Option<Instant>,
    /// The store's own thread that runs the stretch, which may be lowered.
    thread: Option<i32>,
    lowered: bool,
    long: bool,
}

impl State {
    fn is_short_run(&self) -> bool {
        self.awake && !self.long
    }
}

impl Runner {
    pub(crate) fn new(share: Arc<FairShare>, lowered: Arc<AtomicBool>) -> Arc<Self> {
        let runner = Arc::new(Runner {
            share: Arc::clone(&share),
            state: Mutex::default(),
            lowered,
            calls: AtomicUsize::new(0),
        });
        share
            .runners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::downgrade(&runner));
        runner
    }

    /// The store has `calls` in flight now.
    pub(crate) fn set_calls(&self, calls: usize) {
        self.calls.store(calls, Ordering::Relaxed);
    }

    /// Changes the state and keeps the count of short runs in step.
    fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.change(&mut state, change)
    }

    /// [`update`](Self::update) under a lock already held.
    fn change<T>(&self, state: &mut State, change: impl FnOnce(&mut State) -> T) -> T {
        let before = state.is_short_run();
        let answer = change(state);
        match (before, state.is_short_run()) {
            (false, true) => self.share.short.fetch_add(1, Ordering::Relaxed),
            (true, false) => {
                // A short run that went idle, not one that became long.
                if !state.awake {
                    let now = self.share.nanos(Instant::now()).max(1);
                    self.share.last_short.fetch_max(now, Ordering::Relaxed);
                }
                self.share.short.fetch_sub(1, Ordering::Relaxed)
            }
            _ => 0,
        };
        answer
    }

    /// The store's thread woke to run its calls, having used `cpu` of CPU
    /// time (asked for only when a stretch begins).
    pub(crate) fn woke(&self, cpu: impl FnOnce() -> Duration) {
        self.update(|state| {
            state.awake = true;
            if state.since.is_none() {
                state.since = Some(cpu());
                state.woke_at = Some(Instant::now());
                state.thread = OWN.with(Cell::get).then(idle::this_thread).flatten();
                state.lowered = false;
            }
        });
    }

    /// A call on the store began or ended, on the store's thread, having
    /// used `cpu` of CPU time: the time before does not count against the
    /// calls after, so a stretch begins anew.
    fn calls_changed(&self, cpu: Duration) {
        self.update(|state| {
            if state.awake && !state.pausing {
                state.since = Some(cpu);
                state.woke_at = Some(Instant::now());
                state.long = false;
            }
        });
    }

    /// The store's thread has nothing to run: its stretch is over, unless
    /// it is pausing.
    pub(crate) fn slept(&self) {
        self.update(|state| {
            state.awake = false;
            if !state.pausing {
                state.since = None;
                state.woke_at = None;
                state.long = false;
            }
        });
    }

    /// Lowers the store's own thread once its stretch has used
    /// [`LONG_RUN`] of CPU (see [`FairShare::watch`]). It never waits for
    /// the state's lock: the store's thread may hold it, lowered already,
    /// and the epoch clock must tick on.
    fn watch(&self, now: Instant) {
        // Several async calls share the thread: lowering it would slow
        // them all for one. The ticks' pauses see to such a store.
        if self.calls.load(Ordering::Relaxed) > 1 {
            return;
        }
        let stretch = {
            let Ok(state) = self.state.try_lock() else {
                return;
            };
            match (state.thread, state.since, state.woke_at) {
                (Some(thread), Some(since), Some(woke_at))
                    if state.awake
                        && !state.lowered
                        && now.saturating_duration_since(woke_at) >= LONG_RUN =>
                {
                    Some((thread, since))
                }
                _ => None,
            }
        };
        let Some((thread, since)) = stretch else {
            return;
        };
        let used = idle::cpu_time(thread).map(|cpu| cpu.saturating_sub(since));
        if used.is_none_or(|used| used < LONG_RUN) {
            return;
        }
        let Ok(mut state) = self.state.try_lock() else {
            return;
        };
        self.change(&mut state, |state| {
            // Still the same stretch on the same thread.
            if state.thread == Some(thread) && state.since == Some(since) && !state.lowered {
                state.long = true;
                state.lowered = true;
                match idle::lower(thread) {
                    Ok(()) => self.lowered.store(true, Ordering::Release),
                    Err(error) => tracing::debug!("could not lower a long run's thread: {error}"),
                }
            }
        });
    }

    /// The store is on the CPU at an epoch tick (wall time `now`), its
    /// thread having used `cpu` of CPU time: the pause it should take
    /// before it goes on, if any.
    pub(crate) fn tick(self: &Arc<Self>, now: Instant, cpu: Duration) -> Option<Pause> {
        let (long, lowered) = self.update(|state| {
            let since = *state.since.get_or_insert(cpu);
            state.long |= cpu.saturating_sub(since) >= LONG_RUN;
            (state.long, state.lowered)
        });
        // Counted apart from the short runs now, it looks at the others. A
        // lowered thread gives way without pausing: the kernel sees to it.
        let gives_way = long && !lowered && self.share.wanted(now) && !self.share.take_turn(now);
        self.update(|state| {
            state.pausing = gives_way;
            gives_way.then(|| Pause {
                runner: Arc::clone(self),
                until: None,
            })
        })
    }
}

/// A long run's pause: until no short run is awake, or its turn comes.
pub(crate) struct Pause {
    runner: Arc<Runner>,
    until: Option<Instant>,
}

impl Pause {
    /// Ends the pause at `deadline` at the latest, so that it never holds a
    /// time limit back.
    pub(crate) fn until(mut self, deadline: Option<Instant>) -> Self {
        self.until = deadline;
        self
    }

    /// Waits out the pause on the store's event loop.
    pub(crate) async fn wait(self) {
        let share = &self.runner.share;
        loop {
            let now = Instant::now();
            let left = self.until.map(|until| until.saturating_duration_since(now));
            if left.is_some_and(|left| left.is_zero()) {
                break;
            }
            let nap = left.map_or(EPOCH_TICK, |left| left.min(EPOCH_TICK));
            tokio::time::sleep(nap).await;
            let now = Instant::now();
            if !share.wanted(now) || share.take_turn(now) {
                break;
            }
        }
        self.runner.update(|state| state.pausing = false);
    }
}

fn nanos(span: Duration) -> u64 {
    u64::try_from(span.as_nanos()).unwrap_or(u64::MAX)
}

thread_local! {
    /// The runner of the store whose calls this thread is running.
    static PRESENT: RefCell<Option<Arc<Runner>>> = const { RefCell::new(None) };
    /// This thread is a store's own, which a long run may lower.
    static OWN: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as a store's own: a long run on it is lowered,
/// and the store then moves on to a new thread (the flag given to
/// [`Runner::new`] tells it to).
pub(crate) fn own_thread() {
    OWN.with(|own| own.set(true));
}

/// The scheduler's idle policy, for the threads of long runs. A thread
/// under it runs only when no other thread wants the core, and a thread
/// that wakes takes the core from it at once, which even the highest nice
/// value does not promise.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod idle {
    use std::time::Duration;

    /// The calling thread's id.
    pub(super) fn this_thread() -> Option<i32> {
        Some(rustix::thread::gettid().as_raw_nonzero().get())
    }

    /// The CPU time the process's thread `thread` has used, from the
    /// kernel's scheduler statistics (the thread's CPU clock, read from
    /// outside it).
    pub(super) fn cpu_time(thread: i32) -> Option<Duration> {
        let stats = std::fs::read_to_string(format!("/proc/self/task/{thread}/schedstat")).ok()?;
        let nanos = stats.split_whitespace().next()?.parse().ok()?;
        Some(Duration::from_nanos(nanos))
    }

    /// Puts the process's thread `thread` under `SCHED_IDLE`.
    pub(super) fn lower(thread: i32) -> std::io::Result<()> {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid `sched_param` that outlives the call,
        // which only reads it.
        let status = unsafe { libc::sched_setscheduler(thread, libc::SCHED_IDLE, &param) };
        match status {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    }
}

/// Elsewhere threads are not lowered; ticks still pause long runs.
#[cfg(not(target_os = "linux"))]
mod idle {
    use std::time::Duration;

    pub(super) fn this_thread() -> Option<i32> {
        None
    }

    pub(super) fn cpu_time(_thread: i32) -> Option<Duration> {
        None
    }

    pub(super) fn lower(_thread: i32) -> std::io::Result<()> {
        Ok(())
    }
}

/// A store's calls run on this thread until this is dropped: the thread's
/// parks and wakes are that store's ([`parking`], [`unparked`]). Nested,
/// the outer store sleeps while the inner one runs.
pub(crate) struct Present {
    runner: Option<Arc<Runner>>,
    outer: Option<Arc<Runner>>,
}

impl Present {
    pub(crate) fn enter(runner: Option<Arc<Runner>>) -> Self {
        if let Some(runner) = &runner {
            runner.woke(thread_cpu_time);
        }
        let outer = PRESENT.with(|present| present.replace(runner.clone()));
        if let Some(outer) = &outer {
            outer.slept();
        }
        Present { runner, outer }
    }
}

impl Drop for Present {
    fn drop(&mut self) {
        if let Some(runner) = &self.runner {
            runner.slept();
        }
        if let Some(outer) = &self.outer {
            outer.woke(thread_cpu_time);
        }
        PRESENT.with(|present| present.replace(self.outer.take()));
    }
}

/// A call began or ended on this thread: the store it runs, if any, begins
/// a new stretch. A store that serves one short call after another without
/// a break, or many async calls at once, is not a long run for it; one call
/// that holds the thread is.
pub(crate) fn calls_changed() {
    PRESENT.with(|present| {
        if let Some(runner) = &*present.borrow() {
            runner.calls_changed(thread_cpu_time());
        }
    });
}

/// This thread is about to park: the store it runs, if any, is idle.
pub(crate) fn parking() {
    PRESENT.with(|present| {
        if let Some(runner) = &*present.borrow() {
            runner.slept();
        }
    });
}

/// This thread woke from a park: the store it runs, if any, is awake.
pub(crate) fn unparked() {
    PRESENT.with(|present| {
        if let Some(runner) = &*present.borrow() {
            runner.woke(thread_cpu_time);
        }
    });
}

/// The CPU time the calling thread has used so far: the kernel's thread
/// clock where there is one, the wall clock elsewhere.
pub(crate) fn thread_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Duration::new(
            u64::try_from(now.tv_sec).unwrap_or(0),
            u32::try_from(now.tv_nsec).unwrap_or(0),
        )
    }
    #[cfg(not(unix))]
    {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    /// A runner awake since its thread's clock read `cpu`.
    fn awake(share: &Arc<FairShare>, cpu: Duration) -> Arc<Runner> {
        let runner = Runner::new(Arc::clone(share), Arc::default());
        runner.woke(|| cpu);
        runner
    }

    #[test]
    fn a_run_counts_as_long_by_its_own_cpu_time_not_the_wall_clock() {
        let share = Arc::new(FairShare::default());
        let _short = awake(&share, ms(0));
        let run = awake(&share, ms(100));
        let start = Instant::now();
        // Ten ticks of wall time, but a third of them on a core.
        let waited = start + EPOCH_TICK * 10;
        assert!(run.tick(waited, ms(100) + LONG_RUN / 3).is_none());
        assert_eq!(share.short_runs(), 2, "still a short run");
        // Once its own CPU time reaches LONG_RUN, it gives way.
        let pause = run.tick(waited + EPOCH_TICK, ms(100) + LONG_RUN);
        // The first long run may take the first turn; the next tick waits.
        let pause = pause.or_else(|| run.tick(waited + EPOCH_TICK * 2, ms(100) + LONG_RUN * 2));
        assert!(pause.is_some(), "a long run gives way to a short one");
        assert_eq!(share.short_runs(), 1, "a long run is not a short one");
    }

    #[test]
    fn the_thread_clock_counts_this_thread_s_work_not_its_sleep() {
        let before = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(50));
        let slept = thread_cpu_time().saturating_sub(before);
        let started = Instant::now();
        let mut spun = 0u64;
        while started.elapsed() < Duration::from_millis(50) {
            spun = std::hint::black_box(spun.wrapping_add(1));
        }
        let worked = thread_cpu_time().saturating_sub(before) - slept;
        assert!(slept < Duration::from_millis(20), "{slept:?} while asleep");
        assert!(
            worked > Duration::from_millis(5),
            "{worked:?} while spinning"
        );
    }

    #[test]
    fn a_long_run_gives_way_only_while_a_short_run_is_awake() {
        let share = Arc::new(FairShare::default());
        let run = awake(&share, ms(0));
        let now = Instant::now();
        assert!(run.tick(now, LONG_RUN * 3).is_none(), "alone");
        // The long runs' turn is taken; a short run wakes.
        assert!(share.take_turn(now));
        let short = awake(&share, ms(0));
        assert!(run.tick(now + EPOCH_TICK, LONG_RUN * 4).is_some());
        short.slept();
        assert_eq!(share.short_runs(), 0);
        // Within a tick of the last short run, it still gives way.
        let slept = Instant::now();
        assert!(share.wanted(slept));
        assert!(!share.wanted(slept + EPOCH_TICK));
        assert!(run.tick(now + EPOCH_TICK * 2, LONG_RUN * 5).is_none());
    }

    #[test]
    fn going_idle_ends_a_stretch_but_a_pause_does_not() {
        let share = Arc::new(FairShare::default());
        let _short = awake(&share, ms(0));
        let run = awake(&share, ms(0));
        let now = Instant::now();
        assert!(share.take_turn(now));
        let pause = run.tick(now + EPOCH_TICK, LONG_RUN * 2);
        assert!(pause.is_some(), "a long run gives way");
        // The thread parks during its pause and wakes: still a long run.
        run.slept();
        run.woke(|| LONG_RUN * 2);
        assert_eq!(share.short_runs(), 1);
        run.update(|state| state.pausing = false);
        // Parked with nothing to run: the next stretch is a short run.
        run.slept();
        run.woke(|| LONG_RUN * 3);
        assert_eq!(share.short_runs(), 2);
        assert!(run.tick(now + EPOCH_TICK * 3, LONG_RUN * 3).is_none());
    }

    #[test]
    fn long_runs_take_turns_at_one_tick_in_turn_every() {
        let share = Arc::new(FairShare::default());
        let _short = awake(&share, ms(0));
        let runs = [awake(&share, ms(0)), awake(&share, ms(0))];
        let start = Instant::now();
        let mut went = 0;
        for tick in 0..TURN_EVERY * 3 {
            let now = start + EPOCH_TICK * tick;
            let cpu = LONG_RUN * (tick + 1);
            went += runs
                .iter()
                .filter(|run| run.tick(now, cpu).is_none())
                .count();
        }
        assert_eq!(
            went, 3,
            "one turn in every {TURN_EVERY} ticks, between them"
        );
    }

    fn awake_now(runner: &Runner) -> bool {
        runner.update(|state| state.awake)
    }

    #[test]
    fn nested_stores_share_a_thread_one_awake_at_a_time() {
        let share = Arc::new(FairShare::default());
        let runner = || Runner::new(Arc::clone(&share), Arc::default());
        let (outer, inner) = (runner(), runner());
        let _outer = Present::enter(Some(Arc::clone(&outer)));
        {
            let _inner = Present::enter(Some(Arc::clone(&inner)));
            assert_eq!(share.short_runs(), 1);
            parking();
            assert_eq!(share.short_runs(), 0, "the inner store parked");
            unparked();
            assert!(awake_now(&inner));
            assert!(!awake_now(&outer));
        }
        assert!(awake_now(&outer));
        assert_eq!(share.short_runs(), 1);
    }
}
