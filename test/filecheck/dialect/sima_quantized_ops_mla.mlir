// Round trip (custom -> generic -> custom) of the quantized softmax, layer norm,
// transposed convolution, linear resize and per-channel prelu: int8 and int16
// softmax (256 / 65536-entry i32 exp tables), int8 layer norm over the last axis
// and over the last two, qconv2d_transpose (sima per tensor with relu; tflite per
// channel from an int16 input), qresize_linear (int8 Q11, int16 Q15), qprelu (one
// negative multiplier, or one per channel, signed). The second RUN line checks the
// generic form of every op.
// RUN: SIMA_ROUNDTRIP | filecheck %s
// RUN: sima-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

func.func @softmax(%x: tensor<1x40x40x!sima.quant<i8, 0.1:3>>, %t: tensor<256xi32>, %h: tensor<2x5x!sima.quant<i16, 0.001:0>>, %t16: tensor<65536xi32>) -> tensor<1x40x40x!sima.quant<i8, 0.00392156862745098:-128>> {
  %0 = sima.qsoftmax %x, %t {axis = -1 : i64, multiplier = 64 : i64, shift = 13 : i64, node = "MLA_0/softmax_1"} : (tensor<1x40x40x!sima.quant<i8, 0.1:3>>, tensor<256xi32>) -> tensor<1x40x40x!sima.quant<i8, 0.00392156862745098:-128>>
  %1 = sima.qsoftmax %h, %t16 {axis = 0 : i64, multiplier = 64 : i64, shift = 5 : i64} : (tensor<2x5x!sima.quant<i16, 0.001:0>>, tensor<65536xi32>) -> tensor<2x5x!sima.quant<i16, 1.52587890625e-05:-32768>>
  func.return %0 : tensor<1x40x40x!sima.quant<i8, 0.00392156862745098:-128>>
}
// CHECK-LABEL: func.func @softmax
// CHECK-NEXT:  %0 = sima.qsoftmax %x, %t {axis = -1 : i64, multiplier = 64 : i64, shift = 13 : i64, node = "MLA_0/softmax_1"} : (tensor<1x40x40x!sima.quant<i8, 0.1:3>>, tensor<256xi32>) -> tensor<1x40x40x!sima.quant<i8, 0.00392156862745098:-128>>
// CHECK-NEXT:  %1 = sima.qsoftmax %h, %t16 {axis = 0 : i64, multiplier = 64 : i64, shift = 5 : i64} : (tensor<2x5x!sima.quant<i16, 0.001:0>>, tensor<65536xi32>) -> tensor<2x5x!sima.quant<i16, 1.52587890625e-05:-32768>>
// GENERIC-LABEL: "func.func"() <{sym_name = "softmax"
// GENERIC:  %0 = "sima.qsoftmax"(%x, %t) <{axis = -1 : i64, multiplier = 64 : i64, shift = 13 : i64, node = "MLA_0/softmax_1"}> : (tensor<1x40x40x!sima.quant<i8, 0.1:3>>, tensor<256xi32>) -> tensor<1x40x40x!sima.quant<i8, 0.00392156862745098:-128>>
// GENERIC-NEXT:  %1 = "sima.qsoftmax"(%h, %t16) <{axis = 0 : i64, multiplier = 64 : i64, shift = 5 : i64}> : (tensor<2x5x!sima.quant<i16, 0.001:0>>, tensor<65536xi32>) -> tensor<2x5x!sima.quant<i16, 1.52587890625e-05:-32768>>

