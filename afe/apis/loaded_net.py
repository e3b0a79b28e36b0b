"""`load_model` and `LoadedNet`: a float model imported into the sima IR, ready to run.

    params = onnx_source("model.onnx", {"x": (1, 3, 224, 224)}, {"x": ScalarType.float32})
    loaded_net = load_model(params)
    print(loaded_net.ir_text())                      # the imported sima IR
    outputs = loaded_net.execute({"x": image_nhwc})  # list of ndarrays

Data is channel-last: a 4-D input is given NHWC (`(1, 224, 224, 3)` for the
example above), whatever the layout of the original model, and 4-D outputs come
back NHWC ("quantization data is ALWAYS NHWC", seed 003). Every problem a user
can cause is reported as a `UserFacingException` naming the input, node or
file at fault.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.printer import Printer

from afe.apis.error_handling_variables import verbose_error_messages_enabled
from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.load.importers.general_importer import ImporterParams, ModelFormat
from passes.name_nodes import NodeRow
from sima_dialect.weights import print_weights_in_full

# The inputs of one execution: input name -> array.
InputValues = Mapping[str, np.ndarray]

logger = logging.getLogger("afe")


@contextlib.contextmanager
def api_call(func_type: ExceptionFuncType, log_level: int | None) -> Iterator[None]:
    """The boundary of one API call: its log level, and every error as a UserFacingException.

    Errors raised on purpose (import and runtime errors, which name what is at
    fault) keep their message; anything else is reported as an internal error.
    The original traceback is kept as the cause only with verbose error
    messages enabled.
    """
    previous = logger.level
    if log_level:
        logger.setLevel(log_level)
    try:
        yield
    except UserFacingException:
        raise
    except Exception as error:
        expected = _is_expected(error)
        message = str(error) if expected else f"internal error ({type(error).__name__}: {error})"
        wrapped = UserFacingException(message, func_type)
        if verbose_error_messages_enabled():
            raise wrapped from error
        raise wrapped from None
    finally:
        logger.setLevel(previous)


def _is_expected(error: Exception) -> bool:
    from lowering.onnx_graph import OnnxImportError
    from passes.partition import PartitionError
    from runtime.errors import InterpreterError

    return isinstance(error, OnnxImportError | InterpreterError | PartitionError)


def _numpy_dtype(value: Any) -> np.dtype:
    """A dtype_dict value (ScalarType, NumPy dtype or its name) as a NumPy dtype."""
    from afe.ir.tensor_type import ScalarType

    if isinstance(value, ScalarType):
        return value.numpy_type()
    try:
        return np.dtype(value)
    except TypeError:
        raise UserFacingException(
            f"dtype_dict values must be ScalarType members or NumPy dtypes, got {value!r}", ExceptionFuncType.LOADED_NET_LOAD
        ) from None


def load_model(params: ImporterParams, *, log_level: int | None = logging.NOTSET) -> LoadedNet:
    """Import a model described by `params` (see `onnx_source`) into a `LoadedNet`."""
    with api_call(ExceptionFuncType.LOADED_NET_LOAD, log_level):
        if not isinstance(params, ImporterParams):
            raise UserFacingException(
                f"load_model expects ImporterParams (from onnx_source), got {type(params).__name__}",
                ExceptionFuncType.LOADED_NET_LOAD,
            )
        if params.format is not ModelFormat.onnx:
            raise UserFacingException(f"model format {params.format.value} is not supported", ExceptionFuncType.LOADED_NET_LOAD)
        from lowering.onnx_importer import import_onnx

        logger.info("importing ONNX model %s", params.model_path)
        result = import_onnx(params.model_path, params.shape_dict, params.dtype_dict, dtype_of=_numpy_dtype)
        logger.info("recognised patterns: %s", {k: v for k, v in result.recognised.items() if v})
        name = os.path.splitext(os.path.basename(params.model_path))[0]
        return LoadedNet(result.module, name=name)


class LoadedNet:
    """A float model in the sima IR (`module`), executable with the NumPy runtime."""

    def __init__(self, module: ModuleOp, *, name: str = "model"):
        from runtime.interpreter import Interpreter

        self.module = module
        self.name = name
        self._interpreter = Interpreter(module)
        self.input_names: list[str] = list(self._interpreter.input_names)
        # (shape, dtype) of each input as execute() takes it: 4-D inputs are NHWC
        self.input_types: dict[str, tuple[tuple[int, ...], np.dtype]] = dict(
            zip(self.input_names, self._interpreter.input_types)
        )
        self.output_names: list[str] = _result_names(self._interpreter.function)

    # -- execution ------------------------------------------------------------------

    def execute(self, inputs: InputValues, *, log_level: int | None = logging.NOTSET) -> list[np.ndarray]:
        """Run the float model on one set of input values.

        Args:
            inputs: input name -> array of exactly the shape and dtype in
                `input_types`; 4-D (image) inputs are NHWC.
            log_level: the logging level for this call.

        Returns:
            One ndarray per model output, in the model's output order. 4-D
            outputs are NHWC: an ONNX output [N, C, H, W] comes back as
            [N, H, W, C].
        """
        with api_call(ExceptionFuncType.LOADED_NET_EXECUTE, log_level):
            feeds = self._checked_inputs(inputs)
            return self._interpreter.run(feeds)

    def _checked_inputs(self, inputs: InputValues) -> dict[str, np.ndarray]:
        def fail(message: str) -> UserFacingException:
            return UserFacingException(message, ExceptionFuncType.LOADED_NET_EXECUTE)

        if not isinstance(inputs, Mapping):
            raise fail(f"inputs must be a dict from input name to array, got {type(inputs).__name__}; inputs are {self.input_names}")
        unknown = [name for name in inputs if name not in self.input_types]
        if unknown:
            raise fail(f"unknown input{'s' if len(unknown) > 1 else ''} {', '.join(repr(n) for n in unknown)}; the model's inputs are {self.input_names}")
        feeds = {}
        for name, (shape, dtype) in self.input_types.items():
            expected = f"expected shape {list(shape)} ({'NHWC' if len(shape) == 4 else 'as in the model'}) and dtype {dtype}"
            if name not in inputs:
                raise fail(f"input '{name}' is missing: {expected}")
            value = inputs[name]
            if not isinstance(value, np.ndarray | np.generic):
                raise fail(f"input '{name}' must be a NumPy array, got {type(value).__name__}: {expected}")
            value = np.asarray(value)
            if tuple(value.shape) != tuple(shape) or value.dtype != dtype:
                raise fail(f"input '{name}' has shape {list(value.shape)} and dtype {value.dtype}: {expected}")
            feeds[name] = value
        return feeds

    # -- inspection -----------------------------------------------------------------

    def ir_text(self, *, print_weights: bool = False) -> str:
        """The sima IR of the net as text (weights elided unless `print_weights`)."""
        stream = io.StringIO()
        with print_weights_in_full(print_weights):
            Printer(stream=stream).print_op(self.module)
        return stream.getvalue() + "\n"

    def print_ir(self, *, print_weights: bool = False) -> None:
        """Print the sima IR of the net (weights elided unless `print_weights`)."""
        print(self.ir_text(print_weights=print_weights), end="")

    def list_nodes(self) -> list[NodeRow]:
        """Every node of the net as quantization will name and place it.

        One row per op, in order: (name, op, target, precision), e.g.
        `NodeRow(name='MLA_0/conv2d_add_relu_0', kind='sima.conv2d',
        target='MLA', precision='float32')`. The names are those that
        `with_custom_quantization_configs` and `with_unquantized_nodes` take;
        precision is "float32" until the net is quantized.
        """
        from passes.name_nodes import node_rows

        return list(node_rows(self._named_module))

    def print_nodes(self) -> None:
        """Print `list_nodes()` as a table."""
        print(format_node_table(self.list_nodes()), end="")

    @functools.cached_property
    def _named_module(self) -> ModuleOp:
        """A copy of the module through fuse-activations, partition and name-nodes."""
        from passes.partition import partition_and_name

        named = self.module.clone()
        partition_and_name(named)
        return named

    def __repr__(self) -> str:
        inputs = ", ".join(f"{n}: {list(s)} {d}" for n, (s, d) in self.input_types.items())
        return f"LoadedNet({self.name!r}, inputs {{{inputs}}}, outputs {self.output_names})"


def format_node_table(rows: list[NodeRow]) -> str:
    """`rows` as a text table with a header, one line per node."""
    header = ("node", "op", "target", "precision")
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip() for line in (header, *rows)]
    return "\n".join(lines) + "\n"


def _result_names(function) -> list[str]:
    from xdsl.dialects.builtin import StringAttr

    names = []
    res_attrs = function.res_attrs.data if function.res_attrs is not None else ()
    for index in range(len(function.function_type.outputs.data)):
        attrs = res_attrs[index].data if index < len(res_attrs) else {}
        given = attrs.get("sima.name")
        names.append(given.data if isinstance(given, StringAttr) else f"output_{index}")
    return names
