// RUN: not sima-opt %s --split-input-file -p select-scales 2>&1 | filecheck %s
// RUN: not sima-opt %s --split-input-file -p 'select-scales{bits=4}' 2>&1 | filecheck %s --check-prefix=BITS

// An observer that calibration never reached has no statistics to select from.
func.func @no_stats(%x: tensor<4xf32>) -> tensor<4xf32> {
  sima.observe %x {key = "MLA_0/relu_3", method = {name = "min_max"}} : tensor<4xf32>
  func.return %x : tensor<4xf32>
}
// CHECK: sima.observe 'MLA_0/relu_3' has no statistics: run calibration first
// BITS: select-scales: bits must be 8 or 16, got 4
