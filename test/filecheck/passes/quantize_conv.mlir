// RUN: sima-opt %s --split-input-file -p quantize --print-weights | filecheck %s
// RUN: sima-opt %s --split-input-file -p 'quantize{requant-mode=tflite}' --print-weights | filecheck %s --check-prefix=TFLITE

// quantize: conv2d -> sima.qconv2d, constants from the planner
// (afe.ir.quantization_conv), quantize / dequantize at the float boundary.

// Worked by hand. Input step 1/128 (zero point 0), output step 1/64 (zero
// point -128: the relu range [0, 3.98]); weights [[0.5, -0.25], [1.0, 0.5]]
// (HWIO, channel last), bias [0.25, -0.5]; per-channel Sw = 127 / max|w| = 127, 254.
// sima: S = Sc / (Sa Sw) = 64 / (128 * 127) = 0.504 * 2**-7 (channel 1: 2**-8);
// the fraction 0.504 is folded into Sw = 64, 128, so the weights are
// [32, 64] and [-32, 64], the shift is 7 and 8, and the bias is
// round(b * Sa * Sw) + Zc * 2**shift = 2048 - 128 * 128 = -14336 and
// -8192 - 128 * 256 = -40960. The output zero point -128 stands for 0.0, the
// bottom of the int8 range, so saturation is the relu: no `relu` flag.
// tflite: weights at full scale [64, 127], [-64, 127]; bias 0.25 * 128 * 127 = 4064
// and -0.5 * 128 * 254 = -16256; multiplier round(0.504 * 128) = 65, shifts 14 and 15;
// the zero point is added after the shift.
func.func @relu_by_saturation(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 0.9921875 : f64}, quant = !sima.quant<i8, 0.0078125:0>} : tensor<1x2x2x2xf32>
  %w = sima.constant #sima.ndarray<"conv1.weight", tensor<1x1x2x2xf32>, "0x0000003F000080BE0000803F0000003F">
  %b = sima.constant #sima.ndarray<"conv1.bias", tensor<2xf32>, "0x0000803E000000BF">
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, node = "MLA_0/conv2d_add_relu_0", target = "MLA"} : (tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %0 {key = "MLA_0/conv2d_add_relu_0", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 3.984375 : f64}, quant = !sima.quant<i8, 0.015625:-128>} : tensor<1x2x2x2xf32>
  func.return %0 : tensor<1x2x2x2xf32>
}
// CHECK-LABEL: func.func @relu_by_saturation(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
// CHECK-NEXT:    %0 = sima.quantize %x {node = "MLA_0/conv2d_add_relu_0/quantize_in0", target = "MLA"} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.0078125:0>>
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"conv1.weight.q", tensor<1x1x2x2xi8>, "0x20E04040">
// CHECK-NEXT:    %2 = sima.constant #sima.ndarray<"conv1.bias.q", tensor<2xi32>, "0x00C8FFFF0060FFFF">
// CHECK-NEXT:    %3 = sima.qconv2d %0, %1, %2 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 7, 8>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_relu_0", target = "MLA"} : (tensor<1x2x2x2x!sima.quant<i8, 0.0078125:0>>, tensor<1x1x2x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
// CHECK-NEXT:    %4 = sima.dequantize %3 {node = "MLA_0/conv2d_add_relu_0/dequantize", target = "MLA"} : (tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:    func.return %4 : tensor<1x2x2x2xf32>
// CHECK-NEXT:  }
// TFLITE-LABEL: func.func @relu_by_saturation
// TFLITE:         sima.constant #sima.ndarray<"conv1.weight.q", tensor<1x1x2x2xi8>, "0x40C07F7F">
// TFLITE-NEXT:    sima.constant #sima.ndarray<"conv1.bias.q", tensor<2xi32>, "0xE00F000080C0FFFF">
// TFLITE-NEXT:    sima.qconv2d {{.*}} {{{.*}}requant_mode = "tflite", multiplier = array<i64: 65, 65>, shift = array<i64: 14, 15>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_relu_0", target = "MLA"} : {{.*}} -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>

// -----

