"""The selective-prediction kernels (bayescore._array.selective): properties for any input."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bayescore._array import selective as S

scores = arrays(
    np.float64,
    st.integers(1, 60),
    elements=st.floats(0, 20, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=200, deadline=None)
@given(scores)
def test_areas_are_the_means_of_their_curves_and_pseudo_values(s):
    n = s.size
    risk = np.cumsum(s) / np.arange(1, n + 1)
    generalized = np.cumsum(s) / n
    np.testing.assert_allclose(S.risk_curve(s), risk, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(S.generalized_risk_curve(s), generalized, rtol=1e-12, atol=1e-12)
    for kind, curve in (("aurc", risk), ("augrc", generalized)):
        area = float(S.area(s, kind))
        assert np.isclose(area, curve.mean(), rtol=1e-12, atol=1e-12)
        # The influence-function pseudo-values average to the area exactly.
        assert np.isclose(S.area_pseudo_values(s, kind).mean(), area, rtol=1e-10, atol=1e-10)
    # At full coverage the selective risk is the mean score; the generalised risk too.
    assert np.isclose(risk[-1], s.mean()) and np.isclose(generalized[-1], s.mean())


@settings(max_examples=100, deadline=None)
@given(scores, st.integers(0, 2**32 - 1))
def test_sorting_by_the_score_is_the_best_order(s, seed):
    # The oracle (ascending scores) has the smallest AURC and AUGRC of any order.
    shuffled = np.random.default_rng(seed).permutation(s)
    oracle = np.sort(s)
    for kind in S.AREAS:
        assert float(S.area(oracle, kind)) <= float(S.area(shuffled, kind)) + 1e-9


@settings(max_examples=100, deadline=None)
@given(scores)
def test_batched_rows_equal_one_row_at_a_time(s):
    batch = np.stack([s, s[::-1], np.zeros_like(s)])
    for kind in S.AREAS:
        np.testing.assert_allclose(
            S.area(batch, kind), [float(S.area(row, kind)) for row in batch], rtol=1e-12
        )
        np.testing.assert_allclose(
            S.area_pseudo_values(batch, kind)[1], S.area_pseudo_values(s[::-1], kind)
        )
    np.testing.assert_array_equal(S.selection_order(batch)[2], np.arange(s.size))  # ties
