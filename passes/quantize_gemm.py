"""The quantize pass for conv2d and dense: `sima.qconv2d` / `sima.qdense`.

The constants come from the planner, `afe.ir.quantization_conv.quantize_convolution_parameters`,
given the input's quantization and the output's calibrated range: int8 weights
(`<weight name>.q`), the int32 bias with its zero-point corrections
(`<bias name>.q`), the requantization (sima: a rounding shift; tflite: 8-bit
multiplier, shift, zero point) and, for int16 inputs, the int15 intrinsic shift.

A fused clamp [act_min, act_max] must hold in the integers too. The output
saturates to the range its integer type represents; where that range already
lies inside the clamp (to half a step), saturation is the clamp. A lower bound
of 0 that saturation does not give (symmetric outputs) becomes the arithmetic
model's ReLU (the accumulator clamped at 0; in sima mode with a non-zero output
zero point the planner falls back to restricted TFLite arithmetic). Any other
bound is applied by a `sima.lut` after the convolution (the clamp as a table,
which is exact on the quantized grid).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from xdsl.ir import Operation, SSAValue

from afe.ir.attributes import ObservedDistribution
from afe.ir.defines import NodeReporter, Quantization
from afe.ir.quantization_conv import ConvolutionPrecision, quantize_convolution_parameters
from passes.quantize_values import (
    Fallback,
    OpRewrite,
    calibrated_range,
    element_of,
    from_quantization,
    node_suffix,
    to_quantization,
    weight_name,
)
from runtime.integer_arithmetic import INTRINSIC_SHIFT_HI, INTRINSIC_SHIFT_LO, BaseRequantization, lookup_table
from sima_dialect import ops
from sima_dialect.quantized_ops import LutOp, QConv2DOp, QDenseOp
from sima_dialect.types import QuantizedType


@dataclass
class GemmPlan:
    """The integer form of one conv2d / dense, as the planner chose it."""

    weight: np.ndarray  # int8, the float weight's shape
    bias: np.ndarray  # int32 [C_out]
    requantization: BaseRequantization
    intrinsic_shift: np.ndarray  # 0-D or [C_out]
    output: QuantizedType
    relu: bool
    clamp_after: tuple[float, float] | None  # a bound saturation and relu do not give


def _saturation_range(quantization: Quantization) -> tuple[float, float]:
    """The real values the lowest and highest integers of the output type stand for."""
    scalar_type = quantization.scalar_type
    return (
        (scalar_type.min_value - quantization.zero_point) * quantization.step,
        (scalar_type.max_value - quantization.zero_point) * quantization.step,
    )


def _lower_bound_holds(quantization: Quantization, low: float) -> bool:
    return low == -math.inf or _saturation_range(quantization)[0] >= low - quantization.step / 2


def _upper_bound_holds(quantization: Quantization, high: float) -> bool:
    return high == math.inf or _saturation_range(quantization)[1] <= high + quantization.step / 2


def _calibrated_if_same(planned: QuantizedType, observed: QuantizedType) -> QuantizedType:
    """The calibrated quantization where the planner kept it (its step recomputed
    from the range may differ in the last bits), so that equal quantizations
    compare equal downstream (no needless requantize)."""
    same = (
        planned.bits == observed.bits
        and planned.zero_point_value == observed.zero_point_value
        and math.isclose(planned.scale_value, observed.scale_value, rel_tol=1e-12)
    )
    return observed if same else planned


def plan_gemm(rewrite: OpRewrite, op: ops.Conv2DOp | ops.DenseOp, input_type: QuantizedType) -> GemmPlan:
    """Plan the integer constants of `op` (weights HWIO or [K, N]: output channel last)."""
    options = rewrite.options
    weight = rewrite.constant_operand(op.weight, "weight").astype(np.float64)
    bias = None if op.bias is None else rewrite.constant_operand(op.bias, "bias").astype(np.float64)
    observed = rewrite.output_quantization()
    int32_output = rewrite.node is not None and rewrite.node in options.int32_outputs
    precision = ConvolutionPrecision.for_mode(options.requant_mode, 32 if int32_output else observed.bits)
    distribution = ObservedDistribution(*calibrated_range(observed, options.asymmetric))
    low, high = op.activation_bounds()

    def attempt(relu: bool):
        reporter = NodeReporter(rewrite.reporter.node_name, log=False)
        planned = quantize_convolution_parameters(
            to_quantization(input_type),
            distribution,
            weight,
            bias,
            per_channel=options.per_channel,
            asymmetry=options.asymmetric,
            use_int15=input_type.bits == 16,
            use_sima_relu_workaround=relu and precision.is_arith_folded() and not int32_output,
            precision=precision,
            allow_full_output_precision=False,
            error_reporter=reporter,
        )
        return planned, reporter

    (q_weight, q_bias, requantization, _, output, msb_left_shift), reporter = attempt(relu=False)
    relu = False
    if not _lower_bound_holds(output, low) and low == 0.0:
        (q_weight, q_bias, requantization, _, output, msb_left_shift), reporter = attempt(relu=True)
        relu = True
    for warning in reporter.warnings:
        # an int32 output is the accumulator itself: its scale is the product's, by design
        if not (int32_output and "coarsened" in warning):
            rewrite.reporter.warn(warning)
    lower_holds = relu or _lower_bound_holds(output, low)
    clamp_after = None if lower_holds and _upper_bound_holds(output, high) else (low, high)
    if clamp_after is not None and output.bits == 32:
        raise Fallback(f"its clamp [{low}, {high}] cannot be applied to an int32 output")
    if input_type.bits == 16:
        intrinsic_shift = np.where(msb_left_shift, INTRINSIC_SHIFT_LO, INTRINSIC_SHIFT_HI).astype(np.int64)
    else:
        intrinsic_shift = np.zeros((), dtype=np.int64)
    return GemmPlan(
        weight=q_weight,
        bias=np.asarray(q_bias, dtype=np.int32),
        requantization=requantization,
        intrinsic_shift=intrinsic_shift,
        output=_calibrated_if_same(from_quantization(output), observed),
        relu=relu,
        clamp_after=clamp_after,
    )


def _quantized_constants(rewrite: OpRewrite, op: ops.Conv2DOp | ops.DenseOp, plan: GemmPlan) -> tuple[SSAValue, SSAValue]:
    """The planned integer weight and bias as constants named after the float ones."""
    base = rewrite.node or "gemm"
    weight = weight_name(op.weight, f"{base}.weight")
    bias = weight_name(op.bias, f"{base}.bias") if op.bias is not None else f"{weight}.bias"
    return rewrite.constant(f"{weight}.q", plan.weight), rewrite.constant(f"{bias}.q", plan.bias)


def _clamped_by_table(rewrite: OpRewrite, value: SSAValue, bounds: tuple[float, float]) -> SSAValue:
    """`value` clamped to `bounds` by a lookup table on its own quantization."""
    element = element_of(value)
    low, high = bounds
    table = lookup_table(
        lambda x: np.clip(x, np.float32(low), np.float32(high)),
        element.scale_value,
        element.zero_point_value,
        element.bits,
        element.scale_value,
        element.zero_point_value,
        element.bits,
    )
    base = rewrite.node or "gemm"
    lut = LutOp(value, rewrite.constant(f"{base}.clamp.table", table), element)
    rewrite.add(lut, node_suffix(rewrite.node, "clamp"))
    return lut.output


PlannedOpBuilder = Callable[[SSAValue, SSAValue, SSAValue, GemmPlan], Operation]
"""(quantized input, integer weight, integer bias, plan) -> the integer op."""


def quantize_planned_gemm(rewrite: OpRewrite, build: PlannedOpBuilder) -> list[SSAValue]:
    """The rewrite of a conv-like op: plan its integers, build the integer op with
    the planned constants, clamp after it where the plan says."""
    op = rewrite.op
    x = rewrite.operand(op.input)
    plan = plan_gemm(rewrite, op, element_of(x))
    weight, bias = _quantized_constants(rewrite, op, plan)
    made = build(x, weight, bias, plan)
    rewrite.add_main(made)
    result = made.output
    return [result if plan.clamp_after is None else _clamped_by_table(rewrite, result, plan.clamp_after)]


def quantize_conv2d(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.Conv2DOp)
    return quantize_planned_gemm(
        rewrite,
        lambda x, weight, bias, plan: QConv2DOp(
            x,
            weight,
            bias,
            plan.requantization,
            plan.intrinsic_shift,
            plan.output,
            strides=op.strides.get_values(),
            pads=op.pads.get_values(),
            dilations=op.dilations.get_values(),
            groups=op.groups.value.data,
            relu=plan.relu,
        ),
    )


def quantize_dense(rewrite: OpRewrite) -> list[SSAValue]:
    assert isinstance(rewrite.op, ops.DenseOp)
    return quantize_planned_gemm(
        rewrite,
        lambda x, weight, bias, plan: QDenseOp(
            x, weight, bias, plan.requantization, plan.intrinsic_shift, plan.output, relu=plan.relu
        ),
    )
