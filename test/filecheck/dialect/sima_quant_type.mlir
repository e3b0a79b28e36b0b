// Round trip (custom -> generic -> custom) of the !sima.quant element type:
// each storage type, the ends of the zero-point range, scales that need an
// exponent (printed with a dot so that MLIR lexes them as floats), an integer
// scale, full-precision scales, and quantized tensors in ops and weights.
// RUN: SIMA_ROUNDTRIP | filecheck %s

func.func @storage_types(%a: tensor<1x8x8x4x!sima.quant<i8, 0.0235:-3>>, %b: tensor<4x!sima.quant<i16, 0.5:0>>, %c: tensor<4x!sima.quant<i32, 1.0:2147483647>>) -> tensor<1x8x8x4x!sima.quant<i8, 0.0235:-3>> {
  %0 = sima.relu %a : tensor<1x8x8x4x!sima.quant<i8, 0.0235:-3>>
  func.return %0 : tensor<1x8x8x4x!sima.quant<i8, 0.0235:-3>>
}
// CHECK-LABEL: func.func @storage_types(%a: tensor<1x8x8x4x!sima.quant<i8, 0.0235:-3>>, %b: tensor<4x!sima.quant<i16, 0.5:0>>, %c: tensor<4x!sima.quant<i32, 1.0:2147483647>>) -> tensor<1x8x8x4x!sima.quant<i8, 0.0235:-3>> {
// CHECK-NEXT:  %0 = sima.relu %a : tensor<1x8x8x4x!sima.quant<i8, 0.0235:-3>>
// CHECK-NEXT:  func.return %0 : tensor<1x8x8x4x!sima.quant<i8, 0.0235:-3>>
// CHECK-NEXT:  }

func.func @zero_point_range(%lo: tensor<2x!sima.quant<i8, 0.5:-128>>, %hi: tensor<2x!sima.quant<i8, 0.5:127>>, %lo16: tensor<2x!sima.quant<i16, 0.5:-32768>>) -> tensor<2x!sima.quant<i8, 0.5:127>> {
  func.return %hi : tensor<2x!sima.quant<i8, 0.5:127>>
}
// CHECK-LABEL: func.func @zero_point_range(%lo: tensor<2x!sima.quant<i8, 0.5:-128>>, %hi: tensor<2x!sima.quant<i8, 0.5:127>>, %lo16: tensor<2x!sima.quant<i16, 0.5:-32768>>) -> tensor<2x!sima.quant<i8, 0.5:127>> {
// CHECK-NEXT:  func.return %hi : tensor<2x!sima.quant<i8, 0.5:127>>
// CHECK-NEXT:  }

func.func @scales(%tiny: tensor<2x!sima.quant<i8, 1.0e-05:0>>, %huge: tensor<2x!sima.quant<i32, 1.5e+20:0>>, %integer: tensor<2x!sima.quant<i8, 2:0>>, %exact: tensor<2x!sima.quant<i8, 0.1234567890123:0>>) -> tensor<2x!sima.quant<i8, 1.0e-05:0>> {
  func.return %tiny : tensor<2x!sima.quant<i8, 1.0e-05:0>>
}
// CHECK-LABEL: func.func @scales(%tiny: tensor<2x!sima.quant<i8, 1.0e-05:0>>, %huge: tensor<2x!sima.quant<i32, 1.5e+20:0>>, %integer: tensor<2x!sima.quant<i8, 2.0:0>>, %exact: tensor<2x!sima.quant<i8, 0.1234567890123:0>>) -> tensor<2x!sima.quant<i8, 1.0e-05:0>> {
// CHECK-NEXT:  func.return %tiny : tensor<2x!sima.quant<i8, 1.0e-05:0>>
// CHECK-NEXT:  }

func.func @in_ops(%x: tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.5:1>> {
  %0 = sima.add %x, %x {node = "q_add"} : (tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>, tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>
  %1 = sima.constant #sima.ndarray<"qw", tensor<2x!sima.quant<i8, 0.25:-1>>, "0x7F80">
  %2 = sima.reshape %0 : (tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>) -> tensor<128x!sima.quant<i8, 0.5:1>>
  func.return %0 : tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>
}
// CHECK-LABEL: func.func @in_ops(%x: tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.5:1>> {
// CHECK-NEXT:  %0 = sima.add %x, %x {node = "q_add"} : (tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>, tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>) -> tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>
// CHECK-NEXT:  %1 = sima.constant #sima.ndarray<"qw", tensor<2x!sima.quant<i8, 0.25:-1>>, "0x7F80">
// CHECK-NEXT:  %2 = sima.reshape %0 : (tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>) -> tensor<128x!sima.quant<i8, 0.5:1>>
// CHECK-NEXT:  func.return %0 : tensor<1x4x4x8x!sima.quant<i8, 0.5:1>>
// CHECK-NEXT:  }
