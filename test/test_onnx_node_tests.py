"""The ONNX backend node tests shipped in the onnx wheel, run through our importer and runtime.

Every test directory `onnx/backend/test/data/node/<test>/` whose op types are
all in `SUPPORTED_ONNX_OPS` is an item: its model is imported, run by the
NumPy interpreter on `test_data_set_0/input_*.pb`, and compared with
`output_*.pb` at ONNX's own tolerance (rtol 1e-3, atol 1e-7; exact for
integers and booleans). 4-D inputs are fed NHWC and 4-D outputs read back
NHWC, as the API does.

The generated tests make every operand a graph input, including the ones a
real exporter writes as constants (a Reshape's shape, Slice bounds, Resize
scales...). The IR has static shapes, so those operands
(`CONSTANT_OPERANDS`) are turned into initializers holding the test's own
values before import.

A test that needs something we reject is listed in `EXCLUDED` (or is caught by
the element-type rule) with the reason, and the item then checks that import
fails with exactly that reason, as one clear `OnnxImportError`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from lowering.onnx_converters import CONSTANT_OPERANDS
from lowering.onnx_graph import OnnxImportError
from lowering.onnx_importer import SUPPORTED_ONNX_OPS, import_onnx
from lowering.onnx_loading import SUPPORTED_DTYPES
from runtime.interpreter import Interpreter

NODE_TESTS = Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"

# reason (a fragment of the import error) -> the tests it excludes
EXCLUDED: dict[str, list[str]] = {
    "dilations [2, 2] are not supported for AveragePool": ["test_averagepool_2d_dilations"],
    "only 1-D and 2-D spatial inputs": [
        "test_averagepool_3d_default",
        "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_False",
        "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_True",
        "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False",
        "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True",
        "test_averagepool_3d_dilations_small",
        "test_convtranspose_3d",
        "test_maxpool_3d_default",
        "test_maxpool_3d_dilations",
        "test_maxpool_3d_dilations_use_ref_impl",
        "test_maxpool_3d_dilations_use_ref_impl_large",
    ],
    "training mode (running mean / variance outputs) is not supported": [
        "test_batchnorm_epsilon_training_mode",
        "test_batchnorm_example_training_mode",
    ],
    "training_mode = true is not supported": [
        "test_training_dropout",
        "test_training_dropout_default",
        "test_training_dropout_default_mask",
        "test_training_dropout_mask",
        "test_training_dropout_zero_ratio",
        "test_training_dropout_zero_ratio_mask",
    ],
    # the crop size is a run-time input, so the output shape is data dependent
    "must be known at import time": [
        "test_center_crop_pad_crop_and_pad_expanded",
        "test_center_crop_pad_crop_axes_chw_expanded",
        "test_center_crop_pad_crop_axes_hwc_expanded",
        "test_center_crop_pad_crop_expanded",
        "test_center_crop_pad_crop_negative_axes_hwc_expanded",
        "test_center_crop_pad_pad_expanded",
    ],
    "the Indices output of MaxPool is not supported": [
        "test_maxpool_with_argmax_2d_precomputed_pads",
        "test_maxpool_with_argmax_2d_precomputed_strides",
    ],
    "mode 'cubic' is not supported": [
        "test_resize_downsample_scales_cubic",
        "test_resize_downsample_scales_cubic_A_n0p5_exclude_outside",
        "test_resize_downsample_scales_cubic_align_corners",
        "test_resize_downsample_scales_cubic_antialias",
        "test_resize_downsample_sizes_cubic",
        "test_resize_downsample_sizes_cubic_antialias",
        "test_resize_upsample_scales_cubic",
        "test_resize_upsample_scales_cubic_A_n0p5_exclude_outside",
        "test_resize_upsample_scales_cubic_align_corners",
        "test_resize_upsample_scales_cubic_asymmetric",
        "test_resize_upsample_sizes_cubic",
    ],
    "gives a fractional size": [
        "test_resize_downsample_scales_linear",
        "test_resize_downsample_scales_linear_align_corners",
        "test_resize_downsample_scales_nearest",
    ],
    "antialias = 1 is not supported": [
        "test_resize_downsample_scales_linear_antialias",
        "test_resize_downsample_sizes_linear_antialias",
    ],
    "coordinate_transformation_mode 'half_pixel_symmetric' is not supported": [
        "test_resize_downsample_scales_linear_half_pixel_symmetric",
        "test_resize_upsample_scales_linear_half_pixel_symmetric",
    ],
    "coordinate_transformation_mode 'tf_crop_and_resize' is not supported": [
        "test_resize_tf_crop_and_resize",
        "test_resize_tf_crop_and_resize_axes_2_3",
        "test_resize_tf_crop_and_resize_axes_3_2",
        "test_resize_tf_crop_and_resize_extrapolation_value",
    ],
    "keep_aspect_ratio_policy": [
        "test_resize_downsample_sizes_nearest_not_larger",
        "test_resize_downsample_sizes_nearest_not_smaller",
        "test_resize_upsample_sizes_nearest_not_larger",
        "test_resize_upsample_sizes_nearest_not_smaller",
    ],
    "mode 'wrap' is not supported": ["test_wrap_pad"],
    "only tensor inputs are supported": ["test_identity_opt", "test_identity_sequence"],
}
EXCLUSION_OF = {test: reason for reason, tests in EXCLUDED.items() for test in tests}

# tests whose reference data the runtime's arithmetic misses (strict xfail: fixing them is noticed)
KNOWN_MISMATCHES: dict[str, str] = {
    "test_causal_conv_with_state_silu_fp16_expanded": "float16 convolution accumulates in float16 in the runtime "
    "kernel; 9 of 64 outputs are 2 ulp off the reference",
}


def _op_types(model: onnx.ModelProto) -> set[str]:
    return {n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}" for n in model.graph.node}


def _element_types(model: onnx.ModelProto) -> set[str]:
    """NumPy names of the graph's input and output element types (tensors only)."""
    names = set()
    for value in list(model.graph.input) + list(model.graph.output):
        if value.type.WhichOneof("value") == "tensor_type":
            names.add(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)).name)
    return names


