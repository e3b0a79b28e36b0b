"""Bit-exact sessions for int16 programs: int15 convolutions in 9 nodes, tables read at their index.

    OnnxProgram(interpreter, emulation=EXACT_FORM)   # what bit-exact `Model.execute` runs (int8 and int16)

`EXACT_FORM` is `exact_float_form.EXACT_FLOAT_FORM` (int8 tensors as centred float32)
with its own lowering of int16-input sima convolutions and of the tables of int16
values; int16 tensors keep the IR's type. `lower._int15_float32_plan` (the lowering
before this module, still the fallback) spends 12 nodes per convolution, 3 of them
Floor (a scalar loop in onnxruntime, ~2x an Add) and one a Mul by a per-channel
constant, which keeps the tensor out of onnxruntime's blocked layout (a reorder out
of it and two back in for the next convolution's two Convs).

The arithmetic (`integer_arithmetic`: the int15 product and sima requantization),
per output channel, with the centred input c = x - z_in, intrinsic shift h, shift n:

    y = sat(floor((floor(S / 2**h) + B + r) / 2**n)),  S = sum_k x_k w_k,  r = 2**(n-1) (0 if n = 0)
      = sat(floor(T / 2**m)),  T = sum_k c_k w_k + K,  K = z_in sum(w) + (B + r) 2**h,  m = h + n

(nested floors: floor((floor(a / p) + b) / q) = floor((a + b p) / (p q)) for integers).
With the centred input split as c = 2**s hi + lo, `int15_plan` chooses s (8 first, up to 15),
one q >= 0 for all channels and t = m - q in [0, s] per channel, so

    floor(T / 2**m) = floor(Z / 2**q),  Z = floor(T / 2**t) = U + floor(V)
    U = sum_k (2**s hi_k) w_k 2**-t + Kh,   V = sum_k lo_k w_k 2**-t + Kl 2**-t   (K = 2**t Kh + Kl)

(2**s hi / 2**t is an integer for t <= s). The split rounds (`byte_split`: DequantizeLinear
to c, QuantizeLinear by 2**s (round half to even: |hi| <= 2**(16-s), lo = c - 2**s hi in
[-2**(s-1), 2**(s-1)]), DequantizeLinear by 2**s, Sub: exact, no Floor). U and V are one
Conv each, with the same weights w 2**-t (per channel: inside the Conv) and their own
biases; U's bias also holds o = 1/2 - 2**(q-1) (0 if q = 0), so that
QuantizeLinear(Z + o, scale 2**q) rounds Z / 2**q - 1/2 + 2**-(q+1), an odd multiple of
2**-(q+1), never a tie: floor(Z / 2**q), saturated to the output type. A fused ReLU (the
model clamps the accumulator at 0, i.e. y = max(y, 0)) is a Relu on Z + o before it. The
nodes: 4 (split), 2 Conv, Floor, Add, QuantizeLinear; every constant outside the Convs a
scalar, so onnxruntime's blocked layout (`blocked_layout.py`) holds the tensor from one
convolution to the next.

Exact because every float32 value is a multiple of a power of two within 2**24 of it,
whatever the order of the Convs' sums: U's partial sums are multiples of 1/2 bounded by
2**16 L1 2**-t + |Kh + o| (L1 = sum |w|), V's multiples of 2**-t bounded by
(2**(s-1) L1 + Kl) 2**-t, Z + o the same as U plus floor(V); QuantizeLinear divides by a
power of two (exact) and rounds once. `int15_plan` checks these bounds from the weights
(U's asks t >= log2(L1) - 7, V's s <= 24 - log2(L1)); where no s lets one q serve every
channel it takes t = min(m, s) per channel and a per-channel QuantizeLinear scale (kept out
of the blocked layout); where that fails too, `lower.lower_qconv2d` runs.

Tables of an int16 value: a convolution with an int16 output also leaves the table index
x + 32768 (`INT16_INDEX_OFFSET`) as an alias: the same Z + o through QuantizeLinear to
uint16 with zero point 32768, then Cast to int32; a table op (lut, requantize,
dequantize, a fused chain) of that value reads its table by value there
(`read_int16_table`), saving the QuantizeLinear to int16 and its Cast. Nodes nobody
reads are pruned per session (`program._live_nodes`), so the alias costs nothing where
no table reads it. qadd / qsub of two int16 values read their rescaling tables there too,
with the output multiplier folded into them (`lower_int16_add`: one float64 Mul less).
The input's quantize to int16 and softmax of an int16 row run in the session as the float
form runs them for int8 (`lower_int16_quantize`, `lower_int16_softmax`), so an int16
classifier is one session. (Tried and dropped: tables that give the next convolution its input's
bytes directly, two GatherElements instead of the split: slower, measured cls 5.72 vs
5.43 x onnxruntime, as a table read costs ~3 elementwise passes.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from xdsl.ir import SSAValue

import runtime.kernels  # noqa: F401  first: it completes runtime.integer_kernels' import cycle
from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    SOFTMAX_EXP_BITS,
    SOFTMAX_PROB_BITS,
    ArithFoldedRequantization,
    softmax_integers,
)
from runtime.integer_kernels.boundary import storage_dtype
from runtime.integer_kernels.exact_float import FLOAT32_EXACT, value_table
from runtime.onnx_backend.exact_float_form import (
    FORM_LOWERINGS,
    MAX_QUANTIZE_PATCHES,
    ExactFloatForm,
    float_form,
    quantize_mismatches,
    result_in_form,
)
from runtime.onnx_backend.exact_tables import lut_table, read_table, unary_table
from runtime.onnx_backend.graph import FLOAT32, FLOAT64, INT32, NHWC_TO_NCHW, Fragment, onnx_type
from runtime.onnx_backend.lower import (
    INT16,
    NotLowerable,
    Operands,
    _dtype,
    _elementwise_result,
    _gemm_plan,
    _tables,
    conv_attributes,
    lower_qconv2d,
    nhwc_result,
)
from runtime.onnx_backend.requantize import tflite_round
from sima_dialect import quantized_ops as q

INT16_TYPE = onnx_type(np.dtype(np.int16))
INT16_INDEX_OFFSET = 1 << 15
"""An int16 value's table index alias: x + 32768, in [0, 65535]."""
SPLIT_SHIFTS = range(8, 16)
"""The split c = 2**s hi + lo tried, s = 8 first: |hi| <= 2**(16-s), |lo| <= 2**(s-1) (|c| <= 65535).
A larger s leaves t more room (t <= s), so one q serves channels whose m differ by up to s,
and V's bound 2**(s-1) L1 decides how far it can go."""


