"""A `sima` function run as onnxruntime segments and NumPy kernels.

    program = OnnxProgram(module, numpy_interpreter)   # sessions built here, once
    outputs = program.run({"image": x})                 # as Interpreter.run

Compiling walks the function once: pure ops whose operands are all constants
run at compile time (as in the interpreter); every other op is lowered
(`lower.LOWERINGS`) or, where it has no exact ONNX form, kept as a NumPy
kernel of the interpreter's registry. Maximal runs of lowered ops become one
ONNX model and one InferenceSession each (a segment); its inputs are the
values it reads from before it, its outputs the values read after it.

Failures never reach the caller from onnxruntime: a segment whose session
cannot be built, or whose run fails, runs its ops with the NumPy kernels from
then on (a debug log names them). Every segment's results are checked against
the IR's result types, as the interpreter's first run checks its kernels'.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import onnx.numpy_helper
from onnx import helper
from xdsl.dialects.builtin import TensorType
from xdsl.dialects.func import ReturnOp
from xdsl.ir import Operation, SSAValue
from xdsl.traits import Pure

from runtime.errors import InterpreterError, KernelError
from runtime.interpreter import Interpreter, describe, live_ops, returned_values
from runtime.onnx_backend.graph import IR_VERSION, OPSET, Fragment, NameSource, onnx_type
from runtime.integer_kernels.chains import elementwise_chains, table_kernel, varying_operand
from runtime.onnx_backend.blocked_layout import blocked_session
from runtime.onnx_backend.broadcast_constants import rank_matched_constants
from runtime.onnx_backend.lower import INT16_LOWERINGS, LOWERINGS, TABLE_LOWERINGS, NotLowerable, Operands, lower_chain, lower_int8_pair
from sima_dialect import quantized_ops as q
from sima_dialect.element_types import element_type_to_numpy

logger = logging.getLogger(__name__)


def _value_spec(value: SSAValue) -> tuple[tuple[int, ...], np.dtype]:
    return tuple(value.type.get_shape()), np.dtype(element_type_to_numpy(value.type.element_type))


@dataclass
class _NumpyStep:
    op: Operation
    where: str
    operands: tuple[int, ...]
    results: tuple[int, ...]
    kernel: Any = None


@dataclass
class _Segment:
    """Lowered ops run by one InferenceSession (or, after a failure, by their NumPy steps)."""

    steps: list[_NumpyStep]  # each lowered op (or fused chain) with its slots and its NumPy fallback
    fragments: list[Fragment]
    inputs: list[int] = field(default_factory=list)  # slots fed to the session
    outputs: list[int] = field(default_factory=list)  # slots the session returns
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    output_specs: list[tuple[tuple[int, ...], np.dtype]] = field(default_factory=list)  # the IR's result types
    nan_checked: list[int] = field(default_factory=list)  # float inputs a lowered quantize may read (NaN: NumPy decides)
    session: Any = None

    def describe(self) -> str:
        names = [step.where for step in self.steps]
        return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def _live_nodes(nodes: list[onnx.NodeProto], initializers: list[onnx.TensorProto], outputs: list[str]):
    """The nodes (and initializers) some graph output depends on: e.g. a Transpose back to
    NHWC is dropped when the ops after it read its NCHW alias (`lower.nhwc_result`)."""
    needed = set(outputs)
    kept = []
    for node in reversed(nodes):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    return kept[::-1], [tensor for tensor in initializers if tensor.name in needed]


def session_threads(threads: int | None) -> int:
    """onnxruntime's intra-op threads: the caller's, else OMP_NUM_THREADS (the benches set it), else its default (0)."""
    if threads is not None:
        return threads
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "0")))
    except ValueError:
        return 0


class OnnxProgram:
    """Runs `interpreter`'s function with onnxruntime where its ops lower exactly.

    `interpreter` is the NumPy interpreter of the same module: its registry
    (with fast-mode overrides, if any) gives the kernels of the ops that stay
    in NumPy, and it binds and checks the inputs.

    `emulation` (fast mode, `runtime.onnx_backend.emulate.FLOAT_EMULATION`)
    replaces the exact lowerings by its own, whose values inside a segment
    have their own form (centred integers in float32); it converts them from
    and to the IR's types at each segment's inputs and outputs. An emulation
    with `exact = True` (`exact_int16_form.EXACT_FORM`, the bit-exact
    default of `executor_for`) is bit-exact: its chains are fused as here.
    """

    def __init__(
        self,
        interpreter: Interpreter,
        *,
        threads: int | None = None,
        tables_in_onnx: bool = True,
        int16_ops: bool = False,
        emulation: Any = None,
    ):
        import onnxruntime

        self._ort = onnxruntime
        self.emulation = emulation
        if emulation is not None:
            self.lowerings = dict(emulation.lowerings)
        else:
            # the opt-in lowerings are exact too (lower.py: TABLE_LOWERINGS, INT16_LOWERINGS)
            self.lowerings = {
                **LOWERINGS, **(TABLE_LOWERINGS if tables_in_onnx else {}), **(INT16_LOWERINGS if int16_ops else {})
            }
            if tables_in_onnx:  # qmul: int8 pairs as a table, an int16 operand in float64 (so it does not cut the session)
                self.lowerings[q.QMulOp] = lower_int8_pair
        # exact: the IR's types (lower.py) or a form of its own (`exact_float_form.EXACT_FLOAT_FORM`)
        self.exact = emulation is None or getattr(emulation, "exact", False)
        # chains of elementwise ops read as one table, as the interpreter runs them (exact ONNX, and
        # emulations that read tables of their own: `integer_emulation.IntegerEmulation.fuses_chains`)
        self._fuse_chains = (self.exact or getattr(emulation, "fuses_chains", False)) and tables_in_onnx
        # fast mode runs everything on onnxruntime by design: ops left to NumPy are worth an info line
        self._fallback_level = logging.DEBUG if self.exact else logging.INFO
        self.fallbacks: list[str] = []  # "<op>: <why it runs in NumPy>", in program order
        self.interpreter = interpreter
        self.threads = session_threads(threads)
        self._compile()

    # ------------------------------------------------------------------ compile

    def _compile(self) -> None:
        function = self.interpreter.function
        body = list(function.body.block.ops)
        if not body or not isinstance(body[-1], ReturnOp):
            raise InterpreterError(f"@{function.sym_name.data} does not end with func.return")
        returned = list(body[-1].operands)
        slots: dict[SSAValue, int] = {}

        def slot_of(value: SSAValue) -> int:
            return slots.setdefault(value, len(slots))

        self._arg_slots = [slot_of(arg) for arg in function.args]
        live = live_ops(body)
        constants: dict[int, np.ndarray] = {}
        names = self._names = NameSource()
        steps: list[_NumpyStep] = []
        for op in body[:-1]:
            if op not in live:
                continue
            operand_slots = tuple(slots[v] for v in op.operands)
            result_slots = tuple(slot_of(r) for r in op.results)
            if op.has_trait(Pure) and all(s in constants for s in operand_slots):
                values = self._run_numpy(_NumpyStep(op, describe(op), operand_slots, result_slots), constants)
                constants.update(values)
                continue
            steps.append(_NumpyStep(op, describe(op), operand_slots, result_slots))
        self._constants = constants
        self._slot_count = len(slots)
        self._output_slots = [slots[v] for v in returned]
        plan: list[_NumpyStep | tuple[_NumpyStep, Fragment]] = []
        self._nchw_aliases: dict[int, str] = {}  # slot -> its NCHW alias in the session being built
        self._index_aliases: dict[int, str] = {}  # slot -> its table index (exact_float_form) in that session
        self._value_of = {slot: value for value, slot in slots.items()}  # slot -> the IR value it holds
        for step, lowering in self._fused(steps, constants):
            fragment = self._lowered(step, constants, names, lowering)
            plan.append(step if fragment is None else (step, fragment))
            if fragment is None:  # the session ends here: its aliases are not visible after it
                self._nchw_aliases, self._index_aliases = {}, {}
            else:
                for slot, name in zip(step.results, fragment.results):
                    if name in fragment.nchw_aliases:
                        self._nchw_aliases[slot] = fragment.nchw_aliases[name]
                    if name in fragment.index_aliases:
                        self._index_aliases[slot] = fragment.index_aliases[name]
        self._slots = slots
        self._program = self._segments(plan)
        if self.fallbacks:
            what = "the onnxruntime backend" if self.exact else "fast mode"
            shown = "; ".join(self.fallbacks[:10]) + (f"; and {len(self.fallbacks) - 10} more" if len(self.fallbacks) > 10 else "")
            logger.log(self._fallback_level, "%s: %d op(s) run in NumPy: %s", what, len(self.fallbacks), shown)

    def _fused(self, steps: list[_NumpyStep], constants: dict[int, np.ndarray]):
        """(step, its lowering or None for the registry's): `steps` with each chain of
        elementwise ops (`integer_kernels.chains`) replaced by one step reading its table."""
        merged: dict[int, Any] = {}  # id(step) -> its lowering, for the merged channel-group blocks
        if getattr(self.emulation, "merges_channel_groups", False):
            steps, merged = self._merged_channel_groups(steps, constants)
        if not self._fuse_chains:
            return [(step, merged.get(id(step))) for step in steps]
        registry = self.interpreter.registry
        candidates = [
            (step.op, registry[type(step.op)](step.op) if varying_operand(step.op, [s in constants for s in step.operands]) is not None
             and type(step.op) in registry else None, step.operands, step.results, step.where)
            if id(step) not in merged else (None, None, step.operands, step.results, step.where)  # a merged block: no chain
            for step in steps
        ]
        replaced: dict[int, tuple[_NumpyStep, Any] | None] = {}
        try:
            chains = elementwise_chains(candidates, constants, set(self._output_slots))
        except Exception as error:  # a kernel's failure here: the ops lower (or run) one by one
            logger.debug("chains not fused: %s", error)
            chains = []
        for chain in chains:
            last = steps[chain.positions[-1]]
            shape, _ = _value_spec(last.op.results[0])
            static = shape if all(d >= 0 for d in shape) else None
            if self.emulation is not None:  # the emulation's own reading of the table (None: its ops one by one)
                lowering = self.emulation.chain_lowering(chain.table, static, self._value_of[chain.source], last.op.results[0])
                if lowering is None:
                    continue
            else:
                lowering = lower_chain(chain.table, static)
            for position in chain.positions[:-1]:
                replaced[position] = None
            fused = _NumpyStep(last.op, chain.where, (chain.source,), last.results, table_kernel(chain.table, chain.dtype))
            replaced[chain.positions[-1]] = (fused, lowering)
        fused_steps = []
        for position, step in enumerate(steps):
            entry = replaced.get(position, (step, merged.get(id(step))))
            if entry is not None:
                fused_steps.append(entry)
        return fused_steps

    def _merged_channel_groups(self, steps: list[_NumpyStep], constants: dict[int, np.ndarray]):
        """(steps, {id(step): lowering}): each channel-grouped block that lowers merged
        (`merged_groups.py`) as one step at its last op's place, its fallback the block's own kernels."""
        from runtime.onnx_backend.merged_groups import merge_channel_groups

        blocks = merge_channel_groups(steps, constants, self.interpreter.registry, set(self._output_slots), self._value_of)
        replaced: dict[int, _NumpyStep | None] = {}
        lowerings: dict[int, Any] = {}
        for block in blocks:
            for position in block.positions[:-1]:
                replaced[position] = None
            step = _NumpyStep(block.last, block.where, (block.source,), (block.result,), block.kernel)
            replaced[block.positions[-1]] = step
            # the block's centred float32 form; an emulation holding int8 otherwise wraps it (integer_emulation.py)
            lowerings[id(step)] = self.emulation.merged_lowering(block) if hasattr(self.emulation, "merged_lowering") else block.lower
        kept = [replaced.get(position, step) for position, step in enumerate(steps)]
        return [step for step in kept if step is not None], lowerings

    def _lowered(self, step: _NumpyStep, constants, names: NameSource, lowering=None) -> Fragment | None:
        op, operand_slots, result_slots = step.op, step.operands, step.results
        lowering = lowering or self.lowerings.get(type(op))
        if lowering is None:
            self.fallbacks.append(f"{describe(op)}: no onnxruntime lowering for {op.name}")
            return None
        if not all(isinstance(r.type, TensorType) for r in op.results):
            return None
        fragment = Fragment(names, describe(op))
        operand_names = [None if s in constants else f"v{s}" for s in operand_slots]
        constant_form = None
        if self.emulation is not None:
            constant_form = lambda index, array: self.emulation.constant(op.operands[index], array)  # noqa: E731
        aliases = [self._nchw_aliases.get(s) for s in operand_slots]
        operands = Operands(fragment, operand_names, [constants.get(s) for s in operand_slots], constant_form, aliases,
                            [self._index_aliases.get(s) for s in operand_slots])
        try:
            results = lowering(op, fragment, operands)
        except NotLowerable as reason:
            self.fallbacks.append(f"{describe(op)}: {reason}")
            return None
        except Exception as error:  # a lowering bug must not stop the model: NumPy computes the op
            self.fallbacks.append(f"{describe(op)}: lowering it failed: {error}")
            return None
        produced = {name for node in fragment.nodes for name in node.output}
        if len(set(results)) != len(results) or not set(results) <= produced:
            self.fallbacks.append(f"{describe(op)}: its lowering does not produce each result once")
            return None
        # each result named after its SSA value's slot, as the ops reading it name their operand
        fragment.results = [f"v{slot}" for slot in result_slots]
        for name, slot_name in zip(results, fragment.results):
            fragment.rename(name, slot_name)
        return fragment

    def _segments(self, plan) -> list[_NumpyStep | _Segment]:
        """Consecutive lowered ops joined into segments; each segment's session built."""
        program: list[_NumpyStep | _Segment] = []
        for entry in plan:
            if isinstance(entry, _NumpyStep):
                program.append(entry)
                continue
            step, fragment = entry
            if not program or not isinstance(program[-1], _Segment):
                program.append(_Segment([], []))
            program[-1].steps.append(step)
            program[-1].fragments.append(fragment)
        # which values each step reads, to find every segment's outputs
        readers_after: list[set[int]] = []
        needed = set(self._output_slots)
        for step in reversed(program):
            readers_after.append(set(needed))
            needed |= set(self._reads(step))
        readers_after.reverse()
        for step, needed_later in zip(program, readers_after):
            if isinstance(step, _Segment):
                self._build_segment(step, needed_later)
        return program

    def _reads(self, step: _NumpyStep | _Segment) -> list[int]:
        if isinstance(step, _NumpyStep):
            return list(step.operands)
        produced = {slot for inner in step.steps for slot in inner.results}
        return [slot for inner in step.steps for slot in inner.operands if slot not in produced and slot not in self._constants]

    def _build_segment(self, segment: _Segment, needed_later: set[int]) -> None:
        inputs: dict[int, None] = {}
        result_names: dict[int, str] = {}
        for step, fragment in zip(segment.steps, segment.fragments):
            for slot in step.operands:
                if slot not in result_names and slot not in self._constants:
                    inputs[slot] = None
            for slot, name in zip(step.results, fragment.results):
                result_names[slot] = name
        segment.inputs = list(inputs)
        segment.outputs = [slot for slot in result_names if slot in needed_later]
        segment.input_names = [f"v{slot}" for slot in segment.inputs]
        segment.output_names = [result_names[slot] for slot in segment.outputs]
        value_of = self._value_of
        segment.output_specs = [_value_spec(value_of[slot]) for slot in segment.outputs]
        if any(isinstance(step.op, q.QuantizeOp) for step in segment.steps):
            # the kernel refuses NaN, the session would not: such inputs run the NumPy steps (only
            # float inputs can carry NaN: the exact sessions compute no float arithmetic of their own)
            segment.nan_checked = [slot for slot in segment.inputs if _value_spec(value_of[slot])[1].kind == "f"]
        # the emulation's conversions from the IR's types (first) and to them (last)
        entry, leaving = Fragment(self._names, "segment inputs"), Fragment(self._names, "segment outputs")
        if self.emulation is not None:
            segment.input_names = [self.emulation.graph_input(entry, f"v{slot}", value_of[slot]) for slot in segment.inputs]
            segment.output_names = [
                self.emulation.graph_output(leaving, name, value_of[slot]) for slot, name in zip(segment.outputs, segment.output_names)
            ]
        graph_inputs = []
        for slot, name in zip(segment.inputs, segment.input_names):
            shape, dtype = _value_spec(value_of[slot])
            info = helper.make_tensor_value_info(name, onnx_type(dtype), [d if d >= 0 else None for d in shape])
            info.type.tensor_type.shape.SetInParent()  # rank 0 is a shape too (else: unknown rank)
            graph_inputs.append(info)
        fragments = [entry, *segment.fragments, leaving]
        nodes = [node for fragment in fragments for node in fragment.nodes]
        initializers = [tensor for fragment in fragments for tensor in fragment.initializers]
        for index, slot in enumerate(segment.outputs):
            if _value_spec(value_of[slot])[0] == ():  # onnxruntime may widen a rank-0 result to [1]
                scalar = f"{segment.output_names[index]}_rank0"
                initializers.append(onnx.numpy_helper.from_array(np.zeros(0, np.int64), f"{scalar}_shape"))
                nodes.append(helper.make_node("Reshape", [segment.output_names[index], f"{scalar}_shape"], [scalar]))
                segment.output_names[index] = scalar
        graph_outputs = []
        for slot, name in zip(segment.outputs, segment.output_names):
            shape, dtype = _value_spec(value_of[slot])
            graph_outputs.append(helper.make_tensor_value_info(name, onnx_type(dtype), None))
        nodes, initializers = _live_nodes(nodes, initializers, segment.output_names)
        graph = helper.make_graph(
            nodes,
            "segment",
            graph_inputs,
            graph_outputs,
            initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sima-runtime")
        model.ir_version = IR_VERSION
        if self.exact and self.emulation is not None and self._tiny(segment, value_of):  # (the exact float form)
            logger.debug("%s: a few values only, faster in NumPy than through a session", segment.describe())
            return
        try:
            segment.session = self._session(model)
        except Exception as error:
            logger.log(self._fallback_level, "onnxruntime cannot run %s; they run in NumPy: %s", segment.describe(), error)
            segment.session = None

    TINY_SEGMENT = 64
    """Exact segments of only dequantize ops on at most this many values run their NumPy steps:
    a session's run costs ~0.1 ms, the kernels' table reads microseconds (the float outputs of
    the classifiers after their qsoftmax, measured on cls: 0.15 ms of 2.5)."""

    def _tiny(self, segment: _Segment, value_of: dict[int, SSAValue]) -> bool:
        sizes = [int(np.prod(_value_spec(value_of[slot])[0])) for slot in (*segment.inputs, *segment.outputs)]
        return all(isinstance(step.op, q.DequantizeOp) for step in segment.steps) and all(0 <= n <= self.TINY_SEGMENT for n in sizes)

    def _options(self):
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 4  # its errors become NumPy fallbacks (logged at debug level)
        # QuantizeLinear / DequantizeLinear here are exact roundings and casts (scale 1), not
        # quantized tensors: onnxruntime must not fuse them into its own integer kernels
        # (except for an emulation written for those kernels: integer_emulation.py)
        if not getattr(self.emulation, "fuses_quantized_kernels", False):
            options.add_session_config_entry("session.disable_quant_qdq", "1")
        if self.exact:  # many short sessions, NumPy in between: idle pool threads wait instead of spinning
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return options

    def _session(self, model: onnx.ModelProto):
        if not self.exact:  # fast mode: its [1] scales as slow broadcasts in onnxruntime (broadcast_constants.py)
            model = rank_matched_constants(model)
        if getattr(self.emulation, "joins_nchwc", False):  # table reads in the convolutions' layout (blocked_layout.py)
            return blocked_session(self._ort, model, self._options)[0]
        return self._ort.InferenceSession(model.SerializeToString(), self._options(), providers=["CPUExecutionProvider"])

    # ------------------------------------------------------------------ run

    def run(self, inputs: Mapping[str, Any] | Sequence[Any] | np.ndarray) -> list[np.ndarray]:
        """Execute the function; one array per func.return operand (as `Interpreter.run`)."""
        env: dict[int, np.ndarray] = dict(self._constants)
        for slot, value in zip(self._arg_slots, self.interpreter.bind(inputs)):
            env[slot] = value
        with np.errstate(all="ignore"), self.interpreter.blas_limit():
            for step in self._program:
                if isinstance(step, _NumpyStep):
                    env.update(self._run_numpy(step, env))
                else:
                    self._run_segment(step, env)
        return returned_values(env, self._output_slots)

    def __call__(self, inputs):
        return self.run(inputs)

    def _run_segment(self, segment: _Segment, env: dict[int, np.ndarray]) -> None:
        if segment.session is not None and not any(np.isnan(env[slot]).any() for slot in segment.nan_checked):
            try:
                produced = segment.session.run(segment.output_names, {n: env[s] for n, s in zip(segment.input_names, segment.inputs)})
            except Exception as error:
                logger.log(self._fallback_level, "onnxruntime failed on %s; they run in NumPy from now on: %s", segment.describe(), error)
                segment.session = None
            else:
                mismatch = self._mismatch(segment, produced)
                if mismatch is None:
                    for slot, value in zip(segment.outputs, produced):
                        env[slot] = value
                    return
                logger.log(self._fallback_level, "onnxruntime's results of %s disagree with the IR (%s); they run in NumPy from now on", segment.describe(), mismatch)
                segment.session = None
        for step in segment.steps:
            env.update(self._run_numpy(step, env))

    @staticmethod
    def _mismatch(segment: _Segment, produced: list[np.ndarray]) -> str | None:
        """How the session's results disagree with the IR's result types, or None."""
        for slot, array, (shape, dtype) in zip(segment.outputs, produced, segment.output_specs):
            if array.dtype != dtype or len(array.shape) != len(shape) or any(e >= 0 and a != e for a, e in zip(array.shape, shape)):
                return f"value v{slot}: {array.dtype} {list(array.shape)}, the IR says {dtype} {list(shape)}"
        return None

    def _run_numpy(self, step: _NumpyStep, env: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        if step.kernel is None:
            builder = self.interpreter.registry.get(type(step.op))
            if builder is None:
                raise KernelError(f"no kernel for {step.where}")
            try:
                step.kernel = builder(step.op)
            except InterpreterError:
                raise
            except Exception as error:
                raise KernelError(f"{step.where}: cannot prepare its kernel: {error}") from error
        try:
            with np.errstate(all="ignore"):
                produced = step.kernel(*[env[s] for s in step.operands])
        except InterpreterError:
            raise
        except Exception as error:
            raise KernelError(f"{step.where} failed: {error}") from error
        values = [] if produced is None else [produced] if len(step.results) == 1 else list(produced)
        return {slot: value if isinstance(value, np.ndarray) else np.asarray(value) for slot, value in zip(step.results, values)}

    # ------------------------------------------------------------------ introspection

    def lowered_ops(self) -> list[str]:
        """The ops onnxruntime runs (their descriptions), for tests and benches."""
        return [inner.where for step in self._program if isinstance(step, _Segment) and step.session is not None for inner in step.steps]

    def numpy_ops(self) -> list[str]:
        """The ops NumPy runs."""
        names = [step.where for step in self._program if isinstance(step, _NumpyStep)]
        names += [inner.where for step in self._program if isinstance(step, _Segment) and step.session is None for inner in step.steps]
        return names

    def runs_its_products(self) -> bool:
        """True when onnxruntime runs every qconv2d and qdense (the bulk of the work; with
        int16 inputs they stay in NumPy by default and cut the graph at each one)."""
        products = (q.QConv2DOp, q.QDenseOp)
        numpy_steps = [step for step in self._program if isinstance(step, _NumpyStep)]
        numpy_steps += [inner for step in self._program if isinstance(step, _Segment) and step.session is None for inner in step.steps]
        return not any(isinstance(step.op, products) for step in numpy_steps)

    def segment_count(self) -> int:
        return sum(isinstance(step, _Segment) for step in self._program)
