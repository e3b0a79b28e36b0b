"""The `afe` command line, in process through `afe.cli.main(argv)`, on the shipped
example (examples/ppocr_cls: the PP-OCR cls model and real text-line crops).

Fast settings (min/max calibration, a few samples): the commands are under
test here, not the calibration methods. `afe demo` runs end to end once, as
the README's first command does, in test_cli_demo.py.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afe.apis.defines import MinMaxMethod, QuantizationPrecision, RequantizationMode, default_quantization, quantization_scheme
from afe.apis.model import Model
from afe.cli import main
from afe.cli_inspect import output_quantizations

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ppocr_cls"
MODEL = str(EXAMPLE / "ch_ppocr_mobile_v2.0_cls_infer.onnx")
CALIBRATION = str(EXAMPLE / "calibration.npz")
EVALUATION = str(EXAMPLE / "evaluation.npz")
FAST = ["--calibration-method", "min_max", "--max-samples", "4"]
COMMANDS = ["demo", "quantize", "run", "inspect", "analyze"]


def afe(capsys, *argv: str) -> tuple[int, str, str]:
    """Run `afe argv` in process: (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err: str) -> str:
    """The error afe printed: the last line of stderr, which must be its only line
    from afe (the logger may have warned before it), and no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("afe")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def quantized(tmp_path_factory) -> Path:
    """`afe quantize` of the example into a temporary directory: the .sima file."""
    out = tmp_path_factory.mktemp("quantized")
    assert main(["quantize", MODEL, "--calibration-data", CALIBRATION, "-o", str(out), "--name", "cls", *FAST]) == 0
    return out / "cls.sima"


# -- --help ------------------------------------------------------------------------------


def test_help_is_everywhere(capsys) -> None:
    code, out, _ = afe(capsys, "--help")
    assert code == 0 and all(command in out for command in COMMANDS)
    for command in COMMANDS:
        code, out, _ = afe(capsys, command, "--help")
        assert code == 0, command
        assert out.startswith(f"usage: afe {command}"), out
        assert "--verbose" in out
    code, out, _ = afe(capsys, "quantize", "--help")
    for option in ("--calibration-method", "--activation-scheme", "--weight-scheme", "--int16", "--requantization-mode",
                   "--unquantized-node", "--int16-node", "--calibration-data", "--output-dir", "--bias-correction",
                   "--channel-equalization", "--smooth-quant", "--weight-rounding", "--suggest-int16", "--suggest-int16-among"):
        assert option in out


def test_no_command_prints_help_and_fails(capsys) -> None:
    code, out, _ = afe(capsys)
    assert code == 2 and "usage: afe" in out


# -- quantize ----------------------------------------------------------------------------


def test_quantize_writes_the_model_files(quantized, capsys) -> None:
    assert quantized.exists() and Path(str(quantized) + ".json").exists()
    model = Model.load(str(quantized))
    assert model.name == "cls"
    assert model.quantization_config == default_quantization.with_calibration(MinMaxMethod())
    precisions = {row.precision for row in model.list_nodes() if row.target == "MLA"}
    assert "int8" in precisions
    assert model.float_reference is not None


def test_quantize_prints_what_it_did(tmp_path, capsys) -> None:
    code, out, err = afe(capsys, "quantize", MODEL, "--calibration-data", CALIBRATION, "-o", tmp_path, *FAST)
    assert code == 0, err
    assert "calibrate  4 samples" in out
    assert re.search(r"nodes +\d+ nodes: MLA \d+", out)
    assert f"wrote      {tmp_path / 'ch_ppocr_mobile_v2.0_cls_infer.sima'}" in out


def test_quantize_options_build_the_config(tmp_path, capsys, caplog) -> None:
    caplog.set_level(logging.INFO, logger="runtime.bias_correction")
    int16_node, float_node = "MLA_0/conv2d_add_relu_2", "MLA_0/conv2d_add_0"
    code, _, err = afe(
        capsys, "quantize", MODEL, "--calibration-data", CALIBRATION, "-o", tmp_path, "--name", "mixed", *FAST,
        "--activation-scheme", "symmetric", "--weight-scheme", "per-tensor", "--requantization-mode", "tflite",
        "--int16-node", int16_node, "--unquantized-node", float_node,
        "--bias-correction", "iterative", "--channel-equalization", "--weight-rounding", "gptq", "--channel-groups",
    )
    assert code == 0, err
    model = Model.load("mixed", str(tmp_path))
    config = model.quantization_config
    assert config.biascorr_type.value == "iterative" and config.channel_equalization and not config.smooth_quant
    assert config.channel_groups
    assert config.weight_rounding
    # iterative bias correction ran and its held-out check decided (4 samples are too few for
    # a significant gain, so the check may keep no correction: then no bias is renamed .bc)
    decision = [r.getMessage() for r in caplog.records if "held-out output error" in r.getMessage()]
    assert decision and "iterative" in decision[0]
    corrected = any(".bc" in line for line in str(model.module).splitlines())
    assert corrected == ("kept: none" not in decision[0])
    assert any(".wr" in line for line in str(model.module).splitlines())  # re-rounded weights
    assert config.calibration_method == MinMaxMethod()
    assert config.activation_quantization_scheme == quantization_scheme(asymmetric=False, per_channel=False, bits=8)
    assert config.weight_quantization_scheme == quantization_scheme(asymmetric=False, per_channel=False, bits=8)
    assert config.requantization_mode is RequantizationMode.tflite
    assert config.node_names == {float_node}
    assert any(options.get("quantization_precision") is QuantizationPrecision.INT_16
               for options in config.custom_quantization_configs.values())
    rows = {row.name.rsplit("/", 1)[-1]: row for row in model.list_nodes()}
    assert rows["conv2d_add_relu_2"].precision == "int16"
    forced = [row for row in model.list_nodes() if row.name.endswith("conv2d_add_0") and row.kind == "sima.conv2d"]
    assert forced and forced[0].target == "APU" and forced[0].precision == "float32"


def test_quantize_suggest_int16_quantizes_the_chosen_nodes_in_int16(tmp_path, capsys) -> None:
    """--suggest-int16 N: suggest_int16_nodes on the calibration data picks among the candidates,
    says what it measured, and the saved model computes the chosen nodes (only them) in int16."""
    candidates = ["MLA_0/conv2d_add_relu_2", "MLA_0/hard_swish_1"]
    code, out, err = afe(
        capsys, "quantize", MODEL, "--calibration-data", CALIBRATION, "-o", tmp_path, "--name", "suggested", *FAST,
        "--suggest-int16", "1", *(arg for node in candidates for arg in ("--suggest-int16-among", node)),
    )
    assert code == 0, err
    chosen = re.search(r"^int16 +(\S+)$", out, re.MULTILINE)
    assert chosen is not None and chosen.group(1) in candidates, out
    before, after = map(float, re.search(r"calibration SQNR (\S+) -> (\S+) dB", out).groups())
    assert after > before
    precisions = {row.name: row.precision for row in Model.load(str(tmp_path / "suggested.sima")).list_nodes()}
    assert precisions[chosen.group(1)] == "int16"
    assert all(precisions[node] == "int8" for node in candidates if node != chosen.group(1))
    assert re.search(r"time .*suggest int16 [\d.]+ s", out)


def test_quantize_suggest_int16_errors_name_the_option_or_node(tmp_path, capsys) -> None:
    base = ["quantize", MODEL, "--calibration-data", CALIBRATION, "-o", tmp_path, *FAST]
    code, _, err = afe(capsys, *base, "--suggest-int16-among", "MLA_0/hard_swish_1")
    assert code == 1 and "need --suggest-int16 N" in error_line(err)
    code, _, err = afe(capsys, *base, "--suggest-int16", "1", "--suggest-int16-among", "MLA_0/hard_swish_99")
    assert code == 1 and "no node named 'MLA_0/hard_swish_99'" in error_line(err) and "hard_swish_9" in error_line(err)
    assert not list(tmp_path.glob("*.sima"))  # nothing written


def test_quantize_int16_quantizes_every_activation_to_16_bits(tmp_path, capsys) -> None:
    code, _, err = afe(capsys, "quantize", MODEL, "--calibration-data", CALIBRATION, "-o", tmp_path, "--name", "w16", *FAST, "--int16")
    assert code == 0, err
    model = Model.load("w16", str(tmp_path))
    assert model.quantization_config.activation_quantization_scheme.bits == 16
    assert {q.bits for q in output_quantizations(model.module).values()} == {16}


def test_calibration_options_choose_the_method(tmp_path, capsys) -> None:
    code, out, err = afe(
        capsys, "quantize", MODEL, "--calibration-data", CALIBRATION, "-o", tmp_path, "--max-samples", "2",
        "--calibration-method", "percentile", "--percentile", "99.5", "--num-bins", "256",
    )
    assert code == 0, err
    assert "percentile 99.5 (256 bins)" in out
    model = Model.load("ch_ppocr_mobile_v2.0_cls_infer", str(tmp_path))
    method = model.quantization_config.calibration_method
    assert (method.name, method.percentile_value, method.num_bins) == ("percentile", 99.5, 256)


# -- run ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fast_mode", [False, True])
def test_run_saves_the_outputs_of_execute(quantized, tmp_path, capsys, fast_mode) -> None:
    output = tmp_path / "outputs.npz"
    argv = ["run", quantized, "--input", EVALUATION, "-o", output, "--max-samples", "3"] + (["--fast-mode"] if fast_mode else [])
    code, out, err = afe(capsys, *argv)
    assert code == 0, err
    assert f"wrote      {output}" in out
    model = Model.load(str(quantized))
    images = np.load(EVALUATION)["x"][:3]
    saved = np.load(output)
    assert list(saved.files) == model.output_names
    expected = np.stack([model.execute({"x": image[None]}, fast_mode=fast_mode)[0] for image in images])
    np.testing.assert_array_equal(saved[model.output_names[0]], expected)


# -- inspect -----------------------------------------------------------------------------


def test_inspect_lists_nodes_targets_precision_and_scales(quantized, capsys) -> None:
    code, out, err = afe(capsys, "inspect", quantized)
    assert code == 0, err
    model = Model.load(str(quantized))
    quantizations = output_quantizations(model.module)
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("MLA_", "APU_", "CVU_"))}
    assert set(lines) == {row.name for row in model.list_nodes()}
    for row in model.list_nodes():
        fields = lines[row.name]
        assert fields[1:4] == [row.kind, row.target, row.precision]
        if row.name in quantizations:
            assert float(fields[4]) == pytest.approx(quantizations[row.name].scale, rel=1e-5)
            assert int(fields[5]) == quantizations[row.name].zero_point
    assert "min_max calibration" in out


def test_inspect_of_an_onnx_model_lists_the_names_options_take(capsys) -> None:
    code, out, err = afe(capsys, "inspect", MODEL, "--input-shape", "x=1,3,48,192")
    assert code == 0, err
    assert "MLA_0/conv2d_add_0" in out and "x: [1, 48, 192, 3] float32 (NHWC)" in out


def test_inspect_ir(quantized, capsys) -> None:
    code, out, _ = afe(capsys, "inspect", quantized, "--ir")
    assert code == 0 and "sima.qconv2d" in out and "func.func @main" in out


# -- analyze -----------------------------------------------------------------------------


def test_analyze_writes_the_report(quantized, tmp_path, capsys) -> None:
    report = tmp_path / "report.html"
    code, out, err = afe(
        capsys, "analyze", quantized, "--data", EVALUATION, "--metric", "mae", "--local-feed", "--max-samples", "2",
        "-o", report, "--worst", "2",
    )
    assert code == 0, err
    html = report.read_text()
    assert html.count("data:image/png;base64,") == 1 + 2  # the per-layer plot, two histograms
    # the report's numbers are those of the API on the same samples
    model = Model.load(str(quantized))
    images = np.load(EVALUATION)["x"][:2]
    table = model.analyze_quantization_error([{"x": image[None]} for image in images], "mae", local_feed=True)
    worst = table.worst(2)
    for row in worst:
        assert f"<td>{row.node}</td>" in html
    assert re.search(rf"worst +{row_value(worst[0].error_value)} +{re.escape(worst[0].node)}", out), out
    assert re.search(r"SQNR -?\d+\.\d dB, top-1 agreement \d+\.\d %", out)


def row_value(value: float) -> str:
    return re.escape(f"{value:.4g}")


def test_analyze_can_save_the_statistics_into_the_model_files(quantized, tmp_path, capsys) -> None:
    copy = tmp_path / "copy.sima"
    copy.write_bytes(quantized.read_bytes())
    code, out, err = afe(capsys, "analyze", copy, "--data", EVALUATION, "--metric", "psnr", "--max-samples", "2", "--save-stats")
    assert code == 0, err
    assert (tmp_path / "copy_report.html").exists()
    assert '"Layer Statistics"' in Path(str(copy) + ".json").read_text()
    assert Model.load(str(copy)).layer_stats


# -- errors ------------------------------------------------------------------------------


def test_errors_are_one_line_without_a_traceback(quantized, tmp_path, capsys) -> None:
    bad_npz = tmp_path / "bad.npz"
    bad_npz.write_text("not a zip file")
    wrong_name = tmp_path / "wrong_name.npz"
    np.savez(wrong_name, image=np.load(CALIBRATION)["x"][:2])
    wrong_shape = tmp_path / "wrong_shape.npz"
    np.savez(wrong_shape, x=np.zeros((2, 48, 100, 3), np.float32))
    cases = [
        (["quantize", tmp_path / "missing.onnx", "--calibration-data", CALIBRATION], "MODEL '.*missing.onnx': no such file"),
        (["quantize", MODEL, "--calibration-data", bad_npz], "--calibration-data '.*bad.npz': not a readable .npz file"),
        (["quantize", MODEL, "--calibration-data", wrong_name], "the data has no array 'x'.*holds 'image'"),
        (["quantize", MODEL, "--calibration-data", wrong_shape, "--input-shape", "x=1,3,48,192"],
         r"array 'x' has shape \[2, 48, 100, 3\]; input 'x' takes \[N, 48, 192, 3\]"),
        (["quantize", MODEL, "--calibration-data", CALIBRATION, *FAST, "--unquantized-node", "MLA_0/conv2d_ad_0"],
         "error while quantizing the model: .*no node named 'MLA_0/conv2d_ad_0' \\(closest: 'MLA_0/conv2d_add_0'"),
        (["quantize", MODEL, "--calibration-data", CALIBRATION, "--calibration-method", "min_max", "--num-bins", "64"],
         "--num-bins: min_max calibration has no histogram"),
        (["quantize", MODEL, "--calibration-data", CALIBRATION, "--input-shape", "x=1,3,48"], r"input .x. the rank-3 shape \[1, 3, 48\], but the model declares rank 4"),
        (["quantize", MODEL, "--calibration-data", CALIBRATION, "--input-shape", "x:1,3"], "--input-shape 'x:1,3': expected NAME=D0,D1"),
        (["run", quantized, "--input", wrong_shape], r"--input '.*wrong_shape.npz': array 'x' has shape \[2, 48, 100, 3\]"),
        (["run", MODEL, "--input", EVALUATION], "MODEL '.*onnx': expected a .sima file"),
        (["inspect", MODEL], r"dynamic dimensions \[1,3,\?,\?\]; give its shape with --input-shape x=1,3,D,D"),
        (["analyze", quantized, "--data", tmp_path / "none.npz"], "--data '.*none.npz': no such file"),
        (["demo", "--example-dir", tmp_path], "the example is not in"),
    ]
    for argv, expected in cases:
        code, _, err = afe(capsys, *argv)
        assert code == 1, (argv, err)
        line = error_line(err)
        assert line.startswith(f"afe {argv[0]}: "), line
        assert re.search(expected, line), (expected, line)


def test_usage_errors_exit_2_with_one_line(capsys) -> None:
    for argv, expected in [
        (["quantize"], "the following arguments are required: MODEL.onnx, --calibration-data"),
        (["quantize", MODEL, "--calibration-data", CALIBRATION, "--max-samples", "0"], "expected a positive integer, got '0'"),
        (["analyze", "m.sima", "--data", "d.npz", "--metric", "rmse"], "invalid choice: 'rmse'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ]:
        code, out, err = afe(capsys, *argv)
        assert code == 2 and not out
        assert len(err.strip().splitlines()) == 1 and expected in err, err


def test_verbose_shows_the_traceback(capsys, tmp_path) -> None:
    code, _, err = afe(capsys, "run", tmp_path / "missing.sima", "--input", EVALUATION, "--verbose")
    assert code == 1
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("afe run: error: MODEL")
    # and verbose error messages are off again afterwards
    from afe.apis.error_handling_variables import verbose_error_messages_enabled

    assert not verbose_error_messages_enabled()


def test_internal_errors_are_reported_as_such(capsys, monkeypatch) -> None:
    from afe import cli_inspect

    def broken(args):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(cli_inspect, "run", broken)
    code, _, err = afe(capsys, "inspect", "model.sima")
    assert code == 1
    assert error_line(err) == (
        "afe inspect: internal error (RuntimeError: something inside broke); run it again with --verbose for the traceback"
    )


# -- the pieces: sample files, output comparison, the report ------------------------------


def test_sample_files_take_samples_stacked_with_or_without_the_batch_axis() -> None:
    from afe.cli_files import samples_from_arrays

    types = {"x": ((1, 4, 5, 3), np.dtype(np.float32))}
    values = np.random.default_rng(0).normal(size=(6, 4, 5, 3))
    stacked = samples_from_arrays({"x": values}, types, path="f.npz", option="--data")
    batched = samples_from_arrays({"x": values[:, None], "label": np.arange(6)}, types, path="f.npz", option="--data", limit=4)
    assert len(stacked) == 6 and len(batched) == 4
    for one, other, value in zip(stacked, batched, values):
        assert one["x"].shape == (1, 4, 5, 3) and one["x"].dtype == np.float32  # float64 converted
        np.testing.assert_array_equal(one["x"], other["x"])
        np.testing.assert_array_equal(one["x"][0], value.astype(np.float32))


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"x": np.zeros((2, 4, 5, 3)), "y": np.zeros((3, 2), np.int64)}, "different numbers of samples"),
        ({"x": np.zeros((2, 4, 5, 3)), "y": np.zeros((2, 2), np.float32)}, "array 'y' has dtype float32; input 'y' takes int64"),
        ({"x": np.zeros((2, 4, 5, 3))}, r"no array for input 'y' \(the file holds 'x'\)"),
        ({"x": np.zeros((2, 5, 4, 3))}, r"array 'x' has shape \[2, 5, 4, 3\]; input 'x' takes \[N, 4, 5, 3\] or \[N, 1, 4, 5, 3\] \(NHWC\)"),
        ({"x": np.zeros((0, 4, 5, 3)), "y": np.zeros((0, 2), np.int64)}, "holds no samples"),
    ],
)
def test_sample_file_errors_name_the_array(arrays, expected) -> None:
    from afe.apis.errors import UserFacingException
    from afe.cli_files import samples_from_arrays

    types = {"x": ((1, 4, 5, 3), np.dtype(np.float32)), "y": ((2,), np.dtype(np.int64))}
    with pytest.raises(UserFacingException, match=expected):
        samples_from_arrays(arrays, types, path="f.npz", option="--data")


def test_dynamic_dimensions_are_read_off_nhwc_samples() -> None:
    from afe.cli_files import onnx_input_shapes

    shapes, dtypes = onnx_input_shapes(Path(MODEL), {}, {"x": np.zeros((7, 48, 192, 3), np.float32)})
    assert shapes == {"x": (1, 3, 48, 192)} and dtypes == {"x": np.dtype(np.float32)}
    shapes, _ = onnx_input_shapes(Path(MODEL), {"x": (1, 3, 32, 64)}, None)
    assert shapes == {"x": (1, 3, 32, 64)}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), relative=st.floats(1e-4, 0.5))
def test_output_sqnr_is_the_ratio_of_signal_to_noise(seed, relative) -> None:
    from afe.cli_analyze import compare_outputs

    rng = np.random.default_rng(seed)
    scores = [[rng.normal(size=(1, 5))] for _ in range(4)]
    noisy = [[sample[0] * (1 + relative)] for sample in scores]  # noise = relative * signal
    (agreement,) = compare_outputs(["p"], scores, noisy)
    assert agreement.sqnr_db == pytest.approx(-20 * np.log10(relative), abs=1e-6)
    assert agreement.top1_agreement == 1.0  # scaling by (1 + relative) > 0 keeps the argmax
    (same,) = compare_outputs(["p"], scores, scores)
    assert same.sqnr_db == float("inf") and same.max_abs_error == 0.0
    (image,) = compare_outputs(["img"], [[rng.normal(size=(1, 2, 2, 3))]], [[np.zeros((1, 2, 2, 3))]])
    assert image.top1_agreement is None and image.sqnr_db == pytest.approx(0.0)


def test_the_report_renders_unusual_values() -> None:
    from afe.report import ActivationHistogram, LayerRow, OutputAgreement, ReportData, render_report

    layers = [
        LayerRow("MLA_0/conv2d_0", "sima.qconv2d", "int8", 31.5, (-1.0, 2.0)),
        LayerRow("MLA_0/add_1", "sima.qadd", "int16", float("inf"), (0.0, 4.0)),
        LayerRow("APU_0/softmax_2", "sima.softmax", "float32", float("nan")),
    ]
    data = ReportData(
        model_name="m<1>", metric="psnr", local_feed=False, sample_count=3, layers=layers,
        outputs=[OutputAgreement("out", float("inf"), 0.0, None)],
        histograms=[ActivationHistogram("MLA_0/conv2d_0", np.array([0, 3, 1]), np.array([-1.0, 0.0, 1.0, 2.0]), None, None, 0.0, 31.5)],
        worst=["MLA_0/conv2d_0"],
    )
    html = render_report(data)
    assert "m&lt;1&gt;" in html and "∞" in html and "n/a" in html
    assert html.count("data:image/png;base64,") == 2
    assert '<tr class=worst><td>MLA_0/conv2d_0</td>' in html
