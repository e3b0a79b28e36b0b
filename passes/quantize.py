"""`quantize`: turn the float MLA ops into the integer ops of the MLA model.

Runs after calibration (docs/quantized_ir.md): every float tensor carries a
`sima.observe` whose `quant` is its calibrated `!sima.quant`. For each function:

1. Every op with `target = "MLA"` becomes its integer form (one module per op
   family: `quantize_gemm`, `quantize_elementwise`, `quantize_movement`):

   | float op                                   | integer form                              |
   |--------------------------------------------|-------------------------------------------|
   | conv2d, dense (bias, fused relu / clip)    | sima.qconv2d / sima.qdense (the planner)  |
   | add, sub, mul                              | sima.qadd / sima.qsub / sima.qmul         |
   | sigmoid, hard_sigmoid, hard_swish, silu,   | sima.lut (table of the float function)    |
   | tanh, gelu, leaky_relu, exp, erf, abs,     |                                           |
   | neg, relu, clip, prelu (one slope)         |                                           |
   | matmul (two activations)                   | sima.qmatmul                              |
   | avg_pool, global_avg_pool                  | sima.qavg_pool, sima.qglobal_avg_pool     |
   | max_pool, global_max_pool, reshape,        | the same op on the quantized tensor       |
   | transpose, slice, split, expand, pad,      | (concat requantizes differing inputs)     |
   | concat, nearest resize, argmax             |                                           |
   | softmax                                    | sima.qsoftmax (exp table, Q15 divide)     |
   | layer_norm                                 | sima.qlayer_norm (int8)                   |
   | conv2d_transpose (groups 1)                | sima.qconv2d_transpose (the planner)      |
   | linear resize                              | sima.qresize_linear                       |
   | prelu (a slope per channel)                | sima.qprelu                               |

   An op the MLA runs only at 8 bits (seed 003's table, `passes.mla_support`)
   gets 8-bit operands and result even where calibration chose 16 bits (the
   same real range at 8 bits). Conv / dense named in `int32-outputs` keep the
   int32 accumulator as their output (`output_int32`).
   An MLA op with no integer form (a grouped conv2d_transpose), or whose
   integers cannot be planned, stays float: its target becomes "APU" and a
   warning names it.
2. Where a float value meets an integer op, `sima.quantize` (with the value's
   calibrated quantization); where a quantized value meets a float op or the
   function's return, `sima.dequantize`. The signature stays float.
3. The `sima.observe` markers and the float constants no op reads any more are erased.

An MLA op reading or producing a tensor without a calibrated quantization is an
error naming the node: run calibration and select-scales first.

`quantize_module(calibrated_module, config)` applies the pass as a
`QuantizationParams` asks (scheme, requantization mode, per-node int16 and
int32-output options) to a copy of the module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import VerifyException

from afe.apis.errors import UserFacingException
from afe.ir.defines import NodeReporter
from passes import quantize_elementwise as elementwise
from passes import quantize_gemm as gemm
from passes import quantize_movement as movement
from passes import quantize_normalization as normalization
from passes import quantize_prelu as prelu
from passes import quantize_softmax as softmax
from passes import quantize_upscale as upscale
from passes.name_nodes import closest_names_hint, functions_of
from passes.partition import parse_node_names
from passes.quantize_values import (
    APU_TARGET,
    MLA_TARGET,
    REQUANT_MODES,
    Fallback,
    FunctionValues,
    OpRewrite,
    QuantizeError,
    QuantizeOptions,
    is_float_tensor,
    take_observed_quantizations,
)
from runtime.integer_arithmetic import ArithmeticOverflowError
from sima_dialect import ops
from sima_dialect.quantized_ops import DequantizeOp

__all__ = ["QuantizePass", "QuantizeError", "QuantizeReport", "quantize_module", "quantize_module_with_report", "quantize_functions"]

Rewriter = Callable[[OpRewrite], list[SSAValue]]

_LOOKUP_TABLE_OPS = elementwise.UNARY_FUNCTION_OPS

REWRITERS: dict[type[ops.SimaOp], Rewriter] = {
    ops.Conv2DOp: gemm.quantize_conv2d,
    ops.DenseOp: gemm.quantize_dense,
    ops.AddOp: elementwise.quantize_binary,
    ops.SubOp: elementwise.quantize_binary,
    ops.MulOp: elementwise.quantize_binary,
    ops.MatMulOp: elementwise.quantize_matmul,
    **{op_type: elementwise.quantize_lookup for op_type in _LOOKUP_TABLE_OPS},
    **{op_type: movement.quantize_retyped for op_type in movement.RETYPED_OPS},
    ops.ConcatOp: movement.quantize_concat,
    ops.AvgPoolOp: movement.quantize_avg_pool,
    ops.GlobalAvgPoolOp: movement.quantize_global_avg_pool,
    ops.ArgMaxOp: movement.quantize_argmax,
    ops.SoftmaxOp: softmax.quantize_softmax,
    ops.LayerNormOp: normalization.quantize_layer_norm,
    ops.Conv2DTransposeOp: upscale.quantize_conv2d_transpose,
    ops.PreluOp: prelu.quantize_prelu,  # one slope: a lookup table as above; one per channel: sima.qprelu
    ops.ResizeOp: upscale.quantize_resize,  # replaces the entry above: nearest as before, linear integer
}
"""Float op type -> the function that builds its integer form."""

# Why a rewrite may fail and leave its op float: no integer form (Fallback), integer
# ops that do not verify, the planner giving up (UserFacingException), constants out of
# their ranges (the builders' ValueError). QuantizeError, a user error, is raised first.
_FALLBACK_ERRORS = (Fallback, VerifyException, UserFacingException, ArithmeticOverflowError, ValueError)


@dataclass
class QuantizeReport:
    """What the pass did not quantize: node (or op) -> why it stays float on the APU."""

    left_float: dict[str, str] = field(default_factory=dict)


def _is_float_mla_op(op: Operation) -> bool:
    """A float op partition put on the MLA (integer ops are skipped: rerunning the pass changes nothing)."""
    if not isinstance(op, ops.SimaOp) or isinstance(op, ops.ConstantOp) or op.target_name != MLA_TARGET:
        return False
    return type(op) in ops.ALL_OPS and any(is_float_tensor(v) for v in op.operands)


def _leave_float(op: ops.SimaOp, reason: str, report: QuantizeReport) -> None:
    op.properties["target"] = StringAttr(APU_TARGET)
    name = op.node_name or op.name
    report.left_float[name] = reason
    NodeReporter(name).warn(f"not quantized, runs in float on the APU: {reason}")


def _rewrite(op: ops.SimaOp, values: FunctionValues, options: QuantizeOptions) -> list[SSAValue]:
    """The integer form of `op`, inserted before it (Fallback if it has none)."""
    rewriter = REWRITERS.get(type(op))
    if rewriter is None:
        raise Fallback(f"{op.name} has no integer form yet")
    rewrite = OpRewrite(values, op, options)
    try:
        results = rewriter(rewrite)
        rewrite.commit(results)
    except BaseException:
        rewrite.abort()
        raise
    return results


def _replace_float_ops(replaced: list[tuple[ops.SimaOp, list[SSAValue]]]) -> None:
    """Erase the rewritten float ops; their results' remaining readers (float ops,
    the return) read the integer results, dequantized where they are quantized."""
    for op, results in reversed(replaced):  # readers first: they are rewritten ops, or keep their float value
        block = op.parent_block()
        assert block is not None
        for old, new in zip(op.results, results):
            if not old.uses:
                continue
            if new.type != old.type:
                producer = getattr(new.owner, "node_name", None)
                dequantize = DequantizeOp(new, node=f"{producer}/dequantize" if producer else None)
                dequantize.properties["target"] = StringAttr(MLA_TARGET)
                block.insert_op_before(dequantize, op)
                new = dequantize.output
            old.replace_all_uses_with(new)
        op.detach()
        op.erase()


def _erase_dead_float_constants(function: FuncOp) -> None:
    for op in reversed(list(function.walk())):
        if isinstance(op, ops.ConstantOp) and not op.output.uses and is_float_tensor(op.output):
            op.detach()
            op.erase()


def quantize_function(function: FuncOp, options: QuantizeOptions, report: QuantizeReport) -> None:
    for block in function.body.blocks:
        values = FunctionValues(take_observed_quantizations(list(block.ops)))
        replaced: list[tuple[ops.SimaOp, list[SSAValue]]] = []
        for op in list(block.ops):
            if not _is_float_mla_op(op):
                continue
            try:
                replaced.append((op, _rewrite(op, values, options)))
            except QuantizeError:
                raise
            except _FALLBACK_ERRORS as error:
                _leave_float(op, str(error), report)
        _replace_float_ops(replaced)
    _erase_dead_float_constants(function)


def _check_int32_outputs(module: ModuleOp, names: frozenset[str]) -> None:
    if not names:
        return
    gemms = {}
    others = {}
    for op in module.walk():
        if isinstance(op, ops.SimaOp) and op.node_name is not None:
            (gemms if isinstance(op, ops.Conv2DOp | ops.DenseOp) else others)[op.node_name] = op
    problems = []
    for name in sorted(names - gemms.keys()):
        if name in others:
            problems.append(f"'{name}' is a {others[name].name}, not a conv2d or dense")
        else:
            hint = closest_names_hint(name, gemms, "no similar conv2d / dense")
            problems.append(f"no conv2d or dense named '{name}' ({hint})")
    if problems:
        raise QuantizeError(f"quantize: int32-outputs: {'; '.join(problems)}")


def quantize_functions(module: ModuleOp, options: QuantizeOptions) -> QuantizeReport:
    """Quantize every function of `module` in place; report what stays float."""
    if options.requant_mode not in REQUANT_MODES:
        raise QuantizeError(f"quantize: requant-mode must be one of {', '.join(REQUANT_MODES)}, got {options.requant_mode!r}")
    _check_int32_outputs(module, options.int32_outputs)
    report = QuantizeReport()
    for function in functions_of(module):
        quantize_function(function, options, report)
    return report


@dataclass(frozen=True)
class QuantizePass(ModulePass):
    """Replace float MLA ops by integer ops, with quantize / dequantize at the float boundary."""

    name = "quantize"

    requant_mode: str = "sima"
    """Requantization of conv2d / dense: sima (rounding shift) or tflite (8-bit multiplier, shift, zero point)."""

    per_channel: bool = True
    """Per-channel (true) or per-tensor weight scales."""

    weight_bits: int = 8
    """Weight width; the MLA multiplies int8 weights, so only 8."""

    asymmetric: bool = True
    """Whether activations are asymmetric (must match select-scales)."""

    int32_outputs: str = ""
    """Comma-separated conv2d / dense node names whose output stays the int32 accumulator."""

    def options(self) -> QuantizeOptions:
        if self.weight_bits != 8:
            raise QuantizeError(f"quantize: weight-bits must be 8 (the MLA multiplies int8 weights), got {self.weight_bits}")
        return QuantizeOptions(
            requant_mode=self.requant_mode,
            per_channel=self.per_channel,
            asymmetric=self.asymmetric,
            int32_outputs=frozenset(parse_node_names(self.int32_outputs)),
        )

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        quantize_functions(op, self.options())


# ---------------------------------------------------------------------------
# the afe entry point


def _node_options(config, option: str) -> dict[str, object]:
    custom: Mapping[str, Mapping[str, object]] = config.custom_quantization_configs or {}
    return {node: options[option] for node, options in custom.items() if option in options}


def quantize_module(calibrated_module: ModuleOp, config) -> ModuleOp:
    """A quantized copy of a calibrated module (`afe.core.calibration_pipeline.calibrate_module`),
    as `config` (`afe.apis.defines.QuantizationParams`) asks; see `quantize_module_with_report`."""
    return quantize_module_with_report(calibrated_module, config)[0]


def quantize_module_with_report(calibrated_module: ModuleOp, config) -> tuple[ModuleOp, QuantizeReport]:
    """A quantized copy of a calibrated module, and what stays float.

    - activation scheme: asymmetric or not; per-node `quantization_precision`
      (`custom_quantization_configs`) sets the width of the tensors the named
      node reads and writes (`INT_16`: 16 bits, `INT_8`: 8 bits; 16 wins where
      they meet; an int16 node's 16 bits are carried back through data movement
      to the op computing its inputs: `passes.quantize_precision`) and
      re-selects their scales from the recorded statistics;
    - weight scheme: per-channel or per-tensor int8;
    - `requantization_mode`: sima or tflite;
    - per-node `output_int32`: the conv2d / dense keeps its int32 accumulator;
    - bfloat16 activations (`bfloat16_scheme()`): no integer plan; the MLA ops
      become bf16 ops (`passes/quantize_bfloat16.py`), bf16 or int8 weights as
      the weight scheme says.

    The module given is left untouched. Problems are raised as
    `UserFacingException`s naming the node or option.
    """
    from passes.quantize_precision import apply_node_precisions

    activations = config.activation_quantization_scheme
    if activations.bf16:  # the bfloat16 scheme: bf16 ops, no integer plan (passes/quantize_bfloat16.py)
        from passes.quantize_bfloat16 import bfloat16_module_with_report

        from afe.core.configs import QuantizationPrecision

        precisions = _node_options(config, "quantization_precision")
        integer_nodes = sorted(n for n, p in precisions.items() if p is not QuantizationPrecision.BFLOAT_16)
        integer_nodes += sorted(n for n, on in _node_options(config, "output_int32").items() if on)
        if integer_nodes:
            raise UserFacingException(
                f"quantize: custom_quantization_configs of {', '.join(repr(n) for n in integer_nodes)}: integer "
                "precisions and output_int32 apply to integer quantization; with bfloat16_scheme() activations "
                "every MLA node computes in bfloat16"
            )
        bf16_module, bf16_report = bfloat16_module_with_report(calibrated_module, config)
        return bf16_module, QuantizeReport(left_float=bf16_report.left_float)
    module = calibrated_module.clone()
    int32_nodes = sorted(node for node, enabled in _node_options(config, "output_int32").items() if enabled)
    quantize_pass = QuantizePass(
        requant_mode=config.requantization_mode.value,
        per_channel=config.weight_quantization_scheme.per_channel,
        weight_bits=config.weight_quantization_scheme.bits,
        asymmetric=activations.asymmetric,
        int32_outputs=",".join(int32_nodes),
    )
    try:
        apply_node_precisions(module, _node_options(config, "quantization_precision"), activations.asymmetric)
        report = quantize_functions(module, quantize_pass.options())
    except ValueError as error:  # QuantizeError, select-scales' errors: messages that name the node
        raise UserFacingException(str(error)) from None
    return module, report
