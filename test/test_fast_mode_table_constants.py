"""fast mode's int8 tables give exactly the table's bytes (`runtime.onnx_backend.table_constants`).

Each test builds a one-lut int8 function from a table the quantize pass's way
(`lookup_table`, float64 rounding half away from zero) and runs it on all 256 input
bytes with the NumPy fast kernel (the table itself) and with the int8 form on
onnxruntime: the bytes must be equal everywhere, whichever path the lowering took
(the float32 pipeline as it is, its constants nudged, or the table read).
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from integer_references import quant
from runtime.integer_arithmetic import lookup_table
from runtime.kernels import elementwise
from runtime.onnx_backend import integer_emulation, table_constants
from runtime.onnx_backend.program import OnnxProgram, _Segment
from sima_dialect.quantized_ops import LutOp
from test_fast_mode_integer import SETTINGS, integer_emulated
from test_onnx_backend_ops import one_op


EVERY_BYTE = np.arange(-128, 128).astype(np.int8).reshape(1, 2, 8, 16)
DYADIC_STEPS = [2.0**-4, 2.0**-5, 2.0**-6, 3 * 2.0**-7, 3 * 2.0**-8, 0.05, 0.1]
"""Steps whose products land on exact rounding ties (where float32 and the table part most often)."""

FUNCTIONS = {
    "hard_swish": elementwise.hard_swish,
    "hard_sigmoid": lambda r: np.clip(r / 6.0 + 0.5, 0.0, 1.0),
    "sigmoid": elementwise.sigmoid,
    "relu6": lambda r: np.clip(r, 0.0, 6.0),
}

steps = st.one_of(st.sampled_from(DYADIC_STEPS), st.floats(0.005, 0.2))


def lut_module(function, in_step, in_zero, out_step, out_zero):
    table = lookup_table(function, in_step, in_zero, 8, out_step, out_zero, 8)
    return one_op(lambda v, t: LutOp(v, t, quant(8, out_step, out_zero)), [(EVERY_BYTE, quant(8, in_step, in_zero))], [table])


def outcomes_of(run):
    """(run's result, the table outcomes its lowering counted)."""
    before = table_constants.OUTCOMES.copy()
    result = run()
    return result, table_constants.OUTCOMES - before


def node_types(program) -> list[str]:
    return [node.op_type for step in program._program if isinstance(step, _Segment) for f in step.fragments for node in f.nodes]


@SETTINGS
@given(st.sampled_from(sorted(FUNCTIONS)), steps, st.integers(-40, 40), steps, st.integers(-128, 20))
@example("hard_swish", 2.0**-4, 0, 2.0**-4, -3)  # plain float32 differs from the table here (test below)
def test_every_table_byte_is_exact(name, in_step, in_zero, out_step, out_zero):
    module = lut_module(FUNCTIONS[name], in_step, in_zero, out_step, out_zero)
    (expected, produced, program), outcomes = outcomes_of(lambda: integer_emulated(module, [EVERY_BYTE]))
    assert np.array_equal(expected[0], produced[0]), np.count_nonzero(expected[0] != produced[0])
    assert set(outcomes) <= {"as-is", "nudged", "fallback"}, outcomes  # checked, whichever path
    if outcomes["fallback"]:
        assert "GatherElements" in node_types(program)


def test_a_table_plain_float32_misses_is_made_exact_by_nudging():
    """in_step = out_step = 1/16: hard_swish's products land on ties the table rounds away from
    zero and QuantizeLinear to even. Without the check the int8 form misses bytes; with it the
    same nodes (HardSwish, no table read) give every byte, the scales moved a few ulps."""
    module = lut_module(elementwise.hard_swish, 2.0**-4, 0, 2.0**-4, -3)
    unchecked = lambda f, first_node, first_initializer, source, result, *rest: result  # noqa: E731
    with mock.patch.object(table_constants, "make_exact", unchecked):
        expected, plain, _ = integer_emulated(module, [EVERY_BYTE])
    assert np.count_nonzero(expected[0] != plain[0]) >= 1
    (expected, produced, program), outcomes = outcomes_of(lambda: integer_emulated(module, [EVERY_BYTE]))
    assert np.array_equal(expected[0], produced[0])
    assert outcomes == {"nudged": 1}
    kinds = node_types(program)
    assert "HardSwish" in kinds and "GatherElements" not in kinds and "Gather" not in kinds


def test_a_table_no_nudge_fixes_is_read_exactly(monkeypatch):
    """With no room to nudge, the same table falls back to a GatherElements read, still exact."""
    monkeypatch.setattr(table_constants, "CONSTANT_ULPS", 0)
    monkeypatch.setattr(table_constants, "ATTRIBUTE_ULPS", 0)
    monkeypatch.setattr(table_constants, "_CACHE", {})
    module = lut_module(elementwise.hard_swish, 2.0**-4, 0, 2.0**-4, -3)
    (expected, produced, program), outcomes = outcomes_of(lambda: integer_emulated(module, [EVERY_BYTE]))
    assert np.array_equal(expected[0], produced[0])
    assert outcomes == {"fallback": 1}
    kinds = node_types(program)
    assert "GatherElements" in kinds and "HardSwish" not in kinds


@pytest.mark.parametrize("name", ["hard_swish", "hard_sigmoid"])
def test_the_same_table_lowers_to_the_same_constants(name, monkeypatch):
    """Deterministic: two lowerings of the same op, the cache emptied in between, give the same graph."""
    from runtime.fast_kernels import FAST_KERNELS
    from runtime.interpreter import Interpreter

    module = lut_module(FUNCTIONS[name], 2.0**-4, 0, 2.0**-4, -3)
    graphs = []
    for _ in range(2):
        monkeypatch.setattr(table_constants, "_CACHE", {})
        program = OnnxProgram(Interpreter(module, kernels=FAST_KERNELS), threads=1, emulation=integer_emulation.INTEGER_EMULATION)
        segment = next(step for step in program._program if isinstance(step, _Segment))
        graphs.append([(node.SerializeToString(), *[t.SerializeToString() for t in f.initializers]) for f in segment.fragments for node in f.nodes])
    assert graphs[0] == graphs[1]


def test_the_probe_holds_every_byte_at_every_alignment():
    x = table_constants.probe()
    for byte in (0, 1, 127, 255):
        positions = np.flatnonzero(x == byte)
        assert set(positions % table_constants.PROBE_ALIGNMENTS) == set(range(table_constants.PROBE_ALIGNMENTS))
    assert x.size % table_constants.PROBE_ALIGNMENTS != 0  # a tail too


def test_a_hard_sigmoid_fixed_by_its_attributes(monkeypatch):
    """With the scales alone held (no constants-only nudge tried), HardSigmoid's alpha / beta are
    nudged: the table's bytes exactly, the same nodes, the fix naming an attribute."""
    monkeypatch.setattr(table_constants, "CONSTANT_ULPS", 0)
    cache: dict = {}
    monkeypatch.setattr(table_constants, "_CACHE", cache)
    module = lut_module(FUNCTIONS["hard_sigmoid"], 2.0**-4, 0, 2.0**-4, -3)
    (expected, produced, program), outcomes = outcomes_of(lambda: integer_emulated(module, [EVERY_BYTE]))
    assert np.array_equal(expected[0], produced[0])
    assert outcomes == {"nudged": 1}
    [fix] = cache.values()
    assert fix.attributes and {name for _, name, _ in fix.attributes} <= {"alpha", "beta"}
    assert "HardSigmoid" in node_types(program) and "GatherElements" not in node_types(program)
