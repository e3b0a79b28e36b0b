"""The importer folds a ConvTranspose's per-channel tail into its weights and
bias, as it does for Conv: a bias Add, a Mul / Div by a per-channel constant,
and a BatchNormalization behind them (PP-OCRv4 det's upsampling head is
ConvTranspose -> Add -> BatchNormalization -> Relu), grouped or not, and the
result still matches onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from onnx_builders import assert_matches_onnxruntime, const, model, op_names, tensor

FLOAT = TensorProto.FLOAT


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + sum(shape)).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_transpose_bias_batch_norm_relu_is_one_op(groups):
    c_in, c_out = 4, 6
    nodes = [
        helper.make_node("ConvTranspose", ["x", "w"], ["t"], strides=[2, 2], kernel_shape=[2, 2], group=groups),
        helper.make_node("Add", ["t", "bias"], ["b"]),
        helper.make_node("Div", ["b", "scale"], ["d"]),
        helper.make_node("BatchNormalization", ["d", "gamma", "beta", "mean", "var"], ["n"], epsilon=1e-5),
        helper.make_node("Relu", ["n"], ["y"]),
    ]
    positive = np.abs(rand(c_out, seed=5)) + 0.5
    inits = [
        const("w", rand(c_in, c_out // groups, 2, 2)),
        const("bias", rand(1, c_out, 1, 1, seed=1)),
        const("scale", (np.abs(rand(1, c_out, 1, 1, seed=2)) + 0.5).astype(np.float32)),
        const("gamma", rand(c_out, seed=3)),
        const("beta", rand(c_out, seed=4)),
        const("mean", rand(c_out, seed=6)),
        const("var", positive.astype(np.float32)),
    ]
    proto = model(nodes, [tensor("x", FLOAT, [1, c_in, 5, 5])], [tensor("y", FLOAT, [1, c_out, 10, 10])], inits)
    result = assert_matches_onnxruntime(proto, {"x": rand(1, c_in, 5, 5, seed=7)}, rtol=1e-4, atol=1e-4)
    body = [name for name in op_names(result) if name != "sima.constant"]
    assert body == ["sima.conv2d_transpose", "sima.relu"]
    assert result.recognised["fold-conv-affine"] == 3  # the Add, the Div and the BatchNormalization behind them
