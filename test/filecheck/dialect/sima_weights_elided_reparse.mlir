// Elided weights parse back: the text prints the same name, type and digest
// again (the data stays absent, so --print-weights still prints it elided), in
// the custom and the generic form alike.
// RUN: sima-opt %s | sima-opt | filecheck %s
// RUN: sima-opt %s | sima-opt --print-weights | filecheck %s
// RUN: sima-opt %s --print-op-generic | sima-opt --print-op-generic | sima-opt | filecheck %s

func.func @weights() -> tensor<3x3x2x4xf32> {
  %0 = sima.constant #sima.ndarray<"conv.weight", tensor<3x3x2x4xf32>, "0x000090C000008CC0000088C0000084C0000080C0000078C0000070C0000068C0000060C0000058C0000050C0000048C0000040C0000038C0000030C0000028C0000020C0000018C0000010C0000008C0000000C00000F0BF0000E0BF0000D0BF0000C0BF0000B0BF0000A0BF000090BF000080BF000060BF000040BF000020BF000000BF0000C0BE000080BE000000BE000000000000003E0000803E0000C03E0000003F0000203F0000403F0000603F0000803F0000903F0000A03F0000B03F0000C03F0000D03F0000E03F0000F03F0000004000000840000010400000184000002040000028400000304000003840000040400000484000005040000058400000604000006840000070400000784000008040000084400000884000008C40">
  %1 = sima.constant #sima.ndarray<"already.elided", tensor<64x64xf32>, elided "0123456789ab"> {node = "w"}
  func.return %0 : tensor<3x3x2x4xf32>
}
// CHECK-LABEL: func.func @weights() -> tensor<3x3x2x4xf32> {
// CHECK-NEXT:  %0 = sima.constant #sima.ndarray<"conv.weight", tensor<3x3x2x4xf32>, elided "fc57d9ab2a62">
// CHECK-NEXT:  %1 = sima.constant #sima.ndarray<"already.elided", tensor<64x64xf32>, elided "0123456789ab"> {node = "w"}
// CHECK-NEXT:  func.return %0 : tensor<3x3x2x4xf32>
