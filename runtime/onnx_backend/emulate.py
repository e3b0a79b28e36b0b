"""fast mode on onnxruntime: the quantized program as one float ONNX graph that emulates it.

    OnnxProgram(fast_interpreter, emulation=FLOAT_EMULATION)    # what Model.execute(fast_mode=True) runs

Seed 003 defines fast mode as "bit-approximate evaluation using
TensorFlow-optimized code ... fast but may not match the MLA implementation";
onnxruntime plays TensorFlow's part here. Every quantized tensor is carried in
the graph as float32 holding its centred integers c = q - z (exact for 8 / 16-bit
types, |c| < 2**17; an int32 result, output_int32, to 24 bits); float tensors
stay float32. Each op becomes float ops on c:

- gemms (qconv2d, qdense, qconv2d_transpose): Conv / MatMul / ConvTranspose with
  the integer weights times the requantization's scale (2**-n, or M 2**-n) and
  2**-h, the bias holding the zero-point corrections and the rounding's 1/2,
  then (Relu, fused into the Conv, and) the requantization below with scale 1:
  the bias' extra 2**-(n+1) makes its rounding sima's floor(A 2**-n + 1/2)
  exactly when the float32 sums are exact (int8 inputs: the weights' column
  norms keep them below 2**24); int16 inputs: fast mode's float32 product,
  without the int15 floor (as `runtime.fast_kernels`);
- requantizations: QuantizeLinear (rounding, saturating) then DequantizeLinear
  back to c, two vectorized passes, half the time of Mul, Round and Clip
  (measured). requantize, qmul, qadd / qsub and qglobal_avg_pool compute the
  model's accumulator times its factor M 2**(L - n) exactly in float32 (int8
  operands; a value of 24 bits) and round it half away from zero as the model
  does (`_away_from_zero`): bit-exact for int8 but where a sum leaves 24 bits.
  qmatmul, qavg_pool, qsoftmax, qlayer_norm and qresize_linear take the factor as
  the QuantizeLinear scale (ties to even), and what the integer arithmetic rounds
  in between (softmax's Q15 probabilities, layer norm's Q11 z, linear resize's
  Q-weights) is not rounded;
- quantize (float32 -> int8): bit-exact's rounding of the exact quotient, in float64
  (`rounded_quantize.py`), dequantized to the centred integers; else (16 bits, a step
  not proven) QuantizeLinear, ties to even on a float32 quotient;
- lut: the float function the table samples, recognized from the table
  (`table_functions.py`), then the requantization; a table not recognized is
  read with Gather (exact, slower);
- data movement: the exact lowerings of `lower.py` (they select values, whatever
  their type); max_pool and pad on the centred values;
- float (APU) ops: their ONNX ops (`float_ops.py`).

It is not bit-exact: where it differs, and by how much on the real models, is
measured by `test/test_fast_mode_onnx.py` and `bench/bench_quantized_execute.py`.
The values enter a segment through DequantizeLinear (scale 1, the zero point:
q - z, exact) and leave it through QuantizeLinear (round, + z, saturate).
Ops with no lowering here run on the interpreter's fast NumPy kernels between
segments (`program.py` logs each at INFO level, naming it).
"""

from __future__ import annotations

import numpy as np
from xdsl.ir import SSAValue

import runtime.kernels  # noqa: F401  first: it completes runtime.integer_kernels' import cycle
from runtime.integer_arithmetic import ArithFoldedRequantization, TFLiteRequantization, integer_range
from runtime.integer_kernels.boundary import quantized_element, storage_dtype
from runtime.kernels.base import ints, static_shape
from runtime.onnx_backend import table_functions
from runtime.onnx_backend.float_ops import FLOAT_LOWERINGS
from runtime.onnx_backend.graph import INT64, NCHW_TO_NHWC, NHWC_TO_NCHW, Fragment, onnx_type
from runtime.onnx_backend.lower import (
    NotLowerable,
    Operands,
    conv_attributes,
    lower_concat,
    lower_expand,
    lower_reshape,
    lower_resize,
    lower_slice,
    lower_split,
    lower_transpose,
    max_pool_attributes,
)
from runtime.onnx_backend.rounded_quantize import quantize_op_bytes
from sima_dialect import ops
from sima_dialect import quantized_ops as q
from sima_dialect.element_types import element_type_to_numpy
from sima_dialect.types import QuantizedType


def _quantized(value: SSAValue) -> QuantizedType | None:
    element = getattr(value.type, "element_type", None)
    return element if isinstance(element, QuantizedType) else None


