// RUN: sima-opt %s -p cancel-transposes | filecheck %s

// A small CNN as an NCHW importer that wraps each NHWC op in transposes would
// emit: conv, SiLU, conv, residual add, relu, a concat of two convolutions on
// the channel axis, global pooling, flatten, dense. Only the transpose of the
// NCHW input survives; every op between the convolutions runs on NHWC data.

// CHECK-LABEL: func.func @cnn(%x: tensor<1x3x8x8xf32>) -> tensor<1x10xf32>
// CHECK:         %[[IN:.*]] = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x8x8xf32>) -> tensor<1x8x8x3xf32>
// CHECK-NOT:     sima.transpose
// CHECK:         %[[C1:.*]] = sima.conv2d %[[IN]], %w1
// CHECK-NEXT:    %[[SIG:.*]] = sima.sigmoid %[[C1]] : tensor<1x8x8x8xf32>
// CHECK-NEXT:    %[[SILU:.*]] = sima.mul %[[C1]], %[[SIG]] : (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
// CHECK-NEXT:    %[[C2:.*]] = sima.conv2d %[[SILU]], %w2
// CHECK-NEXT:    %[[RES:.*]] = sima.add %[[C2]], %[[SILU]] : (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
// CHECK-NEXT:    %[[RELU:.*]] = sima.relu %[[RES]] : tensor<1x8x8x8xf32>
// CHECK-NEXT:    %[[A:.*]] = sima.conv2d %[[RELU]], %w3
// CHECK-NEXT:    %[[B:.*]] = sima.conv2d %[[RELU]], %w3
// CHECK-NEXT:    %[[CAT:.*]] = sima.concat %[[A]], %[[B]] {axis = 3 : i64} : (tensor<1x8x8x4xf32>, tensor<1x8x8x4xf32>) -> tensor<1x8x8x8xf32>
// CHECK-NEXT:    %[[POOL:.*]] = sima.global_avg_pool %[[CAT]]
// CHECK-NEXT:    %[[FLAT:.*]] = sima.reshape %[[POOL]] : (tensor<1x1x1x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:    %[[OUT:.*]] = sima.dense %[[FLAT]], %w4
// CHECK-NEXT:    func.return %[[OUT]] : tensor<1x10xf32>
func.func @cnn(%x: tensor<1x3x8x8xf32>) -> tensor<1x10xf32> {
  %w1 = sima.constant dense<0.1> : tensor<3x3x3x8xf32>
  %w2 = sima.constant dense<0.2> : tensor<3x3x8x8xf32>
  %w3 = sima.constant dense<0.3> : tensor<1x1x8x4xf32>
  %w4 = sima.constant dense<0.4> : tensor<8x10xf32>
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x8x8xf32>) -> tensor<1x8x8x3xf32>
  %1 = sima.conv2d %0, %w1 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x3xf32>, tensor<3x3x3x8xf32>) -> tensor<1x8x8x8xf32>
  %2 = sima.transpose %1 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %3 = sima.sigmoid %2 : tensor<1x8x8x8xf32>
  %4 = sima.mul %2, %3 : (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %5 = sima.transpose %4 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %6 = sima.conv2d %5, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x8xf32>, tensor<3x3x8x8xf32>) -> tensor<1x8x8x8xf32>
  %7 = sima.transpose %6 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %8 = sima.add %7, %4 : (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %9 = sima.relu %8 : tensor<1x8x8x8xf32>
  %10 = sima.transpose %9 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %11 = sima.conv2d %10, %w3 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x8xf32>, tensor<1x1x8x4xf32>) -> tensor<1x8x8x4xf32>
  %12 = sima.transpose %11 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x8x8xf32>
  %13 = sima.transpose %9 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %14 = sima.conv2d %13, %w3 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x8xf32>, tensor<1x1x8x4xf32>) -> tensor<1x8x8x4xf32>
  %15 = sima.transpose %14 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x8x8xf32>
  %16 = sima.concat %12, %15 {axis = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x8x8x8xf32>
  %17 = sima.transpose %16 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %18 = sima.global_avg_pool %17 : (tensor<1x8x8x8xf32>) -> tensor<1x1x1x8xf32>
  %19 = sima.transpose %18 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x1x1x8xf32>) -> tensor<1x8x1x1xf32>
  %20 = sima.reshape %19 : (tensor<1x8x1x1xf32>) -> tensor<1x8xf32>
  %21 = sima.dense %20, %w4 : (tensor<1x8xf32>, tensor<8x10xf32>) -> tensor<1x10xf32>
  func.return %21 : tensor<1x10xf32>
}
