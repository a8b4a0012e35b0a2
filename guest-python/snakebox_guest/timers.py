"""asyncio's timers, on one host wait per call.

componentize-py's loop has no ``time``, ``call_at`` or ``call_later``, so any
``asyncio.sleep(x)`` with ``x > 0`` would raise ``NotImplementedError``.

Each component-model task (one export call and whatever it spawns) keeps
its asyncio timers in a heap of its own, as asyncio's own loop does, and
asks the host to wake it once, at the earliest deadline, however many
timers it holds:

- While its call runs, that wait is the call's ``watch(token, ms)``, which
  also brings the host's cancellation: one pending host call per call.
  ``Clock.bind`` names the asyncio task to cancel.
- Once the call has left (work that goes on after its result went out),
  it is a plain ``sleep(id, ms)``.

When the wait completes, every due timer runs in that turn, in deadline
order. Once the task's callbacks have all run, the loop's poll arms the
wait again for the next deadline, if there is still something to wait for.
An earlier timer set while the wait is pending moves it: ``alarm(token,
ms)``, or for a ``sleep``, ``wake(id)`` and a new sleep. A cancelled timer
stays in the heap until it would be due, as in asyncio.
"""

import asyncio
import contextvars
import heapq
import itertools
import logging
import math
import time

from wit_world.imports import host
from wit_world.imports.host import WatchEnd

from . import internals, subtasks

_next_sleep_id = itertools.count(1)

#: Past this many cancelled timers, and half the heap, the heap is rebuilt
#: without them, as asyncio's loop does.
_CANCELLED_SWEEP = 100


def _delay_ms(when: float) -> int:
    """Milliseconds from now until ``when``, rounded up, so that the host
    never wakes the guest before a timer is due."""
    return max(0, math.ceil((when - time.monotonic()) * 1000))


class Clock:
    """The timers of one component-model task, and its one host wait."""

    __slots__ = ("heap", "cancelled", "token", "task", "waiting", "armed", "sleep_id", "context")

    def __init__(self):
        #: A context of the task, in which its host waits start.
        self.context = contextvars.copy_context()
        self.heap: list[asyncio.TimerHandle] = []
        self.cancelled = 0
        #: The running call's token, between ``bind`` and ``leave``.
        self.token: int | None = None
        #: The asyncio task that the host's cancellation cancels.
        self.task = None
        #: Whether a host wait (``watch`` or ``sleep``) is pending.
        self.waiting = False
        #: The deadline the pending wait was armed for, if any.
        self.armed: float | None = None
        #: The id of the pending ``sleep``, or 0.
        self.sleep_id = 0

    def bind(self, token: int, task) -> None:
        """The call with ``token`` runs ``task``: the host's cancellation
        cancels it."""
        self.token = token
        self.task = task

    def leave(self, token: int) -> None:
        """The call is over. A pending ``watch`` must complete (with
        ``left``) for the task to end, so the host is told; with none, it
        learns it from the call's return, and one host call is saved."""
        if self.token != token:
            host.leave(token)
            return
        self.token = None
        self.task = None
        if self.waiting and self.sleep_id == 0:
            host.leave(token)

    def add(self, handle: asyncio.TimerHandle) -> None:
        heapq.heappush(self.heap, handle)
        if self.waiting and (self.armed is None or handle.when() < self.armed):
            self._move(handle.when())

    def forget(self) -> None:
        """A timer was cancelled: sweep the heap once most of it is. The
        count is a hint: a cancelled timer popped when due is not taken off
        it, and the sweep starts it again."""
        self.cancelled += 1
        if self.cancelled > _CANCELLED_SWEEP and self.cancelled * 2 > len(self.heap):
            self.heap = [handle for handle in self.heap if not handle.cancelled()]
            heapq.heapify(self.heap)
            self.cancelled = 0

    def arm(self) -> None:
        """Starts the task's host wait, if it has none and needs one: while
        its call runs (for cancellation), or while it holds a timer. Runs
        in the task's context."""
        heap = self.heap
        while heap and heap[0].cancelled():
            heapq.heappop(heap)
        when = heap[0].when() if heap else None
        if self.token is not None:
            ms = None if when is None else _delay_ms(when)
            subtasks.start(host.watch, (self.token, ms), self._watched)
        elif when is not None:
            self.sleep_id = next(_next_sleep_id)
            subtasks.start(host.sleep, (self.sleep_id, _delay_ms(when)), self._slept)
        else:
            return
        self.waiting = True
        self.armed = when

    def _move(self, when: float) -> None:
        """An earlier timer while the wait is pending."""
        self.armed = when
        if self.token is not None:
            host.alarm(self.token, _delay_ms(when))
        elif self.sleep_id:
            host.wake(self.sleep_id)

    def _watched(self, ok: bool, wake) -> None:
        self.waiting = False
        if ok and wake == WatchEnd.CANCELLED:
            task = self.task
            if task is not None:
                task.cancel()
        elif ok and wake == WatchEnd.LEFT:
            self.token = None
        self._run_due()

    def _slept(self, _ok: bool, _value) -> None:
        self.waiting = False
        self.sleep_id = 0
        self._run_due()

    def _run_due(self) -> None:
        heap = self.heap
        if not heap:
            return
        now = time.monotonic()
        while heap and heap[0].when() <= now:
            handle = heapq.heappop(heap)
            if not handle.cancelled():
                internals.run_handle(handle)


def clock() -> Clock:
    """The current component-model task's clock; ``RuntimeError`` outside
    one (in a sync export)."""
    try:
        state = internals.task_state()
    except LookupError:
        raise RuntimeError(
            "asyncio timers are only available while an exported async function runs"
        ) from None
    return internals.task_clock(state, Clock)


def _time(loop) -> float:
    return time.monotonic()


def _call_at(loop, when, callback, *args, context=None):
    owner = clock()
    handle = asyncio.TimerHandle(when, callback, args, loop, context)
    owner.add(handle)
    return handle


def _call_later(loop, delay, callback, *args, context=None):
    return _call_at(loop, time.monotonic() + delay, callback, *args, context=context)


def _timer_handle_cancelled(loop, handle) -> None:
    try:
        owner = internals.task_clock(internals.task_state(), None)
    except LookupError:
        return
    if owner is not None:
        owner.forget()


def _poll(loop, state) -> None:
    """componentize-py's poll of a task, which runs its ready callbacks,
    then the task's host wait armed for what it still waits for. A wait
    the host answers at once (a call cancelled before it waited, a timer
    already due) schedules its callback: the poll goes on with it."""
    while True:
        _componentize_poll(loop, state)
        owner = internals.task_clock(state, None)
        if owner is None or owner.waiting:
            return
        owner.context.run(owner.arm)
        if not internals.has_ready_callbacks(state):
            return


def _call_exception_handler(loop, context) -> None:
    # componentize-py's handler stores the exception for its poll loop to
    # re-raise, which traps the instance; asyncio itself only logs what a
    # stray callback or a forgotten task raised. Log it, and keep serving.
    message = context.get("message") or "unhandled exception in the event loop"
    logging.getLogger("asyncio").error(message, exc_info=context.get("exception"))


_componentize_poll = internals.loop_method("poll")


def install() -> None:
    """Patches componentize-py's loop class; idempotent."""
    internals.patch_loop_class(
        call_exception_handler=_call_exception_handler,
        time=_time,
        call_at=_call_at,
        call_later=_call_later,
        _timer_handle_cancelled=_timer_handle_cancelled,
        poll=_poll,
    )
