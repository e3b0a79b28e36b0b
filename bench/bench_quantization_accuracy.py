"""Int8 / int16 accuracy on the real models, next to onnxruntime's `quantize_static`.

For each model of MODELS.md (`test/models.py`: cls, orientation, det, rec),
calibrate on one set of real inputs (seed 1) and evaluate on another (seed 2),
and print one table:

    ours int8        default_quantization (Hist-MSE calibration, per-channel int8 weights),
                     weights rounded to nearest (`with_weight_rounding(False)`)
    ours int8 minmax the same with MinMaxMethod (ORT's MinMax calibrator's counterpart)
    ours int16       int16_quantization (int16 activations; weights stay int8), nearest
    ours ... +wr     the same with GPTQ weight rounding (`with_weight_rounding`: the int8
                     weights fitted to the calibration inputs on the planner's scales)
    ours int8 +rr    int8 with range refinement (`with_range_refinement`: each activation
                     range re-chosen for its error downstream, `runtime/range_refinement.py`)
    ours int8 +comp  int8 with weights and biases fitted to compensate the int8 activations
                     (`with_activation_compensation`: the float layer's output through the
                     quantized prefix's inputs, then GPTQ-rounded)
    ort <method>     onnxruntime.quantization.quantize_static: QDQ, per-channel int8
                     weights, int8 asymmetric activations, after ORT's own
                     `quant_pre_process` (shapes fixed, BN folded, constants as initializers)
    int16 - int8     ours int16 SQNR minus ours int8 SQNR (dB), without / with weight rounding

and, per model, the wall seconds each configuration took to quantize
(calibration included; ORT's: `quantize_static` alone, after its one-off
pre-processing; ours on one BLAS thread, ORT's calibration on its default threads). For the classifiers, a second line per model measures
on --extra-evaluation more inputs (seed 3): the top-1 agreement of the outputs,
that of the logits (the softmax's input, dequantized: the int8 output
probabilities tie near 50/50 where the logits do not), and the logit SQNR;
and a third line, `truth`, on the evaluation and extra inputs together: each
configuration's top-1 against the inputs' true class (`test/models.py`'s
`true_classes`: cls upside down or not, orientation the document's turn), fp32's
at the end, and its top-1 agreement with fp32 on the inputs where fp32 decides
(log-probability margin between its two best classes >= 0.5; the others are
near-ties that any small error can turn).

Each cell: SQNR in dB of the quantized model's outputs against the same
framework's fp32 outputs, SQNR = 10 log10(sum ref^2 / sum (ref - q)^2) over
every element of every evaluation output (the first model output), and the
top-1 agreement with fp32 in %: the argmax over the last axis, per sample for
the classifiers (cls, orientation), per time step for rec (its 40 character
positions), none for det (a probability map).

Ours runs bit-exact (the MLA's integer arithmetic) unless --fast-mode.
Nothing is downloaded: the models and the images come from installed packages.

    python bench/bench_quantization_accuracy.py [--only cls,orientation,det,rec]
        [--calibration 32] [--evaluation 100] [--det-calibration 8] [--det-evaluation 8]
        [--rec-calibration 16] [--rec-evaluation 32] [--ort-methods MinMax,Percentile] [--fast-mode]
        [--no-weight-rounding] [--no-compensation] [--no-range-refinement] [--extra-evaluation 300]

ORT's Entropy calibrator with its defaults (128 histogram bins, 128 quantized
bins) keeps the whole range, so it equals MinMax; Percentile (99.999, symmetric)
is the other ORT method shown by default.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

CLASSIFIERS = ("cls", "orientation")
DECIDED_MARGIN = 0.5  # fp32 log-probability margin above which an input counts as decided


def top1_margin(outputs: Sequence[np.ndarray]) -> np.ndarray:
    """Per sample, the log-probability margin between fp32's two best classes."""
    logs = np.log(np.maximum(np.concatenate([np.reshape(o, (1, -1)) for o in outputs]).astype(np.float64), 1e-30))
    best = np.sort(logs, axis=1)
    return best[:, -1] - best[:, -2]


