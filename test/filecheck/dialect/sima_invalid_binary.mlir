// Invalid IR for the broadcasting elementwise ops (arithmetic, compare, prelu,
// where, cast): each case must fail to verify with the message checked below
// (one case per chunk of --split-input-file).
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Operands must broadcast (NumPy rules).
func.func @add_no_broadcast(%a: tensor<2x3xf32>, %b: tensor<2xf32>) -> tensor<2x3xf32> {
  %0 = sima.add %a, %b : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}
// CHECK: {{^}}sima.add: shapes (2, 3) and (2,) do not broadcast (dimension 1 of the result has sizes [2, 3]){{$}}

// -----

// The result has the broadcast shape.
func.func @sub_wrong_result_shape(%a: tensor<4x1xf32>, %b: tensor<3xf32>) -> tensor<4x1xf32> {
  %0 = sima.sub %a, %b : (tensor<4x1xf32>, tensor<3xf32>) -> tensor<4x1xf32>
  func.return %0 : tensor<4x1xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.sub: result shape [4, 1] does not match the expected [4, 3]{{$}}

// -----

// Both operands have one element type.
func.func @mul_mixed_operands(%a: tensor<4xf32>, %b: tensor<4xbf16>) -> tensor<4xf32> {
  %0 = sima.mul %a, %b : (tensor<4xf32>, tensor<4xbf16>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.mul: element types must match, got f32, bf16{{$}}

// -----

// The result has the operands' element type.
func.func @div_wrong_result_type(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xi32> {
  %0 = sima.div %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi32>
  func.return %0 : tensor<4xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.div: element types must match, got f32, i32{{$}}

// -----

// Operands are tensors.
func.func @pow_scalar_operand(%a: tensor<4xf32>, %b: f32) -> tensor<4xf32> {
  %0 = sima.pow %a, %b : (tensor<4xf32>, f32) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}f32 should be of base attribute tensor{{$}}

// -----

// pow broadcasts like every binary op.
func.func @pow_wrong_result_shape(%a: tensor<2x1xf32>, %b: tensor<3xf32>) -> tensor<2x1xf32> {
  %0 = sima.pow %a, %b : (tensor<2x1xf32>, tensor<3xf32>) -> tensor<2x1xf32>
  func.return %0 : tensor<2x1xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.pow: result shape [2, 1] does not match the expected [2, 3]{{$}}

// -----

// maximum's operands share an element type.
func.func @maximum_mixed_operands(%a: tensor<4xi32>, %b: tensor<4xi8>) -> tensor<4xi32> {
  %0 = sima.maximum %a, %b : (tensor<4xi32>, tensor<4xi8>) -> tensor<4xi32>
  func.return %0 : tensor<4xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.maximum: element types must match, got i32, i8{{$}}

// -----

// minimum's operands must broadcast.
func.func @minimum_no_broadcast(%a: tensor<4x3xf32>, %b: tensor<4x1x2xf32>) -> tensor<4x4x3xf32> {
  %0 = sima.minimum %a, %b : (tensor<4x3xf32>, tensor<4x1x2xf32>) -> tensor<4x4x3xf32>
  func.return %0 : tensor<4x4x3xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.minimum: shapes (4, 3) and (4, 1, 2) do not broadcast (dimension 2 of the result has sizes [2, 3]){{$}}

// -----

// compare's kind is one of six.
func.func @compare_unknown_kind(%a: tensor<4xf32>) -> tensor<4xi1> {
  %0 = sima.compare %a, %a {kind = "less"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  func.return %0 : tensor<4xi1>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.compare: kind must be one of 'eq', 'ne', 'lt', 'le', 'gt', 'ge', got 'less'{{$}}

// -----

// compare gives an i1 mask.
func.func @compare_float_result(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.compare %a, %a {kind = "lt"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.compare: result must be an i1 tensor, got tensor<4xf32>{{$}}

// -----

// compare's operands have one element type.
func.func @compare_mixed_operands(%a: tensor<4xf32>, %b: tensor<4xi32>) -> tensor<4xi1> {
  %0 = sima.compare %a, %b {kind = "eq"} : (tensor<4xf32>, tensor<4xi32>) -> tensor<4xi1>
  func.return %0 : tensor<4xi1>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.compare: element types must match, got f32, i32{{$}}

// -----

// compare broadcasts like the arithmetic ops.
func.func @compare_wrong_shape(%a: tensor<4xf32>, %b: tensor<2x1xf32>) -> tensor<4xi1> {
  %0 = sima.compare %a, %b {kind = "eq"} : (tensor<4xf32>, tensor<2x1xf32>) -> tensor<4xi1>
  func.return %0 : tensor<4xi1>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.compare: result shape [4] does not match the expected [2, 4]{{$}}

// -----

// prelu's slope broadcasts to the input, not the other way round.
func.func @prelu_slope_too_big(%x: tensor<4xf32>, %s: tensor<2x4xf32>) -> tensor<4xf32> {
  %0 = sima.prelu %x, %s : (tensor<4xf32>, tensor<2x4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.prelu: slope shape [2, 4] must broadcast to the input shape [4]{{$}}

// -----

// prelu's slope must broadcast at all.
func.func @prelu_slope_incompatible(%x: tensor<1x4x4x8xf32>, %s: tensor<3xf32>) -> tensor<1x4x4x8xf32> {
  %0 = sima.prelu %x, %s : (tensor<1x4x4x8xf32>, tensor<3xf32>) -> tensor<1x4x4x8xf32>
  func.return %0 : tensor<1x4x4x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.prelu: shapes (1, 4, 4, 8) and (3,) do not broadcast (dimension 3 of the result has sizes [3, 8]){{$}}

// -----

// prelu's input, slope and result share an element type.
func.func @prelu_mixed_types(%x: tensor<4xf32>, %s: tensor<4xbf16>) -> tensor<4xf32> {
  %0 = sima.prelu %x, %s : (tensor<4xf32>, tensor<4xbf16>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.prelu: element types must match, got f32, bf16, f32{{$}}

// -----

// prelu's result has the input's shape.
func.func @prelu_wrong_result_shape(%x: tensor<4xf32>, %s: tensor<1xf32>) -> tensor<1x4xf32> {
  %0 = sima.prelu %x, %s : (tensor<4xf32>, tensor<1xf32>) -> tensor<1x4xf32>
  func.return %0 : tensor<1x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.prelu: result shape [1, 4] does not match the expected [4]{{$}}

// -----

// where's condition is an i1 mask.
func.func @where_float_condition(%c: tensor<4xf32>, %a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.where %c, %a, %a : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.where: condition must be an i1 tensor, got tensor<4xf32>{{$}}

// -----

// where's two branches and result share an element type.
func.func @where_mixed_branches(%c: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xi8>) -> tensor<4xf32> {
  %0 = sima.where %c, %a, %b : (tensor<4xi1>, tensor<4xf32>, tensor<4xi8>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.where: element types must match, got f32, i8, f32{{$}}

// -----

// where's three operands must broadcast together.
func.func @where_no_broadcast(%c: tensor<3xi1>, %a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.where %c, %a, %a : (tensor<3xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.where: shapes (3,) and (4,) and (4,) do not broadcast (dimension 0 of the result has sizes [3, 4]){{$}}

// -----

// where's result has the broadcast shape.
func.func @where_wrong_result_shape(%c: tensor<2x1xi1>, %a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.where %c, %a, %a : (tensor<2x1xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.where: result shape [4] does not match the expected [2, 4]{{$}}

// -----

// cast changes the element type only.
func.func @cast_changes_shape(%x: tensor<4xf32>) -> tensor<2x2xi32> {
  %0 = sima.cast %x : (tensor<4xf32>) -> tensor<2x2xi32>
  func.return %0 : tensor<2x2xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.cast: result shape [2, 2] does not match the expected [4]{{$}}
