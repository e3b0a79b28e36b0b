// RUN: not sima-opt %s -p name-nodes 2>&1 | filecheck %s

// Names need regions, so every op needs a target: the error names the op and the pass to run.
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = sima.relu %x {target = "MLA"} : tensor<4xf32>
  %gate = sima.tanh %0 : tensor<4xf32>
  func.return %gate : tensor<4xf32>
}
// CHECK: NameNodesError: name-nodes: sima.tanh (result %gate) has no target; run the partition pass first
