// Round trip (custom -> generic -> custom) of layer_norm (bias present and
// absent), reduce (every kind, keepdims both ways) and argmax (i64 and i32).
// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @layer_norm(%x: tensor<2x7x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>, %g2: tensor<7x1xf32>) -> tensor<2x7x32xf32> {
  %0 = sima.layer_norm %x, %g, %b {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x7x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
  %1 = sima.layer_norm %x, %g {axis = 2 : i64, epsilon = 1.000000e-05 : f32, node = "ln"} : (tensor<2x7x32xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
  %2 = sima.layer_norm %x, %g2, %b {axis = 1 : i64, epsilon = 1.000000e-03 : f32} : (tensor<2x7x32xf32>, tensor<7x1xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
  func.return %0 : tensor<2x7x32xf32>
}
// CHECK-LABEL: func.func @layer_norm(%x: tensor<2x7x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>, %g2: tensor<7x1xf32>) -> tensor<2x7x32xf32> {
// CHECK-NEXT:  %0 = sima.layer_norm %x, %g, %b {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x7x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
// CHECK-NEXT:  %1 = sima.layer_norm %x, %g {axis = 2 : i64, epsilon = 1.000000e-05 : f32, node = "ln"} : (tensor<2x7x32xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
// CHECK-NEXT:  %2 = sima.layer_norm %x, %g2, %b {axis = 1 : i64, epsilon = 1.000000e-03 : f32} : (tensor<2x7x32xf32>, tensor<7x1xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
// CHECK-NEXT:  func.return %0 : tensor<2x7x32xf32>
// CHECK-NEXT:  }

func.func @reduce(%x: tensor<2x4x4x8xf32>) -> tensor<2x1x1x8xf32> {
  %0 = sima.reduce %x {kind = "mean", axes = array<i64: 1, 2>, keepdims = true} : (tensor<2x4x4x8xf32>) -> tensor<2x1x1x8xf32>
  %1 = sima.reduce %x {kind = "sum", axes = array<i64: -1>, keepdims = false} : (tensor<2x4x4x8xf32>) -> tensor<2x4x4xf32>
  %2 = sima.reduce %x {kind = "max", axes = array<i64: 3, 0>, keepdims = false} : (tensor<2x4x4x8xf32>) -> tensor<4x4xf32>
  %3 = sima.reduce %x {kind = "min", axes = array<i64: 0, 1, 2, 3>, keepdims = false, node = "r"} : (tensor<2x4x4x8xf32>) -> tensor<f32>
  func.return %0 : tensor<2x1x1x8xf32>
}
// CHECK-LABEL: func.func @reduce(%x: tensor<2x4x4x8xf32>) -> tensor<2x1x1x8xf32> {
// CHECK-NEXT:  %0 = sima.reduce %x {kind = "mean", axes = array<i64: 1, 2>, keepdims = true} : (tensor<2x4x4x8xf32>) -> tensor<2x1x1x8xf32>
// CHECK-NEXT:  %1 = sima.reduce %x {kind = "sum", axes = array<i64: -1>, keepdims = false} : (tensor<2x4x4x8xf32>) -> tensor<2x4x4xf32>
// CHECK-NEXT:  %2 = sima.reduce %x {kind = "max", axes = array<i64: 3, 0>, keepdims = false} : (tensor<2x4x4x8xf32>) -> tensor<4x4xf32>
// CHECK-NEXT:  %3 = sima.reduce %x {kind = "min", axes = array<i64: 0, 1, 2, 3>, keepdims = false, node = "r"} : (tensor<2x4x4x8xf32>) -> tensor<f32>
// CHECK-NEXT:  func.return %0 : tensor<2x1x1x8xf32>
// CHECK-NEXT:  }

func.func @argmax(%x: tensor<2x10xf32>) -> tensor<2xi64> {
  %0 = sima.argmax %x {axis = 1 : i64, keepdims = false} : (tensor<2x10xf32>) -> tensor<2xi64>
  %1 = sima.argmax %x {axis = -2 : i64, keepdims = true, node = "am"} : (tensor<2x10xf32>) -> tensor<1x10xi32>
  func.return %0 : tensor<2xi64>
}
// CHECK-LABEL: func.func @argmax(%x: tensor<2x10xf32>) -> tensor<2xi64> {
// CHECK-NEXT:  %0 = sima.argmax %x {axis = 1 : i64, keepdims = false} : (tensor<2x10xf32>) -> tensor<2xi64>
// CHECK-NEXT:  %1 = sima.argmax %x {axis = -2 : i64, keepdims = true, node = "am"} : (tensor<2x10xf32>) -> tensor<1x10xi32>
// CHECK-NEXT:  func.return %0 : tensor<2xi64>
// CHECK-NEXT:  }
