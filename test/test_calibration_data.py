"""Calibration data (seed 003): any iterable of {input_name: array} dicts,
read once, checked sample by sample, with a progress bar."""

from __future__ import annotations

import io

import numpy as np
import pytest

from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.apis.release_v1 import DataGenerator
from afe.core.utils import convert_data_generator_to_iterable, length_hinted
from afe.ir.tensor_type import ScalarType
from runtime.calibration_data import iterate_calibration_samples

SPECS = {"image": ((1, 4, 4, 3), "float32"), "mask": ((1, 4), np.int32)}


def _sample(i=0, **overrides):
    sample = {
        "image": np.full((1, 4, 4, 3), float(i), dtype=np.float32),
        "mask": np.arange(4, dtype=np.int32).reshape(1, 4),
    }
    sample.update(overrides)
    return sample


def _read(data, specs=SPECS, **kwargs):
    return list(iterate_calibration_samples(data, specs, **kwargs))


class _CountingIterable:
    """An iterable that records how often it is iterated."""

    def __init__(self, samples):
        self.samples, self.iterations = samples, 0

    def __iter__(self):
        self.iterations += 1
        return iter(self.samples)


# ------------------------------------------------------------ accepted ------


def test_list_of_samples():
    samples = _read([_sample(i) for i in range(3)])
    assert len(samples) == 3
    assert samples[2]["image"].dtype == np.float32 and samples[2]["image"][0, 0, 0, 0] == 2.0
    assert samples[0]["mask"].dtype == np.int32


def test_one_shot_generator_is_read_once():
    generator = (_sample(i) for i in range(5))
    assert [s["image"][0, 0, 0, 0] for s in _read(generator)] == [0, 1, 2, 3, 4]


def test_iterable_is_iterated_exactly_once():
    data = _CountingIterable([_sample(i) for i in range(4)])
    assert len(_read(data)) == 4
    assert data.iterations == 1


def test_samples_are_converted_to_the_input_dtype():
    sample = _sample(image=np.ones((1, 4, 4, 3)), mask=[[1, 2, 3, 4]])  # float64, Python ints
    checked = _read([sample])[0]
    assert checked["image"].dtype == np.float32 and checked["mask"].dtype == np.int32


def test_a_missing_batch_dimension_of_one_is_added():
    checked = _read([_sample(image=np.zeros((4, 4, 3), np.float32), mask=np.zeros(4, np.int32))])[0]
    assert checked["image"].shape == (1, 4, 4, 3) and checked["mask"].shape == (1, 4)


def test_dtypes_may_be_given_as_scalar_types_and_dims_as_wildcards():
    specs = {"x": ((None, 3), ScalarType.float32)}
    checked = _read([{"x": np.zeros((7, 3))}], specs)[0]
    assert checked["x"].shape == (7, 3) and checked["x"].dtype == np.float32


def test_data_generator_pipeline_of_seed_003():
    """DataGenerator + map + convert_data_generator_to_iterable + length_hinted,
    as in seed 003's example (per-sample arrays in NCHW, preprocessed to NHWC)."""
    images = np.random.default_rng(0).random((12, 3, 4, 4))
    generator = DataGenerator({"image": images, "mask": np.zeros((12, 4), np.int32)})
    generator.map({"image": lambda image: image.transpose([1, 2, 0]).astype(np.float32)})
    iterable = convert_data_generator_to_iterable(generator, length_limit=5)
    assert len(iterable) == 5
    stream = io.StringIO()
    samples = _read(length_hinted(5, iterable), progress=True, progress_file=stream)
    assert len(samples) == 5
    np.testing.assert_allclose(samples[3]["image"][0], images[3].transpose(1, 2, 0), rtol=1e-6)
    assert "5/5" in stream.getvalue()
    # The iterable can be read again (seed 003 builds it twice).
    assert len(_read(iterable)) == 5


# ----------------------------------------------------------- progress -------


def test_progress_bar_shows_samples_done_and_the_total_when_known():
    stream = io.StringIO()
    _read([_sample(i) for i in range(7)], progress=True, progress_file=stream)
    final = stream.getvalue().split("\r")[-1]
    assert "7/7" in final and "100%" in final and "samples/s" in final


def test_progress_bar_counts_samples_of_unknown_length():
    stream = io.StringIO()
    _read((_sample(i) for i in range(6)), progress=True, progress_file=stream)
    final = stream.getvalue().split("\r")[-1]
    assert "Calibration: 6 samples" in final and "/6" not in final


def test_length_hinted_sets_the_total():
    stream = io.StringIO()
    _read(length_hinted(3, (_sample(i) for i in range(3))), progress=True, progress_file=stream)
    assert "3/3" in stream.getvalue()


