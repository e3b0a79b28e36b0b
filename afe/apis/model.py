"""`Model`: a quantized network, as `LoadedNet.quantize` returns it (seed 003).

    model = loaded_net.quantize(calibration_data, default_quantization, model_name="net")
    outputs = model.execute({"x": image_nhwc})                  # bit-exact integer arithmetic
    outputs = model.execute({"x": image_nhwc}, fast_mode=True)  # float emulation on onnxruntime
    table = model.analyze_quantization_error(samples, "mae", local_feed=True)  # per-node error
    model.save("net", "out/")                                   # out/net.sima, out/net.sima.json
    model = Model.load("net", "out/")

Execution takes and returns what `LoadedNet.execute` does (4-D inputs and
outputs NHWC; float outputs, the quantized graph dequantizing at its
boundary), and checks its inputs the same way (`loaded_net.check_inputs`).

The `.sima` file holds one module with two functions: `@main`, the quantized
network, and `@float_reference`, the float network it was quantized from,
partitioned and named (the same node names), which per-layer error analysis
compares against (`analyze_quantization_error`, also after `Model.load`; its
per-node results are saved as "Layer Statistics" in the `.sima.json` and in the
manifest metadata). Keeping both in one module keeps one IR text and one set of
weights (a weight both functions hold, e.g. of an op left in float, is stored
once). Netron's `.sima.json` view and the interpreter read `@main` only. A file
without `@float_reference` (written by other tools) loads as a model without a
float reference. The manifest metadata (`Model.save`) records the model's name,
its inputs and outputs, the quantization config (`QuantizationParams` as plain
JSON; `Model.load` rebuilds it) and whether the model is `arm_only`.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType
from xdsl.dialects.func import FuncOp

from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.apis.loaded_net import InputValues, _result_names, api_call, check_inputs, format_node_table, logger
from afe.serialization.netron_json import LayerStats
from passes.name_nodes import NodeRow
from sima_dialect.types import QuantizedType
from sima_dialect.weights import ir_text

if TYPE_CHECKING:
    from runtime.error_analysis import QuantizationErrorTable

MAIN_FUNCTION = "main"
FLOAT_REFERENCE_FUNCTION = "float_reference"
METADATA_KIND = "sima-quantized-model"


class Model:
    """A quantized network in the sima IR (`module`), executable with the NumPy runtime.

    Attributes:
        module: the quantized module (`@main`).
        name: the model's name.
        float_reference: the float module it was quantized from, partitioned
            and named like `module` (None if unknown, e.g. loaded from a file
            without one).
        quantization_config: the `QuantizationParams` it was quantized with
            (None if unknown).
        arm_only: whether it was made with `arm_only=True` (every op in float
            on the APU).
    """

    def __init__(
        self,
        module: ModuleOp,
        *,
        name: str,
        float_reference: ModuleOp | None = None,
        config: Any = None,
        arm_only: bool = False,
    ):
        from runtime.interpreter import Interpreter

        self.module = module
        self.name = name
        self.float_reference = float_reference
        self.quantization_config = config
        self.arm_only = arm_only
        # node name -> its error from the last analyze_quantization_error (saved in .sima.json)
        self.layer_stats: dict[str, LayerStats] = {}
        exact = Interpreter(module)
        self._interpreters = {False: exact}
        self._executors: dict[bool, Any] = {}  # per mode: what execute runs (see _executor)
        self.input_names: list[str] = list(exact.input_names)
        # (shape, dtype) of each input as execute() takes it: 4-D inputs are NHWC
        self.input_types: dict[str, tuple[tuple[int, ...], np.dtype]] = dict(zip(self.input_names, exact.input_types))
        self.output_names: list[str] = _result_names(exact.function)
        # outputs left quantized by the graph, dequantized by execute: index -> (step, zero point)
        self._quantized_outputs = _quantized_results(exact.function)

    # -- execution ------------------------------------------------------------------

    def execute(
        self, inputs: InputValues, fast_mode: bool = False, *, log_level: int | None = logging.NOTSET
    ) -> list[np.ndarray]:
        """Run the model on one set of input values.

        Args:
            inputs: input name -> array of exactly the shape and dtype in
                `input_types`; 4-D (image) inputs are NHWC.
            fast_mode: False (default): the integer arithmetic of the MLA, bit
                exact: on onnxruntime, every op in an ONNX form proven to give
                the NumPy interpreter's integers (`runtime.onnx_backend`), when
                all its convolutions lower (faster, measured), else on
                the NumPy interpreter, the definition (SIMA_RUNTIME=numpy or
                =onnxruntime forces one). True: the seed's "bit-approximate"
                mode: the program emulated as one onnxruntime graph, on
                onnxruntime's int8 kernels for all-int8 programs
                (`runtime.onnx_backend.integer_emulation`; SIMA_FAST_FORM=float
                asks for the float form, which programs with most convolutions in
                channel-grouped blocks run too), else in float32 (`runtime.onnx_backend.
                fused_emulation`): requantizations rounded by onnxruntime, tables
                computed as their float function; not bit exact;
                SIMA_RUNTIME=numpy runs fast mode's NumPy kernels instead
                (`runtime.fast_kernels`).
            log_level: the logging level for this call.

        Returns:
            One float ndarray per model output, in the model's output order
            (4-D outputs NHWC).
        """
        with api_call(ExceptionFuncType.MODEL_EXECUTE, log_level):
            if not isinstance(fast_mode, bool | np.bool_):
                raise UserFacingException(f"fast_mode must be True or False, got {fast_mode!r}", ExceptionFuncType.MODEL_EXECUTE)
            feeds = check_inputs(inputs, self.input_types, ExceptionFuncType.MODEL_EXECUTE)
            outputs = self._executor(bool(fast_mode)).run(feeds)
            return [self._dequantized(index, output) for index, output in enumerate(outputs)]

    def _executor(self, fast_mode: bool):
        """What execute runs in each mode (`runtime.onnx_backend.executor_for`: bit-exact the exact
        onnxruntime program where its convolutions lower, else the NumPy interpreter; fast mode
        an emulation on onnxruntime; unless SIMA_RUNTIME says otherwise), built on the
        first execute of each mode and kept."""
        if fast_mode not in self._executors:
            from runtime.onnx_backend import executor_for

            self._executors[fast_mode] = executor_for(self._interpreter(fast_mode), fast_mode=fast_mode)
        return self._executors[fast_mode]

    def _interpreter(self, fast_mode: bool):
        if fast_mode not in self._interpreters:
            from runtime.fast_kernels import FAST_KERNELS
            from runtime.interpreter import Interpreter

            self._interpreters[fast_mode] = Interpreter(self.module, kernels=FAST_KERNELS)
        return self._interpreters[fast_mode]

    def _dequantized(self, index: int, output: np.ndarray) -> np.ndarray:
        if index not in self._quantized_outputs:
            return output
        from runtime.integer_arithmetic import dequantize

        step, zero_point = self._quantized_outputs[index]
        return dequantize(output, step, zero_point)

    def execute_in_accelerator_mode(
        self,
        input_data: Iterable[InputValues],
        devkit: str,
        *,
        username: str = "sima",
        password: str = "",
        batch_size: int = 1,
        compress: bool = True,
        tessellate_parameters: Any = None,
        log_level: int | None = logging.NOTSET,
        l2_caching_mode: Any = None,
    ) -> list[np.ndarray]:
        """Not available: this build has no accelerator support (raises UserFacingException)."""
        with api_call(ExceptionFuncType.MODEL_EXECUTE, log_level):
            raise UserFacingException(
                f"execute_in_accelerator_mode needs a SiMa.ai development kit reached over the network "
                f"(devkit {devkit!r}) and the compiled .lm file it runs; this build has no accelerator, "
                "devkit or compiler back end. Use Model.execute(inputs), which computes the MLA's integer "
                "arithmetic bit-exactly in software.",
                ExceptionFuncType.MODEL_EXECUTE,
            )

    # -- files ------------------------------------------------------------------------

    def save(self, model_name: str, output_directory: str = "", *, log_level: int | None = logging.NOTSET) -> None:
        """Write `<model_name>.sima` and its Netron view `<model_name>.sima.json`
        into `output_directory` (default: the current directory), which is
        created if needed. `.sima` is appended unless `model_name` ends with it."""
        with api_call(ExceptionFuncType.MODEL_SAVE, log_level):
            from afe.serialization import save_model_files

            _check_file_arguments(model_name, "output_directory", output_directory, ExceptionFuncType.MODEL_SAVE)
            if output_directory:
                try:
                    os.makedirs(output_directory, exist_ok=True)
                except OSError as error:
                    raise UserFacingException(
                        f"cannot create output directory '{output_directory}': {error.strerror or error}", ExceptionFuncType.MODEL_SAVE
                    ) from None
            sima, view = save_model_files(
                model_name, output_directory, self._file_module(), metadata=self._metadata(), layer_stats=self.layer_stats
            )
            logger.info("saved %s and %s", sima, view)

    @staticmethod
    def load(model_name: str, network_directory: str = "", *, log_level: int | None = logging.NOTSET) -> Model:
        """Read the model saved as `<model_name>.sima` in `network_directory`
        (default: the current directory). `.sima` is appended unless
        `model_name` ends with it."""
        with api_call(ExceptionFuncType.MODEL_LOAD, log_level):
            from afe.serialization import load_module, model_file_paths

            _check_file_arguments(model_name, "network_directory", network_directory, ExceptionFuncType.MODEL_LOAD)
            path = model_file_paths(model_name, network_directory)[0]
            if not os.path.exists(path):
                raise UserFacingException(f"'{path}': no such file", ExceptionFuncType.MODEL_LOAD)
            module, metadata = load_module(path)
            return _model_from_file(path, module, metadata)

    def _file_module(self) -> ModuleOp:
        """`module` with the float reference as a second function, `@float_reference`."""
        combined = self.module.clone()
        if self.float_reference is not None:
            reference = _main_of(self.float_reference).clone()
            reference.sym_name = StringAttr(FLOAT_REFERENCE_FUNCTION)
            combined.body.block.add_op(reference)
        return combined

    def _metadata(self) -> dict[str, Any]:
        return {
            "kind": METADATA_KIND,
            "model_name": self.name,
            "inputs": [
                {"name": name, "shape": list(shape), "dtype": str(dtype)} for name, (shape, dtype) in self.input_types.items()
            ],
            "outputs": list(self.output_names),
            "arm_only": bool(self.arm_only),
            "quantization_config": None if self.quantization_config is None else config_to_json(self.quantization_config),
            "float_reference": FLOAT_REFERENCE_FUNCTION if self.float_reference is not None else None,
            "layer_statistics": {name: stats.to_json() for name, stats in self.layer_stats.items()},
        }

    # -- per-layer quantization error ---------------------------------------------------

    def analyze_quantization_error(
        self,
        evaluation_data: Iterable[InputValues],
        error_metric: str,
        *,
        local_feed: bool,
        log_level: int | None = logging.NOTSET,
        simulated_arm: bool | None = False,
    ) -> QuantizationErrorTable:
        """Measure how much each node's quantization changes its output (seed 003,
        "Per-Layer Quantization Statistics"), against the float network the model
        was quantized from; nodes are matched by name (`runtime.error_analysis`).

        Args:
            evaluation_data: an iterable of {input name: array} samples, as
                `execute` takes them (4-D inputs NHWC; a leading batch dimension
                of 1 may be left out), read once, with a progress bar on a terminal.
            error_metric: "mae" (mean absolute error), "mse" (mean squared
                error) or "psnr" (10 log10(peak^2 / mse), peak the largest |float
                output| of the node over the data; inf for identical outputs).
            local_feed: True: each quantized node is fed the float network's
                values (quantized as the node reads them), so its error is its
                own. False: both networks run end to end on the same data, so a
                node's error is the cumulative error up to it; the last node's is
                that of the whole network.
            log_level: the logging level for this call.
            simulated_arm: accepted for compatibility; it changes nothing (the
                seed says: leave at the default).

        Returns:
            A `QuantizationErrorTable`: one row per analysed node in graph
            order (`str()` prints it). The errors are also kept per node and
            written into the `.sima.json` by `save` ("Layer Statistics").
            Works on a loaded model too (its `.sima` keeps the float reference).
        """
        func_type = ExceptionFuncType.QUANTIZATION_ERROR_ANALYSIS
        with api_call(func_type, log_level):
            from runtime.calibration_data import iterate_calibration_samples
            from runtime.error_analysis import METRICS, ErrorAnalysis, ErrorAnalysisError, error_table
            from runtime.errors import InterpreterError

            metric = getattr(error_metric, "value", error_metric)
            metric = metric.lower() if isinstance(metric, str) else metric
            if metric not in METRICS:
                raise UserFacingException(
                    f"error_metric must be one of {', '.join(repr(m) for m in METRICS)}, got {error_metric!r}", func_type
                )
            if not isinstance(local_feed, bool | np.bool_):
                raise UserFacingException(f"local_feed must be True or False, got {local_feed!r}", func_type)
            if self.arm_only:
                raise UserFacingException(
                    "the model was made with arm_only=True: every node runs in float on the APU, nothing is "
                    "quantized, so there is no quantization error to analyze",
                    func_type,
                )
            if self.float_reference is None:
                raise UserFacingException(
                    f"model '{self.name}' has no float reference to compare against (its .sima file has no "
                    f"@{FLOAT_REFERENCE_FUNCTION} function: it was not written by Model.save); quantize the "
                    "float model with LoadedNet.quantize to analyze it",
                    func_type,
                )
            try:
                analysis = ErrorAnalysis(self.module, self.float_reference, local_feed=bool(local_feed))
            except ErrorAnalysisError as error:
                raise UserFacingException(str(error), func_type) from None
            if analysis.input_names != self.input_names:
                raise UserFacingException(
                    f"the model's inputs {self.input_names} are not those of its float reference {analysis.input_names}",
                    func_type,
                )
            count = 0
            samples = iterate_calibration_samples(
                evaluation_data, self.input_types, func_type=func_type, what="error analysis"
            )
            for count, sample in enumerate(samples, start=1):
                try:
                    analysis.add_sample(sample)
                except InterpreterError as error:
                    raise UserFacingException(f"error analysis sample {count - 1}: {error}", func_type) from None
            table = error_table(analysis, metric, count)
            self.layer_stats = {row.node: LayerStats(metric, row.error_value) for row in table}
            logger.info("analyzed %d nodes on %d samples (%s, local_feed=%s)", len(table), count, metric, local_feed)
            return table

    # -- inspection -------------------------------------------------------------------

    def list_nodes(self) -> list[NodeRow]:
        """Every node of the quantized network: (name, op, target, precision),
        precision "int8" / "int16" / "int32" for quantized ops, "float32" for
        float ones. Boundary ops the quantizer adds (quantize, dequantize,
        requantize) are listed under the names it gives them."""
        from passes.name_nodes import node_rows

        return list(node_rows(self.module))

    def print_nodes(self) -> None:
        """Print `list_nodes()` as a table."""
        print(format_node_table(self.list_nodes()), end="")

    def ir_text(self, *, print_weights: bool = False) -> str:
        """The sima IR of the model as text (weights elided unless `print_weights`)."""
        return ir_text(self.module, print_weights=print_weights)

    def print_ir(self, *, print_weights: bool = False) -> None:
        print(self.ir_text(print_weights=print_weights), end="")

    def __repr__(self) -> str:
        inputs = ", ".join(f"{n}: {list(s)} {d}" for n, (s, d) in self.input_types.items())
        kind = "arm_only " if self.arm_only else ""
        return f"Model({self.name!r}, {kind}inputs {{{inputs}}}, outputs {self.output_names})"


# -- helpers --------------------------------------------------------------------------


def _main_of(module: ModuleOp) -> FuncOp:
    from runtime.interpreter import find_function

    return find_function(module)


def _quantized_results(function: FuncOp) -> dict[int, tuple[float, int]]:
    found = {}
    for index, result_type in enumerate(function.function_type.outputs.data):
        if isinstance(result_type, TensorType) and isinstance(result_type.element_type, QuantizedType):
            element = result_type.element_type
            found[index] = (element.scale_value, element.zero_point_value)
    return found


def _check_file_arguments(model_name: Any, directory_option: str, directory: Any, func_type: ExceptionFuncType) -> None:
    if not isinstance(model_name, str | os.PathLike) or not os.fspath(model_name):
        raise UserFacingException(f"model_name must be a non-empty string, got {model_name!r}", func_type)
    if not isinstance(directory, str | os.PathLike):
        raise UserFacingException(f"{directory_option} must be a path, got {directory!r}", func_type)


def _model_from_file(path: str, module: ModuleOp, metadata: Mapping[str, Any]) -> Model:
    def fail(message: str) -> UserFacingException:
        return UserFacingException(f"'{path}': {message}", ExceptionFuncType.MODEL_LOAD)

    functions = {op.sym_name.data: op for op in module.body.ops if isinstance(op, FuncOp)}
    if MAIN_FUNCTION not in functions:
        raise fail(f"the model has no @{MAIN_FUNCTION} function (it has {', '.join('@' + n for n in functions) or 'none'})")
    float_reference = None
    if FLOAT_REFERENCE_FUNCTION in functions:
        reference = functions[FLOAT_REFERENCE_FUNCTION]
        reference.detach()
        reference.sym_name = StringAttr(MAIN_FUNCTION)
        float_reference = ModuleOp([reference])
    name = metadata.get("model_name")
    if not isinstance(name, str) or not name:
        name = os.path.basename(path).removesuffix(".sima")
    config = metadata.get("quantization_config")
    try:
        config = None if config is None else config_from_json(config)
    except (KeyError, TypeError, ValueError, UserFacingException) as error:
        raise fail(f"the metadata's quantization_config is not readable: {error}") from None
    model = Model(module, name=name, float_reference=float_reference, config=config, arm_only=bool(metadata.get("arm_only", False)))
    try:
        model.layer_stats = {
            node: LayerStats(str(stats["metric"]), float(stats["error_value"]))
            for node, stats in (metadata.get("layer_statistics") or {}).items()
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        raise fail("the metadata's layer_statistics are not readable") from None
    return model


# -- QuantizationParams <-> JSON ---------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    return value


def config_to_json(config: Any) -> dict[str, Any]:
    """A `QuantizationParams` as plain JSON data (`config_from_json` reads it back)."""
    method = config.calibration_method
    return {
        "calibration_method": {"name": method.name, **dataclasses.asdict(method)},
        "activation_quantization_scheme": dataclasses.asdict(config.activation_quantization_scheme),
        "weight_quantization_scheme": dataclasses.asdict(config.weight_quantization_scheme),
        "requantization_mode": _plain(config.requantization_mode),
        "node_names": _plain(config.node_names),
        "custom_quantization_configs": _plain(config.custom_quantization_configs),
        "biascorr_type": _plain(config.biascorr_type),
        "channel_equalization": config.channel_equalization,
        "smooth_quant": config.smooth_quant,
        "weight_rounding": config.weight_rounding,
        "activation_compensation": config.activation_compensation,
        "range_refinement": config.range_refinement,
        "channel_groups": config.channel_groups,
    }


def config_from_json(data: Mapping[str, Any]) -> Any:
    """The `QuantizationParams` that `config_to_json` wrote."""
    from afe.apis import calibration
    from afe.apis.defines import QuantizationParams, QuantizationScheme
    from afe.core.configs import CUSTOM_QUANTIZATION_OPTIONS

    methods = {
        cls._name: cls
        for cls in (
            calibration.MinMaxMethod,
            calibration.MovingAverageMinMaxMethod,
            calibration.HistogramMSEMethod,
            calibration.HistogramEntropyMethod,
            calibration.HistogramPercentileMethod,
        )
    }
    method = dict(data["calibration_method"])
    method_class = methods[method.pop("name")]
    custom = data.get("custom_quantization_configs")
    if custom is not None:
        custom = {
            node: {
                option: CUSTOM_QUANTIZATION_OPTIONS[option](value)
                if issubclass(CUSTOM_QUANTIZATION_OPTIONS[option], enum.Enum)
                else value
                for option, value in options.items()
            }
            for node, options in custom.items()
        }
    return QuantizationParams(
        calibration_method=method_class(**method),
        activation_quantization_scheme=QuantizationScheme(**data["activation_quantization_scheme"]),
        weight_quantization_scheme=QuantizationScheme(**data["weight_quantization_scheme"]),
        requantization_mode=data["requantization_mode"],
        node_names=frozenset(data["node_names"]),
        custom_quantization_configs=custom,
        biascorr_type=data["biascorr_type"],
        channel_equalization=data["channel_equalization"],
        smooth_quant=data["smooth_quant"],
        weight_rounding=data.get("weight_rounding", False),  # absent from files written before it existed
        activation_compensation=data.get("activation_compensation", False),
        range_refinement=data.get("range_refinement", False),  # absent from files written before it existed
        channel_groups=data.get("channel_groups", False),
    )
