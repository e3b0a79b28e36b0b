"""The calibration step: stream samples through the float IR once and record,
on each `sima.observe`, the statistics its observer gathered.

    observe_ops = calibrate(module, samples)   # module now carries `stats` on every observe

Each observe op's `method` dictionary names its observer kind and parameters
(`runtime.observers.OBSERVER_KINDS[name](**params)`). With
`channel_statistics=True` every observer also keeps the largest |x| per channel
of the last axis (`channel_absmax`, what SmoothQuant needs; it costs a third of
a histogram update, so it is off unless asked for). With
`observer_statistics=False` the observers are skipped and only those maxima are
kept (what channel groups' first reading needs: the method's statistics would be
thrown away). The memory of both is independent of the number of samples.

This is the one step of the calibration flow that reads data; inserting
observers before it and choosing scales after it are IR-to-IR passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from afe.apis.errors import ExceptionFuncType, UserFacingException
from runtime.calibration_data import iterate_calibration_samples
from runtime.errors import KernelError
from runtime.interpreter import Interpreter, one_blas_thread
from runtime.observers import OBSERVER_KINDS, Observer, ObserverError
from sima_dialect.calibration_ops import CHANNEL_ABSMAX_KEY, ObserveOp
from sima_dialect.plain_data import from_attribute, to_attribute


class _TensorStatistics:
    """The method's observer plus the per-channel absolute maximum of one tensor."""

    def __init__(self, observer: Observer | None, per_channel: bool):
        self.observer = observer  # None: the per-channel maxima only
        self.per_channel = per_channel
        self.channel_absmax: np.ndarray | None = None

    def update(self, array: np.ndarray) -> None:
        if self.observer is not None:
            self.observer.update(array)
        if self.per_channel and array.ndim and array.size:
            rows = array.reshape(-1, array.shape[-1])
            # max(|min|, |max|) per channel: two reductions, no |x| copy of the tensor
            absmax = np.maximum(rows.max(axis=0), -rows.min(axis=0)).astype(np.float64)
            if self.observer is None and not np.all(np.isfinite(absmax)):  # what the observer would have said
                raise ObserverError("observed tensor contains NaN or Inf values")
            self.channel_absmax = absmax if self.channel_absmax is None else np.maximum(self.channel_absmax, absmax)

    def to_dict(self) -> dict[str, Any]:
        stats = self.observer.to_dict() if self.observer is not None else {}
        if self.channel_absmax is not None:
            stats[CHANNEL_ABSMAX_KEY] = [float(v) for v in self.channel_absmax]
        return stats


def observer_for(observe: ObserveOp) -> Observer:
    """A fresh observer as the op's `method` dictionary describes it."""
    params = from_attribute(observe.method)
    kind = params.pop("name")
    if kind not in OBSERVER_KINDS:
        raise UserFacingException(
            f"tensor '{observe.key.data}': unknown calibration method {kind!r}",
            ExceptionFuncType.LOADED_NET_QUANTIZE,
        )
    return OBSERVER_KINDS[kind](**params)


@one_blas_thread()
def calibrate(
    module: ModuleOp,
    samples: Iterable[Mapping[str, Any]],
    *,
    progress: bool | None = None,
    channel_statistics: bool = False,
    observer_statistics: bool = True,
) -> list[ObserveOp]:
    """Run `samples` (an iterable of {input name: array}, read once) through the
    float `module` and store each observe op's statistics in its `stats`.

    `observer_statistics=False` (with `channel_statistics`): only the per-channel maxima.
    Returns the observe ops. Errors name the sample index and input (bad data)
    or the observed tensor (e.g. NaN produced inside the model).
    """
    observes = [op for op in module.walk() if isinstance(op, ObserveOp)]
    if not (observer_statistics or channel_statistics):
        raise ValueError("calibrate: observer_statistics=False keeps only the per-channel maxima; ask for them (channel_statistics=True)")
    statistics = {
        op.key.data: _TensorStatistics(observer_for(op) if observer_statistics else None, channel_statistics) for op in observes
    }
    current_sample = [0]

    def on_observe(key: str, array: np.ndarray) -> None:
        try:
            statistics[key].update(array)
        except ObserverError as error:
            raise UserFacingException(
                f"calibration sample {current_sample[0]}: tensor '{key}': {error}",
                ExceptionFuncType.LOADED_NET_QUANTIZE,
            ) from None

    def build_observer_kernel(op: ObserveOp):
        key = op.key.data
        return lambda array: on_observe(key, array)

    interpreter = Interpreter(module, kernels={ObserveOp: build_observer_kernel})
    specs = dict(zip(interpreter.input_names, interpreter.input_types))
    for index, sample in enumerate(iterate_calibration_samples(samples, specs, progress=progress)):
        current_sample[0] = index
        try:
            interpreter.run(sample)
        except KernelError as error:
            # An observer's complaint is already user-facing; the interpreter only wrapped it.
            if isinstance(error.__cause__, UserFacingException):
                raise error.__cause__ from None
            raise

    for op in observes:
        op.properties["stats"] = to_attribute(statistics[op.key.data].to_dict())
    return observes
