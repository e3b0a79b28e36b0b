// Round trip (custom -> generic -> custom) of the properties the partition
// passes set: `target` on any sima op, `node` with it, and the fused clamp
// `act_min` / `act_max` of conv2d, conv2d_transpose and dense (either bound
// alone, both, infinite bounds spelled in hex).
// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @targets(%x: tensor<1x4xf32>, %c: tensor<4xf32>) -> tensor<1x4xf32> {
  %0 = sima.mul %x, %c {target = "CVU", node = "CVU_0/mul_0"} : (tensor<1x4xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  %1 = sima.tanh %0 {target = "MLA", node = "MLA_0/tanh_1"} : tensor<1x4xf32>
  %2 = sima.log %1 {target = "APU"} : tensor<1x4xf32>
  func.return %2 : tensor<1x4xf32>
}
// CHECK-LABEL: func.func @targets
// CHECK-NEXT:  %0 = sima.mul %x, %c {target = "CVU", node = "CVU_0/mul_0"} : (tensor<1x4xf32>, tensor<4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:  %1 = sima.tanh %0 {target = "MLA", node = "MLA_0/tanh_1"} : tensor<1x4xf32>
// CHECK-NEXT:  %2 = sima.log %1 {target = "APU"} : tensor<1x4xf32>

func.func @fused_clamps(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x8xf32>, %b: tensor<8xf32>, %v: tensor<1x8xf32>, %m: tensor<8x2xf32>) -> tensor<1x2xf32> {
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32} : (tensor<1x4x4x8xf32>, tensor<3x3x8x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, act_max = 6.0 : f32, target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<3x3x8x8xf32>) -> tensor<1x4x4x8xf32>
  %2 = sima.conv2d_transpose %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, act_max = 1.5 : f32} : (tensor<1x4x4x8xf32>, tensor<3x3x8x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %3 = sima.dense %v, %m {act_min = 0xFF800000 : f32, act_max = 0x7F800000 : f32} : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
  %4 = sima.dense %v, %m {act_min = -1.0 : f32, act_max = -1.0 : f32} : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
  func.return %4 : tensor<1x2xf32>
}
// CHECK-LABEL: func.func @fused_clamps
// CHECK-NEXT:  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.000000e+00 : f32} : (tensor<1x4x4x8xf32>, tensor<3x3x8x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %1 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.000000e+00 : f32, act_max = 6.000000e+00 : f32, target = "MLA"} : (tensor<1x4x4x8xf32>, tensor<3x3x8x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %2 = sima.conv2d_transpose %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, act_max = 1.500000e+00 : f32} : (tensor<1x4x4x8xf32>, tensor<3x3x8x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %3 = sima.dense %v, %m {act_min = 0xff800000 : f32, act_max = 0x7f800000 : f32} : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:  %4 = sima.dense %v, %m {act_min = -1.000000e+00 : f32, act_max = -1.000000e+00 : f32} : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
