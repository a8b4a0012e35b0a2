"""Checks and converts values between Python and componentize-py's WIT values.

The generated glue builds one converter per parameter and result, for example
``List(Dict(STR, INT))``. ``to_python`` turns a WIT value the host sent into
what the annotation promises; ``to_wit`` checks a value Python returned and
turns it into what the WIT type needs, raising ``TypeError`` or
``OverflowError`` rather than letting a bad value trap the instance.

``wit_json`` writes a value in the JSON form the host gives the same value
as a call's result, so that a stream item reads exactly as a result does.
``from_json`` is the host's reading of JSON as that type, for a component
that serves HTTP with no host (``snakebox build --http``): it turns a JSON
argument into the WIT value the host would have sent, or raises
``JsonError``. It is the only reading: a JSON value is of a type exactly
when ``from_json`` takes it, which a union asks when its payload alone
would read back as another case.
"""

import json as _json

from componentize_py_types import Some

_S64_MIN = -(1 << 63)
_S64_MAX = (1 << 63) - 1
_U64_MAX = (1 << 64) - 1
_INF = float("inf")
_EXACT_FLOAT_INTS = 2**53
# The strings the host reads as floats, as Python's `json` writes them.
_FLOAT_NAMES = {"NaN": float("nan"), "Infinity": _INF, "-Infinity": -_INF}


def _wit_label(name: str) -> str:
    """The WIT name of a binding name: `fast_lane` or `FAST_LANE` is `fast-lane`,
    and a trailing `_` (a Python keyword's escape) is dropped."""
    return name.rstrip("_").lower().replace("_", "-")


def _type_name(value) -> str:
    return type(value).__name__


class JsonError(ValueError):
    """A JSON value that does not fit the type; the message says why."""


def _mismatch(expected: str, value) -> JsonError:
    text = _json.dumps(value, ensure_ascii=False)
    if len(text) > 60:
        text = text[:60] + "…"
    return JsonError(f"expected {expected}, got {text}")


def _at(place, error: JsonError) -> JsonError:
    return JsonError(f"at [{place}]: {error}")


class Converter:
    """A converter whose values need no change in either direction."""

    identity = True
    name = "object"

    def to_python(self, value):
        return value

    def to_wit(self, value):
        return value

    def accepts(self, value) -> bool:
        """Whether ``value`` belongs to this type, to pick a union's case."""
        return True

    def wit_json(self, value):
        """A value ``to_wit`` made, in the JSON form the host gives results."""
        return value

    def from_json(self, value):
        """The WIT value the host reads the JSON value ``value`` as."""
        return value

    def to_json(self, value) -> str:
        """Checks ``value`` as ``to_wit`` does and writes it as one JSON text."""
        return _json.dumps(self.wit_json(self.to_wit(value)), allow_nan=False, ensure_ascii=False)

    def __repr__(self) -> str:
        return self.name


