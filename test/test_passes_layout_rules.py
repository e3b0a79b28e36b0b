"""The permutation arithmetic and the layout rules of `cancel-transposes`, checked
against NumPy on random shapes and permutations.

Each rule claims op(transpose(x', p_in)) == transpose(op'(x'), p_out); these
tests compute both sides.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import BoolAttr, StringAttr, TensorType, f32
from xdsl.ir import Block

from passes.patterns.layout_rules import DroppedAxesRule, reshape_layout, untransposed_shape
from passes.patterns.permutations import compose, invert, is_identity, is_reshape_like
from sima_dialect import ops
from sima_dialect.ops import int_array

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=5)


def distinct_values(shape) -> np.ndarray:
    return np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)


@st.composite
def shape_and_perm(draw):
    shape = draw(shapes)
    return tuple(shape), tuple(draw(st.permutations(range(len(shape)))))


@given(shape_and_perm(), st.data())
def test_compose_and_invert_match_numpy(shape_perm, data):
    shape, first = shape_perm
    second = tuple(data.draw(st.permutations(range(len(shape)))))
    x = distinct_values(shape)
    np.testing.assert_array_equal(
        np.transpose(np.transpose(x, first), second), np.transpose(x, compose(first, second))
    )
    np.testing.assert_array_equal(np.transpose(np.transpose(x, first), invert(first)), x)
    assert is_identity(compose(first, invert(first)))


@given(shape_and_perm())
def test_reshape_like_means_same_element_order(shape_perm):
    shape, perm = shape_perm
    x = distinct_values(shape)
    same_order = np.array_equal(np.transpose(x, perm).ravel(), x.ravel())
    assert is_reshape_like(shape, perm) == same_order


def factorizations(total: int):
    """Shapes (rank 1 to 5, size-1 axes allowed) with `total` elements."""
    factors = []
    n, p = total, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1

    @st.composite
    def build(draw):
        rank = draw(st.integers(1, 5))
        shape = [1] * rank
        for f in factors:
            shape[draw(st.integers(0, rank - 1))] *= f
        return tuple(shape)

    return build()


@st.composite
def reshapes(draw):
    in_shape, in_perm = draw(shape_and_perm())
    out_shape = draw(factorizations(int(np.prod(in_shape))))
    return in_shape, out_shape, in_perm


def check_reshape_claim(in_shape, out_shape, in_perm, out_perm):
    """reshape(transpose(x', in_perm), out_shape) == transpose(reshape(x', v'), out_perm)."""
    x_src = distinct_values(untransposed_shape(in_shape, in_perm))
    expected = np.transpose(x_src, in_perm).reshape(out_shape)
    got = np.transpose(x_src.reshape(untransposed_shape(out_shape, out_perm)), out_perm)
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=300)
@given(reshapes())
def test_reshape_layout_is_sound_both_ways(case):
    in_shape, out_shape, in_perm = case
    out_perm = reshape_layout(in_shape, out_shape, in_perm)
    if out_perm is not None:
        check_reshape_claim(in_shape, out_shape, in_perm, out_perm)
        back = reshape_layout(out_shape, in_shape, out_perm)
        assert back is not None  # the same grouping, read backwards
        check_reshape_claim(out_shape, in_shape, out_perm, back)


@given(reshapes())
def test_reshape_layout_handles_the_cases_it_must(case):
    in_shape, out_shape, in_perm = case
    if is_identity(in_perm):
        assert is_identity(reshape_layout(in_shape, out_shape, in_perm))
    if [d for d in in_shape if d != 1] == [d for d in out_shape if d != 1]:
        # only size-1 axes inserted or removed: always commutes
        assert reshape_layout(in_shape, out_shape, in_perm) is not None


def test_reshape_layout_refuses_a_merge_the_transpose_splits():
    # NCHW flatten after an NHWC -> NCHW transpose: the (C, H, W) group is not in order in x'
    assert reshape_layout((1, 3, 4, 5), (1, 60), (0, 3, 1, 2)) is None
    # merging H and W, which the transpose keeps adjacent and in order, commutes
    assert reshape_layout((1, 3, 4, 5), (1, 3, 20), (0, 3, 1, 2)) == (0, 2, 1)


@st.composite
def reductions(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=2, max_size=5))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape) - 1, unique=True))
    return tuple(shape), tuple(axes)


def reduce_op(shape, axes) -> ops.ReduceOp:
    block = Block(arg_types=[TensorType(f32, list(shape))])
    out = [d for i, d in enumerate(shape) if i not in axes]
    props = {"kind": StringAttr("sum"), "axes": int_array(axes), "keepdims": BoolAttr.from_bool(False)}
    op = ops.ReduceOp(operands=[block.args[0]], properties=props, result_types=[TensorType(f32, out)])
    block.add_op(op)
    return op


def check_reduce_claim(shape, axes, in_perm, out_perm):
    x_src = distinct_values(untransposed_shape(shape, in_perm))
    expected = np.transpose(x_src, in_perm).sum(axis=axes)
    got = np.transpose(x_src.sum(axis=tuple(in_perm[a] for a in axes)), out_perm)
    np.testing.assert_array_equal(got, expected)


@given(reductions(), st.data())
def test_dropped_axes_rule_forward_and_backward(case, data):
    shape, axes = case
    rule = DroppedAxesRule(reduce_op(shape, axes))
    in_perm = tuple(data.draw(st.permutations(range(len(shape)))))
    check_reduce_claim(shape, axes, in_perm, rule.output_layout(in_perm))
    out_perm = tuple(data.draw(st.permutations(range(len(shape) - len(axes)))))
    back = rule.input_layout(out_perm)
    assert rule.output_layout(back) == out_perm
    check_reduce_claim(shape, axes, back, out_perm)
