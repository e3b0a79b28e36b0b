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
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from afe.apis.error_handling_variables import verbose_error_messages_enabled
from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.load.importers.general_importer import ImporterParams, ModelFormat
from passes.name_nodes import NodeRow
from sima_dialect.weights import ir_text

if TYPE_CHECKING:
    from afe.apis.defines import QuantizationParams
    from afe.apis.model import Model

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
    except UserFacingException as error:
        if error.func_type is not None:
            raise
        # raised by a layer that does not know which API call it serves
        wrapped = UserFacingException(error.message, func_type)
        if verbose_error_messages_enabled():
            raise wrapped from error
        raise wrapped from None
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
    from passes.select_scales import SelectScalesError
    from runtime.errors import InterpreterError

    return isinstance(error, OnnxImportError | InterpreterError | PartitionError | SelectScalesError)


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
            feeds = check_inputs(inputs, self.input_types, ExceptionFuncType.LOADED_NET_EXECUTE)
            return self._interpreter.run(feeds)

    # -- quantization ---------------------------------------------------------------

    def quantize(
        self,
        calibration_data: Iterable[InputValues],
        quantization_config: QuantizationParams,
        *,
        arm_only: bool = False,
        simulated_arm: bool | None = False,
        model_name: str | None = None,
        log_level: int | None = logging.NOTSET,
    ) -> Model:
        """Calibrate on `calibration_data` and quantize: a `Model` (seed 003).

        Args:
            calibration_data: an iterable of {input name: array} samples
                (4-D inputs NHWC; a leading batch dimension of 1 may be left
                out), read once, with a progress bar on a terminal.
            quantization_config: a `QuantizationParams` (`default_quantization`,
                `int16_quantization` or one built from them). Node names in
                `with_unquantized_nodes` and `with_custom_quantization_configs`
                are those of `list_nodes()`.
            arm_only: no calibration and no quantization: every op runs in
                float on the APU (`calibration_data` is not read).
            simulated_arm: accepted for compatibility; it changes nothing
                (the seed says: leave at the default).
            model_name: the model's name (default: the loaded net's name).
            log_level: the logging level for this call.

        The net itself is left unchanged. Every problem (a wrong config, an
        unknown node name, a bad sample) raises UserFacingException.
        """
        with api_call(ExceptionFuncType.LOADED_NET_QUANTIZE, log_level):
            from afe.apis.model import Model
            from afe.core.quantize_pipeline import arm_only_module, partitioned_float_module, quantize_float_module

            config = _checked_quantization_config(quantization_config)
            for option, value in (("arm_only", arm_only), ("simulated_arm", simulated_arm)):
                if not isinstance(value, bool | np.bool_) and not (option == "simulated_arm" and value is None):
                    raise UserFacingException(f"{option} must be True or False, got {value!r}", ExceptionFuncType.LOADED_NET_QUANTIZE)
            if model_name is not None and (not isinstance(model_name, str) or not model_name):
                raise UserFacingException(f"model_name must be a non-empty string, got {model_name!r}", ExceptionFuncType.LOADED_NET_QUANTIZE)
            name = self.name if model_name is None else model_name
            if arm_only:
                logger.info("arm_only: no calibration, no quantization; every op runs on the APU")
                module = arm_only_module(self.module)
                return Model(module, name=name, float_reference=partitioned_float_module(self.module), config=config, arm_only=True)
            logger.info("quantizing %s", name)
            result = quantize_float_module(self.module, calibration_data, config)
            return Model(result.quantized, name=name, float_reference=result.float_reference, config=result.config)

    # -- inspection -----------------------------------------------------------------

    def ir_text(self, *, print_weights: bool = False) -> str:
        """The sima IR of the net as text (weights elided unless `print_weights`)."""
        return ir_text(self.module, print_weights=print_weights)

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


def check_inputs(
    inputs: InputValues, input_types: Mapping[str, tuple[tuple[int, ...], np.dtype]], func_type: ExceptionFuncType
) -> dict[str, np.ndarray]:
    """`inputs` checked against `input_types` (name -> (shape, dtype)) as `execute` takes them:
    a dict holding every input, each a NumPy array of exactly that shape and dtype."""

    def fail(message: str) -> UserFacingException:
        return UserFacingException(message, func_type)

    names = list(input_types)
    if not isinstance(inputs, Mapping):
        raise fail(f"inputs must be a dict from input name to array, got {type(inputs).__name__}; inputs are {names}")
    unknown = [name for name in inputs if name not in input_types]
    if unknown:
        raise fail(f"unknown input{'s' if len(unknown) > 1 else ''} {', '.join(repr(n) for n in unknown)}; the model's inputs are {names}")
    feeds = {}
    for name, (shape, dtype) in input_types.items():
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


def _checked_quantization_config(config: Any) -> QuantizationParams:
    from afe.apis.defines import QuantizationParams

    if not isinstance(config, QuantizationParams):
        raise UserFacingException(
            f"quantization_config must be a QuantizationParams, e.g. default_quantization or "
            f"int16_quantization, got {type(config).__name__}",
            ExceptionFuncType.LOADED_NET_QUANTIZE,
        )
    return config


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
