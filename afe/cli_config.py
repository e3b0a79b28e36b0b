"""Command-line options that build a `QuantizationParams` (used by `afe quantize` and `afe demo`).

Each option mirrors one `QuantizationParams` builder, starting from
`default_quantization` (or `int16_quantization` with --int16):

    --calibration-method M, --num-bins, --percentile   with_calibration(...)
    --activation-scheme asymmetric|symmetric, --int16  with_activation_quantization(...)
    --weight-scheme per-channel|per-tensor             with_weight_quantization(...)
    --requantization-mode sima|tflite                  with_requantization_mode(...)
    --unquantized-node NODE (repeatable)               with_unquantized_nodes({...})
    --int16-node NODE, --int32-output NODE             with_custom_quantization_configs({...})
    --bias-correction none|regular|iterative           with_bias_correction(...)
    --channel-equalization                             with_channel_equalization()
    --smooth-quant                                     with_smooth_quant()
    --weight-rounding nearest|gptq|compensated         with_weight_rounding(...) / with_activation_compensation()
    --range-refinement                                 with_range_refinement()
    --channel-groups                                   with_channel_groups()

Node names are those `afe inspect MODEL.onnx` lists.
"""

from __future__ import annotations

import argparse
import dataclasses

from afe.apis.calibration import HistogramPercentileMethod, MinMaxMethod, MovingAverageMinMaxMethod
from afe.apis.defines import (
    BiasCorrectionType,
    CalibrationMethod,
    QuantizationParams,
    QuantizationPrecision,
    RequantizationMode,
    default_quantization,
    int16_quantization,
    quantization_scheme,
)
from afe.apis.errors import UserFacingException

CALIBRATION_METHODS = ("min_max", "moving_average", "mse", "entropy", "percentile")


def add_config_options(parser: argparse.ArgumentParser, *, default_method: str = "mse") -> None:
    """The quantization config options, in their own help section."""
    group = parser.add_argument_group("quantization config (QuantizationParams)")
    group.add_argument(
        "--calibration-method",
        choices=CALIBRATION_METHODS,
        default=default_method,
        help=f"how activation ranges are chosen from the calibration data (default: {default_method}; "
        "mse, entropy and percentile are histogram methods)",
    )
    group.add_argument("--num-bins", type=int, metavar="N", help="histogram bins of mse / entropy / percentile (defaults 2048 / 512 / 1024)")
    group.add_argument("--percentile", type=float, metavar="P", help="the percentile of --calibration-method percentile (default 99.9)")
    group.add_argument(
        "--activation-scheme",
        choices=("asymmetric", "symmetric"),
        default="asymmetric",
        help="activation quantization, per tensor (default: asymmetric)",
    )
    group.add_argument("--int16", action="store_true", help="int16 activations everywhere (int16_quantization); weights stay int8")
    group.add_argument(
        "--weight-scheme",
        choices=("per-channel", "per-tensor"),
        default="per-channel",
        help="symmetric int8 weights, one scale per output channel or per tensor (default: per-channel)",
    )
    group.add_argument(
        "--requantization-mode",
        choices=[mode.value for mode in RequantizationMode],
        default=RequantizationMode.sima.value,
        help="sima: a rounding shift; tflite: an 8-bit multiplier and a shift (default: sima)",
    )
    group.add_argument(
        "--unquantized-node", action="append", default=[], metavar="NODE", help="leave NODE in float on the APU (repeatable)"
    )
    group.add_argument("--int16-node", action="append", default=[], metavar="NODE", help="int16 activations for NODE (repeatable)")
    group.add_argument(
        "--int32-output", action="append", default=[], metavar="NODE", help="keep the int32 accumulator of NODE, a final MLA conv / dense (repeatable)"
    )
    group.add_argument(
        "--bias-correction",
        choices=[kind.value for kind in BiasCorrectionType],
        default=BiasCorrectionType.NONE.value,
        help="correct the expected per-channel output error of every quantized conv / dense in its bias, measured on "
        "the first calibration samples: regular (each layer on float inputs) or iterative (on the corrected "
        "quantized network's own inputs) (default: none)",
    )
    group.add_argument(
        "--channel-equalization", action="store_true", help="cross-layer equalization of consecutive conv / dense weights before calibration"
    )
    group.add_argument(
        "--smooth-quant", action="store_true", help="SmoothQuant: move per-channel activation outliers into the next layer's weights"
    )
    group.add_argument(
        "--weight-rounding",
        choices=("nearest", "gptq", "compensated"),
        default=None,
        help="how the int8 weights of every conv / dense are rounded on the planner's scales: to nearest, gptq "
        "(fitted to the first calibration samples' inputs of each layer), or compensated (weights and biases fitted "
        "to the float layer's output through the quantized network's own inputs) (default: as the configuration's default)",
    )
    group.add_argument(
        "--range-refinement",
        action="store_true",
        help="refine each int8 activation range the calibration chose to the one of least error at the next "
        "conv / dense (slower quantize)",
    )
    group.add_argument(
        "--channel-groups",
        action="store_true",
        help="split conv -> activation -> depthwise blocks whose channels span very different ranges into two "
        "channel groups with their own int8 tensors (same float function, a few more ops)",
    )


