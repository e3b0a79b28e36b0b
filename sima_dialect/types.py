"""`!sima.quant`: a quantized element type carrying scale and zero point.

As MLIR's `!quant.uniform<i8:f32, 0.05:-3>`, the quantization lives in the
element type, so the verifier can catch a producer and a consumer that disagree
about it. Real value = scale * (stored integer - zero_point).

    tensor<1x56x56x64x!sima.quant<i8, 0.0235:-3>>
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from xdsl.dialects.builtin import Float64Type, FloatAttr, IntAttr, IntegerType, Signedness, f64
from xdsl.ir import Attribute, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException


@irdl_attr_definition
class QuantizedType(ParametrizedAttribute, TypeAttribute):
    """Per-tensor affine quantization of a signless (two's complement) integer storage type."""

    name = "sima.quant"

    storage_type: IntegerType
    scale: FloatAttr[Float64Type]
    zero_point: IntAttr

    def __init__(self, storage_type: IntegerType, scale: float, zero_point: int):
        super().__init__(storage_type, FloatAttr(float(scale), f64), IntAttr(int(zero_point)))

    @property
    def bits(self) -> int:
        return self.storage_type.width.data

    @property
    def scale_value(self) -> float:
        return self.scale.value.data

    @property
    def zero_point_value(self) -> int:
        return self.zero_point.data

    def verify(self) -> None:
        bits = self.bits
        if bits not in (8, 16, 32) or self.storage_type.signedness.data != Signedness.SIGNLESS:
            raise VerifyException(f"!sima.quant storage must be i8, i16 or i32, got {self.storage_type}")
        if not (self.scale_value > 0.0 and math.isfinite(self.scale_value)):
            raise VerifyException(f"!sima.quant scale must be positive and finite, got {self.scale_value}")
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        if not lo <= self.zero_point_value <= hi:
            raise VerifyException(
                f"!sima.quant zero point {self.zero_point_value} is outside the i{bits} range [{lo}, {hi}]"
            )

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        with parser.in_angle_brackets():
            storage = parser.parse_type()
            if not isinstance(storage, IntegerType):
                parser.raise_error("!sima.quant storage must be an integer type")
            parser.parse_punctuation(",")
            scale = float(parser.parse_number(context_msg=" for the !sima.quant scale"))
            parser.parse_punctuation(":")
            zero_point = parser.parse_integer()
        return (storage, FloatAttr(scale, f64), IntAttr(zero_point))

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_attribute(self.storage_type)
            printer.print_string(f", {_float_literal(self.scale_value)}:{self.zero_point_value}")


def _float_literal(value: float) -> str:
    """The shortest exact text of `value` that MLIR lexes as a float (`1e-05` needs a dot)."""
    text = repr(value)
    if "." not in text and "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text
