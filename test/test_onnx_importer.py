"""The ONNX importer on small hand-built models, checked against onnxruntime.

Covers the layout work (NHWC activations, no transposes in a plain CNN, a
flatten after a convolution, 1-D convolutions), BatchNorm folding, the
recognisers of decomposed ops (LayerNorm, GELU, HardSwish), constant folding
of shape subgraphs in a BERT-style block, weights in Constant nodes and in
external-data files, opset 11 vs 18 forms of the same ops, and the one error
that lists every unsupported op.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from lowering import onnx_layout as layout
from lowering.onnx_graph import OnnxImportError
from lowering.onnx_importer import SUPPORTED_ONNX_OPS, import_onnx
from onnx_builders import FLOAT, INT64, assert_matches_onnxruntime, const, model, op_names, tensor

RNG = np.random.default_rng(0)


def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


# ---------------------------------------------------------------------------
# layout


@st.composite
def reshapes(draw):
    shape = tuple(draw(st.lists(st.sampled_from([1, 2, 3, 4, 6]), min_size=1, max_size=5)))
    perm = tuple(draw(st.permutations(range(len(shape)))))
    # a random factorisation of the element count, with unit axes sprinkled in
    remaining, target = int(np.prod(shape)), []
    while remaining > 1:
        divisor = draw(st.sampled_from([d for d in range(2, remaining + 1) if remaining % d == 0]))
        target.append(divisor)
        remaining //= divisor
    for _ in range(draw(st.integers(0, 2))):
        target.insert(draw(st.integers(0, len(target))), 1)
    return shape, perm, tuple(target) or (1,)


@given(reshapes())
@settings(max_examples=300, deadline=None)
def test_reshape_layout_agrees_with_numpy(case) -> None:
    """Reshaping the stored tensor gives the reshaped tensor stored with the returned layout."""
    shape, perm, target = case
    result_perm = layout.reshape_layout(shape, perm, target)
    if result_perm is None:
        return
    x = np.arange(int(np.prod(shape))).reshape(shape)
    stored = x.transpose(perm)
    np.testing.assert_array_equal(stored.reshape(layout.permute(target, result_perm)), x.reshape(target).transpose(result_perm))


def test_reshape_layout_keeps_nhwc_through_a_flatten() -> None:
    # [N, C, H, W] stored NHWC, reshaped to [N, C, H*W]: stored [N, H*W, C], no data moves
    assert layout.reshape_layout((2, 8, 3, 5), layout.NHWC, (2, 8, 15)) == (0, 2, 1)
    # a reshape that mixes channels with space needs ONNX order
    assert layout.reshape_layout((2, 8, 3, 5), layout.NHWC, (2, 24, 5)) is None


@given(st.permutations(range(4)), st.permutations(range(4)))
def test_after_transpose_composes(perm, onnx_perm) -> None:
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    stored = x.transpose(perm)
    result = x.transpose(onnx_perm)
    np.testing.assert_array_equal(stored, result.transpose(layout.after_transpose(perm, onnx_perm)))


def small_cnn(opset: int = 17) -> onnx.ModelProto:
    """Conv -> BatchNorm -> Relu -> MaxPool -> Conv (depthwise) -> Relu -> GlobalAveragePool -> Flatten -> Gemm."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "beta", "mean", "var"], ["bn"], epsilon=1e-3),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], group=8, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], transB=1),
    ]
    inits = [
        const("w1", rand(8, 3, 3, 3)),
        const("b1", rand(8)),
        const("g", rand(8) + 2),
        const("beta", rand(8)),
        const("mean", rand(8)),
        const("var", np.abs(rand(8)) + 0.5),
        const("w2", rand(8, 1, 3, 3)),
        const("fc_w", rand(10, 8)),
        const("fc_b", rand(10)),
    ]
    return model(nodes, [tensor("x", FLOAT, ["N", 3, "H", "W"])], [tensor("y", FLOAT, ["N", 10])], inits, opset)