def test_progress_bar_can_be_switched_off():
    stream = io.StringIO()
    _read([_sample()], progress=False, progress_file=stream)
    assert stream.getvalue() == ""


# -------------------------------------------------------------- errors ------


def _error(data, specs=SPECS, **kwargs) -> UserFacingException:
    with pytest.raises(UserFacingException) as info:
        _read(data, specs, **kwargs)
    assert info.value.func_type is kwargs.get("func_type", ExceptionFuncType.LOADED_NET_QUANTIZE)
    return info.value


def test_missing_input_names_the_sample_and_the_input():
    sample = _sample()
    del sample["mask"]
    message = str(_error([_sample(), sample]))
    assert "sample 1" in message and "'mask'" in message and "missing" in message


def test_unknown_input_is_an_error():
    message = str(_error([_sample(extra=np.zeros(3))]))
    assert "sample 0" in message and "'extra'" in message and "'image'" in message


def test_wrong_shape_names_the_sample_input_and_shapes():
    message = str(_error([_sample(), _sample(), _sample(image=np.zeros((1, 4, 3), np.float32))]))
    assert "sample 2" in message and "'image'" in message
    assert "(1, 4, 3)" in message and "(1, 4, 4, 3)" in message


@pytest.mark.parametrize("value", [np.zeros((1, 4), np.float32), np.array([["a", "b", "c", "d"]]),
                                   np.zeros((1, 4), complex)])
def test_dtype_that_does_not_convert_is_an_error(value):
    message = str(_error([_sample(mask=value)]))
    assert "sample 0" in message and "'mask'" in message and "int32" in message


def test_integer_values_outside_the_input_type_are_an_error():
    message = str(_error([_sample(mask=np.array([[1, 2, 3, 2**40]]))]))
    assert "'mask'" in message and "range" in message


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_is_an_error(bad):
    image = np.zeros((1, 4, 4, 3), np.float32)
    image[0, 1, 2, 0] = bad
    message = str(_error([_sample(), _sample(), _sample(), _sample(image=image)]))
    assert "sample 3" in message and "'image'" in message and "NaN or Inf" in message


def test_empty_data_is_an_error():
    assert "empty" in str(_error([]))
    assert "empty" in str(_error(iter(())))


def test_a_sample_that_is_not_a_dict_is_an_error():
    message = str(_error([_sample(), np.zeros((1, 4, 4, 3))]))
    assert "sample 1" in message and "dict" in message


def test_a_single_dict_instead_of_a_list_is_an_error():
    assert "wrap it in a list" in str(_error(_sample()))


def test_non_iterable_data_is_an_error():
    assert "iterable" in str(_error(42))


def test_errors_can_name_another_api_call():
    sample = _sample()
    del sample["image"]
    error = _error([sample], func_type=ExceptionFuncType.LOADED_NET_EXECUTE)
    assert "executing the loaded model" in str(error)


def test_samples_before_a_bad_one_are_yielded():
    """Samples stream: the bad sample's error comes after the good ones."""
    seen = []
    with pytest.raises(UserFacingException, match="sample 2"):
        for sample in iterate_calibration_samples([_sample(0), _sample(1), {"image": None}], SPECS):
            seen.append(sample)
    assert len(seen) == 2


# -------------------------------------------------- helpers' own errors -----


def test_data_generator_checks_its_inputs():
    with pytest.raises(UserFacingException, match="different numbers of samples"):
        DataGenerator({"a": np.zeros((3, 2)), "b": np.zeros((4, 2))})
    with pytest.raises(UserFacingException, match="non-empty dict"):
        DataGenerator([np.zeros(3)])
    generator = DataGenerator({"a": np.zeros((3, 2))})
    with pytest.raises(UserFacingException, match="unknown input 'b'"):
        generator.map({"b": np.abs})
    with pytest.raises(UserFacingException, match="not callable"):
        generator.map({"a": 3})


def test_data_generator_maps_compose_and_report_failures():
    generator = DataGenerator({"a": [np.float32(1.0), np.float32(2.0)]})
    assert generator.map({"a": lambda x: x + 1}).map({"a": lambda x: x * 10}) is generator
    assert [s["a"] for s in generator] == [20.0, 30.0]
    generator.map({"a": lambda x: x.reshape(5)})
    with pytest.raises(UserFacingException, match="input 'a' failed on sample 0"):
        generator[0]


def test_helpers_reject_bad_arguments():
    with pytest.raises(UserFacingException, match="length"):
        length_hinted(-1, [])
    with pytest.raises(UserFacingException, match="iterable"):
        length_hinted(3, 5)
    with pytest.raises(UserFacingException, match="length_limit"):
        convert_data_generator_to_iterable(DataGenerator({"a": np.zeros(2)}), length_limit=-2)
    with pytest.raises(UserFacingException, match="DataGenerator"):
        convert_data_generator_to_iterable(5)
