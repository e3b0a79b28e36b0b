// RUN: sima-opt %s -p quantize --print-weights | filecheck %s
// RUN: sima-opt %s -p 'quantize{per-channel=false}' --print-weights | filecheck %s --check-prefix=PER-TENSOR

// quantize on conv2d with an int16 input (the int15 algorithm), per channel
// and per tensor.

// Worked by hand. An int16 input (step 2**-14, zero point 0) runs the int15
// algorithm with intrinsic shift h = 1: S = 2**h Sc / (Sa Sw) = 2 * 2**12 / (2**14 * 127)
// = 0.504 * 2**-7 (channel 1: 2**-8), so the weights and shifts are those of
// the int8 case, [32, 64], [-32, 64] and 7, 8. The bias is in units of
// Sa Sw / 2**h = 2**19 and 2**20 (0.25 * 2**19 = 131072, -0.5 * 2**20 = -524288)
// plus the output zero point scaled by the shift, -32768 * 2**7 and -32768 * 2**8:
// -4063232 and -8912896.
// Per tensor (Sw = 127 for both channels): weights [32, 64], [-16, 32], one
// shift 7, and channel 1's bias -0.5 * 2**19 - 32768 * 2**7 = -4456448.
func.func @int16_input(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -2.0 : f64, max = 1.99993896484375 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 6.103515625e-05:0>} : tensor<1x2x2x2xf32>
  %w = sima.constant dense<[[[[0.5, -0.25], [1.0, 0.5]]]]> : tensor<1x1x2x2xf32>
  %b = sima.constant dense<[0.25, -0.5]> : tensor<2xf32>
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, node = "MLA_0/conv2d_add_relu_0", target = "MLA"} : (tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %0 {key = "MLA_0/conv2d_add_relu_0", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 15.999755859375 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 0.000244140625:-32768>} : tensor<1x2x2x2xf32>
  func.return %0 : tensor<1x2x2x2xf32>
}
// CHECK-LABEL: func.func @int16_input
// CHECK-NEXT:    %0 = sima.quantize %x {{.*}} -> tensor<1x2x2x2x!sima.quant<i16, 6.103515625e-05:0>>
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"MLA_0/conv2d_add_relu_0.weight.q", tensor<1x1x2x2xi8>, "0x20E04040">
// CHECK-NEXT:    %2 = sima.constant #sima.ndarray<"MLA_0/conv2d_add_relu_0.bias.q", tensor<2xi32>, "0x0000C2FF000078FF">
// CHECK-NEXT:    %3 = sima.qconv2d %0, %1, %2 {{{.*}}requant_mode = "sima", shift = array<i64: 7, 8>, intrinsic_shift = array<i64: 1, 1>, node = "MLA_0/conv2d_add_relu_0", target = "MLA"} : (tensor<1x2x2x2x!sima.quant<i16, 6.103515625e-05:0>>, tensor<1x1x2x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i16, 0.000244140625:-32768>>
// PER-TENSOR-LABEL: func.func @int16_input
// PER-TENSOR:         sima.constant #sima.ndarray<"MLA_0/conv2d_add_relu_0.weight.q", tensor<1x1x2x2xi8>, "0x20F04020">
// PER-TENSOR-NEXT:    sima.constant #sima.ndarray<"MLA_0/conv2d_add_relu_0.bias.q", tensor<2xi32>, "0x0000C2FF0000BCFF">
// PER-TENSOR-NEXT:    sima.qconv2d {{.*}}requant_mode = "sima", shift = array<i64: 7>, intrinsic_shift = array<i64: 1>, node = "MLA_0/conv2d_add_relu_0"