def _centred_bounds(element: QuantizedType) -> tuple[float, float]:
    low, high = integer_range(element.bits)
    return float(low - element.zero_point_value), float(high - element.zero_point_value)


def _clip(f: Fragment, value: str, element: QuantizedType) -> str:
    """Clip to the centred range of `element`."""
    bottom, top = _centred_bounds(element)
    return f.node("Clip", [value, f.constant(np.float32(bottom)), f.constant(np.float32(top))])


def _scale(f: Fragment, value: str, factor: float) -> str:
    return value if factor == 1.0 else f.node("Mul", [value, f.constant(np.float32(factor))])


def _requantized(f: Fragment, value: str, factor: float, element: QuantizedType, *, push: float = 0.0) -> str:
    """c = clip(round(value * factor)) on `element`'s centred grid, rounding half to even
    (`push`: |value| scaled by about 1 + push first, see `_away_from_zero`).

    8 / 16 bits: QuantizeLinear (scale 1 / factor, the zero point) then DequantizeLinear
    (scale 1): two vectorized passes, half the time of Mul, Round and Clip (measured)."""
    if element.bits <= 16:
        zero = f.constant(np.asarray(element.zero_point_value).astype(np.int8 if element.bits <= 8 else np.int16))
        scale = np.float32(1.0 - push) if factor == 1.0 else np.float32(1.0 / (factor * (1.0 + push)))
        stored = f.node("QuantizeLinear", [value, f.constant(scale), zero])
        return f.node("DequantizeLinear", [stored, f.constant(np.float32(1.0)), zero])
    return _clip(f, f.node("Round", [_scale(f, value, factor * (1.0 + push))]), element)


def _away_from_zero(fraction_bits: int, element: QuantizedType) -> float:
    """The push that makes round-half-to-even round an exact value v = N 2**-d half away
    from zero, as the model does: the QuantizeLinear scale 1 - 2**-k (exact) scales |v| by
    1 + 2**-k, rounded once, which moves a tie off its half (k <= 23) and no other v across
    one (|v| (2**-k + 2**-24) < 2**-d for the centred |v| < 2**bits, beyond which the result
    saturates anyway): k = d + bits + 1. Where k > 23, no push fits: ties round to even."""
    exponent = fraction_bits + element.bits + 1
    return float(np.ldexp(1.0, -exponent)) if exponent <= 23 else 0.0


def _exact_requantized(f: Fragment, value: str, fraction_bits: int, element: QuantizedType) -> str:
    """`value` holds the model's exact accumulator times its exact factor, N 2**-d: rounded half away."""
    return _requantized(f, value, 1.0, element, push=_away_from_zero(max(0, fraction_bits), element))


def _tflite_ratio(multiplier: int, shift: int, left_shift: int = 0) -> float:
    """M 2**(L - n): the real factor of a TFLite requantization."""
    return float(np.ldexp(float(multiplier), int(left_shift) - int(shift)))


def _fail_unless_integer_output(op) -> QuantizedType:
    element = quantized_element(op.results[0])
    if storage_dtype(op.results[0]).kind != "i":
        raise NotLowerable(f"its result is stored as {storage_dtype(op.results[0])}")
    return element


# ---------------------------------------------------------------------------
# the boundary and constants


class FloatEmulation:
    """How fast mode's values are held in the graph (centred integers in float32), for `OnnxProgram`."""

    lowerings = property(lambda self: FAST_LOWERINGS)

    @staticmethod
    def constant(value: SSAValue, array: np.ndarray) -> np.ndarray:
        return centred(array, _quantized(value))

    @staticmethod
    def graph_input(f: Fragment, name: str, value: SSAValue) -> str:
        """The graph input (the IR's type) that `name` (the emulation's form) is made from."""
        element = _quantized(value)
        if element is None:
            return name
        stored = f"{name}_stored"
        zero = f.constant(np.asarray(element.zero_point_value).astype(storage_dtype(value)))
        f.rename(f.node("DequantizeLinear", [stored, f.constant(np.float32(1.0)), zero]), name)
        return stored

    @staticmethod
    def graph_output(f: Fragment, name: str, value: SSAValue) -> str:
        """The graph output (the IR's type) made from `name`."""
        element = _quantized(value)
        if element is None:
            return name
        dtype = storage_dtype(value)
        if dtype.itemsize <= 2:  # round (a no-op: c holds integers), + z, saturate, cast
            zero = f.constant(np.asarray(element.zero_point_value).astype(dtype))
            return f.node("QuantizeLinear", [name, f.constant(np.float32(1.0)), zero])
        shifted = f.node("Add", [_clip(f, name, element), f.constant(np.float32(element.zero_point_value))])
        return f.cast(shifted, onnx_type(dtype))


