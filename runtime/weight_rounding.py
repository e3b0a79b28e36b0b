"""Data-aware rounding of the int8 weights of quantized conv2d / dense layers
(GPTQ: Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for
Generative Pre-trained Transformers"; the OBQ update of Frantar & Alistarh 2022).

    rounded = weight_rounded_module(quantized, float_module, samples)

The planner (`afe.ir.quantization_conv`) fixes, per output channel c, the real
value of one weight unit, step_c, and rounds every weight to the nearest
integer, Qw = round(w / step_c). That minimises each weight's own error, not
the layer's output error: for a layer reading inputs x, the output error of
channel c is sum over the calibration inputs of (x . (w_c - step_c Qw_c))**2
= e_c^T H e_c, with H = sum x x^T the same for every channel. GPTQ rounds the
input rows of the weight one at a time and spreads each row's rounding error
onto the rows not yet rounded, along the direction that H says compensates it
(the Cholesky factor of H^-1). The steps, shifts and every other choice of the
plan stay as the planner made them; only the integers Qw change.

Nothing guarantees GPTQ's output error below nearest rounding's (it is
greedy), so each channel keeps whichever of the two has the smaller error on
the calibration inputs (`choose_rounding`), and the report (`RoundingReport`)
holds both per layer. The integers are applied by `passes/weight_rounding.py`,
which keeps a channel's old weights where the new ones would break the plan's
int8 range or int32 accumulator bound, and moves the bias's zero-point
correction with them.

Inputs x, per layer (the im2col patches of a conv2d, per group; the rows of a
dense), in real units:
- `sequential=False` (the default): the float network's input of the layer,
  streamed one sample at a time through the float network.
- `sequential=True`: the input the quantized network itself produces, every
  earlier layer already re-rounded (`runtime/layer_walk.py` runs the quantized
  function layer by layer over all samples at once, so it holds every
  sample's activations). Measured on the four real models it is not better
  than the float inputs (README, "Weight rounding"), so it is not the default.

- `compensate=True` (`with_activation_compensation`): both at once, so that the
  weights also make up for the error the quantized input x~ already carries
  (the int8 activations dominate the int8 error). Per layer, with the float
  input x and the quantized prefix's x~ of the same rows (the quantized and the
  float function walked side by side, `layer_walk.layer_stops`), the target is
  the float layer's output: minimise sum ([x;1] . [W;b] - [x~;1] . V)**2 +
  lam sum_k D_k (V_k - [W;b]_k)**2 (D = diag of sum x~ x~^T; the bias fitted
  jointly through the ones row; lam -> inf gives the float weight back). lam is
  chosen per output channel from `COMPENSATION_STRENGTHS` by a
  `COMPENSATION_FOLDS`-fold held-out error over the calibration samples, the
  float weight itself included (few rows, e.g. a classifier's one per sample,
  overfit otherwise); V is GPTQ-rounded under H~ = sum x~ x~^T on the
  planner's steps (values beyond int8 are clipped there, the clipping error
  spread like any rounding error; `LayerRounding.clipped` counts them), and the
  bias is refit to the rounded weights (it takes the mean of their error over
  the rows). The bias change goes to the pass with the weights. This is the
  "asymmetric calibration" of GPTAQ (Li et al. 2025) with a held-out ridge.
  With x~ = x it reduces to the sequential mode's GPTQ of the float weight.
  Cost: the three moments are one float64 Gram matrix of the rows [x, 1, x~, 1],
  gathered over samples until a product is worth a BLAS call, columns that are
  zero on every row (taps meeting only padding) left out; every strength of a
  fold comes from one eigendecomposition where the channels outnumber the inputs,
  else from one Cholesky solve each, in both cases over the inputs seen only (an
  input never seen keeps its float weight exactly); a candidate's held-out error
  reuses t.(FF t) and FQ^T t. sum x x^T and sum x x~^T are only ever read through the float
  target t, so where the channels are fewer than half the inputs only [x;1] . t is gathered
  beside sum x~ x~^T (`ProjectedCompensationAccumulator`: about a third of the product's work;
  sum x~ x~^T, and so GPTQ's H~, the same bit for bit); a layer that sees fewer rows than
  inputs (a classifier's one row per sample) fits in the rows' space (`RowSpaceFits`: [M, M]
  systems instead of [K+1, K+1]); a channel-grouped conv's rows are gathered from its map
  (`GatheredRows`, the same rows). These change the results by float rounding only
  (`test/test_weight_rounding_fast_paths.py` and `test/test_quantize_time.py` check them
  against the definitions).

The quantized layer reads its float input rounded to the input's step, x + n
with n uniform in (-step/2, step/2), so with float inputs H is that of x + n:
sum x x^T + step**2 / 12 on the diagonal per row where the input is nonzero
(exact zeros stay exact; `HessianAccumulator`). For int16 inputs the term is
tiny; the sequential inputs are already rounded and get none.

Data. The calibration samples recorded while calibration read them
(`runtime.bias_correction.SampleRecorder`); at most `WEIGHT_ROUNDING_SAMPLES`.
Rows (output positions) per sample and layer are capped at
`MAX_PATCHES_PER_SAMPLE` (a fixed, evenly spread subset, so the result is
deterministic). H is damped strongly (`DAMPING`).

The float weights come from the float module the network was quantized from
(same node names; after channel equalization or SmoothQuant, if any).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
from scipy.linalg import lapack
from tqdm import tqdm
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from afe.ir.quantization_conv import reshape_weight_to_output_channels
from passes.bias_correction import accumulator_unit
from passes.patterns import builders
from passes.weight_rounding import CHECKED_OPS, WeightRoundingPass, checked_rounding, record_rounding
from runtime.calibration_data import iterate_calibration_samples
from runtime.error_analysis import tapped_interpreter
from runtime.integer_arithmetic import WEIGHT_BITS, round_half_away_from_zero
from runtime.interpreter import Interpreter, find_function, one_blas_thread
from runtime.kernels.windows import output_size, pad_spatial, patches
from runtime.layer_walk import layer_stops, walk_layers
from sima_dialect import ops
from sima_dialect.context import sima_context
from sima_dialect.quantized_ops import QConv2DOp, QuantizedGemmOp
from sima_dialect.types import QuantizedType

WEIGHT_ROUNDING_SAMPLES = 32
"""How many calibration samples weight rounding uses at most (the first ones)."""

MAX_PATCHES_PER_SAMPLE = 4096
"""Input rows (conv patches / dense rows) per sample and layer that enter H at most."""

DAMPING = 1.0
"""H + DAMPING * mean(diag H) * I. GPTQ's own 0.01 only keeps H invertible; this much
also holds the rounding near nearest in input directions the calibration data barely
excites (the fit otherwise moves error there, and other inputs do excite them: a
squeeze-and-excitation conv or a classifier sees one row per sample). Measured on the
real models (README, "Weight rounding"): 1.0 raises the int8 output SQNR on all four,
0.01 lowered it on orientation."""

BLOCK = 128
"""Rows rounded per block before the rest of the weight is updated at once (lazy batch updates)."""

_QMAX = 2 ** (WEIGHT_BITS - 1) - 1

_log = logging.getLogger(__name__)


# -- the algorithm (arrays only) ------------------------------------------------------


def _inverse_cholesky(hessian: np.ndarray) -> np.ndarray | None:
    """Upper U with U^T U = H^-1 for one positive definite H [K, K], or None if it is not.

    With J the order reversal and J H J = L L^T, H^-1 = (J L^-1 J)^T (J L^-1 J) and
    J L^-1 J is upper: one Cholesky factorisation and one triangular inverse."""
    lower, info = lapack.dpotrf(np.ascontiguousarray(hessian[::-1, ::-1]), lower=1, clean=1)
    if info != 0:
        return None
    inverse, info = lapack.dtrtri(lower, lower=1)
    if info != 0 or not np.all(np.isfinite(inverse)):
        return None
    return np.ascontiguousarray(inverse[::-1, ::-1])


def _prepared(scaled: np.ndarray, hessian: np.ndarray, damping: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For one group: the rounding order (decreasing diag H, GPTQ's "act order"),
    the weights [K, C] in that order, and U of the damped H in that order
    (None where it is not positive definite). An input never seen (diag 0)
    gets a unit diagonal and no coupling: it is rounded to nearest and takes no
    error from the others."""
    h = np.array(hessian, dtype=np.float64)
    diagonal = np.diagonal(h).copy()
    dead = ~(diagonal > 0)
    h[dead, :] = 0.0
    h[:, dead] = 0.0
    live_mean = diagonal[~dead].mean() if (~dead).any() else 1.0
    h[np.diag_indices_from(h)] = np.where(dead, 1.0, diagonal) + damping * live_mean
    order = np.argsort(-np.where(dead, -1.0, diagonal), kind="stable")
    live = int(np.sum(~dead))  # the first `live` in the order; H is block diagonal, so is U
    upper = _inverse_cholesky(h[np.ix_(order[:live], order[:live])]) if live else np.zeros((0, 0))
    if upper is not None and live < len(order):
        block = upper
        upper = np.diag(1.0 / np.sqrt(np.diagonal(h)[order]))
        upper[:live, :live] = block
    return order, scaled[order], upper


