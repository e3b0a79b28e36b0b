// RUN: sima-opt %s -p quantize 2>&1 | filecheck %s
// RUN: sima-opt %s -p quantize > %t.once 2>/dev/null
// RUN: sima-opt %s -p quantize,quantize > %t.twice 2>/dev/null
// RUN: diff %t.once %t.twice

// quantize at the float boundary: `sima.quantize` where a float value meets an
// integer op (with the value's calibrated quantization), `sima.dequantize`
// where a quantized value meets a float op or the return; the signature stays
// float. MLA ops without an integer form (here a grouped transposed
// convolution) stay float on the APU, with a warning. The observes and the float weights nobody reads are erased.
// Running the pass again changes nothing (RUN lines 2-4).

// The warnings come first (stderr), before the module.
// CHECK:      node MLA_1/conv2d_transpose_3: not quantized, runs in float on the APU: a grouped transposed convolution (groups = 2) has no integer form yet
// CHECK-NOT:  sima.observe

// The CVU's normalisation stays float and is quantized where the conv reads
// it; the conv's result is dequantized once for the APU's log and the return;
// the grouped transposed convolution, left float, reads the log directly and is quantized for the add,
// which reads the conv's integers as they are. The input is returned as it is.
func.func @boundaries(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 255.0 : f64}, quant = !sima.quant<i8, 1.0:-128>} : tensor<1x4x4x2xf32>
  %mean = sima.constant dense<127.5> : tensor<2xf32>
  %w = sima.constant dense<[[[[0.5, -0.25], [1.0, 0.5]]]]> : tensor<1x1x2x2xf32>
  %wg = sima.constant dense<[[[[0.5], [0.25]]]]> : tensor<1x1x2x1xf32>
  %0 = sima.sub %x, %mean {node = "CVU_0/sub_0", target = "CVU"} : (tensor<1x4x4x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  sima.observe %0 {key = "CVU_0/sub_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -127.5 : f64, max = 127.5 : f64}, quant = !sima.quant<i8, 1.0:0>} : tensor<1x4x4x2xf32>
  %1 = sima.conv2d %0, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, node = "MLA_0/conv2d_relu_1", target = "MLA"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x4x4x2xf32>
  sima.observe %1 {key = "MLA_0/conv2d_relu_1", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 255.0 : f64}, quant = !sima.quant<i8, 1.0:-128>} : tensor<1x4x4x2xf32>
  %2 = sima.log %1 {node = "APU_0/log_2", target = "APU"} : tensor<1x4x4x2xf32>
  sima.observe %2 {key = "APU_0/log_2", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 6.0 : f64}, quant = !sima.quant<i8, 0.027450980392156862:-92>} : tensor<1x4x4x2xf32>
  %3 = sima.conv2d_transpose %2, %wg {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 2 : i64, node = "MLA_1/conv2d_transpose_3", target = "MLA"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x1xf32>) -> tensor<1x4x4x2xf32>
  sima.observe %3 {key = "MLA_1/conv2d_transpose_3", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00392156862745098:-128>} : tensor<1x4x4x2xf32>
  %4 = sima.add %3, %1 {node = "MLA_1/add_4", target = "MLA"} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  sima.observe %4 {key = "MLA_1/add_4", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 256.0 : f64}, quant = !sima.quant<i8, 1.003921568627451:-128>} : tensor<1x4x4x2xf32>
  func.return %x, %4, %1 : tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>
}
// CHECK-LABEL: func.func @boundaries(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) {
// CHECK-NEXT:    %mean = sima.constant dense<1.275000e+02> : tensor<2xf32>
// CHECK-NEXT:    %wg = sima.constant dense<{{.*}}> : tensor<1x1x2x1xf32>
// CHECK-NEXT:    %0 = sima.sub %x, %mean {node = "CVU_0/sub_0", target = "CVU"} : (tensor<1x4x4x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    %1 = sima.quantize %0 {node = "MLA_0/conv2d_relu_1/quantize_in0", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!sima.quant<i8, 1.0:0>>
// CHECK-NEXT:    %2 = sima.constant #sima.ndarray<"MLA_0/conv2d_relu_1.weight.q", tensor<1x1x2x2xi8>
// CHECK-NEXT:    %3 = sima.constant #sima.ndarray<"MLA_0/conv2d_relu_1.weight.bias.q", tensor<2xi32>
// CHECK-NEXT:    %4 = sima.qconv2d %1, %2, %3 {{{.*}}node = "MLA_0/conv2d_relu_1", target = "MLA"} : {{.*}} -> tensor<1x4x4x2x!sima.quant<i8, 1.0:-128>>
// CHECK-NEXT:    %5 = sima.dequantize %4 {node = "MLA_0/conv2d_relu_1/dequantize", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 1.0:-128>>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    %6 = sima.log %5 {node = "APU_0/log_2", target = "APU"} : tensor<1x4x4x2xf32>
// CHECK-NEXT:    %7 = sima.conv2d_transpose %6, %wg {{{.*}}groups = 2 : i64, node = "MLA_1/conv2d_transpose_3", target = "APU"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x1xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    %8 = sima.quantize %7 {node = "MLA_1/add_4/quantize_in0", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!sima.quant<i8, 0.00392156862745098:-128>>
// CHECK-NEXT:    %9 = sima.qadd %8, %4 {{{.*}}node = "MLA_1/add_4", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 0.00392156862745098:-128>>, tensor<1x4x4x2x!sima.quant<i8, 1.0:-128>>) -> tensor<1x4x4x2x!sima.quant<i8, 1.003921568627451:-128>>
// CHECK-NEXT:    %10 = sima.dequantize %9 {node = "MLA_1/add_4/dequantize", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 1.003921568627451:-128>>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    func.return %x, %10, %5 : tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>
// CHECK-NEXT:  }
