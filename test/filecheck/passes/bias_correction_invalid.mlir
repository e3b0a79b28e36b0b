// RUN: not sima-opt %s -p bias-correction 2>&1 | filecheck %s

// A correction must hold one finite number per output channel; the error names the node.
func.func @wrong_length(%x: tensor<1x2x2x2x!sima.quant<i8, 0.0078125:0>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>> {
  %w = sima.constant #sima.ndarray<"conv1.weight.q", tensor<1x1x2x2xi8>, "0x20E04040">
  %b = sima.constant #sima.ndarray<"conv1.bias.q", tensor<2xi32>, "0x00C8FFFF0060FFFF">
  %0 = sima.qconv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, requant_mode = "sima", shift = array<i64: 7, 8>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_0", bias_correction = array<f64: 0.1, -0.2, 0.3>} : (tensor<1x2x2x2x!sima.quant<i8, 0.0078125:0>>, tensor<1x1x2x2xi8>, tensor<2xi32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
  func.return %0 : tensor<1x2x2x2x!sima.quant<i8, 0.015625:-128>>
}
// CHECK: bias-correction: sima.qconv2d 'MLA_0/conv2d_add_0': bias_correction must hold 2 finite numbers (one per output channel), got 3