def _prepared_groups(scaled: np.ndarray, hessian: np.ndarray, damping: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`_prepared` for every group: the orders [G, K], the weights in them [G, K, C], U [G, K, K]
    (the identity where the damped H is not positive definite) and those failures [G]. The
    groups that see every input (all but a few, typically; many small ones in a depthwise conv)
    are prepared together by the same arithmetic, element for element; the others one by one."""
    hessian = np.asarray(hessian, dtype=np.float64)
    groups, rows = hessian.shape[:2]
    order = np.empty((groups, rows), dtype=np.int64)
    upper = np.empty((groups, rows, rows))
    failed = np.zeros(groups, dtype=bool)
    diagonal = np.einsum("gkk->gk", hessian)
    whole = np.all(diagonal > 0, axis=1)
    if whole.any():
        seen = diagonal[whole]
        damped = hessian[whole]
        damped[:, np.arange(rows), np.arange(rows)] = seen + damping * seen.mean(axis=1, keepdims=True)
        order[whole] = np.argsort(-seen, axis=1, kind="stable")
        permuted = np.take_along_axis(np.take_along_axis(damped, order[whole][:, :, None], axis=1), order[whole][:, None, :], axis=2)
        for index, group in enumerate(np.flatnonzero(whole)):
            factor = _inverse_cholesky(permuted[index])
            failed[group] = factor is None
            upper[group] = np.eye(rows) if factor is None else factor
    for group in np.flatnonzero(~whole):
        order[group], _, factor = _prepared(scaled[group], hessian[group], damping)
        failed[group] = factor is None
        upper[group] = np.eye(rows) if factor is None else factor
    return order, np.take_along_axis(scaled, order[:, :, None], axis=1), upper, failed


def gptq_round(scaled: np.ndarray, hessian: np.ndarray, qmax: int = _QMAX, *, damping: float | None = None, block: int = BLOCK) -> np.ndarray:
    """Integer weights for `scaled` [G, K, C] (weights in units of their channel's
    step: nearest rounding is round(scaled)), rounded row by row so that the
    output error over inputs with second moment `hessian` [G, K, K] (sum x x^T
    of group g's K inputs) is small; results in [-qmax, qmax] (int64 [G, K, C]).

    H is damped by `damping` (default DAMPING) * mean(diag H). Rows are rounded in decreasing
    order of their input energy; each row's rounding error is spread onto the
    rows after it (`block` rows at a time, then the rest at once). A group
    whose damped H is still not positive definite is rounded to nearest.
    """
    scaled = np.asarray(scaled, dtype=np.float64)
    groups, rows, _ = scaled.shape
    damping = DAMPING if damping is None else damping
    order, weight, upper, failed = _prepared_groups(scaled, hessian, damping)
    quantized = np.zeros(weight.shape, dtype=np.int64)
    for start in range(0, rows, block):
        stop = min(start + block, rows)
        w = weight[:, start:stop].copy()
        errors = np.zeros_like(w)
        u = upper[:, start:stop, start:stop]
        for i in range(stop - start):
            column = w[:, i]
            q = np.clip(round_half_away_from_zero(column), -qmax, qmax)
            quantized[:, start + i] = q
            error = (column - q) / u[:, i, i][:, None]
            w[:, i:] -= u[:, i, i:][:, :, None] * error[:, None, :]
            errors[:, i] = error
        if stop < rows:
            weight[:, stop:] -= np.swapaxes(upper[:, start:stop, stop:], 1, 2) @ errors
    nearest = np.clip(round_half_away_from_zero(np.take_along_axis(scaled, order[:, :, None], axis=1)), -qmax, qmax)
    quantized = np.where(failed[:, None, None], nearest, quantized)
    result = np.empty_like(quantized)
    np.put_along_axis(result, order[:, :, None], quantized, axis=1)
    return result


def output_error(scaled: np.ndarray, quantized: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """sum over inputs of (x . (scaled - quantized))**2 per group and channel [G, C]:
    e^T H e, in squared weight units."""
    error = np.asarray(scaled, dtype=np.float64) - quantized
    return np.sum(error * (np.asarray(hessian, dtype=np.float64) @ error), axis=1)


def choose_rounding(
    scaled: np.ndarray, nearest: np.ndarray, hessian: np.ndarray, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel, GPTQ's integers (`gptq_round`) where their output error
    (`output_error`) is below that of `nearest` and the channel is `active`
    ([G, C]), else `nearest`; with both errors [G, C] (nearest's, the chosen's).
    No channel's error on these inputs ends above nearest rounding's."""
    candidate = gptq_round(scaled, hessian)
    nearest_error = output_error(scaled, nearest, hessian)
    candidate_error = output_error(scaled, candidate, hessian)
    better = (candidate_error < nearest_error) & active
    return np.where(better[:, None, :], candidate, nearest), nearest_error, np.where(better, candidate_error, nearest_error)


# -- layer geometry ------------------------------------------------------------------


@dataclass(frozen=True)
class GemmInputs:
    """How a conv2d / dense reads its input: the rows x (per group) its weights multiply."""

    kernel: tuple[int, int] | None  # None for a dense
    strides: tuple[int, ...] = (1, 1)
    pads: tuple[int, ...] = (0, 0, 0, 0)
    dilations: tuple[int, ...] = (1, 1)
    groups: int = 1

    @staticmethod
    def of(op: QuantizedGemmOp) -> GemmInputs:
        if not isinstance(op, QConv2DOp):
            return GemmInputs(kernel=None)
        kh, kw = ops.shape_of(op.weight)[:2]
        return GemmInputs(
            (kh, kw), tuple(op.strides.get_values()), tuple(op.pads.get_values()),
            tuple(op.dilations.get_values()), op.groups.value.data,
        )  # fmt: skip

    def rows(self, x: np.ndarray, cap: int | None = None) -> np.ndarray:
        """The weight's input rows for one real input `x`: [G, M, K] (K as the
        weight's flattened HWI axes, M the output positions; at most `cap` of
        them, an evenly spread fixed subset, chosen before the copy)."""
        source = self.row_source(x, cap)
        return np.ascontiguousarray(source).reshape(*source.shape[:2], -1)

    def row_source(self, x: np.ndarray, cap: int | None = None) -> np.ndarray:
        """`rows` before its last copy: [G, M, ...] with the K axes last, maybe a strided view
        (`write_rows` copies it into place)."""
        x = np.asarray(x, dtype=np.float32)
        if self.kernel is None:
            flat = x.reshape(-1, x.shape[-1])
            return flat[_spread(flat.shape[0], cap)][None]
        n, h, w, c = x.shape
        out_h = output_size(h, self.kernel[0], self.strides[0], self.pads[0] + self.pads[2], self.dilations[0])
        out_w = output_size(w, self.kernel[1], self.strides[1], self.pads[1] + self.pads[3], self.dilations[1])
        windows = patches(pad_spatial(x, self.pads), (0, out_h), out_w, self.kernel, self.strides, self.dilations)
        chosen = np.unravel_index(_spread(n * out_h * out_w, cap), (n, out_h, out_w))
        selected = windows[chosen]  # [M, KH, KW, C], a copy of the chosen windows only
        if self.groups == 1:
            return selected[None]
        return np.moveaxis(selected.reshape(selected.shape[0], *self.kernel, self.groups, c // self.groups), 3, 0)

    def row_gather(self, x: np.ndarray, cap: int | None = None) -> np.ndarray | GatheredRows:
        """`row_source`, or for a channel-grouped conv its `GatheredRows` (the same rows, bit for bit,
        written without a transposing copy)."""
        if self.kernel is None or self.groups == 1:
            return self.row_source(x, cap)
        padded = pad_spatial(np.asarray(x, dtype=np.float32), self.pads)
        maps = np.empty((self.groups, padded.size // self.groups + 1))
        maps[:, :-1] = padded.reshape(-1, self.groups, padded.shape[3] // self.groups).transpose(1, 0, 2).reshape(self.groups, -1)
        maps[:, -1] = 1.0  # the bias's ones column reads it
        return GatheredRows(maps, self._gather_positions(tuple(np.shape(x)), cap))

    @functools.lru_cache(maxsize=8)  # noqa: B019 (a few shapes per layer; the geometry is a frozen value)
    def _gather_positions(self, shape: tuple[int, int, int, int], cap: int | None) -> np.ndarray:
        """For `row_gather`: each row's K entries and its ones in a group's flattened padded map [M, K+1]."""
        n, h, w, c = shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.strides[:2], self.dilations[:2]
        out_h = output_size(h, kh, sh, self.pads[0] + self.pads[2], dh)
        out_w = output_size(w, kw, sw, self.pads[1] + self.pads[3], dw)
        padded_h, padded_w = h + self.pads[0] + self.pads[2], w + self.pads[1] + self.pads[3]
        per_group = c // self.groups
        b, i, j = np.unravel_index(_spread(n * out_h * out_w, cap), (n, out_h, out_w))
        tap_i, tap_j, channel = (a.ravel() for a in np.meshgrid(np.arange(kh) * dh, np.arange(kw) * dw, np.arange(per_group), indexing="ij"))
        pixels = (b[:, None] * padded_h + i[:, None] * sh + tap_i) * padded_w + j[:, None] * sw + tap_j  # [M, K] (HWI order)
        positions = pixels * per_group + channel
        ones = np.full((positions.shape[0], 1), n * padded_h * padded_w * per_group)
        positions = np.concatenate([positions, ones], axis=1)
        positions.flags.writeable = False  # shared by every sample of this shape
        return positions

    @staticmethod
    def write_rows(source: np.ndarray | GatheredRows, out: np.ndarray) -> None:
        """Copy a `row_source` (or `GatheredRows`) into `out` [G, M, K] (e.g. a slice of a wider
        float64 buffer), converting once."""
        if isinstance(source, GatheredRows):
            source.write(out)
            return
        view = out.reshape(source.shape)
        if not np.may_share_memory(view, out):  # out's K axis is not contiguous: copy through rows' layout
            out[...] = source.reshape(out.shape)
            return
        view[...] = source

    def group_weight(self, weight: np.ndarray) -> np.ndarray:
        """A weight (HWIO / [K, N]) as [G, K, C/G]: group g's output channels with their K inputs."""
        flat = reshape_weight_to_output_channels(weight)
        k, channels = flat.shape
        return np.ascontiguousarray(flat.reshape(k, self.groups, channels // self.groups).transpose(1, 0, 2))

    def ungroup_weight(self, grouped: np.ndarray, shape: Sequence[int]) -> np.ndarray:
        return grouped.transpose(1, 0, 2).reshape(shape)


@dataclass(frozen=True)
class GatheredRows:
    """The rows [G, M, K] of one input of a channel-grouped conv as a gather: each group's padded
    map as float64 [G, P+1] (a last 1.0 for the bias's ones column) and the positions [M, K+1]
    of each row's K entries and that 1.0 in it. Written with one `np.take` per block of groups;
    the window view a grouped conv's rows otherwise come from is read across the channels (a
    depthwise conv's K taps are one channel apart in memory per group), and that transposing
    copy was most of the moments' cost there."""

    maps: np.ndarray
    positions: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.maps.shape[0], self.positions.shape[0], self.positions.shape[1] - 1)

    def __getitem__(self, groups: slice) -> GatheredRows:
        return GatheredRows(self.maps[groups], self.positions)

    def write(self, out: np.ndarray) -> None:
        """The rows into `out` [G, M, K], or with their ones column [G, M, K+1] (float64, maybe a
        slice of a wider buffer)."""
        positions = self.positions if out.shape[2] == self.positions.shape[1] else self.positions[:, :-1]
        if out.flags.c_contiguous:
            np.take(self.maps, positions, axis=1, out=out, mode="clip")
        else:
            out[...] = np.take(self.maps, positions, axis=1, mode="clip")


def _spread(count: int, cap: int | None) -> np.ndarray:
    """Indices of `count` positions, or of `cap` of them evenly spread."""
    if cap is None or count <= cap:
        return np.arange(count)
    return np.linspace(0, count - 1, cap).round().astype(np.int64)


class HessianAccumulator:
    """H = sum x x^T over the input rows of one layer (per group), in float64,
    plus, with a `rounding_step`, the variance of the input's quantization.

    At run time the layer reads the quantized input x + n, not x: n is x's
    rounding error, uniform in (-step/2, step/2) and independent of x, so
    E[(x + n)(x + n)^T] = x x^T + step**2 / 12 * I per row. An input that is
    exactly zero (padding, a ReLU's zeros) is exact in the quantized input too
    (the zero point is an integer) and gets no such term: the diagonal gains
    step**2 / 12 once per row where the input is nonzero."""

    def __init__(self, inputs: GemmInputs, cap: int = MAX_PATCHES_PER_SAMPLE, rounding_step: float = 0.0):
        self.inputs, self.cap, self.rounding_step = inputs, cap, rounding_step
        self.products: np.ndarray | None = None  # sum x x^T [G, K, K]
        self.nonzero: np.ndarray | None = None  # rows where each input is nonzero [G, K]
        self.rows = 0

    @staticmethod
    def of(op: QuantizedGemmOp, *, input_rounding: bool = False) -> HessianAccumulator:
        """For `op`'s input rows; with `input_rounding`, adding the rounding
        variance of `op`'s quantized input (for inputs taken from the float network)."""
        step = op.input.type.element_type.scale_value if input_rounding else 0.0
        return HessianAccumulator(GemmInputs.of(op), rounding_step=step)

    def add(self, x: np.ndarray) -> None:
        """Add one sample's real input."""
        rows = self.inputs.rows(x, self.cap)
        product = (np.swapaxes(rows, 1, 2) @ rows).astype(np.float64)
        nonzero = np.count_nonzero(rows, axis=1)
        self.products = product if self.products is None else self.products + product
        self.nonzero = nonzero if self.nonzero is None else self.nonzero + nonzero
        self.rows += rows.shape[1]

    @property
    def hessian(self) -> np.ndarray | None:
        """H [G, K, K]: sum x x^T, plus step**2 / 12 per nonzero input on the diagonal."""
        if self.products is None or self.rounding_step == 0.0:
            return self.products
        hessian = self.products.copy()
        diagonal = np.einsum("gkk->gk", hessian)  # a writable view of each group's diagonal
        diagonal += self.nonzero * (self.rounding_step**2 / 12.0)
        return hessian


# -- one layer ---------------------------------------------------------------------


def weight_steps(op: QuantizedGemmOp) -> np.ndarray:
    """The real value of one weight unit per output channel: A = floor(sum Qa Qw / 2**h) + B
    with one accumulator unit worth `accumulator_unit` and one input unit the input's step."""
    step_in = op.input.type.element_type.scale_value
    return accumulator_unit(op) / (np.ldexp(1.0, op.intrinsic_shift_values()) * step_in)


@dataclass
class LayerRounding:
    """One layer's rounding: the integers chosen, and the calibration-set output
    error (e^T H e summed over channels, squared real units) of nearest rounding and of them.
    When compensating (`round_compensated_layer`) the errors are against the float
    layer's output, `bias_delta` [C] (real units) moves the bias with the weights, and the
    counts say how many channels took a compensated target and how many of those
    targets left the int8 range (GPTQ clips them and spreads the clipping error)."""

    weight: np.ndarray
    nearest_error: float
    rounded_error: float
    bias_delta: np.ndarray | None = None
    compensated: int = 0
    clipped: int = 0


def round_layer(op: QuantizedGemmOp, float_weight: np.ndarray, hessian: np.ndarray) -> LayerRounding:
    """GPTQ integers for `op` from its float weight and the H of its inputs.

    A channel keeps the planner's nearest-rounded integers where GPTQ's have no
    smaller output error on these inputs (so the calibration-set error of every
    channel is at most nearest rounding's), and where the planner quantized it
    to all-zero weights (Sw = 0: the output is the bias alone)."""
    inputs = GemmInputs.of(op)
    planned = builders.constant_array(op.weight.owner)
    steps = weight_steps(op)
    active = np.any(reshape_weight_to_output_channels(planned) != 0, axis=0)
    scaled = reshape_weight_to_output_channels(np.asarray(float_weight, dtype=np.float64)) / np.where(active, steps, 1.0)
    scaled = np.where(active, scaled, 0.0)
    grouped = inputs.group_weight(scaled)
    nearest = inputs.group_weight(reshape_weight_to_output_channels(planned).astype(np.int64))
    by_group = lambda per_channel: per_channel.reshape(inputs.groups, 1, -1)  # noqa: E731 ([C] -> [G, 1, C/G])
    squared_steps = by_group(np.square(np.where(active, steps, 0.0)))[:, 0, :]
    rounded, nearest_error, chosen_error = choose_rounding(grouped, nearest, hessian, by_group(active)[:, 0, :])
    weight = inputs.ungroup_weight(rounded, planned.shape).astype(np.int8)
    return LayerRounding(weight, float(np.sum(nearest_error * squared_steps)), float(np.sum(chosen_error * squared_steps)))


# -- compensating the quantized input's error ----------------------------------------


COMPENSATION_FOLDS = 4
"""Calibration samples split round-robin into this many folds for the held-out choice of the fit's strength."""

COMPENSATION_STRENGTHS = (0.01, 0.1, 1.0, 10.0)
"""Candidate strengths lam of the pull of the least-squares target towards the float weight
(in units of each input's own energy, diag H~); each channel takes the one with the lowest
held-out output error, or the float weight itself where none is lower."""


def _row_width(source: np.ndarray) -> int:
    """K of a `GemmInputs.row_source` [G, M, ...]."""
    return int(np.prod(source.shape[2:]))


_FLUSH_BYTES = 4 << 20
"""Size of the float64 rows one Gram product of `CompensationAccumulator` reads at most (if a group's rows fit)."""


def _moments_gram(pending: list[tuple[np.ndarray, np.ndarray]], k: int, scratch: _Scratch | None = None) -> np.ndarray:
    """The Gram matrix [G, 2K+2, 2K+2] of the rows [x, 1, x~, 1] of `pending` (`GemmInputs.row_source`
    pairs), in float64: the float-output error subtracts moments of nearly equal outputs, and
    products of float32 values are exact in it. One product holds all three moments."""
    groups, count = pending[0][0].shape[0], sum(x.shape[1] for x, _ in pending)
    width = 2 * (k + 1)
    stacked = (scratch or _Scratch()).array(0, (groups, count, width))
    stacked[:, :, k] = stacked[:, :, 2 * k + 1] = 1.0
    first = 0
    for x, q in pending:
        last = first + x.shape[1]
        GemmInputs.write_rows(x, stacked[:, first:last, :k])
        GemmInputs.write_rows(q, stacked[:, first:last, k + 1 : 2 * k + 1])
        first = last
    return _gram(stacked)


def _gram(rows: np.ndarray) -> np.ndarray:
    """rows^T rows [G, W, W] of float64 `rows` [G, M, W] (one symmetric rank-k update per group)."""
    groups, width = rows.shape[0], rows.shape[2]
    # columns zero on every row (e.g. kernel taps that only meet padding) add nothing: left out of the product
    live = np.flatnonzero(np.any(rows != 0, axis=(0, 1))) if groups == 1 else np.arange(width)
    if live.size == width:
        return np.swapaxes(rows, 1, 2) @ rows
    rows = rows[:, :, live]
    gram = np.zeros((groups, width, width))
    gram[:, live[:, None], live[None, :]] = np.swapaxes(rows, 1, 2) @ rows
    return gram


class CompensationAccumulator:
    """Per fold and group, the second moments of one layer's float input rows x and
    quantized input rows x~, each with a ones column appended for the bias:
    sum x x^T, sum x x~^T and sum x~ x~^T ([F, G, K+1, K+1] each, float64). The rows
    are the same positions of the same samples in both (`GemmInputs.rows`)."""

    def __init__(self, inputs: GemmInputs, folds: int = COMPENSATION_FOLDS, cap: int = MAX_PATCHES_PER_SAMPLE):
        self.inputs, self.folds, self.cap = inputs, folds, cap
        self._moments: list[np.ndarray] | None = None  # FF, FQ, QQ
        self._pending: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(folds)]  # rows not in the moments yet
        self._flushed = False  # whether any rows went into the moments
        self._scratch = _Scratch()

    def add(self, fold: int, float_input: np.ndarray, quantized_input: np.ndarray) -> None:
        """Add one sample's float input and the quantized network's input (real units) to `fold`.
        Rows are gathered until a fold has at least as many as the Gram matrix is wide (a dense
        layer reads one row per sample), so that each product is one efficient BLAS call."""
        x, q = self.inputs.row_gather(float_input, self.cap), self.inputs.row_gather(quantized_input, self.cap)
        self._pending[fold].append((x, q))
        if sum(rows.shape[1] for rows, _ in self._pending[fold]) >= 2 * (_row_width(x) + 1):
            self._flush(fold)

    def _flush(self, fold: int) -> None:
        pending, self._pending[fold] = self._pending[fold], []
        if not pending:
            return
        self._flushed = True
        groups, k = pending[0][0].shape[0], _row_width(pending[0][0])
        if self._moments is None:
            self._moments = [np.zeros((self.folds, groups, k + 1, k + 1)) for _ in range(3)]
        count = sum(x.shape[1] for x, _ in pending)
        # a few groups at a time, so that the float64 rows stay in cache (many small groups: depthwise)
        chunk = max(1, _FLUSH_BYTES // (count * 2 * (k + 1) * 8))
        for first in range(0, groups, chunk):
            part = slice(first, min(first + chunk, groups))
            self._gather(fold, part, [(x[part], q[part]) for x, q in pending], k)

    def _gather(self, fold: int, part: slice, pending: list[tuple[np.ndarray, np.ndarray]], k: int) -> None:
        """Add the rows of `pending` (groups `part`) to `fold`'s moments."""
        gram = _moments_gram(pending, k, self._scratch)
        self._moments[0][fold, part] += gram[:, : k + 1, : k + 1]
        self._moments[1][fold, part] += gram[:, : k + 1, k + 1 :]
        self._moments[2][fold, part] += gram[:, k + 1 :, k + 1 :]

    def _moment(self, index: int) -> np.ndarray | None:
        for fold in range(self.folds):
            self._flush(fold)
        return None if self._moments is None else self._moments[index]

    @property
    def float_float(self) -> np.ndarray | None:
        """sum x x^T [F, G, K+1, K+1] (None before any sample)."""
        return self._moment(0)

    @property
    def float_quantized(self) -> np.ndarray | None:
        """sum x x~^T [F, G, K+1, K+1]."""
        return self._moment(1)

    @property
    def quantized_quantized(self) -> np.ndarray | None:
        """sum x~ x~^T [F, G, K+1, K+1]."""
        return self._moment(2)

    def fold_rows(self) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Per fold, the float and the quantized rows with their ones column ([G, M_f, K+1] each,
        float64) where all the rows are fewer than the inputs (K+1: every fit is then
        rank-deficient, and `compensated_target_of_rows` works in the rows' space); else None.
        Call before `projected_moments`, which gathers them."""
        if self._flushed or not any(self._pending):
            return None
        first = next(p for p in self._pending if p)[0][0]
        k = _row_width(first)
        if sum(x.shape[1] for pending in self._pending for x, _ in pending) >= k + 1:
            return None
        empty = np.zeros((first.shape[0], 0, k + 1))
        return [_rows_with_ones(pending, k) if pending else (empty, empty) for pending in self._pending]

    def projected_moments(self, target: np.ndarray) -> ProjectedMoments | None:
        """What the compensation of the float weights and bias `target` [G, K+1, C] reads of
        the moments (None before any sample)."""
        if self.float_float is None:
            return None
        return ProjectedMoments.of(target, self.float_float, self.float_quantized, self.quantized_quantized)


@dataclass
class ProjectedMoments:
    """What fitting and scoring a compensated target read of one layer's moments, per fold,
    for the float weights and bias t [G, K+1, C]: sum x x^T and sum x x~^T only through t.

    float_energy [F, G, C]: t.(FF t) = sum ([x;1] . t)**2, the float output's energy;
    cross [F, G, K+1, C]: FQ^T t = sum [x~;1] ([x;1] . t);
    plain_error [F, G, C]: sum (([x;1] - [x~;1]) . t)**2, the float weight's own error on x~;
    quantized_quantized [F, G, K+1, K+1]: QQ = sum [x~;1][x~;1]^T."""

    float_energy: np.ndarray
    cross: np.ndarray
    plain_error: np.ndarray
    quantized_quantized: np.ndarray

    @staticmethod
    def of(target: np.ndarray, float_float: np.ndarray, float_quantized: np.ndarray, quantized_quantized: np.ndarray) -> ProjectedMoments:
        """From the full moments [F, G, K+1, K+1]."""
        # the float weight's error from the moments of x - x~, formed first (they nearly cancel)
        difference = float_float - float_quantized - np.swapaxes(float_quantized, -1, -2) + quantized_quantized
        return ProjectedMoments(
            np.sum(target * (float_float @ target), axis=-2),
            np.swapaxes(float_quantized, -1, -2) @ target,
            np.sum(target * (difference @ target), axis=-2),
            quantized_quantized,
        )

    @staticmethod
    def of_rows(target: np.ndarray, fold_rows: Sequence[tuple[np.ndarray, np.ndarray]]) -> ProjectedMoments:
        """From the float and quantized rows of every fold ([G, M_f, K+1] each, ones column last)."""
        return ProjectedMoments(*(np.stack(arrays) for arrays in zip(*(_projections(target, x, q) for x, q in fold_rows))))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.float_energy, self.cross, self.plain_error, self.quantized_quantized

    def output_error(self, fold: int | None = None) -> OutputError:
        """`OutputError` on one fold's rows, or on all of them (None)."""
        if fold is None:
            return OutputError.of(self.float_energy.sum(axis=0), self.cross.sum(axis=0), self.quantized_quantized.sum(axis=0))
        return OutputError.of(self.float_energy[fold], self.cross[fold], self.quantized_quantized[fold])


def projection_pays(inputs: int, channels: int) -> bool:
    """Whether `ProjectedCompensationAccumulator` multiplies less than the full Gram product
    per row for a group of `inputs` (K+1) and `channels` (C): (K+1)**2 / 2 + 3 (K+1) C
    (QQ's triangle; [x;1] . t, QQ's cross with it, [x~;1] . t) against (2K+2)**2 / 2."""
    return inputs**2 / 2 + 3 * inputs * channels < 2 * inputs**2


class ProjectedCompensationAccumulator(CompensationAccumulator):
    """`CompensationAccumulator` for one target t [G, K+1, C] known before the rows: sum x~ x~^T
    is gathered as there (the same sums, so bit for bit the same matrix), the float rows only
    through [x;1] . t (`ProjectedMoments`), so sum x x^T and sum x x~^T are never formed: with
    fewer channels than half the inputs (`projection_pays`), most of the full Gram product's work."""

    def __init__(self, inputs: GemmInputs, target: np.ndarray, folds: int = COMPENSATION_FOLDS, cap: int = MAX_PATCHES_PER_SAMPLE):
        super().__init__(inputs, folds, cap)
        self.target = np.asarray(target, dtype=np.float64)
        self._projected: ProjectedMoments | None = None

    def _gather(self, fold: int, part: slice, pending: list[tuple[np.ndarray, np.ndarray]], k: int) -> None:
        target = self.target[part]
        if self._projected is None:
            groups, channels = self.target.shape[0], self.target.shape[2]
            self._projected = ProjectedMoments(
                np.zeros((self.folds, groups, channels)),
                np.zeros((self.folds, groups, k + 1, channels)),
                np.zeros((self.folds, groups, channels)),
                np.zeros((self.folds, groups, k + 1, k + 1)),
            )
        for total, part_sum in zip(self._projected.arrays(), _projections(target, *_rows_with_ones(pending, k, self._scratch))):
            total[fold, part] += part_sum

    def _moment(self, index: int) -> np.ndarray | None:
        raise TypeError("ProjectedCompensationAccumulator keeps the moments only through its target: use projected_moments")

    def projected_moments(self, target: np.ndarray) -> ProjectedMoments | None:
        if not np.array_equal(target, self.target):
            raise ValueError("ProjectedCompensationAccumulator: asked for another target than the one it projected on")
        for fold in range(self.folds):
            self._flush(fold)
        return self._projected


def _projections(target: np.ndarray, floats: np.ndarray, quantized: np.ndarray) -> tuple[np.ndarray, ...]:
    """The `ProjectedMoments` sums of rows [G, M, K+1] (float, quantized; ones column last) for
    the target [G, K+1, C]: float energy, cross, plain error, QQ (the Gram product of `_moments_gram`)."""
    float_output = floats @ target  # [G, M, C]
    return (
        np.sum(np.square(float_output), axis=1),
        np.swapaxes(quantized, 1, 2) @ float_output,
        np.sum(np.square(float_output - quantized @ target), axis=1),
        _gram(quantized),
    )


class _Scratch:
    """Float64 buffers kept between an accumulator's flushes: writing the rows into fresh
    pages (a new allocation of megabytes each time) cost more than the copy itself."""

    def __init__(self):
        self._buffers: dict[int, np.ndarray] = {}

    def array(self, index: int, shape: tuple[int, ...]) -> np.ndarray:
        """An uninitialised float64 array of `shape` in buffer `index` (valid until its next use)."""
        size = int(np.prod(shape))
        if index not in self._buffers or self._buffers[index].size < size:
            self._buffers[index] = np.empty(size)
        return self._buffers[index][:size].reshape(shape)


def _rows_with_ones(pending: list[tuple[np.ndarray, np.ndarray]], k: int, scratch: _Scratch | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The float and the quantized rows of `pending` (`GemmInputs.row_source` pairs) as
    float64 [G, M, K+1], a ones column last (in `scratch`'s buffers 0 and 1 if given)."""
    scratch = scratch or _Scratch()
    shape = (pending[0][0].shape[0], sum(x.shape[1] for x, _ in pending), k + 1)
    floats, quantized = scratch.array(0, shape), scratch.array(1, shape)
    floats[:, :, k] = quantized[:, :, k] = 1.0
    first = 0
    for x, q in pending:
        # gathered rows write their ones column too: one contiguous write where one sample is pending
        width = k + 1 if isinstance(x, GatheredRows) else k
        GemmInputs.write_rows(x, floats[:, first : first + x.shape[1], :width])
        GemmInputs.write_rows(q, quantized[:, first : first + x.shape[1], :width])
        first += x.shape[1]
    return floats, quantized


def float_output_error(
    target: np.ndarray, candidate: np.ndarray, float_float: np.ndarray, float_quantized: np.ndarray, quantized_quantized: np.ndarray
) -> np.ndarray:
    """sum over rows of ([x;1] . target - [x~;1] . candidate)**2 per group and channel [G, C]:
    the float layer's output (weights and bias `target` [G, K+1, C], on the float
    inputs) against `candidate`'s on the quantized inputs, from the moments [G, K+1, K+1]."""
    return (
        np.sum(target * (float_float @ target), axis=1)
        - 2 * np.sum(target * (float_quantized @ candidate), axis=1)
        + np.sum(candidate * (quantized_quantized @ candidate), axis=1)
    )


class OutputError:
    """`float_output_error` of many candidates against one target on the same moments:
    t.(FF t) and FQ^T t are computed once, so a candidate costs one product QQ V."""

    def __init__(self, target: np.ndarray, float_float: np.ndarray, float_quantized: np.ndarray, quantized_quantized: np.ndarray):
        self.quantized_quantized = quantized_quantized
        self.constant = np.sum(target * (float_float @ target), axis=1)
        self.cross = np.swapaxes(float_quantized, 1, 2) @ target  # FQ^T t [G, K+1, C]

    @classmethod
    def of(cls, float_energy: np.ndarray, cross: np.ndarray, quantized_quantized: np.ndarray) -> OutputError:
        """From t.(FF t) [G, C], FQ^T t [G, K+1, C] and QQ [G, K+1, K+1] (`ProjectedMoments`)."""
        error = cls.__new__(cls)
        error.constant, error.cross, error.quantized_quantized = float_energy, cross, quantized_quantized
        return error

    def __call__(self, candidate: np.ndarray) -> np.ndarray:
        return self.constant - 2 * np.sum(candidate * self.cross, axis=1) + np.sum(candidate * (self.quantized_quantized @ candidate), axis=1)


def _pull_weights(quantized_quantized: np.ndarray) -> np.ndarray:
    """D of the fit's pull [G, K+1]: diag(sum x~ x~^T), an input never seen weighing as the mean one."""
    return _pull_of_diagonal(np.einsum("gkk->gk", quantized_quantized))


def _pull_of_diagonal(diagonal: np.ndarray) -> np.ndarray:
    """`_pull_weights` from diag(sum x~ x~^T) [G, K+1]."""
    mean = diagonal.mean(axis=1, keepdims=True)
    mean = np.where(mean > 0, mean, 1.0)  # no rows at all (an empty fold's complement): the fit is the target
    return np.where(diagonal > 0, diagonal, mean)


def ridge_fit(target: np.ndarray, float_quantized: np.ndarray, quantized_quantized: np.ndarray, strength: float) -> np.ndarray:
    """argmin_V sum ([x;1] . target - [x~;1] . V)**2 + strength * sum_k D_k (V_k - target_k)**2,
    D = diag(sum x~ x~^T) (an input never seen weighs as the mean one): [G, K+1, C].
    The definition, one linear solve per strength; `RidgeFits` gives the same for many strengths."""
    pull = strength * _pull_weights(quantized_quantized)
    system = quantized_quantized + pull[:, :, None] * np.eye(pull.shape[1])
    right = np.swapaxes(float_quantized, 1, 2) @ target + pull[:, :, None] * target
    return np.linalg.solve(system, right)


class RidgeFits:
    """`ridge_fit` at several strengths for one moment QQ = sum x~ x~^T, with the product
    `cross` = FQ^T t [G, K+1, C] given (computed once for all strengths).

    Where the channels are at least as many as the inputs (C >= K+1), one symmetric
    eigendecomposition serves every strength: with R = D^1/2, QQ + lam D =
    R (R^-1 QQ R^-1 + lam I) R and R^-1 QQ R^-1 = U diag(s) U^T, so
    V(lam) = P (a + lam b) / (s + lam) per eigen-direction, P = R^-1 U, a = P^T FQ^T t,
    b = U^T R t, and a strength costs one product P y (lam > 0; s >= 0 up to rounding,
    QQ being a Gram matrix). With fewer channels a decomposition costs more than the
    few solves: each strength is one Cholesky solve (LU where QQ + lam D is not
    numerically positive definite)."""

    def __init__(self, target: np.ndarray, cross: np.ndarray, quantized_quantized: np.ndarray):
        self.pull = _pull_weights(quantized_quantized)
        # an input never seen (zero row and column of QQ, and of FQ^T t) has V_k = t_k at any
        # strength: the others are solved without it (one group; a conv on a one-row map
        # sees two thirds of its 3x3 taps in padding)
        self.full_target, self.live = target, None
        if target.shape[0] == 1:
            live = np.flatnonzero(np.diagonal(quantized_quantized[0]) > 0)
            if live.size < target.shape[1]:
                self.live = live
                target, cross = target[:, live], cross[:, live]
                quantized_quantized = quantized_quantized[:, live[:, None], live[None, :]]
                self.pull = self.pull[:, live]
        self.target, self.cross, self.quantized_quantized = target, cross, quantized_quantized
        self.eigen = target.shape[2] >= target.shape[1]
        if self.eigen:
            root = np.sqrt(self.pull)
            self.values, vectors = np.linalg.eigh(quantized_quantized / root[:, :, None] / root[:, None, :])
            self.basis = vectors / root[:, :, None]
            self.data_part = np.swapaxes(self.basis, 1, 2) @ cross
            self.pull_part = np.swapaxes(vectors, 1, 2) @ (root[:, :, None] * target)

    def fit(self, strength: float | np.ndarray) -> np.ndarray:
        """V [G, K+1, C] for one strength, or for one per channel ([G, C])."""
        if self.live is None:
            return self._fit(strength)
        fitted = self.full_target.copy()
        fitted[:, self.live] = self._fit(strength)
        return fitted

    def _fit(self, strength: float | np.ndarray) -> np.ndarray:
        lam = np.asarray(strength, dtype=np.float64)
        if self.eigen:
            lam = lam[:, None, :] if lam.ndim == 2 else lam
            return self.basis @ ((self.data_part + lam * self.pull_part) / (self.values[:, :, None] + lam))
        if lam.ndim == 0:
            return self._solve(float(lam))
        fitted = np.empty_like(self.target)
        for value in np.unique(lam):
            fitted = np.where((lam == value)[:, None, :], self._solve(float(value)), fitted)
        return fitted

    def _solve(self, strength: float) -> np.ndarray:
        pull = strength * self.pull
        right = self.cross + pull[:, :, None] * self.target
        if self.quantized_quantized.shape[0] == 1:
            # symmetric: its transpose is the same matrix in LAPACK's column order (no copy), factored in place
            _, solution, info = lapack.dposv(self._system(pull)[0].T, right[0], overwrite_a=1)
            if info == 0:
                return solution[None]
        return np.linalg.solve(self._system(pull), right)

    def _system(self, pull: np.ndarray) -> np.ndarray:
        """QQ + lam D [G, K+1, K+1] (the pull on the diagonal, in place of a product with the identity)."""
        system = self.quantized_quantized.copy()
        np.einsum("gkk->gk", system)[...] += pull
        return system


@dataclass
class CompensatedTarget:
    """The weights and bias to round [G, K+1, C] (real units), the strength each channel
    took [G, C] (inf: the float weight itself), and the held-out output errors of the
    float weight and of the chosen target [G, C], summed over the folds."""

    target: np.ndarray
    strength: np.ndarray
    plain_error: np.ndarray
    chosen_error: np.ndarray


def compensated_target(
    target: np.ndarray,
    float_float: np.ndarray,
    float_quantized: np.ndarray,
    quantized_quantized: np.ndarray,
    strengths: Sequence[float] = COMPENSATION_STRENGTHS,
) -> CompensatedTarget:
    """Weights and bias for the quantized inputs that reproduce the float layer's output:
    per channel, the least-squares fit `ridge_fit` of the float weights and bias `target`
    [G, K+1, C] at the strength whose held-out output error (fit on all folds but one of
    the moments [F, G, K+1, K+1], measured on that one, summed) is lowest, or `target`
    itself where no strength beats it. The chosen fit is then redone on all folds.
    (`compensated_target_of` with the moments read through the target.)"""
    moments = ProjectedMoments.of(target, float_float, float_quantized, quantized_quantized)
    return compensated_target_of(target, moments, strengths)


def compensated_target_of(target: np.ndarray, moments: ProjectedMoments, strengths: Sequence[float] = COMPENSATION_STRENGTHS) -> CompensatedTarget:
    """`compensated_target` from the moments as the target reads them.
    Each fold's fits at every strength come from one `RidgeFits` (one eigendecomposition,
    or one Cholesky solve per strength)."""
    total_quantized = moments.quantized_quantized.sum(axis=0)
    total_cross = moments.cross.sum(axis=0)
    errors = np.zeros((1 + len(strengths), *target.shape[::2]))  # [1 + S, G, C]
    for f in range(moments.cross.shape[0]):
        error_on_fold = moments.output_error(f)
        errors[0] += moments.plain_error[f]  # the float weight itself
        fits = RidgeFits(target, total_cross - moments.cross[f], total_quantized - moments.quantized_quantized[f])
        for index, strength in enumerate(strengths, start=1):
            errors[index] += error_on_fold(fits.fit(strength))
    best = np.argmin(errors, axis=0)  # ties (and a first fold-less error) keep the float weight
    chosen = np.take_along_axis(errors, best[None], axis=0)[0]
    strength_of = np.array([np.inf, *strengths])[best]
    fitted = target.copy()
    if np.any(best > 0):
        fit = RidgeFits(target, total_cross, total_quantized).fit(np.where(best > 0, strength_of, 1.0))
        fitted = np.where((best > 0)[:, None, :], fit, fitted)
    return CompensatedTarget(fitted, strength_of, errors[0], chosen)


class RowSpaceFits:
    """`ridge_fit` at every strength from the rows themselves, for fewer rows M than inputs
    (K+1): with Q the quantized rows [M, K+1], r = (X - Q) t the float weight's residuals
    and D the pull, V = t + D^-1 Q^T (Q D^-1 Q^T + lam I)^-1 r (the normal equations
    (Q^T Q + lam D)(V - t) = Q^T r, pushed through), and one eigendecomposition
    Q D^-1 Q^T = U diag(s) U^T [M, M] serves every strength: V = t + B (a / (s + lam)),
    B = D^-1 Q^T U, a = U^T r. An input never seen (a zero column of Q) keeps t_k."""

    def __init__(self, target: np.ndarray, quantized: np.ndarray, residual: np.ndarray):
        self.target = target
        pull = _pull_of_diagonal(np.einsum("gmk,gmk->gk", quantized, quantized))
        self.values, vectors = np.linalg.eigh((quantized / pull[:, None, :]) @ np.swapaxes(quantized, 1, 2))
        self.basis = (np.swapaxes(quantized, 1, 2) @ vectors) / pull[:, :, None]  # B [G, K+1, M]
        self.data_part = np.swapaxes(vectors, 1, 2) @ residual  # a [G, M, C]

    def coefficients(self, strength: float | np.ndarray) -> np.ndarray:
        """a / (s + lam) [G, M, C] for one strength, or for one per channel ([G, C])."""
        lam = np.asarray(strength, dtype=np.float64)
        return self.data_part / (self.values[:, :, None] + (lam[:, None, :] if lam.ndim == 2 else lam))

    def fit(self, strength: float | np.ndarray) -> np.ndarray:
        """V [G, K+1, C]."""
        return self.target + self.basis @ self.coefficients(strength)


def compensated_target_of_rows(
    target: np.ndarray, fold_rows: Sequence[tuple[np.ndarray, np.ndarray]], strengths: Sequence[float] = COMPENSATION_STRENGTHS
) -> CompensatedTarget:
    """`compensated_target` from the rows of every fold ([G, M_f, K+1] float and quantized,
    `ProjectedCompensationAccumulator.fold_rows`) where they are fewer than the inputs: each
    fit on the other folds' rows is a `RowSpaceFits` ([M, M] instead of [K+1, K+1] systems),
    and a candidate's held-out error is the sum of squares of its residuals on the fold's rows."""
    residuals = [(x - q) @ target for x, q in fold_rows]  # the float weight's, per fold [G, M_f, C]
    errors = np.zeros((1 + len(strengths), *target.shape[::2]))  # [1 + S, G, C]
    for f, (_, quantized) in enumerate(fold_rows):
        errors[0] += np.sum(np.square(residuals[f]), axis=1)
        others = [g for g in range(len(fold_rows)) if g != f]  # none: no rows to fit, V = t
        fits = RowSpaceFits(
            target,
            np.concatenate([quantized[:, :0]] + [fold_rows[g][1] for g in others], axis=1),
            np.concatenate([residuals[f][:, :0]] + [residuals[g] for g in others], axis=1),
        )
        fold_basis = quantized @ fits.basis  # Q_f B [G, M_f, M]
        for index, strength in enumerate(strengths, start=1):
            errors[index] += np.sum(np.square(residuals[f] - fold_basis @ fits.coefficients(strength)), axis=1)
    best = np.argmin(errors, axis=0)  # ties keep the float weight
    chosen = np.take_along_axis(errors, best[None], axis=0)[0]
    strength_of = np.array([np.inf, *strengths])[best]
    fitted = target.copy()
    if np.any(best > 0):
        fits = RowSpaceFits(target, np.concatenate([q for _, q in fold_rows], axis=1), np.concatenate(residuals, axis=1))
        fitted = np.where((best > 0)[:, None, :], fits.fit(np.where(best > 0, strength_of, 1.0)), fitted)
    return CompensatedTarget(fitted, strength_of, errors[0], chosen)


def compensation_target(op: QuantizedGemmOp, float_weight: np.ndarray, float_bias: np.ndarray) -> np.ndarray:
    """The float layer's weights and bias as the compensation fits them: [G, K+1, C/G], float64."""
    inputs = GemmInputs.of(op)
    weight = inputs.group_weight(np.asarray(float_weight, dtype=np.float64))
    channels = weight.shape[0] * weight.shape[2]
    bias = np.broadcast_to(np.asarray(float_bias, dtype=np.float64), (channels,)).reshape(inputs.groups, -1)
    return np.concatenate([weight, bias[:, None, :]], axis=1)


def compensation_accumulator(op: QuantizedGemmOp, float_weight: np.ndarray, float_bias: np.ndarray) -> CompensationAccumulator:
    """The accumulator that gathers `op`'s moments with the least work: projected on the
    float target where that multiplies less (`projection_pays`), else the full moments."""
    inputs, target = GemmInputs.of(op), compensation_target(op, float_weight, float_bias)
    if projection_pays(target.shape[1], target.shape[2]):
        return ProjectedCompensationAccumulator(inputs, target)
    return CompensationAccumulator(inputs)


def round_compensated_layer(
    op: QuantizedGemmOp, float_weight: np.ndarray, float_bias: np.ndarray, accumulator: CompensationAccumulator
) -> LayerRounding:
    """Integers and a bias change for `op` that bring its output on the quantized
    network's inputs close to the float layer's (`float_weight`, `float_bias`) on the
    float inputs: the held-out least-squares target (`compensated_target`), GPTQ-rounded
    under H~ = sum x~ x~^T on the planner's steps, then the bias refit to the rounded
    weights (b + (V - Qw) . mean x~). Per channel, nearest rounding is kept where its
    float-output error on the calibration data is not above, and for channels the
    planner quantized to zeros."""
    target = compensation_target(op, float_weight, float_bias)
    fold_rows = accumulator.fold_rows()  # few rows: everything from the rows themselves
    moments = ProjectedMoments.of_rows(target, fold_rows) if fold_rows else accumulator.projected_moments(target)
    fitted = compensated_target_of_rows(target, fold_rows) if fold_rows else compensated_target_of(target, moments)
    return round_fitted_layer(op, target, fitted, moments.quantized_quantized.sum(axis=0), moments.output_error())


def round_fitted_layer(
    op: QuantizedGemmOp, target: np.ndarray, fitted: CompensatedTarget, total_quantized: np.ndarray, error_of: Callable
) -> LayerRounding:
    """`round_compensated_layer` from the compensation's fit on: GPTQ rounding of the fitted
    weights under `total_quantized` (the quantized inputs' moments summed over folds), the bias
    refit, and per channel the rounding whose float-output error (`error_of`) is lower."""
    inputs = GemmInputs.of(op)
    planned = builders.constant_array(op.weight.owner)
    steps = weight_steps(op)
    active = np.any(reshape_weight_to_output_channels(planned) != 0, axis=0)
    by_group = lambda per_channel: np.asarray(per_channel).reshape(inputs.groups, -1)  # noqa: E731 ([C] -> [G, C/G])
    rows = target.shape[1] - 1
    bias = target[:, rows]
    compensated = np.isfinite(fitted.strength) & by_group(active)
    fitted_target = np.where(compensated[:, None, :], fitted.target, target)
    group_steps = by_group(np.where(active, steps, 1.0))[:, None, :]
    scaled = np.where(by_group(active)[:, None, :], fitted_target[:, :rows] / group_steps, 0.0)
    clipped = compensated & np.any(np.abs(scaled) > _QMAX + 0.5, axis=1)
    rounded = gptq_round(scaled, total_quantized[:, :rows, :rows])
    rounded_real = rounded * group_steps
    # the bias absorbs the mean of the rounding error over the calibration rows
    means = total_quantized[:, :rows, rows] / np.maximum(total_quantized[:, rows, rows], 1.0)[:, None]
    refit = fitted_target[:, rows] + np.sum((fitted_target[:, :rows] - rounded_real) * means[:, :, None], axis=1)
    rounded_bias = np.where(compensated, refit, bias)
    nearest = inputs.group_weight(reshape_weight_to_output_channels(planned).astype(np.int64))
    nearest_error = error_of(np.concatenate([nearest * group_steps, bias[:, None, :]], axis=1))
    rounded_error = error_of(np.concatenate([rounded_real, rounded_bias[:, None, :]], axis=1))
    better = (rounded_error < nearest_error) & by_group(active)
    chosen = np.where(better[:, None, :], rounded, nearest)
    return LayerRounding(
        inputs.ungroup_weight(chosen, planned.shape).astype(np.int8),
        float(np.sum(nearest_error)),
        float(np.sum(np.where(better, rounded_error, nearest_error))),
        bias_delta=np.where(better, rounded_bias - bias, 0.0).reshape(-1),
        compensated=int(np.sum(better & compensated)),
        clipped=int(np.sum(better & clipped)),
    )


# -- the network ---------------------------------------------------------------------


def _float_weights(float_module: ModuleOp) -> dict[str, tuple[SSAValue, np.ndarray]]:
    """Node name -> (input, constant weight) of every float conv2d / dense."""
    found = {}
    for op in find_function(float_module).walk():
        if isinstance(op, ops.Conv2DOp | ops.DenseOp) and op.node_name and isinstance(op.weight.owner, ops.ConstantOp):
            weight = builders.constant_array(op.weight.owner)
            if weight is not None:
                found[op.node_name] = (op.input, weight)
    return found


def _float_layers(float_module: ModuleOp) -> dict[str, ops.Conv2DOp | ops.DenseOp]:
    """Node name -> float conv2d / dense op."""
    return {op.node_name: op for op in find_function(float_module).walk() if isinstance(op, ops.Conv2DOp | ops.DenseOp) and op.node_name}


def _float_bias(op: ops.Conv2DOp | ops.DenseOp, channels: int) -> np.ndarray | None:
    """The float op's bias [C] (zeros if it has none), None if it is not a readable constant."""
    if op.bias is None:
        return np.zeros(channels)
    return builders.constant_array(op.bias.owner) if isinstance(op.bias.owner, ops.ConstantOp) else None


def _layers(quantized: ModuleOp, float_module: ModuleOp) -> list[tuple[QuantizedGemmOp, SSAValue, np.ndarray]]:
    """(quantized op, float input, float weight) of every layer to re-round, in order."""
    float_weights = _float_weights(float_module)
    layers = []
    for op in find_function(quantized).walk():
        if not isinstance(op, CHECKED_OPS) or op.node_name not in float_weights:
            continue
        constants = [v.owner for v in (op.weight, op.bias)]
        if all(isinstance(c, ops.ConstantOp) and builders.constant_array(c) is not None for c in constants):
            layers.append((op, *float_weights[op.node_name]))
    return layers


def _real(x: np.ndarray, element: QuantizedType) -> np.ndarray:
    return (np.asarray(x, dtype=np.float32) - np.float32(element.zero_point_value)) * np.float32(element.scale_value)


@dataclass
class RoundingReport:
    """Per layer (node name): the rounding chosen and its calibration-set errors."""

    layers: dict[str, LayerRounding]

    def summary(self) -> str:
        nearest = sum(layer.nearest_error for layer in self.layers.values())
        rounded = sum(layer.rounded_error for layer in self.layers.values())
        text = f"{len(self.layers)} layers; summed layer output error on the calibration inputs {rounded:.4g} (nearest rounding {nearest:.4g})"
        compensated = sum(layer.compensated for layer in self.layers.values())
        if compensated:
            clipped = sum(layer.clipped for layer in self.layers.values())
            text += f"; {compensated} channels compensate their input's error ({clipped} of them clipped to int8)"
        return text


def weight_rounded_module(
    quantized: ModuleOp,
    float_module: ModuleOp,
    samples: Iterable[Mapping[str, Any]],
    *,
    sequential: bool = False,
    compensate: bool = False,
    accumulator_for: Any = None,
    progress: bool | None = None,
    progress_file: TextIO | None = None,
) -> tuple[ModuleOp, RoundingReport]:
    """A copy of `quantized` whose conv / dense layers have GPTQ-rounded int8
    weights measured on `samples` ({input name: array}, read once), with the
    float weights of `float_module` (the module it was quantized from, same
    node names) as the target; and the per-layer report. With `compensate`, each
    layer's weights and bias are fitted so that on the inputs the re-rounded
    quantized prefix produces they give the float layer's output on the float
    inputs (`round_compensated_layer`; implies `sequential`). `accumulator_for(op, float_op,
    float_weight, float_bias)`, if given, may return another `CompensationAccumulator` for a
    layer (e.g. rows weighted, `runtime/weighted_compensation.py`); None keeps the plain one."""
    rounded = quantized.clone()
    layers = _layers(rounded, float_module)
    report = RoundingReport({})
    if not layers:
        return rounded, report
    bar = tqdm(total=len(layers), desc="Weight rounding", unit=" layers", disable=None if progress is None else not progress, file=progress_file)

    def round_and_record(op: QuantizedGemmOp, float_weight: np.ndarray, accumulator: HessianAccumulator) -> LayerRounding:
        layer = round_layer(op, float_weight, accumulator.hessian)
        record_rounding(op, layer.weight)
        report.layers[op.node_name] = layer
        bar.update()
        return layer

    # one BLAS thread: on busy cores a pool waiting for preempted threads is many times slower
    with bar, one_blas_thread():
        if compensate:
            _compensate(rounded, float_module, layers, samples, report, bar, accumulator_for)
        elif sequential:
            by_op = {op: weight for op, _, weight in layers}
            interpreter_specs = _input_specs(rounded)
            checked = list(iterate_calibration_samples(samples, interpreter_specs, what="weight rounding", progress=False))

            def before(op, inputs: list[np.ndarray], constants: dict[SSAValue, np.ndarray]) -> None:
                accumulator = HessianAccumulator.of(op)  # already the quantized input: its rounding is in x
                element = op.input.type.element_type
                for x in inputs:
                    accumulator.add(_real(x, element))
                layer = round_and_record(op, by_op[op], accumulator)
                weight, bias, _ = checked_rounding(op, constants[op.weight], constants[op.bias], layer.weight)
                constants[op.weight], constants[op.bias] = weight, bias

            walk_layers(rounded, checked, set(by_op), before)
        else:
            interpreter, offset = tapped_interpreter(float_module, [float_input for _, float_input, _ in layers])
            specs = dict(zip(interpreter.input_names, interpreter.input_types))
            # float inputs: the quantized network will read them rounded, which H must include
            accumulators = [HessianAccumulator.of(op, input_rounding=True) for op, _, _ in layers]
            for sample in iterate_calibration_samples(samples, specs, what="weight rounding", progress=False):
                for accumulator, x in zip(accumulators, interpreter.run(sample)[offset:]):
                    accumulator.add(x)
            for (op, _, weight), accumulator in zip(layers, accumulators):
                round_and_record(op, weight, accumulator)
    WeightRoundingPass().apply(sima_context(), rounded)
    _log.info("weight rounding: %s", report.summary())
    return rounded, report


def _compensate(
    rounded: ModuleOp,
    float_module: ModuleOp,
    layers: list[tuple[QuantizedGemmOp, SSAValue, np.ndarray]],
    samples: Iterable[Mapping[str, Any]],
    report: RoundingReport,
    bar: tqdm,
    accumulator_for: Any = None,
) -> None:
    """Record compensating weights on every layer of `rounded`, walking the quantized
    and the float function side by side over all samples (each layer of the quantized
    walk reads the re-rounded layers before it)."""
    float_ops = _float_layers(float_module)
    targets = {}
    for op, _, weight in layers:
        bias = _float_bias(float_ops[op.node_name], reshape_weight_to_output_channels(weight).shape[1])
        if bias is not None:
            targets[op] = (weight, bias)
    checked = list(iterate_calibration_samples(samples, _input_specs(rounded), what="weight rounding", progress=False))
    float_walk = layer_stops(float_module, checked, {float_ops[op.node_name] for op in targets})
    reached: dict[str, list[np.ndarray]] = {}

    def float_inputs(name: str) -> list[np.ndarray]:
        while name not in reached:  # the float walk stops at the same layers, maybe in another order
            stop = next(float_walk, None)
            if stop is None:
                raise ValueError(f"weight rounding: the float module never reached {name!r} (not in its function's body)")
            reached[stop[0].node_name] = stop[1]
        return reached.pop(name)

    def before(op, inputs: list[np.ndarray], constants: dict[SSAValue, np.ndarray]) -> None:
        accumulator = accumulator_for(op, float_ops[op.node_name], *targets[op]) if accumulator_for else None
        accumulator = accumulator or compensation_accumulator(op, *targets[op])
        element = op.input.type.element_type
        for index, (float_input, quantized_input) in enumerate(zip(float_inputs(op.node_name), inputs)):
            accumulator.add(index % COMPENSATION_FOLDS, float_input, _real(quantized_input, element))
        layer = round_compensated_layer(op, *targets[op], accumulator)
        record_rounding(op, layer.weight, layer.bias_delta)
        report.layers[op.node_name] = layer
        bar.update()
        weight, bias, _ = checked_rounding(op, constants[op.weight], constants[op.bias], layer.weight, layer.bias_delta)
        constants[op.weight], constants[op.bias] = weight, bias

    walk_layers(rounded, checked, set(targets), before)
    float_walk.close()


def _input_specs(module: ModuleOp) -> dict[str, Any]:
    interpreter = Interpreter(module)
    return dict(zip(interpreter.input_names, interpreter.input_types))


__all__ = [
    "BLOCK",
    "COMPENSATION_FOLDS",
    "COMPENSATION_STRENGTHS",
    "CompensatedTarget",
    "CompensationAccumulator",
    "ProjectedCompensationAccumulator",
    "ProjectedMoments",
    "DAMPING",
    "GatheredRows",
    "GemmInputs",
    "HessianAccumulator",
    "LayerRounding",
    "MAX_PATCHES_PER_SAMPLE",
    "OutputError",
    "RidgeFits",
    "RoundingReport",
    "RowSpaceFits",
    "WEIGHT_ROUNDING_SAMPLES",
    "compensated_target",
    "compensated_target_of",
    "compensated_target_of_rows",
    "compensation_accumulator",
    "compensation_target",
    "float_output_error",
    "gptq_round",
    "output_error",
    "projection_pays",
    "ridge_fit",
    "round_compensated_layer",
    "round_fitted_layer",
    "round_layer",
    "weight_rounded_module",
    "weight_steps",
]