def test_small_cnn_is_nhwc_without_transposes_and_folds_batchnorm() -> None:
    result = assert_matches_onnxruntime(small_cnn(), {"x": rand(2, 3, 16, 12)})
    names = op_names(result)
    assert "sima.transpose" not in names
    assert names.count("sima.conv2d") == 2 and "sima.mul" not in names  # BatchNorm went into the conv
    assert "sima.dense" in names
    main = result.module.body.block.first_op
    assert str(main.function_type) == "(tensor<2x16x12x3xf32>) -> tensor<2x10xf32>"
    assert main.arg_attrs.data[0].data["sima.name"].data == "x"
    assert main.res_attrs.data[0].data["sima.name"].data == "y"


def test_four_d_output_is_nhwc_and_channel_axis_ops_are_renumbered() -> None:
    """Softmax over channels and Concat on channels of NHWC values need no transpose either."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
        helper.make_node("Softmax", ["c"], ["s"], axis=1),
        helper.make_node("Concat", ["s", "c"], ["cat"], axis=1),
        helper.make_node("ReduceMax", ["cat"], ["y"], axes=[1], keepdims=1),
    ]
    proto = model(nodes, [tensor("x", FLOAT, [1, 4, 5, 6])], [tensor("y", FLOAT, [1, 1, 5, 6])], [const("w", rand(3, 4, 1, 1))], 13)
    result = assert_matches_onnxruntime(proto, {"x": rand(1, 4, 5, 6)})
    assert "sima.transpose" not in op_names(result)
    main = result.module.body.block.first_op
    assert list(main.function_type.outputs.data[0].get_shape()) == [1, 5, 6, 1]


def test_conv1d_and_transposed_conv_with_output_shape() -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[2, 2], dilations=[2]),
        helper.make_node("Unsqueeze", ["c", "axes"], ["u"]),
        helper.make_node("ConvTranspose", ["u", "wt", "bt"], ["y"], strides=[1, 2], output_shape=[1, 15], kernel_shape=[1, 3]),
    ]
    inits = [const("w", rand(6, 4, 3)), const("axes", np.array([2], np.int64)), const("wt", rand(6, 2, 1, 3)), const("bt", rand(2))]
    proto = model(nodes, [tensor("x", FLOAT, [1, 4, 7])], [tensor("y", FLOAT, [1, 2, 1, 15])], inits)
    assert_matches_onnxruntime(proto, {"x": rand(1, 4, 7)})


# ---------------------------------------------------------------------------
# recognised patterns


def layer_norm_nodes(x: str, out: str, prefix: str, axes_as_input: bool) -> tuple[list, list]:
    axes = {} if axes_as_input else {"axes": [-1]}
    mean_inputs = [x, f"{prefix}axes"] if axes_as_input else [x]
    nodes = [
        helper.make_node("ReduceMean", mean_inputs, [f"{prefix}mean"], **axes),
        helper.make_node("Sub", [x, f"{prefix}mean"], [f"{prefix}d"]),
        helper.make_node("Pow", [f"{prefix}d", f"{prefix}two"], [f"{prefix}sq"]),
        helper.make_node("ReduceMean", [f"{prefix}sq", f"{prefix}axes"] if axes_as_input else [f"{prefix}sq"], [f"{prefix}var"], **axes),
        helper.make_node("Add", [f"{prefix}var", f"{prefix}eps"], [f"{prefix}ve"]),
        helper.make_node("Sqrt", [f"{prefix}ve"], [f"{prefix}std"]),
        helper.make_node("Div", [f"{prefix}d", f"{prefix}std"], [f"{prefix}n"]),
        helper.make_node("Mul", [f"{prefix}n", f"{prefix}gamma"], [f"{prefix}scaled"]),
        helper.make_node("Add", [f"{prefix}scaled", f"{prefix}beta"], [out]),
    ]
    inits = [
        const(f"{prefix}two", np.float32(2.0)),
        const(f"{prefix}eps", np.float32(1e-5)),
        const(f"{prefix}gamma", rand(16) + 1),
        const(f"{prefix}beta", rand(16)),
    ]
    if axes_as_input:
        inits.append(const(f"{prefix}axes", np.array([-1], np.int64)))
    return nodes, inits


@pytest.mark.parametrize("opset", [12, 18])
def test_written_out_layer_norm_becomes_one_op(opset: int) -> None:
    nodes, inits = layer_norm_nodes("x", "y", "ln_", axes_as_input=opset >= 18)
    proto = model(nodes, [tensor("x", FLOAT, [2, 5, 16])], [tensor("y", FLOAT, [2, 5, 16])], inits, opset)
    result = assert_matches_onnxruntime(proto, {"x": rand(2, 5, 16, scale=3)})
    assert op_names(result).count("sima.layer_norm") == 1
    assert "sima.reduce" not in op_names(result)
    assert result.recognised["layer-norm"] == 1


def test_gelu_with_erf_becomes_one_op() -> None:
    nodes = [
        helper.make_node("Div", ["x", "sqrt2"], ["u"]),
        helper.make_node("Erf", ["u"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["e1"]),
        helper.make_node("Mul", ["x", "e1"], ["m"]),
        helper.make_node("Mul", ["m", "half"], ["y"]),
    ]
    inits = [const("sqrt2", np.float32(np.sqrt(2))), const("one", np.float32(1)), const("half", np.float32(0.5))]
    proto = model(nodes, [tensor("x", FLOAT, [3, 7])], [tensor("y", FLOAT, [3, 7])], inits)
    result = assert_matches_onnxruntime(proto, {"x": rand(3, 7, scale=3)})
    assert op_names(result) == ["sima.gelu"]


@pytest.mark.parametrize("form", ["hard_sigmoid", "clip"])
def test_hard_swish_forms_become_one_op(form: str) -> None:
    if form == "hard_sigmoid":
        nodes = [
            helper.make_node("HardSigmoid", ["x"], ["h"], alpha=1 / 6, beta=0.5),
            helper.make_node("Mul", ["x", "h"], ["y"]),
        ]
        inits = []
    else:
        nodes = [
            helper.make_node("Add", ["x", "three"], ["a"]),
            helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
            helper.make_node("Mul", ["x", "c"], ["m"]),
            helper.make_node("Div", ["m", "six"], ["y"]),
        ]
        inits = [const("three", np.float32(3)), const("zero", np.float32(0)), const("six", np.float32(6))]
    proto = model(nodes, [tensor("x", FLOAT, [1, 4, 3, 3])], [tensor("y", FLOAT, [1, 4, 3, 3])], inits)
    result = assert_matches_onnxruntime(proto, {"x": rand(1, 4, 3, 3, scale=4)})
    assert op_names(result) == ["sima.hard_swish"]


def test_pattern_with_a_shared_intermediate_is_left_alone() -> None:
    """x * HardSigmoid(x) where the HardSigmoid result is also an output: no fusion, same numbers."""
    nodes = [helper.make_node("HardSigmoid", ["x"], ["h"], alpha=1 / 6, beta=0.5), helper.make_node("Mul", ["x", "h"], ["y"])]
    proto = model(nodes, [tensor("x", FLOAT, [2, 3])], [tensor("y", FLOAT, [2, 3]), tensor("h", FLOAT, [2, 3])])
    result = assert_matches_onnxruntime(proto, {"x": rand(2, 3, scale=4)})
    assert "sima.hard_swish" not in op_names(result)


# ---------------------------------------------------------------------------
# constant folding: a BERT-style block


def bert_block(opset: int = 13) -> onnx.ModelProto:
    """Embedding Gather, position ids from Shape, attention-mask arithmetic, shape-computed
    head reshapes, attention, a written-out LayerNorm and an erf GELU."""
    hidden, heads, vocab = 16, 2, 30
    head_dim = hidden // heads
    nodes = [
        helper.make_node("Gather", ["word_emb", "input_ids"], ["we"]),
        # position ids 0..S-1 from the run-time shape
        helper.make_node("Shape", ["input_ids"], ["ids_shape"]),
        helper.make_node("Gather", ["ids_shape", "one_i"], ["seq_len"], axis=0),
        helper.make_node("Range", ["zero_i", "seq_len", "one_i"], ["pos"]),
        helper.make_node("Unsqueeze", ["pos", "axes0"], ["pos2"]),
        helper.make_node("Gather", ["pos_emb", "pos2"], ["pe"]),
        helper.make_node("Add", ["we", "pe"], ["emb"]),
        # mask: (1 - mask) * -10000, broadcast over heads and query positions
        helper.make_node("Unsqueeze", ["attention_mask", "axes12"], ["m4"]),
        helper.make_node("Cast", ["m4"], ["mf"], to=onnx.TensorProto.FLOAT),
        helper.make_node("Sub", ["one_f", "mf"], ["inv"]),
        helper.make_node("Mul", ["inv", "neg"], ["bias"]),
        # q, k, v with heads split by a shape computed from Shape -> Gather -> Unsqueeze -> Concat
        helper.make_node("MatMul", ["emb", "wq"], ["q"]),
        helper.make_node("MatMul", ["emb", "wk"], ["k"]),
        helper.make_node("MatMul", ["emb", "wv"], ["v"]),
        helper.make_node("Shape", ["emb"], ["emb_shape"]),
        helper.make_node("Gather", ["emb_shape", "zero_i"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"]),
        helper.make_node("Unsqueeze", ["seq_len", "axes0"], ["seq1"]),
        helper.make_node("Concat", ["batch1", "seq1", "heads", "head_dim"], ["split_shape"], axis=0),
        helper.make_node("Reshape", ["q", "split_shape"], ["q4"]),
        helper.make_node("Reshape", ["k", "split_shape"], ["k4"]),
        helper.make_node("Reshape", ["v", "split_shape"], ["v4"]),
        helper.make_node("Transpose", ["q4"], ["qt"], perm=[0, 2, 1, 3]),
        helper.make_node("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["v4"], ["vt"], perm=[0, 2, 1, 3]),
        helper.make_node("MatMul", ["qt", "kt"], ["scores"]),
        helper.make_node("Div", ["scores", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["probs"], axis=-1),
        helper.make_node("MatMul", ["probs", "vt"], ["ctx"]),
        helper.make_node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3]),
        helper.make_node("Concat", ["batch1", "seq1", "hidden"], ["merge_shape"], axis=0),
        helper.make_node("Reshape", ["ctx_t", "merge_shape"], ["attn"]),
        helper.make_node("Add", ["attn", "emb"], ["res"]),
    ]
    ln_nodes, ln_inits = layer_norm_nodes("res", "ln", "ln_", axes_as_input=False)
    nodes += ln_nodes
    nodes += [
        helper.make_node("MatMul", ["ln", "w_ff"], ["ff"]),
        helper.make_node("Add", ["ff", "b_ff"], ["ffb"]),
        helper.make_node("Div", ["ffb", "sqrt2"], ["u"]),
        helper.make_node("Erf", ["u"], ["e"]),
        helper.make_node("Add", ["e", "one_f"], ["e1"]),
        helper.make_node("Mul", ["ffb", "e1"], ["g1"]),
        helper.make_node("Mul", ["g1", "half"], ["y"]),
    ]
    inits = ln_inits + [
        const("word_emb", rand(vocab, hidden)),
        const("pos_emb", rand(12, hidden)),
        const("zero_i", np.int64(0)),
        const("one_i", np.int64(1)),
        const("axes0", np.array([0], np.int64)),
        const("axes12", np.array([1, 2], np.int64)),
        const("one_f", np.float32(1)),
        const("neg", np.float32(-10000)),
        const("wq", rand(hidden, hidden, scale=0.3)),
        const("wk", rand(hidden, hidden, scale=0.3)),
        const("wv", rand(hidden, hidden, scale=0.3)),
        const("heads", np.array([heads], np.int64)),
        const("head_dim", np.array([head_dim], np.int64)),
        const("hidden", np.array([hidden], np.int64)),
        const("scale", np.float32(np.sqrt(head_dim))),
        const("w_ff", rand(hidden, hidden, scale=0.3)),
        const("b_ff", rand(hidden)),
        const("sqrt2", np.float32(np.sqrt(2))),
        const("half", np.float32(0.5)),
    ]
    inputs = [tensor("input_ids", INT64, ["B", "S"]), tensor("attention_mask", INT64, ["B", "S"])]
    return model(nodes, inputs, [tensor("y", FLOAT, ["B", "S", hidden])], inits, opset)


def test_bert_style_block_folds_shape_arithmetic_and_matches_onnxruntime() -> None:
    ids = RNG.integers(0, 30, size=(2, 9)).astype(np.int64)
    mask = np.ones((2, 9), np.int64)
    mask[1, 6:] = 0
    result = assert_matches_onnxruntime(bert_block(), {"input_ids": ids, "attention_mask": mask}, atol=1e-4)
    names = op_names(result)
    assert names.count("sima.gather") == 1  # the word embedding; positions folded to a constant
    assert names.count("sima.layer_norm") == 1 and names.count("sima.gelu") == 1
    assert "sima.compare" not in names
    assert result.recognised["matmul-bias"] == 1


# ---------------------------------------------------------------------------
# where weights live, opset forms


def test_weights_in_constant_nodes_and_external_data(tmp_path) -> None:
    nodes = [
        helper.make_node("Constant", [], ["w"], value=const("w_value", rand(4, 3, 3, 3))),
        helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1]),
    ]
    proto = model(nodes, [tensor("x", FLOAT, [1, 3, 5, 5])], [tensor("y", FLOAT, [1, 4, 5, 5])], [const("b", rand(4))])
    x = rand(1, 3, 5, 5)
    assert_matches_onnxruntime(proto, {"x": x})
    in_memory = import_onnx(proto, {"x": (1, 3, 5, 5)})
    path = tmp_path / "model.onnx"
    onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").exists()
    from_file = import_onnx(path, {"x": (1, 3, 5, 5)})
    assert str(from_file.module) == str(in_memory.module)  # same weights: same digests


def split_squeeze_model(opset: int) -> onnx.ModelProto:
    """Split / Squeeze / ReduceSum / Clip, whose operands moved from attributes to inputs."""
    if opset < 13:
        nodes = [
            helper.make_node("Split", ["x"], ["a", "b"], axis=1, split=[1, 2]),
            helper.make_node("Squeeze", ["a"], ["a2"], axes=[1]),
            helper.make_node("ReduceSum", ["b"], ["s"], axes=[1], keepdims=0),
        ]
        inits = []
    else:
        nodes = [
            helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=1),
            helper.make_node("Squeeze", ["a", "axes"], ["a2"]),
            helper.make_node("ReduceSum", ["b", "axes"], ["s"], keepdims=0),
        ]
        inits = [const("sizes", np.array([1, 2], np.int64)), const("axes", np.array([1], np.int64))]
    nodes += [helper.make_node("Add", ["a2", "s"], ["t"]), helper.make_node("Clip", ["t", "lo", "hi"], ["y"])]
    inits += [const("lo", np.float32(-1)), const("hi", np.float32(1.5))]
    return model(nodes, [tensor("x", FLOAT, [2, 3, 4, 5])], [tensor("y", FLOAT, [2, 4, 5])], inits, opset)


@pytest.mark.parametrize("opset", [11, 13, 18, 21])
def test_opset_forms_of_the_same_ops(opset: int) -> None:
    assert_matches_onnxruntime(split_squeeze_model(opset), {"x": rand(2, 3, 4, 5)})


# ---------------------------------------------------------------------------
# errors


def test_unsupported_ops_are_listed_in_one_error_before_any_work() -> None:
    nodes = [
        helper.make_node("Sin", ["x"], ["s1"], name="sin_a"),
        helper.make_node("Sin", ["s1"], ["s2"], name="sin_b"),
        helper.make_node("TopK", ["s2", "k"], ["v", "i"], name="top"),
        # contradicts its input shape: shape inference would fail, but the op check comes first
        helper.make_node("Reshape", ["v", "bad_shape"], ["y"], name="reshape"),
    ]
    inits = [const("k", np.array([2], np.int64)), const("bad_shape", np.array([7, 7], np.int64))]
    graph = helper.make_graph(nodes, "g", [tensor("x", FLOAT, [3, 4])], [tensor("y", FLOAT, [7, 7])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(OnnxImportError) as info:
        import_onnx(proto, {})  # even before the missing shape_dict entry is noticed
    message = str(info.value)
    assert "2 unsupported ONNX op types" in message
    assert "Sin (nodes 'sin_a', 'sin_b')" in message and "TopK (node 'top')" in message


def test_unsupported_op_in_a_constant_subgraph_is_folded() -> None:
    """Any op may compute shapes at import time; only run-time ops need converters."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("ReduceProd", ["shape"], ["count"], keepdims=1),  # no converter
        helper.make_node("Reshape", ["x", "count"], ["y"]),
    ]
    proto = model(nodes, [tensor("x", FLOAT, [2, 3, 4])], [tensor("y", FLOAT, [24])])
    assert "ReduceProd" not in SUPPORTED_ONNX_OPS
    assert_matches_onnxruntime(proto, {"x": rand(2, 3, 4)})