@dataclass(frozen=True)
class Int15Plan:
    """Per-channel constants of the int15 convolution (module docstring), exact float64 values."""

    split_shift: int  # s: the input split as c = 2**s hi + lo
    weight_scale: np.ndarray  # 2**-t, for both Convs
    hi_bias: np.ndarray  # Kh + o
    lo_bias: np.ndarray  # Kl 2**-t
    down: np.ndarray  # 2**q: one value, or one per channel

    def hi_lo_biases(self) -> tuple[np.ndarray, np.ndarray]:
        return self.hi_bias.astype(np.float32), self.lo_bias.astype(np.float32)


def int15_plan(intrinsic_shift, shift, bias, correction, column_l1) -> Int15Plan | None:
    """The constants of the 9-node int15 convolution, or None where its bounds do not hold
    (module docstring): one q for every channel if some split s allows it, else q = m - min(m, s)
    per channel. `correction` is z_in * sum(w) per channel; all arguments broadcast to the channels."""
    bias = np.asarray(bias, dtype=np.int64)
    h, n, correction, l1 = (np.broadcast_to(np.asarray(a, dtype=np.int64), bias.shape) for a in (intrinsic_shift, shift, correction, column_l1))
    m = h + n
    if np.any(h < 0) or np.any(n < 0) or m.size == 0:
        return None
    candidates = [(s, np.full_like(m, max(0, int(m.max()) - s))) for s in SPLIT_SHIFTS if int(m.max()) - s <= int(m.min())]
    candidates += [(s, m - np.minimum(m, s)) for s in SPLIT_SHIFTS]
    r = np.where(n > 0, np.left_shift(1, np.maximum(n - 1, 0)), 0)
    k = correction + np.left_shift(bias + r, h)
    for split, q_shift in candidates:
        t = m - q_shift
        kh = np.floor_divide(k, np.left_shift(1, t))
        kl = k - np.left_shift(kh, t)
        twice_o = np.where(q_shift > 0, 1 - np.left_shift(1, q_shift), 0)  # 2 o, in half units
        hi_magnitude, lo_magnitude = 1 << (16 - split), 1 << (split - 1)
        twice_u = 2 * np.left_shift(hi_magnitude * l1, split - t) + np.abs(2 * kh + twice_o)  # U's bound, half units
        lo_units = lo_magnitude * l1 + kl  # V's bound, units of 2**-t
        twice_z = twice_u + 2 * (np.right_shift(lo_units, t) + 1)
        if np.all(twice_u < FLOAT32_EXACT) and np.all(lo_units < FLOAT32_EXACT) and np.all(twice_z < FLOAT32_EXACT):
            down = np.ldexp(1.0, q_shift)
            return Int15Plan(split, np.ldexp(1.0, -t), kh + twice_o / 2.0, np.ldexp(kl.astype(np.float64), -t),
                             down[:1] if np.all(down == down[0]) else down)
    return None


