"""The sima passes: one ModulePass per module, registered lazily by name.

`get_all_passes()` maps each pass name to a factory that imports its module only
when the pass is used, as xDSL's own registry does; `sima-opt` and (through the
`xdsl.universe` entry point) `xdsl-opt` both read it. To add a pass, write
`passes/<name>.py` holding one `ModulePass` dataclass whose docstring's first
line says what it does, and add one line to `_REGISTRY`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from xdsl.passes import ModulePass


def _lazy(module: str, class_name: str) -> Callable[[], type[ModulePass]]:
    """A factory that imports `passes.<module>` on its first call."""

    def factory() -> type[ModulePass]:
        return getattr(importlib.import_module(f"passes.{module}"), class_name)

    return factory


_REGISTRY: dict[str, Callable[[], type[ModulePass]]] = {
    "sima-canonicalize": _lazy("sima_canonicalize", "SimaCanonicalizePass"),
    "cancel-transposes": _lazy("cancel_transposes", "CancelTransposesPass"),
    "channel-equalization": _lazy("channel_equalization", "ChannelEqualizationPass"),
    "smooth-quant": _lazy("smooth_quant", "SmoothQuantPass"),
    "split-channel-groups": _lazy("split_channel_groups", "SplitChannelGroupsPass"),
    "fuse-activations": _lazy("fuse_activations", "FuseActivationsPass"),
    "partition": _lazy("partition", "PartitionPass"),
    "name-nodes": _lazy("name_nodes", "NameNodesPass"),
    "insert-observers": _lazy("insert_observers", "InsertObserversPass"),
    "select-scales": _lazy("select_scales", "SelectScalesPass"),
    "node-precisions": _lazy("quantize_precision", "NodePrecisionsPass"),
    "quantize": _lazy("quantize", "QuantizePass"),
    "quantize-bfloat16": _lazy("quantize_bfloat16", "QuantizeBFloat16Pass"),
    "bias-correction": _lazy("bias_correction", "BiasCorrectionPass"),
    "weight-rounding": _lazy("weight_rounding", "WeightRoundingPass"),
}


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Pass name -> factory returning the pass class."""
    return dict(_REGISTRY)

