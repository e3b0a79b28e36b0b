"""fast mode's int8 form in variants (and its float form), on one quantized model, timed interleaved next to onnxruntime fp32.

Every variant is `runtime.onnx_backend.integer_emulation`'s program (what
`Model.execute(fast_mode=True)` runs for all-int8 programs) with one choice changed, built
from one quantized model (all-int8; min / max calibration by default: latency does not
depend on the ranges' method), so that their ratios compare under the same load:

- int8-form: the int8 form as it is;
- unmerged: channel-grouped blocks op by op (with --channel-groups: the form before fast
  mode merged them, `merged_groups.py`);
- exact-tables: every sima.lut read as the bit-exact sessions read their tables (Cast to
  int32, GatherElements on the flat tensor, `exact_tables.read_table`) on the bytes,
  instead of a hard_swish table's DequantizeLinear, HardSigmoid, Mul, QuantizeLinear;
- no-tables: the table's input bytes passed on unchanged (wrong values: the lower bound,
  what the rest of the program costs);
- qlinear-convs: every int8 conv on QLinearConv (`integer_emulation.runs_on_floats` off: the
  form before the stem and the depthwise convs over a few rows ran as float32 Convs; same bytes);
- mul-form: every qmul as DequantizeLinear, Mul, Mul, QuantizeLinear (`integer_emulation.
  _scaled_by_one_value` off: the form before a qmul by one value became one scaled
  DequantizeLinear; same bytes);
- plain-tables: every recognized table's float32 pipeline as emitted, unchecked (the form before
  `table_constants.make_exact` nudged its constants or read the table where float32 missed a byte);
- op-chains: every chain of elementwise ops op by op (`IntegerEmulation.fuses_chains` off: the form
  before PP-LCNet's hard_swish -> qmul -> qadd became one table read; same bytes);
- float32-quantize: the input quantize as one float32 QuantizeLinear (the form before
  `rounded_quantize.py` rounded the exact quotient as bit-exact does);
- emulated-transposes: each qconv2d_transpose as the float emulation's ConvTranspose (the form
  before `integer_emulation.lower_qconv2d_transpose` floored it exactly on floats);
- float-form: the float emulation (`fused_emulation.FusedProgram`, SIMA_FAST_FORM=float), not
  the int8 form with a change. `fast_program` runs it for programs mostly in channel-grouped
  blocks (`integer_emulation.FLOAT_FORM_GROUPED_SHARE`); printed as "fast mode runs".
- compiled (--compiled, needs numba importable; bench only, not a dependency): no-tables
  plus the time a compiled byte lookup (numba, one loop) takes on every table's tensor: an
  estimate of a table kernel inside the session (a custom op), with no per-node cost;
- between-sessions (--compiled): measured: every sima.lut run by that compiled lookup as a
  NumPy step between onnxruntime sessions (the program cut at each table: a session boundary,
  and the int8 form's conversions between int8 and its bytes, per table).

Prints per variant the CPU-time ratio to onnxruntime fp32 (medians of interleaved rounds,
one thread each) and its output SQNR against bit-exact on the timed input (dB; not for
no-tables, whose values are wrong).

--unrounded-tables N measures values only (no timing), on N evaluation inputs (`nhwc_samples(name,
N, seed=2)`, the model calibrated on 32, seed 1): fast-vs-exact output SQNR and top-1 agreement
of the int8 form, of qlinear-convs (checked byte for byte equal to it), and of the int8 form with
the conv's rounding before each hard_swish table skipped (`skip_table_roundings`: the table reads
the conv's real-valued output and rounds once; the relaxed 8-bit form this would allow).
Measured (default_quantization, 100 inputs, 2026-11-24): orientation 52.0 dB / 100 % ->
18.4 dB / 88 % (28 roundings skipped), cls 33.9 / 99 -> 21.7 / 94 (18), det 26.7 -> 15.2 dB,
rec 28.2 -> 16.1 dB (top-1 is meaningless for det / rec): far below fast mode's bar (30 dB,
99 %), so no relaxed 8-bit form was kept.

--table-constants N measures values only too (same model and inputs as --unrounded-tables): how
the int8 form's recognized tables lowered (`table_constants.make_exact`: as-is / nudged /
fallback), and fast-vs-exact SQNR, top-1 agreement and outputs with the same integers as bit-exact
(within half the output's step: the final dequantize differs in the last float32 bit) with the
check and without it (plain-tables). Measured (default_quantization, 100 inputs, 2026-11-24,
plain -> checked): cls 2 of 27 tables nudged, 33.9 -> 144.3 dB, top-1 99 -> 100 %, 94 -> 100 / 100
outputs the same integers; det 8 of 34 nudged, 1 read, 26.7 -> 27.8 dB (0 / 100 the same: its
input quantize and qconv2d_transpose, float32 emulations, differ); orientation (30) and rec (37)
all exact as emitted, 52.0 dB (94 / 100 the same: the input quantize) and 28.2 dB (0 / 100: the
input quantize, qlayer_norm, qsoftmax, qmatmul, qadd, qavg_pool). Timed in the same run as
int8-form (five interleaved rounds, load ~3): plain-tables cls 1.52x / 1.55x, orientation 1.39x /
1.41x (identical graphs: noise), det 1.29x / 1.30x, rec 1.00x / 1.00x. Again after session 10's changes (det's transposed
convs floored exactly, the input quantize rounded as bit-exact, the chains read as tables; same
command, 2026-11-24): det 158.1 dB, 100 / 100 outputs the same integers (27.8 dB, 0 / 100 before),
orientation 66.8 dB, 99 / 100 (52.0, 94 / 100), cls 144.3 dB, 100 / 100 and rec 28.2 dB, 0 / 100
unchanged (rec: its qlayer_norm, qsoftmax, qmatmul, qadd and qavg_pool all have to be exact at once:
146.4 dB with the five kinds run by the NumPy kernels, 40.0 dB with four of them (qadd emulated),
each alone within 0.5 dB of 29.8; fast vs exact on 12 inputs).

    python bench/bench_fast_forms.py [--only cls,orientation] [--channel-groups] [--runs 20] [--rounds 5] [--compiled]
        [--calibration default|minmax] [--unrounded-tables N] [--table-constants N]

Measured (2026-11-24, session 10, five interleaved rounds, min / max calibration, load 1.8-3.0; det /
orientation / rec / cls): int8-form 1.09x / 1.41x / 0.86x / 1.70x, op-chains 1.19x / 1.40x / 1.01x /
1.66x (same bytes), float32-quantize 1.05x / 1.39x / 0.85x / 1.61x (det 25.4 dB from bit-exact on the
timed input, where the int8 form gives 160.0 dB), emulated-transposes 1.06x / - / - / - (det 34.5 dB),
float-form 1.38x / 1.71x / 1.22x / 1.66x; cls and orientation again with nine rounds: int8-form 1.70x
/ 1.43x, float32-quantize 1.66x / 1.36x (the exact input quantize's cost: five passes, two of them in
float64, where QuantizeLinear is one), float-form 1.63x / 1.74x. cls moves +-0.05x between graphs
that are identical (its fp32 run is ~1 ms).

numba is not a dependency: for --compiled install it anywhere importable (e.g.
`pip install --target DIR numba llvmlite` and PYTHONPATH=DIR).

Measured (2026-11-24, session 9, load ~2, five interleaved rounds, min / max calibration; cls /
orientation / det / rec): int8-form 1.51x / 1.36x / 1.21x / 1.00x, qlinear-convs 1.64x / 1.38x /
1.25x / 0.99x, mul-form 1.50x / 1.35x / 1.27x / 1.03x, exact-tables 1.68x / 1.54x / 1.24x / 1.08x,
no-tables 1.12x / 0.87x / 1.04x / 0.82x, float-form 1.53x / 1.68x / 1.34x / 1.23x. (An earlier run,
before mul-form: int8-form 1.50x / 1.41x / 1.29x / 1.02x, qlinear-convs 1.65x / 1.44x / 1.31x / 1.00x.)
Measured before (2026-11-24, load 8-16 on 2 cores, so +-10%; cls / orientation): int8-form 1.84-1.86x /
1.47-1.50x, exact-tables 1.88-1.98x / 1.60-1.63x, no-tables 1.27-1.35x / 0.92-0.93x, compiled
estimate 1.43-1.49x / 1.11-1.12x (lookups 0.18 / 0.99 ms), between-sessions 3.76x / 2.27x. On one
200k-byte tensor alone (one thread): DequantizeLinear, HardSigmoid, Mul, QuantizeLinear 172 us;
Cast + GatherElements 251 us (int64 indices 259 us; a float32 table 190 us); Cast + Gather 1.8 ms;
ai.onnx.ml ArrayFeatureExtractor 416 us; NumPy take 180 us; the numba loop 77 us; an
onnxruntime-extensions Python custom op calling it 15 ms (55 us on 64 values).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import sys
from pathlib import Path

from cpu_timing import cpu_median, limit_blas_threads  # bench/: the script's folder is on sys.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation", help="comma-separated model names")
    parser.add_argument("--channel-groups", action="store_true", help="quantize with_channel_groups() (adds the unmerged variant)")
    parser.add_argument("--calibration", choices=("default", "minmax"), default="minmax", help="the ranges' method")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per round and variant")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians printed)")
    parser.add_argument("--compiled", action="store_true", help="also the compiled-lookup estimate (numba)")
    parser.add_argument("--unrounded-tables", type=int, default=0, metavar="N",
                        help="instead: fast-vs-exact SQNR and top-1 agreement on N evaluation inputs with the conv's rounding before each hard_swish skipped")
    parser.add_argument("--table-constants", type=int, default=0, metavar="N",
                        help="instead: how the tables lowered (as-is / nudged / fallback) and fast-vs-exact SQNR and top-1 "
                             "agreement on N evaluation inputs with and without the exact-table check (table_constants.py)")
    args = parser.parse_args()
    limit_blas_threads(1)

    import numpy as np
    import onnxruntime

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.defines import MinMaxMethod, default_quantization
    from models import REAL_MODELS, load_real_net, nhwc_samples, real_inputs
    from runtime.integer_arithmetic import lookup
    from runtime.kernels.base import static_shape
    from runtime.onnx_backend import emulate, integer_emulation, table_constants
    from runtime.onnx_backend.emulate import emulate_qconv2d_transpose
    from runtime.onnx_backend.exact_tables import read_table
    from runtime.onnx_backend.fused_emulation import FusedProgram
    from runtime.onnx_backend.integer_emulation import fast_program
    from runtime.onnx_backend.graph import INT32
    from runtime.onnx_backend.program import OnnxProgram
    from sima_dialect import quantized_ops as q

    logging.getLogger().setLevel(logging.ERROR)

    def lut_exact(op, f, operands):
        """The table by byte b = q + 128, as bytes, read with GatherElements."""
        table = operands.required_constant(1, "table")
        by_byte = (lookup(np.arange(-128, 128).astype(np.int8), table).astype(np.int16) + 128).astype(np.uint8)
        return [read_table(f, by_byte, f.cast(operands.name(0), INT32), tuple(static_shape(op.output)))]

    def lut_none(op, f, operands):
        return [f.node("Identity", [operands.name(0)])]

    @contextlib.contextmanager
    def patched(target, name, value):
        original = getattr(target, name)
        setattr(target, name, value)
        try:
            yield
        finally:
            setattr(target, name, original)

    def float32_quantize():
        """Both forms' input quantize as QuantizeLinear (the int8 form falls back to the float emulation's)."""
        stack = contextlib.ExitStack()
        for module in (integer_emulation, emulate):
            stack.enter_context(patched(module, "quantized_bytes", lambda *args: None))
        return stack

    variants = {
        "int8-form": contextlib.nullcontext,
        "exact-tables": lambda: patched(integer_emulation, "INTEGER_LOWERINGS", {**integer_emulation.INTEGER_LOWERINGS, q.LutOp: lut_exact}),
        "no-tables": lambda: patched(integer_emulation, "INTEGER_LOWERINGS", {**integer_emulation.INTEGER_LOWERINGS, q.LutOp: lut_none}),
        "qlinear-convs": lambda: patched(integer_emulation, "runs_on_floats", lambda op, w: False),
        "mul-form": lambda: patched(integer_emulation, "_scaled_by_one_value", lambda *args: None),
        "plain-tables": lambda: patched(table_constants, "make_exact", lambda f, first_node, first_initializer, source, result, *rest: result),
        "op-chains": lambda: patched(integer_emulation.IntegerEmulation, "fuses_chains", False),
        "float32-quantize": float32_quantize,
        "emulated-transposes": lambda: patched(integer_emulation, "INTEGER_LOWERINGS", {
            **integer_emulation.INTEGER_LOWERINGS, q.QConv2DTransposeOp: integer_emulation._between_bytes(emulate_qconv2d_transpose)}),
    }
    if args.channel_groups:
        variants["unmerged"] = lambda: patched(integer_emulation.IntegerEmulation, "merges_channel_groups", False)
    compiled_lookup = None
    if args.compiled:
        import numba

        from runtime.fast_kernels import FAST_KERNELS
        from runtime.interpreter import Interpreter
        from runtime.onnx_backend.exact_tables import INT8, lut_table
        from runtime.onnx_backend.lower import NotLowerable

        @numba.njit(boundscheck=False)
        def byte_lookup(x, table, out):
            for i in range(x.size):
                out[i] = table[x[i]]

        compiled_lookup = byte_lookup

        def build_compiled_lut(op):
            made = {}  # the op's table by bit pattern (entry i: the value whose bit pattern is i), made once

            def run(x, table):
                if id(table) not in made:
                    made[id(table)] = lut_table(INT8, table)
                by_pattern = made[id(table)]
                out = np.empty(x.shape, np.int8)
                compiled_lookup(x.reshape(-1).view(np.uint8), by_pattern.view(np.uint8), out.reshape(-1).view(np.uint8))
                return out

            return run

        def lut_refused(op, f, operands):
            raise NotLowerable("run by the compiled lookup between sessions (bench)")

    for name in [n for n in args.only.split(",") if n]:
        spec = REAL_MODELS[name]
        config = default_quantization if args.calibration == "default" else default_quantization.with_calibration(MinMaxMethod())
        if args.channel_groups:
            config = config.with_channel_groups()
        if args.unrounded_tables or args.table_constants:
            model = load_real_net(name).quantize(nhwc_samples(name, 32, seed=1), config)  # the accuracy benches' calibration
            if args.table_constants:
                print_table_constants(name, model, nhwc_samples(name, args.table_constants, seed=2))
            else:
                print_unrounded_tables(name, model, nhwc_samples(name, args.unrounded_tables, seed=2))
            continue
        model = load_real_net(name).quantize(nhwc_samples(name, 4, seed=7), config)
        image = real_inputs(name, 1, seed=11)[0]
        x = np.ascontiguousarray(image.transpose(0, 2, 3, 1))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        session = onnxruntime.InferenceSession(str(spec.path), options, providers=["CPUExecutionProvider"])
        programs = {}
        for variant, context in variants.items():
            with context():  # INTEGER_LOWERINGS is read through the emulation's property at build time
                programs[variant] = OnnxProgram(model._interpreter(True), threads=1, emulation=integer_emulation.INTEGER_EMULATION)
            assert programs[variant].numpy_ops() == [], (variant, programs[variant].fallbacks)
        programs["float-form"] = FusedProgram(model._interpreter(True), threads=1)
        if compiled_lookup is not None:
            with patched(integer_emulation, "INTEGER_LOWERINGS", {**integer_emulation.INTEGER_LOWERINGS, q.LutOp: lut_refused}):
                interpreter = Interpreter(model.module, kernels={**FAST_KERNELS, q.LutOp: build_compiled_lut})
                programs["between-sessions"] = OnnxProgram(interpreter, threads=1, emulation=integer_emulation.INTEGER_EMULATION)
        exact = model.execute({spec.input_name: x})[0].astype(np.float64)
        luts = [op for op in model.module.walk() if isinstance(op, q.LutOp)]
        buffers = []
        if compiled_lookup is not None:
            for op in luts:
                data = np.random.default_rng(0).integers(0, 256, int(np.prod(static_shape(op.output)))).astype(np.uint8)
                buffers.append((data, np.arange(256, dtype=np.uint8)[::-1].copy(), np.empty_like(data)))
            compiled_lookup(*buffers[0])
        times: dict[str, list[float]] = {key: [] for key in ("ort", *programs, *(["lookups"] if buffers else []))}
        for _ in range(args.rounds):
            times["ort"].append(cpu_median(lambda: session.run(None, {spec.input_name: image}), args.runs))
            for variant, program in programs.items():
                times[variant].append(cpu_median(lambda program=program: program.run([x]), args.runs))
            if buffers:
                times["lookups"].append(cpu_median(lambda: [compiled_lookup(*b) for b in buffers], args.runs))
        ort = statistics.median(times["ort"])
        cells = []
        for variant, program in programs.items():
            cell = f"{variant} {statistics.median(times[variant]) / ort:.2f}x"
            if variant != "no-tables":
                fast = model._dequantized(0, program.run([x])[0]).astype(np.float64)
                noise = float(((exact - fast) ** 2).sum())
                cell += " (inf dB)" if noise == 0 else f" ({10 * np.log10(float((exact**2).sum()) / noise):.1f} dB)"
            cells.append(cell)
        if buffers:
            lookups = statistics.median(times["lookups"])
            cells.append(f"compiled {(statistics.median(times['no-tables']) + lookups) / ort:.2f}x ({1e3 * lookups:.2f} ms of lookups)")
        label = name + ("+g" if args.channel_groups else "")
        runs = "float-form" if isinstance(fast_program(model._interpreter(True), threads=1), FusedProgram) else "int8-form"
        print(f"{label:<14} ort {1e3 * ort:.2f} ms, {len(luts)} tables, fast mode runs {runs}: " + ", ".join(cells), flush=True)
    return 0


def skip_table_roundings(model) -> int:
    """Rewrite an int8-form segment model (before onnxruntime's fusions) so that each hard_swish
    table reads its conv's real-valued output: the conv's QuantizeLinear (scale 1, zero point o)
    and the table's DequantizeLinear (step s, zero point z) become s * clip(P + o - z, -z, 255 - z)
    (the same saturation, no rounding), and the table rounds once, after HardSwish. Returns how
    many pairs it rewrote. A measurement of values only: onnxruntime then runs those Convs in
    float with their weights dequantized on every run (its time is not the form's)."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    constants = {tensor.name: tensor for tensor in graph.initializer}

    def scalar(name):
        return numpy_helper.to_array(constants[name]).reshape(-1)[0] if name in constants else None

    producer = {output: node for node in graph.node for output in node.output}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    rewritten = 0
    for swish in [node for node in graph.node if node.op_type == "HardSwish"]:
        read = producer.get(swish.input[0])
        if read is None or read.op_type != "DequantizeLinear" or readers[read.output[0]] != 1:
            continue
        rounding = producer.get(read.input[0])
        while rounding is not None and rounding.op_type == "Transpose" and readers[rounding.output[0]] == 1:
            rounding = producer.get(rounding.input[0])
        if rounding is None or rounding.op_type != "QuantizeLinear" or readers[rounding.output[0]] != 1 or scalar(rounding.input[1]) != 1.0:
            continue
        if producer.get(rounding.input[0]) is None or producer[rounding.input[0]].op_type != "Conv":
            continue
        offset, zero, step = int(scalar(rounding.input[2])), int(scalar(read.input[2])), float(scalar(read.input[1]))
        stem = rounding.output[0]
        for index, value in enumerate((offset - zero, -zero, 255 - zero, step)):
            graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), f"{stem}_unrounded_{index}"))
        replacement = [
            helper.make_node("Add", [rounding.input[0], f"{stem}_unrounded_0"], [f"{stem}_shifted"]),
            helper.make_node("Clip", [f"{stem}_shifted", f"{stem}_unrounded_1", f"{stem}_unrounded_2"], [f"{stem}_clipped"]),
            helper.make_node("Mul", [f"{stem}_clipped", f"{stem}_unrounded_3"], [stem]),
        ]
        position = list(graph.node).index(rounding)
        graph.node.remove(rounding)
        for offset_index, node in enumerate(replacement):
            graph.node.insert(position + offset_index, node)
        position = list(graph.node).index(read)
        graph.node.remove(read)
        graph.node.insert(position, helper.make_node("Identity", [read.input[0]], [read.output[0]]))
        rewritten += 1
    return rewritten


