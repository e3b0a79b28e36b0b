"""The real models (MODELS.md) through fuse-activations, partition and name-nodes:
every op gets a target and a unique seed-style name, the float outputs do not
change, names do not depend on the import, and `list_nodes()` of the cls model
reads like the seeds' examples."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from afe.apis.loaded_net import LoadedNet, load_model
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from models import REAL_MODELS, real_inputs
from passes.name_nodes import functions_of, named_ops
from passes.partition import partition_and_name
from runtime.interpreter import Interpreter
from sima_dialect import ops


def _load(name: str) -> LoadedNet:
    spec = REAL_MODELS[name]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    return load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}, {spec.input_name: ScalarType.float32}))


@pytest.fixture(scope="module", params=sorted(REAL_MODELS))
def partitioned(request):
    """(model name, the loaded net, a partitioned and named copy of its module)."""
    net = _load(request.param)
    module = net.module.clone()
    partition_and_name(module)
    module.verify()
    return request.param, net, module


def _named(module) -> list[ops.SimaOp]:
    return [op for function in functions_of(module) for op in named_ops(function)]


def test_every_op_has_a_target_and_a_unique_seed_style_name(partitioned) -> None:
    name, _, module = partitioned
    named = _named(module)
    assert named
    assert all(op.target_name in ops.TARGETS for op in named)
    names = [op.node_name for op in named]
    assert len(set(names)) == len(names), [n for n, c in Counter(names).items() if c > 1]
    for index, (op, node) in enumerate(zip(named, names)):
        region, kind_index = node.split("/")
        assert region.split("_")[0] == op.target_name and kind_index.endswith(f"_{index}"), node
    constants = [op for op in module.walk() if isinstance(op, ops.ConstantOp)]
    assert all(op.target is None and op.node is None for op in constants)


def test_fusion_leaves_no_fusable_activation(partitioned) -> None:
    _, _, module = partitioned
    for op in module.walk():
        if isinstance(op, ops.ReluOp | ops.ClipOp):
            producer = op.input.owner
            assert not (isinstance(producer, ops.FusedActivationOp) and op.input.has_one_use()), op.node_name


def test_float_outputs_are_unchanged(partitioned) -> None:
    name, net, module = partitioned
    spec = REAL_MODELS[name]
    image = real_inputs(name, 1, seed=3)[0].transpose(0, 2, 3, 1)
    before = net.execute({spec.input_name: image})
    after = Interpreter(module).run({spec.input_name: image})
    for got, want in zip(after, before, strict=True):
        difference = float(np.abs(got - want).max())
        assert difference == 0.0, f"{name}: max |after - before| = {difference}"


def test_names_are_stable_across_imports(partitioned) -> None:
    name, _, module = partitioned
    again = _load(name).module
    partition_and_name(again)
    assert [(op.node_name, op.target_name) for op in _named(again)] == [
        (op.node_name, op.target_name) for op in _named(module)
    ]


def test_cls_nodes_read_like_the_seed_examples() -> None:
    rows = _load("cls").list_nodes()
    assert [row.name for row in rows[:3]] == ["MLA_0/conv2d_add_0", "MLA_0/hard_swish_1", "MLA_0/conv2d_add_relu_2"]
    assert rows[0].kind == "sima.conv2d" and rows[0].target == "MLA" and rows[0].precision == "float32"
    assert rows[-1].name.endswith(f"/softmax_{len(rows) - 1}")
