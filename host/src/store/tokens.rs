//! The cancellation protocol of async calls, and their one host wait.
//!
//! Each async export call claims a token (`enter`). While it runs, the
//! guest keeps one `watch(token, ms)` pending: it completes when the host
//! cancels the call, when the guest leaves it, or at the earliest deadline
//! of the call's asyncio timers, which `alarm` moves. So a call that holds
//! ten thousand timers costs the host one pending future, and waking it one
//! message.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::store::bindings::host::WatchEnd;

/// The longest wait the guest can ask for, about three years; asyncio's
/// `sleep(1e12)` waits this long.
const LONGEST: Duration = Duration::from_secs(100_000_000);

/// `ms` milliseconds from now.
pub(crate) fn after_ms(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms).min(LONGEST)
}

/// Where an async call stands.
enum TokenState {
    /// Running: the guest's pending watch, once it asks, and whether the
    /// host has cancelled the call.
    Running {
        waiter: Option<Waiter>,
        cancel: Cancel,
    },
    /// The guest left the call before the host forgot it.
    Left,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cancel {
    No,
    /// The host cancelled the call; no watch has been told yet.
    Pending,
    /// A watch was told: the guest cancels a task once, and the call's
    /// later watches wait only for their deadline and `leave`.
    Told,
}

/// What `watch(token, ms)` answers: at once, or when it wakes.
pub(crate) enum Watch {
    Ready(WatchEnd),
    Wait(Waiter),
    /// The call is not running: only the deadline.
    Until(Instant),
}

impl Watch {
    pub(crate) async fn wake(self) -> WatchEnd {
        match self {
            Watch::Ready(wake) => wake,
            Watch::Wait(waiter) => waiter.wait().await,
            Watch::Until(deadline) => {
                tokio::time::sleep_until(deadline).await;
                WatchEnd::Due
            }
        }
    }
}

/// The cancellation state of one store's async calls.
#[derive(Default)]
pub(crate) struct CallTokens {
    states: HashMap<u64, TokenState>,
}

impl CallTokens {
    pub(crate) fn begin(&mut self, token: u64) {
        self.states.insert(
            token,
            TokenState::Running {
                waiter: None,
                cancel: Cancel::No,
            },
        );
    }

    /// The host gave up on the call: cancel its Python task.
    pub(crate) fn cancel(&mut self, token: u64) {
        if let Some(TokenState::Running { waiter, cancel }) = self.states.get_mut(&token)
            && *cancel == Cancel::No
        {
            *cancel = match waiter.take() {
                Some(waiter) => {
                    waiter.finish(WatchEnd::Cancelled);
                    Cancel::Told
                }
                None => Cancel::Pending,
            };
        }
    }

    /// The guest finished the call.
    pub(crate) fn leave(&mut self, token: u64) {
        if let Some(state) = self.states.get_mut(&token) {
            if let TokenState::Running {
                waiter: Some(waiter),
                ..
            } = state
            {
                waiter.finish(WatchEnd::Left);
            }
            *state = TokenState::Left;
        }
    }

    /// The guest waits on the call, until `deadline` if it has one.
    pub(crate) fn watch(&mut self, token: u64, deadline: Option<Instant>) -> Watch {
        let Some(TokenState::Running { waiter, cancel }) = self.states.get_mut(&token) else {
            return match deadline {
                Some(deadline) => Watch::Until(deadline),
                None => Watch::Ready(WatchEnd::Left),
            };
        };
        if *cancel == Cancel::Pending {
            *cancel = Cancel::Told;
            return Watch::Ready(WatchEnd::Cancelled);
        }
        let new = Waiter::new(deadline);
        if let Some(old) = waiter.replace(new.clone()) {
            // One watch per call: a second one takes over from the first,
            // which wakes as if due and finds nothing to do.
            old.finish(WatchEnd::Due);
        }
        Watch::Wait(new)
    }

    /// Moves the deadline of the call's pending watch.
    pub(crate) fn alarm(&mut self, token: u64, deadline: Instant) {
        if let Some(TokenState::Running {
            waiter: Some(waiter),
            ..
        }) = self.states.get(&token)
        {
            waiter.set_deadline(deadline);
        }
    }