def print_unrounded_tables(name: str, model, samples) -> None:
    """fast-vs-exact output SQNR and top-1 agreement of the int8 form as it is and with the
    roundings before hard_swish skipped (`skip_table_roundings`), on `samples`."""
    from unittest import mock

    import numpy as np

    from runtime.onnx_backend import integer_emulation
    from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION
    from runtime.onnx_backend.program import OnnxProgram

    build_session = OnnxProgram._session
    rewritten = []

    def unrounded_session(self, segment_model):
        rewritten.append(skip_table_roundings(segment_model))
        return build_session(self, segment_model)

    exact = [model.execute(sample)[0].astype(np.float64) for sample in samples]
    programs = {"int8-form": OnnxProgram(model._interpreter(True), threads=1, emulation=INTEGER_EMULATION)}
    # every conv on QLinearConv, rounded by its QuantizeLinear: the roundings the rewrite finds
    with mock.patch.object(integer_emulation, "runs_on_floats", lambda op, w: False):
        programs["qlinear-convs"] = OnnxProgram(model._interpreter(True), threads=1, emulation=INTEGER_EMULATION)
        with mock.patch.object(OnnxProgram, "_session", unrounded_session):
            programs["unrounded-tables"] = OnnxProgram(model._interpreter(True), threads=1, emulation=INTEGER_EMULATION)
    cells = []
    outputs = {}
    for variant, program in programs.items():
        outputs[variant] = [program.run(sample)[0] for sample in samples]
        fast = [model._dequantized(0, output).astype(np.float64) for output in outputs[variant]]
        noise = sum(float(((e - f) ** 2).sum()) for e, f in zip(exact, fast))
        sqnr = float("inf") if noise == 0 else 10 * np.log10(sum(float((e**2).sum()) for e in exact) / noise)
        agreement = 100 * np.mean([np.argmax(e) == np.argmax(f) for e, f in zip(exact, fast)])
        cells.append(f"{variant} {sqnr:.1f} dB, top-1 agreement {agreement:.0f}%")
    same = all(np.array_equal(a, b) for a, b in zip(outputs["int8-form"], outputs["qlinear-convs"]))
    print(f"{name:<14} {len(samples)} inputs, {sum(rewritten)} conv -> hard_swish roundings skipped: " + ", ".join(cells)
          + f"; int8-form = qlinear-convs byte for byte: {same}", flush=True)


