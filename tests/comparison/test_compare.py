"""Held-out comparison, K-fold CV and LOO against direct computations and ArviZ."""

from __future__ import annotations

import warnings

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
    assert float(row["d_nll_se"]) == pytest.approx(diff.std() / np.sqrt(diff.size))
    assert float(row["nll_se"]) == pytest.approx(per_obs["noisy"].std() / np.sqrt(y.size))
    z = diff.mean() / (diff.std() / np.sqrt(diff.size))
    assert float(row["p_worse_nll"]) == pytest.approx(norm.cdf(z))
    assert float(table.sel(model="good")["d_nll"]) == 0.0
    assert float(table.sel(model="flat")["nll"]) == pytest.approx(np.log(3))
    frame = table.to_pandas()
    assert list(frame.index) == ["good", "noisy", "flat"] and "p_worse_nll" in frame


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
    assert float(cv.sel(model="prior")["d_nll_se"]) == pytest.approx(
        float(diff.std()) / np.sqrt(diff.size)
    )


@pytest.fixture(scope="module")
def fitted_logistic():
    from conftest import simulate_logistic

    X, y, _, _ = simulate_logistic(400, seed=3)
    model = bs.build_model(X, y)
    idata = bs.fit(model, "nuts", draws=300, tune=300, random_seed=4, warn=False)
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
    weak = bs.fit(
        bs.build_model(X[:, :1], y), "nuts", draws=300, tune=300, random_seed=4, warn=False
    )
    table = bs.loo_compare({"full": idata, "one feature": weak})
    assert table.index[0] == "full"


def test_cross_validate_in_parallel_equals_serial():
    ds = bs.load_dataset("wine")
    ests = {"lr": LogisticRegression(max_iter=5000), "prior": DummyClassifier()}
    serial = bs.cross_validate(ests, ds.X, ds.y, cv=3)
    parallel = bs.cross_validate(ests, ds.X, ds.y, cv=3, n_jobs=2, progress=True)
    np.testing.assert_allclose(parallel["nll_pointwise"], serial["nll_pointwise"], rtol=1e-12)


# ------------------------------------------------------- metrics, bootstrap, flags


def test_every_metric_gets_a_paired_difference_to_its_own_best(three_models):
    y, models = three_models
    table = bs.compare(models, y, metrics=("nll", "brier", "spherical", "accuracy"))
    mean_probs = {m: p.mean(axis=0) if p.ndim == 3 else p for m, p in models.items()}
    onehot = np.eye(3)[y]
    per_obs = {
        "brier": {m: ((p - onehot) ** 2).sum(axis=1) for m, p in mean_probs.items()},
        "spherical": {
            m: p[np.arange(y.size), y] / np.linalg.norm(p, axis=1) for m, p in mean_probs.items()
        },
        "accuracy": {m: (p.argmax(axis=1) == y).astype(float) for m, p in mean_probs.items()},
    }
    order = table["model"].values.tolist()  # ties go to the first model in NLL order
    for metric, values in per_obs.items():
        sign = -1 if metric in ("spherical", "accuracy") else 1  # higher is better
        best = min(order, key=lambda m: sign * values[m].mean())
        for m, v in values.items():
            diff = sign * (v - values[best])
            row = table.sel(model=m)
            assert float(row[metric]) == pytest.approx(v.mean())
            assert float(row[f"{metric}_se"]) == pytest.approx(v.std() / np.sqrt(y.size))
            assert float(row[f"d_{metric}"]) == pytest.approx(diff.mean(), abs=1e-15)
            assert float(row[f"d_{metric}"]) >= 0
            assert float(row[f"d_{metric}_se"]) == pytest.approx(diff.std() / np.sqrt(y.size))
            se = diff.std() / np.sqrt(y.size)
            if m == best:
                expected = np.nan
            elif np.all(diff == 0):  # the same accuracy on every row: no difference
                expected = 0.5
            else:
                expected = norm.cdf(diff.mean() / se)
            np.testing.assert_allclose(float(row[f"p_worse_{metric}"]), expected)
    # The deprecated aliases still read as the columns that replace them.
    np.testing.assert_array_equal(table["nll_se"], table["se"])
    np.testing.assert_array_equal(table["d_nll_se"], table["d_se"])
    np.testing.assert_array_equal(table["p_worse_nll"], table["prob_better"])


