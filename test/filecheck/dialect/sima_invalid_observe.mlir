// Invalid IR for sima.observe.
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Only float tensors are observed.
func.func @int_tensor(%x: tensor<4xi32>) -> tensor<4xi32> {
  sima.observe %x {key = "ids", method = {name = "min_max"}} : tensor<4xi32>
  func.return %x : tensor<4xi32>
}
// CHECK: sima.observe 'ids': observes float tensors only, got tensor<4xi32>

// -----

func.func @method_without_name(%x: tensor<4xf32>) -> tensor<4xf32> {
  sima.observe %x {key = "t", method = {num_bins = 8 : i64}} : tensor<4xf32>
  func.return %x : tensor<4xf32>
}
// CHECK: sima.observe 't': method needs a string 'name' entry

// -----

func.func @bad_bits(%x: tensor<4xf32>) -> tensor<4xf32> {
  sima.observe %x {key = "t", method = {name = "min_max"}, bits = 4 : i64} : tensor<4xf32>
  func.return %x : tensor<4xf32>
}
// CHECK: sima.observe 't': bits must be 8 or 16, got 4

// -----

func.func @quant_without_stats(%x: tensor<4xf32>) -> tensor<4xf32> {
  sima.observe %x {key = "t", method = {name = "min_max"}, quant = !sima.quant<i8, 0.1:0>} : tensor<4xf32>
  func.return %x : tensor<4xf32>
}
// CHECK: sima.observe 't': has a quantization but no statistics to derive it from
