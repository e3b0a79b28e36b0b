"""The onnxruntime backend (`runtime.onnx_backend`) op by op: bit for bit the NumPy kernels.

Each test builds a one-op function from the cases of the integer-kernel tests
(random shapes, constants, zero points and requantizations, extremes of the
integer types), runs it with the NumPy interpreter and with `OnnxProgram`,
and asserts identical integers, dtype and shape. It also asserts that the op
really ran in onnxruntime (`lowered_ops`), so a silent NumPy fallback cannot
pass for a lowering; where the bounds forbid a lowering, it asserts the
fallback instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, Region

from integer_references import integers, quant
from runtime.interpreter import Interpreter
from runtime.onnx_backend.program import OnnxProgram
from sima_dialect import ops
from sima_dialect.ops import ConstantOp
from sima_dialect.quantized_ops import (
    DequantizeOp,
    LutOp,
    QAddOp,
    QConv2DOp,
    QDenseOp,
    QGlobalAvgPoolOp,
    QMatMulOp,
    QMulOp,
    QSubOp,
    RequantizeOp,
)
from test_integer_kernels_elementwise import add_cases, mul_cases
from test_integer_kernels_gemm import conv_cases, dense_cases, matmul_cases, requantization_object

import onnxruntime  # noqa: E402, F401  a core dependency: these tests fail, not skip, without it

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def one_op(build: Callable, inputs: Sequence[tuple[np.ndarray, Attribute]], constants: Sequence[np.ndarray] = ()) -> ModuleOp:
    """@main applying `build(*inputs, *constants)` once (as integer_references.run_op builds it)."""
    block = Block(arg_types=[TensorType(element, list(array.shape)) for array, element in inputs])
    constant_ops = [ConstantOp.from_array(f"c{i}", np.asarray(c)) for i, c in enumerate(constants)]
    op = build(*block.args, *(c.output for c in constant_ops))
    block.add_ops([*constant_ops, op, ReturnOp(*op.results)])
    module = ModuleOp([FuncOp("main", ([a.type for a in block.args], [r.type for r in op.results]), Region(block))])
    module.verify()
    return module


def assert_same(module: ModuleOp, feeds: Sequence[np.ndarray], *, lowered: bool | None = True, tables: bool = False, int16_ops: bool = True) -> OnnxProgram:
    """NumPy and onnxruntime give the same arrays; `lowered`: the op ran in onnxruntime (else: in NumPy; None: either).
    The opt-in lowerings (`int16_ops`, `tables`) are exact too: tested here."""
    interpreter = Interpreter(module)
    program = OnnxProgram(interpreter, threads=1, tables_in_onnx=tables, int16_ops=int16_ops)
    expected = interpreter.run(list(feeds))
    produced = program.run(list(feeds))
    assert len(expected) == len(produced)
    for e, p in zip(expected, produced):
        assert p.dtype == e.dtype and p.shape == e.shape
        np.testing.assert_array_equal(p, e)
    assert lowered is None or bool(program.lowered_ops()) == lowered, (program.lowered_ops(), program.numpy_ops())
    return program


# ---------------------------------------------------------------------------
# matrix products


@SETTINGS
@given(conv_cases())
def test_qconv2d(case):
    r = case["requant"]

    def build(x, w, b):
        return QConv2DOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], groups=case["groups"], relu=r["relu"],
        )

    module = one_op(build, [(case["x"], quant(case["input_bits"], 0.25, case["zero_point"]))], [case["weight"], case["bias"]])
    assert_same(module, [case["x"]])
    # int16 products lower by default (float32 where `_int15_float32_plan`'s bounds hold, else float64)
    assert_same(module, [case["x"]], int16_ops=False)


@SETTINGS
@given(dense_cases())
def test_qdense(case):
    r = case["requant"]
    module = one_op(
        lambda x, w, b: QDenseOp(x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 1.0, r["zero_point"]), relu=r["relu"]),
        [(case["x"], quant(case["input_bits"], 0.5, case["zero_point"]))],
        [case["weight"], case["bias"]],
    )
    assert_same(module, [case["x"]])


@SETTINGS
@given(matmul_cases())
def test_qmatmul(case):
    c = case
    module = one_op(
        lambda a, b: QMatMulOp(a, b, quant(c["output_bits"], 0.1, c["zero_point"]), multiplier=c["multiplier"], shift=c["shift"], left_shift=c["left_shift"]),
        [(c["a"], quant(8, 0.5, c["za"])), (c["b"], quant(8, 0.25, c["zb"]))],
    )
    assert_same(module, [c["a"], c["b"]])


@pytest.mark.parametrize("bits", [8, 16])
def test_extreme_inputs_and_the_largest_exact_weights(bits):
    """Every input at the type's extremes, weights at +-127: the float32 bound at its edge."""
    low, high = integers(bits)
    rng = np.random.default_rng(bits)
    # column norms 9 * C * 127 near the float32 bound: int8 131 * L1 < 2**24 (C = 64), int16 256 * L1 < 2**24 (C = 48)
    channels = 64 if bits == 8 else 48
    x = rng.choice([low, high, 0, -1], size=(1, 5, 5, channels)).astype(f"int{bits}")
    w = rng.choice([-127, 127], size=(3, 3, channels, 8)).astype(np.int8)
    bias = rng.integers(-(2**20), 2**20, 8).astype(np.int32)
    shift = [18] if bits == 8 else [12]
    requantization = requantization_object(dict(mode="sima", shift=shift, multiplier=None, zero_point=0))
    intrinsic = [0] if bits == 8 else [8]
    module = one_op(
        lambda v, weight, b: QConv2DOp(v, weight, b, requantization, intrinsic, quant(8, 0.5, 0), strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], groups=1),
        [(x, quant(bits, 0.25, 3))], [w, bias],
    )
    assert_same(module, [x])


