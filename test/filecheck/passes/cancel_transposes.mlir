// RUN: sima-opt %s --split-input-file -p cancel-transposes | filecheck %s

// Two NHWC convolutions wrapped by the importer, with a relu in between: the
// transposes around the relu cancel; the signature keeps its NCHW types.
// CHECK-LABEL: func.func @conv_relu_conv(%x: tensor<1x3x8x8xf32>) -> tensor<1x8x8x8xf32>
// CHECK-NEXT:    %w = sima.constant
// CHECK-NEXT:    %w2 = sima.constant
// CHECK-NEXT:    %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>}
// CHECK-NEXT:    %1 = sima.conv2d %0, %w
// CHECK-NEXT:    %2 = sima.relu %1 : tensor<1x8x8x8xf32>
// CHECK-NEXT:    %3 = sima.conv2d %2, %w2
// CHECK-NEXT:    %4 = sima.transpose %3 {perm = array<i64: 0, 3, 1, 2>}
// CHECK-NEXT:    func.return %4 : tensor<1x8x8x8xf32>
func.func @conv_relu_conv(%x: tensor<1x3x8x8xf32>) -> tensor<1x8x8x8xf32> {
  %w = sima.constant dense<0.5> : tensor<3x3x3x8xf32>
  %w2 = sima.constant dense<0.25> : tensor<3x3x8x8xf32>
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x8x8xf32>) -> tensor<1x8x8x3xf32>
  %1 = sima.conv2d %0, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x3xf32>, tensor<3x3x3x8xf32>) -> tensor<1x8x8x8xf32>
  %2 = sima.transpose %1 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %3 = sima.relu %2 : tensor<1x8x8x8xf32>
  %4 = sima.transpose %3 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %5 = sima.conv2d %4, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x8x8xf32>, tensor<3x3x8x8xf32>) -> tensor<1x8x8x8xf32>
  %6 = sima.transpose %5 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  func.return %6 : tensor<1x8x8x8xf32>
}

// -----

// A direct chain: transpose then its inverse is nothing.
// CHECK-LABEL: func.func @inverse_pair(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    func.return %x : tensor<2x3x4xf32>
func.func @inverse_pair(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = sima.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = sima.transpose %0 {perm = array<i64: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
  func.return %1 : tensor<2x3x4xf32>
}

// -----

// Transposes that do not cancel still merge into one across the ops between them.
// CHECK-LABEL: func.func @merge_through_ops(%x: tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
// CHECK-NEXT:    %0 = sima.tanh %x : tensor<2x3x4xf32>
// CHECK-NEXT:    %1 = sima.neg %0 : tensor<2x3x4xf32>
// CHECK-NEXT:    %2 = sima.transpose %1 {perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
// CHECK-NEXT:    func.return %2 : tensor<3x2x4xf32>
func.func @merge_through_ops(%x: tensor<2x3x4xf32>) -> tensor<3x2x4xf32> {
  %0 = sima.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = sima.tanh %0 : tensor<4x2x3xf32>
  %2 = sima.neg %1 : tensor<4x2x3xf32>
  %3 = sima.transpose %2 {perm = array<i64: 2, 1, 0>} : (tensor<4x2x3xf32>) -> tensor<3x2x4xf32>
  func.return %3 : tensor<3x2x4xf32>
}

// -----

// NOT rewritten: one transpose, nothing to cancel it (moving it below the relu
// gains nothing), and the result must keep its type.
// CHECK-LABEL: func.func @lone_transpose(%x: tensor<1x3x8x8xf32>) -> tensor<1x8x8x3xf32>
// CHECK-NEXT:    %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>}
// CHECK-NEXT:    %1 = sima.relu %0 : tensor<1x8x8x3xf32>
// CHECK-NEXT:    func.return %1 : tensor<1x8x8x3xf32>
func.func @lone_transpose(%x: tensor<1x3x8x8xf32>) -> tensor<1x8x8x3xf32> {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x8x8xf32>) -> tensor<1x8x8x3xf32>
  %1 = sima.relu %0 : tensor<1x8x8x3xf32>
  func.return %1 : tensor<1x8x8x3xf32>
}

// -----

