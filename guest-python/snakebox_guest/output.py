"""Sends ``print`` and ``logging`` output to the host, tagged with the function.

While an export runs, each line written to ``sys.stdout`` (level INFO) or
``sys.stderr`` (WARNING) and each logging record goes to ``host.log``, which
the host turns into a ``tracing`` event. Output written outside any call, for
example while the module is imported at build time, goes to the original
streams.
"""

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
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        function = current_function.get()
        if function is None:
            return self._fallback.write(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            host.log(function, self._level, line)
        return len(text)

    def flush(self) -> None:
        function = current_function.get()
        if function is not None and self._partial:
            host.log(function, self._level, self._partial)
            self._partial = ""


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
    root = logging.getLogger()
    root.addHandler(_HostHandler())
    # The host's tracing filter decides which levels are shown.
    root.setLevel(logging.DEBUG)
