//! A fair share of the CPU between stores: a call that holds the CPU for
//! long backs off while calls on other stores want it.
//!
//! A server's short calls and a guest that spins until its time limit run
//! on threads of their own, and the OS shares the cores between them
//! evenly: a few spinning guests would take most of the CPU from hundreds
//! of short calls. Each store with a time limit already stops at every
//! epoch tick (the epoch callback). There it tells its [`Run`] that it is
//! still on the CPU, and how much CPU time its thread has used. Once it has
//! used [`LONG_RUN`] of CPU without a break, it counts as a long run, and while other stores have calls in flight it
//! pauses between ticks: the more long runs, the longer each pause, so
//! that together they take about half a core at most. Its time limit
//! still counts wall time, so a spinning guest is stopped when it always
//! was; it only burns less CPU on the way. With no other store busy, a
//! long run is not slowed at all: CPU-bound work still scales across
//! stores.
//!
//! The CPU time is the thread's own clock, not the wall clock: on a busy
//! machine a young call waits for a core as long as anyone, and must not
//! be taken for a long run because the wall clock ran on while it waited.
//! The thread's clock counts the kernel's time for it too, so a guest that
//! page-faults its way through memory counts the CPU it costs.
//!
//! A run whose memory grew by [`GROWING`] or more since its last tick is
//! not paused at that tick: it is on its way to its memory limit, and
//! should reach it, with its own clear error, before a back-off stretches
//! it into its time limit.
//!
//! Stores without a time limit have no epoch checks and so no ticks: they
//! are neither slowed nor counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::EPOCH_TICK;

/// How long a store runs on the CPU without a break before it counts as a
/// long run. Far longer than a request a server answers in milliseconds.
pub(crate) const LONG_RUN: Duration = Duration::from_millis(50);

/// How much a run's memory must grow between two ticks for it to go on
/// unpaused (see the module's documentation). The memory limit bounds how
/// long a run can keep that up.
pub(crate) const GROWING: u64 = 1 << 20;

/// The stores of one engine that have calls in flight, and how many of
/// them are long runs.
#[derive(Debug, Default)]
pub(crate) struct FairShare {
    busy: AtomicUsize,
    long: AtomicUsize,
}

impl FairShare {
    /// Counts a store as busy until the guard is dropped.
    pub(crate) fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::Relaxed);
        Busy(Arc::clone(self))
    }

    fn long(self: &Arc<Self>) -> Long {
        self.long.fetch_add(1, Ordering::Relaxed);
        Long(Arc::clone(self))
    }

    /// How long a long run pauses before its next tick: nothing while no
    /// other store is busy; otherwise `2 × long runs` ticks, which keeps
    /// the long runs together under half a core (each runs one tick in
    /// `1 + 2n`).
    fn pause(&self) -> Option<Duration> {
        let long = self.long.load(Ordering::Relaxed);
        let busy = self.busy.load(Ordering::Relaxed);
        let others_busy = busy > long;
        let ticks = u32::try_from(long.saturating_mul(2)).unwrap_or(u32::MAX);
        others_busy.then(|| EPOCH_TICK.saturating_mul(ticks))
    }
}

