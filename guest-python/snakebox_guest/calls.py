"""Runs exported functions: binds arguments, catches every exception, cancels.

An exception that escapes an export traps the whole instance under
componentize-py, so every export goes through ``Export``, which turns any
exception into ``Err(PythonError(...))``, the ``python-error`` of the WIT.

Async exports also take part in the host's cancellation protocol. The first
thing an async export does is call the sync ``host.enter()``, which hands it
the token the host chose for this call, and bind it to the task's clock
(``timers``): the call's one host wait, ``watch(token, ms)``, completes when
its earliest asyncio timer is due or when the host cancels the call. Then
the clock cancels the asyncio task running the call, so ``CancelledError``
is raised where the user's coroutine awaits and its ``finally`` blocks run.
When the call finishes either way, ``host.leave(token)`` completes the
pending wait, so no host call outlives the component-model task.
"""

import asyncio
import contextvars
import inspect
import json as _json
import os
import traceback
import types

import componentize_py_async_support as _cas
from componentize_py_types import Err, Some

from . import world
from . import convert
from . import internals
from .convert import Converter

if world.HOSTED:
    from wit_world.imports import host
    from . import timers
    from wit_world.imports.types import PythonError
else:
    host = None

    class PythonError:
        """The fields of the WIT ``python-error``, where no world declares it."""

        __slots__ = ("type_name", "message", "traceback")

        def __init__(self, type_name: str, message: str, traceback: str):
            self.type_name = type_name
            self.message = message
            self.traceback = traceback

POSITIONAL = 0
POSITIONAL_OR_KEYWORD = 1
KEYWORD = 2
VAR_POSITIONAL = 3
VAR_KEYWORD = 4

#: The first character of the stream item that carries the ``python-error``
#: which ended a stream, as JSON; no JSON text starts with it.
STREAM_ERROR = "\0"

#: The Python name of the export that is running, for output tagging.
current_function: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "snakebox_current_function", default=None
)


class Param:
    """One parameter of an exported function, as the glue declares it."""

    __slots__ = ("name", "convert", "kind", "has_default", "wit_name")

    def __init__(self, name: str, convert: Converter, kind: int = POSITIONAL_OR_KEYWORD,
                 has_default: bool = False, wit_name: str = ""):
        self.name = name
        self.convert = convert
        self.kind = kind
        self.has_default = has_default
        self.wit_name = wit_name or name

    def is_named(self, key: str) -> bool:
        """The one rule for keyword arguments (``keyword_names`` in the
        generator): the Python name, the WIT name, or the WIT name in
        snake_case."""
        return key in (self.name, self.wit_name, self.wit_name.replace("-", "_"))


class Export:
    """An exported Python function: its parameters, its result, its calls.

    A method (``method=True``) takes the object it is called on as its
    first value, passed to ``func`` as it is, before the converted ones."""

    def __init__(self, name: str, func, params: list[Param], result: Converter,
                 method: bool = False):
        self.name = name
        self.func = func
        self.params = params
        self.result = result
        self.method = method
        # Most functions take plain positional values that need no change.
        self._direct = all(
            p.kind in (POSITIONAL, POSITIONAL_OR_KEYWORD)
            and not p.has_default
            and p.convert.identity
            for p in params
        )

    def call(self, *values):
        """Runs a sync export; raises only ``Err(PythonError)``."""
        reset = current_function.set(self.name)
        try:
            args, kwargs = self._bind(values)
            return self._result(self.func(*args, **kwargs))
        except BaseException as exc:
            raise python_error(exc) from None
        finally:
            current_function.reset(reset)

    async def call_async(self, *values):
        """Runs an async export under the host's cancellation protocol."""
        try:
            token = host.enter()
        except BaseException as exc:
            raise python_error(exc) from None
        try:
            current_function.set(self.name)
            # The task's clock, looked up once for both ends of the call.
            # It is made here, after the name is set: it keeps a copy of
            # this context, in which the task's later callbacks log.
            owner = timers.clock()
            try:
                args, kwargs = self._bind(values)
                # The clock cancels the task running this call, so that
                # `CancelledError` is raised where the user's code awaits.
                task = asyncio.current_task()
                owner.bind(token, task)
                outcome = await self.func(*args, **kwargs)
                if internals.cancel_requested(task):
                    # The coroutine cancelled its own task and returned
                    # before awaiting again: natively, the task ends
                    # cancelled, not with the value.
                    raise asyncio.CancelledError()
            finally:
                owner.leave(token)
            return self._result(outcome)
        except BaseException as exc:
            raise python_error(exc) from None

    async def call_stream(self, *values):
        """Runs a generator export: returns at once a ``stream<string>`` that
        a task fills with the items, as JSON text, while the host reads.

        The stream takes part in the cancellation protocol as an async call
        does: the token stays in use until the last item is written."""
        try:
            token = host.enter()
        except BaseException as exc:
            raise python_error(exc) from None
        try:
            import wit_world

            args, kwargs = self._bind(values)
            reset = current_function.set(self.name)
            try:
                source = self.func(*args, **kwargs)
            finally:
                current_function.reset(reset)
            writer, reader = wit_world.string_stream()
        except BaseException as exc:
            host.leave(token)
            raise python_error(exc) from None
        _cas.spawn(self._pump(token, source, writer))
        return reader

    async def _pump(self, token: int, source, writer) -> None:
        # An exception escaping a spawned task traps the instance: keep it here.
        try:
            with writer:
                current_function.set(self.name)
                task = asyncio.ensure_future(self._produce(source, writer))
                owner = timers.clock()
                owner.bind(token, task)
                try:
                    await task
                except asyncio.CancelledError:
                    pass  # the host stopped reading
                except BaseException as exc:
                    error = python_error(exc).value
                    fields = {
                        "type": error.type_name,
                        "message": error.message,
                        "traceback": error.traceback,
                    }
                    await writer.write_all([STREAM_ERROR + _json.dumps(fields)])
                finally:
                    owner.leave(token)
        except BaseException as exc:
            # Not raised: it would trap the instance. Reported as asyncio
            # reports a failed callback, through the loop's handler.
            asyncio.get_running_loop().call_exception_handler(
                {"message": f"the stream of {self.name}() failed", "exception": exc}
            )

    async def _produce(self, source, writer) -> None:
        if inspect.isawaitable(source):
            source = await source
        if not hasattr(source, "__anext__"):
            source = _from_sync(source)
        try:
            async for item in source:
                await writer.write_all([self._item(item)])
                if writer.reader_dropped:
                    break
        finally:
            if hasattr(source, "aclose"):
                await source.aclose()

    def _item(self, value) -> str:
        return self._checked(self.result.to_json, value, "yielded")

    def _result(self, value):
        return self._checked(self.result.to_wit, value, "returned")

    def _checked(self, convert, value, verb: str):
        try:
            return convert(value)
        except (TypeError, OverflowError, ValueError) as exc:
            # The exception itself, as Python raised it (a UnicodeEncodeError
            # takes five arguments, not one), with where it happened.
            exc.add_note(
                f"{self.name}() {verb} a value that does not match its annotation "
                f"{self.result!r}"
            )
            raise

    def _bind(self, values):
        if self._direct:
            return values, {}
        args = []
        if self.method:
            args.append(values[0])
            values = values[1:]
        kwargs = {}
        skipped = None
        for param, value in zip(self.params, values):
            if param.has_default:
                if value is None:
                    skipped = param.name
                    continue
                if isinstance(value, Some):
                    value = value.value
            value = param.convert.to_python(value)
            kind = param.kind
            if kind == VAR_POSITIONAL:
                if skipped is not None and value:
                    raise TypeError(f"cannot pass *{param.name} after omitting {skipped!r}")
                args.extend(value)
            elif kind == VAR_KEYWORD:
                kwargs.update(value)
            elif kind == KEYWORD or (kind == POSITIONAL_OR_KEYWORD and skipped is not None):
                kwargs[param.name] = value
            elif skipped is not None:
                raise TypeError(
                    f"cannot pass positional-only {param.name!r} after omitting {skipped!r}"
                )
            else:
                args.append(value)
        return args, kwargs


