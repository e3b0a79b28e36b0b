// RUN: not sima-opt %s -p 'partition{unquantized-nodes="MLA_0/conv2d_add_relu_1,MLA_0/relu_0,nothing_like_it"}' 2>&1 | filecheck %s

// A name of unquantized-nodes that matches no node is refused, with the closest existing names.
func.func @f(%x: tensor<1x4x4x3xf32>) -> tensor<1x4x4x8xf32> {
  %w = sima.constant dense<1.0> : tensor<3x3x3x8xf32>
  %b = sima.constant dense<1.0> : tensor<8xf32>
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32} : (tensor<1x4x4x3xf32>, tensor<3x3x3x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.tanh %0 : tensor<1x4x4x8xf32>
  func.return %1 : tensor<1x4x4x8xf32>
}
// CHECK: PartitionError: partition: unquantized-nodes: no node named 'MLA_0/conv2d_add_relu_1' (closest: 'MLA_0/conv2d_add_relu_0'{{.*}}); no node named 'MLA_0/relu_0' (closest: {{.*}}); no node named 'nothing_like_it' (no similar name)
