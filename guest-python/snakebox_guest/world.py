"""Which host the component runs under, read from its own world.

A component that ``snakebox build`` makes imports ``snakebox:runtime/host``:
the snakebox host runs its timers, output, cancellation and calls. One that
``snakebox build --http`` makes imports only WASI, and the guest serves HTTP
on its own (``snakebox_guest.http``).
"""

import importlib.util

#: ``True`` when the world imports the snakebox host.
HOSTED: bool = importlib.util.find_spec("wit_world.imports.host") is not None