def byte_split(f: Fragment, x: str, zero_point: int, split_shift: int = 8) -> tuple[str, str]:
    """(2**s hi, lo) of c = x - z for an int16 tensor x: c = 2**s hi + lo, hi = round(c / 2**s)
    (half to even), |hi| <= 2**(16-s), |lo| <= 2**(s-1), as float32 (exact: module docstring)."""
    int16_zero = lambda value: f.constant(np.asarray(value, dtype=np.int16))  # noqa: E731
    centred = f.node("DequantizeLinear", [x, f.constant(np.float32(1.0)), int16_zero(zero_point)])
    split_scale = f.constant(np.float32(1 << split_shift))
    hi = f.node("QuantizeLinear", [centred, split_scale, int16_zero(0)])
    hi_scaled = f.node("DequantizeLinear", [hi, split_scale, int16_zero(0)])
    return hi_scaled, f.node("Sub", [centred, hi_scaled])


def _requantized(f: Fragment, z_plus_o: str, down: np.ndarray, dtype: np.dtype, zero_point: int) -> str:
    """QuantizeLinear(Z + o, 2**q, zero_point) to `dtype`: floor(Z / 2**q) + zero_point, saturated."""
    per_channel = down.size > 1
    zero = np.full(down.shape, zero_point).astype(dtype) if per_channel else np.asarray(zero_point).astype(dtype)
    scale = down.astype(np.float32) if per_channel else np.float32(down[0])
    attributes = {"axis": 1} if per_channel else {}
    return f.node("QuantizeLinear", [z_plus_o, f.constant(scale), f.constant(zero)], **attributes)


def lower_int15_conv(op: q.QConv2DOp, f: Fragment, operands: Operands) -> list[str]:
    """An int16-input sima convolution in 9 nodes (module docstring), its int16 result with its
    table index alias; where `int15_plan` fails or the requantization is not sima to 8 / 16
    bits, `lower.lower_qconv2d`."""
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias").astype(np.int64)
    element, requantization, intrinsic_shift, column_l1, output_dtype = _gemm_plan(op, w, bias, (0, 1, 2))
    plan = None
    if isinstance(requantization, ArithFoldedRequantization) and output_dtype.itemsize <= 2:
        correction = element.zero_point_value * w.astype(np.int64).sum(axis=(0, 1, 2))
        plan = int15_plan(intrinsic_shift, requantization.shift, bias, correction, column_l1)
    if plan is None:
        return [result_in_form(f, name, op.output) for name in lower_qconv2d(op, f, operands)]
    attributes = conv_attributes(op, w.shape)
    weights = f.constant(np.ascontiguousarray((w.astype(np.float64) * plan.weight_scale).astype(np.float32).transpose(3, 2, 0, 1)))
    hi_bias, lo_bias = plan.hi_lo_biases()
    hi_scaled, lo = byte_split(f, operands.nchw(0), element.zero_point_value, plan.split_shift)
    u = f.node("Conv", [hi_scaled, weights, f.constant(hi_bias)], **attributes)
    v = f.node("Conv", [lo, weights, f.constant(lo_bias)], **attributes)
    z_plus_o = f.node("Add", [u, f.node("Floor", [v])])
    if op.has_relu:
        z_plus_o = f.node("Relu", [z_plus_o])
    result = nhwc_result(f, _requantized(f, z_plus_o, plan.down, output_dtype, 0))
    if output_dtype == INT16:
        index = _requantized(f, z_plus_o, plan.down, np.dtype(np.uint16), INT16_INDEX_OFFSET)
        f.index_aliases[result] = f.cast(index, INT32)
    return [result_in_form(f, result, op.output)]


