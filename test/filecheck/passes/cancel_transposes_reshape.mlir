// RUN: sima-opt %s --split-input-file -p cancel-transposes | filecheck %s
// RUN: sima-opt %s --split-input-file -p 'cancel-transposes{to-reshape=false}' | filecheck %s --check-prefix=KEEP

// Global pool then ONNX Flatten: the NHWC -> NCHW transpose of a [1, 1, 1, C]
// tensor only moves size-1 axes, so it is a reshape, and the reshapes merge.
// CHECK-LABEL: func.func @pool_flatten
// CHECK-NEXT:    %0 = sima.global_avg_pool %x
// CHECK-NEXT:    %1 = sima.reshape %0 : (tensor<1x1x1x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:    func.return %1
// With to-reshape=false that transpose stays a transpose.
// KEEP-LABEL:  func.func @pool_flatten
// KEEP:          sima.transpose
func.func @pool_flatten(%x: tensor<1x4x4x8xf32>) -> tensor<1x8xf32> {
  %0 = sima.global_avg_pool %x : (tensor<1x4x4x8xf32>) -> tensor<1x1x1x8xf32>
  %1 = sima.transpose %0 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x1x1x8xf32>) -> tensor<1x8x1x1xf32>
  %2 = sima.reshape %1 : (tensor<1x8x1x1xf32>) -> tensor<1x8xf32>
  func.return %2 : tensor<1x8xf32>
}

// -----

// NOT rewritten: flattening C, H, W of an NCHW view of NHWC data depends on the
// order, and the transpose cannot cross it.
// CHECK-LABEL: func.func @nchw_flatten
// CHECK-NEXT:    %0 = sima.transpose %x {perm = array<i64: 0, 3, 1, 2>}
// CHECK-NEXT:    %1 = sima.reshape %0 : (tensor<1x8x2x2xf32>) -> tensor<1x32xf32>
// CHECK-NEXT:    %2 = sima.relu %1
// CHECK-NEXT:    func.return %2
func.func @nchw_flatten(%x: tensor<1x2x2x8xf32>) -> tensor<1x32xf32> {
  %0 = sima.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x2x2x8xf32>) -> tensor<1x8x2x2xf32>
  %1 = sima.reshape %0 : (tensor<1x8x2x2xf32>) -> tensor<1x32xf32>
  %2 = sima.relu %1 : tensor<1x32xf32>
  func.return %2 : tensor<1x32xf32>
}

// -----

// Merging H and W, which NHWC keeps adjacent and in order, commutes: the
// transposes on both sides cancel.
// CHECK-LABEL: func.func @merge_spatial
// CHECK-NEXT:    %0 = sima.reshape %x : (tensor<1x4x5x3xf32>) -> tensor<1x20x3xf32>
// CHECK-NEXT:    func.return %0
func.func @merge_spatial(%x: tensor<1x4x5x3xf32>) -> tensor<1x20x3xf32> {
  %0 = sima.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x5x3xf32>) -> tensor<1x3x4x5xf32>
  %1 = sima.reshape %0 : (tensor<1x3x4x5xf32>) -> tensor<1x3x20xf32>
  %2 = sima.transpose %1 {perm = array<i64: 0, 2, 1>} : (tensor<1x3x20xf32>) -> tensor<1x20x3xf32>
  func.return %2 : tensor<1x20x3xf32>
}

// -----

// Squeeze and unsqueeze (size-1 axes only) commute with any transpose.
// CHECK-LABEL: func.func @squeeze
// CHECK-NEXT:    %0 = sima.reshape %x : (tensor<2x1x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %1 = sima.sigmoid %0
// CHECK-NEXT:    func.return %1 : tensor<2x3x4xf32>
func.func @squeeze(%x: tensor<2x1x3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = sima.transpose %x {perm = array<i64: 3, 1, 0, 2>} : (tensor<2x1x3x4xf32>) -> tensor<4x1x2x3xf32>
  %1 = sima.reshape %0 : (tensor<4x1x2x3xf32>) -> tensor<4x2x3xf32>
  %2 = sima.sigmoid %1 : tensor<4x2x3xf32>
  %3 = sima.transpose %2 {perm = array<i64: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
  func.return %3 : tensor<2x3x4xf32>
}
