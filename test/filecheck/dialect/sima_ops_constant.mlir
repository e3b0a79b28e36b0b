// Round trip (custom -> generic -> custom, weights in full) of sima.constant:
// dense<...> values, #sima.ndarray weights of several element types (f32, i64,
// bf16, !sima.quant, a 0-d tensor), an elided weight (which stays elided), the
// node name and discardable attributes.
// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @dense_constants() -> tensor<4xf32> {
  %0 = sima.constant dense<1.500000e+00> : tensor<4xf32>
  %1 = sima.constant dense<[1, -2, 3]> : tensor<3xi32>
  %2 = sima.constant dense<[[0.000000e+00, 1.000000e+00], [2.000000e+00, 3.000000e+00]]> : tensor<2x2xf32> {node = "table"}
  %3 = sima.constant dense<true> : tensor<2xi1>
  func.return %0 : tensor<4xf32>
}
// CHECK-LABEL: func.func @dense_constants() -> tensor<4xf32> {
// CHECK-NEXT:  %0 = sima.constant dense<1.500000e+00> : tensor<4xf32>
// CHECK-NEXT:  %1 = sima.constant dense<[1, -2, 3]> : tensor<3xi32>
// CHECK-NEXT:  %2 = sima.constant dense<{{\[\[}}0.000000e+00, 1.000000e+00], [2.000000e+00, 3.000000e+00]]> : tensor<2x2xf32> {node = "table"}
// CHECK-NEXT:  %3 = sima.constant dense<true> : tensor<2xi1>
// CHECK-NEXT:  func.return %0 : tensor<4xf32>
// CHECK-NEXT:  }

func.func @weights() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040">
  %1 = sima.constant #sima.ndarray<"conv1.weight", tensor<1x1x2x2xf32>, "0x000000000000803F0000004000004040"> {node = "conv1.weight"}
  %2 = sima.constant #sima.ndarray<"idx", tensor<3xi64>, "0x010000000000000002000000000000000300000000000000">
  %3 = sima.constant #sima.ndarray<"half", tensor<2xbf16>, "0x803F0040">
  %4 = sima.constant #sima.ndarray<"q", tensor<4x!sima.quant<i8, 0.5:-1>>, "0x7F80FF00">
  %5 = sima.constant #sima.ndarray<"scalar", tensor<f32>, "0x0000C03F">
  %6 = sima.constant #sima.ndarray<"big.weight", tensor<64x64xf32>, elided "0123456789ab">
  func.return %0 : tensor<2xf32>
}
// CHECK-LABEL: func.func @weights() -> tensor<2xf32> {
// CHECK-NEXT:  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040">
// CHECK-NEXT:  %1 = sima.constant #sima.ndarray<"conv1.weight", tensor<1x1x2x2xf32>, "0x000000000000803F0000004000004040"> {node = "conv1.weight"}
// CHECK-NEXT:  %2 = sima.constant #sima.ndarray<"idx", tensor<3xi64>, "0x010000000000000002000000000000000300000000000000">
// CHECK-NEXT:  %3 = sima.constant #sima.ndarray<"half", tensor<2xbf16>, "0x803F0040">
// CHECK-NEXT:  %4 = sima.constant #sima.ndarray<"q", tensor<4x!sima.quant<i8, 0.5:-1>>, "0x7F80FF00">
// CHECK-NEXT:  %5 = sima.constant #sima.ndarray<"scalar", tensor<f32>, "0x0000C03F">
// CHECK-NEXT:  %6 = sima.constant #sima.ndarray<"big.weight", tensor<64x64xf32>, elided "0123456789ab">
// CHECK-NEXT:  func.return %0 : tensor<2xf32>
// CHECK-NEXT:  }

func.func @discardable_attributes() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040"> {note = "kept", node = "b"}
  func.return %0 : tensor<2xf32>
}
// CHECK-LABEL: func.func @discardable_attributes() -> tensor<2xf32> {
// CHECK-NEXT:  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040"> {note = "kept", node = "b"}
// CHECK-NEXT:  func.return %0 : tensor<2xf32>
// CHECK-NEXT:  }
