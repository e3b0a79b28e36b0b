// Invalid #sima.ndarray weights: the tensor type, the hex data (byte count, 0x
// prefix, hex digits) and the elided digest (one case per chunk of
// --split-input-file).
// RUN: sima-opt %s --split-input-file --parsing-diagnostics --verify-diagnostics | filecheck %s

// The data has exactly the bytes the type needs (too few).
func.func @too_few_bytes() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0x0000803F">
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}#sima.ndarray 'b': data has 4 bytes, but tensor<2xf32> needs 8{{$}}

// -----

// The data has exactly the bytes the type needs (too many).
func.func @too_many_bytes() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0x0000803F000000400000">
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}#sima.ndarray 'b': data has 10 bytes, but tensor<2xf32> needs 8{{$}}

// -----

// The data is hex with a 0x prefix.
func.func @no_prefix() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0000803F00000040">
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}#sima.ndarray 'b': data must be a hex string starting with 0x{{$}}

// -----

// The data is hex.
func.func @not_hex() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0x0000803F0000004G">
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}#sima.ndarray 'b': data is not valid hex{{$}}

// -----

// The data is whole bytes.
func.func @odd_digits() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0x0000803F0000004">
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}#sima.ndarray 'b': data is not valid hex{{$}}

// -----

// The type is a tensor type.
func.func @memref_type() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", memref<2xf32>, "0x0000803F00000040">
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}#sima.ndarray 'b' expects a tensor type, got memref<2xf32>{{$}}

// -----

// The type has a static shape.
func.func @dynamic_type() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", tensor<?xf32>, "0x0000803F00000040">
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}#sima.ndarray 'b' needs a static shape, got tensor<?xf32>{{$}}

// -----

// The element type has a NumPy dtype.
func.func @unsupported_element_type() -> tensor<2xui8> {
  %0 = sima.constant #sima.ndarray<"b", tensor<2xui8>, "0x0102">
  func.return %0 : tensor<2xui8>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}#sima.ndarray 'b': no NumPy dtype for element type ui8{{$}}

// -----

// An elided digest is 12 lowercase hex digits.
func.func @bad_digest() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, elided "xyz">
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}#sima.ndarray 'b': digest 'xyz' is not 12 lowercase hex digits{{$}}

// -----

// The weight is named by a string.
func.func @unnamed() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<b, tensor<2xf32>, "0x0000803F00000040">
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}string literal expected for the #sima.ndarray weight name{{$}}

// -----

// The data is a string (hex) or the keyword elided.
func.func @data_not_a_string() -> tensor<2xf32> {
  %0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, 0x0000803F00000040>
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}string literal expected for the #sima.ndarray hex data (or elided "digest"){{$}}
