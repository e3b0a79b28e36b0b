// RUN: sima-opt %s --split-input-file -p 'split-channel-groups{producer="P" first_group="1"}' --print-weights | filecheck %s
// RUN: sima-opt %s --split-input-file -p 'split-channel-groups{producer="D" first_group="1"}' --verify-diagnostics | filecheck %s --check-prefix=NOBLOCK
// RUN: sima-opt %s --split-input-file -p 'split-channel-groups{producer="P" first_group="0,1,2"}' --verify-diagnostics | filecheck %s --check-prefix=ALL

// NOBLOCK: split-channel-groups: 'D' does not start a conv -> elementwise -> depthwise conv block (conv and elementwise results read by the next op alone) whose readers can take its channels in another order
// ALL: split-channel-groups: first_group must name some but not all of the 3 channels of 'P', got [0, 1, 2]

// P (1x1, one input channel -> 3: w1 = [1, 2, 3], b1 = [4, 5, 6]) -> hard_swish ->
// depthwise D (wd = [7, 8, 9]) -> relu -> R (w2 = [10, 11, 12] over the 3 channels).
// Channel 1 apart: P/group0 and D/group0 hold channel 1 (w 2, b 5, wd 8), the
// group1 ops channels 0 and 2 (w [1, 3], b [4, 6], wd [7, 9]); the concat
// gives the channels in the order [1, 0, 2], so R reads w2 permuted to [11, 10, 12].
// CHECK-LABEL: func.func @block
// CHECK-NOT:     "w1"
// CHECK-NOT:     "wd"
// CHECK-DAG:     %[[W0:.*]] = sima.constant #sima.ndarray<"w1.group0", tensor<1x1x1x1xf32>, "0x00000040">
// CHECK-DAG:     %[[B0:.*]] = sima.constant #sima.ndarray<"b1.group0", tensor<1xf32>, "0x0000A040">
// CHECK-DAG:     %[[W1:.*]] = sima.constant #sima.ndarray<"w1.group1", tensor<1x1x1x2xf32>, "0x0000803F00004040">
// CHECK-DAG:     %[[B1:.*]] = sima.constant #sima.ndarray<"b1.group1", tensor<2xf32>, "0x000080400000C040">
// CHECK-DAG:     %[[D0:.*]] = sima.constant #sima.ndarray<"wd.group0", tensor<1x1x1x1xf32>, "0x00000041">
// CHECK-DAG:     %[[D1:.*]] = sima.constant #sima.ndarray<"wd.group1", tensor<1x1x1x2xf32>, "0x0000E04000001041">
// CHECK-DAG:     %[[P0:.*]] = sima.conv2d %x, %[[W0]], %[[B0]] {{.*}}groups = 1 : i64, node = "P/group0"{{.*}} -> tensor<1x2x2x1xf32>
// CHECK-DAG:     %[[F0:.*]] = sima.hard_swish %[[P0]] {node = "F/group0"} : tensor<1x2x2x1xf32>
// CHECK-DAG:     %[[G0:.*]] = sima.conv2d %[[F0]], %[[D0]] {{.*}}groups = 1 : i64, node = "D/group0"{{.*}} -> tensor<1x2x2x1xf32>
// CHECK-DAG:     %[[P1:.*]] = sima.conv2d %x, %[[W1]], %[[B1]] {{.*}}groups = 1 : i64, node = "P/group1"{{.*}} -> tensor<1x2x2x2xf32>
// CHECK-DAG:     %[[F1:.*]] = sima.hard_swish %[[P1]] {node = "F/group1"} : tensor<1x2x2x2xf32>
// CHECK-DAG:     %[[G1:.*]] = sima.conv2d %[[F1]], %[[D1]] {{.*}}groups = 2 : i64, node = "D/group1"{{.*}} -> tensor<1x2x2x2xf32>
// CHECK:         %[[C:.*]] = sima.concat %[[G0]], %[[G1]] {node = "D/concat", axis = -1 : i64} : (tensor<1x2x2x1xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x3xf32>
// CHECK-NEXT:    %[[E:.*]] = sima.relu %[[C]] {node = "E"}
// CHECK-NEXT:    %[[R:.*]] = sima.constant #sima.ndarray<"w2.permuted", tensor<1x1x3x1xf32>, "0x000030410000204100004041">
// CHECK-NEXT:    %{{.*}} = sima.conv2d %[[E]], %[[R]] {{.*}}node = "R"
// CHECK-NOT:     sima.constant
func.func @block(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32> {
  %w1 = sima.constant #sima.ndarray<"w1", tensor<1x1x1x3xf32>, "0x0000803F0000004000004040">
  %b1 = sima.constant #sima.ndarray<"b1", tensor<3xf32>, "0x000080400000A0400000C040">
  %wd = sima.constant #sima.ndarray<"wd", tensor<1x1x1x3xf32>, "0x0000E0400000004100001041">
  %w2 = sima.constant #sima.ndarray<"w2", tensor<1x1x3x1xf32>, "0x000020410000304100004041">
  %0 = sima.conv2d %x, %w1, %b1 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "P"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x3xf32>, tensor<3xf32>) -> tensor<1x2x2x3xf32>
  %1 = sima.hard_swish %0 {node = "F"} : tensor<1x2x2x3xf32>
  %2 = sima.conv2d %1, %wd {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 3 : i64, node = "D"} : (tensor<1x2x2x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x2x3xf32>
  %3 = sima.relu %2 {node = "E"} : tensor<1x2x2x3xf32>
  %4 = sima.conv2d %3, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "R"} : (tensor<1x2x2x3xf32>, tensor<1x1x3x1xf32>) -> tensor<1x2x2x1xf32>
  func.return %4 : tensor<1x2x2x1xf32>
}
