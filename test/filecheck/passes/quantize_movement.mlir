// RUN: sima-opt %s -p quantize | filecheck %s

// quantize: data movement, pools and argmax.
// Ops that move or select values (transpose, slice, split, expand, pad,
// nearest resize, max pools) run on the quantized tensor and keep the input's
// quantization, whatever calibration chose for their results (here 1/255:0,
// ignored). A constant pad fills with the zero point (-43), which stands for 0.0.

func.func @movement(%x: tensor<1x4x4x2xf32>) -> (tensor<2x1x4x4xf32>, tensor<1x2x2x2xf32>, tensor<1x4x4x1xf32>, tensor<1x4x4x1xf32>, tensor<2x4x4x2xf32>, tensor<1x6x6x2xf32>, tensor<1x6x4x2xf32>, tensor<1x8x8x2xf32>, tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>) {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.011764705882352941:-43>} : tensor<1x4x4x2xf32>
  %0 = sima.transpose %x {perm = array<i64: 3, 0, 1, 2>, node = "MLA_0/transpose_0", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<2x1x4x4xf32>
  sima.observe %0 {key = "MLA_0/transpose_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 0.5 : f64}, quant = !sima.quant<i8, 0.00392156862745098:0>} : tensor<2x1x4x4xf32>
  %1 = sima.slice %x {starts = array<i64: 0, 0, 0, 0>, ends = array<i64: 1, 4, 4, 2>, steps = array<i64: 1, 2, 2, 1>, node = "MLA_0/slice_1", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %1 {key = "MLA_0/slice_1", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 0.5 : f64}, quant = !sima.quant<i8, 0.00392156862745098:0>} : tensor<1x2x2x2xf32>
  %2:2 = sima.split %x {axis = 3 : i64, node = "MLA_0/split_2", target = "MLA"} : (tensor<1x4x4x2xf32>) -> (tensor<1x4x4x1xf32>, tensor<1x4x4x1xf32>)
  sima.observe %2#0 {key = "MLA_0/split_2:0", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 0.5 : f64}, quant = !sima.quant<i8, 0.00392156862745098:0>} : tensor<1x4x4x1xf32>
  sima.observe %2#1 {key = "MLA_0/split_2:1", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 0.5 : f64}, quant = !sima.quant<i8, 0.00392156862745098:0>} : tensor<1x4x4x1xf32>
  %3 = sima.expand %x {node = "MLA_0/expand_3", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<2x4x4x2xf32>
  sima.observe %3 {key = "MLA_0/expand_3", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 0.5 : f64}, quant = !sima.quant<i8, 0.00392156862745098:0>} : tensor<2x4x4x2xf32>
  %4 = sima.pad %x {pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = 0.0 : f32, node = "MLA_0/pad_4", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x6x6x2xf32>
  sima.observe %4 {key = "MLA_0/pad_4", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 0.5 : f64}, quant = !sima.quant<i8, 0.00392156862745098:0>} : tensor<1x6x6x2xf32>
  %5 = sima.pad %x {pads = array<i64: 0, 1, 0, 0, 0, 1, 0, 0>, mode = "reflect", value = 0.0 : f32, node = "MLA_0/pad_5", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x6x4x2xf32>
  sima.observe %5 {key = "MLA_0/pad_5", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 0.5 : f64}, quant = !sima.quant<i8, 0.00392156862745098:0>} : tensor<1x6x4x2xf32>
  %6 = sima.resize %x {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor", node = "MLA_0/resize_6", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x8x8x2xf32>
  sima.observe %6 {key = "MLA_0/resize_6", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 0.5 : f64}, quant = !sima.quant<i8, 0.00392156862745098:0>} : tensor<1x8x8x2xf32>
  %7 = sima.max_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, node = "MLA_0/max_pool2d_7", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %7 {key = "MLA_0/max_pool2d_7", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 0.5 : f64}, quant = !sima.quant<i8, 0.00392156862745098:0>} : tensor<1x2x2x2xf32>
  %8 = sima.global_max_pool %7 {node = "MLA_0/global_max_pool2d_8", target = "MLA"} : (tensor<1x2x2x2xf32>) -> tensor<1x1x1x2xf32>
  sima.observe %8 {key = "MLA_0/global_max_pool2d_8", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 0.5 : f64}, quant = !sima.quant<i8, 0.00392156862745098:0>} : tensor<1x1x1x2xf32>
  func.return %0, %1, %2#0, %2#1, %3, %4, %5, %6, %7, %8 : tensor<2x1x4x4xf32>, tensor<1x2x2x2xf32>, tensor<1x4x4x1xf32>, tensor<1x4x4x1xf32>, tensor<2x4x4x2xf32>, tensor<1x6x6x2xf32>, tensor<1x6x4x2xf32>, tensor<1x8x8x2xf32>, tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>
}
// CHECK-LABEL: func.func @movement
// CHECK-NEXT:    %0 = sima.quantize %x {node = "MLA_0/transpose_0/quantize_in0", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    %1 = sima.transpose %0 {perm = array<i64: 3, 0, 1, 2>, node = "MLA_0/transpose_0", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<2x1x4x4x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    %2 = sima.dequantize %1 {node = "MLA_0/transpose_0/dequantize", target = "MLA"} : (tensor<2x1x4x4x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<2x1x4x4xf32>
// CHECK-NEXT:    %3 = sima.slice %0 {{.*}} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    sima.dequantize %3
// CHECK-NEXT:    %5, %6 = sima.split %0 {axis = 3 : i64, node = "MLA_0/split_2", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> (tensor<1x4x4x1x!sima.quant<i8, 0.011764705882352941:-43>>, tensor<1x4x4x1x!sima.quant<i8, 0.011764705882352941:-43>>)
// CHECK-NEXT:    sima.dequantize %5
// CHECK-NEXT:    sima.dequantize %6
// CHECK-NEXT:    %9 = sima.expand %0 {{.*}} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<2x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    sima.dequantize %9
// CHECK-NEXT:    %11 = sima.pad %0 {pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = -4.300000e+01 : f32, node = "MLA_0/pad_4", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x6x6x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    sima.dequantize %11
// CHECK-NEXT:    %13 = sima.pad %0 {pads = array<i64: 0, 1, 0, 0, 0, 1, 0, 0>, mode = "reflect", value = 0.000000e+00 : f32, node = "MLA_0/pad_5", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x6x4x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    sima.dequantize %13
// CHECK-NEXT:    %15 = sima.resize %0 {mode = "nearest", {{.*}}} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x8x8x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    sima.dequantize %15
// CHECK-NEXT:    %17 = sima.max_pool %0 {{.*}} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    sima.dequantize %17
// CHECK-NEXT:    %19 = sima.global_max_pool %17 {{.*}} : (tensor<1x2x2x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x1x1x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    sima.dequantize %19
// CHECK-NEXT:    func.return

