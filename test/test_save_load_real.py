"""Issue 6's "save -> load -> execute is bit-identical on every real model", for
the quantized det, rec and orientation models (quantized cls: test_model_api_quantized.py;
the four float models: test_sima_file.py).

To keep each model to seconds: MinMax calibration on 2 real inputs, and det and
rec imported at smaller input shapes than their specs (both take any H, W; rec's
height is fixed at 48 by its architecture). orientation takes only 224x224.
"""

from __future__ import annotations

import numpy as np
import pytest

from afe.apis.defines import MinMaxMethod, default_quantization
from afe.apis.model import Model
from models import load_real_net, nhwc_samples

MIN_MAX = default_quantization.with_calibration(MinMaxMethod())

SHAPES = {
    "det": (1, 3, 96, 96),  # spec: 320x320; DBNet needs multiples of 32
    "rec": (1, 3, 48, 96),  # spec: 48x320
    "orientation": (1, 3, 224, 224),
}


@pytest.fixture(scope="module", params=sorted(SHAPES))
def quantized(request) -> tuple[str, Model, list[dict[str, np.ndarray]]]:
    """(model name, its int8 Model, an evaluation sample), quantized once per model."""
    name = request.param
    shape = SHAPES[name]
    net = load_real_net(name, shape)
    model = net.quantize(nhwc_samples(name, 2, seed=0, shape=shape), MIN_MAX, model_name=f"{name}_int8")
    return name, model, nhwc_samples(name, 1, seed=100, shape=shape)


def test_a_quantized_real_model_executes_bit_identically_after_save_and_load(quantized, tmp_path) -> None:
    name, model, samples = quantized
    assert any(row.precision == "int8" for row in model.list_nodes())  # it really is quantized
    model.save(model.name, str(tmp_path))
    loaded = Model.load(model.name, str(tmp_path))
    assert loaded.name == model.name and loaded.quantization_config == model.quantization_config
    assert loaded.list_nodes() == model.list_nodes()
    assert loaded.ir_text() == model.ir_text()  # weights elided with their content digests
    for sample in samples:
        for fast_mode in (False, True):
            expected, got = model.execute(sample, fast_mode), loaded.execute(sample, fast_mode)
            assert len(got) == len(expected)
            for a, b in zip(got, expected):
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_array_equal(a, b, err_msg=f"{name}, fast_mode={fast_mode}")
    # the float reference kept in the file runs as the one saved
    np.testing.assert_array_equal(
        Model(loaded.float_reference, name="r").execute(samples[0])[0],
        Model(model.float_reference, name="r").execute(samples[0])[0],
    )
