// RUN: not sima-opt %s -p quantize 2>&1 | filecheck %s
// RUN: not sima-opt %s -p 'quantize{int32-outputs="MLA_0/conv2d_relu_1,MLA_0/relu_0,nothing_like_it"}' 2>&1 | filecheck %s --check-prefix=INT32
// RUN: not sima-opt %s -p 'quantize{requant-mode=fast}' 2>&1 | filecheck %s --check-prefix=MODE
// RUN: not sima-opt %s -p 'quantize{weight-bits=4}' 2>&1 | filecheck %s --check-prefix=BITS

// An MLA op reading a tensor calibration has not quantized is an error naming
// the node: the pass never guesses a quantization.
func.func @observed_not_selected(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 1.0 : f64}} : tensor<1x4x4x2xf32>
  %0 = sima.relu %x {node = "MLA_0/relu_0", target = "MLA"} : tensor<1x4x4x2xf32>
  sima.observe %0 {key = "MLA_0/relu_0", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00392156862745098:-128>} : tensor<1x4x4x2xf32>
  %w = sima.constant dense<0.5> : tensor<1x1x2x2xf32>
  %1 = sima.conv2d %0, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, node = "MLA_0/conv2d_relu_1", target = "MLA"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x4x4x2xf32>
  func.return %1 : tensor<1x4x4x2xf32>
}
// CHECK: QuantizeError: quantize: sima.relu 'MLA_0/relu_0': its operand 0 is observed but has no quantization; run calibration and select-scales first
// INT32: QuantizeError: quantize: int32-outputs: 'MLA_0/relu_0' is a sima.relu, not a conv2d or dense; no conv2d or dense named 'nothing_like_it' (no similar conv2d / dense)
// MODE: QuantizeError: quantize: requant-mode must be one of sima, tflite, got 'fast'
// BITS: QuantizeError: quantize: weight-bits must be 8 (the MLA multiplies int8 weights), got 4
