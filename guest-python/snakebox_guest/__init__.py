"""snakebox's guest runtime, bundled into every component that snakebox builds.

It closes the gaps between componentize-py's event loop and ordinary asyncio
code, and gives the generated glue one place to call into:

- ``timers``: ``asyncio.sleep``, ``wait_for``, ``timeout`` and every other
  ``call_later``/``call_at`` user run on real host timers.
- ``calls``: runs an exported function, turns *every* exception into the
  ``python-error`` record, and cancels an async call when the host asks.
- ``convert``: checks and converts values between Python and WIT.
- ``output``: sends ``print`` and ``logging`` to the host, tagged with the
  function that produced them.
- ``standins``: importable stand-ins for the C modules CPython on WASI
  lacks (``_bz2``, ``_lzma``, ``ctypes``), which raise when used.
- ``internals``: every private name of asyncio and componentize-py the
  runtime relies on, checked when it is imported.

- ``http``: serves the module over ``wasi:http`` with no snakebox host, in
  a component built with ``snakebox build --http``.

Importing this package installs the timers and the output redirection when
the component runs under the snakebox host; ``http`` installs its own.
"""

from . import world as _world
from . import standins as _standins
from .calls import Export, Param, Resource, POSITIONAL, KEYWORD, POSITIONAL_OR_KEYWORD

if _world.HOSTED:
    from . import timers as _timers
    from . import output as _output

    _timers.install()
    _output.install()
_standins.install()


def _tune_gc() -> None:
    """Collects cycles less often than CPython's default (every 2,000 new
    container objects). Every async call makes a task, a coroutine, a
    future and their frames; with thousands in flight, each collection
    walks them all, and at the default it ran every few calls: 13 % of a
    store's time under 10,000 concurrent calls, 6 % after."""
    import gc

    gc.set_threshold(20_000)


_tune_gc()


def _bundle_codecs() -> None:
    """Imports every codec of the standard library while the component is built.

    Codecs are looked up by name, and imported, only when first used
    (``"x".encode("punycode")``, ``codecs.lookup("idna")``); at run time the
    component has no files to import them from. A codec that needs a C
    module the WASI build lacks is left out.
    """
    import encodings
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(encodings.__path__):
        try:
            importlib.import_module(f"encodings.{info.name}")
        except Exception:
            pass


_bundle_codecs()



__all__ = ["Export", "Param", "Resource", "POSITIONAL", "KEYWORD", "POSITIONAL_OR_KEYWORD"]


def _note(notes: str, text: str) -> None:
    """Says ``text`` on the build's log: written to ``notes`` beside this
    package (the builder logs each line), and to stderr, which
    componentize-py shows when the build fails."""
    import os
    import sys

    print(f"snakebox: {text}", file=sys.__stderr__)
    if notes:
        folder = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with open(os.path.join(folder, notes), "a") as file:
            file.write(text + "\n")


def preload(modules: list[str], what: str = "", notes: str = "") -> None:
    """Imports a package's other modules while the component is built.

    componentize-py bundles only the modules imported at build time, so a
    submodule imported lazily (``importlib.import_module``, or an ``import``
    inside a function) would be missing at run time. Importing them here puts
    them in the component. A module that fails to import is left out and
    reported on the build log (through ``notes``): each by name, or for
    ``what`` (the requirements, which ship modules for other platforms) in
    one line.
    """
    import importlib
    import sys

    failed = []
    for name in modules:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append((name, exc))
    if what and failed:
        names = ", ".join(name for name, _ in failed[:10])
        more = f" and {len(failed) - 10} more" if len(failed) > 10 else ""
        _note(
            notes,
            f"{len(failed)} of {len(modules)} modules of {what} do not import here and are left out: {names}{more}",
        )
        return
    for name, exc in failed:
        _note(notes, f"not bundling {name}: {type(exc).__name__}: {exc}")


def bundle_metadata() -> None:
    """Imports, while a component with requirements is built, the
    standard-library modules that reading their metadata and data imports
    only when first used: ``importlib.metadata.version`` imports
    ``_adapters``, and so ``email``, inside the call;
    ``importlib.resources.files`` imports its readers. They add about 3 MB,
    so a component without requirements goes without."""
    import importlib
    import pkgutil

    names = ["email.parser", "email.message", "email.policy", "importlib.readers"]
    for package in ("importlib.metadata", "importlib.resources"):
        module = importlib.import_module(package)
        names += [f"{package}.{info.name}" for info in pkgutil.iter_modules(module.__path__)]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
