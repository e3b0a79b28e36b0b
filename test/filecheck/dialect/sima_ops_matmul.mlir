// Round trip (custom -> generic -> custom) of matmul (batched, broadcast batch)
// and dense (bias present and absent, rank-3 input).
// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @matmul(%a: tensor<2x1x4x8xf32>, %b: tensor<3x8x5xf32>, %m: tensor<4x8xf32>, %n: tensor<8x5xf32>) -> tensor<2x3x4x5xf32> {
  %0 = sima.matmul %a, %b : (tensor<2x1x4x8xf32>, tensor<3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %1 = sima.matmul %m, %n {node = "mm"} : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
  func.return %0 : tensor<2x3x4x5xf32>
}
// CHECK-LABEL: func.func @matmul(%a: tensor<2x1x4x8xf32>, %b: tensor<3x8x5xf32>, %m: tensor<4x8xf32>, %n: tensor<8x5xf32>) -> tensor<2x3x4x5xf32> {
// CHECK-NEXT:  %0 = sima.matmul %a, %b : (tensor<2x1x4x8xf32>, tensor<3x8x5xf32>) -> tensor<2x3x4x5xf32>
// CHECK-NEXT:  %1 = sima.matmul %m, %n {node = "mm"} : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
// CHECK-NEXT:  func.return %0 : tensor<2x3x4x5xf32>
// CHECK-NEXT:  }

func.func @dense(%x: tensor<1x2048xf32>, %w: tensor<2048x1000xf32>, %b: tensor<1000xf32>, %seq: tensor<2x7x2048xf32>) -> tensor<1x1000xf32> {
  %0 = sima.dense %x, %w, %b : (tensor<1x2048xf32>, tensor<2048x1000xf32>, tensor<1000xf32>) -> tensor<1x1000xf32>
  %1 = sima.dense %x, %w {node = "fc"} : (tensor<1x2048xf32>, tensor<2048x1000xf32>) -> tensor<1x1000xf32>
  %2 = sima.dense %seq, %w, %b : (tensor<2x7x2048xf32>, tensor<2048x1000xf32>, tensor<1000xf32>) -> tensor<2x7x1000xf32>
  func.return %0 : tensor<1x1000xf32>
}
// CHECK-LABEL: func.func @dense(%x: tensor<1x2048xf32>, %w: tensor<2048x1000xf32>, %b: tensor<1000xf32>, %seq: tensor<2x7x2048xf32>) -> tensor<1x1000xf32> {
// CHECK-NEXT:  %0 = sima.dense %x, %w, %b : (tensor<1x2048xf32>, tensor<2048x1000xf32>, tensor<1000xf32>) -> tensor<1x1000xf32>
// CHECK-NEXT:  %1 = sima.dense %x, %w {node = "fc"} : (tensor<1x2048xf32>, tensor<2048x1000xf32>) -> tensor<1x1000xf32>
// CHECK-NEXT:  %2 = sima.dense %seq, %w, %b : (tensor<2x7x2048xf32>, tensor<2048x1000xf32>, tensor<1000xf32>) -> tensor<2x7x1000xf32>
// CHECK-NEXT:  func.return %0 : tensor<1x1000xf32>
// CHECK-NEXT:  }
