// Invalid IR for pad, resize, expand and gather (one case per chunk of
// --split-input-file).
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// pad's mode is constant, reflect or edge.
func.func @pad_mode(%a0: tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xf32> {
  %0 = sima.pad %a0 {pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "wrap", value = 0.000000e+00 : f32} : (tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xf32>
  func.return %0 : tensor<1x6x6x8xf32>
}
// CHECK: {{^}}sima.pad: mode must be one of 'constant', 'reflect', 'edge', got 'wrap'{{$}}

// -----

// pad has a begin and an end per axis.
func.func @pad_entries(%a0: tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xf32> {
  %0 = sima.pad %a0 {pads = array<i64: 1, 1, 1, 1>, mode = "constant", value = 0.000000e+00 : f32} : (tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xf32>
  func.return %0 : tensor<1x6x6x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.pad: pads needs 8 entries (begins then ends), got 4{{$}}

// -----

// pad only grows (cropping is a slice).
func.func @pad_negative(%a0: tensor<1x4x4x8xf32>) -> tensor<1x3x4x8xf32> {
  %0 = sima.pad %a0 {pads = array<i64: 0, -1, 0, 0, 0, 0, 0, 0>, mode = "constant", value = 0.000000e+00 : f32} : (tensor<1x4x4x8xf32>) -> tensor<1x3x4x8xf32>
  func.return %0 : tensor<1x3x4x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.pad: pads must be non-negative, got [0, -1, 0, 0, 0, 0, 0, 0]{{$}}

// -----

// pad cannot leave an empty dimension.
func.func @pad_empty(%a0: tensor<0x4xf32>) -> tensor<0x4xf32> {
  %0 = sima.pad %a0 {pads = array<i64: 0, 0, 0, 0>, mode = "constant", value = 0.000000e+00 : f32} : (tensor<0x4xf32>) -> tensor<0x4xf32>
  func.return %0 : tensor<0x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.pad: padding [0, 0, 0, 0] leaves an empty dimension{{$}}

// -----

// pad's result grows by begins + ends.
func.func @pad_result_shape(%a0: tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xf32> {
  %0 = sima.pad %a0 {pads = array<i64: 0, 1, 1, 0, 0, 1, 0, 0>, mode = "constant", value = 0.000000e+00 : f32} : (tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xf32>
  func.return %0 : tensor<1x6x6x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.pad: result shape [1, 6, 6, 8] does not match the expected [1, 6, 5, 8]{{$}}

// -----

// pad keeps the element type.
func.func @pad_types(%a0: tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xbf16> {
  %0 = sima.pad %a0 {pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = 0.000000e+00 : f32} : (tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xbf16>
  func.return %0 : tensor<1x6x6x8xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.pad: element types must match, got f32, bf16{{$}}

// -----

// resize's mode is nearest or linear.
func.func @resize_mode(%a0: tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32> {
  %0 = sima.resize %a0 {mode = "cubic", coordinate_mode = "asymmetric", nearest_mode = "floor"} : (tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32>
  func.return %0 : tensor<1x8x8x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.resize: mode must be one of 'nearest', 'linear', got 'cubic'{{$}}

// -----

// resize's coordinate mode is one of ONNX's supported four.
func.func @resize_coordinate_mode(%a0: tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32> {
  %0 = sima.resize %a0 {mode = "nearest", coordinate_mode = "tf_crop_and_resize", nearest_mode = "floor"} : (tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32>
  func.return %0 : tensor<1x8x8x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.resize: coordinate_mode must be one of 'half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', got 'tf_crop_and_resize'{{$}}

// -----

// resize's nearest mode is one of ONNX's four.
func.func @resize_nearest_mode(%a0: tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32> {
  %0 = sima.resize %a0 {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "round"} : (tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32>
  func.return %0 : tensor<1x8x8x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.resize: nearest_mode must be one of 'round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil', got 'round'{{$}}

// -----

// resize takes and gives NHWC.
func.func @resize_rank(%a0: tensor<4x4x8xf32>) -> tensor<8x8x8xf32> {
  %0 = sima.resize %a0 {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"} : (tensor<4x4x8xf32>) -> tensor<8x8x8xf32>
  func.return %0 : tensor<8x8x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.resize: input and result must be rank 4 (NHWC){{$}}

// -----

// resize changes only H and W.
func.func @resize_channels(%a0: tensor<1x4x4x8xf32>) -> tensor<1x8x8x4xf32> {
  %0 = sima.resize %a0 {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"} : (tensor<1x4x4x8xf32>) -> tensor<1x8x8x4xf32>
  func.return %0 : tensor<1x8x8x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.resize: resize changes only H and W; got [1, 4, 4, 8] -> [1, 8, 8, 4]{{$}}

// -----

// resize is a float op.
func.func @resize_integers(%a0: tensor<1x4x4x8xi8>) -> tensor<1x8x8x8xi8> {
  %0 = sima.resize %a0 {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"} : (tensor<1x4x4x8xi8>) -> tensor<1x8x8x8xi8>
  func.return %0 : tensor<1x8x8x8xi8>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.resize: expects a float tensor, got tensor<1x4x4x8xi8>{{$}}

// -----

// resize keeps the element type.
func.func @resize_types(%a0: tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xbf16> {
  %0 = sima.resize %a0 {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"} : (tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xbf16>
  func.return %0 : tensor<1x8x8x8xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.resize: element types must match, got f32, bf16{{$}}

// -----

// expand's input must broadcast to the result.
func.func @expand_incompatible(%a0: tensor<3xf32>) -> tensor<2x4xf32> {
  %0 = sima.expand %a0 : (tensor<3xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.expand: shapes (3,) and (2, 4) do not broadcast (dimension 1 of the result has sizes [3, 4]){{$}}

// -----

// expand cannot shrink.
func.func @expand_shrinks(%a0: tensor<4xf32>) -> tensor<2x1xf32> {
  %0 = sima.expand %a0 : (tensor<4xf32>) -> tensor<2x1xf32>
  func.return %0 : tensor<2x1xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.expand: input [4] does not broadcast to [2, 1]{{$}}

// -----

// expand keeps the element type.
func.func @expand_types(%a0: tensor<4xf32>) -> tensor<2x4xi32> {
  %0 = sima.expand %a0 : (tensor<4xf32>) -> tensor<2x4xi32>
  func.return %0 : tensor<2x4xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.expand: element types must match, got f32, i32{{$}}

// -----

// gather's indices are integers.
func.func @gather_float_indices(%a0: tensor<10x4xf32>, %a1: tensor<3xf32>) -> tensor<3x4xf32> {
  %0 = sima.gather %a0, %a1 {axis = 0 : i64} : (tensor<10x4xf32>, tensor<3xf32>) -> tensor<3x4xf32>
  func.return %0 : tensor<3x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.gather: indices must be an integer tensor, got tensor<3xf32>{{$}}

// -----

// gather's indices are not a mask.
func.func @gather_mask_indices(%a0: tensor<10x4xf32>, %a1: tensor<3xi1>) -> tensor<3x4xf32> {
  %0 = sima.gather %a0, %a1 {axis = 0 : i64} : (tensor<10x4xf32>, tensor<3xi1>) -> tensor<3x4xf32>
  func.return %0 : tensor<3x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.gather: indices must be an integer tensor, got tensor<3xi1>{{$}}

// -----

// gather's axis exists.
func.func @gather_axis(%a0: tensor<10x4xf32>, %a1: tensor<3xi64>) -> tensor<3x4xf32> {
  %0 = sima.gather %a0, %a1 {axis = 2 : i64} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  func.return %0 : tensor<3x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.gather: axis 2 is out of range [-2, 1] for rank 2{{$}}

// -----

// gather's result replaces the axis by the indices' shape.
func.func @gather_result_shape(%a0: tensor<10x4xf32>, %a1: tensor<2x3xi64>) -> tensor<6x4xf32> {
  %0 = sima.gather %a0, %a1 {axis = 0 : i64} : (tensor<10x4xf32>, tensor<2x3xi64>) -> tensor<6x4xf32>
  func.return %0 : tensor<6x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.gather: result shape [6, 4] does not match the expected [2, 3, 4]{{$}}

// -----

// gather keeps the data's element type.
func.func @gather_types(%a0: tensor<10x4xf32>, %a1: tensor<3xi32>) -> tensor<3x4xi32> {
  %0 = sima.gather %a0, %a1 {axis = 0 : i64} : (tensor<10x4xf32>, tensor<3xi32>) -> tensor<3x4xi32>
  func.return %0 : tensor<3x4xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.gather: element types must match, got f32, i32{{$}}
