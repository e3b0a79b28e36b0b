// Invalid IR for the quantized softmax, layer norm, transposed convolution,
// linear resize and per-channel prelu (sima_dialect/quantized_ops.py): every
// verifier message of these ops, one case per chunk of --split-input-file.
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// sima.qsoftmax reads a quantized tensor.
func.func @softmax_float(%x: tensor<2x4xf32>, %t: tensor<256xi32>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>> {
  %0 = sima.qsoftmax %x, %t {axis = -1 : i64, multiplier = 64 : i64, shift = 13 : i64} : (tensor<2x4xf32>, tensor<256xi32>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
}
// CHECK: {{^}}sima.qsoftmax: input must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<2x4xf32>{{$}}

// -----

// sima.qsoftmax keeps the shape.
func.func @softmax_shape(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>, %t: tensor<256xi32>) -> tensor<4x2x!sima.quant<i8, 0.00392156862745098:-128>> {
  %0 = sima.qsoftmax %x, %t {axis = -1 : i64, multiplier = 64 : i64, shift = 13 : i64} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>, tensor<256xi32>) -> tensor<4x2x!sima.quant<i8, 0.00392156862745098:-128>>
  func.return %0 : tensor<4x2x!sima.quant<i8, 0.00392156862745098:-128>>
}
// CHECK: {{^}}sima.qsoftmax: result shape [4, 2] does not match the expected [2, 4]{{$}}

// -----

// sima.qsoftmax's axis must exist.
func.func @softmax_axis(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>, %t: tensor<256xi32>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>> {
  %0 = sima.qsoftmax %x, %t {axis = 2 : i64, multiplier = 64 : i64, shift = 13 : i64} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>, tensor<256xi32>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
}
// CHECK: {{^}}sima.qsoftmax: axis 2 is out of range [-2, 1] for rank 2{{$}}

// -----

// The sum of 2**15 + 1 exponentials (each up to 2**23) could exceed 2**38.
func.func @softmax_long_axis(%x: tensor<32769x!sima.quant<i8, 0.05:-3>>, %t: tensor<256xi32>) -> tensor<32769x!sima.quant<i8, 0.00392156862745098:-128>> {
  %0 = sima.qsoftmax %x, %t {axis = 0 : i64, multiplier = 64 : i64, shift = 13 : i64} : (tensor<32769x!sima.quant<i8, 0.05:-3>>, tensor<256xi32>) -> tensor<32769x!sima.quant<i8, 0.00392156862745098:-128>>
  func.return %0 : tensor<32769x!sima.quant<i8, 0.00392156862745098:-128>>
}
// CHECK: {{^}}sima.qsoftmax: the softmax axis holds 32769 values; the sum of exponentials fits 40 bits for at most 32768{{$}}

// -----

// An int16 input needs a table of 65536 differences.
func.func @softmax_table_size(%x: tensor<2x4x!sima.quant<i16, 0.001:0>>, %t: tensor<256xi32>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>> {
  %0 = sima.qsoftmax %x, %t {axis = -1 : i64, multiplier = 64 : i64, shift = 13 : i64} : (tensor<2x4x!sima.quant<i16, 0.001:0>>, tensor<256xi32>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
}
// CHECK: {{^}}sima.qsoftmax: table must have 65536 entries (one per i16 difference), got shape [256]{{$}}

// -----

// The exp table holds Q15 values up to 2**15: i32, not i16.
func.func @softmax_table_type(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>, %t: tensor<256xi16>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>> {
  %0 = sima.qsoftmax %x, %t {axis = -1 : i64, multiplier = 64 : i64, shift = 13 : i64} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>, tensor<256xi16>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
}
// CHECK: {{^}}sima.qsoftmax: table must be a tensor of i32, got tensor<256xi16>{{$}}

// -----

// sima.qsoftmax's multiplier is an 8-bit constant in [1, 127].
func.func @softmax_multiplier(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>, %t: tensor<256xi32>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>> {
  %0 = sima.qsoftmax %x, %t {axis = -1 : i64, multiplier = 128 : i64, shift = 13 : i64} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>, tensor<256xi32>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
}
// CHECK: {{^}}sima.qsoftmax: multiplier must be in [1, 127], got [128]{{$}}

// -----

// sima.qsoftmax's shift is in [0, 38].
func.func @softmax_shift(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>, %t: tensor<256xi32>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>> {
  %0 = sima.qsoftmax %x, %t {axis = -1 : i64, multiplier = 64 : i64, shift = 39 : i64} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>, tensor<256xi32>) -> tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.00392156862745098:-128>>
}
// CHECK: {{^}}sima.qsoftmax: shift must be in [0, 38], got [39]{{$}}

// -----

// sima.qlayer_norm runs at 8 bits only (seed 003).
func.func @layer_norm_int16(%x: tensor<2x8x!sima.quant<i16, 0.001:0>>, %g: tensor<8xi16>, %b: tensor<8xi32>) -> tensor<2x8x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qlayer_norm %x, %g, %b {axis = -1 : i64, epsilon = 1 : i64, shift = 20 : i64} : (tensor<2x8x!sima.quant<i16, 0.001:0>>, tensor<8xi16>, tensor<8xi32>) -> tensor<2x8x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x8x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qlayer_norm: input must be a tensor of !sima.quant<i8, ...>, got tensor<2x8x!sima.quant<i16, 0.001:0>>{{$}}

// -----

// Its result is int8 too.
func.func @layer_norm_int16_result(%x: tensor<2x8x!sima.quant<i8, 0.05:-3>>, %g: tensor<8xi16>, %b: tensor<8xi32>) -> tensor<2x8x!sima.quant<i16, 0.001:0>> {
  %0 = sima.qlayer_norm %x, %g, %b {axis = -1 : i64, epsilon = 1 : i64, shift = 20 : i64} : (tensor<2x8x!sima.quant<i8, 0.05:-3>>, tensor<8xi16>, tensor<8xi32>) -> tensor<2x8x!sima.quant<i16, 0.001:0>>
  func.return %0 : tensor<2x8x!sima.quant<i16, 0.001:0>>
}
// CHECK: {{^}}sima.qlayer_norm: result must be a tensor of !sima.quant<i8, ...>, got tensor<2x8x!sima.quant<i16, 0.001:0>>{{$}}

// -----

// N**2 * variance must fit the 64-bit register with the 24-bit root shift: at most 4096 values.
func.func @layer_norm_too_long(%x: tensor<2x4097x!sima.quant<i8, 0.05:-3>>, %g: tensor<4097xi16>, %b: tensor<4097xi32>) -> tensor<2x4097x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qlayer_norm %x, %g, %b {axis = -1 : i64, epsilon = 1 : i64, shift = 20 : i64} : (tensor<2x4097x!sima.quant<i8, 0.05:-3>>, tensor<4097xi16>, tensor<4097xi32>) -> tensor<2x4097x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x4097x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qlayer_norm: normalizes 4097 values; the variance fits its 64-bit register for at most 4096{{$}}

// -----

// gamma is i16.
func.func @layer_norm_gamma_type(%x: tensor<2x8x!sima.quant<i8, 0.05:-3>>, %g: tensor<8xi32>, %b: tensor<8xi32>) -> tensor<2x8x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qlayer_norm %x, %g, %b {axis = -1 : i64, epsilon = 1 : i64, shift = 20 : i64} : (tensor<2x8x!sima.quant<i8, 0.05:-3>>, tensor<8xi32>, tensor<8xi32>) -> tensor<2x8x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x8x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qlayer_norm: gamma must be a tensor of i16, got tensor<8xi32>{{$}}

// -----

// beta has the normalized shape (the pass broadcasts it).
func.func @layer_norm_beta_shape(%x: tensor<2x8x!sima.quant<i8, 0.05:-3>>, %g: tensor<8xi16>, %b: tensor<1xi32>) -> tensor<2x8x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qlayer_norm %x, %g, %b {axis = -1 : i64, epsilon = 1 : i64, shift = 20 : i64} : (tensor<2x8x!sima.quant<i8, 0.05:-3>>, tensor<8xi16>, tensor<1xi32>) -> tensor<2x8x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x8x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qlayer_norm: beta shape [1] must be the normalized shape [8]{{$}}

// -----

// epsilon is at least 1, so the variance is never 0.
func.func @layer_norm_epsilon(%x: tensor<2x8x!sima.quant<i8, 0.05:-3>>, %g: tensor<8xi16>, %b: tensor<8xi32>) -> tensor<2x8x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qlayer_norm %x, %g, %b {axis = -1 : i64, epsilon = 0 : i64, shift = 20 : i64} : (tensor<2x8x!sima.quant<i8, 0.05:-3>>, tensor<8xi16>, tensor<8xi32>) -> tensor<2x8x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x8x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qlayer_norm: epsilon must be in [1, 274877906944], got [0]{{$}}

// -----

// the shift is in [0, 38].
func.func @layer_norm_shift(%x: tensor<2x8x!sima.quant<i8, 0.05:-3>>, %g: tensor<8xi16>, %b: tensor<8xi32>) -> tensor<2x8x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qlayer_norm %x, %g, %b {axis = -1 : i64, epsilon = 1 : i64, shift = 39 : i64} : (tensor<2x8x!sima.quant<i8, 0.05:-3>>, tensor<8xi16>, tensor<8xi32>) -> tensor<2x8x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x8x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qlayer_norm: shift must be in [0, 38], got [39]{{$}}

// -----

// The layer norm keeps the shape.
func.func @layer_norm_shape(%x: tensor<2x8x!sima.quant<i8, 0.05:-3>>, %g: tensor<8xi16>, %b: tensor<8xi32>) -> tensor<8x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qlayer_norm %x, %g, %b {axis = -1 : i64, epsilon = 1 : i64, shift = 20 : i64} : (tensor<2x8x!sima.quant<i8, 0.05:-3>>, tensor<8xi16>, tensor<8xi32>) -> tensor<8x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<8x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qlayer_norm: result shape [8, 2] does not match the expected [2, 8]{{$}}

// -----

// A grouped transposed convolution has no integer form.
func.func @conv_transpose_groups(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, %w: tensor<2x2x8x2xi8>, %b: tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d_transpose %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 2 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, tensor<2x2x8x2xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x8x8x4x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^}}sima.qconv2d_transpose: groups must be 1 (grouped transposed convolutions have no integer form), got 2{{$}}

// -----

// The weight's input channels must be the input's.
func.func @conv_transpose_channels(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, %w: tensor<2x2x6x4xi8>, %b: tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d_transpose %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, tensor<2x2x6x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x8x8x4x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^}}sima.qconv2d_transpose: weight has 6 input channels, but the input has 8{{$}}

// -----

// The result is (H - 1) * stride + K high.
func.func @conv_transpose_shape(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, %w: tensor<2x2x8x4xi8>, %b: tensor<4xi32>) -> tensor<1x7x7x4x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d_transpose %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, tensor<2x2x8x4xi8>, tensor<4xi32>) -> tensor<1x7x7x4x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x7x7x4x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^}}sima.qconv2d_transpose: result shape [1, 7, 7, 4] does not match the expected [1, 8, 8, 4]{{$}}

// -----

// Its requantization is checked as qconv2d's: sima mode has no multiplier.
func.func @conv_transpose_requant(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, %w: tensor<2x2x8x4xi8>, %b: tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d_transpose %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, multiplier = array<i64: 64>, intrinsic_shift = array<i64: 0>} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, tensor<2x2x8x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x8x8x4x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^}}sima.qconv2d_transpose: sima requantization has no multiplier (the scale is folded into the weights){{$}}

