"""fast mode's int8 form reads a chain of elementwise ops as one table (`IntegerEmulation.chain_lowering`).

A chain (`runtime.integer_kernels.chains`: PP-LCNet's hard_swish lut -> qmul by a scale -> qadd
of a bias) between bytes is one Cast + GatherElements of the table made by the program's kernels
(bit-exact's for these ops), where op by op it is a float pipeline with a rounding QuantizeLinear
per op. Tested on small programs over every int8 value: bit for bit the NumPy kernels, the chain
one lowered step, one session; a chain ending in a float (a dequantize) is left op by op. The real
models (same bytes as op by op, chain counts): test_fast_mode_float_convs.py.
"""

from __future__ import annotations

import numpy as np
import onnxruntime  # noqa: F401  a core dependency: these tests fail, not skip, without it
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

from integer_references import quant
from runtime.fast_kernels import FAST_KERNELS
from runtime.interpreter import Interpreter
from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION, chain_table_bytes
from runtime.onnx_backend.program import OnnxProgram
from sima_dialect.ops import ConstantOp
from sima_dialect.quantized_ops import DequantizeOp, LutOp, QAddOp, QMulOp, QSubOp
from sima_dialect.weights import NDArrayAttr, WeightData

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHAPE = [1, 4, 16, 4]  # 256 values: every int8 value once


def _scalar(name: str, value: int, element) -> ConstantOp:
    array = np.array([[[[value]]]], np.int8)
    return ConstantOp(NDArrayAttr(WeightData(name, TensorType(element, array.shape), array)))


def _chain_module(seed: int, subtract: bool, ends_in_float: bool = False):
    """@main(x: int8 [1, 4, 16, 4]) -> lut (a random table) -> qmul by a scalar -> qadd / qsub of a
    scalar (-> dequantize, if `ends_in_float`); and a permutation of every int8 value as x."""
    rng = np.random.default_rng(seed)
    step = lambda: quant(8, float(rng.uniform(0.02, 0.2)), int(rng.integers(-20, 20)))  # noqa: E731
    block = Block(arg_types=[TensorType(step(), SHAPE)])
    table = ConstantOp.from_array("table", rng.integers(-128, 128, 256).astype(np.int8))
    scale = _scalar("scale", int(rng.integers(-128, 128)), quant(8, 0.1, 0))
    offset = _scalar("offset", int(rng.integers(-128, 128)), quant(8, 0.1, 0))
    lut = LutOp(block.args[0], table.output, step())
    scaled = QMulOp(lut.output, scale.output, step(), multiplier=int(rng.integers(1, 127)), shift=int(rng.integers(6, 14)), left_shift=0)
    shifted = (QSubOp if subtract else QAddOp)(
        scaled.output, offset.output, step(), multiplier=int(rng.integers(1, 127)), shift=int(rng.integers(6, 10)), left_shift=2,
        lhs_multiplier=int(rng.integers(1, 127)), lhs_shift=6, rhs_multiplier=int(rng.integers(1, 127)), rhs_shift=6)
    body = [table, scale, offset, lut, scaled, shifted]
    if ends_in_float:
        body.append(DequantizeOp(shifted.output))
    block.add_ops([*body, ReturnOp(body[-1].results[0])])
    function = FuncOp("main", ([block.args[0].type], [body[-1].results[0].type]), Region(block))
    module = ModuleOp([function])
    module.verify()
    x = rng.permutation(np.arange(-128, 128)).astype(np.int8).reshape(SHAPE)
    return module, [x]


def _fast_int8(module):
    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    return interpreter, OnnxProgram(interpreter, threads=1, emulation=INTEGER_EMULATION)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_a_chain_between_bytes_is_one_table_read_bit_exact(seed, subtract):
    module, feeds = _chain_module(seed, subtract)
    interpreter, program = _fast_int8(module)
    assert program.numpy_ops() == [] and program.segment_count() == 1, program.fallbacks
    assert [op for op in program.lowered_ops() if " -> " in op] == program.lowered_ops()[-1:], program.lowered_ops()
    [produced], [expected] = program.run(feeds), interpreter.run(feeds)
    assert produced.dtype == expected.dtype == np.int8
    np.testing.assert_array_equal(produced, expected)


def test_a_table_by_bytes_holds_each_values_entry_at_its_byte():
    """The chains' tables are indexed by bit pattern (q mod 256); this form reads them at q + 128."""
    values = np.arange(-128, 128)
    by_pattern = np.empty(256, np.int8)
    by_pattern[values % 256] = (values * 7 + 3) % 256 - 128  # entry of value q: 7 q + 3, wrapped
    by_byte = chain_table_bytes(by_pattern)
    assert by_byte.dtype == np.uint8
    np.testing.assert_array_equal(by_byte[values + 128].astype(np.int64) - 128, (values * 7 + 3) % 256 - 128)


def test_a_chain_ending_in_a_float_runs_op_by_op():
    """Only chains with bytes at both ends are read as byte tables: lut -> qmul -> qadd -> dequantize
    lowers op by op, still in onnxruntime, its floats the dequantized kernels' results."""
    module, feeds = _chain_module(7, False, ends_in_float=True)
    interpreter, program = _fast_int8(module)
    assert program.numpy_ops() == [] and program.segment_count() == 1, program.fallbacks
    assert not any(" -> " in op for op in program.lowered_ops()), program.lowered_ops()
    [produced], [expected] = program.run(feeds), interpreter.run(feeds)
    assert produced.dtype == expected.dtype == np.float32
    np.testing.assert_allclose(produced, expected, rtol=1e-6, atol=0)
