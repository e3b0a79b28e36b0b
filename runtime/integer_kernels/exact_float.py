"""Bit-exact integer arithmetic on fast floating-point and table paths.

The checked functions of `runtime.integer_arithmetic` define the arithmetic;
they work in int64 and check every intermediate against its width on every
call. The kernels reach the same integers with far fewer passes over the data,
by proving at build time, from the op's constants, what those checks would
find, and falling back to the checked functions where the proof fails:

- Tables (read with `ndarray.take`, a few times faster than fancy indexing).
  A function of one int8 / int16 value (dequantize, requantize, a
  rescaled add input) or of two int8 values (qadd, qsub, qmul) has at most
  65536 inputs: it is tabulated once by the checked function itself, so the
  table is right by construction. If the checked function raises for some
  input, the op is not tabulated (the checked function runs on the real data
  and raises only if the data reaches that input). An int8 -> int8 / int16
  table is also read two values at a time, from a table of byte pairs
  (`paired_table`): one gather per two values.
- GEMM products in floating point. Every partial sum of sum_k x[k] w[k, c] is
  bounded by max|x| * L1[c], L1[c] = sum_k |w[k, c]| the weights' actual
  column norm, whatever order BLAS sums in. When that bound is below 2**24
  (float32) or 2**53 (float64) every partial sum is an integer the type holds,
  so the product is exact. Scaling a weight column by a power of two keeps it
  exact (the same integers times 2**-s), which folds the intrinsic shift or
  the sima shift into the weights.
- Requantization in float64: with A = P + B within int32, A * 2**-n + 1/2
  (sima) and A * M * 2**-n +- 1/2 (tflite, |A * M| < 2**39) are exactly
  representable, so floor / trunc of them are the integer shifts' results.
  A sima requantization to int8 / int16 runs in float32 where the output
  range with n fraction bits fits float32's 24 bits (`FloatRequantizer`).

The int32 checks of the model (the product, the int15 partial products, the
accumulator) are proven from the same bounds (`GemmBounds`); when they cannot
be proven the kernel runs the checked path, which raises the model's error if
the data really overflows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from runtime.kernels.base import PreparedWeight
from runtime.kernels.conv import _column_block
from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    INT15_LOW_BITS,
    ArithFoldedRequantization,
    ArithmeticOverflowError,
    BaseRequantization,
    TFLiteRequantization,
)

FLOAT32_EXACT = 2**24
FLOAT64_EXACT = 2**53
# the largest array a table path builds: one entry per pair of int8 values
_PAIR_TABLE_SIZE = 256 * 256


# ---------------------------------------------------------------------------
# tables


def _all_values(dtype: np.dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.arange(int(info.min), int(info.max) + 1, dtype=np.int64).astype(dtype)


def _by_bit_pattern(values: np.ndarray) -> np.ndarray:
    """Reorder a table indexed by value - min into one indexed by the value's unsigned bit pattern."""
    half = values.shape[0] // 2
    return np.concatenate([values[half:], values[:half]])


def value_table(kernel: Callable[[np.ndarray], np.ndarray], dtype: np.dtype) -> np.ndarray | None:
    """`kernel` of every int8 / int16 value, indexed by the value's unsigned bit
    pattern (read-only), or None (other types, or the checked kernel refuses a value)."""
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.int8), np.dtype(np.int16)):
        return None
    try:
        with np.errstate(all="ignore"):
            table = np.asarray(kernel(_all_values(dtype)))
    except ArithmeticOverflowError:
        return None
    table = _by_bit_pattern(table)
    table.flags.writeable = False
    return table


def unsigned_view(dtype: np.dtype) -> np.dtype:
    """The unsigned type whose values are the bit patterns of `dtype`'s."""
    return np.dtype(f"uint{np.dtype(dtype).itemsize * 8}")


# Byte pairs: an int8 table with entries of at most this many bytes is also
# read two values at a time (`paired_table`), which halves the gathers.
_PAIRED_ENTRY_BYTES = 2
# From about this many values, the halved gathers win over fetching the pair table into
# the cache (measured, cold table, warm data: 131072 values lose, 401408 win).
_PAIRED_MIN_VALUES = 1 << 18
# every uint16 as the two bytes it holds in memory (native order): row i = bytes of i
_BYTE_PAIRS = np.arange(1 << 16, dtype=np.uint16).view(np.uint8).reshape(1 << 16, 2)


