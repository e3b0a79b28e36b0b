"""How each layout-agnostic sima op computes the same values on transposed data.

A *layout* of a value v is a permutation p with v == transpose(v', p): v' is the
same data with its axes in another order. For an op whose inputs are given in a
layout, a rule says in which layout its results come out and which op computes
them from the un-transposed inputs:

    op(transpose(x', p)) == transpose(op'(x'), p_out)

Rules exist only where this identity holds exactly (see `cancel_transposes` for
the list and the argument). A rule *ties* the op's activations (operands and
results): knowing the layout of one of them fixes all the others.
Constants are never tied: they are re-laid-out by folding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from xdsl.ir import Attribute, Operation, SSAValue

from sima_dialect import ops as sima
from sima_dialect.ops import int_array, int_attr, shape_of
from sima_dialect.shapes import normalize_axis
from passes.patterns import builders
from passes.patterns.permutations import Perm, invert, permute

Layouts = Mapping[SSAValue, Perm]


def untransposed_shape(shape: Sequence[int], perm: Perm) -> tuple[int, ...]:
    """The shape of v' when v == transpose(v', perm) has `shape`."""
    return permute(shape, invert(perm))


class LayoutRule:
    """The rule of one op: which values it ties, and the op on un-transposed data."""

    def __init__(self, op: Operation, tied: Sequence[SSAValue]):
        self.op = op
        self.tied = tuple(tied)

    def propagate(self, known: Layouts) -> dict[SSAValue, Perm] | None:
        """Layouts of all tied values given those of some (at least one), or None
        when this op cannot take them."""
        raise NotImplementedError

    def operand_layouts(self, layouts: Layouts) -> list[Perm | None]:
        """Per operand, the layout in which the new op reads it (None: read it unchanged)."""
        raise NotImplementedError

    def new_properties(self, layouts: Layouts) -> dict[str, Attribute]:
        return {}

    def rebuild(self, layouts: Layouts, operands: Sequence[SSAValue]) -> Operation:
        """The op computing the un-transposed results from the un-transposed operands."""
        properties = dict(self.op.properties)
        properties.update(self.new_properties(layouts))
        result_types = [
            builders.with_shape(r, untransposed_shape(shape_of(r), layouts[r])) for r in self.op.results
        ]
        return type(self.op).create(
            operands=list(operands),
            result_types=result_types,
            properties=properties,
            attributes=dict(self.op.attributes),
        )


def is_constant(value: SSAValue) -> bool:
    return isinstance(value.owner, sima.ConstantOp)


class SameLayoutRule(LayoutRule):
    """Every activation in the same layout; axis-valued properties renumbered.

    Operands of the results' rank are tied. An operand of only 1s (a scalar)
    is read unchanged: it broadcasts the same way in any layout. A constant of
    lower rank is read as NumPy broadcasting does (leading 1s added), then
    re-laid-out by folding. Any other operand of lower rank makes the op
    layout-sensitive.
    """

    def __init__(self, op: Operation, tied: Sequence[SSAValue], slots: Sequence[bool], remap):
        super().__init__(op, tied)
        self.slots = tuple(slots)
        self.remap: Callable[[Perm], dict[str, Attribute]] = remap

    @classmethod
    def build(cls, op: Operation, remap=lambda perm: {}) -> SameLayoutRule | None:
        rank = len(shape_of(op.results[0]))
        tied: list[SSAValue] = []
        slots: list[bool] = []
        for operand in op.operands:
            operand_shape = shape_of(operand)
            if all(d == 1 for d in operand_shape) and len(operand_shape) <= rank:
                slots.append(False)  # a scalar broadcasts the same way in any layout
            elif is_constant(operand) and len(operand_shape) <= rank:
                slots.append(True)
            elif len(operand_shape) == rank:
                tied.append(operand)
                slots.append(True)
            else:
                return None
        return cls(op, [*tied, *op.results], slots, remap)

    def propagate(self, known: Layouts) -> dict[SSAValue, Perm] | None:
        perms = set(known.values())
        if len(perms) != 1:
            return None
        (perm,) = perms
        return {value: perm for value in self.tied}

    def common(self, layouts: Layouts) -> Perm:
        return layouts[self.op.results[0]]

    def operand_layouts(self, layouts: Layouts) -> list[Perm | None]:
        perm = self.common(layouts)
        return [perm if in_layout else None for in_layout in self.slots]

    def new_properties(self, layouts: Layouts) -> dict[str, Attribute]:
        return self.remap(self.common(layouts))


def _axis_remap(op: Operation, prop: str = "axis"):
    """axis a of v is axis perm[a] of v'."""
    rank = len(shape_of(op.operands[0]))
    axis = normalize_axis(op.properties[prop].value.data, rank)
    return lambda perm: {prop: int_attr(perm[axis])}


