// RUN: sima-opt %s --split-input-file -p insert-observers | filecheck %s
// RUN: sima-opt %s --split-input-file -p 'insert-observers{method=percentile num_bins=256 percentile=99.5}' | filecheck %s --check-prefix=PCT
// RUN: sima-opt %s --split-input-file -p insert-observers,insert-observers | filecheck %s --check-prefix=TWICE

// Inputs (by their sima.name) and every float result are observed; constants are not.
func.func @conv_relu(%x: tensor<1x4x4x3xf32> {sima.name = "image"}) -> tensor<1x4x4x8xf32> {
  %w = sima.constant dense<1.0> : tensor<3x3x3x8xf32>
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_0"} : (tensor<1x4x4x3xf32>, tensor<3x3x3x8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.relu %0 : tensor<1x4x4x8xf32>
  func.return %1 : tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @conv_relu
// CHECK-NEXT:    sima.observe %x {key = "image", method = {name = "mse"}} : tensor<1x4x4x3xf32>
// CHECK-NEXT:    %w = sima.constant
// CHECK-NOT:     sima.observe %w
// CHECK-NEXT:    %0 = sima.conv2d
// CHECK-NEXT:    sima.observe %0 {key = "MLA_0/conv2d_0", method = {name = "mse"}} : tensor<1x4x4x8xf32>
// CHECK-NEXT:    %1 = sima.relu %0
// CHECK-NEXT:    sima.observe %1 {key = "t0", method = {name = "mse"}} : tensor<1x4x4x8xf32>
// CHECK-NEXT:    func.return %1

// PCT: sima.observe %x {key = "image", method = {name = "percentile", percentile = 9.950000e+01 : f64, num_bins = 256 : i64}}

// Running the pass again adds no second observer.
// TWICE-LABEL: func.func @conv_relu
// TWICE-COUNT-3: sima.observe
// TWICE-NOT:     sima.observe
// TWICE:         func.return

// -----

// Integer tensors (indices, masks) are not observed; unnamed arguments use their name hint;
// each result of a multi-result op gets its own key.
func.func @mixed(%ids: tensor<1x4xi64>, %y: tensor<1x4xf32>) -> (tensor<1x4xi1>, tensor<1x2xf32>, tensor<1x2xf32>) {
  %m = sima.compare %y, %y {kind = "gt"} : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xi1>
  %a, %b = sima.split %y {axis = 1 : i64, node = "split"} : (tensor<1x4xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>)
  func.return %m, %a, %b : tensor<1x4xi1>, tensor<1x2xf32>, tensor<1x2xf32>
}
// CHECK-LABEL: func.func @mixed
// CHECK-NOT:     sima.observe %ids
// CHECK:         sima.observe %y {key = "y"
// CHECK-NOT:     sima.observe %m
// CHECK:         sima.observe %a {key = "split:0"
// CHECK-NEXT:    sima.observe %b {key = "split:1"
