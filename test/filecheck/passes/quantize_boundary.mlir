// RUN: sima-opt %s -p quantize 2>&1 | filecheck %s
// RUN: sima-opt %s -p quantize > %t.once 2>/dev/null
// RUN: sima-opt %s -p quantize,quantize > %t.twice 2>/dev/null
// RUN: diff %t.once %t.twice

// quantize at the float boundary: `sima.quantize` where a float value meets an
// integer op (with the value's calibrated quantization), `sima.dequantize`
// where a quantized value meets a float op or the return; the signature stays
// float. MLA ops without an integer form stay float on the APU, with a
// warning. The observes and the float weights nobody reads are erased.
// Running the pass again changes nothing (RUN lines 2-4).

// The warnings come first (stderr), before the module.
// CHECK:      node MLA_1/softmax_3: not quantized, runs in float on the APU: sima.softmax has no integer form yet
// CHECK-NEXT: node MLA_0/layer_norm_0: not quantized, runs in float on the APU: sima.layer_norm has no integer form yet
// CHECK-NEXT: node MLA_0/resize_1: not quantized, runs in float on the APU: linear resize has no integer form yet
// CHECK-NEXT: node MLA_0/conv2d_transpose_2: not quantized, runs in float on the APU: sima.conv2d_transpose has no integer form yet
// CHECK-NOT:  sima.observe

// The CVU's normalisation stays float and is quantized where the conv reads
// it; the conv's result is dequantized once for the APU's log and the return;
// softmax, left float, reads the log directly and is quantized for the add,
// which reads the conv's integers as they are. The input is returned as it is.
func.func @boundaries(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 255.0 : f64}, quant = !sima.quant<i8, 1.0:-128>} : tensor<1x4x4x2xf32>
  %mean = sima.constant dense<127.5> : tensor<2xf32>
  %w = sima.constant dense<[[[[0.5, -0.25], [1.0, 0.5]]]]> : tensor<1x1x2x2xf32>
  %0 = sima.sub %x, %mean {node = "CVU_0/sub_0", target = "CVU"} : (tensor<1x4x4x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  sima.observe %0 {key = "CVU_0/sub_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -127.5 : f64, max = 127.5 : f64}, quant = !sima.quant<i8, 1.0:0>} : tensor<1x4x4x2xf32>
  %1 = sima.conv2d %0, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, node = "MLA_0/conv2d_relu_1", target = "MLA"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x4x4x2xf32>
  sima.observe %1 {key = "MLA_0/conv2d_relu_1", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 255.0 : f64}, quant = !sima.quant<i8, 1.0:-128>} : tensor<1x4x4x2xf32>
  %2 = sima.log %1 {node = "APU_0/log_2", target = "APU"} : tensor<1x4x4x2xf32>
  sima.observe %2 {key = "APU_0/log_2", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 6.0 : f64}, quant = !sima.quant<i8, 0.027450980392156862:-92>} : tensor<1x4x4x2xf32>
  %3 = sima.softmax %2 {axis = 3 : i64, node = "MLA_1/softmax_3", target = "MLA"} : tensor<1x4x4x2xf32>
  sima.observe %3 {key = "MLA_1/softmax_3", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00392156862745098:-128>} : tensor<1x4x4x2xf32>
  %4 = sima.add %3, %1 {node = "MLA_1/add_4", target = "MLA"} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  sima.observe %4 {key = "MLA_1/add_4", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 256.0 : f64}, quant = !sima.quant<i8, 1.003921568627451:-128>} : tensor<1x4x4x2xf32>
  func.return %x, %4, %1 : tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>
}
// CHECK-LABEL: func.func @boundaries(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) {
// CHECK-NEXT:    %mean = sima.constant dense<1.275000e+02> : tensor<2xf32>
// CHECK-NEXT:    %0 = sima.sub %x, %mean {node = "CVU_0/sub_0", target = "CVU"} : (tensor<1x4x4x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    %1 = sima.quantize %0 {node = "MLA_0/conv2d_relu_1/quantize_in0", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!sima.quant<i8, 1.0:0>>
// CHECK-NEXT:    %2 = sima.constant #sima.ndarray<"MLA_0/conv2d_relu_1.weight.q", tensor<1x1x2x2xi8>
// CHECK-NEXT:    %3 = sima.constant #sima.ndarray<"MLA_0/conv2d_relu_1.weight.bias.q", tensor<2xi32>
// CHECK-NEXT:    %4 = sima.qconv2d %1, %2, %3 {{{.*}}node = "MLA_0/conv2d_relu_1", target = "MLA"} : {{.*}} -> tensor<1x4x4x2x!sima.quant<i8, 1.0:-128>>
// CHECK-NEXT:    %5 = sima.dequantize %4 {node = "MLA_0/conv2d_relu_1/dequantize", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 1.0:-128>>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    %6 = sima.log %5 {node = "APU_0/log_2", target = "APU"} : tensor<1x4x4x2xf32>
// CHECK-NEXT:    %7 = sima.softmax %6 {axis = 3 : i64, node = "MLA_1/softmax_3", target = "APU"} : tensor<1x4x4x2xf32>
// CHECK-NEXT:    %8 = sima.quantize %7 {node = "MLA_1/add_4/quantize_in0", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!sima.quant<i8, 0.00392156862745098:-128>>
// CHECK-NEXT:    %9 = sima.qadd %8, %4 {{{.*}}node = "MLA_1/add_4", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 0.00392156862745098:-128>>, tensor<1x4x4x2x!sima.quant<i8, 1.0:-128>>) -> tensor<1x4x4x2x!sima.quant<i8, 1.003921568627451:-128>>
// CHECK-NEXT:    %10 = sima.dequantize %9 {node = "MLA_1/add_4/dequantize", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 1.003921568627451:-128>>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:    func.return %x, %10, %5 : tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>
// CHECK-NEXT:  }

