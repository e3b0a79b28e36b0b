"""The NumPy interpreter of float `sima` IR.

    interp = Interpreter(module)          # compiles @main (or the only function) once
    outputs = interp.run({"image": x})    # or run([x]); a list, one array per func.return operand

Compiling turns the function into a plan: one step per live op, each holding
its kernel (with properties already resolved), the slots its operands and
results live in, and the slots whose last reader it is, so intermediates are
freed as soon as they are dead. Pure ops whose operands are all constants
(sima.constant itself, and e.g. a transpose of a weight) run once, at compile
time; their results are cached, read-only, with the constants. Pure ops whose
results nobody reads are dropped. A chain of elementwise integer ops over one
int8 / int16 tensor becomes one table lookup (`integer_kernels.chains`). `run`
then only binds the inputs and calls the kernels in order.

The first run with given input shapes checks every kernel's results against
the IR's result types; later runs with the same shapes skip the checks (a
kernel's result types depend only on its operands' shapes and dtypes, which
the inputs' shapes determine), so a small model is not slowed by per-op
bookkeeping.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Operation, SSAValue
from xdsl.traits import Pure

from runtime.errors import InputError, InterpreterError, KernelError, UnsupportedOpError
from runtime.kernels import KERNELS
from runtime.integer_kernels.chains import fuse_elementwise_chains
from runtime.kernels.base import KernelBuilder
from sima_dialect.element_types import element_type_to_numpy

INPUT_NAME_ATTR = "sima.name"

TensorSpec = tuple[tuple[int, ...], np.dtype]  # shape (-1 for a dynamic dimension), dtype


def find_function(module: ModuleOp | FuncOp) -> FuncOp:
    """`@main` of the module, or its only function."""
    if isinstance(module, FuncOp):
        return module
    functions = [op for op in module.body.ops if isinstance(op, FuncOp)]
    for function in functions:
        if function.sym_name.data == "main":
            return function
    if len(functions) == 1:
        return functions[0]
    names = ", ".join(f"@{f.sym_name.data}" for f in functions) or "none"
    raise InterpreterError(f"the module has no @main and not exactly one function to run (functions: {names})")


def describe(op: Operation) -> str:
    """How errors name an op: its node name if it has one, else its first result."""
    node = op.properties.get("node")
    if isinstance(node, StringAttr):
        return f"{op.name} '{node.data}'"
    if op.results and op.results[0].name_hint:
        return f"{op.name} (result %{op.results[0].name_hint})"
    return op.name


def _spec(value: SSAValue, what: str) -> TensorSpec:
    if not isinstance(value.type, TensorType):
        raise InterpreterError(f"{what} has type {value.type}; the interpreter handles tensors only")
    return tuple(value.type.get_shape()), element_type_to_numpy(value.type.element_type)


def _input_names(function: FuncOp) -> list[str]:
    names = []
    arg_attrs = function.arg_attrs.data if function.arg_attrs is not None else ()
    for i, arg in enumerate(function.args):
        attrs = arg_attrs[i].data if i < len(arg_attrs) else {}
        given = attrs.get(INPUT_NAME_ATTR)
        if isinstance(given, StringAttr):
            names.append(given.data)
        else:
            names.append(arg.name_hint or f"arg{i}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InterpreterError(f"@{function.sym_name.data} has several inputs named {', '.join(duplicates)}")
    return names


def _shape_matches(actual: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return len(actual) == len(expected) and all(e < 0 or a == e for a, e in zip(actual, expected))


def _format_spec(shape: tuple[int, ...], dtype: np.dtype) -> str:
    return f"{dtype} {list(d if d >= 0 else '?' for d in shape)}"


@dataclass(frozen=True, slots=True)
class _Step:
    """One kernel call of the plan."""

    kernel: Any
    operands: tuple[int, ...]
    results: tuple[int, ...]
    expected: tuple[TensorSpec, ...]
    free: tuple[int, ...]
    where: str

    def unchecked(self) -> _UncheckedStep:
        """The step as the fast loop of `Interpreter.run` takes it."""
        operands = self.operands
        gather = None if len(operands) == 1 else itemgetter(*operands) if operands else _no_operands
        result: int | tuple[int, ...] = self.results[0] if len(self.results) == 1 else self.results
        return self.kernel, gather, operands[0] if len(operands) == 1 else -1, result, self.free, self.where


# (kernel, operand gatherer or None for a single operand, that operand's slot,
# result slot (an int) or slots (a tuple), slots to free, where)
_UncheckedStep = tuple[Any, Callable[[list], tuple] | None, int, int | tuple[int, ...], tuple[int, ...], str]


def _no_operands(env: list) -> tuple:
    return ()


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread():
    """BLAS on one thread while it lasts (process-wide; also a decorator).

    Quantization's float runs use it. A float32 product summed by another split of
    threads rounds differently in the last bits, near-equal range candidates follow
    those bits, and so the quantized integers would depend on how many cores the
    machine has; on one thread they are the same on every core count. On busy cores
    it is also several times cheaper than a pool waiting for preempted threads
    (bench/bench_kernels.py)."""
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


def live_ops(body: list[Operation]) -> set[Operation]:
    """The ops of a function body (its return last) whose results are needed, or
    that have effects (are not Pure): the ones an executor must run."""
    needed: set[SSAValue] = set(body[-1].operands)
    live: set[Operation] = set()
    for op in reversed(body[:-1]):
        if not op.has_trait(Pure) or any(r in needed for r in op.results):
            live.add(op)
            needed.update(op.operands)
    return live


def returned_values(env, slots: Sequence[int]) -> list[np.ndarray]:
    """The arrays at `slots` of `env`, as `run` returns them: constants, inputs and
    their views are read-only, and a value returned twice is copied, so the caller
    may write to every output."""
    outputs: list[np.ndarray] = []
    for slot in slots:
        array = env[slot]
        if not array.flags.writeable or any(array is seen for seen in outputs):
            array = array.copy()
        outputs.append(array)
    return outputs


class Interpreter:
    """Runs a float `sima` function with NumPy kernels.

    `kernels` adds or overrides entries of the registry
    (`runtime.kernels.KERNELS`), e.g. a calibration kernel for `sima.observe`.

    `blas_threads` caps the BLAS thread pool while `run` executes (None: leave
    it as configured). On a machine whose cores are busy, one BLAS thread is
    several times faster than a pool that waits for preempted threads (see
    bench/bench_kernels.py). The cap is process-wide while it lasts.
    """

    def __init__(
        self,
        module: ModuleOp | FuncOp,
        kernels: Mapping[type, KernelBuilder] | None = None,
        *,
        blas_threads: int | None = None,
    ):
        if blas_threads is not None and blas_threads < 1:
            raise ValueError(f"blas_threads must be a positive number of threads, got {blas_threads}")
        self.blas_threads = blas_threads
        self.function = find_function(module)
        self.registry: dict[type, KernelBuilder] = {**KERNELS, **(kernels or {})}
        self.input_names: list[str] = _input_names(self.function)
        self.input_types: list[TensorSpec] = [
            _spec(arg, f"input '{name}'") for name, arg in zip(self.input_names, self.function.args)
        ]
        self._compile()

    # ------------------------------------------------------------------ compile

    def _compile(self) -> None:
        function = self.function
        blocks = list(function.body.blocks)
        if len(blocks) != 1:
            raise InterpreterError(f"@{function.sym_name.data} must have exactly one block, it has {len(blocks)}")
        body = list(blocks[0].ops)
        if not body or not isinstance(body[-1], ReturnOp):
            raise InterpreterError(f"@{function.sym_name.data} does not end with func.return")
        returned = body[-1].operands
        self.output_types: list[TensorSpec] = [_spec(v, f"output {i}") for i, v in enumerate(returned)]

        live = live_ops(body)
        slots: dict[SSAValue, int] = {}

        def slot_of(value: SSAValue) -> int:
            if value not in slots:
                slots[value] = len(slots)
            return slots[value]

        self._arg_slots = [slot_of(arg) for arg in function.args]
        constants: dict[int, np.ndarray] = {}
        steps: list[tuple[Operation, Any, tuple[int, ...], tuple[int, ...], str]] = []
        for op in body[:-1]:
            where = describe(op)
            builder = self.registry.get(type(op))
            if builder is None:
                raise UnsupportedOpError(
                    f"no kernel for {where}: the runtime cannot execute '{op.name}' "
                    f"(register a kernel builder in runtime.kernels.KERNELS)"
                )
            if op.regions:
                raise UnsupportedOpError(f"{where} has regions, which the interpreter does not execute")
            if op not in live:
                continue
            kernel = self._build(builder, op, where)
            operands = tuple(slots[v] for v in op.operands)
            results = tuple(slot_of(r) for r in op.results)
            if op.has_trait(Pure) and all(s in constants for s in operands):
                values = self._call(kernel, [constants[s] for s in operands], op, where)
                for slot, value in zip(results, values):
                    value.flags.writeable = False  # cached: no kernel may write into it
                    constants[slot] = value
            else:
                steps.append((op, kernel, operands, results, where))

        self._output_slots = [slots[v] for v in returned]
        self._constants = constants
        self._slot_count = len(slots)
        steps = fuse_elementwise_chains(steps, constants, set(self._output_slots))
        self._steps = self._with_frees(steps, constants)
        self._unchecked_steps = [step.unchecked() for step in self._steps]
        self._initial_env: list[Any] = [None] * self._slot_count
        for slot, value in constants.items():
            self._initial_env[slot] = value
        # input shapes with which a run has checked every kernel's results
        self._checked_shapes: set[tuple[tuple[int, ...], ...]] = set()

    def _with_frees(self, steps, constants: dict[int, np.ndarray]) -> list[_Step]:
        """Attach to each step the slots it reads or writes for the last time."""
        keep = set(constants) | set(self._output_slots)
        last_use: dict[int, int] = {}
        for index, (_, _, operands, results, _) in enumerate(steps):
            for slot in (*results, *operands):
                last_use[slot] = index
        frees: list[list[int]] = [[] for _ in steps]
        for slot, index in last_use.items():
            if slot not in keep:
                frees[index].append(slot)
        plan = []
        for (op, kernel, operands, results, where), free in zip(steps, frees):
            expected = tuple(_spec(r, f"result of {where}") for r in op.results)
            plan.append(_Step(kernel, operands, results, expected, tuple(free), where))
        return plan

    @staticmethod
    def _build(builder: KernelBuilder, op: Operation, where: str):
        try:
            return builder(op)
        except InterpreterError:
            raise
        except Exception as error:
            raise KernelError(f"{where}: cannot prepare its kernel: {error}") from error

    @staticmethod
    def _call(kernel, arguments: list[np.ndarray], op: Operation, where: str) -> list[np.ndarray]:
        """Run one kernel, as a list of results checked against the op's result types."""
        try:
            with np.errstate(all="ignore"):
                produced = kernel(*arguments)
        except InterpreterError:
            raise
        except Exception as error:
            raise KernelError(f"{where} failed: {error}") from error
        values = [] if produced is None else [produced] if len(op.results) == 1 else list(produced)
        return _checked(values, tuple(_spec(r, f"result of {where}") for r in op.results), where)

    # ------------------------------------------------------------------ run

    def run(self, inputs: Mapping[str, Any] | Sequence[Any] | np.ndarray) -> list[np.ndarray]:
        """Execute the function; one array per func.return operand."""
        env = self._initial_env.copy()
        bound = self.bind(inputs)
        for slot, value in zip(self._arg_slots, bound):
            env[slot] = value
        shapes = tuple(value.shape for value in bound)
        with np.errstate(all="ignore"), self.blas_limit():  # ONNX semantics: inf and nan, not warnings
            if shapes in self._checked_shapes:
                self._run_unchecked(env)
            else:
                self._run_checked(env)
                self._checked_shapes.add(shapes)
        return returned_values(env, self._output_slots)

    def _run_checked(self, env: list[Any]) -> None:
        """Run the plan, checking every kernel's results against the op's result types."""
        for step in self._steps:
            try:
                produced = step.kernel(*[env[s] for s in step.operands])
            except InterpreterError:
                raise
            except Exception as error:
                raise KernelError(f"{step.where} failed: {error}") from error
            results = step.results
            if len(results) == 1:
                values = _checked([produced], step.expected, step.where)
            else:
                values = _checked([] if produced is None else list(produced), step.expected, step.where)
            for slot, value in zip(results, values):
                env[slot] = value
            for slot in step.free:
                env[slot] = None

    def _run_unchecked(self, env: list[Any]) -> None:
        """Run the plan with as little per-op work as possible (see the module docstring)."""
        ndarray, asarray = np.ndarray, np.asarray
        where = ""
        try:
            for kernel, gather, operand, result, free, where in self._unchecked_steps:
                produced = kernel(env[operand]) if gather is None else kernel(*gather(env))
                if result.__class__ is int:
                    # kernels may return NumPy scalars for 0-d results
                    env[result] = produced if produced.__class__ is ndarray else asarray(produced)
                elif result:
                    for slot, value in zip(result, produced):
                        env[slot] = value if value.__class__ is ndarray else asarray(value)
                for slot in free:
                    env[slot] = None
        except InterpreterError:
            raise
        except Exception as error:
            raise KernelError(f"{where} failed: {error}") from error

    def blas_limit(self) -> contextlib.AbstractContextManager:
        """The BLAS thread cap of `blas_threads` while it lasts (a no-op when None)."""
        if self.blas_threads is None:
            return contextlib.nullcontext()
        return _blas_controller().limit(limits=self.blas_threads, user_api="blas")

    def __call__(self, inputs: Mapping[str, Any] | Sequence[Any] | np.ndarray) -> list[np.ndarray]:
        return self.run(inputs)

    def bind(self, inputs: Mapping[str, Any] | Sequence[Any] | np.ndarray) -> list[np.ndarray]:
        """The inputs checked and bound as `run` takes them: read-only arrays in input order
        (other executors of the same function, e.g. `runtime.onnx_backend`, bind with it)."""
        names = self.input_names
        if isinstance(inputs, Mapping):
            unknown = [str(k) for k in inputs if k not in names]
            if unknown:
                raise InputError(f"unknown input(s) {', '.join(unknown)}; the model's inputs are {', '.join(names)}")
            missing = [n for n in names if n not in inputs]
            if missing:
                raise InputError(f"missing input(s) {', '.join(missing)}; the model's inputs are {', '.join(names)}")
            values = [inputs[n] for n in names]
        elif isinstance(inputs, np.ndarray):
            if len(names) != 1:
                raise InputError(f"got one array, but the model has {len(names)} inputs: {', '.join(names)}")
            values = [inputs]
        else:
            values = list(inputs)
            if len(values) != len(names):
                raise InputError(f"got {len(values)} inputs, but the model has {len(names)}: {', '.join(names)}")
        return [self._validated(name, value, spec) for name, value, spec in zip(names, values, self.input_types)]

    @staticmethod
    def _validated(name: str, value: Any, spec: TensorSpec) -> np.ndarray:
        shape, dtype = spec
        try:
            array = np.asarray(value)
        except Exception as error:
            raise InputError(f"input '{name}' is not an array: {error}") from None
        if array.dtype != dtype or not _shape_matches(array.shape, shape):
            raise InputError(
                f"input '{name}' must be {_format_spec(shape, dtype)}, got {_format_spec(array.shape, array.dtype)}"
            )
        view = array.view()
        view.flags.writeable = False  # the caller's data: no kernel may write into it
        return view


def _checked(values: list[Any], expected: tuple[TensorSpec, ...], where: str) -> list[np.ndarray]:
    """Kernel results as arrays, after checking them against the IR's result types."""
    if len(values) != len(expected):
        raise KernelError(f"{where}: its kernel returned {len(values)} results, the op has {len(expected)}")
    checked = []
    for value, (shape, dtype) in zip(values, expected):
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
        if array.dtype != dtype or not _shape_matches(array.shape, shape):
            raise KernelError(
                f"{where}: its kernel produced {_format_spec(array.shape, array.dtype)}, "
                f"the IR says {_format_spec(shape, dtype)}"
            )
        checked.append(array)
    return checked

