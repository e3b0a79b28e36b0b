"""fast mode's int8 form running some convs as float32 Convs (`integer_emulation.lower_qconv2d_on_floats`,
`lower_qconv2d_transpose`).

Where onnxruntime's QLinearConv is slow (the image's stem; depthwise convs over a few rows:
`integer_emulation.runs_on_floats`), the int8 form runs a float32 Conv on the centred input
and casts its output straight to the bytes. That form claims the same bytes as the model
(no relaxation: exact wherever it is taken, QLinearConv elsewhere). Tested here: random
convs with the rule forced on equal the NumPy fast kernels (bit-exact for int8) wherever the
float form was taken; two mutations of its bias are caught; the rule on synthetic convs; on
the real models the int8 form gives byte for byte the outputs of the form before the rule
(and before a qmul by one value became one DequantizeLinear: test_fast_mode_integer.py).
Transposed convs (det's upsampling) run in the same floored float form, exact, wherever it is
provably so: random ones equal the NumPy kernel, and det's fast mode gives bit-exact's outputs
but for the float32 rounding of its last float ops.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from integer_references import quant
from runtime.integer_arithmetic import ArithFoldedRequantization
from runtime.onnx_backend import integer_emulation
from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION, fast_program, runs_on_floats
from sima_dialect.quantized_ops import QConv2DOp, QConv2DTransposeOp
from test_fast_mode_integer import SETTINGS, _int8_gemm, conv_module, integer_emulated, steps_apart
from test_integer_kernels_gemm import conv_cases, int_arrays, requantization_object
from test_integer_kernels_upscale import conv_transpose_cases
from test_onnx_backend_ops import one_op



class FloatConvs:
    """The rule forced to `choice` for every conv, and which convs the float form lowered
    (`lower_qconv2d_on_floats` returned nodes; None: it declined, QLinearConv ran)."""

    def __init__(self, choice: bool = True):
        self.choice = choice
        self.lowered: list[bool] = []

    def __enter__(self):
        original = integer_emulation.lower_qconv2d_on_floats

        def recording(*args):
            nodes = original(*args)
            self.lowered.append(nodes is not None)
            return nodes

        self._patches = [
            mock.patch.object(integer_emulation, "runs_on_floats", lambda op, w: self.choice),
            mock.patch.object(integer_emulation, "lower_qconv2d_on_floats", recording),
        ]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *exc):
        for patch in reversed(self._patches):
            patch.stop()


def _sima(case) -> bool:
    return _int8_gemm(case) and case["requant"]["mode"] == "sima"


@st.composite
def float_conv_cases(draw, cases=conv_cases):
    """sima int8 conv cases (of `cases`) with the shifts (0 to 14) and biases (|b| <= 2**16) of real
    layers: the gemm cases' shifts up to 31 and biases up to 2**24 mostly leave float32's exact
    range (the float form then declines: QLinearConv runs), these mostly stay inside it."""
    case = draw(cases().filter(_sima))
    count, c_out = len(case["requant"]["shift"]), case["weight"].shape[-1]
    shift = draw(st.lists(st.integers(0, 14), min_size=count, max_size=count))
    bias = draw(int_arrays(32, (c_out,), -(2**16), 2**16))
    return {**case, "bias": bias, "requant": {**case["requant"], "shift": shift}}


@SETTINGS
@given(float_conv_cases())
def test_float_conv_gives_the_models_bytes(case):
    """Every sima int8 conv (dense, grouped, depthwise; strides, dilations, pads, relu, per-channel
    shifts, any zero points) with the rule on: where the float form is taken, the same bytes as
    the NumPy fast kernel, and no QLinearConv left; where it declines, QLinearConv's bound."""
    with FloatConvs() as convs:
        (expected,), (produced,), _ = integer_emulated(conv_module(case), [case["x"]])
    assert len(convs.lowered) == 1
    event("float form" if convs.lowered[0] else "declined: QLinearConv")
    if convs.lowered[0]:
        assert steps_apart([expected], [produced]) == 0
    else:
        assert steps_apart([expected], [produced]) <= 1


def _every_byte_conv(shift: int, zero_point: int = 3, relu: bool = False):
    """A 1x1 conv with weight 1 read at every int8 value: A 2**-n hits every tie of both signs."""
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16, 1)
    bias = np.array([-(2 ** (shift + 3))], dtype=np.int32)  # centres the outputs within int8
    module = one_op(
        lambda v, w, b: QConv2DOp(v, w, b, ArithFoldedRequantization(np.array(shift)), 0, quant(8, 0.5, 0),
                                  strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1], groups=1, relu=relu),
        [(x, quant(8, 0.25, zero_point))], [np.ones((1, 1, 1, 1), np.int8), bias],
    )
    return module, x


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("shift", [0, 1, 2, 7, 15])
def test_float_conv_rounds_every_tie_as_the_model(shift, relu):
    """Ties of both signs round half up as sima does (the 2**(n-1) in the bias), the relu
    clamps at q = 0: every int8 input, exact, on a float Conv (no QLinearConv)."""
    module, x = _every_byte_conv(shift, relu=relu)
    with FloatConvs() as convs:
        expected, produced, _ = integer_emulated(module, [x], not_fused="QLinearConv")
    assert convs.lowered == [True]
    assert steps_apart(expected, produced) == 0


