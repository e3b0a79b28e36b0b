// Invalid IR for sima.matmul and sima.dense: the shape rules, the bias and the
// element types (one case per chunk of --split-input-file).
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// matmul needs matrices (rank >= 2).
func.func @matmul_vector(%a0: tensor<8xf32>, %a1: tensor<8x4xf32>) -> tensor<4xf32> {
  %0 = sima.matmul %a0, %a1 : (tensor<8xf32>, tensor<8x4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^}}sima.matmul: matmul operands must have rank >= 2, got (8,) and (8, 4){{$}}

// -----

// matmul's contraction sizes agree.
func.func @matmul_k_mismatch(%a0: tensor<2x8xf32>, %a1: tensor<7x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.matmul %a0, %a1 : (tensor<2x8xf32>, tensor<7x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.matmul: contraction sizes differ: lhs (2, 8) has K=8, rhs (7, 4) has K=7{{$}}

// -----

// matmul's batch dimensions broadcast.
func.func @matmul_batch_mismatch(%a0: tensor<2x3x8xf32>, %a1: tensor<3x8x4xf32>) -> tensor<2x3x4xf32> {
  %0 = sima.matmul %a0, %a1 : (tensor<2x3x8xf32>, tensor<3x8x4xf32>) -> tensor<2x3x4xf32>
  func.return %0 : tensor<2x3x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.matmul: shapes (2,) and (3,) do not broadcast (dimension 0 of the result has sizes [2, 3]){{$}}

// -----

// matmul's result shape is [..., M, N].
func.func @matmul_result_shape(%a0: tensor<2x1x3x8xf32>, %a1: tensor<5x8x4xf32>) -> tensor<2x3x4xf32> {
  %0 = sima.matmul %a0, %a1 : (tensor<2x1x3x8xf32>, tensor<5x8x4xf32>) -> tensor<2x3x4xf32>
  func.return %0 : tensor<2x3x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.matmul: result shape [2, 3, 4] does not match the expected [2, 5, 3, 4]{{$}}

// -----

// matmul's operands share an element type.
func.func @matmul_mixed_types(%a0: tensor<2x8xf32>, %a1: tensor<8x4xbf16>) -> tensor<2x4xf32> {
  %0 = sima.matmul %a0, %a1 : (tensor<2x8xf32>, tensor<8x4xbf16>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.matmul: element types must match, got f32, bf16, f32{{$}}

// -----

// matmul's result has the operands' element type.
func.func @matmul_result_type(%a0: tensor<2x8xf32>, %a1: tensor<8x4xf32>) -> tensor<2x4xi32> {
  %0 = sima.matmul %a0, %a1 : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xi32>
  func.return %0 : tensor<2x4xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.matmul: element types must match, got f32, f32, i32{{$}}

// -----

// dense needs an input with a feature axis.
func.func @dense_scalar_input(%a0: tensor<f32>, %a1: tensor<1x4xf32>) -> tensor<4xf32> {
  %0 = sima.dense %a0, %a1 : (tensor<f32>, tensor<1x4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dense: dense input must have rank >= 1{{$}}

// -----

// dense's weight is [K, N].
func.func @dense_rank3_weight(%a0: tensor<2x8xf32>, %a1: tensor<1x8x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.dense %a0, %a1 : (tensor<2x8xf32>, tensor<1x8x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dense: dense weight must be rank 2 [K, N], got (1, 8, 4){{$}}

// -----

// dense's input features are the weight's rows.
func.func @dense_features(%a0: tensor<2x8xf32>, %a1: tensor<4x8xf32>) -> tensor<2x8xf32> {
  %0 = sima.dense %a0, %a1 : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x8xf32>
  func.return %0 : tensor<2x8xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dense: input features 8 != weight rows 4{{$}}

// -----

// dense's bias is [N].
func.func @dense_bias_shape(%a0: tensor<2x8xf32>, %a1: tensor<8x4xf32>, %a2: tensor<1x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.dense %a0, %a1, %a2 {node = "fc"} : (tensor<2x8xf32>, tensor<8x4xf32>, tensor<1x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dense 'fc': bias shape [1, 4] must be [4] (one per output channel){{$}}

// -----

// dense's operands and result share an element type.
func.func @dense_bias_type(%a0: tensor<2x8xf32>, %a1: tensor<8x4xf32>, %a2: tensor<4xi32>) -> tensor<2x4xf32> {
  %0 = sima.dense %a0, %a1, %a2 : (tensor<2x8xf32>, tensor<8x4xf32>, tensor<4xi32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dense: element types must match, got f32, f32, i32, f32{{$}}

// -----

// dense's result shape is [..., N].
func.func @dense_result_shape(%a0: tensor<3x2x8xf32>, %a1: tensor<8x4xf32>) -> tensor<6x4xf32> {
  %0 = sima.dense %a0, %a1 : (tensor<3x2x8xf32>, tensor<8x4xf32>) -> tensor<6x4xf32>
  func.return %0 : tensor<6x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.dense: result shape [6, 4] does not match the expected [3, 2, 4]{{$}}
