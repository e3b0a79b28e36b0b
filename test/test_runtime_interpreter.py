"""The interpreter's contract: input naming and validation, the compiled plan
(constant folding, dead ops, freeing intermediates), outputs the caller owns, and
errors that name the op or input at fault."""

from __future__ import annotations

import weakref

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from runtime_ir import Weight, one_op_module
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType, f32
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region
from xdsl.irdl import IRDLOperation, irdl_op_definition, operand_def

from runtime.errors import InputError, InterpreterError, KernelError, UnsupportedOpError
from runtime.interpreter import Interpreter
from runtime.kernels import KERNELS
from sima_dialect import ops
from sima_dialect.context import parse_module

TWO_INPUTS = """
func.func @main(%x: tensor<1x2x2x3xf32> {sima.name = "image"}, %y: tensor<3xf32>) -> (tensor<1x2x2x3xf32>, tensor<1x2x2x3xf32>) {
  %0 = sima.add %x, %y : (tensor<1x2x2x3xf32>, tensor<3xf32>) -> tensor<1x2x2x3xf32>
  %1 = sima.relu %0 {node = "MLA_0/relu_0"} : tensor<1x2x2x3xf32>
  func.return %1, %0 : tensor<1x2x2x3xf32>, tensor<1x2x2x3xf32>
}
"""


