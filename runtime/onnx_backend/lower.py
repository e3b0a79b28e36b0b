"""One lowering function per `sima` op kind: the op as exact ONNX nodes.

    LOWERINGS[type(op)](op, fragment, operands) -> names of the op's results

A lowering either emits nodes that compute exactly the integers of the op's
NumPy kernel (`runtime.integer_kernels`, the definition) for every input the
op's types allow, or raises `NotLowerable` before emitting anything (the op
then runs in NumPy). How exactness is proven, per kind:

- Functions of one int8 / int16 value (requantize, dequantize, lut) and of
  two int8 values (qadd, qsub, qmul) are tables made by the op's own NumPy
  kernel over every input value (pair), read with Gather: right by
  construction. If the kernel refuses a value (an overflow the model checks),
  the op is not lowered.
- qconv2d / qdense (int8 input): the product runs in float32 on the input
  (centred on its zero point when the op pads) with the weights scaled by
  2**-shift; every partial sum, in any order, is bounded by
  max|x| * sum_k |w[k, c]| < 2**24, so it is exact. int16 input: the input
  split into a high and a low byte part (x = 256 * hi + lo), each product
  exact in float32 likewise; with a sima requantization to 8 / 16 bits, the
  int15 floor, the bias and the rounding are folded into the two products'
  weights and biases so that all stays in float32 (`_int15_float32_plan`,
  where its bounds hold); otherwise joined in float64 (< 2**53) and floored
  by 2**-h as the int15 algorithm does (~20 passes, half in float64: slower
  than NumPy's product alone, but a product left to NumPy would cut the
  session in two, which costs more: det int16, 5 such convolutions of 90,
  measured 0.70 of the NumPy interpreter's time this way, 0.79 cut).
  Only when `GemmBounds` proves that none
  of the model's int32 checks can fail (else the checked NumPy kernel runs
  and raises where the data overflows). The requantization: `requantize.py`.
- qmatmul: both operands centred, float32 where K * |a| * |b| < 2**24.
- qglobal_avg_pool: the sum of the raw integers in float32 (H*W*2**(bits-1) < 2**24), else float64.
- Data movement (reshape, transpose, concat, slice, split, pad, expand,
  max_pool, nearest resize) selects values and rounds nothing; nearest
  resize reads the float runtime's own index maps.

Tensors are NHWC, as in the IR; convolutions and max pools compute in NCHW and
leave their NCHW result as an alias (`nhwc_result`) that the next convolution,
max pool or table op of the same session reads, so no Transpose runs between
them (the NHWC Transposes nobody reads are pruned, `program._live_nodes`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import runtime.kernels  # noqa: F401  first: it completes runtime.integer_kernels' import cycle
from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    ArithFoldedRequantization,
    TFLiteRequantization,
)
from runtime.integer_kernels.boundary import quantized_element, storage_dtype
from runtime.integer_kernels.exact_float import FLOAT32_EXACT, GemmBounds, value_table
from runtime.kernels.base import ints, static_shape
from runtime.kernels.resize import nearest_indices, source_coordinates
from runtime.onnx_backend.exact_tables import TableNotLowerable, lut_table, pair_table, read_by_value, read_pair, unary_table
from runtime.onnx_backend.graph import FLOAT32, FLOAT64, NCHW_TO_NHWC, NHWC_TO_NCHW, Fragment, onnx_type
from runtime.onnx_backend.requantize import float32_offset_exact, round_to_integers, sima_bias, sima_requantize, tflite_requantize
from sima_dialect import ops
from sima_dialect import quantized_ops as q
from sima_dialect.element_types import element_type_to_numpy
from sima_dialect.types import QuantizedType

INT8, INT16 = np.dtype(np.int8), np.dtype(np.int16)
SMALL_INTEGERS = (INT8, INT16)


class NotLowerable(Exception):
    """The op has no exact ONNX form here (the reason says why); it runs in NumPy."""


class Operands:
    """An op's operands as the lowering sees them: ONNX value names, and the
    arrays of those known at compile time (constants become initializers
    only when a lowering reads them by name)."""

    def __init__(
        self,
        fragment: Fragment,
        names: list[str | None],
        constants: list[np.ndarray | None],
        constant_form: Callable[[int, np.ndarray], np.ndarray] | None = None,
        nchw_aliases: list[str | None] | None = None,
        index_aliases: list[str | None] | None = None,
    ):
        self._fragment = fragment
        self._names = names
        self._constants = constants
        # operands already computed transposed to NCHW in the same session (by a conv, a pool, a table read)
        self._aliases = list(nchw_aliases) if nchw_aliases is not None else [None] * len(names)
        # operands a convolution of the session left as table indices too (`exact_float_form`)
        self.index_aliases = list(index_aliases) if index_aliases is not None else [None] * len(names)
        # how a constant read by name is stored in the graph (fast mode: centred floats), by operand index
        self._constant_form = constant_form

    def name(self, index: int) -> str:
        if self._names[index] is None:
            constant = self._constants[index]
            if constant is None:
                raise NotLowerable(f"operand {index} is absent")
            if self._constant_form is not None:
                constant = self._constant_form(index, constant)
            self._names[index] = self._fragment.constant(constant)
        return self._names[index]

    def constant(self, index: int) -> np.ndarray | None:
        return self._constants[index]

    def has_nchw(self, index: int) -> bool:
        return self._aliases[index] is not None

    def nchw(self, index: int) -> str:
        """Operand `index` (rank 4, NHWC) transposed to NCHW: its alias if the session has one."""
        if self._aliases[index] is None:
            constant = self._constants[index]
            if constant is not None and self._constant_form is None:
                self._aliases[index] = self._fragment.constant(np.ascontiguousarray(np.transpose(constant, NHWC_TO_NCHW)))
            else:
                self._aliases[index] = self._fragment.transpose(self.name(index), NHWC_TO_NCHW)
        return self._aliases[index]

    def required_constant(self, index: int, what: str) -> np.ndarray:
        value = self._constants[index]
        if value is None:
            raise NotLowerable(f"its {what} is not a constant")
        return value


Lowering = Callable[[object, Fragment, Operands], list[str]]


def _dtype(value) -> np.dtype:
    return np.dtype(element_type_to_numpy(value.type.element_type))


# ---------------------------------------------------------------------------
# tables


def nhwc_result(f: Fragment, y: str) -> str:
    """The NHWC result of an NCHW value `y`, remembering `y` as its alias (the ops after
    it in the session read `y`; the Transpose is dropped if nothing else reads it)."""
    result = f.transpose(y, NCHW_TO_NHWC)
    f.nchw_aliases[result] = y
    return result


def _elementwise_result(
    op, f: Fragment, operands: Operands, read: Callable[[list[str], tuple[int, ...] | None], str], count: int = 1
) -> str:
    """An elementwise op's result from `read(names of its first `count` operands, result shape)`:
    on the operands' NCHW aliases when one has one (rank 4 only), so no Transpose runs between
    convolutions."""
    shape = static_shape(op.results[0]) if all(d >= 0 for d in op.results[0].type.get_shape()) else None
    ranks = [len(value.type.get_shape()) for value in op.operands[:count]]
    if any(operands.has_nchw(i) for i in range(count)) and all(rank == 4 for rank in ranks) and shape is not None:
        nchw_shape = tuple(shape[axis] for axis in NHWC_TO_NCHW)
        return nhwc_result(f, read([operands.nchw(i) for i in range(count)], nchw_shape))
    return read([operands.name(i) for i in range(count)], shape)


def _gather_by_value(f: Fragment, table_by_pattern: np.ndarray, x: str) -> str:
    """table[bit pattern of x] for int8 / int16 x (`exact_tables.read_by_value`)."""
    return read_by_value(f, table_by_pattern, x)


def _tables(build: Callable[[], np.ndarray]) -> np.ndarray:
    try:
        return build()
    except TableNotLowerable as reason:
        raise NotLowerable(str(reason)) from None


def lower_tabulated_unary(op, f: Fragment, operands: Operands) -> list[str]:
    """requantize, dequantize: tabulated by their own kernel."""
    table = _tables(lambda: unary_table(op, _dtype(op.input)))
    return [_elementwise_result(op, f, operands, lambda x, shape: read_by_value(f, table, x[0], shape))]


def lower_lut(op: q.LutOp, f: Fragment, operands: Operands) -> list[str]:
    table = operands.required_constant(1, "table")
    table = _tables(lambda: lut_table(_dtype(op.input), table))
    return [_elementwise_result(op, f, operands, lambda x, shape: read_by_value(f, table, x[0], shape))]


def lower_int8_pair(op, f: Fragment, operands: Operands) -> list[str]:
    """qadd, qsub, qmul of two int8 operands: one 65536-entry table of the kernel
    (`exact_tables.pair_table`); with an int16 operand, `lower_wide_binary`."""
    if _dtype(op.lhs) != INT8 or _dtype(op.rhs) != INT8:
        return lower_wide_binary(op, f, operands)
    table = _tables(lambda: pair_table(op))
    return [_elementwise_result(op, f, operands, lambda ab, shape: read_pair(f, table, ab[0], ab[1], shape), 2)]


def lower_chain(table: np.ndarray, shape: tuple[int, ...] | None) -> Lowering:
    """A chain of elementwise ops fused into one table (`integer_kernels.chains`), read at its source."""
    def lower(op, f: Fragment, operands: Operands) -> list[str]:
        # the fused step's one operand is the chain's source, its result the chain's last
        def read(x: list[str], shape) -> str:
            return read_by_value(f, table, x[0], shape)

        if operands.has_nchw(0) and shape is not None and len(shape) == 4:
            return [nhwc_result(f, read([operands.nchw(0)], tuple(shape[axis] for axis in NHWC_TO_NCHW)))]
        return [read([operands.name(0)], shape)]

    return lower


def _magnitude(element: QuantizedType) -> int:
    """max |q - z| over the storage type."""
    low, high = -(1 << (element.bits - 1)), (1 << (element.bits - 1)) - 1
    return max(abs(low - element.zero_point_value), abs(high - element.zero_point_value))


def lower_wide_binary(op, f: Fragment, operands: Operands) -> list[str]:
    """qadd / qsub / qmul with an int16 operand, in float64 (exact, see each branch)."""
    lhs_element, rhs_element = quantized_element(op.lhs), quantized_element(op.rhs)
    output_dtype = storage_dtype(op.output)
    requantization = op.requantization()
    left_shift = op.left_shift.value.data
    if isinstance(op, q.QMulOp):
        # ((a - z_a) * (b - z_b)) << L: |product| < 2**34, exact in float64; the model's int32 check proven by the types
        if (_magnitude(lhs_element) * _magnitude(rhs_element)) << left_shift > ACCUMULATOR_MAX:
            raise NotLowerable("the product << left_shift can leave int32 (the checked kernel decides on the data)")

        def multiply(names: list[str], shape) -> str:
            centered = []
            for name, element in zip(names, (lhs_element, rhs_element)):
                value = f.cast(name, FLOAT64)
                if element.zero_point_value:
                    value = f.node("Sub", [value, f.constant(float(element.zero_point_value), np.float64)])
                centered.append(value)
            product = f.node("Mul", centered)
            return tflite_requantize(f, product, requantization.multiplier, requantization.shift, requantization.zero_point,
                                     False, output_dtype, left_shift=left_shift)

        return [_elementwise_result(op, f, operands, multiply, 2)]  # on the NCHW aliases, if any: no Transposes
    # add / sub: t_i = the rescaled inputs, tabulated by the model's own function; A = t_lhs +- t_rhs
    tables = []
    for index, (rescale, value) in enumerate(zip(op.input_rescales(), (op.lhs, op.rhs))):
        dtype = _dtype(value)
        if dtype not in SMALL_INTEGERS:
            raise NotLowerable(f"operand {index} is {dtype}")
        table = value_table(lambda x, rescale=rescale: rescale.apply(x, left_shift), dtype)
        if table is None:
            raise NotLowerable(f"rescaling operand {index} can overflow")
        tables.append(table)
    if int(np.abs(tables[0]).max()) + int(np.abs(tables[1]).max()) > ACCUMULATOR_MAX:
        raise NotLowerable("the sum of the rescaled inputs can leave int32")

    def add(names: list[str], shape) -> str:
        rescaled = [f.cast(_gather_by_value(f, t.astype(np.float64), name), FLOAT64) for name, t in zip(names, tables)]
        accumulator = f.node("Sub" if op.SUBTRACT else "Add", rescaled)  # |t_lhs +- t_rhs| < 2**31: exact
        return tflite_requantize(f, accumulator, requantization.multiplier, requantization.shift, requantization.zero_point,
                                 False, output_dtype)

    return [_elementwise_result(op, f, operands, add, 2)]


# ---------------------------------------------------------------------------
# matrix products


def _gemm_plan(op: q.QuantizedGemmOp, w: np.ndarray, bias: np.ndarray, column_axes):
    """(input element, requantization, intrinsic shift per channel, column L1 norms, output dtype),
    after checking that `GemmBounds` proves the model's int32 checks for every input."""
    element = quantized_element(op.input)
    if element.bits not in (8, 16):
        raise NotLowerable(f"its input is {element.bits}-bit")
    output_dtype = storage_dtype(op.output)
    if output_dtype.kind != "i":
        raise NotLowerable(f"its output is {output_dtype}")
    requantization = op.requantization()
    if not isinstance(requantization, ArithFoldedRequantization | TFLiteRequantization):
        raise NotLowerable(f"{type(requantization).__name__} has no integer form")
    c_out = w.shape[-1]
    intrinsic_shift = np.broadcast_to(op.intrinsic_shift_values(), (c_out,))
    column_l1 = np.abs(w.astype(np.int64)).sum(axis=column_axes)
    if not GemmBounds(column_l1, element.bits, bias, intrinsic_shift).proves_checks:
        raise NotLowerable("its weights do not prove the int32 checks (the checked kernel decides on the data)")
    return element, requantization, intrinsic_shift, column_l1, output_dtype


