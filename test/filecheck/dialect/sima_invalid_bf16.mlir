// Invalid IR for the bfloat16 scheme's ops (sima_dialect/bfloat16_ops.py): every
// verifier message, one case per chunk of --split-input-file: bf16 activations,
// bf16 or i8 weights, f32 bias and scale per output channel, shapes, the fused
// clamp, the 65536-entry table, the pool's rank.
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// The input of a bf16 convolution is bf16 (a float region is entered with sima.cast).
func.func @conv_f32_input(%x: tensor<1x4x4x2xf32>, %w: tensor<1x1x2x4xbf16>, %b: tensor<4xf32>) -> tensor<1x4x4x4xbf16> {
  %0 = sima.bf16_conv2d %x, %w, %b, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_0"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x4xbf16>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xbf16>
  func.return %0 : tensor<1x4x4x4xbf16>
}
// CHECK: {{^}}sima.bf16_conv2d 'MLA_0/conv2d_0': input must be a bf16 tensor, got tensor<1x4x4x2xf32>{{$}}

// -----

// Weights are bf16 (bf16 weight scheme) or i8 (integer weights), nothing else.
func.func @conv_f32_weight(%x: tensor<1x4x4x2xbf16>, %w: tensor<1x1x2x4xf32>, %b: tensor<4xf32>) -> tensor<1x4x4x4xbf16> {
  %0 = sima.bf16_conv2d %x, %w, %b, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xbf16>, tensor<1x1x2x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xbf16>
  func.return %0 : tensor<1x4x4x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_conv2d: weight must be a bf16 or i8 tensor, got tensor<1x1x2x4xf32>{{$}}

// -----

// One f32 bias per output channel.
func.func @conv_bias_length(%x: tensor<1x4x4x2xbf16>, %w: tensor<1x1x2x4xi8>, %b: tensor<3xf32>, %s: tensor<4xf32>) -> tensor<1x4x4x4xbf16> {
  %0 = sima.bf16_conv2d %x, %w, %b, %s {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xbf16>, tensor<1x1x2x4xi8>, tensor<3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xbf16>
  func.return %0 : tensor<1x4x4x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_conv2d: bias must be tensor<4xf32> (one per output channel), got tensor<3xf32>{{$}}

// -----

// The scale (1 / weight scale, or ones) is f32 too.
func.func @conv_bf16_scale(%x: tensor<1x4x4x2xbf16>, %w: tensor<1x1x2x4xi8>, %b: tensor<4xf32>, %s: tensor<4xbf16>) -> tensor<1x4x4x4xbf16> {
  %0 = sima.bf16_conv2d %x, %w, %b, %s {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xbf16>, tensor<1x1x2x4xi8>, tensor<4xf32>, tensor<4xbf16>) -> tensor<1x4x4x4xbf16>
  func.return %0 : tensor<1x4x4x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_conv2d: scale must be tensor<4xf32> (one per output channel), got tensor<4xbf16>{{$}}

// -----

// The result has the convolution's shape (stride 2: 2x2).
func.func @conv_result_shape(%x: tensor<1x4x4x2xbf16>, %w: tensor<1x1x2x4xbf16>, %b: tensor<4xf32>) -> tensor<1x4x4x4xbf16> {
  %0 = sima.bf16_conv2d %x, %w, %b, %b {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xbf16>, tensor<1x1x2x4xbf16>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xbf16>
  func.return %0 : tensor<1x4x4x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_conv2d: result shape [1, 4, 4, 4] does not match the expected [1, 2, 2, 4]{{$}}

// -----

// A fused clamp needs act_min <= act_max.
func.func @conv_clamp(%x: tensor<1x4x4x2xbf16>, %w: tensor<1x1x2x4xbf16>, %b: tensor<4xf32>) -> tensor<1x4x4x4xbf16> {
  %0 = sima.bf16_conv2d %x, %w, %b, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 6.0 : f32, act_max = 0.0 : f32} : (tensor<1x4x4x2xbf16>, tensor<1x1x2x4xbf16>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xbf16>
  func.return %0 : tensor<1x4x4x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_conv2d: act_min 6.0 is greater than act_max 0.0{{$}}

// -----

// A bf16 dense writes bf16 (it leaves the region through sima.cast).
func.func @dense_f32_result(%x: tensor<2x4xbf16>, %w: tensor<4x3xbf16>, %b: tensor<3xf32>) -> tensor<2x3xf32> {
  %0 = sima.bf16_dense %x, %w, %b, %b : (tensor<2x4xbf16>, tensor<4x3xbf16>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_dense: result must be a bf16 tensor, got tensor<2x3xf32>{{$}}

// -----

// Both matmul operands are bf16.
func.func @matmul_f32_lhs(%a: tensor<2x4xf32>, %b: tensor<4x3xbf16>) -> tensor<2x3xbf16> {
  %0 = sima.bf16_matmul %a, %b : (tensor<2x4xf32>, tensor<4x3xbf16>) -> tensor<2x3xbf16>
  func.return %0 : tensor<2x3xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_matmul: lhs must be a bf16 tensor, got tensor<2x4xf32>{{$}}

// -----

// Elementwise operands broadcast.
func.func @add_shapes(%a: tensor<2x4xbf16>, %b: tensor<3xbf16>) -> tensor<2x4xbf16> {
  %0 = sima.bf16_add %a, %b : (tensor<2x4xbf16>, tensor<3xbf16>) -> tensor<2x4xbf16>
  func.return %0 : tensor<2x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_add: shapes (2, 4) and (3,) do not broadcast (dimension 1 of the result has sizes [3, 4]){{$}}

// -----

func.func @sub_f32_rhs(%a: tensor<2x4xbf16>, %b: tensor<4xf32>) -> tensor<2x4xbf16> {
  %0 = sima.bf16_sub %a, %b : (tensor<2x4xbf16>, tensor<4xf32>) -> tensor<2x4xbf16>
  func.return %0 : tensor<2x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_sub: rhs must be a bf16 tensor, got tensor<4xf32>{{$}}

// -----

func.func @mul_result_shape(%a: tensor<2x4xbf16>, %b: tensor<4xbf16>) -> tensor<4xbf16> {
  %0 = sima.bf16_mul %a, %b : (tensor<2x4xbf16>, tensor<4xbf16>) -> tensor<4xbf16>
  func.return %0 : tensor<4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_mul: result shape [4] does not match the expected [2, 4]{{$}}

// -----

// A bf16 table has one bf16 entry per bit pattern.
func.func @lut_table(%x: tensor<2x4xbf16>, %t: tensor<256xbf16>) -> tensor<2x4xbf16> {
  %0 = sima.bf16_lut %x, %t : (tensor<2x4xbf16>, tensor<256xbf16>) -> tensor<2x4xbf16>
  func.return %0 : tensor<2x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_lut: table must be tensor<65536xbf16> (one entry per bf16 value), got tensor<256xbf16>{{$}}

// -----

func.func @global_pool_rank(%x: tensor<4x8xbf16>) -> tensor<1x1x1x8xbf16> {
  %0 = sima.bf16_global_avg_pool %x : (tensor<4x8xbf16>) -> tensor<1x1x1x8xbf16>
  func.return %0 : tensor<1x1x1x8xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.bf16_global_avg_pool: input must be rank 4 (NHWC), got rank 2{{$}}
