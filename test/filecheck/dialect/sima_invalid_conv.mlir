// Invalid IR for sima.conv2d: every shape rule of shapes.conv2d_output_shape, the
// bias and element type checks, and the property types (one case per chunk of
// --split-input-file).
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// The input is NHWC.
func.func @rank3_input(%x: tensor<8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^}}sima.conv2d: input must be rank 4 (NHWC), got rank 3{{$}}

// -----

// The weight is HWIO.
func.func @rank3_weight(%x: tensor<1x8x8x4xf32>, %w: tensor<3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: weight must be rank 4 (HWIO), got rank 3{{$}}

// -----

// Two strides.
func.func @one_stride(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: strides must be 2 positive integers, got [1]{{$}}

// -----

// Strides are positive.
func.func @zero_stride(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 0, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: strides must be 2 positive integers, got [0, 1]{{$}}

// -----

// Four pads.
func.func @three_pads(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: pads must be 4 non-negative integers [top, left, bottom, right], got [1, 1, 1]{{$}}

// -----

// Pads are non-negative.
func.func @negative_pad(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: -1, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: pads must be 4 non-negative integers [top, left, bottom, right], got [-1, 0, 0, 0]{{$}}

// -----

// Dilations are positive.
func.func @zero_dilation(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 0>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: dilations must be 2 positive integers, got [1, 0]{{$}}

// -----

// groups is positive.
func.func @zero_groups(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 0 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: groups must be positive, got 0{{$}}

// -----

// groups divides both channel counts.
func.func @groups_not_dividing(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x15xf32>) -> tensor<1x6x6x15xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 3 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x15xf32>) -> tensor<1x6x6x15xf32>
  func.return %0 : tensor<1x6x6x15xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: groups 3 must divide input channels 4 and output channels 15{{$}}

// -----

// The weight's input channels times groups is the input's channel count.
func.func @weight_channels(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x2x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x2x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: weight has 2 input channels per group, x 1 groups = 2, but the input has 4 channels{{$}}

// -----

// The window must fit in the (padded) height.
func.func @window_too_tall(%x: tensor<1x2x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: height: window 3 (dilation 1) does not fit input size 2 with total padding 0{{$}}

// -----

// The dilated window must fit in the width.
func.func @dilated_window_too_wide(%x: tensor<1x8x4x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 2>, groups = 1 : i64} : (tensor<1x8x4x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: width: window 3 (dilation 2) does not fit input size 4 with total padding 0{{$}}

// -----

// The bias has one entry per output channel.
func.func @bias_shape(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>, %b: tensor<8xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>, tensor<8xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: bias shape [8] must be [16] (one per output channel){{$}}

// -----

// The bias has the input's element type.
func.func @bias_type(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>, %b: tensor<16xbf16>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>, tensor<16xbf16>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: element types must match, got f32, f32, bf16, f32{{$}}

// -----

// The weight has the input's element type.
func.func @weight_type(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xi8>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xi8>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d: element types must match, got f32, i8, f32{{$}}

// -----

// The result shape follows the window arithmetic; the message names the node.
func.func @result_shape(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x8x8x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_0"} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x8x8x16xf32>
  func.return %0 : tensor<1x8x8x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.conv2d 'MLA_0/conv2d_0': result shape [1, 8, 8, 16] does not match the expected [1, 6, 6, 16]{{$}}

// -----

// Window properties are i64 arrays.
func.func @i32_strides(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i32: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}Expected attribute i64 but got i32{{$}}

// -----

// Window properties are integer arrays.
func.func @float_strides(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<f32: 1.0, 1.0>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}Expected attribute i64 but got f32{{$}}

// -----

// groups is an i64 integer.
func.func @i32_groups(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32> {
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i32} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x6x6x16xf32>
  func.return %0 : tensor<1x6x6x16xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}Expected attribute i64 but got i32{{$}}
