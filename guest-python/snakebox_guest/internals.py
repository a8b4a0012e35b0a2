"""Every private name of CPython's asyncio and of componentize-py's async
support that the runtime relies on, in one place.

They are pinned with CPython 3.14 and componentize-py 0.25.1, neither of
which promises to keep them. ``check()`` runs when the runtime is imported,
and so while componentize-py builds every component: if an upgrade takes
one away, every build fails with one message naming each missing name and
what the runtime needs it for, instead of a component that misbehaves at
run time. No other module of the runtime reads or calls a private name;
``http.py``'s loop overrides the hooks checked here.
"""

import asyncio
import asyncio.base_events
import asyncio.events

import componentize_py_async_support as _cas

# (owner, name, what the runtime does with it)
_NEEDED = (
    (asyncio.events, "_get_running_loop", "http.py sets componentize-py's running loop aside"),
    (asyncio.events, "_set_running_loop", "http.py sets componentize-py's running loop aside"),
    (asyncio.TimerHandle, "_run", "timers.py runs a timer's callback when the host's wait ends"),
    (asyncio.base_events.BaseEventLoop, "_timer_handle_cancelled", "timers.py overrides it to count cancelled timers"),
    (asyncio.base_events.BaseEventLoop, "_process_events", "http.py's loop overrides it"),
    (asyncio.base_events.BaseEventLoop, "_write_to_self", "http.py's loop overrides it"),
    (asyncio.Future, "_asyncio_future_blocking", "subtasks.py steps a coroutine as asyncio's Task does"),
    (_cas, "_future_state", "subtasks.py counts an import in the component-model task's pending work"),
    (_cas, "_loop", "timers.py patches componentize-py's loop class; subtasks.py schedules on it"),
    (type(getattr(_cas, "_loop", None)), "poll", "timers.py arms a task's host wait after each poll of it"),
)


#: What componentize-py 0.25.1 sets on an instance of an exported resource
#: when it hands the instance out as a new handle: the handle, and the
#: ``weakref.finalize`` that would drop the handle were the instance
#: collected. An instance without them gets a new handle next time.
_RESOURCE_HANDLE = "__componentize_py_handle"
_RESOURCE_FINALIZER = "finalizer"


def forget_handle(instance) -> None:
    """Makes an instance of an exported resource, whose handle the host has
    dropped, one that componentize-py gives a new handle when it goes out
    again; its finalizer leaves ``weakref.finalize``'s registry."""
    state = instance.__dict__
    finalizer = state.pop(_RESOURCE_FINALIZER, None)
    if finalizer is not None:
        finalizer.detach()
    state.pop(_RESOURCE_HANDLE, None)


def check() -> None:
    """Raises ``ImportError`` naming every needed private name that is gone."""
    missing = [
        f"{getattr(owner, '__name__', owner)}.{name} ({why})"
        for owner, name, why in _NEEDED
        if not hasattr(owner, name)
    ]
    state_class = getattr(_cas, "_FutureState", object)
    if "__dict__" not in vars(state_class):
        missing.append(
            "componentize_py_async_support._FutureState with a __dict__ "
            "(timers.py keeps a task's timers on its state)"
        )
    if "handles" not in getattr(state_class, "__dataclass_fields__", {}):
        missing.append(
            "componentize_py_async_support._FutureState.handles "
            "(timers.py polls a task again for callbacks its host wait scheduled)"
        )
    if missing:
        raise ImportError(
            "snakebox's guest runtime needs private names that this CPython or "
            "componentize-py no longer has: " + "; ".join(missing)
        )


def get_running_loop():
    """The running loop, or ``None``, without raising."""
    return asyncio.events._get_running_loop()


def set_running_loop(loop) -> None:
    asyncio.events._set_running_loop(loop)


def run_handle(handle: asyncio.Handle) -> None:
    """Runs a handle's callback as the loop would."""
    handle._run()


def cancel_requested(task) -> bool:
    """Whether ``task`` has a cancellation not yet delivered: asyncio's
    ``Task`` keeps it in ``_must_cancel`` until its next step. A task
    without the flag reports none."""
    return bool(getattr(task, "_must_cancel", False))


def mark_not_blocking(future) -> None:
    """Tells ``future`` its awaiter took it, as asyncio's Task does."""
    future._asyncio_future_blocking = False


def task_state():
    """The component-model task's state, which counts its pending work;
    ``LookupError`` outside a component-model task."""
    return _cas._future_state.get()


def task_clock(state, make):
    """The timers kept on a component-model task's ``state``: made by
    ``make()`` the first time, or ``None`` when ``make`` is."""
    clock = state.__dict__.get("snakebox_clock")
    if clock is None and make is not None:
        clock = state.snakebox_clock = make()
    return clock


def has_ready_callbacks(state) -> bool:
    """Whether a component-model task has callbacks scheduled to run."""
    return bool(state.handles)


def loop_method(name: str):
    """A method of componentize-py's loop class, as it defines it."""
    return getattr(type(_cas._loop), name)


def cas_loop():
    """componentize-py's event loop."""
    return _cas._loop


def patch_loop_class(**methods) -> None:
    """Sets ``methods`` on componentize-py's loop class (``_timer_handle_cancelled``
    among them)."""
    loop_class = type(_cas._loop)
    for name, method in methods.items():
        setattr(loop_class, name, method)


check()
