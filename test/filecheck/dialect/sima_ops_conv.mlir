// Round trip (custom -> generic -> custom) of conv2d and conv2d_transpose: bias
// present and absent, strides, asymmetric pads, dilations, groups, output_padding.
// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @conv2d(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>, %b: tensor<16xf32>) -> tensor<1x4x4x16xf32> {
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>, tensor<16xf32>) -> tensor<1x8x8x16xf32>
  %1 = sima.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_0"} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x4x4x16xf32>
  func.return %1 : tensor<1x4x4x16xf32>
}
// CHECK-LABEL: func.func @conv2d(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>, %b: tensor<16xf32>) -> tensor<1x4x4x16xf32> {
// CHECK-NEXT:  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>, tensor<16xf32>) -> tensor<1x8x8x16xf32>
// CHECK-NEXT:  %1 = sima.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_0"} : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x4x4x16xf32>
// CHECK-NEXT:  func.return %1 : tensor<1x4x4x16xf32>
// CHECK-NEXT:  }

func.func @conv2d_grouped_dilated(%x: tensor<2x9x7x8xf32>, %dw: tensor<3x3x1x8xf32>, %gw: tensor<1x2x4x6xf32>) -> tensor<2x5x3x8xf32> {
  %0 = sima.conv2d %x, %dw {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>, groups = 8 : i64} : (tensor<2x9x7x8xf32>, tensor<3x3x1x8xf32>) -> tensor<2x5x3x8xf32>
  %1 = sima.conv2d %x, %gw {strides = array<i64: 3, 2>, pads = array<i64: 0, 1, 0, 0>, dilations = array<i64: 1, 1>, groups = 2 : i64} : (tensor<2x9x7x8xf32>, tensor<1x2x4x6xf32>) -> tensor<2x3x4x6xf32>
  func.return %0 : tensor<2x5x3x8xf32>
}
// CHECK-LABEL: func.func @conv2d_grouped_dilated(%x: tensor<2x9x7x8xf32>, %dw: tensor<3x3x1x8xf32>, %gw: tensor<1x2x4x6xf32>) -> tensor<2x5x3x8xf32> {
// CHECK-NEXT:  %0 = sima.conv2d %x, %dw {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>, groups = 8 : i64} : (tensor<2x9x7x8xf32>, tensor<3x3x1x8xf32>) -> tensor<2x5x3x8xf32>
// CHECK-NEXT:  %1 = sima.conv2d %x, %gw {strides = array<i64: 3, 2>, pads = array<i64: 0, 1, 0, 0>, dilations = array<i64: 1, 1>, groups = 2 : i64} : (tensor<2x9x7x8xf32>, tensor<1x2x4x6xf32>) -> tensor<2x3x4x6xf32>
// CHECK-NEXT:  func.return %0 : tensor<2x5x3x8xf32>
// CHECK-NEXT:  }

func.func @conv2d_transpose(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>, %b: tensor<4xf32>, %b2: tensor<2xf32>) -> tensor<1x8x8x4xf32> {
  %0 = sima.conv2d_transpose %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 2 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %1 = sima.conv2d_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, node = "deconv"} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x6x6x2xf32>
  %2 = sima.conv2d_transpose %x, %w, %b2 {strides = array<i64: 2, 1>, pads = array<i64: 0, 1, 0, 1>, dilations = array<i64: 1, 2>, output_padding = array<i64: 0, 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<2xf32>) -> tensor<1x9x7x2xf32>
  func.return %0 : tensor<1x8x8x4xf32>
}
// CHECK-LABEL: func.func @conv2d_transpose(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>, %b: tensor<4xf32>, %b2: tensor<2xf32>) -> tensor<1x8x8x4xf32> {
// CHECK-NEXT:  %0 = sima.conv2d_transpose %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 2 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
// CHECK-NEXT:  %1 = sima.conv2d_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, node = "deconv"} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x6x6x2xf32>
// CHECK-NEXT:  %2 = sima.conv2d_transpose %x, %w, %b2 {strides = array<i64: 2, 1>, pads = array<i64: 0, 1, 0, 1>, dilations = array<i64: 1, 2>, output_padding = array<i64: 0, 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<2xf32>) -> tensor<1x9x7x2xf32>
// CHECK-NEXT:  func.return %0 : tensor<1x8x8x4xf32>
// CHECK-NEXT:  }
