"""`fast_mode` kernels (`runtime.fast_kernels`) against the bit-exact ones, op by op.

The float32 emulation computes the integer arithmetic's affine map in floating
point, so its difference from bit-exact is predictable:

- int8 inputs with reductions short enough that float32 sums are exact
  (K * 128 * 127 < 2**24): the accumulator is exact, and the requantization in
  float64 rounds exactly as the integer shift does, so the result is bit-exact;
- int16 inputs: the int15 algorithm floors P / 2**h and float32 rounds the
  sums, so the accumulator differs by at most 1 + (float32 error) / 2**h, and
  an output by that times the requantization scale, plus one for rounding.

The measured difference on a real model is in test_model_api_quantized.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from hypothesis import HealthCheck, given, settings
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, Region

from integer_references import quant
from runtime.fast_kernels import FAST_KERNELS
from runtime.interpreter import Interpreter
from sima_dialect.ops import ConstantOp
from sima_dialect.quantized_ops import QConv2DOp, QDenseOp, QMatMulOp
from test_integer_kernels_gemm import conv_cases, dense_cases, long_int8_dense_cases, matmul_cases, requantization_object

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_both(build: Callable, inputs: Sequence[tuple[np.ndarray, Attribute]], constants: Sequence[np.ndarray] = ()):
    """(bit-exact result, fast-mode result) of the one-op function `build(*inputs, *constants)`."""
    block = Block(arg_types=[TensorType(element, list(array.shape)) for array, element in inputs])
    constant_ops = [ConstantOp.from_array(f"c{i}", np.asarray(c)) for i, c in enumerate(constants)]
    op = build(*block.args, *(c.output for c in constant_ops))
    block.add_ops([*constant_ops, op, ReturnOp(op.results[0])])
    module = ModuleOp([FuncOp("main", ([a.type for a in block.args], [op.results[0].type]), Region(block))])
    module.verify()
    arrays = [array for array, _ in inputs]
    exact = Interpreter(module).run(arrays)[0]
    fast = Interpreter(module, kernels=FAST_KERNELS).run(arrays)[0]
    assert fast.dtype == exact.dtype and fast.shape == exact.shape
    return exact, fast


def allowed_difference(case, reduction: int) -> int:
    """The bound of the module docstring on |fast - exact| for one case."""
    if case["input_bits"] == 8:
        assert reduction * 128 * 127 < 2**24
        return 0
    r = case["requant"]
    scale = np.asarray(requantization_object(r).real_scale(), dtype=np.float64).max()
    smallest_h = min(r["intrinsic"])
    largest_term = float(np.abs(case["x"].astype(np.int64)).max(initial=0)) * 127.0
    float32_error = reduction * 2.0**-24 * reduction * largest_term  # gamma_K * sum |x w|
    return math.ceil((1 + float32_error / 2**smallest_h) * scale) + 1


def difference(exact: np.ndarray, fast: np.ndarray) -> int:
    return int(np.abs(exact.astype(np.int64) - fast.astype(np.int64)).max(initial=0))


@SETTINGS
@given(conv_cases())
def test_fast_qconv2d_is_exact_for_int8_and_bounded_for_int16(case):
    r = case["requant"]

    def build(x, w, b):
        return QConv2DOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], groups=case["groups"],
            relu=r["relu"],
        )

    exact, fast = run_both(build, [(case["x"], quant(case["input_bits"], 0.25, case["zero_point"]))], [case["weight"], case["bias"]])
    kh, kw, c_group, _ = case["weight"].shape
    assert difference(exact, fast) <= allowed_difference(case, kh * kw * c_group)


@SETTINGS
@given(dense_cases())
def test_fast_qdense_is_exact_for_int8_and_bounded_for_int16(case):
    r = case["requant"]
    exact, fast = run_both(
        lambda x, w, b: QDenseOp(x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 1.0, r["zero_point"]), relu=r["relu"]),
        [(case["x"], quant(case["input_bits"], 0.5, case["zero_point"]))],
        [case["weight"], case["bias"]],
    )
    assert difference(exact, fast) <= allowed_difference(case, case["weight"].shape[0])


@SETTINGS
@given(matmul_cases())
def test_fast_qmatmul_is_exact(case):
    # int8 x int8 with the short reductions of the strategy: float32 sums are exact
    c = case
    exact, fast = run_both(
        lambda a, b: QMatMulOp(a, b, quant(c["output_bits"], 0.1, c["zero_point"]), multiplier=c["multiplier"], shift=c["shift"], left_shift=c["left_shift"]),
        [(c["a"], quant(8, 0.5, c["za"])), (c["b"], quant(8, 0.25, c["zb"]))],
    )
    np.testing.assert_array_equal(fast, exact)


def test_fast_mode_rounds_long_int16_reductions_and_stays_close():
    """A 3x3 convolution over 64 int16 channels: sums reach ~2**30, far past
    float32's 2**24, so fast mode differs, by about the bound and no more."""
    rng = np.random.default_rng(5)
    x = rng.integers(-(2**15), 2**15, size=(1, 6, 6, 64), dtype=np.int16)
    w = rng.integers(-127, 128, size=(3, 3, 64, 8), dtype=np.int8)
    bias = rng.integers(-(2**20), 2**20, size=(8,), dtype=np.int32)
    # intrinsic shift 1 and an int32 output without shift: every accumulator difference shows
    r = dict(mode="sima", output_bits=32, relu=False, shift=[0], multiplier=None, zero_point=0, intrinsic=[1])
    exact, fast = run_both(
        lambda x_, w_, b_: QConv2DOp(x_, w_, b_, requantization_object(r), r["intrinsic"], quant(32, 1.0, 0), pads=(1, 1, 1, 1)),
        [(x, quant(16, 0.25, 3))],
        [w, bias],
    )
    bound = allowed_difference(dict(input_bits=16, requant=r, x=x), 3 * 3 * 64)
    assert 0 < difference(exact, fast) <= bound


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(long_int8_dense_cases())
def test_fast_mode_is_exact_for_int8_reductions_past_float32s_bound(case):
    """int8 fast mode uses the bit-exact kernels (float32 where the weights'
    column norms prove it exact, float64 beyond), so even reductions whose
    sums pass 2**24 come out exact."""
    r = case["requant"]
    exact, fast = run_both(
        lambda x, w, b: QDenseOp(x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 1.0, r["zero_point"])),
        [(case["x"], quant(8, 0.5, case["zero_point"]))],
        [case["weight"], case["bias"]],
    )
    np.testing.assert_array_equal(fast, exact)