class Resource:
    """The base of the glue's class for each class of the module that is a
    WIT resource. An instance holds the user's object in ``_o``.

    componentize-py 0.25.1 keeps a strong reference to every instance it
    hands out as a handle, and its destructor does nothing when the host
    drops the handle, so an instance would never be collected. The host
    therefore calls ``_release`` (the resource's ``snakebox-release``)
    before it drops a handle: the user's object is let go at once (its
    ``__del__`` runs, its weak references die), and the instance, which
    stays referenced, is kept for the next object of its class. Memory
    stays flat however many objects come and go: it grows only with the
    most objects alive at once.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._released = []

    def __new__(cls, *args, **kwargs):
        if cls._released:
            return cls._released.pop()
        return object.__new__(cls)

    @classmethod
    def _adopt(cls, obj):
        """An instance for ``obj``, which Python made itself (a function
        returned it): ``__init__``, the WIT constructor, does not run."""
        instance = cls.__new__(cls)
        instance._o = obj
        return instance

    def _construct(self, export, *values) -> None:
        """Runs ``__init__`` through ``export``; an instance whose
        ``__init__`` raised is kept for the next object."""
        try:
            self._o = export.call(*values)
        except BaseException:
            self._o = None
            type(self)._released.append(self)
            raise

    def _release(self) -> None:
        """Lets the user's object go; never raises, which would trap."""
        try:
            self._o = None
            internals.forget_handle(self)
            type(self)._released.append(self)
        except BaseException as exc:
            try:
                asyncio.get_running_loop().call_exception_handler(
                    {"message": "releasing an object failed", "exception": exc}
                )
            except BaseException:
                pass


async def _from_sync(items):
    """A sync iterable as an async one; closing it closes the generator."""
    items = iter(items)
    try:
        for item in items:
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


_RUNTIME_DIR = os.path.dirname(__file__) + os.sep


def _user_frames(tb):
    """The traceback without the runtime's own frames."""
    kept = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_RUNTIME_DIR):
            kept.append(tb)
        tb = tb.tb_next
    rebuilt = None
    for entry in reversed(kept):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def python_error(exc: BaseException) -> Err:
    """Wraps any exception as the WIT ``python-error``."""
    try:
        exc.__traceback__ = _user_frames(exc.__traceback__)
        formatted = "".join(traceback.format_exception(exc))
    except BaseException:
        formatted = f"{_type_name(exc)}: (the traceback could not be formatted)\n"
    try:
        message = str(exc)
    except BaseException:
        message = "(str() of the exception failed)"
    # Notes follow the message, as Python prints them.
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        message = "\n".join([message, *(str(note) for note in notes)])
    return Err(PythonError(_type_name(exc), message, formatted))


def warm() -> None:
    """The host's first call on a new store: the path of a sync export,
    run once with a function that does nothing, so that the caller's first
    call finds it warm."""
    Export("warm", _nothing, [Param("value", convert.INT)], convert.NONE).call(0)


def _nothing(value: int) -> None:
    return None
