"""`#sima.ndarray`: ownership of the array, equality, elision, digests and the hex text form."""

from __future__ import annotations

import io

import ml_dtypes
import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from xdsl.dialects.builtin import TensorType, bf16, f32, i8, i32
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from sima_dialect.context import sima_context
from sima_dialect.types import QuantizedType
from sima_dialect.weights import (
    ElidedWeightsError,
    NDArrayAttr,
    WeightData,
    content_digest,
    print_weights_in_full,
)


def print_attr(attr, full: bool = False) -> str:
    stream = io.StringIO()
    with print_weights_in_full(full):
        Printer(stream=stream).print_attribute(attr)
    return stream.getvalue()


def parse_attr(text: str) -> NDArrayAttr:
    attr = Parser(sima_context(), text).parse_attribute()
    assert isinstance(attr, NDArrayAttr)
    return attr


# --- ownership of the array -------------------------------------------------


def test_writable_input_is_copied_and_frozen():
    source = np.arange(6, dtype=np.float32).reshape(2, 3)
    attr = NDArrayAttr.from_array("w", source)
    assert not np.shares_memory(attr.array, source)
    source[0, 0] = 100.0
    assert attr.array[0, 0] == 0.0
    assert not attr.array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        attr.array[0, 0] = 1.0


def test_read_only_contiguous_input_is_shared_not_copied():
    source = np.arange(6, dtype=np.float32)
    source.flags.writeable = False
    attr = NDArrayAttr.from_array("w", source)
    assert np.shares_memory(attr.array, source)


def test_non_contiguous_input_becomes_a_c_contiguous_copy():
    source = np.arange(12, dtype=np.int32).reshape(3, 4)
    source.flags.writeable = False
    view = source.T
    attr = NDArrayAttr.from_array("w", view)
    assert attr.array.flags.c_contiguous
    np.testing.assert_array_equal(attr.array, view)
    assert attr.tensor_type == TensorType(i32, (4, 3))


def test_unsupported_dtype_names_the_weight():
    with pytest.raises(ValueError, match="weight 'embedding': NumPy dtype uint8 has no sima element type"):
        NDArrayAttr.from_array("embedding", np.zeros(3, dtype=np.uint8))


# --- equality and hashing: name + type + digest -----------------------------


def test_equal_content_name_and_type_compare_equal_and_hash_equal():
    a = NDArrayAttr.from_array("w", np.array([1.0, 2.0], dtype=np.float32))
    b = NDArrayAttr.from_array("w", np.array([1.0, 2.0], dtype=np.float32))
    assert a.array is not b.array
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


@pytest.mark.parametrize(
    "other",
    [
        NDArrayAttr.from_array("other_name", np.array([1.0, 2.0], dtype=np.float32)),
        NDArrayAttr.from_array("w", np.array([1.0, 2.5], dtype=np.float32)),
        NDArrayAttr.from_array("w", np.array([[1.0, 2.0]], dtype=np.float32)),
        # the same bytes read as another element type
        NDArrayAttr.from_array("w", np.array([1.0, 2.0], dtype=np.float32).view(np.int32)),
    ],
    ids=["name", "content", "shape", "element-type"],
)
def test_a_different_name_content_or_type_compares_unequal(other):
    reference = NDArrayAttr.from_array("w", np.array([1.0, 2.0], dtype=np.float32))
    assert reference != other


def test_equality_does_not_compare_arrays_elementwise():
    # NaN != NaN elementwise, but a weight equals itself and its copy
    a = NDArrayAttr.from_array("w", np.array([np.nan, 1.0], dtype=np.float32))
    b = NDArrayAttr.from_array("w", np.array([np.nan, 1.0], dtype=np.float32))
    assert a == b


# --- elided weights ---------------------------------------------------------


def test_elided_text_parses_to_an_equal_attribute_without_data():
    original = NDArrayAttr.from_array("conv1.weight", np.arange(8, dtype=np.float32).reshape(2, 2, 1, 2))
    text = print_attr(original)
    assert text == f'#sima.ndarray<"conv1.weight", tensor<2x2x1x2xf32>, elided "{original.data.digest}">'
    parsed = parse_attr(text)
    assert parsed.data.is_elided
    assert parsed == original
    assert hash(parsed) == hash(original)
    assert print_attr(parsed) == text
    # --print-weights cannot print data that is not there: it stays elided
    assert print_attr(parsed, full=True) == text


def test_reading_elided_data_raises_with_the_weight_name():
    parsed = parse_attr('#sima.ndarray<"fc.bias", tensor<4xf32>, elided "0123456789ab">')
    with pytest.raises(ElidedWeightsError, match=r"weight 'fc.bias' was elided .*digest 0123456789ab.*--print-weights"):
        parsed.array
    parsed.verify()  # an elided weight still verifies


