"""fit(): NUTS recovery, ADVI against NUTS, the ELBO split, reproducibility."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from bayescore._pymc import import_pymc
from bayescore.inference import elbo_parts, fit
from bayescore.models import build_model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:arviz")


def _within_sd(idata, var, truth, free=slice(None)):
    """|posterior mean - truth| in posterior sd, over the free (non-reference) entries."""
    post = idata.posterior[var]
    mean = np.atleast_1d(post.mean(("chain", "draw")).values)[..., free]
    sd = np.atleast_1d(post.std(("chain", "draw")).values)[..., free]
    return np.abs((mean - np.atleast_1d(truth)[..., free]) / sd)


@pytest.mark.slow
def test_nuts_recovers_logistic_truth(logistic_nuts, logistic_data):
    _, _, intercept, coef = logistic_data
    assert _within_sd(logistic_nuts, "coef_original", coef).max() < 3
    assert _within_sd(logistic_nuts, "intercept_original", intercept) < 3
    assert int(logistic_nuts.sample_stats["diverging"].sum()) == 0


@pytest.mark.slow
def test_nuts_recovers_softmax_truth(softmax_nuts, softmax_data):
    _, _, intercept, coef = softmax_data
    # Reference class columns are exactly 0 with sd 0: compare the free columns.
    assert _within_sd(softmax_nuts, "coef_original", coef, slice(1, None)).max() < 3
    assert _within_sd(softmax_nuts, "intercept_original", intercept, slice(1, None)).max() < 3
    np.testing.assert_array_equal(softmax_nuts.posterior["coef"].values[..., 0], 0.0)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["advi", "fullrank_advi"])
def test_advi_means_match_nuts(method, logistic_model, logistic_nuts):
    vi = fit(logistic_model, method, draws=2000, random_seed=5, warn=False)
    nuts = logistic_nuts.posterior
    for var in ("intercept", "coef"):
        diff = vi.posterior[var].mean(("chain", "draw")) - nuts[var].mean(("chain", "draw"))
        z = np.abs(diff / nuts[var].std(("chain", "draw"))).values
        assert z.max() < 0.2, (var, z)
    assert vi.variational.attrs["converged"] == 1
    assert vi.posterior.sizes["chain"] == 1 and vi.posterior.sizes["draw"] == 2000


@pytest.fixture(scope="module")
def advi_fit(logistic_data):
    """A converged mean-field ADVI fit, with the PyMC Inference object kept for checks."""
    pm = import_pymc()
    X, y, _, _ = logistic_data
    model = build_model(X[:400], y[:400])
    with model:
        inference = pm.ADVI(random_seed=3)
        approx = inference.fit(
            n=8000, obj_optimizer=pm.adam(learning_rate=0.02), progressbar=False
        )
    return model, inference, approx


def test_elbo_split_matches_pymc_objective(advi_fit):
    """E_q[log lik] - KL equals PyMC's own Monte Carlo ELBO at the same q."""
    model, inference, approx = advi_fit
    parts = elbo_parts(approx, model, n_mc=4000, random_seed=0)
    with model:
        loss_fn = inference.objective.score_function(sc_n_mc=4000)
    pymc_elbo = -np.mean([loss_fn() for _ in range(5)])
    assert parts.kl_method == "closed_form"
    assert parts.elbo == pytest.approx(parts.expected_log_likelihood - parts.kl)
    assert abs(parts.elbo - pymc_elbo) < 4 * parts.mc_se + 0.05


def test_closed_form_kl_equals_monte_carlo_kl(advi_fit):
    model, _, approx = advi_fit
    closed = elbo_parts(approx, model, n_mc=200, kl="closed_form", random_seed=1)
    mc = elbo_parts(approx, model, n_mc=20_000, kl="monte_carlo", random_seed=1)
    assert closed.kl > 0
    assert abs(closed.kl - mc.kl) < 4 * mc.mc_se + 1e-3


def test_gaussian_kl_closed_form_matches_scipy_monte_carlo():
    """Closed-form KL(N(m, S) || N(0, D)) for a full covariance vs scipy densities."""
    from scipy.stats import multivariate_normal

    from bayescore.inference.gaussian import Gaussian

    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3))
    cov, mean, prior_sd = A @ A.T + np.eye(3), rng.normal(size=3), np.array([1.0, 2.0, 0.5])
    q = multivariate_normal(mean, cov)
    z = q.rvs(size=400_000, random_state=1)
    log_ratio = q.logpdf(z) - multivariate_normal(np.zeros(3), np.diag(prior_sd**2)).logpdf(z)
    se = log_ratio.std() / np.sqrt(log_ratio.size)
    kl = Gaussian.from_cov(mean, cov).kl_to_normal(prior_sd**2)
    assert abs(kl - log_ratio.mean()) < 4 * se


