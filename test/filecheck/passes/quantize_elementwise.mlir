// RUN: sima-opt %s -p quantize 2>&1 | filecheck %s

// quantize: add / sub / mul -> sima.qadd / qsub / qmul (TFLite's quantized
// arithmetic with 8-bit multipliers), unary ops -> sima.lut, matmul -> sima.qmatmul.

// Every op has an integer form: no warning (stderr comes before the module).
// CHECK-NOT: not quantized

// qadd of steps 0.05 and 0.02 into 0.07: the inputs are brought to the unit
// 2 * max(step) = 0.1 (0.05 / 0.1 = 64 * 2**-7, 0.02 / 0.1 = 0.2 ~ 102 * 2**-9),
// the sum, shifted left by 20, back to 0.07 (0.1 / (2**20 * 0.07) ~ 91 * 2**-26).
// qsub of 0.07 and 0.05 into 0.02: 64 * 2**-7, 0.05 / 0.14 ~ 91 * 2**-8,
// 0.14 / (2**20 * 0.02) ~ 112 * 2**-24. The constant operand of the mul is
// quantized over its own range [-1, 2] (step 3/255, zero point -43, as
// select-scales would) and its product requantized 0.02 * (3/255) / 0.04 ~ 96 * 2**-14.
// Each quantized value read by the return is dequantized once.
func.func @binary(%a: tensor<1x4x4x8xf32>, %b: tensor<8xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) {
  sima.observe %a {key = "a", method = {name = "min_max"}, stats = {kind = "min_max", min = -6.4 : f64, max = 6.35 : f64}, quant = !sima.quant<i8, 0.05:0>} : tensor<1x4x4x8xf32>
  sima.observe %b {key = "b", method = {name = "min_max"}, stats = {kind = "min_max", min = -2.76 : f64, max = 2.34 : f64}, quant = !sima.quant<i8, 0.02:10>} : tensor<8xf32>
  %c = sima.constant dense<[0.5, -1.0, 0.25, 0.75, 1.0, -0.5, 2.0, 0.0]> : tensor<8xf32>
  %0 = sima.add %a, %b {node = "MLA_0/add_0", target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  sima.observe %0 {key = "MLA_0/add_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -8.89 : f64, max = 8.96 : f64}, quant = !sima.quant<i8, 0.07:1>} : tensor<1x4x4x8xf32>
  %1 = sima.sub %0, %a {node = "MLA_0/sub_1", target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  sima.observe %1 {key = "MLA_0/sub_1", method = {name = "min_max"}, stats = {kind = "min_max", min = -2.56 : f64, max = 2.54 : f64}, quant = !sima.quant<i8, 0.02:0>} : tensor<1x4x4x8xf32>
  %2 = sima.mul %1, %c {node = "MLA_0/mul_2", target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  sima.observe %2 {key = "MLA_0/mul_2", method = {name = "min_max"}, stats = {kind = "min_max", min = -5.12 : f64, max = 5.08 : f64}, quant = !sima.quant<i8, 0.04:0>} : tensor<1x4x4x8xf32>
  func.return %0, %1, %2 : tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @binary
// CHECK-NEXT:    %c = sima.constant dense<{{.*}}> : tensor<8xf32>
// CHECK-NEXT:    %0 = sima.quantize %a {node = "MLA_0/add_0/quantize_in0", target = "MLA"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>
// CHECK-NEXT:    %1 = sima.quantize %b {node = "MLA_0/add_0/quantize_in1", target = "MLA"} : (tensor<8xf32>) -> tensor<8x!sima.quant<i8, 0.02:10>>
// CHECK-NEXT:    %2 = sima.qadd %0, %1 {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 102 : i64, rhs_shift = 9 : i64, multiplier = 91 : i64, shift = 26 : i64, left_shift = 20 : i64, node = "MLA_0/add_0", target = "MLA"} : (tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>, tensor<8x!sima.quant<i8, 0.02:10>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.07:1>>
// CHECK-NEXT:    %3 = sima.dequantize %2 {node = "MLA_0/add_0/dequantize", target = "MLA"} : (tensor<1x4x4x8x!sima.quant<i8, 0.07:1>>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:    %4 = sima.qsub %2, %0 {lhs_multiplier = 64 : i64, lhs_shift = 7 : i64, rhs_multiplier = 91 : i64, rhs_shift = 8 : i64, multiplier = 112 : i64, shift = 24 : i64, left_shift = 20 : i64, node = "MLA_0/sub_1", target = "MLA"} : (tensor<1x4x4x8x!sima.quant<i8, 0.07:1>>, tensor<1x4x4x8x!sima.quant<i8, 0.05:0>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.02:0>>
// CHECK-NEXT:    %5 = sima.dequantize %4
// CHECK-NEXT:    %6 = sima.quantize %c {node = "MLA_0/mul_2/quantize_in1", target = "MLA"} : (tensor<8xf32>) -> tensor<8x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    %7 = sima.qmul %4, %6 {multiplier = 96 : i64, shift = 14 : i64, left_shift = 0 : i64, node = "MLA_0/mul_2", target = "MLA"} : (tensor<1x4x4x8x!sima.quant<i8, 0.02:0>>, tensor<8x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.04:0>>
// CHECK-NEXT:    %8 = sima.dequantize %7
// CHECK-NEXT:    func.return %3, %5, %8

// An int16 x int16 product of two inputs with zero points can overflow the
// int32 accumulator (65535 * 65535 > 2**31); one input with zero point 0
// cannot. The input whose range the symmetric int16 quantization covers at
// least cost, [-3, 5] (step 5/32767 instead of 8/65535) rather than the gate
// [0, 1] (twice as coarse), is quantized symmetric.
func.func @int16_product(%a: tensor<1x4x4x8xf32>, %g: tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32> {
  sima.observe %a {key = "a", method = {name = "min_max"}, stats = {kind = "min_max", min = -3.0 : f64, max = 5.0 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 1.2207217517357136e-4:-8193>} : tensor<1x4x4x8xf32>
  sima.observe %g {key = "g", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 1.5259021896696422e-05:-32768>} : tensor<1x1x1x8xf32>
  %0 = sima.mul %a, %g {node = "MLA_0/mul_0", target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
  sima.observe %0 {key = "MLA_0/mul_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -3.0 : f64, max = 5.0 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 1.2207217517357136e-4:-8193>} : tensor<1x4x4x8xf32>
  func.return %0 : tensor<1x4x4x8xf32>
}

// CHECK-LABEL: func.func @int16_product
// CHECK-NEXT:    %0 = sima.quantize %a {{.*}} -> tensor<1x4x4x8x!sima.quant<i16, 0.00015259487579300768:0>>
// CHECK-NEXT:    %1 = sima.quantize %g {{.*}} -> tensor<1x1x1x8x!sima.quant<i16, 1.5259021896696422e-05:-32768>>
// CHECK-NEXT:    %2 = sima.qmul %0, %1 {{.*}} -> tensor<1x4x4x8x!sima.quant<i16, 0.00012207217517357135:-8193>>

// Lookup tables: int8 (256 entries), int16 (65536 entries of the int16 result);
// relu runs on the MLA at 8 bits only (seed 003), so its int16-calibrated input
// and result get the same ranges at 8 bits ([-4, 4] in 255 steps); prelu with
// one slope is a table (sharing the int8 quantize of %x with the sigmoid),
// with a slope per channel it is a sima.qprelu: 0.0314 / 0.0196 = 1.6 ~ 102 * 2**-6
// on the positive side, 1.6 * 0.125 = 0.2 ~ 102 * 2**-9 and 1.6 * 0.25 ~ 102 * 2**-8
// on the negative side.
func.func @tables(%x: tensor<1x4x4x8xf32>, %h: tensor<1x4x4x8xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -4.0 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.03137254901960784:0>} : tensor<1x4x4x8xf32>
  sima.observe %h {key = "h", method = {name = "min_max"}, stats = {kind = "min_max", min = -4.0 : f64, max = 4.0 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 1.2207217517357136e-4:0>} : tensor<1x4x4x8xf32>
  %s = sima.constant dense<0.125> : tensor<8xf32>
  %sc = sima.constant dense<[0.125, 0.25, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125]> : tensor<8xf32>
  %0 = sima.sigmoid %x {node = "MLA_0/sigmoid_0", target = "MLA"} : tensor<1x4x4x8xf32>
  sima.observe %0 {key = "MLA_0/sigmoid_0", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00392156862745098:-128>} : tensor<1x4x4x8xf32>
  %1 = sima.hard_swish %h {node = "MLA_0/hard_swish_1", target = "MLA"} : tensor<1x4x4x8xf32>
  sima.observe %1 {key = "MLA_0/hard_swish_1", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.375 : f64, max = 4.0 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 6.67581445e-05:-27151>} : tensor<1x4x4x8xf32>
  %2 = sima.relu %h {node = "MLA_0/relu_2", target = "MLA"} : tensor<1x4x4x8xf32>
  sima.observe %2 {key = "MLA_0/relu_2", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 4.0 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 6.103608758678568e-05:-32768>} : tensor<1x4x4x8xf32>
  %3 = sima.prelu %x, %s {node = "MLA_0/prelu_3", target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  sima.observe %3 {key = "MLA_0/prelu_3", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.01764705882352941:-100>} : tensor<1x4x4x8xf32>
  %4 = sima.prelu %x, %sc {node = "MLA_0/prelu_4", target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  sima.observe %4 {key = "MLA_0/prelu_4", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.0196078431372549:-77>} : tensor<1x4x4x8xf32>
  func.return %0, %1, %2, %3, %4 : tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @tables
// CHECK-NEXT:    %[[X:.*]] = sima.quantize %x {node = "MLA_0/sigmoid_0/quantize_in0", target = "MLA"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!sima.quant<i8, 0.03137254901960784:0>>
// CHECK-NEXT:    %[[T0:.*]] = sima.constant #sima.ndarray<"MLA_0/sigmoid_0.table", tensor<256xi8>
// CHECK-NEXT:    %[[S:.*]] = sima.lut %[[X]], %[[T0]] {node = "MLA_0/sigmoid_0", target = "MLA"} : (tensor<1x4x4x8x!sima.quant<i8, 0.03137254901960784:0>>, tensor<256xi8>) -> tensor<1x4x4x8x!sima.quant<i8, 0.00392156862745098:-128>>
// CHECK-NEXT:    sima.dequantize %[[S]]
// CHECK-NEXT:    %[[H:.*]] = sima.quantize %h {{.*}} -> tensor<1x4x4x8x!sima.quant<i16, 0.00012207217517357135:0>>
// CHECK-NEXT:    %[[T1:.*]] = sima.constant #sima.ndarray<"MLA_0/hard_swish_1.table", tensor<65536xi16>
// CHECK-NEXT:    sima.lut %[[H]], %[[T1]] {node = "MLA_0/hard_swish_1", target = "MLA"} : (tensor<1x4x4x8x!sima.quant<i16, 0.00012207217517357135:0>>, tensor<65536xi16>) -> tensor<1x4x4x8x!sima.quant<i16, 6.67581445e-05:-27151>>
// CHECK-NEXT:    sima.dequantize
// CHECK-NEXT:    %[[H8:.*]] = sima.quantize %h {node = "MLA_0/relu_2/quantize_in0", target = "MLA"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!sima.quant<i8, 0.031372549019607836:0>>
// CHECK-NEXT:    %[[T2:.*]] = sima.constant #sima.ndarray<"MLA_0/relu_2.table", tensor<256xi8>
// CHECK-NEXT:    sima.lut %[[H8]], %[[T2]] {{.*}} -> tensor<1x4x4x8x!sima.quant<i8, 0.015686274509803918:-128>>
// CHECK-NEXT:    sima.dequantize
// CHECK-NEXT:    %[[T3:.*]] = sima.constant #sima.ndarray<"MLA_0/prelu_3.table", tensor<256xi8>
// CHECK-NEXT:    sima.lut %[[X]], %[[T3]] {node = "MLA_0/prelu_3", target = "MLA"}
// CHECK-NEXT:    sima.dequantize
// CHECK-NEXT:    sima.qprelu %[[X]] {multiplier = 102 : i64, shift = 6 : i64, neg_multiplier = array<i64: 102, 102, 102, 102, 102, 102, 102, 102>, neg_shift = array<i64: 9, 8, 9, 9, 9, 9, 9, 9>, node = "MLA_0/prelu_4", target = "MLA"} : (tensor<1x4x4x8x!sima.quant<i8, 0.03137254901960784:0>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.0196078431372549:-77>>
// CHECK-NEXT:    sima.dequantize
// CHECK-NEXT:    func.return

// matmul runs at 8 bits only: the int16-calibrated %k is quantized straight to
// 8 bits. (1/127.5) * (2/127.5) / (8/127.5) = 2**-9 = 64 * 2**-15.
func.func @matmul(%q: tensor<2x5x16xf32>, %k: tensor<2x16x5xf32>) -> tensor<2x5x5xf32> {
  sima.observe %q {key = "q", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00784313725490196:0>} : tensor<2x5x16xf32>
  sima.observe %k {key = "k", method = {name = "min_max"}, stats = {kind = "min_max", min = -2.0 : f64, max = 2.0 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 6.103608758678568e-05:0>} : tensor<2x16x5xf32>
  %0 = sima.matmul %q, %k {node = "MLA_0/matmul_0", target = "MLA"} : (tensor<2x5x16xf32>, tensor<2x16x5xf32>) -> tensor<2x5x5xf32>
  sima.observe %0 {key = "MLA_0/matmul_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -8.0 : f64, max = 8.0 : f64}, quant = !sima.quant<i8, 0.06274509803921569:0>} : tensor<2x5x5xf32>
  func.return %0 : tensor<2x5x5xf32>
}
// CHECK-LABEL: func.func @matmul
// CHECK-NEXT:    %0 = sima.quantize %q {{.*}} -> tensor<2x5x16x!sima.quant<i8, 0.00784313725490196:0>>
// CHECK-NEXT:    %1 = sima.quantize %k {{.*}} -> tensor<2x16x5x!sima.quant<i8, 0.015686274509803918:0>>
// CHECK-NEXT:    %2 = sima.qmatmul %0, %1 {multiplier = 64 : i64, shift = 15 : i64, left_shift = 0 : i64, node = "MLA_0/matmul_0", target = "MLA"} : (tensor<2x5x16x!sima.quant<i8, 0.00784313725490196:0>>, tensor<2x16x5x!sima.quant<i8, 0.015686274509803918:0>>) -> tensor<2x5x5x!sima.quant<i8, 0.06274509803921569:0>>
// CHECK-NEXT:    sima.dequantize %2
