"""Laplace and Pathfinder in numpy: against PyMC's density, by-hand formulas and NUTS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import bayescore as bs
from bayescore.diagnostics import ConvergenceWarning
from bayescore.inference.advi_pymc import QDensity
from bayescore.inference.laplace import find_mode
from bayescore.inference.pathfinder import LBFGSPath, iterate_gaussians, lbfgs_path
from bayescore.inference.posterior import Posterior
from bayescore.inference.psis import psis
from bayescore.models import model_spec

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:arviz")


def _problem(kind: str, seed: int = 0):
    """Near-Gaussian posteriors: logistic (N=500, D=4, P=5), softmax (N=600, D=3, P=8)."""
    rng = np.random.default_rng(seed)
    if kind == "logistic":
        X = rng.normal(size=(500, 4)) * [1.0, 3.0, 0.5, 1.0] + [0.0, 1.0, -1.0, 0.0]
        eta = 0.3 + X @ [0.8, -0.3, 1.5, 0.0]
        return X, (rng.random(500) < 1 / (1 + np.exp(-eta))).astype(int)
    X = rng.normal(size=(600, 3)) * [1.0, 2.0, 0.5]
    logits = np.column_stack(
        [np.zeros(600), 0.5 + X @ [1.0, -0.3, 0.8], -0.5 + X @ [-0.7, 0.4, 0.0]]
    )
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return X, (rng.random(600)[:, None] > p.cumsum(1)).sum(1)


@pytest.fixture(scope="module", params=["logistic", "softmax"])
def reference(request):
    """A model, its long NUTS run (PyMC, cold start: independent of the numpy density)."""
    X, y = _problem(request.param)
    model = bs.build_model(X, y, kind=request.param)
    nuts = bs.fit(
        model,
        "nuts",
        draws=1000,
        tune=500,
        sampler="pymc",
        warm_start=False,
        warn=False,
        random_seed=0,
    )
    return request.param, model, nuts


def _free(kind: str) -> list[str]:
    return ["intercept", "coef"] if kind == "logistic" else ["intercept_free", "coef_free"]


def pareto_k_hat(log_ratios: np.ndarray) -> float:
    return psis(log_ratios)[1]


def _laplace(model) -> tuple[np.ndarray, np.ndarray]:
    """Mode and covariance of the Laplace approximation."""
    mode = find_mode(Posterior(model_spec(model)))
    return mode.theta, mode.covariance()


def _flat(idata, kind: str, n_features: int) -> np.ndarray:
    """Posterior draws in the flat layout W = [intercepts; coefs], raveled (draws, P)."""
    a, b = (idata.posterior[v].values for v in _free(kind))
    n = a.shape[0] * a.shape[1]
    a = a.reshape(n, 1, -1)
    return np.concatenate([a, b.reshape(n, n_features, a.shape[2])], axis=1).reshape(n, -1)


# ------------------------------------------------------------------ Pareto k-hat


def test_pareto_k_hat_measures_the_tail_of_p_over_q():
    """q = N(0, 1), p = N(0, s^2): p/q has Pareto tail shape 1 - 1/s^2 when s > 1 (closed
    form), light tails when s < 1."""
    x = np.random.default_rng(0).standard_normal(20_000)
    for s in (1.5, 3.0):
        ratios = stats.norm.logpdf(x, scale=s) - stats.norm.logpdf(x)
        assert pareto_k_hat(ratios) == pytest.approx(1 - 1 / s**2, abs=0.15)
    narrow = stats.norm.logpdf(x, scale=0.7) - stats.norm.logpdf(x)
    assert pareto_k_hat(narrow) < 0.5
    log_w, _ = psis(narrow)  # the weights are p/q, normalised: ordered as p/q is
    assert np.exp(log_w).sum() == pytest.approx(1.0)
    assert stats.spearmanr(log_w, narrow).statistic > 0.99


# ------------------------------------------------------------------ Laplace


def test_log_sigmoid_sums_equal_scipy_over_many_rows_and_extremes():
    """Sums over 1,500 rows (3 products of 512) at logits up to +-800, against log_expit."""
    from scipy.special import log_expit

    from bayescore._likelihood import log_sigmoid_sums

    s = np.random.default_rng(0).normal(scale=4.0, size=(3, 1500))
    s[:, :5] = np.array([[800.0], [-800.0], [0.0]])
    got = log_sigmoid_sums(s.copy())
    np.testing.assert_allclose(got, log_expit(s).sum(axis=1), rtol=1e-12)


def _pymc_point_layout(model, post: Posterior, z: np.ndarray) -> tuple[QDensity, np.ndarray]:
    """PyMC's compiled density and ``z`` (Posterior layout) in its flat ordering."""
    import pymc as pm

    ordering = pm.FullRank(model=model).groups[0].ordering
    W = z.reshape(z.shape[0], post.n_features + 1, post.n_free)
    values = {post.names[0]: W[:, 0], post.names[1]: W[:, 1:]}
    zp = np.empty_like(z)
    for name, info in ordering.items():
        zp[:, info[1]] = values[name].reshape(z.shape[0], -1)
    return QDensity(model, ordering), zp


