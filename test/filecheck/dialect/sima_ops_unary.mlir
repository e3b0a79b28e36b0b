// Round trip (custom -> generic -> custom) of the single-input elementwise ops:
// every unary op, the ones with properties (clip, hard_sigmoid, leaky_relu, gelu,
// softmax), the optional node name, and non-f32 element types (bf16, !sima.quant).
// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @plain(%x: tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %0 = sima.relu %x : tensor<1x4x4x8xf32>
  %1 = sima.sigmoid %0 : tensor<1x4x4x8xf32>
  %2 = sima.tanh %1 : tensor<1x4x4x8xf32>
  %3 = sima.silu %2 : tensor<1x4x4x8xf32>
  %4 = sima.hard_swish %3 : tensor<1x4x4x8xf32>
  %5 = sima.exp %4 : tensor<1x4x4x8xf32>
  %6 = sima.log %5 : tensor<1x4x4x8xf32>
  %7 = sima.sqrt %6 : tensor<1x4x4x8xf32>
  %8 = sima.erf %7 : tensor<1x4x4x8xf32>
  %9 = sima.reciprocal %8 : tensor<1x4x4x8xf32>
  %10 = sima.abs %9 : tensor<1x4x4x8xf32>
  %11 = sima.neg %10 : tensor<1x4x4x8xf32>
  func.return %11 : tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @plain(%x: tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32> {
// CHECK-NEXT:  %0 = sima.relu %x : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %1 = sima.sigmoid %0 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %2 = sima.tanh %1 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %3 = sima.silu %2 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %4 = sima.hard_swish %3 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %5 = sima.exp %4 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %6 = sima.log %5 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %7 = sima.sqrt %6 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %8 = sima.erf %7 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %9 = sima.reciprocal %8 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %10 = sima.abs %9 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  %11 = sima.neg %10 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  func.return %11 : tensor<1x4x4x8xf32>
// CHECK-NEXT:  }

func.func @with_properties(%x: tensor<2x16xf32>) -> tensor<2x16xf32> {
  %0 = sima.clip %x {min = 0.000000e+00 : f32, max = 6.000000e+00 : f32} : tensor<2x16xf32>
  %1 = sima.hard_sigmoid %0 {alpha = 2.000000e-01 : f32, beta = 5.000000e-01 : f32} : tensor<2x16xf32>
  %2 = sima.leaky_relu %1 {alpha = 1.000000e-02 : f32} : tensor<2x16xf32>
  %3 = sima.gelu %2 {approximate = "none"} : tensor<2x16xf32>
  %4 = sima.gelu %3 {approximate = "tanh"} : tensor<2x16xf32>
  %5 = sima.softmax %4 {axis = -1 : i64} : tensor<2x16xf32>
  %6 = sima.softmax %5 {axis = 0 : i64} : tensor<2x16xf32>
  func.return %6 : tensor<2x16xf32>
}
// CHECK-LABEL: func.func @with_properties(%x: tensor<2x16xf32>) -> tensor<2x16xf32> {
// CHECK-NEXT:  %0 = sima.clip %x {min = 0.000000e+00 : f32, max = 6.000000e+00 : f32} : tensor<2x16xf32>
// CHECK-NEXT:  %1 = sima.hard_sigmoid %0 {alpha = 2.000000e-01 : f32, beta = 5.000000e-01 : f32} : tensor<2x16xf32>
// CHECK-NEXT:  %2 = sima.leaky_relu %1 {alpha = 1.000000e-02 : f32} : tensor<2x16xf32>
// CHECK-NEXT:  %3 = sima.gelu %2 {approximate = "none"} : tensor<2x16xf32>
// CHECK-NEXT:  %4 = sima.gelu %3 {approximate = "tanh"} : tensor<2x16xf32>
// CHECK-NEXT:  %5 = sima.softmax %4 {axis = -1 : i64} : tensor<2x16xf32>
// CHECK-NEXT:  %6 = sima.softmax %5 {axis = 0 : i64} : tensor<2x16xf32>
// CHECK-NEXT:  func.return %6 : tensor<2x16xf32>
// CHECK-NEXT:  }

func.func @named_and_other_types(%x: tensor<4xbf16>, %q: tensor<1x8x!sima.quant<i8, 0.025:-3>>) -> tensor<4xbf16> {
  %0 = sima.relu %x {node = "MLA_0/relu_0"} : tensor<4xbf16>
  %1 = sima.clip %x {min = -1.000000e+00 : f32, max = 1.000000e+00 : f32, node = "clip"} : tensor<4xbf16>
  %2 = sima.relu %q : tensor<1x8x!sima.quant<i8, 0.025:-3>>
  func.return %1 : tensor<4xbf16>
}
// CHECK-LABEL: func.func @named_and_other_types(%x: tensor<4xbf16>, %q: tensor<1x8x!sima.quant<i8, 0.025:-3>>) -> tensor<4xbf16> {
// CHECK-NEXT:  %0 = sima.relu %x {node = "MLA_0/relu_0"} : tensor<4xbf16>
// CHECK-NEXT:  %1 = sima.clip %x {min = -1.000000e+00 : f32, max = 1.000000e+00 : f32, node = "clip"} : tensor<4xbf16>
// CHECK-NEXT:  %2 = sima.relu %q : tensor<1x8x!sima.quant<i8, 0.025:-3>>
// CHECK-NEXT:  func.return %1 : tensor<4xbf16>
// CHECK-NEXT:  }
