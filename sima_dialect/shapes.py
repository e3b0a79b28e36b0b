"""Shape rules of the `sima` ops, as plain functions on tuples.

The op verifiers check result types against these, and the importers use them
to build result types, so the two can never disagree. Each function raises
`ShapeError` with a message that says which dimension or value is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """A shape or attribute value that an op cannot accept."""


def broadcast_shapes(*shapes: Sequence[int]) -> Shape:
    """NumPy / ONNX multidirectional broadcasting."""
    rank = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(rank):
        dims = {s[len(s) - rank + axis] for s in shapes if len(s) - rank + axis >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ShapeError(
                f"shapes {' and '.join(str(tuple(s)) for s in shapes)} do not broadcast "
                f"(dimension {axis} of the result has sizes {sorted(dims)})"
            )
        result.append(dims.pop() if dims else 1)
    return tuple(result)


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is out of range [{-rank}, {rank - 1}] for rank {rank}")
    return axis % rank


def _window_output(size: int, kernel: int, stride: int, pad: int, dilation: int, dim: str) -> int:
    extent = dilation * (kernel - 1) + 1
    out = (size + pad - extent) // stride + 1
    if out <= 0:
        raise ShapeError(
            f"{dim}: window {kernel} (dilation {dilation}) does not fit input size {size} with total padding {pad}"
        )
    return out


def check_window_params(strides: Sequence[int], pads: Sequence[int], dilations: Sequence[int]) -> None:
    if len(strides) != 2 or any(s < 1 for s in strides):
        raise ShapeError(f"strides must be 2 positive integers, got {list(strides)}")
    if len(pads) != 4 or any(p < 0 for p in pads):
        raise ShapeError(f"pads must be 4 non-negative integers [top, left, bottom, right], got {list(pads)}")
    if len(dilations) != 2 or any(d < 1 for d in dilations):
        raise ShapeError(f"dilations must be 2 positive integers, got {list(dilations)}")


def conv2d_output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    groups: int,
) -> Shape:
    """NHWC input, HWIO weight (I = input channels / groups)."""
    if len(input_shape) != 4:
        raise ShapeError(f"input must be rank 4 (NHWC), got rank {len(input_shape)}")
    if len(weight_shape) != 4:
        raise ShapeError(f"weight must be rank 4 (HWIO), got rank {len(weight_shape)}")
    check_window_params(strides, pads, dilations)
    n, h, w, c = input_shape
    kh, kw, ci, co = weight_shape
    if groups < 1:
        raise ShapeError(f"groups must be positive, got {groups}")
    if c % groups or co % groups:
        raise ShapeError(
            f"groups {groups} must divide input channels {c} and output channels {co}"
        )
    if ci * groups != c:
        raise ShapeError(
            f"weight has {ci} input channels per group, x {groups} groups = {ci * groups}, "
            f"but the input has {c} channels"
        )
    oh = _window_output(h, kh, strides[0], pads[0] + pads[2], dilations[0], "height")
    ow = _window_output(w, kw, strides[1], pads[1] + pads[3], dilations[1], "width")
    return (n, oh, ow, co)


def conv2d_transpose_output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    output_padding: Sequence[int],
    groups: int,
) -> Shape:
    """NHWC input, weight [KH, KW, C_in, C_out / groups]."""
    if len(input_shape) != 4:
        raise ShapeError(f"input must be rank 4 (NHWC), got rank {len(input_shape)}")
    if len(weight_shape) != 4:
        raise ShapeError(f"weight must be rank 4 [KH, KW, C_in, C_out/groups], got rank {len(weight_shape)}")
    check_window_params(strides, pads, dilations)
    if len(output_padding) != 2 or any(p < 0 for p in output_padding):
        raise ShapeError(f"output_padding must be 2 non-negative integers, got {list(output_padding)}")
    # As PyTorch: extra rows beyond a stride (or dilation) would be pure padding.
    for axis, dim in enumerate(("height", "width")):
        if output_padding[axis] >= max(strides[axis], dilations[axis]):
            raise ShapeError(
                f"{dim}: output_padding {output_padding[axis]} must be smaller than the stride "
                f"{strides[axis]} or the dilation {dilations[axis]}"
            )
    n, h, w, c = input_shape
    kh, kw, ci, co_per_group = weight_shape
    if ci != c:
        raise ShapeError(f"weight has {ci} input channels, but the input has {c}")
    if groups < 1:
        raise ShapeError(f"groups must be positive, got {groups}")
    if c % groups:
        raise ShapeError(f"groups {groups} must divide input channels {c}")
    oh = (h - 1) * strides[0] - pads[0] - pads[2] + dilations[0] * (kh - 1) + output_padding[0] + 1
    ow = (w - 1) * strides[1] - pads[1] - pads[3] + dilations[1] * (kw - 1) + output_padding[1] + 1
    if oh <= 0 or ow <= 0:
        raise ShapeError(f"output size {oh}x{ow} is not positive: pads {list(pads)} remove more than the whole output")
    return (n, oh, ow, co_per_group * groups)


def pool_output_shape(
    input_shape: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
) -> Shape:
    if len(input_shape) != 4:
        raise ShapeError(f"input must be rank 4 (NHWC), got rank {len(input_shape)}")
    if len(kernel) != 2 or any(k < 1 for k in kernel):
        raise ShapeError(f"kernel must be 2 positive integers, got {list(kernel)}")
    check_window_params(strides, pads, dilations)
    # ONNX's (and onnxruntime's) rule
    if max(pads[0], pads[2]) >= kernel[0] or max(pads[1], pads[3]) >= kernel[1]:
        raise ShapeError(f"pads {list(pads)} must be smaller than the kernel {list(kernel)}")
    n, h, w, c = input_shape
    oh = _window_output(h, kernel[0], strides[0], pads[0] + pads[2], dilations[0], "height")
    ow = _window_output(w, kernel[1], strides[1], pads[1] + pads[3], dilations[1], "width")
    _check_windows_see_input(h, kernel[0], strides[0], pads[0], dilations[0], oh, "height")
    _check_windows_see_input(w, kernel[1], strides[1], pads[1], dilations[1], ow, "width")
    return (n, oh, ow, c)


def _check_windows_see_input(size: int, kernel: int, stride: int, pad_begin: int, dilation: int, out: int, dim: str) -> None:
    """Every window holds at least one input element (a max over padding alone is undefined).

    With pad < kernel that always holds for dilation 1; a dilated window can
    step over the whole input, so those are checked tap by tap.
    """
    if dilation == 1:
        return
    for position in range(out):
        start = position * stride - pad_begin
        if not any(0 <= start + tap * dilation < size for tap in range(kernel)):
            raise ShapeError(
                f"{dim}: window {position} (kernel {kernel}, dilation {dilation}) covers only padding "
                f"of the input size {size}"
            )


def matmul_output_shape(lhs: Sequence[int], rhs: Sequence[int]) -> Shape:
    """Batched matmul: [..., M, K] x [..., K, N] with broadcast batch dims."""
    if len(lhs) < 2 or len(rhs) < 2:
        raise ShapeError(f"matmul operands must have rank >= 2, got {tuple(lhs)} and {tuple(rhs)}")
    if lhs[-1] != rhs[-2]:
        raise ShapeError(f"contraction sizes differ: lhs {tuple(lhs)} has K={lhs[-1]}, rhs {tuple(rhs)} has K={rhs[-2]}")
    batch = broadcast_shapes(lhs[:-2], rhs[:-2])
    return (*batch, lhs[-2], rhs[-1])


def dense_output_shape(input_shape: Sequence[int], weight_shape: Sequence[int]) -> Shape:
    """[..., K] x [K, N]."""
    if len(input_shape) < 1:
        raise ShapeError("dense input must have rank >= 1")
    if len(weight_shape) != 2:
        raise ShapeError(f"dense weight must be rank 2 [K, N], got {tuple(weight_shape)}")
    if input_shape[-1] != weight_shape[0]:
        raise ShapeError(f"input features {input_shape[-1]} != weight rows {weight_shape[0]}")
    return (*input_shape[:-1], weight_shape[1])


def concat_output_shape(shapes: Sequence[Sequence[int]], axis: int) -> Shape:
    if not shapes:
        raise ShapeError("concat needs at least one input")
    rank = len(shapes[0])
    axis = normalize_axis(axis, rank)
    for i, s in enumerate(shapes):
        if len(s) != rank:
            raise ShapeError(f"input {i} has rank {len(s)}, expected {rank}")
        for d in range(rank):
            if d != axis and s[d] != shapes[0][d]:
                raise ShapeError(f"input {i} has size {s[d]} in dimension {d}, expected {shapes[0][d]}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return tuple(out)


def split_output_shapes(input_shape: Sequence[int], sizes: Sequence[int], axis: int) -> list[Shape]:
    """The pieces of `input_shape` cut along `axis` into the given sizes."""
    axis = normalize_axis(axis, len(input_shape))
    if not sizes:
        raise ShapeError("split needs at least one piece")
    if any(size < 0 for size in sizes):
        raise ShapeError(f"piece sizes {list(sizes)} must be non-negative")
    if sum(sizes) != input_shape[axis]:
        raise ShapeError(
            f"piece sizes {list(sizes)} add up to {sum(sizes)}, but axis {axis} of the input has size {input_shape[axis]}"
        )
    return [tuple(size if d == axis else dim for d, dim in enumerate(input_shape)) for size in sizes]


def slice_output_shape(
    input_shape: Sequence[int], starts: Sequence[int], ends: Sequence[int], steps: Sequence[int]
) -> Shape:
    """Static slice, one (start, end, step) per axis with `range` semantics.

    For a positive step 0 <= start <= end <= dim; for a negative step
    -1 <= end <= start < dim (end = -1 means "through index 0").
    """
    rank = len(input_shape)
    if not len(starts) == len(ends) == len(steps) == rank:
        raise ShapeError(
            f"starts, ends and steps need one entry per axis ({rank}), "
            f"got {len(starts)}, {len(ends)} and {len(steps)}"
        )
    out = []
    for axis, (dim, b, e, s) in enumerate(zip(input_shape, starts, ends, steps)):
        if s == 0:
            raise ShapeError(f"step of axis {axis} is 0")
        if s > 0 and not 0 <= b <= e <= dim:
            raise ShapeError(f"axis {axis}: need 0 <= start {b} <= end {e} <= size {dim}")
        if s < 0 and not -1 <= e <= b < dim:
            raise ShapeError(f"axis {axis}: need -1 <= end {e} <= start {b} < size {dim} for a negative step")
        out.append(len(range(b, e, s)))
    return tuple(out)


def transpose_output_shape(input_shape: Sequence[int], perm: Sequence[int]) -> Shape:
    if sorted(perm) != list(range(len(input_shape))):
        raise ShapeError(f"perm {list(perm)} is not a permutation of {len(input_shape)} axes")
    return tuple(input_shape[p] for p in perm)


def pad_output_shape(input_shape: Sequence[int], pads: Sequence[int]) -> Shape:
    rank = len(input_shape)
    if len(pads) != 2 * rank:
        raise ShapeError(f"pads needs {2 * rank} entries (begins then ends), got {len(pads)}")
    if any(p < 0 for p in pads):
        raise ShapeError(f"pads must be non-negative, got {list(pads)}")
    out = tuple(d + pads[i] + pads[i + rank] for i, d in enumerate(input_shape))
    if any(d <= 0 for d in out):
        raise ShapeError(f"padding {list(pads)} leaves an empty dimension")
    return out


def reduce_output_shape(input_shape: Sequence[int], axes: Sequence[int], keepdims: bool) -> Shape:
    """Reduce over `axes`, which must be explicit (no ONNX "empty means all")."""
    rank = len(input_shape)
    if not axes:
        raise ShapeError("axes must name at least one axis")
    norm = {normalize_axis(a, rank) for a in axes}
    if len(norm) != len(axes):
        raise ShapeError(f"axes {list(axes)} repeat an axis")
    if keepdims:
        return tuple(1 if i in norm else d for i, d in enumerate(input_shape))
    return tuple(d for i, d in enumerate(input_shape) if i not in norm)


def gather_output_shape(data_shape: Sequence[int], indices_shape: Sequence[int], axis: int) -> Shape:
    axis = normalize_axis(axis, len(data_shape))
    return (*data_shape[:axis], *indices_shape, *data_shape[axis + 1 :])


def element_count(shape: Sequence[int]) -> int:
    count = 1
    for d in shape:
        count *= d
    return count
