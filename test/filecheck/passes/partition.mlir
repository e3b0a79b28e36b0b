// RUN: sima-opt %s --split-input-file -p partition | filecheck %s
// RUN: sima-opt %s --split-input-file -p partition,partition | filecheck %s

// Ops of the support table run on the MLA, the rest on the APU; constants get no target;
// an input normalisation chain ((x - mean) / std) feeding the first conv runs on the CVU.
func.func @normalise_conv(%x: tensor<1x4x4x3xf32>) -> tensor<1x4x4x8xf32> {
  %mean = sima.constant dense<0.5> : tensor<3xf32>
  %std = sima.constant dense<0.25> : tensor<1x1x1x3xf32>
  %w = sima.constant dense<1.0> : tensor<3x3x3x8xf32>
  %b = sima.constant dense<1.0> : tensor<8xf32>
  %0 = sima.sub %x, %mean : (tensor<1x4x4x3xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32>
  %1 = sima.div %0, %std : (tensor<1x4x4x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x4x4x3xf32>
  %2 = sima.conv2d %1, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32} : (tensor<1x4x4x3xf32>, tensor<3x3x3x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %3 = sima.log %2 : tensor<1x4x4x8xf32>
  %4 = sima.max_pool %3 {kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  func.return %4 : tensor<1x4x4x8xf32>
}
// CHECK-LABEL: func.func @normalise_conv
// CHECK-NOT:     sima.constant {{.*}}target
// CHECK:         %0 = sima.sub %x, %mean {target = "CVU"}
// CHECK-NEXT:    %1 = sima.div %0, %std {target = "CVU"}
// CHECK-NEXT:    %2 = sima.conv2d %1, %w, %b {{{.*}}, target = "MLA"}
// CHECK-NEXT:    %3 = sima.log %2 {target = "APU"}
// CHECK-NEXT:    %4 = sima.max_pool %3 {{{.*}}, target = "MLA"}

// -----

// No CVU chain: the chain does not end at an MLA op (%0 -> log); the input has a second
// user (%y); c / x is not affine (%z); a constant that enlarges the tensor is not
// elementwise (%v); x * x is not by a constant (%u).
func.func @no_chain(%x: tensor<1x4xf32>, %y: tensor<1x4xf32>, %z: tensor<1x4xf32>, %v: tensor<4xf32>, %u: tensor<1x4xf32>) -> (tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<2x4xf32>, tensor<1x4xf32>) {
  %c = sima.constant dense<2.0> : tensor<1x4xf32>
  %c2 = sima.constant dense<2.0> : tensor<2x4xf32>
  %0 = sima.mul %x, %c : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %1 = sima.log %0 : tensor<1x4xf32>
  %2 = sima.add %y, %c : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %3 = sima.tanh %2 : tensor<1x4xf32>
  %4 = sima.div %c, %z : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %5 = sima.tanh %4 : tensor<1x4xf32>
  %6 = sima.add %v, %c2 : (tensor<4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %7 = sima.tanh %6 : tensor<2x4xf32>
  %8 = sima.mul %u, %u : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %9 = sima.tanh %8 : tensor<1x4xf32>
  func.return %1, %y, %3, %5, %9, %7, %x : tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<2x4xf32>, tensor<1x4xf32>
}
// CHECK-LABEL: func.func @no_chain
// CHECK-NOT:     "CVU"
// CHECK:         %0 = sima.mul %x, %c {target = "MLA"}
// CHECK-NEXT:    %1 = sima.log %0 {target = "APU"}
// CHECK-NEXT:    %2 = sima.add %y, %c {target = "MLA"}
// CHECK-NEXT:    %3 = sima.tanh %2 {target = "MLA"}
// CHECK-NEXT:    %4 = sima.div %c, %z {target = "APU"}
// CHECK-NEXT:    %5 = sima.tanh %4 {target = "MLA"}
// CHECK-NEXT:    %6 = sima.add %v, %c2 {target = "MLA"}
// CHECK-NEXT:    %7 = sima.tanh %6 {target = "MLA"}
// CHECK-NEXT:    %8 = sima.mul %u, %u {target = "MLA"}
// CHECK-NEXT:    %9 = sima.tanh %8 {target = "MLA"}

// -----

// A cast of integer pixels to float starts a CVU chain; integer arithmetic, masks and
// casts are never MLA; a constant pad with a non-zero value is APU, a zero pad is MLA;
// concat along the batch axis is still MLA (8-bit only, see passes/mla_support.py).
func.func @types_and_conditions(%img: tensor<1x2x2x3xi8>, %i: tensor<4xi64>, %f: tensor<1x2x2x8xf32>) -> (tensor<1x2x2x8xf32>, tensor<4xi64>, tensor<1x2x2x8xi1>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<2x2x2x8xf32>) {
  %w = sima.constant dense<1.0> : tensor<1x1x3x8xf32>
  %k = sima.constant dense<127.5> : tensor<1x1x1x3xf32>
  %one = sima.constant dense<1> : tensor<4xi64>
  %0 = sima.cast %img : (tensor<1x2x2x3xi8>) -> tensor<1x2x2x3xf32>
  %1 = sima.div %0, %k : (tensor<1x2x2x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x2x3xf32>
  %2 = sima.conv2d %1, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x2x3xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x2x8xf32>
  %3 = sima.add %i, %one : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  %4 = sima.compare %2, %f {kind = "gt"} : (tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>) -> tensor<1x2x2x8xi1>
  %5 = sima.pad %2 {pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = 1.0 : f32} : (tensor<1x2x2x8xf32>) -> tensor<1x4x4x8xf32>
  %6 = sima.pad %2 {pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = 0.0 : f32} : (tensor<1x2x2x8xf32>) -> tensor<1x4x4x8xf32>
  %7 = sima.concat %2, %f {axis = 0 : i64} : (tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>) -> tensor<2x2x2x8xf32>
  func.return %2, %3, %4, %5, %6, %7 : tensor<1x2x2x8xf32>, tensor<4xi64>, tensor<1x2x2x8xi1>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<2x2x2x8xf32>
}
// CHECK-LABEL: func.func @types_and_conditions
// CHECK:         %0 = sima.cast %img {target = "CVU"}
// CHECK-NEXT:    %1 = sima.div %0, %k {target = "CVU"}
// CHECK-NEXT:    %2 = sima.conv2d %1, %w {{{.*}}, target = "MLA"}
// CHECK-NEXT:    %3 = sima.add %i, %one {target = "APU"}
// CHECK-NEXT:    %4 = sima.compare %2, %f {kind = "gt", target = "APU"}
// CHECK-NEXT:    %5 = sima.pad %2 {{{.*}}value = 1.000000e+00 : f32, target = "APU"}
// CHECK-NEXT:    %6 = sima.pad %2 {{{.*}}value = 0.000000e+00 : f32, target = "MLA"}
// CHECK-NEXT:    %7 = sima.concat %2, %f {axis = 0 : i64, target = "MLA"}
