"""diagnose(): passes good fits, flags bad ones, agrees with ArviZ's own numbers."""

from __future__ import annotations

import numpy as np
import pytest

import bayescore as bs
from bayescore.diagnostics import ConvergenceWarning


def test_good_nuts_fit_passes_and_matches_arviz(logistic_nuts):
    import arviz_stats

    d = bs.diagnose(logistic_nuts)
    assert d.ok and d.messages == [] and d.method == "nuts"
    post = logistic_nuts["posterior"].to_dataset()[["intercept", "coef"]]
    rhat = arviz_stats.rhat(post)
    ess = arviz_stats.ess(post)
    assert d["r_hat_max"] == pytest.approx(max(float(rhat[v].max()) for v in rhat.data_vars))
    assert d["ess_bulk_min"] == pytest.approx(min(float(ess[v].min()) for v in ess.data_vars))
    bfmi = arviz_stats.bfmi(logistic_nuts)["energy"]
    assert d["bfmi_min"] == pytest.approx(float(bfmi.min()))
    assert d["divergences"] == float(logistic_nuts.sample_stats["diverging"].sum())


def test_reference_class_zeros_are_not_judged(softmax_nuts):
    d = bs.diagnose(softmax_nuts)
    assert np.isfinite(d["r_hat_max"]) and d.ok


def test_bad_nuts_fit_is_flagged_with_advice(logistic_data):
    X, y, _, _ = logistic_data
    model = bs.build_model(X[:300], y[:300])
    # Ten tuning steps and chains started far apart: the chains cannot have mixed.
    idata = bs.fit(
        model,
        "nuts",
        draws=60,
        tune=10,
        chains=2,
        random_seed=3,
        warn=False,
        initvals=[{"coef": np.full(3, 8.0)}, {"coef": np.full(3, -8.0)}],
        target_accept=0.8,
    )
    d = bs.diagnose(idata)
    assert not d.ok
    assert d["r_hat_max"] > 1.01
    assert any("r_hat_max" in m and "tune" in m for m in d.messages)
    with pytest.warns(ConvergenceWarning, match="failed convergence checks"):
        bs.fit(
            model,
            "nuts",
            draws=60,
            tune=10,
            chains=2,
            random_seed=3,
            initvals=[{"coef": np.full(3, 8.0)}, {"coef": np.full(3, -8.0)}],
        )


def test_advi_convergence_checks(logistic_data):
    X, y, _, _ = logistic_data
    model = bs.build_model(X[:300], y[:300])
    for route in ({"max_iter": 2}, {"max_iter": 300, "stochastic": True}):
        short = bs.fit(model, "advi", draws=50, random_seed=0, warn=False, **route)
        d = bs.diagnose(short)
        assert not d.ok and d["elbo_converged"] == 0.0, route
        assert any("method='nuts'" in m for m in d.messages)
    # Full-rank q: mean-field q is ~30% too narrow for this posterior's correlations (up to
    # 0.6), and its k-hat (~0.72) rightly fails.
    good = bs.diagnose(bs.fit(model, "fullrank_advi", draws=50, random_seed=0, warn=False))
    assert good.ok
    assert good["elbo"] == pytest.approx(good["expected_log_likelihood"] - good["kl"])


def test_diagnose_rejects_non_fits():
    with pytest.raises(TypeError, match="takes a DataTree with a posterior group"):
        bs.diagnose({"posterior": 1})


@pytest.mark.slow
def test_default_advi_on_breast_cancer_is_close_to_nuts_or_flagged():
    """All 30 collinear features, default priors: ADVI is accurate or diagnose says no."""
    ds = bs.load_dataset("breast_cancer")
    model = bs.build_model(ds.X, ds.y)
    nuts = bs.fit(model, "nuts", draws=1000, tune=1000, random_seed=1, warn=False)
    assert bs.diagnose(nuts).ok
    post = nuts["posterior"]
    for method in ("advi", "fullrank_advi"):
        vi = bs.fit(model, method, draws=1000, random_seed=1, warn=False)
        z = max(
            float(
                (
                    np.abs(
                        vi["posterior"][v].mean(("chain", "draw"))
                        - post[v].mean(("chain", "draw"))
                    )
                    / post[v].std(("chain", "draw"))
                ).max()
            )
            for v in ("intercept", "coef")
        )
        d = bs.diagnose(vi)
        assert z < 0.3 or not d.ok, (method, z, d.messages)
        assert vi["variational"].attrs["converged"] == 1
    # Mean-field q cannot represent the strong posterior correlations of collinear
    # features: its sds are far too small, and the Pareto k-hat must say so.
    mf = bs.fit(model, "advi", draws=1000, random_seed=2, warn=False)
    sd_ratio = mf["posterior"]["coef"].std(("chain", "draw")) / post["coef"].std(("chain", "draw"))
    assert float(sd_ratio.min()) < 0.6
    d = bs.diagnose(mf)
    assert d["pareto_k"] > 0.7 and not d.ok
    assert any("pareto_k" in m and "fullrank_advi" in m for m in d.messages)


@pytest.mark.parametrize("method", ["advi", "fullrank_advi"])
@pytest.mark.parametrize("route", [{"max_iter": 3}, {"max_iter": 400, "stochastic": True}])
def test_truncated_advi_is_always_flagged(method, route, logistic_data):
    X, y, _, _ = logistic_data
    model = bs.build_model(X[:300], y[:300])
    short = bs.fit(model, method, draws=50, random_seed=0, warn=False, **route)
    d = bs.diagnose(short)
    assert not d.ok and d["elbo_converged"] == 0.0


def test_pareto_k_of_a_good_approximation_passes():
    """Weak effects, many rows: the posterior is close to Gaussian and full-rank q fits it."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3000, 2))
    y = (rng.random(3000) < 1 / (1 + np.exp(-(0.2 + X @ [0.5, -0.3])))).astype(int)
    model = bs.build_model(X, y)
    vi = bs.fit(model, "fullrank_advi", draws=200, random_seed=0, warn=False, stochastic=True)
    d = bs.diagnose(vi)
    assert d["pareto_k"] < 0.5 and d.ok, d.messages
    # The fixed-draw route finds the same q (means and sds within 0.1 posterior sd of the
    # stochastic optimiser's, an independent route to the same optimum). Its k-hat is not
    # asserted: with the quadratic part of log p/q fitted exactly, the ratios' tail is set
    # by cubic terms of tiny scale (log-ratio sd 0.014 here), whose shape k-hat reads as
    # 0.5-0.9 although the weights are nearly constant.
    fixed = bs.fit(model, "fullrank_advi", draws=4000, random_seed=0, warn=False)
    a = vi.posterior["coef"].stack(s=("chain", "draw"))
    b = fixed.posterior["coef"].stack(s=("chain", "draw"))
    sd = a.std("s")
    assert float(np.abs((a.mean("s") - b.mean("s")) / sd).max()) < 0.1
    assert float(np.abs(b.std("s") / sd - 1).max()) < 0.1