def test_advi_fit_stores_elbo_history_and_split(logistic_data):
    X, y, _, _ = logistic_data
    idata = fit(build_model(X[:300], y[:300]), "advi", draws=200, random_seed=4, warn=False)
    vi = idata.variational
    assert vi.attrs["converged"] == 1
    assert vi["elbo_history"].size == vi.attrs["n_iterations"]
    assert float(vi["elbo"]) == pytest.approx(
        float(vi["expected_log_likelihood"]) - float(vi["kl"])
    )
    # The final ELBO is no worse than the average of the last window of the noisy history.
    tail = vi["elbo_history"].values[-500:].mean()
    assert float(vi["elbo"]) > tail - 3 * vi["elbo_history"].values[-500:].std()


def test_minibatch_advi_agrees_with_full_data_advi(logistic_data, logistic_nuts):
    X, y, _, _ = logistic_data
    model = build_model(X, y)
    mb = fit(model, "advi", draws=2000, random_seed=6, batch_size=256, warn=False)
    assert mb.variational.attrs["batch_size"] == 256
    assert mb.observed_data["y"].size == X.shape[0]
    nuts = logistic_nuts.posterior
    diff = mb.posterior["coef"].mean(("chain", "draw")) - nuts["coef"].mean(("chain", "draw"))
    assert np.abs(diff / nuts["coef"].std(("chain", "draw"))).max() < 0.3


@pytest.mark.parametrize("method", ["nuts", "advi"])
def test_same_seed_same_draws(method, logistic_data):
    X, y, _, _ = logistic_data
    model = build_model(X[:200], y[:200])
    kw = {"draws": 50, "tune": 50, "random_seed": 7, "warn": False}
    a, b = fit(model, method, **kw), fit(model, method, **kw)
    np.testing.assert_array_equal(a.posterior["coef"].values, b.posterior["coef"].values)
    c = fit(model, method, **{**kw, "random_seed": 8})
    assert not np.array_equal(a.posterior["coef"].values, c.posterior["coef"].values)


def test_metadata_groups(logistic_nuts, logistic_data):
    X, y, _, _ = logistic_data
    assert logistic_nuts.posterior.attrs["bayescore_kind"] == "logistic"
    assert logistic_nuts.posterior.attrs["bayescore_method"] == "nuts"
    np.testing.assert_array_equal(logistic_nuts.constant_data["X"].values, X)
    np.testing.assert_array_equal(logistic_nuts.observed_data["y"].values, y)
    np.testing.assert_array_equal(logistic_nuts.constant_data["classes"].values, [0, 1])


def test_missing_backend_gives_install_hint(logistic_model, monkeypatch):
    """Without numpyro installed (hidden from the import system here, whether or not this
    environment has it), sampler="numpyro" says how to install it."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numpyro" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install 'bayescore\[fast\]'"):
        fit(logistic_model, "nuts", draws=10, tune=10, sampler="numpyro", warn=False)


def test_nutpie_backend_gives_the_same_posterior(logistic_nuts, logistic_model):
    """nutpie (a core dependency) and PyMC's NUTS agree within Monte Carlo error."""
    other = fit(logistic_model, "nuts", draws=1000, tune=500, sampler="nutpie", random_seed=3)
    assert other.posterior.attrs["bayescore_method"] == "nuts"
    for var in ("intercept", "coef"):
        a, b = logistic_nuts.posterior[var], other.posterior[var]
        assert a.dims == b.dims
        # Difference of two posterior means in units of its Monte Carlo SE (ESS-based).
        sd = a.std(("chain", "draw"))
        se = np.sqrt(sd**2 / 400 + b.std(("chain", "draw")) ** 2 / 400)
        z = np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw"))) / se
        assert float(z.max()) < 4


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"method": "hmc"}, ValueError, "'method' parameter of fit must be one of"),
        ({"sampler": "stan"}, ValueError, "'sampler' parameter of fit must be one of"),
        ({"draws": 0}, ValueError, "'draws' parameter of fit must be an int >= 1"),
        ({"chains": 1.5}, TypeError, "'chains' parameter of fit must be an int"),
        ({"method": "advi", "learning_rate": -1.0}, ValueError, "'learning_rate'"),
        ({"method": "advi", "batch_size": 0}, ValueError, "'batch_size'"),
    ],
)
def test_fit_errors(kwargs, exc, match, logistic_model):
    with pytest.raises(exc, match=match):
        fit(logistic_model, **{"method": "nuts", "warn": False, **kwargs})


def test_kl_method_follows_the_prior(logistic_data):
    X, y, _, _ = logistic_data
    flat = fit(
        build_model(X[:200], y[:200], flat_intercept=True),
        "advi",
        draws=20,
        random_seed=0,
        warn=False,
    ).variational
    assert flat.attrs["kl_method"] == "undefined (flat prior)" and np.isnan(float(flat["kl"]))
    student = fit(
        build_model(X[:200], y[:200], prior="student_t"),
        "advi",
        draws=20,
        random_seed=0,
        warn=False,
    ).variational
    assert student.attrs["kl_method"] == "monte_carlo" and 0 < float(student["kl"]) < 50


