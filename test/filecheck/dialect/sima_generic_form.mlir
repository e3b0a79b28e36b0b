// The generic form of every sima op (the input below) prints back unchanged, and
// its custom form parses back to the same generic form.
// RUN: sima-opt %s --print-op-generic --print-weights | filecheck %s
// RUN: sima-opt %s --print-weights | sima-opt --print-op-generic --print-weights | filecheck %s

"func.func"() <{sym_name = "plain", function_type = (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>}> ({
^bb0(%x: tensor<1x4x4x8xf32>):
  %0 = "sima.relu"(%x) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %1 = "sima.sigmoid"(%0) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %2 = "sima.tanh"(%1) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %3 = "sima.silu"(%2) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %4 = "sima.hard_swish"(%3) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %5 = "sima.exp"(%4) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %6 = "sima.log"(%5) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %7 = "sima.sqrt"(%6) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %8 = "sima.erf"(%7) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %9 = "sima.reciprocal"(%8) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %10 = "sima.abs"(%9) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %11 = "sima.neg"(%10) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  "func.return"(%11) : (tensor<1x4x4x8xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "plain", function_type = (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<1x4x4x8xf32>):
// CHECK-NEXT:  %0 = "sima.relu"(%x) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %1 = "sima.sigmoid"(%0) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %2 = "sima.tanh"(%1) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %3 = "sima.silu"(%2) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %4 = "sima.hard_swish"(%3) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %5 = "sima.exp"(%4) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %6 = "sima.log"(%5) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %7 = "sima.sqrt"(%6) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %8 = "sima.erf"(%7) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %9 = "sima.reciprocal"(%8) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %10 = "sima.abs"(%9) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %11 = "sima.neg"(%10) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  "func.return"(%11) : (tensor<1x4x4x8xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "with_properties", function_type = (tensor<2x16xf32>) -> tensor<2x16xf32>}> ({
^bb0(%x: tensor<2x16xf32>):
  %0 = "sima.clip"(%x) <{min = 0.000000e+00 : f32, max = 6.000000e+00 : f32}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %1 = "sima.hard_sigmoid"(%0) <{alpha = 2.000000e-01 : f32, beta = 5.000000e-01 : f32}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %2 = "sima.leaky_relu"(%1) <{alpha = 1.000000e-02 : f32}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %3 = "sima.gelu"(%2) <{approximate = "none"}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %4 = "sima.gelu"(%3) <{approximate = "tanh"}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %5 = "sima.softmax"(%4) <{axis = -1 : i64}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %6 = "sima.softmax"(%5) <{axis = 0 : i64}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
  "func.return"(%6) : (tensor<2x16xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "with_properties", function_type = (tensor<2x16xf32>) -> tensor<2x16xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<2x16xf32>):
// CHECK-NEXT:  %0 = "sima.clip"(%x) <{min = 0.000000e+00 : f32, max = 6.000000e+00 : f32}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:  %1 = "sima.hard_sigmoid"(%0) <{alpha = 2.000000e-01 : f32, beta = 5.000000e-01 : f32}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:  %2 = "sima.leaky_relu"(%1) <{alpha = 1.000000e-02 : f32}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:  %3 = "sima.gelu"(%2) <{approximate = "none"}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:  %4 = "sima.gelu"(%3) <{approximate = "tanh"}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:  %5 = "sima.softmax"(%4) <{axis = -1 : i64}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:  %6 = "sima.softmax"(%5) <{axis = 0 : i64}> : (tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:  "func.return"(%6) : (tensor<2x16xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "named_and_other_types", function_type = (tensor<4xbf16>, tensor<1x8x!sima.quant<i8, 0.025:-3>>) -> tensor<4xbf16>}> ({
^bb0(%x: tensor<4xbf16>, %q: tensor<1x8x!sima.quant<i8, 0.025:-3>>):
  %0 = "sima.relu"(%x) <{node = "MLA_0/relu_0"}> : (tensor<4xbf16>) -> tensor<4xbf16>
  %1 = "sima.clip"(%x) <{min = -1.000000e+00 : f32, max = 1.000000e+00 : f32, node = "clip"}> : (tensor<4xbf16>) -> tensor<4xbf16>
  %2 = "sima.relu"(%q) : (tensor<1x8x!sima.quant<i8, 0.025:-3>>) -> tensor<1x8x!sima.quant<i8, 0.025:-3>>
  "func.return"(%1) : (tensor<4xbf16>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "named_and_other_types", function_type = (tensor<4xbf16>, tensor<1x8x!sima.quant<i8, 0.025:-3>>) -> tensor<4xbf16>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<4xbf16>, %q: tensor<1x8x!sima.quant<i8, 0.025:-3>>):
// CHECK-NEXT:  %0 = "sima.relu"(%x) <{node = "MLA_0/relu_0"}> : (tensor<4xbf16>) -> tensor<4xbf16>
// CHECK-NEXT:  %1 = "sima.clip"(%x) <{min = -1.000000e+00 : f32, max = 1.000000e+00 : f32, node = "clip"}> : (tensor<4xbf16>) -> tensor<4xbf16>
// CHECK-NEXT:  %2 = "sima.relu"(%q) : (tensor<1x8x!sima.quant<i8, 0.025:-3>>) -> tensor<1x8x!sima.quant<i8, 0.025:-3>>
// CHECK-NEXT:  "func.return"(%1) : (tensor<4xbf16>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "arithmetic", function_type = (tensor<1x4x4x8xf32>, tensor<8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>}> ({
^bb0(%a: tensor<1x4x4x8xf32>, %b: tensor<8xf32>, %c: tensor<1x1x1x8xf32>):
  %0 = "sima.add"(%a, %b) : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %1 = "sima.sub"(%0, %c) : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
  %2 = "sima.mul"(%1, %1) : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %3 = "sima.div"(%b, %2) : (tensor<8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %4 = "sima.pow"(%3, %c) : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
  %5 = "sima.maximum"(%4, %b) : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %6 = "sima.minimum"(%5, %a) <{node = "min_0"}> : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  "func.return"(%6) : (tensor<1x4x4x8xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "arithmetic", function_type = (tensor<1x4x4x8xf32>, tensor<8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>}> ({
// CHECK-NEXT:  ^bb0(%a: tensor<1x4x4x8xf32>, %b: tensor<8xf32>, %c: tensor<1x1x1x8xf32>):
// CHECK-NEXT:  %0 = "sima.add"(%a, %b) : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %1 = "sima.sub"(%0, %c) : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %2 = "sima.mul"(%1, %1) : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %3 = "sima.div"(%b, %2) : (tensor<8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %4 = "sima.pow"(%3, %c) : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %5 = "sima.maximum"(%4, %b) : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %6 = "sima.minimum"(%5, %a) <{node = "min_0"}> : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  "func.return"(%6) : (tensor<1x4x4x8xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "broadcast_both_ways", function_type = (tensor<4x1xf32>, tensor<1x3xf32>, tensor<f32>) -> tensor<4x3xf32>}> ({
^bb0(%a: tensor<4x1xf32>, %b: tensor<1x3xf32>, %s: tensor<f32>):
  %0 = "sima.add"(%a, %b) : (tensor<4x1xf32>, tensor<1x3xf32>) -> tensor<4x3xf32>
  %1 = "sima.mul"(%0, %s) : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
  "func.return"(%1) : (tensor<4x3xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "broadcast_both_ways", function_type = (tensor<4x1xf32>, tensor<1x3xf32>, tensor<f32>) -> tensor<4x3xf32>}> ({
// CHECK-NEXT:  ^bb0(%a: tensor<4x1xf32>, %b: tensor<1x3xf32>, %s: tensor<f32>):
// CHECK-NEXT:  %0 = "sima.add"(%a, %b) : (tensor<4x1xf32>, tensor<1x3xf32>) -> tensor<4x3xf32>
// CHECK-NEXT:  %1 = "sima.mul"(%0, %s) : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
// CHECK-NEXT:  "func.return"(%1) : (tensor<4x3xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "compare_select_cast", function_type = (tensor<2x8xf32>, tensor<8xf32>, tensor<2x8xi32>) -> tensor<2x8xf32>}> ({
^bb0(%a: tensor<2x8xf32>, %b: tensor<8xf32>, %i: tensor<2x8xi32>):
  %0 = "sima.compare"(%a, %b) <{kind = "eq"}> : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
  %1 = "sima.compare"(%a, %b) <{kind = "ne"}> : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
  %2 = "sima.compare"(%a, %b) <{kind = "lt"}> : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
  %3 = "sima.compare"(%a, %b) <{kind = "le"}> : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
  %4 = "sima.compare"(%i, %i) <{kind = "gt"}> : (tensor<2x8xi32>, tensor<2x8xi32>) -> tensor<2x8xi1>
  %5 = "sima.compare"(%a, %a) <{kind = "ge", node = "cmp"}> : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xi1>
  %6 = "sima.where"(%5, %a, %b) : (tensor<2x8xi1>, tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %7 = "sima.cast"(%i) : (tensor<2x8xi32>) -> tensor<2x8xf32>
  %8 = "sima.cast"(%6) <{node = "to_int"}> : (tensor<2x8xf32>) -> tensor<2x8xi8>
  %9 = "sima.add"(%6, %7) : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  "func.return"(%9) : (tensor<2x8xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "compare_select_cast", function_type = (tensor<2x8xf32>, tensor<8xf32>, tensor<2x8xi32>) -> tensor<2x8xf32>}> ({
// CHECK-NEXT:  ^bb0(%a: tensor<2x8xf32>, %b: tensor<8xf32>, %i: tensor<2x8xi32>):
// CHECK-NEXT:  %0 = "sima.compare"(%a, %b) <{kind = "eq"}> : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %1 = "sima.compare"(%a, %b) <{kind = "ne"}> : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %2 = "sima.compare"(%a, %b) <{kind = "lt"}> : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %3 = "sima.compare"(%a, %b) <{kind = "le"}> : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %4 = "sima.compare"(%i, %i) <{kind = "gt"}> : (tensor<2x8xi32>, tensor<2x8xi32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %5 = "sima.compare"(%a, %a) <{kind = "ge", node = "cmp"}> : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xi1>
// CHECK-NEXT:  %6 = "sima.where"(%5, %a, %b) : (tensor<2x8xi1>, tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:  %7 = "sima.cast"(%i) : (tensor<2x8xi32>) -> tensor<2x8xf32>
// CHECK-NEXT:  %8 = "sima.cast"(%6) <{node = "to_int"}> : (tensor<2x8xf32>) -> tensor<2x8xi8>
// CHECK-NEXT:  %9 = "sima.add"(%6, %7) : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:  "func.return"(%9) : (tensor<2x8xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "prelu", function_type = (tensor<1x4x4x8xf32>, tensor<8xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>}> ({
^bb0(%x: tensor<1x4x4x8xf32>, %slope: tensor<8xf32>, %one: tensor<1xf32>):
  %0 = "sima.prelu"(%x, %slope) : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %1 = "sima.prelu"(%0, %one) <{node = "prelu_1"}> : (tensor<1x4x4x8xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  "func.return"(%1) : (tensor<1x4x4x8xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "prelu", function_type = (tensor<1x4x4x8xf32>, tensor<8xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<1x4x4x8xf32>, %slope: tensor<8xf32>, %one: tensor<1xf32>):
// CHECK-NEXT:  %0 = "sima.prelu"(%x, %slope) : (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %1 = "sima.prelu"(%0, %one) <{node = "prelu_1"}> : (tensor<1x4x4x8xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  "func.return"(%1) : (tensor<1x4x4x8xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "conv2d", function_type = (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>, tensor<16xf32>) -> tensor<1x4x4x16xf32>}> ({
^bb0(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>, %b: tensor<16xf32>):
  %0 = "sima.conv2d"(%x, %w, %b) <{strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64}> : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>, tensor<16xf32>) -> tensor<1x8x8x16xf32>
  %1 = "sima.conv2d"(%x, %w) <{strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_0"}> : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x4x4x16xf32>
  "func.return"(%1) : (tensor<1x4x4x16xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "conv2d", function_type = (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>, tensor<16xf32>) -> tensor<1x4x4x16xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x16xf32>, %b: tensor<16xf32>):
// CHECK-NEXT:  %0 = "sima.conv2d"(%x, %w, %b) <{strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64}> : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>, tensor<16xf32>) -> tensor<1x8x8x16xf32>
// CHECK-NEXT:  %1 = "sima.conv2d"(%x, %w) <{strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_0"}> : (tensor<1x8x8x4xf32>, tensor<3x3x4x16xf32>) -> tensor<1x4x4x16xf32>
// CHECK-NEXT:  "func.return"(%1) : (tensor<1x4x4x16xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "conv2d_grouped_dilated", function_type = (tensor<2x9x7x8xf32>, tensor<3x3x1x8xf32>, tensor<1x2x4x6xf32>) -> tensor<2x5x3x8xf32>}> ({
^bb0(%x: tensor<2x9x7x8xf32>, %dw: tensor<3x3x1x8xf32>, %gw: tensor<1x2x4x6xf32>):
  %0 = "sima.conv2d"(%x, %dw) <{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>, groups = 8 : i64}> : (tensor<2x9x7x8xf32>, tensor<3x3x1x8xf32>) -> tensor<2x5x3x8xf32>
  %1 = "sima.conv2d"(%x, %gw) <{strides = array<i64: 3, 2>, pads = array<i64: 0, 1, 0, 0>, dilations = array<i64: 1, 1>, groups = 2 : i64}> : (tensor<2x9x7x8xf32>, tensor<1x2x4x6xf32>) -> tensor<2x3x4x6xf32>
  "func.return"(%0) : (tensor<2x5x3x8xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "conv2d_grouped_dilated", function_type = (tensor<2x9x7x8xf32>, tensor<3x3x1x8xf32>, tensor<1x2x4x6xf32>) -> tensor<2x5x3x8xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<2x9x7x8xf32>, %dw: tensor<3x3x1x8xf32>, %gw: tensor<1x2x4x6xf32>):
// CHECK-NEXT:  %0 = "sima.conv2d"(%x, %dw) <{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>, groups = 8 : i64}> : (tensor<2x9x7x8xf32>, tensor<3x3x1x8xf32>) -> tensor<2x5x3x8xf32>
// CHECK-NEXT:  %1 = "sima.conv2d"(%x, %gw) <{strides = array<i64: 3, 2>, pads = array<i64: 0, 1, 0, 0>, dilations = array<i64: 1, 1>, groups = 2 : i64}> : (tensor<2x9x7x8xf32>, tensor<1x2x4x6xf32>) -> tensor<2x3x4x6xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<2x5x3x8xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "conv2d_transpose", function_type = (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<4xf32>, tensor<2xf32>) -> tensor<1x8x8x4xf32>}> ({
^bb0(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>, %b: tensor<4xf32>, %b2: tensor<2xf32>):
  %0 = "sima.conv2d_transpose"(%x, %w, %b) <{strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 2 : i64}> : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %1 = "sima.conv2d_transpose"(%x, %w) <{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, node = "deconv"}> : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x6x6x2xf32>
  %2 = "sima.conv2d_transpose"(%x, %w, %b2) <{strides = array<i64: 2, 1>, pads = array<i64: 0, 1, 0, 1>, dilations = array<i64: 1, 2>, output_padding = array<i64: 0, 1>, groups = 1 : i64}> : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<2xf32>) -> tensor<1x9x7x2xf32>
  "func.return"(%0) : (tensor<1x8x8x4xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "conv2d_transpose", function_type = (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<4xf32>, tensor<2xf32>) -> tensor<1x8x8x4xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x8x2xf32>, %b: tensor<4xf32>, %b2: tensor<2xf32>):
// CHECK-NEXT:  %0 = "sima.conv2d_transpose"(%x, %w, %b) <{strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, output_padding = array<i64: 1, 1>, groups = 2 : i64}> : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
// CHECK-NEXT:  %1 = "sima.conv2d_transpose"(%x, %w) <{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64, node = "deconv"}> : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>) -> tensor<1x6x6x2xf32>
// CHECK-NEXT:  %2 = "sima.conv2d_transpose"(%x, %w, %b2) <{strides = array<i64: 2, 1>, pads = array<i64: 0, 1, 0, 1>, dilations = array<i64: 1, 2>, output_padding = array<i64: 0, 1>, groups = 1 : i64}> : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<2xf32>) -> tensor<1x9x7x2xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<1x8x8x4xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "matmul", function_type = (tensor<2x1x4x8xf32>, tensor<3x8x5xf32>, tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<2x3x4x5xf32>}> ({
^bb0(%a: tensor<2x1x4x8xf32>, %b: tensor<3x8x5xf32>, %m: tensor<4x8xf32>, %n: tensor<8x5xf32>):
  %0 = "sima.matmul"(%a, %b) : (tensor<2x1x4x8xf32>, tensor<3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %1 = "sima.matmul"(%m, %n) <{node = "mm"}> : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
  "func.return"(%0) : (tensor<2x3x4x5xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "matmul", function_type = (tensor<2x1x4x8xf32>, tensor<3x8x5xf32>, tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<2x3x4x5xf32>}> ({
// CHECK-NEXT:  ^bb0(%a: tensor<2x1x4x8xf32>, %b: tensor<3x8x5xf32>, %m: tensor<4x8xf32>, %n: tensor<8x5xf32>):
// CHECK-NEXT:  %0 = "sima.matmul"(%a, %b) : (tensor<2x1x4x8xf32>, tensor<3x8x5xf32>) -> tensor<2x3x4x5xf32>
// CHECK-NEXT:  %1 = "sima.matmul"(%m, %n) <{node = "mm"}> : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<2x3x4x5xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "dense", function_type = (tensor<1x2048xf32>, tensor<2048x1000xf32>, tensor<1000xf32>, tensor<2x7x2048xf32>) -> tensor<1x1000xf32>}> ({
^bb0(%x: tensor<1x2048xf32>, %w: tensor<2048x1000xf32>, %b: tensor<1000xf32>, %seq: tensor<2x7x2048xf32>):
  %0 = "sima.dense"(%x, %w, %b) : (tensor<1x2048xf32>, tensor<2048x1000xf32>, tensor<1000xf32>) -> tensor<1x1000xf32>
  %1 = "sima.dense"(%x, %w) <{node = "fc"}> : (tensor<1x2048xf32>, tensor<2048x1000xf32>) -> tensor<1x1000xf32>
  %2 = "sima.dense"(%seq, %w, %b) : (tensor<2x7x2048xf32>, tensor<2048x1000xf32>, tensor<1000xf32>) -> tensor<2x7x1000xf32>
  "func.return"(%0) : (tensor<1x1000xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "dense", function_type = (tensor<1x2048xf32>, tensor<2048x1000xf32>, tensor<1000xf32>, tensor<2x7x2048xf32>) -> tensor<1x1000xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<1x2048xf32>, %w: tensor<2048x1000xf32>, %b: tensor<1000xf32>, %seq: tensor<2x7x2048xf32>):
// CHECK-NEXT:  %0 = "sima.dense"(%x, %w, %b) : (tensor<1x2048xf32>, tensor<2048x1000xf32>, tensor<1000xf32>) -> tensor<1x1000xf32>
// CHECK-NEXT:  %1 = "sima.dense"(%x, %w) <{node = "fc"}> : (tensor<1x2048xf32>, tensor<2048x1000xf32>) -> tensor<1x1000xf32>
// CHECK-NEXT:  %2 = "sima.dense"(%seq, %w, %b) : (tensor<2x7x2048xf32>, tensor<2048x1000xf32>, tensor<1000xf32>) -> tensor<2x7x1000xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<1x1000xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "max_pool", function_type = (tensor<1x112x112x64xf32>, tensor<2x7x5x3xf32>) -> tensor<1x56x56x64xf32>}> ({
^bb0(%x: tensor<1x112x112x64xf32>, %odd: tensor<2x7x5x3xf32>):
  %0 = "sima.max_pool"(%x) <{kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>}> : (tensor<1x112x112x64xf32>) -> tensor<1x56x56x64xf32>
  %1 = "sima.max_pool"(%odd) <{kernel = array<i64: 2, 3>, strides = array<i64: 1, 2>, pads = array<i64: 0, 0, 1, 2>, dilations = array<i64: 2, 1>, node = "pool"}> : (tensor<2x7x5x3xf32>) -> tensor<2x6x3x3xf32>
  "func.return"(%0) : (tensor<1x56x56x64xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "max_pool", function_type = (tensor<1x112x112x64xf32>, tensor<2x7x5x3xf32>) -> tensor<1x56x56x64xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<1x112x112x64xf32>, %odd: tensor<2x7x5x3xf32>):
// CHECK-NEXT:  %0 = "sima.max_pool"(%x) <{kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>}> : (tensor<1x112x112x64xf32>) -> tensor<1x56x56x64xf32>
// CHECK-NEXT:  %1 = "sima.max_pool"(%odd) <{kernel = array<i64: 2, 3>, strides = array<i64: 1, 2>, pads = array<i64: 0, 0, 1, 2>, dilations = array<i64: 2, 1>, node = "pool"}> : (tensor<2x7x5x3xf32>) -> tensor<2x6x3x3xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<1x56x56x64xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "avg_pool", function_type = (tensor<1x8x8x16xf32>) -> tensor<1x4x4x16xf32>}> ({
^bb0(%x: tensor<1x8x8x16xf32>):
  %0 = "sima.avg_pool"(%x) <{kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, count_include_pad = false}> : (tensor<1x8x8x16xf32>) -> tensor<1x4x4x16xf32>
  %1 = "sima.avg_pool"(%x) <{kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, node = "avg"}> : (tensor<1x8x8x16xf32>) -> tensor<1x8x8x16xf32>
  "func.return"(%0) : (tensor<1x4x4x16xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "avg_pool", function_type = (tensor<1x8x8x16xf32>) -> tensor<1x4x4x16xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<1x8x8x16xf32>):
// CHECK-NEXT:  %0 = "sima.avg_pool"(%x) <{kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, count_include_pad = false}> : (tensor<1x8x8x16xf32>) -> tensor<1x4x4x16xf32>
// CHECK-NEXT:  %1 = "sima.avg_pool"(%x) <{kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true, node = "avg"}> : (tensor<1x8x8x16xf32>) -> tensor<1x8x8x16xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<1x4x4x16xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "global_pools", function_type = (tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32>}> ({
^bb0(%x: tensor<2x7x7x512xf32>):
  %0 = "sima.global_avg_pool"(%x) : (tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32>
  %1 = "sima.global_max_pool"(%x) <{node = "gmp"}> : (tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32>
  %2 = "sima.add"(%0, %1) : (tensor<2x1x1x512xf32>, tensor<2x1x1x512xf32>) -> tensor<2x1x1x512xf32>
  "func.return"(%2) : (tensor<2x1x1x512xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "global_pools", function_type = (tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<2x7x7x512xf32>):
// CHECK-NEXT:  %0 = "sima.global_avg_pool"(%x) : (tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32>
// CHECK-NEXT:  %1 = "sima.global_max_pool"(%x) <{node = "gmp"}> : (tensor<2x7x7x512xf32>) -> tensor<2x1x1x512xf32>
// CHECK-NEXT:  %2 = "sima.add"(%0, %1) : (tensor<2x1x1x512xf32>, tensor<2x1x1x512xf32>) -> tensor<2x1x1x512xf32>
// CHECK-NEXT:  "func.return"(%2) : (tensor<2x1x1x512xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "concat_split", function_type = (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>) -> tensor<1x4x4x19xf32>}> ({
^bb0(%a: tensor<1x4x4x8xf32>, %b: tensor<1x4x4x3xf32>):
  %0 = "sima.concat"(%a, %b, %a) <{axis = 3 : i64}> : (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x19xf32>
  %1 = "sima.concat"(%a) <{axis = -4 : i64, node = "single"}> : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %2, %3, %4 = "sima.split"(%0) <{axis = -1 : i64}> : (tensor<1x4x4x19xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>, tensor<1x4x4x8xf32>)
  %5 = "sima.split"(%a) <{axis = 0 : i64, node = "one_piece"}> : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  "func.return"(%0) : (tensor<1x4x4x19xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "concat_split", function_type = (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>) -> tensor<1x4x4x19xf32>}> ({
// CHECK-NEXT:  ^bb0(%a: tensor<1x4x4x8xf32>, %b: tensor<1x4x4x3xf32>):
// CHECK-NEXT:  %0 = "sima.concat"(%a, %b, %a) <{axis = 3 : i64}> : (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x19xf32>
// CHECK-NEXT:  %1 = "sima.concat"(%a) <{axis = -4 : i64, node = "single"}> : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %2, %3, %4 = "sima.split"(%0) <{axis = -1 : i64}> : (tensor<1x4x4x19xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>, tensor<1x4x4x8xf32>)
// CHECK-NEXT:  %5 = "sima.split"(%a) <{axis = 0 : i64, node = "one_piece"}> : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<1x4x4x19xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "slice_reshape_transpose", function_type = (tensor<1x8x6x4xf32>) -> tensor<4x3x2xf32>}> ({
^bb0(%x: tensor<1x8x6x4xf32>):
  %0 = "sima.slice"(%x) <{starts = array<i64: 0, 1, 5, 0>, ends = array<i64: 1, 8, -1, 4>, steps = array<i64: 1, 3, -2, 1>}> : (tensor<1x8x6x4xf32>) -> tensor<1x3x3x4xf32>
  %1 = "sima.reshape"(%0) : (tensor<1x3x3x4xf32>) -> tensor<3x3x4xf32>
  %2 = "sima.slice"(%1) <{starts = array<i64: 0, 0, 0>, ends = array<i64: 2, 3, 4>, steps = array<i64: 1, 1, 1>, node = "s"}> : (tensor<3x3x4xf32>) -> tensor<2x3x4xf32>
  %3 = "sima.transpose"(%2) <{perm = array<i64: 2, 1, 0>}> : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
  %4 = "sima.reshape"(%3) <{node = "flatten"}> : (tensor<4x3x2xf32>) -> tensor<24xf32>
  "func.return"(%3) : (tensor<4x3x2xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "slice_reshape_transpose", function_type = (tensor<1x8x6x4xf32>) -> tensor<4x3x2xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<1x8x6x4xf32>):
// CHECK-NEXT:  %0 = "sima.slice"(%x) <{starts = array<i64: 0, 1, 5, 0>, ends = array<i64: 1, 8, -1, 4>, steps = array<i64: 1, 3, -2, 1>}> : (tensor<1x8x6x4xf32>) -> tensor<1x3x3x4xf32>
// CHECK-NEXT:  %1 = "sima.reshape"(%0) : (tensor<1x3x3x4xf32>) -> tensor<3x3x4xf32>
// CHECK-NEXT:  %2 = "sima.slice"(%1) <{starts = array<i64: 0, 0, 0>, ends = array<i64: 2, 3, 4>, steps = array<i64: 1, 1, 1>, node = "s"}> : (tensor<3x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  %3 = "sima.transpose"(%2) <{perm = array<i64: 2, 1, 0>}> : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
// CHECK-NEXT:  %4 = "sima.reshape"(%3) <{node = "flatten"}> : (tensor<4x3x2xf32>) -> tensor<24xf32>
// CHECK-NEXT:  "func.return"(%3) : (tensor<4x3x2xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "pad_resize_expand", function_type = (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x6x6x8xf32>}> ({
^bb0(%x: tensor<1x4x4x8xf32>, %c: tensor<8xf32>):
  %0 = "sima.pad"(%x) <{pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = 0.000000e+00 : f32}> : (tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xf32>
  %1 = "sima.pad"(%x) <{pads = array<i64: 0, 2, 0, 0, 0, 0, 3, 0>, mode = "reflect", value = 0.000000e+00 : f32}> : (tensor<1x4x4x8xf32>) -> tensor<1x6x7x8xf32>
  %2 = "sima.pad"(%x) <{pads = array<i64: 0, 0, 0, 0, 0, 0, 0, 0>, mode = "edge", value = 1.500000e+00 : f32, node = "p"}> : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %3 = "sima.resize"(%x) <{mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"}> : (tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32>
  %4 = "sima.resize"(%x) <{mode = "linear", coordinate_mode = "half_pixel", nearest_mode = "round_prefer_floor", node = "up"}> : (tensor<1x4x4x8xf32>) -> tensor<1x7x3x8xf32>
  %5 = "sima.resize"(%x) <{mode = "linear", coordinate_mode = "align_corners", nearest_mode = "ceil"}> : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %6 = "sima.resize"(%x) <{mode = "nearest", coordinate_mode = "pytorch_half_pixel", nearest_mode = "round_prefer_ceil"}> : (tensor<1x4x4x8xf32>) -> tensor<1x2x2x8xf32>
  %7 = "sima.expand"(%c) : (tensor<8xf32>) -> tensor<1x6x6x8xf32>
  %8 = "sima.expand"(%c) <{node = "e"}> : (tensor<8xf32>) -> tensor<8xf32>
  "func.return"(%7) : (tensor<1x6x6x8xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "pad_resize_expand", function_type = (tensor<1x4x4x8xf32>, tensor<8xf32>) -> tensor<1x6x6x8xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<1x4x4x8xf32>, %c: tensor<8xf32>):
// CHECK-NEXT:  %0 = "sima.pad"(%x) <{pads = array<i64: 0, 1, 1, 0, 0, 1, 1, 0>, mode = "constant", value = 0.000000e+00 : f32}> : (tensor<1x4x4x8xf32>) -> tensor<1x6x6x8xf32>
// CHECK-NEXT:  %1 = "sima.pad"(%x) <{pads = array<i64: 0, 2, 0, 0, 0, 0, 3, 0>, mode = "reflect", value = 0.000000e+00 : f32}> : (tensor<1x4x4x8xf32>) -> tensor<1x6x7x8xf32>
// CHECK-NEXT:  %2 = "sima.pad"(%x) <{pads = array<i64: 0, 0, 0, 0, 0, 0, 0, 0>, mode = "edge", value = 1.500000e+00 : f32, node = "p"}> : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %3 = "sima.resize"(%x) <{mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"}> : (tensor<1x4x4x8xf32>) -> tensor<1x8x8x8xf32>
// CHECK-NEXT:  %4 = "sima.resize"(%x) <{mode = "linear", coordinate_mode = "half_pixel", nearest_mode = "round_prefer_floor", node = "up"}> : (tensor<1x4x4x8xf32>) -> tensor<1x7x3x8xf32>
// CHECK-NEXT:  %5 = "sima.resize"(%x) <{mode = "linear", coordinate_mode = "align_corners", nearest_mode = "ceil"}> : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:  %6 = "sima.resize"(%x) <{mode = "nearest", coordinate_mode = "pytorch_half_pixel", nearest_mode = "round_prefer_ceil"}> : (tensor<1x4x4x8xf32>) -> tensor<1x2x2x8xf32>
// CHECK-NEXT:  %7 = "sima.expand"(%c) : (tensor<8xf32>) -> tensor<1x6x6x8xf32>
// CHECK-NEXT:  %8 = "sima.expand"(%c) <{node = "e"}> : (tensor<8xf32>) -> tensor<8xf32>
// CHECK-NEXT:  "func.return"(%7) : (tensor<1x6x6x8xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "gather", function_type = (tensor<100x16xf32>, tensor<2x5xi64>, tensor<i32>) -> tensor<2x5x16xf32>}> ({
^bb0(%table: tensor<100x16xf32>, %ids: tensor<2x5xi64>, %one: tensor<i32>):
  %0 = "sima.gather"(%table, %ids) <{axis = 0 : i64}> : (tensor<100x16xf32>, tensor<2x5xi64>) -> tensor<2x5x16xf32>
  %1 = "sima.gather"(%table, %one) <{axis = -1 : i64, node = "pick"}> : (tensor<100x16xf32>, tensor<i32>) -> tensor<100xf32>
  "func.return"(%0) : (tensor<2x5x16xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "gather", function_type = (tensor<100x16xf32>, tensor<2x5xi64>, tensor<i32>) -> tensor<2x5x16xf32>}> ({
// CHECK-NEXT:  ^bb0(%table: tensor<100x16xf32>, %ids: tensor<2x5xi64>, %one: tensor<i32>):
// CHECK-NEXT:  %0 = "sima.gather"(%table, %ids) <{axis = 0 : i64}> : (tensor<100x16xf32>, tensor<2x5xi64>) -> tensor<2x5x16xf32>
// CHECK-NEXT:  %1 = "sima.gather"(%table, %one) <{axis = -1 : i64, node = "pick"}> : (tensor<100x16xf32>, tensor<i32>) -> tensor<100xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<2x5x16xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "layer_norm", function_type = (tensor<2x7x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<7x1xf32>) -> tensor<2x7x32xf32>}> ({
^bb0(%x: tensor<2x7x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>, %g2: tensor<7x1xf32>):
  %0 = "sima.layer_norm"(%x, %g, %b) <{axis = -1 : i64, epsilon = 1.000000e-05 : f32}> : (tensor<2x7x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
  %1 = "sima.layer_norm"(%x, %g) <{axis = 2 : i64, epsilon = 1.000000e-05 : f32, node = "ln"}> : (tensor<2x7x32xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
  %2 = "sima.layer_norm"(%x, %g2, %b) <{axis = 1 : i64, epsilon = 1.000000e-03 : f32}> : (tensor<2x7x32xf32>, tensor<7x1xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
  "func.return"(%0) : (tensor<2x7x32xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "layer_norm", function_type = (tensor<2x7x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<7x1xf32>) -> tensor<2x7x32xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<2x7x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>, %g2: tensor<7x1xf32>):
// CHECK-NEXT:  %0 = "sima.layer_norm"(%x, %g, %b) <{axis = -1 : i64, epsilon = 1.000000e-05 : f32}> : (tensor<2x7x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
// CHECK-NEXT:  %1 = "sima.layer_norm"(%x, %g) <{axis = 2 : i64, epsilon = 1.000000e-05 : f32, node = "ln"}> : (tensor<2x7x32xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
// CHECK-NEXT:  %2 = "sima.layer_norm"(%x, %g2, %b) <{axis = 1 : i64, epsilon = 1.000000e-03 : f32}> : (tensor<2x7x32xf32>, tensor<7x1xf32>, tensor<32xf32>) -> tensor<2x7x32xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<2x7x32xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "reduce", function_type = (tensor<2x4x4x8xf32>) -> tensor<2x1x1x8xf32>}> ({
^bb0(%x: tensor<2x4x4x8xf32>):
  %0 = "sima.reduce"(%x) <{kind = "mean", axes = array<i64: 1, 2>, keepdims = true}> : (tensor<2x4x4x8xf32>) -> tensor<2x1x1x8xf32>
  %1 = "sima.reduce"(%x) <{kind = "sum", axes = array<i64: -1>, keepdims = false}> : (tensor<2x4x4x8xf32>) -> tensor<2x4x4xf32>
  %2 = "sima.reduce"(%x) <{kind = "max", axes = array<i64: 3, 0>, keepdims = false}> : (tensor<2x4x4x8xf32>) -> tensor<4x4xf32>
  %3 = "sima.reduce"(%x) <{kind = "min", axes = array<i64: 0, 1, 2, 3>, keepdims = false, node = "r"}> : (tensor<2x4x4x8xf32>) -> tensor<f32>
  "func.return"(%0) : (tensor<2x1x1x8xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "reduce", function_type = (tensor<2x4x4x8xf32>) -> tensor<2x1x1x8xf32>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<2x4x4x8xf32>):
// CHECK-NEXT:  %0 = "sima.reduce"(%x) <{kind = "mean", axes = array<i64: 1, 2>, keepdims = true}> : (tensor<2x4x4x8xf32>) -> tensor<2x1x1x8xf32>
// CHECK-NEXT:  %1 = "sima.reduce"(%x) <{kind = "sum", axes = array<i64: -1>, keepdims = false}> : (tensor<2x4x4x8xf32>) -> tensor<2x4x4xf32>
// CHECK-NEXT:  %2 = "sima.reduce"(%x) <{kind = "max", axes = array<i64: 3, 0>, keepdims = false}> : (tensor<2x4x4x8xf32>) -> tensor<4x4xf32>
// CHECK-NEXT:  %3 = "sima.reduce"(%x) <{kind = "min", axes = array<i64: 0, 1, 2, 3>, keepdims = false, node = "r"}> : (tensor<2x4x4x8xf32>) -> tensor<f32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<2x1x1x8xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "argmax", function_type = (tensor<2x10xf32>) -> tensor<2xi64>}> ({
^bb0(%x: tensor<2x10xf32>):
  %0 = "sima.argmax"(%x) <{axis = 1 : i64, keepdims = false}> : (tensor<2x10xf32>) -> tensor<2xi64>
  %1 = "sima.argmax"(%x) <{axis = -2 : i64, keepdims = true, node = "am"}> : (tensor<2x10xf32>) -> tensor<1x10xi32>
  "func.return"(%0) : (tensor<2xi64>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "argmax", function_type = (tensor<2x10xf32>) -> tensor<2xi64>}> ({
// CHECK-NEXT:  ^bb0(%x: tensor<2x10xf32>):
// CHECK-NEXT:  %0 = "sima.argmax"(%x) <{axis = 1 : i64, keepdims = false}> : (tensor<2x10xf32>) -> tensor<2xi64>
// CHECK-NEXT:  %1 = "sima.argmax"(%x) <{axis = -2 : i64, keepdims = true, node = "am"}> : (tensor<2x10xf32>) -> tensor<1x10xi32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<2xi64>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "dense_constants", function_type = () -> tensor<4xf32>}> ({
  %0 = "sima.constant"() <{value = dense<1.500000e+00> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "sima.constant"() <{value = dense<[1, -2, 3]> : tensor<3xi32>}> : () -> tensor<3xi32>
  %2 = "sima.constant"() <{value = dense<[[0.000000e+00, 1.000000e+00], [2.000000e+00, 3.000000e+00]]> : tensor<2x2xf32>, node = "table"}> : () -> tensor<2x2xf32>
  %3 = "sima.constant"() <{value = dense<true> : tensor<2xi1>}> : () -> tensor<2xi1>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "dense_constants", function_type = () -> tensor<4xf32>}> ({
// CHECK-NEXT:  %0 = "sima.constant"() <{value = dense<1.500000e+00> : tensor<4xf32>}> : () -> tensor<4xf32>
// CHECK-NEXT:  %1 = "sima.constant"() <{value = dense<[1, -2, 3]> : tensor<3xi32>}> : () -> tensor<3xi32>
// CHECK-NEXT:  %2 = "sima.constant"() <{value = dense<{{\[\[}}0.000000e+00, 1.000000e+00], [2.000000e+00, 3.000000e+00]]> : tensor<2x2xf32>, node = "table"}> : () -> tensor<2x2xf32>
// CHECK-NEXT:  %3 = "sima.constant"() <{value = dense<true> : tensor<2xi1>}> : () -> tensor<2xi1>
// CHECK-NEXT:  "func.return"(%0) : (tensor<4xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "weights", function_type = () -> tensor<2xf32>}> ({
  %0 = "sima.constant"() <{value = #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040">}> : () -> tensor<2xf32>
  %1 = "sima.constant"() <{value = #sima.ndarray<"conv1.weight", tensor<1x1x2x2xf32>, "0x000000000000803F0000004000004040">, node = "conv1.weight"}> : () -> tensor<1x1x2x2xf32>
  %2 = "sima.constant"() <{value = #sima.ndarray<"idx", tensor<3xi64>, "0x010000000000000002000000000000000300000000000000">}> : () -> tensor<3xi64>
  %3 = "sima.constant"() <{value = #sima.ndarray<"half", tensor<2xbf16>, "0x803F0040">}> : () -> tensor<2xbf16>
  %4 = "sima.constant"() <{value = #sima.ndarray<"q", tensor<4x!sima.quant<i8, 0.5:-1>>, "0x7F80FF00">}> : () -> tensor<4x!sima.quant<i8, 0.5:-1>>
  %5 = "sima.constant"() <{value = #sima.ndarray<"scalar", tensor<f32>, "0x0000C03F">}> : () -> tensor<f32>
  %6 = "sima.constant"() <{value = #sima.ndarray<"big.weight", tensor<64x64xf32>, elided "0123456789ab">}> : () -> tensor<64x64xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "weights", function_type = () -> tensor<2xf32>}> ({
// CHECK-NEXT:  %0 = "sima.constant"() <{value = #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040">}> : () -> tensor<2xf32>
// CHECK-NEXT:  %1 = "sima.constant"() <{value = #sima.ndarray<"conv1.weight", tensor<1x1x2x2xf32>, "0x000000000000803F0000004000004040">, node = "conv1.weight"}> : () -> tensor<1x1x2x2xf32>
// CHECK-NEXT:  %2 = "sima.constant"() <{value = #sima.ndarray<"idx", tensor<3xi64>, "0x010000000000000002000000000000000300000000000000">}> : () -> tensor<3xi64>
// CHECK-NEXT:  %3 = "sima.constant"() <{value = #sima.ndarray<"half", tensor<2xbf16>, "0x803F0040">}> : () -> tensor<2xbf16>
// CHECK-NEXT:  %4 = "sima.constant"() <{value = #sima.ndarray<"q", tensor<4x!sima.quant<i8, 0.5:-1>>, "0x7F80FF00">}> : () -> tensor<4x!sima.quant<i8, 0.5:-1>>
// CHECK-NEXT:  %5 = "sima.constant"() <{value = #sima.ndarray<"scalar", tensor<f32>, "0x0000C03F">}> : () -> tensor<f32>
// CHECK-NEXT:  %6 = "sima.constant"() <{value = #sima.ndarray<"big.weight", tensor<64x64xf32>, elided "0123456789ab">}> : () -> tensor<64x64xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<2xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()

"func.func"() <{sym_name = "discardable_attributes", function_type = () -> tensor<2xf32>}> ({
  %0 = "sima.constant"() <{value = #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040">, node = "b"}> {note = "kept"} : () -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}) : () -> ()
// CHECK-LABEL: "func.func"() <{sym_name = "discardable_attributes", function_type = () -> tensor<2xf32>}> ({
// CHECK-NEXT:  %0 = "sima.constant"() <{value = #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040">, node = "b"}> {note = "kept"} : () -> tensor<2xf32>
// CHECK-NEXT:  "func.return"(%0) : (tensor<2xf32>) -> ()
// CHECK-NEXT:  }) : () -> ()
