"""Held-out comparison, K-fold CV and LOO against direct computations and ArviZ."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import norm
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

import bayescore as bs


@pytest.fixture(scope="module")
def three_models():
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 3, n)
    signal = np.eye(3)[y] * 2
    good = softmax(rng.normal(size=(40, n, 3)) * 0.3 + signal, axis=-1)
    noisy = softmax(rng.normal(size=(40, n, 3)) * 1.5 + signal, axis=-1)
    flat = np.full((n, 3), 1 / 3)
    return y, {"noisy": noisy, "flat": flat, "good": good}


def test_compare_paired_se_and_probability(three_models):
    y, models = three_models
    table = bs.compare(models, y)
    assert table["model"].values.tolist() == ["good", "noisy", "flat"]
    assert np.all(np.diff(table["nll"].values) >= 0)  # sorted by NLL
    per_obs = {m: bs.pointwise_nll(y, p) for m, p in models.items()}
    diff = per_obs["noisy"] - per_obs["good"]
    row = table.sel(model="noisy")
    assert float(row["d_nll"]) == pytest.approx(diff.mean())
    assert float(row["d_se"]) == pytest.approx(diff.std() / np.sqrt(diff.size))
    assert float(row["se"]) == pytest.approx(per_obs["noisy"].std() / np.sqrt(y.size))
    assert float(row["z"]) == pytest.approx(diff.mean() / (diff.std() / np.sqrt(diff.size)))
    assert float(row["prob_better"]) == pytest.approx(norm.cdf(float(row["z"])))
    assert float(table.sel(model="good")["d_nll"]) == 0.0
    assert float(table.sel(model="flat")["nll"]) == pytest.approx(np.log(3))
    frame = table.to_pandas()
    assert list(frame.index) == ["good", "noisy", "flat"] and "prob_better" in frame


def test_compare_estimators_with_X():
    ds = bs.load_dataset("wine")
    lr = LogisticRegression(max_iter=5000).fit(ds.X, ds.y)
    dummy = DummyClassifier().fit(ds.X, ds.y)
    table = bs.compare({"lr": lr, "prior": dummy}, ds.y, X=ds.X)
    assert table["model"].values.tolist() == ["lr", "prior"]
    assert float(table.sel(model="lr")["nll"]) == pytest.approx(
        bs.log_loss(ds.y, lr.predict_proba(ds.X), labels=lr.classes_, eps=0)
    )
    assert float(table.sel(model="lr")["accuracy"]) == pytest.approx(lr.score(ds.X, ds.y))
    with pytest.raises(ValueError, match="need X="):
        bs.compare({"lr": lr}, ds.y)


def test_cross_validate_uses_identical_folds():
    ds = bs.load_dataset("iris")
    ests = {"lr": LogisticRegression(max_iter=2000), "prior": DummyClassifier()}
    cv = bs.cross_validate(ests, ds.X, ds.y, cv=4, random_state=1)
    folds = list(StratifiedKFold(4, shuffle=True, random_state=1).split(ds.X, ds.y))
    manual = np.empty(len(ds.y))
    for k, (train, test) in enumerate(folds):
        fitted = LogisticRegression(max_iter=2000).fit(ds.X.iloc[train], ds.y.iloc[train])
        manual[test] = bs.log_loss(
            ds.y.iloc[test],
            fitted.predict_proba(ds.X.iloc[test]),
            labels=fitted.classes_,
            eps=0,
            pointwise=True,
        )
        assert (cv["fold"].values[test] == k).all()
    np.testing.assert_allclose(cv["nll_pointwise"].sel(model="lr"), manual, rtol=1e-10)
    diff = cv["nll_pointwise"].sel(model="prior") - cv["nll_pointwise"].sel(model="lr")
    assert float(cv.sel(model="prior")["d_se"]) == pytest.approx(
        float(diff.std()) / np.sqrt(diff.size)
    )


@pytest.fixture(scope="module")
def fitted_logistic():
    from conftest import simulate_logistic

    X, y, _, _ = simulate_logistic(400, seed=3)
    model = bs.build_model(X, y)
    idata = bs.fit(model, draws=300, tune=300, random_seed=4, warn=False)
    return model, idata


def test_loo_equals_arviz_on_pymc_log_likelihood(fitted_logistic):
    import arviz_stats
    from scipy.special import logsumexp

    from bayescore._pymc import import_pymc

    pm = import_pymc()
    model, idata = fitted_logistic
    # PyMC's own pointwise log-likelihood, then arviz-stats' PSIS-LOO: the reference route.
    ref_idata = pm.compute_log_likelihood(idata.copy(), model=model, progressbar=False)
    ref = arviz_stats.loo(ref_idata, pointwise=True)
    ours = bs.loo(idata)
    assert ours.elpd == pytest.approx(ref.elpd, abs=1e-8)
    assert ours.se == pytest.approx(ref.se, abs=1e-8)
    assert ours.p == pytest.approx(ref.p, abs=1e-8)
    np.testing.assert_allclose(ours.pareto_k.values, ref.pareto_k.values, atol=1e-10)
    # WAIC (no longer in ArviZ 1.x) against its closed form on PyMC's log-likelihood.
    ll = ref_idata["log_likelihood"]["y"].values.reshape(
        -1, ref_idata["log_likelihood"].sizes["obs"]
    )
    lppd = logsumexp(ll, axis=0) - np.log(ll.shape[0])
    expected = float(np.sum(lppd - ll.var(axis=0, ddof=1)))
    w = bs.waic(idata)
    assert w.elpd == pytest.approx(expected, abs=1e-8)
    assert w.p == pytest.approx(float(ll.var(axis=0, ddof=1).sum()), abs=1e-10)


def test_loo_compare_ranks_the_true_model_first(fitted_logistic):
    from conftest import simulate_logistic

    X, y, _, _ = simulate_logistic(400, seed=3)
    _, idata = fitted_logistic
    weak = bs.fit(bs.build_model(X[:, :1], y), draws=300, tune=300, random_seed=4, warn=False)
    table = bs.loo_compare({"full": idata, "one feature": weak})
    assert table.index[0] == "full"


def test_cross_validate_in_parallel_equals_serial():
    ds = bs.load_dataset("wine")
    ests = {"lr": LogisticRegression(max_iter=5000), "prior": DummyClassifier()}
    serial = bs.cross_validate(ests, ds.X, ds.y, cv=3)
    parallel = bs.cross_validate(ests, ds.X, ds.y, cv=3, n_jobs=2, progress=True)
    np.testing.assert_allclose(parallel["nll_pointwise"], serial["nll_pointwise"], rtol=1e-12)