class _Int(Converter):
    name = "int"

    def accepts(self, value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def from_json(self, value):
        number = _json_int(value)
        if number is None:
            raise _mismatch("s64", value)
        if not _S64_MIN <= number <= _S64_MAX:
            raise JsonError(f"{number} does not fit in s64")
        return number

    def to_wit(self, value):
        if not isinstance(value, int):
            raise TypeError(f"expected int, got {_type_name(value)}")
        if not _S64_MIN <= value <= _S64_MAX:
            raise OverflowError(f"int {value} does not fit in a signed 64-bit integer (WIT s64)")
        return int(value)


class _Float(Converter):
    name = "float"

    def accepts(self, value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def wit_json(self, value):
        if value != value:
            return "NaN"
        if value in (_INF, -_INF):
            return "Infinity" if value > 0 else "-Infinity"
        return value

    def from_json(self, value):
        if isinstance(value, str) and value in _FLOAT_NAMES:
            return _FLOAT_NAMES[value]
        if not self.accepts(value):
            raise _mismatch("f64", value)
        return float(value)

    def to_wit(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected float, got {_type_name(value)}")
        return float(value)


class _Bool(Converter):
    name = "bool"

    def accepts(self, value) -> bool:
        return isinstance(value, bool)

    def from_json(self, value):
        if not isinstance(value, bool):
            raise _mismatch("bool", value)
        return value

    def to_wit(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"expected bool, got {_type_name(value)}")
        return value


class _Str(Converter):
    name = "str"

    def accepts(self, value) -> bool:
        return isinstance(value, str)

    def from_json(self, value):
        if not isinstance(value, str):
            raise _mismatch("string", value)
        return value

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

    def accepts(self, value) -> bool:
        return isinstance(value, (bytes, bytearray, memoryview))

    def wit_json(self, value):
        return list(value)

    def from_json(self, value):
        if isinstance(value, str):
            return value.encode("utf-8")
        if not isinstance(value, list):
            raise _mismatch("list<u8>", value)
        items = []
        for i, v in enumerate(value):
            number = _json_int(v)
            if number is None:
                raise _at(i, _mismatch("u8", v))
            if not 0 <= number <= 255:
                raise _at(i, JsonError(f"{number} does not fit in u8"))
            items.append(number)
        return bytes(items)

    def to_wit(self, value):
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected bytes, got {_type_name(value)}")
        return bytes(value)


class _NoneType(Converter):
    name = "None"

    def accepts(self, value) -> bool:
        return value is None

    def from_json(self, value):
        if value != []:
            raise _mismatch("tuple<>", value)
        return None

    def to_wit(self, value):
        if value is not None:
            raise TypeError(f"expected None, got {_type_name(value)}")
        return None


INT = _Int()
FLOAT = _Float()
BOOL = _Bool()
STR = _Str()
BYTES = _Bytes()


class _ByteArray(_Bytes):
    name = "bytearray"

    def to_python(self, value):
        return bytearray(value)


BYTEARRAY = _ByteArray()
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

    def accepts(self, value) -> bool:
        return isinstance(value, (list, tuple, set, frozenset)) and all(
            self.item.accepts(v) for v in value
        )

    def wit_json(self, value):
        if _is_string_keyed(self.item):
            key, val = self.item.items
            return _pairs_json([(key.wit_json(a), val.wit_json(b)) for a, b in value])
        convert = self.item.wit_json
        return [convert(v) for v in value]

    def from_json(self, value):
        if isinstance(value, dict) and _is_string_keyed(self.item):
            key, val = self.item.items
            return _pairs_from_json(value, key, val)
        if not isinstance(value, list):
            raise _mismatch(f"a list of {self.item!r}", value)
        return [_item_from_json(self.item, i, v) for i, v in enumerate(value)]

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

    def accepts(self, value) -> bool:
        return (
            isinstance(value, tuple)
            and len(value) == len(self.items)
            and all(c.accepts(v) for c, v in zip(self.items, value))
        )

    def wit_json(self, value):
        return [c.wit_json(v) for c, v in zip(self.items, value)]

    def from_json(self, value):
        if not isinstance(value, list):
            raise _mismatch(repr(self), value)
        if len(value) != len(self.items):
            raise JsonError(f"expected {self!r} with {len(self.items)} items, got {len(value)} items")
        return tuple(_item_from_json(c, i, v) for i, (c, v) in enumerate(zip(self.items, value)))

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

    def accepts(self, value) -> bool:
        return isinstance(value, dict) and all(
            self.key.accepts(k) and self.value.accepts(v) for k, v in value.items()
        )

    def wit_json(self, value):
        k, v = self.key.wit_json, self.value.wit_json
        pairs = [(k(a), v(b)) for a, b in value]
        if _is_string_key(self.key):
            return _pairs_json(pairs)
        return [[a, b] for a, b in pairs]

    def from_json(self, value):
        if isinstance(value, dict) and _is_string_key(self.key):
            return _pairs_from_json(value, self.key, self.value)
        if not isinstance(value, list):
            raise _mismatch(repr(self), value)
        pair = Tuple(self.key, self.value)
        return [_item_from_json(pair, i, v) for i, v in enumerate(value)]

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

    def accepts(self, value) -> bool:
        return value is None or self.item.accepts(value)

    def wit_json(self, value):
        if value is None:
            return None
        if isinstance(value, Some):
            value = value.value
        return self.item.wit_json(value)

    def from_json(self, value):
        # `null` is the innermost `none` that fits, as the host reads it.
        if value is None and not self.nested:
            return None
        inner = self.item.from_json(value)
        return Some(inner) if self.nested else inner

    def to_wit(self, value):
        if value is None:
            return None
        inner = self.item.to_wit(value)
        return Some(inner) if self.nested else inner


DATACLASS = 0
TYPED_DICT = 1
NAMED_TUPLE = 2


class Record(Converter):
    """A dataclass, ``TypedDict`` or ``NamedTuple`` of the module: a WIT record.

    ``fields`` lists ``(python_name, wit_attribute, converter)`` in order,
    with a fourth item ``True`` for a ``TypedDict`` key that may be absent:
    its WIT type is ``option<T>``, ``none`` when the key is absent.
    """

    identity = False

    def __init__(self, cls, wit_cls, style: int, fields):
        self.cls = cls
        self.wit_cls = wit_cls
        self.style = style
        self.fields = [(f[0], f[1], f[2], len(f) > 3 and f[3]) for f in fields]
        self.name = cls.__name__

    def to_python(self, value):
        values = {}
        for name, attr, c, optional in self.fields:
            item = getattr(value, attr)
            if optional:
                if item is None:
                    continue
                if isinstance(c, Option) and isinstance(item, Some):
                    item = item.value
            values[name] = c.to_python(item)
        if self.style == TYPED_DICT:
            return values
        return self.cls(**values)

    def accepts(self, value) -> bool:
        if self.style == TYPED_DICT:
            return isinstance(value, dict) and all(
                optional or name in value for name, _, _, optional in self.fields
            )
        return isinstance(value, self.cls)

    def wit_json(self, value):
        out = {}
        for _, attr, c, optional in self.fields:
            item = getattr(value, attr)
            if optional and isinstance(item, Some):
                item = item.value
            out[_wit_label(attr)] = None if item is None and optional else c.wit_json(item)
        return out

    def from_json(self, value):
        if not isinstance(value, dict):
            raise _mismatch(f"{self.name} (an object)", value)
        items = []
        labels = set()
        for _, attr, c, optional in self.fields:
            label = _wit_label(attr)
            labels.add(label)
            field = Option(c) if optional else c
            if label not in value:
                if not isinstance(field, Option):
                    raise JsonError(f"missing field `{label}`")
                items.append(None)
                continue
            try:
                items.append(field.from_json(value[label]))
            except JsonError as exc:
                raise _at(label, exc) from None
        for key in value:
            if key not in labels:
                raise JsonError(f"unknown field `{key}`")
        return self.wit_cls(*items)

    def to_wit(self, value):
        if self.style == TYPED_DICT:
            if not isinstance(value, dict):
                raise TypeError(f"expected {self.name} (a dict), got {_type_name(value)}")
            get = value.__getitem__
        else:
            if not isinstance(value, self.cls):
                raise TypeError(f"expected {self.name}, got {_type_name(value)}")
            get = value.__getattribute__
        items = []
        for name, _, c, optional in self.fields:
            try:
                item = get(name)
            except (KeyError, AttributeError):
                if optional:
                    items.append(None)
                    continue
                raise TypeError(f"{self.name} is missing its field {name!r}") from None
            try:
                converted = c.to_wit(item)
                if optional and isinstance(c, Option):
                    converted = Some(converted)
                items.append(converted)
            except (TypeError, OverflowError, ValueError) as exc:
                exc.add_note(f"in field {name!r} of {self.name}")
                raise
        return self.wit_cls(*items)


class Enum(Converter):
    """An ``enum.Enum`` of the module: a WIT enum, matched by member name."""

    identity = False

    def __init__(self, cls, wit_cls, members: list[str]):
        self.cls = cls
        self.wit_cls = wit_cls
        self.members = members
        self.name = cls.__name__

    def to_python(self, value):
        return self.cls[self.members[value.value]]

    def accepts(self, value) -> bool:
        return isinstance(value, self.cls)

    def wit_json(self, value):
        return _wit_label(value.name)

    def from_json(self, value):
        return _case_from_json(self, value)

    def to_wit(self, value):
        if not isinstance(value, self.cls):
            raise TypeError(f"expected {self.name}, got {_type_name(value)}")
        try:
            return self.wit_cls(self.members.index(value.name))
        except ValueError:
            raise ValueError(f"{self.name}.{value.name} is not an exported member") from None


class Object(Converter):
    """An object of a class of the module, which stays in the sandbox: the
    host holds a handle to the resource ``wit_cls`` (the glue's class),
    whose instance keeps the user's object in ``_o``."""

    identity = False

    def __init__(self, cls, wit_cls):
        self.cls = cls
        self.wit_cls = wit_cls
        self.name = cls.__name__

    def to_python(self, value):
        return value._o

    def accepts(self, value) -> bool:
        return isinstance(value, self.cls)

    def to_wit(self, value):
        if not isinstance(value, self.cls):
            raise TypeError(f"expected {self.name}, got {_type_name(value)}")
        return self.wit_cls._adopt(value)

    def to_json(self, value) -> str:
        raise TypeError(f"an object of class {self.name} cannot be written as JSON")


class Literal(Converter):
    """``Literal["a", "b"]``: a WIT enum whose cases are the strings."""

    identity = False

    def __init__(self, wit_cls, values: list[str]):
        self.wit_cls = wit_cls
        self.values = values
        self.name = "Literal[" + ", ".join(repr(v) for v in values) + "]"

    def to_python(self, value):
        return self.values[value.value]

    def accepts(self, value) -> bool:
        return isinstance(value, str) and value in self.values

    def wit_json(self, value):
        return _wit_label(value.name)

    def from_json(self, value):
        return _case_from_json(self, value)

    def to_wit(self, value):
        if not self.accepts(value):
            raise ValueError(f"expected one of {', '.join(map(repr, self.values))}, got {value!r}")
        return self.wit_cls(self.values.index(value))


class Variant(Converter):
    """``Union[A, B]``: a WIT variant; the first case whose type fits wins.

    ``cases`` lists ``(wit_class, converter, wit_name)`` in order.
    """

    identity = False

    def __init__(self, cases):
        self.cases = cases
        self.name = "Union[" + ", ".join(repr(c) for _, c, _ in cases) + "]"

    def to_python(self, value):
        for cls, c, _ in self.cases:
            if isinstance(value, cls):
                return c.to_python(value.value)
        raise TypeError(f"unexpected case {_type_name(value)} for {self.name}")

    def accepts(self, value) -> bool:
        return any(c.accepts(value) for _, c, _ in self.cases)

    def wit_json(self, value):
        """The payload alone when the host reads it back as this very case,
        else ``{"case": payload}``."""
        for cls, c, name in self.cases:
            if isinstance(value, cls):
                payload = c.wit_json(value.value)
                return payload if self.json_case(payload) == name else {name: payload}
        raise TypeError(f"unexpected case {_type_name(value)} for {self.name}")

    def json_case(self, value):
        """The case the host reads a JSON value as: ``{"case": payload}``
        when the payload fits that case, else the first case that takes the
        value as it is (an integer preferring an integer case to a float one,
        a string a string case to bytes); ``None`` when none does."""
        if isinstance(value, dict) and len(value) == 1:
            ((tag, payload),) = value.items()
            for _, c, name in self.cases:
                if name == tag and _reads(c, payload):
                    return name
        for _, c, name in self._untagged(value):
            if _reads(c, value):
                return name
        return None

    def _untagged(self, value):
        """The cases in the order the host tries them for an untagged JSON
        value: first those that take it strictly (an integer is not a float,
        a float, even ``3.0``, is not an int, a string is not bytes), then
        the rest."""
        integer = _is_int_in(value, _S64_MIN, _U64_MAX)
        float_form = isinstance(value, float)
        for strict in (True, False):
            for case in self.cases:
                c = case[1]
                loose = (
                    (c is FLOAT and integer)
                    or (c is INT and float_form)
                    or (isinstance(c, _Bytes) and isinstance(value, str))
                )
                if not (strict and loose):
                    yield case

    def from_json(self, value):
        tagged = None
        if isinstance(value, dict) and len(value) == 1:
            ((tag, payload),) = value.items()
            for cls, c, name in self.cases:
                if name == tag:
                    try:
                        return cls(c.from_json(payload))
                    except JsonError as exc:
                        tagged = _at(name, exc)
        for cls, c, _ in self._untagged(value):
            try:
                return cls(c.from_json(value))
            except JsonError:
                pass
        raise tagged or _mismatch(self.name, value)

    def to_wit(self, value):
        # An int goes to an int case before a float case, whatever the order.
        for cls, c, _ in self.cases:
            if c.accepts(value) and not (c is FLOAT and type(value) is not float):
                return cls(c.to_wit(value))
        for cls, c, _ in self.cases:
            if c.accepts(value):
                return cls(c.to_wit(value))
        raise TypeError(f"expected {self.name}, got {_type_name(value)}")


class Json(Converter):
    """``Any`` / ``object``: any value JSON can carry, as JSON text."""

    identity = False
    name = "Any"

    def __init__(self, wit_cls):
        self.wit_cls = wit_cls

    def to_python(self, value):
        return _json.loads(value.json_text)

    def wit_json(self, value):
        return _json.loads(value.json_text)

    def from_json(self, value):
        return self.wit_cls(_json.dumps(value, ensure_ascii=False))

    def to_wit(self, value):
        _check_json_ints(value)
        try:
            text = _json.dumps(value, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise TypeError(f"the value cannot be carried as JSON: {exc}") from None
        return self.wit_cls(text)


def _json_int(value):
    """The int a JSON number stands for: an int, or a float with no fraction
    (JSON Schema's ``integer`` takes ``3.0``) below 2^53 in size, where every int
    is a float (past it, the host's reader may have rounded an int literal
    into a float); ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_FLOAT_INTS:
        return int(value)
    return None


def _reads(c: Converter, value) -> bool:
    """Whether the host reads the JSON ``value`` as ``c``'s type."""
    try:
        c.from_json(value)
    except JsonError:
        return False
    return True


def _is_int_in(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_string_key(c: Converter) -> bool:
    """Keys the host writes as an object's keys: strings and enum cases."""
    return c is STR or isinstance(c, (Enum, Literal))


def _is_string_keyed(c: Converter) -> bool:
    """A pair whose key is a string or an enum case, as in a dict."""
    return isinstance(c, Tuple) and len(c.items) == 2 and _is_string_key(c.items[0])


def _pairs_json(pairs):
    """String-keyed pairs as an object, unless a key repeats: then every
    pair is kept, as an array of pairs."""
    if len({a for a, _ in pairs}) == len(pairs):
        return dict(pairs)
    return [[a, b] for a, b in pairs]


def _item_from_json(c: Converter, place, value):
    try:
        return c.from_json(value)
    except JsonError as exc:
        raise _at(place, exc) from None


def _pairs_from_json(value: dict, key: Converter, val: Converter) -> list:
    return [(_item_from_json(key, k, k), _item_from_json(val, k, v)) for k, v in value.items()]


def _case_from_json(c, value):
    """The WIT case of an enum or literal the host reads ``value`` as."""
    if not isinstance(value, str):
        raise _mismatch(f"{c.name} (a case name)", value)
    labels = _case_labels(c.wit_cls)
    if value not in labels:
        raise JsonError(f"unknown case `{value}` for {c.name}")
    return c.wit_cls(labels.index(value))


def _case_labels(wit_cls) -> list:
    return [_wit_label(member.name) for member in wit_cls]


def _check_json_ints(value, depth: int = 0) -> None:
    """Ints outside s64/u64 would silently lose digits on the Rust side."""
    if depth > 500:
        return  # json.dumps reports the recursion itself
    if isinstance(value, int) and not isinstance(value, bool):
        if not _S64_MIN <= value <= _U64_MAX:
            raise OverflowError(f"int {value} is too large to be carried as JSON to Rust")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_json_ints(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _check_json_ints(item, depth + 1)
