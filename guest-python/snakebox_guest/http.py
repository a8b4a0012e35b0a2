"""Serves the module over ``wasi:http`` 0.2 on its own: ``snakebox build --http``.

A component built this way imports only WASI and exports
``wasi:http/incoming-handler``, so engines such as ``wasmtime serve``, Spin
and wasmCloud run it. There is no snakebox host beside it, so this module
does what the host does for ``snakebox serve``, with the same routes, status
codes and bodies:

- ``GET /functions`` lists the exports, and ``GET /openapi.json`` is their
  OpenAPI document (the generator wrote both);
- ``POST /call/{name}`` binds a JSON array or object to the parameters, as
  the host reads JSON (``convert.*.from_json``), calls the function and
  answers with its JSON result, ``422`` with the Python exception, ``400``
  for bad arguments, ``404`` for an unknown name, ``415`` for a body not
  sent as ``application/json``, ``413`` for a body over
  the limit;
- a generator answers with NDJSON, one ``{"item": value}`` per line as the
  items come, and a failure after the first item ends it with
  ``{"error": body, "status": 422}``;
- ``GET /healthz`` answers ``{"status": "ok"}``.

``async def`` functions run on ``Loop``, an asyncio loop whose timers wait on
WASI's monotonic clock. ``print`` and ``logging`` go to stderr.

The engine's limits apply: memory, time and instance reuse are its own. A
client that disconnects is seen only when a write to it fails, so a plain
call runs to its end; a stream stops at its next item and its ``finally``
blocks run.
"""

import asyncio
import inspect
import json
import logging
import sys
from urllib.parse import unquote

from componentize_py_types import Err, Ok, Some
from wit_world.imports import monotonic_clock
from wit_world.imports.types import (
    Fields,
    Method_Get,
    Method_Post,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)
from wit_world.imports.streams import StreamError_Closed

from . import internals
from .calls import Export, current_function, python_error
from .convert import JsonError, Option

# The most bytes one `blocking-write-and-flush` takes.
_WRITE_CHUNK = 4096
_READ_CHUNK = 64 * 1024
_JSON = "application/json"
_NDJSON = "application/x-ndjson"


class Loop(asyncio.BaseEventLoop):
    """asyncio on WASI's clocks: when no callback is ready, the loop blocks on
    a ``wasi:clocks/monotonic-clock`` pollable until the next timer is due."""

    def __init__(self):
        super().__init__()
        self._selector = _Clock()
        self._clock_resolution = monotonic_clock.resolution() / 1e9

    def time(self) -> float:
        return monotonic_clock.now() / 1e9

    def _process_events(self, event_list) -> None:
        pass

    def _write_to_self(self) -> None:
        pass


class _Clock:
    """The loop's selector. There is nothing to select on but time."""

    def select(self, timeout):
        if timeout is None:
            raise RuntimeError(
                "the call awaits something that nothing will complete: no timer is pending"
            )
        if timeout > 0:
            with monotonic_clock.subscribe_duration(int(timeout * 1e9)) as pollable:
                pollable.block()
        return []


# Stand-ins for the classes componentize-py generates for an interface's
# types. The world of an `--http` build has no such interface, and the
# converters need only these shapes.


class Bindings:
    """A namespace for the stand-in classes of one module's types."""


def record(name: str, attrs: list[str]):
    """A record: its fields as attributes, built positionally."""

    def __init__(self, *values):
        for attr, value in zip(attrs, values):
            setattr(self, attr, value)

    return type(name, (), {"__slots__": tuple(attrs), "__init__": __init__})


def enum(name: str, cases: list[str]):
    """An enum: member `i` is the `i`-th WIT case."""
    import enum as _enum

    return _enum.Enum(name, [(case.upper().replace("-", "_"), i) for i, case in enumerate(cases)])


def case(name: str):
    """One case of a variant, carrying its payload as `value`."""

    def __init__(self, value):
        self.value = value

    return type(name, (), {"__slots__": ("value",), "__init__": __init__})


def json_value(name: str):
    """The record that carries `Any` as JSON text."""

    def __init__(self, json_text):
        self.json_text = json_text

    return type(name, (), {"__slots__": ("json_text",), "__init__": __init__})


class Route:
    """One export and the names it answers to."""

    __slots__ = ("call_name", "qualified", "wit_name", "export", "is_async", "stream", "by_module")

    def __init__(self, call_name: str, qualified: str, wit_name: str, export: Export,
                 is_async: bool, stream: bool, by_module: tuple = ()):
        self.call_name = call_name
        self.qualified = qualified
        self.wit_name = wit_name
        self.export = export
        self.is_async = is_async
        self.stream = stream
        # `module.function`, by its Python name and by its WIT name.
        self.by_module = by_module


class _Reply(Exception):
    """A reply decided before the call: its status and body."""

    def __init__(self, status: int, body, headers: tuple = ()):
        self.status = status
        self.body = body
        self.headers = headers


