// RUN: sima-opt %s -p partition,name-nodes | filecheck %s --check-prefix=DEFAULT
// RUN: sima-opt %s -p 'partition{unquantized-nodes="MLA_0/conv2d_add_relu_2, APU_0/log_3,CVU_0/sub_0"}' | filecheck %s
// RUN: sima-opt %s -p 'partition{unquantized-nodes="MLA_0/conv2d_add_relu_2, APU_0/log_3,CVU_0/sub_0"},name-nodes' | filecheck %s --check-prefix=NAMES
// RUN: sima-opt %s -p 'partition{unquantized-nodes="my_pool"}' | filecheck %s --check-prefix=BY-NODE

// unquantized-nodes (with_unquantized_nodes) forces named ops to the APU. The names
// are those a run without the option gives (DEFAULT); a name already on an op works too.
func.func @f(%x: tensor<1x4x4x3xf32>) -> tensor<1x4x4x8xf32> {
  %mean = sima.constant dense<0.5> : tensor<3xf32>
  %std = sima.constant dense<0.25> : tensor<3xf32>
  %w = sima.constant dense<1.0> : tensor<3x3x3x8xf32>
  %b = sima.constant dense<1.0> : tensor<8xf32>
  %0 = sima.sub %x, %mean : (tensor<1x4x4x3xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32>
  %1 = sima.div %0, %std : (tensor<1x4x4x3xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32>
  %2 = sima.conv2d %1, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32} : (tensor<1x4x4x3xf32>, tensor<3x3x3x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %3 = sima.log %2 : tensor<1x4x4x8xf32>
  %4 = sima.max_pool %3 {kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, node = "my_pool"} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %5 = sima.tanh %4 : tensor<1x4x4x8xf32>
  func.return %5 : tensor<1x4x4x8xf32>
}
// DEFAULT:      %0 = sima.sub {{.*}}node = "CVU_0/sub_0"
// DEFAULT-NEXT: %1 = sima.div {{.*}}node = "CVU_0/div_1"
// DEFAULT-NEXT: %2 = sima.conv2d {{.*}}node = "MLA_0/conv2d_add_relu_2"
// DEFAULT-NEXT: %3 = sima.log {{.*}}node = "APU_0/log_3"
// DEFAULT-NEXT: %4 = sima.max_pool {{.*}}node = "MLA_1/max_pool2d_4"
// DEFAULT-NEXT: %5 = sima.tanh {{.*}}node = "MLA_1/tanh_5"

// CHECK:      %0 = sima.sub %x, %mean {target = "APU"}
// CHECK-NEXT: %1 = sima.div %0, %std {target = "CVU"}
// CHECK-NEXT: %2 = sima.conv2d {{.*}}target = "APU"}
// CHECK-NEXT: %3 = sima.log %2 {target = "APU"}
// CHECK-NEXT: %4 = sima.max_pool {{.*}}target = "MLA"}
// CHECK-NEXT: %5 = sima.tanh %4 {target = "MLA"}

// Forcing splits regions: the indices stay, the region prefixes follow the new targets.
// NAMES:      %0 = sima.sub {{.*}}node = "APU_0/sub_0"
// NAMES-NEXT: %1 = sima.div {{.*}}node = "CVU_0/div_1"
// NAMES-NEXT: %2 = sima.conv2d {{.*}}node = "APU_1/conv2d_add_relu_2"
// NAMES-NEXT: %3 = sima.log {{.*}}node = "APU_1/log_3"
// NAMES-NEXT: %4 = sima.max_pool {{.*}}node = "MLA_0/max_pool2d_4"
// NAMES-NEXT: %5 = sima.tanh {{.*}}node = "MLA_0/tanh_5"

// BY-NODE:      %2 = sima.conv2d {{.*}}target = "MLA"}
// BY-NODE:      %4 = sima.max_pool {{.*}}node = "my_pool", target = "APU"}
// BY-NODE-NEXT: %5 = sima.tanh %4 {target = "MLA"}