def centred(array: np.ndarray, element) -> np.ndarray:
    """`array`'s integers as float32 centred on `element`'s zero point (unchanged if None: not quantized)."""
    if element is None:
        return array
    return (np.asarray(array).astype(np.float32) - np.float32(element.zero_point_value)).astype(np.float32)


FLOAT_EMULATION = FloatEmulation()


# ---------------------------------------------------------------------------
# the float boundary


def emulate_quantize(op: q.QuantizeOp, f: Fragment, operands: Operands) -> list[str]:
    """float32 -> int8: bit-exact's rounding where proven (`rounded_quantize.py`: the bytes, then
    DequantizeLinear to the centred integers, exact); else `quantize_linear`."""
    element = _fail_unless_integer_output(op)
    stored = quantize_op_bytes(op, f, operands.name(0))
    if stored is None:
        return quantize_linear(op, f, operands)
    byte_of_zero = f.constant(np.uint8(128 + element.zero_point_value))
    return [f.node("DequantizeLinear", [stored, f.constant(np.float32(1.0)), byte_of_zero])]


def quantize_linear(op: q.QuantizeOp, f: Fragment, operands: Operands) -> list[str]:
    """sima.quantize as QuantizeLinear (ties to even on a float32 quotient: not bit-exact's rounding)."""
    element = _fail_unless_integer_output(op)
    return [_requantized(f, operands.name(0), 1.0 / element.scale_value, element)]


def emulate_dequantize(op: q.DequantizeOp, f: Fragment, operands: Operands) -> list[str]:
    element = quantized_element(op.input)
    return [f.node("Mul", [operands.name(0), f.constant(np.float32(element.scale_value))])]


def emulate_requantize(op: q.RequantizeOp, f: Fragment, operands: Operands) -> list[str]:
    element = _fail_unless_integer_output(op)
    left_shift, shift = op.left_shift.value.data, op.shift.value.data
    # c M 2**(L - n): exact in float32 (|c M| < 2**23)
    scaled = _scale(f, operands.name(0), _tflite_ratio(op.multiplier.value.data, shift, left_shift))
    return [_exact_requantized(f, scaled, shift - left_shift, element)]


# ---------------------------------------------------------------------------
# gemms


def _gemm_constants(op: q.QuantizedGemmOp, w: np.ndarray, bias: np.ndarray, reduced_axes) -> tuple[np.ndarray, np.ndarray]:
    """(float32 weights, float32 bias) whose product v gives the op's output as
    `_gemm_output(v)`: (Relu then) round half to even onto the output's grid.

    sima: v = A 2**-n + 2**-(n+1) - z_out: never a tie, and rounding it to nearest is
    floor(A 2**-n + 1/2), sima's rounding, exactly when the float32 sums are exact (int8
    inputs: the planner's column norms keep them below 2**24; `lower.py` proves when).
    tflite: v = A M 2**-n, rounded half to even where the model rounds half away from zero."""
    source, target = quantized_element(op.input), _fail_unless_integer_output(op)
    requantization = op.requantization()
    c_out = w.shape[-1]
    intrinsic = np.ldexp(1.0, -np.broadcast_to(op.intrinsic_shift_values(), (c_out,)))
    if isinstance(requantization, ArithFoldedRequantization):
        shift = np.broadcast_to(np.asarray(requantization.shift, dtype=np.int64), (c_out,))
        factor = np.ldexp(1.0, -shift)
        # the bias holds z_out 2**n: the centred output leaves it out; n = 0 has no ties to avoid
        rounding = np.where(shift > 0, np.ldexp(1.0, -shift - 1), 0.0) - target.zero_point_value
    elif isinstance(requantization, TFLiteRequantization):
        multiplier = np.broadcast_to(np.asarray(requantization.multiplier, dtype=np.float64), (c_out,))
        factor = multiplier * np.ldexp(1.0, -np.broadcast_to(np.asarray(requantization.shift, dtype=np.int64), (c_out,)))
        rounding = np.zeros(c_out)  # z_out is added after rounding: the centred output leaves it out
    else:
        raise NotLowerable(f"{type(requantization).__name__} has no integer form")
    wide = w.astype(np.float64)
    # the input arrives centred: sum q w = sum c w + z_in sum w (padding holds z_in, so c pads with 0)
    input_correction = source.zero_point_value * wide.sum(axis=reduced_axes) * intrinsic
    weights = (wide * (intrinsic * factor)).astype(np.float32)
    offset = (bias.astype(np.float64) + input_correction) * factor + rounding
    return weights, offset.astype(np.float32)


