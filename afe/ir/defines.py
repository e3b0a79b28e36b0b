"""Small shared definitions of the quantizer: modes, names, quantizations, warnings.

`Quantization` follows the specification's convention (seed 002): its `scale`
*multiplies* a real value to give the quantized one,

    q = round(real * scale) + zero_point        real = (q - zero_point) / scale

so `scale` is "quanta per real unit". This is the reciprocal of the step that
`!sima.quant` (and ONNX/TFLite) call "scale"; use `Quantization.step` and
`Quantization.from_step` when converting between the two.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math

import numpy as np

from afe.apis.errors import UserFacingException
from afe.ir.tensor_type import ScalarType, signed_integer_type

NodeName = str
"""Name of a node in the SiMa IR graph, e.g. "MLA_0/conv2d_add_relu_0"."""

_logger = logging.getLogger("afe.quantization")


class RequantizationMode(enum.Enum):
    """How convolutions requantize their int32 accumulator (see runtime.integer_arithmetic).

    sima: a rounding right shift (the fractional part of the scale is folded into
    the weights); tflite: an 8-bit constant multiplier, a rounding right shift and
    a zero point added after.
    """

    sima = "sima"
    tflite = "tflite"


class QuantizationFlavor(enum.Enum):
    """Arithmetic used when converting a pre-quantized (TFLite) model (seed 003)."""

    sima = "sima"
    tflite = "tflite"


class BiasCorrectionType(enum.Enum):
    """Bias correction of convolutions: none, regular (one pass) or iterative."""

    NONE = "none"
    REGULAR = "regular"
    ITERATIVE = "iterative"


@dataclasses.dataclass(frozen=True)
class Quantization:
    """Affine quantization of a tensor: q = round(real * scale) + zero_point.

    :param scale: Quanta per real unit (> 0); the reciprocal of the real step.
    :param zero_point: Integer that represents real 0.
    :param bits: Width of the signed integer storage (8, 16 or 32).
    :param min_val: Smallest real value the quantization represents.
    :param max_val: Largest real value the quantization represents.
    """

    scale: float
    zero_point: int
    bits: int
    min_val: float
    max_val: float

    def __post_init__(self) -> None:
        scalar_type = signed_integer_type(self.bits)
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"quantization scale must be positive and finite, got {self.scale}")
        if not scalar_type.min_value <= self.zero_point <= scalar_type.max_value:
            raise ValueError(f"zero point {self.zero_point} is outside the int{self.bits} range")

    @classmethod
    def representable(cls, scale: float, zero_point: int, bits: int) -> Quantization:
        """The quantization (scale, zero_point) over the full int`bits` range."""
        scalar_type = signed_integer_type(bits)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"quantization scale must be positive and finite, got {scale}")
        return cls(
            scale=float(scale),
            zero_point=int(zero_point),
            bits=bits,
            min_val=(scalar_type.min_value - int(zero_point)) / float(scale),
            max_val=(scalar_type.max_value - int(zero_point)) / float(scale),
        )

    @classmethod
    def from_step(cls, step: float, zero_point: int, bits: int) -> Quantization:
        """From the conventional real step (what `!sima.quant` calls scale)."""
        return cls.representable(1.0 / step, zero_point, bits)

    @property
    def step(self) -> float:
        """Real value of one quantum (1 / scale)."""
        return 1.0 / self.scale

    @property
    def scalar_type(self) -> ScalarType:
        return signed_integer_type(self.bits)

    def quantize(self, real: np.ndarray) -> np.ndarray:
        """Quantize real values, rounding half away from zero and saturating."""
        from runtime.integer_arithmetic import round_half_away_from_zero, saturate

        q = round_half_away_from_zero(np.asarray(real, dtype=np.float64) * self.scale)
        return saturate(q + self.zero_point, self.bits)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return (np.asarray(q, dtype=np.float64) - self.zero_point) / self.scale

    def with_scale_pow2(self, exponent: int) -> Quantization:
        """This quantization with its scale multiplied by 2**exponent (same zero point)."""
        return Quantization.representable(math.ldexp(self.scale, exponent), self.zero_point, self.bits)


def quantization_from_range(min_val: float, max_val: float, bits: int, asymmetric: bool) -> Quantization:
    """Quantization of a tensor observed in [min_val, max_val] to int`bits`.

    The range is widened to contain 0 so that 0 is exact. Asymmetric uses the
    whole integer range; symmetric uses [-(2^(bits-1) - 1), 2^(bits-1) - 1] with
    zero point 0. An empty range (max == min == 0), or one so narrow that its
    scale overflows float64, gives scale 1, zero point 0.
    """
    if not (math.isfinite(min_val) and math.isfinite(max_val)) or min_val > max_val:
        raise ValueError(f"observed range [{min_val}, {max_val}] must be finite with min <= max")
    scalar_type = signed_integer_type(bits)
    lo, hi = min(float(min_val), 0.0), max(float(max_val), 0.0)
    with np.errstate(over="ignore", divide="ignore"):
        if asymmetric:
            qmin, qmax = scalar_type.min_value, scalar_type.max_value
            scale = (qmax - qmin) / (hi - lo) if hi > lo else math.inf
        else:
            scale = scalar_type.max_value / max(-lo, hi) if hi > lo else math.inf
    if not math.isfinite(scale):
        return Quantization.representable(1.0, 0, bits)
    zero_point = int(np.clip(round(qmin - lo * scale), qmin, qmax)) if asymmetric else 0
    return Quantization.representable(scale, zero_point, bits)


@dataclasses.dataclass
class NodeReporter:
    """Collects quantization warnings about one node and logs them with its name.

    Errors are raised as `UserFacingException`s whose message names the node.
    """

    node_name: NodeName | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    log: bool = True

    def _prefix(self, message: str) -> str:
        return f"node {self.node_name}: {message}" if self.node_name else message

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self.log:
            _logger.warning(self._prefix(message))

    def error(self, message: str) -> UserFacingException:
        """An exception (to raise) whose message names the node."""
        return UserFacingException(self._prefix(message))
