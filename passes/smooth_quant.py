"""`smooth-quant`: migrate activation outliers into the weights (Xiao et al. 2023,
"SmoothQuant: Accurate and Efficient Post-Training Quantization for Large
Language Models").

A few input channels of a dense / conv can be far larger than the rest, which
wastes a per-tensor activation scale. For an input X read by weights W,

    X[..., j] /= s_j,   W[input channel j] *= s_j,
    s_j = max|X_j| ** alpha / max|W_j| ** (1 - alpha)

computes the same product and moves part of the difficulty from X to W
(alpha = 0.5 leaves both with ranges sqrt(max|X_j| max|W_j|); in general
max|X'_j| ** alpha == max|W'_j| ** (1 - alpha) afterwards). The division of
X is folded into the layer that produces it (conv2d or dense weights and bias,
or a layer_norm's scale and bias), possibly through ops that commute with it:
every scaling chain of `passes/channel_scaling.py` (producer -> relu, pooling,
... -> consumers). Several consumers of X (q, k, v) share s; max|W_j| is their
largest. A channel whose max|X_j| or max|W_j| is 0 (or below float32
resolution of the largest channel) keeps s = 1.

Statistics. max|X_j| comes from calibration: the `sima.observe` on the
consumers' input X must carry, in its `stats` dictionary, the entry

    channel_absmax = [m_0 : f64, m_1 : f64, ...]

one non-negative, finite number per channel of X's last axis: the largest |x|
seen in that channel over all calibration samples. `runtime.calibrate` records
it for every observed tensor (`sima_dialect.calibration_ops.CHANNEL_ABSMAX_KEY`);
`array<f32: ...>` / `array<f64: ...>` and a 1-D `#sima.ndarray` are read too. With
`on-missing-stats=error` (the default) a chain whose X has no such entry fails
the pass with a message naming the consumer; with `skip` it is left alone.

After the rewrite the tensors of a chain are smaller, so the statistics on
them are dropped: calibrate again before choosing scales. New weights are named
`<weight>.smooth`. An X with no foldable producer (a function argument, the
output of an add or a softmax) is left alone: smoothing it would need an extra
multiply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, DenseArrayBase, ModuleOp
from xdsl.ir import Attribute
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from passes.channel_scaling import WEIGHT_LAYERS, ChainScales, ScalingChain, dead_channels, describe, find_chains
from sima_dialect.calibration_ops import CHANNEL_ABSMAX_KEY as CHANNEL_ABSMAX
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.ops import LayerNormOp
from sima_dialect.plain_data import from_attribute
from sima_dialect.weights import NDArrayAttr

MISSING_STATS_CHOICES = ("error", "skip")


def smoothing_factors(activation_absmax: np.ndarray, weight_absmax: np.ndarray, alpha: float) -> np.ndarray:
    """s_j = max|X_j| ** alpha / max|W_j| ** (1 - alpha); 1 for a channel where
    either is dead (0, or below float32 resolution of the largest channel)."""
    live = ~dead_channels(activation_absmax) & ~dead_channels(weight_absmax)
    factors = np.ones_like(activation_absmax, dtype=np.float64)
    factors[live] = activation_absmax[live] ** alpha / weight_absmax[live] ** (1.0 - alpha)
    return factors


def channel_absmax(observer: ObserveOp, channels: int) -> np.ndarray | None:
    """The observer's `channel_absmax` statistics, None if it has none; a clear
    error if they are malformed."""
    stats = observer.stats.data if observer.stats is not None else {}
    entry = stats.get(CHANNEL_ABSMAX)
    if entry is None:
        return None
    where = f"sima.observe '{observer.key.data}': stats.{CHANNEL_ABSMAX}"
    values = _numbers(entry)
    if values is None:
        raise PassFailedException(f"{where} must be a list of per-channel maxima, got {entry}")
    if values.shape != (channels,):
        raise PassFailedException(f"{where} has {values.size} entries, but the tensor has {channels} channels")
    if not np.all(np.isfinite(values) & (values >= 0)):
        raise PassFailedException(f"{where} must hold finite, non-negative values")
    return values


def _numbers(entry: Attribute) -> np.ndarray | None:
    """A 1-D array of numbers as float64, from any of the forms statistics take:
    `[1.5 : f64, ...]` (what calibration writes), `array<f32: ...>`, `#sima.ndarray`."""
    if isinstance(entry, NDArrayAttr):
        values = entry.array
    elif isinstance(entry, ArrayAttr | DenseArrayBase):
        try:
            values = np.asarray(from_attribute(entry))
        except TypeError:
            return None
    else:
        return None
    if values.ndim != 1 or values.dtype.kind not in "iuf":
        return None
    return values.astype(np.float64)


def _activation_absmax(chain: ScalingChain) -> tuple[np.ndarray | None, list[ObserveOp]]:
    """The chain input's max |x| per channel (None without statistics), and its observers."""
    observers = [use.operation for use in chain.value.uses if isinstance(use.operation, ObserveOp)]
    for observer in observers:
        found = channel_absmax(observer, chain.channels)
        if found is not None:
            return found, observers
    return None, observers


@dataclass(frozen=True)
class SmoothQuantPass(ModulePass):
    """SmoothQuant: move per-channel activation outliers into the next dense/conv weights."""

    name = "smooth-quant"

    alpha: float = 0.5
    """Migration strength in [0, 1]: 0 leaves the activations as they are, 1 moves all of their range into W."""

    on_missing_stats: str = "error"
    """What to do with a consumer input without stats.channel_absmax: "error" or "skip"."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        alpha = float(self.alpha)
        if not (0.0 <= alpha <= 1.0) or math.isnan(alpha):
            raise PassFailedException(f"smooth-quant: alpha must lie in [0, 1], got {self.alpha!r}")
        if self.on_missing_stats not in MISSING_STATS_CHOICES:
            raise PassFailedException(
                f"smooth-quant: on-missing-stats must be one of {', '.join(MISSING_STATS_CHOICES)}, got {self.on_missing_stats!r}"
            )
        scales = ChainScales(find_chains(op, (*WEIGHT_LAYERS, LayerNormOp)))
        # Last chain first: a consumer's output channels belong to a later chain,
        # so when a chain's factors are chosen its consumers' weights are final
        # but for the chain's own input-channel factors (which max|W_j| scales with).
        for chain in reversed(scales.chains):
            activation, observers = _activation_absmax(chain)
            if activation is None:
                if self.on_missing_stats == "error":
                    consumers = ", ".join(describe(c) for c in chain.consumers)
                    keys = ", ".join(f"'{o.key.data}'" for o in observers)
                    where = f"its sima.observe {keys} has no stats.{CHANNEL_ABSMAX}" if observers else "it has no sima.observe"
                    raise PassFailedException(
                        f"smooth-quant: no per-channel statistics for the input of {consumers}: {where}; "
                        f"calibrate with per-channel statistics first, or pass on-missing-stats=skip"
                    )
                continue
            scales.rescale(chain, smoothing_factors(activation, scales.consumer_ranges(chain), alpha))
        scales.materialize("smooth")