def _gemm_output(op: q.QuantizedGemmOp, f: Fragment, product: str) -> str:
    """The op's centred output from its product (`_gemm_constants`): relu clamps the
    accumulator at 0 (z_out is 0 then), so Relu first (onnxruntime fuses it into a Conv)."""
    if op.has_relu:
        product = f.node("Relu", [product])
    return _requantized(f, product, 1.0, quantized_element(op.output))


def emulate_qconv2d(op: q.QConv2DOp, f: Fragment, operands: Operands) -> list[str]:
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias")
    weights, offset = _gemm_constants(op, w, bias, (0, 1, 2))
    x = f.transpose(operands.name(0), NHWC_TO_NCHW)
    product = f.node(
        "Conv",
        [x, f.constant(np.ascontiguousarray(weights.transpose(3, 2, 0, 1))), f.constant(offset)],  # HWIO -> OIHW
        **conv_attributes(op, w.shape),
    )
    return [f.transpose(_gemm_output(op, f, product), NCHW_TO_NHWC)]


def emulate_qconv2d_transpose(op: q.QConv2DTransposeOp, f: Fragment, operands: Operands) -> list[str]:
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias")
    # the integer op is a qconv2d over the input stuffed and padded with z_in: every tap reads
    # c + z_in or z_in, so the correction z_in sum w is the same for every output pixel, as for qconv2d
    weights, offset = _gemm_constants(op, w, bias, (0, 1, 2))
    product = conv_transpose(op, f, f.transpose(operands.name(0), NHWC_TO_NCHW), weights, offset)
    return [f.transpose(_gemm_output(op, f, product), NCHW_TO_NHWC)]


def conv_transpose(op: q.QConv2DTransposeOp, f: Fragment, x: str, weights: np.ndarray, bias: np.ndarray) -> str:
    """ConvTranspose of the NCHW `x` with the op's geometry, float32 `weights` [KH, KW, C_in, C_out] and `bias`."""
    kh, kw = weights.shape[:2]
    return f.node(
        "ConvTranspose",
        [x, f.constant(np.ascontiguousarray(weights.transpose(2, 3, 0, 1))), f.constant(bias)],  # -> [C_in, C_out, KH, KW]
        kernel_shape=[kh, kw], pads=list(ints(op.pads)), strides=list(ints(op.strides)),
        dilations=list(ints(op.dilations)), output_padding=list(ints(op.output_padding)), group=1,
    )


def emulate_qdense(op: q.QDenseOp, f: Fragment, operands: Operands) -> list[str]:
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias")
    weights, offset = _gemm_constants(op, w, bias, 0)
    product = f.node("Add", [f.node("MatMul", [operands.name(0), f.constant(weights)]), f.constant(offset)])
    return [_gemm_output(op, f, product)]


def emulate_qmatmul(op: q.QMatMulOp, f: Fragment, operands: Operands) -> list[str]:
    element = _fail_unless_integer_output(op)
    ratio = _tflite_ratio(op.multiplier.value.data, op.shift.value.data, op.left_shift.value.data)
    return [_requantized(f, f.node("MatMul", [operands.name(0), operands.name(1)]), ratio, element)]


# ---------------------------------------------------------------------------
# elementwise


def _size(value: SSAValue) -> int:
    shape = static_shape(value)
    return int(np.prod(shape)) if all(d >= 0 for d in shape) else -1


def emulate_qmul(op: q.QMulOp, f: Fragment, operands: Operands) -> list[str]:
    element = _fail_unless_integer_output(op)
    left_shift, shift = op.left_shift.value.data, op.shift.value.data
    ratio = _tflite_ratio(op.multiplier.value.data, shift, left_shift)
    # c_a c_b M 2**(L - n), the ratio on the smaller operand (often a per-channel gate):
    # exact in float32 where |c_a c_b M| < 2**24 (int8 operands)
    lhs, rhs = operands.name(0), operands.name(1)
    if _size(op.lhs) < _size(op.rhs):
        lhs = _scale(f, lhs, ratio)
    else:
        rhs = _scale(f, rhs, ratio)
    return [_exact_requantized(f, f.node("Mul", [lhs, rhs]), shift - left_shift, element)]


