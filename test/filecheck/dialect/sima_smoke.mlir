// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @main(%x: tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %0 = sima.relu %x : tensor<1x4x4x8xf32>
  func.return %0 : tensor<1x4x4x8xf32>
}
// CHECK: %0 = sima.relu %x : tensor<1x4x4x8xf32>
