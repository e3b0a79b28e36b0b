// RUN: sima-opt %s --split-input-file -p cancel-transposes,sima-canonicalize,dce --print-op-generic --print-weights | sima-opt --split-input-file --print-weights | filecheck %s

// The passes together, and their output parses back (printed generic, re-read).

// Attention-style head split: reshape, transpose heads forward, softmax per
// head, transpose back, merge heads. The transposes cancel across the softmax.
// CHECK-LABEL: func.func @heads
// CHECK-NEXT:    %0 = sima.reshape %x : (tensor<1x6x8xf32>) -> tensor<1x6x2x4xf32>
// CHECK-NEXT:    %1 = sima.softmax %0 {axis = 3 : i64} : tensor<1x6x2x4xf32>
// CHECK-NEXT:    %2 = sima.reshape %1 : (tensor<1x6x2x4xf32>) -> tensor<1x6x8xf32>
// CHECK-NEXT:    func.return %2
func.func @heads(%x: tensor<1x6x8xf32>) -> tensor<1x6x8xf32> {
  %0 = sima.reshape %x : (tensor<1x6x8xf32>) -> tensor<1x6x2x4xf32>
  %1 = sima.transpose %0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x6x2x4xf32>) -> tensor<1x2x6x4xf32>
  %2 = sima.softmax %1 {axis = -1 : i64} : tensor<1x2x6x4xf32>
  %3 = sima.transpose %2 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x6x4xf32>) -> tensor<1x6x2x4xf32>
  %4 = sima.reshape %3 : (tensor<1x6x2x4xf32>) -> tensor<1x6x8xf32>
  func.return %4 : tensor<1x6x8xf32>
}

// -----

// After the transposes go, relu and clip meet and merge into relu6, and the
// NCHW bias is folded into an NHWC weight named after the original.
// CHECK-LABEL: func.func @bias_relu6
// CHECK-NEXT:    %[[B:.*]] = sima.constant #sima.ndarray<"bias.transpose", tensor<1x1x1x2xf32>, "0x0000803F00000040">
// CHECK-NEXT:    %[[ADD:.*]] = sima.add %x, %[[B]] : (tensor<1x3x3x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x3x3x2xf32>
// CHECK-NEXT:    %[[CLIP:.*]] = sima.clip %[[ADD]] {min = 0.000000e+00 : f32, max = 6.000000e+00 : f32} : tensor<1x3x3x2xf32>
// CHECK-NEXT:    func.return %[[CLIP]]
func.func @bias_relu6(%x: tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32> {
  %b = sima.constant #sima.ndarray<"bias", tensor<2x1x1xf32>, "0x0000803F00000040">
  %0 = sima.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x3x3x2xf32>) -> tensor<1x2x3x3xf32>
  %1 = sima.add %0, %b : (tensor<1x2x3x3xf32>, tensor<2x1x1xf32>) -> tensor<1x2x3x3xf32>
  %2 = sima.relu %1 : tensor<1x2x3x3xf32>
  %3 = sima.clip %2 {min = 0.0 : f32, max = 6.0 : f32} : tensor<1x2x3x3xf32>
  %4 = sima.transpose %3 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x2x3x3xf32>) -> tensor<1x3x3x2xf32>
  func.return %4 : tensor<1x3x3x2xf32>
}
