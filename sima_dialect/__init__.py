"""The `sima` xDSL dialect: ops, the weight attribute and the quantized type."""

from xdsl.ir import Dialect

from sima_dialect.bfloat16_ops import BFLOAT16_OPS
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.ops import ALL_OPS
from sima_dialect.quantized_ops import QUANTIZED_OPS
from sima_dialect.types import QuantizedType
from sima_dialect.weights import NDArrayAttr

Sima = Dialect("sima", [*ALL_OPS, *QUANTIZED_OPS, *BFLOAT16_OPS, ObserveOp], [NDArrayAttr, QuantizedType])

__all__ = ["Sima", "NDArrayAttr", "QuantizedType", "ObserveOp"]