def two_inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((1, 2, 2, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)


def test_every_op_of_the_dialect_has_a_kernel():
    missing = [op.name for op in ops.ALL_OPS if op not in KERNELS]
    assert not missing, f"ops without a kernel: {missing}"


def test_input_names_come_from_sima_name_then_the_argument_name():
    interp = Interpreter(parse_module(TWO_INPUTS))
    assert interp.input_names == ["image", "y"]
    assert interp.input_types == [((1, 2, 2, 3), np.dtype(np.float32)), ((3,), np.dtype(np.float32))]
    assert interp.output_types == [((1, 2, 2, 3), np.dtype(np.float32))] * 2


def test_unnamed_arguments_are_called_by_position():
    module = parse_module(
        '"builtin.module"() ({ "func.func"() <{sym_name = "main", function_type = (tensor<2xf32>) -> tensor<2xf32>}> ({\n'
        "^bb0(%0: tensor<2xf32>):\n"
        '  "func.return"(%0) : (tensor<2xf32>) -> ()\n'
        "}) : () -> () }) : () -> ()"
    )
    assert Interpreter(module).input_names == ["arg0"]


@pytest.mark.parametrize("form", ["dict", "list"])
def test_run_by_name_or_position(form):
    x, y = two_inputs()
    interp = Interpreter(parse_module(TWO_INPUTS))
    relu, total = interp.run({"y": y, "image": x} if form == "dict" else [x, y])
    np.testing.assert_array_equal(total, x + y)
    np.testing.assert_array_equal(relu, np.maximum(x + y, 0))
    assert relu.dtype == total.dtype == np.float32


def test_a_single_array_feeds_a_single_input():
    module, _ = one_op_module(ops.NegOp, [np.zeros(3, np.float32)], [((3,), np.float32)])
    (out,) = Interpreter(module).run(np.array([1, -2, 3], np.float32))
    assert out.tolist() == [-1, 2, -3]


@pytest.mark.parametrize(
    "feed,message",
    [
        ({"y": np.zeros(3, np.float32)}, "missing input(s) image"),
        ({"image": np.zeros((1, 2, 2, 3), np.float32), "y": np.zeros(3, np.float32), "z": 1}, "unknown input(s) z"),
        ({"image": np.zeros((1, 2, 2, 3)), "y": np.zeros(3, np.float32)}, "input 'image' must be float32 [1, 2, 2, 3], got float64 [1, 2, 2, 3]"),
        ({"image": np.zeros((1, 2, 3, 2), np.float32), "y": np.zeros(3, np.float32)}, "input 'image' must be float32 [1, 2, 2, 3], got float32 [1, 2, 3, 2]"),
        ([np.zeros((1, 2, 2, 3), np.float32)], "got 1 inputs, but the model has 2: image, y"),
        (np.zeros(3, np.float32), "got one array, but the model has 2 inputs"),
    ],
)
def test_bad_inputs_raise_an_input_error_that_says_what_is_wrong(feed, message):
    with pytest.raises(InputError) as error:
        Interpreter(parse_module(TWO_INPUTS)).run(feed)
    assert message in str(error.value)
    assert isinstance(error.value, ValueError)


def test_an_op_without_kernel_is_named_with_its_node(monkeypatch):
    monkeypatch.delitem(KERNELS, ops.ReluOp)
    with pytest.raises(UnsupportedOpError, match="no kernel for sima.relu 'MLA_0/relu_0'"):
        Interpreter(parse_module(TWO_INPUTS))


def test_a_failing_kernel_names_its_node():
    data = np.zeros((3, 2), np.float32)
    module, _ = one_op_module(ops.GatherOp, [Weight(data), np.zeros(2, np.int64)], [((2, 2), np.float32)], axis=0, node="embed")
    with pytest.raises(KernelError, match="sima.gather 'embed' failed: index 7 is out of bounds"):
        Interpreter(module).run([np.array([0, 7], np.int64)])


def test_a_kernel_that_disagrees_with_the_ir_is_caught():
    module, feeds = one_op_module(ops.ReluOp, [np.ones(3, np.float32)], [((3,), np.float32)], node="bad")
    careless = {ops.ReluOp: lambda op: lambda x: np.maximum(x, 0.0).astype(np.float64)}
    with pytest.raises(KernelError, match="sima.relu 'bad': its kernel produced float64 \\[3\\], the IR says float32 \\[3\\]"):
        Interpreter(module, kernels=careless).run(feeds)


def test_results_are_checked_on_the_first_run_with_each_input_shape():
    # a dynamic dimension (no sima op verifies with one, but the interpreter takes it)
    block = Block(arg_types=[TensorType(f32, [-1])])
    neg = ops.NegOp.build(operands=[block.args[0]], result_types=[TensorType(f32, [-1])], properties={"node": StringAttr("flip")})
    block.add_ops([neg, ReturnOp(neg.results[0])])
    module = ModuleOp([FuncOp("main", ([block.args[0].type], [neg.results[0].type]), Region(block))])
    # float32 for up to three values, float64 beyond: wrong only for the longer shape
    careless = {ops.NegOp: lambda op: lambda x: np.negative(x, dtype=np.float32 if x.size <= 3 else np.float64)}
    interp = Interpreter(module, kernels=careless)
    short = np.ones(3, np.float32)
    assert interp.run([short])[0].tolist() == [-1, -1, -1]
    assert interp.run([short])[0].tolist() == [-1, -1, -1]  # the unchecked plan
    with pytest.raises(KernelError, match="sima.neg 'flip': its kernel produced float64 \\[4\\]"):
        interp.run([np.ones(4, np.float32)])


def test_later_runs_still_name_a_failing_kernel_and_give_arrays():
    data = np.arange(6, dtype=np.float32).reshape(3, 2)
    module, _ = one_op_module(ops.GatherOp, [Weight(data), np.zeros(2, np.int64)], [((2, 2), np.float32)], axis=0, node="embed")
    interp = Interpreter(module)
    assert interp.run([np.array([0, 2], np.int64)])[0].tolist() == [[0, 1], [4, 5]]
    with pytest.raises(KernelError, match="sima.gather 'embed' failed: index 7 is out of bounds"):
        interp.run([np.array([0, 7], np.int64)])
    # a kernel that returns a NumPy scalar for a 0-d result: the caller still gets an array
    module = parse_module("""
    func.func @main(%x: tensor<f32>) -> tensor<f32> {
      %y = sima.exp %x : tensor<f32>
      func.return %y : tensor<f32>
    }""")
    interp = Interpreter(module)
    for _ in range(2):
        (out,) = interp.run([np.array(0.0, np.float32)])
        assert isinstance(out, np.ndarray) and out.shape == () and out == 1


def counting(builder, calls):
    def build(op):
        kernel = builder(op)

        def counted(*args):
            calls.append(op.name)
            return kernel(*args)

        return counted

    return build


def test_ops_on_constants_run_once_at_compile_time():
    # a weight stored OHWI and transposed to HWIO in the IR, as an importer might leave it
    rng = np.random.default_rng(1)
    ohwi = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    module = parse_module(f"""
    func.func @main(%x: tensor<1x5x5x2xf32>) -> tensor<1x5x5x4xf32> {{
      %w = sima.constant dense<{ohwi.tolist()}> : tensor<4x3x3x2xf32>
      %hwio = sima.transpose %w {{perm = array<i64: 1, 2, 3, 0>}} : (tensor<4x3x3x2xf32>) -> tensor<3x3x2x4xf32>
      %y = sima.conv2d %x, %hwio {{strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64}}
           : (tensor<1x5x5x2xf32>, tensor<3x3x2x4xf32>) -> tensor<1x5x5x4xf32>
      func.return %y : tensor<1x5x5x4xf32>
    }}""")
    calls: list[str] = []
    kernels = {op: counting(KERNELS[op], calls) for op in (ops.TransposeOp, ops.Conv2DOp)}
    interp = Interpreter(module, kernels=kernels)
    assert calls == ["sima.transpose"]
    x = rng.standard_normal((1, 5, 5, 2)).astype(np.float32)
    first = interp.run([x])[0]
    second = interp.run([x])[0]
    assert calls == ["sima.transpose", "sima.conv2d", "sima.conv2d"]
    np.testing.assert_array_equal(first, second)
    # the same convolution with the weight given already in HWIO
    direct, _ = one_op_module(
        ops.Conv2DOp, [x, Weight(ohwi.transpose(1, 2, 3, 0)), None], [((1, 5, 5, 4), np.float32)],
        strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), groups=1,
    )
    np.testing.assert_array_equal(first, Interpreter(direct).run([x])[0])


