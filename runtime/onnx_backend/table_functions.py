"""The float function a `sima.lut` table samples, recognized from the table, as ONNX nodes.

The quantize pass makes every table as quantize(f(dequantize(q))) for one of
the unary functions of `passes.quantize_elementwise.UNARY_FUNCTION_OPS`, but
the IR keeps only the table. fast mode (`emulate.py`) computes f itself, as a
float op onnxruntime runs in one pass, instead of a Gather (onnxruntime's
Gather is ~6x slower than a float pass, measured; see `lower.py`).

    found = recognize(table, input_element, output_element)   # None: not one of ours
    value, factor = found.function.emit(fragment, centred_input, input_step)  # f(step * c) = value * factor

A candidate is accepted only when its own table, made exactly as the quantize
pass makes one (`integer_arithmetic.lookup_table`), is within one step of the
op's table at every input and equal at all but a few (`MAX_DIFFERENT_FRACTION`);
`Recognized` keeps how many entries differ, so fast mode's distance from the
table is known. Parameters the table does not name (hard_sigmoid's slope,
clip's bounds, leaky_relu's slope) are tried from the common exports' values
or read off the table's ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from runtime.integer_arithmetic import dequantize, integer_range, lookup_table, quantize
from runtime.kernels import elementwise
from runtime.onnx_backend.graph import Fragment
from sima_dialect.types import QuantizedType

MAX_DIFFERENT_FRACTION = 0.01
"""At most this fraction of a table's entries may differ (by one step) from the candidate's."""


COMMON_LEAKY_SLOPES = (0.01, 0.02, 0.1, 0.2, 0.25, 0.3)

Emit = Callable[[Fragment, str, float], tuple[str, float]]
"""(fragment, centred integer input c, input step s) -> (name, factor) with f(s * c) = name * factor."""


@dataclass(frozen=True)
class TableFunction:
    name: str
    evaluate: Callable[[np.ndarray], np.ndarray]  # f on float32 real values, as the runtime's float kernel
    emit: Emit


@dataclass(frozen=True)
class Recognized:
    function: TableFunction
    different_entries: int  # table entries where quantize(f(.)) differs from the op's table (by one step)


def _float32(function: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda r: np.asarray(function(np.asarray(r, dtype=np.float32)), dtype=np.float32)


def _hard_sigmoid(alpha: float, beta: float) -> TableFunction:
    alpha32, beta32 = np.float32(alpha), np.float32(beta)
    return TableFunction(
        f"hard_sigmoid(alpha={alpha:.6g}, beta={beta:.6g})",
        _float32(lambda r: np.clip(alpha32 * r + beta32, np.float32(0), np.float32(1))),
        lambda f, c, s: (f.node("HardSigmoid", [c], alpha=float(alpha * s), beta=float(beta)), 1.0),
    )


def _hard_swish() -> TableFunction:
    def emit(f: Fragment, c: str, s: float) -> tuple[str, float]:
        gate = f.node("HardSigmoid", [c], alpha=float(s / 6.0), beta=0.5)  # relu6(s c + 3) / 6
        return f.node("Mul", [c, gate]), s

    return TableFunction("hard_swish", _float32(elementwise.hard_swish), emit)


def _of_real(name: str, evaluate: Callable[[np.ndarray], np.ndarray], op_type: str, **attributes) -> TableFunction:
    """f(s * c) as one ONNX op on s * c."""

    def emit(f: Fragment, c: str, s: float) -> tuple[str, float]:
        real = f.node("Mul", [c, f.constant(np.float32(s))])
        return f.node(op_type, [real], **attributes), 1.0

    return TableFunction(name, _float32(evaluate), emit)


def _positively_homogeneous(name: str, evaluate: Callable[[np.ndarray], np.ndarray], op_type: str, **attributes) -> TableFunction:
    """f(s * c) = s * f(c) (relu, leaky_relu, abs, neg): one op on c, the step folded into the factor."""
    return TableFunction(name, _float32(evaluate), lambda f, c, s: (f.node(op_type, [c], **attributes), s))


def _clip(low: float, high: float) -> TableFunction:
    def emit(f: Fragment, c: str, s: float) -> tuple[str, float]:
        bounds = [f.constant(np.float32(low / s)), f.constant(np.float32(high / s))]
        return f.node("Clip", [c, *bounds]), s

    return TableFunction(f"clip({low:.6g}, {high:.6g})", _float32(lambda r: np.clip(r, np.float32(low), np.float32(high))), emit)


def _leaky_relu(alpha: float) -> TableFunction:
    alpha32 = np.float32(alpha)
    return _positively_homogeneous(f"leaky_relu({alpha:.6g})", lambda r: np.where(r >= 0, r, alpha32 * r), "LeakyRelu", alpha=float(alpha))


def _silu() -> TableFunction:
    def emit(f: Fragment, c: str, s: float) -> tuple[str, float]:
        real = f.node("Mul", [c, f.constant(np.float32(s))])
        return f.node("Mul", [real, f.node("Sigmoid", [real])]), 1.0

    return TableFunction("silu", _float32(elementwise.silu), emit)


def _gelu(r: np.ndarray) -> np.ndarray:
    return np.float32(0.5) * r * (np.float32(1) + elementwise.erf(r / np.float32(np.sqrt(2.0))))


FIXED_CANDIDATES: tuple[TableFunction, ...] = (
    _hard_swish(),
    _hard_sigmoid(1.0 / 6.0, 0.5),
    _hard_sigmoid(0.2, 0.5),
    _of_real("sigmoid", elementwise.sigmoid, "Sigmoid"),
    _silu(),
    _of_real("tanh", np.tanh, "Tanh"),
    _of_real("exp", np.exp, "Exp"),
    _of_real("gelu", _gelu, "Gelu"),
    _of_real("erf", elementwise.erf, "Erf"),
    _positively_homogeneous("relu", lambda r: np.maximum(r, np.float32(0)), "Relu"),
    _positively_homogeneous("abs", np.abs, "Abs"),
    _positively_homogeneous("neg", np.negative, "Neg"),
)
"""Functions with no parameter the table hides (or the common exports' parameters),
computed with the runtime's float kernels (`runtime.kernels.elementwise`) where it has them."""


def _candidates(table: np.ndarray, source: QuantizedType, target: QuantizedType) -> list[TableFunction]:
    """The fixed candidates, silu, and those whose parameters are read off the table."""
    found = list(FIXED_CANDIDATES)
    low, high = integer_range(source.bits)
    reals = dequantize(np.arange(low, high + 1, dtype=np.int64), source.scale_value, source.zero_point_value)
    outputs = dequantize(table.astype(np.int64), target.scale_value, target.zero_point_value).astype(np.float64)
    found.append(_clip(float(outputs.min()), float(outputs.max())))  # relu6 and other clips: the table's ends
    most_negative = float(reals[0])
    if most_negative < 0 and outputs[0] < 0:  # leaky_relu: the common exports' slopes, and the table's own
        slopes = {*COMMON_LEAKY_SLOPES, float(outputs[0]) / most_negative}
        found.extend(_leaky_relu(slope) for slope in sorted(slopes))
    return found


def recognize(table: np.ndarray, source: QuantizedType, target: QuantizedType) -> Recognized | None:
    """The candidate function whose table is closest to `table` (None if none is close enough)."""
    table = np.asarray(table).astype(np.int64)
    best: Recognized | None = None
    low_in, _ = integer_range(source.bits)
    sample = np.arange(0, table.size, max(1, table.size // 512))  # a cheap first look at each candidate
    sample_inputs = dequantize(sample + low_in, source.scale_value, source.zero_point_value)
    for function in _candidates(table, source, target):
        try:
            with np.errstate(all="ignore"):
                first_look = quantize(function.evaluate(sample_inputs), target.scale_value, target.zero_point_value, target.bits)
                if np.abs(first_look.astype(np.int64) - table[sample]).max(initial=0) > 1:
                    continue
                own = lookup_table(
                    function.evaluate, source.scale_value, source.zero_point_value, source.bits,
                    target.scale_value, target.zero_point_value, target.bits,
                ).astype(np.int64)
        except (ValueError, ArithmeticError, ImportError):
            continue
        difference = np.abs(own - table)
        if difference.max(initial=0) > 1:
            continue
        different = int(np.count_nonzero(difference))
        if different > MAX_DIFFERENT_FRACTION * table.size:
            continue
        if best is None or different < best.different_entries:
            best = Recognized(function, different)
            if different == 0:
                break
    return best


__all__ = ["FIXED_CANDIDATES", "MAX_DIFFERENT_FRACTION", "Recognized", "TableFunction", "recognize"]
