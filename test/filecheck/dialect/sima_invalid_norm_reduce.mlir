// Invalid IR for layer_norm, reduce and argmax (one case per chunk of
// --split-input-file).
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// layer_norm's axis exists.
func.func @layer_norm_axis(%a0: tensor<2x7x32xf32>, %a1: tensor<32xf32>) -> tensor<2x7x32xf32> {
  %0 = sima.layer_norm %a0, %a1 {axis = 3 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x7x32xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
  func.return %0 : tensor<2x7x32xf32>
}
// CHECK: {{^}}sima.layer_norm: axis 3 is out of range [-3, 2] for rank 3{{$}}

// -----

// layer_norm's scale broadcasts to the normalized shape.
func.func @layer_norm_scale_incompatible(%a0: tensor<2x7x32xf32>, %a1: tensor<16xf32>) -> tensor<2x7x32xf32> {
  %0 = sima.layer_norm %a0, %a1 {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x7x32xf32>, tensor<16xf32>) -> tensor<2x7x32xf32>
  func.return %0 : tensor<2x7x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.layer_norm: scale shape [16] must broadcast to the normalized shape [32]{{$}}

// -----

// layer_norm's scale covers no more than the normalized axes.
func.func @layer_norm_scale_too_big(%a0: tensor<2x7x32xf32>, %a1: tensor<7x32xf32>) -> tensor<2x7x32xf32> {
  %0 = sima.layer_norm %a0, %a1 {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x7x32xf32>, tensor<7x32xf32>) -> tensor<2x7x32xf32>
  func.return %0 : tensor<2x7x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.layer_norm: scale shape [7, 32] must broadcast to the normalized shape [32]{{$}}

// -----

// layer_norm's bias broadcasts to the normalized shape.
func.func @layer_norm_bias(%a0: tensor<2x7x32xf32>, %a1: tensor<32xf32>, %a2: tensor<2x32xf32>) -> tensor<2x7x32xf32> {
  %0 = sima.layer_norm %a0, %a1, %a2 {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x7x32xf32>, tensor<32xf32>, tensor<2x32xf32>) -> tensor<2x7x32xf32>
  func.return %0 : tensor<2x7x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.layer_norm: bias shape [2, 32] must broadcast to the normalized shape [32]{{$}}

// -----

// layer_norm's epsilon is positive.
func.func @layer_norm_epsilon(%a0: tensor<2x7x32xf32>, %a1: tensor<32xf32>) -> tensor<2x7x32xf32> {
  %0 = sima.layer_norm %a0, %a1 {axis = -1 : i64, epsilon = 0.000000e+00 : f32} : (tensor<2x7x32xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
  func.return %0 : tensor<2x7x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.layer_norm: epsilon must be positive, got 0.0{{$}}

// -----

// layer_norm is a float op.
func.func @layer_norm_integers(%a0: tensor<2x32xi32>, %a1: tensor<32xi32>) -> tensor<2x32xi32> {
  %0 = sima.layer_norm %a0, %a1 {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x32xi32>, tensor<32xi32>) -> tensor<2x32xi32>
  func.return %0 : tensor<2x32xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.layer_norm: expects a float tensor, got tensor<2x32xi32>{{$}}

// -----

// layer_norm's operands and result share an element type.
func.func @layer_norm_types(%a0: tensor<2x7x32xf32>, %a1: tensor<32xbf16>) -> tensor<2x7x32xf32> {
  %0 = sima.layer_norm %a0, %a1 {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x7x32xf32>, tensor<32xbf16>) -> tensor<2x7x32xf32>
  func.return %0 : tensor<2x7x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.layer_norm: element types must match, got f32, bf16, f32{{$}}

// -----

// layer_norm keeps the input's shape.
func.func @layer_norm_result_shape(%a0: tensor<2x7x32xf32>, %a1: tensor<32xf32>) -> tensor<14x32xf32> {
  %0 = sima.layer_norm %a0, %a1 {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x7x32xf32>, tensor<32xf32>) -> tensor<14x32xf32>
  func.return %0 : tensor<14x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.layer_norm: result shape [14, 32] does not match the expected [2, 7, 32]{{$}}

// -----

// reduce's kind is mean, sum, max or min.
func.func @reduce_kind(%a0: tensor<2x7x32xf32>) -> tensor<2x32xf32> {
  %0 = sima.reduce %a0 {kind = "prod", axes = array<i64: 1>, keepdims = false} : (tensor<2x7x32xf32>) -> tensor<2x32xf32>
  func.return %0 : tensor<2x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reduce: kind must be one of 'mean', 'sum', 'max', 'min', got 'prod'{{$}}

// -----

// reduce names its axes (no ONNX 'empty means all').
func.func @reduce_no_axes(%a0: tensor<2x7x32xf32>) -> tensor<2x7x32xf32> {
  %0 = sima.reduce %a0 {kind = "mean", axes = array<i64>, keepdims = false} : (tensor<2x7x32xf32>) -> tensor<2x7x32xf32>
  func.return %0 : tensor<2x7x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reduce: axes must name at least one axis{{$}}

// -----

// reduce's axes exist.
func.func @reduce_axis_out_of_range(%a0: tensor<2x7x32xf32>) -> tensor<2x32xf32> {
  %0 = sima.reduce %a0 {kind = "mean", axes = array<i64: 1, 3>, keepdims = false} : (tensor<2x7x32xf32>) -> tensor<2x32xf32>
  func.return %0 : tensor<2x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reduce: axis 3 is out of range [-3, 2] for rank 3{{$}}

// -----

// reduce's axes are distinct (1 and -2 are the same axis of a rank-3 tensor).
func.func @reduce_repeated_axis(%a0: tensor<2x7x32xf32>) -> tensor<2x32xf32> {
  %0 = sima.reduce %a0 {kind = "mean", axes = array<i64: 1, -2>, keepdims = false} : (tensor<2x7x32xf32>) -> tensor<2x32xf32>
  func.return %0 : tensor<2x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reduce: axes [1, -2] repeat an axis{{$}}

// -----

// reduce drops the axes without keepdims.
func.func @reduce_result_shape(%a0: tensor<2x7x32xf32>) -> tensor<2x1x32xf32> {
  %0 = sima.reduce %a0 {kind = "mean", axes = array<i64: 1>, keepdims = false} : (tensor<2x7x32xf32>) -> tensor<2x1x32xf32>
  func.return %0 : tensor<2x1x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reduce: result shape [2, 1, 32] does not match the expected [2, 32]{{$}}

// -----

// reduce keeps size-1 axes with keepdims.
func.func @reduce_keepdims_shape(%a0: tensor<2x7x32xf32>) -> tensor<2x32xf32> {
  %0 = sima.reduce %a0 {kind = "mean", axes = array<i64: 1>, keepdims = true} : (tensor<2x7x32xf32>) -> tensor<2x32xf32>
  func.return %0 : tensor<2x32xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reduce: result shape [2, 32] does not match the expected [2, 1, 32]{{$}}

// -----

// reduce keeps the element type.
func.func @reduce_types(%a0: tensor<2x7x32xf32>) -> tensor<2x32xbf16> {
  %0 = sima.reduce %a0 {kind = "mean", axes = array<i64: 1>, keepdims = false} : (tensor<2x7x32xf32>) -> tensor<2x32xbf16>
  func.return %0 : tensor<2x32xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reduce: element types must match, got f32, bf16{{$}}

// -----

// argmax's axis exists.
func.func @argmax_axis(%a0: tensor<2x10xf32>) -> tensor<2xi64> {
  %0 = sima.argmax %a0 {axis = 2 : i64, keepdims = false} : (tensor<2x10xf32>) -> tensor<2xi64>
  func.return %0 : tensor<2xi64>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.argmax: axis 2 is out of range [-2, 1] for rank 2{{$}}

// -----

// argmax's result drops (or keeps as 1) the axis.
func.func @argmax_result_shape(%a0: tensor<2x10xf32>) -> tensor<2xi64> {
  %0 = sima.argmax %a0 {axis = 1 : i64, keepdims = true} : (tensor<2x10xf32>) -> tensor<2xi64>
  func.return %0 : tensor<2xi64>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.argmax: result shape [2] does not match the expected [2, 1]{{$}}

// -----

// argmax gives indices, not values.
func.func @argmax_float_result(%a0: tensor<2x10xf32>) -> tensor<2xf32> {
  %0 = sima.argmax %a0 {axis = 1 : i64, keepdims = false} : (tensor<2x10xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.argmax: result must be an i32 or i64 tensor, got tensor<2xf32>{{$}}

// -----

// argmax's indices are i32 or i64 (i16 could not index a long axis).
func.func @argmax_i16_result(%a0: tensor<2x10xf32>) -> tensor<2xi16> {
  %0 = sima.argmax %a0 {axis = 1 : i64, keepdims = false} : (tensor<2x10xf32>) -> tensor<2xi16>
  func.return %0 : tensor<2xi16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.argmax: result must be an i32 or i64 tensor, got tensor<2xi16>{{$}}
