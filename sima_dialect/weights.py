"""`#sima.ndarray`: a weight tensor held as a read-only NumPy array.

Weights never go into the textual IR in full unless asked for. By default the
attribute prints elided, with its name, tensor type and a short content digest:

    #sima.ndarray<"conv1.weight", tensor<3x3x3x16xf32>, elided "5d41402abc4b">

With `print_weights_in_full()` active (sima-opt `--print-weights`) it prints the
raw little-endian bytes in hex, as MLIR's resource blobs do, and parses back:

    #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040">

Parsing an elided attribute gives an attribute whose data is absent: it
verifies, prints and compares like the original, and reading `.array` raises a
clear error (the same contract as MLIR's `__elided__` resources).
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator

import numpy as np
import xxhash
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Data
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from sima_dialect.element_types import element_type_to_numpy, numpy_to_element_type

_print_state = threading.local()


@contextlib.contextmanager
def print_weights_in_full(enabled: bool = True) -> Iterator[None]:
    """Within this block, `#sima.ndarray` attributes print their data in hex."""
    previous = getattr(_print_state, "full", False)
    _print_state.full = enabled
    try:
        yield
    finally:
        _print_state.full = previous


def ir_text(op, *, print_weights: bool = False, generic: bool = False) -> str:
    """`op` printed as sima IR text ending in a newline; weights elided unless
    `print_weights`; the generic form if `generic`."""
    stream = io.StringIO()
    with print_weights_in_full(print_weights):
        Printer(stream=stream, print_generic_format=generic).print_op(op)
    return stream.getvalue() + "\n"


def _printing_in_full() -> bool:
    return getattr(_print_state, "full", False)


class ElidedWeightsError(ValueError):
    """Raised when the data of a weight parsed from elided text is read."""


class WeightData:
    """The payload of `#sima.ndarray`: name, tensor type and (maybe) the array.

    Equality and hashing use name, type and content digest, never the array's
    elementwise `==`, so attributes compare cheaply and deterministically.
    """

    __slots__ = ("name", "tensor_type", "_array", "_digest")

    def __init__(
        self,
        name: str,
        tensor_type: TensorType,
        array: np.ndarray | None,
        digest: str | None = None,
    ):
        if array is None and digest is None:
            raise ValueError("an elided weight needs its digest")
        self.name = name
        self.tensor_type = tensor_type
        self._array = array
        self._digest = digest

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            raise ElidedWeightsError(
                f"the data of weight '{self.name}' was elided from the textual IR "
                f"(digest {self._digest}); print with --print-weights to keep it"
            )
        return self._array

    @property
    def is_elided(self) -> bool:
        return self._array is None

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = content_digest(self.array)
        return self._digest

    def _key(self) -> tuple[str, TensorType, str]:
        return (self.name, self.tensor_type, self.digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WeightData) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"WeightData({self.name!r}, {self.tensor_type}, digest={self.digest})"


DIGEST_LENGTH = 12  # hex characters: 48 bits


def content_digest(array: np.ndarray) -> str:
    """A short, stable digest of an array's bytes (little-endian, C order).

    xxh3 runs at memory speed (a ResNet-50's 100 MB of weights in a few ms),
    so printing a large model elided stays cheap; it is not a cryptographic
    hash, which a digest that tells weights apart does not need.
    """
    return xxhash.xxh3_64_hexdigest(_little_endian_bytes(array))[:DIGEST_LENGTH]


def _little_endian_bytes(array: np.ndarray) -> np.ndarray:
    """The array's bytes as a flat uint8 view (a copy only if it must be reordered)."""
    data = np.ascontiguousarray(array)
    if data.dtype.byteorder == ">":
        data = data.astype(data.dtype.newbyteorder("<"))
    # A uint8 view rather than a memoryview: the buffer protocol rejects
    # ml_dtypes' bfloat16.
    return data.reshape(-1).view(np.uint8)


@irdl_attr_definition
class NDArrayAttr(Data[WeightData]):
    """A named weight tensor backed by a read-only NumPy array."""

    name = "sima.ndarray"

    @staticmethod
    def from_array(name: str, array: np.ndarray) -> NDArrayAttr:
        """Wrap `array` (copied if writable, then frozen) as a weight named `name`."""
        array = np.asarray(array)
        try:
            element_type = numpy_to_element_type(array.dtype)
        except ValueError as error:
            raise ValueError(f"weight '{name}': {error}") from None
        if array.flags.writeable or not array.flags.c_contiguous:
            array = np.array(array, order="C", copy=True)
        array.flags.writeable = False
        tensor_type = TensorType(element_type, array.shape)
        return NDArrayAttr(WeightData(name, tensor_type, array))

    @property
    def array(self) -> np.ndarray:
        return self.data.array

    @property
    def weight_name(self) -> str:
        return self.data.name

    @property
    def tensor_type(self) -> TensorType:
        return self.data.tensor_type

    def verify(self) -> None:
        payload = self.data
        if payload.is_elided:
            return
        shape = payload.tensor_type.get_shape()
        if tuple(payload.array.shape) != tuple(shape):
            raise VerifyException(
                f"#sima.ndarray '{payload.name}': array shape {payload.array.shape} "
                f"does not match its type {payload.tensor_type}"
            )
        expected_dtype = element_type_to_numpy(payload.tensor_type.element_type)
        if payload.array.dtype != expected_dtype:
            raise VerifyException(
                f"#sima.ndarray '{payload.name}': array dtype {payload.array.dtype} "
                f"does not match its type {payload.tensor_type}"
            )

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> WeightData:
        with parser.in_angle_brackets():
            name = parser.parse_str_literal(" for the #sima.ndarray weight name")
            parser.parse_punctuation(",")
            tensor_type = parser.parse_type()
            if not isinstance(tensor_type, TensorType):
                parser.raise_error(f"#sima.ndarray '{name}' expects a tensor type, got {tensor_type}")
            if not tensor_type.has_static_shape():
                parser.raise_error(f"#sima.ndarray '{name}' needs a static shape, got {tensor_type}")
            try:
                element_type_to_numpy(tensor_type.element_type)
            except ValueError as error:
                parser.raise_error(f"#sima.ndarray '{name}': {error}")
            parser.parse_punctuation(",")
            if parser.parse_optional_keyword("elided") is not None:
                digest = parser.parse_str_literal(" for the #sima.ndarray digest")
                if len(digest) != DIGEST_LENGTH or any(c not in "0123456789abcdef" for c in digest):
                    parser.raise_error(
                        f"#sima.ndarray '{name}': digest {digest!r} is not {DIGEST_LENGTH} lowercase hex digits"
                    )
                return WeightData(name, tensor_type, None, digest)
            hex_text = parser.parse_str_literal(" for the #sima.ndarray hex data (or elided \"digest\")")
            array = _array_from_hex(name, hex_text, tensor_type, parser)
            return WeightData(name, tensor_type, array)

    def print_parameter(self, printer: Printer) -> None:
        payload = self.data
        with printer.in_angle_brackets():
            printer.print_string_literal(payload.name)
            printer.print_string(", ")
            printer.print_attribute(payload.tensor_type)
            printer.print_string(", ")
            if _printing_in_full() and not payload.is_elided:
                printer.print_string_literal(_array_to_hex(payload.array))
            else:
                printer.print_string("elided ")
                printer.print_string_literal(payload.digest)


def _array_to_hex(array: np.ndarray) -> str:
    data = np.ascontiguousarray(array)
    if data.dtype.byteorder == ">":
        data = data.astype(data.dtype.newbyteorder("<"))
    return "0x" + data.tobytes().hex().upper()


def _array_from_hex(name: str, text: str, tensor_type: TensorType, parser: AttrParser) -> np.ndarray:
    if not text.startswith("0x"):
        parser.raise_error(f"#sima.ndarray '{name}': data must be a hex string starting with 0x")
    dtype = element_type_to_numpy(tensor_type.element_type)
    try:
        raw = bytes.fromhex(text[2:])
    except ValueError:
        parser.raise_error(f"#sima.ndarray '{name}': data is not valid hex")
    shape = tensor_type.get_shape()
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        parser.raise_error(
            f"#sima.ndarray '{name}': data has {len(raw)} bytes, but {tensor_type} needs {expected}"
        )
    array = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    array.flags.writeable = False
    return array
