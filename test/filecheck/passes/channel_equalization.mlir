// RUN: sima-opt %s --split-input-file -p channel-equalization --print-weights | filecheck %s
// RUN: sima-opt %s --split-input-file -p 'channel-equalization{iterations=0}' --verify-diagnostics | filecheck %s --check-prefix=OPTION

// OPTION: channel-equalization: iterations must be a positive integer, got 0

// Weights are chosen so that every factor s_c = sqrt(r1_c / r2_c) is a power of
// two and the new weights are exact: w1 columns have ranges [4, 1], w2 rows
// [1, 4], so s = [2, 0.5] and every range becomes 2.
//   w1 = [[4, 1], [2, -1]]  -> [[2, 2], [1, -2]]     b1 = [8, 2] -> [4, 4]
//   w2 = [[1, -0.5], [4, 2]] -> [[2, -1], [2, 1]]
// CHECK-LABEL: func.func @dense_relu_dense
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"w1.cle", tensor<2x2xf32>, "0x00000040000000400000803F000000C0">
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"b1.cle", tensor<2xf32>, "0x0000804000008040">
// CHECK-NEXT:    %2 = sima.dense %x, %0, %1
// CHECK-NEXT:    %3 = sima.relu %2
// CHECK-NEXT:    %4 = sima.constant #sima.ndarray<"w2.cle", tensor<2x2xf32>, "0x00000040000080BF000000400000803F">
// CHECK-NEXT:    %5 = sima.dense %3, %4
// CHECK-NEXT:    func.return %5
func.func @dense_relu_dense(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %b1 = sima.constant #sima.ndarray<"b1", tensor<2xf32>, "0x0000004100000040">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1, %b1 : (tensor<1x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %1 = sima.relu %0 : tensor<1x2xf32>
  %2 = sima.dense %1, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %2 : tensor<1x2xf32>
}

// -----

// The same numbers as 1x1 convolutions (HWIO), the second one padded (zero
// padding stays zero), with a max pool in between: pooling commutes with a
// positive per-channel factor.
// CHECK-LABEL: func.func @conv_relu_pool_conv
// CHECK-NEXT:    %b2 = sima.constant #sima.ndarray<"b2", tensor<2xf32>, "0x0000803F0000803F">
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"w1.cle", tensor<1x1x2x2xf32>, "0x00000040000000400000803F000000C0">
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"b1.cle", tensor<2xf32>, "0x0000804000008040">
// CHECK-NEXT:    %2 = sima.conv2d %x, %0, %1
// CHECK-NEXT:    %3 = sima.relu %2
// CHECK-NEXT:    %4 = sima.max_pool %3
// CHECK-NEXT:    %5 = sima.constant #sima.ndarray<"w2.cle", tensor<1x1x2x2xf32>, "0x00000040000080BF000000400000803F">
// CHECK-NEXT:    %6 = sima.conv2d %4, %5, %b2
func.func @conv_relu_pool_conv(%x: tensor<1x4x4x2xf32>) -> tensor<1x6x6x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<1x1x2x2xf32>, "0x000080400000803F00000040000080BF">
  %b1 = sima.constant #sima.ndarray<"b1", tensor<2xf32>, "0x0000004100000040">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<1x1x2x2xf32>, "0x0000803F000000BF0000804000000040">
  %b2 = sima.constant #sima.ndarray<"b2", tensor<2xf32>, "0x0000803F0000803F">
  %0 = sima.conv2d %x, %w1, %b1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %1 = sima.relu %0 : tensor<1x4x4x2xf32>
  %2 = sima.max_pool %1 {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %3 = sima.conv2d %2, %w2, %b2 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>, tensor<2xf32>) -> tensor<1x6x6x2xf32>
  func.return %3 : tensor<1x6x6x2xf32>
}

// -----

// No activation at all (a linear bottleneck feeding the next conv): the
// identity is homogeneous too.
// CHECK-LABEL: func.func @conv_conv
// CHECK:         sima.constant #sima.ndarray<"w1.cle", tensor<1x1x2x2xf32>, "0x00000040000000400000803F000000C0">
// CHECK:         sima.constant #sima.ndarray<"w2.cle", tensor<1x1x2x2xf32>, "0x00000040000080BF000000400000803F">
func.func @conv_conv(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<1x1x2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<1x1x2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.conv2d %x, %w1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x4x4x2xf32>
  %1 = sima.conv2d %0, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x4x4x2xf32>
  func.return %1 : tensor<1x4x4x2xf32>
}