/// A store with calls in flight.
#[derive(Debug)]
pub(crate) struct Busy(Arc<FairShare>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A store counted as a long run.
#[derive(Debug)]
struct Long(Arc<FairShare>);

impl Drop for Long {
    fn drop(&mut self) {
        self.0.long.fetch_sub(1, Ordering::Relaxed);
    }
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

/// Where a stretch on the CPU stands.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    /// The thread's CPU time when it began.
    cpu_since: Duration,
    /// The wall time of its last tick.
    last: Instant,
}

/// One store's current stretch on the CPU, as its epoch ticks see it.
#[derive(Debug, Default)]
pub(crate) struct Run {
    stretch: Option<Stretch>,
    long: Option<Long>,
    /// The pause this run was last told to take.
    paused: Duration,
    /// The store's memory growth so far, in bytes, at the last tick.
    grown: u64,
}

impl Run {
    /// The store is on the CPU at an epoch tick (wall time `now`), its
    /// thread having used `cpu` of CPU time and its memory having grown by
    /// `grown` bytes in all: how long it should pause before it goes on, if
    /// at all.
    pub(crate) fn tick(
        &mut self,
        share: &Arc<FairShare>,
        now: Instant,
        cpu: Duration,
        grown: u64,
    ) -> Option<Duration> {
        let growing = grown.saturating_sub(self.grown) >= GROWING;
        let cpu_since = match self.stretch {
            // Ticks come every `EPOCH_TICK` while the guest is on the CPU;
            // a longer gap means it waited in between, and a new stretch
            // begins. A pause of its own is not a break.
            Some(stretch) if now.duration_since(stretch.last) <= EPOCH_TICK * 2 + self.paused => {
                stretch.cpu_since
            }
            _ => {
                self.rest();
                cpu
            }
        };
        self.stretch = Some(Stretch {
            cpu_since,
            last: now,
        });
        self.grown = grown;
        if self.long.is_none() && cpu.saturating_sub(cpu_since) >= LONG_RUN {
            self.long = Some(share.long());
        }
        let pause = match growing {
            true => None,
            false => self.long.as_ref().and_then(|_| share.pause()),
        };
        self.paused = pause.unwrap_or_default();
        pause
    }

    /// The store stopped running calls: its stretch is over.
    pub(crate) fn rest(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ticks `run` every epoch tick from `start` for `for_` and returns the
    /// last answer.
    fn run_for(
        run: &mut Run,
        share: &Arc<FairShare>,
        start: Instant,
        for_: Duration,
    ) -> Option<Duration> {
        ticks(run, share, start, (start, start + for_), 1)
    }

    /// Ticks `run` every epoch tick from `from` to `to`, its thread having
    /// had a core for one part in `shared` of the time since `start`, and
    /// returns the last answer.
    fn ticks(
        run: &mut Run,
        share: &Arc<FairShare>,
        start: Instant,
        (from, to): (Instant, Instant),
        shared: u32,
    ) -> Option<Duration> {
        let mut answer = None;
        let mut at = from;
        while at <= to {
            answer = run.tick(share, at, cpu(start, at) / shared, 0);
            at += EPOCH_TICK;
        }
        answer
    }

    /// The CPU time of a thread that ran the whole time since `start`.
    fn cpu(start: Instant, at: Instant) -> Duration {
        at.duration_since(start)
    }

    #[test]
    fn a_run_that_waits_for_a_core_is_not_taken_for_a_long_one() {
        let share = Arc::new(FairShare::default());
        let (_mine, _other) = (share.busy(), share.busy());
        let mut run = Run::default();
        let start = Instant::now();
        // Ticks every epoch for twice LONG_RUN, but the thread had a core
        // for only a third of that time.
        let waited = start + LONG_RUN * 2;
        let answer = ticks(&mut run, &share, start, (start, waited), 3);
        assert_eq!(answer, None, "a short run on a busy machine");
        // Once its own CPU time reaches LONG_RUN, it is a long run.
        let later = (waited + EPOCH_TICK, start + LONG_RUN * 4);
        let answer = ticks(&mut run, &share, start, later, 3);
        assert_eq!(answer, Some(EPOCH_TICK * 2));
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
    fn a_long_run_pauses_only_while_another_store_is_busy() {
        let share = Arc::new(FairShare::default());
        let _mine = share.busy();
        let mut run = Run::default();
        let start = Instant::now();
        assert_eq!(run_for(&mut run, &share, start, LONG_RUN), None, "alone");
        let other = share.busy();
        let pause = run.tick(
            &share,
            start + LONG_RUN + EPOCH_TICK,
            cpu(start, start + LONG_RUN + EPOCH_TICK),
            0,
        );
        assert_eq!(
            pause,
            Some(EPOCH_TICK * 2),
            "one long run, another store busy"
        );
        drop(other);
        assert_eq!(
            run.tick(
                &share,
                start + LONG_RUN + EPOCH_TICK * 4,
                cpu(start, start + LONG_RUN + EPOCH_TICK * 4),
                0
            ),
            None
        );
    }

    #[test]
    fn a_short_run_never_pauses() {
        let share = Arc::new(FairShare::default());
        let (_mine, _other) = (share.busy(), share.busy());
        let mut run = Run::default();
        let start = Instant::now();
        assert_eq!(run_for(&mut run, &share, start, LONG_RUN / 2), None);
        // A break longer than a few ticks starts a new stretch.
        let later = start + LONG_RUN / 2 + EPOCH_TICK * 5;
        assert_eq!(run_for(&mut run, &share, later, LONG_RUN / 2), None);
    }

    #[test]
    fn a_pause_is_not_a_break_but_a_longer_gap_is() {
        let share = Arc::new(FairShare::default());
        let (_mine, _other) = (share.busy(), share.busy());
        let mut run = Run::default();
        let start = Instant::now();
        let end = start + LONG_RUN;
        let pause = run_for(&mut run, &share, start, LONG_RUN).expect("a long run pauses");
        // The next tick comes one tick after the pause: the same stretch.
        let next = end + pause + EPOCH_TICK;
        assert_eq!(run.tick(&share, next, cpu(start, next), 0), Some(pause));
        // A gap of the pause and three ticks is a wait: a new stretch.
        let after_wait = next + pause + EPOCH_TICK * 3;
        assert_eq!(
            run.tick(&share, after_wait, cpu(start, after_wait), 0),
            None
        );
    }

    #[test]
    fn a_long_run_whose_memory_grows_goes_on_unpaused() {
        let share = Arc::new(FairShare::default());
        let (_mine, _other) = (share.busy(), share.busy());
        let mut run = Run::default();
        let start = Instant::now();
        let pause = run_for(&mut run, &share, start, LONG_RUN);
        assert_eq!(pause, Some(EPOCH_TICK * 2), "a long run, memory still");
        let mut at = start + LONG_RUN + pause.unwrap_or_default() + EPOCH_TICK;
        // A tick with a megabyte more: no pause; with less: the pause again.
        assert_eq!(
            run.tick(&share, at, cpu(start, at), GROWING),
            None,
            "growing"
        );
        at += EPOCH_TICK;
        assert_eq!(
            run.tick(&share, at, cpu(start, at), GROWING + 4096),
            Some(EPOCH_TICK * 2)
        );
    }

    #[test]
    fn long_runs_pause_longer_the_more_there_are() {
        let share = Arc::new(FairShare::default());
        let _busy: Vec<Busy> = (0..3).map(|_| share.busy()).collect();
        let start = Instant::now();
        let mut runs: Vec<Run> = (0..2).map(|_| Run::default()).collect();
        let pauses: Vec<_> = runs
            .iter_mut()
            .map(|run| run_for(run, &share, start, LONG_RUN))
            .collect();
        assert_eq!(pauses[1], Some(EPOCH_TICK * 4), "{pauses:?}");
        runs[0].rest();
        assert_eq!(
            runs[1].tick(
                &share,
                start + LONG_RUN + EPOCH_TICK,
                cpu(start, start + LONG_RUN + EPOCH_TICK),
                0
            ),
            Some(EPOCH_TICK * 2)
        );
    }
}