    /// The host saw the call complete; forget it. A watch still pending
    /// wakes, so that the guest's task can end.
    pub(crate) fn end(&mut self, token: u64) {
        if let Some(TokenState::Running {
            waiter: Some(waiter),
            ..
        }) = self.states.remove(&token)
        {
            waiter.finish(WatchEnd::Left);
        }
    }
}

/// One pending watch, shared by the future that waits and the book that
/// wakes it.
#[derive(Clone)]
pub(crate) struct Waiter(Arc<Mutex<Slot>>);

struct Slot {
    outcome: Option<WatchEnd>,
    deadline: Option<Instant>,
    waker: Option<Waker>,
}

impl Waiter {
    fn new(deadline: Option<Instant>) -> Self {
        Waiter(Arc::new(Mutex::new(Slot {
            outcome: None,
            deadline,
            waker: None,
        })))
    }

    fn update(&self, change: impl FnOnce(&mut Slot)) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut slot);
        if let Some(waker) = slot.waker.take() {
            waker.wake();
        }
    }

    fn finish(&self, wake: WatchEnd) {
        self.update(|slot| {
            slot.outcome.get_or_insert(wake);
        });
    }

    fn set_deadline(&self, deadline: Instant) {
        self.update(|slot| slot.deadline = Some(deadline));
    }

    async fn wait(self) -> WatchEnd {
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        poll_fn(|cx| {
            let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(wake) = slot.outcome {
                return Poll::Ready(wake);
            }
            if let Some(deadline) = slot.deadline {
                let timer = match &mut timer {
                    Some(timer) => {
                        if timer.deadline() != deadline {
                            timer.as_mut().reset(deadline);
                        }
                        timer
                    }
                    None => timer.insert(Box::pin(tokio::time::sleep_until(deadline))),
                };
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(WatchEnd::Due);
                }
            }
            match &mut slot.waker {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                other => *other = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_ready(watch: Watch) -> Option<WatchEnd> {
        let mut future = Box::pin(watch.wake());
        let waker = Waker::noop();
        match future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
        {
            Poll::Ready(wake) => Some(wake),
            Poll::Pending => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_wakes_once_for_cancel_then_only_for_its_deadline_and_leave() {
        let mut tokens = CallTokens::default();
        tokens.begin(1);
        let first = tokens.watch(1, None);
        tokens.cancel(1);
        assert_eq!(now_ready(first), Some(WatchEnd::Cancelled));
        // A second cancellation is not told again.
        tokens.cancel(1);
        let second = tokens.watch(1, Some(after_ms(5)));
        let waiting = tokio::spawn(second.wake());
        tokio::time::sleep(Duration::from_millis(6)).await;
        assert_eq!(waiting.await.ok(), Some(WatchEnd::Due));
        let third = tokens.watch(1, None);
        tokens.leave(1);
        assert_eq!(now_ready(third), Some(WatchEnd::Left));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancel_before_the_watch_is_told_at_once() {
        let mut tokens = CallTokens::default();
        tokens.begin(2);
        tokens.cancel(2);
        assert_eq!(now_ready(tokens.watch(2, None)), Some(WatchEnd::Cancelled));
    }

    #[tokio::test(start_paused = true)]
    async fn an_alarm_moves_the_pending_deadline_earlier() {
        let mut tokens = CallTokens::default();
        tokens.begin(3);
        let start = Instant::now();
        let watch = tokens.watch(3, Some(after_ms(60_000)));
        let waiting = tokio::spawn(watch.wake());
        tokio::task::yield_now().await;
        tokens.alarm(3, after_ms(10));
        assert_eq!(waiting.await.ok(), Some(WatchEnd::Due));
        assert_eq!(start.elapsed(), Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_is_not_running_leaves_only_the_deadline() {
        let mut tokens = CallTokens::default();
        assert_eq!(now_ready(tokens.watch(4, None)), Some(WatchEnd::Left));
        tokens.begin(4);
        tokens.leave(4);
        assert_eq!(now_ready(tokens.watch(4, None)), Some(WatchEnd::Left));
        let watch = tokens.watch(4, Some(after_ms(1)));
        assert!(matches!(watch, Watch::Until(_)));
        // Forgetting a call wakes its pending watch.
        tokens.begin(5);
        let pending = tokens.watch(5, None);
        tokens.end(5);
        assert_eq!(now_ready(pending), Some(WatchEnd::Left));
    }
}