def test_ops_whose_results_nobody_reads_are_skipped():
    module = parse_module("""
    func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
      %unused = sima.exp %x : tensor<4xf32>
      %y = sima.neg %x : tensor<4xf32>
      func.return %y : tensor<4xf32>
    }""")
    calls: list[str] = []
    interp = Interpreter(module, kernels={ops.ExpOp: counting(KERNELS[ops.ExpOp], calls)})
    assert interp.run([np.ones(4, np.float32)])[0].tolist() == [-1] * 4
    assert calls == []


def test_intermediates_are_freed_after_their_last_use():
    module = parse_module("""
    func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
      %a = sima.relu %x : tensor<4xf32>
      %b = sima.neg %a : tensor<4xf32>
      %c = sima.abs %b : tensor<4xf32>
      func.return %c : tensor<4xf32>
    }""")
    produced: list[weakref.ref] = []
    alive_at_abs: list[bool] = []

    def remember_relu(op):
        def relu(x):
            y = np.maximum(x, np.float32(0))
            produced.append(weakref.ref(y))
            return y

        return relu

    def abs_checking(op):
        def absolute(x):
            alive_at_abs.append(produced[0]() is not None)
            return np.abs(x)

        return absolute

    interp = Interpreter(module, kernels={ops.ReluOp: remember_relu, ops.AbsOp: abs_checking})
    assert interp.run([np.array([-1, 2, -3, 4], np.float32)])[0].tolist() == [0, 2, 0, 4]
    assert alive_at_abs == [False]


def test_outputs_belong_to_the_caller():
    module = parse_module("""
    func.func @main(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<2xf32>) {
      %k = sima.constant dense<[1.0, 2.0]> : tensor<2xf32>
      %y = sima.relu %x : tensor<3xf32>
      func.return %x, %y, %y, %k : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<2xf32>
    }""")
    interp = Interpreter(module)
    x = np.array([1, -2, 3], np.float32)
    same, relu, relu_again, constant = interp.run([x])
    for out in (same, relu, relu_again, constant):
        out += 10  # every output is writable
    assert x.tolist() == [1, -2, 3]
    assert relu_again.tolist() == [11, 10, 13]
    assert interp.run([x])[3].tolist() == [1, 2]


def test_kernels_never_write_into_the_callers_inputs():
    x, y = two_inputs()
    x_before, y_before = x.copy(), y.copy()
    Interpreter(parse_module(TWO_INPUTS)).run([x, y])
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)


def test_main_is_chosen_among_several_functions():
    module = parse_module("""
    func.func @helper(%x: tensor<2xf32>) -> tensor<2xf32> {
      func.return %x : tensor<2xf32>
    }
    func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
      %y = sima.neg %x : tensor<2xf32>
      func.return %y : tensor<2xf32>
    }""")
    assert Interpreter(module).run([np.ones(2, np.float32)])[0].tolist() == [-1, -1]
    module.body.block.last_op.sym_name = StringAttr("other")
    with pytest.raises(InterpreterError, match="no @main and not exactly one function"):
        Interpreter(module)


def test_multi_result_ops_with_an_unused_piece():
    module = parse_module("""
    func.func @main(%x: tensor<2x6xf32>) -> tensor<2x2xf32> {
      %a, %b, %c = sima.split %x {axis = 1 : i64} : (tensor<2x6xf32>) -> (tensor<2x1xf32>, tensor<2x2xf32>, tensor<2x3xf32>)
      %d = sima.exp %b : tensor<2x2xf32>
      func.return %d : tensor<2x2xf32>
    }""")
    x = np.arange(12, dtype=np.float32).reshape(2, 6) / 10
    np.testing.assert_allclose(Interpreter(module).run([x])[0], np.exp(x[:, 1:3]), rtol=1e-6)


