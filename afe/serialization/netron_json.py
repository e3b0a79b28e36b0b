"""The `.sima.json` view of a model: Keras-style JSON that Netron opens.

    view = module_to_netron_json(module, model_name="net", layer_stats={"MLA_0/conv2d_0": LayerStats("mae", 0.01)})
    save_netron_json("net.sima.json", module, model_name="net")

Netron's Keras reader (`keras.js`) takes a `{"class_name": "Functional",
"config": {"name", "layers", "input_layers", "output_layers"}}` document in
Keras's "legacy" functional form. Every op of `@main` becomes a layer:

    {"class_name": "Conv2D",                 # the op kind, shown as the box title
     "name": "MLA_0/conv2d_add_relu_0",      # the op's `node` name (or a generated one)
     "inbound_nodes": [[["x", 0, 0, {}]]],   # [producer layer, 0, result index, {}] per input
     "config": {"name": ..., "op": "sima.conv2d", "strides": [1, 1], ...,
                "inputs": [...], "outputs": [...],   # shapes, dtypes, !sima.quant scale/zero point
                "constants": {"weight": {...}},      # weights: name, shape, dtype, digest
                "_status": "SIMA_QUANTIZED",
                "Layer Statistics": {"metric": "mae", "error_value": 0.01, "__decode_key__": "LayerStats"}}}

Netron shows the config entries as the node's attributes and the node name in
its tooltip and side panel. Weights (`sima.constant` ops read only by other
ops) are not boxes of their own: they are described in their consumer's
"constants", as Keras keeps weights inside their layer. The function's inputs
are `InputLayer`s, which Netron turns into graph inputs.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    UnitAttr,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, BlockArgument, Operation, SSAValue
from xdsl.irdl import IRDLOperation
from xdsl.traits import ConstantLike

from afe.apis.errors import ExceptionFuncType, UserFacingException
from sima_dialect.element_types import element_type_to_numpy
from sima_dialect.types import QuantizedType
from sima_dialect.weights import NDArrayAttr

INPUT_NAME_ATTR = "sima.name"  # the function argument / result attribute that names an input or output
_SMALL_CONSTANT = 16  # dense constants up to this many elements show their values


@dataclass(frozen=True)
class LayerStats:
    """A node's quantization error, as `analyze_quantization_error` measures it."""

    metric: str  # "mae", "mse" or "psnr"
    error_value: float

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "error_value": _json_float(self.error_value), "__decode_key__": "LayerStats"}