def calibration_method(name: str, num_bins: int | None, percentile: float | None) -> CalibrationMethod:
    """The calibration method `name` with its default parameters, or those given."""
    method = CalibrationMethod.from_str(name)
    if num_bins is not None:
        if isinstance(method, MinMaxMethod | MovingAverageMinMaxMethod):
            raise UserFacingException(f"--num-bins: {name} calibration has no histogram; use mse, entropy or percentile")
        method = dataclasses.replace(method, num_bins=num_bins)
    if percentile is not None:
        if not isinstance(method, HistogramPercentileMethod):
            raise UserFacingException(f"--percentile applies to --calibration-method percentile, not {name}")
        method = dataclasses.replace(method, percentile_value=percentile)
    return method


def config_from_options(args: argparse.Namespace) -> QuantizationParams:
    """The `QuantizationParams` the options in `args` describe."""
    bits = 16 if args.int16 else 8
    config = (int16_quantization if args.int16 else default_quantization).with_calibration(
        calibration_method(args.calibration_method, args.num_bins, args.percentile)
    )
    config = config.with_activation_quantization(
        quantization_scheme(asymmetric=args.activation_scheme == "asymmetric", per_channel=False, bits=bits)
    )
    config = config.with_weight_quantization(
        quantization_scheme(asymmetric=False, per_channel=args.weight_scheme == "per-channel", bits=8)
    )
    config = config.with_requantization_mode(RequantizationMode(args.requantization_mode))
    if args.unquantized_node:
        config = config.with_unquantized_nodes(set(args.unquantized_node))
    custom: dict[str, dict] = {}
    for node in args.int16_node:
        custom.setdefault(node, {})["quantization_precision"] = QuantizationPrecision.INT_16
    for node in args.int32_output:
        custom.setdefault(node, {})["output_int32"] = True
    if custom:
        config = config.with_custom_quantization_configs(custom)
    config = (
        config.with_bias_correction(BiasCorrectionType(args.bias_correction))
        .with_channel_equalization(args.channel_equalization)
        .with_smooth_quant(args.smooth_quant)
    )
    if args.range_refinement:
        config = config.with_range_refinement()
    if args.channel_groups:
        config = config.with_channel_groups()
    if args.weight_rounding is not None:
        config = config.with_weight_rounding(args.weight_rounding == "gptq").with_activation_compensation(
            args.weight_rounding == "compensated"
        )
    return config


def describe_config(config: QuantizationParams) -> str:
    """One line saying what `config` does."""
    activations = config.activation_quantization_scheme
    weights = config.weight_quantization_scheme
    parts = [
        f"{describe_method(config.calibration_method)} calibration",
        f"int{activations.bits} activations ({'asymmetric' if activations.asymmetric else 'symmetric'})",
        f"int{weights.bits} weights ({'per channel' if weights.per_channel else 'per tensor'})",
        f"{config.requantization_mode.value} requantization",
    ]
    if config.node_names:
        parts.append(f"unquantized {', '.join(sorted(config.node_names))}")
    if config.custom_quantization_configs:
        parts.append(f"per-node options on {len(config.custom_quantization_configs)} node(s)")
    if config.biascorr_type is not BiasCorrectionType.NONE:
        parts.append(f"{config.biascorr_type.value} bias correction")
    if config.channel_equalization:
        parts.append("channel equalization")
    if config.smooth_quant:
        parts.append("smooth quant")
    if config.weight_rounding:
        parts.append("gptq weight rounding")
    if config.activation_compensation:
        parts.append("weights compensating the int8 activations")
    if config.range_refinement:
        parts.append("activation ranges refined downstream")
    if config.channel_groups:
        parts.append("unequal channels split into groups")
    return "; ".join(parts)


def describe_method(method: CalibrationMethod) -> str:
    """e.g. "mse (2048 bins)", "percentile 99.9 (1024 bins)", "min_max"."""
    text = method.name
    if isinstance(method, HistogramPercentileMethod):
        text += f" {method.percentile_value:g}"
    bins = getattr(method, "num_bins", None)
    return f"{text} ({bins} bins)" if bins is not None else text