// NOT rewritten: a layout-sensitive op (max_pool) sits between the transposes.
// CHECK-LABEL: func.func @sensitive_between
// CHECK-NEXT:    %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>}
// CHECK-NEXT:    %1 = sima.max_pool %0
// CHECK-NEXT:    %2 = sima.transpose %1 {perm = array<i64: 0, 3, 1, 2>}
// CHECK-NEXT:    func.return %2
func.func @sensitive_between(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x4x4xf32> {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x8x8xf32>) -> tensor<1x8x8x3xf32>
  %1 = sima.max_pool %0 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x8x8x3xf32>) -> tensor<1x4x4x3xf32>
  %2 = sima.transpose %1 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x4x3xf32>) -> tensor<1x3x4x4xf32>
  func.return %2 : tensor<1x3x4x4xf32>
}

// -----

// The transposed value is also returned: it stays for the return, and the relu
// reads the untransposed input, so its own pair cancels.
// CHECK-LABEL: func.func @shared_transpose(%x: tensor<1x3x4x4xf32>) -> (tensor<1x4x4x3xf32>, tensor<1x3x4x4xf32>)
// CHECK-NEXT:    %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>}
// CHECK-NEXT:    %1 = sima.relu %x : tensor<1x3x4x4xf32>
// CHECK-NEXT:    func.return %0, %1 : tensor<1x4x4x3xf32>, tensor<1x3x4x4xf32>
func.func @shared_transpose(%x: tensor<1x3x4x4xf32>) -> (tensor<1x4x4x3xf32>, tensor<1x3x4x4xf32>) {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x4x4xf32>) -> tensor<1x4x4x3xf32>
  %1 = sima.relu %0 : tensor<1x4x4x3xf32>
  %2 = sima.transpose %1 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x4x3xf32>) -> tensor<1x3x4x4xf32>
  func.return %0, %2 : tensor<1x4x4x3xf32>, tensor<1x3x4x4xf32>
}

// -----

// SiLU (sigmoid and mul both read the transposed value): the whole region moves.
// CHECK-LABEL: func.func @silu_region
// CHECK:         %[[CONV:.*]] = sima.conv2d
// CHECK-NEXT:    %[[SIG:.*]] = sima.sigmoid %[[CONV]] : tensor<1x4x4x8xf32>
// CHECK-NEXT:    %[[MUL:.*]] = sima.mul %[[CONV]], %[[SIG]] : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:    %{{.*}} = sima.max_pool %[[MUL]]
// CHECK-NOT:     sima.transpose
// CHECK:         func.return
func.func @silu_region(%x: tensor<1x4x4x3xf32>) -> tensor<1x2x2x8xf32> {
  %w = sima.constant dense<0.5> : tensor<1x1x3x8xf32>
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x3xf32>, tensor<1x1x3x8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.transpose %0 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x4x8xf32>) -> tensor<1x8x4x4xf32>
  %2 = sima.sigmoid %1 : tensor<1x8x4x4xf32>
  %3 = sima.mul %1, %2 : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %4 = sima.transpose %3 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x8x4x4xf32>) -> tensor<1x4x4x8xf32>
  %5 = sima.max_pool %4 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x4x4x8xf32>) -> tensor<1x2x2x8xf32>
  func.return %5 : tensor<1x2x2x8xf32>
}

// -----

// Quantized tensors move the same way: the element type is kept.
// CHECK-LABEL: func.func @quantized
// CHECK-NEXT:    %0 = sima.relu %x : tensor<1x3x2x2x!sima.quant<i8, 0.5:-3>>
// CHECK-NEXT:    func.return %0
func.func @quantized(%x: tensor<1x3x2x2x!sima.quant<i8, 0.5:-3>>) -> tensor<1x3x2x2x!sima.quant<i8, 0.5:-3>> {
  %0 = sima.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x3x2x2x!sima.quant<i8, 0.5:-3>>) -> tensor<1x2x2x3x!sima.quant<i8, 0.5:-3>>
  %1 = sima.relu %0 : tensor<1x2x2x3x!sima.quant<i8, 0.5:-3>>
  %2 = sima.transpose %1 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x2x2x3x!sima.quant<i8, 0.5:-3>>) -> tensor<1x3x2x2x!sima.quant<i8, 0.5:-3>>
  func.return %2 : tensor<1x3x2x2x!sima.quant<i8, 0.5:-3>>
}
