"""Posterior predictive probabilities and log-likelihood against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, log_softmax, logsumexp, softmax
from sklearn.metrics import accuracy_score

from bayescore.predictive import log_likelihood_draws, predict_logits_draws, predict_proba_draws


def _manual_softmax_probs(idata, X):
    post = idata.posterior
    a = post["intercept"].values  # (chain, draw, class)
    B = post["coef"].values  # (chain, draw, feature, class)
    Xs = (X - X.mean(0)) / X.std(0)
    return softmax(a[:, :, None, :] + np.einsum("nf,cdfk->cdnk", Xs, B), axis=-1)


def test_softmax_probabilities_match_direct_formula(softmax_nuts, softmax_data):
    X, *_ = softmax_data
    probs = predict_proba_draws(softmax_nuts, X[:50])
    assert probs.dims == ("chain", "draw", "obs", "class")
    np.testing.assert_allclose(probs.values, _manual_softmax_probs(softmax_nuts, X)[:, :, :50])
    np.testing.assert_allclose(probs.sum("class"), 1.0, atol=1e-12)
    assert probs["class"].values.tolist() == [0, 1, 2]


def test_original_scale_coefficients_give_same_probabilities(logistic_nuts, logistic_data):
    X, *_ = logistic_data
    post = logistic_nuts.posterior
    eta = post["intercept_original"].values[..., None] + np.einsum(
        "nf,cdf->cdn", X[:40], post["coef_original"].values
    )
    probs = predict_proba_draws(logistic_nuts, X[:40])
    np.testing.assert_allclose(probs.sel({"class": 1}).values, expit(eta), rtol=1e-10)


def test_chunking_does_not_change_results(softmax_nuts, softmax_data):
    X, *_ = softmax_data
    a = predict_proba_draws(softmax_nuts, X[:30])
    b = predict_proba_draws(softmax_nuts, X[:30], chunk_size=7)
    np.testing.assert_array_equal(a.values, b.values)


def test_log_likelihood_matches_log_softmax_and_defaults_to_training(softmax_nuts, softmax_data):
    X, y, *_ = softmax_data
    ll = log_likelihood_draws(softmax_nuts)
    manual = log_softmax(np.log(_manual_softmax_probs(softmax_nuts, X)), axis=-1)
    expected = np.take_along_axis(manual, y[None, None, :, None], axis=-1)[..., 0]
    np.testing.assert_allclose(ll.values, expected, atol=1e-10)
    again = log_likelihood_draws(softmax_nuts, X, y)
    np.testing.assert_array_equal(ll.values, again.values)


def test_logistic_log_likelihood_is_finite_for_huge_logits(logistic_nuts):
    X = np.array([[1e6, 0.0, 0.0], [-1e6, 0.0, 0.0]])
    ll = log_likelihood_draws(logistic_nuts, X, [0, 0])
    logits = predict_logits_draws(logistic_nuts, X).values
    expected = log_softmax(logits, axis=-1)[..., 0]
    assert np.isfinite(ll.values).all()
    np.testing.assert_allclose(ll.values, expected, rtol=1e-12)


def test_dataframe_index_becomes_obs_coord(logistic_nuts, logistic_data):
    X, *_ = logistic_data
    frame = pd.DataFrame(X[:3], index=["a", "b", "c"])
    probs = predict_proba_draws(logistic_nuts, frame)
    assert probs["obs"].values.tolist() == ["a", "b", "c"]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda i: predict_proba_draws(i, np.zeros((2, 5))), "X has 5 features, but the model"),
        (lambda i: predict_proba_draws(i, np.zeros((2, 3)), chunk_size=0), "'chunk_size'"),
        (lambda i: log_likelihood_draws(i, np.zeros((2, 3)), [0, 7]), "label 7 at row 1"),
        (lambda i: log_likelihood_draws(i, np.zeros((2, 3))), "Pass both X and y"),
        (lambda i: predict_proba_draws(object(), np.zeros((2, 3))), "Expected a fitted"),
    ],
)
def test_predictive_errors(call, match, logistic_nuts):
    with pytest.raises((ValueError, TypeError), match=match):
        call(logistic_nuts)


# ------------------------------------------------ streaming in tiles (issue 19)


def _manual_logits(idata, X):
    """Logits (chain, draw, obs, class) by the formula, every draw at once: the reference."""
    post, const = idata["posterior"], idata["constant_data"]
    a = post["intercept"].transpose("chain", "draw", ...).values
    B = post["coef"].transpose("chain", "draw", "feature", ...).values
    Xs = (X - const["x_mean"].values) / const["x_scale"].values
    if a.ndim == 2:  # logistic: class 0 is the reference, logits (0, eta)
        eta = a[:, :, None] + np.einsum("nf,cdf->cdn", Xs, B)
        return np.stack([np.zeros_like(eta), eta], axis=-1)
    return a[:, :, None, :] + np.einsum("nf,cdfk->cdnk", Xs, B)


def _estimator(idata):
    from bayescore import BayesianLogisticClassifier, BayesianSoftmaxClassifier

    kind = idata["posterior"].attrs["bayescore_kind"]
    cls = BayesianLogisticClassifier if kind == "logistic" else BayesianSoftmaxClassifier
    return cls.from_idata(idata)


@pytest.fixture(params=["logistic", "softmax"])
def fitted(request, logistic_nuts, softmax_nuts, logistic_data, softmax_data):
    if request.param == "logistic":
        return logistic_nuts, logistic_data[0]
    return softmax_nuts, softmax_data[0]


@pytest.mark.parametrize("budget", [None, 700])
def test_predict_proba_in_tiles_equals_the_mean_over_every_draw(fitted, budget, monkeypatch):
    import bayescore._rowblocks as rb

    idata, X = fitted
    if budget is not None:  # tiles of 64 rows x 3-5 draws: many row blocks, many draw tiles
        monkeypatch.setattr(rb, "PREDICT_ELEMENTS", budget)
    clf = _estimator(idata)
    logits = _manual_logits(idata, X)
    expected = softmax(logits, axis=-1).mean(axis=(0, 1))
    proba = clf.predict_proba(X)
    assert isinstance(proba, np.ndarray) and proba.shape == expected.shape
    np.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-15)
    expected_log = logsumexp(log_softmax(logits, axis=-1), axis=(0, 1)) - np.log(
        logits.shape[0] * logits.shape[1]
    )
    np.testing.assert_allclose(clf.predict_log_proba(X), expected_log, rtol=1e-12, atol=1e-14)
    labels = clf.classes_[np.argmax(expected, axis=1)]
    np.testing.assert_array_equal(clf.predict(X), labels)
    y = np.asarray(idata["observed_data"]["y"].values)
    assert clf.score(X, clf.classes_[y]) == accuracy_score(clf.classes_[y], labels)


def test_log_proba_stays_finite_where_probabilities_underflow(logistic_nuts):
    # Rows far out along the first feature: some class gets exp(-1000s) in every draw.
    clf = _estimator(logistic_nuts)
    X = np.array([[3e3, 0.0, 0.0], [-3e3, 0.0, 0.0], [0.0, 1.0, 0.0]])
    logits = _manual_logits(logistic_nuts, X)
    expected = logsumexp(log_softmax(logits, axis=-1), axis=(0, 1)) - np.log(1000)
    log_proba = clf.predict_log_proba(X)
    assert np.isfinite(log_proba).all() and log_proba.min() < -500
    np.testing.assert_allclose(log_proba, expected, rtol=1e-12)
    assert (clf.predict_proba(X) == 0).any()  # where log(predict_proba) would be -inf


@pytest.mark.parametrize(
    "draws, positions",
    [
        (None, np.arange(500)),
        (4, [0, 166, 333, 499]),  # evenly spaced from each chain's first draw to its last
        (1, [0]),
        (slice(None, None, 100), [0, 100, 200, 300, 400]),
        ([5, 1, -1], [5, 1, 499]),
    ],
)
def test_draws_thins_every_chain_alike(softmax_nuts, softmax_data, draws, positions):
    X = softmax_data[0][:40]
    full = softmax(_manual_logits(softmax_nuts, X), axis=-1)
    thin = predict_proba_draws(softmax_nuts, X, draws=draws)
    assert thin.sizes["chain"] == 2 and thin["draw"].values.tolist() == list(positions)
    assert thin.attrs["n_draws"] == 2 * len(positions)
    np.testing.assert_allclose(thin.values, full[:, positions], rtol=1e-12, atol=1e-15)
    ll = log_likelihood_draws(softmax_nuts, X, softmax_data[1][:40], draws=draws)
    assert ll["draw"].values.tolist() == list(positions)


def test_float32_draws_are_the_float64_ones_rounded_once(fitted):
    idata, X = fitted
    X = X[:200]
    full = softmax(_manual_logits(idata, X), axis=-1)
    wide = predict_proba_draws(idata, X)
    narrow = predict_proba_draws(idata, X, dtype=np.float32)
    assert narrow.dtype == np.float32 and narrow.nbytes * 2 == wide.nbytes
    np.testing.assert_allclose(wide.values, full, rtol=1e-12, atol=1e-15)
    # Computed in float64 per tile and rounded once: at most half an ulp of float32 away.
    np.testing.assert_allclose(narrow.values, full, rtol=2**-24, atol=1e-45)
    np.testing.assert_array_equal(narrow.values, wide.values.astype(np.float32))
    clf = _estimator(idata)
    est = clf.predict_proba_draws(X, draws=50, dtype=np.float32)
    assert est.dtype == np.float32 and est.sizes["draw"] == 50
    logits = predict_logits_draws(idata, X, dtype="float32")
    np.testing.assert_array_equal(logits.values, _manual_logits(idata, X).astype(np.float32))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"draws": 0}, ValueError, r"'draws' parameter of predict_proba_draws must be an int "),
        ({"draws": 501}, ValueError, r"an int in \[1, 500\]. Got 501"),
        ({"draws": True}, TypeError, "None, an int .draws per chain., a slice"),
        ({"draws": [0.5, 1.0]}, TypeError, "1-D sequence of int positions"),
        ({"draws": [3, 3]}, ValueError, "repeats draws"),
        ({"draws": [600]}, ValueError, "holds position 600, but each chain has 500 draws"),
        ({"draws": slice(10, 5)}, ValueError, "selects no draws"),
        ({"dtype": np.int64}, ValueError, "'dtype' parameter of predict_proba_draws must be"),
        ({"dtype": "float16"}, ValueError, "np.float32 or np.float64. Got 'float16'"),
    ],
)
def test_draws_and_dtype_errors(softmax_nuts, kwargs, error, match):
    with pytest.raises(error, match=match):
        predict_proba_draws(softmax_nuts, np.zeros((2, 2)), **kwargs)
    with pytest.raises(error, match=match):
        _estimator(softmax_nuts).predict_proba_draws(np.zeros((2, 2)), **kwargs)
