// RUN: sima-opt %s --split-input-file -p sima-canonicalize | filecheck %s

// CHECK-LABEL: func.func @reshape_chain
// CHECK-NEXT:    %0 = sima.reshape %x : (tensor<2x3x4xf32>) -> tensor<4x6xf32>
// CHECK-NEXT:    func.return %0
func.func @reshape_chain(%x: tensor<2x3x4xf32>) -> tensor<4x6xf32> {
  %0 = sima.reshape %x : (tensor<2x3x4xf32>) -> tensor<24xf32>
  %1 = sima.reshape %0 : (tensor<24xf32>) -> tensor<2x12xf32>
  %2 = sima.reshape %1 : (tensor<2x12xf32>) -> tensor<4x6xf32>
  func.return %2 : tensor<4x6xf32>
}

// -----

// A reshape chain back to the input shape is nothing; a reshape to the same shape too.
// CHECK-LABEL: func.func @reshape_round_trip
// CHECK-NEXT:    func.return %x, %x
func.func @reshape_round_trip(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = sima.reshape %x : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %1 = sima.reshape %0 : (tensor<3x2xf32>) -> tensor<2x3xf32>
  %2 = sima.reshape %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %1, %2 : tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// The inner reshape has another user: it stays, the outer one reads x directly.
// CHECK-LABEL: func.func @reshape_chain_shared
// CHECK-NEXT:    %0 = sima.reshape %x : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
// CHECK-NEXT:    %1 = sima.reshape %x : (tensor<2x3x4xf32>) -> tensor<24xf32>
// CHECK-NEXT:    func.return %0, %1
func.func @reshape_chain_shared(%x: tensor<2x3x4xf32>) -> (tensor<6x4xf32>, tensor<24xf32>) {
  %0 = sima.reshape %x : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  %1 = sima.reshape %0 : (tensor<6x4xf32>) -> tensor<24xf32>
  func.return %0, %1 : tensor<6x4xf32>, tensor<24xf32>
}

// -----

// transpose of transpose: one transpose (perm composed), or nothing.
// CHECK-LABEL: func.func @transpose_chain
// CHECK-NEXT:    %0 = sima.transpose %x {perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
// CHECK-NEXT:    func.return %0, %x
func.func @transpose_chain(%x: tensor<2x3x4xf32>) -> (tensor<3x2x4xf32>, tensor<2x3x4xf32>) {
  %0 = sima.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = sima.transpose %0 {perm = array<i64: 2, 1, 0>} : (tensor<4x2x3xf32>) -> tensor<3x2x4xf32>
  %2 = sima.transpose %0 {perm = array<i64: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
  func.return %1, %2 : tensor<3x2x4xf32>, tensor<2x3x4xf32>
}

// -----

// CHECK-LABEL: func.func @identity_ops
// CHECK-NEXT:    func.return %x, %x, %x, %x, %x, %x
func.func @identity_ops(%x: tensor<1x3x4xf32>) -> (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) {
  %0 = sima.transpose %x {perm = array<i64: 0, 1, 2>} : (tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %1 = sima.expand %x : (tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %2 = sima.cast %x : (tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %3 = sima.slice %x {starts = array<i64: 0, 0, 0>, ends = array<i64: 1, 3, 4>, steps = array<i64: 5, 1, 1>} : (tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %4 = sima.pad %x {pads = array<i64: 0, 0, 0, 0, 0, 0>, mode = "reflect", value = 0.0 : f32} : (tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %5 = sima.concat %x {axis = 1 : i64} : (tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  func.return %0, %1, %2, %3, %4, %5 : tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>
}

// -----

// CHECK-LABEL: func.func @split_in_one_piece
// CHECK-NEXT:    %0 = sima.relu %x
// CHECK-NEXT:    func.return %0
func.func @split_in_one_piece(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = sima.split %x {axis = 1 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = sima.relu %0 : tensor<2x3xf32>
  func.return %1 : tensor<2x3xf32>
}

// -----

// A transpose that only moves size-1 axes keeps the element order: a reshape.
// CHECK-LABEL: func.func @unit_axes_transpose
// CHECK-NEXT:    %0 = sima.reshape %x : (tensor<1x1x1x8xf32>) -> tensor<1x8x1x1xf32>
// CHECK-NEXT:    func.return %0
func.func @unit_axes_transpose(%x: tensor<1x1x1x8xf32>) -> tensor<1x8x1x1xf32> {
  %0 = sima.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x1x1x8xf32>) -> tensor<1x8x1x1xf32>
  func.return %0 : tensor<1x8x1x1xf32>
}

// -----

// Dead pure ops go; function arguments stay even when unused.
// CHECK-LABEL: func.func @dead_ops(%x: tensor<4xf32>, %unused: tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    %0 = sima.exp %x
// CHECK-NEXT:    func.return %0
func.func @dead_ops(%x: tensor<4xf32>, %unused: tensor<4xf32>) -> tensor<4xf32> {
  %c = sima.constant dense<1.0> : tensor<4xf32>
  %0 = sima.add %x, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = sima.exp %x : tensor<4xf32>
  func.return %1 : tensor<4xf32>
}

// -----

// NOT rewritten: each op changes something.
// CHECK-LABEL: func.func @not_identities
// CHECK-NEXT:    %0 = sima.transpose %x {perm = array<i64: 0, 2, 1>}
// CHECK-NEXT:    %1 = sima.slice %x {starts = array<i64: 0, 2, 0>, ends = array<i64: 1, -1, 4>, steps = array<i64: 1, -1, 1>}
// CHECK-NEXT:    %2 = sima.pad %x {pads = array<i64: 0, 0, 1, 0, 0, 0>
// CHECK-NEXT:    %3 = sima.cast %x : (tensor<1x3x4xf32>) -> tensor<1x3x4xi32>
// CHECK-NEXT:    %4 = sima.expand %x : (tensor<1x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %5 = sima.reshape %0 : (tensor<1x4x3xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:    func.return
func.func @not_identities(%x: tensor<1x3x4xf32>) -> (tensor<1x4x3xf32>, tensor<1x3x4xf32>, tensor<1x3x5xf32>, tensor<1x3x4xi32>, tensor<2x3x4xf32>, tensor<4x3xf32>) {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 1>} : (tensor<1x3x4xf32>) -> tensor<1x4x3xf32>
  %1 = sima.slice %x {starts = array<i64: 0, 2, 0>, ends = array<i64: 1, -1, 4>, steps = array<i64: 1, -1, 1>} : (tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %2 = sima.pad %x {pads = array<i64: 0, 0, 1, 0, 0, 0>, mode = "constant", value = 0.0 : f32} : (tensor<1x3x4xf32>) -> tensor<1x3x5xf32>
  %3 = sima.cast %x : (tensor<1x3x4xf32>) -> tensor<1x3x4xi32>
  %4 = sima.expand %x : (tensor<1x3x4xf32>) -> tensor<2x3x4xf32>
  %5 = sima.reshape %0 : (tensor<1x4x3xf32>) -> tensor<4x3xf32>
  func.return %0, %1, %2, %3, %4, %5 : tensor<1x4x3xf32>, tensor<1x3x4xf32>, tensor<1x3x5xf32>, tensor<1x3x4xi32>, tensor<2x3x4xf32>, tensor<4x3xf32>
}