def _split_bytes(f: Fragment, centered: str) -> tuple[str, str]:
    """(hi, lo) with x = 256 * hi + lo, lo in [0, 255], of an integer-valued float32 tensor (exact)."""
    hi = f.node("Floor", [f.node("Mul", [centered, f.constant(1.0 / 256, np.float32)])])
    lo = f.node("Sub", [centered, f.node("Mul", [hi, f.constant(256.0, np.float32)])])
    return hi, lo


def _fused_sima_bias(plan, bias: np.ndarray, product_bound: np.ndarray) -> np.ndarray | None:
    """The float32 bias of an int8 sima GEMM that then rounds with `round_to_integers`, or None
    where that is not provably exact (int16 input, output beyond 16 bits, tflite, the bound)."""
    element, requantization, _, _, output_dtype = plan
    if element.bits != 8 or output_dtype.itemsize > 2 or not isinstance(requantization, ArithFoldedRequantization):
        return None
    shift = np.broadcast_to(requantization.shift, bias.shape)
    if not float32_offset_exact(product_bound, bias, shift):
        return None
    return sima_bias(bias, shift).astype(np.float32)


def _requantize_product(
    op: q.QuantizedGemmOp, f: Fragment, product: str, plan, bias: np.ndarray, channel_shape: tuple[int, ...], int15: bool
) -> str:
    """The output integers of the exact product without its bias, in float64: float32
    S * 2**-n (sima, int8), float32 S (tflite, int8) or float64 P (int16, `_int15_product`)."""
    _, requantization, _, _, output_dtype = plan
    if isinstance(requantization, ArithFoldedRequantization):
        shift = np.broadcast_to(requantization.shift, bias.shape)
        if int15:  # P in float64: scale by 2**-n here
            product = f.node("Mul", [product, f.constant(np.ldexp(1.0, -shift).reshape(channel_shape))])
        return sima_requantize(f, product, bias, shift, op.has_relu, output_dtype, channel_shape, FLOAT64 if int15 else FLOAT32)
    if not int15:
        product = f.cast(product, FLOAT64)
    accumulator = f.node("Add", [product, f.constant(bias.astype(np.float64).reshape(channel_shape))])
    return tflite_requantize(f, accumulator, requantization.multiplier, requantization.shift, requantization.zero_point,
                             op.has_relu, output_dtype, channel_shape)


