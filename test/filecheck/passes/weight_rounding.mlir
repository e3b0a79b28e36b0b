// RUN: sima-opt %s --split-input-file -p weight-rounding --print-weights | filecheck %s
// RUN: SIMA_ROUNDTRIP | filecheck %s --check-prefix=ROUNDTRIP

// weight-rounding: the recorded `rounded_weight` replaces the int8 weights;
// the bias keeps the input zero-point correction right for the new weights:
// B += P0(old) - P0(new), P0 = z_in * sum Qw (int8 input, h = 0).

// Input zero point 10. Channel 0 (HWIO weight [0, 0, :, 0]) goes from
// (32, 64) to (33, 64): P0 960 -> 970, so its bias -14336 becomes -14346;
// channel 1 (-32, 64) is unchanged and keeps bias -40960. The attribute is gone.
func.func @zero_point(%x: tensor<1x2x2x2x!sima.quant<i8, 0.0078125:10>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>> {
  %w = sima.constant #sima.ndarray<"conv1.weight.q", tensor<1x1x2x2xi8>, "0x20E04040">
  %b = sima.constant #sima.ndarray<"conv1.bias.q", tensor<2xi32>, "0x00C8FFFF0060FFFF">
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 7, 8>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_0", rounded_weight = #sima.ndarray<"conv1.weight.q.wr", tensor<1x1x2x2xi8>, "0x21E04040">} : (tensor<1x2x2x2x!sima.quant<i8, 0.0078125:10>>, tensor<1x1x2x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
}
// CHECK-LABEL: func.func @zero_point
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"conv1.weight.q.wr", tensor<1x1x2x2xi8>, "0x21E04040">
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"conv1.bias.q.wr", tensor<2xi32>, "0xF6C7FFFF0060FFFF">
// CHECK-NEXT:    %2 = sima.qconv2d %x, %0, %1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 7, 8>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_0"} : {{.*}}
// CHECK-NEXT:    func.return %2
// ROUNDTRIP:     rounded_weight = #sima.ndarray<"conv1.weight.q.wr", tensor<1x1x2x2xi8>, "0x21E04040">

// -----

// The plan's bounds, per channel. Input zero point 0, int8: |P| <= 128 sum|Qw|.
// Channel 0: 100 -> 101 would make 128 * 101 + B exceed 2**31 - 1 (B = 2**31 - 1 - 12800):
// kept. Channel 1: 5 -> -128 is outside the symmetric int8 range [-127, 127]: kept.
// Channel 2: 7 -> 8 fits: taken. The bias does not change (zero point 0).
func.func @bounds(%x: tensor<1x1x1x1x!sima.quant<i8, 1.0:0>>) -> tensor<1x1x1x3x!sima.quant<i8, 1.0:0>> {
  %w = sima.constant #sima.ndarray<"w.q", tensor<1x1x1x3xi8>, "0x640507">
  %b = sima.constant #sima.ndarray<"b.q", tensor<3xi32>, "0xFFCDFF7F0000000000000000">
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 0>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_1", rounded_weight = #sima.ndarray<"w.q.wr", tensor<1x1x1x3xi8>, "0x658008">} : (tensor<1x1x1x1x!sima.quant<i8, 1.0:0>>, tensor<1x1x1x3xi8>, tensor<3xi32>) -> tensor<1x1x1x3x!sima.quant<i8, 1.0:0>>
  func.return %0 : tensor<1x1x1x3x!sima.quant<i8, 1.0:0>>
}
// CHECK-LABEL: func.func @bounds
// CHECK-NEXT:    %b = sima.constant #sima.ndarray<"b.q", tensor<3xi32>, "0xFFCDFF7F0000000000000000">
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"w.q.wr", tensor<1x1x1x3xi8>, "0x640508">
// CHECK-NEXT:    %1 = sima.qconv2d %x, %0, %b {{{.*}}node = "MLA_0/conv2d_add_1"} : {{.*}}
// CHECK-NOT:     rounded_weight

// -----

// int16 input (the int15 algorithm), zero point -3, intrinsic shift 8 on a dense:
// P0 = floor(-3 * sum Qw / 2**8): old (40, 50) -> floor(-270 / 256) = -2,
// new (41, 50) -> floor(-273 / 256) = -2: the bias stays 7; the weight changes.
func.func @int15(%y: tensor<1x2x!sima.quant<i16, 1.0:-3>>) -> tensor<1x1x!sima.quant<i8, 1.0:0>> {
  %w = sima.constant #sima.ndarray<"dw.q", tensor<2x1xi8>, "0x2832">
  %b = sima.constant #sima.ndarray<"db.q", tensor<1xi32>, "0x07000000">
  %0 = sima.qdense %y, %w, %b {requant_mode = "sima", shift = array<i64: 0>, intrinsic_shift = array<i64: 8>, node = "MLA_0/dense_add_2", rounded_weight = #sima.ndarray<"dw.q.wr", tensor<2x1xi8>, "0x2932">} : (tensor<1x2x!sima.quant<i16, 1.0:-3>>, tensor<2x1xi8>, tensor<1xi32>) -> tensor<1x1x!sima.quant<i8, 1.0:0>>
  func.return %0 : tensor<1x1x!sima.quant<i8, 1.0:0>>
}
// CHECK-LABEL: func.func @int15
// CHECK:         sima.constant #sima.ndarray<"dw.q.wr", tensor<2x1xi8>, "0x2932">
// CHECK-NOT:     db.q.wr
// CHECK:         sima.qdense

// -----

// `rounded_bias_delta` (compensating weights refit the bias): one real amount per
// output channel, added in accumulator units (here 1.0: output scale 1, shift 0),
// rounded half away from zero, with the weights. Channel 0 keeps its weight 1 and
// gains round(2.6) = 3; channel 1 goes 2 -> 3 (zero point 0: no zero-point move)
// and gains round(-1.4) = -1. Both attributes are gone.
func.func @bias_delta(%x: tensor<1x1x1x1x!sima.quant<i8, 1.0:0>>) -> tensor<1x1x1x2x!sima.quant<i8, 1.0:0>> {
  %w = sima.constant #sima.ndarray<"w.q", tensor<1x1x1x2xi8>, "0x0102">
  %b = sima.constant #sima.ndarray<"b.q", tensor<2xi32>, "0x0000000000000000">
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 0>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_3", rounded_weight = #sima.ndarray<"w.q.wr", tensor<1x1x1x2xi8>, "0x0103">, rounded_bias_delta = array<f64: 2.6, -1.4>} : (tensor<1x1x1x1x!sima.quant<i8, 1.0:0>>, tensor<1x1x1x2xi8>, tensor<2xi32>) -> tensor<1x1x1x2x!sima.quant<i8, 1.0:0>>
  func.return %0 : tensor<1x1x1x2x!sima.quant<i8, 1.0:0>>
}
// CHECK-LABEL: func.func @bias_delta
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"w.q.wr", tensor<1x1x1x2xi8>, "0x0103">
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"b.q.wr", tensor<2xi32>, "0x03000000FFFFFFFF">
// CHECK-NEXT:    %2 = sima.qconv2d %x, %0, %1 {{{.*}}node = "MLA_0/conv2d_add_3"} : {{.*}}
// CHECK-NOT:     rounded_bias_delta
// ROUNDTRIP:     rounded_bias_delta = array<f64: 2.600000e+00, -1.400000e+00>
