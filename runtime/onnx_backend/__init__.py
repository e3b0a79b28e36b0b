"""The quantized runtime's program compiled to ONNX graphs that onnxruntime executes.

onnxruntime is the kernel engine; the NumPy interpreter (`runtime.interpreter`
with `runtime.integer_kernels`) stays the definition, the reference and the
fallback. Each op is lowered only where its ONNX form is proven to compute
exactly the NumPy kernel's integers for every input its types allow
(`lower.py`: float products bounded below 2**24, requantizations in
`requantize.py`; table ops in `exact_tables.py`: tables made by the kernels
themselves, read with GatherElements, at NumPy's `take` speed where Gather is
~10x slower); the rest run in NumPy between the onnxruntime segments
(`program.py`). Chains of elementwise ops are one table, as in the
interpreter (`integer_kernels.chains`); tensors between convolutions stay in
NCHW inside a session. Products of int16 inputs run in float32 where their
bounds allow (`lower._int15_float32_plan`: all but 5 of det's 90 int16
convolutions, all of cls' and orientation's), else in float64.

    executor = executor_for(interpreter)                   # bit-exact: an OnnxProgram(..., emulation=EXACT_FORM), or the interpreter
    executor = executor_for(fast_interpreter, fast_mode=True)   # the faster of the int8-kernel and float forms
    outputs = executor.run(feeds)

Inside the bit-exact sessions int8 tensors are float32 centred integers
(`exact_float_form.py`: no int8 <-> float conversion around each convolution,
convolutions read only by tables leave their table index, float32 -> int8 quantize
where proven for its step), and table reads run in the convolutions' NCHWc layout
(`blocked_layout.py`: onnxruntime's reorders around them removed); int16 tensors keep
the IR's types, their convolutions 9 nodes with no per-channel op outside the Convs
and a table index left for the tables and adds after them, their quantize and softmax
in the session (`exact_int16_form.py`, whose `EXACT_FORM` is the float form with these). A block split into channel groups (`with_channel_groups()`) runs as the
one block it was, its groups' constants side by side (`merged_groups.py`; in fast mode too).

Bit-exact execution (`Model.execute`) runs on onnxruntime by default when
every qconv2d and qdense of the program lowers (the real models, int8 and
int16, then run as 1-10 sessions; `bench/bench_quantized_execute.py` measures
it against the NumPy interpreter); otherwise (each convolution left to NumPy
cuts the graph, measured slower than the interpreter alone) it runs the NumPy
interpreter. SIMA_RUNTIME=numpy or =onnxruntime forces one;
`executor_for(..., backend=...)` chooses for one call.

fast mode (`Model.execute(fast_mode=True)`) runs on onnxruntime by default, as
one graph that emulates the program (not bit-exact; the seed's fast mode): in
float (`emulate.py`, with scales folded into DequantizeLinear: `fused_emulation.py`;
for programs with 16-bit values, their requantizations saturating without rounding:
`relaxed_emulation.py`), or, for all-int8 programs, on onnxruntime's int8 kernels
(`integer_emulation.py`; the float form where most convolutions are in channel-grouped
blocks; SIMA_FAST_FORM=float asks for the float form), unless
SIMA_RUNTIME=numpy asks for its NumPy kernels.

Logging at DEBUG level on this package names every op that runs in NumPy and why.
"""

from __future__ import annotations

import importlib.util
import logging
import os

RUNTIME_VARIABLE = "SIMA_RUNTIME"
BACKENDS = ("onnxruntime", "numpy")

logger = logging.getLogger(__name__)


def chosen_backend(backend: str | None = None, default: str = "onnxruntime") -> str:
    """"onnxruntime" or "numpy": `backend` if given, else $SIMA_RUNTIME, else `default`
    (falling back to numpy with a warning if the default is onnxruntime and it cannot be imported)."""
    choice = backend if backend is not None else os.environ.get(RUNTIME_VARIABLE, "").strip().lower() or None
    if choice is not None and choice not in BACKENDS:
        source = "backend" if backend is not None else f"${RUNTIME_VARIABLE}"
        raise ValueError(f"{source} must be one of {', '.join(BACKENDS)}, got {choice!r}")
    installed = importlib.util.find_spec("onnxruntime") is not None
    if choice is None:
        if default == "onnxruntime" and not installed:
            logger.warning("onnxruntime is not installed: execute runs on the NumPy interpreter (pip install onnxruntime)")
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
    the program emulated (`integer_emulation.fast_program`); bit-exact: onnxruntime running the
    ops whose ONNX form is proven exact, by default only where every qconv2d / qdense
    lowers (`runs_its_products`), else the NumPy interpreter."""
    if chosen_backend(backend, default="onnxruntime") == "numpy":
        return interpreter
    from runtime.onnx_backend.program import OnnxProgram

    if fast_mode:
        from runtime.onnx_backend.integer_emulation import fast_program

        return fast_program(interpreter, threads=threads)  # the faster of its int8-kernel and float forms
    from runtime.onnx_backend.exact_int16_form import EXACT_FORM

    program = OnnxProgram(interpreter, threads=threads, emulation=EXACT_FORM)
    chosen = backend is not None or os.environ.get(RUNTIME_VARIABLE, "").strip() != ""
    if not chosen and not program.runs_its_products():
        logger.debug("bit-exact execution runs the NumPy interpreter: %d op(s) would cut the onnxruntime graph (%s)",
                     len(program.numpy_ops()), ", ".join(program.numpy_ops()[:5]))
        return interpreter
    return program


__all__ = ["BACKENDS", "RUNTIME_VARIABLE", "chosen_backend", "executor_for"]
