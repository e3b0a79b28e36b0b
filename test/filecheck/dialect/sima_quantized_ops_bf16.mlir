// Round trip (custom -> generic -> custom) of the bfloat16 scheme's ops
// (sima_dialect/bfloat16_ops.py): the f32 <-> bf16 casts at the region's edge,
// bf16_conv2d with bf16 weights (fused clip) and with i8 weights, bf16_global_avg_pool,
// a reshape on a bf16 tensor, bf16_dense, bf16_add / sub / mul (broadcast),
// bf16_lut (a 65536-entry bf16 table) and bf16_matmul. The second RUN line
// checks the generic form of every op.
// RUN: SIMA_ROUNDTRIP | filecheck %s
// RUN: sima-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

func.func @gemm(%x: tensor<1x4x4x2xf32>, %w: tensor<3x3x2x4xbf16>, %wq: tensor<1x1x2x4xi8>, %b: tensor<4xf32>, %s: tensor<4xf32>, %dw: tensor<4x3xbf16>, %b3: tensor<3xf32>) -> tensor<1x3xbf16> {
  %0 = sima.cast %x {node = "MLA_0/conv2d_0/to_bf16", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xbf16>
  %1 = sima.bf16_conv2d %0, %w, %b, %s {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, act_max = 6.0 : f32, node = "MLA_0/conv2d_0", target = "MLA"} : (tensor<1x4x4x2xbf16>, tensor<3x3x2x4xbf16>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x2x2x4xbf16>
  %2 = sima.bf16_conv2d %0, %wq, %b, %s {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xbf16>, tensor<1x1x2x4xi8>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xbf16>
  %3 = sima.bf16_global_avg_pool %2 : (tensor<1x4x4x4xbf16>) -> tensor<1x1x1x4xbf16>
  %4 = sima.reshape %3 : (tensor<1x1x1x4xbf16>) -> tensor<1x4xbf16>
  %5 = sima.bf16_dense %4, %dw, %b3, %b3 {act_min = 0.0 : f32} : (tensor<1x4xbf16>, tensor<4x3xbf16>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3xbf16>
  func.return %5 : tensor<1x3xbf16>
}
func.func @elementwise(%a: tensor<2x3x4xbf16>, %b: tensor<4xbf16>, %m: tensor<2x4x5xbf16>, %t: tensor<65536xbf16>) -> (tensor<2x3x4xf32>, tensor<2x3x5xbf16>) {
  %0 = sima.bf16_add %a, %b : (tensor<2x3x4xbf16>, tensor<4xbf16>) -> tensor<2x3x4xbf16>
  %1 = sima.bf16_sub %0, %a : (tensor<2x3x4xbf16>, tensor<2x3x4xbf16>) -> tensor<2x3x4xbf16>
  %2 = sima.bf16_mul %1, %b {node = "MLA_0/mul_2", target = "MLA"} : (tensor<2x3x4xbf16>, tensor<4xbf16>) -> tensor<2x3x4xbf16>
  %3 = sima.bf16_lut %2, %t : (tensor<2x3x4xbf16>, tensor<65536xbf16>) -> tensor<2x3x4xbf16>
  %4 = sima.bf16_matmul %3, %m : (tensor<2x3x4xbf16>, tensor<2x4x5xbf16>) -> tensor<2x3x5xbf16>
  %5 = sima.cast %3 : (tensor<2x3x4xbf16>) -> tensor<2x3x4xf32>
  func.return %5, %4 : tensor<2x3x4xf32>, tensor<2x3x5xbf16>
}

// CHECK-LABEL: func.func @gemm(%x: tensor<1x4x4x2xf32>, %w: tensor<3x3x2x4xbf16>, %wq: tensor<1x1x2x4xi8>, %b: tensor<4xf32>, %s: tensor<4xf32>, %dw: tensor<4x3xbf16>, %b3: tensor<3xf32>) -> tensor<1x3xbf16> {
// CHECK-NEXT:    %0 = sima.cast %x {node = "MLA_0/conv2d_0/to_bf16", target = "MLA"} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xbf16>
// CHECK-NEXT:    %1 = sima.bf16_conv2d %0, %w, %b, %s {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.000000e+00 : f32, act_max = 6.000000e+00 : f32, node = "MLA_0/conv2d_0", target = "MLA"} : (tensor<1x4x4x2xbf16>, tensor<3x3x2x4xbf16>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x2x2x4xbf16>
// CHECK-NEXT:    %2 = sima.bf16_conv2d %0, %wq, %b, %s {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x2xbf16>, tensor<1x1x2x4xi8>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xbf16>
// CHECK-NEXT:    %3 = sima.bf16_global_avg_pool %2 : (tensor<1x4x4x4xbf16>) -> tensor<1x1x1x4xbf16>
// CHECK-NEXT:    %4 = sima.reshape %3 : (tensor<1x1x1x4xbf16>) -> tensor<1x4xbf16>
// CHECK-NEXT:    %5 = sima.bf16_dense %4, %dw, %b3, %b3 {act_min = 0.000000e+00 : f32} : (tensor<1x4xbf16>, tensor<4x3xbf16>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3xbf16>
// CHECK-NEXT:    func.return %5 : tensor<1x3xbf16>
// CHECK-NEXT:  }
// CHECK-LABEL: func.func @elementwise(%a: tensor<2x3x4xbf16>, %b: tensor<4xbf16>, %m: tensor<2x4x5xbf16>, %t: tensor<65536xbf16>) -> (tensor<2x3x4xf32>, tensor<2x3x5xbf16>) {
// CHECK-NEXT:    %0 = sima.bf16_add %a, %b : (tensor<2x3x4xbf16>, tensor<4xbf16>) -> tensor<2x3x4xbf16>
// CHECK-NEXT:    %1 = sima.bf16_sub %0, %a : (tensor<2x3x4xbf16>, tensor<2x3x4xbf16>) -> tensor<2x3x4xbf16>
// CHECK-NEXT:    %2 = sima.bf16_mul %1, %b {node = "MLA_0/mul_2", target = "MLA"} : (tensor<2x3x4xbf16>, tensor<4xbf16>) -> tensor<2x3x4xbf16>
// CHECK-NEXT:    %3 = sima.bf16_lut %2, %t : (tensor<2x3x4xbf16>, tensor<65536xbf16>) -> tensor<2x3x4xbf16>
// CHECK-NEXT:    %4 = sima.bf16_matmul %3, %m : (tensor<2x3x4xbf16>, tensor<2x4x5xbf16>) -> tensor<2x3x5xbf16>
// CHECK-NEXT:    %5 = sima.cast %3 : (tensor<2x3x4xbf16>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    func.return %5, %4 : tensor<2x3x4xf32>, tensor<2x3x5xbf16>
// CHECK-NEXT:  }
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "gemm"
// GENERIC:  %0 = "sima.cast"(%x) <{node = "MLA_0/conv2d_0/to_bf16", target = "MLA"}> : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xbf16>
// GENERIC-NEXT:  %1 = "sima.bf16_conv2d"(%0, %w, %b, %s) <{strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.000000e+00 : f32, act_max = 6.000000e+00 : f32, node = "MLA_0/conv2d_0", target = "MLA"}> : (tensor<1x4x4x2xbf16>, tensor<3x3x2x4xbf16>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x2x2x4xbf16>
// GENERIC-NEXT:  %2 = "sima.bf16_conv2d"(%0, %wq, %b, %s) <{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64}> : (tensor<1x4x4x2xbf16>, tensor<1x1x2x4xi8>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xbf16>
// GENERIC-NEXT:  %3 = "sima.bf16_global_avg_pool"(%2) : (tensor<1x4x4x4xbf16>) -> tensor<1x1x1x4xbf16>
// GENERIC-NEXT:  %4 = "sima.reshape"(%3) : (tensor<1x1x1x4xbf16>) -> tensor<1x4xbf16>
// GENERIC-NEXT:  %5 = "sima.bf16_dense"(%4, %dw, %b3, %b3) <{act_min = 0.000000e+00 : f32}> : (tensor<1x4xbf16>, tensor<4x3xbf16>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3xbf16>
// GENERIC-LABEL: "func.func"() <{sym_name = "elementwise"
// GENERIC:  %0 = "sima.bf16_add"(%a, %b) : (tensor<2x3x4xbf16>, tensor<4xbf16>) -> tensor<2x3x4xbf16>
// GENERIC-NEXT:  %1 = "sima.bf16_sub"(%0, %a) : (tensor<2x3x4xbf16>, tensor<2x3x4xbf16>) -> tensor<2x3x4xbf16>
// GENERIC-NEXT:  %2 = "sima.bf16_mul"(%1, %b) <{node = "MLA_0/mul_2", target = "MLA"}> : (tensor<2x3x4xbf16>, tensor<4xbf16>) -> tensor<2x3x4xbf16>
// GENERIC-NEXT:  %3 = "sima.bf16_lut"(%2, %t) : (tensor<2x3x4xbf16>, tensor<65536xbf16>) -> tensor<2x3x4xbf16>
// GENERIC-NEXT:  %4 = "sima.bf16_matmul"(%3, %m) : (tensor<2x3x4xbf16>, tensor<2x4x5xbf16>) -> tensor<2x3x5xbf16>
// GENERIC-NEXT:  %5 = "sima.cast"(%3) : (tensor<2x3x4xbf16>) -> tensor<2x3x4xf32>
