"""Every function in the pass lit tests computes the same after the passes.

The lit files check the *shape* of the rewritten IR; this test runs each of
their input functions through the runtime interpreter before and after
`cancel-transposes` and `sima-canonicalize` and compares the outputs, so a
FileCheck expectation cannot enshrine a wrong rewrite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.func import FuncOp

from passes.cancel_transposes import CancelTransposesPass
from passes.sima_canonicalize import SimaCanonicalizePass
from runtime.errors import InterpreterError
from runtime.interpreter import Interpreter
from sima_dialect.context import parse_module
from sima_dialect.element_types import element_type_to_numpy
from sima_dialect.weights import ElidedWeightsError

LIT_DIR = Path(__file__).parent / "filecheck" / "passes"


def chunks() -> list[tuple[str, str]]:
    found = []
    for path in sorted(LIT_DIR.glob("*.mlir")):
        for i, chunk in enumerate(path.read_text().split("// -----")):
            if "func.func" in chunk:
                found.append((f"{path.name}#{i}", chunk))
    return found


def runnable(text: str):
    """(module, interpreter, inputs), or None when the interpreter cannot run it
    (weights elided from the text, quantized tensors)."""
    module = parse_module(text)
    try:
        interpreter = Interpreter(module)
    except (InterpreterError, ElidedWeightsError, ValueError):
        return None
    function = next(op for op in module.body.ops if isinstance(op, FuncOp))
    rng = np.random.default_rng(0)
    inputs = [
        (rng.standard_normal(arg.type.get_shape()) * 3).astype(element_type_to_numpy(arg.type.element_type))
        for arg in function.args
    ]
    return module, interpreter, inputs


PIPELINES = {
    "cancel-transposes": [CancelTransposesPass()],
    "sima-canonicalize": [SimaCanonicalizePass()],
    "both": [CancelTransposesPass(), SimaCanonicalizePass()],
}


@pytest.mark.parametrize("pipeline", list(PIPELINES))
def test_lit_inputs_keep_their_outputs(pipeline: str) -> None:
    ran = 0
    for name, text in chunks():
        found = runnable(text)
        if found is None:
            continue
        module, interpreter, inputs = found
        expected = interpreter.run(inputs)
        for module_pass in PIPELINES[pipeline]:
            module_pass.apply(Context(), module)
        module.verify()
        got = Interpreter(module).run(inputs)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=f"{name} after {pipeline}")
        ran += 1
    assert ran >= 30, f"only {ran} lit functions could be run"