def _per_axis_remap(op: sima.SliceOp):
    """A per-axis value of axis i of v belongs to axis perm[i] of v'."""
    starts, ends, steps = op.starts.get_values(), op.ends.get_values(), op.steps.get_values()

    def remap(perm: Perm) -> dict[str, Attribute]:
        inverse = invert(perm)
        return {name: int_array(permute(values, inverse)) for name, values in
                (("starts", starts), ("ends", ends), ("steps", steps))}

    return remap


def _pad_remap(op: sima.PadOp):
    pads = op.pads.get_values()
    rank = len(pads) // 2

    def remap(perm: Perm) -> dict[str, Attribute]:
        inverse = invert(perm)
        return {"pads": int_array(permute(pads[:rank], inverse) + permute(pads[rank:], inverse))}

    return remap


def _reduce_axes(op: sima.ReduceOp | sima.ArgMaxOp) -> tuple[int, ...]:
    rank = len(shape_of(op.input))
    if isinstance(op, sima.ArgMaxOp):
        return (normalize_axis(op.axis.value.data, rank),)
    return tuple(normalize_axis(a, rank) for a in op.axes.get_values())


def _reduce_axes_props(op: sima.ReduceOp | sima.ArgMaxOp, new_axes: Sequence[int]) -> dict[str, Attribute]:
    if isinstance(op, sima.ArgMaxOp):
        return {"axis": int_attr(new_axes[0])}
    return {"axes": int_array(sorted(new_axes))}


class DroppedAxesRule(LayoutRule):
    """A reduction that removes its axes (keepdims false): input and output layouts differ.

    With input layout q, reduced axes A and kept axes i_0 < i_1 < ... of the input,
    v' keeps the axes of x' not in q(A), in order; output axis j is input axis i_j,
    which is axis q[i_j] of x', i.e. axis (rank of q[i_j] among the kept axes of x') of v'.
    """

    def __init__(self, op: sima.ReduceOp | sima.ArgMaxOp):
        super().__init__(op, [op.input, op.output])
        self.rank = len(shape_of(op.input))
        self.axes = _reduce_axes(op)
        self.kept = [i for i in range(self.rank) if i not in self.axes]

    def output_layout(self, input_perm: Perm) -> Perm:
        reduced = {input_perm[a] for a in self.axes}
        kept_of_source = [i for i in range(self.rank) if i not in reduced]
        return tuple(kept_of_source.index(input_perm[i]) for i in self.kept)

    def input_layout(self, output_perm: Perm) -> Perm:
        # One of several valid choices: the reduced axes stay where they are.
        perm = list(range(self.rank))
        for j, i in enumerate(self.kept):
            perm[i] = self.kept[output_perm[j]]
        return tuple(perm)

    def propagate(self, known: Layouts) -> dict[SSAValue, Perm] | None:
        op = self.op
        if op.input in known:
            return {op.input: known[op.input], op.output: self.output_layout(known[op.input])}
        return {op.input: self.input_layout(known[op.output]), op.output: known[op.output]}

    def operand_layouts(self, layouts: Layouts) -> list[Perm | None]:
        return [layouts[self.op.input]]

    def new_properties(self, layouts: Layouts) -> dict[str, Attribute]:
        perm = layouts[self.op.input]
        return _reduce_axes_props(self.op, [perm[a] for a in self.axes])