def _int15_product(f: Fragment, joined: str, correction: np.ndarray, intrinsic_shift: np.ndarray, channel_shape) -> str:
    """P = floor((S + correction) * 2**-h) from S in float64 (exact: |S| < 2**40)."""
    if np.any(correction != 0):
        joined = f.node("Add", [joined, f.constant(correction.astype(np.float64).reshape(channel_shape))])
    return f.node("Floor", [f.node("Mul", [joined, f.constant(np.ldexp(1.0, -intrinsic_shift).reshape(channel_shape))])])


def _int15_float32_plan(plan, bias: np.ndarray, correction: np.ndarray, column_l1: np.ndarray):
    """The int15 product and sima requantization of an int16 input entirely in float32, or
    None where a bound below fails (then `_int15_product` and float64 run).

    With the centred input c = 256 hi + lo (hi in [-256, 255], lo in [0, 255]), H, L their
    exact products, the correction z * sum(w) = 256 ch + cl (cl in [0, 255]), j = 8 - h,
    d = min(n, j), the model's y = floor((P + B + r) 2**-n), P = floor((256 H + L + corr) 2**-h),
    r = 2**(n-1) (0 if n = 0), and B + r = 2**d Bh + Bl (Bl in [0, 2**d)):

        U  = H 2**e + ch 2**e + Bh                          e = j - d (integers)
        V' = floor((L + cl + Bl 2**h) 2**-(h+d))            (nested floors: floor(floor(a / p) / q) = floor(a / (p q)))
        y  = floor((U + V') 2**-k)                          k = n - d

    U is one Conv on hi (weights 2**e w, bias ch 2**e + Bh), V' one Conv on lo (weights
    2**-(h+d) w, bias (cl + Bl 2**h) 2**-(h+d)) and a Floor. Every partial sum of each
    Conv, in any order, is a multiple of its unit within 2**24 units, and so is U + V':
    the bounds checked here. Returns per-channel (hi weight scale, hi bias, lo weight
    scale, lo bias, 2**-k), float64 arrays (exact values)."""
    element, requantization, intrinsic_shift, _, output_dtype = plan
    if element.bits != 16 or not isinstance(requantization, ArithFoldedRequantization) or output_dtype.itemsize > 2:
        return None  # (QuantizeLinear saturates to 8 / 16 bits only)
    c_out = bias.shape[0]
    h = np.broadcast_to(intrinsic_shift, (c_out,)).astype(np.int64)
    n = np.broadcast_to(requantization.shift, (c_out,)).astype(np.int64)
    j = 8 - h
    if np.any(j < 0):
        return None
    d = np.minimum(n, j)
    e, k = j - d, n - d
    r = np.where(n > 0, np.left_shift(1, np.maximum(n - 1, 0)), 0)
    ch, cl = np.floor_divide(correction, 256), np.mod(correction, 256)
    bh, bl = np.floor_divide(bias + r, np.left_shift(1, d)), np.mod(bias + r, np.left_shift(1, d))
    l1 = column_l1.astype(np.int64)
    hi_bias = ch * np.left_shift(1, e) + bh
    u_bound = np.left_shift(256 * l1, e) + np.abs(hi_bias)  # |hi| <= 256
    lo_units = 255 * l1 + cl + np.left_shift(bl, h)  # units of 2**-(h+d)
    v_bound = (lo_units >> (h + d)) + 1
    if np.any(u_bound >= FLOAT32_EXACT) or np.any(lo_units >= FLOAT32_EXACT) or np.any(u_bound + v_bound >= FLOAT32_EXACT):
        return None
    return (np.ldexp(1.0, e), hi_bias.astype(np.float64), np.ldexp(1.0, -(h + d)),
            np.ldexp((cl + np.left_shift(bl, h)).astype(np.float64), -(h + d)), np.ldexp(1.0, -k))


