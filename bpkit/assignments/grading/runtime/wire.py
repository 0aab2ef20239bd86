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
    elif cls is bool:
        out.append(b"T" if value else b"F")
    elif cls is int:
        if not -(2**63) <= value < 2**63:
            raise WireError(f"{where}: int {value} does not fit in 64 bits")
        out.append(b"I" + struct.pack("<q", value))
    elif cls is float:
        out.append(b"D" + struct.pack("<d", value))
    elif cls is str:
        data = str.encode(value, "utf-8", "replace")
        out.append(b"S" + struct.pack("<I", len(data)) + data)
    elif cls is np.ndarray:
        dt = _wire_dtype(value.dtype, where)
        if value.ndim > MAX_NDIM:
            raise WireError(f"{where}: array with {value.ndim} dimensions")
        data = np.ascontiguousarray(value, dtype=dt).tobytes()
        head = struct.pack(
            f"<B{len(dt)}sB{value.ndim}Q", len(dt), dt.encode(), value.ndim, *value.shape
        )
        out.append(b"A" + head + data)
    elif cls in SCALAR_TYPES:
        dt = _wire_dtype(np.dtype(cls), where)
        data = np.asarray(value).astype(dt).tobytes()
        out.append(b"G" + struct.pack("<B", len(dt)) + dt.encode() + data)
    elif cls is list or cls is tuple:
        out.append((b"L" if cls is list else b"U") + struct.pack("<I", len(value)))
        for i, item in enumerate(value):
            _encode(item, f"{where}[{i}]", out, depth + 1)
    elif cls is dict:
        out.append(b"M" + struct.pack("<I", len(value)))
        for key, item in dict.items(value):
            if type(key) is not str and type(key) is not int:
                raise WireError(f"{where}: dict key of type {_type_name(key)}; expected str or int")
            _encode(key, f"{where} key", out, depth + 1)
            _encode(item, f"{where}[{key!r}]", out, depth + 1)
    elif cls is Ref:
        if type(value.handle) is not int or not 0 <= value.handle < 2**32:
            raise WireError(f"{where}: handle {value.handle!r} is not a 32-bit unsigned int")
        out.append(b"R" + struct.pack("<I", value.handle))
        steps = [("a", s.name) if type(s) is Attr else ("k", s) for s in value.path]
        _encode(steps, f"{where} path", out, depth + 1)
    else:
        raise WireError(f"{where}: {_describe(value)} is not plain data; {_EXPECTED}")


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


def decode(data: bytes, allow_refs: bool = False) -> object:
    """Decode one payload built by :func:`encode`; raise :class:`WireError` if malformed."""
    reader = _Reader(memoryview(data), allow_refs)
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
    def __init__(self, buf: memoryview, allow_refs: bool):
        self.buf, self.pos, self.allow_refs = buf, 0, allow_refs

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise WireError("truncated payload")
        chunk = self.buf[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def dtype(self) -> np.dtype:
        (n,) = self.unpack("<B")
        dt = bytes(self.take(n)).decode("ascii", "replace")
        if dt not in DTYPES:
            raise WireError(f"dtype {dt!r} is not allowed")
        return np.dtype(dt)

    def value(self, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise WireError(f"nested more than {MAX_DEPTH} levels deep")
        tag = bytes(self.take(1))
        if tag == b"N":
            return None
        if tag in (b"T", b"F"):
            return tag == b"T"
        if tag == b"I":
            return self.unpack("<q")[0]
        if tag == b"D":
            return self.unpack("<d")[0]
        if tag == b"S":
            (n,) = self.unpack("<I")
            return bytes(self.take(n)).decode("utf-8", "replace")
        if tag == b"A":
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
            return (
                np.frombuffer(raw, dtype=dt, count=count)
                .reshape(shape)
                .astype(dt.newbyteorder("="))
            )
        if tag == b"G":
            dt = self.dtype()
            raw = self.take(dt.itemsize)
            return np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="))[0]
        if tag in (b"L", b"U"):
            (n,) = self.unpack("<I")
            items = [self.value(depth + 1) for _ in range(n)]
            return items if tag == b"L" else tuple(items)
        if tag == b"M":
            (n,) = self.unpack("<I")
            out = {}
            for _ in range(n):
                key = self.value(depth + 1)
                if type(key) is not str and type(key) is not int:
                    raise WireError(f"dict key of type {type(key).__name__}")
                out[key] = self.value(depth + 1)
            return out
        if tag == b"R" and self.allow_refs:
            (handle,) = self.unpack("<I")
            steps = self.value(depth + 1)
            path = tuple(Attr(key) if kind == "a" else key for kind, key in steps)
            return Ref(handle, path)
        raise WireError(f"unknown tag {tag!r} at byte {self.pos - 1}")


def frame(payload: bytes) -> bytes:
    """Prefix a payload with its length."""
    return struct.pack("<Q", len(payload)) + payload


def frame_length(header: bytes, limit: int = MAX_FRAME) -> int:
    """Length announced by an 8-byte frame header, refused above ``limit`` bytes."""
    (n,) = struct.unpack("<Q", header)
    if n > limit:
        raise WireError(f"a message of {n} bytes exceeds the limit of {limit} bytes")
    return n
