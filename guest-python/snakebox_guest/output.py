"""Sends ``print`` and ``logging`` output to the host, tagged with the function.

While an export runs, each line written to ``sys.stdout`` (level INFO) or
``sys.stderr`` (WARNING) and each logging record goes to ``host.log``, which
the host turns into a ``tracing`` event. Output written outside any call, for
example while the module is imported at build time, goes to the original
streams.

``logging`` is left as Python configures it: the runtime adds no handler
and sets no level. A record that no handler of the user's takes goes to
``logging.lastResort``, as it would natively, which here is a handler that
keeps the record's level; ``logging.basicConfig`` and the rest work as
documented, their handlers writing to ``sys.stderr``.
"""

import contextvars
import io
import logging
import sys

from wit_world.imports import host

from .calls import current_function

_INFO = 20
_WARNING = 30


class _HostStream(io.TextIOBase):
    def __init__(self, level: int, fallback):
        self._level = level
        self._fallback = fallback
        # The unfinished last line, one per call: each async call runs in
        # a context of its own, so interleaved calls never join halves.
        self._partial = contextvars.ContextVar(f"snakebox_partial_{level}", default="")

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"

    @property
    def errors(self) -> str:
        return "strict"

    def write(self, text: str) -> int:
        function = current_function.get()
        if function is None:
            return self._fallback.write(text)
        lines = (self._partial.get() + text).split("\n")
        self._partial.set(lines.pop())
        for line in lines:
            host.log(function, self._level, line)
        return len(text)

    def flush(self) -> None:
        function = current_function.get()
        partial = self._partial.get()
        if function is not None and partial:
            host.log(function, self._level, partial)
            self._partial.set("")


class _HostHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        function = current_function.get()
        try:
            message = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if function is None:
            sys.__stderr__.write(message + "\n")
        else:
            host.log(function, record.levelno, message)


def install() -> None:
    sys.stdout = _HostStream(_INFO, sys.__stdout__)
    sys.stderr = _HostStream(_WARNING, sys.__stderr__)
    # Only where Python itself would print a record no handler took:
    # the root logger's level and handlers stay the user's to set.
    logging.lastResort = _HostHandler(logging.WARNING)
