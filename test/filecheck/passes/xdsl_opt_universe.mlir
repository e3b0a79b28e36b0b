// RUN: xdsl-opt %s -p sima-canonicalize,cancel-transposes | filecheck %s

// Plain xdsl-opt sees the sima dialect and passes through the `xdsl.universe`
// entry point (sima_dialect/universe.py), as sima-opt does.

// CHECK-LABEL: func.func @main
// CHECK-NEXT:    %0 = sima.relu %x : tensor<2x3xf32>
// CHECK-NEXT:    func.return %0
func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = sima.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %1 = sima.relu %0 : tensor<3x2xf32>
  %2 = sima.transpose %1 {perm = array<i64: 1, 0>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
  func.return %2 : tensor<2x3xf32>
}