def emulate_qadd_sub(op: q.QuantizedAddSubOp, f: Fragment, operands: Operands) -> list[str]:
    element = _fail_unless_integer_output(op)
    left_shift, shift = op.left_shift.value.data, op.shift.value.data
    rescales = op.input_rescales()
    # t = c M_i 2**(L - n_i) is exact in the model for n_i <= L (the usual case: L = 20 or 14);
    # c M_i M 2**(L - n_i - n) is exact in float32 (|c M_i M| < 2**23), and so is the sum
    # where the two exponents are close (else float32 rounds it once)
    terms = [
        _scale(f, operands.name(i), _tflite_ratio(r.multiplier * op.multiplier.value.data, r.shift + shift, left_shift))
        for i, r in enumerate(rescales)
    ]
    value = f.node("Sub" if op.SUBTRACT else "Add", terms)
    return [_exact_requantized(f, value, max(r.shift for r in rescales) + shift - left_shift, element)]


def emulate_lut(op: q.LutOp, f: Fragment, operands: Operands) -> list[str]:
    source, target = quantized_element(op.input), _fail_unless_integer_output(op)
    table = operands.required_constant(1, "table")
    found = table_functions.recognize(table, source, target)
    if found is None:
        return [_gather(f, operands.name(0), table, source, target)]
    value, factor = found.function.emit(f, operands.name(0), source.scale_value)
    return [_requantized(f, value, factor / target.scale_value, target)]


def _gather(f: Fragment, c: str, table: np.ndarray, source: QuantizedType, target: QuantizedType) -> str:
    """table[q - min] as centred floats: exact, for tables no float function is recognized in."""
    low, _ = integer_range(source.bits)
    index = f.cast(f.node("Add", [c, f.constant(np.float32(source.zero_point_value - low))]), INT64)
    centred = (np.asarray(table).astype(np.float32) - np.float32(target.zero_point_value)).astype(np.float32)
    return f.node("Gather", [f.constant(centred), index])


# ---------------------------------------------------------------------------
# pools, softmax, layer norm, resize


def emulate_qglobal_avg_pool(op: q.QGlobalAvgPoolOp, f: Fragment, operands: Operands) -> list[str]:
    element = _fail_unless_integer_output(op)
    # A = the sum (exact in float32 for H W 2**bits < 2**24), A M 2**-n too where |A M| < 2**24
    total = f.node("ReduceSum", [operands.name(0), f.constant([1, 2], np.int64)], keepdims=1)
    scaled = _scale(f, total, _tflite_ratio(op.multiplier.value.data, op.shift.value.data))
    return [_exact_requantized(f, scaled, op.shift.value.data, element)]


def emulate_qavg_pool(op: q.QAvgPoolOp, f: Fragment, operands: Operands) -> list[str]:
    element = _fail_unless_integer_output(op)
    kernel = ints(op.kernel)
    area = kernel[0] * kernel[1]
    multipliers, shifts = ints(op.multiplier), ints(op.shift)
    # multiplier[c] 2**-shift[c] ~ step_in / (c step_out): the entry of the full window gives the ratio of the mean
    ratio = _tflite_ratio(multipliers[-1], shifts[-1]) * (area if len(multipliers) == 1 else len(multipliers))
    pooled = f.node(
        "AveragePool", [f.transpose(operands.name(0), NHWC_TO_NCHW)], kernel_shape=list(kernel), strides=list(ints(op.strides)),
        pads=list(ints(op.pads)), count_include_pad=int(bool(op.count_include_pad.value.data)),
    )
    return [f.transpose(_requantized(f, pooled, ratio, element), NCHW_TO_NHWC)]


def emulate_qsoftmax(op: q.QSoftmaxOp, f: Fragment, operands: Operands) -> list[str]:
    element = _fail_unless_integer_output(op)
    source = quantized_element(op.input)
    probability = f.node("Softmax", [_scale(f, operands.name(0), source.scale_value)], axis=op.axis.value.data)
    ratio = _tflite_ratio(op.multiplier.value.data, op.shift.value.data) * 2.0**15  # p in Q15
    return [_requantized(f, probability, ratio, element)]


