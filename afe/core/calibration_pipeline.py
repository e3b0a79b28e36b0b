"""The calibration half of quantization, as a pipeline over the IR:

    insert-observers (pass)  ->  calibrate (runtime, the only step that reads data)
                             ->  select-scales (pass)

`calibrate_module` returns a calibrated copy of the float module: every float
activation carries a `sima.observe` with its statistics and its selected
`!sima.quant`. The module it is given is left untouched.

With `config.smooth_quant` the data is read twice:

    insert-observers -> calibrate (with per-channel maxima) -> smooth-quant
                     -> calibrate (the smoothed tensors)    -> select-scales

SmoothQuant needs each tensor's per-channel maxima, and rescales tensors, which
makes their first statistics stale. The data must therefore be re-iterable (a
list, `length_hinted(n, list)`, `convert_data_generator_to_iterable(...)`); a
generator or other one-shot iterator is refused before anything is read.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import PassFailedException

from afe.apis.calibration import CalibrationMethod
from afe.apis.defines import QuantizationParams
from afe.apis.errors import ExceptionFuncType, UserFacingException
from passes.insert_observers import METHOD_PARAMETERS, InsertObserversPass
from passes.select_scales import SelectScalesPass
from passes.smooth_quant import SmoothQuantPass
from runtime.calibrate import calibrate
from sima_dialect.context import sima_context


def insert_observers_pass(method: CalibrationMethod) -> InsertObserversPass:
    """The insert-observers pass that records `method` on every observe op.

    The parameters come from the method's own observer, so this layer never
    repeats a method's defaults.
    """
    fresh = method.create_observer().to_dict()
    kind = fresh["kind"]
    return InsertObserversPass(method=kind, **{p: fresh[p] for p in METHOD_PARAMETERS[kind]})


def calibrate_module(
    module: ModuleOp,
    calibration_data: Iterable[Mapping[str, Any]],
    config: QuantizationParams,
    *,
    progress: bool | None = None,
) -> ModuleOp:
    """A copy of `module` with statistics and activation scales from `calibration_data`."""
    ctx = sima_context()
    calibrated = module.clone()
    insert_observers_pass(config.calibration_method).apply(ctx, calibrated)
    if config.smooth_quant:
        _require_reiterable(calibration_data)
        # per-channel maxima only feed SmoothQuant
        calibrate(calibrated, calibration_data, progress=progress, channel_statistics=True)
        try:
            SmoothQuantPass().apply(ctx, calibrated)
        except PassFailedException as error:
            raise _error(f"smooth_quant: {error}") from None
        calibration_data = _SecondReading(calibration_data)
    calibrate(calibrated, calibration_data, progress=progress)
    scheme = config.activation_quantization_scheme
    if not scheme.bf16:
        SelectScalesPass(bits=scheme.bits, asymmetric=scheme.asymmetric).apply(ctx, calibrated)
    return calibrated


def _error(message: str) -> UserFacingException:
    return UserFacingException(message, ExceptionFuncType.LOADED_NET_QUANTIZE)


REITERABLE_HINT = (
    "smooth_quant reads the calibration data twice (per-channel statistics, then scales after smoothing), "
    "so it must be re-iterable, e.g. a list of samples"
)
CHANNEL_GROUPS_HINT = (
    "channel_groups reads the calibration data twice (per-channel ranges, then scales after splitting), "
    "so it must be re-iterable, e.g. a list of samples"
)


def _require_reiterable(data: Any, hint: str = REITERABLE_HINT) -> None:
    """Refuse a one-shot iterator (a generator, `iter(list)`, `map(...)`) before reading it."""
    try:
        one_shot = iter(data) is data
    except TypeError:
        return  # not iterable at all: the calibration step says so
    if one_shot:
        raise _error(f"{hint}; got a {type(data).__name__}, which can be read only once")


def channel_group_plans_from(
    module: ModuleOp,
    calibration_data: Iterable[Mapping[str, Any]],
    config: QuantizationParams,
    *,
    leave: frozenset[str] = frozenset(),
    progress: bool | None = None,
) -> tuple[list[tuple[str, list[int]]], Iterable[Mapping[str, Any]]]:
    """The conv -> f -> depthwise blocks of `module` worth splitting into channel groups
    (`runtime/channel_groups.py`), from one reading of `calibration_data` with per-channel
    ranges; blocks with a node named in `leave` are kept whole. Returns the plans and the
    data to read next (a second reading, which says so if it yields nothing)."""
    from runtime.channel_groups import channel_group_plans

    _require_reiterable(calibration_data, CHANNEL_GROUPS_HINT)
    statistics = module.clone()
    insert_observers_pass(config.calibration_method).apply(sima_context(), statistics)
    # the plans read the per-channel maxima only: the method's statistics are not gathered
    calibrate(statistics, calibration_data, progress=progress, channel_statistics=True, observer_statistics=False)
    return channel_group_plans(statistics, leave=leave), _SecondReading(calibration_data, CHANNEL_GROUPS_HINT)


class _SecondReading:
    """The calibration data read a second time, with a clear error when it
    yields nothing then (an iterable that is exhausted after one pass)."""

    def __init__(self, data: Iterable[Mapping[str, Any]], hint: str = REITERABLE_HINT):
        self.data, self.hint = data, hint

    def __length_hint__(self) -> int:
        return operator.length_hint(self.data, 0)

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        count = 0
        for count, sample in enumerate(self.data, start=1):
            yield sample
        if count == 0:
            raise _error(f"{self.hint}; the second reading of the data yielded no samples")
