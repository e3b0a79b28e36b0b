// Round trip (custom -> generic -> custom) of the broadcasting elementwise ops:
// arithmetic, compare (every kind), where, cast and prelu, with and without a node name.
// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @arithmetic(%a: tensor<1x4x4x8xf32>, %b: tensor<8xf32>, %c: tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32> {
  %0 = sima.add %a, %b : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.sub %0, %c : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
  %2 = sima.mul %1, %1 : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %3 = sima.div %b, %2 : (tensor<8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %4 = sima.pow %3, %c : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
  %5 = sima.maximum %4, %b : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %6 = sima.minimum %5, %a {node = "min_0"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  func.return %6 : tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @arithmetic(%a: tensor<1x4x4x8xf32>, %b: tensor<8xf32>, %c: tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32> {
// CHECK-NEXT:  %0 = sima.add %a, %b : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %1 = sima.sub %0, %c : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %2 = sima.mul %1, %1 : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %3 = sima.div %b, %2 : (tensor<8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %4 = sima.pow %3, %c : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %5 = sima.maximum %4, %b : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %6 = sima.minimum %5, %a {node = "min_0"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  func.return %6 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  }

func.func @broadcast_both_ways(%a: tensor<4x1xf32>, %b: tensor<1x3xf32>, %s: tensor<f32>) -> tensor<4x3xf32> {
  %0 = sima.add %a, %b : (tensor<4x1xf32>, tensor<1x3xf32>) -> tensor<4x3xf32>
  %1 = sima.mul %0, %s : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
  func.return %1 : tensor<4x3xf32>
}
// CHECK-LABEL: func.func @broadcast_both_ways(%a: tensor<4x1xf32>, %b: tensor<1x3xf32>, %s: tensor<f32>) -> tensor<4x3xf32> {
// CHECK-NEXT:  %0 = sima.add %a, %b : (tensor<4x1xf32>, tensor<1x3xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:  %1 = sima.mul %0, %s : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
// CHECK-NEXT:  func.return %1 : tensor<4x3xf32>
// CHECK-NEXT:  }

func.func @compare_select_cast(%a: tensor<2x8xf32>, %b: tensor<8xf32>, %i: tensor<2x8xi32>) -> tensor<2x8xf32> {
  %0 = sima.compare %a, %b {kind = "eq"} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
  %1 = sima.compare %a, %b {kind = "ne"} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
  %2 = sima.compare %a, %b {kind = "lt"} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
  %3 = sima.compare %a, %b {kind = "le"} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
  %4 = sima.compare %i, %i {kind = "gt"} : (tensor<2x8xi32>, tensor<2x8xi32>) -> tensor<2x8xi1>
  %5 = sima.compare %a, %a {kind = "ge", node = "cmp"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xi1>
  %6 = sima.where %5, %a, %b : (tensor<2x8xi1>, tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %7 = sima.cast %i : (tensor<2x8xi32>) -> tensor<2x8xf32>
  %8 = sima.cast %6 {node = "to_int"} : (tensor<2x8xf32>) -> tensor<2x8xi8>
  %9 = sima.add %6, %7 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %9 : tensor<2x8xf32>
}
// CHECK-LABEL: func.func @compare_select_cast(%a: tensor<2x8xf32>, %b: tensor<8xf32>, %i: tensor<2x8xi32>) -> tensor<2x8xf32> {
// CHECK-NEXT:  %0 = sima.compare %a, %b {kind = "eq"} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %1 = sima.compare %a, %b {kind = "ne"} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %2 = sima.compare %a, %b {kind = "lt"} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %3 = sima.compare %a, %b {kind = "le"} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %4 = sima.compare %i, %i {kind = "gt"} : (tensor<2x8xi32>, tensor<2x8xi32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %5 = sima.compare %a, %a {kind = "ge", node = "cmp"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %6 = sima.where %5, %a, %b : (tensor<2x8xi1>, tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:  %7 = sima.cast %i : (tensor<2x8xi32>) -> tensor<2x8xf32>
// CHECK-NEXT:  %8 = sima.cast %6 {node = "to_int"} : (tensor<2x8xf32>) -> tensor<2x8xi8>
// CHECK-NEXT:  %9 = sima.add %6, %7 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:  func.return %9 : tensor<2x8xf32>
// CHECK-NEXT:  }

func.func @prelu(%x: tensor<1x4x4x8xf32>, %slope: tensor<8xf32>, %one: tensor<1xf32>) -> tensor<1x4x4x8xf32> {
  %0 = sima.prelu %x, %slope : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.prelu %0, %one {node = "prelu_1"} : (tensor<1x4x4x8xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  func.return %1 : tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @prelu(%x: tensor<1x4x4x8xf32>, %slope: tensor<8xf32>, %one: tensor<1xf32>) -> tensor<1x4x4x8xf32> {
// CHECK-NEXT:  %0 = sima.prelu %x, %slope : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %1 = sima.prelu %0, %one {node = "prelu_1"} : (tensor<1x4x4x8xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  func.return %1 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  }
