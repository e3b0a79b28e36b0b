"""The calibration half of quantization, as a pipeline over the IR:

    insert-observers (pass)  ->  calibrate (runtime, the only step that reads data)
                             ->  select-scales (pass)

`calibrate_module` returns a calibrated copy of the float module: every float
activation carries a `sima.observe` with its statistics and its selected
`!sima.quant`. The module it is given is left untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from xdsl.dialects.builtin import ModuleOp

from afe.apis.calibration import CalibrationMethod
from afe.apis.defines import QuantizationParams
from passes.insert_observers import METHOD_PARAMETERS, InsertObserversPass
from passes.select_scales import SelectScalesPass
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
    # per-channel maxima only feed SmoothQuant
    calibrate(calibrated, calibration_data, progress=progress, channel_statistics=config.smooth_quant)
    scheme = config.activation_quantization_scheme
    if not scheme.bf16:
        SelectScalesPass(bits=scheme.bits, asymmetric=scheme.asymmetric).apply(ctx, calibrated)
    return calibrated
