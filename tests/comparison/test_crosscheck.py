"""nll_crosscheck: LOO, K-fold and test NLL against refits by hand, sklearn and ArviZ.

Laplace fits (closed form, ~0.4 s each) keep the file fast; the NUTS measurements on real
data are in benchmarks/crosscheck_datasets.py.
"""

from __future__ import annotations

import arviz_stats  # noqa: F401  (the .azstats accessor)
import numpy as np
import pytest
import xarray as xr
from scipy.special import expit, log_expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

import bayescore as bs

LAPLACE = bs.BayesianLogisticClassifier(method="laplace", draws=1000)
BETA = np.array([1.5, -1.0, 0.5])


def simulate(rng, n, shift=0.0):
    X = rng.normal(size=(n, 3))
    return X, (rng.random(n) < expit(X @ BETA + shift)).astype(int)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X, y = simulate(rng, 400)
    X_test, y_test = simulate(rng, 300)
    X_shift, y_shift = simulate(rng, 300, shift=2.5)  # label shift: a new intercept
    return X, y, X_test, y_test, X_shift, y_shift


@pytest.fixture(scope="module")
def clean(data):
    X, y, X_test, y_test, *_ = data
    return bs.nll_crosscheck(LAPLACE, X, y, X_test=X_test, y_test=y_test)


def test_well_specified_model_passes_with_no_advice(clean):
    assert clean.ok
    assert clean.messages == []
    assert clean.table["estimate"].values.tolist() == ["loo", "kfold", "test"]
    assert clean.table["pair"].values.tolist() == ["kfold-loo", "test-loo", "test-kfold"]
    assert bool(clean.table["agree"].all())
    assert clean.table.attrs["n_high_pareto_k"] == 0 and clean.diagnosis.ok
    assert clean["loo"].mean == pytest.approx(float(clean.table["nll_loo"].mean()))
    lines = str(clean).splitlines()
    assert len(lines) == 8 and lines[5].split()[0] == "kfold-loo"


def test_test_nll_equals_sklearn_log_loss_of_the_posterior_mean(clean, data):
    _, _, X_test, y_test, *_ = data
    proba = clean.estimator.predict_proba(X_test)
    assert clean["test"].mean == pytest.approx(log_loss(y_test, proba), abs=1e-10)
    by_hand = -np.log(proba[np.arange(y_test.size), y_test])
    np.testing.assert_allclose(clean.table["nll_test"], by_hand, rtol=1e-9)
    assert clean["test"].se == pytest.approx(by_hand.std() / np.sqrt(by_hand.size), rel=1e-9)


def test_kfold_nll_equals_a_refit_on_the_other_folds(clean, data):
    X, y, *_ = data
    fold = clean.table["fold"].values
    held = fold == 0
    refit = clone(LAPLACE).fit(X[~held], y[~held])
    proba = refit.predict_proba(X[held])
    expected = -np.log(proba[np.arange(held.sum()), y[held]])
    np.testing.assert_allclose(clean.table["nll_kfold"].values[held], expected, rtol=1e-9)
    assert np.bincount(fold).tolist() == [80] * 5


def test_loo_nll_matches_exact_leave_one_out_refits(clean, data):
    # PSIS-LOO against brute force: measured |difference| <= 0.003 nats on these data.
    X, y, *_ = data
    for i in (0, 1, 2):
        keep = np.arange(y.size) != i
        refit = clone(LAPLACE).fit(X[keep], y[keep])
        exact = -np.log(refit.predict_proba(X[i : i + 1])[0, y[i]])
        assert float(clean.table["nll_loo"][i]) == pytest.approx(exact, abs=0.01)


def test_z_scores_follow_the_documented_standard_errors(clean):
    t = clean.table
    loo, kfold, test = (t[f"nll_{k}"].values for k in ("loo", "kfold", "test"))
    n = loo.size
    d = kfold - loo
    paired = d.std() / np.sqrt(n)
    sums = np.array([(d[t["fold"].values == k] - d.mean()).sum() for k in range(5)])
    clustered = np.sqrt(5 / 4 * np.sum(sums**2)) / n
    se = max(np.sqrt(2) * paired, clustered)
    row = t.sel(pair="kfold-loo")
    assert float(row["d_nll"]) == pytest.approx(kfold.mean() - loo.mean(), abs=1e-12)
    assert float(row["d_se_paired"]) == pytest.approx(paired, rel=1e-9)
    assert float(row["z"]) == pytest.approx(d.mean() / se, rel=1e-9)
    se_test = np.hypot(test.std() / np.sqrt(test.size), loo.std() / np.sqrt(n))
    assert float(t["z"].sel(pair="test-loo")) == pytest.approx(
        (test.mean() - loo.mean()) / se_test, rel=1e-9
    )
    assert np.isnan(float(t["d_se_paired"].sel(pair="test-loo")))


