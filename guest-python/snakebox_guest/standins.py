"""Stand-ins for the C modules that CPython on WASI lacks.

Packages import ``bz2``, ``lzma`` or ``ctypes`` at the top and use them
rarely, if ever. Without their C modules, that import fails and takes the
whole package with it. A stand-in makes the import work and raises
``ModuleNotFoundError`` ("bz2 is not available in the sandbox") at the
first use instead. It never fakes a result: its only values are constants
that the real module defines. An attribute it lacks is an
``AttributeError`` that says why, as a module's ``__getattr__`` must raise
for ``hasattr`` and ``getattr(module, name, default)`` to answer.
"""

import sys
import types


def _unavailable(what: str, missing: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(
        f"{what} is not available in the sandbox: CPython on WASI has no {missing}",
        name=missing,
    )


def _refusing_class(what: str, missing: str, name: str) -> type:
    def refuse(cls, *args, **kwargs):
        raise _unavailable(what, missing)

    return type(name, (), {"__new__": refuse, "__module__": missing})


def _refusing_function(what: str, missing: str, name: str):
    def refuse(*args, **kwargs):
        raise _unavailable(what, missing)

    refuse.__name__ = refuse.__qualname__ = name
    return refuse


def _module(name: str, what: str, values: dict, refuse_the_rest: bool) -> types.ModuleType:
    module = types.ModuleType(name, f"snakebox's stand-in for {name}: {what} is not available in the sandbox.")
    module.__dict__.update(values)

    def __getattr__(attribute: str):
        missing = f"module {name!r} has no attribute {attribute!r}"
        if refuse_the_rest and not attribute.startswith("__"):
            missing += f": {_unavailable(what, name)}"
        raise AttributeError(missing, name=attribute, obj=module)

    module.__getattr__ = __getattr__
    return module


def _bz2() -> types.ModuleType:
    classes = {n: _refusing_class("bz2", "_bz2", n) for n in ("BZ2Compressor", "BZ2Decompressor")}
    return _module("_bz2", "bz2", classes, refuse_the_rest=False)


def _lzma() -> types.ModuleType:
    values = {n: _refusing_class("lzma", "_lzma", n) for n in ("LZMACompressor", "LZMADecompressor")}
    for function in ("is_check_supported", "_encode_filter_properties", "_decode_filter_properties"):
        values[function] = _refusing_function("lzma", "_lzma", function)
    values["LZMAError"] = type("LZMAError", (Exception,), {"__module__": "_lzma"})
    # liblzma's own values (lzma.h), which `lzma` uses as defaults.
    values.update(
        FORMAT_AUTO=0, FORMAT_XZ=1, FORMAT_ALONE=2, FORMAT_RAW=3,
        CHECK_NONE=0, CHECK_CRC32=1, CHECK_CRC64=4, CHECK_SHA256=10,
        CHECK_ID_MAX=15, CHECK_UNKNOWN=16,
        PRESET_DEFAULT=6, PRESET_EXTREME=0x80000000,
    )
    return _module("_lzma", "lzma", values, refuse_the_rest=True)


# The sizes of C's types on wasm32-wasi (ILP32), which packages read at
# import time (`sizeof(c_long)`): facts of the platform, not results.
_C_SIZES = {
    "c_bool": 1, "c_char": 1, "c_byte": 1, "c_ubyte": 1, "c_int8": 1, "c_uint8": 1,
    "c_short": 2, "c_ushort": 2, "c_int16": 2, "c_uint16": 2,
    "c_int": 4, "c_uint": 4, "c_int32": 4, "c_uint32": 4, "c_long": 4, "c_ulong": 4,
    "c_longlong": 8, "c_ulonglong": 8, "c_int64": 8, "c_uint64": 8,
    "c_size_t": 4, "c_ssize_t": 4, "c_float": 4, "c_double": 8, "c_longdouble": 16,
    "c_wchar": 4, "c_void_p": 4, "c_char_p": 4, "c_wchar_p": 4,
}


def _ctypes_package() -> types.ModuleType:
    # ctypes itself, since its `__init__` needs working C types to import.
    # The simple types are there, with their sizes; making a value of one,
    # and everything else, raises.
    values = {}
    for name, size in _C_SIZES.items():
        values[name] = _refusing_class("ctypes", "_ctypes", name)
        values[name]._size_ = size

    def sizeof(obj) -> int:
        size = getattr(obj, "_size_", None)
        if not isinstance(obj, type) or size is None:
            raise _unavailable("ctypes", "_ctypes")
        return size

    values["sizeof"] = sizeof
    return _module("ctypes", "ctypes", values, refuse_the_rest=True)


# The module each stand-in replaces, and the modules to import once it is
# in place, so that they are bundled too.
_STANDINS = {
    "_bz2": (_bz2, ["bz2"]),
    "_lzma": (_lzma, ["lzma"]),
    "ctypes": (_ctypes_package, []),
}

#: The stand-ins this build put in place, for the README's list and tests.
installed: list[str] = []


def install() -> None:
    """Puts each stand-in in place where the real module does not import."""
    import importlib

    for name, (build, users) in _STANDINS.items():
        try:
            importlib.import_module(name)
            continue
        except ImportError:
            sys.modules[name] = build()
            installed.append(name)
        for user in users:
            try:
                importlib.import_module(user)
            except ImportError:
                pass