@pytest.mark.parametrize("kind, prior", [("logistic", "normal"), ("softmax", "student_t")])
def test_laplace_draws_and_elbo_split_equal_pymc_and_by_hand(kind, prior):
    """Draws are N(mode, H^-1) from default_rng(seed), centred (their mean the mode
    exactly); E_q[log lik] equals PyMC's compiled log-likelihood at the next draws; the KL
    is the Gaussian closed form (Normal prior) or the Monte Carlo mean of log q - log
    prior written with scipy (Student-t)."""
    X, y = _problem(kind, seed=1)
    model = bs.build_model(X[:300], y[:300], kind=kind, prior=prior)
    fit = bs.fit(model, "laplace", draws=50, n_mc=400, random_seed=5, warn=False)
    post = Posterior(model_spec(model))
    mean, cov = _laplace(model)
    chol = np.linalg.cholesky(cov)
    rng = np.random.default_rng(5)
    u = rng.standard_normal((50, mean.size))
    theta = mean + (u - u.mean(axis=0)) * np.sqrt(50 / 49) @ chol.T
    z = mean + rng.standard_normal((400, mean.size)) @ chol.T
    np.testing.assert_allclose(_flat(fit, kind, X.shape[1]), theta, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(theta.mean(axis=0), mean, rtol=0, atol=1e-12)

    density, zp = _pymc_point_layout(model, post, z)
    loglik = density.log_likelihood(zp)
    vi = fit.variational
    assert float(vi["expected_log_likelihood"]) == pytest.approx(loglik.mean(), rel=1e-10)
    log_q = stats.multivariate_normal(mean, cov).logpdf(z)
    k = post.n_free
    if prior == "normal":
        prior_var = np.full(mean.size, 2.5**2)
        _, logdet = np.linalg.slogdet(cov)
        kl = 0.5 * (
            np.trace(cov) / 2.5**2
            + mean @ mean / 2.5**2
            - mean.size
            + np.log(prior_var).sum()
            - logdet
        )
        log_prior = stats.norm.logpdf(z, scale=2.5).sum(1)
        assert vi.attrs["kl_method"] == "closed_form"
    else:
        log_prior = stats.norm.logpdf(z[:, :k], scale=2.5).sum(1)
        log_prior += stats.t.logpdf(z[:, k:], df=3, scale=2.5).sum(1)
        kl = np.mean(log_q - log_prior)
        assert vi.attrs["kl_method"] == "monte_carlo"
    kl_se = 0.0 if prior == "normal" else np.std(log_q - log_prior, ddof=1) / np.sqrt(400)
    mc_se = np.hypot(loglik.std(ddof=1) / np.sqrt(400), kl_se)
    assert float(vi["mc_se"]) == pytest.approx(mc_se, rel=1e-9)
    assert float(vi["kl"]) == pytest.approx(kl, rel=1e-9)
    assert float(vi["elbo"]) == pytest.approx(loglik.mean() - kl, rel=1e-9)
    # PyMC's own log prior (float32 constants) differs by a constant: k-hat cannot see it.
    np.testing.assert_allclose(density.log_prior(zp) - log_prior, 0.0, atol=1e-4)
    assert float(vi["pareto_k"]) == pytest.approx(pareto_k_hat(loglik + log_prior - log_q))
    assert vi.attrs["method"] == "laplace" and vi.attrs["converged"] == 1


def test_flat_intercept_kl_is_undefined():
    X, y = _problem("logistic", seed=2)
    vi = bs.fit(
        bs.build_model(X[:200], y[:200], flat_intercept=True),
        "laplace",
        draws=20,
        n_mc=50,
        random_seed=0,
        warn=False,
    ).variational
    assert vi.attrs["kl_method"] == "undefined (flat prior)"
    assert np.isnan(float(vi["kl"])) and np.isnan(float(vi["elbo"]))
    assert np.isfinite(float(vi["expected_log_likelihood"])) and np.isfinite(float(vi["pareto_k"]))


# ------------------------------------------------------------------ L-BFGS inverse Hessian


def _quadratic(size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(size, size))
    A = M @ M.T + size * np.eye(size)
    m = rng.normal(size=size)
    return A, m, lambda x: (-0.5 * (x - m) @ A @ (x - m), -A @ (x - m))


def _dense_bfgs(alpha: np.ndarray, S: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """BFGS inverse-Hessian updates of diag(alpha), one pair at a time, oldest first."""
    H = np.diag(alpha)
    eye = np.eye(alpha.size)
    for s, z in zip(S.T, Z.T, strict=True):
        rho = 1.0 / (z @ s)
        H = (eye - rho * np.outer(s, z)) @ H @ (eye - rho * np.outer(z, s)) + rho * np.outer(s, s)
    return H


def test_compact_inverse_hessian_equals_dense_bfgs_updates_along_a_path():
    """At every iterate of a real L-BFGS path on a quadratic, Sigma (drawn through QR and
    Cholesky factors) is the dense BFGS update of diag(alpha) with the kept pairs, the mean is
    x + Sigma grad, and the Gaussian's log density is scipy's."""
    A, _, value_and_grad = _quadratic(4)
    path = lbfgs_path(value_and_grad, np.full(4, 2.0), max_iter=100, history_size=3)
    checked = 0
    for it in iterate_gaussians(path, history_size=3):
        assert it.S.shape[1] == min(it.index, 3)  # a quadratic's pairs all pass the check
        H = _dense_bfgs(it.alpha, it.S, it.Z)
        np.testing.assert_allclose(it.q.cov, H, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(it.q.mean, path.x[it.index] + H @ path.grad[it.index])
        z, log_q = it.q.draw(np.random.default_rng(it.index), 5)
        np.testing.assert_allclose(log_q, stats.multivariate_normal(it.q.mean, H).logpdf(z))
        m = it.S.shape[1]  # the kept pairs are the last m steps of the path
        np.testing.assert_allclose(it.S.sum(1), path.x[it.index] - path.x[it.index - m])
        checked += 1
    assert checked == path.n_iterations >= 4 and path.converged


def test_conjugate_steps_give_the_true_inverse_hessian():
    """Steps conjugate under A (as exact line searches make them): after P updates BFGS
    reproduces A^-1 exactly, whatever the start, and the Gaussian's mean is the optimum."""
    A, m, value_and_grad = _quadratic(5, seed=1)
    w, V = np.linalg.eigh(A)
    steps = (V / np.sqrt(w)) @ np.linalg.qr(np.random.default_rng(2).normal(size=(5, 5)))[0]
    x = np.cumsum(np.vstack([np.ones(5), steps.T]), axis=0)  # x_l = x_0 + s_1 + ... + s_l
    path = LBFGSPath(x, np.array([value_and_grad(xi)[1] for xi in x]), converged=True)
    last = list(iterate_gaussians(path, history_size=6))[-1]
    np.testing.assert_allclose(last.q.cov, np.linalg.inv(A), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(last.q.mean, m, atol=1e-10)
    assert last.q.logdet == pytest.approx(-np.linalg.slogdet(A)[1])


# ------------------------------------------------------------------ Pathfinder


def test_pathfinder_matches_nuts(reference):
    """Posterior means within 0.2 posterior sd of a long NUTS run, sds within 20%, k-hat
    below 0.7 on these near-Gaussian posteriors; one chain, the variational record."""
    kind, model, nuts = reference
    fit = bs.fit(model, "pathfinder", draws=1000, random_seed=0, warn=False)
    for var in _free(kind):
        sd = nuts.posterior[var].std(("chain", "draw"))
        diff = fit.posterior[var].mean(("chain", "draw")) - nuts.posterior[var].mean(
            ("chain", "draw")
        )
        assert float(np.abs(diff / sd).max()) < 0.2, var
        ratio = fit.posterior[var].std(("chain", "draw")) / sd
        assert 0.8 < float(ratio.min()) and float(ratio.max()) < 1.25, var
    assert set(nuts.posterior.data_vars) == set(fit.posterior.data_vars)
    assert fit.posterior.sizes["chain"] == 1 and fit.posterior.sizes["draw"] == 1000
    vi = fit.variational
    assert 0 < float(vi["pareto_k"]) < 0.7
    assert vi.attrs["method"] == "pathfinder" and vi.attrs["num_paths"] == 4
    assert vi.attrs["resampled"] == 1 and vi.sizes["path"] == 4
    chosen, total = vi["path_iteration"].values, vi["path_n_iterations"].values
    assert ((chosen >= 1) & (chosen <= total)).all() and vi.attrs["n_iterations"] == total.sum()
    assert float(vi["elbo"]) == pytest.approx(
        float(vi["expected_log_likelihood"]) - float(vi["kl"])
    )
    d = bs.diagnose(fit)
    assert d.ok and d.method == "pathfinder", d.messages
    assert "elbo_converged" not in d.table["check"].values
    assert d["paths_converged_share"] == vi["path_converged"].mean()


def test_single_path_pathfinder_matches_nuts(reference):
    kind, model, nuts = reference
    fit = bs.fit(model, "pathfinder", draws=1000, num_paths=1, random_seed=1, warn=False)
    for var in _free(kind):
        sd = nuts.posterior[var].std(("chain", "draw"))
        diff = fit.posterior[var].mean(("chain", "draw")) - nuts.posterior[var].mean(
            ("chain", "draw")
        )
        assert float(np.abs(diff / sd).max()) < 0.2, var
    assert fit.variational.attrs["resampled"] == 0 and float(fit.variational["pareto_k"]) < 0.7


def test_pathfinder_covariance_matches_laplace_on_a_gaussian_posterior():
    """Weak effects, many rows: the posterior is Gaussian to within k-hat ~0.3, so its
    covariance is the inverse Hessian at the mode; Pathfinder's draws must have it."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3000, 2))
    y = (rng.random(3000) < 1 / (1 + np.exp(-(0.2 + X @ [0.5, -0.3])))).astype(int)
    model = bs.build_model(X, y)
    _, cov = _laplace(model)
    fit = bs.fit(model, "pathfinder", draws=4000, random_seed=0, warn=False)
    draws = _flat(fit, "logistic", 2)
    L = np.linalg.cholesky(cov)
    whitened = np.linalg.solve(L, np.linalg.solve(L, np.cov(draws.T)).T)
    eig = np.linalg.eigvalsh(whitened)  # all 1 when the covariances agree
    assert 0.88 < eig.min() and eig.max() < 1.12, eig


def test_same_seed_same_draws():
    X, y = _problem("softmax", seed=3)
    model = bs.build_model(X[:200], y[:200], kind="softmax")
    a, b, c = (
        bs.fit(model, "pathfinder", draws=100, random_seed=s, warn=False) for s in (3, 3, 4)
    )
    np.testing.assert_array_equal(a.posterior["coef"].values, b.posterior["coef"].values)
    assert float(a.variational["elbo"]) == float(b.variational["elbo"])
    assert not np.array_equal(a.posterior["coef"].values, c.posterior["coef"].values)
    lap = [bs.fit(model, "laplace", draws=20, random_seed=3, warn=False) for _ in range(2)]
    np.testing.assert_array_equal(lap[0].posterior["coef"], lap[1].posterior["coef"])


def test_pathfinder_estimator_feeds_scoring_diagnose_and_files(tmp_path):
    X, y = _problem("logistic", seed=4)
    labels = np.where(y == 1, "yes", "no")
    clf = bs.BayesianLogisticClassifier(method="pathfinder", draws=300, random_seed=0)
    clf.fit(X[:300], labels[:300])
    draws = clf.predict_proba_draws(X[300:])
    assert draws.dims == ("chain", "draw", "obs", "class") and draws.sizes["draw"] == 300
    assert draws["class"].values.tolist() == ["no", "yes"]
    mean = draws.mean(("chain", "draw")).values
    by_hand = -np.mean(np.log(mean[np.arange(200), (labels[300:] == "yes").astype(int)]))
    assert float(bs.score(labels[300:], draws)["nll"]) == pytest.approx(by_hand, rel=1e-12)
    d = bs.diagnose(clf)
    assert d.ok and d.method == "pathfinder"
    assert {"pareto_k", "paths_converged_share"} <= set(d.table["check"].values)
    clf.save(tmp_path / "pathfinder.nc")
    back = bs.load(tmp_path / "pathfinder.nc")
    np.testing.assert_array_equal(back.predict_proba(X[300:]), clf.predict_proba(X[300:]))
    assert bs.diagnose(back).table.equals(d.table)


def test_diagnose_advice_is_method_specific():
    """A Pathfinder stopped after one L-BFGS step, and a Laplace fit of a skewed posterior
    (separable classes, Student-t prior): the verdict fails each, with its own advice."""
    X, y = _problem("logistic", seed=5)
    model = bs.build_model(X[:300], y[:300])
    short = bs.fit(model, "pathfinder", draws=100, max_iter=1, random_seed=0, warn=False)
    d = bs.diagnose(short)
    assert not d.ok and not d.verdict.usable and d["paths_converged_share"] == 0.0
    assert any("Pathfinder" in m and "max_iter" in m for m in d.messages), d.messages
    assert not any("ADVI" in m or "fullrank_advi" in m for m in d.messages)
    with pytest.warns(ConvergenceWarning, match="Pathfinder's Gaussians"):
        bs.fit(model, "pathfinder", draws=100, max_iter=1, random_seed=0)

    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 1))
    skewed = bs.build_model(x, (x[:, 0] > 0).astype(int), prior="student_t")
    d = bs.diagnose(bs.fit(skewed, "laplace", draws=100, random_seed=0, warn=False))
    assert not d.ok and not d.verdict.usable and d["mode_converged"] == 1.0
    assert any("Gaussian at its mode" in m for m in d.messages), d.messages
    assert not any("ADVI" in m for m in d.messages)


def test_failed_minibatch_advi_is_told_to_drop_batch_size():
    """Minibatch ADVI stopped after 50 noisy steps from a cold start fails k-hat, and the
    advice is the full-data route; the same failure without minibatches gets ADVI's own."""
    X, y = _problem("logistic")
    model = bs.build_model(X, y)
    short = {"max_iter": 50, "warm_start": False, "random_seed": 0, "warn": False}
    d = bs.diagnose(bs.fit(model, "advi", batch_size=10, **short))
    assert not d.ok and d["pareto_k"] > 0.7
    assert any("drop batch_size" in m for m in d.messages), d.messages
    full = bs.diagnose(bs.fit(model, "advi", stochastic=True, **short))
    assert not full.ok and full["pareto_k"] > 0.7
    assert not any("batch_size" in m for m in full.messages), full.messages


def test_models_outside_the_closed_form_are_refused():
    import pymc as pm

    with pm.Model() as hand_written:
        pm.Normal("theta")
    X, y = _problem("softmax", seed=6)
    zerosum = bs.build_model(X[:50], y[:50], kind="softmax", coding="zerosum")
    for model in (hand_written, zerosum):
        for method in ("laplace", "pathfinder"):
            with pytest.raises(
                ValueError, match=f"method='{method}' needs a logistic.*'fullrank_advi' or"
            ):
                bs.fit(model, method, draws=10, warn=False)


def test_numpy_fitters_run_blas_on_one_thread_and_restore_it(monkeypatch):
    """Inside Laplace the BLAS pools have one thread (threadpoolctl's own report); after
    it, as many as before."""
    import threadpoolctl

    import bayescore.inference.laplace as laplace

    def blas_threads() -> list[int]:
        info = threadpoolctl.threadpool_info()
        return [i["num_threads"] for i in info if i["user_api"] == "blas"]

    seen: list[list[int]] = []
    real = laplace.find_mode

    def spy(*args, **kwargs):
        seen.append(blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(laplace, "find_mode", spy)
    before = blas_threads()
    assert before  # numpy's (and scipy's) OpenBLAS
    X, y = _problem("logistic")
    bs.fit(bs.build_model(X, y), method="laplace", draws=50, warn=False)
    assert seen == [[1] * len(before)]
    assert blas_threads() == before


def test_multipath_pathfinder_with_fewer_draws_than_parameters_is_judged():
    """draws=10 of a 15-parameter softmax: the draws hold no covariance, so the verdict
    judges the importance-weighted pool they were resampled from (it crashed on a
    Cholesky of the draws' singular covariance)."""
    from bayescore.inference.pathfinder import _judged_moments

    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] + rng.logistic(size=300) > 0).astype(int) + (X[:, 2] > 0.5)
    est = bs.BayesianSoftmaxClassifier(method="pathfinder", draws=10, random_seed=0)
    est.fit(X, y)
    d = bs.diagnose(est)
    assert est.idata_["posterior"].sizes["draw"] == 10 and np.isfinite(d["pareto_k"])
    # The pool's moments by hand, and the draws' own when they hold a covariance.
    pool = rng.normal(size=(400, 5)) * [1.0, 2.0, 0.5, 1.0, 3.0]
    w = rng.random(400)
    w /= w.sum()
    mean, cov = _judged_moments(pool[:3], pool, w, [])
    np.testing.assert_allclose(mean, np.average(pool, axis=0, weights=w), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(pool.T, aweights=w, bias=True), rtol=1e-10)
    mean, cov = _judged_moments(pool[:50], pool, w, [])
    np.testing.assert_allclose(cov, np.cov(pool[:50].T), rtol=1e-12)
    # Pool weights on two draws only: the equal-weight mixture of the paths' Gaussians.
    from bayescore.inference.gaussian import Gaussian

    qs = [Gaussian.from_cov(np.full(5, m), np.eye(5) * v) for m, v in ((0.0, 1.0), (2.0, 3.0))]
    spiked = np.zeros(400)
    spiked[:2] = 0.5
    mean, cov = _judged_moments(pool[:3], pool, spiked, qs)
    np.testing.assert_allclose(mean, np.full(5, 1.0), rtol=1e-12)
    np.testing.assert_allclose(cov, 2.0 * np.eye(5) + np.ones((5, 5)), rtol=1e-12)


def test_centred_draws_are_each_the_gaussian_and_average_to_its_mean():
    """Over 20,000 repetitions of 5 centred draws of N(m, S): each draw's mean and
    covariance are m and S (the sqrt(n / (n - 1)) factor), two draws correlate -1/4, and
    every set's mean is m exactly."""
    from bayescore.inference.gaussian import Gaussian

    mean = np.array([1.0, -2.0])
    cov = np.array([[2.0, 0.6], [0.6, 0.5]])
    q = Gaussian.from_cov(mean, cov)
    rng = np.random.default_rng(11)
    sets = np.stack([q.centred_draws(rng, 5) for _ in range(20_000)])  # (rep, 5, 2)
    np.testing.assert_allclose(sets.mean(axis=1), np.broadcast_to(mean, (20_000, 2)), atol=1e-12)
    first = sets[:, 0]
    np.testing.assert_allclose(first.mean(axis=0), mean, atol=0.03)
    np.testing.assert_allclose(np.cov(first.T), cov, rtol=0.05)  # 3.5-5 MC sds; 0.8 S fails
    r = np.corrcoef(sets[:, 0, 0], sets[:, 1, 0])[0, 1]
    assert r == pytest.approx(-0.25, abs=0.02)
    assert q.centred_draws(rng, 1).tolist() == [mean.tolist()]


def test_mode_covariance_is_the_inverse_precision_and_each_call_a_copy():
    """Inverted once per mode; a caller that writes into its copy changes no other's."""
    X, y = _problem("softmax", seed=2)
    mode = find_mode(Posterior(model_spec(bs.build_model(X[:200], y[:200], kind="softmax"))))
    cov = mode.covariance()
    np.testing.assert_allclose(cov @ mode.precision, np.eye(cov.shape[0]), atol=1e-9)
    cov[:] = 0.0
    np.testing.assert_allclose(mode.covariance() @ mode.precision, np.eye(cov.shape[0]), atol=1e-9)
