// RUN: not sima-opt %s -p 'insert-observers{method=median}' 2>&1 | filecheck %s

// An unknown calibration method is refused, naming the choices.
func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  func.return %x : tensor<2xf32>
}
// CHECK: unknown calibration method 'median'; choose one of min_max, moving_average, mse, entropy, percentile
