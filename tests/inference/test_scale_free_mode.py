"""The mode search converges at large N, where an absolute gradient tolerance cannot.

Round 2's warm start asked L-BFGS for ``gtol=1e-6`` on the largest gradient entry; at
N = 50,000 the log density is -2.7e4 and that is below floating-point noise, so the search
ended "not converged" and NUTS fell back to its slowest route. Here the old failure is forced
(an absolute tolerance L-BFGS cannot meet at N = 200,000) and the scale-free test (the Newton
step, in posterior sd) still finds the mode, which an independent optimiser confirms.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

import bayescore as bs
from bayescore._names import ATTR_WARM_START, ATTR_WARM_START_REASON
from bayescore.inference.laplace import MODE_TOL, find_mode
from bayescore.inference.nuts import prepare_warm_start
from bayescore.inference.posterior import Posterior
from bayescore.models import make_spec

N = 200_000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(N, 4)) * [1.0, 5.0, 0.2, 30.0] + [0.0, 100.0, 1.0, -7.0]
    eta = 0.3 + ((X - X.mean(0)) / X.std(0)) @ np.array([0.8, -0.5, 0.3, 1.2])
    y = (rng.random(N) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    return X, y


def test_an_unreachable_absolute_tolerance_still_finds_the_mode(data):
    X, y = data
    post = Posterior(make_spec(X, y, np.array([0, 1])))
    mode = find_mode(post, gtol=1e-14)  # far below the float noise of a gradient of ~1e5
    # Round 2's test, max |gradient| <= 1e-6, fails at the mode: the old fallback's trigger.
    assert np.abs(post.value_and_grad(mode.theta)[1]).max() > 1e-6
    assert mode.converged and mode.accuracy < MODE_TOL
    assert mode.route in ("lbfgs", "lbfgs+newton")
    # An independent optimiser, Newton-CG with the exact Hessian, to its own tolerance.
    ref = minimize(
        lambda t: tuple(-v for v in post.value_and_grad(t)),
        np.zeros(post.size),
        jac=True,
        hess=post.precision,
        method="trust-exact",
        options={"gtol": 1e-8 * N},
    )
    sd = np.sqrt(np.diag(np.linalg.inv(mode.precision)))
    assert np.max(np.abs(mode.theta - ref.x) / sd) < 10 * MODE_TOL
    start = prepare_warm_start(post.spec, mode)
    assert start is not None and start.warm and start.reason == ""


@pytest.mark.slow
def test_nuts_at_large_n_is_warm_started_and_records_how(data):
    X, y = data
    clf = bs.BayesianLogisticClassifier(
        method="nuts",
        draws=60,
        tune=60,
        random_seed=3,
        progressbar=False,
        fit_kwargs={"warn": False},
    ).fit(X, y)
    attrs = clf.idata_.posterior.attrs
    assert attrs[ATTR_WARM_START] == "laplace"
    assert attrs[ATTR_WARM_START_REASON].startswith("mode by lbfgs")
    assert attrs["bayescore_sampler"] == "nutpie"
