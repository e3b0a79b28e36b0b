"""The kernel registry: one entry per op class, op class -> kernel builder.

To support a new op, write a builder (see `runtime.kernels.base`: it takes the
op and returns a function of the operand arrays) and add one line here. Kernels
that need nothing from their op are wrapped with `stateless`.
"""

from __future__ import annotations

import numpy as np

from runtime.kernels import conv, data_movement, elementwise, linear, normalization, pool, resize
from runtime.kernels.base import Kernel, KernelBuilder, stateless
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp


def build_constant(op: ops.ConstantOp) -> Kernel:
    # operand-free and pure: the interpreter runs it once, when it compiles the function
    array = op.as_array()
    return lambda: array


KERNELS: dict[type, KernelBuilder] = {
    ops.ConstantOp: build_constant,
    # elementwise activations
    ops.ReluOp: stateless(elementwise.relu),
    ops.SigmoidOp: stateless(elementwise.sigmoid),
    ops.TanhOp: stateless(np.tanh),
    ops.SiluOp: stateless(elementwise.silu),
    ops.HardSwishOp: stateless(elementwise.hard_swish),
    ops.ExpOp: stateless(np.exp),
    ops.LogOp: stateless(np.log),
    ops.SqrtOp: stateless(np.sqrt),
    ops.ErfOp: stateless(elementwise.erf),
    ops.ReciprocalOp: stateless(elementwise.reciprocal),
    ops.AbsOp: stateless(np.abs),
    ops.NegOp: stateless(np.negative),
    ops.ClipOp: elementwise.build_clip,
    ops.HardSigmoidOp: elementwise.build_hard_sigmoid,
    ops.LeakyReluOp: elementwise.build_leaky_relu,
    ops.GeluOp: elementwise.build_gelu,
    # elementwise binary, select, cast
    ops.AddOp: stateless(np.add),
    ops.SubOp: stateless(np.subtract),
    ops.MulOp: stateless(np.multiply),
    ops.DivOp: elementwise.build_div,
    ops.PowOp: stateless(np.power),
    ops.MaximumOp: stateless(np.maximum),
    ops.MinimumOp: stateless(np.minimum),
    ops.CompareOp: elementwise.build_compare,
    ops.PreluOp: stateless(elementwise.prelu),
    ops.WhereOp: stateless(elementwise.where),
    ops.CastOp: elementwise.build_cast,
    # convolution and matrix products
    ops.Conv2DOp: conv.build_conv2d,
    ops.Conv2DTransposeOp: conv.build_conv2d_transpose,
    ops.MatMulOp: stateless(linear.matmul),
    ops.DenseOp: linear.build_dense,
    # pooling
    ops.MaxPoolOp: pool.build_max_pool,
    ops.AvgPoolOp: pool.build_avg_pool,
    ops.GlobalAvgPoolOp: stateless(pool.global_avg_pool),
    ops.GlobalMaxPoolOp: stateless(pool.global_max_pool),
    # data movement
    ops.ConcatOp: data_movement.build_concat,
    ops.SplitOp: data_movement.build_split,
    ops.SliceOp: data_movement.build_slice,
    ops.ReshapeOp: data_movement.build_reshape,
    ops.TransposeOp: data_movement.build_transpose,
    ops.PadOp: data_movement.build_pad,
    ops.ExpandOp: data_movement.build_expand,
    ops.GatherOp: data_movement.build_gather,
    ops.ResizeOp: resize.build_resize,
    # normalisation and reductions
    ops.SoftmaxOp: normalization.build_softmax,
    ops.LayerNormOp: normalization.build_layer_norm,
    ops.ReduceOp: normalization.build_reduce,
    ops.ArgMaxOp: normalization.build_argmax,
    # calibration markers do nothing outside calibration (runtime.calibrate plugs in observers)
    ObserveOp: stateless(lambda array: None),
}

# the quantized ops' bit-exact kernels (imported last: they build on the modules above)
from runtime.integer_kernels import INTEGER_KERNELS  # noqa: E402

KERNELS.update(INTEGER_KERNELS)

__all__ = ["KERNELS", "Kernel", "KernelBuilder", "stateless"]
