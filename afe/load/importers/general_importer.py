"""Importer parameters: which model file to load and the shapes and types of its inputs.

    from afe.load.importers.general_importer import onnx_source
    from afe.apis.loaded_net import load_model
    from afe.ir.tensor_type import ScalarType

    params = onnx_source("model.onnx", shape_dict={"x": (1, 3, 224, 224)},
                         dtype_dict={"x": ScalarType.float32})
    loaded_net = load_model(params)

For ONNX models `shape_dict` is in the model's own layout (NCHW for images);
the loaded net itself takes and returns 4-D data in NHWC. Nothing is read or
checked here: `load_model` does that and reports problems as a
`UserFacingException`.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ModelFormat(enum.Enum):
    """The file format an `ImporterParams` describes."""

    onnx = "onnx"


@dataclass(frozen=True)
class ImporterParams:
    """Everything `load_model` needs to import a model.

    `shape_dict` maps every input name to its shape (in the model's layout);
    `dtype_dict` maps input names to their `ScalarType` (inputs it omits keep
    the type the model declares).
    """

    format: ModelFormat
    model_path: str
    shape_dict: Mapping[str, Sequence[int]]
    dtype_dict: Mapping[str, Any] | None = None


def onnx_source(
    model_path: str | os.PathLike,
    shape_dict: Mapping[str, Sequence[int]],
    dtype_dict: Mapping[str, Any] | None = None,
) -> ImporterParams:
    """Parameters for importing an ONNX model file.

    Args:
        model_path: the `.onnx` file (external-data files are read from its folder).
        shape_dict: input name -> shape, for every input, in the model's layout
            (e.g. `{"x": (1, 3, 224, 224)}`); dynamic dimensions get fixed here.
        dtype_dict: input name -> `ScalarType` (or NumPy dtype); optional.
    """
    return ImporterParams(ModelFormat.onnx, os.fspath(model_path), shape_dict, dtype_dict)
