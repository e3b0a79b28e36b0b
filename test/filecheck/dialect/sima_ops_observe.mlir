// RUN: SIMA_ROUNDTRIP | filecheck %s
// RUN: sima-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// sima.observe at each stage of calibration: marked, with statistics, with a quantization.
func.func @observe(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  sima.observe %x {key = "x", method = {name = "mse", num_bins = 2048 : i64}} : tensor<1x4xf32>
  sima.observe %x {key = "y", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}} : tensor<1x4xf32>
  sima.observe %x {key = "z", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 2.0 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 4.5777065690089265e-05:-10923>} : tensor<1x4xf32>
  func.return %x : tensor<1x4xf32>
}
// CHECK:      sima.observe %x {key = "x", method = {name = "mse", num_bins = 2048 : i64}} : tensor<1x4xf32>
// CHECK-NEXT: sima.observe %x {key = "y", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.000000e+00 : f64, max = 2.000000e+00 : f64}} : tensor<1x4xf32>
// CHECK-NEXT: sima.observe %x {key = "z", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.000000e+00 : f64, max = 2.000000e+00 : f64}, bits = 16 : i64, quant = !sima.quant<i16, 4.5777065690089265e-05:-10923>} : tensor<1x4xf32>
// GENERIC: "sima.observe"(%x) <{key = "x", method = {name = "mse", num_bins = 2048 : i64}}> : (tensor<1x4xf32>) -> ()