def print_table_constants(name: str, model, samples) -> None:
    """The int8 form's tables (`table_constants.make_exact`: as-is / nudged / fallback) and its
    fast-vs-exact output SQNR, top-1 agreement and byte-identical outputs on `samples`, with the
    check and without it (each recognized table's float32 pipeline as emitted)."""
    from unittest import mock

    import numpy as np

    from runtime.integer_kernels.boundary import quantized_element
    from runtime.onnx_backend import table_constants
    from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION
    from runtime.onnx_backend.program import OnnxProgram
    from sima_dialect import quantized_ops as q

    exact = [model.execute(sample)[0] for sample in samples]
    # the output's step (its final dequantize's input): outputs within half a step have the same integers
    returned = next(op for op in model.module.walk() if op.name == "func.return").operands[0].owner
    step = quantized_element(returned.input).scale_value if isinstance(returned, q.DequantizeOp) else 0.0
    unchecked = lambda f, first_node, first_initializer, source, result, *rest: result  # noqa: E731
    with mock.patch.object(table_constants, "make_exact", unchecked):
        programs = {"plain-tables": OnnxProgram(model._interpreter(True), threads=1, emulation=INTEGER_EMULATION)}
    before = table_constants.OUTCOMES.copy()
    programs["exact-tables"] = OnnxProgram(model._interpreter(True), threads=1, emulation=INTEGER_EMULATION)
    outcomes = dict(table_constants.OUTCOMES - before)
    cells = []
    for variant, program in programs.items():
        wide = [e.astype(np.float64) for e in exact]  # execute's outputs: dequantized
        fast = [model._dequantized(0, program.run(sample)[0]).astype(np.float64) for sample in samples]
        identical = sum(bool(np.all(np.abs(e - o) < step / 2)) if step else np.array_equal(e, o) for e, o in zip(wide, fast))
        noise = sum(float(((e - f) ** 2).sum()) for e, f in zip(wide, fast))
        sqnr = float("inf") if noise == 0 else 10 * np.log10(sum(float((e**2).sum()) for e in wide) / noise)
        agreement = 100 * np.mean([np.argmax(e) == np.argmax(f) for e, f in zip(wide, fast)])
        cells.append(f"{variant} {sqnr:.1f} dB, top-1 agreement {agreement:.0f}%, {identical}/{len(samples)} outputs with the same integers")
    print(f"{name:<14} {len(samples)} inputs, tables {outcomes}: " + ", ".join(cells), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