def _mutated_bias(mutation: str):
    original = integer_emulation._byte_bias

    def mutated(bias, w, input_zero, shift):
        if mutation == "zero point one off":
            return original(bias, w, input_zero + 1, shift)
        return original(bias, w, input_zero, shift) - np.left_shift(np.int64(1), shift - 1)  # the rounding half left out

    return mock.patch.object(integer_emulation, "_byte_bias", mutated)


@pytest.mark.parametrize("mutation", ["zero point one off", "no rounding half"])
def test_a_wrong_bias_is_caught(mutation):
    """The check above fails on a float form whose bias has the input zero point one off, or
    truncates instead of rounding: the tests can fail."""
    module, x = _every_byte_conv(shift=2)
    with FloatConvs() as convs, _mutated_bias(mutation):
        expected, produced, _ = integer_emulated(module, [x], not_fused="QLinearConv")
    assert convs.lowered == [True]
    assert steps_apart(expected, produced) >= 1


# ---------------------------------------------------------------------------
# transposed convs


@SETTINGS
@given(float_conv_cases(conv_transpose_cases))
def test_float_conv_transpose_gives_the_models_bytes(case):
    """Every sima int8 transposed conv (strides, dilations, pads, output padding, relu, per-channel
    shifts, any zero points): where the floored float form is proven, the NumPy kernel's bytes;
    where it declines, the float emulation's, within a step."""
    r = case["requant"]

    def build(x, w, b):
        return QConv2DTransposeOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(8, 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], output_padding=case["output_padding"], relu=r["relu"],
        )

    module = one_op(build, [(case["x"], quant(8, 0.25, case["zero_point"]))], [case["weight"], case["bias"]])
    [op] = [op for op in module.walk() if isinstance(op, QConv2DTransposeOp)]
    proven = integer_emulation._floored_gemm_constants(op, case["weight"], case["bias"]) is not None
    (expected,), (produced,), _ = integer_emulated(module, [case["x"]])
    event("floored float form" if proven else "declined: the float emulation")
    assert steps_apart([expected], [produced]) <= (0 if proven else 1)


@pytest.fixture(scope="module")
def det_int8():
    from afe.apis.defines import MinMaxMethod, default_quantization
    from models import load_real_net, nhwc_samples

    net = load_real_net("det")  # fails, not skips, when the model's package is missing
    samples = nhwc_samples("det", 6, seed=7)
    return net.quantize(samples[:4], default_quantization.with_calibration(MinMaxMethod())), samples[4:]


def test_det_fast_mode_is_bit_exact_up_to_its_last_float_ops(det_int8, monkeypatch):
    """det's fast mode (the int8 form: its two transposed convs floored on floats, its input quantized
    as the kernel rounds) gives bit-exact's outputs on 2 real inputs up to an ulp of its float32
    output (the float ops after its last dequantize: onnxruntime's and NumPy's roundings). Before
    (the float emulation's ConvTranspose): steps apart at a few outputs, 30-34 dB."""
    monkeypatch.delenv(integer_emulation.FAST_FORM_VARIABLE, raising=False)
    monkeypatch.delenv("SIMA_RUNTIME", raising=False)
    model, samples = det_int8
    program = fast_program(model._interpreter(True), threads=1)
    assert program.emulation is INTEGER_EMULATION and program.numpy_ops() == []
    for sample in samples:
        [fast], [exact] = program.run(sample), model._executor(False).run(sample)
        assert fast.dtype == exact.dtype == np.float32
        np.testing.assert_allclose(fast, exact, rtol=0, atol=2.0**-24)


# ---------------------------------------------------------------------------
# the rule