// -----

// sima.qresize_linear takes the coordinate modes of sima.resize.
func.func @resize_mode(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qresize_linear %x {coordinate_mode = "tf_crop_and_resize", weight_bits = 11 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qresize_linear: coordinate_mode must be one of 'half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', got 'tf_crop_and_resize'{{$}}

// -----

// It resizes NHWC tensors.
func.func @resize_rank(%x: tensor<4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<8x8x8x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qresize_linear %x {coordinate_mode = "half_pixel", weight_bits = 11 : i64} : (tensor<4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<8x8x8x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<8x8x8x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qresize_linear: input and result must be rank 4 (NHWC){{$}}

// -----

// It changes only H and W.
func.func @resize_channels(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qresize_linear %x {coordinate_mode = "half_pixel", weight_bits = 11 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qresize_linear: resize changes only H and W; got [1, 4, 4, 8] -> [1, 8, 8, 4]{{$}}

// -----

// The blend keeps the input's quantization.
func.func @resize_requantizes(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qresize_linear %x {coordinate_mode = "half_pixel", weight_bits = 11 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.1:0>>
  func.return %0 : tensor<1x8x8x8x!sima.quant<i8, 0.1:0>>
}
// CHECK: {{^}}sima.qresize_linear: result must have the input's quantization !sima.quant<i8, 0.05:-3>, got !sima.quant<i8, 0.1:0>{{$}}

// -----

// An int16 blend with Q16 weights can reach 2**31: at most Q15.
func.func @resize_weight_bits(%x: tensor<1x4x4x8x!sima.quant<i16, 0.001:0>>) -> tensor<1x8x8x8x!sima.quant<i16, 0.001:0>> {
  %0 = sima.qresize_linear %x {coordinate_mode = "half_pixel", weight_bits = 16 : i64} : (tensor<1x4x4x8x!sima.quant<i16, 0.001:0>>) -> tensor<1x8x8x8x!sima.quant<i16, 0.001:0>>
  func.return %0 : tensor<1x8x8x8x!sima.quant<i16, 0.001:0>>
}
// CHECK: {{^}}sima.qresize_linear: weight_bits must be in [0, 15], got [16]{{$}}

// -----

// A float input has no integer resize.
func.func @resize_float(%x: tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32> {
  %0 = sima.qresize_linear %x {coordinate_mode = "half_pixel", weight_bits = 11 : i64} : (tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32>
  func.return %0 : tensor<1x8x8x8xf32>
}
// CHECK: {{^}}sima.qresize_linear: input must be a tensor of !sima.quant<i8 or i16, ...>, got tensor<1x4x4x8xf32>{{$}}

// -----

// The positive side's multiplier is in [1, 127].
func.func @prelu_multiplier(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qprelu %x {multiplier = 0 : i64, shift = 6 : i64, neg_multiplier = array<i64: 10>, neg_shift = array<i64: 9>} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qprelu: multiplier must be in [1, 127], got [0]{{$}}

// -----

// The positive side's shift is in [0, 38].
func.func @prelu_shift(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qprelu %x {multiplier = 64 : i64, shift = 39 : i64, neg_multiplier = array<i64: 10>, neg_shift = array<i64: 9>} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qprelu: shift must be in [0, 38], got [39]{{$}}

// -----

// The negative side's multipliers are signed 8-bit: [-127, 127].
func.func @prelu_neg_multiplier(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qprelu %x {multiplier = 64 : i64, shift = 6 : i64, neg_multiplier = array<i64: -128>, neg_shift = array<i64: 9>} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qprelu: neg_multiplier must be in [-127, 127], got [-128]{{$}}

// -----

// The negative side's shifts are in [0, 38].
func.func @prelu_neg_shift(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qprelu %x {multiplier = 64 : i64, shift = 6 : i64, neg_multiplier = array<i64: 10>, neg_shift = array<i64: -1>} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qprelu: neg_shift must be in [0, 38], got [-1]{{$}}

// -----

// One negative multiplier per shift.
func.func @prelu_lengths(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qprelu %x {multiplier = 64 : i64, shift = 6 : i64, neg_multiplier = array<i64: 10, 20>, neg_shift = array<i64: 9>} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qprelu: neg_multiplier and neg_shift must have the same length, got 2 and 1{{$}}

// -----

// One value, or one per channel (4).
func.func @prelu_channels(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qprelu %x {multiplier = 64 : i64, shift = 6 : i64, neg_multiplier = array<i64: 1, 2, 3>, neg_shift = array<i64: 9, 9, 9>} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<2x4x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<2x4x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qprelu: neg_multiplier must hold 1 value or 4 (one per output channel), got 3{{$}}

// -----

// A scalar has no channel axis.
func.func @prelu_scalar(%x: tensor<!sima.quant<i8, 0.05:-3>>) -> tensor<!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qprelu %x {multiplier = 64 : i64, shift = 6 : i64, neg_multiplier = array<i64: 10>, neg_shift = array<i64: 9>} : (tensor<!sima.quant<i8, 0.05:-3>>) -> tensor<!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qprelu: input must have a channel axis (rank >= 1){{$}}

// -----

// The result keeps the shape.
func.func @prelu_shape(%x: tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x2x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qprelu %x {multiplier = 64 : i64, shift = 6 : i64, neg_multiplier = array<i64: 10>, neg_shift = array<i64: 9>} : (tensor<2x4x!sima.quant<i8, 0.05:-3>>) -> tensor<4x2x!sima.quant<i8, 0.05:-3>>
  func.return %0 : tensor<4x2x!sima.quant<i8, 0.05:-3>>
}
// CHECK: {{^}}sima.qprelu: result shape [4, 2] does not match the expected [2, 4]{{$}}
