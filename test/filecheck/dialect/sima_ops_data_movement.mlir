// Round trip (custom -> generic -> custom) of the data-movement ops: concat and
// split (one and several tensors), slice (negative step), reshape, transpose,
// pad (every mode), resize (every mode), expand and gather.
// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @concat_split(%a: tensor<1x4x4x8xf32>, %b: tensor<1x4x4x3xf32>) -> tensor<1x4x4x19xf32> {
  %0 = sima.concat %a, %b, %a {axis = 3 : i64} : (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x19xf32>
  %1 = sima.concat %a {axis = -4 : i64, node = "single"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %2, %3, %4 = sima.split %0 {axis = -1 : i64} : (tensor<1x4x4x19xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>, tensor<1x4x4x8xf32>)
  %5 = sima.split %a {axis = 0 : i64, node = "one_piece"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  func.return %0 : tensor<1x4x4x19xf32>
}
// CHECK-LABEL: func.func @concat_split(%a: tensor<1x4x4x8xf32>, %b: tensor<1x4x4x3xf32>) -> tensor<1x4x4x19xf32> {
// CHECK-NEXT:  %0 = sima.concat %a, %b, %a {axis = 3 : i64} : (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x19xf32>
// CHECK-NEXT:  %1 = sima.concat %a {axis = -4 : i64, node = "single"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %2, %3, %4 = sima.split %0 {axis = -1 : i64} : (tensor<1x4x4x19xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>, tensor<1x4x4x8xf32>)
// CHECK-NEXT:  %5 = sima.split %a {axis = 0 : i64, node = "one_piece"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  func.return %0 : tensor<1x4x4x19xf32>
// CHECK-NEXT:  }

func.func @slice_reshape_transpose(%x: tensor<1x8x6x4xf32>) -> tensor<4x3x2xf32> {
  %0 = sima.slice %x {starts = array<i64: 0, 1, 5, 0>, ends = array<i64: 1, 8, -1, 4>, steps = array<i64: 1, 3, -2, 1>} : (tensor<1x8x6x4xf32>) -> tensor<1x3x3x4xf32>
  %1 = sima.reshape %0 : (tensor<1x3x3x4xf32>) -> tensor<3x3x4xf32>
  %2 = sima.slice %1 {starts = array<i64: 0, 0, 0>, ends = array<i64: 2, 3, 4>, steps = array<i64: 1, 1, 1>, node = "s"} : (tensor<3x3x4xf32>) -> tensor<2x3x4xf32>
  %3 = sima.transpose %2 {perm = array<i64: 2, 1, 0>} : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
  %4 = sima.reshape %3 {node = "flatten"} : (tensor<4x3x2xf32>) -> tensor<24xf32>
  func.return %3 : tensor<4x3x2xf32>
}
// CHECK-LABEL: func.func @slice_reshape_transpose(%x: tensor<1x8x6x4xf32>) -> tensor<4x3x2xf32> {
// CHECK-NEXT:  %0 = sima.slice %x {starts = array<i64: 0, 1, 5, 0>, ends = array<i64: 1, 8, -1, 4>, steps = array<i64: 1, 3, -2, 1>} : (tensor<1x8x6x4xf32>) -> tensor<1x3x3x4xf32>
// CHECK-NEXT:  %1 = sima.reshape %0 : (tensor<1x3x3x4xf32>) -> tensor<3x3x4xf32>
// CHECK-NEXT:  %2 = sima.slice %1 {starts = array<i64: 0, 0, 0>, ends = array<i64: 2, 3, 4>, steps = array<i64: 1, 1, 1>, node = "s"} : (tensor<3x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  %3 = sima.transpose %2 {perm = array<i64: 2, 1, 0>} : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
// CHECK-NEXT:  %4 = sima.reshape %3 {node = "flatten"} : (tensor<4x3x2xf32>) -> tensor<24xf32>
// CHECK-NEXT:  func.return %3 : tensor<4x3x2xf32>
// CHECK-NEXT:  }

func.func @pad_resize_expand(%x: tensor<1x4x4x8xf32>, %c: tensor<8xf32>) -> tensor<1x6x6x8xf32> {
  %0 = sima.pad %x {pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = 0.000000e+00 : f32} : (tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xf32>
  %1 = sima.pad %x {pads = array<i64: 0, 2, 0, 0, 0, 0, 3, 0>, mode = "reflect", value = 0.000000e+00 : f32} : (tensor<1x4x4x8xf32>) -> tensor<1x6x7x8xf32>
  %2 = sima.pad %x {pads = array<i64: 0, 0, 0, 0, 0, 0, 0, 0>, mode = "edge", value = 1.500000e+00 : f32, node = "p"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %3 = sima.resize %x {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"} : (tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32>
  %4 = sima.resize %x {mode = "linear", coordinate_mode = "half_pixel", nearest_mode = "round_prefer_floor", node = "up"} : (tensor<1x4x4x8xf32>) -> tensor<1x7x3x8xf32>
  %5 = sima.resize %x {mode = "linear", coordinate_mode = "align_corners", nearest_mode = "ceil"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %6 = sima.resize %x {mode = "nearest", coordinate_mode = "pytorch_half_pixel", nearest_mode = "round_prefer_ceil"} : (tensor<1x4x4x8xf32>) -> tensor<1x2x2x8xf32>
  %7 = sima.expand %c : (tensor<8xf32>) -> tensor<1x6x6x8xf32>
  %8 = sima.expand %c {node = "e"} : (tensor<8xf32>) -> tensor<8xf32>
  func.return %7 : tensor<1x6x6x8xf32>
}
// CHECK-LABEL: func.func @pad_resize_expand(%x: tensor<1x4x4x8xf32>, %c: tensor<8xf32>) -> tensor<1x6x6x8xf32> {
// CHECK-NEXT:  %0 = sima.pad %x {pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = 0.000000e+00 : f32} : (tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xf32>
// CHECK-NEXT:  %1 = sima.pad %x {pads = array<i64: 0, 2, 0, 0, 0, 0, 3, 0>, mode = "reflect", value = 0.000000e+00 : f32} : (tensor<1x4x4x8xf32>) -> tensor<1x6x7x8xf32>
// CHECK-NEXT:  %2 = sima.pad %x {pads = array<i64: 0, 0, 0, 0, 0, 0, 0, 0>, mode = "edge", value = 1.500000e+00 : f32, node = "p"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %3 = sima.resize %x {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"} : (tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32>
// CHECK-NEXT:  %4 = sima.resize %x {mode = "linear", coordinate_mode = "half_pixel", nearest_mode = "round_prefer_floor", node = "up"} : (tensor<1x4x4x8xf32>) -> tensor<1x7x3x8xf32>
// CHECK-NEXT:  %5 = sima.resize %x {mode = "linear", coordinate_mode = "align_corners", nearest_mode = "ceil"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %6 = sima.resize %x {mode = "nearest", coordinate_mode = "pytorch_half_pixel", nearest_mode = "round_prefer_ceil"} : (tensor<1x4x4x8xf32>) -> tensor<1x2x2x8xf32>
// CHECK-NEXT:  %7 = sima.expand %c : (tensor<8xf32>) -> tensor<1x6x6x8xf32>
// CHECK-NEXT:  %8 = sima.expand %c {node = "e"} : (tensor<8xf32>) -> tensor<8xf32>
// CHECK-NEXT:  func.return %7 : tensor<1x6x6x8xf32>
// CHECK-NEXT:  }

func.func @gather(%table: tensor<100x16xf32>, %ids: tensor<2x5xi64>, %one: tensor<i32>) -> tensor<2x5x16xf32> {
  %0 = sima.gather %table, %ids {axis = 0 : i64} : (tensor<100x16xf32>, tensor<2x5xi64>) -> tensor<2x5x16xf32>
  %1 = sima.gather %table, %one {axis = -1 : i64, node = "pick"} : (tensor<100x16xf32>, tensor<i32>) -> tensor<100xf32>
  func.return %0 : tensor<2x5x16xf32>
}
// CHECK-LABEL: func.func @gather(%table: tensor<100x16xf32>, %ids: tensor<2x5xi64>, %one: tensor<i32>) -> tensor<2x5x16xf32> {
// CHECK-NEXT:  %0 = sima.gather %table, %ids {axis = 0 : i64} : (tensor<100x16xf32>, tensor<2x5xi64>) -> tensor<2x5x16xf32>
// CHECK-NEXT:  %1 = sima.gather %table, %one {axis = -1 : i64, node = "pick"} : (tensor<100x16xf32>, tensor<i32>) -> tensor<100xf32>
// CHECK-NEXT:  func.return %0 : tensor<2x5x16xf32>
// CHECK-NEXT:  }
