"""The plain-data codec between the grader and the worker process that runs student code.

Only plain data crosses: ``None``, ``bool``, ``int`` (64-bit), ``float``, ``str``, numpy
arrays and numpy scalars of a numeric dtype, and lists, tuples and dicts (keys ``str`` or
``int``) of those. The encoder checks exact types, so an ndarray subclass, a float with a
lying ``__eq__`` or an object with ``__array__`` is refused with a message naming where it
sits in the value. The decoder builds values only from bytes -- never from pickle -- so
whatever a worker sends, the grader gets back nothing but plain Python and numpy values.

A frame is an 8-byte little-endian length and a payload. Each payload value starts with one
tag byte: ``N`` None, ``T``/``F`` bool, ``I`` int64, ``D`` float64, ``S`` str, ``A`` ndarray,
``G`` numpy scalar, ``L`` list, ``U`` tuple, ``M`` dict, ``R`` reference to a value kept in
the worker (see :class:`Ref`; only accepted where the reader allows it).

This module is copied next to the worker, so it imports nothing but the standard library
and numpy.
"""

from __future__ import annotations

import struct
import sys
import time
from dataclasses import dataclass

import numpy as np

# Byte-order-explicit dtype strings accepted in either direction.
DTYPES = frozenset(
    np.dtype(t).newbyteorder("<").str
    for t in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16")
)
SCALAR_TYPES = frozenset(np.dtype(s).type for s in DTYPES)
MAX_DEPTH = 32
MAX_NDIM = 32
MAX_FRAME = 256 * 2**20
# Decoding limits: values built from one message, keys of one dict. Far above any check's
# needs; they keep the work of decoding a forged message linear in its length.
# Arrays and numpy scalars cost far more to build than other values, so they have their own.
MAX_ITEMS = 2**17
MAX_ARRAYS = 2**12
MAX_KEYS = 2**16


class WireError(ValueError):
    """A value that is not plain data, or bytes that are not a well-formed payload."""


@dataclass(frozen=True)
class Ref:
    """A value that stays in the worker: ``handle`` then ``path`` (keys or ``Attr`` names)."""

    handle: int
    path: tuple = ()


@dataclass(frozen=True)
class Attr:
    """A path step that reads an attribute rather than an item."""

    name: str


def _type_name(value: object) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def encode(value: object, where: str = "value") -> bytes:
    """Encode plain data; raise :class:`WireError` naming the first part that is not."""
    out: list[bytes] = []
    _encode(value, where, out, 0)
    return b"".join(out)


