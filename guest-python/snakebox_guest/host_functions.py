"""Calls the host: the functions of a stub that the host provides.

The generated module of each stub binds its functions here, in place of the
stub's bodies. A call checks and converts its arguments first, so a wrong
type raises ``TypeError`` before anything reaches the host. Then:

- A sync host function is called at once; the guest waits for it.
- An async one is started with ``subtasks.start``, outside the caller's
  task. The caller awaits a plain asyncio future that its outcome completes. componentize-py cannot cancel a
  pending host call, so the caller must never be the task that awaits it:
  when the caller is cancelled, only the future is, and the host call goes
  on until the host completes it. The host completes every host call of a
  cancelled export call at once, with ``cancelled``.

A failure of the host raises ``HostError``, or the class the host named in
its ``kind``: one of the stub's exception classes, or a builtin one, made a
subclass of ``HostError`` too, so ``except HostError`` catches them all.
A call the host cancelled raises ``asyncio.CancelledError``.
"""

import asyncio
import builtins
import functools
import inspect

from componentize_py_types import Err, Some
from wit_world.imports.types import HostError_Failed

from . import subtasks
from .convert import Converter, Option


class HostError(Exception):
    """A host function failed. ``kind`` is the class name the host chose
    (empty for ``HostError`` itself); ``message`` is the host's message."""

    def __init__(self, message: str = "", kind: str = ""):
        super().__init__(message)
        self.message = message
        self.kind = kind


# Named as users see it in tracebacks and in the host's `PythonError`.
HostError.__module__ = "snakebox"


# The error class of each (host module, kind), made once.
_classes: dict[tuple[str, str], type] = {}


def _error_class(module, kind: str) -> type:
    if not kind or kind == "HostError":
        return HostError
    key = (module.__name__, kind)
    cls = _classes.get(key)
    if cls is not None:
        return cls
    base = getattr(module, kind, None)
    if not (isinstance(base, type) and issubclass(base, Exception)):
        base = getattr(builtins, kind, None)
    if isinstance(base, type) and issubclass(base, HostError):
        cls = base
    elif isinstance(base, type) and issubclass(base, Exception):
        try:
            cls = type(kind, (base, HostError), {"__module__": module.__name__})
        except TypeError:
            cls = None
    if cls is None:
        cls = type(kind, (HostError,), {"__module__": module.__name__})
    _classes[key] = cls
    return cls


def _raise_for(module, error) -> None:
    """Raises what the WIT ``host-error`` stands for."""
    if not isinstance(error, HostError_Failed):
        raise asyncio.CancelledError("the host cancelled this call")
    failure = error.value
    cls = _error_class(module, failure.kind)
    try:
        exc = cls(failure.message)
    except Exception:
        cls = _error_class(module, "")
        exc = cls(failure.message)
    exc.message = failure.message
    exc.kind = failure.kind
    raise exc


class HostFunction:
    """One host function: its stub's signature, converters and WIT call."""

    def __init__(self, module, name: str, func, params, result: Converter):
        self.module = module
        self.name = name
        self.func = func
        self.params = params
        self.result = result
        stub = getattr(module, name, None)
        self.signature = inspect.signature(stub) if callable(stub) else None

    def lower(self, args, kwargs) -> list:
        """The WIT arguments, or ``TypeError`` naming the one that is wrong."""
        if self.signature is not None:
            try:
                arguments = self.signature.bind(*args, **kwargs).arguments
            except TypeError as exc:
                raise TypeError(f"{self.module.__name__}.{self.name}(): {exc}") from None
        else:
            arguments = dict(zip((p.name for p in self.params), args))
            arguments.update(kwargs)
        values = []
        for param in self.params:
            if param.name not in arguments:
                if param.has_default:
                    values.append(None)
                    continue
                raise TypeError(
                    f"{self.module.__name__}.{self.name}() missing argument {param.name!r}"
                )
            try:
                value = param.convert.to_wit(arguments[param.name])
            except (TypeError, ValueError, OverflowError) as exc:
                raise TypeError(
                    f"{self.module.__name__}.{self.name}() argument {param.name!r}: {exc}"
                ) from None
            if param.has_default and isinstance(param.convert, Option):
                value = Some(value)
            values.append(value)
        return values

    def lift(self, value):
        return self.result.to_python(value)

    def call(self, args, kwargs):
        values = self.lower(args, kwargs)
        try:
            value = self.func(*values)
        except Err as err:
            _raise_for(self.module, err.value)
        return self.lift(value)

    async def call_async(self, args, kwargs):
        values = self.lower(args, kwargs)
        done = asyncio.get_running_loop().create_future()
        subtasks.start(self.func, values, functools.partial(_settle, done))
        ok, value = await done
        if not ok:
            if isinstance(value, Err):
                _raise_for(self.module, value.value)
            raise value
        return self.lift(value)


def _settle(done: asyncio.Future, ok: bool, value) -> None:
    # The caller may have been cancelled, and `done` with it.
    if not done.done():
        done.set_result((ok, value))


def bind(module, name: str, func, params, result: Converter, is_async: bool):
    """The function that takes the stub's place in its module."""
    host = HostFunction(module, name, func, params, result)
    if is_async:
        async def call(*args, **kwargs):
            return await host.call_async(args, kwargs)
    else:
        def call(*args, **kwargs):
            return host.call(args, kwargs)
    stub = getattr(module, name, None)
    if callable(stub):
        call = functools.wraps(stub)(call)
    call.__host_function__ = host
    return call


__all__ = ["HostError", "bind"]
