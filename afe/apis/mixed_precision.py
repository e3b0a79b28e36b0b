"""`suggest_int16_nodes`: automatic int8 / int16 mixed precision, opt-in.

Seed 003's mixed precision is manual: the user names the nodes computed in
int16. This tool proposes them, measured on the calibration data only:

    from afe.apis.mixed_precision import suggest_int16_nodes

    suggestion = suggest_int16_nodes(loaded_net, calibration_data, default_quantization, max_nodes=4)
    print(suggestion)                                   # chosen nodes, SQNR gained, share of the MACs
    config = default_quantization.with_custom_quantization_configs(suggestion.custom_quantization_configs)
    model = loaded_net.quantize(calibration_data, config)

`custom_quantization_configs` is the plain dict seed 003's example builds by
hand ({node: {"quantization_precision": QuantizationPrecision.INT_16}}, plus
the config's own per-node options), so the user sees the choice and can edit
it before quantizing.

How it chooses (`runtime/mixed_precision.py`): calibrate once; rank every
candidate node by the SQNR it gains alone in int16 in the int8 model, or with
`ranked_from="int16"` (AIMET AMP's way) by what the all-int16 model loses
with that node's result in int8 (each a real quantization, run bit-exact on the
first `ranking_samples` calibration samples); walk the ranking, best first,
quantizing with each next node added (ranked from int8: keeping it only where
the SQNR over every calibration sample rises);
stop at the budget: `max_nodes`, `target_sqnr_db` or `max_mac_share` (the
int16 nodes' share of the MLA's multiply-accumulates; other ops count one per
output element). The SQNR is measured at the logits by default: an output a
softmax makes is compared before it (centred), since a classifier's top-1 is
decided there and the softmax hides their error where it saturates
(`measured_at="outputs"` compares the outputs). The int16 scales are
re-selected from the one calibration's statistics, as `LoadedNet.quantize`
does, so quantizing with the suggestion gives the model measured (the same
SQNR on the calibration data).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.apis.loaded_net import InputValues, api_call, logger
from afe.core.configs import QuantizationPrecision
from runtime.interpreter import one_blas_thread
from runtime.mixed_precision import Int16Budget

if TYPE_CHECKING:
    from afe.apis.defines import QuantizationParams
    from afe.apis.loaded_net import LoadedNet
    from runtime.mixed_precision import Int16Search, Int16Step  # noqa: F401

FUNC = ExceptionFuncType.LOADED_NET_QUANTIZE
INT16_OPTIONS = {"quantization_precision": QuantizationPrecision.INT_16}
DEFAULT_RANKING_SAMPLES = 16
MEASURED_AT = ("logits", "outputs")
RANKED_FROM = ("int8", "int16")


def _error(message: str) -> UserFacingException:
    return UserFacingException(f"suggest_int16_nodes: {message}", FUNC)


@dataclass(frozen=True)
class Int16Suggestion:
    """What `suggest_int16_nodes` proposes, and what it measured on the calibration data.

    nodes: the nodes it adds in int16, in the order chosen;
    custom_quantization_configs: the dict for `with_custom_quantization_configs` (the
        config's own per-node options, plus INT_16 for `nodes`);
    quantization_config: the given config with those options;
    sqnr_db / baseline_sqnr_db: calibration SQNR (at `measured_at`) with and without `nodes`;
    mac_share: the share of the MLA's work the int16 nodes (with those already int16) do;
    steps: the state after each node added (`runtime.mixed_precision.Int16Step`, its CPU
        seconds counted from the call's start: what the call with max_nodes = that step
        would take), the first without any; `configs_for(k)` gives the dict of the first k;
    ranking: (node, SQNR gain alone in dB) for every candidate, best first;
    stopped: why the walk stopped."""

    nodes: tuple[str, ...]
    custom_quantization_configs: dict[str, dict[str, Any]]
    quantization_config: QuantizationParams
    sqnr_db: float
    baseline_sqnr_db: float
    mac_share: float
    steps: tuple[Int16Step, ...]
    ranking: tuple[tuple[str, float], ...]
    stopped: str
    measured_at: str
    base_configs: dict[str, dict[str, Any]]

    def configs_for(self, count: int) -> dict[str, dict[str, Any]]:
        """The custom_quantization_configs with only the first `count` chosen nodes in int16."""
        if not isinstance(count, int) or not 0 <= count <= len(self.nodes):
            raise _error(f"count must be an integer from 0 to {len(self.nodes)} (the nodes chosen), got {count!r}")
        return _with_int16(self.base_configs, self.nodes[:count])

    def __str__(self) -> str:
        lines = [
            f"int16 nodes suggested: {len(self.nodes)} ({self.stopped}); calibration SQNR at the {self.measured_at} "
            f"{self.baseline_sqnr_db:.2f} -> {self.sqnr_db:.2f} dB, int16 share of the MLA's MACs {100 * self.mac_share:.1f} %"
        ]
        lines += [
            f"  {i:>3}  {step.nodes[-1]:<40} {step.sqnr_db:7.2f} dB  {100 * step.work_share:5.1f} % MACs"
            for i, step in enumerate(self.steps[1:], start=1)
        ]
        return "\n".join(lines) + "\n"


def _with_int16(base: Mapping[str, Mapping[str, Any]], nodes: Iterable[str]) -> dict[str, dict[str, Any]]:
    configs = {name: dict(options) for name, options in base.items()}
    for name in nodes:
        configs.setdefault(name, {}).update(INT16_OPTIONS)
    return configs


def _check_number(name: str, value: Any, *, low: float, high: float = math.inf, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or not low <= value <= high:
        what = "an integer" if integer else "a number"
        bounds = f">= {low}" if high == math.inf else f"from {low} to {high}"
        raise _error(f"{name} must be {what} {bounds}, got {value!r}")


def _check_config(config: Any) -> QuantizationParams:
    from afe.apis.defines import QuantizationParams

    if not isinstance(config, QuantizationParams):
        raise _error(f"quantization_config must be a QuantizationParams (e.g. default_quantization), got {type(config).__name__}")
    scheme = config.activation_quantization_scheme
    if scheme.bf16:
        raise _error("quantization_config has bfloat16_scheme() activations: there are no int8 nodes to promote to int16")
    if scheme.bits == 16:
        raise _error("quantization_config already quantizes every activation to 16 bits: nothing to promote")
    if config.channel_groups:
        raise _error(
            "channel_groups splits nodes into new ones after calibration, so the nodes chosen would not be "
            "those list_nodes() names; search without it (it can be added to the config the suggestion returns)"
        )
    return config


@one_blas_thread()
def suggest_int16_nodes(
    loaded_net: LoadedNet,
    calibration_data: Iterable[InputValues],
    quantization_config: QuantizationParams,
    *,
    max_nodes: int | None = None,
    target_sqnr_db: float | None = None,
    max_mac_share: float | None = None,
    min_gain_db: float = 0.0,
    folds: int = 1,
    measured_at: str = "logits",
    ranked_from: str = "int8",
    ranking_samples: int | None = DEFAULT_RANKING_SAMPLES,
    candidates: Sequence[str] | None = None,
    progress: bool | None = None,
    log_level: int | None = logging.NOTSET,
) -> Int16Suggestion:
    """Which MLA nodes to quantize in int16 for the least cost (module docstring).

    Args:
        loaded_net: the float net (`load_model`).
        calibration_data: an iterable of {input name: array} samples, as
            `LoadedNet.quantize` takes them; read into memory (they are run many times).
        quantization_config: the config the model will be quantized with (int8
            activations; its per-node options are kept, its INT_16 nodes count as chosen).
        max_nodes: add at most this many int16 nodes.
        target_sqnr_db: stop once the calibration SQNR (at `measured_at`) reaches this.
        max_mac_share: keep the int16 nodes' share of the MLA's MACs within this (0 to 1).
            At least one of these three budgets is needed; the first reached stops.
        min_gain_db: keep a node only if it raises the calibration SQNR by more than this.
        folds: with more than 1, keep a node only if the SQNR also rises on each of `folds`
            interleaved parts of the calibration samples (a gain that a few samples carry
            is fitted to them).
        measured_at: "logits": where an output is a softmax's, its input (the logits,
            centred) is compared instead (a classifier's top-1 is the logits', and the softmax
            hides their error where it saturates); "outputs": the outputs as they are.
        ranked_from: "int8": rank nodes by what each gains alone in int16 in the int8
            model, and keep a node only where it raises the SQNR; "int16" (AIMET AMP's
            ranking): by what the all-int16 model loses with that node alone in int8, nodes
            kept in that order up to the budget (for errors spread over many nodes, where
            no single node shows a gain in the int8 model).
        ranking_samples: the first this many calibration samples rank the candidates
            (None: all); every check uses all.
        candidates: node names (from `list_nodes()`) to choose among (default: every MLA
            node that computes values and runs at 16 bits).
        progress: progress bars (None: on a terminal only).
        log_level: the logging level for this call.

    Returns:
        An `Int16Suggestion`; its `custom_quantization_configs` go to
        `quantization_config.with_custom_quantization_configs`.
    """
    with api_call(FUNC, log_level):
        from afe.apis.loaded_net import LoadedNet

        if not isinstance(loaded_net, LoadedNet):
            raise _error(f"loaded_net must be a LoadedNet (from load_model), got {type(loaded_net).__name__}")
        config = _check_config(quantization_config)
        if max_nodes is None and target_sqnr_db is None and max_mac_share is None:
            raise _error("give a budget: max_nodes, target_sqnr_db and/or max_mac_share")
        _check_number("max_nodes", max_nodes, low=0, integer=True)
        if target_sqnr_db is not None and (isinstance(target_sqnr_db, bool) or not isinstance(target_sqnr_db, int | float)
                                           or math.isnan(target_sqnr_db)):
            raise _error(f"target_sqnr_db must be a number of dB, got {target_sqnr_db!r}")
        _check_number("max_mac_share", max_mac_share, low=0.0, high=1.0)
        _check_number("min_gain_db", min_gain_db, low=0.0)
        _check_number("folds", folds, low=1, integer=True)
        _check_number("ranking_samples", ranking_samples, low=1, integer=True)
        if measured_at not in MEASURED_AT:
            raise _error(f"measured_at must be one of {', '.join(map(repr, MEASURED_AT))}, got {measured_at!r}")
        if ranked_from not in RANKED_FROM:
            raise _error(f"ranked_from must be one of {', '.join(map(repr, RANKED_FROM))}, got {ranked_from!r}")
        if progress is not None and not isinstance(progress, bool):
            raise _error(f"progress must be True, False or None, got {progress!r}")
        from runtime.calibration_data import iterate_calibration_samples

        started = time.process_time()
        samples = list(iterate_calibration_samples(calibration_data, loaded_net.input_types, func_type=FUNC, progress=False))
        if folds > len(samples):
            raise _error(f"folds ({folds}) must not exceed the number of calibration samples ({len(samples)})")
        budget = Int16Budget(max_nodes=max_nodes, target_sqnr_db=target_sqnr_db, max_work_share=max_mac_share,
                             min_gain_db=min_gain_db, folds=folds, ranked_from=ranked_from)
        search, base = _search(loaded_net, samples, config, budget, measured_at, ranking_samples, candidates, progress, started)
        nodes = search.nodes
        configs = _with_int16(base, nodes)
        last = search.steps[-1]
        logger.info("suggest_int16_nodes: %d node(s), calibration SQNR %.2f -> %.2f dB (%s)",
                    len(nodes), search.steps[0].sqnr_db, last.sqnr_db, search.stopped)
        return Int16Suggestion(
            nodes=nodes,
            custom_quantization_configs=configs,
            quantization_config=config.with_custom_quantization_configs(configs),
            sqnr_db=last.sqnr_db,
            baseline_sqnr_db=search.steps[0].sqnr_db,
            mac_share=last.work_share,
            steps=tuple(search.steps),
            ranking=tuple(search.ranking),
            stopped=search.stopped,
            measured_at=measured_at,
            base_configs=base,
        )


def _search(loaded_net, samples, config, budget, measured_at, ranking_samples,
            candidates, progress, started) -> tuple[Int16Search, dict[str, dict[str, Any]]]:
    """Calibrate once, then rank and walk (runtime/mixed_precision.py); the search and the
    config's own per-node options (names resolved as the quantized model has them)."""
    from afe.apis.model import Model
    from afe.core.quantize_pipeline import (
        calibrate_float_module,
        partitioned_float_module,
        quantize_calibrated,
        resolve_custom_configs,
    )
    from passes.name_nodes import unknown_names_message
    from runtime.interpreter import Interpreter
    from runtime.mixed_precision import compared_at, int16_candidates, sample_errors, search_int16_nodes

    float_reference = partitioned_float_module(loaded_net.module, config.node_names)
    resolved = resolve_custom_configs(float_reference, loaded_net.module, config)
    base = {name: dict(options) for name, options in (resolved.custom_quantization_configs or {}).items()}
    already = {name for name, options in base.items() if options.get("quantization_precision") is QuantizationPrecision.INT_16}
    found, total_work = int16_candidates(float_reference)
    if candidates is not None:
        if isinstance(candidates, str) or not all(isinstance(name, str) for name in candidates):
            raise _error(f"candidates must be a list of node names, got {candidates!r}")
        by_name = {candidate.name: candidate for candidate in found}
        known = [row.name for row in loaded_net.list_nodes()]
        unknown = [name for name in candidates if name not in by_name and name not in known]
        if unknown:
            raise _error(f"candidates: {unknown_names_message(unknown, known, 'no similar name; see list_nodes()')}")
        unfit = [name for name in candidates if name not in by_name]
        if unfit:
            raise _error(
                f"candidates: {', '.join(repr(n) for n in unfit)} cannot be computed in int16 with a gain: "
                "not an MLA node, or data movement that carries its input's quantization, or an op the MLA runs at 8 bits only"
            )
        found = [by_name[name] for name in dict.fromkeys(candidates)]
    if not found:
        raise _error("the net has no MLA node that int16 can help")

    # the candidates were checked first (a cheap partition): calibration is the long step
    calibration = calibrate_float_module(loaded_net.module, samples, config, progress=False)
    float_reference, resolved, calibrated = calibration.float_reference, calibration.config, calibration.calibrated
    compared, centre_axes = compared_at(float_reference, measured_at)
    reference_interpreter = Interpreter(compared(float_reference))
    reference = [reference_interpreter.run(sample) for sample in samples]
    ranking_count = len(samples) if ranking_samples is None else min(ranking_samples, len(samples))

    def measure(int16_nodes: frozenset[str], ranking: bool):
        options = dataclasses.replace(resolved, custom_quantization_configs=_with_int16(base, sorted(int16_nodes)))
        if ranking:  # the ranking compares nodes: quantization only (weight rounding and bias correction are per check)
            from passes.quantize import quantize_module

            quantized = quantize_module(calibrated, options)
        else:
            quantized = quantize_calibrated(calibrated, options, samples, progress=False)
        model = Model(compared(quantized), name=loaded_net.name, float_reference=float_reference, config=options)
        used = samples[:ranking_count] if ranking else samples
        produced = [model.execute(sample) for sample in used]
        return sample_errors(reference[: len(used)], produced, centre_axes)

    search = search_int16_nodes(found, total_work, measure, budget, already_int16=already, progress=progress,
                                started=started)
    return search, base


__all__ = ["Int16Suggestion", "suggest_int16_nodes"]