def _encode(value: object, where: str, out: list[bytes], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise WireError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    cls = type(value)
    if value is None:
        out.append(b"N")
    elif cls in _ENCODERS:
        _ENCODERS[cls](value, where, out, depth)
    elif cls in SCALAR_TYPES:
        _encode_scalar(value, where, out)
    else:
        raise WireError(f"{where}: {_describe(value)} is not plain data; {_EXPECTED}")


def _encode_bool(value: bool, where: str, out: list[bytes], depth: int) -> None:
    out.append(b"T" if value else b"F")


def _encode_int(value: int, where: str, out: list[bytes], depth: int) -> None:
    if not -(2**63) <= value < 2**63:
        raise WireError(f"{where}: int {value} does not fit in 64 bits")
    out.append(b"I" + struct.pack("<q", value))


def _encode_float(value: float, where: str, out: list[bytes], depth: int) -> None:
    out.append(b"D" + struct.pack("<d", value))


def _encode_str(value: str, where: str, out: list[bytes], depth: int) -> None:
    data = str.encode(value, "utf-8", "replace")
    out.append(b"S" + struct.pack("<I", len(data)) + data)


def _encode_array(value: np.ndarray, where: str, out: list[bytes], depth: int) -> None:
    dt = _wire_dtype(value.dtype, where)
    if value.ndim > MAX_NDIM:
        raise WireError(f"{where}: array with {value.ndim} dimensions")
    data = np.ascontiguousarray(value, dtype=dt).tobytes()
    head = struct.pack(
        f"<B{len(dt)}sB{value.ndim}Q", len(dt), dt.encode(), value.ndim, *value.shape
    )
    out.append(b"A" + head + data)


def _encode_scalar(value: np.generic, where: str, out: list[bytes]) -> None:
    dt = _wire_dtype(np.dtype(type(value)), where)
    data = np.asarray(value).astype(dt).tobytes()
    out.append(b"G" + struct.pack("<B", len(dt)) + dt.encode() + data)


def _encode_sequence(value: list | tuple, where: str, out: list[bytes], depth: int) -> None:
    out.append((b"L" if type(value) is list else b"U") + struct.pack("<I", len(value)))
    for i, item in enumerate(value):
        _encode(item, f"{where}[{i}]", out, depth + 1)


def _encode_dict(value: dict, where: str, out: list[bytes], depth: int) -> None:
    out.append(b"M" + struct.pack("<I", len(value)))
    for key, item in dict.items(value):
        if type(key) is not str and type(key) is not int:
            raise WireError(f"{where}: dict key of type {_type_name(key)}; expected str or int")
        _encode(key, f"{where} key", out, depth + 1)
        _encode(item, f"{where}[{key!r}]", out, depth + 1)


def _encode_ref(value: Ref, where: str, out: list[bytes], depth: int) -> None:
    if type(value.handle) is not int or not 0 <= value.handle < 2**32:
        raise WireError(f"{where}: handle {value.handle!r} is not a 32-bit unsigned int")
    out.append(b"R" + struct.pack("<I", value.handle))
    steps = [("a", s.name) if type(s) is Attr else ("k", s) for s in value.path]
    _encode(steps, f"{where} path", out, depth + 1)


# Exact types only: a subclass of any of these is refused by _encode.
_ENCODERS = {
    bool: _encode_bool,
    int: _encode_int,
    float: _encode_float,
    str: _encode_str,
    np.ndarray: _encode_array,
    list: _encode_sequence,
    tuple: _encode_sequence,
    dict: _encode_dict,
    Ref: _encode_ref,
}

_EXPECTED = (
    "expected numpy.ndarray (numeric dtype), int, float, bool, str, None, "
    "or a list, tuple or dict of those"
)


def _describe(value: object) -> str:
    cls = type(value)
    if isinstance(value, np.ndarray):
        return f"{_type_name(value)} (a subclass of numpy.ndarray)"
    for base in (bool, int, float, str, list, tuple, dict):
        if isinstance(value, base):
            return f"{_type_name(value)} (a subclass of {base.__name__})"
    return f"an object of type {cls.__module__}.{cls.__qualname__}"


def _wire_dtype(dtype: np.dtype, where: str) -> str:
    if dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"{where}: structured dtype {dtype}; expected a numeric dtype")
    dt = dtype.newbyteorder("<").str if dtype.byteorder not in "|=<" else dtype.str
    if dt not in DTYPES:
        raise WireError(
            f"{where}: dtype {dtype} is not numeric; expected bool, int, float or complex"
        )
    return dt


def decode(data: bytes, allow_refs: bool = False, deadline: float | None = None) -> object:
    """Decode one payload built by :func:`encode`; raise :class:`WireError` if malformed.

    Decoding takes time and memory in proportion to ``len(data)`` whatever the bytes say:
    every declared length is checked against the bytes left before anything is built, at
    most :data:`MAX_ITEMS` values are built, :data:`MAX_ARRAYS` of them arrays or numpy
    scalars, nesting stops at :data:`MAX_DEPTH`, and a dict holds at most :data:`MAX_KEYS`
    keys, whose ints must fit in 32 bits (so no two hash alike and building it stays
    linear). Past ``deadline`` (a :func:`time.monotonic` time), decoding stops too.
    """
    reader = _Reader(memoryview(data), allow_refs, deadline)
    try:
        value = reader.value(0)
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError, MemoryError) as exc:
        # Bytes from a worker may describe anything: whatever numpy or struct make of
        # them, the caller sees one kind of error for a payload it cannot use.
        raise WireError(f"malformed payload ({type(exc).__name__}: {exc})") from None
    if reader.pos != len(data):
        raise WireError(f"{len(data) - reader.pos} stray bytes after the value")
    return value