func.func @layer_norm(%x: tensor<1x40x120x!sima.quant<i8, 0.05:-3>>, %g: tensor<120xi16>, %b: tensor<120xi32>, %g2: tensor<30x120xi16>, %b2: tensor<30x120xi32>, %y: tensor<1x30x120x!sima.quant<i8, 0.05:-3>>) -> tensor<1x40x120x!sima.quant<i8, 0.03:1>> {
  %0 = sima.qlayer_norm %x, %g, %b {axis = -1 : i64, epsilon = 58 : i64, shift = 20 : i64, node = "MLA_0/layer_norm_0"} : (tensor<1x40x120x!sima.quant<i8, 0.05:-3>>, tensor<120xi16>, tensor<120xi32>) -> tensor<1x40x120x!sima.quant<i8, 0.03:1>>
  %1 = sima.qlayer_norm %y, %g2, %b2 {axis = 1 : i64, epsilon = 1 : i64, shift = 0 : i64} : (tensor<1x30x120x!sima.quant<i8, 0.05:-3>>, tensor<30x120xi16>, tensor<30x120xi32>) -> tensor<1x30x120x!sima.quant<i8, 0.03:1>>
  func.return %0 : tensor<1x40x120x!sima.quant<i8, 0.03:1>>
}
// CHECK-LABEL: func.func @layer_norm
// CHECK-NEXT:  %0 = sima.qlayer_norm %x, %g, %b {axis = -1 : i64, epsilon = 58 : i64, shift = 20 : i64, node = "MLA_0/layer_norm_0"} : (tensor<1x40x120x!sima.quant<i8, 0.05:-3>>, tensor<120xi16>, tensor<120xi32>) -> tensor<1x40x120x!sima.quant<i8, 0.03:1>>
// CHECK-NEXT:  %1 = sima.qlayer_norm %y, %g2, %b2 {axis = 1 : i64, epsilon = 1 : i64, shift = 0 : i64} : (tensor<1x30x120x!sima.quant<i8, 0.05:-3>>, tensor<30x120xi16>, tensor<30x120xi32>) -> tensor<1x30x120x!sima.quant<i8, 0.03:1>>
// GENERIC-LABEL: "func.func"() <{sym_name = "layer_norm"
// GENERIC:  %0 = "sima.qlayer_norm"(%x, %g, %b) <{axis = -1 : i64, epsilon = 58 : i64, shift = 20 : i64, node = "MLA_0/layer_norm_0"}> : (tensor<1x40x120x!sima.quant<i8, 0.05:-3>>, tensor<120xi16>, tensor<120xi32>) -> tensor<1x40x120x!sima.quant<i8, 0.03:1>>
// GENERIC-NEXT:  %1 = "sima.qlayer_norm"(%y, %g2, %b2) <{axis = 1 : i64, epsilon = 1 : i64, shift = 0 : i64}> : (tensor<1x30x120x!sima.quant<i8, 0.05:-3>>, tensor<30x120xi16>, tensor<30x120xi32>) -> tensor<1x30x120x!sima.quant<i8, 0.03:1>>

func.func @conv2d_transpose(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, %x16: tensor<1x4x4x8x!sima.quant<i16, 0.0002:-100>>, %w: tensor<2x2x8x4xi8>, %b: tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d_transpose %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>, relu, node = "MLA_0/conv2d_transpose_0"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, tensor<2x2x8x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i8, 0.1:0>>
  %1 = sima.qconv2d_transpose %x16, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", shift = array<i64: 20, 21, 20, 22>, multiplier = array<i64: 100, 90, 80, 70>, intrinsic_shift = array<i64: 1, 8, 1, 1>} : (tensor<1x4x4x8x!sima.quant<i16, 0.0002:-100>>, tensor<2x2x8x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i16, 0.001:5>>
  func.return %0 : tensor<1x8x8x4x!sima.quant<i8, 0.1:0>>
}
// CHECK-LABEL: func.func @conv2d_transpose
// CHECK-NEXT:  %0 = sima.qconv2d_transpose %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>, relu, node = "MLA_0/conv2d_transpose_0"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, tensor<2x2x8x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i8, 0.1:0>>
// CHECK-NEXT:  %1 = sima.qconv2d_transpose %x16, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", shift = array<i64: 20, 21, 20, 22>, multiplier = array<i64: 100, 90, 80, 70>, intrinsic_shift = array<i64: 1, 8, 1, 1>} : (tensor<1x4x4x8x!sima.quant<i16, 0.0002:-100>>, tensor<2x2x8x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i16, 0.001:5>>
// GENERIC-LABEL: "func.func"() <{sym_name = "conv2d_transpose"
// GENERIC:  %0 = "sima.qconv2d_transpose"(%x, %w, %b) <{strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>, relu, node = "MLA_0/conv2d_transpose_0"}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, tensor<2x2x8x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i8, 0.1:0>>
// GENERIC-NEXT:  %1 = "sima.qconv2d_transpose"(%x16, %w, %b) <{strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", shift = array<i64: 20, 21, 20, 22>, multiplier = array<i64: 100, 90, 80, 70>, intrinsic_shift = array<i64: 1, 8, 1, 1>}> : (tensor<1x4x4x8x!sima.quant<i16, 0.0002:-100>>, tensor<2x2x8x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i16, 0.001:5>>

