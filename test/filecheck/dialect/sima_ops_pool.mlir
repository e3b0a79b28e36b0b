// Round trip (custom -> generic -> custom) of max_pool, avg_pool and the global
// pools, with and without padding, dilation and a node name.
// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @max_pool(%x: tensor<1x112x112x64xf32>, %odd: tensor<2x7x5x3xf32>) -> tensor<1x56x56x64xf32> {
  %0 = sima.max_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x112x112x64xf32>) -> tensor<1x56x56x64xf32>
  %1 = sima.max_pool %odd {kernel = array<i64: 2, 3>, strides = array<i64: 1, 2>, pads = array<i64: 0, 0, 1, 2>, dilations = array<i64: 2, 1>, node = "pool"} : (tensor<2x7x5x3xf32>) -> tensor<2x6x3x3xf32>
  func.return %0 : tensor<1x56x56x64xf32>
}
// CHECK-LABEL: func.func @max_pool(%x: tensor<1x112x112x64xf32>, %odd: tensor<2x7x5x3xf32>) -> tensor<1x56x56x64xf32> {
// CHECK-NEXT:  %0 = sima.max_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x112x112x64xf32>) -> tensor<1x56x56x64xf32>
// CHECK-NEXT:  %1 = sima.max_pool %odd {kernel = array<i64: 2, 3>, strides = array<i64: 1, 2>, pads = array<i64: 0, 0, 1, 2>, dilations = array<i64: 2, 1>, node = "pool"} : (tensor<2x7x5x3xf32>) -> tensor<2x6x3x3xf32>
// CHECK-NEXT:  func.return %0 : tensor<1x56x56x64xf32>
// CHECK-NEXT:  }

func.func @avg_pool(%x: tensor<1x8x8x16xf32>) -> tensor<1x4x4x16xf32> {
  %0 = sima.avg_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, count_include_pad = false} : (tensor<1x8x8x16xf32>) -> tensor<1x4x4x16xf32>
  %1 = sima.avg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, node = "avg"} : (tensor<1x8x8x16xf32>) -> tensor<1x8x8x16xf32>
  func.return %0 : tensor<1x4x4x16xf32>
}
// CHECK-LABEL: func.func @avg_pool(%x: tensor<1x8x8x16xf32>) -> tensor<1x4x4x16xf32> {
// CHECK-NEXT:  %0 = sima.avg_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, count_include_pad = false} : (tensor<1x8x8x16xf32>) -> tensor<1x4x4x16xf32>
// CHECK-NEXT:  %1 = sima.avg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, node = "avg"} : (tensor<1x8x8x16xf32>) -> tensor<1x8x8x16xf32>
// CHECK-NEXT:  func.return %0 : tensor<1x4x4x16xf32>
// CHECK-NEXT:  }

func.func @global_pools(%x: tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32> {
  %0 = sima.global_avg_pool %x : (tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32>
  %1 = sima.global_max_pool %x {node = "gmp"} : (tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32>
  %2 = sima.add %0, %1 : (tensor<2x1x1x512xf32>, tensor<2x1x1x512xf32>) -> tensor<2x1x1x512xf32>
  func.return %2 : tensor<2x1x1x512xf32>
}
// CHECK-LABEL: func.func @global_pools(%x: tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32> {
// CHECK-NEXT:  %0 = sima.global_avg_pool %x : (tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32>
// CHECK-NEXT:  %1 = sima.global_max_pool %x {node = "gmp"} : (tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32>
// CHECK-NEXT:  %2 = sima.add %0, %1 : (tensor<2x1x1x512xf32>, tensor<2x1x1x512xf32>) -> tensor<2x1x1x512xf32>
// CHECK-NEXT:  func.return %2 : tensor<2x1x1x512xf32>
// CHECK-NEXT:  }
