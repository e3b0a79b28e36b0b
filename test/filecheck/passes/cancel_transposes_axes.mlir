// RUN: sima-opt %s --split-input-file -p cancel-transposes | filecheck %s

// Ops with axis properties: after the move, the axes name the same data.
// (x is NCHW; %0 is NHWC; NHWC axis a is NCHW axis [0, 2, 3, 1][a].)

// CHECK-LABEL: func.func @softmax_axis
// CHECK-NEXT:    %0 = sima.softmax %x {axis = 1 : i64} : tensor<1x3x4x5xf32>
// CHECK-NEXT:    func.return %0
func.func @softmax_axis(%x: tensor<1x3x4x5xf32>) -> tensor<1x3x4x5xf32> {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x4x5xf32>) -> tensor<1x4x5x3xf32>
  %1 = sima.softmax %0 {axis = -1 : i64} : tensor<1x4x5x3xf32>
  %2 = sima.transpose %1 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x5x3xf32>) -> tensor<1x3x4x5xf32>
  func.return %2 : tensor<1x3x4x5xf32>
}

// -----

// concat of two values transposed alike, along NHWC channels = NCHW axis 1.
// CHECK-LABEL: func.func @concat_axis
// CHECK-NEXT:    %0 = sima.concat %x, %y {axis = 1 : i64} : (tensor<1x3x4x5xf32>, tensor<1x2x4x5xf32>) -> tensor<1x5x4x5xf32>
// CHECK-NEXT:    func.return %0
func.func @concat_axis(%x: tensor<1x3x4x5xf32>, %y: tensor<1x2x4x5xf32>) -> tensor<1x5x4x5xf32> {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x4x5xf32>) -> tensor<1x4x5x3xf32>
  %1 = sima.transpose %y {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x2x4x5xf32>) -> tensor<1x4x5x2xf32>
  %2 = sima.concat %0, %1 {axis = 3 : i64} : (tensor<1x4x5x3xf32>, tensor<1x4x5x2xf32>) -> tensor<1x4x5x5xf32>
  %3 = sima.transpose %2 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x5x5xf32>) -> tensor<1x5x4x5xf32>
  func.return %3 : tensor<1x5x4x5xf32>
}

// -----

// split along NHWC width (axis 2) = NCHW axis 3; both pieces come back to NCHW.
// CHECK-LABEL: func.func @split_axis
// CHECK-NEXT:    %0, %1 = sima.split %x {axis = 3 : i64} : (tensor<1x3x4x5xf32>) -> (tensor<1x3x4x2xf32>, tensor<1x3x4x3xf32>)
// CHECK-NEXT:    func.return %0, %1
func.func @split_axis(%x: tensor<1x3x4x5xf32>) -> (tensor<1x3x4x2xf32>, tensor<1x3x4x3xf32>) {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x4x5xf32>) -> tensor<1x4x5x3xf32>
  %1, %2 = sima.split %0 {axis = 2 : i64} : (tensor<1x4x5x3xf32>) -> (tensor<1x4x2x3xf32>, tensor<1x4x3x3xf32>)
  %3 = sima.transpose %1 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x2x3xf32>) -> tensor<1x3x4x2xf32>
  %4 = sima.transpose %2 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x3x3xf32>) -> tensor<1x3x4x3xf32>
  func.return %3, %4 : tensor<1x3x4x2xf32>, tensor<1x3x4x3xf32>
}

// -----

