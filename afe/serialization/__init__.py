"""Saving models to disk: the `.sima` model file and the Netron `.sima.json` view.

    save_model_files("net", "out/", module, metadata={...})   # out/net.sima, out/net.sima.json
    module, metadata = load_module(model_file_paths("net", "out/")[0])

Both work on any `sima` module; `Model.save` / `Model.load` wrap them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from xdsl.dialects.builtin import ModuleOp

from afe.serialization.netron_json import LayerStats, module_to_netron_json, save_netron_json
from afe.serialization.sima_file import FORMAT_NAME, FORMAT_VERSION, load_module, save_module

SIMA_EXTENSION = ".sima"


def model_file_paths(model_name: str, directory: str | os.PathLike[str] = "") -> tuple[str, str]:
    """The `.sima` file and its `.sima.json` view for `model_name` in `directory`,
    named as seed 003 says: `.sima` is appended unless the name has it, and the
    view is the `.sima` file's name plus `.json`."""
    name = os.fspath(model_name)
    sima = name if name.endswith(SIMA_EXTENSION) else name + SIMA_EXTENSION
    sima = os.path.join(os.fspath(directory), sima)
    return sima, sima + ".json"


def save_model_files(
    model_name: str,
    directory: str | os.PathLike[str],
    module: ModuleOp,
    *,
    metadata: Mapping[str, Any] | None = None,
    layer_stats: Mapping[str, LayerStats | Mapping[str, Any]] | None = None,
) -> tuple[str, str]:
    """Write `<model_name>.sima` and `<model_name>.sima.json` into `directory`
    (each atomically); returns their paths."""
    sima, view = model_file_paths(model_name, directory)
    shown_name = os.path.basename(sima)[: -len(SIMA_EXTENSION)]
    save_netron_json(view, module, model_name=shown_name, layer_stats=layer_stats)  # checks layer_stats first
    save_module(sima, module, metadata)
    return sima, view


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "LayerStats",
    "load_module",
    "model_file_paths",
    "module_to_netron_json",
    "save_model_files",
    "save_module",
    "save_netron_json",
]
