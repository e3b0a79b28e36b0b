// Invalid IR for sima.conv2d_transpose: every shape rule of
// shapes.conv2d_transpose_output_shape, the bias and element type checks (one
// case per chunk of --split-input-file).
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// The input is NHWC.
func.func @rank3_input(%x: tensor<4x4x8xf32>, %w: tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 1 : i64} : (tensor<4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32>
  func.return %0 : tensor<1x8x8x2xf32>
}
// CHECK: {{^}}sima.conv2d_transpose: input must be rank 4 (NHWC), got rank 3{{$}}

// -----

// The weight is [KH, KW, C_in, C_out/groups].
func.func @rank2_weight(%x: tensor<1x4x4x8xf32>, %w: tensor<8x2xf32>) -> tensor<1x8x8x2xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<8x2xf32>) -> tensor<1x8x8x2xf32>
  func.return %0 : tensor<1x8x8x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: weight must be rank 4 [KH, KW, C_in, C_out/groups], got rank 2{{$}}

// -----

// Strides are positive (the window checks of conv2d apply).
func.func @zero_stride(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 2, 0>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32>
  func.return %0 : tensor<1x8x8x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: strides must be 2 positive integers, got [2, 0]{{$}}

// -----

// Two output paddings.
func.func @one_output_padding(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32>
  func.return %0 : tensor<1x8x8x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: output_padding must be 2 non-negative integers, got [1]{{$}}

// -----

// Output padding is below the stride (or the dilation).
func.func @output_padding_too_big(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 2, 0>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32>
  func.return %0 : tensor<1x8x8x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: height: output_padding 2 must be smaller than the stride 2 or the dilation 1{{$}}

// -----

// The weight's C_in is the input's channel count.
func.func @weight_channels(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x4x2xf32>) -> tensor<1x8x8x2xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x4x2xf32>) -> tensor<1x8x8x2xf32>
  func.return %0 : tensor<1x8x8x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: weight has 4 input channels, but the input has 8{{$}}

// -----

// groups is positive.
func.func @zero_groups(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 0 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32>
  func.return %0 : tensor<1x8x8x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: groups must be positive, got 0{{$}}

// -----

// groups divides the input channels.
func.func @groups_not_dividing(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 3 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xf32>
  func.return %0 : tensor<1x8x8x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: groups 3 must divide input channels 8{{$}}

// -----

// Padding cannot remove the whole output.
func.func @output_not_positive(%x: tensor<1x1x1x8xf32>, %w: tensor<1x1x8x2xf32>) -> tensor<1x1x1x2xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 0, 1, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64} : (tensor<1x1x1x8xf32>, tensor<1x1x8x2xf32>) -> tensor<1x1x1x2xf32>
  func.return %0 : tensor<1x1x1x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: output size -1x1 is not positive: pads [1, 0, 1, 0] remove more than the whole output{{$}}

// -----

// The bias has one entry per output channel (C_out/groups x groups).
func.func @bias_shape(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>, %b: tensor<2xf32>) -> tensor<1x8x8x4xf32> {
  %0 = sima.conv2d_transpose %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 2 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<2xf32>) -> tensor<1x8x8x4xf32>
  func.return %0 : tensor<1x8x8x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: bias shape [2] must be [4] (one per output channel){{$}}

// -----

// The result shape follows the transposed window arithmetic.
func.func @result_shape(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>) -> tensor<1x7x7x2xf32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x7x7x2xf32>
  func.return %0 : tensor<1x7x7x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: result shape [1, 7, 7, 2] does not match the expected [1, 8, 8, 2]{{$}}

// -----

// The result has the input's element type.
func.func @result_type(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xi32> {
  %0 = sima.conv2d_transpose %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x8x8x2xi32>
  func.return %0 : tensor<1x8x8x2xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d_transpose: element types must match, got f32, f32, i32{{$}}
