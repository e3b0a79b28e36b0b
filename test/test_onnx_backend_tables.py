"""Table ops inside the onnxruntime session (`runtime.onnx_backend.exact_tables`).

The exact backend reads every table (lut, requantize, int8 qadd / qsub / qmul,
chains of them fused into one table) with GatherElements inside the session,
on the NCHW tensors the convolutions leave (`lower.nhwc_result`). Tested here:

- the table read alone, on every value of int8 / int16 at many positions and
  shapes (GatherElements' negative indices read the bit-pattern layout);
- small random programs (conv -> lut -> chain -> conv, a broadcast qmul, a
  residual qadd, an intermediate returned) bit for bit the NumPy interpreter,
  as ONE onnxruntime session with no op left to NumPy, the chain fused;
- the dead-node pruning of a segment (`program._live_nodes`);
- int16 convolutions in float32 (`lower._int15_float32_plan`) and int16 max pools.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

from integer_references import integers, quant
from runtime.integer_arithmetic import ArithFoldedRequantization
from runtime.interpreter import Interpreter
from runtime.onnx_backend import lower
from runtime.onnx_backend.exact_tables import read_by_value
from runtime.onnx_backend.graph import IR_VERSION, OPSET, Fragment, NameSource, onnx_type
from runtime.onnx_backend.program import OnnxProgram, _live_nodes
from sima_dialect.ops import ConstantOp
from sima_dialect.weights import NDArrayAttr, WeightData
from sima_dialect.quantized_ops import LutOp, QAddOp, QConv2DOp, QMulOp

import onnxruntime  # noqa: E402  a core dependency: these tests fail, not skip, without it

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _session(fragment: Fragment, input_name: str, dtype: np.dtype, output: str, output_dtype: np.dtype):
    graph = helper.make_graph(
        fragment.nodes, "table", [helper.make_tensor_value_info(input_name, onnx_type(dtype), None)],
        [helper.make_tensor_value_info(output, onnx_type(output_dtype), None)], fragment.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("input_dtype", [np.int8, np.int16])
@pytest.mark.parametrize("table_dtype", [np.int8, np.int16, np.int32, np.float32])
def test_a_table_read_gives_every_entry_at_every_position(input_dtype, table_dtype):
    """Every value of the input type, in a shuffled order, tiled to lengths that put each
    value in SIMD bodies and tails; read as rank 1 and rank 4, with and without a static shape."""
    rng = np.random.default_rng(0)
    info = np.iinfo(input_dtype)
    values = np.arange(int(info.min), int(info.max) + 1).astype(input_dtype)
    table = (rng.standard_normal(values.size) * 1000).astype(table_dtype)  # by bit pattern
    expected_of = lambda x: table[x.view(f"u{np.dtype(input_dtype).itemsize}").astype(np.int64)]  # noqa: E731
    for shape in [(values.size,), (values.size * 3 + 7,), (2, 3, 5, values.size // 2 + 1)]:
        x = rng.permutation(np.resize(values, int(np.prod(shape)))).reshape(shape)
        for static in (None, shape):
            fragment = Fragment(NameSource(), "test")
            output = read_by_value(fragment, table, "x", static)
            produced = _session(fragment, "x", np.dtype(input_dtype), output, table.dtype).run(None, {"x": x})[0]
            assert produced.dtype == table.dtype and produced.shape == x.shape
            np.testing.assert_array_equal(produced, expected_of(x))


def _conv(x, element, weight, bias, shift, output, *, pads=(0, 0, 0, 0), groups=1, relu=False):
    return QConv2DOp(x, weight, bias, ArithFoldedRequantization(np.array(shift)), 0, output,
                     strides=[1, 1], pads=list(pads), dilations=[1, 1], groups=groups, relu=relu)


def _program_module(seed: int, channels: int, height: int, width: int):
    """@main(x: int8 [1, H, W, C], gate: int8 [1, 1, 1, C]) ->
    conv 3x3 depthwise (padded) -> lut -> qmul by a scalar -> qadd of a scalar (a chain)
    -> conv 1x1 -> qmul by gate (broadcast) -> qadd with the lut's output (residual);
    returns the residual sum and the first conv's output (an intermediate the session returns)."""
    rng = np.random.default_rng(seed)
    c = channels
    x_type, gate_type = quant(8, 0.1, int(rng.integers(-20, 20))), quant(8, 0.05, int(rng.integers(-5, 5)))
    block = Block(arg_types=[TensorType(x_type, [1, height, width, c]), TensorType(gate_type, [1, 1, 1, c])])
    x, gate = block.args
    constants = {
        "w1": rng.integers(-9, 10, (3, 3, 1, c)).astype(np.int8),
        "b1": rng.integers(-500, 500, c).astype(np.int32),
        "table": rng.integers(-128, 128, 256).astype(np.int8),
        "scale": np.array([[[[int(rng.integers(-128, 128))]]]], np.int8),
        "offset": np.array([[[[int(rng.integers(-128, 128))]]]], np.int8),
        "w2": rng.integers(-9, 10, (1, 1, c, c)).astype(np.int8),
        "b2": rng.integers(-500, 500, c).astype(np.int32),
    }
    const_ops = {name: ConstantOp.from_array(name, value) for name, value in constants.items() if name not in ("scale", "offset")}
    for name in ("scale", "offset"):  # quantized scalars: the second operand of a qmul / qadd
        array = constants[name]
        const_ops[name] = ConstantOp(NDArrayAttr(WeightData(name, TensorType(quant(8, 0.1, 0), array.shape), array)))
    value = {name: op.output for name, op in const_ops.items()}
    step = lambda: quant(8, 0.1, int(rng.integers(-10, 10)))  # noqa: E731
    conv1 = _conv(x, x_type, value["w1"], value["b1"], int(rng.integers(1, 6)), step(), pads=(1, 1, 1, 1), groups=c)
    lut = LutOp(conv1.output, value["table"], step())
    scaled = QMulOp(lut.output, value["scale"], step(), multiplier=int(rng.integers(1, 127)), shift=int(rng.integers(6, 14)), left_shift=0)
    shifted = QAddOp(scaled.output, value["offset"], step(), multiplier=int(rng.integers(1, 127)), shift=int(rng.integers(6, 10)), left_shift=2,
                     lhs_multiplier=int(rng.integers(1, 127)), lhs_shift=6, rhs_multiplier=int(rng.integers(1, 127)), rhs_shift=6)
    conv2 = _conv(shifted.output, None, value["w2"], value["b2"], int(rng.integers(1, 6)), quant(8, 0.1, 0), relu=bool(rng.integers(2)))
    gated = QMulOp(conv2.output, gate, step(), multiplier=int(rng.integers(1, 127)), shift=int(rng.integers(8, 16)), left_shift=0)
    residual = QAddOp(gated.output, lut.output, step(), multiplier=int(rng.integers(1, 127)), shift=int(rng.integers(6, 10)), left_shift=2,
                      lhs_multiplier=int(rng.integers(1, 127)), lhs_shift=6, rhs_multiplier=int(rng.integers(1, 127)), rhs_shift=6)
    body = [*const_ops.values(), conv1, lut, scaled, shifted, conv2, gated, residual]
    block.add_ops([*body, ReturnOp(residual.output, conv1.output)])
    function = FuncOp("main", ([a.type for a in block.args], [residual.output.type, conv1.output.type]), Region(block))
    module = ModuleOp([function])
    module.verify()
    low, high = integers(8)
    feeds = [rng.integers(low, high + 1, (1, height, width, c)).astype(np.int8), rng.integers(low, high + 1, (1, 1, 1, c)).astype(np.int8)]
    return module, feeds


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(1, 6), st.integers(1, 9))
def test_a_program_with_tables_is_one_session_and_bit_exact(seed, channels, height, width):
    module, feeds = _program_module(seed, channels, height, width)
    interpreter = Interpreter(module)
    program = OnnxProgram(interpreter, threads=1)
    assert program.segment_count() == 1 and program.numpy_ops() == [], program.fallbacks
    assert any(" -> " in op for op in program.lowered_ops()), program.lowered_ops()  # the lut -> qmul -> qadd chain: one table
    for produced, expected in zip(program.run(feeds), interpreter.run(feeds), strict=True):
        assert produced.dtype == expected.dtype and produced.shape == expected.shape
        np.testing.assert_array_equal(produced, expected)


