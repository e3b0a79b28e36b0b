// RUN: sima-opt %s --split-input-file -p bias-correction --print-weights | filecheck %s

// bias-correction: a recorded `bias_correction` (real units, one value per
// output channel) is added to the int32 bias in the accumulator's unit,
// step_out * 2**-shift (sima) or step_out * multiplier * 2**-shift (tflite).

// sima: output step 1/64, shifts 7 and 8, so one accumulator unit is
// 2**-13 = 1.2207e-4 (channel 0) and 2**-14 (channel 1). Corrections 0.1 and
// -0.2 are 819.2 -> 819 and -3276.8 -> -3277 units (round half away from 0):
// the bias [-14336, -40960] (which holds the output zero point -128 * 2**shift)
// becomes [-13517, -44237]. The attribute is gone afterwards.
func.func @sima(%x: tensor<1x2x2x2x!sima.quant<i8, 0.0078125:0>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>> {
  %w = sima.constant #sima.ndarray<"conv1.weight.q", tensor<1x1x2x2xi8>, "0x20E04040">
  %b = sima.constant #sima.ndarray<"conv1.bias.q", tensor<2xi32>, "0x00C8FFFF0060FFFF">
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 7, 8>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_relu_0", target = "MLA", bias_correction = array<f64: 0.1, -0.2>} : (tensor<1x2x2x2x!sima.quant<i8, 0.0078125:0>>, tensor<1x1x2x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
}
// CHECK-LABEL: func.func @sima
// CHECK-NEXT:    %w = sima.constant #sima.ndarray<"conv1.weight.q", tensor<1x1x2x2xi8>, "0x20E04040">
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"conv1.bias.q.bc", tensor<2xi32>, "0x33CBFFFF3353FFFF">
// CHECK-NEXT:    %1 = sima.qconv2d %x, %w, %0 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 7, 8>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_relu_0", target = "MLA"} : (tensor<1x2x2x2x!sima.quant<i8, 0.0078125:0>>, tensor<1x1x2x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
// CHECK-NEXT:    func.return %1

// -----

// tflite: multiplier 65, shifts 14 and 15: units 0.015625 * 65 * 2**-14 and
// 2**-15. Corrections 0.01 and -0.02 are 161.3 -> 161 and -645.3 -> -645
// units: [4064, -16256] becomes [4225, -16901]. An op without the attribute
// (the second) keeps its bias.
func.func @tflite(%x: tensor<1x2x2x2x!sima.quant<i8, 0.0078125:0>>) -> (tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>, tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>) {
  %w = sima.constant #sima.ndarray<"conv1.weight.q", tensor<1x1x2x2xi8>, "0x40C07F7F">
  %b = sima.constant #sima.ndarray<"conv1.bias.q", tensor<2xi32>, "0xE00F000080C0FFFF">
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", multiplier = array<i64: 65, 65>, shift = array<i64: 14, 15>, intrinsic_shift = array<i64: 0>, bias_correction = array<f64: 0.01, -0.02>} : (tensor<1x2x2x2x!sima.quant<i8, 0.0078125:0>>, tensor<1x1x2x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
  %1 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", multiplier = array<i64: 65, 65>, shift = array<i64: 14, 15>, intrinsic_shift = array<i64: 0>} : (tensor<1x2x2x2x!sima.quant<i8, 0.0078125:0>>, tensor<1x1x2x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
  func.return %0, %1 : tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>, tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
}
// CHECK-LABEL: func.func @tflite
// CHECK-NEXT:    %w = sima.constant #sima.ndarray<"conv1.weight.q", tensor<1x1x2x2xi8>, "0x40C07F7F">
// CHECK-NEXT:    %b = sima.constant #sima.ndarray<"conv1.bias.q", tensor<2xi32>, "0xE00F000080C0FFFF">
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"conv1.bias.q.bc", tensor<2xi32>, "0x81100000FBBDFFFF">
// CHECK-NEXT:    %1 = sima.qconv2d %x, %w, %0 {{{.*}}requant_mode = "tflite", multiplier = array<i64: 65, 65>, shift = array<i64: 14, 15>, intrinsic_shift = array<i64: 0>} : {{.*}}
// CHECK-NEXT:    %2 = sima.qconv2d %x, %w, %b {{{.*}}requant_mode = "tflite", multiplier = array<i64: 65, 65>, shift = array<i64: 14, 15>, intrinsic_shift = array<i64: 0>} : {{.*}}
// CHECK-NOT:     bias_correction

// -----

// The accumulator bound: with weight 127 and int8 inputs |P| <= 127 * 128 =
// 16256, so |B| may not exceed 2**31 - 1 - 16256 = 2147467391. A correction
// far beyond it is limited to it (either sign; a warning names the node).
// int16 input with intrinsic shift 8 (the dense): |P| <= ceil(127 * 2**15 / 2**8) = 16256 as well.
func.func @limited(%x: tensor<1x1x1x1x!sima.quant<i8, 1.0:0>>, %y: tensor<1x1x!sima.quant<i16, 1.0:0>>) -> (tensor<1x1x1x1x!sima.quant<i8, 1.0:0>>, tensor<1x1x!sima.quant<i8, 1.0:0>>) {
  %w = sima.constant #sima.ndarray<"w.q", tensor<1x1x1x1xi8>, "0x7F">
  %b = sima.constant #sima.ndarray<"b.q", tensor<1xi32>, "0x64000000">
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 0>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_0", bias_correction = array<f64: 1.0e12>} : (tensor<1x1x1x1x!sima.quant<i8, 1.0:0>>, tensor<1x1x1x1xi8>, tensor<1xi32>) -> tensor<1x1x1x1x!sima.quant<i8, 1.0:0>>
  %dw = sima.constant #sima.ndarray<"dw.q", tensor<1x1xi8>, "0x7F">
  %db = sima.constant #sima.ndarray<"db.q", tensor<1xi32>, "0x64000000">
  %1 = sima.qdense %y, %dw, %db {requant_mode = "sima", shift = array<i64: 0>, intrinsic_shift = array<i64: 8>, node = "MLA_0/dense_add_1", bias_correction = array<f64: -1.0e12>} : (tensor<1x1x!sima.quant<i16, 1.0:0>>, tensor<1x1xi8>, tensor<1xi32>) -> tensor<1x1x!sima.quant<i8, 1.0:0>>
  func.return %0, %1 : tensor<1x1x1x1x!sima.quant<i8, 1.0:0>>, tensor<1x1x!sima.quant<i8, 1.0:0>>
}
// CHECK-LABEL: func.func @limited
// CHECK:         sima.constant #sima.ndarray<"b.q.bc", tensor<1xi32>, "0x7FC0FF7F">
// CHECK-NEXT:    sima.qconv2d %x, %w, %0 {{{.*}}shift = array<i64: 0>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_0"} : {{.*}}
// CHECK:         sima.constant #sima.ndarray<"db.q.bc", tensor<1xi32>, "0x813F0080">
// CHECK-NEXT:    sima.qdense %y, %dw, %2 {requant_mode = "sima", shift = array<i64: 0>, intrinsic_shift = array<i64: 8>, node = "MLA_0/dense_add_1"} : {{.*}}