# ---------------------------------------------------------------------------
# tables of an int16 value


def by_value(table_by_pattern: np.ndarray) -> np.ndarray:
    """A 65536-entry table laid out by int16 bit pattern, re-laid to be read at x + 32768."""
    return np.concatenate([table_by_pattern[INT16_INDEX_OFFSET:], table_by_pattern[:INT16_INDEX_OFFSET]])


def read_int16_table(f: Fragment, operands: Operands, table_by_pattern: np.ndarray, shape: tuple[int, ...] | None) -> str:
    """table[x] for the int16 operand 0 (result: its NHWC name): at the index alias a convolution
    left (NCHW) if any, else at Cast(x), in NCHW where the operand has it."""
    nchw_shape = tuple(shape[axis] for axis in NHWC_TO_NCHW) if shape is not None and len(shape) == 4 else None
    index = operands.index_aliases[0]
    if index is not None and nchw_shape is not None and table_by_pattern.shape == (1 << 16,):
        return nhwc_result(f, read_table(f, by_value(table_by_pattern), index, nchw_shape))
    if nchw_shape is not None and operands.has_nchw(0):
        return nhwc_result(f, read_table(f, table_by_pattern, f.cast(operands.nchw(0), INT32), nchw_shape))
    return read_table(f, table_by_pattern, f.cast(operands.name(0), INT32), shape)


def _static_shape(value: SSAValue) -> tuple[int, ...] | None:
    shape = tuple(value.type.get_shape())
    return shape if all(d >= 0 for d in shape) else None


def lower_int16_unary_table(op, f: Fragment, operands: Operands) -> list[str]:
    """lut, requantize, dequantize of an int16 value: its kernel's table (`read_int16_table`)."""
    if isinstance(op, q.LutOp):
        table = _tables(lambda: lut_table(INT16, operands.required_constant(1, "table")))
    else:
        table = _tables(lambda: unary_table(op, INT16))
    result = op.results[0]
    return [result_in_form(f, read_int16_table(f, operands, table, _static_shape(result)), result)]


def lower_int16_add(op, f: Fragment, operands: Operands) -> list[str]:
    """qadd / qsub of two int16 values: A = t_lhs +- t_rhs with t the rescaled inputs
    (`InputRescale.apply`, tabulated by the model's own function, as `lower.lower_wide_binary`),
    the multiplier folded into the tables: u = t M 2**-n in float64 (exact: |t M| < 2**38), so
    v = u_lhs +- u_rhs = A M 2**-n exactly (multiples of 2**-n below 2**39) and only
    `requantize.tflite_round` follows; the tables read at a convolution's index alias where one
    is there. Other operand types: the float form's lowering."""
    if _dtype(op.lhs) != INT16 or _dtype(op.rhs) != INT16:
        return FORM_LOWERINGS[type(op)](op, f, operands)
    requantization = op.requantization()
    multiplier, shift = np.asarray(requantization.multiplier), np.asarray(requantization.shift)
    if multiplier.size != 1 or shift.size != 1:
        raise NotLowerable("a per-channel requantization of an add")
    scale = np.ldexp(float(multiplier.reshape(())), -int(shift.reshape(())))
    left_shift = op.left_shift.value.data
    tables = []
    for index, rescale in enumerate(op.input_rescales()):
        table = value_table(lambda x, rescale=rescale: rescale.apply(x, left_shift), INT16)
        if table is None:
            raise NotLowerable(f"rescaling operand {index} can overflow")
        tables.append(table.astype(np.int64))
    if int(np.abs(tables[0]).max()) + int(np.abs(tables[1]).max()) > ACCUMULATOR_MAX:
        raise NotLowerable("the sum of the rescaled inputs can leave int32")
    scaled = [table.astype(np.float64) * scale for table in tables]  # exact: |t M| < 2**38
    shape = _static_shape(op.output)
    nchw = shape is not None and len(shape) == 4 and any(operands.has_nchw(i) for i in range(2))

    def add(names: list[str], static_shape) -> str:
        terms = []
        for index, (name, table) in enumerate(zip(names, scaled)):
            alias = operands.index_aliases[index] if nchw else None
            if alias is not None:
                terms.append(read_table(f, by_value(table), alias, static_shape))
            else:
                terms.append(read_table(f, table, f.cast(name, INT32), static_shape))
        v = f.node("Sub" if op.SUBTRACT else "Add", terms)
        return tflite_round(f, v, requantization.zero_point, False, storage_dtype(op.output))

    return [result_in_form(f, _elementwise_result(op, f, operands, add, 2), op.output)]


