// Invalid IR for the pooling ops: shapes.pool_output_shape's rules, the result
// shape and element type of max_pool, avg_pool and the global pools (one case
// per chunk of --split-input-file).
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// The input is NHWC.
func.func @max_pool_rank3(%x: tensor<8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %0 = sima.max_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x8x4xf32>) -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^}}sima.max_pool: input must be rank 4 (NHWC), got rank 3{{$}}

// -----

// Two kernel sizes.
func.func @max_pool_one_kernel_size(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %0 = sima.max_pool %x {kernel = array<i64: 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.max_pool: kernel must be 2 positive integers, got [3]{{$}}

// -----

// Kernel sizes are positive.
func.func @max_pool_zero_kernel(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %0 = sima.max_pool %x {kernel = array<i64: 0, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.max_pool: kernel must be 2 positive integers, got [0, 3]{{$}}

// -----

// Dilations are positive.
func.func @max_pool_zero_dilation(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %0 = sima.max_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 0, 1>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.max_pool: dilations must be 2 positive integers, got [0, 1]{{$}}

// -----

// Padding is smaller than the kernel (ONNX's rule).
func.func @max_pool_pad_as_big_as_window(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %0 = sima.max_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 2, 0>, dilations = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.max_pool: pads [0, 0, 2, 0] must be smaller than the kernel [2, 2]{{$}}

// -----

// Every dilated window holds an input element (a max over padding alone is undefined).
func.func @max_pool_window_over_padding_only(%x: tensor<1x1x1x4xf32>) -> tensor<1x1x1x4xf32> {
  %0 = sima.max_pool %x {kernel = array<i64: 1, 2>, strides = array<i64: 1, 1>, pads = array<i64: 0, 1, 0, 1>, dilations = array<i64: 1, 2>} : (tensor<1x1x1x4xf32>) -> tensor<1x1x1x4xf32>
  func.return %0 : tensor<1x1x1x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.max_pool: width: window 0 (kernel 2, dilation 2) covers only padding of the input size 1{{$}}

// -----

// The window fits in the padded input.
func.func @max_pool_window_too_big(%x: tensor<1x2x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %0 = sima.max_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x2x8x4xf32>) -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.max_pool: height: window 3 (dilation 1) does not fit input size 2 with total padding 0{{$}}

// -----

// max_pool's result shape follows the window arithmetic.
func.func @max_pool_result_shape(%x: tensor<1x8x8x4xf32>) -> tensor<1x3x3x4xf32> {
  %0 = sima.max_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>) -> tensor<1x3x3x4xf32>
  func.return %0 : tensor<1x3x3x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.max_pool: result shape [1, 3, 3, 4] does not match the expected [1, 4, 4, 4]{{$}}

// -----

// max_pool keeps the element type.
func.func @max_pool_result_type(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xbf16> {
  %0 = sima.max_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xbf16>
  func.return %0 : tensor<1x4x4x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.max_pool: element types must match, got f32, bf16{{$}}

// -----

// avg_pool's strides are positive.
func.func @avg_pool_zero_stride(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %0 = sima.avg_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 0>, pads = array<i64: 0, 0, 0, 0>, count_include_pad = false} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.avg_pool: strides must be 2 positive integers, got [2, 0]{{$}}

// -----

// avg_pool's result shape follows the window arithmetic.
func.func @avg_pool_result_shape(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %0 = sima.avg_pool %x {kernel = array<i64: 2, 3>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, count_include_pad = false} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.avg_pool: result shape [1, 4, 4, 4] does not match the expected [1, 4, 3, 4]{{$}}

// -----

// avg_pool keeps the element type.
func.func @avg_pool_result_type(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xi8> {
  %0 = sima.avg_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, count_include_pad = false} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xi8>
  func.return %0 : tensor<1x4x4x4xi8>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.avg_pool: element types must match, got f32, i8{{$}}

// -----

// avg_pool's count_include_pad is required.
func.func @avg_pool_count_include_pad_missing(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %0 = sima.avg_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}property 'count_include_pad' expected in operation 'sima.avg_pool'{{$}}

// -----

// Global pools take NHWC.
func.func @global_avg_pool_rank2(%x: tensor<8x4xf32>) -> tensor<1x4xf32> {
  %0 = sima.global_avg_pool %x : (tensor<8x4xf32>) -> tensor<1x4xf32>
  func.return %0 : tensor<1x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.global_avg_pool: input must be rank 4 (NHWC), got rank 2{{$}}

// -----

// A global pool gives [N, 1, 1, C].
func.func @global_max_pool_result_shape(%x: tensor<1x8x8x4xf32>) -> tensor<1x4xf32> {
  %0 = sima.global_max_pool %x : (tensor<1x8x8x4xf32>) -> tensor<1x4xf32>
  func.return %0 : tensor<1x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.global_max_pool: result shape [1, 4] does not match the expected [1, 1, 1, 4]{{$}}

// -----

// A global pool keeps the element type.
func.func @global_avg_pool_result_type(%x: tensor<1x8x8x4xf32>) -> tensor<1x1x1x4xbf16> {
  %0 = sima.global_avg_pool %x : (tensor<1x8x8x4xf32>) -> tensor<1x1x1x4xbf16>
  func.return %0 : tensor<1x1x1x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.global_avg_pool: element types must match, got f32, bf16{{$}}