def emulate_qlayer_norm(op: q.QLayerNormOp, f: Fragment, operands: Operands) -> list[str]:
    element = _fail_unless_integer_output(op)
    gamma = operands.required_constant(1, "gamma").astype(np.float64)
    beta = operands.required_constant(2, "beta").astype(np.float64)
    shift = op.shift.value.data
    count = int(np.prod(op.normalized_shape()))
    # z in Q11 = (c - mean) / sqrt(var + epsilon / N**2) * 2**11; y = round((z gamma + beta) 2**-shift)
    normalized = f.node(
        "LayerNormalization",
        [operands.name(0), f.constant(np.ldexp(gamma, 11 - shift).astype(np.float32)), f.constant(np.ldexp(beta, -shift).astype(np.float32))],
        axis=op.axis.value.data, epsilon=float(op.epsilon.value.data) / count**2,
    )
    return [_requantized(f, normalized, 1.0, element)]


def emulate_qresize_linear(op: q.QResizeLinearOp, f: Fragment, operands: Operands) -> list[str]:
    element = quantized_element(op.output)
    _, out_h, out_w, _ = static_shape(op.output)
    resized = f.node(
        "Resize", [operands.name(0), "", "", f.constant([out_h, out_w], np.int64)], mode="linear", axes=[1, 2],
        coordinate_transformation_mode=op.coordinate_mode.data,
    )
    return [_requantized(f, resized, 1.0, element)]


# ---------------------------------------------------------------------------
# data movement on centred values


def emulate_max_pool(op: ops.MaxPoolOp, f: Fragment, operands: Operands) -> list[str]:
    x = f.transpose(operands.name(0), NHWC_TO_NCHW)
    y = f.node("MaxPool", [x], **max_pool_attributes(op))
    return [f.transpose(y, NCHW_TO_NHWC)]


def emulate_pad(op: ops.PadOp, f: Fragment, operands: Operands) -> list[str]:
    mode = op.mode.data
    inputs = [operands.name(0), f.constant(ints(op.pads), np.int64)]
    if mode == "constant":
        element = _quantized(op.input)
        value = op.value.value.data - (element.zero_point_value if element is not None else 0)
        inputs.append(f.constant(np.float32(value)))
    return [f.node("Pad", inputs, mode=mode)]


def _float32_only(lowering):
    """A lowering of data movement, for values the emulation holds as float32 (quantized or f32)."""

    def lower(op, f: Fragment, operands: Operands) -> list[str]:
        for value in (*op.operands, *op.results):
            if _quantized(value) is None and np.dtype(element_type_to_numpy(value.type.element_type)) != np.float32:
                raise NotLowerable(f"a {value.type.element_type} value (the emulation holds quantized and f32 values)")
        return lowering(op, f, operands)

    return lower


FAST_LOWERINGS = {
    **FLOAT_LOWERINGS,  # the float (APU) ops, f32 values
    q.QuantizeOp: emulate_quantize,
    q.DequantizeOp: emulate_dequantize,
    q.RequantizeOp: emulate_requantize,
    q.QConv2DOp: emulate_qconv2d,
    q.QConv2DTransposeOp: emulate_qconv2d_transpose,
    q.QDenseOp: emulate_qdense,
    q.QMatMulOp: emulate_qmatmul,
    q.QMulOp: emulate_qmul,
    q.QAddOp: emulate_qadd_sub,
    q.QSubOp: emulate_qadd_sub,
    q.LutOp: emulate_lut,
    q.QGlobalAvgPoolOp: emulate_qglobal_avg_pool,
    q.QAvgPoolOp: emulate_qavg_pool,
    q.QSoftmaxOp: emulate_qsoftmax,
    q.QLayerNormOp: emulate_qlayer_norm,
    q.QResizeLinearOp: emulate_qresize_linear,
    ops.MaxPoolOp: _float32_only(emulate_max_pool),
    ops.PadOp: _float32_only(emulate_pad),
    ops.ReshapeOp: _float32_only(lower_reshape),
    ops.TransposeOp: _float32_only(lower_transpose),
    ops.ConcatOp: _float32_only(lower_concat),
    ops.SliceOp: _float32_only(lower_slice),
    ops.SplitOp: _float32_only(lower_split),
    ops.ExpandOp: _float32_only(lower_expand),
    ops.ResizeOp: _float32_only(lower_resize),
}
"""sima op class -> its fast-mode lowering (ops not listed run on the fast NumPy kernels)."""

__all__ = ["FAST_LOWERINGS", "FLOAT_EMULATION", "FloatEmulation"]
