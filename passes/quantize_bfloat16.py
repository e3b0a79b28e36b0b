"""`quantize-bfloat16`: the bfloat16 scheme — the float MLA ops become bf16 ops.

With `bfloat16_scheme()` activations the MLA computes in bfloat16 (the
"bfloat16" section of `runtime.integer_arithmetic`), so nothing is calibrated:
this pass runs on a partitioned float module. For each op with target "MLA":

   | float op                                | bf16 form                                   |
   |-----------------------------------------|---------------------------------------------|
   | conv2d, dense (bias, fused relu / clip) | sima.bf16_conv2d / sima.bf16_dense          |
   | add, sub, mul                           | sima.bf16_add / bf16_sub / bf16_mul         |
   | matmul (two activations)                | sima.bf16_matmul                            |
   | unary ops with a float function         | sima.bf16_lut (a 65536-entry table of f)    |
   | global_avg_pool                         | sima.bf16_global_avg_pool                   |
   | data movement (reshape, transpose,      | the same op on the bf16 tensor              |
   | slice, split, expand, zero pad, concat, |                                             |
   | nearest resize, max pools)              |                                             |

Weights: `bf16-weights` rounds conv2d / dense weights to bf16 (scale 1);
otherwise they are int8 (`per-channel` or per tensor) with the float32 scale
1 / Sw and the bias in product units, from seed 002's
`get_bfloat16_with_int_weights_quant_params`. Biases are f32.

A float value entering a bf16 op is rounded by `sima.cast` (f32 -> bf16); a
bf16 value read by a float op or returned is widened back (exact). Any other
MLA op (softmax, layer_norm, avg_pool, conv2d_transpose, ...) stays float: its
target becomes "APU" and a warning names it, as in the integer `quantize` pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType, bf16
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from afe.ir.attributes import ConvAddActivationAttrs
from afe.ir.defines import NodeReporter
from afe.ir.quantization_conv import get_bfloat16_with_int_weights_quant_params
from passes.name_nodes import functions_of
from passes.quantize_elementwise import UNARY_FUNCTION_OPS
from passes.quantize_movement import RETYPED_OPS, passes_quantization_through
from passes.quantize_values import APU_TARGET, MLA_TARGET, Fallback, constant_array, is_float_tensor, weight_name
from runtime.bfloat16 import lookup_table_bfloat16, round_to_bfloat16
from runtime.kernels import KERNELS
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.bfloat16_ops import (
    BF16_BINARY_OPS,
    BF16Conv2DOp,
    BF16DenseOp,
    BF16GlobalAvgPoolOp,
    BF16LutOp,
    BF16MatMulOp,
)

__all__ = ["QuantizeBFloat16Pass", "BFloat16Report", "quantize_bfloat16_functions", "bfloat16_module_with_report"]

LOOKUP_TABLE_OPS = UNARY_FUNCTION_OPS
"""Unary ops computed as a bf16 table of their float function (the runtime's float kernel)."""

_BINARY = {ops.AddOp: "add", ops.SubOp: "sub", ops.MulOp: "mul"}


@dataclass
class BFloat16Report:
    """What the pass did not convert: node (or op) -> why it stays float on the APU."""

    left_float: dict[str, str]


def bf16_tensor(value: SSAValue) -> TensorType:
    """The type of `value` (a tensor) with bf16 elements."""
    return TensorType(bf16, list(ops.shape_of(value)))


class _Rewrite:
    """The bf16 form of one float op, built aside and inserted only when complete."""

    def __init__(self, op: ops.SimaOp, converted: dict[SSAValue, SSAValue], int_weights: bool, per_channel: bool):
        self.op = op
        self.node = op.node_name
        self.converted = converted
        self.int_weights = int_weights
        self.per_channel = per_channel
        self.pending: list[Operation] = []
        self.entered: dict[SSAValue, SSAValue] = {}

    def add(self, op: Operation, suffix: str | None = None) -> Operation:
        """Hold `op` for insertion; ops other than constants get the node's name and the MLA target."""
        if not isinstance(op, ops.ConstantOp):
            if self.node is not None:
                op.properties["node"] = StringAttr(self.node if suffix is None else f"{self.node}/{suffix}")
            op.properties["target"] = StringAttr(MLA_TARGET)
        self.pending.append(op)
        return op

    def constant(self, name: str, array: np.ndarray) -> SSAValue:
        return self.add(ops.ConstantOp.from_array(name, array)).results[0]

    def activation(self, value: SSAValue) -> SSAValue:
        """`value` as a bf16 tensor: converted already, a rounded constant, or rounded on entry."""
        if value in self.converted:
            return self.converted[value]
        if value in self.entered:
            return self.entered[value]
        if not is_float_tensor(value):
            raise Fallback(f"it reads {value.type}, not a float tensor")
        array = constant_array(value)
        if array is not None:
            name = weight_name(value, f"{self.node or self.op.name}.constant")
            result = self.constant(f"{name}.bf16", round_to_bfloat16(array.astype(np.float32)))
        else:
            result = self.add(ops.CastOp.create(operands=[value], result_types=[bf16_tensor(value)]), "to_bf16").results[0]
        self.entered[value] = result
        return result

    def constant_operand(self, value: SSAValue, what: str) -> np.ndarray:
        array = constant_array(value)
        if array is None:
            raise Fallback(f"its {what} is not a constant with known values")
        return np.asarray(array, dtype=np.float64)

    def same_op(self, operands: list[SSAValue]) -> list[SSAValue]:
        """The float op on bf16 operands, with bf16 results (data movement)."""
        op = self.op
        properties = {name: value for name, value in op.properties.items() if name not in ("node", "target")}
        made = type(op).create(
            operands=operands,
            result_types=[bf16_tensor(r) for r in op.results],
            properties=properties,
            attributes=dict(op.attributes),
        )
        return list(self.add(made).results)


def _gemm_constants(rewrite: _Rewrite, op: ops.Conv2DOp | ops.DenseOp) -> tuple[SSAValue, SSAValue, SSAValue]:
    """Weight (bf16, or int8), bias (f32, zeros if absent) and scale (f32: 1 / Sw, or ones)."""
    weight = rewrite.constant_operand(op.weight, "weight")
    bias = None if op.bias is None else rewrite.constant_operand(op.bias, "bias")
    channels = weight.shape[-1]
    base = weight_name(op.weight, f"{rewrite.node or 'gemm'}.weight")
    bias_base = weight_name(op.bias, f"{base}.bias") if op.bias is not None else f"{base}.bias"
    if rewrite.int_weights:
        q_weight, q_bias, requantization = get_bfloat16_with_int_weights_quant_params(
            ConvAddActivationAttrs(weight, bias), rewrite.per_channel, 8
        )
        scale = np.broadcast_to(np.asarray(requantization.scale, dtype=np.float32), (channels,))
        bias32 = np.zeros(channels, np.float32) if q_bias is None else np.asarray(q_bias, dtype=np.float32)
        weight_value = rewrite.constant(f"{base}.q", q_weight)
    else:
        scale = np.ones(channels, np.float32)
        bias32 = np.zeros(channels, np.float32) if bias is None else bias.astype(np.float32)
        weight_value = rewrite.constant(f"{base}.bf16", round_to_bfloat16(weight.astype(np.float32)))
    return weight_value, rewrite.constant(f"{bias_base}.f32", bias32), rewrite.constant(f"{base}.scale", np.array(scale))


def _activation_properties(op: ops.FusedActivationOp) -> dict:
    return {name: op.properties[name] for name in ("act_min", "act_max") if name in op.properties}


def _conv2d(rewrite: _Rewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.Conv2DOp)
    x = rewrite.activation(op.input)
    weight, bias, scale = _gemm_constants(rewrite, op)
    properties = {name: op.properties[name] for name in ("strides", "pads", "dilations", "groups")}
    made = BF16Conv2DOp.create(
        operands=[x, weight, bias, scale],
        result_types=[bf16_tensor(op.output)],
        properties={**properties, **_activation_properties(op)},
    )
    return list(rewrite.add(made).results)


def _dense(rewrite: _Rewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.DenseOp)
    x = rewrite.activation(op.input)
    weight, bias, scale = _gemm_constants(rewrite, op)
    made = BF16DenseOp.create(
        operands=[x, weight, bias, scale], result_types=[bf16_tensor(op.output)], properties=_activation_properties(op)
    )
    return list(rewrite.add(made).results)


def _binary(rewrite: _Rewrite) -> list[SSAValue]:
    op = rewrite.op
    made_type = BF16_BINARY_OPS[_BINARY[type(op)]]
    operands = [rewrite.activation(op.lhs), rewrite.activation(op.rhs)]
    return list(rewrite.add(made_type.create(operands=operands, result_types=[bf16_tensor(op.output)])).results)


def _matmul(rewrite: _Rewrite) -> list[SSAValue]:
    op = rewrite.op
    operands = [rewrite.activation(op.lhs), rewrite.activation(op.rhs)]
    return list(rewrite.add(BF16MatMulOp.create(operands=operands, result_types=[bf16_tensor(op.output)])).results)


def _lookup(rewrite: _Rewrite) -> list[SSAValue]:
    op = rewrite.op
    x = rewrite.activation(op.operands[0])
    table = lookup_table_bfloat16(KERNELS[type(op)](op))
    table_value = rewrite.constant(f"{rewrite.node or op.name}.bf16_table", table)
    return list(rewrite.add(BF16LutOp(x, table_value)).results)


def _global_avg_pool(rewrite: _Rewrite) -> list[SSAValue]:
    op = rewrite.op
    x = rewrite.activation(op.input)
    return list(rewrite.add(BF16GlobalAvgPoolOp.create(operands=[x], result_types=[bf16_tensor(op.output)])).results)


def _moved(rewrite: _Rewrite) -> list[SSAValue]:
    op = rewrite.op
    if isinstance(op, ops.ConcatOp):
        return rewrite.same_op([rewrite.activation(v) for v in op.inputs])
    if not passes_quantization_through(op):
        raise Fallback(f"{op.name} with these properties computes new values (only value-moving forms run in bf16)")
    return rewrite.same_op([rewrite.activation(op.operands[0])])


REWRITERS: dict[type[ops.SimaOp], Callable[[_Rewrite], list[SSAValue]]] = {
    ops.Conv2DOp: _conv2d,
    ops.DenseOp: _dense,
    **{op_type: _binary for op_type in _BINARY},
    ops.MatMulOp: _matmul,
    **{op_type: _lookup for op_type in LOOKUP_TABLE_OPS},
    ops.GlobalAvgPoolOp: _global_avg_pool,
    **{op_type: _moved for op_type in (*RETYPED_OPS, ops.ConcatOp)},
}


def _is_float_mla_op(op: Operation) -> bool:
    if not isinstance(op, ops.SimaOp) or isinstance(op, ops.ConstantOp) or op.target_name != MLA_TARGET:
        return False
    return type(op) in ops.ALL_OPS and any(is_float_tensor(v) for v in op.operands)


def _convert_block(block, int_weights: bool, per_channel: bool, report: BFloat16Report) -> None:
    converted: dict[SSAValue, SSAValue] = {}
    replaced: list[tuple[ops.SimaOp, list[SSAValue]]] = []
    for op in list(block.ops):
        if not _is_float_mla_op(op):
            continue
        rewrite = _Rewrite(op, converted, int_weights, per_channel)
        try:
            rewriter = REWRITERS.get(type(op))
            if rewriter is None:
                raise Fallback(f"{op.name} has no bfloat16 form yet")
            results = rewriter(rewrite)
        except Fallback as reason:
            op.properties["target"] = StringAttr(APU_TARGET)
            name = op.node_name or op.name
            report.left_float[name] = str(reason)
            NodeReporter(name).warn(f"not converted to bfloat16, runs in float on the APU: {reason}")
            continue
        for made in rewrite.pending:
            block.insert_op_before(made, op)
        converted.update(rewrite.entered)
        converted.update(zip(op.results, results))
        replaced.append((op, results))
    for op, results in reversed(replaced):  # readers first
        for old, new in zip(op.results, results):
            if old.uses:  # read by a float op or returned: widen back (exact)
                back = ops.CastOp.create(operands=[new], result_types=[old.type])
                back.properties["target"] = StringAttr(MLA_TARGET)
                if op.node_name:
                    back.properties["node"] = StringAttr(f"{op.node_name}/to_f32")
                block.insert_op_before(back, op)
                old.replace_all_uses_with(back.results[0])
        op.detach()
        op.erase()


def _erase_dead_constants(function: FuncOp) -> None:
    for op in reversed(list(function.walk())):
        if isinstance(op, ops.ConstantOp) and not op.output.uses:
            op.detach()
            op.erase()


def quantize_bfloat16_functions(module: ModuleOp, int_weights: bool = False, per_channel: bool = True) -> BFloat16Report:
    """Convert every function of `module` in place; report what stays float."""
    report = BFloat16Report({})
    for function in functions_of(module):
        for block in function.body.blocks:
            _convert_block(block, int_weights, per_channel, report)
        _erase_dead_constants(function)
    return report


@dataclass(frozen=True)
class QuantizeBFloat16Pass(ModulePass):
    """Turn float MLA ops into bf16 ops (the bfloat16 scheme), with casts at the float boundary."""

    name = "quantize-bfloat16"

    bf16_weights: bool = True
    """bf16 conv2d / dense weights (true), or int8 weights with a float32 scale (false)."""

    per_channel: bool = True
    """With int8 weights: one scale per output channel (true) or per tensor."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        quantize_bfloat16_functions(op, int_weights=not self.bf16_weights, per_channel=self.per_channel)


# ---------------------------------------------------------------------------
# the afe entry point


def bfloat16_module_with_report(module: ModuleOp, config) -> tuple[ModuleOp, BFloat16Report]:
    """A bf16 copy of a partitioned float (or calibrated) module, as `config`
    (`QuantizationParams` with bfloat16 activations) asks: bf16 weights with the
    bf16 weight scheme, else int8 weights (per channel or per tensor). Calibration
    markers are dropped: bfloat16 needs no scales."""
    if not config.activation_quantization_scheme.bf16:
        raise ValueError("bfloat16_module_with_report needs bfloat16 activations (bfloat16_scheme())")
    weights = config.weight_quantization_scheme
    converted = module.clone()
    for op in reversed(list(converted.walk())):
        if isinstance(op, ObserveOp):
            op.detach()
            op.erase()
    report = quantize_bfloat16_functions(converted, int_weights=not weights.bf16, per_channel=weights.per_channel)
    return converted, report