def _int15_float32_output(op, f: Fragment, hi_product: str, lo_product: str, scales, channel_shape, output_dtype) -> str:
    """y from U (`hi_product`) and the lo product before its Floor (`_int15_float32_plan`)."""
    summed = f.node("Add", [hi_product, f.node("Floor", [lo_product])])
    down = scales[4]
    if np.any(down != 1.0):
        summed = f.node("Floor", [f.node("Mul", [summed, f.constant(down.astype(np.float32).reshape(channel_shape))])])
    if op.has_relu:
        summed = f.node("Relu", [summed])
    return round_to_integers(f, summed, output_dtype)  # integers already: QuantizeLinear only saturates and casts


def _weight_scale(plan, c_out: int) -> np.ndarray:
    """2**-n per output channel for a sima int8 product (folded into the weights), else 1."""
    element, requantization, *_ = plan
    if element.bits == 8 and isinstance(requantization, ArithFoldedRequantization):
        return np.ldexp(1.0, -np.broadcast_to(requantization.shift, (c_out,)))
    return np.ones(c_out)


def _scaled_weights(w: np.ndarray, plan) -> np.ndarray:
    """The integer weights times `_weight_scale` (output channel last), float32: exact (8-bit w, 2**-n)."""
    return (w.astype(np.float64) * _weight_scale(plan, w.shape[-1])).astype(np.float32)


