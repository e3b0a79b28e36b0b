"""The fast arithmetic of activation compensation (`runtime/weight_rounding.py`) against
its definitions, on random problems (hypothesis):

- the moments, gathered over samples into one Gram matrix per flush and written
  straight from the conv windows into a float64 buffer, equal the sums over
  `GemmInputs.rows` with a ones column, for dense and grouped / strided / padded convs;
- `RidgeFits` (one eigendecomposition for all strengths, or one Cholesky solve per
  strength) equals `ridge_fit`'s direct solve at every strength and per channel;
- `OutputError` equals `float_output_error`;
- `compensated_target` equals the algorithm written out with those definitions
  (a fit per fold and strength, each candidate's held-out error from the moments).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.weight_rounding import (
    COMPENSATION_STRENGTHS,
    CompensationAccumulator,
    GemmInputs,
    OutputError,
    RidgeFits,
    compensated_target,
    float_output_error,
    ridge_fit,
)


def _with_ones(rows: np.ndarray) -> np.ndarray:
    """[G, M, K] float32 rows -> [G, M, K+1] float64 with a ones column."""
    return np.concatenate([rows.astype(np.float64), np.ones((*rows.shape[:2], 1))], axis=2)


@st.composite
def conv_problems(draw):
    groups = draw(st.sampled_from([1, 2, 3]))
    per_group = draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dense = draw(st.booleans())
    inputs = GemmInputs(kernel=None) if dense else GemmInputs(
        kernel,
        strides=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        pads=tuple(draw(st.integers(0, 1)) for _ in range(4)),
        groups=groups,
    )  # fmt: skip
    channels = per_group * (1 if dense else groups)
    size = draw(st.integers(3, 6))
    samples = draw(st.integers(1, 9))
    cap = draw(st.sampled_from([None, 5, 1000]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (draw(st.integers(1, 4)), channels) if dense else (1, size, size + 1, channels)
    xs = [rng.standard_normal(shape).astype(np.float32) for _ in range(samples)]
    if draw(st.booleans()):  # an input channel never nonzero: its columns are left out of the product
        for x in xs:
            x[..., 0] = 0.0
    qs = [(np.round(x * 4) / 4).astype(np.float32) for x in xs]
    return inputs, cap, xs, qs


@settings(max_examples=60, deadline=None)
@given(conv_problems())
def test_the_gathered_moments_equal_the_sums_over_the_rows(problem):
    inputs, cap, xs, qs = problem
    folds = 3
    accumulator = CompensationAccumulator(inputs, folds=folds, cap=cap)
    expected = [None] * folds
    for index, (x, q) in enumerate(zip(xs, qs)):
        accumulator.add(index % folds, x, q)
        xa, qa = _with_ones(inputs.rows(x, cap)), _with_ones(inputs.rows(q, cap))
        products = [np.swapaxes(a, 1, 2) @ b for a, b in ((xa, xa), (xa, qa), (qa, qa))]
        fold = index % folds
        expected[fold] = products if expected[fold] is None else [e + p for e, p in zip(expected[fold], products)]
    moments = (accumulator.float_float, accumulator.float_quantized, accumulator.quantized_quantized)
    for fold in range(folds):
        for got, want in zip(moments, expected[fold] or [np.zeros_like(moments[0][0])] * 3):
            np.testing.assert_allclose(got[fold], want, rtol=1e-12, atol=1e-9)


def _moment_problem(seed: int, groups: int, inputs: int, channels: int, rows: int, dead: float):
    """A target [G, K+1, C] and the moments FQ, QQ of random float / quantized rows
    (some inputs never nonzero; `rows` 0: no rows at all)."""
    rng = np.random.default_rng(seed)
    target = rng.standard_normal((groups, inputs + 1, channels))
    x = rng.standard_normal((groups, rows, inputs)) @ rng.standard_normal((inputs, inputs))
    x[:, :, rng.random(inputs) < dead] = 0.0
    q = np.round(x * 2) / 2
    ones = np.ones((groups, rows, 1))
    xa, qa = np.concatenate([x, ones], axis=2), np.concatenate([q, ones], axis=2)
    return target, np.swapaxes(xa, 1, 2) @ qa, np.swapaxes(qa, 1, 2) @ qa


moment_problems = st.builds(
    _moment_problem,
    seed=st.integers(0, 2**32 - 1),
    groups=st.integers(1, 3),
    inputs=st.integers(1, 9),
    channels=st.integers(1, 12),
    rows=st.integers(0, 40),
    dead=st.sampled_from([0.0, 0.3]),
)


@settings(max_examples=150, deadline=None)
@given(moment_problems, st.sampled_from(COMPENSATION_STRENGTHS + (3e-3, 100.0)))
def test_ridge_fits_equal_the_direct_solve(problem, strength):
    target, float_quantized, quantized_quantized = problem
    cross = np.swapaxes(float_quantized, 1, 2) @ target
    fits = RidgeFits(target, cross, quantized_quantized)
    expected = ridge_fit(target, float_quantized, quantized_quantized, strength)
    scale = 1 + np.abs(expected).max()
    np.testing.assert_allclose(fits.fit(strength), expected, rtol=1e-7, atol=1e-7 * scale)


@settings(max_examples=100, deadline=None)
@given(moment_problems, st.integers(0, 2**32 - 1))
def test_ridge_fits_per_channel_take_each_channels_strength(problem, seed):
    target, float_quantized, quantized_quantized = problem
    strengths = np.random.default_rng(seed).choice(COMPENSATION_STRENGTHS, size=target.shape[::2])
    fits = RidgeFits(target, np.swapaxes(float_quantized, 1, 2) @ target, quantized_quantized)
    fitted = fits.fit(strengths)
    for strength in COMPENSATION_STRENGTHS:
        where = strengths == strength
        expected = ridge_fit(target, float_quantized, quantized_quantized, strength)
        scale = 1 + np.abs(expected).max()
        np.testing.assert_allclose(fitted[:, :, :][np.broadcast_to(where[:, None, :], fitted.shape)],
                                   expected[np.broadcast_to(where[:, None, :], expected.shape)], rtol=1e-7, atol=1e-7 * scale)  # fmt: skip


def _rows_problem(seed: int, groups: int, inputs: int, channels: int, folds: int, rows: int):
    """A target and per-fold moments [F, G, K+1, K+1] of random rows."""
    rng = np.random.default_rng(seed)
    target = rng.standard_normal((groups, inputs + 1, channels))
    mixing = rng.standard_normal((inputs, inputs))
    moments = []
    for _ in range(folds):
        x = rng.standard_normal((groups, rows, inputs)) @ mixing
        x[:, :, rng.random(inputs) < 0.2] = 0.0
        q = np.round(x / 0.7) * 0.7
        ones = np.ones((groups, rows, 1))
        xa, qa = np.concatenate([x, ones], axis=2), np.concatenate([q, ones], axis=2)
        moments.append([np.swapaxes(a, 1, 2) @ b for a, b in ((xa, xa), (xa, qa), (qa, qa))])
    return target, *(np.stack(m) for m in zip(*moments))


rows_problems = st.builds(
    _rows_problem,
    seed=st.integers(0, 2**32 - 1),
    groups=st.integers(1, 2),
    inputs=st.integers(1, 8),
    channels=st.integers(1, 12),
    folds=st.integers(1, 4),
    rows=st.integers(0, 30),
)


@settings(max_examples=100, deadline=None)
@given(rows_problems)
def test_output_error_equals_its_definition(problem):
    target, float_float, float_quantized, quantized_quantized = problem
    moments = (float_float[0], float_quantized[0], quantized_quantized[0])
    candidate = target + np.random.default_rng(0).standard_normal(target.shape) * 0.1
    expected = float_output_error(target, candidate, *moments)
    np.testing.assert_allclose(OutputError(target, *moments)(candidate), expected, rtol=1e-9, atol=1e-9 * (1 + np.abs(expected).max()))


def _defined_compensated_target(target, float_float, float_quantized, quantized_quantized, strengths=COMPENSATION_STRENGTHS):
    """The held-out choice written out: per strength and fold a `ridge_fit` on the other
    folds, its `float_output_error` on the fold; errors [1 + S, G, C] (the float weight
    first) and the fit on all folds at each strength."""
    total = [m.sum(axis=0) for m in (float_float, float_quantized, quantized_quantized)]
    folds = float_float.shape[0]
    candidates = [[target] * folds] + [
        [ridge_fit(target, total[1] - float_quantized[f], total[2] - quantized_quantized[f], s) for f in range(folds)] for s in strengths
    ]
    errors = np.stack([
        sum(float_output_error(target, fits[f], float_float[f], float_quantized[f], quantized_quantized[f]) for f in range(folds))
        for fits in candidates
    ])  # fmt: skip
    return errors, [target] + [ridge_fit(target, total[1], total[2], s) for s in strengths]


@settings(max_examples=100, deadline=None)
@given(rows_problems)
def test_compensated_target_equals_the_held_out_choice_written_out(problem):
    target, *moments = problem
    fitted = compensated_target(target, *moments)
    errors, fits = _defined_compensated_target(target, *moments)
    scale = 1e-8 * (1 + np.abs(errors).max(axis=0))
    np.testing.assert_allclose(fitted.plain_error, errors[0], rtol=1e-7, atol=scale.max())
    np.testing.assert_allclose(fitted.chosen_error, errors.min(axis=0), rtol=1e-7, atol=scale.max())
    # where the definition's best is clear of the runner-up by more than rounding, the same choice and fit
    ordered = np.sort(errors, axis=0)
    clear = ordered[1] - ordered[0] > 1e-6 * (1 + np.abs(ordered[0])) if len(errors) > 1 else np.ones(errors.shape[1:], bool)
    best = np.argmin(errors, axis=0)
    strengths = np.array([np.inf, *COMPENSATION_STRENGTHS])
    np.testing.assert_array_equal(fitted.strength[clear], strengths[best][clear])
    expected = np.take_along_axis(np.stack(fits), best[None, :, None, :], axis=0)[0]
    np.testing.assert_allclose(
        np.where(clear[:, None, :], fitted.target, 0), np.where(clear[:, None, :], expected, 0), rtol=1e-6, atol=1e-6 * (1 + np.abs(expected).max())
    )


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.sampled_from([0.0, 0.3, 0.7, 1.0]))
def test_gptq_factor_of_the_live_inputs_equals_that_of_the_whole_hessian(seed, inputs, dead):
    """Inputs never seen (diag H = 0) are uncoupled after damping: the inverse Cholesky
    factor taken on the live block only, the dead diagonal filled in, is the whole one."""
    from runtime.weight_rounding import DAMPING, _inverse_cholesky, _prepared

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3 * inputs, inputs))
    x[:, rng.random(inputs) < dead] = 0.0
    hessian = x.T @ x
    order, _, upper = _prepared(np.zeros((inputs, 2)), hessian, DAMPING)
    damped = hessian.copy()
    diagonal = np.diagonal(hessian).copy()
    live = diagonal > 0
    damped[np.diag_indices(inputs)] = np.where(live, diagonal, 1.0) + DAMPING * (diagonal[live].mean() if live.any() else 1.0)
    expected = _inverse_cholesky(damped[np.ix_(order, order)])
    np.testing.assert_allclose(upper, expected, rtol=1e-9, atol=1e-12)