def reshape_layout(in_shape: Sequence[int], out_shape: Sequence[int], in_perm: Perm) -> Perm | None:
    """The layout of reshape(x) when x has layout `in_perm`, or None if it has none.

    Size-1 axes do not affect the row-major order, so only the non-unit axes
    count. The reshape splits the non-unit axes of the input and of the output
    into consecutive groups of equal size product (merges and splits). It
    commutes with the transpose iff the transpose keeps each group's axes
    adjacent and in order: then x' holds the groups as contiguous blocks (in
    another order), reshape(x') reshapes each block, and the output layout moves
    whole groups. Output size-1 axes stay where they are.
    """
    in_axes = [i for i, d in enumerate(in_shape) if d != 1]
    out_axes = [i for i, d in enumerate(out_shape) if d != 1]
    in_dims = [in_shape[i] for i in in_axes]
    out_dims = [out_shape[i] for i in out_axes]
    # position of each non-unit input axis among the non-unit axes of x'
    sources = [in_perm[i] for i in in_axes]
    ordered = sorted(sources)
    position = [ordered.index(s) for s in sources]

    groups: list[tuple[int, int, int, int]] = []  # (in_start, in_end, out_start, out_end)
    i = j = 0
    while i < len(in_dims):
        start_i, start_j = i, j
        size_in, size_out = in_dims[i], out_dims[j]
        i, j = i + 1, j + 1
        while size_in != size_out:
            if size_in < size_out:
                size_in *= in_dims[i]
                i += 1
            else:
                size_out *= out_dims[j]
                j += 1
        groups.append((start_i, i, start_j, j))

    for start_i, end_i, _, _ in groups:
        if position[start_i:end_i] != list(range(position[start_i], position[start_i] + end_i - start_i)):
            return None
    # Output non-unit axes of v', group by group in the order x' holds the groups.
    placed: dict[int, int] = {}  # non-unit output index -> non-unit index in v'
    next_slot = 0
    for start_i, end_i, start_j, end_j in sorted(groups, key=lambda g: position[g[0]]):
        for t in range(start_j, end_j):
            placed[t] = next_slot
            next_slot += 1
    perm = list(range(len(out_shape)))
    for t, axis in enumerate(out_axes):
        perm[axis] = out_axes[placed[t]]
    return tuple(perm)


class ReshapeRule(LayoutRule):
    """reshape(x) in layout terms: see `reshape_layout` (symmetric in input and output)."""

    def __init__(self, op: sima.ReshapeOp):
        super().__init__(op, [op.input, op.output])
        self.in_shape, self.out_shape = shape_of(op.input), shape_of(op.output)

    def propagate(self, known: Layouts) -> dict[SSAValue, Perm] | None:
        op = self.op
        if op.input in known:
            out_perm = reshape_layout(self.in_shape, self.out_shape, known[op.input])
            return None if out_perm is None else {op.input: known[op.input], op.output: out_perm}
        in_perm = reshape_layout(self.out_shape, self.in_shape, known[op.output])
        return None if in_perm is None else {op.input: in_perm, op.output: known[op.output]}

    def operand_layouts(self, layouts: Layouts) -> list[Perm | None]:
        return [layouts[self.op.input]]


ELEMENTWISE_OPS: tuple[type[Operation], ...] = (
    sima.ReluOp, sima.SigmoidOp, sima.TanhOp, sima.SiluOp, sima.HardSwishOp, sima.ExpOp,
    sima.LogOp, sima.SqrtOp, sima.ErfOp, sima.ReciprocalOp, sima.AbsOp, sima.NegOp,
    sima.ClipOp, sima.HardSigmoidOp, sima.LeakyReluOp, sima.GeluOp, sima.CastOp,
    sima.AddOp, sima.SubOp, sima.MulOp, sima.DivOp, sima.PowOp, sima.MaximumOp,
    sima.MinimumOp, sima.CompareOp, sima.PreluOp, sima.WhereOp,
)  # fmt: skip


def layout_rule(op: Operation) -> LayoutRule | None:
    """The rule of `op`, or None when `op` is layout-sensitive (or not a sima op we know).

    An explicit list, not a base-class test: an op added later is layout-sensitive
    until someone checks that it commutes with transposes.
    """
    kind = type(op)
    if kind in ELEMENTWISE_OPS:
        return SameLayoutRule.build(op)
    if kind is sima.ExpandOp:
        return SameLayoutRule.build(op)
    if kind in (sima.SoftmaxOp, sima.ConcatOp, sima.SplitOp):
        return SameLayoutRule.build(op, _axis_remap(op))
    if kind is sima.SliceOp:
        return SameLayoutRule.build(op, _per_axis_remap(op))
    if kind is sima.PadOp:
        return SameLayoutRule.build(op, _pad_remap(op))
    if kind in (sima.ReduceOp, sima.ArgMaxOp):
        axes = _reduce_axes(op)
        if op.keepdims.value.data:
            return SameLayoutRule.build(op, lambda perm: _reduce_axes_props(op, [perm[a] for a in axes]))
        return DroppedAxesRule(op)
    if kind is sima.ReshapeOp:
        return ReshapeRule(op)
    return None