def _failure(status: int, kind: str, message: str, headers: tuple = ()) -> _Reply:
    return _Reply(status, {"error": kind, "message": message}, headers)


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class Server:
    """Answers requests for the exports the glue adds."""

    def __init__(self, listing: str, openapi: str, max_body: int):
        self.documents = {
            "/functions": listing.encode(),
            "/openapi.json": openapi.encode(),
            "/healthz": _dumps({"status": "ok"}),
        }
        self.max_body = max_body
        self.routes: list[Route] = []
        self._loop = None

    def add(self, routes: list[Route]) -> None:
        self.routes.extend(routes)

    def run(self, awaitable):
        """Runs ``awaitable`` to its end on this instance's loop.
        componentize-py's runtime leaves its own loop marked as running,
        which no export of this world uses; it is set aside meanwhile."""
        if self._loop is None:
            self._loop = Loop()
        outer = internals.get_running_loop()
        internals.set_running_loop(None)
        try:
            done, outcome = self._loop.run_until_complete(_outcome(awaitable))
        finally:
            internals.set_running_loop(outer)
        if not done:
            raise outcome  # its traceback starts where the user's code raised
        return outcome

    def handle(self, request, response_out) -> None:
        """``wasi:http/incoming-handler.handle``. Never raises: an exception
        that escapes an export would trap the instance."""
        headers = ()
        try:
            status, content_type, chunks = self._reply(request)
        except _Reply as reply:
            status, content_type, chunks = reply.status, _JSON, [_dumps(reply.body)]
            headers = reply.headers
        except BaseException as exc:
            message = f"{type(exc).__name__}: {exc}"
            status, content_type, chunks = 500, _JSON, [_dumps({"error": "internal", "message": message})]
        try:
            _send(response_out, status, content_type, chunks, headers)
        except BaseException as exc:
            print(f"snakebox: the response could not be sent: {exc!r}", file=sys.__stderr__)

    def _reply(self, request):
        method = request.method()
        path = (request.path_with_query() or "/").split("?", 1)[0]
        if path in self.documents:
            if not isinstance(method, Method_Get):
                raise _failure(405, "method_not_allowed", f"{path} takes GET", (("allow", b"GET"),))
            return 200, _JSON, [self.documents[path]]
        if not path.startswith("/call/"):
            raise _failure(404, "not_found", f"no route {path}; see GET /functions")
        if not isinstance(method, Method_Post):
            raise _failure(
                405, "method_not_allowed", "/call/{name} takes POST", (("allow", b"POST"),)
            )
        name = unquote(path[len("/call/"):])
        route = self._route(name)
        # Only JSON: a browser must ask (CORS preflight) before sending it.
        if not _is_json(request):
            raise _failure(
                415, "unsupported_media_type",
                "send the arguments with `Content-Type: application/json`",
            )
        positional, named = _parse(_read(request, self.max_body))
        values = _bind(route.export, positional, named)
        if route.stream:
            return self._stream(route.export, values)
        return 200, _JSON, [self._call(route, values)]

    def _route(self, name: str) -> Route:
        matches = [r for r in self.routes if name in (r.call_name, r.qualified, *r.by_module)]
        if not matches:
            matches = [r for r in self.routes if name in (r.export.name, r.wit_name)]
        if not matches:
            raise _failure(404, "no_such_function", f"no function `{name}` in the component")
        if len(matches) > 1:
            names = ", ".join(r.call_name for r in matches)
            raise _failure(400, "bad_arguments", f"bad arguments: `{name}` is ambiguous; name one of: {names}")
        return matches[0]

    def _call(self, route: Route, values) -> bytes:
        export = route.export
        reset = current_function.set(export.name)
        try:
            args, kwargs = export._bind(values)
            outcome = export.func(*args, **kwargs)
            if route.is_async:
                outcome = self.run(outcome)
            return _dumps(export.result.wit_json(export._result(outcome)))
        except BaseException as exc:
            raise _Reply(422, _python_error(exc)) from None
        finally:
            current_function.reset(reset)

    def _stream(self, export: Export, values):
        reset = current_function.set(export.name)
        try:
            args, kwargs = export._bind(values)
            items = self._items(export, export.func(*args, **kwargs))
            first = next(items, _END)
        except BaseException as exc:
            raise _Reply(422, _python_error(exc)) from None
        finally:
            current_function.reset(reset)
        return 200, _NDJSON, _lines(first, items)

    def _items(self, export: Export, source):
        """The items of a generator's result, as the JSON values the host
        writes; an async one runs on the loop, item by item."""

        def checked(item):
            return export._checked(lambda v: export.result.wit_json(export.result.to_wit(v)), item, "yielded")

        if inspect.isawaitable(source):
            source = self.run(source)
        if hasattr(source, "__anext__"):
            try:
                while True:
                    try:
                        item = self.run(source.__anext__())
                    except StopAsyncIteration:
                        return
                    yield checked(item)
            finally:
                if hasattr(source, "aclose"):
                    self.run(source.aclose())
        else:
            source = iter(source)
            try:
                for item in source:
                    yield checked(item)
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()


