"""The passes must not change what a function computes.

Hypothesis builds random small functions (transposes, reshapes, elementwise
ops, clips, constants of every broadcast rank, softmax, reductions, concat,
split, slice, pad), runs `cancel-transposes` and `sima-canonicalize` on them, and
checks with the runtime interpreter that outputs are the same, and that
`cancel-transposes` never adds a real transpose.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xdsl.context import Context
from xdsl.dialects.builtin import BoolAttr, ModuleOp, StringAttr, TensorType, f32
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region, SSAValue

from passes.cancel_transposes import CancelTransposesPass, transpose_cost
from passes.patterns.permutations import invert
from passes.sima_canonicalize import SimaCanonicalizePass
from runtime.interpreter import Interpreter
from sima_dialect import ops
from sima_dialect.ops import float_attr, int_array, int_attr, shape_of
from sima_dialect.shapes import broadcast_shapes, element_count

UNARY = (ops.ReluOp, ops.NegOp, ops.SigmoidOp, ops.TanhOp, ops.AbsOp)
BINARY = (ops.AddOp, ops.MulOp, ops.SubOp, ops.MaximumOp)


def tensor(shape) -> TensorType:
    return TensorType(f32, list(shape))


class RandomFunction:
    """Draws ops one by one, each reading earlier values (recent ones more often)."""

    def __init__(self, data: st.DataObject):
        self.draw = data.draw
        rank = self.draw(st.sampled_from([3, 4, 2, 4, 3, 1]), label="rank")
        # mostly non-unit sizes: transposes of size-1 axes are mere reshapes
        shape = self.draw(st.lists(st.sampled_from([2, 3, 4, 2, 3, 1]), min_size=rank, max_size=rank), label="input shape")
        self.block = Block(arg_types=[tensor(shape)])
        self.values: list[SSAValue] = [self.block.args[0]]
        self.perms: list[tuple[int, ...]] = []
        self.constants = 0
        self.chain = False  # inside a sandwich: every step reads the latest value

    def pick(self, rank: int | None = None) -> SSAValue | None:
        pool = [v for v in self.values if rank is None or len(shape_of(v)) == rank]
        if self.chain and (rank is None or self.values[-1] in pool):
            return self.values[-1]
        if not pool:
            return None
        # favour recent values, so chains form
        index = self.draw(st.integers(0, len(pool) - 1).map(lambda i: max(i, len(pool) - 1 - i // 2)))
        return pool[index]

    def add(self, op) -> None:
        self.block.add_op(op)
        self.values.extend(op.results)

    def constant(self, shape) -> SSAValue:
        self.constants += 1
        array = np.asarray(self.draw(st.lists(st.integers(-3, 3), min_size=element_count(shape), max_size=element_count(shape))), np.float32)
        op = ops.ConstantOp.from_array(f"c{self.constants}", array.reshape(shape) / 2)
        self.block.add_op(op)
        return op.output

    # -- steps -----------------------------------------------------------------

    def transpose(self) -> None:
        x = self.pick()
        rank = len(shape_of(x))
        earlier = [p for p in self.perms if len(p) == rank]
        if earlier and self.draw(st.booleans()):
            perm = invert(self.draw(st.sampled_from(earlier)))  # likely to cancel something
        else:
            perm = tuple(self.draw(st.permutations(range(rank))))
        self.emit_transpose(x, perm)

    def emit_transpose(self, x: SSAValue, perm: tuple[int, ...]) -> None:
        self.perms.append(perm)
        out = tuple(shape_of(x)[p] for p in perm)
        self.add(ops.TransposeOp(operands=[x], properties={"perm": int_array(perm)}, result_types=[tensor(out)]))

    def reshape(self) -> None:
        x = self.pick()
        shape = list(shape_of(x))
        kind = self.draw(st.sampled_from(["unsqueeze", "squeeze", "merge", "split", "any"]))
        if kind == "unsqueeze" and len(shape) < 4:
            shape.insert(self.draw(st.integers(0, len(shape))), 1)
        elif kind == "squeeze" and 1 in shape and len(shape) > 1:
            shape.remove(1)
        elif kind == "merge" and len(shape) > 1:
            i = self.draw(st.integers(0, len(shape) - 2))
            shape[i : i + 2] = [shape[i] * shape[i + 1]]
        elif kind == "split" and any(d % 2 == 0 for d in shape) and len(shape) < 4:
            i = self.draw(st.sampled_from([i for i, d in enumerate(shape) if d % 2 == 0]))
            shape[i : i + 1] = [2, shape[i] // 2]
        else:
            factors = [p for d in shape for p in _prime_factors(d)]
            rank = self.draw(st.integers(1, 4))
            shape = [1] * rank
            for p in factors:
                shape[self.draw(st.integers(0, rank - 1))] *= p
        self.add(ops.ReshapeOp(operands=[x], result_types=[tensor(shape)]))

    def unary(self) -> None:
        self.add(self.draw(st.sampled_from(UNARY))(self.pick()))

    def clip(self) -> None:
        bounds = st.sampled_from([-math.inf, -1.0, -0.5, 0.0, 0.5, 1.0, 6.0, math.inf])
        low, high = sorted((self.draw(bounds), self.draw(bounds)))
        self.add(ops.ClipOp(self.pick(), properties={"min": float_attr(low), "max": float_attr(high)}))

    def binary(self) -> None:
        x = self.pick()
        shape = shape_of(x)
        if self.draw(st.booleans()):
            other = self.pick(len(shape))
            if shape_of(other) != shape:
                return
        else:
            dims = [d if self.draw(st.booleans()) else 1 for d in shape]
            other = self.constant(dims[self.draw(st.integers(0, len(dims))) :])
        lhs, rhs = (x, other) if self.draw(st.booleans()) else (other, x)
        out = broadcast_shapes(shape_of(lhs), shape_of(rhs))
        self.add(self.draw(st.sampled_from(BINARY))(operands=[lhs, rhs], result_types=[tensor(out)]))

    def softmax(self) -> None:
        x = self.pick()
        axis = self.draw(st.integers(-len(shape_of(x)), len(shape_of(x)) - 1))
        self.add(ops.SoftmaxOp(x, properties={"axis": int_attr(axis)}))

    def reduce(self) -> None:
        x = self.pick()
        rank = len(shape_of(x))
        axes = self.draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True))
        keepdims = self.draw(st.booleans())
        if not keepdims and len(axes) == rank:
            return
        kind = self.draw(st.sampled_from(["sum", "max", "mean", "min"]))
        out = [1 if i in axes else d for i, d in enumerate(shape_of(x)) if keepdims or i not in axes]
        props = {"kind": StringAttr(kind), "axes": int_array(axes), "keepdims": BoolAttr.from_bool(keepdims)}
        self.add(ops.ReduceOp(operands=[x], properties=props, result_types=[tensor(out)]))

    def concat(self) -> None:
        x = self.pick()
        y = self.pick(len(shape_of(x)))
        axis = self.draw(st.integers(0, len(shape_of(x)) - 1))
        if any(a != b for i, (a, b) in enumerate(zip(shape_of(x), shape_of(y))) if i != axis):
            return
        out = list(shape_of(x))
        out[axis] += shape_of(y)[axis]
        self.add(ops.ConcatOp(operands=[[x, y]], properties={"axis": int_attr(axis)}, result_types=[tensor(out)]))

    def split(self) -> None:
        x = self.pick()
        splittable = [i for i, d in enumerate(shape_of(x)) if d >= 2]
        if not splittable:
            return
        axis = self.draw(st.sampled_from(splittable))
        first = self.draw(st.integers(1, shape_of(x)[axis] - 1))
        pieces = []
        for size in (first, shape_of(x)[axis] - first):
            piece = list(shape_of(x))
            piece[axis] = size
            pieces.append(tensor(piece))
        self.add(ops.SplitOp(operands=[x], properties={"axis": int_attr(axis)}, result_types=[pieces]))

    def slice(self) -> None:
        x = self.pick()
        starts, ends, steps = [], [], []
        for d in shape_of(x):
            step = self.draw(st.sampled_from([1, 1, 2, -1]))
            if step > 0:
                start = self.draw(st.integers(0, d - 1))
                end = self.draw(st.integers(start + 1, d))
            else:
                start = self.draw(st.integers(0, d - 1))
                end = self.draw(st.integers(-1, start - 1))
            starts.append(start), ends.append(end), steps.append(step)
        out = [len(range(b, e, s)) for b, e, s in zip(starts, ends, steps)]
        props = {"starts": int_array(starts), "ends": int_array(ends), "steps": int_array(steps)}
        self.add(ops.SliceOp(operands=[x], properties=props, result_types=[tensor(out)]))

    def pad(self) -> None:
        x = self.pick()
        mode = self.draw(st.sampled_from(["constant", "edge", "reflect"]))
        shape = shape_of(x)
        limit = [d - 1 if mode == "reflect" else 2 for d in shape]
        begins = [self.draw(st.integers(0, min(2, m))) for m in limit]
        ends = [self.draw(st.integers(0, min(2, m))) for m in limit]
        out = [d + b + e for d, b, e in zip(shape, begins, ends)]
        props = {"pads": int_array(begins + ends), "mode": StringAttr(mode), "value": float_attr(0.5)}
        self.add(ops.PadOp(operands=[x], properties=props, result_types=[tensor(out)]))

    def sandwich(self) -> None:
        """transpose, a few layout-agnostic ops, then (if the rank allows) the inverse transpose."""
        self.transpose()
        opened = self.perms[-1]
        self.chain = True
        inner = ("reshape", "unary", "clip", "binary", "softmax", "reduce", "concat", "split", "slice", "pad")
        for step in self.draw(st.lists(st.sampled_from(inner), min_size=1, max_size=3)):
            getattr(self, step)()
        self.chain = False
        if len(shape_of(self.values[-1])) == len(opened) and self.draw(st.integers(0, 3)):
            self.emit_transpose(self.values[-1], invert(opened))
        else:
            self.transpose()

    STEPS = ("sandwich", "sandwich", "transpose", "transpose", "reshape", "unary", "clip", "binary", "softmax", "reduce", "concat", "split", "slice", "pad")

    def build(self) -> ModuleOp:
        for _ in range(self.draw(st.integers(2, 8), label="steps")):
            getattr(self, self.draw(st.sampled_from(self.STEPS)))()
        outputs = [self.values[-1]]
        if len(self.values) > 2 and self.draw(st.booleans()):
            outputs.append(self.draw(st.sampled_from(self.values[1:-1])))
        self.block.add_op(ReturnOp(*outputs))
        function = FuncOp("main", ([self.block.args[0].type], [v.type for v in outputs]), Region(self.block))
        module = ModuleOp([function])
        module.verify()
        return module


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


def real_transposes(module: ModuleOp) -> int:
    return sum(
        transpose_cost(shape_of(op.input), op.perm.get_values())[0]
        for op in module.walk()
        if isinstance(op, ops.TransposeOp)
    )


def run(module: ModuleOp, x: np.ndarray) -> list[np.ndarray]:
    return Interpreter(module).run([x])


PIPELINES = {
    "cancel-transposes": [CancelTransposesPass()],
    "sima-canonicalize": [SimaCanonicalizePass()],
    "cancel-transposes,sima-canonicalize": [CancelTransposesPass(), SimaCanonicalizePass()],
}


@pytest.mark.parametrize("pipeline", list(PIPELINES))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_passes_preserve_semantics(pipeline: str, data: st.DataObject) -> None:
    module = RandomFunction(data).build()
    before_text = str(module)
    x = np.random.default_rng(0).standard_normal(shape_of(module.body.block.first_op.args[0])).astype(np.float32)
    expected = run(module, x)
    transposes_before = real_transposes(module)

    for module_pass in PIPELINES[pipeline]:
        module_pass.apply(Context(), module)
        module.verify()

    got = run(module, x)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=f"before:\n{before_text}\nafter:\n{module}")
    if pipeline.startswith("cancel-transposes"):
        assert real_transposes(module) <= transposes_before, f"before:\n{before_text}\nafter:\n{module}"
