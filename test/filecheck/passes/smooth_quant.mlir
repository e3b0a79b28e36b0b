// RUN: sima-opt %s --split-input-file -p smooth-quant --print-weights --verify-diagnostics | filecheck %s
// RUN: sima-opt %s --split-input-file -p 'smooth-quant{on-missing-stats=skip}' --print-weights --verify-diagnostics | filecheck %s --check-prefix=SKIP
// RUN: sima-opt %s --split-input-file -p 'smooth-quant{alpha=1.0}' --print-weights --verify-diagnostics | filecheck %s --check-prefix=ALPHA1
// RUN: sima-opt %s --split-input-file -p 'smooth-quant{alpha=1.5}' --verify-diagnostics | filecheck %s --check-prefix=BADALPHA

// BADALPHA: smooth-quant: alpha must lie in [0, 1], got 1.5

// layer_norm -> dense, the case of the paper. max|X| = [16, 1] (from
// calibration), max|W| per input channel (rows of w) = [1, 4]; with alpha = 0.5
// s = sqrt([16, 1]) / sqrt([1, 4]) = [4, 0.5]:
//   gamma [1, 1] -> [0.25, 2],  beta [4, 1] -> [1, 2],
//   w [[1, -1], [4, 2]] -> [[4, -4], [2, 1]]
// The statistics (as runtime.calibrate writes them) describe the unscaled X
// and are dropped.
// CHECK-LABEL: func.func @layer_norm_dense
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"gamma.smooth", tensor<2xf32>, "0x0000803E00000040">
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"beta.smooth", tensor<2xf32>, "0x0000803F00000040">
// CHECK-NEXT:    %2 = sima.layer_norm %x, %0, %1
// CHECK-NEXT:    sima.observe %2 {key = "x1", method = {name = "min_max"}} : tensor<1x2xf32>
// CHECK-NEXT:    %3 = sima.constant #sima.ndarray<"w.smooth", tensor<2x2xf32>, "0x00008040000080C0000000400000803F">
// CHECK-NEXT:    %4 = sima.dense %2, %3
// With alpha = 1 all of X's range moves into W: s = max|X| = [16, 1].
// ALPHA1-LABEL: func.func @layer_norm_dense
// ALPHA1:         "gamma.smooth", tensor<2xf32>, "0x0000803D0000803F">
// SKIP-LABEL: func.func @layer_norm_dense
// SKIP:           "gamma.smooth"
func.func @layer_norm_dense(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %gamma = sima.constant #sima.ndarray<"gamma", tensor<2xf32>, "0x0000803F0000803F">
  %beta = sima.constant #sima.ndarray<"beta", tensor<2xf32>, "0x000080400000803F">
  %w = sima.constant #sima.ndarray<"w", tensor<2x2xf32>, "0x0000803F000080BF0000804000000040">
  %0 = sima.layer_norm %x, %gamma, %beta {axis = 1 : i64, epsilon = 1.0e-05 : f32} : (tensor<1x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  sima.observe %0 {key = "x1", method = {name = "min_max"}, stats = {channel_absmax = [16.0 : f64, 1.0 : f64], min = -16.0 : f64, max = 16.0 : f64}} : tensor<1x2xf32>
  %1 = sima.dense %0, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %1 : tensor<1x2xf32>
}

// -----

// dense -> relu -> dense: the division of X folds into the first dense (weight
// columns and bias) through the relu. max|X| = [4, 0.25], max|W| = [1, 4]:
// s = [2, 0.25].
//   w1 [[4, 1], [2, -1]] -> [[2, 4], [1, -4]],  b1 [8, 2] -> [4, 8]
//   w2 [[1, -0.5], [4, 2]] -> [[2, -1], [1, 0.5]]
// CHECK-LABEL: func.func @dense_relu_dense
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"w1.smooth", tensor<2x2xf32>, "0x00000040000080400000803F000080C0">
// CHECK-NEXT:    %1 = sima.constant #sima.ndarray<"b1.smooth", tensor<2xf32>, "0x0000804000000041">
// CHECK-NEXT:    %2 = sima.dense %x, %0, %1
// CHECK-NEXT:    %3 = sima.relu %2
// CHECK-NEXT:    sima.observe %3 {key = "x1", method = {name = "max"}}
// CHECK-NEXT:    %4 = sima.constant #sima.ndarray<"w2.smooth", tensor<2x2xf32>, "0x00000040000080BF0000803F0000003F">
// CHECK-NEXT:    %5 = sima.dense %3, %4
func.func @dense_relu_dense(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %b1 = sima.constant #sima.ndarray<"b1", tensor<2xf32>, "0x0000004100000040">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1, %b1 : (tensor<1x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %1 = sima.relu %0 : tensor<1x2xf32>
  sima.observe %1 {key = "x1", method = {name = "max"}, stats = {channel_absmax = array<f32: 4.0, 0.25>}} : tensor<1x2xf32>
  %2 = sima.dense %1, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %2 : tensor<1x2xf32>
}

// -----

// Two consumers (q and k of an attention block) share one factor; max|W| is
// their larger range: q rows [1, 0.25], k rows [0.5, 4] -> [1, 4]; s = [4, 0.5].
//   q [[1, -1], [0.25, 0.25]] -> [[4, -4], [0.125, 0.125]]
//   k [[0.5, 0.5], [4, -4]] -> [[2, 2], [2, -2]]
// CHECK-LABEL: func.func @shared_input
// CHECK:         "gamma.smooth", tensor<2xf32>, "0x0000803E00000040">
// CHECK:         "q.smooth", tensor<2x2xf32>, "0x00008040000080C00000003E0000003E">
// CHECK:         "k.smooth", tensor<2x2xf32>, "0x000000400000004000000040000000C0">
func.func @shared_input(%x: tensor<1x3x2xf32>) -> (tensor<1x3x2xf32>, tensor<1x3x2xf32>) {
  %gamma = sima.constant #sima.ndarray<"gamma", tensor<2xf32>, "0x0000803F0000803F">
  %q = sima.constant #sima.ndarray<"q", tensor<2x2xf32>, "0x0000803F000080BF0000803E0000803E">
  %k = sima.constant #sima.ndarray<"k", tensor<2x2xf32>, "0x0000003F0000003F00008040000080C0">
  %0 = sima.layer_norm %x, %gamma {axis = 2 : i64, epsilon = 1.0e-05 : f32} : (tensor<1x3x2xf32>, tensor<2xf32>) -> tensor<1x3x2xf32>
  sima.observe %0 {key = "x1", method = {name = "max"}, stats = {channel_absmax = array<f32: 16.0, 1.0>}} : tensor<1x3x2xf32>
  %1 = sima.dense %0, %q : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  %2 = sima.dense %0, %k : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  func.return %1, %2 : tensor<1x3x2xf32>, tensor<1x3x2xf32>
}

// -----

// A conv producer and a conv consumer: the same numbers as 1x1 convolutions;
// statistics as an array<f64: ...> are read too (array<f32: ...> above).
// CHECK-LABEL: func.func @conv_conv
// CHECK:         "w1.smooth", tensor<1x1x2x2xf32>, "0x00000040000080400000803F000080C0">
// CHECK:         "w2.smooth", tensor<1x1x2x2xf32>, "0x00000040000080BF0000803F0000003F">
func.func @conv_conv(%x: tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<1x1x2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<1x1x2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.conv2d %x, %w1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x3x3x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x3x3x2xf32>
  sima.observe %0 {key = "x1", method = {name = "max"}, stats = {channel_absmax = array<f64: 4.0, 0.25>}} : tensor<1x3x3x2xf32>
  %1 = sima.conv2d %0, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x3x3x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x3x3x2xf32>
  func.return %1 : tensor<1x3x3x2xf32>
}

// -----

// Not touched, whatever the statistics: X is a function argument (no producer
// to fold the division into), or reaches the dense through hard_swish, which
// does not commute with a per-channel factor.
// CHECK-LABEL: func.func @no_foldable_producer
// CHECK-NOT:     .smooth
// CHECK:         func.return
func.func @no_foldable_producer(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  sima.observe %x {key = "x", method = {name = "max"}, stats = {channel_absmax = array<f32: 4.0, 0.25>}} : tensor<1x2xf32>
  %0 = sima.dense %x, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %1 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %2 = sima.hard_swish %1 : tensor<1x2xf32>
  sima.observe %2 {key = "x2", method = {name = "max"}, stats = {channel_absmax = array<f32: 4.0, 0.25>}} : tensor<1x2xf32>
  %3 = sima.dense %2, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %0, %3 : tensor<1x2xf32>, tensor<1x2xf32>
}

// -----

// No statistics: an error by default, left alone with on-missing-stats=skip.
// CHECK: smooth-quant: no per-channel statistics for the input of sima.dense %y: its sima.observe 'x1' has no stats.channel_absmax; calibrate with per-channel statistics first, or pass on-missing-stats=skip
// SKIP-LABEL: func.func @no_stats
// SKIP-NOT:     .smooth
// SKIP:         func.return
func.func @no_stats(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  sima.observe %0 {key = "x1", method = {name = "max"}} : tensor<1x2xf32>
  %y = sima.dense %0, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// -----

// Statistics that do not fit the tensor are an error naming the observer.
// CHECK: sima.observe 'x1': stats.channel_absmax has 3 entries, but the tensor has 2 channels
func.func @wrong_stats(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  sima.observe %0 {key = "x1", method = {name = "max"}, stats = {channel_absmax = array<f32: 4.0, 0.25, 1.0>}} : tensor<1x2xf32>
  %1 = sima.dense %0, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %1 : tensor<1x2xf32>
}

// -----

// CHECK: sima.observe 'x1': stats.channel_absmax must be a list of per-channel maxima, got "big"
func.func @stats_not_a_list(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<2x2xf32>, "0x000080400000803F00000040000080BF">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<2x2xf32>, "0x0000803F000000BF0000804000000040">
  %0 = sima.dense %x, %w1 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  sima.observe %0 {key = "x1", method = {name = "max"}, stats = {channel_absmax = "big"}} : tensor<1x2xf32>
  %1 = sima.dense %0, %w2 : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %1 : tensor<1x2xf32>
}
