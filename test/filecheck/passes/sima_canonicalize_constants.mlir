// RUN: sima-opt %s --split-input-file -p sima-canonicalize --print-weights | filecheck %s
// RUN: sima-opt %s --split-input-file -p 'sima-canonicalize{fold-constants=false}' | filecheck %s --check-prefix=NOFOLD

// A named weight folds into a weight whose name says where it came from.
// CHECK-LABEL: func.func @transpose_weight
// CHECK-NEXT:    %0 = sima.constant #sima.ndarray<"w.transpose", tensor<2x2xf32>, "0x0000803F000040400000004000008040">
// CHECK-NEXT:    func.return %0
// NOFOLD-LABEL: func.func @transpose_weight
// NOFOLD:         sima.transpose
func.func @transpose_weight() -> tensor<2x2xf32> {
  %w = sima.constant #sima.ndarray<"w", tensor<2x2xf32>, "0x0000803F000000400000404000008040">
  %0 = sima.transpose %w {perm = array<i64: 1, 0>} : (tensor<2x2xf32>) -> tensor<2x2xf32>
  func.return %0 : tensor<2x2xf32>
}

// -----

// Folds chain; the original stays while another op still reads it.
// CHECK-LABEL: func.func @chain_and_shared
// CHECK-DAG:     %[[W:.*]] = sima.constant #sima.ndarray<"w", tensor<2x2xf32>, "0x0000803F000000400000404000008040">
// CHECK-DAG:     %[[F:.*]] = sima.constant #sima.ndarray<"w.transpose.reshape", tensor<4xf32>, "0x0000803F000040400000004000008040">
// CHECK:         %[[R:.*]] = sima.relu %[[W]]
// CHECK-NEXT:    func.return %[[F]], %[[R]]
func.func @chain_and_shared() -> (tensor<4xf32>, tensor<2x2xf32>) {
  %w = sima.constant #sima.ndarray<"w", tensor<2x2xf32>, "0x0000803F000000400000404000008040">
  %0 = sima.transpose %w {perm = array<i64: 1, 0>} : (tensor<2x2xf32>) -> tensor<2x2xf32>
  %1 = sima.reshape %0 : (tensor<2x2xf32>) -> tensor<4xf32>
  %2 = sima.relu %w : tensor<2x2xf32>
  func.return %1, %2 : tensor<4xf32>, tensor<2x2xf32>
}

// -----

// A dense literal folds into a dense literal.
// CHECK-LABEL: func.func @reshape_dense
// CHECK-NEXT:    %0 = sima.constant dense<{{\[}}[1, 2, 3], [4, 5, 6]]> : tensor<2x3xi32>
// CHECK-NEXT:    func.return %0
func.func @reshape_dense() -> tensor<2x3xi32> {
  %c = sima.constant dense<[1, 2, 3, 4, 5, 6]> : tensor<6xi32>
  %0 = sima.reshape %c : (tensor<6xi32>) -> tensor<2x3xi32>
  func.return %0 : tensor<2x3xi32>
}

// -----

// cast truncates toward zero, as ONNX Cast does.
// CHECK-LABEL: func.func @cast_dense
// CHECK-NEXT:    %0 = sima.constant dense<[1, -2, 0]> : tensor<3xi32>
// CHECK-NEXT:    func.return %0
func.func @cast_dense() -> tensor<3xi32> {
  %c = sima.constant dense<[1.75, -2.5, -0.5]> : tensor<3xf32>
  %0 = sima.cast %c : (tensor<3xf32>) -> tensor<3xi32>
  func.return %0 : tensor<3xi32>
}

// -----

// NOT folded: values an integer type cannot hold (the result would be platform-defined).
// CHECK-LABEL: func.func @cast_out_of_range
// CHECK-NEXT:    %c = sima.constant dense<[3.000000e+02, 1.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %0 = sima.cast %c : (tensor<2xf32>) -> tensor<2xi8>
func.func @cast_out_of_range() -> tensor<2xi8> {
  %c = sima.constant dense<[300.0, 1.0]> : tensor<2xf32>
  %0 = sima.cast %c : (tensor<2xf32>) -> tensor<2xi8>
  func.return %0 : tensor<2xi8>
}

// -----

// NOT folded: a weight elided from the text has no data.
// CHECK-LABEL: func.func @elided_weight
// CHECK-NEXT:    %w = sima.constant #sima.ndarray<"w", tensor<2x3xf32>, elided "0123456789ab">
// CHECK-NEXT:    %0 = sima.transpose %w
func.func @elided_weight() -> tensor<3x2xf32> {
  %w = sima.constant #sima.ndarray<"w", tensor<2x3xf32>, elided "0123456789ab">
  %0 = sima.transpose %w {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  func.return %0 : tensor<3x2xf32>
}