def test_unsupported_opset_is_rejected() -> None:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [tensor("x", FLOAT, [2])], [tensor("y", FLOAT, [2])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    with pytest.raises(OnnxImportError, match="opset 10"):
        import_onnx(proto, {"x": (2,)})


def test_bad_attribute_names_the_node() -> None:
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], mode="wrap", name="my_pad")]
    proto = model(nodes, [tensor("x", FLOAT, [2, 3])], [tensor("y", FLOAT, [4, 3])], [const("pads", np.array([1, 0, 1, 0], np.int64))])
    with pytest.raises(OnnxImportError, match=r"node 'my_pad' \(Pad\): mode 'wrap' is not supported"):
        import_onnx(proto, {"x": (2, 3)})


def test_readme_lists_exactly_the_supported_ops() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("Supported ONNX op types", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"`(\w+)`", section)) == set(SUPPORTED_ONNX_OPS)
    assert isinstance(SUPPORTED_ONNX_OPS, frozenset)


def test_ops_on_nhwc_activations_match_onnxruntime() -> None:
    """Axis-carrying and broadcasting ops applied to a convolution's (NHWC) output."""
    c = 6
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("PRelu", ["a", "slope"], ["b"]),
        helper.make_node("BatchNormalization", ["b", "g", "beta", "mean", "var"], ["bn"]),  # b has two readers: not folded
        helper.make_node("Add", ["bn", "b"], ["c"]),
        helper.make_node("Slice", ["c", "s_start", "s_end", "s_axes"], ["sl"]),  # channels 1..5, rows 0..3
        helper.make_node("Split", ["sl", "split"], ["p", "q"], axis=1),
        helper.make_node("Gather", ["q", "idx"], ["gq"], axis=1),  # the one channel of q, axis dropped
        helper.make_node("Unsqueeze", ["gq", "ax1"], ["gq4"]),
        helper.make_node("Concat", ["p", "gq4"], ["cat"], axis=1),
        helper.make_node("Pad", ["cat", "pads"], ["pp"], mode="reflect"),
        helper.make_node("InstanceNormalization", ["pp", "in_s", "in_b"], ["inorm"]),
        helper.make_node("Resize", ["inorm", "", "scales"], ["up"], mode="nearest"),
        helper.make_node("ReduceMean", ["up", "ax23"], ["pooled"], keepdims=0),
        helper.make_node("ArgMax", ["up"], ["am"], axis=1, keepdims=0),
        helper.make_node("DepthToSpace", ["a"], ["d2s"], blocksize=1),
        helper.make_node("Tile", ["d2s", "reps"], ["tiled"]),
        helper.make_node("ReduceMax", ["tiled", "ax1"], ["tmax"], keepdims=1),
    ]
    inits = [
        const("w", rand(c, 3, 3, 3)),
        const("slope", np.abs(rand(c, 1, 1)) * 0.3),
        const("g", rand(c) + 2),
        const("beta", rand(c)),
        const("mean", rand(c)),
        const("var", np.abs(rand(c)) + 0.5),
        const("s_start", np.array([1, 0], np.int64)),
        const("s_end", np.array([5, 4], np.int64)),
        const("s_axes", np.array([1, 2], np.int64)),
        const("split", np.array([3, 1], np.int64)),
        const("pads", np.array([0, 0, 1, 2, 0, 0, 1, 0], np.int64)),
        const("idx", np.int64(0)),
        const("ax1", np.array([1], np.int64)),
        const("in_s", rand(4) + 1),
        const("in_b", rand(4)),
        const("scales", np.array([1, 1, 2, 2], np.float32)),
        const("ax23", np.array([2, 3], np.int64)),
        const("reps", np.array([1, 2, 1, 1], np.int64)),
    ]
    outputs = [tensor("pooled", FLOAT, [1, 4]), tensor("am", INT64, [1, 12, 18]), tensor("tmax", FLOAT, [1, 1, 5, 7])]
    proto = model(nodes, [tensor("x", FLOAT, [1, 3, 5, 7])], outputs, inits, 18)
    result = assert_matches_onnxruntime(proto, {"x": rand(1, 3, 5, 7)}, atol=1e-4)
    assert "sima.transpose" not in op_names(result)
