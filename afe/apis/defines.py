"""Definitions of the types exposed by the development API for AFE (seed 000).

Quantization configuration: `QuantizationScheme`, `quantization_scheme`,
`bfloat16_scheme`, `QuantizationParams` (frozen and hashable; every `with_*`
builder and `dataclasses.replace` return a new, validated instance),
`default_quantization` and `int16_quantization`. Unsupported settings raise
`UserFacingException` at the call that creates them, naming the option and the
values allowed.

Also the pre-processing enums (colour conversion, chroma sampling, resize) and
their BT.601/709/2020 constants, `InputValues` and the target generations.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Dict, List

import numpy as np

from afe.apis.calibration import (
    CalibrationMethod,
    HistogramEntropyMethod,
    HistogramMSEMethod,
    HistogramPercentileMethod,
    MinMaxMethod,
    MovingAverageMinMaxMethod,
    default_calibration,
)
from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.core.configs import CUSTOM_QUANTIZATION_OPTIONS, QuantizationPrecision
from afe.ir.defines import BiasCorrectionType, NodeName, RequantizationMode

__all__ = [
    "InputValues",
    "gen1_target",
    "gen2_target",
    "Target",
    "BT_COLOR_COEFF",
    "YUV2RGB_FULL_RANGE_CONSTANTS",
    "default_quantization",
    "int16_quantization",
    "ExceptionFuncType",
    "ColorSpaceStandard",
    "ColorConversion",
    "ChromaSampling",
    "ResizeMethod",
    "ResizeDepositLocation",
    "CalibrationMethod",
    "MinMaxMethod",
    "HistogramMSEMethod",
    "MovingAverageMinMaxMethod",
    "HistogramEntropyMethod",
    "HistogramPercentileMethod",
    "QuantizationScheme",
    "QuantizationParams",
    "default_calibration",
    "quantization_scheme",
    "bfloat16_scheme",
    "RequantizationMode",
    "BiasCorrectionType",
    "QuantizationPrecision",
]

InputValues = Dict[str, np.ndarray]
"""Values of a model's inputs, by input name."""


class Target(enum.Enum):
    """Generation of the SiMa MLA a model is compiled for."""

    GEN1 = "gen1"  # MLSoC
    GEN2 = "gen2"  # Modalix


gen1_target = Target.GEN1
gen2_target = Target.GEN2


# ---------------------------------------------------------------------------
# pre-processing enums and constants


class ColorSpaceStandard(str, enum.Enum):
    """Color space standards for YUV and RGB conversion.

    BT601 is for SD video; BT709 is for HD video; BT2020 is for HDR.
    """

    BT601 = "BT601"
    BT709 = "BT709"
    BT2020 = "BT2020"


class ColorConversion(str, enum.Enum):
    """Color conversion direction."""

    YUV2RGB = "YUV2RGB"
    RGB2YUV = "RGB2YUV"
    BGR2RGB = "BGR2RGB"
    RGB2BGR = "RGB2BGR"


class ChromaSampling(str, enum.Enum):
    """Chroma sub-sampling representation."""

    NV12 = "NV12"
    YUV420 = "YUV420"
    YUV422 = "YUV422"


class ResizeMethod(str, enum.Enum):
    """Interpolation method used in resize transform."""

    LINEAR = "linear"
    NEAREST = "nearest"
    AREA = "area"
    CUBIC = "cubic"


class ResizeDepositLocation(str, enum.Enum):
    """Deposit location of resized image in padded frame."""

    TOPLEFT = "topleft"
    CENTER = "center"
    BOTTOMRIGHT = "bottomright"


BT_COLOR_COEFF: Dict[ColorSpaceStandard, List[float]] = {
    # Luma coefficients [Kr, Kg, Kb]: Y = Kr R + Kg G + Kb B (ITU-R BT.601, BT.709, BT.2020).
    ColorSpaceStandard.BT601: [0.299, 0.587, 0.114],
    ColorSpaceStandard.BT709: [0.2126, 0.7152, 0.0722],
    ColorSpaceStandard.BT2020: [0.2627, 0.6780, 0.0593],
}


