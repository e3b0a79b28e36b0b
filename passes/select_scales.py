"""`select-scales`: turn recorded calibration statistics into quantizations.

For every `sima.observe` that carries `stats` (recorded by the runtime's
calibration step), rebuild its observer from the statistics, ask it for the
range its method selects for the target integer width, and store the
resulting per-tensor affine quantization as `quant = !sima.quant<iN, step:zp>`.
No data is read: the statistics in the IR are all the pass needs, so a lit test
can hold them.

Width: the pass's `bits` (8 or 16), unless the observe op carries its own
`bits` (per-node mixed precision). Scheme: `asymmetric` uses the whole signed
range with a zero point; symmetric uses [-(2^(b-1) - 1), 2^(b-1) - 1] with zero
point 0 (`afe.ir.defines.quantization_from_range`). An observe without
statistics is an error naming its key: calibration did not reach it.

Saturating readers (MSE method): when every reader of the tensor is constant
outside an interval (a conv output read only by hard_swish: -3 and below all
give 0; relu, hard_sigmoid, clip: `passes.saturating_readers`), the range is
the one of least squared error of the values clipped to that interval: the
error the readers see. Values beyond it then cost no resolution inside it
(orientation, 32 / 100 inputs: 15.2 -> 18.5 dB, top-1 83% -> 90%).

These ranges minimise each tensor's own error. `with_range_refinement()`
re-chooses them afterwards, on calibration samples, for the error they cause
downstream (`runtime/range_refinement.py`, through `quantized_type_from_range`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerType, ModuleOp
from xdsl.passes import ModulePass

from afe.ir.defines import quantization_from_range
from passes.saturating_readers import saturation_interval
from runtime.observers import ObserverError, observer_from_dict
from runtime.observers.histogram_observers import HistogramMSEObserver
from sima_dialect.calibration_ops import CHANNEL_ABSMAX_KEY, ObserveOp
from sima_dialect.plain_data import from_attribute
from sima_dialect.types import QuantizedType


class SelectScalesError(ValueError):
    pass


def quantized_type_for(observe: ObserveOp, bits: int, asymmetric: bool) -> QuantizedType:
    """The `!sima.quant` the statistics of `observe` select."""
    key = observe.key.data
    if observe.stats is None:
        raise SelectScalesError(f"sima.observe '{key}' has no statistics: run calibration first")
    if observe.bits is not None:
        bits = observe.bits.value.data
    try:
        stats = from_attribute(observe.stats)
        stats.pop(CHANNEL_ABSMAX_KEY, None)
        observer = observer_from_dict(stats)
        if isinstance(observer, HistogramMSEObserver):
            interval = saturation_interval(observe.input)
            lo, hi = observer.select_range(bits=bits, symmetric=not asymmetric, interval=interval)
        else:
            lo, hi = observer.select_range(bits=bits, symmetric=not asymmetric)
    except (ObserverError, KeyError, TypeError) as error:
        raise SelectScalesError(f"sima.observe '{key}': cannot select a range from its statistics: {error}") from None
    return quantized_type_from_range(lo, hi, bits, asymmetric)


def quantized_type_from_range(lo: float, hi: float, bits: int, asymmetric: bool) -> QuantizedType:
    """The `!sima.quant` of the range [lo, hi] (widened to hold 0), on the grid
    and with the zero point `afe.ir.defines.quantization_from_range` gives."""
    quantization = quantization_from_range(lo, hi, bits, asymmetric)
    # afe's Quantization.scale is quanta per real unit; !sima.quant holds the real step.
    return QuantizedType(IntegerType(bits), 1.0 / quantization.scale, quantization.zero_point)


@dataclass(frozen=True)
class SelectScalesPass(ModulePass):
    """Choose each observed tensor's quantization (scale, zero point) from its statistics."""

    name = "select-scales"

    bits: int = 8
    """Integer width of activations: 8 or 16 (an observe's own `bits` wins)."""

    asymmetric: bool = True
    """Asymmetric (zero point) or symmetric (zero point 0) quantization."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.bits not in (8, 16):
            raise SelectScalesError(f"select-scales: bits must be 8 or 16, got {self.bits}")
        for observe in op.walk():
            if isinstance(observe, ObserveOp):
                observe.properties["quant"] = quantized_type_for(observe, self.bits, self.asymmetric)