def _supported_tests() -> list[str]:
    return sorted(
        d.name for d in NODE_TESTS.iterdir() if (d / "model.onnx").exists() and _op_types(onnx.load(d / "model.onnx")) <= SUPPORTED_ONNX_OPS
    )


def _load_tensor(path: Path) -> np.ndarray:
    proto = onnx.TensorProto()
    proto.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(proto)


def _data(test: str, kind: str) -> list[np.ndarray]:
    folder = NODE_TESTS / test / "test_data_set_0"
    files = sorted(folder.glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
    return [_load_tensor(p) for p in files]


def freeze_constant_operands(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """Turn graph inputs that feed a CONSTANT_OPERANDS slot into initializers with the test's values."""
    frozen = {
        node.input[index]
        for node in model.graph.node
        for index in CONSTANT_OPERANDS.get(node.op_type, ())
        if index < len(node.input) and node.input[index] in feeds
    }
    if not frozen:
        return model, feeds
    result = onnx.ModelProto()
    result.CopyFrom(model)
    kept = [value for value in result.graph.input if value.name not in frozen]
    del result.graph.input[:]
    result.graph.input.extend(kept)
    result.graph.initializer.extend(numpy_helper.from_array(feeds[name], name) for name in sorted(frozen))
    return result, {k: v for k, v in feeds.items() if k not in frozen}


def _expected_failure(test: str, model: onnx.ModelProto) -> str | None:
    if test in EXCLUSION_OF:
        return EXCLUSION_OF[test]
    unsupported = _element_types(model) - set(SUPPORTED_DTYPES)
    if unsupported:
        return "has element type"
    return None


def _nhwc(array: np.ndarray) -> np.ndarray:
    return array.transpose(0, 2, 3, 1) if array.ndim == 4 else array


def _nchw(array: np.ndarray) -> np.ndarray:
    return array.transpose(0, 3, 1, 2) if array.ndim == 4 else array


SUPPORTED_TESTS = _supported_tests()


@pytest.mark.parametrize(
    "test",
    [pytest.param(t, marks=pytest.mark.xfail(reason=KNOWN_MISMATCHES[t], strict=True)) if t in KNOWN_MISMATCHES else t for t in SUPPORTED_TESTS],
)
def test_onnx_node(test: str) -> None:
    model = onnx.load(NODE_TESTS / test / "model.onnx")
    reason = _expected_failure(test, model)
    if reason is not None:
        with pytest.raises(OnnxImportError, match=_escaped(reason)):
            _run(test, model)
        return
    outputs, expected = _run(test, model)
    assert len(outputs) == len(expected)
    for index, (got, want) in enumerate(zip(outputs, expected)):
        got = _nchw(got)
        assert got.dtype == want.dtype, f"output {index}: dtype {got.dtype}, expected {want.dtype}"
        assert got.shape == want.shape, f"output {index}: shape {got.shape}, expected {want.shape}"
        if want.dtype.kind == "V" or want.dtype == np.float16:  # bfloat16 / float16: compare as float32
            got, want = got.astype(np.float32), want.astype(np.float32)
        if want.dtype.kind in "fc":
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-7, err_msg=f"output {index}")
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"output {index}")


def _escaped(reason: str) -> str:
    import re

    return re.escape(reason)


def _run(test: str, model: onnx.ModelProto) -> tuple[list[np.ndarray], list[np.ndarray]]:
    initializer_names = {init.name for init in model.graph.initializer}
    names = [value.name for value in model.graph.input if value.name not in initializer_names]
    tensor_inputs = all(v.type.WhichOneof("value") == "tensor_type" for v in model.graph.input)
    inputs = _data(test, "input") if tensor_inputs else [np.zeros(0)] * len(names)
    model, feeds = freeze_constant_operands(model, dict(zip(names, inputs)))
    result = import_onnx(model, {name: value.shape for name, value in feeds.items()})
    outputs = Interpreter(result.module).run({name: _nhwc(value) for name, value in feeds.items()})
    return outputs, _data(test, "output")


def test_every_supported_op_type_has_node_tests() -> None:
    """The supported list is exercised: each converted op type appears in some node test."""
    covered = set().union(*(_op_types(onnx.load(NODE_TESTS / t / "model.onnx")) for t in SUPPORTED_TESTS))
    assert SUPPORTED_ONNX_OPS - covered - {"Constant"} == set()


def test_exclusions_name_existing_supported_tests() -> None:
    assert set(EXCLUSION_OF) <= set(SUPPORTED_TESTS)
