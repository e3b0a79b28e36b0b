"""The `.sima.json` document: Keras-style JSON in the shape Netron's Keras reader
(`netron/keras.js`, legacy functional form) takes, carrying node names, op
properties, quantization and layer statistics. test_netron_browser.py shows a
real Netron rendering it; these tests pin the document itself."""

from __future__ import annotations

import json
import math

import pytest

from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.serialization import LayerStats, module_to_netron_json, save_netron_json
from models import REAL_MODELS
from sima_dialect.context import parse_module

MODEL = """
func.func @main(%x: tensor<1x4x4x3xf32> {sima.name = "image"}, %q: tensor<1x4x4x4x!sima.quant<i16, 0.0625:-3>>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x4x!sima.quant<i16, 0.0625:-3>>, tensor<1x4x4x3xf32>, tensor<2xf32>) {
  %w = sima.constant #sima.ndarray<"conv.weight", tensor<1x1x3x4xf32>, "0x0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F">
  %c = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_0"} : (tensor<1x4x4x3xf32>, tensor<1x1x3x4xf32>) -> tensor<1x4x4x4xf32>
  %a, %b = sima.split %c {axis = 3 : i64} : (tensor<1x4x4x4xf32>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>)
  %s = sima.add %b, %a : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %r = sima.relu %s {node = "add"} : tensor<1x4x4x2xf32>
  %qr = sima.relu %q {node = "MLA_1/relu_1"} : tensor<1x4x4x4x!sima.quant<i16, 0.0625:-3>>
  %k = sima.constant dense<[1.5, -2.0]> : tensor<2xf32>
  func.return %r, %qr, %x, %k : tensor<1x4x4x2xf32>, tensor<1x4x4x4x!sima.quant<i16, 0.0625:-3>>, tensor<1x4x4x3xf32>, tensor<2xf32>
}
"""


def check_keras_functional(document: dict) -> dict[str, dict]:
    """What Netron's Keras reader needs of a legacy functional model, as keras.js reads
    it: a 'Functional' config with name and layers; every layer with class_name, a
    unique name equal to config.name, and a list of inbound nodes whose connections
    are [layer, node index, tensor index, {kwargs}] to layers of the model; inputs
    and outputs as [layer, 0, index]. Returns the layers by name."""
    assert document["class_name"] == "Functional"
    config = document["config"]
    assert isinstance(config["name"], str)
    layers = {}
    for layer in config["layers"]:
        assert isinstance(layer["class_name"], str) and layer["class_name"]
        assert layer["name"] == layer["config"]["name"]
        assert layer["name"] not in layers, f"duplicate layer name {layer['name']}"
        layers[layer["name"]] = layer
    for layer in config["layers"]:
        inbound = layer["inbound_nodes"]
        assert isinstance(inbound, list) and len(inbound) <= 1  # one call per layer
        for call in inbound:
            for connection in call:
                name, node_index, tensor_index, kwargs = connection
                assert name in layers, f"{layer['name']} reads from unknown layer {name}"
                assert node_index == 0 and isinstance(tensor_index, int) and kwargs == {}
    for name, node_index, tensor_index in config["input_layers"]:
        assert layers[name]["class_name"] == "InputLayer" and (node_index, tensor_index) == (0, 0)
    for name, node_index, tensor_index in config["output_layers"]:
        assert name in layers and node_index == 0 and isinstance(tensor_index, int)
    json.dumps(document, allow_nan=False)  # strict JSON: Netron's parser takes no NaN or Infinity
    return layers


@pytest.fixture
def document() -> dict:
    return module_to_netron_json(parse_module(MODEL), model_name="tiny")


def test_the_document_has_the_shape_netron_reads(document):
    layers = check_keras_functional(document)
    assert document["config"]["name"] == "tiny"
    assert list(layers) == ["image", "q", "MLA_0/conv2d_0", "split", "add_1", "add", "MLA_1/relu_1", "constant"]


def test_inputs_are_input_layers_with_shape_dtype_and_quantization(document):
    layers = check_keras_functional(document)
    assert document["config"]["input_layers"] == [["image", 0, 0], ["q", 0, 0]]
    assert layers["image"]["config"] == {"name": "image", "batch_input_shape": [1, 4, 4, 3], "dtype": "float32"}
    assert layers["image"]["inbound_nodes"] == []
    assert layers["q"]["config"]["dtype"] == "int16"
    assert layers["q"]["config"]["quantization"] == {"bits": 16, "scale": 0.0625, "zero_point": -3}


def test_node_names_are_kept_and_others_generated_without_clashes(document):
    layers = check_keras_functional(document)
    # "add" is the node name of the relu, so the unnamed sima.add becomes add_1
    assert layers["add"]["config"]["op"] == "sima.relu"
    assert layers["add_1"]["config"]["op"] == "sima.add"
    assert layers["MLA_0/conv2d_0"]["class_name"] == "Conv2D"
    assert layers["split"]["class_name"] == "Split"


def test_connections_name_the_producer_and_its_result(document):
    layers = check_keras_functional(document)
    assert layers["MLA_0/conv2d_0"]["inbound_nodes"] == [[["image", 0, 0, {}]]]
    assert layers["split"]["inbound_nodes"] == [[["MLA_0/conv2d_0", 0, 0, {}]]]
    # add reads the second piece of the split first
    assert layers["add_1"]["inbound_nodes"] == [[["split", 0, 1, {}], ["split", 0, 0, {}]]]
    # outputs: the relu, the quantized relu, an input returned as is, a constant returned as is
    assert document["config"]["output_layers"] == [["add", 0, 0], ["MLA_1/relu_1", 0, 0], ["image", 0, 0], ["constant", 0, 0]]