def _yuv2rgb_full_range(kr: float, kg: float, kb: float) -> List[float]:
    """[Cr->R, Cb->G, Cr->G, Cb->B] for full-range YCbCr (Cb, Cr centred on 0):
    R = Y + a Cr, G = Y - b Cb - c Cr, B = Y + d Cb."""
    return [
        2.0 * (1.0 - kr),
        2.0 * kb * (1.0 - kb) / kg,
        2.0 * kr * (1.0 - kr) / kg,
        2.0 * (1.0 - kb),
    ]


YUV2RGB_FULL_RANGE_CONSTANTS: Dict[str, List[float]] = {
    standard.value: _yuv2rgb_full_range(*coefficients) for standard, coefficients in BT_COLOR_COEFF.items()
}


# ---------------------------------------------------------------------------
# quantization schemes

_SUPPORTED_BITS = (8, 16)


def _config_error(option: str, message: str) -> UserFacingException:
    return UserFacingException(f"Invalid quantization configuration: {option}: {message}")


def _require_bool(option: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise _config_error(option, f"must be True or False, got {value!r}")


@dataclasses.dataclass(frozen=True)
class QuantizationScheme:
    """Quantization scheme.

    :param asymmetric: Whether to use asymmetric quantization.
    :param per_channel: Whether to use per-channel quantization.
    :param bits: Number of bits of precision of the quantized representation (8 or 16).
    :param bf16: Whether to use bfloat16. If True, asymmetric, per_channel and bits are ignored.
    """

    asymmetric: bool
    per_channel: bool
    bits: int = 8
    bf16: bool = False

    def __post_init__(self) -> None:
        _require_bool("QuantizationScheme.asymmetric", self.asymmetric)
        _require_bool("QuantizationScheme.per_channel", self.per_channel)
        _require_bool("QuantizationScheme.bf16", self.bf16)
        if self.bf16:
            return
        if isinstance(self.bits, bool) or self.bits not in _SUPPORTED_BITS:
            raise _config_error(
                "QuantizationScheme.bits", f"must be 8 (int8) or 16 (int16), got {self.bits!r}"
            )


def quantization_scheme(asymmetric: bool, per_channel: bool, bits: int = 8) -> QuantizationScheme:
    """Constructs a quantization scheme, which determines the range of quantizations
    that a quantization algorithm may choose from.

    :param asymmetric: Whether to use asymmetric (versus symmetric) quantization.
    :param per_channel: Whether to use per-channel (versus per-tensor) quantization.
    :param bits: Bits of precision of activations: 8 (int8) or 16 (int16). Weights are always int8.
    """
    return QuantizationScheme(asymmetric=asymmetric, per_channel=per_channel, bits=bits, bf16=False)


def bfloat16_scheme() -> QuantizationScheme:
    """Constructs a bfloat16 quantization scheme: bfloat16 instead of integer quantization."""
    return QuantizationScheme(asymmetric=False, per_channel=False, bits=16, bf16=True)


# ---------------------------------------------------------------------------
# QuantizationParams


class _FrozenMapping(Mapping):
    """A read-only, hashable dict (so that QuantizationParams stays hashable)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping):
        self._items = dict(items)

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __repr__(self) -> str:
        return repr(self._items)


def _freeze_custom_configs(configs: Mapping | None) -> _FrozenMapping | None:
    if configs is None:
        return None
    option = "custom_quantization_configs"
    if not isinstance(configs, Mapping):
        raise _config_error(option, f"must be a dict {{node name: {{option: value}}}}, got {type(configs).__name__}")
    allowed = ", ".join(f"{name} ({kind.__name__})" for name, kind in CUSTOM_QUANTIZATION_OPTIONS.items())
    frozen = {}
    for node, node_options in configs.items():
        if not isinstance(node, str):
            raise _config_error(option, f"node names must be strings, got {node!r}")
        if not isinstance(node_options, Mapping):
            raise _config_error(option, f"options of node {node!r} must be a dict, got {node_options!r}")
        for name, value in node_options.items():
            kind = CUSTOM_QUANTIZATION_OPTIONS.get(name)
            if kind is None:
                raise _config_error(option, f"node {node!r}: unknown option {name!r}; allowed options: {allowed}")
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise _config_error(
                    option, f"node {node!r}: option {name!r} must be a {kind.__name__}, got {value!r}"
                )
        frozen[node] = _FrozenMapping(node_options)
    return _FrozenMapping(frozen)


def _freeze_node_names(node_names: Iterable[str]) -> frozenset[str]:
    if isinstance(node_names, str) or not isinstance(node_names, Iterable):
        raise _config_error("node_names", f"must be a set of node names, got {node_names!r}")
    names = frozenset(node_names)
    for name in names:
        if not isinstance(name, str):
            raise _config_error("node_names", f"node names must be strings, got {name!r}")
    return names


def _coerce_enum(option: str, enum_type: type[enum.Enum], value: Any) -> enum.Enum:
    if isinstance(value, enum_type):
        return value
    try:
        return enum_type(value)
    except (ValueError, TypeError):
        allowed = ", ".join(f"{enum_type.__name__}.{member.name}" for member in enum_type)
        raise _config_error(option, f"must be one of {allowed}, got {value!r}") from None



@dataclasses.dataclass(frozen=True)
class QuantizationParams:
    """Parameters controlling how to quantize a network.

    :param calibration_method: Calibration method.
    :param activation_quantization_scheme: Quantization scheme for activation tensors
        (per-tensor; symmetric or asymmetric; 8 or 16 bits; or bfloat16).
    :param weight_quantization_scheme: Quantization scheme for weight tensors
        (symmetric; per-tensor or per-channel; 8 bits; or bfloat16).
    :param requantization_mode: A way of doing quantized arithmetic (sima or tflite).
    :param node_names: Nodes to prevent from quantizing (a frozenset).
    :param custom_quantization_configs: Per-node custom quantization options, or None.
    :param biascorr_type: Selection of bias correction: regular/iterative/none.
    :param channel_equalization: If True, cross-layer channel equalization
        (`passes/channel_equalization.py`) balances the weight ranges of
        consecutive conv / dense layers before calibration.
    :param smooth_quant: If True, SmoothQuant (`passes/smooth_quant.py`)
        migrates per-channel activation outliers into the next layer's weights.
        It reads the calibration data twice (statistics, then scales after
        smoothing), so the data must be re-iterable: a list, not a generator.
    :param weight_rounding: If True, the int8 weights of every quantized conv /
        dense are rounded with the calibration data (GPTQ, `runtime/weight_rounding.py`)
        instead of to nearest, on the planner's own scales.
    :param activation_compensation: If True, the same data step instead fits the int8
        weights and the bias of every quantized conv / dense to the float layer's output
        through the inputs the quantized network itself produces, so that they compensate
        the error the int8 activations before them carry (`runtime/weight_rounding.py`,
        `round_compensated_layer`); it implies the data-aware rounding.
    :param range_refinement: If True, each int8 activation range the MSE observer
        selects is refined on the first calibration samples to the one of least
        error DOWNSTREAM (at the next conv / dense, through the tables between),
        with every tensor before it rounded (`runtime/range_refinement.py`).
    :param channel_groups: If True, each conv -> activation -> depthwise conv block
        whose channels span very different ranges is split into two channel groups,
        each with its own int8 tensors, joined by a concat (the float function is
        the same; `passes/split_channel_groups.py`, blocks chosen from per-channel
        ranges by `runtime/channel_groups.py`). It reads the calibration data twice,
        so the data must be re-iterable, and adds ops to the quantized model.

    The default of `node_names` is the empty set. (Seed 000 prints it as `{''}`,
    a set holding the empty string; no node is named '', so the two exclude the
    same nodes, and the empty set says what is meant.)
    """

    calibration_method: CalibrationMethod = dataclasses.field(default_factory=default_calibration)
    activation_quantization_scheme: QuantizationScheme = dataclasses.field(
        default_factory=lambda: quantization_scheme(asymmetric=True, per_channel=False, bits=8)
    )
    weight_quantization_scheme: QuantizationScheme = dataclasses.field(
        default_factory=lambda: quantization_scheme(asymmetric=False, per_channel=True, bits=8)
    )
    requantization_mode: RequantizationMode = RequantizationMode.sima
    node_names: frozenset[str] = frozenset()
    custom_quantization_configs: Mapping[NodeName, Mapping[str, Any]] | None = None
    biascorr_type: BiasCorrectionType = BiasCorrectionType.NONE
    channel_equalization: bool = False
    smooth_quant: bool = False
    weight_rounding: bool = False
    activation_compensation: bool = False
    range_refinement: bool = False
    channel_groups: bool = False

    def __post_init__(self) -> None:
        set_field = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        method = self.calibration_method
        if isinstance(method, str):
            method = CalibrationMethod.from_str(method)
        if not isinstance(method, CalibrationMethod):
            raise _config_error(
                "calibration_method",
                "must be a CalibrationMethod (MinMaxMethod(), MovingAverageMinMaxMethod(), HistogramMSEMethod(), "
                f"HistogramEntropyMethod(), HistogramPercentileMethod()), got {method!r}",
            )
        set_field("calibration_method", method)
        self._check_activation_scheme(self.activation_quantization_scheme)
        self._check_weight_scheme(self.weight_quantization_scheme, self.activation_quantization_scheme)
        set_field("requantization_mode", _coerce_enum("requantization_mode", RequantizationMode, self.requantization_mode))
        set_field("node_names", _freeze_node_names(self.node_names))
        set_field("custom_quantization_configs", _freeze_custom_configs(self.custom_quantization_configs))
        set_field("biascorr_type", _coerce_enum("biascorr_type", BiasCorrectionType, self.biascorr_type))
        _require_bool("channel_equalization", self.channel_equalization)
        _require_bool("smooth_quant", self.smooth_quant)
        _require_bool("weight_rounding", self.weight_rounding)
        _require_bool("activation_compensation", self.activation_compensation)
        _require_bool("range_refinement", self.range_refinement)
        _require_bool("channel_groups", self.channel_groups)

    @staticmethod
    def _check_activation_scheme(scheme: Any) -> None:
        option = "activation_quantization_scheme"
        if not isinstance(scheme, QuantizationScheme):
            raise _config_error(option, f"must be a QuantizationScheme, got {scheme!r}")
        if not scheme.bf16 and scheme.per_channel:
            raise _config_error(
                option, "per-channel quantization is not supported for activations; use per_channel=False"
            )

    @staticmethod
    def _check_weight_scheme(scheme: Any, activation_scheme: QuantizationScheme) -> None:
        option = "weight_quantization_scheme"
        if not isinstance(scheme, QuantizationScheme):
            raise _config_error(option, f"must be a QuantizationScheme, got {scheme!r}")
        if scheme.bf16:
            if not activation_scheme.bf16:
                raise _config_error(option, "bfloat16 weights need bfloat16 activations (bfloat16_scheme())")
            return
        if scheme.asymmetric:
            raise _config_error(option, "asymmetric quantization is not supported for weights; use asymmetric=False")
        if scheme.bits != 8:
            raise _config_error(option, f"weights are quantized to int8; bits must be 8, got {scheme.bits}")

    def with_calibration(self, method: CalibrationMethod) -> QuantizationParams:
        """A copy using `method` to calibrate activation tensors."""
        return dataclasses.replace(self, calibration_method=method)

    def with_activation_quantization(self, scheme: QuantizationScheme) -> QuantizationParams:
        """A copy quantizing activations with `scheme` (per-tensor only)."""
        return dataclasses.replace(self, activation_quantization_scheme=scheme)

    def with_weight_quantization(self, scheme: QuantizationScheme) -> QuantizationParams:
        """A copy quantizing weights with `scheme` (symmetric only)."""
        return dataclasses.replace(self, weight_quantization_scheme=scheme)

    def with_requantization_mode(self, requantization_mode: RequantizationMode) -> QuantizationParams:
        """A copy using `requantization_mode` (RequantizationMode.sima or .tflite) for convolutions."""
        return dataclasses.replace(self, requantization_mode=requantization_mode)

    def with_unquantized_nodes(self, node_names: set[str]) -> QuantizationParams:
        """A copy that leaves the named nodes unquantized (replacing any previous selection)."""
        return dataclasses.replace(self, node_names=node_names)

    def with_custom_quantization_configs(
        self, custom_quantization_configs: Dict[NodeName, Dict[str, Any]]
    ) -> QuantizationParams:
        """A copy with per-node options, e.g. {"MLA_0/conv2d_add_5": {"output_int32": True}} or
        {node: {"quantization_precision": QuantizationPrecision.INT_16}}."""
        return dataclasses.replace(self, custom_quantization_configs=custom_quantization_configs)

    def with_bias_correction(self, enable: bool | BiasCorrectionType = True) -> QuantizationParams:
        """A copy with bias correction: True (regular), False (none) or a BiasCorrectionType."""
        if isinstance(enable, (bool, np.bool_)):
            kind = BiasCorrectionType.REGULAR if enable else BiasCorrectionType.NONE
        else:
            kind = enable
        return dataclasses.replace(self, biascorr_type=kind)

    def with_channel_equalization(self, enable: bool = True) -> QuantizationParams:
        """A copy with cross-layer channel equalization (run before calibration) enabled or disabled."""
        return dataclasses.replace(self, channel_equalization=enable)

    def with_smooth_quant(self, enable: bool = True) -> QuantizationParams:
        """A copy with SmoothQuant enabled or disabled (the calibration data is then
        read twice, so it must be re-iterable, e.g. a list)."""
        return dataclasses.replace(self, smooth_quant=enable)

    def with_weight_rounding(self, enable: bool = True) -> QuantizationParams:
        """A copy with data-aware rounding of the int8 weights (GPTQ on the calibration
        data, on the planner's scales) enabled or disabled."""
        return dataclasses.replace(self, weight_rounding=enable)

    def with_range_refinement(self, enable: bool = True) -> QuantizationParams:
        """A copy whose activation ranges are refined on the calibration data for the
        error they cause downstream (`runtime/range_refinement.py`), enabled or disabled."""
        return dataclasses.replace(self, range_refinement=enable)

    def with_channel_groups(self, enable: bool = True) -> QuantizationParams:
        """A copy that splits conv -> activation -> depthwise blocks with very unequal
        channel ranges into two channel groups with their own int8 tensors
        (`passes/split_channel_groups.py`), enabled or disabled (the calibration data
        is then read twice, so it must be re-iterable, e.g. a list)."""
        return dataclasses.replace(self, channel_groups=enable)

    def with_activation_compensation(self, enable: bool = True) -> QuantizationParams:
        """A copy whose int8 weights and biases are fitted on the calibration data to
        compensate the error of the quantized activations they read (GPTQ-rounded on the
        planner's scales) enabled or disabled."""
        return dataclasses.replace(self, activation_compensation=enable)


default_quantization = QuantizationParams(
    calibration_method=HistogramMSEMethod(2048),
    activation_quantization_scheme=quantization_scheme(asymmetric=True, per_channel=False, bits=8),
    weight_quantization_scheme=quantization_scheme(asymmetric=False, per_channel=True, bits=8),
    requantization_mode=RequantizationMode.sima,
    node_names=frozenset(),
    custom_quantization_configs=None,
)
"""Default quantization parameters: MSE calibration; activations asymmetric per-tensor
int8; weights symmetric per-channel int8; sima requantization."""

int16_quantization = dataclasses.replace(
    default_quantization,
    activation_quantization_scheme=quantization_scheme(asymmetric=True, per_channel=False, bits=16),
    weight_rounding=True,
)
"""Int16 quantization parameters: as default_quantization with int16 activations (weights stay
int8) and GPTQ weight rounding: with int16 activations the int8 weights are the main error, and
rounding them with the calibration data raised output SQNR by 3-12 dB on all four real models
(`bench/bench_quantization_accuracy.py`); with int8 activations, where the activations dominate
the error, the gain is 0.1-1.5 dB, so default_quantization leaves it off (`with_weight_rounding()`)."""
