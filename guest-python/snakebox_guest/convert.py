"""Checks and converts values between Python and componentize-py's WIT values.

The generated glue builds one converter per parameter and result, for example
``List(Dict(STR, INT))``. ``to_python`` turns a WIT value the host sent into
what the annotation promises; ``to_wit`` checks a value Python returned and
turns it into what the WIT type needs, raising ``TypeError`` or
``OverflowError`` rather than letting a bad value trap the instance.
"""

from componentize_py_types import Some

_S64_MIN = -(1 << 63)
_S64_MAX = (1 << 63) - 1


def _type_name(value) -> str:
    return type(value).__name__


class Converter:
    """A converter whose values need no change in either direction."""

    identity = True
    name = "object"

    def to_python(self, value):
        return value

    def to_wit(self, value):
        return value

    def __repr__(self) -> str:
        return self.name


class _Int(Converter):
    name = "int"

    def to_wit(self, value):
        if not isinstance(value, int):
            raise TypeError(f"expected int, got {_type_name(value)}")
        if not _S64_MIN <= value <= _S64_MAX:
            raise OverflowError(f"int {value} does not fit in a signed 64-bit integer (WIT s64)")
        return int(value)


class _Float(Converter):
    name = "float"

    def to_wit(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected float, got {_type_name(value)}")
        return float(value)


class _Bool(Converter):
    name = "bool"

    def to_wit(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"expected bool, got {_type_name(value)}")
        return value


class _Str(Converter):
    name = "str"

    def to_wit(self, value):
        if not isinstance(value, str):
            raise TypeError(f"expected str, got {_type_name(value)}")
        if not value.isascii():
            # Lone surrogates cannot cross as UTF-8; fail here, not in the lowering.
            value.encode("utf-8")
        return value


class _Bytes(Converter):
    name = "bytes"
    identity = False

    def to_python(self, value):
        return bytes(value)

    def to_wit(self, value):
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected bytes, got {_type_name(value)}")
        return bytes(value)


class _NoneType(Converter):
    name = "None"

    def to_wit(self, value):
        if value is not None:
            raise TypeError(f"expected None, got {_type_name(value)}")
        return None


INT = _Int()
FLOAT = _Float()
BOOL = _Bool()
STR = _Str()
BYTES = _Bytes()
NONE = _NoneType()
ANY = Converter()


class List(Converter):
    identity = False

    def __init__(self, item: Converter):
        self.item = item
        self.name = f"list[{item!r}]"

    def to_python(self, value):
        if self.item.identity:
            return list(value)
        convert = self.item.to_python
        return [convert(v) for v in value]

    def to_wit(self, value):
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            raise TypeError(f"expected a list, got {_type_name(value)}")
        convert = self.item.to_wit
        return [convert(v) for v in value]


class Tuple(Converter):
    identity = False

    def __init__(self, *items: Converter):
        self.items = items
        self.name = "tuple[" + ", ".join(repr(i) for i in items) + "]"

    def to_python(self, value):
        return tuple(c.to_python(v) for c, v in zip(self.items, value))

    def to_wit(self, value):
        if not isinstance(value, (tuple, list)):
            raise TypeError(f"expected a tuple, got {_type_name(value)}")
        if len(value) != len(self.items):
            raise TypeError(f"expected a tuple of {len(self.items)} items, got {len(value)}")
        return tuple(c.to_wit(v) for c, v in zip(self.items, value))


class Dict(Converter):
    identity = False

    def __init__(self, key: Converter, value: Converter):
        self.key = key
        self.value = value
        self.name = f"dict[{key!r}, {value!r}]"

    def to_python(self, value):
        k, v = self.key.to_python, self.value.to_python
        return {k(a): v(b) for a, b in value}

    def to_wit(self, value):
        if not hasattr(value, "items"):
            raise TypeError(f"expected a dict, got {_type_name(value)}")
        k, v = self.key.to_wit, self.value.to_wit
        return [(k(a), v(b)) for a, b in value.items()]


class Option(Converter):
    """``Optional[T]``: WIT ``option<T>``, nested options disambiguated by ``Some``."""

    identity = False

    def __init__(self, item: Converter):
        self.item = item
        self.nested = isinstance(item, Option)
        self.name = f"Optional[{item!r}]"

    def to_python(self, value):
        if value is None:
            return None
        if isinstance(value, Some):
            value = value.value
        return self.item.to_python(value)

    def to_wit(self, value):
        if value is None:
            return None
        inner = self.item.to_wit(value)
        return Some(inner) if self.nested else inner
