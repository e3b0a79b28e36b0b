# lit configuration for the sima FileCheck tests.
import os

import lit.formats

config.name = "sima"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.excludes = ["lit.cfg.py", "Inputs"]
config.environment["PATH"] = os.environ["PATH"]

# One-line round trip: print generic, parse it back, print custom.
config.substitutions.append(
    (
        "SIMA_ROUNDTRIP",
        "sima-opt %s --print-op-generic --print-weights | sima-opt --print-weights",
    )
)
