// RUN: sima-opt %s --split-input-file -p name-nodes | filecheck %s
// RUN: sima-opt %s --split-input-file -p name-nodes,name-nodes | filecheck %s

// Regions are maximal runs of one target (constants skipped), numbered per target;
// the index counts every named op in order; kinds follow the seeds.
func.func @regions_and_kinds(%x: tensor<1x4x4x8xf32>, %v: tensor<1x8xf32>) -> (tensor<1x2xf32>, tensor<1x1x1x8xf32>, tensor<1x4x4x8xi1>, tensor<1x8xf32>) {
  %w = sima.constant dense<1.0> : tensor<1x1x8x8xf32>
  %b = sima.constant dense<1.0> : tensor<8xf32>
  %m = sima.constant dense<1.0> : tensor<8x2xf32>
  %mb = sima.constant dense<1.0> : tensor<2xf32>
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.conv2d %0, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %2 = sima.conv2d %1, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %3 = sima.max_pool %2 {kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, target = "MLA"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %4 = sima.log %3 {target = "APU"} : tensor<1x4x4x8xf32>
  %5 = sima.compare %4, %3 {kind = "gt", target = "APU"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xi1>
  %6 = sima.conv2d %4, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, act_max = 6.0 : f32, target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %7 = sima.global_avg_pool %6 {target = "MLA"} : (tensor<1x4x4x8xf32>) -> tensor<1x1x1x8xf32>
  %8 = sima.reduce %6 {kind = "mean", axes = array<i64: 1, 2>, keepdims = true, target = "APU"} : (tensor<1x4x4x8xf32>) -> tensor<1x1x1x8xf32>
  %9 = sima.add %7, %8 {target = "MLA"} : (tensor<1x1x1x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x1x1x8xf32>
  %10 = sima.dense %v, %m, %mb {act_min = 0.0 : f32, target = "MLA"} : (tensor<1x8xf32>, tensor<8x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %11 = sima.avg_pool %x {kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, count_include_pad = false, target = "MLA"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %12 = sima.mul %v, %v {target = "CVU"} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  func.return %10, %9, %5, %12 : tensor<1x2xf32>, tensor<1x1x1x8xf32>, tensor<1x4x4x8xi1>, tensor<1x8xf32>
}
// CHECK-LABEL: func.func @regions_and_kinds
// CHECK-NOT:     sima.constant {{.*}}node
// CHECK:         %0 = sima.conv2d {{.*}}node = "MLA_0/conv2d_0"}
// CHECK-NEXT:    %1 = sima.conv2d {{.*}}node = "MLA_0/conv2d_add_1"}
// CHECK-NEXT:    %2 = sima.conv2d {{.*}}node = "MLA_0/conv2d_add_relu_2"}
// CHECK-NEXT:    %3 = sima.max_pool {{.*}}node = "MLA_0/max_pool2d_3"}
// CHECK-NEXT:    %4 = sima.log %3 {target = "APU", node = "APU_0/log_4"}
// CHECK-NEXT:    %5 = sima.compare {{.*}}node = "APU_0/compare_gt_5"}
// CHECK-NEXT:    %6 = sima.conv2d {{.*}}node = "MLA_1/conv2d_add_clip_6"}
// CHECK-NEXT:    %7 = sima.global_avg_pool {{.*}}node = "MLA_1/global_avg_pool2d_7"}
// CHECK-NEXT:    %8 = sima.reduce {{.*}}node = "APU_1/reduce_mean_8"}
// CHECK-NEXT:    %9 = sima.add {{.*}}node = "MLA_2/add_9"}
// CHECK-NEXT:    %10 = sima.dense {{.*}}node = "MLA_2/dense_add_relu_10"}
// CHECK-NEXT:    %11 = sima.avg_pool {{.*}}node = "MLA_2/avg_pool2d_11"}
// CHECK-NEXT:    %12 = sima.mul {{.*}}node = "CVU_0/mul_12"}

// -----

// A name set before (the importer's) is replaced and kept as `onnx_name`; a name in
// this pass's own style is not recorded (so a second run changes nothing); an
// existing `onnx_name` is kept.
func.func @renaming(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.relu %x {node = "Relu_12", target = "MLA"} : tensor<4xf32>
  %1 = sima.tanh %0 {node = "APU_3/tanh_9", target = "MLA"} : tensor<4xf32>
  %2 = sima.exp %1 {node = "Exp_7", target = "MLA", onnx_name = "Exp_original"} : tensor<4xf32>
  func.return %2 : tensor<4xf32>
}
// CHECK-LABEL: func.func @renaming
// CHECK-NEXT:    %0 = sima.relu %x {onnx_name = "Relu_12", node = "MLA_0/relu_0", target = "MLA"}
// CHECK-NEXT:    %1 = sima.tanh %0 {node = "MLA_0/tanh_1", target = "MLA"}
// CHECK-NEXT:    %2 = sima.exp %1 {onnx_name = "Exp_original", node = "MLA_0/exp_2", target = "MLA"}

// -----

// Several functions: indices and region numbers run on, so names stay unique in the
// module; a region never spans two functions.
func.func @first(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.relu %x {target = "MLA"} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
func.func @second(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.relu %x {target = "MLA"} : tensor<4xf32>
  %1 = sima.log %0 {target = "APU"} : tensor<4xf32>
  func.return %1 : tensor<4xf32>
}
// CHECK-LABEL: func.func @first
// CHECK-NEXT:    %0 = sima.relu %x {target = "MLA", node = "MLA_0/relu_0"}
// CHECK-LABEL: func.func @second
// CHECK-NEXT:    %0 = sima.relu %x {target = "MLA", node = "MLA_1/relu_1"}
// CHECK-NEXT:    %1 = sima.log %0 {target = "APU", node = "APU_0/log_2"}