def _conv(channels: int, out_channels: int, rows: int, groups: int = 1, kernel: int = 3, shift: int = 8, bias_step: int = 5):
    x = np.random.default_rng(channels + rows).integers(-128, 128, (1, rows, 6, channels)).astype(np.int8)
    weight = np.random.default_rng(1).integers(-20, 21, (kernel, kernel, channels // groups, out_channels)).astype(np.int8)
    pad = kernel // 2
    module = one_op(
        lambda v, w, b: QConv2DOp(v, w, b, ArithFoldedRequantization(np.array(shift)), 0, quant(8, 0.5, 2),
                                  strides=[1, 1], pads=[pad] * 4, dilations=[1, 1], groups=groups, relu=False),
        [(x, quant(8, 0.25, -7))], [weight, np.arange(out_channels, dtype=np.int32) * bias_step],
    )
    op = next(op for op in module.walk() if isinstance(op, QConv2DOp))
    return module, op, weight, x


@pytest.mark.parametrize(
    "channels, out_channels, rows, groups, kernel, floats",
    [
        (3, 16, 9, 1, 3, True),  # the image's stem
        (4, 8, 9, 1, 3, True),
        (5, 8, 9, 1, 3, False),
        (16, 16, 9, 1, 1, False),  # pointwise
        (16, 16, 3, 1, 1, False),  # a few rows, not depthwise
        (16, 16, 3, 16, 5, True),  # depthwise over 3 rows (cls)
        (16, 16, 4, 16, 3, True),
        (16, 16, 5, 16, 3, False),
        (16, 16, 14, 16, 5, False),  # depthwise over 14 rows (orientation)
    ],
)
def test_the_rule_picks_float_convs_by_shape(channels, out_channels, rows, groups, kernel, floats):
    module, op, weight, x = _conv(channels, out_channels, rows, groups, kernel)
    assert runs_on_floats(op, weight) == floats
    # and the program follows it: a float Conv, or QLinearConv; the same bytes either way
    expected, produced, _ = integer_emulated(module, [x], **({"not_fused": "QLinearConv"} if floats else {"fused": "QLinearConv"}))
    assert steps_apart(expected, produced) == 0


def test_a_conv_the_float_form_cannot_prove_exact_runs_on_qlinearconv():
    """A stem conv whose bias leaves float32's exact range (up to 7 2**22 here, as rec's stem) is picked
    by the rule, declined by the float form, and runs on QLinearConv in onnxruntime (not in
    NumPy), exact."""
    module, op, weight, x = _conv(3, 8, 6, bias_step=2**22)
    assert runs_on_floats(op, weight)
    with FloatConvs() as convs:
        expected, produced, program = integer_emulated(module, [x], fused="QLinearConv")
    assert convs.lowered == [False] and program.numpy_ops() == []
    assert steps_apart(expected, produced) == 0


# ---------------------------------------------------------------------------
# real models: the rule changes no byte


@pytest.fixture(scope="module", params=["orientation", "cls", "det", "rec"])
def real_int8(request):
    from afe.apis.defines import MinMaxMethod, default_quantization
    from models import load_real_net, nhwc_samples

    net = load_real_net(request.param)  # fails, not skips, when the model's package is missing
    samples = nhwc_samples(request.param, 6, seed=7)
    model = net.quantize(samples[:4], default_quantization.with_calibration(MinMaxMethod()))
    return request.param, model, samples[4:]


def test_real_models_give_the_int8_forms_bytes(real_int8, monkeypatch):
    """Fast mode's int8 form on the real models gives byte for byte the outputs of the form before
    these three changes (every conv on QLinearConv, every qmul as a Mul, every elementwise op on its
    own), in one onnxruntime session, with the float form taken for every conv the rule picks
    (orientation: its stem; cls: its stem, an SE block's conv reading 2 channels, 8 depthwise convs
    over 2-3 rows; det: its stem), the chains of elementwise ops read as one table each (PP-LCNet's
    hard_swish -> qmul -> qadd: det 24, rec 35; orientation's hard_swish -> qmul) and the qmuls by
    one value outside them folded (rec 2; before the chains: det 24, rec 37, orientation 1)."""
    name, model, samples = real_int8
    monkeypatch.delenv(integer_emulation.FAST_FORM_VARIABLE, raising=False)
    with FloatConvs(choice=False), mock.patch.object(integer_emulation, "_scaled_by_one_value", lambda *args: None), \
            mock.patch.object(integer_emulation.IntegerEmulation, "fuses_chains", False):
        reference = fast_program(model._interpreter(True), threads=1)
    picked, folded = [], []
    rule, fold = integer_emulation.runs_on_floats, integer_emulation._scaled_by_one_value
    with FloatConvs() as convs, mock.patch.object(integer_emulation, "runs_on_floats", lambda op, w: picked.append(rule(op, w)) or picked[-1]), \
            mock.patch.object(integer_emulation, "_scaled_by_one_value", lambda *args: folded.append(fold(*args) is not None) or fold(*args)):
        program = fast_program(model._interpreter(True), threads=1)
    assert program.emulation is INTEGER_EMULATION and program.numpy_ops() == [] and program.segment_count() == 1
    # convs the rule picks, of them on floats (rec's stem: biases near 2**24, not provably exact in
    # float32: QLinearConv), qmuls folded (those outside the chains), chains read as tables
    counts = {"orientation": (1, 1, 0, 1), "cls": (10, 10, 0, 0), "det": (1, 1, 0, 24), "rec": (3, 2, 2, 35)}[name]
    chains = [op for op in program.lowered_ops() if " -> " in op]  # each read as one table
    assert (sum(picked), sum(convs.lowered), sum(folded), len(chains)) == counts
    for sample in samples:
        for ours, theirs in zip(program.run(sample), reference.run(sample)):
            np.testing.assert_array_equal(ours, theirs)