def truth_cell(outputs: Sequence[np.ndarray], truth: np.ndarray, reference: Sequence[np.ndarray]) -> str:
    """Top-1 % against the true classes / agreement % with fp32 where fp32 decides."""
    predicted = np.array([int(np.argmax(o)) for o in outputs])
    expected = np.array([int(np.argmax(r)) for r in reference])
    decided = top1_margin(reference) >= DECIDED_MARGIN
    return f"{100 * np.mean(predicted == truth):5.1f}/{100 * np.mean((predicted == expected)[decided]):5.1f}"


def sqnr_db(reference: Sequence[np.ndarray], approximation: Sequence[np.ndarray]) -> float:
    """10 log10(signal / noise) over every element of every output pair."""
    signal = sum(float(np.sum(np.square(r, dtype=np.float64))) for r in reference)
    noise = sum(float(np.sum(np.square(r.astype(np.float64) - a))) for r, a in zip(reference, approximation))
    return float("inf") if noise == 0 else 10 * float(np.log10(signal / noise))


def top1_agreement(reference: Sequence[np.ndarray], approximation: Sequence[np.ndarray]) -> float:
    """Fraction of argmaxes over the last axis (per sample, per position) that agree."""
    agree = [np.argmax(r, axis=-1) == np.argmax(a, axis=-1) for r, a in zip(reference, approximation)]
    return float(np.mean(np.concatenate([a.ravel() for a in agree])))


def _opset(model) -> int:
    return max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def ort_quantized_session(model_path: Path, spec, calibration_nchw: list[np.ndarray], method: str, workdir: Path):
    """An onnxruntime session of `quantize_static`'s QDQ model (per-channel int8
    weights, int8 asymmetric activations, calibrated by `method`), the fp32
    session of the preprocessed model it was quantized from, and the wall seconds
    `quantize_static` took (its calibration included, the one-off pre-processing not)."""
    import onnx
    import onnx.version_converter
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fixed = workdir / "fixed.onnx"
    if not fixed.exists():
        model = onnx.load(str(model_path))
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for dim, size in zip(dims, spec.shape):
            dim.Clear()
            dim.dim_value = size
        # per-channel QDQ needs DequantizeLinear's axis (opset 13); the PP-OCR models are opset 10/11
        if _opset(model) < 13:
            model = onnx.version_converter.convert_version(model, 13)
        onnx.save(model, str(fixed))
        quant_pre_process(str(fixed), str(workdir / "prepared.onnx"), skip_symbolic_shape=True)
    prepared = workdir / "prepared.onnx"

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.samples = iter({spec.input_name: x} for x in calibration_nchw)

        def get_next(self):
            return next(self.samples, None)

    quantized = workdir / f"quantized_{method}.onnx"
    start = time.perf_counter()
    quantize_static(
        str(prepared),
        str(quantized),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=getattr(CalibrationMethod, method),
    )
    seconds = time.perf_counter() - start
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    make = lambda path: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])  # noqa: E731
    return make(quantized), make(prepared), seconds


