"""fast mode for programs with 16-bit values (`runtime.onnx_backend.relaxed_emulation`).

The model edits on small graphs: `relax_roundings` turns each 16-bit QuantizeLinear ->
DequantizeLinear pair into the unrounded value (Mul, Clip) and leaves 8-bit pairs;
`fold_into_convs` moves scalar Muls into Convs (the same values up to float32 rounding);
`drop_redundant_clips` removes only Clips that change nothing (bit-identical outputs on
random graphs and inputs). Ops against the NumPy fast kernels; real models (cls,
orientation at int16) against bit-exact.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from integer_references import integers, quant
from runtime.fast_kernels import FAST_KERNELS
from runtime.integer_arithmetic import lookup_table
from runtime.interpreter import Interpreter
from runtime.kernels import elementwise
from runtime.onnx_backend.program import _Segment
from runtime.onnx_backend.relaxed_emulation import (
    RelaxedProgram,
    drop_redundant_clips,
    fold_into_convs,
    merge_scalar_chains,
    relax_roundings,
    saturate_after_hard_swish,
)
from sima_dialect.quantized_ops import LutOp, QConv2DOp
from test_integer_kernels_gemm import conv_cases, requantization_object
from test_model_api_fast_mode import allowed_difference
from test_onnx_backend_ops import one_op

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _model(nodes, inputs, initializers) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.asarray(value), name) for name, value in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def _run(model: onnx.ModelProto, **feeds) -> np.ndarray:
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    options.log_severity_level = 4
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    copied = onnx.ModelProto()
    copied.CopyFrom(model)
    return copied


def _float_input(shape):
    return [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))]


# ---------------------------------------------------------------------------
# relax_roundings


@SETTINGS
@given(st.floats(1e-3, 1e3), st.integers(-32768, 32767), st.sampled_from([np.int8, np.int16]), st.integers(0, 2**32 - 1))
def test_relax_roundings_keeps_the_value_without_its_rounding(scale, zero, dtype, seed):
    """A 16-bit pair becomes clip(x / a) on the centred range (float32, as the Mul computes it);
    an 8-bit pair is left as it is."""
    zero = int(np.clip(zero, *integers(np.iinfo(dtype).bits)))
    x = (np.random.default_rng(seed).standard_normal((3, 11)) * 40000 * scale).astype(np.float32)
    x.flat[0] = 0.5 * scale  # a tie of the pair's rounding
    model = _model(
        [helper.make_node("QuantizeLinear", ["x", "a", "z"], ["q"]), helper.make_node("DequantizeLinear", ["q", "one", "z"], ["y"])],
        _float_input(x.shape), {"a": np.float32(scale), "z": np.asarray(zero, dtype), "one": np.float32(1.0)},
    )
    relaxed = _copy(model)
    count = relax_roundings(relaxed)
    if dtype == np.int8:
        assert count == 0 and [n.op_type for n in relaxed.graph.node] == ["QuantizeLinear", "DequantizeLinear"]
        return
    assert count == 1 and [n.op_type for n in relaxed.graph.node] == (["Clip"] if np.float32(scale) == 1 else ["Mul", "Clip"])
    low, high = integers(16)
    scaled = x if np.float32(scale) == 1 else x * np.float32(1.0 / np.float32(scale))
    np.testing.assert_array_equal(_run(relaxed, x=x), np.clip(scaled, np.float32(low - zero), np.float32(high - zero)))
    produced = _run(relaxed, x=x)
    # at most its half step, plus float32's rounding of x / a (the pair divides, the Mul multiplies by 1 / a)
    assert np.abs(produced - _run(model, x=x)).max() <= 0.5 + 2.0**-21 * np.abs(produced).max()


def test_relax_roundings_rounds_a_gather_index():
    """A Cast to int64 (a table's index) reads the Round of its input."""
    model = _model(
        [helper.make_node("Cast", ["x"], ["i"], to=TensorProto.INT64), helper.make_node("Gather", ["t", "i"], ["y"])],
        _float_input([4]), {"t": np.arange(8, dtype=np.float32) * 10},
    )
    relax_roundings(model)
    assert [n.op_type for n in model.graph.node] == ["Round", "Cast", "Gather"]
    np.testing.assert_array_equal(_run(model, x=np.array([0.4, 0.6, 2.51, 6.9], np.float32)), [0, 10, 30, 70])


# ---------------------------------------------------------------------------
# fold_into_convs


def _conv_arrays(rng, channels=(3, 4)):
    c_in, c_out = channels
    return rng.standard_normal((c_out, c_in, 3, 3)).astype(np.float32), rng.standard_normal(c_out).astype(np.float32)


@SETTINGS
@given(st.floats(1e-3, 1e3), st.booleans(), st.integers(0, 2**32 - 1))
def test_fold_into_convs_after_a_clipped_conv(k, transpose, seed):
    """Conv -> Clip [-> Transpose] -> Mul(k): k goes into the Conv and the Clip's bounds."""
    rng = np.random.default_rng(seed)
    w, b = _conv_arrays(rng)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Clip", ["c", "lo", "hi"], ["d"])]
    if transpose:
        nodes.append(helper.make_node("Transpose", ["d"], ["t"], perm=[0, 2, 3, 1]))
    nodes.append(helper.make_node("Mul", ["t" if transpose else "d", "k"], ["y"]))
    model = _model(nodes, _float_input([1, 3, 5, 6]), {"w": w, "b": b, "lo": np.float32(-2), "hi": np.float32(3), "k": np.float32(k)})
    x = rng.standard_normal((1, 3, 5, 6)).astype(np.float32)
    folded = _copy(model)
    assert fold_into_convs(folded) == 1
    assert "Mul" not in [n.op_type for n in folded.graph.node]
    np.testing.assert_allclose(_run(folded, x=x), _run(model, x=x), rtol=1e-5, atol=1e-5 * k)


@SETTINGS
@given(st.floats(1e-3, 1e3), st.integers(0, 2**32 - 1))
def test_fold_into_convs_before_the_convs_that_read_a_clip(k, seed):
    """Mul(k) -> Clip -> Transpose -> (Transpose -> Conv, Conv): k into both Convs, the bounds / k."""
    rng = np.random.default_rng(seed)
    w1, b1 = _conv_arrays(rng)
    w2, b2 = _conv_arrays(rng)
    nodes = [
        helper.make_node("Mul", ["x", "k"], ["m"]), helper.make_node("Clip", ["m", "lo", "hi"], ["c"]),
        helper.make_node("Transpose", ["c"], ["t"], perm=[0, 1, 3, 2]), helper.make_node("Transpose", ["t"], ["u"], perm=[0, 1, 3, 2]),
        helper.make_node("Conv", ["u", "w1", "b1"], ["y1"], pads=[1, 1, 1, 1]), helper.make_node("Conv", ["c", "w2", "b2"], ["y2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["y1", "y2"], ["y"]),
    ]
    model = _model(nodes, _float_input([1, 3, 5, 5]), {"w1": w1, "b1": b1, "w2": w2, "b2": b2, "k": np.float32(k),
                                                       "lo": np.float32(-1.5), "hi": np.float32(2.5)})
    x = (rng.standard_normal((1, 3, 5, 5)) * 2 / k).astype(np.float32)
    folded = _copy(model)
    assert fold_into_convs(folded) == 1
    assert "Mul" not in [n.op_type for n in folded.graph.node]
    expected = _run(model, x=x)
    np.testing.assert_allclose(_run(folded, x=x), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("case", ["other reader", "negative", "conv read twice"])
def test_fold_into_convs_leaves_what_it_cannot_fold(case):
    """A Clip also read by a non-Conv, a negative factor (it would swap the bounds), a Conv whose
    output is read besides its Clip: left as they are."""
    rng = np.random.default_rng(0)
    w, b = _conv_arrays(rng, (3, 3))
    conv = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Clip", ["c", "lo", "hi"], ["d"])]
    if case == "other reader":  # Mul -> Clip read by a Conv and an Add
        nodes = [helper.make_node("Mul", ["x", "k"], ["m"]), helper.make_node("Clip", ["m", "lo", "hi"], ["e"]),
                 helper.make_node("Conv", ["e", "w", "b"], ["f"], pads=[1, 1, 1, 1]), helper.make_node("Add", ["f", "e"], ["y"])]
    elif case == "conv read twice":  # Conv -> Clip -> Mul, the Conv's output also read by an Add
        nodes = [*conv, helper.make_node("Mul", ["d", "k"], ["m"]), helper.make_node("Add", ["m", "c"], ["y"])]
    else:  # both patterns, by -2
        nodes = [*conv, helper.make_node("Mul", ["d", "k"], ["m"]), helper.make_node("Clip", ["m", "lo", "hi"], ["e"]),
                 helper.make_node("Conv", ["e", "w", "b"], ["y"], pads=[1, 1, 1, 1])]
    k = -2.0 if case == "negative" else 2.0
    model = _model(nodes, _float_input([1, 3, 4, 4]), {"w": w, "b": b, "lo": np.float32(-1), "hi": np.float32(1), "k": np.float32(k)})
    before = [n.op_type for n in model.graph.node]
    assert fold_into_convs(model) == 0
    assert [n.op_type for n in model.graph.node] == before


# ---------------------------------------------------------------------------
# merge_scalar_chains


_LINKS = st.one_of(
    st.tuples(st.just("Mul"), st.floats(0.01, 100)),
    st.tuples(st.just("Clip"), st.floats(-50, 50), st.floats(0, 100)),
    st.tuples(st.just("Transpose")),
)


@SETTINGS
@given(st.lists(_LINKS, min_size=1, max_size=7), st.integers(-1, 6), st.integers(0, 2**32 - 1))
def test_merge_scalar_chains_keeps_the_values(links, tapped, seed):
    """A chain of scalar Muls, Clips and Transposes (one link, `tapped`, also read elsewhere):
    the merged chain gives the same values up to float32 rounding of the joined factors, with
    as many nodes fewer as it says, and none merged across the tapped link."""
    nodes, initializers, name = [], {}, "x"
    for index, link in enumerate(links):
        out = f"v{index}"
        if link[0] == "Mul":
            initializers[f"k{index}"] = np.float32(link[1])
            nodes.append(helper.make_node("Mul", [name, f"k{index}"], [out]))
        elif link[0] == "Clip":
            initializers[f"a{index}"], initializers[f"b{index}"] = np.float32(link[1]), np.float32(link[1] + link[2])
            nodes.append(helper.make_node("Clip", [name, f"a{index}", f"b{index}"], [out]))
        else:
            nodes.append(helper.make_node("Transpose", [name], [out], perm=[1, 0]))
        name = out
    last = "tapped_y"
    nodes.append(helper.make_node("Neg", [name], [last]))
    if 0 <= tapped < len(links):
        nodes.append(helper.make_node("Abs", [f"v{tapped}"], ["tap"]))
        nodes.append(helper.make_node("ReduceSum", ["tap"], ["tap_sum"], keepdims=0))
        nodes.append(helper.make_node("Add", [last, "tap_sum"], ["y"]))
    else:
        nodes.append(helper.make_node("Identity", [last], ["y"]))
    model = _model(nodes, _float_input([4, 4]), initializers)
    x = (np.random.default_rng(seed).standard_normal((4, 4)) * 30).astype(np.float32)
    merged = _copy(model)
    count = merge_scalar_chains(merged)
    assert len(merged.graph.node) == len(model.graph.node) - count
    if 0 <= tapped < len(links):
        assert any(f"v{tapped}" in node.output for node in merged.graph.node)  # the tapped link stays
    expected = _run(model, x=x)
    np.testing.assert_allclose(_run(merged, x=x), expected, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(expected).max())))


def test_merge_scalar_chains_joins_a_requantize_after_a_requantize():
    """Mul(k1) -> Clip -> Transpose -> Mul(k2) -> Clip: one Mul and one Clip are left."""
    nodes = [helper.make_node("Mul", ["x", "k1"], ["a"]), helper.make_node("Clip", ["a", "lo", "hi"], ["b"]),
             helper.make_node("Transpose", ["b"], ["c"], perm=[1, 0]), helper.make_node("Mul", ["c", "k2"], ["d"]),
             helper.make_node("Clip", ["d", "lo", "hi"], ["y0"]), helper.make_node("Neg", ["y0"], ["y"])]
    model = _model(nodes, _float_input([2, 3]), {"k1": np.float32(3), "k2": np.float32(0.5), "lo": np.float32(-4), "hi": np.float32(4)})
    x = np.array([[-9, -2, 0], [1, 2.5, 9]], np.float32)
    expected = _run(model, x=x)
    assert merge_scalar_chains(model) == 2
    assert [n.op_type for n in model.graph.node] == ["Mul", "Transpose", "Clip", "Neg"]
    np.testing.assert_array_equal(_run(model, x=x), expected)


# ---------------------------------------------------------------------------
# drop_redundant_clips


@SETTINGS
@given(st.floats(-8, 8), st.floats(0, 8), st.floats(0.05, 4), st.floats(-1, 1), st.floats(0, 10), st.booleans(), st.integers(0, 2**32 - 1))
def test_drop_redundant_clips_changes_no_value(low, width, k, out_low, out_width, sigmoid, seed):
    """Clip -> Mul(k) -> HardSwish (or HardSigmoid) -> Clip: the last Clip goes only where it
    changes nothing: the outputs stay bit for bit the same on inputs across and beyond the range."""
    high = low + width
    function = helper.make_node("HardSigmoid", ["m"], ["h"], alpha=0.3, beta=0.4) if sigmoid else helper.make_node("HardSwish", ["m"], ["h"])
    nodes = [helper.make_node("Clip", ["x", "lo", "hi"], ["c"]), helper.make_node("Mul", ["c", "k"], ["m"]), function,
             helper.make_node("Clip", ["h", "olo", "ohi"], ["y"]), ]
    nodes[-1].output[0] = "z"
    nodes.append(helper.make_node("Neg", ["z"], ["y"]))  # the last Clip is not a graph output
    model = _model(nodes, _float_input([257]), {"lo": np.float32(low), "hi": np.float32(high), "k": np.float32(k),
                                                "olo": np.float32(out_low), "ohi": np.float32(out_low + out_width)})
    x = np.concatenate([np.linspace(low - 3, high + 3, 200), np.random.default_rng(seed).standard_normal(57) * 10]).astype(np.float32)
    dropped = _copy(model)
    count = drop_redundant_clips(dropped)
    np.testing.assert_array_equal(_run(dropped, x=x), _run(model, x=x))
    assert count <= 1 and [n.op_type for n in dropped.graph.node].count("Clip") == 2 - count


def test_drop_redundant_clips_drops_a_table_saturation_that_cannot_bind():
    model = _model([helper.make_node("Clip", ["x", "lo", "hi"], ["c"]), helper.make_node("HardSwish", ["c"], ["h"]),
                    helper.make_node("Clip", ["h", "olo", "ohi"], ["y0"]), helper.make_node("Neg", ["y0"], ["y"])],
                   _float_input([5]), {"lo": np.float32(-4), "hi": np.float32(4), "olo": np.float32(-0.5), "ohi": np.float32(4.01)})
    assert drop_redundant_clips(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Clip", "HardSwish", "Neg"]


# ---------------------------------------------------------------------------
# saturate_after_hard_swish


@SETTINGS
@given(st.floats(-20, 2), st.floats(0, 20), st.sampled_from(["clip", "none", "output"]), st.booleans(), st.integers(0, 2**32 - 1))
def test_saturation_moved_after_hard_swish_keeps_the_values(low, width, after, transpose, seed):
    """Conv -> Clip(a, b) [-> Transpose] -> HardSwish [-> Clip]: moved (a <= -3 and b >= 0, the
    HardSwish not a graph output) or left; the outputs stay the same (up to the float32 rounding of hard_swish(b))."""
    rng = np.random.default_rng(seed)
    w, b = _conv_arrays(rng)
    high = low + width
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Clip", ["c", "lo", "hi"], ["d"])]
    if transpose:
        nodes.append(helper.make_node("Transpose", ["d"], ["t"], perm=[0, 2, 3, 1]))
    nodes.append(helper.make_node("HardSwish", ["t" if transpose else "d"], ["y" if after == "output" else "h"]))
    if after == "clip":
        nodes += [helper.make_node("Clip", ["h", "olo", "ohi"], ["e"]), helper.make_node("Neg", ["e"], ["y"])]
    elif after == "none":
        nodes.append(helper.make_node("Neg", ["h"], ["y"]))
    model = _model(nodes, _float_input([1, 3, 5, 6]), {"w": w, "b": b, "lo": np.float32(low), "hi": np.float32(high),
                                                       "olo": np.float32(-0.2), "ohi": np.float32(high / 2)})
    x = (rng.standard_normal((1, 3, 5, 6)) * 4).astype(np.float32)
    moved = _copy(model)
    count = saturate_after_hard_swish(moved)
    assert count == (1 if np.float32(low) <= -3 and np.float32(high) >= 0 and after != "output" else 0)
    if count:
        assert [n.input[0] for n in moved.graph.node if n.op_type in ("HardSwish", "Transpose")][0] == "c"  # it reads the Conv
    np.testing.assert_allclose(_run(moved, x=x), _run(model, x=x), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------
# ops against the NumPy fast kernels


@SETTINGS
@given(conv_cases().filter(lambda case: case["requant"]["output_bits"] == 16))
def test_qconv2d_with_16_bit_output_is_clipped_not_rounded(case):
    """Within the fused emulation's bound of the NumPy fast kernels (`allowed_difference` on
    both sides, plus 1 step: the rounding is left to the segment's output); Conv + Clip only."""
    r = case["requant"]

    def build(x, w, b):
        return QConv2DOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(16, 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], groups=case["groups"], relu=r["relu"],
        )

    module = one_op(build, [(case["x"], quant(case["input_bits"], 0.25, case["zero_point"]))], [case["weight"], case["bias"]])
    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    program = RelaxedProgram(interpreter, threads=1)
    assert program.numpy_ops() == [], program.fallbacks
    (expected,), (produced,) = interpreter.run([case["x"]]), program.run([case["x"]])
    assert produced.dtype == expected.dtype and produced.shape == expected.shape
    tolerance = 2 * allowed_difference(case, int(np.prod(case["weight"].shape[:3]))) + 1
    assert int(np.abs(expected.astype(np.int64) - produced.astype(np.int64)).max(initial=0)) <= tolerance
    nodes = [node.op_type for step in program._program if isinstance(step, _Segment) for f in step.fragments for node in f.nodes]
    assert "Cast" not in nodes and nodes[nodes.index("Conv") + 1] == "Clip"


@SETTINGS
@given(st.sampled_from([8, 16]), st.floats(0.005, 0.2), st.floats(0.005, 0.2), st.integers(-50, 50), st.integers(0, 2**32 - 1))
def test_hard_swish_table_to_16_bits_within_a_step(in_bits, in_step, out_step, zero_point, seed):
    """A hard_swish table with a 16-bit result: within 1 step of the table (the NumPy fast kernel)."""
    low, high = integers(in_bits)
    x = np.random.default_rng(seed).integers(low, high + 1, (2, 3, 17)).astype(f"int{in_bits}")
    x.flat[0], x.flat[-1] = low, high
    table = lookup_table(elementwise.hard_swish, in_step, zero_point, in_bits, out_step, -3, 16)
    module = one_op(lambda v, t: LutOp(v, t, quant(16, out_step, -3)), [(x, quant(in_bits, in_step, zero_point))], [table])
    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    program = RelaxedProgram(interpreter, threads=1)
    assert program.numpy_ops() == [], program.fallbacks
    (expected,), (produced,) = interpreter.run([x]), program.run([x])
    assert produced.dtype == expected.dtype and int(np.abs(expected.astype(np.int64) - produced.astype(np.int64)).max()) <= 1


# ---------------------------------------------------------------------------
# real models at int16


@pytest.mark.parametrize("name, count", [("cls", 8), ("orientation", 4)])
def test_real_int16_model_relaxed_close_to_bit_exact(name, count, monkeypatch):
    """fast mode's default on an int16 model: one onnxruntime session of the relaxed emulation,
    output SQNR vs bit-exact >= 30 dB (the float emulation's bar) and the same top-1 on every
    sample. Measured (bench/bench_quantized_execute.py, default_quantization): cls 61.2 dB,
    orientation 67.9 dB."""
    from afe.apis.defines import MinMaxMethod, int16_quantization
    from models import load_real_net, real_inputs

    monkeypatch.delenv("SIMA_RUNTIME", raising=False)
    monkeypatch.delenv("SIMA_FAST_FORM", raising=False)
    net = load_real_net(name)
    images = [{"x": np.ascontiguousarray(x.transpose(0, 2, 3, 1))} for x in real_inputs(name, 4 + count, seed=7)]
    model = net.quantize(images[:4], int16_quantization.with_calibration(MinMaxMethod()))
    program = model._executor(True)
    assert isinstance(program, RelaxedProgram) and program.segment_count() == 1 and program.numpy_ops() == []
    assert program.relaxed > 0 and program.folded_into_convs > 0
    exact = np.concatenate([model.execute(s)[0] for s in images[4:]]).astype(np.float64)
    fast = np.concatenate([model.execute(s, fast_mode=True)[0] for s in images[4:]]).astype(np.float64)
    sqnr = 10 * np.log10((exact**2).sum() / max(((exact - fast) ** 2).sum(), 1e-300))
    assert sqnr >= 30, sqnr
    assert np.array_equal(exact.argmax(axis=-1), fast.argmax(axis=-1))