// slice and pad: the per-axis values follow their axes.
// CHECK-LABEL: func.func @slice_pad
// CHECK-NEXT:    %0 = sima.slice %x {starts = array<i64: 0, 2, 1, 0>, ends = array<i64: 1, 3, 4, 5>, steps = array<i64: 1, 1, 1, 2>} : (tensor<1x3x4x5xf32>) -> tensor<1x1x3x3xf32>
// CHECK-NEXT:    %1 = sima.pad %0 {pads = array<i64: 0, 0, 1, 2, 0, 3, 0, 0>, mode = "reflect", value = 0.000000e+00 : f32} : (tensor<1x1x3x3xf32>) -> tensor<1x4x4x5xf32>
// CHECK-NEXT:    func.return %1
func.func @slice_pad(%x: tensor<1x3x4x5xf32>) -> tensor<1x4x4x5xf32> {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x4x5xf32>) -> tensor<1x4x5x3xf32>
  %1 = sima.slice %0 {starts = array<i64: 0, 1, 0, 2>, ends = array<i64: 1, 4, 5, 3>, steps = array<i64: 1, 1, 2, 1>} : (tensor<1x4x5x3xf32>) -> tensor<1x3x3x1xf32>
  %2 = sima.pad %1 {pads = array<i64: 0, 1, 2, 0, 0, 0, 0, 3>, mode = "reflect", value = 0.0 : f32} : (tensor<1x3x3x1xf32>) -> tensor<1x4x5x4xf32>
  %3 = sima.transpose %2 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x5x4xf32>) -> tensor<1x4x4x5xf32>
  func.return %3 : tensor<1x4x4x5xf32>
}

// -----

// Global average pooling written in NCHW (mean over H and W, no keepdims) after
// an NHWC op: the reduction moves onto the NHWC value, and its [N, C] result
// needs no transpose at all.
// CHECK-LABEL: func.func @reduce_drops_axes
// CHECK-NEXT:    %r = sima.relu %x : tensor<1x4x5x3xf32>
// CHECK-NEXT:    %0 = sima.reduce %r {kind = "mean", axes = array<i64: 1, 2>, keepdims = false} : (tensor<1x4x5x3xf32>) -> tensor<1x3xf32>
// CHECK-NEXT:    func.return %0 : tensor<1x3xf32>
func.func @reduce_drops_axes(%x: tensor<1x4x5x3xf32>) -> tensor<1x3xf32> {
  %r = sima.relu %x : tensor<1x4x5x3xf32>
  %0 = sima.transpose %r {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x5x3xf32>) -> tensor<1x3x4x5xf32>
  %1 = sima.reduce %0 {kind = "mean", axes = array<i64: 2, 3>, keepdims = false} : (tensor<1x3x4x5xf32>) -> tensor<1x3xf32>
  func.return %1 : tensor<1x3xf32>
}

// -----

// With keepdims the layout is unchanged and the axes are renumbered.
// CHECK-LABEL: func.func @reduce_keepdims
// CHECK-NEXT:    %0 = sima.reduce %x {kind = "max", axes = array<i64: 1>, keepdims = true} : (tensor<1x3x4x5xf32>) -> tensor<1x1x4x5xf32>
// CHECK-NEXT:    func.return %0
func.func @reduce_keepdims(%x: tensor<1x3x4x5xf32>) -> tensor<1x1x4x5xf32> {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x4x5xf32>) -> tensor<1x4x5x3xf32>
  %1 = sima.reduce %0 {kind = "max", axes = array<i64: 3>, keepdims = true} : (tensor<1x4x5x3xf32>) -> tensor<1x4x5x1xf32>
  %2 = sima.transpose %1 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x5x1xf32>) -> tensor<1x1x4x5xf32>
  func.return %2 : tensor<1x1x4x5xf32>
}

// -----

// argmax over NCHW channels of an NHWC value: it becomes argmax over NHWC axis 3.
// CHECK-LABEL: func.func @argmax_axis
// CHECK-NEXT:    %0 = sima.argmax %x {axis = 3 : i64, keepdims = false} : (tensor<1x4x5x3xf32>) -> tensor<1x4x5xi64>
// CHECK-NEXT:    func.return %0
func.func @argmax_axis(%x: tensor<1x4x5x3xf32>) -> tensor<1x4x5xi64> {
  %0 = sima.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x5x3xf32>) -> tensor<1x3x4x5xf32>
  %1 = sima.argmax %0 {axis = 1 : i64, keepdims = false} : (tensor<1x3x4x5xf32>) -> tensor<1x4x5xi64>
  func.return %1 : tensor<1x4x5xi64>
}
