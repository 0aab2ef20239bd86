"""The plain-data codec: what round-trips exactly, what is refused, and malformed input."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bpkit.assignments.grading.runtime import wire

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
DTYPES += ["float16", "float32", "float64", "complex64", "complex128"]

arrays = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=4, max_side=4))
)
scalars = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.from_dtype(np.dtype(dt)).map(lambda v: np.dtype(dt).type(v))
)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | arrays
    | scalars
)
plain = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=5) | st.integers(-5, 5), inner, max_size=4)
    ),
    max_leaves=20,
)


def same(a: object, b: object) -> bool:
    """Equal values of exactly the same types, arrays compared with their dtype and NaNs."""
    if type(a) is not type(b):
        return False
    if type(a) is np.ndarray:
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@settings(deadline=None, max_examples=150)
@given(plain)
def test_plain_data_round_trips_with_exact_types(value):
    assert same(wire.decode(wire.encode(value)), value)


def test_decoded_array_is_a_writable_base_ndarray():
    got = wire.decode(wire.encode(np.arange(6.0).reshape(2, 3)))
    assert type(got) is np.ndarray and got.flags.writeable and got.flags.owndata
    got[0, 0] = 7.0
    assert got[0, 0] == 7.0


def test_big_endian_and_strided_arrays_arrive_equal():
    x = np.arange(12, dtype=">f8").reshape(3, 4)[:, ::2]
    got = wire.decode(wire.encode(x))
    assert got.dtype == np.float64 and np.array_equal(got, x)


class LyingFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class SubArray(np.ndarray):
    pass


class FakeArray:
    def __array__(self, dtype=None, copy=None):
        return np.zeros(3)

    def __float__(self):
        return 0.0


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (LyingFloat(1.0), "subclass of float"),
        (np.zeros(3).view(SubArray), "subclass of numpy.ndarray"),
        (FakeArray(), "FakeArray"),
        (int, "builtins.type"),
        (np.array([object()]), "not numeric"),
        (np.array(["a", "b"]), "not numeric"),
        (np.zeros(2, dtype=[("a", "f8")]), "structured"),
        ({(1, 2): 3}, "dict key"),
        (2**64, "64 bits"),
        ([1, [2, {"k": (3, LyingFloat(0.0))}]], "value[1][1]['k'][1]"),
        (b"bytes", "bytes"),
        (np.datetime64("2020-01-01"), "datetime64"),
    ],
)
def test_not_plain_data_is_refused_naming_where(value, words):
    with pytest.raises(wire.WireError) as info:
        wire.encode(value)
    assert words in str(info.value)


def test_deep_nesting_is_refused():
    value: list = []
    for _ in range(wire.MAX_DEPTH + 2):
        value = [value]
    with pytest.raises(wire.WireError, match="nested"):
        wire.encode(value)


def test_refs_decode_only_where_allowed():
    data = wire.encode(wire.Ref(3, (0, wire.Attr("params"), "W1")))
    assert wire.decode(data, allow_refs=True) == wire.Ref(3, (0, wire.Attr("params"), "W1"))
    with pytest.raises(wire.WireError, match="unknown tag"):
        wire.decode(data)


def _array_payload(dtype: bytes, shape: tuple[int, ...], data: bytes) -> bytes:
    head = struct.pack(f"<B{len(dtype)}sB{len(shape)}Q", len(dtype), dtype, len(shape), *shape)
    return b"A" + head + data


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"", "truncated"),
        (b"Z", "unknown tag"),
        (b"I\x01\x02", "truncated"),
        (b"NN", "stray bytes"),
        (b"S" + struct.pack("<I", 100) + b"abc", "truncated"),
        (_array_payload(b"|O8", (1,), b"\0" * 8), "not allowed"),
        (_array_payload(b"<f8", (2**40, 2**30), b"\0" * 8), "truncated"),
        (b"M" + struct.pack("<I", 1) + b"D" + struct.pack("<d", 1.0) + b"N", "dict key"),
    ],
)
def test_malformed_payloads_are_refused(payload, words):
    with pytest.raises(wire.WireError) as info:
        wire.decode(payload)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "shape",
    [(0, 2**63), (0, 2**62, 2**62), (0, 2**63 - 1, 2**63 - 1), (2**64 - 1,), (3, 2**62)],
    ids=["above-maxsize", "product-too-big", "maxsize-pair", "u64-max", "size-beyond-frame"],
)
def test_impossible_array_shapes_are_wire_errors(shape):
    with pytest.raises(wire.WireError):
        wire.decode(_array_payload(b"<f8", shape, b""))


def test_a_reference_path_that_is_not_pairs_is_a_wire_error():
    payload = b"R" + struct.pack("<I", 1) + wire.encode([1, 2])
    with pytest.raises(wire.WireError):
        wire.decode(payload, allow_refs=True)


@settings(deadline=None, max_examples=200)
@given(st.binary(max_size=64), st.booleans())
def test_decoding_any_bytes_returns_or_raises_only_wire_errors(data, refs):
    try:
        wire.decode(data, allow_refs=refs)
    except wire.WireError:
        pass


@settings(deadline=None, max_examples=100)
@given(plain, st.integers(0, 10_000), st.integers(0, 255))
def test_a_corrupted_payload_decodes_or_raises_a_wire_error(value, where, byte):
    data = bytearray(wire.encode(value))
    data[where % len(data)] = byte
    try:
        wire.decode(bytes(data), allow_refs=True)
    except wire.WireError:
        pass


def test_frame_length_is_capped():
    assert wire.frame_length(wire.frame(b"abc")[:8]) == 3
    with pytest.raises(wire.WireError, match="exceeds the limit"):
        wire.frame_length(struct.pack("<Q", 2**40))


def _list_of(item: bytes, n: int, declared: int | None = None) -> bytes:
    return b"L" + struct.pack("<I", n if declared is None else declared) + item * n


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        # A declared count is checked against the bytes left before anything is built.
        (_list_of(b"N", 3, declared=2**32 - 1), "more than the limit or the bytes left"),
        (b"M" + struct.pack("<I", 2**31) + b"N", "more than the limit or the bytes left"),
        (_list_of(_list_of(b"N", wire.MAX_ITEMS // 2), 2), "list of 65536 elements: more than"),
        (
            _list_of(b"M\x01\x00\x00\x00I" + bytes(8) + b"N", wire.MAX_ITEMS // 3 + 1),
            f"more than {wire.MAX_ITEMS} values",
        ),
        (_list_of(b"G\x03<f8" + bytes(8), wire.MAX_ARRAYS + 1), "arrays or numpy scalars"),
        (_list_of(_array_payload(b"<f8", (0,), b""), wire.MAX_ARRAYS + 1), "arrays or numpy"),
        (b"M\x01\x00\x00\x00I" + struct.pack("<q", 2**61 - 1) + b"N", "does not fit in 32 bits"),
        (b"L\x01\x00\x00\x00" * (wire.MAX_DEPTH + 2) + b"N", "nested more than"),
    ],
    ids=[
        "list-count",
        "dict-count",
        "budget-count",
        "items",
        "scalars",
        "arrays",
        "int-key",
        "depth",
    ],
)
def test_forged_counts_and_nesting_are_refused_before_building(payload, words):
    with pytest.raises(wire.WireError) as info:
        wire.decode(payload)
    assert words in str(info.value)


def test_a_message_within_every_limit_still_decodes():
    payload = _list_of(b"N", wire.MAX_ITEMS - 1)
    assert wire.decode(payload) == [None] * (wire.MAX_ITEMS - 1)
    keys = {i: None for i in range(-(2**31), -(2**31) + 3)}
    assert wire.decode(wire.encode(keys)) == keys


def test_decoding_stops_at_the_deadline():
    payload = _list_of(b"N", 4096)
    with pytest.raises(wire.WireError, match="did not finish in time"):
        wire.decode(payload, deadline=0.0)  # long past on the monotonic clock
    assert len(wire.decode(payload, deadline=None)) == 4096
