"""Support for the integer kernel tests: one-op quantized functions run by the
interpreter, and slow references of the MLA arithmetic written with Python ints.

The references follow the formulas of `runtime.integer_arithmetic`'s module
docstring and of the op docstrings in `sima_dialect.quantized_ops`, with
`fractions.Fraction` and Python's floor division: they share no code with the
kernels (no NumPy arithmetic, no helper of `integer_arithmetic`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
from xdsl.dialects.builtin import IntegerType, ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, Region

from runtime.interpreter import Interpreter
from sima_dialect.ops import ConstantOp
from sima_dialect.types import QuantizedType

# ---------------------------------------------------------------------------
# running one op


def quant(bits: int, step: float, zero_point: int) -> QuantizedType:
    return QuantizedType(IntegerType(bits), step, zero_point)


def run_op(build: Callable, inputs: Sequence[tuple[np.ndarray, Attribute]], constants: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Build `build(*input values, *constant values)` in a verified @main, run it, return its result."""
    block = Block(arg_types=[TensorType(element, list(array.shape)) for array, element in inputs])
    constant_ops = [ConstantOp.from_array(f"c{i}", np.asarray(c)) for i, c in enumerate(constants)]
    op = build(*block.args, *(c.output for c in constant_ops))
    block.add_ops([*constant_ops, op, ReturnOp(op.results[0])])
    function = FuncOp("main", ([a.type for a in block.args], [op.results[0].type]), Region(block))
    module = ModuleOp([function])
    module.verify()
    return Interpreter(module).run([array for array, _ in inputs])[0]


def integers(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


# ---------------------------------------------------------------------------
# reference arithmetic on Python ints


def sat(value: int, bits: int) -> int:
    low, high = integers(bits)
    return max(low, min(high, value))


def round_half_up(value: Fraction) -> int:
    """floor(value + 1/2)."""
    return math.floor(value + Fraction(1, 2))


def round_half_away(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return -magnitude if value < 0 else magnitude


def sima_requantize(a: int, shift: int, bits: int, relu: bool = False) -> int:
    """sat(rshift_half_up(A, n)), A clamped at 0 first with relu."""
    if relu:
        a = max(a, 0)
    return sat(round_half_up(Fraction(a, 2**shift)), bits)


def tflite_requantize(a: int, multiplier: int, shift: int, zero_point: int, bits: int, relu: bool = False) -> int:
    """sat(rshift_half_away(A * M, n) (clamped at 0 with relu) + z)."""
    t = round_half_away(Fraction(a * multiplier, 2**shift))
    if relu:
        t = max(t, 0)
    return sat(t + zero_point, bits)


def mla_dot(xs: Sequence[int], ws: Sequence[int], input_bits: int, intrinsic_shift: int) -> int:
    """P of one output: sum x * w (int8), or the int15 byte-split formula (int16)."""
    if input_bits == 8:
        assert intrinsic_shift == 0
        return sum(x * w for x, w in zip(xs, ws))
    high = sum((x >> 8) * w for x, w in zip(xs, ws))  # Python's >> floors; x >> 8 is the signed high byte
    low = sum((x & 0xFF) * w for x, w in zip(xs, ws))  # the unsigned low byte
    return (high << (8 - intrinsic_shift)) + (low >> intrinsic_shift)


def per_channel(values: Sequence[int], channel: int) -> int:
    return values[channel] if len(values) > 1 else values[0]


def reference_quantize(x: float, step: float, zero_point: int, bits: int) -> int:
    return sat(round_half_away(Fraction(x) / Fraction(step)) + zero_point, bits)


def nearest_float32(value: Fraction) -> np.float32:
    """The float32 nearest to an exact value, ties to the even significand (finite range)."""
    guess = np.float32(float(value))  # within an ulp or so: check the neighbours exactly
    candidates = [guess, np.nextafter(guess, np.float32(-np.inf)), np.nextafter(guess, np.float32(np.inf))]
    best = min(candidates, key=lambda c: (abs(Fraction(float(c)) - value), int(np.float32(c).view(np.int32)) & 1))
    return np.float32(best)