def _float_input(f: Fragment, x: str, dtype: np.dtype, zero_point: int, center: bool) -> str:
    """x, or x - z when centring, as float32 (exact): DequantizeLinear with scale 1."""
    zero = f.constant(np.asarray(zero_point if center else 0).astype(dtype))
    return f.node("DequantizeLinear", [x, f.constant(1.0, np.float32), zero])


def conv_attributes(op, weight_shape) -> dict:
    """The ONNX Conv attributes of a conv2d op (sima or quantized) with HWIO weights of `weight_shape`."""
    return dict(kernel_shape=list(weight_shape[:2]), pads=list(ints(op.pads)), strides=list(ints(op.strides)),
                dilations=list(ints(op.dilations)), group=op.groups.value.data)


def max_pool_attributes(op) -> dict:
    """The ONNX MaxPool attributes of a max_pool op."""
    return dict(kernel_shape=list(ints(op.kernel)), strides=list(ints(op.strides)), pads=list(ints(op.pads)),
                dilations=list(ints(op.dilations)))


def lower_qconv2d(op: q.QConv2DOp, f: Fragment, operands: Operands) -> list[str]:
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias").astype(np.int64)
    plan = _gemm_plan(op, w, bias, (0, 1, 2))
    element, _, intrinsic_shift, column_l1, output_dtype = plan
    pads = ints(op.pads)
    c_out = w.shape[-1]
    zero_point = element.zero_point_value
    int15 = element.bits == 16
    center = (any(pads) or int15) and zero_point != 0  # zero padding of x - z_in is padding x with z_in
    # the centred input's parts: int8 whole ([-255, 255] at most); int16 its bytes (hi in [-256, 255], lo in [0, 255])
    part_magnitude = 256 if int15 else _magnitude(element) if center else 128
    if part_magnitude * int(column_l1.max(initial=0)) >= FLOAT32_EXACT:
        raise NotLowerable("its float32 product is not provably exact (column norm too large)")
    correction = zero_point * w.astype(np.int64).sum(axis=(0, 1, 2)) if center else np.zeros(c_out, np.int64)
    weights = _scaled_weights(w, plan).transpose(3, 2, 0, 1)  # HWIO -> OIHW
    attributes = conv_attributes(op, w.shape)
    weight_name = f.constant(np.ascontiguousarray(weights))
    channels = (c_out, 1, 1)
    x = _float_input(f, operands.nchw(0), _dtype(op.input), zero_point, center)  # transposes 1-2 bytes, not 4
    float32_int15 = _int15_float32_plan(plan, bias, correction, column_l1) if int15 else None
    if float32_int15 is not None:
        hi, lo = _split_bytes(f, x)
        products = []
        for part, scale, part_bias in ((hi, float32_int15[0], float32_int15[1]), (lo, float32_int15[2], float32_int15[3])):
            part_weights = (w.astype(np.float64) * scale).astype(np.float32).transpose(3, 2, 0, 1)
            products.append(f.node("Conv", [part, f.constant(np.ascontiguousarray(part_weights)), f.constant(part_bias.astype(np.float32))],
                                   **attributes))
        return [nhwc_result(f, _int15_float32_output(op, f, *products, float32_int15, channels, output_dtype))]
    if int15:
        hi, lo = _split_bytes(f, x)
        both = f.node("Conv", [f.node("Concat", [hi, lo], axis=0), weight_name], **attributes)
        batch = static_shape(op.output)[0]
        wide = f.cast(both, FLOAT64)
        high, low = (f.node("Slice", [wide, f.constant([start], np.int64), f.constant([start + batch], np.int64), f.constant([0], np.int64)])
                     for start in (0, batch))
        joined = f.node("Add", [f.node("Mul", [high, f.constant(256.0, np.float64)]), low])
        y = _requantize_product(op, f, _int15_product(f, joined, correction, intrinsic_shift, channels), plan, bias, channels, True)
        return [nhwc_result(f, y)]
    fused_bias = _fused_sima_bias(plan, bias + correction, part_magnitude * column_l1)
    if fused_bias is not None:
        product = f.node("Conv", [x, weight_name, f.constant(fused_bias)], **attributes)
        if op.has_relu:
            product = f.node("Relu", [product])
        return [nhwc_result(f, round_to_integers(f, product, output_dtype))]
    product = f.node("Conv", [x, weight_name], **attributes)
    return [nhwc_result(f, _requantize_product(op, f, product, plan, bias + correction, channels, False))]