def test_tables_in_numpy_when_asked():
    module, feeds = _program_module(1, 3, 4, 5)
    interpreter = Interpreter(module)
    program = OnnxProgram(interpreter, threads=1, tables_in_onnx=False)
    assert program.segment_count() == 2  # the tables between the two convolutions run in NumPy
    for produced, expected in zip(program.run(feeds), interpreter.run(feeds), strict=True):
        np.testing.assert_array_equal(produced, expected)


def test_nodes_no_output_depends_on_are_dropped():
    f = Fragment(NameSource(), "test")
    used = f.node("Relu", ["x"])
    f.node("Transpose", [used], perm=[0, 2, 3, 1])  # read by nothing: dropped, with its constant below
    dead_constant = f.constant(np.ones(3, np.float32))
    f.node("Add", ["x", dead_constant])
    out = f.node("Neg", [used])
    nodes, initializers = _live_nodes(f.nodes, f.initializers, [out])
    assert [node.op_type for node in nodes] == ["Relu", "Neg"]
    assert initializers == []


# ---------------------------------------------------------------------------
# int16 inputs: the int15 product in float32 (`lower._int15_float32_plan`), on by default


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 8]), st.integers(7, 24), st.sampled_from([8, 16]), st.booleans(), st.booleans())
def test_an_int16_convolution_runs_in_float32_bit_exact(seed, intrinsic_shift, shift, output_bits, relu, depthwise):
    """Shifts and biases of the real models' size (the float32 bounds hold: every such conv
    of cls and orientation int16 lowers); smaller shifts with large biases stay in NumPy."""
    rng = np.random.default_rng(seed)
    c_in = 3
    c_out = c_in if depthwise else 4
    low, high = integers(16)
    x = rng.integers(low, high + 1, (1, 12, 16, c_in)).astype(np.int16)  # ~200 outputs per channel: a one-unit error in lo shows
    x.flat[:4] = [low, high, low, high]  # the extremes, where hi and lo are largest
    weight = rng.integers(-127, 128, (3, 3, 1 if depthwise else c_in, c_out)).astype(np.int8)
    bias_bound = 2 ** (26 - (intrinsic_shift - 1))  # the accumulator of h = 8 is 2**7 times smaller
    bias = rng.integers(-bias_bound, bias_bound, c_out).astype(np.int32)
    zero_point = int(rng.integers(low, high + 1))
    output = quant(output_bits, 0.5, 0)
    module = _one_conv(x, quant(16, 0.25, zero_point), weight, bias, shift, intrinsic_shift, output, relu, c_in if depthwise else 1)
    interpreter = Interpreter(module)
    plans = []
    original = lower._int15_float32_plan
    lower._int15_float32_plan = lambda *arguments: plans.append(original(*arguments)) or plans[-1]
    try:
        program = OnnxProgram(interpreter, threads=1)
    finally:
        lower._int15_float32_plan = original
    assert program.numpy_ops() == [], program.fallbacks
    assert len(plans) == 1 and plans[0] is not None  # the float32 form, not the float64 one
    np.testing.assert_array_equal(program.run([x])[0], interpreter.run([x])[0])


