// RUN: sima-opt %s -p quantize 2>&1 | filecheck %s
// RUN: sima-opt %s -p quantize --print-weights 2>&1 | filecheck %s --check-prefix=WEIGHTS

// quantize: softmax -> sima.qsoftmax, layer_norm -> sima.qlayer_norm, linear
// resize -> sima.qresize_linear, conv2d_transpose -> sima.qconv2d_transpose
// (planned as a conv2d). None stays float: no warning.
// CHECK-NOT: not quantized

// softmax: the exp table of the input step 0.05 (entry 0 is exp(0) = 2**23,
// 0x00800000 little-endian), the Q15 probability requantized to the
// calibrated [0, 1] in 255 steps: 2**-15 * 255 ~ 64 * 2**-13.
func.func @softmax(%x: tensor<1x4x10xf32>) -> tensor<1x4x10xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -6.4 : f64, max = 6.35 : f64}, quant = !sima.quant<i8, 0.05:0>} : tensor<1x4x10xf32>
  %0 = sima.softmax %x {axis = -1 : i64, node = "MLA_0/softmax_0", target = "MLA"} : tensor<1x4x10xf32>
  sima.observe %0 {key = "MLA_0/softmax_0", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00392156862745098:-128>} : tensor<1x4x10xf32>
  func.return %0 : tensor<1x4x10xf32>
}
// CHECK-LABEL: func.func @softmax
// CHECK-NEXT:    %0 = sima.quantize %x {node = "MLA_0/softmax_0/quantize_in0", target = "MLA"} : (tensor<1x4x10xf32>) -> tensor<1x4x10x!sima.quant<i8, 0.05:0>>
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"MLA_0/softmax_0.exp_table", tensor<256xi32>, elided
// CHECK-NEXT:    %2 = sima.qsoftmax %0, %1 {axis = -1 : i64, multiplier = 64 : i64, shift = 13 : i64, node = "MLA_0/softmax_0", target = "MLA"} : (tensor<1x4x10x!sima.quant<i8, 0.05:0>>, tensor<256xi32>) -> tensor<1x4x10x!sima.quant<i8, 0.00392156862745098:-128>>
// CHECK-NEXT:    %3 = sima.dequantize %2
// CHECK-NEXT:    func.return %3
// WEIGHTS: sima.constant #sima.ndarray<"MLA_0/softmax_0.exp_table", tensor<256xi32>, "0x00008000

// layer_norm over 4 channels: gamma / step_out = [31.875, 15.94, -63.75, 7.97];
// the largest shift keeping |G| <= 32767 is 20 (63.75 * 2**(20 - 11) = 32640),
// so G = [16320, 8160, -32640, 4080] (0x3FC0, 0x1FE0, 0x8080, 0x0FF0) and
// B = beta / step_out * 2**20; epsilon 1e-5 is 16 * 1e-5 / 0.0118**2 ~ 1.2 -> 1.
// The linear resize keeps the layer norm's quantization (Q15 weights); the
// transposed convolution reads the same int8 tensor.

