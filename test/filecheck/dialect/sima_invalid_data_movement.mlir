// Invalid IR for concat, split, slice, reshape and transpose (one case per chunk
// of --split-input-file).
// RUN: sima-opt %s --split-input-file --verify-diagnostics | filecheck %s

// concat needs at least one input.
func.func @concat_nothing() -> tensor<4xf32> {
  %0 = "sima.concat"() <{axis = 0 : i64}> : () -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: {{^}}sima.concat: concat needs at least one input{{$}}

// -----

// concat's axis exists.
func.func @concat_axis(%a0: tensor<1x4x4x8xf32>, %a1: tensor<1x4x4x3xf32>) -> tensor<1x4x4x11xf32> {
  %0 = sima.concat %a0, %a1 {axis = 4 : i64} : (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>) -> tensor<1x4x4x11xf32>
  func.return %0 : tensor<1x4x4x11xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.concat: axis 4 is out of range [-4, 3] for rank 4{{$}}

// -----

// concat's inputs have one rank.
func.func @concat_ranks(%a0: tensor<1x4x4x8xf32>, %a1: tensor<4x4x3xf32>) -> tensor<1x4x4x11xf32> {
  %0 = sima.concat %a0, %a1 {axis = 3 : i64} : (tensor<1x4x4x8xf32>, tensor<4x4x3xf32>) -> tensor<1x4x4x11xf32>
  func.return %0 : tensor<1x4x4x11xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.concat: input 1 has rank 3, expected 4{{$}}

// -----

// concat's inputs agree outside the axis.
func.func @concat_sizes(%a0: tensor<1x4x4x8xf32>, %a1: tensor<1x4x5x3xf32>) -> tensor<1x4x4x11xf32> {
  %0 = sima.concat %a0, %a1 {axis = 3 : i64} : (tensor<1x4x4x8xf32>, tensor<1x4x5x3xf32>) -> tensor<1x4x4x11xf32>
  func.return %0 : tensor<1x4x4x11xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.concat: input 1 has size 5 in dimension 2, expected 4{{$}}

// -----

// concat's result adds up the axis.
func.func @concat_result_shape(%a0: tensor<1x4x4x8xf32>, %a1: tensor<1x4x4x3xf32>) -> tensor<1x4x4x12xf32> {
  %0 = sima.concat %a0, %a1 {axis = -1 : i64} : (tensor<1x4x4x8xf32>, tensor<1x4x4x3xf32>) -> tensor<1x4x4x12xf32>
  func.return %0 : tensor<1x4x4x12xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.concat: result shape [1, 4, 4, 12] does not match the expected [1, 4, 4, 11]{{$}}

// -----

// concat's inputs and result share an element type.
func.func @concat_types(%a0: tensor<1x4x4x8xf32>, %a1: tensor<1x4x4x3xbf16>) -> tensor<1x4x4x11xf32> {
  %0 = sima.concat %a0, %a1 {axis = 3 : i64} : (tensor<1x4x4x8xf32>, tensor<1x4x4x3xbf16>) -> tensor<1x4x4x11xf32>
  func.return %0 : tensor<1x4x4x11xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.concat: element types must match, got f32, bf16, f32{{$}}

// -----

// split needs at least one result.
func.func @split_nothing(%x: tensor<4xf32>) {
  "sima.split"(%x) <{axis = 0 : i64}> : (tensor<4xf32>) -> ()
  func.return
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.split: split needs at least one piece{{$}}

// -----

// split's axis exists.
func.func @split_axis(%a0: tensor<1x4x4x8xf32>) -> tensor<1x4x4x4xf32> {
  %r0, %r1 = sima.split %a0 {axis = -5 : i64} : (tensor<1x4x4x8xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>)
  func.return %r0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.split: axis -5 is out of range [-4, 3] for rank 4{{$}}

// -----

// split's results have the input's rank.
func.func @split_rank(%a0: tensor<1x4x4x8xf32>) -> tensor<1x4x4x4xf32> {
  %r0, %r1 = sima.split %a0 {axis = 3 : i64} : (tensor<1x4x4x8xf32>) -> (tensor<1x4x4x4xf32>, tensor<4x4x4xf32>)
  func.return %r0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.split: result 1 has rank 3, but the input has rank 4{{$}}

// -----

// split's pieces add up to the input along the axis.
func.func @split_sizes(%a0: tensor<1x4x4x8xf32>) -> tensor<1x4x4x4xf32> {
  %r0, %r1 = sima.split %a0 {axis = 3 : i64} : (tensor<1x4x4x8xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x4x4x5xf32>)
  func.return %r0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.split: piece sizes [4, 5] add up to 9, but axis 3 of the input has size 8{{$}}

// -----

// split's results agree with the input outside the axis.
func.func @split_other_dims(%a0: tensor<1x4x4x8xf32>) -> tensor<1x4x4x4xf32> {
  %r0, %r1 = sima.split %a0 {axis = 3 : i64} : (tensor<1x4x4x8xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x4x2x4xf32>)
  func.return %r0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.split: result 1 shape [1, 4, 2, 4] does not match the expected [1, 4, 4, 4]{{$}}

// -----

// split keeps the element type.
func.func @split_types(%a0: tensor<1x4x4x8xf32>) -> tensor<1x4x4x4xf32> {
  %r0, %r1 = sima.split %a0 {axis = 3 : i64} : (tensor<1x4x4x8xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x4x4x4xi8>)
  func.return %r0 : tensor<1x4x4x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.split: element types must match, got f32, f32, i8{{$}}

// -----

// slice has one start, end and step per axis.
func.func @slice_entries(%a0: tensor<4x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.slice %a0 {starts = array<i64: 0>, ends = array<i64: 2, 4>, steps = array<i64: 1, 1>} : (tensor<4x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.slice: starts, ends and steps need one entry per axis (2), got 1, 2 and 2{{$}}

// -----

// slice's step is not 0.
func.func @slice_zero_step(%a0: tensor<4x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.slice %a0 {starts = array<i64: 0, 0>, ends = array<i64: 2, 4>, steps = array<i64: 1, 0>} : (tensor<4x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.slice: step of axis 1 is 0{{$}}

// -----

// A forward slice stays inside the axis.
func.func @slice_end_past_size(%a0: tensor<4x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.slice %a0 {starts = array<i64: 0, 0>, ends = array<i64: 2, 5>, steps = array<i64: 1, 1>} : (tensor<4x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.slice: axis 1: need 0 <= start 0 <= end 5 <= size 4{{$}}

// -----

// A forward slice has start <= end.
func.func @slice_start_after_end(%a0: tensor<4x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.slice %a0 {starts = array<i64: 3, 0>, ends = array<i64: 2, 4>, steps = array<i64: 1, 1>} : (tensor<4x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.slice: axis 0: need 0 <= start 3 <= end 2 <= size 4{{$}}

// -----

// A backward slice starts inside the axis and ends at -1 at the lowest.
func.func @slice_backward_out_of_range(%a0: tensor<4x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.slice %a0 {starts = array<i64: 4, 0>, ends = array<i64: 0, 4>, steps = array<i64: -1, 1>} : (tensor<4x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.slice: axis 0: need -1 <= end 0 <= start 4 < size 4 for a negative step{{$}}

// -----

// slice's result size is len(range(start, end, step)).
func.func @slice_result_shape(%a0: tensor<8x4xf32>) -> tensor<2x4xf32> {
  %0 = sima.slice %a0 {starts = array<i64: 1, 0>, ends = array<i64: 8, 4>, steps = array<i64: 3, 1>} : (tensor<8x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.slice: result shape [2, 4] does not match the expected [3, 4]{{$}}

// -----

// slice keeps the element type.
func.func @slice_types(%a0: tensor<4x4xf32>) -> tensor<2x4xbf16> {
  %0 = sima.slice %a0 {starts = array<i64: 0, 0>, ends = array<i64: 2, 4>, steps = array<i64: 1, 1>} : (tensor<4x4xf32>) -> tensor<2x4xbf16>
  func.return %0 : tensor<2x4xbf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.slice: element types must match, got f32, bf16{{$}}

// -----

// reshape keeps the element count.
func.func @reshape_count(%a0: tensor<2x3x4xf32>) -> tensor<5x5xf32> {
  %0 = sima.reshape %a0 : (tensor<2x3x4xf32>) -> tensor<5x5xf32>
  func.return %0 : tensor<5x5xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reshape: cannot reshape 24 elements [2, 3, 4] into 25 elements [5, 5]{{$}}

// -----

// reshape keeps the element type.
func.func @reshape_types(%a0: tensor<2x3x4xf32>) -> tensor<24xi32> {
  %0 = sima.reshape %a0 : (tensor<2x3x4xf32>) -> tensor<24xi32>
  func.return %0 : tensor<24xi32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.reshape: element types must match, got f32, i32{{$}}

// -----

// transpose's perm is a permutation of the axes.
func.func @transpose_repeated_axis(%a0: tensor<2x3x4xf32>) -> tensor<4x3x2xf32> {
  %0 = sima.transpose %a0 {perm = array<i64: 2, 1, 1>} : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
  func.return %0 : tensor<4x3x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.transpose: perm [2, 1, 1] is not a permutation of 3 axes{{$}}

// -----

// transpose's perm has one entry per axis.
func.func @transpose_short_perm(%a0: tensor<2x3x4xf32>) -> tensor<4x3x2xf32> {
  %0 = sima.transpose %a0 {perm = array<i64: 1, 0>} : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
  func.return %0 : tensor<4x3x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.transpose: perm [1, 0] is not a permutation of 3 axes{{$}}

// -----

// transpose's result dim i is input dim perm[i].
func.func @transpose_result_shape(%a0: tensor<2x3x4xf32>) -> tensor<4x3x2xf32> {
  %0 = sima.transpose %a0 {perm = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
  func.return %0 : tensor<4x3x2xf32>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.transpose: result shape [4, 3, 2] does not match the expected [2, 4, 3]{{$}}

// -----

// transpose keeps the element type.
func.func @transpose_types(%a0: tensor<2x3xf32>) -> tensor<3x2xf16> {
  %0 = sima.transpose %a0 {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf16>
  func.return %0 : tensor<3x2xf16>
}
// CHECK: {{^//}} -----
// CHECK-NEXT: {{^}}sima.transpose: element types must match, got f32, f16{{$}}