def _one_conv(x, x_type, weight, bias, shift, intrinsic_shift, output, relu, groups):
    block = Block(arg_types=[TensorType(x_type, list(x.shape))])
    w, b = ConstantOp.from_array("w", weight), ConstantOp.from_array("b", bias)
    conv = QConv2DOp(block.args[0], w.output, b.output, ArithFoldedRequantization(np.array(shift)), intrinsic_shift, output,
                     strides=[1, 1], pads=[1, 0, 1, 2], dilations=[1, 1], groups=groups, relu=relu)
    block.add_ops([w, b, conv, ReturnOp(conv.output)])
    module = ModuleOp([FuncOp("main", ([block.args[0].type], [conv.output.type]), Region(block))])
    module.verify()
    return module


def test_an_int16_max_pool_runs_in_onnxruntime():
    from sima_dialect import ops

    x = np.random.default_rng(3).integers(-(2**15), 2**15, (1, 5, 6, 4)).astype(np.int16)
    element = quant(16, 0.5, 2)
    block = Block(arg_types=[TensorType(element, list(x.shape))])
    pool = ops.MaxPoolOp(operands=[block.args[0]], result_types=[TensorType(element, [1, 3, 3, 4])],
                         properties={"kernel": ops.int_array([3, 3]), "strides": ops.int_array([2, 2]),
                                     "pads": ops.int_array([1, 1, 1, 1]), "dilations": ops.int_array([1, 1])})
    block.add_ops([pool, ReturnOp(pool.results[0])])
    module = ModuleOp([FuncOp("main", ([block.args[0].type], [pool.results[0].type]), Region(block))])
    interpreter = Interpreter(module)
    program = OnnxProgram(interpreter, threads=1)
    assert program.numpy_ops() == [], program.fallbacks
    np.testing.assert_array_equal(program.run([x])[0], interpreter.run([x])[0])


@pytest.mark.parametrize("term", [1, 3])  # the hi product's bias, the lo product's bias
def test_a_one_unit_error_in_the_float32_int15_form_is_seen(term):
    """The mutation check of the test above: one unit more in either bias changes some output
    (a lo unit moves V' on about 1 element in 256: 3072 outputs; shift n = 7 = 8 - h, so k = 0)."""
    rng = np.random.default_rng(5)
    x = rng.integers(-(2**15), 2**15, (1, 24, 32, 3)).astype(np.int16)
    weight = rng.integers(-3, 4, (3, 3, 3, 4)).astype(np.int8)  # outputs within int16, not saturated
    bias = rng.integers(-(2**12), 2**12, 4).astype(np.int32)
    module = _one_conv(x, quant(16, 0.25, 17), weight, bias, 7, 1, quant(16, 0.5, 0), False, 1)
    interpreter = Interpreter(module)
    original = lower._int15_float32_plan

    def one_unit_more(*arguments):
        plan = list(original(*arguments))
        plan[term] = plan[term] + (1.0 if term == 1 else plan[2])  # plan[2]: the lo product's unit
        return tuple(plan)

    lower._int15_float32_plan = one_unit_more
    try:
        program = OnnxProgram(interpreter, threads=1)
    finally:
        lower._int15_float32_plan = original
    assert program.numpy_ops() == []
    expected = interpreter.run([x])[0]
    assert np.abs(expected).max() < 2**15 - 1  # (not saturated, so a change can show)
    np.testing.assert_array_equal(OnnxProgram(interpreter, threads=1).run([x])[0], expected)  # unmutated: equal
    assert not np.array_equal(program.run([x])[0], expected)
