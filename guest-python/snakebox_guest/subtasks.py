"""Async host imports run without an asyncio task of their own.

componentize-py cannot cancel a pending host import: a Python task that is
cancelled while it awaits one traps the instance. So the runtime never
awaits an import in a task that may be cancelled. It starts the import
here, in the current component-model task, and gets the outcome through a
callback.

``spawn`` would do the same with a wrapper coroutine and an ``asyncio.Task``
per import; every export call starts at least one import, and ten thousand
concurrent calls pay for those tasks and for the cyclic GC that walks them.
Here an import costs its own coroutine and one loop callback per step.

Like ``spawn``, ``start`` counts the import in the task's pending work, so
the component-model task does not exit while the import is pending.
"""

import contextvars
import functools

from . import internals


def start(func, args, done) -> None:
    """Calls the async import ``func(*args)`` and, once it completes, calls
    ``done(True, value)``, or ``done(False, exc)`` if it raised.

    ``done`` runs as a loop callback, never inside ``start``, and what it
    raises goes to the loop's exception handler. Raises ``LookupError``
    outside a component-model task, before the import is called."""
    state = internals.task_state()
    coroutine = func(*args)
    state.pending_count += 1
    _step(state, coroutine, done, None)


def _step(state, coroutine, done, _future) -> None:
    try:
        future = coroutine.send(None)
    except StopIteration as stop:
        _finish(state, done, True, stop.value, _future is None)
    except BaseException as exc:
        _finish(state, done, False, exc, _future is None)
    else:
        internals.mark_not_blocking(future)
        future.add_done_callback(functools.partial(_step, state, coroutine, done))


def _finish(state, done, ok: bool, value, synchronous: bool) -> None:
    state.pending_count -= 1
    if synchronous:
        # The import completed at once: keep `done` out of the caller's
        # frame, as asyncio never runs a callback inside the call that
        # scheduled it.
        internals.cas_loop().call_soon(done, ok, value, context=contextvars.copy_context())
    else:
        done(ok, value)