def test_weights_beyond_the_float32_bound_run_in_numpy():
    """A column norm with 128 * L1 >= 2**24: no float32 proof, so NumPy computes it (and agrees)."""
    x = np.full((1, 3, 3, 1200), -128, dtype=np.int8)
    w = np.full((3, 3, 1200, 2), 127, dtype=np.int8)  # L1 = 1371600; 128 * L1 > 2**24
    bias = np.zeros(2, dtype=np.int32)
    requantization = requantization_object(dict(mode="sima", shift=[24], multiplier=None, zero_point=0))
    module = one_op(
        lambda v, weight, b: QConv2DOp(v, weight, b, requantization, [0], quant(8, 0.5, 0), strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], groups=1),
        [(x, quant(8, 0.25, 0))], [w, bias],
    )
    assert_same(module, [x], lowered=False)


# ---------------------------------------------------------------------------
# elementwise and tables


def binary_module(op_class, c, bits_key: str):
    element = quant(c["output_bits"], 0.5, c["zero_point"])
    a_type, b_type = quant(c[bits_key][0], 0.1, c["zero_points"][0]), quant(c[bits_key][1], 0.2, c["zero_points"][1])
    if op_class is QMulOp:
        build = lambda a, b: QMulOp(a, b, element, multiplier=c["multiplier"], shift=c["shift"], left_shift=c["left_shift"])  # noqa: E731
    else:
        build = lambda a, b: op_class(  # noqa: E731
            a, b, element, multiplier=c["multiplier"], shift=c["shift"], left_shift=c["left_shift"],
            lhs_multiplier=c["rescales"][0][0], lhs_shift=c["rescales"][0][1],
            rhs_multiplier=c["rescales"][1][0], rhs_shift=c["rescales"][1][1],
        )
    return one_op(build, [(c["a"], a_type), (c["b"], b_type)])


@SETTINGS
@given(mul_cases(), st.booleans())
def test_qmul(case, tables):
    module = binary_module(QMulOp, case, "bits")
    both_int8 = case["bits"] == [8, 8]
    # two int8 operands: a Gather table only with tables_in_onnx; otherwise float64 arithmetic (opt-in)
    assert_same(module, [case["a"], case["b"]], lowered=tables or not both_int8, tables=tables)
    assert_same(module, [case["a"], case["b"]], lowered=tables, tables=tables, int16_ops=False)


@SETTINGS
@given(add_cases())
def test_qadd_qsub_as_tables(case):
    op_class = QSubOp if case["subtract"] else QAddOp
    module = binary_module(op_class, case, "bits")
    assert_same(module, [case["a"], case["b"]], tables=True)


@SETTINGS
@given(st.sampled_from([8, 16]), st.sampled_from([8, 16]), hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.integers(0, 2**32 - 1))
def test_lut_as_a_table(input_bits, output_bits, shape, seed):
    rng = np.random.default_rng(seed)
    low, high = integers(input_bits)
    x = rng.integers(low, high + 1, shape).astype(f"int{input_bits}")
    x.flat[0], x.flat[-1] = low, high
    table = rng.integers(*integers(output_bits), 1 << input_bits, endpoint=True).astype(f"int{output_bits}")
    module = one_op(lambda v, t: LutOp(v, t, quant(output_bits, 0.5, 1)), [(x, quant(input_bits, 0.25, -2))], [table])
    assert_same(module, [x], tables=True)
    assert_same(module, [x], tables=False, lowered=False)  # by default NumPy's take is faster


