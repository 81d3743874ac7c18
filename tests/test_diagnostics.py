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
            draws=60,
            tune=10,
            chains=2,
            random_seed=3,
            initvals=[{"coef": np.full(3, 8.0)}, {"coef": np.full(3, -8.0)}],
        )


def test_advi_convergence_checks(logistic_data):
    X, y, _, _ = logistic_data
    model = bs.build_model(X[:300], y[:300])
    short = bs.fit(model, "advi", draws=50, max_iter=300, random_seed=0, warn=False)
    d = bs.diagnose(short)
    assert not d.ok and d["elbo_converged"] == 0.0
    assert any("method='nuts'" in m for m in d.messages)
    good = bs.diagnose(bs.fit(model, "advi", draws=50, random_seed=0, warn=False))
    assert good.ok
    assert good["elbo"] == pytest.approx(good["expected_log_likelihood"] - good["kl"])


def test_diagnose_rejects_non_fits():
    with pytest.raises(TypeError, match="takes a DataTree with a posterior group"):
        bs.diagnose({"posterior": 1})
