"""Chains of elementwise integer ops run as one table (`runtime.integer_kernels.chains`).

A function x -> lut -> qmul by a scalar constant -> qadd of a scalar constant
(PP-LCNet's affine block, the constants quantized by sima.quantize as the
quantize pass makes them) against the same function with its ops run one at a
time, for int8 and int16 inputs; an intermediate that is also returned keeps
its op.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

from integer_references import integers, quant
from runtime.interpreter import Interpreter
from sima_dialect.ops import ConstantOp
from sima_dialect.quantized_ops import LutOp, QAddOp, QMulOp, QuantizeOp

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LUT_TYPE, MUL_TYPE, ADD_TYPE, CONSTANT_TYPE = quant(8, 0.05, 3), quant(8, 0.04, -5), quant(8, 0.06, 1), quant(8, 0.02, 0)


@st.composite
def affine_chains(draw):
    bits = draw(st.sampled_from([8, 16]))
    low, high = integers(bits)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=5))
    rank = draw(st.integers(0, len(shape)))
    return dict(
        x=draw(hnp.arrays(np.dtype(f"int{bits}"), shape, elements=st.integers(low, high))),
        bits=bits,
        table=np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(-128, 128, 1 << bits).astype(np.int8),
        scale=np.full((1,) * rank, draw(st.floats(-2.5, 2.5, width=32)), dtype=np.float32),
        bias=np.full((1,) * rank, draw(st.floats(-2.5, 2.5, width=32)), dtype=np.float32),
        scale_first=draw(st.booleans()),
        multiplier=draw(st.integers(1, 127)),
        shift=draw(st.integers(0, 20)),
    )


def build_module(case, returned: str = "last") -> ModuleOp:
    """@main(x) = qadd(qmul(lut(x), scale), bias); `returned`: "last", or "both" (the lut's result too)."""
    block = Block(arg_types=[TensorType(quant(case["bits"], 0.25, -2), list(case["x"].shape))])
    table = ConstantOp.from_array("table", case["table"])
    scale, bias = ConstantOp.from_array("scale", case["scale"]), ConstantOp.from_array("bias", case["bias"])
    scale_q, bias_q = QuantizeOp(scale, CONSTANT_TYPE), QuantizeOp(bias, CONSTANT_TYPE)
    lut = LutOp(block.args[0], table, LUT_TYPE)
    factors = (scale_q, lut) if case["scale_first"] else (lut, scale_q)
    mul = QMulOp(*factors, MUL_TYPE, multiplier=case["multiplier"], shift=case["shift"], left_shift=0)
    add = QAddOp.for_types(mul, bias_q, ADD_TYPE)
    results = [add.results[0]] if returned == "last" else [lut.results[0], add.results[0]]
    block.add_ops([table, scale, bias, scale_q, bias_q, lut, mul, add, ReturnOp(*results)])
    function = FuncOp("main", (list(block.arg_types), [r.type for r in results]), Region(block))
    module = ModuleOp([function])
    module.verify()
    return module


def run(module: ModuleOp, x: np.ndarray, fuse: bool = True) -> tuple[list[np.ndarray], int]:
    """The interpreter's results and its number of steps, with or without chains fused."""
    if fuse:
        interpreter = Interpreter(module)
    else:
        with mock.patch("runtime.interpreter.fuse_elementwise_chains", lambda steps, constants, keep: steps):
            interpreter = Interpreter(module)
    return interpreter.run([x]), len(interpreter._steps)


@SETTINGS
@given(affine_chains(), st.sampled_from(["last", "both"]))
def test_a_fused_chain_gives_the_integers_of_its_ops_run_one_by_one(case, returned):
    module = build_module(case, returned)
    fused, fused_steps = run(module, case["x"])
    expected, steps = run(module, case["x"], fuse=False)
    assert steps == 3  # the quantized constants are folded at compile time
    assert fused_steps == (1 if returned == "last" else 2)  # a returned lut result stays its own step
    for result, reference in zip(fused, expected):
        assert result.dtype == reference.dtype and result.shape == reference.shape
        np.testing.assert_array_equal(result, reference)


def test_the_chain_runs_on_a_second_input_and_on_an_odd_sized_one():
    """The table is built once; the int8 byte-pair reading needs an even size (odd: one value per gather)."""
    rng = np.random.default_rng(3)
    case = dict(bits=8, x=np.zeros((3, 5), np.int8), table=rng.integers(-128, 128, 256).astype(np.int8),
                scale=np.full((1, 1), 1.5, np.float32), bias=np.full((1,), -0.7, np.float32),
                scale_first=False, multiplier=77, shift=13)
    module = build_module(case)
    interpreter = Interpreter(module)
    with mock.patch("runtime.interpreter.fuse_elementwise_chains", lambda steps, constants, keep: steps):
        reference = Interpreter(module)
    for x in (rng.integers(-128, 128, (3, 5)).astype(np.int8), np.arange(-128, -113, dtype=np.int8).reshape(3, 5)):
        np.testing.assert_array_equal(interpreter.run([x])[0], reference.run([x])[0])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(affine_chains(), st.integers(0, 2**32 - 1))
def test_a_fused_chain_is_exact_on_every_value_of_the_type(case, seed):
    """Every input value, in a random order, so no table entry goes unchecked."""
    bits = case["bits"]
    low, high = integers(bits)
    x = np.random.default_rng(seed).permutation(np.arange(low, high + 1)).astype(f"int{bits}").reshape(4, -1)
    case = {**case, "x": x}
    module = build_module(case)
    np.testing.assert_array_equal(run(module, x)[0][0], run(module, x, fuse=False)[0][0])