def lower_int16_quantize(op: q.QuantizeOp, f: Fragment, operands: Operands) -> list[str]:
    """float32 -> int16: `exact_float_form.lower_quantize_form`'s float64 nodes (the quotient,
    half away from zero, clipped, truncated) with the float32 values `quantize_mismatches`
    finds for this step and zero point patched (Equal, Where), then + z to int16. NaN inputs
    run the NumPy kernel, which refuses them (`program.py`). Other types: the float form's lowering."""
    if storage_dtype(op.output) != INT16 or _dtype(op.input) != np.float32:
        return FORM_LOWERINGS[q.QuantizeOp](op, f, operands)
    element = op.output.type.element_type
    step, zero_point = float(element.scale_value), element.zero_point_value
    if not (np.isfinite(step) and step > 0):
        raise NotLowerable(f"its step {step} is refused by the kernel")
    wrong, right = quantize_mismatches(step, zero_point, bits=16)
    if wrong.size > MAX_QUANTIZE_PATCHES:
        raise NotLowerable(f"its float64 rounding is wrong on {wrong.size} float32 values")
    info = np.iinfo(np.int16)

    def read(names, shape):
        quotient = f.node("Div", [f.cast(names[0], FLOAT64), f.constant(step, np.float64)])
        halved = f.node("Mul", [f.node("Sign", [quotient]), f.constant(0.5, np.float64)])
        bounds = [f.constant(float(int(bound) - zero_point), np.float64) for bound in (info.min, info.max)]
        centred = f.cast(f.node("Clip", [f.node("Add", [quotient, halved]), *bounds]), INT32)  # truncation: half away from zero
        for x, c in zip(wrong, right):
            matches = f.node("Equal", [names[0], f.constant(np.float32(x))])
            centred = f.node("Where", [matches, f.constant(np.int32(c)), centred])
        return f.cast(f.node("Add", [centred, f.constant(np.int32(zero_point))]), INT16_TYPE)

    return [_elementwise_result(op, f, operands, read)]


