// RUN: sima-opt %s --split-input-file -p sima-canonicalize | filecheck %s

// A clip that cannot clip: unbounded, or its input already lies within its bounds.
// CHECK-LABEL: func.func @clip_cannot_clip
// CHECK-NEXT:    %0 = sima.sigmoid %x
// CHECK-NEXT:    func.return %x, %0
func.func @clip_cannot_clip(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = sima.clip %x {min = 0xFF800000 : f32, max = 0x7F800000 : f32} : tensor<4xf32>
  %1 = sima.sigmoid %x : tensor<4xf32>
  %2 = sima.clip %1 {min = -1.0 : f32, max = 1.0 : f32} : tensor<4xf32>
  func.return %0, %2 : tensor<4xf32>, tensor<4xf32>
}

// -----

// relu then relu6 is relu6; relu of relu is relu; clip of clip is one clip.
// CHECK-LABEL: func.func @merge_clamps
// CHECK-NEXT:    %0 = sima.clip %x {min = 0.000000e+00 : f32, max = 6.000000e+00 : f32}
// CHECK-NEXT:    %1 = sima.relu %x
// CHECK-NEXT:    %2 = sima.clip %x {min = 1.000000e+00 : f32, max = 4.000000e+00 : f32}
// CHECK-NEXT:    func.return %0, %1, %2
func.func @merge_clamps(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %r = sima.relu %x : tensor<4xf32>
  %0 = sima.clip %r {min = 0.0 : f32, max = 6.0 : f32} : tensor<4xf32>
  %1 = sima.relu %r : tensor<4xf32>
  %c = sima.clip %x {min = -2.0 : f32, max = 4.0 : f32} : tensor<4xf32>
  %2 = sima.clip %c {min = 1.0 : f32, max = 5.0 : f32} : tensor<4xf32>
  func.return %0, %1, %2 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// NOT merged: disjoint ranges (the result is the constant bound, not a clamp to
// an empty interval); NOT removed: a clip that does cut the sigmoid's range.
// CHECK-LABEL: func.func @clamps_that_stay
// CHECK-NEXT:    %c = sima.clip %x {min = -2.000000e+00 : f32, max = -1.000000e+00 : f32}
// CHECK-NEXT:    %0 = sima.clip %c {min = 1.000000e+00 : f32, max = 5.000000e+00 : f32}
// CHECK-NEXT:    %s = sima.sigmoid %x
// CHECK-NEXT:    %1 = sima.clip %s {min = 0.000000e+00 : f32, max = 5.000000e-01 : f32}
func.func @clamps_that_stay(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %c = sima.clip %x {min = -2.0 : f32, max = -1.0 : f32} : tensor<4xf32>
  %0 = sima.clip %c {min = 1.0 : f32, max = 5.0 : f32} : tensor<4xf32>
  %s = sima.sigmoid %x : tensor<4xf32>
  %1 = sima.clip %s {min = 0.0 : f32, max = 0.5 : f32} : tensor<4xf32>
  func.return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// A clip that cuts into the relu's range merges with it: [0, inf) meets [-1, 6].
// CHECK-LABEL: func.func @relu_then_wide_clip
// CHECK-NEXT:    %0 = sima.clip %x {min = 0.000000e+00 : f32, max = 6.000000e+00 : f32}
// CHECK-NEXT:    func.return %0
func.func @relu_then_wide_clip(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = sima.relu %x : tensor<4xf32>
  %0 = sima.clip %r {min = -1.0 : f32, max = 6.0 : f32} : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @double_negation
// CHECK-NEXT:    func.return %x
func.func @double_negation(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.neg %x : tensor<4xf32>
  %1 = sima.neg %0 : tensor<4xf32>
  func.return %1 : tensor<4xf32>
}
