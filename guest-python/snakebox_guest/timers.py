"""Real timers for componentize-py's asyncio loop.

componentize-py's loop has no ``time``, ``call_at`` or ``call_later``, so any
``asyncio.sleep(x)`` with ``x > 0`` raises ``NotImplementedError``. Each timer
here starts the host's ``sleep(id, ms)`` in the current component-model task
(``subtasks.start``) and, when it completes, runs the handle unless it was
cancelled.
Cancelling the handle calls the host's sync ``wake(id)``, which completes the
pending sleep at once, so no host call outlives the task that started it.
"""

import asyncio
import functools
import itertools
import logging
import math
import time

from wit_world.imports import host

from . import internals, subtasks

# `asyncio.TimerHandle` has `__slots__`, so the timer ids live here, keyed by
# the handle's identity.
_timer_ids: dict[int, int] = {}
_next_timer_id = itertools.count(1)


def _time(loop) -> float:
    return time.monotonic()


def _call_at(loop, when, callback, *args, context=None):
    handle = asyncio.TimerHandle(when, callback, args, loop, context)
    timer_id = next(_next_timer_id)
    delay_ms = max(0, math.ceil((when - time.monotonic()) * 1000))
    try:
        subtasks.start(host.sleep, (timer_id, delay_ms), functools.partial(_fire, handle))
    except LookupError:
        raise RuntimeError(
            "asyncio timers are only available while an exported async function runs"
        ) from None
    _timer_ids[id(handle)] = timer_id
    return handle


def _call_later(loop, delay, callback, *args, context=None):
    return _call_at(loop, time.monotonic() + delay, callback, *args, context=context)


def _timer_handle_cancelled(loop, handle) -> None:
    timer_id = _timer_ids.pop(id(handle), None)
    if timer_id is not None:
        host.wake(timer_id)


def _fire(handle: asyncio.TimerHandle, _ok: bool, _value) -> None:
    _timer_ids.pop(id(handle), None)
    if not handle.cancelled():
        internals.run_handle(handle)


def _call_exception_handler(loop, context) -> None:
    # componentize-py's handler stores the exception for its poll loop to
    # re-raise, which traps the instance; asyncio itself only logs what a
    # stray callback or a forgotten task raised. Log it, and keep serving.
    message = context.get("message") or "unhandled exception in the event loop"
    logging.getLogger("asyncio").error(message, exc_info=context.get("exception"))


def install() -> None:
    """Patches componentize-py's loop class; idempotent."""
    internals.patch_loop_class(
        call_exception_handler=_call_exception_handler,
        time=_time,
        call_at=_call_at,
        call_later=_call_later,
        _timer_handle_cancelled=_timer_handle_cancelled,
    )