def logits(module, samples: Sequence[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per sample, the first output and the input of the last softmax (the logits),
    dequantized if it is quantized; bit-exact for a quantized module."""
    from runtime.error_analysis import tapped_interpreter
    from runtime.interpreter import find_function
    from sima_dialect.types import QuantizedType

    softmax = [op for op in find_function(module).walk() if op.name in ("sima.softmax", "sima.qsoftmax")][-1]
    tap = softmax.operands[0]
    interpreter, offset = tapped_interpreter(module, [tap])
    element = tap.type.element_type

    def real(x: np.ndarray) -> np.ndarray:
        if isinstance(element, QuantizedType):
            return (x.astype(np.float64) - element.zero_point_value) * element.scale_value
        return np.asarray(x, dtype=np.float64)

    return [(produced[0], real(produced[offset])) for produced in map(interpreter.run, samples)]


def measure(reference: Sequence[np.ndarray], quantized: Sequence[np.ndarray], classify: bool) -> dict[str, float | None]:
    return {"sqnr": sqnr_db(reference, quantized), "top1": top1_agreement(reference, quantized) if classify else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation,det,rec", help="comma-separated model names")
    parser.add_argument("--calibration", type=int, default=32, help="calibration samples for cls / orientation (seed 1)")
    parser.add_argument("--evaluation", type=int, default=100, help="evaluation samples for cls / orientation (seed 2)")
    parser.add_argument("--det-calibration", type=int, default=8)
    parser.add_argument("--det-evaluation", type=int, default=8)
    parser.add_argument("--rec-calibration", type=int, default=16)
    parser.add_argument("--rec-evaluation", type=int, default=32)
    parser.add_argument("--ort-methods", default="MinMax,Percentile", help="ORT calibration methods (MinMax, Percentile, Entropy)")
    parser.add_argument("--fast-mode", action="store_true", help="run our quantized models in fast mode (float32 GEMMs)")
    parser.add_argument("--no-weight-rounding", action="store_true", help="leave out the +wr (GPTQ weight rounding) columns")
    parser.add_argument("--no-range-refinement", action="store_true", help="leave out the +rr (range refinement) column")
    parser.add_argument("--no-compensation", action="store_true", help="leave out the +comp (activation compensation) column")
    parser.add_argument("--extra-evaluation", type=int, default=300, help="more classifier inputs (seed 3) for top-1 and logits; 0: none")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.defines import MinMaxMethod, default_quantization, int16_quantization
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs, true_classes

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's notes on nodes left in float
    nearest8, nearest16 = default_quantization.with_weight_rounding(False), int16_quantization.with_weight_rounding(False)
    ours = {
        "ours int8": nearest8,
        "ours int8 minmax": nearest8.with_calibration(MinMaxMethod()),
        "ours int16": nearest16,
    }
    if not args.no_weight_rounding:
        ours.update({
            "ours int8 +wr": nearest8.with_weight_rounding(True),
            "ours int16 +wr": nearest16.with_weight_rounding(True),
        })
    if not args.no_range_refinement:
        ours["ours int8 +rr"] = nearest8.with_range_refinement(True)
    if not args.no_compensation:
        ours["ours int8 +comp"] = nearest8.with_activation_compensation()
    ort_methods = [m for m in args.ort_methods.split(",") if m]
    sizes = {"det": (args.det_calibration, args.det_evaluation), "rec": (args.rec_calibration, args.rec_evaluation)}
    columns = [*ours, *(f"ort {m.lower()}" for m in ort_methods)]

    print("SQNR vs fp32 (dB) / top-1 agreement (%); calibration seed 1, evaluation seed 2, "
          f"ours {'fast mode' if args.fast_mode else 'bit-exact'}")
    gaps = [("ours int16", "ours int8"), *([] if args.no_weight_rounding else [("ours int16 +wr", "ours int8 +wr")])]
    print(f"{'model':<12} {'cal/eval':>8} " + " ".join(f"{c:>18}" for c in columns) + " " + " ".join(
        f"{'int16-int8' + (' +wr' if '+wr' in high else ''):>15}" for high, _ in gaps))
    for name in [n for n in args.only.split(",") if n]:
        spec = REAL_MODELS[name]
        if spec.path is None:
            print(f"{name:<12} {spec.package} is not installed (pip install -e '.[test]')")
            continue
        calibration_count, evaluation_count = sizes.get(name, (args.calibration, args.evaluation))
        calibration_nchw = real_inputs(name, calibration_count, seed=1)
        evaluation_nchw = real_inputs(name, evaluation_count, seed=2)
        nhwc = lambda images: [{spec.input_name: np.ascontiguousarray(x.transpose(0, 2, 3, 1))} for x in images]  # noqa: E731
        classify = name in CLASSIFIERS or name == "rec"
        net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}))
        reference = [net.execute(sample)[0] for sample in nhwc(evaluation_nchw)]
        results = {}
        quantize_seconds = {}
        extra = {}
        extra_nchw = real_inputs(name, args.extra_evaluation, seed=3) if name in CLASSIFIERS else []
        extra_reference = logits(net.module, nhwc(extra_nchw)) if extra_nchw else None
        # the true classes' inputs: the evaluation's, and the extra ones where every column has them
        pooled = name in CLASSIFIERS
        with_extra = pooled and extra_reference is not None and not args.fast_mode
        truth = np.concatenate([true_classes(name, evaluation_count, seed=2),
                                *([true_classes(name, len(extra_nchw), seed=3)] if with_extra else [])]) if pooled else None
        truth_reference = [*reference, *([o for o, _ in extra_reference] if with_extra else [])]
        truth_outputs: dict[str, list[np.ndarray]] = {}
        for label, config in ours.items():
            start = time.perf_counter()
            model = net.quantize(nhwc(calibration_nchw), config)
            quantize_seconds[label] = time.perf_counter() - start
            evaluated = [model.execute(s, fast_mode=args.fast_mode)[0] for s in nhwc(evaluation_nchw)]
            results[label] = measure(reference, evaluated, classify)
            truth_outputs[label] = evaluated
            if extra_reference is not None and not args.fast_mode:
                outputs, logit_values = zip(*logits(model.module, nhwc(extra_nchw)))
                truth_outputs[label] = [*evaluated, *outputs]
                reference_outputs, reference_logits = zip(*extra_reference)
                extra[label] = (
                    f"{100 * top1_agreement(reference_outputs, outputs):5.1f}/{100 * top1_agreement(reference_logits, logit_values):5.1f}"
                    f"/{sqnr_db(reference_logits, logit_values):5.2f}"
                )
        with tempfile.TemporaryDirectory() as workdir:
            for method in ort_methods:
                quantized, fp32, quantize_seconds[f"ort {method.lower()}"] = ort_quantized_session(
                    spec.path, spec, calibration_nchw, method, Path(workdir))
                feed = lambda session, x: session.run(None, {spec.input_name: x})[0]  # noqa: E731
                evaluated = [feed(quantized, x) for x in evaluation_nchw]
                results[f"ort {method.lower()}"] = measure([feed(fp32, x) for x in evaluation_nchw], evaluated, classify)
                if pooled:
                    truth_outputs[f"ort {method.lower()}"] = [*evaluated, *(feed(quantized, x) for x in (extra_nchw if with_extra else []))]

        def cell(result: dict) -> str:
            top1 = "" if result["top1"] is None else f" / {100 * result['top1']:5.1f}"
            return f"{result['sqnr']:6.2f}{top1}"

        print(f"{name:<12} {f'{calibration_count}/{evaluation_count}':>8} "
              + " ".join(f"{cell(results[c]):>18}" for c in columns) + " "
              + " ".join(f"{results[high]['sqnr'] - results[low]['sqnr']:>+15.2f}" for high, low in gaps), flush=True)
        print(f"{'':<12} {'quantize':>8} " + " ".join(f"{f'{quantize_seconds[c]:.1f} s':>18}" for c in columns), flush=True)
        if extra:
            print(f"{'':<12} {f'+{len(extra_nchw)}':>8} " + " ".join(f"{extra.get(c, ''):>18}" for c in ours), flush=True)
        if pooled:
            fp32_top1 = 100 * np.mean(np.array([int(np.argmax(r)) for r in truth_reference]) == truth)
            print(f"{'':<12} {f'truth {len(truth)}':>8} " + " ".join(f"{truth_cell(truth_outputs[c], truth, truth_reference):>18}" for c in columns)
                  + f"   fp32 {fp32_top1:5.1f}", flush=True)
    print("top-1: per sample for cls / orientation, per character position for rec; det has none")
    if args.extra_evaluation and not args.fast_mode:
        print(f"+{args.extra_evaluation} (classifiers, seed 3, bit-exact): top-1 % of the outputs / top-1 % of the logits / logit SQNR dB")
    print(f"truth (classifiers): top-1 % against the true class / top-1 agreement % with fp32 where fp32's margin >= {DECIDED_MARGIN}; fp32's own top-1 at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
