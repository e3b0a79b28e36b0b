// RUN: sima-opt %s --split-input-file -p select-scales | filecheck %s
// RUN: sima-opt %s --split-input-file -p 'select-scales{asymmetric=false}' | filecheck %s --check-prefix=SYM
// RUN: sima-opt %s --split-input-file -p 'select-scales{bits=16}' | filecheck %s --check-prefix=I16

// min/max statistics [-1, 2]: int8 asymmetric has step 3/255 and zero point
// round(-128 + 1 * 85) = -43; symmetric has step 2/127 and zero point 0.
func.func @min_max(%x: tensor<4xf32>) -> tensor<4xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}} : tensor<4xf32>
  func.return %x : tensor<4xf32>
}
// CHECK: quant = !sima.quant<i8, 0.011764705882352941:-43>
// SYM:   quant = !sima.quant<i8, 0.015748031496062992:0>
// I16:   quant = !sima.quant<i16, 4.5777065690089265e-05:-10923>

// -----

// A per-tensor `bits = 16` overrides the pass's width; a range without
// negative values is widened to contain 0; a constant-zero range gets step 1.
func.func @overrides(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.5 : f64, max = 2.55 : f64}, bits = 16 : i64} : tensor<4xf32>
  sima.observe %y {key = "y", method = {name = "min_max"}, stats = {kind = "min_max", min = 0.0 : f64, max = 0.0 : f64}} : tensor<4xf32>
  func.return %x : tensor<4xf32>
}
// CHECK: key = "x"{{.*}}quant = !sima.quant<i16, 3.891050583657588e-05:-32768>
// CHECK: key = "y"{{.*}}quant = !sima.quant<i8, 1.0:0>

// -----

// Histogram statistics: the 90th percentile range [-0.325, 2.45] of 10 values
// clips the outlier 8.0 (step 2.775 / 255, zero point round(-128 + 0.325 / step) = -98).
func.func @percentile(%x: tensor<10xf32>) -> tensor<10xf32> {
  sima.observe %x {key = "x", method = {name = "percentile", percentile = 90.0 : f64, num_bins = 8 : i64}, stats = {kind = "percentile", num_bins = 8 : i64, exponent = 1 : i64, start = -1 : i64, counts = array<i64: 2, 7, 0, 0, 0, 1, 0, 0>, min = -1.0 : f64, max = 8.0 : f64, zero_count = 1 : i64, total = 10 : i64, percentile = 90.0 : f64, channel_absmax = array<f64: 8.0>}} : tensor<10xf32>
  func.return %x : tensor<10xf32>
}
// CHECK: quant = !sima.quant<i8, 0.010882352941176{{[0-9]*}}:-98>

// -----

// MSE statistics of values in [-12, 4] (one -12 outlier, most within [-6, 4]).
// Read only by relu (constant below 0), the range is chosen for clip(x, 0, inf):
// [0, 4], zero point -128. Read only by hard_swish (constant below -3): it
// starts at -3 (to within a step). Also returned (every value counts): the
// range reaches the outlier -12.
func.func @saturating_readers(%x: tensor<202xf32>, %y: tensor<202xf32>, %z: tensor<202xf32>) -> (tensor<202xf32>, tensor<202xf32>, tensor<202xf32>) {
  sima.observe %x {key = "relu_only", method = {name = "mse", num_bins = 16 : i64}, stats = {kind = "mse", num_bins = 16 : i64, exponent = 1 : i64, start = -6 : i64, counts = array<i64: 1, 0, 0, 5, 29, 64, 67, 34, 2, 0, 0, 0, 0, 0, 0, 0>, min = -12.0 : f64, max = 4.00478516729051 : f64, zero_count = 0 : i64, total = 202 : i64}} : tensor<202xf32>
  sima.observe %y {key = "hard_swish_only", method = {name = "mse", num_bins = 16 : i64}, stats = {kind = "mse", num_bins = 16 : i64, exponent = 1 : i64, start = -6 : i64, counts = array<i64: 1, 0, 0, 5, 29, 64, 67, 34, 2, 0, 0, 0, 0, 0, 0, 0>, min = -12.0 : f64, max = 4.00478516729051 : f64, zero_count = 0 : i64, total = 202 : i64}} : tensor<202xf32>
  sima.observe %z {key = "returned_too", method = {name = "mse", num_bins = 16 : i64}, stats = {kind = "mse", num_bins = 16 : i64, exponent = 1 : i64, start = -6 : i64, counts = array<i64: 1, 0, 0, 5, 29, 64, 67, 34, 2, 0, 0, 0, 0, 0, 0, 0>, min = -12.0 : f64, max = 4.00478516729051 : f64, zero_count = 0 : i64, total = 202 : i64}} : tensor<202xf32>
  %a = sima.relu %x : tensor<202xf32>
  %b = sima.hard_swish %y : tensor<202xf32>
  %c = sima.relu %z : tensor<202xf32>
  func.return %a, %b, %z : tensor<202xf32>, tensor<202xf32>, tensor<202xf32>
}
// CHECK: key = "relu_only"{{.*}}quant = !sima.quant<i8, 0.0157050398{{[0-9]*}}:-128>
// CHECK: key = "hard_swish_only"{{.*}}quant = !sima.quant<i8, 0.0274697{{[0-9]*}}:-19>
// CHECK: key = "returned_too"{{.*}}quant = !sima.quant<i8, 0.0627638{{[0-9]*}}:63>
