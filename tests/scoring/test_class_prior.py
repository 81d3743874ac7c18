"""The class-prior baseline of score(): training labels by value, their real name in errors."""

from __future__ import annotations

import numpy as np
import pytest

import bayescore as bs

P = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])


def _prior_nll(train, test):
    """Cross-entropy of test label frequencies under training frequencies (SPEC §3)."""
    train, test = list(train), list(test)
    return -sum(
        test.count(c) / len(test) * np.log(max(train.count(c) / len(train), np.finfo(float).eps))
        for c in set(test)
    )


def test_training_labels_of_a_class_the_model_lacks_still_count():
    y = ["a", "b", "a"]
    y_train = ["a", "a", "b", "c", "c"]  # a class the forecasts have no column for
    s = bs.score(y, P, labels=["a", "b"], y_train=y_train)
    assert float(s["baseline_class_prior"]) == pytest.approx(_prior_nll(y_train, y), rel=1e-12)


def test_training_labels_inside_the_classes_give_the_plain_prior():
    y, y_train = ["a", "b", "a"], ["b", "a", "b", "b"]
    s = bs.score(y, P, labels=["a", "b"], y_train=y_train)
    assert float(s["baseline_class_prior"]) == pytest.approx(_prior_nll(y_train, y), rel=1e-12)
    expected = bs.class_prior_baseline(y_train, y, labels=["a", "b"])
    assert float(s["baseline_class_prior"]) == pytest.approx(expected, rel=1e-12)


def test_class_indices_without_labels_stay_positional():
    s = bs.score([0, 1, 0], P, y_train=[1, 1, 0])
    assert float(s["baseline_class_prior"]) == pytest.approx(_prior_nll([1, 1, 0], [0, 1, 0]))
    with pytest.raises(ValueError, match=r"y_train contains class index 2 at row 0"):
        bs.score([0, 1, 0], P, y_train=[2, 1, 0])


@pytest.mark.parametrize(
    "y_train, match",
    [
        ([0, 1, 1], r"y_train shares no label with the classes \['a', 'b'\] of the forecasts"),
        (["a", None], r"y_train contains a missing label at row 1 \(None\)"),
        ([["a"], ["b"]], r"y_train must be a non-empty 1-D array of labels"),
    ],
)
def test_training_labels_that_cannot_be_a_prior_name_y_train(y_train, match):
    with pytest.raises(ValueError, match=match):
        bs.score(["a", "b", "a"], P, labels=["a", "b"], y_train=y_train)


def test_report_of_models_with_different_classes_needs_no_y_train(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    logits = X @ rng.normal(size=(2, 3)) + rng.gumbel(size=(90, 3))
    y3 = np.array(["a", "b", "c"])[np.argmax(logits, axis=1)]
    quiet = {"warn": False}
    m3 = bs.BayesianSoftmaxClassifier(method="laplace", draws=50, fit_kwargs=quiet).fit(X, y3)
    two = y3 != "c"
    m2 = bs.BayesianSoftmaxClassifier(method="laplace", draws=50, fit_kwargs=quiet)
    m2.fit(X[two], y3[two])
    # The report takes the first model's training labels (a, b and c) as y_train for
    # every model; the two-class model's baseline must count them, not refuse them.
    path = bs.report({"abc": m3, "ab": m2}, X[two][:20], y3[two][:20], tmp_path / "r.html")
    assert path.read_text().startswith("<!DOCTYPE html>")
    s = bs.score(y3[two][:20], m2.predict_proba_draws(X[two][:20]), y_train=y3)
    assert float(s["baseline_class_prior"]) == pytest.approx(_prior_nll(y3, y3[two][:20]))
