// RUN: sima-opt %s --split-input-file -p fuse-activations | filecheck %s
// RUN: sima-opt %s --split-input-file -p fuse-activations,fuse-activations | filecheck %s

// conv2d + bias + relu -> one conv2d with act_min = 0; the relu's users read the conv.
func.func @conv_bias_relu(%x: tensor<1x4x4x3xf32>) -> tensor<1x4x4x8xf32> {
  %w = sima.constant dense<1.0> : tensor<3x3x3x8xf32>
  %b = sima.constant dense<0.5> : tensor<8xf32>
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x3xf32>, tensor<3x3x3x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.relu %0 : tensor<1x4x4x8xf32>
  %2 = sima.max_pool %1 {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  func.return %2 : tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @conv_bias_relu
// CHECK:         %0 = sima.conv2d %x, %w, %b {{{.*}}groups = 1 : i64, act_min = 0.000000e+00 : f32} :
// CHECK-NOT:     sima.relu
// CHECK-NEXT:    %1 = sima.max_pool %0
// CHECK-NEXT:    func.return %1

// -----

// clip [0, 6] (relu6) gives both bounds; dense and conv2d_transpose fuse too; an
// infinite clip bound is left out; the activation's node name goes to an unnamed producer.
func.func @clips(%x: tensor<1x4x4x8xf32>, %v: tensor<1x8xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x2xf32>, tensor<1x4x4x8xf32>) {
  %w = sima.constant dense<1.0> : tensor<1x1x8x8xf32>
  %m = sima.constant dense<1.0> : tensor<8x2xf32>
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.clip %0 {min = 0.0 : f32, max = 6.0 : f32, node = "Relu6_0"} : tensor<1x4x4x8xf32>
  %2 = sima.dense %v, %m : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
  %3 = sima.relu %2 : tensor<1x2xf32>
  %4 = sima.conv2d_transpose %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x4x8xf32>
  %5 = sima.clip %4 {min = 0xFF800000 : f32, max = 2.5 : f32} : tensor<1x4x4x8xf32>
  func.return %1, %3, %5 : tensor<1x4x4x8xf32>, tensor<1x2xf32>, tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @clips
// CHECK:         %0 = sima.conv2d %x, %w {{{.*}}groups = 1 : i64, act_min = 0.000000e+00 : f32, act_max = 6.000000e+00 : f32, node = "Relu6_0"}
// CHECK-NEXT:    %1 = sima.dense %v, %m {act_min = 0.000000e+00 : f32} : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:    %2 = sima.conv2d_transpose %x, %w {{{.*}}groups = 1 : i64, act_max = 2.500000e+00 : f32}
// CHECK-NEXT:    func.return %0, %1, %2

// -----

// A clamp already on the op is intersected with the new one: relu of a relu6 conv is the relu6 conv,
// clip [-1, 4] of a relu conv is [0, 4].
func.func @intersect(%x: tensor<1x4x4x8xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) {
  %w = sima.constant dense<1.0> : tensor<1x1x8x8xf32>
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, act_max = 6.0 : f32} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.relu %0 : tensor<1x4x4x8xf32>
  %2 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x4x8xf32>
  %3 = sima.clip %2 {min = -1.0 : f32, max = 4.0 : f32} : tensor<1x4x4x8xf32>
  func.return %1, %3 : tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @intersect
// CHECK:         %0 = sima.conv2d {{.*}}act_min = 0.000000e+00 : f32, act_max = 6.000000e+00 : f32}
// CHECK-NEXT:    %1 = sima.conv2d {{.*}}act_min = 0.000000e+00 : f32, act_max = 4.000000e+00 : f32}
// CHECK-NEXT:    func.return %0, %1

// -----

// Unchanged: the pre-activation tensor has another user (a second output, an observer),
// the intersection with an existing clamp is empty, or the producer cannot fuse (a residual add, a matmul).
func.func @not_fused(%x: tensor<1x4x4x8xf32>, %y: tensor<1x4x4x8xf32>, %a: tensor<2x2xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<2x2xf32>) {
  %w = sima.constant dense<1.0> : tensor<1x1x8x8xf32>
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x4x8xf32>
  %1 = sima.relu %0 : tensor<1x4x4x8xf32>
  %2 = sima.conv2d %y, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x4x8xf32>
  sima.observe %2 {key = "t2", method = {name = "mse"}} : tensor<1x4x4x8xf32>
  %3 = sima.relu %2 : tensor<1x4x4x8xf32>
  %4 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, act_max = 1.0 : f32} : (tensor<1x4x4x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x4x4x8xf32>
  %5 = sima.clip %4 {min = 2.0 : f32, max = 3.0 : f32} : tensor<1x4x4x8xf32>
  %6 = sima.add %x, %y : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %7 = sima.relu %6 : tensor<1x4x4x8xf32>
  %8 = sima.matmul %a, %a : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  %9 = sima.relu %8 : tensor<2x2xf32>
  func.return %0, %1, %3, %5, %7, %9 : tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<2x2xf32>
}
// CHECK-LABEL: func.func @not_fused
// CHECK:         %0 = sima.conv2d %x, %w {{{.*}}groups = 1 : i64}
// CHECK-NEXT:    %1 = sima.relu %0
// CHECK-NEXT:    %2 = sima.conv2d %y, %w {{{.*}}groups = 1 : i64}
// CHECK-NEXT:    sima.observe %2
// CHECK-NEXT:    %3 = sima.relu %2
// CHECK-NEXT:    %4 = sima.conv2d %x, %w {{{.*}}act_min = 0.000000e+00 : f32, act_max = 1.000000e+00 : f32}
// CHECK-NEXT:    %5 = sima.clip %4
// CHECK-NEXT:    %6 = sima.add %x, %y
// CHECK-NEXT:    %7 = sima.relu %6
// CHECK-NEXT:    %8 = sima.matmul %a, %a
// CHECK-NEXT:    %9 = sima.relu %8