func.func @upscale(%x: tensor<1x2x2x4xf32>) -> tensor<1x4x4x4xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.011764705882352941:-43>} : tensor<1x2x2x4xf32>
  %g = sima.constant dense<[1.0, 0.5, -2.0, 0.25]> : tensor<4xf32>
  %b = sima.constant dense<[0.0, 0.5, -0.5, 1.0]> : tensor<4xf32>
  %wt = sima.constant dense<0.5> : tensor<2x2x4x4xf32>
  %0 = sima.layer_norm %x, %g, %b {axis = -1 : i64, epsilon = 1.0e-05 : f32, node = "MLA_0/layer_norm_0", target = "MLA"} : (tensor<1x2x2x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x2x2x4xf32>
  sima.observe %0 {key = "MLA_0/layer_norm_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -4.0 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.03137254901960784:0>} : tensor<1x2x2x4xf32>
  %1 = sima.resize %0 {mode = "linear", coordinate_mode = "half_pixel", nearest_mode = "floor", node = "MLA_0/resize_1", target = "MLA"} : (tensor<1x2x2x4xf32>) -> tensor<1x4x4x4xf32>
  sima.observe %1 {key = "MLA_0/resize_1", method = {name = "min_max"}, stats = {kind = "min_max", min = -4.0 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.03137254901960784:0>} : tensor<1x4x4x4xf32>
  %2 = sima.conv2d_transpose %0, %wt {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, node = "MLA_0/conv2d_transpose_2", target = "MLA"} : (tensor<1x2x2x4xf32>, tensor<2x2x4x4xf32>) -> tensor<1x4x4x4xf32>
  sima.observe %2 {key = "MLA_0/conv2d_transpose_2", method = {name = "min_max"}, stats = {kind = "min_max", min = -8.0 : f64, max = 8.0 : f64}, quant = !sima.quant<i8, 0.06274509803921569:0>} : tensor<1x4x4x4xf32>
  %3 = sima.add %1, %2 {node = "MLA_0/add_3", target = "MLA"} : (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  sima.observe %3 {key = "MLA_0/add_3", method = {name = "min_max"}, stats = {kind = "min_max", min = -12.0 : f64, max = 12.0 : f64}, quant = !sima.quant<i8, 0.09411764705882353:0>} : tensor<1x4x4x4xf32>
  func.return %3 : tensor<1x4x4x4xf32>
}
// CHECK-LABEL: func.func @upscale
// CHECK-NEXT:    %0 = sima.quantize %x {node = "MLA_0/layer_norm_0/quantize_in0", target = "MLA"} : (tensor<1x2x2x4xf32>) -> tensor<1x2x2x4x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"MLA_0/layer_norm_0.gamma.q", tensor<4xi16>
// CHECK-NEXT:    %2 = sima.constant #sima.ndarray<"MLA_0/layer_norm_0.beta.q", tensor<4xi32>
// CHECK-NEXT:    %3 = sima.qlayer_norm %0, %1, %2 {axis = -1 : i64, epsilon = 1 : i64, shift = 20 : i64, node = "MLA_0/layer_norm_0", target = "MLA"} : (tensor<1x2x2x4x!sima.quant<i8, 0.011764705882352941:-43>>, tensor<4xi16>, tensor<4xi32>) -> tensor<1x2x2x4x!sima.quant<i8, 0.03137254901960784:0>>
// CHECK-NEXT:    %4 = sima.qresize_linear %3 {coordinate_mode = "half_pixel", weight_bits = 15 : i64, node = "MLA_0/resize_1", target = "MLA"} : (tensor<1x2x2x4x!sima.quant<i8, 0.03137254901960784:0>>) -> tensor<1x4x4x4x!sima.quant<i8, 0.03137254901960784:0>>
// CHECK-NEXT:    %5 = sima.constant #sima.ndarray<"MLA_0/conv2d_transpose_2.weight.q", tensor<2x2x4x4xi8>
// CHECK-NEXT:    %6 = sima.constant #sima.ndarray<"MLA_0/conv2d_transpose_2.weight.bias.q", tensor<4xi32>
// CHECK-NEXT:    %7 = sima.qconv2d_transpose %3, %5, %6 {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, requant_mode = "sima", {{.*}}node = "MLA_0/conv2d_transpose_2", target = "MLA"} : (tensor<1x2x2x4x!sima.quant<i8, 0.03137254901960784:0>>, tensor<2x2x4x4xi8>, tensor<4xi32>) -> tensor<1x4x4x4x!sima.quant<i8, 0.06274509803921569:0>>
// CHECK-NEXT:    %8 = sima.qadd %4, %7
// CHECK-NEXT:    %9 = sima.dequantize %8
// CHECK-NEXT:    func.return %9
// WEIGHTS: sima.constant #sima.ndarray<"MLA_0/layer_norm_0.gamma.q", tensor<4xi16>, "0xC03FE01F8080F00F">
