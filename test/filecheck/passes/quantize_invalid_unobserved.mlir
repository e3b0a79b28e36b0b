// RUN: not sima-opt %s -p quantize 2>&1 | filecheck %s

// The result of an MLA op that was never observed (no calibration at all).
func.func @not_observed(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00784313725490196:0>} : tensor<1x4x4x2xf32>
  %w = sima.constant dense<0.5> : tensor<1x1x2x2xf32>
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_0", target = "MLA"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x4x4x2xf32>
  func.return %0 : tensor<1x4x4x2xf32>
}
// CHECK: QuantizeError: quantize: sima.conv2d 'MLA_0/conv2d_0': its result is not observed; run calibration and select-scales first
