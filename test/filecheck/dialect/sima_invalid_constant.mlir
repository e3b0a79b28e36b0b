// Invalid sima.constant ops: the value's type is the result type, the value is a
// #sima.ndarray or dense<...> tensor (one case per chunk of --split-input-file).
// RUN: sima-opt %s --split-input-file --parsing-diagnostics --verify-diagnostics | filecheck %s

// A dense value's type is the result type.
func.func @dense_type_mismatch() -> tensor<2xf32> {
  %0 = "sima.constant"() <{value = dense<1.000000e+00> : tensor<4xf32>}> : () -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^}}sima.constant: value type tensor<4xf32> does not match result type tensor<2xf32>{{$}}

// -----

// A weight's type is the result type; the message names the node.
func.func @weight_type_mismatch() -> tensor<2xi32> {
  %0 = "sima.constant"() <{value = #sima.ndarray<"b", tensor<2xf32>, elided "0123456789ab">, node = "b"}> : () -> tensor<2xi32>
  func.return %0 : tensor<2xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.constant 'b': value type tensor<2xf32> does not match result type tensor<2xi32>{{$}}

// -----

// The value is a tensor, not a scalar attribute.
func.func @scalar_value() -> tensor<1xf32> {
  %0 = "sima.constant"() <{value = 1.000000e+00 : f32}> : () -> tensor<1xf32>
  func.return %0 : tensor<1xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}Unexpected attribute 1.000000e+00 : f32{{$}}

// -----

// The result is a tensor.
func.func @vector_value() -> vector<4xf32> {
  %0 = "sima.constant"() <{value = dense<1.000000e+00> : vector<4xf32>}> : () -> vector<4xf32>
  func.return %0 : vector<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}result 'output' at position 0 does not verify:{{$}}
// CHECK-NEXT: {{^}}vector<4xf32> should be of base attribute tensor{{$}}

// -----

// The custom form takes only a #sima.ndarray or a dense<...> value.
func.func @custom_scalar_value() -> tensor<1xf32> {
  %0 = sima.constant 1.000000e+00 : f32
  func.return %0 : tensor<1xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^.*}}.mlir:{{[0-9]+:[0-9]+$}}
// CHECK: {{^ +}}sima.constant expects a #sima.ndarray or dense<...> value, got 1.000000e+00 : f32{{$}}