// The same convolution with a symmetric output (zero point 0, [-1.98, 1.98]):
// saturation no longer clamps at 0, so the relu is the accumulator clamp
// (`relu`), and the bias has no output zero-point term: 2048 and -8192.
func.func @relu_flag(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 0.9921875 : f64}, quant = !sima.quant<i8, 0.0078125:0>} : tensor<1x2x2x2xf32>
  %w = sima.constant #sima.ndarray<"conv1.weight", tensor<1x1x2x2xf32>, "0x0000003F000080BE0000803F0000003F">
  %b = sima.constant #sima.ndarray<"conv1.bias", tensor<2xf32>, "0x0000803E000000BF">
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, node = "MLA_0/conv2d_add_relu_0", target = "MLA"} : (tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %0 {key = "MLA_0/conv2d_add_relu_0", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.984375 : f64}, quant = !sima.quant<i8, 0.015625:0>} : tensor<1x2x2x2xf32>
  func.return %0 : tensor<1x2x2x2xf32>
}
// CHECK-LABEL: func.func @relu_flag
// CHECK:         sima.constant #sima.ndarray<"conv1.weight.q", tensor<1x1x2x2xi8>, "0x20E04040">
// CHECK-NEXT:    sima.constant #sima.ndarray<"conv1.bias.q", tensor<2xi32>, "0x0008000000E0FFFF">
// CHECK-NEXT:    sima.qconv2d {{.*}} {{{.*}}requant_mode = "sima", shift = array<i64: 7, 8>, intrinsic_shift = array<i64: 0>, relu, node = "MLA_0/conv2d_add_relu_0", target = "MLA"} : {{.*}} -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:0>>
// TFLITE-LABEL: func.func @relu_flag
// TFLITE:         sima.qconv2d {{.*}}requant_mode = "tflite"{{.*}}, relu, node = "MLA_0/conv2d_add_relu_0"

// -----

