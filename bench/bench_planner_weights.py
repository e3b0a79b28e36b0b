"""What the conv planner's integer weights cost, with every activation left in float.

For each real model (`test/models.py`), calibrate once with `default_quantization`
(or `--int16`; calibration seed 1), quantize twice from those statistics, and
keep, for every planned conv2d / dense, the weights the planner quantized
(`quantize_weight_tensor`'s fake-quantized weights of the accepted plan):

    never-clip  the planner without `clipped_weight_refinement` (every channel's
                folded scale puts max|Qw| in (63.5, 127]: up to a bit lost)
    refined     the planner as it is (one more bit where that lowers the weight error)

The float model is then run on the evaluation inputs (seed 2) with each GEMM's
weights replaced by those fake-quantized weights (activations float), and with

    plain       each GEMM's weights rounded per channel at scale 127 / max|w_c|
                (per-channel int8 when nothing forces the scale)

Printed: the weights-only output SQNR (dB) against the float model for plain,
never-clip and refined (their top-1 agreement on a second line), then the
quantized models' own output SQNR / top-1 (fast mode) for never-clip and refined.
With --sensitive N, also the N GEMMs whose refined weights ALONE (every other
weight float) lower the output SQNR most: where the model is most sensitive to
its weights' rounding.

    python bench/bench_planner_weights.py [--only cls,orientation,rec,det]
        [--calibration 32] [--evaluation 32] [--det-shape 160] [--int16] [--sensitive 0]

Measured (cls, 32 / 32): weights-only int8 refined 27.13 dB, int16's plan 23.16 dB,
although each layer's own weight SQNR in int16's plan is within 0.6 dB of int8's but
`conv2d_add_relu_2`'s (45.2 against 47.7 dB: its scales fold the int16 input / output
scales, another rounding of the same weights). `--sensitive 3`: that layer is the most
sensitive in both plans (alone: int8's 30.03 dB, int16's 35.98; next conv2d_add_relu_3
36.3 / 36.6). The layers' effects do not add up (a one-off swap, not in this bench): int16's plan for that layer with int8's
everywhere else gives 21.4 dB, below either whole plan. The output is a softmax over 2
classes and a few near-tie inputs carry most of its squared error, so on 32 inputs these
figures are rounding luck as much as weight quality: the int16 / int8 weights-only gap
is no sign of a worse int16 plan.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np


def _plain_per_channel(weight: np.ndarray, quantize_weight_tensor) -> np.ndarray:
    """Per-channel symmetric int8 rounding at 127 / max|w_c| (fake-quantized)."""
    from afe.ir.quantization_conv import weight_quantization_scale

    scale = weight_quantization_scale(weight, per_channel=True)
    return quantize_weight_tensor(weight, scale)[1]


def _with_weights(module, fake_weights: dict[str, np.ndarray]):
    """A copy of the float `module` whose named GEMMs read `fake_weights[node]`."""
    from sima_dialect import ops
    from sima_dialect.weights import NDArrayAttr

    copy = module.clone()
    replaced = 0
    for op in copy.walk():
        if isinstance(op, ops.Conv2DOp | ops.DenseOp) and op.node_name in fake_weights:
            constant = op.weight.owner
            assert isinstance(constant, ops.ConstantOp), op.node_name
            array = fake_weights[op.node_name].astype(constant.as_array().dtype)
            new = ops.ConstantOp(NDArrayAttr.from_array(f"{op.node_name}.fake", array))
            constant.parent_block().insert_op_before(new, constant)
            op.operands[list(op.operands).index(op.weight)] = new.output
            replaced += 1
    return copy, replaced


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation,rec,det")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=32)
    parser.add_argument("--det-shape", type=int, default=160, help="det imported at this square size")
    parser.add_argument("--int16", action="store_true", help="int16_quantization instead of default_quantization")
    parser.add_argument("--sensitive", type=int, default=0, help="also the N GEMMs whose refined weights alone lower SQNR most")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_quantization_accuracy import sqnr_db as _sqnr_db, top1_agreement as _top1
    import afe.ir.quantization_conv as planner
    import passes.quantize_gemm as quantize_gemm
    from afe.apis.defines import default_quantization, int16_quantization
    from afe.apis.model import Model
    from afe.core.calibration_pipeline import calibrate_module
    from afe.core.quantize_pipeline import partitioned_float_module
    from passes.quantize import quantize_module
    from models import REAL_MODELS, load_real_net, nhwc_samples
    from runtime.interpreter import Interpreter
    from sima_dialect import ops

    logging.getLogger().setLevel(logging.ERROR)
    planned: dict[str, np.ndarray] = {}
    current: list[str | None] = [None]
    original_plan = quantize_gemm.quantize_convolution_parameters
    original_weights = planner.quantize_weight_tensor

    def plan(*a, **k):
        current[0] = k["error_reporter"].node_name
        return original_plan(*a, **k)

    def quantize_weights(weight, scale, bits=8):
        q, fake = original_weights(weight, scale, bits)
        planned[current[0]] = fake  # the last call of a node is its accepted plan
        return q, fake

    quantize_gemm.quantize_convolution_parameters = plan
    planner.quantize_weight_tensor = quantize_weights

    never_clip = lambda weights, plan, per_channel: np.zeros(np.shape(plan.weight), dtype=np.int64)  # noqa: E731
    refined = planner.clipped_weight_refinement
    config = int16_quantization if args.int16 else default_quantization
    print(f"weights-only SQNR (dB, activations float) and {'int16' if args.int16 else 'int8'} output SQNR / top-1 "
          f"vs fp32; calibration seed 1 ({args.calibration}), evaluation seed 2 ({args.evaluation}), fast mode")
    print(f"{'model':<12} {'gemms':>5} {'plain':>7} {'never-clip':>10} {'refined':>8} "
          f"{'q never-clip':>15} {'q refined':>15} {'s':>5}")
    for name in [n for n in args.only.split(",") if n]:
        start = time.perf_counter()
        spec = REAL_MODELS[name]
        shape = (1, 3, args.det_shape, args.det_shape) if name == "det" else spec.shape
        net = load_real_net(name, shape)
        calibration = nhwc_samples(name, args.calibration, seed=1, shape=shape)
        evaluation = nhwc_samples(name, args.evaluation, seed=2, shape=shape)
        reference_module = partitioned_float_module(net.module)
        calibrated = calibrate_module(reference_module, calibration, config, progress=False)
        reference = [Interpreter(reference_module).run(s)[0] for s in evaluation]
        gemms = [op for op in reference_module.walk() if isinstance(op, ops.Conv2DOp | ops.DenseOp)]
        gemm_names = {op.node_name for op in gemms}

        weights_only_top1: list[str] = []

        def weights_only(weights: dict[str, np.ndarray], record: bool = True) -> float:
            # conv2d / dense only: a conv2d_transpose (planned as the equivalent conv) keeps float weights
            module, replaced = _with_weights(reference_module, weights)
            assert replaced == len(gemm_names & weights.keys()), (replaced, len(weights))
            interpreter = Interpreter(module)
            outputs = [interpreter.run(s)[0] for s in evaluation]
            if record:
                weights_only_top1.append("-" if name == "det" else f"{100 * _top1(reference, outputs):.1f}")
            return _sqnr_db(reference, outputs)

        columns, quantized_columns = [], []
        for choice in (never_clip, refined):
            planner.clipped_weight_refinement = choice
            planned.clear()
            quantized = quantize_module(calibrated, config)
            if not columns:
                columns.append(weights_only({
                    op.node_name: _plain_per_channel(op.weight.owner.as_array(), original_weights)
                    for op in gemms
                    if op.node_name in planned
                }))
            columns.append(weights_only(dict(planned)))
            model = Model(quantized, name=name, float_reference=reference_module)
            outputs = [model.execute(s, fast_mode=True)[0] for s in evaluation]
            top1 = "" if name == "det" else f" / {100 * _top1(reference, outputs):5.1f}"
            quantized_columns.append(f"{_sqnr_db(reference, outputs):6.2f}{top1}")
        planner.clipped_weight_refinement = refined
        print(
            f"{name:<12} {len(gemm_names & planned.keys()):>5} {columns[0]:7.2f} {columns[1]:10.2f} {columns[2]:8.2f} "
            f"{quantized_columns[0]:>15} {quantized_columns[1]:>15} {time.perf_counter() - start:5.0f}",
            flush=True,
        )
        print(f"{'':<12} weights-only top-1 % (plain, never-clip, refined): {', '.join(weights_only_top1)}", flush=True)
        if args.sensitive:
            alone = sorted((weights_only({node: planned[node]}, record=False), node) for node in sorted(gemm_names & planned.keys()))
            print(f"{'':<12} most sensitive: " + ", ".join(f"{node} {sqnr:.2f} dB" for sqnr, node in alone[: args.sensitive]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
