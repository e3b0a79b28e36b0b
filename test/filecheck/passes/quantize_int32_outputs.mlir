// RUN: sima-opt %s -p 'quantize{int32-outputs="MLA_0/conv2d_add_0"}' 2>&1 | filecheck %s
// RUN: sima-opt %s -p quantize 2>&1 | filecheck %s --check-prefix=INT8

// quantize{int32-outputs=...}: the named conv2d keeps its int32 accumulator (`output_int32`).

// An int32 output is the accumulator (zero point 0, its scale the product's:
// S = 1 for channel 0, 1/2 for channel 1, whose weight scale is twice as fine):
// the dequantize reads it as it is, while the table of the sigmoid reading it
// gets it requantized to the sigmoid input's int8 quantization. The planner's
// warning that it coarsened the output scale is not shown for an int32
// output, whose scale is the product's by design.
func.func @int32_output(%x: tensor<1x2x2x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 0.9921875 : f64}, quant = !sima.quant<i8, 0.0078125:0>} : tensor<1x2x2x2xf32>
  %w = sima.constant dense<[[[[0.5, -0.25], [1.0, 0.5]]]]> : tensor<1x1x2x2xf32>
  %b = sima.constant dense<[0.25, -0.5]> : tensor<2xf32>
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_add_0", target = "MLA"} : (tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %0 {key = "MLA_0/conv2d_add_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -2.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.01568627450980392:0>} : tensor<1x2x2x2xf32>
  %1 = sima.sigmoid %0 {node = "MLA_0/sigmoid_1", target = "MLA"} : tensor<1x2x2x2xf32>
  sima.observe %1 {key = "MLA_0/sigmoid_1", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}, quant = !sima.quant<i8, 0.00392156862745098:-128>} : tensor<1x2x2x2xf32>
  func.return %0, %1 : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>
}
// CHECK-NOT:     coarsened
// CHECK-LABEL: func.func @int32_output
// CHECK:         %[[CONV:.*]] = sima.qconv2d {{.*}}requant_mode = "sima", shift = array<i64: 0, 1>, intrinsic_shift = array<i64: 0>, node = "MLA_0/conv2d_add_0", target = "MLA"} : {{.*}} -> tensor<1x2x2x2x!sima.quant<i32, [[STEP:.*]]:0>>
// CHECK-NEXT:    %[[OUT:.*]] = sima.dequantize %[[CONV]] {node = "MLA_0/conv2d_add_0/dequantize", target = "MLA"} : (tensor<1x2x2x2x!sima.quant<i32, [[STEP]]:0>>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:    %[[I8:.*]] = sima.requantize %[[CONV]] {{{.*}}node = "MLA_0/sigmoid_1/requantize_in0", target = "MLA"} : (tensor<1x2x2x2x!sima.quant<i32, [[STEP]]:0>>) -> tensor<1x2x2x2x!sima.quant<i8, 0.01568627450980392:0>>
// CHECK-NEXT:    %[[TABLE:.*]] = sima.constant #sima.ndarray<"MLA_0/sigmoid_1.table", tensor<256xi8>
// CHECK-NEXT:    sima.lut %[[I8]], %[[TABLE]]
// CHECK:         func.return %[[OUT]], {{.*}}
// INT8-LABEL: func.func @int32_output
// INT8:         sima.qconv2d {{.*}} -> tensor<1x2x2x2x!sima.quant<i8, 0.01568627450980392:0>>
