"""The quantized runtime's program compiled to ONNX graphs that onnxruntime executes.

onnxruntime is the kernel engine; the NumPy interpreter (`runtime.interpreter`
with `runtime.integer_kernels`) stays the definition, the reference and the
fallback. Each op is lowered only where its ONNX form is proven to compute
exactly the NumPy kernel's integers for every input its types allow
(`lower.py`: tables made by the kernel itself, float products bounded below
2**24, requantizations in `requantize.py`); the rest run in NumPy between the
onnxruntime segments (`program.py`). Table ops (lut, requantize, int8 qadd /
qmul) have exact Gather forms but run in NumPy by default: onnxruntime's
Gather copies element by element, ~6x slower than NumPy's take (measured).
Products of int16 inputs also have exact forms, measured slower than NumPy,
so they are opt-in too (`OnnxProgram(..., int16_ops=True)`). Fast mode builds
its own program: the same lowered ops (exact, as fast mode's own kernels for
them), the rest with fast mode's NumPy kernels.

    executor = executor_for(interpreter)   # an OnnxProgram, or the interpreter itself
    outputs = executor.run(feeds)

Opt-in: `Model.execute` runs the NumPy interpreter unless the environment
variable `SIMA_RUNTIME=onnxruntime` asks for this backend (onnxruntime must be
installed; it is in the `test` extra, not a core dependency), because it is
not faster yet: `bench/bench_quantized_execute.py` measured int8 at the NumPy
interpreter's speed (onnxruntime's Gather is ~6x slower than NumPy's take, so
the table ops stay in NumPy and cut the graph into one piece per convolution)
and int16 slower. `executor_for(..., backend=...)` chooses for one call. Logging at DEBUG level on this package names every
op that runs in NumPy and why.
"""

from __future__ import annotations

import importlib.util
import logging
import os

RUNTIME_VARIABLE = "SIMA_RUNTIME"
BACKENDS = ("onnxruntime", "numpy")

logger = logging.getLogger(__name__)


def chosen_backend(backend: str | None = None) -> str:
    """"onnxruntime" or "numpy": `backend` if given, else $SIMA_RUNTIME, else numpy (the default)."""
    choice = backend if backend is not None else os.environ.get(RUNTIME_VARIABLE, "").strip().lower() or None
    if choice is not None and choice not in BACKENDS:
        source = "backend" if backend is not None else f"${RUNTIME_VARIABLE}"
        raise ValueError(f"{source} must be one of {', '.join(BACKENDS)}, got {choice!r}")
    if choice in (None, "numpy"):
        return "numpy"
    if importlib.util.find_spec("onnxruntime") is None:
        raise ValueError(f"{RUNTIME_VARIABLE}=onnxruntime, but onnxruntime is not installed (pip install onnxruntime)")
    return "onnxruntime"


def executor_for(interpreter, *, backend: str | None = None, threads: int | None = None):
    """An executor of `interpreter`'s function with its `run(inputs)`: an
    `OnnxProgram` (sessions built now), or the interpreter itself for the NumPy backend."""
    if chosen_backend(backend) == "numpy":
        return interpreter
    from runtime.onnx_backend.program import OnnxProgram

    return OnnxProgram(interpreter, threads=threads)


__all__ = ["BACKENDS", "RUNTIME_VARIABLE", "chosen_backend", "executor_for"]
