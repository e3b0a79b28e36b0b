// Round trip (custom -> generic -> custom) of the quantized ops: quantize,
// dequantize, requantize, qconv2d (sima / tflite, per tensor / per channel, int8 /
// int16 inputs, relu), qdense, qmatmul, qadd, qsub, qmul, lut (int8 and int16
// tables), qavg_pool (one divisor, and one per window size), qglobal_avg_pool;
// and the data-movement ops on quantized tensors. The second RUN line checks the
// generic form of every op.
// RUN: SIMA_ROUNDTRIP | filecheck %s
// RUN: sima-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// The float boundary and requantization (a left shift where the factor is >= 127.5).
func.func @boundary(%x: tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %0 = sima.quantize %x {node = "MLA_0/quantize_0", target = "MLA"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>
  %1 = sima.requantize %0 {multiplier = 80 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.08:5>>
  %2 = sima.requantize %0 {multiplier = 100 : i64, shift = 0 : i64, left_shift = 1 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i16, 0.00025:0>>
  %3 = sima.dequantize %2 : (tensor<1x4x4x8x!sima.quant<i16, 0.00025:0>>) -> tensor<1x4x4x8xf32>
  %4 = sima.quantize %x : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!sima.quant<i32, 1.0e-06:0>>
  %5 = sima.dequantize %4 : (tensor<1x4x4x8x!sima.quant<i32, 1.0e-06:0>>) -> tensor<1x4x4x8xf32>
  func.return %3 : tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @boundary(%x: tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32> {
// CHECK-NEXT:  %0 = sima.quantize %x {node = "MLA_0/quantize_0", target = "MLA"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %1 = sima.requantize %0 {multiplier = 80 : i64, shift = 7 : i64, left_shift = 0 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.08:5>>
// CHECK-NEXT:  %2 = sima.requantize %0 {multiplier = 100 : i64, shift = 0 : i64, left_shift = 1 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i16, 0.00025:0>>
// CHECK-NEXT:  %3 = sima.dequantize %2 : (tensor<1x4x4x8x!sima.quant<i16, 0.00025:0>>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %4 = sima.quantize %x : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!sima.quant<i32, 1.0e-06:0>>
// CHECK-NEXT:  %5 = sima.dequantize %4 : (tensor<1x4x4x8x!sima.quant<i32, 1.0e-06:0>>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  func.return %3 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "boundary"
// GENERIC:  %0 = "sima.quantize"(%x) <{node = "MLA_0/quantize_0", target = "MLA"}> : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %1 = "sima.requantize"(%0) <{multiplier = 80 : i64, shift = 7 : i64, left_shift = 0 : i64}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.08:5>>
// GENERIC-NEXT:  %2 = "sima.requantize"(%0) <{multiplier = 100 : i64, shift = 0 : i64, left_shift = 1 : i64}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i16, 0.00025:0>>
// GENERIC-NEXT:  %3 = "sima.dequantize"(%2) : (tensor<1x4x4x8x!sima.quant<i16, 0.00025:0>>) -> tensor<1x4x4x8xf32>
// GENERIC-NEXT:  %4 = "sima.quantize"(%x) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!sima.quant<i32, 1.0e-06:0>>
// GENERIC-NEXT:  %5 = "sima.dequantize"(%4) : (tensor<1x4x4x8x!sima.quant<i32, 1.0e-06:0>>) -> tensor<1x4x4x8xf32>

// qconv2d: sima per tensor with relu (result zero point 0), tflite per channel,
// int16 input (int15 intrinsic shifts per channel) to an int32 result, depthwise.
func.func @qconv2d(%x: tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, %x16: tensor<1x8x8x4x!sima.quant<i16, 0.0002:-100>>, %w: tensor<3x3x4x2xi8>, %dw: tensor<3x3x1x4xi8>, %b: tensor<2xi32>, %b4: tensor<4xi32>) -> tensor<1x8x8x2x!sima.quant<i8, 0.1:0>> {
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>, relu, node = "MLA_0/conv2d_add_relu_0"} : (tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x8x8x2x!sima.quant<i8, 0.1:0>>
  %1 = sima.qconv2d %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", shift = array<i64: 14, 15>, multiplier = array<i64: 101, 77>, intrinsic_shift = array<i64: 0>} : (tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x4x4x2x!sima.quant<i8, 0.2:-7>>
  %2 = sima.qconv2d %x16, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 0, 3>, intrinsic_shift = array<i64: 1, 8>} : (tensor<1x8x8x4x!sima.quant<i16, 0.0002:-100>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x4x4x2x!sima.quant<i32, 1.0e-05:0>>
  %3 = sima.qconv2d %x, %dw, %b4 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 4 : i64, requant_mode = "tflite", shift = array<i64: 20>, multiplier = array<i64: 64>, intrinsic_shift = array<i64: 0>, relu} : (tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x1x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i16, 0.001:12>>
  func.return %0 : tensor<1x8x8x2x!sima.quant<i8, 0.1:0>>
}
// CHECK-LABEL: func.func @qconv2d(%x: tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, %x16: tensor<1x8x8x4x!sima.quant<i16, 0.0002:-100>>, %w: tensor<3x3x4x2xi8>, %dw: tensor<3x3x1x4xi8>, %b: tensor<2xi32>, %b4: tensor<4xi32>) -> tensor<1x8x8x2x!sima.quant<i8, 0.1:0>> {
// CHECK-NEXT:  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>, relu, node = "MLA_0/conv2d_add_relu_0"} : (tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x8x8x2x!sima.quant<i8, 0.1:0>>
// CHECK-NEXT:  %1 = sima.qconv2d %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", shift = array<i64: 14, 15>, multiplier = array<i64: 101, 77>, intrinsic_shift = array<i64: 0>} : (tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x4x4x2x!sima.quant<i8, 0.2:-7>>
// CHECK-NEXT:  %2 = sima.qconv2d %x16, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 0, 3>, intrinsic_shift = array<i64: 1, 8>} : (tensor<1x8x8x4x!sima.quant<i16, 0.0002:-100>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x4x4x2x!sima.quant<i32, 1.0e-05:0>>
// CHECK-NEXT:  %3 = sima.qconv2d %x, %dw, %b4 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 4 : i64, requant_mode = "tflite", shift = array<i64: 20>, multiplier = array<i64: 64>, intrinsic_shift = array<i64: 0>, relu} : (tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x1x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i16, 0.001:12>>
// CHECK-NEXT:  func.return %0 : tensor<1x8x8x2x!sima.quant<i8, 0.1:0>>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "qconv2d"
// GENERIC:  %0 = "sima.qconv2d"(%x, %w, %b) <{strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 9>, intrinsic_shift = array<i64: 0>, relu, node = "MLA_0/conv2d_add_relu_0"}> : (tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x8x8x2x!sima.quant<i8, 0.1:0>>
// GENERIC-NEXT:  %1 = "sima.qconv2d"(%x, %w, %b) <{strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "tflite", shift = array<i64: 14, 15>, multiplier = array<i64: 101, 77>, intrinsic_shift = array<i64: 0>}> : (tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x4x4x2x!sima.quant<i8, 0.2:-7>>
// GENERIC-NEXT:  %2 = "sima.qconv2d"(%x16, %w, %b) <{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 0, 3>, intrinsic_shift = array<i64: 1, 8>}> : (tensor<1x8x8x4x!sima.quant<i16, 0.0002:-100>>, tensor<3x3x4x2xi8>, tensor<2xi32>) -> tensor<1x4x4x2x!sima.quant<i32, 1.0e-05:0>>
// GENERIC-NEXT:  %3 = "sima.qconv2d"(%x, %dw, %b4) <{strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 4 : i64, requant_mode = "tflite", shift = array<i64: 20>, multiplier = array<i64: 64>, intrinsic_shift = array<i64: 0>, relu}> : (tensor<1x8x8x4x!sima.quant<i8, 0.05:-3>>, tensor<3x3x1x4xi8>, tensor<4xi32>) -> tensor<1x8x8x4x!sima.quant<i16, 0.001:12>>

// qdense on a batch of tokens (int16 input, one intrinsic shift) and qmatmul of two activations.
func.func @qdense_qmatmul(%x: tensor<2x5x16x!sima.quant<i16, 0.001:0>>, %w: tensor<16x8xi8>, %b: tensor<8xi32>, %q: tensor<2x5x16x!sima.quant<i8, 0.03:4>>, %k: tensor<2x16x5x!sima.quant<i8, 0.04:-1>>) -> tensor<2x5x8x!sima.quant<i8, 0.05:2>> {
  %0 = sima.qdense %x, %w, %b {requant_mode = "tflite", shift = array<i64: 21>, multiplier = array<i64: 90>, intrinsic_shift = array<i64: 8>} : (tensor<2x5x16x!sima.quant<i16, 0.001:0>>, tensor<16x8xi8>, tensor<8xi32>) -> tensor<2x5x8x!sima.quant<i8, 0.05:2>>
  %1 = sima.qmatmul %q, %k {multiplier = 110 : i64, shift = 12 : i64, left_shift = 0 : i64} : (tensor<2x5x16x!sima.quant<i8, 0.03:4>>, tensor<2x16x5x!sima.quant<i8, 0.04:-1>>) -> tensor<2x5x5x!sima.quant<i16, 0.0001:0>>
  func.return %0 : tensor<2x5x8x!sima.quant<i8, 0.05:2>>
}
// CHECK-LABEL: func.func @qdense_qmatmul(%x: tensor<2x5x16x!sima.quant<i16, 0.001:0>>, %w: tensor<16x8xi8>, %b: tensor<8xi32>, %q: tensor<2x5x16x!sima.quant<i8, 0.03:4>>, %k: tensor<2x16x5x!sima.quant<i8, 0.04:-1>>) -> tensor<2x5x8x!sima.quant<i8, 0.05:2>> {
// CHECK-NEXT:  %0 = sima.qdense %x, %w, %b {requant_mode = "tflite", shift = array<i64: 21>, multiplier = array<i64: 90>, intrinsic_shift = array<i64: 8>} : (tensor<2x5x16x!sima.quant<i16, 0.001:0>>, tensor<16x8xi8>, tensor<8xi32>) -> tensor<2x5x8x!sima.quant<i8, 0.05:2>>
// CHECK-NEXT:  %1 = sima.qmatmul %q, %k {multiplier = 110 : i64, shift = 12 : i64, left_shift = 0 : i64} : (tensor<2x5x16x!sima.quant<i8, 0.03:4>>, tensor<2x16x5x!sima.quant<i8, 0.04:-1>>) -> tensor<2x5x5x!sima.quant<i16, 0.0001:0>>
// CHECK-NEXT:  func.return %0 : tensor<2x5x8x!sima.quant<i8, 0.05:2>>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "qdense_qmatmul"
// GENERIC:  %0 = "sima.qdense"(%x, %w, %b) <{requant_mode = "tflite", shift = array<i64: 21>, multiplier = array<i64: 90>, intrinsic_shift = array<i64: 8>}> : (tensor<2x5x16x!sima.quant<i16, 0.001:0>>, tensor<16x8xi8>, tensor<8xi32>) -> tensor<2x5x8x!sima.quant<i8, 0.05:2>>
// GENERIC-NEXT:  %1 = "sima.qmatmul"(%q, %k) <{multiplier = 110 : i64, shift = 12 : i64, left_shift = 0 : i64}> : (tensor<2x5x16x!sima.quant<i8, 0.03:4>>, tensor<2x16x5x!sima.quant<i8, 0.04:-1>>) -> tensor<2x5x5x!sima.quant<i16, 0.0001:0>>

// Elementwise: qadd / qsub with broadcasting, qmul, lookup tables of int8 and int16 inputs.
func.func @elementwise(%a: tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, %c: tensor<8x!sima.quant<i8, 0.02:10>>, %h: tensor<1x4x4x8x!sima.quant<i16, 0.0001:0>>, %t8: tensor<256xi8>, %t16: tensor<65536xi16>) -> tensor<1x4x4x8x!sima.quant<i8, 0.07:1>> {
  %0 = sima.qadd %a, %c {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 102 : i64, rhs_shift = 8 : i64, multiplier = 94 : i64, shift = 27 : i64, left_shift = 20 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<8x!sima.quant<i8, 0.02:10>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.07:1>>
  %1 = sima.qsub %a, %h {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 64 : i64, rhs_shift = 16 : i64, multiplier = 91 : i64, shift = 20 : i64, left_shift = 14 : i64, node = "MLA_1/sub_4"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<1x4x4x8x!sima.quant<i16, 0.0001:0>>) -> tensor<1x4x4x8x!sima.quant<i16, 0.0002:0>>
  %2 = sima.qmul %a, %c {multiplier = 73 : i64, shift = 13 : i64, left_shift = 0 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<8x!sima.quant<i8, 0.02:10>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.01:0>>
  %3 = sima.lut %a, %t8 {node = "MLA_1/sigmoid_5"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<256xi8>) -> tensor<1x4x4x8x!sima.quant<i8, 0.00392156862745098:-128>>
  %4 = sima.lut %h, %t16 : (tensor<1x4x4x8x!sima.quant<i16, 0.0001:0>>, tensor<65536xi16>) -> tensor<1x4x4x8x!sima.quant<i16, 3.0517578125e-05:0>>
  func.return %0 : tensor<1x4x4x8x!sima.quant<i8, 0.07:1>>
}
// CHECK-LABEL: func.func @elementwise(%a: tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, %c: tensor<8x!sima.quant<i8, 0.02:10>>, %h: tensor<1x4x4x8x!sima.quant<i16, 0.0001:0>>, %t8: tensor<256xi8>, %t16: tensor<65536xi16>) -> tensor<1x4x4x8x!sima.quant<i8, 0.07:1>> {
// CHECK-NEXT:  %0 = sima.qadd %a, %c {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 102 : i64, rhs_shift = 8 : i64, multiplier = 94 : i64, shift = 27 : i64, left_shift = 20 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<8x!sima.quant<i8, 0.02:10>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.07:1>>
// CHECK-NEXT:  %1 = sima.qsub %a, %h {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 64 : i64, rhs_shift = 16 : i64, multiplier = 91 : i64, shift = 20 : i64, left_shift = 14 : i64, node = "MLA_1/sub_4"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<1x4x4x8x!sima.quant<i16, 0.0001:0>>) -> tensor<1x4x4x8x!sima.quant<i16, 0.0002:0>>
// CHECK-NEXT:  %2 = sima.qmul %a, %c {multiplier = 73 : i64, shift = 13 : i64, left_shift = 0 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<8x!sima.quant<i8, 0.02:10>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.01:0>>
// CHECK-NEXT:  %3 = sima.lut %a, %t8 {node = "MLA_1/sigmoid_5"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<256xi8>) -> tensor<1x4x4x8x!sima.quant<i8, 0.00392156862745098:-128>>
// CHECK-NEXT:  %4 = sima.lut %h, %t16 : (tensor<1x4x4x8x!sima.quant<i16, 0.0001:0>>, tensor<65536xi16>) -> tensor<1x4x4x8x!sima.quant<i16, 3.0517578125e-05:0>>
// CHECK-NEXT:  func.return %0 : tensor<1x4x4x8x!sima.quant<i8, 0.07:1>>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "elementwise"
// GENERIC:  %0 = "sima.qadd"(%a, %c) <{lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 102 : i64, rhs_shift = 8 : i64, multiplier = 94 : i64, shift = 27 : i64, left_shift = 20 : i64}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<8x!sima.quant<i8, 0.02:10>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.07:1>>
// GENERIC-NEXT:  %1 = "sima.qsub"(%a, %h) <{lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 64 : i64, rhs_shift = 16 : i64, multiplier = 91 : i64, shift = 20 : i64, left_shift = 14 : i64, node = "MLA_1/sub_4"}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<1x4x4x8x!sima.quant<i16, 0.0001:0>>) -> tensor<1x4x4x8x!sima.quant<i16, 0.0002:0>>
// GENERIC-NEXT:  %2 = "sima.qmul"(%a, %c) <{multiplier = 73 : i64, shift = 13 : i64, left_shift = 0 : i64}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<8x!sima.quant<i8, 0.02:10>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.01:0>>
// GENERIC-NEXT:  %3 = "sima.lut"(%a, %t8) <{node = "MLA_1/sigmoid_5"}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<256xi8>) -> tensor<1x4x4x8x!sima.quant<i8, 0.00392156862745098:-128>>
// GENERIC-NEXT:  %4 = "sima.lut"(%h, %t16) : (tensor<1x4x4x8x!sima.quant<i16, 0.0001:0>>, tensor<65536xi16>) -> tensor<1x4x4x8x!sima.quant<i16, 3.0517578125e-05:0>>

// Average pools: one divisor (count_include_pad), a divisor per window size (4
// entries for a 2x2 kernel with padding), and the global pool.
func.func @pools(%x: tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x3x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.qavg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, multiplier = array<i64: 114>, shift = array<i64: 10>} : (tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>
  %1 = sima.qavg_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = false, multiplier = array<i64: 64, 64, 85, 64>, shift = array<i64: 6, 7, 8, 8>} : (tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x3x!sima.quant<i16, 0.05:0>>
  %2 = sima.qglobal_avg_pool %x {multiplier = 114 : i64, shift = 12 : i64, node = "MLA_0/global_avg_pool2d_9"} : (tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x3x!sima.quant<i8, 0.05:-3>>
  func.return %2 : tensor<1x1x1x3x!sima.quant<i8, 0.05:-3>>
}
// CHECK-LABEL: func.func @pools(%x: tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x3x!sima.quant<i8, 0.05:-3>> {
// CHECK-NEXT:  %0 = sima.qavg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, multiplier = array<i64: 114>, shift = array<i64: 10>} : (tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %1 = sima.qavg_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = false, multiplier = array<i64: 64, 64, 85, 64>, shift = array<i64: 6, 7, 8, 8>} : (tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x3x!sima.quant<i16, 0.05:0>>
// CHECK-NEXT:  %2 = sima.qglobal_avg_pool %x {multiplier = 114 : i64, shift = 12 : i64, node = "MLA_0/global_avg_pool2d_9"} : (tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x3x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  func.return %2 : tensor<1x1x1x3x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "pools"
// GENERIC:  %0 = "sima.qavg_pool"(%x) <{kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, multiplier = array<i64: 114>, shift = array<i64: 10>}> : (tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %1 = "sima.qavg_pool"(%x) <{kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = false, multiplier = array<i64: 64, 64, 85, 64>, shift = array<i64: 6, 7, 8, 8>}> : (tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x3x!sima.quant<i16, 0.05:0>>
// GENERIC-NEXT:  %2 = "sima.qglobal_avg_pool"(%x) <{multiplier = 114 : i64, shift = 12 : i64, node = "MLA_0/global_avg_pool2d_9"}> : (tensor<1x6x6x3x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x3x!sima.quant<i8, 0.05:-3>>

// The data-movement ops take quantized tensors with the same quantization in and
// out; a quantized constant pad holds the zero point.
func.func @data_movement(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>> {
  %0 = sima.pad %x {pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = -3.000000e+00 : f32} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x6x8x!sima.quant<i8, 0.05:-3>>
  %1 = sima.pad %x {pads = array<i64: 0, 1, 0, 0, 0, 1, 0, 0>, mode = "edge", value = 0.000000e+00 : f32} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x4x8x!sima.quant<i8, 0.05:-3>>
  %2 = sima.resize %x {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
  %3 = sima.max_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x2x2x8x!sima.quant<i8, 0.05:-3>>
  %4 = sima.global_max_pool %x : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x8x!sima.quant<i8, 0.05:-3>>
  %5 = sima.concat %x, %x {axis = 3 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x16x!sima.quant<i8, 0.05:-3>>
  %6, %7 = sima.split %5 {axis = 3 : i64} : (tensor<1x4x4x16x!sima.quant<i8, 0.05:-3>>) -> (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<1x4x4x12x!sima.quant<i8, 0.05:-3>>)
  %8 = sima.slice %x {starts = array<i64: 0, 1, 0, 0>, ends = array<i64: 1, 4, 4, 8>, steps = array<i64: 1, 2, 1, 1>} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x2x4x8x!sima.quant<i8, 0.05:-3>>
  %9 = sima.reshape %x : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x16x8x!sima.quant<i8, 0.05:-3>>
  %10 = sima.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x4x4x!sima.quant<i8, 0.05:-3>>
  %11 = sima.expand %4 : (tensor<1x1x1x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>
  func.return %2 : tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
}
// CHECK-LABEL: func.func @data_movement(%x: tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>> {
// CHECK-NEXT:  %0 = sima.pad %x {pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = -3.000000e+00 : f32} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x6x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %1 = sima.pad %x {pads = array<i64: 0, 1, 0, 0, 0, 1, 0, 0>, mode = "edge", value = 0.000000e+00 : f32} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x4x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %2 = sima.resize %x {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %3 = sima.max_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x2x2x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %4 = sima.global_max_pool %x : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %5 = sima.concat %x, %x {axis = 3 : i64} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x16x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %6, %7 = sima.split %5 {axis = 3 : i64} : (tensor<1x4x4x16x!sima.quant<i8, 0.05:-3>>) -> (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<1x4x4x12x!sima.quant<i8, 0.05:-3>>)
// CHECK-NEXT:  %8 = sima.slice %x {starts = array<i64: 0, 1, 0, 0>, ends = array<i64: 1, 4, 4, 8>, steps = array<i64: 1, 2, 1, 1>} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x2x4x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %9 = sima.reshape %x : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x16x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %10 = sima.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x4x4x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  %11 = sima.expand %4 : (tensor<1x1x1x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  func.return %2 : tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "data_movement"
// GENERIC:  %0 = "sima.pad"(%x) <{pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = -3.000000e+00 : f32}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x6x8x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %1 = "sima.pad"(%x) <{pads = array<i64: 0, 1, 0, 0, 0, 1, 0, 0>, mode = "edge", value = 0.000000e+00 : f32}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x6x4x8x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %2 = "sima.resize"(%x) <{mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x8x8x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %3 = "sima.max_pool"(%x) <{kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x2x2x8x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %4 = "sima.global_max_pool"(%x) : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x1x1x8x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %5 = "sima.concat"(%x, %x) <{axis = 3 : i64}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>, tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x16x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %6, %7 = "sima.split"(%5) <{axis = 3 : i64}> : (tensor<1x4x4x16x!sima.quant<i8, 0.05:-3>>) -> (tensor<1x4x4x4x!sima.quant<i8, 0.05:-3>>, tensor<1x4x4x12x!sima.quant<i8, 0.05:-3>>)
// GENERIC-NEXT:  %8 = "sima.slice"(%x) <{starts = array<i64: 0, 1, 0, 0>, ends = array<i64: 1, 4, 4, 8>, steps = array<i64: 1, 2, 1, 1>}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x2x4x8x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %9 = "sima.reshape"(%x) : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x16x8x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %10 = "sima.transpose"(%x) <{perm = array<i64: 0, 3, 1, 2>}> : (tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x8x4x4x!sima.quant<i8, 0.05:-3>>
// GENERIC-NEXT:  %11 = "sima.expand"(%4) : (tensor<1x1x1x8x!sima.quant<i8, 0.05:-3>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.05:-3>>
