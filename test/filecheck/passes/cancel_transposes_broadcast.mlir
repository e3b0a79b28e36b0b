// RUN: sima-opt %s --split-input-file -p cancel-transposes --print-weights | filecheck %s

// An NCHW bias [C, 1, 1] broadcast against an NCHW view of NHWC data: moving
// the transposes re-lays the constant out to [1, 1, 1, C] (by folding).
// CHECK-LABEL: func.func @bias_of_lower_rank
// CHECK-NEXT:    %[[B:.*]] = sima.constant dense<[[[[1.000000e+00, 2.000000e+00, 3.000000e+00]]]]> : tensor<1x1x1x3xf32>
// CHECK-NEXT:    %[[ADD:.*]] = sima.add %x, %[[B]] : (tensor<1x2x2x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x2x3xf32>
// CHECK-NEXT:    func.return %[[ADD]]
func.func @bias_of_lower_rank(%x: tensor<1x2x2x3xf32>) -> tensor<1x2x2x3xf32> {
  %b = sima.constant dense<[[[1.0]], [[2.0]], [[3.0]]]> : tensor<3x1x1xf32>
  %0 = sima.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x2x2x3xf32>) -> tensor<1x3x2x2xf32>
  %1 = sima.add %0, %b : (tensor<1x3x2x2xf32>, tensor<3x1x1xf32>) -> tensor<1x3x2x2xf32>
  %2 = sima.transpose %1 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x2x2xf32>) -> tensor<1x2x2x3xf32>
  func.return %2 : tensor<1x2x2x3xf32>
}

// -----

// A named weight keeps its origin in its name; a scalar needs no change.
// CHECK-LABEL: func.func @named_weight_and_scalar
// CHECK-DAG:     %[[S:.*]] = sima.constant dense<2.000000e+00> : tensor<f32>
// CHECK-DAG:     %[[W:.*]] = sima.constant #sima.ndarray<"scale.transpose", tensor<1x1x2xf32>, "0x0000803F00000040">
// CHECK:         %[[MUL:.*]] = sima.mul %[[W]], %x : (tensor<1x1x2xf32>, tensor<3x1x2xf32>) -> tensor<3x1x2xf32>
// CHECK-NEXT:    %[[SUB:.*]] = sima.sub %[[MUL]], %[[S]] : (tensor<3x1x2xf32>, tensor<f32>) -> tensor<3x1x2xf32>
// CHECK-NEXT:    func.return %[[SUB]]
func.func @named_weight_and_scalar(%x: tensor<3x1x2xf32>) -> tensor<3x1x2xf32> {
  %w = sima.constant #sima.ndarray<"scale", tensor<2x1xf32>, "0x0000803F00000040">
  %s = sima.constant dense<2.0> : tensor<f32>
  %0 = sima.transpose %x {perm = array<i64: 1, 2, 0>} : (tensor<3x1x2xf32>) -> tensor<1x2x3xf32>
  %1 = sima.mul %w, %0 : (tensor<2x1xf32>, tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
  %2 = sima.sub %1, %s : (tensor<1x2x3xf32>, tensor<f32>) -> tensor<1x2x3xf32>
  %3 = sima.transpose %2 {perm = array<i64: 2, 0, 1>} : (tensor<1x2x3xf32>) -> tensor<3x1x2xf32>
  func.return %3 : tensor<3x1x2xf32>
}

// -----

// Two operands transposed alike: both input transposes and the output one go.
// CHECK-LABEL: func.func @both_operands_transposed
// CHECK-NEXT:    %0 = sima.maximum %x, %y : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    func.return %0
func.func @both_operands_transposed(%x: tensor<2x3x4xf32>, %y: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = sima.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = sima.transpose %y {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %2 = sima.maximum %0, %1 : (tensor<4x2x3xf32>, tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
  %3 = sima.transpose %2 {perm = array<i64: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
  func.return %3 : tensor<2x3x4xf32>
}

// -----

// A plain activation operand costs a transpose of its own: worth it when two
// transposes vanish in exchange...
// CHECK-LABEL: func.func @other_operand_pays
// CHECK-NEXT:    %[[T:.*]] = sima.transpose %y {perm = array<i64: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %[[ADD:.*]] = sima.add %x, %[[T]] : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    func.return %[[ADD]]
func.func @other_operand_pays(%x: tensor<2x3x4xf32>, %y: tensor<4x2x3xf32>) -> tensor<2x3x4xf32> {
  %0 = sima.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = sima.add %0, %y : (tensor<4x2x3xf32>, tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
  %2 = sima.transpose %1 {perm = array<i64: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
  func.return %2 : tensor<2x3x4xf32>
}

// -----

// ...but NOT when only one transpose would go and two would appear.
// CHECK-LABEL: func.func @other_operand_does_not_pay
// CHECK-NEXT:    %0 = sima.transpose %x {perm = array<i64: 2, 0, 1>}
// CHECK-NEXT:    %1 = sima.add %0, %y
// CHECK-NEXT:    func.return %1
func.func @other_operand_does_not_pay(%x: tensor<2x3x4xf32>, %y: tensor<4x2x3xf32>) -> tensor<4x2x3xf32> {
  %0 = sima.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = sima.add %0, %y : (tensor<4x2x3xf32>, tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
  func.return %1 : tensor<4x2x3xf32>
}

// -----

// NOT moved through: a non-constant operand of lower rank that is not all 1s
// (re-laying it out would need a reshape and a transpose of its own).
// CHECK-LABEL: func.func @lower_rank_activation
// CHECK-NEXT:    %0 = sima.transpose %x
// CHECK-NEXT:    %1 = sima.add %0, %y
// CHECK-NEXT:    %2 = sima.transpose %1
// CHECK-NEXT:    func.return %2
func.func @lower_rank_activation(%x: tensor<2x3x4xf32>, %y: tensor<3xf32>) -> tensor<2x3x4xf32> {
  %0 = sima.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = sima.add %0, %y : (tensor<4x2x3xf32>, tensor<3xf32>) -> tensor<4x2x3xf32>
  %2 = sima.transpose %1 {perm = array<i64: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
  func.return %2 : tensor<2x3x4xf32>
}

// -----

// A weight elided from the text has no data to fold: it gets a transpose op,
// which still pays here (two transposes go, one comes).
// CHECK-LABEL: func.func @elided_weight
// CHECK-NEXT:    %w = sima.constant #sima.ndarray<"w", tensor<4x2x3xf32>, elided "0123456789ab">
// CHECK-NEXT:    %[[T:.*]] = sima.transpose %w {perm = array<i64: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %[[MUL:.*]] = sima.mul %x, %[[T]]
// CHECK-NEXT:    func.return %[[MUL]]
func.func @elided_weight(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %w = sima.constant #sima.ndarray<"w", tensor<4x2x3xf32>, elided "0123456789ab">
  %0 = sima.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = sima.mul %0, %w : (tensor<4x2x3xf32>, tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
  %2 = sima.transpose %1 {perm = array<i64: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
  func.return %2 : tensor<2x3x4xf32>
}
