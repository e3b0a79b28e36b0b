// RUN: sima-opt %s --split-input-file -p dce | filecheck %s

// xDSL's `dce` covers sima IR: every sima op is Pure, so an op whose results
// nobody reads goes, constants included; function arguments always stay.

// CHECK-LABEL: func.func @unused_constants(%x: tensor<4xf32>, %unused: tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    %used = sima.constant dense<2.000000e+00> : tensor<4xf32>
// CHECK-NEXT:    %0 = sima.mul %x, %used
// CHECK-NEXT:    func.return %0
func.func @unused_constants(%x: tensor<4xf32>, %unused: tensor<4xf32>) -> tensor<4xf32> {
  %w = sima.constant #sima.ndarray<"dead.weight", tensor<2xf32>, "0x0000803F00000040">
  %d = sima.constant dense<1.0> : tensor<4xf32>
  %used = sima.constant dense<2.0> : tensor<4xf32>
  %0 = sima.mul %x, %used : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// -----

// A dead chain goes entirely, from its last op back to its first.
// CHECK-LABEL: func.func @dead_chain
// CHECK-NEXT:    func.return %x
func.func @dead_chain(%x: tensor<1x2x3xf32>) -> tensor<1x2x3xf32> {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 1>} : (tensor<1x2x3xf32>) -> tensor<1x3x2xf32>
  %1 = sima.relu %0 : tensor<1x3x2xf32>
  %2 = sima.reshape %1 : (tensor<1x3x2xf32>) -> tensor<6xf32>
  func.return %x : tensor<1x2x3xf32>
}

// -----

// A split with one piece read stays whole.
// CHECK-LABEL: func.func @partly_used_split
// CHECK-NEXT:    %0, %1 = sima.split %x
// CHECK-NEXT:    func.return %1
func.func @partly_used_split(%x: tensor<4xf32>) -> tensor<2xf32> {
  %0, %1 = sima.split %x {axis = 0 : i64} : (tensor<4xf32>) -> (tensor<2xf32>, tensor<2xf32>)
  func.return %1 : tensor<2xf32>
}