// layer_norm, linear resize and conv2d_transpose have no integer form yet:
// they stay float (target APU), and the add that reads them quantizes their
// results with their calibrated quantizations.
func.func @no_integer_form(%x: tensor<1x2x2x4xf32>) -> tensor<1x4x4x4xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.011764705882352941:-43>} : tensor<1x2x2x4xf32>
  %g = sima.constant dense<1.0> : tensor<4xf32>
  %wt = sima.constant dense<0.5> : tensor<2x2x4x4xf32>
  %0 = sima.layer_norm %x, %g {axis = -1 : i64, epsilon = 1.0e-05 : f32, node = "MLA_0/layer_norm_0", target = "MLA"} : (tensor<1x2x2x4xf32>, tensor<4xf32>) -> tensor<1x2x2x4xf32>
  sima.observe %0 {key = "MLA_0/layer_norm_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -2.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.01568627450980392:0>} : tensor<1x2x2x4xf32>
  %1 = sima.resize %0 {mode = "linear", coordinate_mode = "half_pixel", nearest_mode = "floor", node = "MLA_0/resize_1", target = "MLA"} : (tensor<1x2x2x4xf32>) -> tensor<1x4x4x4xf32>
  sima.observe %1 {key = "MLA_0/resize_1", method = {name = "min_max"}, stats = {kind = "min_max", min = -2.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.01568627450980392:0>} : tensor<1x4x4x4xf32>
  %2 = sima.conv2d_transpose %0, %wt {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, node = "MLA_0/conv2d_transpose_2", target = "MLA"} : (tensor<1x2x2x4xf32>, tensor<2x2x4x4xf32>) -> tensor<1x4x4x4xf32>
  sima.observe %2 {key = "MLA_0/conv2d_transpose_2", method = {name = "min_max"}, stats = {kind = "min_max", min = -4.0 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.03137254901960784:0>} : tensor<1x4x4x4xf32>
  %3 = sima.add %1, %2 {node = "MLA_0/add_3", target = "MLA"} : (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  sima.observe %3 {key = "MLA_0/add_3", method = {name = "min_max"}, stats = {kind = "min_max", min = -6.0 : f64, max = 6.0 : f64}, quant = !sima.quant<i8, 0.047058823529411764:0>} : tensor<1x4x4x4xf32>
  func.return %3 : tensor<1x4x4x4xf32>
}
// CHECK-LABEL: func.func @no_integer_form
// CHECK-NEXT:    %g = sima.constant dense<1.000000e+00> : tensor<4xf32>
// CHECK-NEXT:    %wt = sima.constant dense<5.000000e-01> : tensor<2x2x4x4xf32>
// CHECK-NEXT:    %0 = sima.layer_norm %x, %g {{{.*}}node = "MLA_0/layer_norm_0", target = "APU"}
// CHECK-NEXT:    %1 = sima.resize %0 {mode = "linear", {{.*}}node = "MLA_0/resize_1", target = "APU"}
// CHECK-NEXT:    %2 = sima.conv2d_transpose %0, %wt {{{.*}}node = "MLA_0/conv2d_transpose_2", target = "APU"}
// CHECK-NEXT:    %3 = sima.quantize %1 {{.*}} -> tensor<1x4x4x4x!sima.quant<i8, 0.01568627450980392:0>>
// CHECK-NEXT:    %4 = sima.quantize %2 {{.*}} -> tensor<1x4x4x4x!sima.quant<i8, 0.03137254901960784:0>>
// CHECK-NEXT:    %5 = sima.qadd %3, %4
// CHECK-NEXT:    %6 = sima.dequantize %5
// CHECK-NEXT:    func.return %6 : tensor<1x4x4x4xf32>
