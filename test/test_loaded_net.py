"""The `afe` loading API: `onnx_source`, `load_model`, `LoadedNet.execute` and IR printing.

Every mistake a user can make gets one `UserFacingException` that names the
file, input or op at fault, with no traceback from inside NumPy, xDSL or onnx
attached (unless verbose error messages are switched on).
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
import pytest
from onnx import helper

from afe.apis.error_handling_variables import disable_verbose_error_messages, enable_verbose_error_messages
from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.apis.loaded_net import LoadedNet, load_model
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import ImporterParams, onnx_source
from onnx_builders import FLOAT, INT64, const, model, tensor

RNG = np.random.default_rng(3)


@pytest.fixture()
def conv_model_path(tmp_path) -> str:
    """x [N, 3, H, W] -> Conv -> Relu -> y [N, 4, H, W], plus a 2-D side output."""
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"]),
        helper.make_node("ReduceMean", ["y"], ["m"], axes=[2, 3], keepdims=0),
    ]
    inits = [const("w", RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)), const("b", np.zeros(4, np.float32))]
    proto = model(nodes, [tensor("x", FLOAT, ["N", 3, "H", "W"])], [tensor("y", FLOAT, ["N", 4, "H", "W"]), tensor("m", FLOAT, ["N", 4])], inits, 13)
    path = tmp_path / "conv.onnx"
    onnx.save(proto, path)
    return str(path)


def assert_no_internal_traceback(error: BaseException) -> None:
    """No NumPy / onnx / xDSL exception is chained to the user-facing one."""
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def load(path: str, shape=(1, 3, 8, 6), dtype=ScalarType.float32) -> LoadedNet:
    return load_model(onnx_source(path, {"x": shape}, {"x": dtype}))


def test_execute_takes_and_returns_nhwc(conv_model_path) -> None:
    import onnxruntime

    net = load(conv_model_path)
    assert isinstance(onnx_source(conv_model_path, {"x": (1, 3, 8, 6)}), ImporterParams)
    assert net.input_names == ["x"] and net.output_names == ["y", "m"]
    assert net.input_types["x"] == ((1, 8, 6, 3), np.dtype(np.float32))
    image = RNG.standard_normal((1, 3, 8, 6)).astype(np.float32)
    outputs = net.execute({"x": image.transpose(0, 2, 3, 1)}, log_level=logging.INFO)
    assert isinstance(outputs, list) and all(isinstance(o, np.ndarray) for o in outputs)
    expected = onnxruntime.InferenceSession(conv_model_path, providers=["CPUExecutionProvider"]).run(None, {"x": image})
    assert outputs[0].shape == (1, 8, 6, 4)  # 4-D output: NHWC
    np.testing.assert_allclose(outputs[0], expected[0].transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs[1], expected[1], rtol=1e-5, atol=1e-6)


def test_ir_text_prints_the_imported_net(conv_model_path, capsys) -> None:
    net = load(conv_model_path)
    text = net.ir_text()
    assert 'func.func @main(%x: tensor<1x8x6x3xf32> {sima.name = "x"})' in text
    assert "sima.conv2d" in text and "sima.transpose" not in text
    assert 'elided "' in text and "0x" not in text  # weights elided by default
    assert '"0x' in net.ir_text(print_weights=True)
    net.print_ir()
    assert capsys.readouterr().out == text
    assert "LoadedNet('conv'" in repr(net)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"x": np.zeros((1, 3, 8, 6), np.float32)}, r"input 'x' has shape \[1, 3, 8, 6\] and dtype float32: expected shape \[1, 8, 6, 3\] \(NHWC\) and dtype float32"),
        ({"x": np.zeros((1, 8, 6, 3), np.float64)}, r"input 'x' has shape \[1, 8, 6, 3\] and dtype float64: expected shape \[1, 8, 6, 3\] \(NHWC\) and dtype float32"),
        ({}, r"input 'x' is missing: expected shape \[1, 8, 6, 3\]"),
        ({"x": np.zeros((1, 8, 6, 3), np.float32), "z": np.zeros(1)}, r"unknown input 'z'; the model's inputs are \['x'\]"),
        ({"x": [[1.0]]}, r"input 'x' must be a NumPy array, got list"),
        ([np.zeros((1, 8, 6, 3), np.float32)], r"inputs must be a dict"),
    ],
)
def test_bad_execute_inputs_get_one_clear_error(conv_model_path, inputs, message) -> None:
    net = load(conv_model_path)
    with pytest.raises(UserFacingException, match=message) as info:
        net.execute(inputs)
    assert info.value.func_type is ExceptionFuncType.LOADED_NET_EXECUTE
    assert_no_internal_traceback(info.value)


def test_bad_files_get_one_clear_error(conv_model_path, tmp_path) -> None:
    truncated = tmp_path / "truncated.onnx"
    data = open(conv_model_path, "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n")
    cases = {
        str(truncated): r"is not a valid ONNX model \(truncated or not an ONNX file\)",
        str(text): "not",
        str(tmp_path / "missing.onnx"): "does not exist",
    }
    for path, message in cases.items():
        with pytest.raises(UserFacingException, match=message) as info:
            load(path)
        assert info.value.func_type is ExceptionFuncType.LOADED_NET_LOAD
        assert_no_internal_traceback(info.value)


@pytest.mark.parametrize(
    ("shape_dict", "dtype_dict", "message"),
    [
        ({}, None, r"shape_dict has no entry for input 'x' \(declared shape \['N', 3, 'H', 'W'\]\)"),
        ({"x": (1, 3, 8, 6), "extra": (1,)}, None, r"shape_dict names 'extra', which the model does not have"),
        ({"x": (1, 4, 8, 6)}, None, r"model fixes dimension 1 to 3"),
        ({"x": (1, 3, 8)}, None, r"rank-3 shape \[1, 3, 8\], but the model declares rank 4"),
        ({"x": (1, 3, 8, 6)}, {"x": ScalarType.int8}, r"dtype_dict gives input 'x' the type int8, but the model declares float32"),
        ({"x": (1, 3, 8, 6)}, {"x": "no-such-type"}, r"dtype_dict values must be ScalarType members or NumPy dtypes"),
    ],
)
def test_bad_import_parameters_get_one_clear_error(conv_model_path, shape_dict, dtype_dict, message) -> None:
    with pytest.raises(UserFacingException, match=message) as info:
        load_model(onnx_source(conv_model_path, shape_dict, dtype_dict))
    assert_no_internal_traceback(info.value)


def test_unsupported_ops_error_lists_them(tmp_path) -> None:
    nodes = [
        helper.make_node("Sin", ["x"], ["s"], name="sine"),
        helper.make_node("NonZero", ["s"], ["y"], name="nz"),
    ]
    graph = helper.make_graph(nodes, "g", [tensor("x", FLOAT, [4])], [tensor("y", INT64, [1, "n"])])
    path = tmp_path / "unsupported.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(UserFacingException, match=r"unsupported ONNX op types: NonZero \(node 'nz'\); Sin \(node 'sine'\)"):
        load_model(onnx_source(path, {"x": (4,)}))


def test_verbose_errors_keep_the_cause(tmp_path) -> None:
    path = tmp_path / "notes.onnx"
    path.write_bytes(b"\x08\x07garbage" * 3)
    enable_verbose_error_messages()
    try:
        with pytest.raises(UserFacingException) as info:
            load_model(onnx_source(path, {"x": (1,)}))
        assert info.value.__cause__ is not None
    finally:
        disable_verbose_error_messages()