def test_ece_gets_a_paired_bootstrap_over_the_same_rows(three_models):
    y, models = three_models
    table = bs.compare(models, y, metrics="ece", n_bins=10, n_boot=60, random_seed=5)
    # By hand: the same seeded resamples, each scored by the public ECE of every model.
    rows = np.random.default_rng(5).integers(0, y.size, (60, y.size))
    mean_probs = {m: p.mean(axis=0) if p.ndim == 3 else p for m, p in models.items()}
    boots = {
        m: np.array([bs.expected_calibration_error(y[r], p[r], n_bins=10) for r in rows])
        for m, p in mean_probs.items()
    }
    ece = {m: bs.expected_calibration_error(y, p, n_bins=10) for m, p in mean_probs.items()}
    best = min(ece, key=ece.get)
    for m in models:
        row = table.sel(model=m)
        assert float(row["ece"]) == pytest.approx(ece[m])
        assert float(row["ece_se"]) == pytest.approx(boots[m].std(ddof=1))
        assert float(row["d_ece"]) == pytest.approx(ece[m] - ece[best])
        assert float(row["d_ece_se"]) == pytest.approx((boots[m] - boots[best]).std(ddof=1))
    again = bs.compare(models, y, metrics="ece", n_bins=10, n_boot=60, random_seed=5)
    other = bs.compare(models, y, metrics="ece", n_bins=10, n_boot=60, random_seed=6)
    np.testing.assert_array_equal(again["ece_se"], table["ece_se"])
    assert not np.allclose(other["ece_se"], table["ece_se"])


def test_flags_and_the_monte_carlo_warning():
    rng = np.random.default_rng(0)
    n = 80
    y = rng.integers(0, 2, n)
    base = np.where(y == 1, 0.7, 0.3)
    # Two posteriors of nearly the same forecast, 16 draws each with draw-to-draw noise:
    # the Monte Carlo error (0.0023) could carry the difference (0.0019) across 2 SE
    # (0.0035).
    a = np.clip(base + rng.normal(0, 0.05, (16, 1)), 0.01, 0.99)
    b = np.clip(base + 0.01 + rng.normal(0, 0.05, (16, 1)), 0.01, 0.99)
    draws = {m: np.stack([1 - p, p], axis=-1) for m, p in {"a": a, "b": b}.items()}
    with pytest.warns(bs.ComparisonWarning, match="Draw more posterior samples"):
        table = bs.compare(draws, y, metrics="nll")
    worse = table["model"].values[1]
    flags = str(table.sel(model=worse)["diag"].values)
    assert flags == "N < 100; |d_nll| < 2 d_se; nll_mcse not small"
    assert str(table["diag"].values[0]) == ""
    # The same draws twice: no difference at all, and nothing to warn about.
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ComparisonWarning)
        same = bs.compare({"a": draws["a"], "a again": draws["a"]}, y, metrics="nll")
    assert same["diag"].values.tolist() == ["", "no difference"]
    # Point probabilities: no Monte Carlo error, no warning; a clear gap is not flagged.
    big_y = rng.integers(0, 2, 400)
    clear = bs.compare(
        {"sharp": np.where(big_y == 1, 0.8, 0.2), "flat": np.full(400, 0.5)}, big_y, metrics="nll"
    )
    assert clear["nll_mcse"].values.tolist() == [0.0, 0.0]
    assert clear["diag"].values.tolist() == ["", ""]


def test_paired_interval_covers_the_true_difference_of_two_forecasters():
    # x takes 4 values, so the expected NLL difference of two fixed forecasters is a
    # finite sum; it is small against its SE, so which model is best changes between
    # replications and the signed difference A - B is read through the table carefully.
    pi = np.array([0.4, 0.3, 0.2, 0.1])
    q = np.array([0.2, 0.4, 0.6, 0.8])  # true P(y = 1 | x)
    p_a = np.array([0.25, 0.45, 0.55, 0.7])
    p_b = np.array([0.2, 0.35, 0.65, 0.85])

    def nll(p, yv):
        return -(yv * np.log(p) + (1 - yv) * np.log(1 - p))

    true = float(
        np.sum(pi * (q * (nll(p_a, 1) - nll(p_b, 1)) + (1 - q) * (nll(p_a, 0) - nll(p_b, 0))))
    )
    rng = np.random.default_rng(2024)
    n, reps, covered, a_best = 500, 400, 0, 0
    for _ in range(reps):
        x = rng.choice(4, size=n, p=pi)
        y = (rng.random(n) < q[x]).astype(int)
        table = bs.compare({"A": p_a[x], "B": p_b[x]}, y, metrics="nll")
        signed = float(table.sel(model="A")["nll"] - table.sel(model="B")["nll"])
        se = float(table["d_nll_se"].max())  # the SE of the paired difference, either sign
        covered += abs(signed - true) <= 1.96 * se
        a_best += table["model"].values[0] == "A"
    coverage = covered / reps
    assert 0.93 <= coverage <= 0.97
    assert 0 < a_best < reps  # both orderings occurred