def test_laplace_matches_nuts_on_a_near_gaussian_posterior(logistic_model, logistic_nuts):
    """Mode and inverse Hessian: means and sds close to NUTS's, judged by k-hat."""
    lap = fit(logistic_model, "laplace", draws=4000, random_seed=0, warn=False)
    nuts = logistic_nuts.posterior
    for var in ("intercept", "coef"):
        sd = nuts[var].std(("chain", "draw"))
        z = np.abs(lap.posterior[var].mean(("chain", "draw")) - nuts[var].mean(("chain", "draw")))
        assert float((z / sd).max()) < 0.3, var
        ratio = lap.posterior[var].std(("chain", "draw")) / sd
        assert 0.8 < float(ratio.min()) and float(ratio.max()) < 1.25, var
    vi = lap.variational
    assert vi.attrs["method"] == "laplace" and vi.attrs["converged"] == 1
    assert np.isfinite(float(vi["pareto_k"]))
    assert lap.posterior.attrs["bayescore_method"] == "laplace"


def test_laplace_mode_and_hessian_equal_pymc(softmax_data):
    """The closed-form mode and Hessian equal PyMC's find_MAP and d2logp (Student-t prior)."""
    from bayescore.inference.advi_pymc import Reordered
    from bayescore.inference.laplace import find_mode
    from bayescore.inference.posterior import Posterior
    from bayescore.models import model_spec

    pm = import_pymc()
    X, y, _, _ = softmax_data
    model = build_model(X[:400], y[:400], kind="softmax", prior="student_t")
    post = Posterior(model_spec(model))
    found = find_mode(post)
    ordering = pm.FullRank(model=model).groups[0].ordering
    order = list(ordering)
    index = Reordered(post, ordering).index  # PyMC's position of each posterior coordinate
    mean = np.empty(post.size)
    mean[index] = found.theta
    cov = np.empty((post.size, post.size))
    cov[np.ix_(index, index)] = found.covariance()
    with model:
        mode = pm.find_MAP(progressbar=False, method="L-BFGS-B", options={"gtol": 1e-10})
    reference = np.concatenate([np.asarray(mode[n]).ravel() for n in order])
    hessian = model.compile_d2logp(vars=[model[n] for n in order], jacobian=True)(
        {n: np.asarray(mode[n]) for n in order}
    )
    np.testing.assert_allclose(mean, reference, atol=1e-4)
    np.testing.assert_allclose(cov, np.linalg.inv(hessian), rtol=1e-3, atol=1e-7)


def test_warm_started_advi_gives_the_cold_start_posterior(logistic_model):
    """Starting q at the Laplace approximation changes the path, not the answer."""
    warm = fit(logistic_model, "fullrank_advi", draws=2000, random_seed=1, warn=False)
    cold = fit(
        logistic_model, "fullrank_advi", draws=2000, random_seed=1, warn=False, warm_start=False
    )
    assert warm.variational.attrs["start"] == "laplace"
    assert cold.variational.attrs["start"] == "prior"
    for var in ("intercept", "coef"):
        a, b = warm.posterior[var], cold.posterior[var]
        sd = b.std(("chain", "draw"))
        z = np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw"))) / sd
        assert float(z.max()) < 0.15, var


@pytest.mark.parametrize(
    ("method", "options", "builds"),
    [
        ("laplace", {}, 0),
        ("advi", {}, 0),
        ("nuts", {}, 0),
        ("nuts", {"sampler": "pymc"}, 1),
        ("advi", {"stochastic": True, "max_iter": 300}, 1),
    ],
)
def test_a_spec_fits_as_its_model_and_numpy_routes_build_no_graph(
    method, options, builds, logistic_data, monkeypatch
):
    """The estimators fit a ModelSpec: the same draws as its PyMC model (same seed), and a
    PyMC graph is built only on the routes that run PyMC."""
    from bayescore import models
    from bayescore.models import graph

    X, y, _, _ = logistic_data
    model = build_model(X[:200], y[:200])
    kw = {"draws": 50, "tune": 50, "random_seed": 3, "warn": False, **options}
    ref = fit(model, method, **kw)
    calls = []
    real = graph.build_from_spec
    monkeypatch.setattr(graph, "build_from_spec", lambda *a, **k: calls.append(1) or real(*a, **k))
    got = fit(models.model_spec(model), method, **kw)
    assert len(calls) == builds
    np.testing.assert_array_equal(got.posterior["coef"].values, ref.posterior["coef"].values)
    for attr in ("bayescore_free_vars", "bayescore_kind", "bayescore_settings"):
        assert got.posterior.attrs[attr] == ref.posterior.attrs[attr]
