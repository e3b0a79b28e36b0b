// RUN: sima-opt %s --split-input-file -p channel-equalization --print-weights | filecheck %s

// Structures beyond conv/dense -> conv/dense: a layer_norm as the producer
// (SVTR: layer_norm -> dense), and a transpose that keeps the channel axis last.

// layer_norm -> dense. The layer_norm's channel range is max|gamma_c| + max|beta_c|
// (its output at |xhat| = 1): gamma [1, 1], beta [3, 0] -> r1 = [4, 1]; the dense's
// rows w = [[1, -0.5], [4, 2]] -> r2 = [1, 4]; s = sqrt(r1 / r2) = [2, 0.5]:
//   gamma -> [0.5, 2], beta -> [1.5, 0], w -> [[2, -1], [2, 1]]
// CHECK-LABEL: func.func @layer_norm_dense
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"gamma.cle", tensor<2xf32>, "0x0000003F00000040">
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"beta.cle", tensor<2xf32>, "0x0000C03F00000000">
// CHECK-NEXT:    %2 = sima.layer_norm %x, %0, %1
// CHECK-NEXT:    %3 = sima.constant #sima.ndarray<"w.cle", tensor<2x2xf32>, "0x00000040000080BF000000400000803F">
// CHECK-NEXT:    %4 = sima.dense %2, %3
// CHECK-NEXT:    func.return %4
func.func @layer_norm_dense(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %gamma = sima.constant #sima.ndarray<"gamma", tensor<2xf32>, "0x0000803F0000803F">
  %beta = sima.constant #sima.ndarray<"beta", tensor<2xf32>, "0x0000404000000000">
  %w = sima.constant #sima.ndarray<"w", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.layer_norm %x, %gamma, %beta {axis = 1 : i64, epsilon = 1.0e-05 : f32} : (tensor<3x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  %1 = sima.dense %0, %w : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  func.return %1 : tensor<3x2xf32>
}

// -----

// layer_norm -> reshape (last axis kept) -> 1x1 conv (SVTR's neck end): the same
// weights, the same factors (conv rows are input channels as dense rows are).
// CHECK-LABEL: func.func @layer_norm_reshape_conv
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"gamma.cle", tensor<2xf32>, "0x0000003F00000040">
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"beta.cle", tensor<2xf32>, "0x0000C03F00000000">
// CHECK-NEXT:    %2 = sima.layer_norm %x, %0, %1
// CHECK-NEXT:    %3 = sima.reshape %2
// CHECK-NEXT:    %4 = sima.constant #sima.ndarray<"w.cle", tensor<1x1x2x2xf32>, "0x00000040000080BF000000400000803F">
// CHECK-NEXT:    %5 = sima.conv2d %3, %4
func.func @layer_norm_reshape_conv(%x: tensor<1x3x2xf32>) -> tensor<1x1x3x2xf32> {
  %gamma = sima.constant #sima.ndarray<"gamma", tensor<2xf32>, "0x0000803F0000803F">
  %beta = sima.constant #sima.ndarray<"beta", tensor<2xf32>, "0x0000404000000000">
  %w = sima.constant #sima.ndarray<"w", tensor<1x1x2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.layer_norm %x, %gamma, %beta {axis = 2 : i64, epsilon = 1.0e-05 : f32} : (tensor<1x3x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x3x2xf32>
  %1 = sima.reshape %0 : (tensor<1x3x2xf32>) -> tensor<1x1x3x2xf32>
  %2 = sima.conv2d %1, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x3x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x1x3x2xf32>
  func.return %2 : tensor<1x1x3x2xf32>
}

// -----

// conv -> relu -> transpose swapping H and W (the channel stays last) -> conv:
// the transpose moves whole channel vectors, so it commutes. Same numbers as
// @dense_relu_dense of channel_equalization.mlir: s = [2, 0.5].
// CHECK-LABEL: func.func @conv_transpose_hw_conv
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"w1.cle", tensor<1x1x2x2xf32>, "0x00000040000000400000803F000000C0">
// CHECK-NEXT:    %1 = sima.conv2d %x, %0
// CHECK-NEXT:    %2 = sima.relu %1
// CHECK-NEXT:    %3 = sima.transpose %2
// CHECK-NEXT:    %4 = sima.constant #sima.ndarray<"w2.cle", tensor<1x1x2x2xf32>, "0x00000040000080BF000000400000803F">
// CHECK-NEXT:    %5 = sima.conv2d %3, %4
func.func @conv_transpose_hw_conv(%x: tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<1x1x2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<1x1x2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.conv2d %x, %w1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x3x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x2x3x2xf32>
  %1 = sima.relu %0 : tensor<1x2x3x2xf32>
  %2 = sima.transpose %1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %3 = sima.conv2d %2, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x3x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x3x2x2xf32>
  func.return %3 : tensor<1x3x2x2xf32>
}

// -----

// Not touched: a layer_norm whose output has a second user (a residual add would
// see the scaled tensor).
// CHECK-LABEL: func.func @layer_norm_two_uses
// CHECK-NOT:     .cle
// CHECK:         func.return
func.func @layer_norm_two_uses(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %gamma = sima.constant #sima.ndarray<"gamma", tensor<2xf32>, "0x0000803F0000803F">
  %beta = sima.constant #sima.ndarray<"beta", tensor<2xf32>, "0x0000404000000000">
  %w = sima.constant #sima.ndarray<"w", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.layer_norm %x, %gamma, %beta {axis = 1 : i64, epsilon = 1.0e-05 : f32} : (tensor<3x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  %1 = sima.dense %0, %w : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %2 = sima.add %0, %1 : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  func.return %2 : tensor<3x2xf32>
}
