// Checks every sima op shares: static shapes, ranked tensor operands, the node
// name in messages, required properties and their types (one case per chunk of
// --split-input-file).
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Shapes are static: a dynamic operand is rejected before any shape rule runs.
func.func @dynamic_operand(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = sima.relu %x : tensor<?x4xf32>
  func.return %0 : tensor<?x4xf32>
}
// CHECK: {{^}}sima.relu: dynamic shapes are not supported, got tensor<?x4xf32>{{$}}

// -----

// Shapes are static: a dynamic result too.
func.func @dynamic_result(%a0: tensor<2x4xf32>) -> tensor<?xf32> {
  %0 = sima.reshape %a0 : (tensor<2x4xf32>) -> tensor<?xf32>
  func.return %0 : tensor<?xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reshape: dynamic shapes are not supported, got tensor<?xf32>{{$}}

// -----

// Operands are ranked tensors.
func.func @unranked_operand(%x: tensor<*xf32>) -> tensor<*xf32> {
  %0 = "sima.relu"(%x) : (tensor<*xf32>) -> tensor<*xf32>
  func.return %0 : tensor<*xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}operand 'input' at position 0 does not verify:{{$}}
// CHECK-NEXT: {{^}}tensor<*xf32> should be of base attribute tensor{{$}}

// -----

// Messages name the op's node when it has one.
func.func @node_in_message(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.gelu %x {approximate = "erf", node = "blk.0/gelu"} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.gelu 'blk.0/gelu': approximate must be one of 'none', 'tanh', got 'erf'{{$}}

// -----

// The node name is a string.
func.func @node_not_a_string(%a0: tensor<4xf32>, %a1: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.add %a0, %a1 {node = 3 : i64} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}3 : i64 should be of base attribute string{{$}}

// -----

// Required properties must be present.
func.func @missing_perm(%a0: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = sima.transpose %a0 : (tensor<2x3xf32>) -> tensor<3x2xf32>
  func.return %0 : tensor<3x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}property 'perm' expected in operation 'sima.transpose'{{$}}

// -----

// Integer-list properties are i64 arrays.
func.func @i32_perm(%a0: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = sima.transpose %a0 {perm = array<i32: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  func.return %0 : tensor<3x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}Expected attribute i64 but got i32{{$}}

// -----

// Integer-list properties are arrays, not lists.
func.func @perm_as_list(%a0: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = sima.transpose %a0 {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  func.return %0 : tensor<3x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}[1 : i64, 0 : i64] should be of base attribute array{{$}}

// -----

// Choice properties are strings.
func.func @kind_not_a_string(%a0: tensor<2x3xf32>) -> tensor<2xf32> {
  %0 = sima.reduce %a0 {kind = 1 : i64, axes = array<i64: 1>, keepdims = false} : (tensor<2x3xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}1 : i64 should be of base attribute string{{$}}

// -----

// Flags are booleans.
func.func @keepdims_not_a_bool(%a0: tensor<2x3xf32>) -> tensor<2xf32> {
  %0 = sima.reduce %a0 {kind = "sum", axes = array<i64: 1>, keepdims = 0 : i64} : (tensor<2x3xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}Expected attribute i1 but got i64{{$}}

// -----

// Quantization lives in the element type: an add of two differently quantized tensors is caught.
func.func @mismatched_quantization(%a0: tensor<4x!sima.quant<i8, 0.5:0>>, %a1: tensor<4x!sima.quant<i8, 0.25:0>>) -> tensor<4x!sima.quant<i8, 0.5:0>> {
  %0 = sima.add %a0, %a1 : (tensor<4x!sima.quant<i8, 0.5:0>>, tensor<4x!sima.quant<i8, 0.25:0>>) -> tensor<4x!sima.quant<i8, 0.5:0>>
  func.return %0 : tensor<4x!sima.quant<i8, 0.5:0>>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.add: element types must match, got !sima.quant<i8, 0.5:0>, !sima.quant<i8, 0.25:0>{{$}}