_END = object()


async def _outcome(awaitable):
    """``(True, value)``, or ``(False, exception)`` when it raised."""
    try:
        return True, await awaitable
    except BaseException as exc:
        return False, exc


def _lines(first, items):
    """The NDJSON lines of a stream; a failure after the first item is the
    last line. Closing this (the client went away) closes the generator."""
    try:
        if first is not _END:
            yield _dumps({"item": first}) + b"\n"
            for item in items:
                yield _dumps({"item": item}) + b"\n"
    except GeneratorExit:
        raise
    except BaseException as exc:
        yield _dumps({"error": _python_error(exc), "status": 422}) + b"\n"
    finally:
        items.close()


def _python_error(exc: BaseException) -> dict:
    error = python_error(exc).value
    return {"type": error.type_name, "message": error.message, "traceback": error.traceback}


def _is_json(request) -> bool:
    """Whether the request says its body is ``application/json`` (any
    parameters, such as a charset, aside)."""
    with request.headers() as fields:
        values = fields.get("content-type")
    if not values:
        return False
    media = values[0].decode("latin-1").split(";", 1)[0].strip()
    return media.lower() == "application/json"


def _read(request, limit: int) -> bytes:
    """The request body, or ``413`` past ``limit`` bytes."""
    chunks = []
    size = 0
    with request.consume() as body:
        with body.stream() as stream:
            while True:
                try:
                    chunk = stream.blocking_read(_READ_CHUNK)
                except Err as err:
                    if isinstance(err.value, StreamError_Closed):
                        break
                    raise
                size += len(chunk)
                if size > limit:
                    raise _failure(
                        413, "body_too_large", f"the body is larger than the limit of {limit} bytes"
                    )
                chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes):
    """An empty body (no arguments), a JSON array of positional arguments,
    or a JSON object of named arguments."""
    if not body:
        return [], {}
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except ValueError as exc:
        raise _failure(400, "bad_arguments", f"the body is not valid JSON: {exc}") from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return [], value
    raise _failure(
        400,
        "bad_arguments",
        "the body must be a JSON array of positional arguments or an object of named "
        f"arguments, not `{json.dumps(value)}`",
    )


def _no_constant(name: str):
    """``NaN`` and ``Infinity`` are not JSON (Python's reader takes them);
    the floats they stand for are the strings ``"NaN"`` and ``"Infinity"``."""
    raise ValueError(f"{name} is not JSON; write the string \"{name}\"")


def _bad(message: str) -> _Reply:
    return _failure(400, "bad_arguments", f"bad arguments: {message}")


def _bind(export: Export, positional: list, named: dict) -> list:
    """The WIT value of each parameter, as the host binds JSON arguments:
    positional ones in order, named ones by Python or WIT name; a parameter
    with a default may be left out."""
    params = export.params
    name = export.name
    if len(positional) > len(params):
        plural = "" if len(params) == 1 else "s"
        raise _bad(f"{name}() takes {len(params)} argument{plural}, got {len(positional)}")
    slots = [(True, value) for value in positional] + [(False, None)] * (len(params) - len(positional))
    for key, value in named.items():
        index = next((i for i, p in enumerate(params) if p.is_named(key)), None)
        if index is None:
            known = ", ".join(p.name for p in params) or "(none)"
            raise _bad(f"{name}() has no parameter `{key}`; its parameters are: {known}")
        if slots[index][0]:
            raise _bad(f"{name}() got `{key}` twice")
        slots[index] = (True, value)
    values = []
    for param, (given, value) in zip(params, slots):
        if not given:
            if not param.has_default:
                raise _bad(f"{name}() is missing argument `{param.name}` ({param.convert!r})")
            values.append(None)
            continue
        try:
            # A value given for a defaulted parameter (WIT `option<T>`) must
            # be a `T`: `null` is `None` only where the annotation says so.
            converted = param.convert.from_json(value)
        except JsonError as exc:
            raise _bad(f"argument `{param.name}` of {name}(): {exc}") from None
        values.append(Some(converted) if param.has_default and isinstance(param.convert, Option) else converted)
    return values


def _send(response_out, status: int, content_type: str, chunks, headers: tuple = ()) -> None:
    fields = [("content-type", content_type.encode()), *headers]
    if isinstance(chunks, list):
        # A whole reply says its length; a stream is sent chunked.
        fields.append(("content-length", str(sum(map(len, chunks))).encode()))
    headers = Fields.from_list(fields)
    response = OutgoingResponse(headers)
    response.set_status_code(status)
    body = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    try:
        with body.write() as stream:
            for chunk in chunks:
                for start in range(0, len(chunk), _WRITE_CHUNK):
                    stream.blocking_write_and_flush(chunk[start : start + _WRITE_CHUNK])
    except Err:
        pass  # the client went away
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    try:
        OutgoingBody.finish(body, None)
    except Err:
        pass


def install() -> None:
    """``print`` goes to stderr, as does ``logging`` from INFO up."""
    sys.stdout = sys.stderr
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


install()