def module_to_netron_json(
    module: ModuleOp,
    *,
    model_name: str,
    layer_stats: Mapping[str, LayerStats | Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The Keras-style JSON document (a dict) of `module`'s `@main` for Netron.

    `layer_stats` maps node names to their statistics; a name that is no node
    of the module raises ValueError.
    """
    return _NetronView(_main_function(module), model_name, layer_stats or {}).document()


def save_netron_json(
    path: str | os.PathLike[str],
    module: ModuleOp,
    *,
    model_name: str,
    layer_stats: Mapping[str, LayerStats | Mapping[str, Any]] | None = None,
) -> None:
    """Write `module_to_netron_json(...)` to `path`, atomically."""
    from afe.serialization.sima_file import atomic_output

    path = os.fspath(path)
    try:
        document = module_to_netron_json(module, model_name=model_name, layer_stats=layer_stats)
    except ValueError as error:
        raise UserFacingException(f"'{path}': {error}", ExceptionFuncType.MODEL_SAVE) from None
    text = json.dumps(document, indent=4, allow_nan=False) + "\n"
    try:
        with atomic_output(path) as output:
            output.write(text.encode("utf-8"))
    except OSError as error:
        raise UserFacingException(f"'{path}': cannot write the file: {error.strerror or error}", ExceptionFuncType.MODEL_SAVE) from None


def _main_function(module: ModuleOp) -> FuncOp:
    functions = [op for op in module.body.ops if isinstance(op, FuncOp)]
    for function in functions:
        if function.sym_name.data == "main":
            return function
    if len(functions) == 1:
        return functions[0]
    raise ValueError(f"the module has no @main and not exactly one function ({len(functions)} functions)")


class _NetronView:
    """Builds the document of one function: layers in IR order, names unique."""

    def __init__(self, function: FuncOp, model_name: str, layer_stats: Mapping[str, Any]):
        self.function = function
        self.model_name = model_name
        self.layer_stats = layer_stats
        self.block = function.body.block
        self.taken: set[str] = set()  # names given to a layer, or reserved for a node name
        self.assigned: set[str] = set()  # names given to a layer
        # where each SSA value comes from: (layer name, result index), or a folded weight
        self.sources: dict[SSAValue, tuple[str, int]] = {}
        self.folded: dict[SSAValue, dict[str, Any]] = {}

    def document(self) -> dict[str, Any]:
        input_layers = [self._input_layer(i, arg) for i, arg in enumerate(self.block.args)]
        # Names given by the IR are reserved first, so generated names never take one.
        for op in self.block.ops:
            node = _node_name(op)
            if node is not None:
                self.taken.add(node)
        layers: list[dict[str, Any]] = []
        output_layers: list[list[Any]] = []
        for op in self.block.ops:
            if isinstance(op, ReturnOp):
                output_layers = [[name, 0, index] for name, index in map(self._source, op.operands)]
            elif self._is_folded_weight(op):
                self.folded[op.results[0]] = _constant_json(op)
            else:
                layers.append(self._layer(op))
        unknown = sorted(set(self.layer_stats) - {layer["name"] for layer in layers})
        if unknown:
            raise ValueError(f"layer statistics name nodes the model does not have: {', '.join(unknown)}")
        return {
            "class_name": "Functional",
            "config": {
                "name": self.model_name,
                "layers": input_layers + layers,
                "input_layers": [[layer["name"], 0, 0] for layer in input_layers],
                "output_layers": output_layers,
            },
            "backend": "sima",
        }

    # -- layers ---------------------------------------------------------------------

    def _input_layer(self, index: int, arg: BlockArgument) -> dict[str, Any]:
        arg_attrs = self.function.arg_attrs.data if self.function.arg_attrs is not None else ()
        given = arg_attrs[index].data.get(INPUT_NAME_ATTR) if index < len(arg_attrs) else None
        name = self._unique(given.data if isinstance(given, StringAttr) else (arg.name_hint or f"arg{index}"))
        self.sources[arg] = (name, 0)
        config: dict[str, Any] = {"name": name}
        value = _value_json(arg)
        if "shape" in value:
            config["batch_input_shape"] = value["shape"]
            config["dtype"] = value["dtype"]
        if "quantization" in value:
            config["quantization"] = value["quantization"]
        return {"class_name": "InputLayer", "name": name, "config": config, "inbound_nodes": []}

    def _layer(self, op: Operation) -> dict[str, Any]:
        node = _node_name(op)
        if node is not None and node not in self.assigned:
            name = node
            self.taken.add(name)
            self.assigned.add(name)
        else:  # no node name, or one an earlier layer already has
            name = self._unique(node or _generated_name(op))
        for index, result in enumerate(op.results):
            self.sources[result] = (name, index)
        connections = []
        constants: dict[str, Any] = {}
        inputs = []
        for label, value in _labelled_operands(op):
            if value in self.folded:
                constants[label] = self.folded[value]
                continue
            producer, index = self._source(value)
            connections.append([producer, 0, index, {}])
            inputs.append({"name": label, **_value_json(value)})
        config: dict[str, Any] = {"name": name, "op": op.name}
        for key, attr in (*op.properties.items(), *op.attributes.items()):
            if key != "node":
                config[key] = _attribute_json(attr)
        config["inputs"] = inputs
        config["outputs"] = [_value_json(result) for result in op.results]
        if constants:
            config["constants"] = constants
        quantized_inputs = [v for _, v in _labelled_operands(op) if isinstance(_element_type(v), QuantizedType)]
        quantized = quantized_inputs or any(isinstance(_element_type(r), QuantizedType) for r in op.results)
        if quantized:
            config["input_int16"] = any(_element_type(v).bits == 16 for v in quantized_inputs)
        config["_status"] = "SIMA_QUANTIZED" if quantized else "NOT_QUANTIZED"
        if name in self.layer_stats:
            config["Layer Statistics"] = _stats_json(name, self.layer_stats[name])
        return {"class_name": _class_name(op), "name": name, "config": config, "inbound_nodes": [connections]}

    def _source(self, value: SSAValue) -> tuple[str, int]:
        if value not in self.sources:
            raise ValueError(f"value {value} is used before it is defined in @{self.function.sym_name.data}")
        return self.sources[value]

    def _is_folded_weight(self, op: Operation) -> bool:
        """A constant read only by other ops is shown inside them, not as a box."""
        return (
            op.has_trait(ConstantLike)
            and len(op.results) == 1
            and bool(op.results[0].uses)
            and all(not isinstance(use.operation, ReturnOp) for use in op.results[0].uses)
        )

    def _unique(self, name: str) -> str:
        candidate, suffix = name, 1
        while candidate in self.taken:
            candidate = f"{name}_{suffix}"
            suffix += 1
        self.taken.add(candidate)
        self.assigned.add(candidate)
        return candidate


# ---------------------------------------------------------------------------------
# naming


def _node_name(op: Operation) -> str | None:
    node = op.properties.get("node") or op.attributes.get("node")
    return node.data if isinstance(node, StringAttr) and node.data else None


def _generated_name(op: Operation) -> str:
    return op.name.split(".", 1)[-1]


def _class_name(op: Operation) -> str:
    """`sima.global_avg_pool` -> `GlobalAvgPool`, `sima.conv2d` -> `Conv2D`."""
    dialect, _, kind = op.name.partition(".")
    words = (kind or dialect).split("_")
    name = "".join(word[:1].upper() + word[1:] for word in words)
    return name.replace("2d", "2D").replace("Argmax", "ArgMax").replace("Matmul", "MatMul")


def _labelled_operands(op: Operation) -> list[tuple[str, SSAValue]]:
    """Each operand with the name the op definition gives it (`input`, `weight`, `inputs_1`)."""
    if isinstance(op, IRDLOperation):
        labelled = []
        for name, _ in type(op).get_irdl_definition().operands:
            value = getattr(op, name)  # a value, None (absent optional) or a sequence (variadic)
            if isinstance(value, SSAValue):
                labelled.append((name, value))
            elif value is not None:
                values = list(value)
                labelled += [(f"{name}_{i}" if len(values) > 1 else name, v) for i, v in enumerate(values)]
        if len(labelled) == len(op.operands):
            return labelled
    return [(f"operand_{i}", value) for i, value in enumerate(op.operands)]


# ---------------------------------------------------------------------------------
# values and attributes as JSON


def _element_type(value: SSAValue) -> Attribute | None:
    return value.type.element_type if isinstance(value.type, TensorType) else None


def _value_json(value: SSAValue) -> dict[str, Any]:
    """Shape, dtype and (for `!sima.quant`) the quantization of a tensor value."""
    if not isinstance(value.type, TensorType):
        return {"type": str(value.type)}
    return _tensor_type_json(value.type)


def _tensor_type_json(tensor_type: TensorType) -> dict[str, Any]:
    element = tensor_type.element_type
    result: dict[str, Any] = {"shape": list(tensor_type.get_shape())}
    try:
        result["dtype"] = element_type_to_numpy(element).name
    except ValueError:
        result["dtype"] = str(element)
    if isinstance(element, QuantizedType):
        result["quantization"] = _quantization_json(element)
    return result


def _quantization_json(quantized: QuantizedType) -> dict[str, Any]:
    return {"bits": quantized.bits, "scale": _json_float(quantized.scale_value), "zero_point": quantized.zero_point_value}


def _constant_json(op: Operation) -> dict[str, Any]:
    value = op.properties.get("value") or op.attributes.get("value")
    description = _attribute_json(value) if value is not None else {}
    if not isinstance(description, dict):
        description = {"value": description}
    node = _node_name(op)
    if node is not None:
        description["node"] = node
    return description


def _attribute_json(attr: Attribute) -> Any:
    if isinstance(attr, NDArrayAttr):
        return {"weight": attr.weight_name, **_tensor_type_json(attr.tensor_type), "digest": attr.data.digest}
    if isinstance(attr, DenseIntOrFPElementsAttr):
        description = _tensor_type_json(attr.get_type())
        values = attr.get_values()
        if len(values) <= _SMALL_CONSTANT:
            description["values"] = [_json_float(v) if isinstance(v, float) else int(v) for v in values]
        return description
    if isinstance(attr, IntegerAttr):
        value = attr.value.data
        return bool(value) if isinstance(attr.type, IntegerType) and attr.type.width.data == 1 else value
    if isinstance(attr, FloatAttr):
        return _json_float(attr.value.data)
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, IntAttr):
        return attr.data
    if isinstance(attr, DenseArrayBase):
        return [_json_float(v) if isinstance(v, float) else v for v in attr.get_values()]
    if isinstance(attr, ArrayAttr):
        return [_attribute_json(item) for item in attr.data]
    if isinstance(attr, DictionaryAttr):
        return {key: _attribute_json(value) for key, value in attr.data.items()}
    if isinstance(attr, UnitAttr):
        return True
    if isinstance(attr, TensorType):
        return _tensor_type_json(attr)
    if isinstance(attr, QuantizedType):
        return _quantization_json(attr)
    return str(attr)


def _json_float(value: float) -> float | str:
    """Strict JSON has no inf or NaN (a PSNR of identical outputs is inf): those become strings."""
    value = float(value)
    return value if math.isfinite(value) else str(value)


def _stats_json(name: str, stats: LayerStats | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(stats, Mapping):
        try:
            stats = LayerStats(str(stats["metric"]), float(stats["error_value"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"layer statistics of '{name}' need a 'metric' and a numeric 'error_value', got {dict(stats)}") from None
    if not isinstance(stats, LayerStats):
        raise ValueError(f"layer statistics of '{name}' must be a LayerStats, got {type(stats).__name__}")
    return stats.to_json()


__all__ = ["LayerStats", "module_to_netron_json", "save_netron_json"]
