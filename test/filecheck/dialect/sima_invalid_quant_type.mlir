// Invalid !sima.quant types: storage type, scale and zero-point range (checked
// when the type is built, here while parsing), and malformed syntax (one case per
// chunk of --split-input-file).
// RUN: sima-opt %s --split-input-file --parsing-diagnostics --verify-diagnostics | filecheck %s

// Storage is i8, i16 or i32.
func.func @i4_storage(%x: tensor<4x!sima.quant<i4, 0.5:0>>) {
  func.return
}
// CHECK: {{^}}!sima.quant storage must be i8, i16 or i32, got i4{{$}}

// -----

// Storage is signless (the zero-point range assumes two's complement).
func.func @unsigned_storage(%x: tensor<4x!sima.quant<ui8, 0.5:0>>) {
  func.return
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}!sima.quant storage must be i8, i16 or i32, got ui8{{$}}

// -----

// Storage is signless, not signed either.
func.func @signed_storage(%x: tensor<4x!sima.quant<si16, 0.5:0>>) {
  func.return
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}!sima.quant storage must be i8, i16 or i32, got si16{{$}}

// -----

// Storage is an integer type.
func.func @float_storage(%x: tensor<4x!sima.quant<f32, 0.5:0>>) {
  func.return
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}!sima.quant storage must be an integer type{{$}}

// -----

// The scale is positive.
func.func @zero_scale(%x: tensor<4x!sima.quant<i8, 0.0:0>>) {
  func.return
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}!sima.quant scale must be positive and finite, got 0.0{{$}}

// -----

// The scale is positive, not negative.
func.func @negative_scale(%x: tensor<4x!sima.quant<i8, -0.5:0>>) {
  func.return
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}!sima.quant scale must be positive and finite, got -0.5{{$}}

// -----

// The scale is a number.
func.func @scale_not_a_number(%x: tensor<4x!sima.quant<i8, "0.5":0>>) {
  func.return
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}integer or float literal expected for the !sima.quant scale{{$}}

// -----

// The zero point is a storage value (i8).
func.func @zero_point_above_i8(%x: tensor<4x!sima.quant<i8, 0.5:128>>) {
  func.return
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}!sima.quant zero point 128 is outside the i8 range [-128, 127]{{$}}

// -----

// The zero point is a storage value (i16).
func.func @zero_point_below_i16(%x: tensor<4x!sima.quant<i16, 0.5:-32769>>) {
  func.return
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}!sima.quant zero point -32769 is outside the i16 range [-32768, 32767]{{$}}

// -----

// The zero point is required.
func.func @no_zero_point(%x: tensor<4x!sima.quant<i8, 0.5>>) {
  func.return
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}Expected ':'{{$}}
