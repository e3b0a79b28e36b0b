// With --print-weights, #sima.ndarray weights print their little-endian bytes in
// hex, bit for bit (signed zero, NaN payloads, infinities) for every element
// type, and that text parses back to the same bytes; printed elided afterwards it
// gives the digest of those bytes.
// RUN: sima-opt %s --print-weights | filecheck %s
// RUN: sima-opt %s --print-weights | sima-opt --print-weights | filecheck %s
// RUN: sima-opt %s --print-weights | sima-opt | filecheck %s --check-prefix=ELIDED

func.func @weights() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"f32", tensor<2xf32>, "0x0000803F00000040">
  %1 = sima.constant #sima.ndarray<"f32.special", tensor<4xf32>, "0x000000800000C07F0100C07F0000807F">
  %2 = sima.constant #sima.ndarray<"f16", tensor<2xf16>, "0x003C00C0">
  %3 = sima.constant #sima.ndarray<"bf16", tensor<2xbf16>, "0x803F0040">
  %4 = sima.constant #sima.ndarray<"i8", tensor<2x2xi8>, "0x7F80FF00"> {node = "i8"}
  %5 = sima.constant #sima.ndarray<"i16", tensor<2xi16>, "0x0180FF7F">
  %6 = sima.constant #sima.ndarray<"i32", tensor<1xi32>, "0x78563412">
  %7 = sima.constant #sima.ndarray<"i64", tensor<1xi64>, "0xFFFFFFFFFFFFFFFF">
  %8 = sima.constant #sima.ndarray<"mask", tensor<3xi1>, "0x010001">
  %9 = sima.constant #sima.ndarray<"quantized", tensor<3x!sima.quant<i16, 0.5:-7>>, "0x0100FEFF0080">
  %10 = sima.constant #sima.ndarray<"scalar", tensor<f32>, "0x0000C03F">
  %11 = sima.constant #sima.ndarray<"empty", tensor<0x4xf32>, "0x">
  func.return %0 : tensor<2xf32>
}
// CHECK-LABEL: func.func @weights() -> tensor<2xf32> {
// CHECK-NEXT:  %0 = sima.constant #sima.ndarray<"f32", tensor<2xf32>, "0x0000803F00000040">
// CHECK-NEXT:  %1 = sima.constant #sima.ndarray<"f32.special", tensor<4xf32>, "0x000000800000C07F0100C07F0000807F">
// CHECK-NEXT:  %2 = sima.constant #sima.ndarray<"f16", tensor<2xf16>, "0x003C00C0">
// CHECK-NEXT:  %3 = sima.constant #sima.ndarray<"bf16", tensor<2xbf16>, "0x803F0040">
// CHECK-NEXT:  %4 = sima.constant #sima.ndarray<"i8", tensor<2x2xi8>, "0x7F80FF00"> {node = "i8"}
// CHECK-NEXT:  %5 = sima.constant #sima.ndarray<"i16", tensor<2xi16>, "0x0180FF7F">
// CHECK-NEXT:  %6 = sima.constant #sima.ndarray<"i32", tensor<1xi32>, "0x78563412">
// CHECK-NEXT:  %7 = sima.constant #sima.ndarray<"i64", tensor<1xi64>, "0xFFFFFFFFFFFFFFFF">
// CHECK-NEXT:  %8 = sima.constant #sima.ndarray<"mask", tensor<3xi1>, "0x010001">
// CHECK-NEXT:  %9 = sima.constant #sima.ndarray<"quantized", tensor<3x!sima.quant<i16, 0.5:-7>>, "0x0100FEFF0080">
// CHECK-NEXT:  %10 = sima.constant #sima.ndarray<"scalar", tensor<f32>, "0x0000C03F">
// CHECK-NEXT:  %11 = sima.constant #sima.ndarray<"empty", tensor<0x4xf32>, "0x">
// CHECK-NEXT:  func.return %0 : tensor<2xf32>
// CHECK-NEXT:  }
// ELIDED-LABEL: func.func @weights() -> tensor<2xf32> {
// ELIDED-NEXT:  %0 = sima.constant #sima.ndarray<"f32", tensor<2xf32>, elided "4de8d78f7134">
// ELIDED-NEXT:  %1 = sima.constant #sima.ndarray<"f32.special", tensor<4xf32>, elided "bef702bc9b94">
// ELIDED-NEXT:  %2 = sima.constant #sima.ndarray<"f16", tensor<2xf16>, elided "eca829c0e564">
// ELIDED-NEXT:  %3 = sima.constant #sima.ndarray<"bf16", tensor<2xbf16>, elided "d73f38204880">
// ELIDED-NEXT:  %4 = sima.constant #sima.ndarray<"i8", tensor<2x2xi8>, elided "4927f1368043"> {node = "i8"}
// ELIDED-NEXT:  %5 = sima.constant #sima.ndarray<"i16", tensor<2xi16>, elided "bd69ae3ff3a5">
// ELIDED-NEXT:  %6 = sima.constant #sima.ndarray<"i32", tensor<1xi32>, elided "2b1e8b2e9c48">
// ELIDED-NEXT:  %7 = sima.constant #sima.ndarray<"i64", tensor<1xi64>, elided "5111c7e47d78">
// ELIDED-NEXT:  %8 = sima.constant #sima.ndarray<"mask", tensor<3xi1>, elided "aed946681f85">
// ELIDED-NEXT:  %9 = sima.constant #sima.ndarray<"quantized", tensor<3x!sima.quant<i16, 0.5:-7>>, elided "eaade1ca3939">
// ELIDED-NEXT:  %10 = sima.constant #sima.ndarray<"scalar", tensor<f32>, elided "adeb6dc039f4">
// ELIDED-NEXT:  %11 = sima.constant #sima.ndarray<"empty", tensor<0x4xf32>, elided "2d06800538d3">
// ELIDED-NEXT:  func.return %0 : tensor<2xf32>
// ELIDED-NEXT:  }
