"""Calibration markers: `sima.observe`.

`insert-observers` puts one `sima.observe` on every tensor the quantizer will
hold. The op carries everything calibration needs, so each step of the flow is
a pure IR-to-IR pass except the one that runs data:

    sima.observe %t {key = "t3", method = {name = "mse", num_bins = 2048 : i64}}
        -- runtime calibrate streams samples, then records statistics -->
    sima.observe %t {key = "t3", method = {...}, stats = {min = ..., counts = ...}}
        -- select-scales (no data; `bits = 16` on an observe overrides the pass's width) -->
    sima.observe %t {key = "t3", method = {...}, stats = {...}, quant = !sima.quant<i8, 0.02:-3>}

The op has a side effect (it feeds an observer), so dead-code elimination keeps
it; the quantize pass consumes and erases it.
"""

from __future__ import annotations

from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, StringAttr, TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
)
from xdsl.utils.exceptions import VerifyException

from sima_dialect.element_types import is_float_type
from sima_dialect.types import QuantizedType

CHANNEL_ABSMAX_KEY = "channel_absmax"
"""The `stats` entry with max |x| per channel of the last axis (SmoothQuant reads it)."""


@irdl_op_definition
class ObserveOp(IRDLOperation):
    """Marks a float tensor whose value range calibration must observe."""

    name = "sima.observe"

    input = operand_def(TensorType)
    key = prop_def(StringAttr)
    method = prop_def(DictionaryAttr)
    stats = opt_prop_def(DictionaryAttr)
    bits = opt_prop_def(IntegerAttr)
    quant = opt_prop_def(QuantizedType)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(
        self,
        input: SSAValue,
        key: str,
        method: dict[str, Attribute],
        stats: DictionaryAttr | None = None,
        quant: QuantizedType | None = None,
    ):
        props: dict[str, Attribute] = {"key": StringAttr(key), "method": DictionaryAttr(method)}
        if stats is not None:
            props["stats"] = stats
        if quant is not None:
            props["quant"] = quant
        super().__init__(operands=[input], properties=props)

    @property
    def method_name(self) -> str:
        name = self.method.data.get("name")
        return name.data if isinstance(name, StringAttr) else ""

    def verify_(self) -> None:
        assert isinstance(self.input.type, TensorType)
        if not is_float_type(self.input.type.element_type):
            raise VerifyException(
                f"sima.observe '{self.key.data}': observes float tensors only, got {self.input.type}"
            )
        if not isinstance(self.method.data.get("name"), StringAttr):
            raise VerifyException(
                f"sima.observe '{self.key.data}': method needs a string 'name' entry, got {self.method}"
            )
        if self.bits is not None and self.bits.value.data not in (8, 16):
            raise VerifyException(
                f"sima.observe '{self.key.data}': bits must be 8 or 16, got {self.bits.value.data}"
            )
        if self.quant is not None and self.stats is None:
            raise VerifyException(
                f"sima.observe '{self.key.data}': has a quantization but no statistics to derive it from"
            )
