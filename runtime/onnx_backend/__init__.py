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
so they are opt-in too (`OnnxProgram(..., int16_ops=True)`).

    executor = executor_for(interpreter)                   # bit-exact: the interpreter itself, or an OnnxProgram
    executor = executor_for(fast_interpreter, fast_mode=True)   # OnnxProgram(..., emulation=FLOAT_EMULATION)
    outputs = executor.run(feeds)

fast mode (`Model.execute(fast_mode=True)`) runs on onnxruntime by default, as
one float graph that emulates the program (`emulate.py`, not bit-exact; the
seed's fast mode), unless SIMA_RUNTIME=numpy asks for its NumPy kernels.

Bit-exact execution is opt-in: `Model.execute` runs the NumPy interpreter unless the environment
variable `SIMA_RUNTIME=onnxruntime` asks for this backend, because it is
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


def chosen_backend(backend: str | None = None, default: str = "numpy") -> str:
    """"onnxruntime" or "numpy": `backend` if given, else $SIMA_RUNTIME, else `default`
    (numpy for bit-exact execution; onnxruntime for fast mode, falling back to numpy
    with a warning if onnxruntime cannot be imported)."""
    choice = backend if backend is not None else os.environ.get(RUNTIME_VARIABLE, "").strip().lower() or None
    if choice is not None and choice not in BACKENDS:
        source = "backend" if backend is not None else f"${RUNTIME_VARIABLE}"
        raise ValueError(f"{source} must be one of {', '.join(BACKENDS)}, got {choice!r}")
    installed = importlib.util.find_spec("onnxruntime") is not None
    if choice is None:
        if default == "onnxruntime" and not installed:
            logger.warning("onnxruntime is not installed: fast mode runs on the NumPy interpreter (pip install onnxruntime)")
            return "numpy"
        return default
    if choice == "numpy":
        return "numpy"
    if not installed:
        raise ValueError(f"{RUNTIME_VARIABLE}=onnxruntime, but onnxruntime is not installed (pip install onnxruntime)")
    return "onnxruntime"


def executor_for(interpreter, *, backend: str | None = None, threads: int | None = None, fast_mode: bool = False):
    """An executor of `interpreter`'s function with its `run(inputs)`: an
    `OnnxProgram` (sessions built now), or the interpreter itself for the NumPy backend.

    fast_mode (the interpreter then has the fast kernels): onnxruntime by default,
    the program emulated in float (`emulate.py`); bit-exact: NumPy by default,
    onnxruntime running the ops whose ONNX form is proven exact."""
    if chosen_backend(backend, default="onnxruntime" if fast_mode else "numpy") == "numpy":
        return interpreter
    from runtime.onnx_backend.program import OnnxProgram

    if fast_mode:
        from runtime.onnx_backend.emulate import FLOAT_EMULATION

        return OnnxProgram(interpreter, threads=threads, emulation=FLOAT_EMULATION)
    return OnnxProgram(interpreter, threads=threads)


__all__ = ["BACKENDS", "RUNTIME_VARIABLE", "chosen_backend", "executor_for"]