def paired_table(table: np.ndarray) -> np.ndarray | None:
    """For a table indexed by the bit pattern of an int8 value, the table of
    every pair of consecutive int8 values: entry i, i read as the two bytes it
    holds in memory (b0, b1), holds (table[b0], table[b1]) as one unsigned
    integer. `pairs.take(q.view(uint16))` is then `table.take(q.view(uint8))`,
    two values per gather. None where the entries are too wide to pay."""
    if table.shape != (256,) or table.dtype.itemsize > _PAIRED_ENTRY_BYTES:
        return None
    pairs = np.ascontiguousarray(table[_BYTE_PAIRS]).view(f"u{2 * table.dtype.itemsize}").reshape(1 << 16)
    pairs.flags.writeable = False
    return pairs


def lookup_by_bit_pattern(table: np.ndarray, pairs: np.ndarray | None, q: np.ndarray, unsigned: np.dtype) -> np.ndarray:
    """table[bit pattern of q], through `pairs` (`paired_table`) where q is a
    contiguous int8 array of even size, large enough to pay for reading the
    pair table (128 KB for int8 entries) into the cache."""
    if pairs is not None and q.size >= _PAIRED_MIN_VALUES and q.size % 2 == 0 and q.flags.c_contiguous:
        return pairs.take(q.reshape(-1).view(np.uint16)).view(table.dtype).reshape(q.shape)
    return table.take(q.view(unsigned))


def tabulate_unary(kernel: Callable[[np.ndarray], np.ndarray], dtype: np.dtype) -> Callable[[np.ndarray], np.ndarray] | None:
    """`kernel` as one lookup over every int8 / int16 value (see `value_table`), or None."""
    table = value_table(kernel, dtype)
    if table is None:
        return None
    unsigned = unsigned_view(dtype)
    pairs = paired_table(table)

    def lookup(q: np.ndarray) -> np.ndarray:
        return lookup_by_bit_pattern(table, pairs, q, unsigned)

    return lookup


