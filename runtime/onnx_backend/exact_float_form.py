"""Bit-exact sessions that hold every int8 tensor as float32 centred integers.

    OnnxProgram(interpreter, emulation=EXACT_FLOAT_FORM)    # what bit-exact `Model.execute` runs

The exact lowerings of `lower.py` keep each int8 tensor as int8 inside the
session, so every convolution reads it through DequantizeLinear and writes it
through QuantizeLinear, and every table read casts int8 to int32 first
(measured on cls int8: ~110 of the session's ~600 nodes). Here an int8 value
x of zero point z is held as the float32 integer c = x - z instead (exact:
|c| <= 255) and only converted back at a segment's outputs, so:

- qconv2d (int8 input and output, sima requantization): Conv on c itself (its
  zero padding is padding x with z), its float32 bias folding the requantization's
  1/2 (`requantize.sima_bias`), the input zero point's correction z_in * sum(w)
  and the output's -z_out; then Clip (which onnxruntime fuses into the Conv)
  and Round. Exact as in `lower.py`: v = (B' + P) 2**-n + 2**-(n+1) - z_out has
  every partial sum a multiple of 2**-(n+1) within 2**24 of them
  (`requantize.float32_offset_exact`, with z_out 2**n in B'), v is never a tie,
  and Round(Clip(v, L - z, H - z)) = clip(round(v + z), L, H) - z for integer
  bounds (relu: L = max(L, 0), as the model clamps the accumulator at 0);
- a convolution read only by tables of one value (lut, requantize, dequantize,
  fused chains) also leaves its table index without rounding (Round is a scalar
  loop in onnxruntime, ~2.5x a Cast): a second Conv whose bias adds 256 + 1/2
  (n >= 1: 2**(n-1) more in B'), so that u = v + 256 + 1/2 has floor(u) =
  round(v) + 256 (v + 1/2 + 2**-(n+1) crosses no integer that v + 1/2 does not);
  Clip to [L - z + 256, H - z + 256] and Cast (truncation = floor for u >= 1) give
  the index c + 256 in [1, 511] directly, read in a 512-entry table (two copies
  of the 256 below). The rounded path is pruned when nothing reads it;
- tables of an int8 value and of two (qadd, qsub, qmul): the same kernel-made
  tables (`exact_tables.py`) rotated so that they are read at c (and at
  256 c_a + c_b, computed exactly in float32): the 256 (65536) consecutive indices
  land on distinct entries modulo the table size, inside GatherElements'
  [-size, size) range for every zero point in [-128, 127]. Entries are stored in
  the result's form (centred float32 for an int8 result), so no conversion follows;
- qglobal_avg_pool: ReduceSum of c over H, W of the NCHW tensor (= sum(x) - count z,
  the model's accumulator; < 2**24), then `requantize.tflite_requantize`'s float64
  steps, the result centred;
- quantize (float32 -> int8): fl(fl(x / step) + sign / 2) in float64, clipped and
  truncated; `quantize_mismatches` finds, when the program is built, the float32
  values where that differs from the kernel (only the float32 values nearest to
  each tie can: checked), and up to 4 of them are patched with Equal + Where
  (more: the kernel runs in NumPy); NaN inputs run the NumPy kernel, which
  refuses them (`program.py`);
- max_pool and data movement: on c (every value of the op shares one zero point);
- every other op (and int16 values): its `lower.py` lowering on the IR's types,
  its int8 operands converted with QuantizeLinear (scale 1, z: round(c) + z, exact)
  and its int8 results back with DequantizeLinear; int16 programs are unchanged.

A block split into channel groups (conv -> lut -> depthwise conv -> requantize per
group, concat) is lowered as one producer Conv, one depthwise Conv and their table
reads, each group's constants side by side (`merged_groups.py`, called by `program.py`
where `merges_channel_groups`). The sessions' table reads are then joined to
onnxruntime's NCHWc layout (`blocked_layout.py`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.ir import SSAValue

import runtime.kernels  # noqa: F401  first: it completes runtime.integer_kernels' import cycle
from runtime.integer_arithmetic import (
    SOFTMAX_EXP_BITS,
    SOFTMAX_PROB_BITS,
    ArithFoldedRequantization,
    integer_range,
    quantize,
    softmax_integers,
)
from runtime.integer_kernels.boundary import storage_dtype
from runtime.integer_kernels.exact_float import FLOAT32_EXACT
from runtime.kernels.base import ints, static_shape
from runtime.onnx_backend.emulate import FloatEmulation, centred
from runtime.onnx_backend.exact_tables import PAIR_TABLE_SIZE, lut_table, pair_table, read_table, unary_table
from runtime.onnx_backend.graph import FLOAT32, FLOAT64, INT32, NHWC_TO_NCHW, Fragment
from runtime.onnx_backend.lower import (
    INT16_LOWERINGS,
    LOWERINGS,
    TABLE_LOWERINGS,
    NotLowerable,
    Operands,
    _elementwise_result,
    _fused_sima_bias,
    _gemm_plan,
    _magnitude,
    _scaled_weights,
    _tables,
    conv_attributes,
    lower_chain,
    lower_int8_pair,
    lower_max_pool,
    lower_pad,
    lower_qconv2d,
    lower_qglobal_avg_pool,
    max_pool_attributes,
    nhwc_result,
)
from runtime.onnx_backend.requantize import floor_offset_bias
from sima_dialect import ops
from sima_dialect import quantized_ops as q
from sima_dialect.element_types import element_type_to_numpy
from sima_dialect.types import QuantizedType

INT8 = np.dtype(np.int8)
UNARY_TABLE_SIZE = 256
INDEX_OFFSET = 256  # a convolution's table index: c + 256 in [1, 511] (|c| <= 255)


def float_form(value: SSAValue) -> QuantizedType | None:
    """The element type of `value` if the session holds it as centred float32 (int8 quantized), else None."""
    element = getattr(value.type, "element_type", None)
    if not isinstance(element, QuantizedType) or storage_dtype(value) != INT8:
        return None
    return element


def _zero(f: Fragment, element: QuantizedType) -> str:
    return f.constant(np.asarray(element.zero_point_value).astype(np.int8))


def to_ir(f: Fragment, c: str, element: QuantizedType) -> str:
    """int8 x = c + z from the centred float32 c (QuantizeLinear, scale 1: exact, c holds integers)."""
    return f.node("QuantizeLinear", [c, f.constant(np.float32(1.0)), _zero(f, element)])


def from_ir(f: Fragment, x: str, element: QuantizedType) -> str:
    """c = x - z as float32 from int8 x (DequantizeLinear, scale 1: exact)."""
    return f.node("DequantizeLinear", [x, f.constant(np.float32(1.0)), _zero(f, element)])


class ExactFloatForm:
    """How the exact sessions hold values (int8: centred float32; others: the IR's type), for `OnnxProgram`."""

    exact = True  # program.py: chains fused, NumPy fallbacks logged at debug level
    joins_nchwc = True  # program.py: table reads joined to the convolutions' NCHWc layout (blocked_layout.py)
    merges_channel_groups = True  # program.py: channel-grouped blocks lowered as one (merged_groups.py)

    lowerings = property(lambda self: FORM_LOWERINGS)

    @staticmethod
    def constant(value: SSAValue, array: np.ndarray) -> np.ndarray:
        return centred(array, float_form(value))

    # int8 values cross the session's boundary as fast mode's float emulation's do (scale-1
    # DequantizeLinear / QuantizeLinear: exact); other values stay in the IR's type
    @staticmethod
    def graph_input(f: Fragment, name: str, value: SSAValue) -> str:
        return name if float_form(value) is None else FloatEmulation.graph_input(f, name, value)

    @staticmethod
    def graph_output(f: Fragment, name: str, value: SSAValue) -> str:
        return name if float_form(value) is None else FloatEmulation.graph_output(f, name, value)

    @staticmethod
    def chain_lowering(table: np.ndarray, shape: tuple[int, ...] | None, source: SSAValue, result: SSAValue):
        """A fused chain's table (by the source's bit patterns) read at the source's form."""
        def lower(op, f: Fragment, operands: Operands) -> list[str]:
            if float_form(source) is not None:
                return [_unary_read(op, f, operands, table, source, result, shape)]
            # an int16 source (in its IR type): the table of `lower.py`, its result to the float form
            return [result_in_form(f, lower_chain(table, shape)(op, f, operands)[0], result)]

        return lower


EXACT_FLOAT_FORM = ExactFloatForm()


# ---------------------------------------------------------------------------
# ops on the IR's types, inside a float-form session


class _IrOperands(Operands):
    """An op's operands in the IR's types: its int8 operands converted from their float form."""

    def __init__(self, outer: Operands, op, f: Fragment):
        names, aliases = list(outer._names), list(outer._aliases)
        for index, value in enumerate(op.operands):
            element = float_form(value)
            if outer._constants[index] is not None:
                names[index], aliases[index] = None, None  # made from the raw constant when read
            elif element is not None:
                names[index] = to_ir(f, names[index], element)
                aliases[index] = None if aliases[index] is None else to_ir(f, aliases[index], element)
        super().__init__(f, names, list(outer._constants), None, aliases)


def on_ir_types(lowering: Callable) -> Callable:
    """`lowering` (of `lower.py`) run on the IR's types, its int8 results returned in float form."""

    def lower(op, f: Fragment, operands: Operands) -> list[str]:
        results = lowering(op, f, _IrOperands(operands, op, f))
        return [result_in_form(f, name, value) for name, value in zip(results, op.results)]

    return lower


def result_in_form(f: Fragment, name: str, value: SSAValue) -> str:
    """A result `name` computed in the IR's type, in its float form (with its NCHW alias, if any)."""
    element = float_form(value)
    if element is None:
        return name
    centred = from_ir(f, name, element)
    if name in f.nchw_aliases:
        f.nchw_aliases[centred] = from_ir(f, f.nchw_aliases[name], element)
    return centred


# ---------------------------------------------------------------------------
# tables


def _result_entries(values: np.ndarray, result: SSAValue) -> np.ndarray:
    """Table entries (the IR's values) in the result's form."""
    element = float_form(result)
    if element is None:
        return values
    return (values.astype(np.float64) - element.zero_point_value).astype(np.float32)


def centred_unary_table(table_by_pattern: np.ndarray, source: QuantizedType) -> np.ndarray:
    """T rotated so that entry c mod 256 is T[c + z] (T laid out by int8 bit pattern): read at c."""
    if table_by_pattern.shape != (UNARY_TABLE_SIZE,):
        raise NotLowerable(f"an int8 table of {table_by_pattern.shape[0]} entries")
    return np.roll(table_by_pattern, -source.zero_point_value)


def centred_pair_table(table: np.ndarray, lhs: QuantizedType, rhs: QuantizedType) -> np.ndarray:
    """The pair table (at (a * 256 + b) mod 65536) rotated to be read at 256 (a - z_a) + (b - z_b)."""
    return np.roll(table, -(256 * lhs.zero_point_value + rhs.zero_point_value))


def _index(f: Fragment, centred: str) -> str:
    return f.cast(centred, INT32)  # exact: c holds integers


def _unary_read(op, f: Fragment, operands: Operands, table_by_pattern, source: SSAValue, result: SSAValue, shape) -> str:
    element = float_form(source)
    table = _result_entries(centred_unary_table(table_by_pattern, element), result)
    index = operands.index_aliases[0]
    if index is not None and shape is not None and len(shape) == 4:  # a convolution's c + INDEX_OFFSET, in NCHW
        indexed = np.tile(table, 2)  # entry k: T at c = k - 256, i.e. at k mod 256
        return nhwc_result(f, read_table(f, indexed, index, tuple(shape[axis] for axis in NHWC_TO_NCHW)))

    def read(names, static_shape):
        return read_table(f, table, _index(f, names[0]), static_shape)

    if shape is not None and operands.has_nchw(0) and len(shape) == 4:
        return nhwc_result(f, read([operands.nchw(0)], tuple(shape[axis] for axis in NHWC_TO_NCHW)))
    return read([operands.name(0)], shape)


def _static_shape(value: SSAValue) -> tuple[int, ...] | None:
    shape = tuple(value.type.get_shape())
    return shape if all(d >= 0 for d in shape) else None


def lower_unary_table(op, f: Fragment, operands: Operands) -> list[str]:
    """lut, requantize, dequantize of an int8 value: its kernel's table read at c."""
    if float_form(op.operands[0]) is None:
        return on_ir_types(TABLE_LOWERINGS[type(op)])(op, f, operands)
    if isinstance(op, q.LutOp):
        table = _tables(lambda: lut_table(INT8, operands.required_constant(1, "table")))
    else:
        table = _tables(lambda: unary_table(op, INT8))
    return [_unary_read(op, f, operands, table, op.operands[0], op.results[0], _static_shape(op.results[0]))]


def lower_pair_table(op, f: Fragment, operands: Operands) -> list[str]:
    """qadd / qsub / qmul of two int8 values: its kernel's pair table read at 256 c_a + c_b."""
    lhs, rhs = float_form(op.lhs), float_form(op.rhs)
    if lhs is None or rhs is None:
        return on_ir_types(lower_int8_pair)(op, f, operands)
    table = _result_entries(centred_pair_table(_tables(lambda: pair_table(op)), lhs, rhs), op.output)
    assert table.shape == (PAIR_TABLE_SIZE,)

    def read(names, shape):
        index = f.node("Add", [f.node("Mul", [names[0], f.constant(np.float32(256.0))]), names[1]])  # |.| < 2**17: exact
        return read_table(f, table, _index(f, index), shape)

    return [_elementwise_result(op, f, operands, read, 2)]


# ---------------------------------------------------------------------------
# convolution


def lower_qconv2d_form(op: q.QConv2DOp, f: Fragment, operands: Operands) -> list[str]:
    """An int8 sima convolution from and to centred float32 (module docstring); else `lower.lower_qconv2d`."""
    source, target = float_form(op.input), float_form(op.output)
    if source is None or target is None or not isinstance(op.requantization(), ArithFoldedRequantization):
        return on_ir_types(lower_qconv2d)(op, f, operands)
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias").astype(np.int64)
    plan = _gemm_plan(op, w, bias, (0, 1, 2))
    _, requantization, _, column_l1, _ = plan
    c_out = w.shape[-1]
    magnitude = _magnitude(source)  # |x - z_in|
    if magnitude * int(column_l1.max(initial=0)) >= FLOAT32_EXACT:
        raise NotLowerable("its float32 product is not provably exact (column norm too large)")
    shift = np.broadcast_to(np.asarray(requantization.shift, dtype=np.int64), (c_out,))
    correction = source.zero_point_value * w.astype(np.int64).sum(axis=(0, 1, 2))
    z_out = target.zero_point_value
    fused_bias = _fused_sima_bias(plan, bias + correction - z_out * np.left_shift(np.int64(1), shift), magnitude * column_l1)
    if fused_bias is None:
        return on_ir_types(lower_qconv2d)(op, f, operands)
    weights = _scaled_weights(w, plan).transpose(3, 2, 0, 1)  # HWIO -> OIHW
    attributes = conv_attributes(op, w.shape)
    weight_name, x = f.constant(np.ascontiguousarray(weights)), operands.nchw(0)
    low, high = integer_range(8)
    if op.has_relu:
        low = max(low, 0)
    product = f.node("Conv", [x, weight_name, f.constant(fused_bias)], **attributes)
    clipped = f.node("Clip", [product, f.constant(np.float32(low - z_out)), f.constant(np.float32(high - z_out))])
    result = nhwc_result(f, f.node("Round", [clipped]))
    if _read_by_tables_only(op.output) and np.all(shift >= 1):
        # u = v + INDEX_OFFSET + 1/2: floor(u) = round(v) + INDEX_OFFSET (module docstring); Cast truncates, = floor for u >= 1
        index_bias = floor_offset_bias(bias + correction, INDEX_OFFSET - z_out, shift)
        index_fused = _fused_sima_bias(plan, index_bias, magnitude * column_l1)
        if index_fused is not None:
            shifted = f.node("Conv", [x, weight_name, f.constant(index_fused)], **attributes)
            bounds = [f.constant(np.float32(bound - z_out + INDEX_OFFSET)) for bound in (low, high)]
            f.index_aliases[result] = f.cast(f.node("Clip", [shifted, *bounds]), INT32)
    return [result]


def _read_by_tables_only(value: SSAValue) -> bool:
    """True when every op reading `value` is a table of one value (lut, requantize, dequantize:
    they read a convolution's index alias; else the convolution's rounded values are needed)."""
    readers = [use.operation for use in value.uses]
    return bool(readers) and all(isinstance(reader, (q.LutOp, q.RequantizeOp, q.DequantizeOp)) for reader in readers)


# ---------------------------------------------------------------------------
# quantize (float32 input)


def rounded_quotients(x: np.ndarray, step: float, low: float, high: float) -> np.ndarray:
    """What `lower_quantize_form`'s nodes compute, in NumPy's IEEE float64 (the same operations,
    each correctly rounded): clip(fl(fl(x / step) + sign * 1/2), low, high), truncated."""
    quotient = np.asarray(x, dtype=np.float32).astype(np.float64) / step
    return np.trunc(np.clip(quotient + np.sign(quotient) * 0.5, low, high))


def quantize_mismatches(step: float, zero_point: int, formula: Callable = rounded_quotients, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The float32 x (but NaN) where `formula` differs from sima.quantize's centred integers
    (`integer_arithmetic.quantize` to `bits` minus z), and the right integers there.

    fl(x / step) is within |q| 2**-53 of the exact quotient q and the add within as much, so the
    rounding is right unless q lies that close to a tie k + 1/2, i.e. x to (k + 1/2) step; a float32
    x next to that product is ~|q| 2**-24 away, so only the float32 values nearest to each
    (k + 1/2) step can be that close: checked here, with a few neighbours each, for every tie
    below saturation. Larger quotients (and infinities) saturate in both."""
    low, high = integer_range(bits)
    ties = np.arange(low - zero_point - 2, high - zero_point + 2, dtype=np.float64) + 0.5
    nearest = (ties * step).astype(np.float32)
    candidates = [nearest]
    for direction in (np.float32(np.inf), np.float32(-np.inf)):
        neighbour = nearest
        for _ in range(3):
            neighbour = np.nextafter(neighbour, direction)
            candidates.append(neighbour)
    x = np.unique(np.concatenate(candidates))
    x = x[np.isfinite(x)]
    expected = quantize(x, step, zero_point, bits).astype(np.int64) - zero_point
    produced = formula(x, step, float(low - zero_point), float(high - zero_point))
    wrong = produced != expected
    return x[wrong], expected[wrong]


def quantize_is_exact(step: float, zero_point: int, formula: Callable = rounded_quotients) -> bool:
    """True when `formula` gives sima.quantize's integers on every float32 x but NaN (`quantize_mismatches`)."""
    return quantize_mismatches(step, zero_point, formula)[0].size == 0


MAX_QUANTIZE_PATCHES = 4
"""float32 inputs whose float64 quotient crosses a tie, patched with Where (two passes each)."""


def lower_quantize_form(op: q.QuantizeOp, f: Fragment, operands: Operands) -> list[str]:
    """float32 -> int8 (centred): `rounded_quotients` in float64 nodes, with the few float32 values
    `quantize_mismatches` finds for this step and zero point patched (Equal, Where). NaN (which the
    kernel refuses) is checked by `OnnxProgram.run` before the session (`program.py`)."""
    target = float_form(op.output)
    if target is None or _dtype_of(op.input) != np.float32:
        raise NotLowerable("only float32 -> int8 is lowered")
    step, zero_point = float(target.scale_value), target.zero_point_value
    if not (np.isfinite(step) and step > 0):
        raise NotLowerable(f"its step {step} is refused by the kernel")
    wrong, right = quantize_mismatches(step, zero_point)
    if wrong.size > MAX_QUANTIZE_PATCHES:
        raise NotLowerable(f"its float64 rounding is wrong on {wrong.size} float32 values")
    low, high = integer_range(8)

    def read(names, shape):
        quotient = f.node("Div", [f.cast(names[0], FLOAT64), f.constant(step, np.float64)])
        halved = f.node("Mul", [f.node("Sign", [quotient]), f.constant(0.5, np.float64)])
        bounds = [f.constant(float(bound - zero_point), np.float64) for bound in (low, high)]
        clipped = f.node("Clip", [f.node("Add", [quotient, halved]), *bounds])
        result = f.cast(f.cast(clipped, INT32), FLOAT32)  # truncation: round half away from zero
        for x, c in zip(wrong, right):
            matches = f.node("Equal", [names[0], f.constant(np.float32(x))])
            result = f.node("Where", [matches, f.constant(np.float32(c)), result])
        return result

    return [_elementwise_result(op, f, operands, read)]


def _dtype_of(value: SSAValue) -> np.dtype:
    return np.dtype(element_type_to_numpy(value.type.element_type))


# ---------------------------------------------------------------------------
# softmax (the classifiers' last op)


def lower_qsoftmax_form(op: q.QSoftmaxOp, f: Fragment, operands: Operands) -> list[str]:
    """`integer_arithmetic.softmax_integers` of an int8 row in float64: e = T[max - x]
    (< 2**24), S = sum e, p = floor((e 2**15 + floor(S / 2)) / S), y = (p M + 2**(n-1)) >> n.
    Every value is an integer below 2**53, so exact, but the quotient: fl(a / S) is
    within p 2**-53 of a / S, and a / S short of an integer is at least 1 / S below it,
    so Floor is right when S (p + 1) < 2**53 (S <= N 2**23, p <= 2**15: checked)."""
    source, target = float_form(op.input), float_form(op.output)
    shape = static_shape(op.input)
    if source is None or target is None:
        raise NotLowerable("only int8 -> int8 softmax is lowered")
    table = operands.required_constant(1, "table")
    multiplier, shift = op.multiplier.value.data, op.shift.value.data
    axis = op.axis.value.data % len(shape)
    try:  # the kernel's own checks of the table, M and n (as `integer_kernels.softmax` runs them once)
        softmax_integers(np.zeros((1, 1), np.int8), table, multiplier, shift, 0, 8)
    except Exception as error:
        raise NotLowerable(f"its constants are refused: {error}") from None
    largest_sum = shape[axis] << SOFTMAX_EXP_BITS
    if multiplier < 0 or largest_sum * ((1 << SOFTMAX_PROB_BITS) + 1) >= 1 << 53 or ((multiplier << SOFTMAX_PROB_BITS) + (1 << shift)) >= 1 << 53:
        raise NotLowerable("its float64 steps are not provably exact")
    x = operands.name(0)
    axes = f.constant([axis], np.int64)
    difference = f.node("Sub", [f.node("ReduceMax", [x, axes], keepdims=1), x])  # max(c) - c = max(x) - x, in [0, 255]
    exps = read_table(f, table.astype(np.float64), _index(f, difference), tuple(shape))
    sums = f.node("ReduceSum", [exps, axes], keepdims=1)
    numerator = f.node("Add", [f.node("Mul", [exps, f.constant(float(1 << SOFTMAX_PROB_BITS), np.float64)]),
                               f.node("Floor", [f.node("Mul", [sums, f.constant(0.5, np.float64)])])])
    probability = f.node("Floor", [f.node("Div", [numerator, sums])])
    half = float((1 << shift) >> 1)
    scaled = f.node("Add", [f.node("Mul", [probability, f.constant(float(multiplier), np.float64)]), f.constant(half, np.float64)])
    shifted = f.node("Floor", [f.node("Mul", [scaled, f.constant(np.ldexp(1.0, -shift), np.float64)])])
    low, high = integer_range(8)
    z = target.zero_point_value
    clipped = f.node("Clip", [shifted, f.constant(float(low - z), np.float64), f.constant(float(high - z), np.float64)])
    return [f.cast(clipped, FLOAT32)]


# ---------------------------------------------------------------------------
# global average pool


def lower_qglobal_avg_pool_form(op: q.QGlobalAvgPoolOp, f: Fragment, operands: Operands) -> list[str]:
    """The sum of c (= sum(x) - count z_in, the model's accumulator) over H and W of the NCHW
    operand (contiguous axes), then `requantize.tflite_requantize`'s steps with the output centred."""
    source, target = float_form(op.input), float_form(op.output)
    _, height, width, _ = static_shape(op.input)
    count = height * width
    if source is None or target is None or count * _magnitude(source) >= FLOAT32_EXACT:
        return on_ir_types(lower_qglobal_avg_pool)(op, f, operands)
    sums = f.node("ReduceSum", [operands.nchw(0), f.constant([2, 3], np.int64)], keepdims=1)  # exact: < 2**24
    scale = np.ldexp(float(op.multiplier.value.data), -int(op.shift.value.data))
    v = f.node("Mul", [f.cast(sums, FLOAT64), f.constant(scale, np.float64)])  # exact, as tflite_requantize's
    w = f.node("Add", [v, f.node("Mul", [f.node("Sign", [v]), f.constant(0.5, np.float64)])])
    low, high = integer_range(8)
    z = target.zero_point_value
    clipped = f.node("Clip", [w, f.constant(float(low - z), np.float64), f.constant(float(high - z), np.float64)])
    return [nhwc_result(f, f.cast(f.cast(clipped, INT32), FLOAT32))]  # trunc: half away from zero


# ---------------------------------------------------------------------------
# max pool and data movement


def _one_zero_point(op) -> bool:
    """True when every value of the op is in float form with one zero point, or none is."""
    elements = [float_form(value) for value in (*op.operands, *op.results)]
    if all(element is None for element in elements):
        return True
    return all(element is not None for element in elements) and len({e.zero_point_value for e in elements}) == 1


def lower_max_pool_form(op: ops.MaxPoolOp, f: Fragment, operands: Operands) -> list[str]:
    if float_form(op.input) is None or not _one_zero_point(op):
        return on_ir_types(lower_max_pool)(op, f, operands)
    y = f.node("MaxPool", [operands.nchw(0)], **max_pool_attributes(op))
    return [nhwc_result(f, y)]


def lower_pad_form(op: ops.PadOp, f: Fragment, operands: Operands) -> list[str]:
    element = float_form(op.input)
    if element is None or not _one_zero_point(op):
        return on_ir_types(lower_pad)(op, f, operands)
    inputs = [operands.name(0), f.constant(ints(op.pads), np.int64)]
    if op.mode.data == "constant":
        inputs.append(f.constant(np.float32(op.value.value.data - element.zero_point_value)))
    return [f.node("Pad", inputs, mode=op.mode.data)]


def on_values(lowering: Callable) -> Callable:
    """A data-movement lowering (it selects values): on the float form where all its values share
    one zero point (pure int8 / other values: as they are), else on the IR's types."""

    def lower(op, f: Fragment, operands: Operands) -> list[str]:
        if _one_zero_point(op):
            return lowering(op, f, operands)
        return on_ir_types(lowering)(op, f, operands)

    return lower


DATA_MOVEMENT = (ops.ReshapeOp, ops.TransposeOp, ops.ConcatOp, ops.SliceOp, ops.SplitOp, ops.ExpandOp, ops.ResizeOp)

FORM_LOWERINGS: dict[type, Callable] = {
    **{kind: on_ir_types(lowering) for kind, lowering in {**LOWERINGS, **TABLE_LOWERINGS, **INT16_LOWERINGS}.items()},
    **{kind: on_values(LOWERINGS[kind]) for kind in DATA_MOVEMENT},
    q.QMulOp: lower_pair_table,
    q.QAddOp: lower_pair_table,
    q.QSubOp: lower_pair_table,
    q.LutOp: lower_unary_table,
    q.RequantizeOp: lower_unary_table,
    q.DequantizeOp: lower_unary_table,
    q.QConv2DOp: lower_qconv2d_form,
    q.QGlobalAvgPoolOp: lower_qglobal_avg_pool_form,
    q.QuantizeOp: lower_quantize_form,
    q.QSoftmaxOp: lower_qsoftmax_form,
    ops.MaxPoolOp: lower_max_pool_form,
    ops.PadOp: lower_pad_form,
}
"""sima op class -> its lowering in the float form (ops not listed run in NumPy)."""

__all__ = ["EXACT_FLOAT_FORM", "FORM_LOWERINGS", "ExactFloatForm", "float_form"]