class _Reader:
    def __init__(self, buf: memoryview, allow_refs: bool, deadline: float | None = None):
        self.buf, self.pos, self.allow_refs = buf, 0, allow_refs
        self.items_left, self.arrays_left, self.deadline = MAX_ITEMS, MAX_ARRAYS, deadline

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise WireError("truncated payload")
        chunk = self.buf[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def count(self, what: str, most: int) -> int:
        """A declared element count, refused above ``most`` or the bytes left (one each)."""
        (n,) = self.unpack("<I")
        if n > most or n > len(self.buf) - self.pos:
            raise WireError(f"{what} of {n} elements: more than the limit or the bytes left")
        return n

    def dtype(self) -> np.dtype:
        self.arrays_left -= 1
        if self.arrays_left < 0:
            raise WireError(f"more than {MAX_ARRAYS} arrays or numpy scalars in one message")
        (n,) = self.unpack("<B")
        dt = bytes(self.take(n)).decode("ascii", "replace")
        if dt not in DTYPES:
            raise WireError(f"dtype {dt!r} is not allowed")
        return np.dtype(dt)

    def value(self, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise WireError(f"nested more than {MAX_DEPTH} levels deep")
        self.items_left -= 1
        if self.items_left < 0:
            raise WireError(f"more than {MAX_ITEMS} values in one message")
        if self.deadline is not None and self.items_left % 1024 == 0:
            if time.monotonic() > self.deadline:
                raise WireError("decoding the message did not finish in time")
        tag = bytes(self.take(1))
        if tag in _CONSTANTS:
            return _CONSTANTS[tag]
        step = _STEPS.get(tag)
        if step is None or (tag == b"R" and not self.allow_refs):
            raise WireError(f"unknown tag {tag!r} at byte {self.pos - 1}")
        return step(self, depth)

    def read_int(self, depth: int) -> int:
        return self.unpack("<q")[0]

    def read_float(self, depth: int) -> float:
        return self.unpack("<d")[0]

    def read_str(self, depth: int) -> str:
        (n,) = self.unpack("<I")
        return bytes(self.take(n)).decode("utf-8", "replace")

    def read_array(self, depth: int) -> np.ndarray:
        dt = self.dtype()
        (ndim,) = self.unpack("<B")
        if ndim > MAX_NDIM:
            raise WireError(f"array with {ndim} dimensions")
        shape = self.unpack(f"<{ndim}Q")
        if any(s > sys.maxsize for s in shape):
            raise WireError(f"array shape {shape} has an entry above {sys.maxsize}")
        count = 1
        for s in shape:
            count *= s
        if count * dt.itemsize > len(self.buf) - self.pos:
            raise WireError(f"truncated payload: array of shape {shape} exceeds the frame")
        raw = self.take(count * dt.itemsize)
        array = np.frombuffer(raw, dtype=dt, count=count).reshape(shape)
        return array.astype(dt.newbyteorder("="))

    def read_scalar(self, depth: int) -> np.generic:
        dt = self.dtype()
        raw = self.take(dt.itemsize)
        return np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="))[0]

    def read_list(self, depth: int) -> list:
        return [self.value(depth + 1) for _ in range(self.count("list", self.items_left))]

    def read_tuple(self, depth: int) -> tuple:
        return tuple(self.read_list(depth))

    def read_dict(self, depth: int) -> dict:
        out = {}
        for _ in range(self.count("dict", MAX_KEYS)):
            key = self.value(depth + 1)
            if type(key) is int and not -(2**31) <= key < 2**31:
                raise WireError(f"dict key {key} does not fit in 32 bits")
            if type(key) is not str and type(key) is not int:
                raise WireError(f"dict key of type {type(key).__name__}")
            out[key] = self.value(depth + 1)
        return out

    def read_ref(self, depth: int) -> Ref:
        (handle,) = self.unpack("<I")
        steps = self.value(depth + 1)
        path = tuple(Attr(key) if kind == "a" else key for kind, key in steps)
        return Ref(handle, path)


_CONSTANTS = {b"N": None, b"T": True, b"F": False}
_STEPS = {
    b"I": _Reader.read_int,
    b"D": _Reader.read_float,
    b"S": _Reader.read_str,
    b"A": _Reader.read_array,
    b"G": _Reader.read_scalar,
    b"L": _Reader.read_list,
    b"U": _Reader.read_tuple,
    b"M": _Reader.read_dict,
    b"R": _Reader.read_ref,
}


def frame(payload: bytes) -> bytes:
    """Prefix a payload with its length."""
    return struct.pack("<Q", len(payload)) + payload


def frame_length(header: bytes, limit: int = MAX_FRAME) -> int:
    """Length announced by an 8-byte frame header, refused above ``limit`` bytes."""
    (n,) = struct.unpack("<Q", header)
    if n > limit:
        raise WireError(f"a message of {n} bytes exceeds the limit of {limit} bytes")
    return n
