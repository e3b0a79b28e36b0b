"""Rewrite patterns and layout rules shared by the sima passes.

- `permutations`: axis-permutation arithmetic (compose, invert, reshape-like);
- `builders`: building transpose / reshape / constant ops with their result types;
- `transposes`: transpose-chain folding and identity / reshape-like transposes;
- `identities`: removal of ops that compute their input (reshape to the same shape, ...);
- `constant_folding`: reshape / transpose / cast of a `sima.constant` as a new constant;
- `layout_rules`: how a transpose moves through each layout-agnostic op.
"""