// -----

// A grouped consumer (groups = 2, two input channels per group): input
// channel c is read by w2[0, 0, c % 2, c / 2], so w2 (row-major [ci][co]) =
// [[ch0, ch2], [ch1, ch3]] = [[1, 2], [4, 0.5]] has ranges [1, 4, 2, 0.5];
// w1's output ranges are [4, 1, 8, 0.125]; s = [2, 0.5, 2, 0.5].
// CHECK-LABEL: func.func @conv_relu_grouped_conv
// CHECK:         sima.constant #sima.ndarray<"w1.cle", tensor<1x1x1x4xf32>, "0x0000004000000040000080400000803E">
// CHECK:         sima.constant #sima.ndarray<"w2.cle", tensor<1x1x2x2xf32>, "0x0000004000008040000000400000803E">
func.func @conv_relu_grouped_conv(%x: tensor<1x4x4x1xf32>) -> tensor<1x4x4x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<1x1x1x4xf32>, "0x000080400000803F000000410000003E">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<1x1x2x2xf32>, "0x0000803F00000040000080400000003F">
  %0 = sima.conv2d %x, %w1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x1xf32>, tensor<1x1x1x4xf32>) -> tensor<1x4x4x4xf32>
  %1 = sima.relu %0 : tensor<1x4x4x4xf32>
  %2 = sima.conv2d %1, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 2 : i64} : (tensor<1x4x4x4xf32>, tensor<1x1x2x2xf32>) -> tensor<1x4x4x2xf32>
  func.return %2 : tensor<1x4x4x2xf32>
}

// -----

// conv -> relu -> depthwise -> relu -> conv (MobileNet): two pairs share the
// depthwise weights, which get one new weight, not one per pair.
// CHECK-LABEL: func.func @conv_depthwise_conv
// CHECK-NOT:     .cle.cle
// CHECK:         "c1.cle"
// CHECK:         sima.conv2d
// CHECK:         "dw.cle"
// CHECK-NOT:     "dw
// CHECK:         "c2.cle"
// CHECK:         func.return
func.func @conv_depthwise_conv(%x: tensor<1x4x4x1xf32>) -> tensor<1x4x4x2xf32> {
  %c1 = sima.constant #sima.ndarray<"c1", tensor<1x1x1x2xf32>, "0x000080400000803E">
  %dw = sima.constant #sima.ndarray<"dw", tensor<3x3x1x2xf32>, "0x000060BF000080C00000203F0000803F000040BF000080BF000000800000A0C00000003F0000C0C0000080BE00000000000000BE0000803F0000003F0000E0400000C0BE00000040">
  %c2 = sima.constant #sima.ndarray<"c2", tensor<1x1x2x2xf32>, "0x0000803F000000BF000000400000803E">
  %0 = sima.conv2d %x, %c1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x1xf32>, tensor<1x1x1x2xf32>) -> tensor<1x4x4x2xf32>
  %1 = sima.relu %0 : tensor<1x4x4x2xf32>
  %2 = sima.conv2d %1, %dw {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 2 : i64} : (tensor<1x4x4x2xf32>, tensor<3x3x1x2xf32>) -> tensor<1x4x4x2xf32>
  %3 = sima.relu %2 : tensor<1x4x4x2xf32>
  %4 = sima.conv2d %3, %c2 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x4x4x2xf32>
  func.return %4 : tensor<1x4x4x2xf32>
}

// -----

// Two consumers of one tensor share one factor: r2 is their larger range.
// a = [[1, -1], [0.5, -0.5]] (ranges [1, 0.5]), b = [[0.5, 0.5], [4, 4]]
// (ranges [0.5, 4]): r2 = [1, 4], s = [2, 0.5].
// CHECK-LABEL: func.func @fan_out
// CHECK:         sima.constant #sima.ndarray<"w1.cle", tensor<2x2xf32>, "0x00000040000000400000803F000000C0">
// CHECK:         sima.constant #sima.ndarray<"a.cle", tensor<2x2xf32>, "0x00000040000000C00000803E000080BE">
// CHECK:         sima.constant #sima.ndarray<"b.cle", tensor<2x2xf32>, "0x0000803F0000803F0000004000000040">
func.func @fan_out(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %a = sima.constant #sima.ndarray<"a", tensor<2x2xf32>, "0x0000803F000080BF0000003F000000BF">
  %b = sima.constant #sima.ndarray<"b", tensor<2x2xf32>, "0x0000003F0000003F0000804000008040">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.relu %0 : tensor<1x2xf32>
  %2 = sima.dense %1, %a : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %3 = sima.dense %1, %b : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %2, %3 : tensor<1x2xf32>, tensor<1x2xf32>
}