def lower_qdense(op: q.QDenseOp, f: Fragment, operands: Operands) -> list[str]:
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias").astype(np.int64)
    plan = _gemm_plan(op, w, bias, 0)
    element, _, intrinsic_shift, column_l1, output_dtype = plan
    int15 = element.bits == 16
    part_magnitude = 256 if int15 else 128
    if part_magnitude * int(column_l1.max(initial=0)) >= FLOAT32_EXACT:
        raise NotLowerable("its float32 product is not provably exact (column norm too large)")
    c_out = w.shape[1]
    weights = f.constant(_scaled_weights(w, plan))
    zero_point = element.zero_point_value
    float32_int15 = _int15_float32_plan(plan, bias, zero_point * w.astype(np.int64).sum(axis=0), column_l1) if int15 else None
    if float32_int15 is not None:
        hi, lo = _split_bytes(f, _float_input(f, operands.name(0), _dtype(op.input), zero_point, True))
        products = []
        for part, scale, part_bias in ((hi, float32_int15[0], float32_int15[1]), (lo, float32_int15[2], float32_int15[3])):
            part_weights = f.constant((w.astype(np.float64) * scale).astype(np.float32))
            products.append(f.node("Add", [f.node("MatMul", [part, part_weights]), f.constant(part_bias.astype(np.float32))]))
        return [_int15_float32_output(op, f, *products, float32_int15, (c_out,), output_dtype)]
    if int15:
        hi, lo = _split_bytes(f, _float_input(f, operands.name(0), _dtype(op.input), zero_point, True))
        products = [f.cast(f.node("MatMul", [part, weights]), FLOAT64) for part in (hi, lo)]
        joined = f.node("Add", [f.node("Mul", [products[0], f.constant(256.0, np.float64)]), products[1]])
        correction = zero_point * w.astype(np.int64).sum(axis=0)
        return [_requantize_product(op, f, _int15_product(f, joined, correction, intrinsic_shift, (c_out,)), plan, bias, (c_out,), True)]
    product = f.node("MatMul", [_float_input(f, operands.name(0), _dtype(op.input), 0, False), weights])
    fused_bias = _fused_sima_bias(plan, bias, part_magnitude * column_l1)
    if fused_bias is not None:
        product = f.node("Add", [product, f.constant(fused_bias)])
        if op.has_relu:
            product = f.node("Relu", [product])
        return [round_to_integers(f, product, output_dtype)]
    return [_requantize_product(op, f, product, plan, bias, (c_out,), False)]


