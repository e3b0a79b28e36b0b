// RUN: sima-opt --help | filecheck %s

// `sima-opt --help` ends with its own section listing every sima pass, its
// one-line summary and its options, apart from xDSL's long pass list.

// CHECK:      --print-weights
// CHECK:      sima passes (-p name or -p 'name{option=value,...}'):
// CHECK-DAG:    sima-canonicalize  Fold chains and identities of sima ops, fold data movement of constants, erase dead ops.
// CHECK-DAG:                         fold-constants=true (bool)
// CHECK-DAG:    cancel-transposes  Move transposes through layout-agnostic ops so that inverse pairs meet and vanish.
// CHECK-DAG:                         to-reshape=true (bool)