@SETTINGS
@given(st.sampled_from([8, 16]), st.sampled_from([8, 16]), st.floats(0.001, 100.0), st.integers(-100, 100), st.integers(0, 2**32 - 1))
def test_requantize_and_dequantize_as_tables(in_bits, out_bits, ratio, zero_point, seed):
    low, high = integers(in_bits)
    x = np.random.default_rng(seed).integers(low, high + 1, (2, 7)).astype(f"int{in_bits}")
    x.flat[0], x.flat[-1] = low, high
    source = quant(in_bits, 0.25, zero_point)
    try:
        module = one_op(lambda v: RequantizeOp.for_types(v, quant(out_bits, 0.25 / ratio, 3)), [(x, source)])
    except ValueError:
        return  # no 8-bit multiplier represents the ratio
    assert_same(module, [x], tables=True)
    assert_same(one_op(lambda v: DequantizeOp(v), [(x, source)]), [x], tables=True)


@SETTINGS
@given(st.sampled_from([8, 16]), st.integers(1, 9), st.integers(1, 9), st.integers(1, 127), st.integers(0, 38), st.integers(-128, 127), st.integers(0, 2**32 - 1))
def test_qglobal_avg_pool(bits, h, w, multiplier, shift, zero_point, seed):
    low, high = integers(bits)
    x = np.random.default_rng(seed).choice([low, high, 0, 5], size=(1, h, w, 3)).astype(f"int{bits}")
    module = one_op(
        lambda v: QGlobalAvgPoolOp(v, quant(8, 0.5, -4), multiplier=multiplier, shift=shift),
        [(x, quant(bits, 0.25, zero_point))],
    )
    assert_same(module, [x])


# ---------------------------------------------------------------------------
# data movement


def test_data_movement_ops():
    x = np.arange(-60, 60, dtype=np.int8).reshape(1, 4, 5, 6)
    element = quant(8, 0.5, 2)
    cases = [
        lambda v: ops.ReshapeOp(operands=[v], result_types=[TensorType(element, [1, 20, 6])]),
        lambda v: ops.TransposeOp(operands=[v], result_types=[TensorType(element, [1, 6, 4, 5])], properties={"perm": ops.int_array([0, 3, 1, 2])}),
        lambda v: ops.SliceOp(operands=[v], result_types=[TensorType(element, [1, 2, 5, 3])],
                              properties={"starts": ops.int_array([0, 3, 0, 0]), "ends": ops.int_array([1, -1, 5, 6]), "steps": ops.int_array([1, -2, 1, 2])}),
        lambda v: ops.SplitOp(operands=[v], result_types=[[TensorType(element, [1, 4, 2, 6]), TensorType(element, [1, 4, 3, 6])]], properties={"axis": ops.int_attr(2)}),
        lambda v: ops.ConcatOp(operands=[[v, v]], result_types=[TensorType(element, [1, 4, 5, 12])], properties={"axis": ops.int_attr(3)}),
        lambda v: ops.PadOp(operands=[v], result_types=[TensorType(element, [1, 5, 7, 6])],
                            properties={"pads": ops.int_array([0, 1, 2, 0, 0, 0, 0, 0]), "mode": ops.StringAttr("constant"), "value": ops.float_attr(2.0)}),
        lambda v: ops.MaxPoolOp(operands=[v], result_types=[TensorType(element, [1, 2, 3, 6])],
                                properties={"kernel": ops.int_array([3, 3]), "strides": ops.int_array([2, 2]), "pads": ops.int_array([1, 1, 1, 1]), "dilations": ops.int_array([1, 1])}),
    ]
    for build in cases:
        assert_same(one_op(build, [(x, element)]), [x])


@pytest.mark.parametrize("coordinate_mode", ["half_pixel", "asymmetric", "align_corners"])
@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "floor", "ceil"])
def test_nearest_resize_reads_the_runtime_index_maps(coordinate_mode, nearest_mode):
    x = np.arange(-60, 60, dtype=np.int8).reshape(1, 4, 5, 6)
    element = quant(8, 0.5, 2)
    build = lambda v: ops.ResizeOp(  # noqa: E731
        operands=[v], result_types=[TensorType(element, [1, 7, 9, 6])],
        properties={"mode": ops.StringAttr("nearest"), "coordinate_mode": ops.StringAttr(coordinate_mode), "nearest_mode": ops.StringAttr(nearest_mode)},
    )
    assert_same(one_op(build, [(x, element)]), [x])
