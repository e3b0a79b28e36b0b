// By default #sima.ndarray weights print elided: name, tensor type and a
// 12-hex-digit digest of the little-endian bytes (xxh3-64), never the data.
// Same bytes give the same digest whatever the name or type; one changed byte
// changes it.
// RUN: sima-opt %s | filecheck %s

func.func @weights() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"a", tensor<2xf32>, "0x0000803F00000040">
  %1 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040"> {node = "b"}
  %2 = sima.constant #sima.ndarray<"c", tensor<2xf32>, "0x0000803F00000041">
  %3 = sima.constant #sima.ndarray<"d", tensor<2xi32>, "0x0000803F00000040">
  %4 = sima.constant #sima.ndarray<"e", tensor<1x2xf32>, "0x0000803F00000040">
  %5 = sima.constant #sima.ndarray<"f", tensor<2xbf16>, "0x803F0040">
  func.return %0 : tensor<2xf32>
}
// CHECK-NOT: "0x
// CHECK-LABEL: func.func @weights() -> tensor<2xf32> {
// CHECK-NEXT:  %0 = sima.constant #sima.ndarray<"a", tensor<2xf32>, elided "4de8d78f7134">
// CHECK-NEXT:  %1 = sima.constant #sima.ndarray<"b", tensor<2xf32>, elided "4de8d78f7134"> {node = "b"}
// CHECK-NEXT:  %2 = sima.constant #sima.ndarray<"c", tensor<2xf32>, elided "1761eb6f5468">
// CHECK-NEXT:  %3 = sima.constant #sima.ndarray<"d", tensor<2xi32>, elided "4de8d78f7134">
// CHECK-NEXT:  %4 = sima.constant #sima.ndarray<"e", tensor<1x2xf32>, elided "4de8d78f7134">
// CHECK-NEXT:  %5 = sima.constant #sima.ndarray<"f", tensor<2xbf16>, elided "d73f38204880">
// CHECK-NEXT:  func.return %0 : tensor<2xf32>
// CHECK-NOT: "0x