def lower_qmatmul(op: q.QMatMulOp, f: Fragment, operands: Operands) -> list[str]:
    lhs, rhs = quantized_element(op.lhs), quantized_element(op.rhs)
    k = op.lhs.type.get_shape()[-1]
    left_shift, requantization = op.left_shift.value.data, op.requantization()
    if k < 0:
        raise NotLowerable("its reduction length is dynamic")
    bound = k * _magnitude(lhs) * _magnitude(rhs)
    if (bound << left_shift) > ACCUMULATOR_MAX:
        raise NotLowerable("the sum << left_shift can leave int32 (the checked kernel decides on the data)")
    if bound >= FLOAT32_EXACT:
        raise NotLowerable("its float32 product is not provably exact")
    a = _float_input(f, operands.name(0), _dtype(op.lhs), lhs.zero_point_value, True)
    b = _float_input(f, operands.name(1), _dtype(op.rhs), rhs.zero_point_value, True)
    product = f.cast(f.node("MatMul", [a, b]), FLOAT64)
    return [tflite_requantize(f, product, requantization.multiplier, requantization.shift, requantization.zero_point,
                              False, storage_dtype(op.output), left_shift=left_shift)]


# ---------------------------------------------------------------------------
# pools


def lower_qglobal_avg_pool(op: q.QGlobalAvgPoolOp, f: Fragment, operands: Operands) -> list[str]:
    element = quantized_element(op.input)
    _, height, width, _ = static_shape(op.input)
    count = height * width
    if count * _magnitude(element) > ACCUMULATOR_MAX:
        raise NotLowerable("its sum can leave int32 (the checked kernel decides on the data)")
    raw_magnitude = 1 << (element.bits - 1)
    # the sum of the raw integers: float32 where it stays below 2**24, else float64 (< 2**53: int32 is checked above)
    sum_type = FLOAT32 if count * raw_magnitude < FLOAT32_EXACT else FLOAT64
    # over H, W of the NCHW alias (contiguous axes) if the session has one, else of the NHWC value
    nchw = operands.has_nchw(0)
    x, axes = (operands.nchw(0), [2, 3]) if nchw else (operands.name(0), [1, 2])
    sums = f.node("ReduceSum", [f.cast(x, sum_type), f.constant(axes, np.int64)], keepdims=1)
    accumulator = sums if sum_type == FLOAT64 else f.cast(sums, FLOAT64)
    if element.zero_point_value:
        accumulator = f.node("Sub", [accumulator, f.constant(float(count * element.zero_point_value), np.float64)])
    out = quantized_element(op.output)
    result = tflite_requantize(f, accumulator, op.multiplier.value.data, op.shift.value.data, out.zero_point_value,
                               False, storage_dtype(op.output))
    return [nhwc_result(f, result) if nchw else result]


def lower_max_pool(op: ops.MaxPoolOp, f: Fragment, operands: Operands) -> list[str]:
    dtype = _dtype(op.input)
    x = operands.nchw(0)
    if dtype in (INT16, np.dtype(np.uint16)):  # no int16 MaxPool in onnxruntime: float32 holds every value
        x = f.cast(x, FLOAT32)
    elif dtype not in (INT8, np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64)):
        raise NotLowerable(f"onnxruntime's MaxPool takes no {dtype}")
    y = f.node("MaxPool", [x], **max_pool_attributes(op))
    if dtype in (INT16, np.dtype(np.uint16)):
        y = f.cast(y, onnx_type(dtype))
    return [nhwc_result(f, y)]


# ---------------------------------------------------------------------------
# data movement


def lower_reshape(op: ops.ReshapeOp, f: Fragment, operands: Operands) -> list[str]:
    return [f.node("Reshape", [operands.name(0), f.constant(static_shape(op.output), np.int64)])]


def lower_transpose(op: ops.TransposeOp, f: Fragment, operands: Operands) -> list[str]:
    return [f.transpose(operands.name(0), ints(op.perm))]


def lower_concat(op: ops.ConcatOp, f: Fragment, operands: Operands) -> list[str]:
    return [f.node("Concat", [operands.name(i) for i in range(len(op.inputs))], axis=op.axis.value.data)]


