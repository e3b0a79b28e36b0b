"""`afe`: the user-facing Python API of the quantizer (named as in the specification)."""
