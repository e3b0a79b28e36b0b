"""fast mode quantizes float32 inputs to int8 as bit-exact does (`rounded_quantize.py`).

sima.quantize rounds the exact quotient x / step half away from zero; onnxruntime's QuantizeLinear
rounds a float32 quotient half to even. Fast mode computes x * (1 / step) (pushed away from zero)
+ 128 + z + 1/2 in float64 and truncates it to the byte (the int8 form keeps it, the float forms
dequantize it), checked at lowering on the float32 values next to every tie
(`exact_float_form.quantize_mismatches`). Tested here on those values, infinities and
random ones: the kernel's integers for float32 steps (the quantizer's) with no patch, for a float64
step with a few mismatches patched, and QuantizeLinear kept where there are too many; NaN refused.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime  # noqa: F401  a core dependency: these tests fail, not skip, without it
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import runtime.kernels  # noqa: F401  first: it completes runtime.integer_kernels' import cycle
from runtime.fast_kernels import FAST_KERNELS
from runtime.interpreter import Interpreter
from runtime.onnx_backend.exact_float_form import MAX_QUANTIZE_PATCHES, quantize_mismatches
from runtime.onnx_backend.emulate import FLOAT_EMULATION
from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION
from runtime.onnx_backend.rounded_quantize import byte_quotients
from runtime.onnx_backend.program import OnnxProgram, _Segment
from test_onnx_backend_float_form import _near_ties, _quantize_module

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _quantized(step: float, zero_point: int, seed: int, emulation=INTEGER_EMULATION):
    """(fast mode's int8 result, the kernel's, the op types of the program's sessions) on the values
    next to every tie, in the int8 form (or the float form: `emulation=FLOAT_EMULATION`)."""
    values = _near_ties(step, zero_point, np.random.default_rng(seed))
    x = np.random.default_rng(seed).permutation(values)[None, None, :, None]
    interpreter = Interpreter(_quantize_module(x.shape, step, zero_point), kernels=FAST_KERNELS)
    program = OnnxProgram(interpreter, threads=1, emulation=emulation)
    assert program.numpy_ops() == [], program.fallbacks
    kinds = [(node.op_type, [a.i for a in node.attribute if a.name == "to"])
             for step_ in program._program if isinstance(step_, _Segment) for fragment in step_.fragments for node in fragment.nodes]
    return program.run([x])[0], interpreter.run([x])[0], kinds


def _in_float64(kinds) -> bool:
    return ("Cast", [onnx.TensorProto.DOUBLE]) in kinds


@SETTINGS
@given(st.floats(1e-4, 2.0), st.integers(-128, 127), st.integers(0, 2**32 - 1))
@example(1.0, 0, 0)  # 1 / step pushed is 1 in float32: onnxruntime would drop that Mul
@example(2.0**-7, -5, 0)  # every tie (k + 1/2) step is a float32 value
def test_float32_steps_quantize_as_the_kernel_with_no_patch(step, zero_point, seed):
    step = float(np.float32(step))  # steps as the quantizer makes them (float32 scales)
    for emulation in (INTEGER_EMULATION, FLOAT_EMULATION):
        produced, expected, kinds = _quantized(step, zero_point, seed, emulation)
        assert _in_float64(kinds) and not any(kind == "Where" for kind, _ in kinds), kinds
        assert produced.dtype == expected.dtype == np.int8
        np.testing.assert_array_equal(produced, expected)


def test_a_few_mismatches_are_patched():
    """A float64 step (not the quantizer's) whose float32 x come within the push of a tie: patched."""
    step, zero_point = 0.003, 0
    wrong, _ = quantize_mismatches(step, zero_point, byte_quotients)
    assert 0 < wrong.size <= MAX_QUANTIZE_PATCHES
    produced, expected, kinds = _quantized(step, zero_point, 5)
    assert _in_float64(kinds) and sum(kind == "Where" for kind, _ in kinds) == wrong.size
    np.testing.assert_array_equal(produced, expected)


def test_too_many_mismatches_keep_quantize_linear():
    step, zero_point = 0.1, 3  # 51 float32 x within the push of a tie
    assert quantize_mismatches(step, zero_point, byte_quotients)[0].size > MAX_QUANTIZE_PATCHES
    produced, expected, kinds = _quantized(step, zero_point, 5)
    assert not _in_float64(kinds) and ("QuantizeLinear", []) in kinds
    assert np.abs(produced.astype(np.int64) - expected).max() <= 1


def test_nan_is_refused_as_the_kernel_refuses_it():
    """The session would give NaN some byte; `OnnxProgram` runs the kernel on a segment input holding
    NaN (program.py), which refuses it, as bit-exact does."""
    x = np.array([0.5, np.nan, -1.25], np.float32)[None, None, :, None]
    program = OnnxProgram(Interpreter(_quantize_module(x.shape, float(np.float32(0.0171899744)), -19), kernels=FAST_KERNELS),
                          threads=1, emulation=INTEGER_EMULATION)
    assert program.numpy_ops() == []
    with pytest.raises(Exception, match="NaN"):
        program.run([x])
