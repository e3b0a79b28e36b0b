"""Per-node quantization options (the values of `custom_quantization_configs`).

A user sets options on single nodes with
`QuantizationParams.with_custom_quantization_configs({node: {option: value}})`
(seed 003). `CUSTOM_QUANTIZATION_OPTIONS` lists the options a node may set and
the type each value must have; `QuantizationParams` rejects anything else when
it is created, so a misspelt option never goes unnoticed.
"""

from __future__ import annotations

import enum


class QuantizationPrecision(enum.Enum):
    """Precision of a node's quantized activations."""

    INT_8 = "int8"
    INT_16 = "int16"
    BFLOAT_16 = "bfloat16"

    @property
    def bits(self) -> int:
        return 8 if self is QuantizationPrecision.INT_8 else 16


CUSTOM_QUANTIZATION_OPTIONS: dict[str, type] = {
    # Precision of the node's activations (mixed int8/int16 quantization).
    "quantization_precision": QuantizationPrecision,
    # Keep the int32 accumulator as the output of a (last) convolution.
    "output_int32": bool,
}