def test_label_shift_in_the_test_set_is_flagged(data):
    X, y, _, _, X_shift, y_shift = data
    check = bs.nll_crosscheck(LAPLACE, X, y, X_test=X_shift, y_test=y_shift)
    assert not check.ok
    z = check.table["z"]
    assert bool(check.table["agree"].sel(pair="kfold-loo"))
    assert float(z.sel(pair="test-loo")) > 3 and float(z.sel(pair="test-kfold")) > 3
    assert (check.table["agree"] == (abs(z) <= check.table.attrs["z_max"])).all()
    assert len(check.messages) == 1
    assert "exceeds both LOO and K-fold" in check.messages[0]
    assert "shift" in check.messages[0]


@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto:UserWarning")
def test_high_pareto_k_says_trust_kfold_or_is_settled_by_refits():
    # Twelve features for sixty rows: many observations are highly influential.
    from scipy.special import logsumexp

    from bayescore.inference.importance import log_ratios

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 12))
    y = (rng.random(60) < expit(X[:, :3] @ np.array([3.0, -2.0, 1.0]))).astype(int)
    with pytest.warns(bs.ConvergenceWarning):  # the Laplace fits are poor here too
        check = bs.nll_crosscheck(LAPLACE, X, y, max_refits=5)
    assert not check.ok
    assert check.table.attrs["n_high_pareto_k"] >= 10 and check.table.attrs["n_refits"] == 0
    assert any("Trust the K-fold estimate" in m for m in check.messages)
    assert any("max_refits=5" in m for m in check.messages)
    # Reference: arviz-stats' PSIS smoothing of the LOO ratios of a Laplace fit,
    # (log p - log q) - log-lik, on a log-likelihood written out by hand.
    idata = check.estimator.idata_
    post = idata.posterior
    eta = post["intercept_original"].values[..., None] + np.einsum(
        "cdf,nf->cdn", post["coef_original"].values, X
    )
    ll = np.where(y == 1, log_expit(eta), log_expit(-eta))
    ratios = log_ratios(idata).values
    da = xr.DataArray(ll - ratios[..., None], dims=("chain", "draw", "obs"))
    lw, khat = da.azstats.psislw(dim=["chain", "draw"])
    lw = lw.transpose("chain", "draw", "obs").values
    lw = lw - logsumexp(lw, axis=(0, 1))
    np.testing.assert_allclose(check.table["pareto_k"], khat.values, rtol=1e-8)
    np.testing.assert_allclose(check.table["nll_loo"], -logsumexp(lw + ll, axis=(0, 1)), rtol=1e-8)
    assert check.table.attrs["n_high_pareto_k"] == int(np.sum(khat.values > 0.7))
    # Allowed to refit them all, the cross-check replaces each by its exact LOO term.
    with pytest.warns(bs.ConvergenceWarning):
        settled = bs.nll_crosscheck(LAPLACE, X, y)
    t = settled.table
    assert t.attrs["n_refits"] == int(np.sum(khat.values > 0.7))
    assert t.attrs["n_high_pareto_k"] == 0
    i = int(np.flatnonzero(t["refitted"].values)[0])
    rows = np.arange(y.size) != i
    refit = clone(LAPLACE).fit(X[rows], y[rows])
    p = refit.predict_proba_draws(X[i : i + 1]).values[..., 0, y[i]]
    assert float(t["nll_loo"][i]) == pytest.approx(-np.log(p.mean()), rel=1e-10)
    assert not any("Trust the K-fold" in m for m in settled.messages)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"estimator": LogisticRegression()}, TypeError, "needs a bayescore estimator"),
        ({"cv": 1}, ValueError, "'cv' parameter of nll_crosscheck must be an int >= 2"),
        ({"X_test": np.zeros((2, 3))}, ValueError, "got only X_test"),
        ({"z_max": 0}, ValueError, "'z_max' parameter of nll_crosscheck"),
        ({"pareto_k_max": -1.0}, ValueError, "'pareto_k_max' parameter of nll_crosscheck"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    X = np.zeros((10, 3))
    args = {"estimator": LAPLACE, "X": X, "y": np.arange(10) % 2, **kwargs}
    with pytest.raises(error, match=match):
        bs.nll_crosscheck(**args)
