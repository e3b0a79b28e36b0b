"""The quantization flow behind `LoadedNet.quantize`, from a float module to a quantized one:

    copy of the float module
      -> partition_and_name(config.node_names)   targets and seed-style node names: the float reference
      -> check the per-node options               custom_quantization_configs, before any data is read
      -> channel-equalization (pass)              if config.channel_equalization, on a copy: the
                                                  float reference stays the original float model
      -> split channel groups                     if config.channel_groups: blocks with very unequal
                                                  channel ranges split (runtime/channel_groups.py), in
                                                  the float reference too (one more reading of the data)
      -> calibrate_module                         observers, calibration data, scales (and
                                                  smooth-quant between two readings of the data);
                                                  skipped for bfloat16 activations (no scales)
                                                  unless smooth-quant needs the statistics
      -> range_refined_module                     if config.range_refinement: each int8 activation
                                                  range re-chosen for its error downstream, on the
                                                  first calibration samples (runtime/range_refinement.py)
      -> quantize_module                          MLA ops -> integer ops (passes/quantize.py), per-node
                                                  int16 / int8 widths and int32 outputs included
      -> weight_rounded_module                    if config.weight_rounding: int8 weights re-rounded
                                                  (GPTQ) on the first calibration samples; if
                                                  config.activation_compensation: weights and
                                                  biases fitted to compensate the int8 activations
                                                  (runtime/weight_rounding.py, recorded as below),
                                                  applied within the plan's bounds (passes/weight_rounding.py)
      -> bias_corrected_module                    if config.biascorr_type is not NONE: per-channel
                                                  output errors measured on the first calibration
                                                  samples (runtime/bias_correction.py, kept while
                                                  calibration reads them), folded into the int32
                                                  biases (passes/bias_correction.py)

`quantize_float_module` runs it; `arm_only_module` is the `arm_only=True`
variant: nothing calibrated or quantized, every op on the APU, in float.

Node names in `custom_quantization_configs` are those `list_nodes()` shows.
With `with_unquantized_nodes` some region prefixes change (forcing a node to
the APU splits its MLA region), so a name is also accepted as the node had it
without the forced nodes, as `partition` accepts them; the config handed to
`quantize_module` names every node as the quantized module does.

The per-node options are checked here, before any data is read: every name
must be a node, options apply to MLA nodes only, and `output_int32` (seed 003:
"INT32 Quantization for Final MLA Layer") to a conv2d / dense whose output
leaves the MLA.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import ReturnOp
from xdsl.ir import SSAValue
from xdsl.utils.exceptions import PassFailedException

from afe.apis.defines import QuantizationParams
from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.core.calibration_pipeline import calibrate_module, channel_group_plans_from
from afe.core.configs import QuantizationPrecision
from afe.ir.defines import BiasCorrectionType
from passes.channel_equalization import ChannelEqualizationPass
from passes.name_nodes import functions_of, named_ops, unknown_names_message
from passes.partition import MLA, PartitionError, partition_and_name
from passes.quantize import quantize_module
from runtime.bias_correction import BIAS_CORRECTION_SAMPLES, bias_corrected_module, recorder_for
from runtime.channel_groups import split_module
from runtime.range_refinement import RANGE_REFINEMENT_SAMPLES, range_refined_module
from runtime.weight_rounding import WEIGHT_ROUNDING_SAMPLES, weight_rounded_module
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.context import sima_context

CUSTOM_OPTION = "custom_quantization_configs"


@dataclasses.dataclass(frozen=True)
class QuantizedModules:
    """What quantization produces: the quantized module, the float module it
    came from (partitioned and named: same node names), and the config with
    every node name as the quantized module has it."""

    quantized: ModuleOp
    float_reference: ModuleOp
    config: QuantizationParams


@dataclasses.dataclass(frozen=True)
class CalibratedModules:
    """What calibration produces (`calibrate_float_module`): the calibrated module, the float
    module it came from (partitioned, named, split into channel groups if asked), the config
    with every node name resolved, and the first calibration samples the steps after
    calibration read (`quantize_calibrated`; empty where none of them is asked for)."""

    calibrated: ModuleOp
    float_reference: ModuleOp
    config: QuantizationParams
    samples: list[Mapping[str, Any]]


def _error(message: str) -> UserFacingException:
    return UserFacingException(message, ExceptionFuncType.LOADED_NET_QUANTIZE)


def _all_named_ops(module: ModuleOp) -> list[ops.SimaOp]:
    return [op for function in functions_of(module) for op in named_ops(function)]


def partitioned_float_module(module: ModuleOp, unquantized_nodes: Iterable[str] = ()) -> ModuleOp:
    """A copy of `module` with targets and node names, `unquantized_nodes` forced to the APU."""
    named = module.clone()
    try:
        partition_and_name(named, unquantized_nodes)
    except PartitionError as error:
        raise _error(f"node_names (with_unquantized_nodes): {error}") from None
    return named


def arm_only_module(module: ModuleOp) -> ModuleOp:
    """A copy of the float `module` with every op on the APU (`arm_only=True`): it runs in float."""
    named = partitioned_float_module(module)
    every_node = [op.node_name for op in _all_named_ops(named) if op.node_name]
    partition_and_name(named, every_node)
    return named


# -- per-node options -----------------------------------------------------------------


def _ops_by_name(float_reference: ModuleOp, original: ModuleOp, config: QuantizationParams) -> dict[str, ops.SimaOp]:
    """Every name a node answers to: its name, and with forced unquantized nodes
    also the name it has without them (the same op, in the same order)."""
    final = _all_named_ops(float_reference)
    names: dict[str, ops.SimaOp] = {op.node_name: op for op in final if op.node_name}
    if config.node_names:
        plain = _all_named_ops(partitioned_float_module(original))
        if len(plain) == len(final):
            for before, op in zip(plain, final):
                if before.node_name:
                    names.setdefault(before.node_name, op)
    return names


def _unknown_nodes_error(unknown: list[str], known: Iterable[str]) -> UserFacingException:
    return _error(f"{CUSTOM_OPTION}: {unknown_names_message(unknown, known, 'no similar name; see list_nodes()')}")


def _is_mla(op: ops.SimaOp) -> bool:
    return op.target_name == MLA


def _leaves_the_mla(value: SSAValue) -> bool:
    """Whether every reader of `value` is outside the MLA (an APU / CVU op or the function's return)."""
    for use in value.uses:
        reader = use.operation
        if isinstance(reader, ops.SimaOp) and not isinstance(reader, ops.ConstantOp) and _is_mla(reader):
            return False
        if not isinstance(reader, ops.SimaOp | ReturnOp | ObserveOp):
            return False
    return True


def _check_node_options(name: str, op: ops.SimaOp, options: Mapping[str, Any], config: QuantizationParams) -> None:
    where = f"{CUSTOM_OPTION}: node '{name}'"
    if not _is_mla(op):
        raise _error(
            f"{where} runs in float on the {op.target_name} and is not quantized, so its options "
            f"{sorted(options)} do not apply; give options to MLA nodes (see list_nodes())"
        )
    precision = options.get("quantization_precision")
    if precision is QuantizationPrecision.BFLOAT_16 and not config.activation_quantization_scheme.bf16:
        raise _error(f"{where}: bfloat16 precision for single nodes of an integer model is not supported yet; use INT_8 or INT_16")
    if options.get("output_int32"):
        if not isinstance(op, ops.Conv2DOp | ops.DenseOp):
            raise _error(f"{where}: output_int32 applies to a convolution or dense node, this one is {op.name}")
        if not _leaves_the_mla(op.output):
            readers = sorted(
                use.operation.node_name or use.operation.name
                for use in op.output.uses
                if isinstance(use.operation, ops.SimaOp) and _is_mla(use.operation)
            )
            raise _error(
                f"{where}: output_int32 is for the final MLA layer, but its output feeds MLA node(s) "
                f"{', '.join(readers)}; choose the last convolution of the MLA region, or leave its "
                "readers unquantized (with_unquantized_nodes)"
            )


def resolve_custom_configs(
    float_reference: ModuleOp, original: ModuleOp, config: QuantizationParams
) -> QuantizationParams:
    """`config` with its custom node names checked and renamed to the nodes' names
    in `float_reference`. Unknown names, options on unquantized nodes and an
    int32 output that does not leave the MLA raise UserFacingException."""
    custom = config.custom_quantization_configs
    if not custom:
        return config
    by_name = _ops_by_name(float_reference, original, config)
    unknown = [name for name in custom if name not in by_name]
    if unknown:
        raise _unknown_nodes_error(unknown, by_name)
    resolved: dict[str, dict[str, Any]] = {}
    for name, options in custom.items():
        op = by_name[name]
        _check_node_options(name, op, options, config)
        final = op.node_name or name
        if final in resolved and resolved[final] != dict(options):
            raise _error(f"{CUSTOM_OPTION}: node '{final}' is given twice, with different options")
        resolved[final] = dict(options)
    return dataclasses.replace(config, custom_quantization_configs=resolved)


# -- the flow -------------------------------------------------------------------------


def equalized_module(float_module: ModuleOp) -> ModuleOp:
    """A copy of the partitioned `float_module` after cross-layer channel
    equalization: the same float function, weight ranges balanced."""
    equalized = float_module.clone()
    try:
        ChannelEqualizationPass().apply(sima_context(), equalized)
    except PassFailedException as error:
        raise _error(f"channel_equalization: {error}") from None
    return equalized


def channel_grouped(
    float_reference: ModuleOp,
    to_calibrate: ModuleOp,
    calibration_data: Iterable[Mapping[str, Any]],
    config: QuantizationParams,
    *,
    progress: bool | None = None,
) -> tuple[ModuleOp, ModuleOp, Iterable[Mapping[str, Any]]]:
    """`float_reference` and `to_calibrate` (the same, or its equalized copy) with the same
    blocks split into channel groups (chosen on `to_calibrate`'s statistics: one reading of
    the data), and the data to read next. Nodes with per-node options, and nodes that run
    in float (nothing to gain), stay whole."""
    in_float = {op.node_name for op in _all_named_ops(to_calibrate) if not _is_mla(op)}
    leave = frozenset(config.custom_quantization_configs or ()) | in_float
    plans, data = channel_group_plans_from(to_calibrate, calibration_data, config, leave=leave, progress=progress)
    if not plans:
        return float_reference, to_calibrate, data
    split_reference = split_module(float_reference, plans)
    split = split_reference if to_calibrate is float_reference else split_module(to_calibrate, plans)
    return split_reference, split, data


def quantize_float_module(
    module: ModuleOp,
    calibration_data: Iterable[Mapping[str, Any]],
    config: QuantizationParams,
    *,
    progress: bool | None = None,
) -> QuantizedModules:
    """Quantize a copy of the float `module` (left untouched) with `config`,
    calibrating on `calibration_data` (an iterable of {input name: array}, read
    once, with a progress bar on a terminal unless `progress` says otherwise)."""
    calibration = calibrate_float_module(module, calibration_data, config, progress=progress)
    quantized = quantize_calibrated(calibration.calibrated, calibration.config, calibration.samples, progress=progress)
    return QuantizedModules(quantized=quantized, float_reference=calibration.float_reference, config=calibration.config)


def calibrate_float_module(
    module: ModuleOp,
    calibration_data: Iterable[Mapping[str, Any]],
    config: QuantizationParams,
    *,
    progress: bool | None = None,
) -> CalibratedModules:
    """The steps of `quantize_float_module` up to the calibrated module: partition and name
    a copy of `module`, resolve the per-node options, equalize, split into channel groups,
    calibrate, refine ranges, as `config` asks; several quantizations of one calibration
    share it (`afe/apis/mixed_precision.py`)."""
    float_reference = partitioned_float_module(module, config.node_names)
    resolved = resolve_custom_configs(float_reference, module, config)
    to_calibrate = equalized_module(float_reference) if resolved.channel_equalization else float_reference
    correcting = resolved.biascorr_type is not BiasCorrectionType.NONE
    bfloat16 = resolved.activation_quantization_scheme.bf16
    if bfloat16 and correcting:
        raise _error("biascorr_type: bias correction corrects integer quantization; bfloat16_scheme() activations have none to correct")
    if bfloat16 and (resolved.weight_rounding or resolved.activation_compensation):
        option = "weight_rounding" if resolved.weight_rounding else "activation_compensation"
        raise _error(f"{option}: rounds the int8 weights of integer quantization; bfloat16_scheme() activations have none")
    if bfloat16 and resolved.range_refinement:
        raise _error("range_refinement: refines integer activation ranges; bfloat16_scheme() activations have none")
    rounding = resolved.weight_rounding or resolved.activation_compensation
    samples_needed = max(BIAS_CORRECTION_SAMPLES if correcting else 0, WEIGHT_ROUNDING_SAMPLES if rounding else 0)
    if resolved.range_refinement:
        samples_needed = max(samples_needed, RANGE_REFINEMENT_SAMPLES)
    recorder = recorder_for(calibration_data, samples_needed) if samples_needed else None
    reading = recorder or calibration_data  # the recorder keeps the first samples of the last reading
    if resolved.channel_groups:
        if bfloat16:
            raise _error("channel_groups: gives unequal channels their own int8 tensors; bfloat16_scheme() activations have none")
        float_reference, to_calibrate, reading = channel_grouped(float_reference, to_calibrate, reading, resolved, progress=progress)
    if bfloat16 and not resolved.smooth_quant:
        calibrated = to_calibrate  # bfloat16 needs no scales: the data is not read
    else:
        calibrated = calibrate_module(to_calibrate, reading, resolved, progress=progress)
    if resolved.range_refinement and recorder is not None:
        asymmetric = resolved.activation_quantization_scheme.asymmetric
        calibrated, _ = range_refined_module(calibrated, recorder.samples[:RANGE_REFINEMENT_SAMPLES], asymmetric=asymmetric)
    return CalibratedModules(calibrated, float_reference, resolved, recorder.samples if recorder is not None else [])


def quantize_calibrated(
    calibrated: ModuleOp, resolved: QuantizationParams, samples: list[Mapping[str, Any]], *, progress: bool | None = None
) -> ModuleOp:
    """The steps after calibration: quantize the calibrated module, then weight rounding /
    compensation and bias correction if `resolved` asks, on the first `samples` (the first
    calibration samples); several quantizations of one calibration share it
    (`afe/apis/mixed_precision.py`)."""
    quantized = quantize_module(calibrated, resolved)
    # both against the float module the layers were quantized from (equalized / smoothed)
    if (resolved.weight_rounding or resolved.activation_compensation) and samples:
        compensate = resolved.activation_compensation
        rounding_samples = samples[:WEIGHT_ROUNDING_SAMPLES]
        quantized, _ = weight_rounded_module(quantized, calibrated, rounding_samples, compensate=compensate, progress=progress)
    if resolved.biascorr_type is not BiasCorrectionType.NONE and samples:
        correction_samples = samples[:BIAS_CORRECTION_SAMPLES]
        quantized = bias_corrected_module(quantized, calibrated, correction_samples, resolved.biascorr_type, progress=progress)
    return quantized