// relu6 whose output range is [0, 6]: the int8 range stands for [0, 6]
// exactly, so saturation applies both bounds (no relu flag, no table).
// A clip [-1, 1] whose calibrated range is wider ([-2, 2]) is not applied by
// saturation: a lookup table clamps the result on its own quantization.
func.func @clips(%x: tensor<1x2x2x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 0.9921875 : f64}, quant = !sima.quant<i8, 0.0078125:0>} : tensor<1x2x2x2xf32>
  %w = sima.constant dense<[[[[0.5, -0.25], [1.0, 0.5]]]]> : tensor<1x1x2x2xf32>
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, act_max = 6.0 : f32, node = "MLA_0/conv2d_clip_0", target = "MLA"} : (tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %0 {key = "MLA_0/conv2d_clip_0", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 6.0 : f64}, quant = !sima.quant<i8, 0.023529411764705882:-128>} : tensor<1x2x2x2xf32>
  %1 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = -1.0 : f32, act_max = 1.0 : f32, node = "MLA_0/conv2d_clip_1", target = "MLA"} : (tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %1 {key = "MLA_0/conv2d_clip_1", method = {name = "min_max"}, stats = {kind = "min_max", min = -2.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.01568627450980392:0>} : tensor<1x2x2x2xf32>
  func.return %0, %1 : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>
}
// CHECK-LABEL: func.func @clips
// A convolution without bias gets a bias constant named after its weight.
// CHECK:         sima.constant #sima.ndarray<"MLA_0/conv2d_clip_0.weight.q", tensor<1x1x2x2xi8>
// CHECK-NEXT:    sima.constant #sima.ndarray<"MLA_0/conv2d_clip_0.weight.bias.q", tensor<2xi32>
// CHECK-NEXT:    %[[RELU6:.*]] = sima.qconv2d {{.*}}intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_clip_0", target = "MLA"} : {{.*}} -> tensor<1x2x2x2x!sima.quant<i8, 0.023529411764705882:-128>>
// CHECK-NEXT:    sima.dequantize %[[RELU6]]
// CHECK:         %[[CONV:.*]] = sima.qconv2d {{.*}}node = "MLA_0/conv2d_clip_1", target = "MLA"} : {{.*}} -> tensor<1x2x2x2x!sima.quant<i8, 0.01568627450980392:0>>
// CHECK-NEXT:    %[[TABLE:.*]] = sima.constant #sima.ndarray<"MLA_0/conv2d_clip_1.clamp.table", tensor<256xi8>
// CHECK-NEXT:    %[[CLAMP:.*]] = sima.lut %[[CONV]], %[[TABLE]] {node = "MLA_0/conv2d_clip_1/clamp", target = "MLA"} : (tensor<1x2x2x2x!sima.quant<i8, 0.01568627450980392:0>>, tensor<256xi8>) -> tensor<1x2x2x2x!sima.quant<i8, 0.01568627450980392:0>>
// CHECK-NEXT:    sima.dequantize %[[CLAMP]]

// -----

// A depthwise convolution (groups = channels, padded with the input zero
// point) and a dense layer; an int8 input, an int16 result of the dense.
func.func @depthwise_dense(%x: tensor<1x4x4x2xf32>) -> tensor<1x1x1x3xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.011764705882352941:-43>} : tensor<1x4x4x2xf32>
  %dw = sima.constant dense<[[[[1.0, -1.25]], [[0.1875, -0.3125]], [[-0.25, -0.125]]], [[[-1.0, -0.125]], [[-0.4375, 1.6875]], [[0.125, -0.1875]]], [[[-0.125, -0.3125]], [[-0.5, -0.1875]], [[0.25, -0.125]]]]> : tensor<3x3x1x2xf32>
  %db = sima.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %0 = sima.conv2d %x, %dw, %db {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 2 : i64, node = "MLA_0/conv2d_add_0", target = "MLA"} : (tensor<1x4x4x2xf32>, tensor<3x3x1x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %0 {key = "MLA_0/conv2d_add_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -4.0 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.03137254901960784:0>} : tensor<1x2x2x2xf32>
  %1 = sima.reshape %0 {node = "MLA_0/reshape_1", target = "MLA"} : (tensor<1x2x2x2xf32>) -> tensor<1x1x1x8xf32>
  sima.observe %1 {key = "MLA_0/reshape_1", method = {name = "min_max"}, stats = {kind = "min_max", min = -4.0 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.03137254901960784:0>} : tensor<1x1x1x8xf32>
  %w = sima.constant dense<0.25> : tensor<8x3xf32>
  %b = sima.constant dense<[0.5, -1.0, 0.25]> : tensor<3xf32>
  %2 = sima.dense %1, %w, %b {node = "MLA_0/dense_add_2", target = "MLA"} : (tensor<1x1x1x8xf32>, tensor<8x3xf32>, tensor<3xf32>) -> tensor<1x1x1x3xf32>
  sima.observe %2 {key = "MLA_0/dense_add_2", method = {name = "min_max"}, stats = {kind = "min_max", min = -8.0 : f64, max = 8.0 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 0.00024414435034714275:0>} : tensor<1x1x1x3xf32>
  func.return %2 : tensor<1x1x1x3xf32>
}
// CHECK-LABEL: func.func @depthwise_dense
// CHECK:         %[[X:.*]] = sima.quantize %x {{.*}} -> tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK:         %[[DW:.*]] = sima.qconv2d %[[X]], {{.*}} {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 2 : i64, requant_mode = "sima", shift = array<i64: {{[0-9]+}}, {{[0-9]+}}>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_0", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>, tensor<3x3x1x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.03137254901960784:0>>
// CHECK-NEXT:    %[[R:.*]] = sima.reshape %[[DW]] {node = "MLA_0/reshape_1", target = "MLA"} : (tensor<1x2x2x2x!sima.quant<i8, 0.03137254901960784:0>>) -> tensor<1x1x1x8x!sima.quant<i8, 0.03137254901960784:0>>
// CHECK-NEXT:    sima.constant #sima.ndarray<"MLA_0/dense_add_2.weight.q", tensor<8x3xi8>
// CHECK-NEXT:    sima.constant #sima.ndarray<"MLA_0/dense_add_2.bias.q", tensor<3xi32>
// CHECK-NEXT:    %[[D:.*]] = sima.qdense %[[R]], {{.*}} {requant_mode = "sima", shift = array<i64: {{[0-9]+}}, {{[0-9]+}}, {{[0-9]+}}>, intrinsic_shift = array<i64: 0>, node = "MLA_0/dense_add_2", target = "MLA"} : (tensor<1x1x1x8x!sima.quant<i8, 0.03137254901960784:0>>, tensor<8x3xi8>, tensor<3xi32>) -> tensor<1x1x1x3x!sima.quant<i16, 0.00024414435034714275:0>>
// CHECK-NEXT:    sima.dequantize %[[D]]
// TFLITE-LABEL: func.func @depthwise_dense
// TFLITE:         sima.qconv2d {{.*}}groups = 2 : i64, requant_mode = "tflite", multiplier = array<i64: {{[0-9]+}}, {{[0-9]+}}>
// TFLITE:         sima.qdense {{.*}}requant_mode = "tflite", multiplier = array<i64: {{[0-9]+}}, {{[0-9]+}}, {{[0-9]+}}>
