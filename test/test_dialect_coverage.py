"""The lit suite of the dialect covers every op in `ALL_OPS` and `QUANTIZED_OPS`: a new op fails these tests
until it has a round-trip test (custom and generic form, with and without each
optional operand) and, unless it is a unary elementwise op, an invalid-IR test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from xdsl.irdl import OptOperandDef

from sima_dialect import ops
from sima_dialect.bfloat16_ops import BFLOAT16_OPS
from sima_dialect.quantized_ops import QUANTIZED_OPS

DIALECT_TESTS = Path(__file__).parent / "filecheck" / "dialect"


def check_lines(pattern: str) -> list[str]:
    lines = []
    for path in sorted(DIALECT_TESTS.glob(pattern)):
        lines += [line for line in path.read_text().splitlines() if re.match(r"//\s*[A-Z]+(-[A-Z]+)*:", line)]
    return lines


ROUND_TRIP_CHECKS = check_lines("sima_ops_*.mlir") + check_lines("sima_quantized_ops*.mlir")
# the quantized ops' generic forms are checked in their own round-trip files (GENERIC lines)
GENERIC_CHECKS = check_lines("sima_generic_form.mlir") + check_lines("sima_quantized_ops*.mlir")
INVALID_CHECKS = check_lines("sima_invalid_*.mlir")
ALL_DIALECT_OPS = [*ops.ALL_OPS, *QUANTIZED_OPS, *BFLOAT16_OPS]


def op_id(cls) -> str:
    return cls.name


@pytest.mark.parametrize("cls", ALL_DIALECT_OPS, ids=op_id)
def test_op_has_a_custom_form_round_trip_check(cls):
    pattern = re.compile(rf"= {re.escape(cls.name)} ")
    assert any(pattern.search(line) for line in ROUND_TRIP_CHECKS), (
        f"no CHECK line of test/filecheck/dialect/sima_ops_*.mlir shows {cls.name} in custom form"
    )


@pytest.mark.parametrize("cls", ALL_DIALECT_OPS, ids=op_id)
def test_op_has_a_generic_form_check_with_and_without_each_optional_operand(cls):
    pattern = re.compile(rf'"{re.escape(cls.name)}"\(([^)]*)\)')
    operand_counts = {
        len([o for o in match.group(1).split(",") if o.strip()])
        for line in GENERIC_CHECKS
        if (match := pattern.search(line))
    }
    assert operand_counts, f"sima_generic_form.mlir has no CHECK line for {cls.name}"
    operands = cls.get_irdl_definition().operands
    optional = sum(isinstance(definition, OptOperandDef) for _, definition in operands)
    if optional:
        most = len(operands)
        assert {most, most - optional} <= operand_counts, (
            f"{cls.name} needs generic CHECK lines with and without its optional operand(s)"
        )


@pytest.mark.parametrize(
    "cls", [cls for cls in ALL_DIALECT_OPS if not issubclass(cls, ops.UnaryElementwiseOp)], ids=op_id
)
def test_op_has_an_invalid_ir_check(cls):
    pattern = re.compile(rf"\{{\{{\^\}}\}}{re.escape(cls.name)}( '[^']*')?: ")
    assert any(pattern.search(line) for line in INVALID_CHECKS), (
        f"no sima_invalid_*.mlir file checks a verifier message of {cls.name}"
    )
