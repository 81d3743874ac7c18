"""The classification kernels of the report against scikit-learn, ties included."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from bayescore._array.ranking import confusion, per_class, ranking, tpr_at


@pytest.mark.parametrize("seed", range(5))
def test_roc_ap_and_per_class_agree_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n = 60 + 20 * seed
    # Rounded scores: many ties, which both must pool into one threshold.
    score = np.round(rng.random(n), 1)
    positive = (rng.random(n) < score).astype(float)
    r = ranking(score, positive)
    assert r.auc == pytest.approx(roc_auc_score(positive, score), rel=1e-12)
    assert r.ap == pytest.approx(average_precision_score(positive, score), rel=1e-12)
    fpr, tpr, _ = roc_curve(positive, score, drop_intermediate=False)
    np.testing.assert_allclose(r.fpr, fpr, atol=1e-15)
    np.testing.assert_allclose(r.tpr, tpr, atol=1e-15)
    # Read at its own false-positive rates, the curve gives the top of each vertical step.
    np.testing.assert_allclose(tpr_at(fpr, r), [tpr[fpr == f].max() for f in fpr])
    y = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n))
    pred[pred == 2] = 1  # class 2 never predicted: its precision is 0 (zero_division=0)
    m = confusion(y, pred, 3)
    np.testing.assert_array_equal(m, confusion_matrix(y, pred, labels=[0, 1, 2]))
    got = per_class(m)
    ref = precision_recall_fscore_support(y, pred, labels=[0, 1, 2], zero_division=0)
    for mine, theirs in zip(got, ref, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_one_outcome_only_gives_nan_areas():
    r = ranking(np.array([0.2, 0.7]), np.array([1.0, 1.0]))
    assert np.isnan(r.auc)