def test_weights_are_described_inside_the_layer_that_reads_them(document):
    layers = check_keras_functional(document)
    conv = layers["MLA_0/conv2d_0"]["config"]
    assert conv["constants"] == {
        "weight": {"weight": "conv.weight", "shape": [1, 1, 3, 4], "dtype": "float32", "digest": conv["constants"]["weight"]["digest"]}
    }
    assert len(conv["constants"]["weight"]["digest"]) == 12
    assert [i["name"] for i in conv["inputs"]] == ["input"]  # the weight is no edge
    # a constant that is itself an output stays a layer, small values shown
    assert layers["constant"]["config"]["value"] == {"shape": [2], "dtype": "float32", "values": [1.5, -2.0]}


def test_properties_become_config_entries(document):
    conv = check_keras_functional(document)["MLA_0/conv2d_0"]["config"]
    assert conv["strides"] == [1, 1] and conv["pads"] == [0, 0, 0, 0] and conv["dilations"] == [1, 1]
    assert conv["groups"] == 1 and conv["op"] == "sima.conv2d"
    assert conv["outputs"] == [{"shape": [1, 4, 4, 4], "dtype": "float32"}]
    assert "node" not in conv  # it is the layer name


def test_quantized_ops_show_precision_and_quantization(document):
    layers = check_keras_functional(document)
    relu = layers["MLA_1/relu_1"]["config"]
    quantization = {"bits": 16, "scale": 0.0625, "zero_point": -3}
    assert relu["_status"] == "SIMA_QUANTIZED" and relu["input_int16"] is True
    assert relu["inputs"] == [{"name": "input", "shape": [1, 4, 4, 4], "dtype": "int16", "quantization": quantization}]
    assert relu["outputs"] == [{"shape": [1, 4, 4, 4], "dtype": "int16", "quantization": quantization}]
    assert layers["add"]["config"]["_status"] == "NOT_QUANTIZED" and "input_int16" not in layers["add"]["config"]


def test_layer_statistics_are_attached_to_their_node():
    stats = {"MLA_0/conv2d_0": LayerStats("mae", 3.9165286500938237), "add": {"metric": "psnr", "error_value": math.inf}}
    layers = check_keras_functional(module_to_netron_json(parse_module(MODEL), model_name="tiny", layer_stats=stats))
    assert layers["MLA_0/conv2d_0"]["config"]["Layer Statistics"] == {
        "metric": "mae", "error_value": 3.9165286500938237, "__decode_key__": "LayerStats",
    }
    # identical outputs have an infinite PSNR, which strict JSON cannot hold as a number
    assert layers["add"]["config"]["Layer Statistics"]["error_value"] == "inf"
    assert "Layer Statistics" not in layers["split"]["config"]


@pytest.mark.parametrize(
    "stats, message",
    [
        ({"MLA_9/missing": LayerStats("mae", 1.0)}, "name nodes the model does not have: MLA_9/missing"),
        ({"add": {"metric": "mae"}}, "layer statistics of 'add' need a 'metric' and a numeric 'error_value'"),
        ({"add": 0.5}, "layer statistics of 'add' must be a LayerStats, got float"),
    ],
)
def test_bad_layer_statistics_are_reported(stats, message):
    with pytest.raises(ValueError, match=message):
        module_to_netron_json(parse_module(MODEL), model_name="tiny", layer_stats=stats)


def test_save_writes_the_document_as_strict_json(tmp_path):
    path = tmp_path / "tiny.sima.json"
    save_netron_json(path, parse_module(MODEL), model_name="tiny", layer_stats={"add": LayerStats("psnr", math.nan)})
    document = json.loads(path.read_text())
    assert document == json.loads(json.dumps(module_to_netron_json(parse_module(MODEL), model_name="tiny", layer_stats={"add": LayerStats("psnr", math.nan)})))
    assert '"Layer Statistics"' in path.read_text() and "NaN" not in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.sima.json"]


def test_save_errors_are_user_facing(tmp_path):
    with pytest.raises(UserFacingException) as caught:
        save_netron_json(tmp_path / "x.sima.json", parse_module(MODEL), model_name="tiny", layer_stats={"nope": LayerStats("mae", 1.0)})
    assert caught.value.func_type is ExceptionFuncType.MODEL_SAVE and "nope" in str(caught.value)
    with pytest.raises(UserFacingException, match="cannot write the file"):
        save_netron_json(tmp_path / "missing" / "x.sima.json", parse_module(MODEL), model_name="tiny")


@pytest.mark.parametrize("name", sorted(REAL_MODELS))
def test_every_op_of_a_real_model_is_in_its_view(name):
    from afe.apis.loaded_net import load_model
    from afe.ir.tensor_type import ScalarType
    from afe.load.importers.general_importer import onnx_source

    spec = REAL_MODELS[name]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}, {spec.input_name: ScalarType.float32}))
    layers = check_keras_functional(module_to_netron_json(net.module, model_name=name))
    function = next(iter(net.module.body.ops))
    ops = [op for op in function.body.block.ops if op.name != "func.return"]
    uses = lambda op: [use.operation.name for use in op.results[0].uses]  # noqa: E731
    weights = [op for op in ops if op.name == "sima.constant" and uses(op) and "func.return" not in uses(op)]
    assert len(layers) == len(net.input_names) + len(ops) - len(weights)
    described = [c for layer in layers.values() for c in layer["config"].get("constants", {}).values()]
    assert {c.get("weight") for c in described if "weight" in c} >= {
        op.properties["value"].weight_name for op in weights if hasattr(op.properties["value"], "weight_name")
    }