// concat takes its calibrated quantization (8/255:0). A float input is
// quantized straight to it (%a, and %c, whose quantize the table op already
// made); an input of another quantization is requantized (the max pool's,
// 3/255:-43: (3/255) / (8/255) = 0.375 = 96 * 2**-8); one of the same is read as is.

func.func @concat(%a: tensor<1x2x2x2xf32>, %c: tensor<1x2x2x3xf32>) -> tensor<1x2x2x10xf32> {
  sima.observe %a {key = "a", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.011764705882352941:-43>} : tensor<1x2x2x2xf32>
  sima.observe %c {key = "c", method = {name = "min_max"}, stats = {kind = "min_max", min = -4.0 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.03137254901960784:0>} : tensor<1x2x2x3xf32>
  %0 = sima.max_pool %a {kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, node = "MLA_0/max_pool2d_0", target = "MLA"} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %0 {key = "MLA_0/max_pool2d_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.011764705882352941:-43>} : tensor<1x2x2x2xf32>
  %1 = sima.neg %c {node = "MLA_0/neg_1", target = "MLA"} : tensor<1x2x2x3xf32>
  sima.observe %1 {key = "MLA_0/neg_1", method = {name = "min_max"}, stats = {kind = "min_max", min = -4.0 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.03137254901960784:0>} : tensor<1x2x2x3xf32>
  %2 = sima.concat %a, %0, %c, %1 {axis = 3 : i64, node = "MLA_0/concat_2", target = "MLA"} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>, tensor<1x2x2x3xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x2x10xf32>
  sima.observe %2 {key = "MLA_0/concat_2", method = {name = "min_max"}, stats = {kind = "min_max", min = -4.0 : f64, max = 4.0 : f64}, quant = !sima.quant<i8, 0.03137254901960784:0>} : tensor<1x2x2x10xf32>
  func.return %2 : tensor<1x2x2x10xf32>
}
// CHECK-LABEL: func.func @concat
// CHECK-NEXT:    %0 = sima.quantize %a {{.*}} -> tensor<1x2x2x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    %1 = sima.max_pool %0
// CHECK-NEXT:    %2 = sima.quantize %c {node = "MLA_0/neg_1/quantize_in0", target = "MLA"} : (tensor<1x2x2x3xf32>) -> tensor<1x2x2x3x!sima.quant<i8, 0.03137254901960784:0>>
// CHECK-NEXT:    %3 = sima.constant #sima.ndarray<"MLA_0/neg_1.table", tensor<256xi8>
// CHECK-NEXT:    %4 = sima.lut %2, %3
// CHECK-NEXT:    %5 = sima.quantize %a {node = "MLA_0/concat_2/quantize_in0", target = "MLA"} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2x!sima.quant<i8, 0.03137254901960784:0>>
// CHECK-NEXT:    %6 = sima.requantize %1 {multiplier = 96 : i64, shift = 8 : i64, left_shift = 0 : i64, node = "MLA_0/concat_2/requantize_in1", target = "MLA"} : (tensor<1x2x2x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.03137254901960784:0>>
// CHECK-NEXT:    %7 = sima.concat %5, %6, %2, %4 {axis = 3 : i64, node = "MLA_0/concat_2", target = "MLA"} : ({{.*}}) -> tensor<1x2x2x10x!sima.quant<i8, 0.03137254901960784:0>>
// CHECK-NEXT:    %8 = sima.dequantize %7
// CHECK-NEXT:    func.return %8

// Average pools sum in int32 and fold the divisor into the requantization:
// without count_include_pad, one (multiplier, shift) per number of valid taps c
// (here the same quantization in and out: 1/c, 64 * 2**-6, 64 * 2**-7, 85 * 2**-8 ...
// 114 * 2**-10); the global pool divides by 16 and doubles the step: 64 * 2**-9.
// argmax reads the quantized tensor (quantization keeps the order) and returns
// its index tensor as it is.
func.func @pools_argmax(%x: tensor<1x4x4x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>, tensor<1x4x4xi64>) {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.011764705882352941:-43>} : tensor<1x4x4x2xf32>
  %0 = sima.avg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, count_include_pad = false, node = "MLA_0/avg_pool2d_0", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %0 {key = "MLA_0/avg_pool2d_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.011764705882352941:-43>} : tensor<1x2x2x2xf32>
  %1 = sima.global_avg_pool %x {node = "MLA_0/global_avg_pool2d_1", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x1x1x2xf32>
  sima.observe %1 {key = "MLA_0/global_avg_pool2d_1", method = {name = "min_max"}, stats = {kind = "min_max", min = -0.5 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.0058823529411764705:-43>} : tensor<1x1x1x2xf32>
  %2 = sima.argmax %x {axis = 3 : i64, keepdims = false, node = "MLA_0/argmax_2", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4xi64>
  func.return %0, %1, %2 : tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>, tensor<1x4x4xi64>
}
// CHECK-LABEL: func.func @pools_argmax
// CHECK-NEXT:    %0 = sima.quantize %x
// CHECK-NEXT:    %1 = sima.qavg_pool %0 {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, count_include_pad = false, multiplier = array<i64: 64, 64, 85, 64, 102, 85, 73, 64, 114>, shift = array<i64: 6, 7, 8, 8, 9, 9, 9, 9, 10>, node = "MLA_0/avg_pool2d_0", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.011764705882352941:-43>>
// CHECK-NEXT:    %2 = sima.dequantize %1
// CHECK-NEXT:    %3 = sima.qglobal_avg_pool %0 {multiplier = 64 : i64, shift = 9 : i64, node = "MLA_0/global_avg_pool2d_1", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x1x1x2x!sima.quant<i8, 0.0058823529411764705:-43>>
// CHECK-NEXT:    %4 = sima.dequantize %3
// CHECK-NEXT:    %5 = sima.argmax %0 {axis = 3 : i64, keepdims = false, node = "MLA_0/argmax_2", target = "MLA"} : (tensor<1x4x4x2x!sima.quant<i8, 0.011764705882352941:-43>>) -> tensor<1x4x4xi64>
// CHECK-NEXT:    func.return %2, %4, %5 : tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>, tensor<1x4x4xi64>