def test_a_small_network_matches_onnxruntime():
    """conv -> relu -> depthwise conv -> residual add -> max pool -> global pool -> dense -> softmax."""
    rng = np.random.default_rng(2)
    w1 = rng.standard_normal((3, 3, 3, 8)).astype(np.float32) * 0.3
    b1 = rng.standard_normal(8).astype(np.float32)
    w2 = rng.standard_normal((3, 3, 1, 8)).astype(np.float32) * 0.3
    wd = rng.standard_normal((8, 5)).astype(np.float32)
    bd = rng.standard_normal(5).astype(np.float32)
    x = rng.standard_normal((1, 9, 9, 3)).astype(np.float32)
    t = "tensor<{}xf32>".format
    ir = parse_module(f"""
    func.func @main(%x: {t("1x9x9x3")} {{sima.name = "input"}}) -> {t("1x5")} {{
      %w1 = sima.constant dense<{w1.tolist()}> : {t("3x3x3x8")}
      %b1 = sima.constant dense<{b1.tolist()}> : {t("8")}
      %w2 = sima.constant dense<{w2.tolist()}> : {t("3x3x1x8")}
      %wd = sima.constant dense<{wd.tolist()}> : {t("8x5")}
      %bd = sima.constant dense<{bd.tolist()}> : {t("5")}
      %0 = sima.conv2d %x, %w1, %b1 {{strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64}}
           : ({t("1x9x9x3")}, {t("3x3x3x8")}, {t("8")}) -> {t("1x5x5x8")}
      %1 = sima.relu %0 : {t("1x5x5x8")}
      %2 = sima.conv2d %1, %w2 {{strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 8 : i64}}
           : ({t("1x5x5x8")}, {t("3x3x1x8")}) -> {t("1x5x5x8")}
      %3 = sima.add %2, %1 : ({t("1x5x5x8")}, {t("1x5x5x8")}) -> {t("1x5x5x8")}
      %4 = sima.max_pool %3 {{kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>}}
           : ({t("1x5x5x8")}) -> {t("1x3x3x8")}
      %5 = sima.global_avg_pool %4 : ({t("1x3x3x8")}) -> {t("1x1x1x8")}
      %6 = sima.reshape %5 : ({t("1x1x1x8")}) -> {t("1x8")}
      %7 = sima.dense %6, %wd, %bd : ({t("1x8")}, {t("8x5")}, {t("5")}) -> {t("1x5")}
      %8 = sima.softmax %7 {{axis = -1 : i64}} : {t("1x5")}
      func.return %8 : {t("1x5")}
    }}""")
    (got,) = Interpreter(ir).run({"input": x})

    def init(name, array):
        return numpy_helper.from_array(array, name)

    nodes = [
        helper.make_node("Transpose", ["x"], ["xc"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["xc", "w1", "b1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("Add", ["c2", "r1"], ["s"]),
        helper.make_node("MaxPool", ["s"], ["p"], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wd", "bd"], ["d"]),
        helper.make_node("Softmax", ["d"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "net",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, (1, 5))],
        [init("w1", w1.transpose(3, 2, 0, 1).copy()), init("b1", b1), init("w2", w2.transpose(3, 2, 0, 1).copy()), init("wd", wd), init("bd", bd)],
    )
    import onnxruntime

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(got, session.run(["y"], {"x": x})[0], rtol=1e-5, atol=1e-6)


@irdl_op_definition
class RecordOp(IRDLOperation):
    """A test op with an effect and no result, as `sima.observe` is."""

    name = "test.record"
    input = operand_def(TensorType)


def test_effectful_ops_without_results_run_on_every_call_even_on_constants():
    block = Block(arg_types=[TensorType(f32, [2])])
    constant = ops.ConstantOp.from_array("k", np.array([5, 6], np.float32))
    relu = ops.ReluOp(block.args[0])
    block.add_ops([constant, relu, RecordOp.build(operands=[constant.output]), RecordOp.build(operands=[relu.output])])
    block.add_op(ReturnOp(relu.output))
    module = ModuleOp([FuncOp("main", ([block.args[0].type], [relu.output.type]), Region(block))])
    seen: list[list[float]] = []

    def build_record(op):
        def record(x):
            seen.append(x.tolist())

        return record

    interp = Interpreter(module, kernels={RecordOp: build_record})
    assert seen == []
    for value in (-1.0, 3.0):
        interp.run([np.array([value, 1.0], np.float32)])
    assert seen == [[5, 6], [0, 1], [5, 6], [3, 1]]


def test_blas_threads_caps_the_pool_only_while_running():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    during: list[dict] = []

    def build_relu(op):
        def relu(x):
            during.append(blas_threads())
            return np.maximum(x, np.float32(0))

        return relu

    module, feeds = one_op_module(ops.ReluOp, [np.ones(3, np.float32)], [((3,), np.float32)])
    Interpreter(module, kernels={ops.ReluOp: build_relu}, blas_threads=1).run(feeds)
    assert before, "NumPy's BLAS should be visible to threadpoolctl"
    assert during == [{path: 1 for path in before}]
    assert blas_threads() == before
    with pytest.raises(ValueError, match="blas_threads must be a positive number"):
        Interpreter(module, blas_threads=0)