def table_lookup_kernel(lookup: Callable[[np.ndarray, np.ndarray], np.ndarray], dtype: np.dtype) -> Callable:
    """sima.lut: `lookup(q, table)` (the checked indexing) with each table
    reordered once, by `lookup` itself, to be indexed by the bit pattern of q."""
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.int8), np.dtype(np.int16)):
        return lookup
    unsigned = unsigned_view(dtype)
    patterns = _by_bit_pattern(_all_values(dtype))

    def reorder(table: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        by_pattern = lookup(patterns, table)
        return by_pattern, paired_table(by_pattern)

    reordered = PreparedWeight(reorder)

    def table_lookup(q: np.ndarray, table: np.ndarray) -> np.ndarray:
        if q.dtype != dtype:
            return lookup(q, table)  # refuses it with the checked kernel's error
        by_pattern, pairs = reordered(table)
        return lookup_by_bit_pattern(by_pattern, pairs, q, unsigned)

    return table_lookup


def tabulate_binary(
    kernel: Callable[[np.ndarray, np.ndarray], np.ndarray], lhs_dtype: np.dtype, rhs_dtype: np.dtype
) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """A broadcasting `kernel(lhs, rhs)` of two int8 operands as one lookup in
    a 256 x 256 table, or None (other types, or the checked kernel refuses a pair)."""
    int8 = np.dtype(np.int8)
    if np.dtype(lhs_dtype) != int8 or np.dtype(rhs_dtype) != int8:
        return None
    values = _by_bit_pattern(_all_values(int8))  # row / column i holds the value with bit pattern i
    try:
        with np.errstate(all="ignore"):
            table = np.asarray(kernel(values[:, None], values[None, :]))
    except ArithmeticOverflowError:
        return None
    if table.shape != (256, 256):
        return None
    flat = np.ascontiguousarray(table).reshape(_PAIR_TABLE_SIZE)
    flat.flags.writeable = False
    # With one operand a single value (an op's constant, the same array every run)
    # the op is a function of the other alone: its row or column of the table,
    # read two values at a time (`paired_table`).
    of_lhs = PreparedWeight(lambda rhs: _unary_table(table[:, rhs.reshape(()).view(np.uint8)]))  # row i: lhs pattern i
    of_rhs = PreparedWeight(lambda lhs: _unary_table(table[lhs.reshape(()).view(np.uint8), :]))
    uint8 = np.dtype(np.uint8)

    def lookup(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        if rhs.size == 1 and not rhs.flags.writeable:
            by_pattern, pairs = of_lhs(rhs)
            return lookup_by_bit_pattern(by_pattern, pairs, lhs, uint8).reshape(np.broadcast_shapes(lhs.shape, rhs.shape))
        if lhs.size == 1 and not lhs.flags.writeable:
            by_pattern, pairs = of_rhs(lhs)
            return lookup_by_bit_pattern(by_pattern, pairs, rhs, uint8).reshape(np.broadcast_shapes(lhs.shape, rhs.shape))
        high = np.left_shift(lhs.view(np.uint8), 8, dtype=np.uint16)
        return flat.take(high | rhs.view(np.uint8))

    return lookup


def _unary_table(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A 256-entry table indexed by bit pattern, read-only, with its `paired_table`."""
    values = np.ascontiguousarray(values)
    values.flags.writeable = False
    return values, paired_table(values)


# ---------------------------------------------------------------------------
# requantization of an exact float product


def _unsigned_offset_ok(bits: int) -> bool:
    # A * 2**-n + 1/2 - min_T stays within float64's 53 bits for 8- and 16-bit outputs
    return bits <= 16


def floor_merges(requantization: BaseRequantization, intrinsic_shift: np.ndarray, output_bits: int) -> bool:
    """Whether the int15 product's floor and a sima requantization round once, exactly.

    For n >= 1, B + 2**(n-1) is an integer and 2**n a positive one, so
    floor((floor(S / 2**h) + B + 2**(n-1)) / 2**n) = floor((S / 2**h + B + 2**(n-1)) / 2**n):
    the requantization of P = floor(S / 2**h) is that of S with shift n + h and
    bias B * 2**h. In float64 (`FloatRequantizer`'s unsigned path) the result's
    bits + n + h significant bits must fit 53 (n = 0 keeps the floor)."""
    if not isinstance(requantization, ArithFoldedRequantization) or output_bits > 16:
        return False
    n, h = np.broadcast_arrays(np.asarray(requantization.shift, dtype=np.int64), np.asarray(intrinsic_shift, dtype=np.int64))
    return bool(n.size) and int(n.min()) >= 1 and output_bits + int((n + h).max()) <= 53


class FloatRequantizer:
    """The output integers of a quantized GEMM from its exact float product.

    The GEMM multiplies the weights by `weight_scale` (a power of two per
    channel) and returns G = S * weight_scale, S the exact sum of products of
    the input it was given and the weights:

    - int8 input, sima: weight_scale = 2**-n, so G = P * 2**-n and the
      requantization is one add, a clip and a cast;
    - int16 input (`intrinsic_shift` given): weight_scale = 2**-h and
      P = floor(G + correction * 2**-h), the int15 algorithm's floor(S / 2**h);
      with `merge_floor`, where `floor_merges` proves it the same integers,
      sima to an 8- or 16-bit output instead rounds once: weight_scale =
      2**-(n + h) and y = floor((S + B * 2**h + 2**(n + h - 1)) / 2**(n + h)),
      as an int8 input's sima path with shift n + h and bias B * 2**h;
    - int8 input, tflite: weight_scale = 1.

    `correction[c]` is what the GEMM's input leaves out of S (a convolution
    run on x - z_in with zero padding instead of x padded with z_in:
    z_in * sum of the column's weights); None if nothing. `left_shift` L
    requantizes P << L (qmatmul) instead of P + bias.
    """

    def __init__(
        self,
        requantization: BaseRequantization,
        bias: np.ndarray,
        output_dtype: np.dtype,
        relu: bool,
        *,
        intrinsic_shift: np.ndarray | None = None,
        correction: np.ndarray | None = None,
        left_shift: int = 0,
        merge_floor: bool = False,
    ):
        self.output_dtype = np.dtype(output_dtype)
        bits = self.output_dtype.itemsize * 8
        info = np.iinfo(self.output_dtype)
        low, high = int(info.min), int(info.max)
        bias = np.asarray(bias, dtype=np.int64)
        sima_shift = getattr(requantization, "shift", None)  # n, for ArithFoldedRequantization
        if merge_floor and intrinsic_shift is not None and floor_merges(requantization, intrinsic_shift, bits):
            h = np.asarray(intrinsic_shift, dtype=np.int64)
            bias, sima_shift, intrinsic_shift = bias << h, sima_shift + h, None
        self.floor_product = intrinsic_shift is not None
        self.product_offset = None
        if self.floor_product:
            self.weight_scale = np.ldexp(1.0, -np.asarray(intrinsic_shift, dtype=np.int64))
            if correction is not None:
                self.product_offset = np.asarray(correction, dtype=np.int64) * self.weight_scale
        elif correction is not None:
            bias = bias + np.asarray(correction, dtype=np.int64)  # P = S + correction
        bias = bias.astype(np.float64)
        if isinstance(requantization, ArithFoldedRequantization):
            self.mode = "sima"
            scale = np.ldexp(1.0, -sima_shift)  # 2**-n per channel
            offset = bias * scale + 0.5  # floor(A * 2**-n + 1/2)
            low_clip = max(low, 0) if relu else low  # relu clamps A at 0, so the result at 0
            self.zero_point = 0
        elif isinstance(requantization, TFLiteRequantization):
            self.mode = "tflite"
            scale = np.ldexp(requantization.multiplier.astype(np.float64), -requantization.shift)  # M * 2**-n
            offset = bias * scale
            self.zero_point = requantization.zero_point
            low_clip = max(low, self.zero_point) if relu else low
        else:
            raise TypeError(f"no float path for {type(requantization).__name__}")
        if left_shift:  # R(P << L): one more power of two (bias must be 0 then)
            scale = np.ldexp(scale, left_shift)
        if scale.size == 1 and offset.size == 1:  # per tensor: no broadcasting that could add an axis
            scale, offset = scale.reshape(()), offset.reshape(())
        self.scale_in_weights = self.mode == "sima" and not self.floor_product
        if not self.floor_product:
            self.weight_scale = scale if self.scale_in_weights else np.ones_like(scale)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.unsigned = self.mode == "sima" and _unsigned_offset_ok(bits)
        if self.unsigned:
            # floor(s) - min_T, clipped to [low_clip - min_T, max_T - min_T], is the unsigned
            # bit pattern of the result, and a cast (trunc) floors non-negative values
            self.offset = offset - low
            self.clip = (float(low_clip - low), float(high - low))
            self.unsigned_dtype = np.dtype(f"uint{bits}")
            self.sign_bit = self.unsigned_dtype.type(1 << (bits - 1))
        else:
            self.offset = offset
            self.clip = (float(low_clip), float(high))
        self.has_offset = bool(np.any(self.offset != 0))
        self._blocks_by_shape: dict[tuple[int, ...], _ChannelBlocks] = {}
        self._plans: dict[tuple[tuple[int, ...], np.dtype], Callable | None] = {}
        # float32 all the way (`offset32`) where that is exact: see `_float32_offset`
        self.offset32 = self._float32_offset(sima_shift, bits) if self.unsigned and self.scale_in_weights else None
        if self.offset32 is not None:
            self.clip32 = tuple(np.float32(bound) for bound in self.clip)

    def _float32_offset(self, shift: np.ndarray, bits: int) -> np.ndarray | None:
        """The offset as float32 when a float32 product G = P * 2**-n can be requantized in float32.

        s = G + offset is then A * 2**-n + 1/2 - min_T. Where its exact value
        lies in [0, 2**bits), it has at most bits + max(n, 1) <= 24 significant
        bits, so float32 holds it and the sum is exact (G and the offset are
        exact float32 values); elsewhere rounding is monotonic and the clip to
        [0, 2**bits - 1] gives what it gives the exact value."""
        if bits + max(int(np.max(shift, initial=0)), 1) > 24:
            return None
        offset32 = np.asarray(self.offset, dtype=np.float32)
        if not np.array_equal(offset32.astype(np.float64), self.offset):
            return None
        return offset32

    def __call__(self, product: np.ndarray) -> np.ndarray:
        """The output integers of a product the caller no longer needs (float products are updated in place).

        A float32 product must be exact (the GEMM's bound), like a float64 one."""
        if product.__class__ is np.ndarray and product.flags.writeable and product.dtype in _FLOAT_PRODUCTS:
            if not product.flags.c_contiguous:
                product = np.ascontiguousarray(product)
            key = (product.shape, product.dtype)
            plan = self._plans.get(key, False)
            if plan is False:
                plan = self._plans[key] = self._plan(product.shape, product.dtype)
            if plan is not None:
                return plan(product)
        if product.__class__ is np.ndarray and product.dtype == np.float64 and product.flags.writeable:
            s = product
        else:
            s = np.array(product, dtype=np.float64)  # a fresh array, also for 0-d values
        blocks = self._blocks(s)
        if self.floor_product:
            if self.product_offset is not None:
                blocks(s, "product_offset", np.add)
            np.floor(s, out=s)
        if not self.scale_in_weights:
            blocks(s, "scale", np.multiply)
        if self.has_offset:
            blocks(s, "offset", np.add)
        if self.unsigned:
            np.clip(s, *self.clip, out=s)
            result = s.astype(self.unsigned_dtype)
            result ^= self.sign_bit
            return result.view(self.output_dtype)
        if self.mode == "sima":
            np.floor(s, out=s)
        else:
            # round half away from zero: trunc(x +- 1/2), exact (see the module docstring)
            s += np.copysign(0.5, s)
            np.trunc(s, out=s)
            if self.zero_point:
                s += self.zero_point
        np.clip(s, *self.clip, out=s)
        return s.astype(self.output_dtype)

    def _plan(self, shape: tuple[int, ...], dtype: np.dtype) -> Callable[[np.ndarray], np.ndarray] | None:
        """The unsigned sima requantization (the common one: an add, a clip, a cast)
        of a writable contiguous product of this shape and dtype, in float32 where
        `offset32` allows it, with its Python work done once (a small layer's
        requantization is mostly that work); None for the other paths of `__call__`."""
        if dtype == np.float32 and self.offset32 is not None:
            name, low, high = "offset32", *self.clip32
        elif dtype == np.float64 and self.unsigned and self.scale_in_weights and not self.floor_product:
            name, low, high = ("offset" if self.has_offset else None), *self.clip
        else:
            return None
        blocks = _ChannelBlocks(self, shape)
        offset = blocks.tiled[name] if name else None
        rows_shape = (-1, blocks.tile_values) if offset is not None and offset.ndim == 1 else shape
        unsigned_dtype, sign_bit, output_dtype, add = self.unsigned_dtype, self.sign_bit, self.output_dtype, np.add

        def requantize(product: np.ndarray) -> np.ndarray:
            rows = product.reshape(rows_shape)
            if offset is not None:
                add(rows, offset, out=rows)
            rows.clip(low, high, out=rows)
            result = rows.astype(unsigned_dtype)
            result ^= sign_bit
            return result.view(output_dtype).reshape(shape)

        return requantize

    def _blocks(self, s: np.ndarray) -> _ChannelBlocks:
        key = s.shape
        blocks = self._blocks_by_shape.get(key)
        if blocks is None:
            blocks = self._blocks_by_shape[key] = _ChannelBlocks(self, s.shape)
        return blocks


_FLOAT_PRODUCTS = (np.dtype(np.float32), np.dtype(np.float64))

# Per-channel constants are applied as a block of them repeated over at least
# this many values (whole pixels), so that NumPy runs one long inner loop per
# block rather than one per pixel over the channels alone (see runtime.kernels.conv).
CHANNEL_BLOCK_VALUES = 1024


class _ChannelBlocks:
    """`s op= constant` for the per-channel constants of a `FloatRequantizer`, for one result shape."""

    def __init__(self, requantizer: FloatRequantizer, shape: tuple[int, ...]):
        self.tiled: dict[str, np.ndarray] = {}
        channels = shape[-1] if shape else 1
        pixels = int(np.prod(shape[:-1])) if shape else 1
        block = _column_block(pixels, channels, CHANNEL_BLOCK_VALUES) if pixels else 1
        for name in ("product_offset", "scale", "offset", "offset32"):
            value = getattr(requantizer, name)
            if value is None:
                continue
            value = np.asarray(value, dtype=np.float32 if name == "offset32" else np.float64)
            if value.ndim == 1 and value.shape[0] == channels and len(shape) >= 1:
                self.tiled[name] = np.tile(value, block)
            else:
                self.tiled[name] = value  # per tensor
        self.tile_values = channels * block

    def __call__(self, s: np.ndarray, name: str, ufunc) -> None:
        value = self.tiled[name]
        if value.ndim == 1 and s.flags.c_contiguous:
            rows = s.reshape(-1, self.tile_values)
            ufunc(rows, value, out=rows)
        else:
            ufunc(s, value, out=s)


# ---------------------------------------------------------------------------
# static bounds of a GEMM


class GemmBounds:
    """What the weights' column norms prove about one quantized GEMM.

    `column_l1[c]` = sum_k |w[k, c]|; `input_bits` 8 or 16; `bias` the int32
    bias; `intrinsic_shift` per channel (0 for int8). `proves_checks` is True
    when no intermediate the checked arithmetic tests (the int8 product, the
    int15 partial products, the accumulator P + B) can leave int32 for any
    input of the type.
    """

    def __init__(self, column_l1: np.ndarray, input_bits: int, bias: np.ndarray, intrinsic_shift: np.ndarray):
        l1 = np.asarray(column_l1, dtype=np.int64)
        bias_magnitude = np.abs(np.asarray(bias, dtype=np.int64))
        h = np.broadcast_to(np.asarray(intrinsic_shift, dtype=np.int64), l1.shape)
        limit = ACCUMULATOR_MAX
        if input_bits == 8:
            product = 128 * l1
            checks = [product]
        else:
            high = 128 * l1  # x >> 8 in [-128, 127]
            low = 255 * l1  # x & 0xFF in [0, 255]
            shifted_high = high << (INT15_LOW_BITS - h)
            product = (32768 * l1 >> h) + 1  # |floor(S / 2**h)| <= |S| / 2**h + 1
            checks = [high, low, shifted_high, product]
        checks.append(product + bias_magnitude)
        self.proves_checks = bool(all(int(np.max(c, initial=0)) <= limit for c in checks))
        self.column_l1 = l1

    def exact_float_type(self, input_magnitude: int) -> type | None:
        """float32 or float64 if every partial sum of inputs up to `input_magnitude` is exact in it."""
        bound = input_magnitude * int(np.max(self.column_l1, initial=0))
        if bound < FLOAT32_EXACT:
            return np.float32
        if bound < FLOAT64_EXACT:
            return np.float64
        return None


# ---------------------------------------------------------------------------
# elementwise ops of int16 operands (int8 pairs are tabulated whole)


def rescaled_sum(
    lhs_table: np.ndarray | None,
    rhs_table: np.ndarray | None,
    lhs_dtype: np.dtype,
    rhs_dtype: np.dtype,
    requantization: TFLiteRequantization,
    output_dtype: np.dtype,
    subtract: bool,
) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """qadd / qsub from the tables of the two rescaled inputs t_i (`value_table`
    of `InputRescale.apply`): R(t_lhs +- t_rhs), or None where the tables are
    missing or |t_lhs| + |t_rhs| could leave int32."""
    if lhs_table is None or rhs_table is None:
        return None
    bound = int(np.abs(lhs_table).max()) + int(np.abs(rhs_table).max())
    if bound > ACCUMULATOR_MAX:
        return None
    # int32 tables (the bound keeps their sums in int32): half the cache of float64 ones
    lhs_table, rhs_table = lhs_table.astype(np.int32), rhs_table.astype(np.int32)
    lhs_unsigned, rhs_unsigned = unsigned_view(lhs_dtype), unsigned_view(rhs_dtype)
    requantize = FloatRequantizer(requantization, np.zeros(1, np.int64), output_dtype, False)
    combine = np.subtract if subtract else np.add

    def add(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        return requantize(combine(lhs_table.take(lhs.view(lhs_unsigned)), rhs_table.take(rhs.view(rhs_unsigned))))

    return add


def centered_product(
    lhs_zero_point: int,
    rhs_zero_point: int,
    lhs_dtype: np.dtype,
    rhs_dtype: np.dtype,
    left_shift: int,
    requantization: TFLiteRequantization,
    output_dtype: np.dtype,
) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """qmul: R(((a - z_a) * (b - z_b)) << L) in float64 (exact: |product| < 2**32),
    or None where the types do not bound the product << L within int32."""

    def magnitude(dtype: np.dtype, zero_point: int) -> int:
        info = np.iinfo(dtype)
        return max(abs(int(info.min) - zero_point), abs(int(info.max) - zero_point))

    if (magnitude(lhs_dtype, lhs_zero_point) * magnitude(rhs_dtype, rhs_zero_point)) << left_shift > ACCUMULATOR_MAX:
        return None
    requantize = FloatRequantizer(requantization, np.zeros(1, np.int64), output_dtype, False, left_shift=left_shift)

    def multiply(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        product = np.subtract(lhs, lhs_zero_point, dtype=np.float64)
        return requantize(product * np.subtract(rhs, rhs_zero_point, dtype=np.float64))

    return multiply


# ---------------------------------------------------------------------------
# quantize

# Quotients beyond this saturate every integer type, however they round.
_QUOTIENT_SATURATES = 2.0**40


def quantize_rounding_quotient(step: float, zero_point: int, output_type, exact_quantize: Callable) -> Callable:
    """sima.quantize: sat(round_half_away(x / step) + z), the checked
    `exact_quantize` run only on the elements near a tie.

    The float64 quotient q = fl(x / step) is within |q| * 2**-53 of the exact
    one, so trunc(q +- 1/2) is the exact rounding unless q is that close to
    a tie k + 1/2; every element within eps = min(max|q|, 2**40) * 2**-50 of
    one is quantized again by `exact_quantize` (larger quotients saturate
    whatever their rounding). NaN goes to `exact_quantize`, which refuses it.
    """
    dtype = np.dtype(output_type.numpy_type())
    info = np.iinfo(dtype)
    low, high = float(info.min), float(info.max)
    step = float(step)
    if not (np.isfinite(step) and step > 0):
        return lambda x: exact_quantize(x, step, zero_point, output_type)  # refuses the step

    def quantize(x: np.ndarray) -> np.ndarray:
        if x.dtype.kind != "f":
            return exact_quantize(x, step, zero_point, output_type)
        if x.ndim == 0:  # NumPy gives scalars, not arrays, for the in-place steps below
            return quantize(x.reshape(1)).reshape(())
        with np.errstate(over="ignore", invalid="ignore"):  # x / step may overflow to inf; inf - inf is NaN, never near
            quotient = np.divide(x, step, dtype=np.float64)
            largest = float(np.max(np.abs(quotient), initial=0.0))
            if largest != largest:  # NaN
                return exact_quantize(x, step, zero_point, output_type)
            rounded = np.copysign(0.5, quotient)
            rounded += quotient
            np.trunc(rounded, out=rounded)
            quotient -= rounded  # the fraction, in [-1/2, 1/2] (exact: q and its rounding are close)
            np.abs(quotient, out=quotient)
            near = quotient >= 0.5 - min(largest, _QUOTIENT_SATURATES) * 2.0**-50
        rounded += zero_point
        np.clip(rounded, low, high, out=rounded)
        result = rounded.astype(dtype)
        if near.any():
            result[near] = exact_quantize(x[near], step, zero_point, output_type)
        return result

    return quantize
