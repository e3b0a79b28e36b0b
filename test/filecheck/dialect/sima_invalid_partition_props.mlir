// Invalid `target` and fused-clamp properties (one case per chunk of
// --split-input-file): the target is one of the three compute units; a fused
// clamp is a non-empty interval with no NaN bound, on every op that has one.
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Only MLA, APU and CVU are compute units; the message names the node.
func.func @unknown_target(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.relu %x {target = "GPU", node = "MLA_0/relu_0"} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^}}sima.relu 'MLA_0/relu_0': target must be one of 'MLA', 'APU', 'CVU', got 'GPU'{{$}}

// -----

// Targets are upper case, as the node names show them.
func.func @lower_case_target(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.add %a, %b {target = "mla"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.add: target must be one of 'MLA', 'APU', 'CVU', got 'mla'{{$}}

// -----

// The target is a string.
func.func @target_not_a_string(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.relu %a {target = 1 : i64} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}1 : i64 should be of base attribute string{{$}}

// -----

// conv2d: the clamp interval is not empty.
func.func @conv2d_empty_clamp(%x: tensor<1x4x4x3xf32>, %w: tensor<1x1x3x8xf32>) -> tensor<1x4x4x8xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 6.0 : f32, act_max = 0.0 : f32} : (tensor<1x4x4x3xf32>, tensor<1x1x3x8xf32>) -> tensor<1x4x4x8xf32>
  func.return %0 : tensor<1x4x4x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: act_min 6.0 is greater than act_max 0.0{{$}}

// -----

// conv2d_transpose: an upper bound below an absent lower bound is fine, but not below a given one.
func.func @conv2d_transpose_empty_clamp(%x: tensor<1x4x4x3xf32>, %w: tensor<1x1x3x8xf32>) -> tensor<1x4x4x8xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, act_min = 0.0 : f32, act_max = -1.0 : f32, node = "deconv"} : (tensor<1x4x4x3xf32>, tensor<1x1x3x8xf32>) -> tensor<1x4x4x8xf32>
  func.return %0 : tensor<1x4x4x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose 'deconv': act_min 0.0 is greater than act_max -1.0{{$}}

// -----

// dense: the clamp interval is not empty.
func.func @dense_empty_clamp(%x: tensor<1x4xf32>, %w: tensor<4x2xf32>) -> tensor<1x2xf32> {
  %0 = sima.dense %x, %w {act_min = 6.0 : f32, act_max = 0.0 : f32} : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  func.return %0 : tensor<1x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dense: act_min 6.0 is greater than act_max 0.0{{$}}

// -----

// A NaN bound clamps nothing predictably.
func.func @nan_bound(%x: tensor<1x4xf32>, %w: tensor<4x2xf32>) -> tensor<1x2xf32> {
  %0 = sima.dense %x, %w {act_max = 0x7FC00000 : f32} : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  func.return %0 : tensor<1x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dense: act_max must not be NaN{{$}}

// -----

// The bounds are floats.
func.func @integer_bound(%x: tensor<1x4xf32>, %w: tensor<4x2xf32>) -> tensor<1x2xf32> {
  %0 = sima.dense %x, %w {act_min = 0 : i64} : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  func.return %0 : tensor<1x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}0 : i64 should be of base attribute float{{$}}