def test_elided_weight_data_needs_a_digest():
    with pytest.raises(ValueError, match="digest"):
        WeightData("w", TensorType(f32, (2,)), None)


# --- the digest -------------------------------------------------------------


def test_digest_is_xxh3_of_the_little_endian_bytes():
    array = np.array([1.0, 2.0], dtype=np.float32)
    assert content_digest(array) == xxhash.xxh3_64_hexdigest(bytes.fromhex("0000803F00000040"))[:12]


def test_digest_ignores_byte_order_and_memory_layout():
    little = np.arange(6, dtype="<i4").reshape(2, 3)
    big = little.astype(">i4")
    fortran = np.asfortranarray(little)
    assert content_digest(little) == content_digest(big) == content_digest(fortran)


def test_digest_of_bfloat16_and_bool_and_scalars():
    # the buffer protocol rejects bfloat16; the digest must not
    halves = np.array([1.0, 2.0], dtype=ml_dtypes.bfloat16)
    assert content_digest(halves) == xxhash.xxh3_64_hexdigest(bytes.fromhex("803F0040"))[:12]
    assert content_digest(np.array([True, False])) == xxhash.xxh3_64_hexdigest(b"\x01\x00")[:12]
    assert content_digest(np.float32(1.5)) == content_digest(np.array([1.5], dtype=np.float32))


# --- bfloat16 and the hex text ----------------------------------------------


def test_bfloat16_weights_print_in_hex_and_parse_back():
    array = np.array([1.0, -2.0, 0.5], dtype=ml_dtypes.bfloat16)
    attr = NDArrayAttr.from_array("half", array)
    assert attr.tensor_type == TensorType(bf16, (3,))
    text = print_attr(attr, full=True)
    assert text == '#sima.ndarray<"half", tensor<3xbf16>, "0x803F00C0003F">'
    parsed = parse_attr(text)
    assert parsed.array.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(parsed.array.view(np.uint16), array.view(np.uint16))
    assert parsed == attr


def test_quantized_element_type_stores_its_integer_storage():
    attr = parse_attr('#sima.ndarray<"q", tensor<2x!sima.quant<i8, 0.5:-1>>, "0x7F80">')
    assert attr.tensor_type.element_type == QuantizedType(i8, 0.5, -1)
    np.testing.assert_array_equal(attr.array, np.array([127, -128], dtype=np.int8))


_DTYPES = [np.float32, np.float16, np.float64, ml_dtypes.bfloat16, np.int8, np.int16, np.int32, np.int64, np.bool_]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(_DTYPES))
def test_full_hex_text_round_trips_bit_for_bit(data, dtype):
    dtype = np.dtype(dtype)
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    # draw raw bytes so that every bit pattern (NaN payloads, -0.0, inf) can occur
    raw = data.draw(st.binary(min_size=int(np.prod(shape)) * dtype.itemsize, max_size=int(np.prod(shape)) * dtype.itemsize))
    array = np.frombuffer(raw, dtype=np.uint8).view(dtype).reshape(shape) if raw else np.zeros(shape, dtype)
    if dtype == np.bool_:
        array = array.view(np.uint8) % 2 == 1
    attr = NDArrayAttr.from_array("w", array)
    parsed = parse_attr(print_attr(attr, full=True))
    assert parsed.array.dtype == dtype
    assert parsed.array.shape == tuple(shape)
    assert parsed.array.tobytes() == np.ascontiguousarray(array).tobytes()
    assert parsed == attr


def test_print_weights_in_full_nests_and_restores():
    attr = NDArrayAttr.from_array("b", np.array([1.0, 2.0], dtype=np.float32))
    with print_weights_in_full():
        assert "0x0000803F00000040" in print_attr(attr, full=True)
        with print_weights_in_full(False):
            stream = io.StringIO()
            Printer(stream=stream).print_attribute(attr)
            assert "elided" in stream.getvalue()
        stream = io.StringIO()
        Printer(stream=stream).print_attribute(attr)
        assert "0x0000803F00000040" in stream.getvalue()
    stream = io.StringIO()
    Printer(stream=stream).print_attribute(attr)
    assert "elided" in stream.getvalue()


# --- verification of attributes built in Python -----------------------------


def test_verify_rejects_an_array_whose_shape_differs_from_the_type():
    frozen = np.zeros(3, dtype=np.float32)
    frozen.flags.writeable = False
    with pytest.raises(VerifyException, match=r"'w': array shape \(3,\) does not match its type tensor<4xf32>"):
        NDArrayAttr(WeightData("w", TensorType(f32, (4,)), frozen))


def test_verify_rejects_an_array_whose_dtype_differs_from_the_type():
    frozen = np.zeros(3, dtype=np.float64)
    frozen.flags.writeable = False
    with pytest.raises(VerifyException, match="'w': array dtype float64 does not match its type tensor<3xf32>"):
        NDArrayAttr(WeightData("w", TensorType(f32, (3,)), frozen))