func.func @resize_and_prelu(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, %h: tensor<1x3x5x2x!sima.quant<i16, 0.001:7>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qresize_linear %x {coordinate_mode = "half_pixel", weight_bits = 11 : i64, node = "MLA_0/resize_0"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
  %1 = sima.qresize_linear %h {coordinate_mode = "align_corners", weight_bits = 15 : i64} : (tensor<1x3x5x2x!sima.quant<i16, 0.001:7>>) -> tensor<1x7x2x2x!sima.quant<i16, 0.001:7>>
  %2 = sima.qprelu %x {multiplier = 102 : i64, shift = 6 : i64, neg_multiplier = array<i64: 102>, neg_shift = array<i64: 9>, node = "MLA_0/prelu_1"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.03:-77>>
  %3 = sima.qprelu %h {multiplier = 64 : i64, shift = 6 : i64, neg_multiplier = array<i64: -80, 0>, neg_shift = array<i64: 9, 0>} : (tensor<1x3x5x2x!sima.quant<i16, 0.001:7>>) -> tensor<1x3x5x2x!sima.quant<i16, 0.001:7>>
  func.return %0 : tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
}
// CHECK-LABEL: func.func @resize_and_prelu
// CHECK-NEXT:  %0 = sima.qresize_linear %x {coordinate_mode = "half_pixel", weight_bits = 11 : i64, node = "MLA_0/resize_0"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %1 = sima.qresize_linear %h {coordinate_mode = "align_corners", weight_bits = 15 : i64} : (tensor<1x3x5x2x!sima.quant<i16, 0.001:7>>) -> tensor<1x7x2x2x!sima.quant<i16, 0.001:7>>
// CHECK-NEXT:  %2 = sima.qprelu %x {multiplier = 102 : i64, shift = 6 : i64, neg_multiplier = array<i64: 102>, neg_shift = array<i64: 9>, node = "MLA_0/prelu_1"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.03:-77>>
// CHECK-NEXT:  %3 = sima.qprelu %h {multiplier = 64 : i64, shift = 6 : i64, neg_multiplier = array<i64: -80, 0>, neg_shift = array<i64: 9, 0>} : (tensor<1x3x5x2x!sima.quant<i16, 0.001:7>>) -> tensor<1x3x5x2x!sima.quant<i16, 0.001:7>>
// GENERIC-LABEL: "func.func"() <{sym_name = "resize_and_prelu"
// GENERIC:  %0 = "sima.qresize_linear"(%x) <{coordinate_mode = "half_pixel", weight_bits = 11 : i64, node = "MLA_0/resize_0"}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %1 = "sima.qresize_linear"(%h) <{coordinate_mode = "align_corners", weight_bits = 15 : i64}> : (tensor<1x3x5x2x!sima.quant<i16, 0.001:7>>) -> tensor<1x7x2x2x!sima.quant<i16, 0.001:7>>
// GENERIC-NEXT:  %2 = "sima.qprelu"(%x) <{multiplier = 102 : i64, shift = 6 : i64, neg_multiplier = array<i64: 102>, neg_shift = array<i64: 9>, node = "MLA_0/prelu_1"}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.03:-77>>
// GENERIC-NEXT:  %3 = "sima.qprelu"(%h) <{multiplier = 64 : i64, shift = 6 : i64, neg_multiplier = array<i64: -80, 0>, neg_shift = array<i64: 9, 0>}> : (tensor<1x3x5x2x!sima.quant<i16, 0.001:7>>) -> tensor<1x3x5x2x!sima.quant<i16, 0.001:7>>