def lower_slice(op: ops.SliceOp, f: Fragment, operands: Operands) -> list[str]:
    starts, ends, steps = ints(op.starts), ints(op.ends), ints(op.steps)
    # `range` semantics: a negative step's end of -1 means "through index 0", ONNX's INT64_MIN
    ends = [np.iinfo(np.int64).min if step < 0 and end < 0 else end for end, step in zip(ends, steps)]
    axes = list(range(len(starts)))
    return [f.node("Slice", [operands.name(0), f.constant(starts, np.int64), f.constant(ends, np.int64),
                             f.constant(axes, np.int64), f.constant(steps, np.int64)])]


def lower_split(op: ops.SplitOp, f: Fragment, operands: Operands) -> list[str]:
    axis = op.axis.value.data
    sizes = [static_shape(result)[axis] for result in op.outputs]
    if len(sizes) == 1:
        return [f.node("Identity", [operands.name(0)])]
    return f.multi_output_node("Split", [operands.name(0), f.constant(sizes, np.int64)], len(sizes), axis=axis)


def lower_pad(op: ops.PadOp, f: Fragment, operands: Operands) -> list[str]:
    mode = op.mode.data
    inputs = [operands.name(0), f.constant(ints(op.pads), np.int64)]
    if mode == "constant":
        inputs.append(f.constant(np.asarray(op.value.value.data).astype(_dtype(op.input))))
    return [f.node("Pad", inputs, mode=mode)]


def lower_expand(op: ops.ExpandOp, f: Fragment, operands: Operands) -> list[str]:
    return [f.node("Expand", [operands.name(0), f.constant(static_shape(op.output), np.int64)])]


def lower_resize(op: ops.ResizeOp, f: Fragment, operands: Operands) -> list[str]:
    if op.mode.data != "nearest":
        raise NotLowerable("linear resize rounds (only nearest resize is data movement)")
    _, in_h, in_w, _ = static_shape(op.input)
    _, out_h, out_w, _ = static_shape(op.output)
    coordinate_mode, nearest_mode = op.coordinate_mode.data, op.nearest_mode.data
    rows = nearest_indices(source_coordinates(in_h, out_h, coordinate_mode), in_h, nearest_mode)
    cols = nearest_indices(source_coordinates(in_w, out_w, coordinate_mode), in_w, nearest_mode)
    by_rows = f.node("Gather", [operands.name(0), f.constant(rows, np.int64)], axis=1)
    return [f.node("Gather", [by_rows, f.constant(cols, np.int64)], axis=2)]


def lower_wide_qmul(op: q.QMulOp, f: Fragment, operands: Operands) -> list[str]:
    """qmul with an int16 operand, in float64 arithmetic (two int8 operands: a pair table, `lower_int8_pair`)."""
    if _dtype(op.lhs) == INT8 and _dtype(op.rhs) == INT8:
        raise NotLowerable("two int8 operands: a pair table (tables_in_onnx)")
    return lower_wide_binary(op, f, operands)


LOWERINGS: dict[type, Lowering] = {
    q.QConv2DOp: lower_qconv2d,
    q.QDenseOp: lower_qdense,
    q.QMatMulOp: lower_qmatmul,
    q.QGlobalAvgPoolOp: lower_qglobal_avg_pool,
    ops.MaxPoolOp: lower_max_pool,
    ops.ReshapeOp: lower_reshape,
    ops.TransposeOp: lower_transpose,
    ops.ConcatOp: lower_concat,
    ops.SliceOp: lower_slice,
    ops.SplitOp: lower_split,
    ops.PadOp: lower_pad,
    ops.ExpandOp: lower_expand,
    ops.ResizeOp: lower_resize,
}
"""sima op class -> its lowering (ops not listed run in NumPy)."""

TABLE_LOWERINGS: dict[type, Lowering] = {
    q.RequantizeOp: lower_tabulated_unary,
    q.DequantizeOp: lower_tabulated_unary,
    q.LutOp: lower_lut,
    q.QAddOp: lower_int8_pair,
    q.QSubOp: lower_int8_pair,
    q.QMulOp: lower_int8_pair,
}
"""The table ops, read with GatherElements (`exact_tables.py`: at NumPy's `take` speed,
where onnxruntime's Gather is ~10x slower), so they stay inside the session; on by
default (`OnnxProgram(..., tables_in_onnx=False)` runs them in NumPy)."""

INT16_LOWERINGS: dict[type, Lowering] = {
    q.QMulOp: lower_wide_qmul,
}
"""qmul with an int16 operand in float64 arithmetic (exact) when the tables run in NumPy
(`tables_in_onnx=False`; a dozen float64 passes where NumPy makes three): opt-in
(`OnnxProgram(..., int16_ops=True)`). With the tables (the default) it runs in the session."""

__all__ = ["INT16_LOWERINGS", "LOWERINGS", "TABLE_LOWERINGS", "NotLowerable", "Operands"]
