// Invalid IR for the single-input elementwise ops: each case must fail to verify
// with the message checked below (one case per chunk of --split-input-file).
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// The result of a unary op has the input's type (IRDL type variable T).
func.func @relu_type_tie(%x: tensor<4xf32>) -> tensor<4xi32> {
  %0 = "sima.relu"(%x) : (tensor<4xf32>) -> tensor<4xi32>
  func.return %0 : tensor<4xi32>
}
// CHECK: {{^}}result 'output' at position 0 does not verify:{{$}}
// CHECK-NEXT: {{^}}attribute tensor<4xf32> expected from variable 'T', but got tensor<4xi32>{{$}}

// -----

// The type tie also covers the shape.
func.func @sigmoid_shape_tie(%x: tensor<4xf32>) -> tensor<2x2xf32> {
  %0 = "sima.sigmoid"(%x) : (tensor<4xf32>) -> tensor<2x2xf32>
  func.return %0 : tensor<2x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}result 'output' at position 0 does not verify:{{$}}
// CHECK-NEXT: {{^}}attribute tensor<4xf32> expected from variable 'T', but got tensor<2x2xf32>{{$}}

// -----

// clip needs min <= max.
func.func @clip_min_above_max(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.clip %x {min = 3.000000e+00 : f32, max = 1.000000e+00 : f32} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.clip: min 3.0 is greater than max 1.0{{$}}

// -----

// clip's min and max are required properties.
func.func @clip_without_max(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.clip %x {min = 3.000000e+00 : f32} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}property 'max' expected in operation 'sima.clip'{{$}}

// -----

// leaky_relu's alpha is a float.
func.func @leaky_relu_integer_alpha(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.leaky_relu %x {alpha = 1 : i64} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}1 : i64 should be of base attribute float{{$}}

// -----

// gelu's approximation is 'none' or 'tanh'.
func.func @gelu_unknown_approximation(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.gelu %x {approximate = "fast"} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.gelu: approximate must be one of 'none', 'tanh', got 'fast'{{$}}

// -----

// softmax's axis must exist.
func.func @softmax_axis_out_of_range(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.softmax %x {axis = 2 : i64} : tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.softmax: axis 2 is out of range [-2, 1] for rank 2{{$}}

// -----

// softmax's axis must exist (negative axes count from the end).
func.func @softmax_negative_axis_out_of_range(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.softmax %x {axis = -3 : i64} : tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.softmax: axis -3 is out of range [-2, 1] for rank 2{{$}}

// -----

// softmax is a float op.
func.func @softmax_on_integers(%x: tensor<2x4xi32>) -> tensor<2x4xi32> {
  %0 = sima.softmax %x {axis = 1 : i64} : tensor<2x4xi32>
  func.return %0 : tensor<2x4xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.softmax: expects a float tensor, got tensor<2x4xi32>{{$}}

// -----

// softmax's axis is an i64 integer.
func.func @softmax_i32_axis(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.softmax %x {axis = 1 : i32} : tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}Expected attribute i64 but got i32{{$}}
