// RUN: sima-opt %s -p 'node-precisions{int16-nodes="MLA_0/dense_3,MLA_0/dense_7"},quantize' 2>/dev/null | filecheck %s
// RUN: sima-opt %s -p 'node-precisions{int16-nodes="MLA_0/dense_3,MLA_0/dense_7"}' 2>&1 >/dev/null | filecheck %s --check-prefix=WARN
// RUN: not sima-opt %s -p 'node-precisions{int16-nodes="MLA_0/dense_3,MLA_0/dense_30"}' 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not sima-opt %s -p 'node-precisions{int16-nodes="MLA_0/dense_3" int8-nodes="MLA_0/dense_3"}' 2>&1 | filecheck %s --check-prefix=BOTH

// node-precisions: an int16 node reads and writes 16-bit tensors, re-selected
// from the recorded statistics (here min / max [0, 6.5535]: step 1e-4, zero
// point -32768 at 16 bits; 6.5535 / 255 at 8 bits). A reshape, which gives its
// result its input's quantization, would hand the dense the pool's 8 bits, so
// the 16 bits go back through it to the pool, which then writes int16.

func.func @through_a_reshape(%x: tensor<1x2x2x4xf32>) -> tensor<1x2xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00784313725490196:-1>} : tensor<1x2x2x4xf32>
  %0 = sima.global_avg_pool %x {node = "MLA_0/global_avg_pool2d_1", target = "MLA"} : (tensor<1x2x2x4xf32>) -> tensor<1x1x1x4xf32>
  sima.observe %0 {key = "MLA_0/global_avg_pool2d_1", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 6.5535 : f64}, quant = !sima.quant<i8, 0.0257:-128>} : tensor<1x1x1x4xf32>
  %1 = sima.reshape %0 {node = "MLA_0/reshape_2", target = "MLA"} : (tensor<1x1x1x4xf32>) -> tensor<1x4xf32>
  sima.observe %1 {key = "MLA_0/reshape_2", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 6.5535 : f64}, quant = !sima.quant<i8, 0.0257:-128>} : tensor<1x4xf32>
  %w = sima.constant dense<[[0.5, -0.25], [1.0, 0.5], [0.25, 0.125], [-1.0, 0.75]]> : tensor<4x2xf32>
  %2 = sima.dense %1, %w {node = "MLA_0/dense_3", target = "MLA"} : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  sima.observe %2 {key = "MLA_0/dense_3", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 6.5535 : f64}, quant = !sima.quant<i8, 0.0257:-128>} : tensor<1x2xf32>
  func.return %2 : tensor<1x2xf32>
}
// CHECK-LABEL: func.func @through_a_reshape
// CHECK:         sima.qglobal_avg_pool {{.*}} : (tensor<1x2x2x4x!sima.quant<i8, 0.00784313725490196:-1>>) -> tensor<1x1x1x4x!sima.quant<i16, 0.0001:-32768>>
// CHECK-NEXT:    %[[FLAT:.*]] = sima.reshape {{.*}} : (tensor<1x1x1x4x!sima.quant<i16, 0.0001:-32768>>) -> tensor<1x4x!sima.quant<i16, 0.0001:-32768>>
// CHECK:         sima.qdense %[[FLAT]], {{.*}}node = "MLA_0/dense_3"{{.*}} : (tensor<1x4x!sima.quant<i16, 0.0001:-32768>>, tensor<4x2xi8>, tensor<2xi32>) -> tensor<1x2x!sima.quant<i16, 0.0001:-32768>>

// A transpose runs only at 8 bits on the MLA: the 16 bits stop there, the
// dense reads the transpose's 8-bit values and a warning names both nodes. The
// relu before it is not widened.
func.func @stopped_by_a_transpose(%x: tensor<1x2x2xf32>) -> tensor<2x2xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00784313725490196:-1>} : tensor<1x2x2xf32>
  %0 = sima.relu %x {node = "MLA_0/relu_4", target = "MLA"} : tensor<1x2x2xf32>
  sima.observe %0 {key = "MLA_0/relu_4", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00392156862745098:-128>} : tensor<1x2x2xf32>
  %1 = sima.transpose %0 {perm = array<i64: 0, 2, 1>, node = "MLA_0/transpose_5", target = "MLA"} : (tensor<1x2x2xf32>) -> tensor<1x2x2xf32>
  sima.observe %1 {key = "MLA_0/transpose_5", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00392156862745098:-128>} : tensor<1x2x2xf32>
  %2 = sima.reshape %1 {node = "MLA_0/reshape_6", target = "MLA"} : (tensor<1x2x2xf32>) -> tensor<2x2xf32>
  sima.observe %2 {key = "MLA_0/reshape_6", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00392156862745098:-128>} : tensor<2x2xf32>
  %w = sima.constant dense<[[0.5, -0.25], [1.0, 0.5]]> : tensor<2x2xf32>
  %3 = sima.dense %2, %w {node = "MLA_0/dense_7", target = "MLA"} : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  sima.observe %3 {key = "MLA_0/dense_7", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 6.5535 : f64}, quant = !sima.quant<i8, 0.0257:-128>} : tensor<2x2xf32>
  func.return %3 : tensor<2x2xf32>
}
// WARN-NOT: MLA_0/dense_3
// WARN: node MLA_0/dense_7: INT_16 asked, but it reads 8-bit values: its input comes from 'MLA_0/transpose_5' (sima.transpose), which the MLA runs only at 8 bits
// CHECK-LABEL: func.func @stopped_by_a_transpose
// CHECK:         sima.lut {{.*}} -> tensor<1x2x2x!sima.quant<i8, 0.00392156862745098:-128>>
// CHECK-NEXT:    sima.transpose {{.*}} -> tensor<1x2x2x!sima.quant<i8, 0.00392156862745098:-128>>
// CHECK-NEXT:    %[[FLAT:.*]] = sima.reshape {{.*}} -> tensor<2x2x!sima.quant<i8, 0.00392156862745098:-128>>
// CHECK:         sima.qdense %[[FLAT]], {{.*}} : (tensor<2x2x!sima.quant<i8, 0.00392156862745098:-128>>, tensor<2x2xi8>, tensor<2xi32>) -> tensor<2x2x!sima.quant<i16, 0.0001:-32768>>

// UNKNOWN: QuantizeError: quantize: custom_quantization_configs: no node named 'MLA_0/dense_30' (closest: 'MLA_0/dense_3'
// BOTH: QuantizeError: node-precisions: 'MLA_0/dense_3' in both int16-nodes and int8-nodes
