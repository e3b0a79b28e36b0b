// Invalid IR for the quantized ops (sima_dialect/quantized_ops.py): every
// verifier message, one case per chunk of --split-input-file: element types,
// shapes, the ranges of multipliers, shifts and intrinsic shifts, per-channel
// lengths, table sizes, and the worst-case intermediates that must fit int32;
// and the data-movement ops' rules for quantized tensors.
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// sima.quantize takes a float tensor.
func.func @quantize_of_integers(%x: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.quantize %x : (tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.quantize: input must be a float tensor, got tensor<4x!sima.quant<i8, 0.05:-3>>{{$}}

// -----

// sima.quantize gives a quantized tensor (not a plain integer one).
func.func @quantize_to_i8(%x: tensor<4xf32>) -> tensor<4xi8> {
  %0 = sima.quantize %x : (tensor<4xf32>) -> tensor<4xi8>
  func.return %0 : tensor<4xi8>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.quantize: result must be a tensor of !sima.quant<i8 or i16 or i32, ...>, got tensor<4xi8>{{$}}

// -----

// sima.quantize keeps the shape.
func.func @quantize_reshapes(%x: tensor<4xf32>) -> tensor<5x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.quantize %x : (tensor<4xf32>) -> tensor<5x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<5x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.quantize: result shape [5] does not match the expected [4]{{$}}

// -----

// sima.dequantize takes a quantized tensor.
func.func @dequantize_float(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.dequantize %x : (tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dequantize: input must be a tensor of !sima.quant<i8 or i16 or i32, ...>, got tensor<4xf32>{{$}}

// -----

// sima.dequantize gives f32.
func.func @dequantize_to_f16(%x: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4xf16> {
  %0 = sima.dequantize %x : (tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4xf16>
  func.return %0 : tensor<4xf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dequantize: result must be an f32 tensor, got tensor<4xf16>{{$}}

// -----

// sima.dequantize keeps the shape.
func.func @dequantize_reshapes(%x: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x2xf32> {
  %0 = sima.dequantize %x : (tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x2xf32>
  func.return %0 : tensor<2x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dequantize: result shape [2, 2] does not match the expected [4]{{$}}

// -----

// sima.requantize gives a quantized tensor.
func.func @requantize_to_float(%x: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4xf32> {
  %0 = sima.requantize %x {multiplier = 64 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.requantize: result must be a tensor of !sima.quant<i8 or i16 or i32, ...>, got tensor<4xf32>{{$}}

// -----

// sima.requantize keeps the shape.
func.func @requantize_reshapes(%x: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x!sima.quant<i16, 0.001:0>> {
  %0 = sima.requantize %x {multiplier = 64 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x!sima.quant<i16, 0.001:0>>
  func.return %0 : tensor<2x!sima.quant<i16, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.requantize: result shape [2] does not match the expected [4]{{$}}

// -----

// The multiplier is a signed 8-bit constant in [1, 127].
func.func @requantize_multiplier_128(%x: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i16, 0.001:0>> {
  %0 = sima.requantize %x {multiplier = 128 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i16, 0.001:0>>
  func.return %0 : tensor<4x!sima.quant<i16, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.requantize: multiplier must be in [1, 127], got [128]{{$}}

// -----

// The shift is at most 38 (the 40-bit product register).
func.func @requantize_shift_39(%x: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i16, 0.001:0>> {
  %0 = sima.requantize %x {multiplier = 64 : i64, shift = 39 : i64, left_shift = 0 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i16, 0.001:0>>
  func.return %0 : tensor<4x!sima.quant<i16, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.requantize: shift must be in [0, 38], got [39]{{$}}

// -----

// The left shift is at most 31.
func.func @requantize_left_shift_32(%x: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i16, 0.001:0>> {
  %0 = sima.requantize %x {multiplier = 64 : i64, shift = 7 : i64, left_shift = 32 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i16, 0.001:0>>
  func.return %0 : tensor<4x!sima.quant<i16, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.requantize: left_shift must be in [0, 31], got [32]{{$}}

// -----

// (q - z_in) << left_shift must fit int32 for every int16 q.
func.func @requantize_left_shift_overflows(%x: tensor<4x!sima.quant<i16, 0.001:0>>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.requantize %x {multiplier = 64 : i64, shift = 7 : i64, left_shift = 17 : i64} : (tensor<4x!sima.quant<i16, 0.001:0>>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.requantize: q - zero point << 17 can reach [-4294967296, 4294836224], which does not fit int32{{$}}

// -----

// An int32 input with a non-zero zero point: q - z_in can leave int32.
func.func @requantize_int32_zero_point(%x: tensor<4x!sima.quant<i32, 0.001:5>>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.requantize %x {multiplier = 64 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<4x!sima.quant<i32, 0.001:5>>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.requantize: q - zero point can reach [-2147483653, 2147483642], which does not fit int32{{$}}

// -----

// sima.qmatmul multiplies int8 activations only.
func.func @qmatmul_int16(%a: tensor<2x3x!sima.quant<i16, 0.001:0>>, %b: tensor<3x2x!sima.quant<i8, 0.05:-3>>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qmatmul %a, %b {multiplier = 64 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<2x3x!sima.quant<i16, 0.001:0>>, tensor<3x2x!sima.quant<i8, 0.05:-3>>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qmatmul: lhs must be a tensor of !sima.quant<i8, ...>, got tensor<2x3x!sima.quant<i16, 0.001:0>>{{$}}

// -----

// Both operands are quantized.
func.func @qmatmul_float_rhs(%a: tensor<2x3x!sima.quant<i8, 0.05:-3>>, %b: tensor<3x2xf32>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qmatmul %a, %b {multiplier = 64 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<2x3x!sima.quant<i8, 0.05:-3>>, tensor<3x2xf32>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qmatmul: rhs must be a tensor of !sima.quant<i8, ...>, got tensor<3x2xf32>{{$}}

// -----

// The result is int8 or int16.
func.func @qmatmul_int32_result(%a: tensor<2x3x!sima.quant<i8, 0.05:-3>>, %b: tensor<3x2x!sima.quant<i8, 0.05:-3>>) -> tensor<2x2x!sima.quant<i32, 0.001:0>> {
  %0 = sima.qmatmul %a, %b {multiplier = 64 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<2x3x!sima.quant<i8, 0.05:-3>>, tensor<3x2x!sima.quant<i8, 0.05:-3>>) -> tensor<2x2x!sima.quant<i32, 0.001:0>>
  func.return %0 : tensor<2x2x!sima.quant<i32, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qmatmul: result must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<2x2x!sima.quant<i32, 0.001:0>>{{$}}

// -----

// The contraction sizes agree.
func.func @qmatmul_k_differs(%a: tensor<2x3x!sima.quant<i8, 0.05:-3>>, %b: tensor<4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qmatmul %a, %b {multiplier = 64 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<2x3x!sima.quant<i8, 0.05:-3>>, tensor<4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qmatmul: contraction sizes differ: lhs (2, 3) has K=3, rhs (4, 2) has K=4{{$}}

// -----

// The worst-case sum of products, shifted left, fits int32.
func.func @qmatmul_sum_overflows(%a: tensor<2x16x!sima.quant<i8, 0.5:-128>>, %b: tensor<16x2x!sima.quant<i8, 0.5:-128>>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qmatmul %a, %b {multiplier = 64 : i64, shift = 7 : i64, left_shift = 12 : i64} : (tensor<2x16x!sima.quant<i8, 0.5:-128>>, tensor<16x2x!sima.quant<i8, 0.5:-128>>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qmatmul: sum of products << 12 can reach [0, 4261478400], which does not fit int32{{$}}

// -----

// sima.qadd takes quantized operands.
func.func @qadd_float(%a: tensor<4xf32>, %b: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qadd %a, %b {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 64 : i64, rhs_shift = 7 : i64, multiplier = 64 : i64, shift = 7 : i64, left_shift = 20 : i64} : (tensor<4xf32>, tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qadd: lhs must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<4xf32>{{$}}

// -----

// The result is int8 or int16.
func.func @qadd_int32_result(%a: tensor<4x!sima.quant<i8, 0.05:-3>>, %b: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i32, 0.001:0>> {
  %0 = sima.qadd %a, %b {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 64 : i64, rhs_shift = 7 : i64, multiplier = 64 : i64, shift = 7 : i64, left_shift = 20 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i32, 0.001:0>>
  func.return %0 : tensor<4x!sima.quant<i32, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qadd: result must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<4x!sima.quant<i32, 0.001:0>>{{$}}

// -----

// The operands broadcast.
func.func @qadd_no_broadcast(%a: tensor<2x3x!sima.quant<i8, 0.05:-3>>, %b: tensor<4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qadd %a, %b {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 64 : i64, rhs_shift = 7 : i64, multiplier = 64 : i64, shift = 7 : i64, left_shift = 20 : i64} : (tensor<2x3x!sima.quant<i8, 0.05:-3>>, tensor<4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qadd: shapes (2, 3) and (4, 2) do not broadcast (dimension 0 of the result has sizes [2, 4]){{$}}

// -----

// Input multipliers are in [1, 127].
func.func @qadd_lhs_multiplier_0(%a: tensor<4x!sima.quant<i8, 0.05:-3>>, %b: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qadd %a, %b {lhs_multiplier = 0 : i64, lhs_shift = 7 : i64, rhs_multiplier = 64 : i64, rhs_shift = 7 : i64, multiplier = 64 : i64, shift = 7 : i64, left_shift = 20 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qadd: lhs_multiplier must be in [1, 127], got [0]{{$}}

// -----

// Input shifts are in [0, 38].
func.func @qadd_rhs_shift_40(%a: tensor<4x!sima.quant<i8, 0.05:-3>>, %b: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qadd %a, %b {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 64 : i64, rhs_shift = 40 : i64, multiplier = 64 : i64, shift = 7 : i64, left_shift = 20 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qadd: rhs_shift must be in [0, 38], got [40]{{$}}

// -----

// The output multiplier too.
func.func @qadd_multiplier_200(%a: tensor<4x!sima.quant<i8, 0.05:-3>>, %b: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qadd %a, %b {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 64 : i64, rhs_shift = 7 : i64, multiplier = 200 : i64, shift = 7 : i64, left_shift = 20 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qadd: multiplier must be in [1, 127], got [200]{{$}}

// -----

// Each input minus its zero point, shifted left, fits int32.
func.func @qadd_headroom_overflows(%a: tensor<4x!sima.quant<i8, 0.05:-3>>, %b: tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qadd %a, %b {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 64 : i64, rhs_shift = 7 : i64, multiplier = 64 : i64, shift = 7 : i64, left_shift = 24 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qadd: lhs - zero point << 24 can reach [-2097152000, 2181038080], which does not fit int32{{$}}

// -----

// The sum of the rescaled inputs fits int32.
func.func @qadd_sum_overflows(%a: tensor<4x!sima.quant<i8, 0.05:-3>>, %b: tensor<4x!sima.quant<i8, 0.5:10>>) -> tensor<4x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qadd %a, %b {lhs_multiplier = 127 : i64, lhs_shift = 0 : i64, rhs_multiplier = 127 : i64, rhs_shift = 0 : i64, multiplier = 64 : i64, shift = 7 : i64, left_shift = 20 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<4x!sima.quant<i8, 0.5:10>>) -> tensor<4x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qadd: the sum of the rescaled inputs can reach [-35023486976, 32892780544], which does not fit int32{{$}}

// -----

// sima.qsub checks the difference.
func.func @qsub_difference_overflows(%a: tensor<4x!sima.quant<i8, 0.05:-3>>, %b: tensor<4x!sima.quant<i8, 0.5:10>>) -> tensor<4x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qsub %a, %b {lhs_multiplier = 127 : i64, lhs_shift = 4 : i64, rhs_multiplier = 127 : i64, rhs_shift = 4 : i64, multiplier = 64 : i64, shift = 7 : i64, left_shift = 20 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<4x!sima.quant<i8, 0.5:10>>) -> tensor<4x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qsub: the difference of the rescaled inputs can reach [-2014183424, 2230583296], which does not fit int32{{$}}

// -----

// sima.qmul takes quantized operands (a plain i8 tensor is not).
func.func @qmul_plain_integers(%a: tensor<4x!sima.quant<i8, 0.05:-3>>, %b: tensor<4xi8>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qmul %a, %b {multiplier = 64 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<4xi8>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qmul: rhs must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<4xi8>{{$}}

// -----

// The worst-case product of the centered inputs fits int32.
func.func @qmul_product_overflows(%a: tensor<4x!sima.quant<i16, 0.001:-20000>>, %b: tensor<4x!sima.quant<i16, 0.001:-20000>>) -> tensor<4x!sima.quant<i16, 0.001:0>> {
  %0 = sima.qmul %a, %b {multiplier = 64 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<4x!sima.quant<i16, 0.001:-20000>>, tensor<4x!sima.quant<i16, 0.001:-20000>>) -> tensor<4x!sima.quant<i16, 0.001:0>>
  func.return %0 : tensor<4x!sima.quant<i16, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qmul: (lhs - zero point) * (rhs - zero point) can reach [-673729056, 2784356289], which does not fit int32{{$}}

// -----

// The shape rules of conv2d apply.
func.func @qconv2d_rank3(%x: tensor<4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: input must be rank 4 (NHWC), got rank 3{{$}}

// -----

// The result shape follows the window.
func.func @qconv2d_result_shape(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x3x3x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x3x3x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x3x3x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: result shape [1, 3, 3, 2] does not match the expected [1, 2, 2, 2]{{$}}

// -----

// The input is quantized.
func.func @qconv2d_float_input(%x: tensor<1x4x4x4xf32>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4xf32>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: input must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<1x4x4x4xf32>{{$}}

// -----

// The input is int8 or int16 (not int32).
func.func @qconv2d_int32_input(%x: tensor<1x4x4x4x!sima.quant<i32, 0.001:0>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4x!sima.quant<i32, 0.001:0>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: input must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<1x4x4x4x!sima.quant<i32, 0.001:0>>{{$}}

// -----

// The result is quantized.
func.func @qconv2d_float_result(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2xf32> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2xf32>
  func.return %0 : tensor<1x2x2x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: result must be a tensor of !sima.quant<i8 or i16 or i32, ...>, got tensor<1x2x2x2xf32>{{$}}

// -----

// Weights are plain i8.
func.func @qconv2d_quantized_weight(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2x!sima.quant<i8, 0.05:-3>>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2x!sima.quant<i8, 0.05:-3>>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: weight must be a tensor of i8, got tensor<3x3x4x2x!sima.quant<i8, 0.05:-3>>{{$}}

// -----

// The bias is i32.
func.func @qconv2d_i8_bias(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi8>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi8>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: bias must be a tensor of i32, got tensor<2xi8>{{$}}

// -----

// One bias value per output channel.
func.func @qconv2d_bias_shape(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<3xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<3xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: bias shape [3] must be [2] (one per output channel){{$}}

// -----

// Two requantization modes.
func.func @qconv2d_mode(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "float", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: requant_mode must be one of 'sima', 'tflite', got 'float'{{$}}

// -----

// Shifts are per tensor or per output channel.
func.func @qconv2d_three_shifts(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 1, 2, 3>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: shift must hold 1 value or 2 (one per output channel), got 3{{$}}

// -----

// A sima shift is in [0, 31].
func.func @qconv2d_sima_shift_32(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 4, 32>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: shift must be in [0, 31], got [4, 32]{{$}}

// -----

// sima mode has no multiplier.
func.func @qconv2d_sima_multiplier(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>, multiplier = array<i64: 90>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: sima requantization has no multiplier (the scale is folded into the weights){{$}}

// -----

// sima mode clamps a fused relu before the shift: only right for a zero point of 0.
func.func @qconv2d_sima_relu_zero_point(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:5>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>, relu} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:5>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:5>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: relu in sima mode clamps the accumulator at 0, which needs a result zero point of 0, got 5{{$}}

// -----

// A tflite shift is in [0, 38].
func.func @qconv2d_tflite_shift_39(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", shift = array<i64: 39>, intrinsic_shift = array<i64: 0>, multiplier = array<i64: 90>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: shift must be in [0, 38], got [39]{{$}}

// -----

// tflite mode needs its multiplier.
func.func @qconv2d_tflite_no_multiplier(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", shift = array<i64: 20>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: tflite requantization needs a multiplier{{$}}

// -----

// Multipliers are per tensor or per output channel.
func.func @qconv2d_three_multipliers(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", shift = array<i64: 20>, intrinsic_shift = array<i64: 0>, multiplier = array<i64: 64, 65, 66>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: multiplier must hold 1 value or 2 (one per output channel), got 3{{$}}

// -----

// Multipliers are in [1, 127].
func.func @qconv2d_multiplier_0(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", shift = array<i64: 20>, intrinsic_shift = array<i64: 0>, multiplier = array<i64: 0, 5>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: multiplier must be in [1, 127], got [0, 5]{{$}}

// -----

// Intrinsic shifts are per tensor or per output channel.
func.func @qconv2d_three_intrinsic_shifts(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0, 0, 0>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: intrinsic_shift must hold 1 value or 2 (one per output channel), got 3{{$}}

// -----

// The int8 algorithm has no intrinsic shift.
func.func @qconv2d_int8_intrinsic_shift(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 1>} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: intrinsic_shift must be 0 for an int8 input, got [1]{{$}}

// -----

// The int15 algorithm shifts by 1 or 8.
func.func @qconv2d_int16_intrinsic_shift(%x: tensor<1x4x4x4x!sima.quant<i16, 0.001:0>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 1, 0>} : (tensor<1x4x4x4x!sima.quant<i16, 0.001:0>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d: intrinsic_shift must be 1 or 8 for an int16 input, got [1, 0]{{$}}

// -----

// Messages name the node.
func.func @qconv2d_named(%x: tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x3x4x2xi8>, %b: tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 8>, node = "MLA_0/conv2d_add_0"} : (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qconv2d 'MLA_0/conv2d_add_0': intrinsic_shift must be 0 for an int8 input, got [8]{{$}}

// -----

// The shape rules of dense apply.
func.func @qdense_weight_rank(%x: tensor<4x3x!sima.quant<i8, 0.05:-3>>, %w: tensor<3x4x2xi8>, %b: tensor<2xi32>) -> tensor<4x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qdense %x, %w, %b {requant_mode = "sima", shift = array<i64: 3>, intrinsic_shift = array<i64: 0>} : (tensor<4x3x!sima.quant<i8, 0.05:-3>>, tensor<3x4x2xi8>, tensor<2xi32>) -> tensor<4x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<4x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qdense: dense weight must be rank 2 [K, N], got (3, 4, 2){{$}}

// -----

// qdense checks its requantization as qconv2d does.
func.func @qdense_bias_shape(%x: tensor<4x3x!sima.quant<i16, 0.001:0>>, %w: tensor<3x2xi8>, %b: tensor<4xi32>) -> tensor<4x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qdense %x, %w, %b {requant_mode = "sima", shift = array<i64: 3>, intrinsic_shift = array<i64: 1>} : (tensor<4x3x!sima.quant<i16, 0.001:0>>, tensor<3x2xi8>, tensor<4xi32>) -> tensor<4x2x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<4x2x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qdense: bias shape [4] must be [2] (one per output channel){{$}}

// -----

// sima.lut looks up quantized integers.
func.func @lut_float(%x: tensor<4xf32>, %t: tensor<256xi8>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.lut %x, %t : (tensor<4xf32>, tensor<256xi8>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.lut: input must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<4xf32>{{$}}

// -----

// Its result is int8 or int16.
func.func @lut_int32(%x: tensor<4x!sima.quant<i8, 0.05:-3>>, %t: tensor<256xi32>) -> tensor<4x!sima.quant<i32, 0.001:0>> {
  %0 = sima.lut %x, %t : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<256xi32>) -> tensor<4x!sima.quant<i32, 0.001:0>>
  func.return %0 : tensor<4x!sima.quant<i32, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.lut: result must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<4x!sima.quant<i32, 0.001:0>>{{$}}

// -----

// It keeps the shape.
func.func @lut_reshapes(%x: tensor<4x!sima.quant<i8, 0.05:-3>>, %t: tensor<256xi8>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.lut %x, %t : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<256xi8>) -> tensor<2x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.lut: result shape [2, 2] does not match the expected [4]{{$}}

// -----

// An int8 input needs 256 entries.
func.func @lut_255_entries(%x: tensor<4x!sima.quant<i8, 0.05:-3>>, %t: tensor<255xi8>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.lut %x, %t : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<255xi8>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.lut: table must have 256 entries (one per i8 value), got shape [255]{{$}}

// -----

// An int16 input needs 65536 entries.
func.func @lut_int16_256_entries(%x: tensor<4x!sima.quant<i16, 0.001:0>>, %t: tensor<256xi16>) -> tensor<4x!sima.quant<i16, 0.001:0>> {
  %0 = sima.lut %x, %t : (tensor<4x!sima.quant<i16, 0.001:0>>, tensor<256xi16>) -> tensor<4x!sima.quant<i16, 0.001:0>>
  func.return %0 : tensor<4x!sima.quant<i16, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.lut: table must have 65536 entries (one per i16 value), got shape [256]{{$}}

// -----

// The table holds the result's storage type.
func.func @lut_table_type(%x: tensor<4x!sima.quant<i8, 0.05:-3>>, %t: tensor<256xi16>) -> tensor<4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.lut %x, %t : (tensor<4x!sima.quant<i8, 0.05:-3>>, tensor<256xi16>) -> tensor<4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.lut: table (of the result's storage type) must be a tensor of i8, got tensor<256xi16>{{$}}

// -----

// The shape rules of avg_pool apply.
func.func @qavg_pool_pads(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qavg_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 2, 0, 0, 0>, count_include_pad = true, multiplier = array<i64: 114>, shift = array<i64: 10>} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qavg_pool: pads [2, 0, 0, 0] must be smaller than the kernel [2, 2]{{$}}

// -----

// The input is quantized.
func.func @qavg_pool_float(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qavg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, multiplier = array<i64: 114>, shift = array<i64: 10>} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qavg_pool: input must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<1x4x4x2xf32>{{$}}

// -----

// The result is quantized.
func.func @qavg_pool_float_result(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2xf32> {
  %0 = sima.qavg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, multiplier = array<i64: 114>, shift = array<i64: 10>} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2xf32>
  func.return %0 : tensor<1x4x4x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qavg_pool: result must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<1x4x4x2xf32>{{$}}

// -----

// One shift per multiplier.
func.func @qavg_pool_lengths(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qavg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, multiplier = array<i64: 64, 65>, shift = array<i64: 10>} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qavg_pool: multiplier and shift must have the same length, got 2 and 1{{$}}

// -----

// Without count_include_pad the divisor varies at the border: one constant per divisor.
func.func @qavg_pool_varying_divisor(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qavg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = false, multiplier = array<i64: 114>, shift = array<i64: 10>} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qavg_pool: windows at the border hold fewer taps (count_include_pad is false): multiplier and shift need 9 values, one per divisor, got 1{{$}}

// -----

// A constant divisor: 1 value or one per divisor.
func.func @qavg_pool_two_values(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qavg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, multiplier = array<i64: 64, 65>, shift = array<i64: 7, 7>} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qavg_pool: multiplier and shift must hold 1 value or 9 (one per divisor), got 2{{$}}

// -----

// Pool multipliers are in [1, 127].
func.func @qavg_pool_multiplier_0(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qavg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, multiplier = array<i64: 0>, shift = array<i64: 10>} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qavg_pool: multiplier must be in [1, 127], got [0]{{$}}

// -----

// Pool shifts are in [0, 38].
func.func @qavg_pool_shift_40(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qavg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, multiplier = array<i64: 114>, shift = array<i64: 40>} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qavg_pool: shift must be in [0, 38], got [40]{{$}}

// -----

// The window sum fits int32 (300 x 300 taps of int16 do not).
func.func @qavg_pool_sum_overflows(%x: tensor<1x300x300x1x!sima.quant<i16, 0.001:0>>) -> tensor<1x1x1x1x!sima.quant<i16, 0.001:0>> {
  %0 = sima.qavg_pool %x {kernel = array<i64: 300, 300>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, count_include_pad = true, multiplier = array<i64: 114>, shift = array<i64: 10>} : (tensor<1x300x300x1x!sima.quant<i16, 0.001:0>>) -> tensor<1x1x1x1x!sima.quant<i16, 0.001:0>>
  func.return %0 : tensor<1x1x1x1x!sima.quant<i16, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qavg_pool: the sum of 90000 taps can reach [-2949120000, 2949030000], which does not fit int32{{$}}

// -----

// sima.qglobal_avg_pool takes NHWC.
func.func @qglobal_rank3(%x: tensor<4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qglobal_avg_pool %x {multiplier = 64 : i64, shift = 10 : i64} : (tensor<4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x1x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qglobal_avg_pool: input must be rank 4 (NHWC), got rank 3{{$}}

// -----

// It reduces H and W to 1.
func.func @qglobal_result_shape(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qglobal_avg_pool %x {multiplier = 64 : i64, shift = 10 : i64} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qglobal_avg_pool: result shape [1, 2, 2, 2] does not match the expected [1, 1, 1, 2]{{$}}

// -----

// The input is quantized.
func.func @qglobal_float(%x: tensor<1x4x4x2xf32>) -> tensor<1x1x1x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qglobal_avg_pool %x {multiplier = 64 : i64, shift = 10 : i64} : (tensor<1x4x4x2xf32>) -> tensor<1x1x1x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x1x1x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qglobal_avg_pool: input must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<1x4x4x2xf32>{{$}}

// -----

// Its multiplier is in [1, 127].
func.func @qglobal_multiplier_0(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qglobal_avg_pool %x {multiplier = 0 : i64, shift = 10 : i64} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x1x1x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qglobal_avg_pool: multiplier must be in [1, 127], got [0]{{$}}

// -----

// Its shift is in [0, 38].
func.func @qglobal_shift_39(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qglobal_avg_pool %x {multiplier = 64 : i64, shift = 39 : i64} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x1x1x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qglobal_avg_pool: shift must be in [0, 38], got [39]{{$}}

// -----

// The sum over H and W fits int32.
func.func @qglobal_sum_overflows(%x: tensor<1x300x300x1x!sima.quant<i16, 0.001:0>>) -> tensor<1x1x1x1x!sima.quant<i16, 0.001:0>> {
  %0 = sima.qglobal_avg_pool %x {multiplier = 64 : i64, shift = 30 : i64} : (tensor<1x300x300x1x!sima.quant<i16, 0.001:0>>) -> tensor<1x1x1x1x!sima.quant<i16, 0.001:0>>
  func.return %0 : tensor<1x1x1x1x!sima.quant<i16, 0.001:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.qglobal_avg_pool: the sum of 90000 pixels can reach [-2949120000, 2949030000], which does not fit int32{{$}}

// -----

// A quantized constant pad holds the zero point (real 0).
func.func @pad_quantized_value(%x: tensor<1x4x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.pad %x {pads = array<i64: 0, 1, 0, 1>, mode = "constant", value = 0.000000e+00 : f32} : (tensor<1x4x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x6x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.pad: a quantized tensor pads with its zero point -3, got value 0.0{{$}}

// -----

// Only nearest resize moves quantized values; linear resize needs floats.
func.func @resize_linear_quantized(%x: tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.resize %x {mode = "linear", coordinate_mode = "half_pixel", nearest_mode = "floor"} : (tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x8x8x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.resize: expects a float tensor, got tensor<1x4x4x2x!sima.quant<i8, 0.05:-3>>{{$}}

// -----

// Concatenated inputs share one quantization (the quantize pass requantizes them first).
func.func @concat_quantizations_differ(%a: tensor<1x4x!sima.quant<i8, 0.05:-3>>, %b: tensor<1x4x!sima.quant<i8, 0.1:0>>) -> tensor<1x8x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.concat %a, %b {axis = 1 : i64} : (tensor<1x4x!sima.quant<i8, 0.05:-3>>, tensor<1x4x!sima.quant<i8, 0.1:0>>) -> tensor<1x8x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x8x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.concat: element types must match, got !sima.quant<i8, 0.05:-3>, !sima.quant<i8, 0.1:0>, !sima.quant<i8, 0.05:-3>{{$}}

// -----

// A data-movement op keeps the quantization.
func.func @reshape_changes_quantization(%x: tensor<2x2x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.1:0>> {
  %0 = sima.reshape %x : (tensor<2x2x!sima.quant<i8, 0.05:-3>>) -> tensor<4x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reshape: element types must match, got !sima.quant<i8, 0.05:-3>, !sima.quant<i8, 0.1:0>{{$}}
