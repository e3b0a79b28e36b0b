"""fast mode on onnxruntime's own int8 kernels: 8-bit values stay bytes, gemms become QLinearConv.

    OnnxProgram(fast_interpreter, emulation=INTEGER_EMULATION)   # Model.execute(fast_mode=True), int8 models

The float emulation (`emulate.py`) carries every quantized value as float32 and
rounds each requantization with a QuantizeLinear / DequantizeLinear pair; around
every Conv that forces onnxruntime to reorder the tensor out of and back into
its blocked NCHWc layout. Here an 8-bit value (int8 storage) is carried as the
byte q + 128 (uint8, so that onnxruntime's u8 kernels apply) and every op is
written in onnxruntime's QDQ form, DequantizeLinear -> float op -> QuantizeLinear,
which onnxruntime fuses into its integer kernels (QLinearConv, QGemm,
QLinearGlobalAveragePool, ...) and runs NHWC end to end:

- qconv2d, qdense (int8 in and out): DequantizeLinear of the input (scale 1: the
  centred integers c), of the integer weights (per output channel, scale 2**-h
  times the requantization's 2**-n or M 2**-n), of an int32 bias holding the op's
  bias and zero-point correction, then Conv / Gemm and QuantizeLinear: QLinearConv /
  QGemm compute the op's accumulator exactly in int32 and requantize in float32,
  rounding half to even; sima's half-up rounding is kept by a tie push
  (`_tie_push`, exact for total shifts <= 14; tflite: ties to even). The weights
  are stored uint8 (w + 128): onnxruntime's u8 x s8 kernel on AVX2 (VPMADDUBSW)
  saturates pairs of products at int16 (measured: off by 120 steps on full-range
  weights); u8 x u8 does not. Depthwise convs keep int8 weights: onnxruntime's
  depthwise kernel widens to 16 bits first (measured exact, and faster). A fused relu: Clip of the output bytes.
  Where QLinearConv is slow (the image's stem, at most 4 input channels; a depthwise conv over at
  most 4 output rows: `runs_on_floats`, a fixed rule from the shapes), a float32 Conv on the
  centred input instead, exact as the bit-exact sessions' and Cast straight to the same bytes
  (`lower_qconv2d_on_floats`);
- qconv2d_transpose (det's upsampling): a float32 ConvTranspose floored to the bytes as those
  float Convs are, where provably exact (`lower_qconv2d_transpose`), else the float emulation's;
- quantize (float32 input): x * (1 / step) in float64, rounded half away from zero as the kernel
  rounds the exact quotient (`rounded_quantize.py`; QuantizeLinear's float32 quotient rounds ties
  to even and lands on ties the exact quotient misses);
- a chain of elementwise ops between bytes (PP-LCNet's hard_swish lut -> qmul by a scale -> qadd
  of a bias: det 24, rec 35): one Cast + GatherElements of its table, made by the program's
  kernels (`IntegerEmulation.chain_lowering`), where op by op it is 8-9 passes;
- a channel-grouped block (`with_channel_groups()`): merged as in the bit-exact sessions
  (`merged_groups.py`, `IntegerEmulation.merged_lowering`), between bytes;
- qglobal_avg_pool: the factor in its DequantizeLinear (QLinearGlobalAveragePool);
  qadd / qsub as a Sub of two DequantizeLinear, qmul as the float emulation's (by one value:
  that value in the other operand's DequantizeLinear scale, `_scaled_by_one_value`)
  (onnxruntime's QLinearAdd / QLinearMul measured far from bit-exact: 17.6 / 26.6
  dB on cls with percentile calibration, where these forms give 147.6 dB);
- lut: hard_swish as HardSwish on the real values; other tables as below; a recognized
  function's float32 pipeline checked on all 256 bytes at lowering time and its constants
  nudged a few ulps until it gives exactly the table's bytes, else the table read
  (`table_constants.py`);
- every other op: its float emulation (`emulate.FAST_LOWERINGS`) between a
  DequantizeLinear of its byte operands and a QuantizeLinear of its 8-bit results
  (the emulation's own final QuantizeLinear, writing bytes instead of a
  DequantizeLinear back to floats);
- data movement (reshape, transpose, concat, slice, split, expand, nearest
  resize, max_pool, pad): on the bytes.

onnxruntime's QDQ fusions also see the float emulation's patterns: a float-weight
MatMul or Conv between bytes is requantized by onnxruntime itself (measured: a
wrapped float qconv2d 2.9 dB from bit-exact on rec), so every gemm here has its
integer form, and programs with 16-bit values are left to the float emulation.

16-bit values stay centred float32 (onnxruntime has no 16-bit conv), so an int16
model runs on a float emulation (`relaxed_emulation.py`: its 16-bit requantizations
saturate without rounding): `fast_program` picks this emulation for programs
whose quantized values are all 8-bit (a fixed rule, so fast mode's outputs do not
depend on the machine's load: measured with one thread, CPU time / onnxruntime fp32,
it ran faster than the float form of `fused_emulation.py` on orientation 1.45 / 1.74,
rec 1.13 / 1.28, det 1.33 / 1.36, slower only on cls 1.54 / 1.51). How far it is from
bit-exact on the real models:
`test/test_fast_mode_integer.py` and `bench/bench_quantized_execute.py`.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper
from xdsl.ir import SSAValue

import runtime.kernels  # noqa: F401  first: it completes runtime.integer_kernels' import cycle
from runtime.integer_arithmetic import ArithFoldedRequantization, TFLiteRequantization
from runtime.integer_kernels.boundary import quantized_element, storage_dtype
from runtime.kernels.base import ints, static_shape
from runtime.onnx_backend import emulate, table_constants, table_functions
from runtime.onnx_backend.exact_tables import read_table
from runtime.onnx_backend.graph import INT32, NCHW_TO_NHWC, NHWC_TO_NCHW, Fragment
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
from runtime.onnx_backend.merged_groups import grouped_share
from runtime.onnx_backend.rounded_quantize import quantize_op_bytes
from sima_dialect import ops
from sima_dialect import quantized_ops as q
from sima_dialect.types import QuantizedType

BYTE_OFFSET = 128
"""A byte value holds q + 128: int8's range on uint8's."""


def chain_table_bytes(table: np.ndarray) -> np.ndarray:
    """An int8 -> int8 table indexed by bit pattern (`integer_kernels.chains`) as this form reads
    it: indexed by the byte b = q + 128 (whose bit pattern is q's with the top bit flipped: the
    halves swapped), holding bytes."""
    half = table.shape[0] // 2
    by_byte = np.concatenate([table[half:], table[:half]])
    return (by_byte.astype(np.int16) + BYTE_OFFSET).astype(np.uint8)


def _scalar(f: Fragment, constant: str) -> str:
    """A one-value constant of `f` as a scalar (onnxruntime's fused QLinear kernels take no [1] scales)."""
    tensor = next((t for t in f.initializers if t.name == constant), None)
    if tensor is None or len(tensor.dims) == 0 or int(np.prod(tensor.dims)) != 1:
        return constant
    return _scalar_constant(f, numpy_helper.to_array(tensor).reshape(()))


def _scalar_constant(f: Fragment, value) -> str:
    """A rank-0 initializer (`Fragment.constant` stores rank 0 as [1])."""
    name = f.names("const")
    f.initializers.append(numpy_helper.from_array(np.asarray(value), name))
    return name


def _byte_element(value: SSAValue) -> QuantizedType | None:
    """The 8-bit quantized type of `value` if it is carried as bytes (int8 storage), else None."""
    element = emulate._quantized(value)
    if element is None or element.bits != 8 or storage_dtype(value) != np.int8:
        return None
    return element


def _byte_zero(f: Fragment, element: QuantizedType) -> str:
    return _scalar_constant(f, np.uint8(element.zero_point_value + BYTE_OFFSET))


def _centred(f: Fragment, byte_value: str, element: QuantizedType, scale: float = 1.0) -> str:
    """The centred integers (q - z) * scale of a byte value, as float32."""
    return f.node("DequantizeLinear", [byte_value, _scalar_constant(f, np.float32(scale)), _byte_zero(f, element)])


def _producer(f: Fragment, name: str):
    return next((node for node in f.nodes if name in node.output), None)


def _only_reader(f: Fragment, name: str, node) -> bool:
    return [reader for reader in f.nodes if name in reader.input] == [node]


def _to_bytes(f: Fragment, centred: str, element: QuantizedType) -> str:
    """The bytes of a centred float value. Where the float emulation ends in its own rounding
    QuantizeLinear -> DequantizeLinear back to floats (then perhaps Transposes), that
    QuantizeLinear writes the bytes instead (the same rounding and saturation, 128 higher) and
    the Transposes move bytes; else one more QuantizeLinear (scale 1: c holds integers)."""
    moves = []  # the trailing Transposes, last first
    last = _producer(f, centred)
    while last is not None and last.op_type == "Transpose" and (not moves or _only_reader(f, last.output[0], moves[-1])):
        moves.append(last)
        last = _producer(f, last.input[0])
    if last is not None and last.op_type == "DequantizeLinear" and (not moves or _only_reader(f, last.output[0], moves[-1])):
        rounding = _producer(f, last.input[0])
        if rounding is not None and rounding.op_type == "QuantizeLinear" and _only_reader(f, last.input[0], last):
            for node in (rounding, last, *moves):
                f.nodes.remove(node)
            stored = f.node("QuantizeLinear", [rounding.input[0], _scalar(f, rounding.input[1]), _byte_zero(f, element)])
            for move in reversed(moves):
                stored = f.transpose(stored, list(move.attribute[0].ints))
            return stored
    return f.node("QuantizeLinear", [centred, _scalar_constant(f, np.float32(1.0)), _byte_zero(f, element)])


class IntegerEmulation:
    """How this emulation holds values (8-bit quantized: bytes q + 128; 16-bit: as `emulate.FloatEmulation`)."""

    lowerings = property(lambda self: INTEGER_LOWERINGS)
    fuses_quantized_kernels = True  # OnnxProgram lets onnxruntime fuse its QDQ patterns
    merges_channel_groups = True  # program.py: channel-grouped blocks lowered as one (`merged_lowering`)

    @staticmethod
    def merged_lowering(block):
        """A channel-grouped block (`merged_groups.MergedBlock`) as the bit-exact sessions lower it
        (its Convs on centred float32, exact; its tables read with GatherElements), between bytes:
        x's bytes to centred floats (DequantizeLinear, scale 1), the result's centred floats to bytes
        (QuantizeLinear, scale 1: exact, they hold integers). Lowered op by op in this form, a split
        block pays each group's QLinearConvs at channel counts onnxruntime runs slowly, and each
        group's table (orientation grouped, `bench/bench_fast_forms.py --channel-groups`: 2.17-2.30x
        onnxruntime fp32 op by op, 1.69-1.74x merged; its float form, which `fast_program` runs
        for it, 1.48-1.49x)."""

        def lower(op, f: Fragment, operands: Operands) -> list[str]:
            target = _byte_element(op.results[0])
            if target is None:
                raise NotLowerable("the merged block's result is not int8")
            value = _centred(f, f.transpose(operands.name(0), NHWC_TO_NCHW), block.source_element)
            for stage in block.stages:
                value = stage.lower(f, value)
            stored = f.node("QuantizeLinear", [value, _scalar_constant(f, np.float32(1.0)), _byte_zero(f, target)])
            return [f.transpose(stored, NCHW_TO_NHWC)]

        return lower

    fuses_chains = True  # program.py: chains of elementwise ops as one table (`chain_lowering`)

    @staticmethod
    def chain_lowering(table: np.ndarray, shape: tuple[int, ...] | None, source: SSAValue, result: SSAValue):
        """A chain of elementwise ops between bytes (`integer_kernels.chains`: PP-LCNet's hard_swish
        lut -> qmul by a scale -> qadd of a bias) as one read of its table, made by the program's own
        kernels (bit-exact's, for these ops): Cast + GatherElements, where op by op it is a float
        pipeline per op with a rounding QuantizeLinear each. None (its ops one by one) unless both
        ends are bytes."""
        if _byte_element(source) is None or _byte_element(result) is None:
            return None
        by_byte = chain_table_bytes(table)

        def lower(op, f: Fragment, operands: Operands) -> list[str]:
            return [read_table(f, by_byte, f.cast(operands.name(0), INT32), shape)]

        return lower

    @staticmethod
    def constant(value: SSAValue, array: np.ndarray) -> np.ndarray:
        if _byte_element(value) is None:
            return emulate.FLOAT_EMULATION.constant(value, array)
        return (np.asarray(array).astype(np.int16) + BYTE_OFFSET).astype(np.uint8)

    @staticmethod
    def graph_input(f: Fragment, name: str, value: SSAValue) -> str:
        element = _byte_element(value)
        if element is None:
            return emulate.FLOAT_EMULATION.graph_input(f, name, value)
        stored = f"{name}_stored"
        exact = f.node("DequantizeLinear", [stored, _scalar_constant(f, np.float32(1.0)), _scalar_constant(f, np.int8(0))])
        f.rename(f.node("QuantizeLinear", [exact, _scalar_constant(f, np.float32(1.0)), _scalar_constant(f, np.uint8(BYTE_OFFSET))]), name)
        return stored

    @staticmethod
    def graph_output(f: Fragment, name: str, value: SSAValue) -> str:
        element = _byte_element(value)
        if element is None:
            return emulate.FLOAT_EMULATION.graph_output(f, name, value)
        exact = f.node("DequantizeLinear", [name, _scalar_constant(f, np.float32(1.0)), _scalar_constant(f, np.uint8(BYTE_OFFSET))])
        return f.node("QuantizeLinear", [exact, _scalar_constant(f, np.float32(1.0)), _scalar_constant(f, np.int8(0))])


INTEGER_EMULATION = IntegerEmulation()


# ---------------------------------------------------------------------------
# every op: its float emulation between bytes


def _between_bytes(float_lowering):
    """`float_lowering` (emulate.py's, on centred floats) with its byte operands dequantized
    and its 8-bit results written as bytes."""

    def lower(op, f: Fragment, operands: Operands) -> list[str]:
        names: list[str | None] = []
        constants: list[np.ndarray | None] = []
        for index, value in enumerate(op.operands):
            constant = operands.constant(index)
            if constant is not None:  # the float emulation's own form, when it reads it by name
                names.append(None)
                constants.append(constant)
                continue
            element = _byte_element(value)
            name = operands.name(index)
            names.append(name if element is None else _centred(f, name, element))
            constants.append(None)
        float_operands = Operands(f, names, constants, lambda index, array: emulate.FLOAT_EMULATION.constant(op.operands[index], array))
        results = float_lowering(op, f, float_operands)
        byte_results = []
        for name, value in zip(results, op.results):
            element = _byte_element(value)
            byte_results.append(name if element is None else _to_bytes(f, name, element))
        return byte_results

    return lower


# ---------------------------------------------------------------------------
# qconv2d on QLinearConv


TIE_FREE_SHIFT_MAX = 14
"""The largest total shift n + h whose ties `_tie_push` breaks upward without moving another value."""


def _tie_push(shift: np.ndarray) -> np.ndarray:
    """The factor 1 + 2**-23 (or 1) per channel that makes QLinearConv's round-half-to-even round
    a positive tie up, as sima's floor(v + 1/2) does: with the output shifted by +128 (all
    non-saturating outputs v >= -1/2 then, `lower_qconv2d`), v = N 2**-k in [0, 256): a tie
    scaled by 1 + 2**-23 (and rounded to float32) lands above its half, and a value at least
    2**-k below a half stays below it (v 2**-23 <= 2**-15 plus half an ulp 2**-16 < 2**-k for
    k <= 14). Larger shifts keep ties to even (one step, on 2**-k of the outputs)."""
    return np.where(shift <= TIE_FREE_SHIFT_MAX, np.float64(1.0 + 2.0**-23), 1.0)


def _gemm_requantization(op: q.QuantizedGemmOp, w: np.ndarray, bias: np.ndarray, reduced_axes) -> tuple[np.ndarray, np.ndarray, int]:
    """(weight scale, int32 bias, output zero point) of the QLinearConv / QGemm that computes the op's bytes:
    round((sum c w + bias32) * scale) + zero point, saturated to [0, 255].

    The op's accumulator sum (c + z_in) w 2**-h + bias, times 2**h, is sum c w + z_in sum w +
    bias 2**h. sima: q = floor(A 2**-n + 1/2) (z_out folded into the bias), so the byte q + 128
    is that with 128 2**(n + h) more in the bias and zero point 0, every byte-range output then
    non-negative (`_tie_push`). tflite: q = round(A M 2**-n) + z_out: scale 2**-h M 2**-n,
    zero point 128 + z_out, ties to even (the model: away from zero). Where 128 2**(n + h) plus
    the largest |sum c w| leaves int32 (shifts near 24; onnxruntime's int32 accumulator would
    wrap), sima keeps 128 as the zero point and ties to even too; an accumulator that can leave
    int32 even then is refused (NotLowerable: the NumPy fast kernel runs the op)."""
    c_out = w.shape[-1]
    intrinsic = np.broadcast_to(op.intrinsic_shift_values(), (c_out,)).astype(np.int64)
    input_zero = quantized_element(op.input).zero_point_value
    correction = input_zero * w.astype(np.int64).sum(axis=reduced_axes)
    # |sum c w| per output channel: onnxruntime adds it to the int32 bias in int32, where it must not wrap
    products = max(abs(-128 - input_zero), abs(127 - input_zero)) * np.abs(w.astype(np.int64)).sum(axis=reduced_axes)
    scaled_bias = np.ldexp(np.asarray(bias, dtype=np.float64), intrinsic)
    if not np.all(scaled_bias == np.round(scaled_bias)):
        raise NotLowerable("its bias times 2**intrinsic_shift is not an integer")
    total = correction + scaled_bias.astype(np.int64)
    requantization = op.requantization()
    if isinstance(requantization, ArithFoldedRequantization):
        shift = np.broadcast_to(requantization.shift, (c_out,)).astype(np.int64) + intrinsic
        offset = total + (np.int64(BYTE_OFFSET) << np.minimum(shift, 40))
        if (np.abs(offset) + products).max(initial=0) < 2**31:
            total, scale, zero = offset, np.ldexp(_tie_push(shift), -shift), 0
        else:  # 128 2**k leaves int32 (shifts near 24): ties to even, 128 as the zero point
            scale, zero = np.ldexp(1.0, -shift), BYTE_OFFSET
    elif isinstance(requantization, TFLiteRequantization):
        multiplier = np.broadcast_to(requantization.multiplier, (c_out,)).astype(np.float64)
        scale = multiplier * np.ldexp(1.0, -(np.broadcast_to(requantization.shift, (c_out,)).astype(np.int64) + intrinsic))
        zero = BYTE_OFFSET + requantization.zero_point
    else:
        raise NotLowerable(f"{type(requantization).__name__} has no integer form")
    if (np.abs(total) + products).max(initial=0) >= 2**31:
        raise NotLowerable("its accumulator (bias + products) can leave int32 on QLinearConv / QGemm")
    if not 0 <= zero <= 255:
        raise NotLowerable("its output zero point does not fit a byte")
    return scale.astype(np.float32), total.astype(np.int32), zero


def lower_qconv2d(op: q.QConv2DOp, f: Fragment, operands: Operands) -> list[str]:
    source, target = _byte_element(op.input), _byte_element(op.output)
    if source is None or target is None:
        return _between_bytes(emulate.emulate_qconv2d)(op, f, operands)
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias")
    if runs_on_floats(op, w):
        on_floats = lower_qconv2d_on_floats(op, f, operands, w, bias)
        if on_floats is not None:
            return on_floats
    c_out = w.shape[-1]
    scale, int32_bias, output_zero = _gemm_requantization(op, w, bias, (0, 1, 2))
    groups = op.groups.value.data
    if groups == c_out and w.shape[2] == 1:  # depthwise: onnxruntime's depthwise kernel widens, u8 x s8 is exact
        weights, weight_zero = w.astype(np.int8), np.zeros(c_out, np.int8)
    else:  # u8 x u8 (see the module doc)
        weights, weight_zero = (w.astype(np.int16) + BYTE_OFFSET).astype(np.uint8), np.full(c_out, BYTE_OFFSET, np.uint8)
    x = _centred(f, f.transpose(operands.name(0), NHWC_TO_NCHW), source)
    dequantized_weights = f.node(
        "DequantizeLinear",
        [f.constant(np.ascontiguousarray(weights.transpose(3, 2, 0, 1))), f.constant(scale), f.constant(weight_zero)],  # HWIO -> OIHW
        axis=0,
    )
    dequantized_bias = f.node("DequantizeLinear", [f.constant(int32_bias), f.constant(scale)], axis=0)
    product = f.node(
        "Conv", [x, dequantized_weights, dequantized_bias], **conv_attributes(op, w.shape),
    )
    stored = f.node("QuantizeLinear", [product, _scalar_constant(f, np.float32(1.0)), _scalar_constant(f, np.uint8(output_zero))])
    return [f.transpose(_relu(f, op, stored), NCHW_TO_NHWC)]


FLOAT_CONV_INPUT_CHANNELS = 4
"""A conv reading at most this many channels (the image's stem) runs as a float32 Conv
(`lower_qconv2d_on_floats`): onnxruntime's QLinearConv has no fast path for so few input
channels, its float NCHWc Conv has one. Profiled, one thread: orientation's stem (3 -> 16
channels, 224 x 224) QLinearConv 460 us, the float Conv 198 us (+ Transpose, ReorderOutput,
Cast ~130 us); det's 921 us / 416 us."""

FLOAT_CONV_DEPTHWISE_ROWS = 4
"""A depthwise conv whose output has at most this many rows runs as a float32 Conv too:
onnxruntime's depthwise QLinearConv takes ~3x its float Conv over 2-3 rows (cls's 5 x 5
depthwise convs: 61-87 us against 19-22 us, profiled), more than the conversions around it."""


def runs_on_floats(op: q.QConv2DOp, w: np.ndarray) -> bool:
    """Whether fast mode's int8 form runs this int8 conv as a float32 Conv (`lower_qconv2d_on_floats`)
    rather than QLinearConv: a fixed rule from the op's shapes (`FLOAT_CONV_INPUT_CHANNELS`,
    `FLOAT_CONV_DEPTHWISE_ROWS`), so fast mode's choice never depends on timing. Both forms give
    the same bytes. Measured (CPU time / onnxruntime fp32, one thread, load ~2-3), the rule off ->
    on: `bench/bench_fast_forms.py` (variant qlinear-convs, 5 interleaved rounds) cls 1.65 -> 1.50,
    orientation 1.44 -> 1.41, det 1.31 -> 1.29, rec 1.00 -> 1.02 (noise); `bench_quantized_execute.py
    --threads 1 --bits int8`, two runs each, alternating: cls 1.53 / 1.50 -> 1.48 / 1.46, orientation
    1.40 / 1.39 -> 1.39 / 1.36, det 1.31 / 1.30 -> 1.26 / 1.29, rec 1.00 / 1.00 -> 1.00 / 1.01.
    Rules measured and not kept (cls): every conv over <= 4 rows (pointwise too) 1.81; depthwise
    over <= 12 rows 1.49 (vs 1.51: within noise, and it reaches orientation's and rec's wide
    depthwise convs, where the float form was slower: all 3 x 3 depthwise of orientation 1.51,
    its 5 x 5 ones 1.48, against 1.42); pointwise convs reading <= 8 / <= 16 channels, or writing
    <= 8: cls 1.51 / 1.63 / 1.51, det 1.26 / 1.33 / 1.32 against 1.51 / 1.25 (load ~3-4)."""
    depthwise = op.groups.value.data == w.shape[-1] and w.shape[2] == 1
    rows = static_shape(op.output)[1]
    if depthwise:
        return 0 <= rows <= FLOAT_CONV_DEPTHWISE_ROWS
    return w.shape[2] <= FLOAT_CONV_INPUT_CHANNELS


def _byte_bias(bias: np.ndarray, w: np.ndarray, input_zero: int, shift: np.ndarray) -> np.ndarray:
    """B' of `lower_qconv2d_on_floats`: the bias and the input zero point's correction z_in sum w
    (the Conv reads c = q - z_in), offset to the byte q + 128 (`requantize.floor_offset_bias`)."""
    from runtime.onnx_backend.requantize import floor_offset_bias

    return floor_offset_bias(bias + input_zero * w.astype(np.int64).sum(axis=(0, 1, 2)), BYTE_OFFSET, shift)


def lower_qconv2d_on_floats(op: q.QConv2DOp, f: Fragment, operands: Operands, w: np.ndarray, bias: np.ndarray) -> list[str] | None:
    """The conv's bytes from a float32 Conv on the centred input c (DequantizeLinear of the bytes,
    scale 1), exact as the bit-exact sessions' convolution (`exact_float_form.lower_qconv2d_form`,
    its table index with 128 in place of 256): weights w 2**-n, the bias B' = bias + z_in sum w
    + 128 2**n + 2**(n-1) (`requantize.floor_offset_bias`) as `requantize.sima_bias` folds it, so that the product u = (B' + sum c w)
    2**-n + 2**-(n+1) has floor(u) = floor(A 2**-n + 1/2) + 128 = q + 128, the byte (A: the
    model's accumulator; u never crosses an integer that A 2**-n + 1/2 does not). Clip to the
    bytes of q's range (a relu: q >= 0; onnxruntime fuses the Clip into the Conv), Cast to uint8
    (truncation: floor for u >= 0). A channel with n = 0 has no half to add: u = A + 128 is an
    integer, exact. None where that is not provably exact (tflite requantization, the float32
    bound of `lower._fused_sima_bias`, e.g. rec's stem with biases near 2**24): QLinearConv then."""
    constants = _floored_gemm_constants(op, w, bias)
    if constants is None:
        return None
    weights, fused_bias = constants
    x = _centred(f, f.transpose(operands.name(0), NHWC_TO_NCHW), _byte_element(op.input))
    product = f.node("Conv", [x, f.constant(np.ascontiguousarray(weights.transpose(3, 2, 0, 1))), f.constant(fused_bias)],  # HWIO -> OIHW
                     **conv_attributes(op, w.shape))
    return [f.transpose(_floored_bytes(f, op, product), NCHW_TO_NHWC)]


def lower_qconv2d_transpose(op: q.QConv2DTransposeOp, f: Fragment, operands: Operands) -> list[str]:
    """A float32 ConvTranspose on the centred input, its bytes floored as `lower_qconv2d_on_floats`
    floors a Conv's: exact where `_floored_gemm_constants` proves it (every partial sum a multiple
    of 2**-n below float32's exact range, whatever order onnxruntime adds the taps in). The float
    emulation's ConvTranspose before it rounded a float32 bias that drops bits below 2**-24 of |v|
    (within a step); on det's two, one step at a few outputs moved its probability map: fast mode
    vs bit-exact 34.6 dB on 16 inputs, 158 dB in this form (the same integers; its last float ops
    differ in the last bit). Else (tflite requantization, the bound) the float emulation's, as before."""
    source, target = _byte_element(op.input), _byte_element(op.output)
    w, bias = operands.constant(1), operands.constant(2)
    constants = None if source is None or target is None or w is None or bias is None else _floored_gemm_constants(op, w, bias)
    if constants is None:
        return _between_bytes(emulate.emulate_qconv2d_transpose)(op, f, operands)
    product = emulate.conv_transpose(op, f, _centred(f, f.transpose(operands.name(0), NHWC_TO_NCHW), source), *constants)
    return [f.transpose(_floored_bytes(f, op, product), NCHW_TO_NHWC)]


def _floored_gemm_constants(op: q.QuantizedGemmOp, w: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(weights w 2**-n as float32, HWIO-like as w; the float32 bias B') whose product on the centred
    input floors to the output's bytes (`lower_qconv2d_on_floats`), or None where not provably exact."""
    from runtime.onnx_backend.lower import _fused_sima_bias, _gemm_plan, _magnitude, _scaled_weights

    source = _byte_element(op.input)
    requantization = op.requantization()
    if not isinstance(requantization, ArithFoldedRequantization):
        return None
    integer_bias = np.asarray(bias).astype(np.int64)
    try:
        plan = _gemm_plan(op, w, integer_bias, (0, 1, 2))
    except NotLowerable:  # int32 checks not proven by the weights: the checked form decides
        return None
    column_l1 = plan[3]
    shift = np.broadcast_to(np.asarray(requantization.shift, dtype=np.int64), (w.shape[-1],))
    fused_bias = _fused_sima_bias(plan, _byte_bias(integer_bias, w, source.zero_point_value, shift), _magnitude(source) * column_l1)
    if fused_bias is None:
        return None
    return _scaled_weights(w, plan), fused_bias


def _floored_bytes(f: Fragment, op: q.QuantizedGemmOp, product: str) -> str:
    """The bytes floor(product), clipped to q's range (a relu: q >= 0; onnxruntime fuses the Clip into a Conv)."""
    low = BYTE_OFFSET if op.has_relu else 0  # the byte of q = 0 under a relu, else of -128
    clipped = f.node("Clip", [product, f.constant(np.float32(low)), f.constant(np.float32(2 * BYTE_OFFSET - 1))])
    return f.cast(clipped, onnx.TensorProto.UINT8)  # truncation: floor for values >= 0


def _relu(f: Fragment, op: q.QuantizedGemmOp, stored: str) -> str:
    """A fused relu clamps the accumulator at 0: q at 0 (sima, its byte 128), at z_out (tflite)."""
    if not op.has_relu:
        return stored
    requantization = op.requantization()
    floor = BYTE_OFFSET + (requantization.zero_point if isinstance(requantization, TFLiteRequantization) else 0)
    return f.node("Clip", [stored, _scalar_constant(f, np.uint8(floor)), _scalar_constant(f, np.uint8(255))])


def lower_qdense(op: q.QDenseOp, f: Fragment, operands: Operands) -> list[str]:
    """QDQ Gemm (onnxruntime: QGemm, u8 x u8) on the input flattened to [-1, K]. The float
    emulation's MatMul on float weights must not meet onnxruntime's fusions: it requantizes
    float weights itself (measured: rec's output 27.2 -> 24.5 dB from bit-exact)."""
    source, target = _byte_element(op.input), _byte_element(op.output)
    in_shape, out_shape = static_shape(op.input), static_shape(op.output)
    if source is None or target is None or any(d < 0 for d in (*in_shape, *out_shape)):
        raise NotLowerable("QGemm form needs bytes in and out and static shapes (the NumPy fast kernel runs)")
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias")
    scale, int32_bias, output_zero = _gemm_requantization(op, w, bias, 0)
    x = operands.name(0)
    if len(in_shape) != 2:
        x = f.node("Reshape", [x, f.constant([-1, in_shape[-1]], np.int64)])
    weights = (w.astype(np.int16) + BYTE_OFFSET).astype(np.uint8)
    dequantized_weights = f.node(
        "DequantizeLinear",
        [f.constant(weights), f.constant(scale), f.constant(np.full(w.shape[-1], BYTE_OFFSET, np.uint8))],
        axis=1,
    )
    dequantized_bias = f.node("DequantizeLinear", [f.constant(int32_bias), f.constant(scale)], axis=0)
    product = f.node("Gemm", [_centred(f, x, source), dequantized_weights, dequantized_bias])
    stored = _relu(f, op, f.node("QuantizeLinear", [product, _scalar_constant(f, np.float32(1.0)), _scalar_constant(f, np.uint8(output_zero))]))
    if len(out_shape) != 2:
        stored = f.node("Reshape", [stored, f.constant(list(out_shape), np.int64)])
    return [stored]


# ---------------------------------------------------------------------------
# the global pool in the form onnxruntime fuses (QLinearGlobalAveragePool), qadd / qsub in one
# it does not fuse. qmul keeps the float emulation's form (a Mul by its factor on the smaller
# operand first): QLinearMul measured far from bit-exact (cls, percentile calibration: 26.6 dB
# where the float form gives 147.6 dB), as QLinearAdd: each operand's factor in its DequantizeLinear's scale, the result
# rounded by a QuantizeLinear of scale 1 (ties to even where the model rounds half away from zero)


def _all_bytes(op) -> bool:
    return all(_byte_element(value) is not None for value in (*op.operands, *op.results))


def _byte_operand(f: Fragment, operands: Operands, op, index: int, scale: float) -> str:
    return _centred(f, operands.name(index), _byte_element(op.operands[index]), scale)


def _byte_result(f: Fragment, value: str, op) -> str:
    return f.node("QuantizeLinear", [value, _scalar_constant(f, np.float32(1.0)), _byte_zero(f, _byte_element(op.results[0]))])


def lower_qadd_sub(op: q.QuantizedAddSubOp, f: Fragment, operands: Operands) -> list[str]:
    """Sub of the two dequantized terms (scale M_i M 2**(L - n_i - n) each; an add subtracts the
    second term dequantized with the negated scale), rounded half away from zero by the push,
    as the float emulation. Not Add: onnxruntime would fuse DequantizeLinear -> Add ->
    QuantizeLinear into QLinearAdd, measured far from bit-exact (cls, percentile calibration:
    17.6 dB where this form gives 147.6 dB); it has no QLinearSub."""
    if not _all_bytes(op):
        return _between_bytes(emulate.emulate_qadd_sub)(op, f, operands)
    left_shift, shift, multiplier = op.left_shift.value.data, op.shift.value.data, op.multiplier.value.data
    rescales = op.input_rescales()
    ratios = [emulate._tflite_ratio(r.multiplier * multiplier, r.shift + shift, left_shift) for r in rescales]
    lhs = _byte_operand(f, operands, op, 0, ratios[0])
    rhs = _byte_operand(f, operands, op, 1, ratios[1] if op.SUBTRACT else -ratios[1])
    push = emulate._away_from_zero(max(0, max(r.shift for r in rescales) + shift - left_shift), _byte_element(op.output))
    total = f.node("Sub", [lhs, rhs])
    return [f.node("QuantizeLinear", [total, _scalar_constant(f, np.float32(1.0 - push)), _byte_zero(f, _byte_element(op.output))])]


def lower_qmul(op: q.QMulOp, f: Fragment, operands: Operands) -> list[str]:
    """The float emulation's product: the Mul by the factor keeps onnxruntime from fusing the
    pattern into QLinearMul (a factor of 1 is dropped and fused: then QLinearMul's product is
    the exact integer product). Where the smaller operand is one value, the larger one's
    DequantizeLinear takes it as its scale instead (`_scaled_by_one_value`)."""
    if not _all_bytes(op):
        return _between_bytes(emulate.emulate_qmul)(op, f, operands)
    left_shift, shift = op.left_shift.value.data, op.shift.value.data
    ratio = emulate._tflite_ratio(op.multiplier.value.data, shift, left_shift)
    push = emulate._away_from_zero(max(0, shift - left_shift), _byte_element(op.output))
    small = 0 if emulate._size(op.lhs) < emulate._size(op.rhs) else 1  # the factor on the smaller operand (often a per-channel gate)
    product = _scaled_by_one_value(op, f, operands, small, ratio)
    if product is None:
        lhs, rhs = _byte_operand(f, operands, op, 0, 1.0), _byte_operand(f, operands, op, 1, 1.0)
        if small == 0:
            lhs = f.node("Mul", [lhs, _scalar_constant(f, np.float32(ratio))])
        else:
            rhs = f.node("Mul", [rhs, _scalar_constant(f, np.float32(ratio))])
        product = f.node("Mul", [lhs, rhs])
    return [f.node("QuantizeLinear", [product, _scalar_constant(f, np.float32(1.0 - push)), _byte_zero(f, _byte_element(op.output))])]


def _scaled_by_one_value(op: q.QMulOp, f: Fragment, operands: Operands, small: int, ratio: float) -> str | None:
    """The product c_big * g of a qmul whose smaller operand is one value (det's and rec's x * 1/6)
    as one DequantizeLinear of the larger operand's bytes with scale g = fl(c_small * ratio): the
    same float32 as Mul(DequantizeLinear(big), g) (one rounding of the exact c_big times g;
    checked against the Mul form: test/test_fast_mode_integer.py), one pass over the large
    tensor fewer (200k bytes, one thread: 50 us against 100 us). g is computed at compile time for a
    constant (float32 arithmetic, as onnxruntime's Mul), else from the operand's byte (a runtime
    scale, which also keeps onnxruntime's QDQ fusions away). Not for a per-channel operand: a
    per-axis DequantizeLinear is a slow loop in onnxruntime (597 us on those 200k bytes, measured).
    None where the shapes do not fit (the Mul form then). Measured (CPU time / onnxruntime fp32, one
    thread, load ~2, Mul form -> this): `bench/bench_fast_forms.py` (variant mul-form, min / max
    calibration, 5 interleaved rounds) det 1.27 -> 1.21, rec 1.03 -> 1.00; default_quantization,
    5 interleaved rounds: det 1.285 -> 1.263, rec 0.976 -> 0.943."""
    big = 1 - small
    if emulate._size(op.operands[small]) != 1 or emulate._size(op.operands[big]) < 0:
        return None
    big_element, small_element = _byte_element(op.operands[big]), _byte_element(op.operands[small])
    constant = operands.constant(small)
    if constant is not None:
        centred = np.float32(int(np.asarray(constant).reshape(())) - small_element.zero_point_value)  # exact
        scale = _scalar_constant(f, np.float32(centred * np.float32(ratio)))  # float32 arithmetic, one rounding
    else:
        factor = f.node("Mul", [_byte_operand(f, operands, op, small, 1.0), _scalar_constant(f, np.float32(ratio))])
        scale = f.node("Reshape", [factor, f.constant(np.zeros(0, np.int64))])  # rank 0: a per-tensor scale
    return f.node("DequantizeLinear", [operands.name(big), scale, _byte_zero(f, big_element)])


def lower_qglobal_avg_pool(op: q.QGlobalAvgPoolOp, f: Fragment, operands: Operands) -> list[str]:
    if not _all_bytes(op):
        return _between_bytes(emulate.emulate_qglobal_avg_pool)(op, f, operands)
    _, height, width, _ = static_shape(op.input)
    if height < 0 or width < 0:
        return _between_bytes(emulate.emulate_qglobal_avg_pool)(op, f, operands)
    # the model: sum * M 2**-n = mean * (H W M 2**-n)
    ratio = emulate._tflite_ratio(op.multiplier.value.data, op.shift.value.data) * height * width
    x = _centred(f, f.transpose(operands.name(0), NHWC_TO_NCHW), _byte_element(op.input), ratio)
    push = emulate._away_from_zero(max(0, op.shift.value.data), _byte_element(op.output))  # ties away from zero, as the model
    mean = f.node("GlobalAveragePool", [x])
    pooled = f.node("QuantizeLinear", [mean, _scalar_constant(f, np.float32(1.0 - push)), _byte_zero(f, _byte_element(op.output))])
    return [f.transpose(pooled, NCHW_TO_NHWC)]


def lower_lut(op: q.LutOp, f: Fragment, operands: Operands) -> list[str]:
    """hard_swish as one HardSwish on the real values (Mul(c, HardSigmoid(c)) reads c twice, and
    onnxruntime then dequantizes it twice); other tables as the float emulation reads them. A
    recognized function's float32 pipeline is checked on every byte and its constants nudged
    until it gives exactly the table's bytes, else the table is read (`table_constants.make_exact`)."""
    source, target = _byte_element(op.input), _byte_element(op.output)
    table = operands.constant(1)
    if source is None or target is None or table is None:
        return _between_bytes(emulate.emulate_lut)(op, f, operands)
    found = table_functions.recognize(table, source, target)
    if found is None:  # read with Gather by the float emulation: exact already
        return _between_bytes(emulate.emulate_lut)(op, f, operands)
    x = operands.name(0)
    first_node, first_initializer = len(f.nodes), len(f.initializers)
    if found.function.name == "hard_swish":
        swished = f.node("HardSwish", [_centred(f, x, source, source.scale_value)])
        result = f.node("QuantizeLinear", [swished, _scalar_constant(f, np.float32(target.scale_value)), _byte_zero(f, target)])
    else:
        [result] = _between_bytes(emulate.emulate_lut)(op, f, operands)
    shape = tuple(static_shape(op.output))
    known = shape if all(d >= 0 for d in shape) else None
    return [table_constants.make_exact(f, first_node, first_initializer, x, result, table, known, f.where)]


# ---------------------------------------------------------------------------
# quantize (float32 -> bytes): sima's rounding of the exact quotient (`rounded_quantize.py`)


def lower_quantize(op: q.QuantizeOp, f: Fragment, operands: Operands) -> list[str]:
    """float32 -> int8 bytes as bit-exact's kernel rounds them (`rounded_quantize.quantized_bytes`),
    where that is proven for the step; else the float emulation's QuantizeLinear, as before."""
    stored = quantize_op_bytes(op, f, operands.name(0)) if _byte_element(op.output) is not None else None
    if stored is not None:
        return [stored]
    return _between_bytes(emulate.quantize_linear)(op, f, operands)


# ---------------------------------------------------------------------------
# data movement on bytes


def _on_bytes(byte_lowering, float_lowering):
    """`byte_lowering` where every quantized operand and result is carried as bytes, else the float
    emulation's lowering between bytes (f32 values: the float emulation's lowering as it is)."""

    def lower(op, f: Fragment, operands: Operands) -> list[str]:
        quantized = [value for value in (*op.operands, *op.results) if emulate._quantized(value) is not None]
        if quantized and all(_byte_element(value) is not None for value in quantized):
            return byte_lowering(op, f, operands)
        return _between_bytes(float_lowering)(op, f, operands)

    return lower


def lower_byte_max_pool(op: ops.MaxPoolOp, f: Fragment, operands: Operands) -> list[str]:
    x = f.transpose(operands.name(0), NHWC_TO_NCHW)
    y = f.node("MaxPool", [x], **max_pool_attributes(op))
    return [f.transpose(y, NCHW_TO_NHWC)]


def lower_byte_pad(op: ops.PadOp, f: Fragment, operands: Operands) -> list[str]:
    inputs = [operands.name(0), f.constant(ints(op.pads), np.int64)]
    if op.mode.data == "constant":
        inputs.append(_scalar_constant(f, np.uint8(op.value.value.data + BYTE_OFFSET)))
    return [f.node("Pad", inputs, mode=op.mode.data)]


_DATA_MOVEMENT = {
    ops.MaxPoolOp: lower_byte_max_pool,
    ops.PadOp: lower_byte_pad,
    ops.ReshapeOp: lower_reshape,
    ops.TransposeOp: lower_transpose,
    ops.ConcatOp: lower_concat,
    ops.SliceOp: lower_slice,
    ops.SplitOp: lower_split,
    ops.ExpandOp: lower_expand,
    ops.ResizeOp: lower_resize,
}

INTEGER_LOWERINGS = {
    **{kind: _between_bytes(lowering) for kind, lowering in emulate.FAST_LOWERINGS.items()},
    **{kind: _on_bytes(lowering, emulate.FAST_LOWERINGS[kind]) for kind, lowering in _DATA_MOVEMENT.items()},
    q.QuantizeOp: lower_quantize,
    q.QConv2DOp: lower_qconv2d,
    q.QConv2DTransposeOp: lower_qconv2d_transpose,
    q.QDenseOp: lower_qdense,
    q.QAddOp: lower_qadd_sub,
    q.QSubOp: lower_qadd_sub,
    q.QGlobalAvgPoolOp: lower_qglobal_avg_pool,
    q.QMulOp: lower_qmul,
    q.LutOp: lower_lut,
}
"""sima op class -> its lowering on bytes (ops not listed run on the fast NumPy kernels)."""




def all_quantized_are_bytes(function) -> bool:
    """Whether every quantized value of `function` is 8-bit (int8 storage), and there is one:
    the programs INTEGER_EMULATION is for (a 16-bit value would meet onnxruntime's QDQ fusions
    in the float emulation's form, which they are not written for)."""
    values = [value for op in function.walk() for value in (*op.operands, *op.results)]
    quantized = [value for value in values if emulate._quantized(value) is not None]
    return bool(quantized) and all(_byte_element(value) is not None for value in quantized)


FAST_FORM_VARIABLE = "SIMA_FAST_FORM"
FAST_FORMS = ("int8", "float")


FLOAT_FORM_GROUPED_SHARE = 0.5
"""An all-int8 program with at least this share of its convolutions in channel-grouped blocks
(`merged_groups.grouped_share`) runs fast mode's float form: its merged blocks are float32 Convs
with table reads, which the float form keeps in onnxruntime's blocked layout, where in the int8
form each block is a float island among NHWC QLinearConvs (transposes and reorders at its ends).
Measured (`bench/bench_fast_forms.py --channel-groups`, one thread, interleaved, three runs at
load ~12-16): orientation grouped (13 blocks, ~90% of its convs) 1.69x / 1.71x / 1.69x onnxruntime
fp32 in the int8 form, 1.49x / 1.49x / 1.48x in the float form. cls grouped (one block, 4 of its
55 convs) stays on the int8 form: int8 / float 1.76 / 1.87, 1.84 / 1.67, 1.84 / 1.74 (noise)."""


def fast_program(interpreter, *, threads: int | None = None):
    """fast mode's onnxruntime program: INTEGER_EMULATION for an all-int8 program (unless most of
    its convolutions are in channel-grouped blocks: `FLOAT_FORM_GROUPED_SHARE`), else (or if
    onnxruntime cannot build one of its sessions) a float emulation: for a program with a 16-bit
    value `relaxed_emulation.RelaxedProgram` (its 16-bit requantizations saturate, not round),
    for an all-int8 one `fused_emulation.FusedProgram`. $SIMA_FAST_FORM = float asks for the
    float emulation on any program (= int8, the default, takes the int8 kernels where the
    program is all int8)."""
    import os

    from runtime.onnx_backend.fused_emulation import FusedProgram
    from runtime.onnx_backend.program import OnnxProgram
    from runtime.onnx_backend.relaxed_emulation import RelaxedProgram, has_relaxed_values

    form = os.environ.get(FAST_FORM_VARIABLE, "").strip().lower()
    if form and form not in FAST_FORMS:
        raise ValueError(f"${FAST_FORM_VARIABLE} must be one of {', '.join(FAST_FORMS)}, got {form!r}")
    if form != "float" and all_quantized_are_bytes(interpreter.function) and grouped_share(interpreter.function) < FLOAT_FORM_GROUPED_SHARE:
        program = OnnxProgram(interpreter, threads=threads, emulation=INTEGER_EMULATION)
        if len(program.numpy_ops()) == len(program.fallbacks):  # else a session failed: its ops run in NumPy
            return program
    if has_relaxed_values(interpreter.function):
        return RelaxedProgram(interpreter, threads=threads)
    return FusedProgram(interpreter, threads=threads)

__all__ = [
    "FAST_FORMS", "FAST_FORM_VARIABLE", "FLOAT_CONV_DEPTHWISE_ROWS", "FLOAT_CONV_INPUT_CHANNELS", "INTEGER_EMULATION", "INTEGER_LOWERINGS",
    "IntegerEmulation", "all_quantized_are_bytes", "chain_table_bytes", "fast_program", "lower_qconv2d_on_floats",
    "lower_qconv2d_transpose", "lower_quantize", "runs_on_floats",
]