// -----

// A bias written as a separate add of a constant: the constant is divided by s
// too ([8, 2] -> [4, 4]); a clip to [0, inf) is a relu.
// CHECK-LABEL: func.func @bias_add_clip
// CHECK:         sima.constant #sima.ndarray<"w1.cle", tensor<2x2xf32>, "0x00000040000000400000803F000000C0">
// CHECK:         sima.constant #sima.ndarray<"c.cle", tensor<2xf32>, "0x0000804000008040">
// CHECK-NEXT:    sima.add
// CHECK-NEXT:    sima.clip
// CHECK-NEXT:    sima.constant #sima.ndarray<"w2.cle", tensor<2x2xf32>, "0x00000040000080BF000000400000803F">
func.func @bias_add_clip(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %c = sima.constant #sima.ndarray<"c", tensor<2xf32>, "0x0000004100000040">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.add %0, %c : (tensor<1x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %2 = sima.clip %1 {min = 0.0 : f32, max = 0x7F800000 : f32} : tensor<1x2xf32>
  %3 = sima.dense %2, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %3 : tensor<1x2xf32>
}

// -----

// A sima.observe is a marker, not a user; its statistics describe the unscaled
// tensor and are dropped.
// CHECK-LABEL: func.func @observed
// CHECK:         "w1.cle"
// CHECK:         sima.observe %{{.*}} {key = "t1", method = {name = "max"}} : tensor<1x2xf32>
// CHECK:         "w2.cle"
func.func @observed(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.relu %0 : tensor<1x2xf32>
  sima.observe %1 {key = "t1", method = {name = "max"}, stats = {min = 0.0 : f32, max = 3.0 : f32}} : tensor<1x2xf32>
  %2 = sima.dense %1, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %2 : tensor<1x2xf32>
}

// -----

// Not touched: relu6 is not homogeneous (its bound 6 would have to become 6 s_c).
// CHECK-LABEL: func.func @relu6
// CHECK-NOT:     .cle
// CHECK:         func.return
func.func @relu6(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.clip %0 {min = 0.0 : f32, max = 6.0 : f32} : tensor<1x2xf32>
  %2 = sima.dense %1, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %2 : tensor<1x2xf32>
}

// -----

// The same after fuse-activations: a fused relu6 (act_max = 6) blocks the pair,
// a fused relu (act_min = 0 only) does not.
// CHECK-LABEL: func.func @fused_relu6
// CHECK-NOT:     .cle
// CHECK:         func.return
func.func @fused_relu6(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 {act_min = 0.0 : f32, act_max = 6.0 : f32} : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.dense %0, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %1 : tensor<1x2xf32>
}
// CHECK-LABEL: func.func @fused_relu
// CHECK:         "w1.cle"
// CHECK:         sima.dense %x, %{{.*}} {act_min = 0.000000e+00 : f32}
// CHECK:         "w2.cle"
func.func @fused_relu(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 {act_min = 0.0 : f32} : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.dense %0, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %1 : tensor<1x2xf32>
}

// -----

// Not touched: hard_swish (MobileNetV3) and sigmoid are not homogeneous.
// CHECK-LABEL: func.func @not_homogeneous
// CHECK-NOT:     .cle
// CHECK:         func.return
func.func @not_homogeneous(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.hard_swish %0 : tensor<1x2xf32>
  %2 = sima.dense %1, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %3 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %4 = sima.sigmoid %3 : tensor<1x2xf32>
  %5 = sima.dense %4, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %2, %5 : tensor<1x2xf32>, tensor<1x2xf32>
}

// -----