def lower_int16_softmax(op: q.QSoftmaxOp, f: Fragment, operands: Operands) -> list[str]:
    """`integer_arithmetic.softmax_integers` with an int16 row or result: `exact_float_form.lower_qsoftmax_form`'s
    float64 steps (every value an integer below 2**53; the quotient's Floor right while
    S (p + 1) < 2**53), the difference max - x in int32 (read in the 2**bits-entry table; an
    int8 row from its float form); the result to int16 (+ z) or to the float form of an int8
    result. int8 -> int8: the float form's lowering."""
    input_dtype, output_dtype = _dtype(op.input), storage_dtype(op.output)
    if input_dtype != INT16 and output_dtype != INT16:
        return FORM_LOWERINGS[q.QSoftmaxOp](op, f, operands)
    shape = _static_shape(op.input)
    if shape is None or output_dtype.kind != "i" or output_dtype.itemsize > 2 or input_dtype.kind != "i" or input_dtype.itemsize > 2:
        raise NotLowerable("a dynamic shape or a type other than int8 / int16")
    table = operands.required_constant(1, "table")
    multiplier, shift = op.multiplier.value.data, op.shift.value.data
    axis = op.axis.value.data % len(shape)
    try:  # the kernel's own checks of the table, M and n
        softmax_integers(np.zeros((1, 1), input_dtype), table, multiplier, shift, 0, 8 * output_dtype.itemsize)
    except Exception as error:
        raise NotLowerable(f"its constants are refused: {error}") from None
    largest_sum = shape[axis] << SOFTMAX_EXP_BITS
    if multiplier < 0 or largest_sum * ((1 << SOFTMAX_PROB_BITS) + 1) >= 1 << 53 or ((multiplier << SOFTMAX_PROB_BITS) + (1 << shift)) >= 1 << 53:
        raise NotLowerable("its float64 steps are not provably exact")
    axes = f.constant([axis], np.int64)
    if float_form(op.input) is not None:  # an int8 row held centred: max(c) - c = max(x) - x, exact
        c = operands.name(0)
        difference = f.cast(f.node("Sub", [f.node("ReduceMax", [c, axes], keepdims=1), c]), INT32)
    else:
        x = f.cast(operands.name(0), INT32)
        difference = f.node("Sub", [f.node("ReduceMax", [x, axes], keepdims=1), x])  # in [0, 2**bits - 1]
    exps = read_table(f, table.astype(np.float64), difference, shape)
    sums = f.node("ReduceSum", [exps, axes], keepdims=1)
    numerator = f.node("Add", [f.node("Mul", [exps, f.constant(float(1 << SOFTMAX_PROB_BITS), np.float64)]),
                               f.node("Floor", [f.node("Mul", [sums, f.constant(0.5, np.float64)])])])
    probability = f.node("Floor", [f.node("Div", [numerator, sums])])
    scaled = f.node("Add", [f.node("Mul", [probability, f.constant(float(multiplier), np.float64)]),
                            f.constant(float((1 << shift) >> 1), np.float64)])
    shifted = f.node("Floor", [f.node("Mul", [scaled, f.constant(np.ldexp(1.0, -shift), np.float64)])])  # p >= 0: half up = away
    info = np.iinfo(output_dtype)
    z = op.output.type.element_type.zero_point_value
    clipped = f.node("Clip", [shifted, f.constant(float(int(info.min) - z), np.float64), f.constant(float(int(info.max) - z), np.float64)])
    if float_form(op.output) is not None:  # an int8 result, held centred
        return [f.cast(clipped, FLOAT32)]
    return [f.cast(f.node("Add", [f.cast(clipped, INT32), f.constant(np.int32(z))]), onnx_type(output_dtype))]


# ---------------------------------------------------------------------------
# the form


def _by_input_width(int16_lowering: Callable, other: Callable) -> Callable:
    """`int16_lowering` where the op's first operand is int16, else `other`."""

    def lower(op, f: Fragment, operands: Operands) -> list[str]:
        if _dtype(op.operands[0]) == INT16:
            return int16_lowering(op, f, operands)
        return other(op, f, operands)

    return lower


EXACT_FORM_LOWERINGS: dict[type, Callable] = {
    **FORM_LOWERINGS,
    q.QConv2DOp: _by_input_width(lower_int15_conv, FORM_LOWERINGS[q.QConv2DOp]),
    **{kind: _by_input_width(lower_int16_unary_table, FORM_LOWERINGS[kind]) for kind in (q.LutOp, q.RequantizeOp, q.DequantizeOp)},
    q.QAddOp: lower_int16_add,
    q.QSubOp: lower_int16_add,
    q.QuantizeOp: lower_int16_quantize,
    q.QSoftmaxOp: lower_int16_softmax,
}
"""`exact_float_form.FORM_LOWERINGS` with the int16 lowerings above."""


class ExactForm(ExactFloatForm):
    """`ExactFloatForm` with this module's int16 lowerings."""

    lowerings = property(lambda self: EXACT_FORM_LOWERINGS)

    def chain_lowering(self, table: np.ndarray, shape: tuple[int, ...] | None, source: SSAValue, result: SSAValue):
        if _dtype(source) != INT16:
            return ExactFloatForm.chain_lowering(table, shape, source, result)

        def lower(op, f: Fragment, operands: Operands) -> list[str]:  # operand 0 is the chain's source
            return [result_in_form(f, read_int16_table(f, operands, table, shape), result)]

        return lower


EXACT_FORM = ExactForm()

__all__ = ["EXACT_FORM", "EXACT_FORM_LOWERINGS", "INT16_INDEX_OFFSET", "ExactForm", "Int15Plan", "byte_split", "int15_plan"]