// Not touched: the intermediate has a second user (a residual add, a returned
// pre-activation), which would see the scaled tensor.
// CHECK-LABEL: func.func @two_uses
// CHECK-NOT:     .cle
// CHECK:         func.return
func.func @two_uses(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.relu %0 : tensor<1x2xf32>
  %2 = sima.dense %1, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %3 = sima.add %2, %1 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
  %4 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %5 = sima.relu %4 : tensor<1x2xf32>
  %6 = sima.dense %5, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %3, %4 : tensor<1x2xf32>, tensor<1x2xf32>
}

// -----

// Not touched: a squeeze-and-excitation multiply by another activation.
// CHECK-LABEL: func.func @multiply_by_activation
// CHECK-NOT:     .cle
// CHECK:         func.return
func.func @multiply_by_activation(%x: tensor<1x2xf32>, %gate: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.relu %0 : tensor<1x2xf32>
  %2 = sima.mul %1, %gate : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
  %3 = sima.dense %2, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %3 : tensor<1x2xf32>
}

// -----

// Not touched: channels do not line up. A flatten moves conv channels into the
// dense's rows (row = 2 * w + c), a transpose moves them to another axis.
// CHECK-LABEL: func.func @channels_move
// CHECK-NOT:     .cle
// CHECK:         func.return
func.func @channels_move(%x: tensor<1x1x2x2xf32>) -> (tensor<1x2xf32>, tensor<1x2x1x2xf32>) {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<1x1x2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<4x2xf32>, "0x0000803F000000BF00008040000000400000803F000000BF0000804000000040">
  %0 = sima.conv2d %x, %w1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
  %1 = sima.reshape %0 : (tensor<1x1x2x2xf32>) -> tensor<1x4xf32>
  %2 = sima.dense %1, %w2 : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  %3 = sima.conv2d %x, %w1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
  %4 = sima.transpose %3 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x1x2x2xf32>) -> tensor<1x2x1x2xf32>
  %5 = sima.constant #sima.ndarray<"w3", tensor<1x1x2x2xf32>, "0x0000803F000000BF0000804000000040">
  %6 = sima.conv2d %4, %5 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x1x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x2x1x2xf32>
  func.return %2, %6 : tensor<1x2xf32>, tensor<1x2x1x2xf32>
}

// -----

// Not touched: the consumer's weight is not a constant, the consumer is a
// transposed convolution, a weight's data was elided from the text.
// CHECK-LABEL: func.func @unusable_layers
// CHECK-NOT:     .cle
// CHECK:         func.return
func.func @unusable_layers(%x: tensor<1x2xf32>, %w: tensor<2x2xf32>, %y: tensor<1x2x2x2xf32>) -> (tensor<1x2xf32>, tensor<1x4x4x2xf32>, tensor<1x2xf32>) {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.relu %0 : tensor<1x2xf32>
  %2 = sima.dense %1, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %c1 = sima.constant #sima.ndarray<"c1", tensor<1x1x2x2xf32>, "0x000080400000803F00000040000080BF">
  %ct = sima.constant #sima.ndarray<"ct", tensor<2x2x2x2xf32>, "0x0000803F000000BF00008040000000400000803F000000BF00008040000000400000803F000000BF00008040000000400000803F000000BF0000804000000040">
  %3 = sima.conv2d %y, %c1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32>
  %4 = sima.relu %3 : tensor<1x2x2x2xf32>
  %5 = sima.conv2d_transpose %4, %ct {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64} : (tensor<1x2x2x2xf32>, tensor<2x2x2x2xf32>) -> tensor<1x4x4x2xf32>
  %e = sima.constant #sima.ndarray<"elided", tensor<2x2xf32>, elided "0123456789ab">
  %6 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %7 = sima.relu %6 : tensor<1x2xf32>
  %8 = sima.dense %7, %e : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %2, %5, %8 : tensor<1x2xf32>, tensor<1x4x4x2xf32>, tensor<1x2xf32>
}

// -----

// Not touched: already balanced (every factor is 1).
// CHECK-LABEL: func.func @balanced
// CHECK-NOT:     .cle
// CHECK:         func.return
func.func @balanced(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x00000040000000400000803F000000C0">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x00000040000080BF000000400000803F">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.relu %0 : tensor<1x2xf32>
  %2 = sima.dense %1, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %2 : tensor<1x2xf32>
}
