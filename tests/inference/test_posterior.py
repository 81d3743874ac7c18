"""The numpy posterior, the family likelihoods it sums, and its compiled twin for NUTS.

References are independent of the code under test: PyMC's own compiled log density and
gradient, scipy's densities, finite differences. The compiled kernels are checked against
the numpy posterior (to 1e-10) and against PyMC.
"""

from __future__ import annotations

import numpy as np
import pytest
from problems import SETTINGS, make_data, pymc_free_names, pymc_point
from scipy import stats
from scipy.special import log_softmax

import bayescore as bs
from bayescore import _likelihood
from bayescore.inference import kernels
from bayescore.inference.nuts import whitened_density
from bayescore.inference.posterior import Posterior
from bayescore.models import Labels, family, model_spec


@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_density_equals_pymc_graph(kind, options):
    X, y = make_data(kind)
    model = bs.build_model(X, y, kind=kind, **options)
    post = Posterior(model_spec(model))
    logp = model.compile_logp()
    dlogp = model.compile_dlogp()
    names = pymc_free_names(model)
    shapes = {n: model.initial_point()[n].shape for n in names}
    rng = np.random.default_rng(1)
    values, refs = [], []
    for _ in range(4):
        theta = rng.normal(scale=0.7, size=post.size)
        point, at = {}, 0
        for name in names:  # the PyMC free variables in the density's layout
            size = int(np.prod(shapes[name]))
            point[name] = theta[at : at + size].reshape(shapes[name])
            at += size
        value, grad = post.value_and_grad(theta)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-9, atol=1e-9)
        values.append(value)
        refs.append(float(logp(point)))
    # Equal up to the normalising constant, which the density leaves out.
    np.testing.assert_allclose(np.diff(values), np.diff(refs), rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("blocks", [False, True])
@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_compiled_whitened_density_equals_pymc_graph(kind, options, blocks, monkeypatch):
    """NUTS's compiled density at theta = m + L z: PyMC's logp and L^T dlogp there."""
    X, y = make_data(kind, n=200)
    model = bs.build_model(X, y, kind=kind, **options)
    if blocks:  # rows in 13-row blocks built on the fly
        monkeypatch.setattr(Posterior, "KEEP", 16)
        monkeypatch.setattr(Posterior, "BLOCK", 13 * (X.shape[1] + 1))
    post = Posterior(model_spec(model))
    assert post.blocked == blocks
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(5)
    mean = rng.normal(scale=0.5, size=post.size)
    L = np.tril(rng.normal(scale=0.2, size=(post.size, post.size))) + np.eye(post.size)
    density = whitened_density(post, mean, L)
    values, refs = [], []
    for _ in range(4):
        z = rng.normal(size=post.size)
        value, grad = density(z)
        point = pymc_point(model, mean + L @ z)
        np.testing.assert_allclose(grad, L.T @ dlogp(point), rtol=1e-9, atol=1e-8)
        values.append(value)
        refs.append(float(logp(point)))
    np.testing.assert_allclose(np.diff(values), np.diff(refs), rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_nutpie_c_callbacks_equal_the_pymc_graph(kind, options):
    """The C callbacks nutpie calls, through ctypes: PyMC's gradient, theta = m + L z with
    a dense L (a Cholesky factor times the frequency-spreading rotation), and nutpie's error
    codes (-1 wrong size, 3/4 non-finite)."""
    import ctypes

    X, y = make_data(kind, n=150)
    model = bs.build_model(X, y, kind=kind, **options)
    post = Posterior(model_spec(model))
    dlogp = model.compile_dlogp()
    rng = np.random.default_rng(7)
    p = post.size
    mean = rng.normal(scale=0.5, size=p)
    L = rng.normal(scale=0.2, size=(p, p)) + np.eye(p)
    ZT, labels, family, scale, nu = post.kernel_arguments()
    table = kernels.user_data(post.n_free, ZT, labels, mean, L, family, scale, nu)

    def ptr(a: np.ndarray) -> ctypes._Pointer:
        return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))

    z, grad, logp, out = rng.normal(size=p), np.empty(p), np.empty(1), np.empty(p)

    def logp_code(dim: int) -> int:
        return kernels.nutpie_logp.ctypes(dim, ptr(z), ptr(grad), ptr(logp), table.ctypes.data)

    assert logp_code(p) == 0
    np.testing.assert_allclose(
        grad, L.T @ dlogp(pymc_point(model, mean + L @ z)), rtol=1e-9, atol=1e-8
    )
    assert logp[0] == pytest.approx(post.value_and_grad(mean + L @ z)[0], rel=1e-12)
    assert kernels.nutpie_expand.ctypes(p, p, ptr(z), ptr(out), table.ctypes.data) == 0
    np.testing.assert_allclose(out, mean + L @ z, rtol=1e-13)
    assert logp_code(p + 1) == -1
    z[0] = np.nan
    assert logp_code(p) in (3, 4)
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.user_data(post.n_free, ZT, labels.astype(np.int32), mean, L, family, scale, nu)


@pytest.mark.parametrize("kind", ["logistic", "softmax"])
def test_compiled_density_is_stable_at_extreme_logits(kind):
    """Logits of +-700 (exp overflows at 710): finite, and equal to PyMC's graph."""
    X, y = make_data(kind, n=60)
    model = bs.build_model(X, y, kind=kind)
    post = Posterior(model_spec(model))
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    theta = np.random.default_rng(6).normal(scale=150.0, size=post.size)
    value, grad = whitened_density(post, np.zeros(post.size), np.eye(post.size))(theta)
    point = pymc_point(model, theta)
    assert np.isfinite(value) and np.isfinite(grad).all()
    np.testing.assert_allclose(grad, dlogp(point), rtol=1e-9, atol=1e-8)
    # The density leaves out the prior's normalising constant.
    const = (
        float(logp(pymc_point(model, np.zeros(post.size))))
        - post.value_and_grad(np.zeros(post.size))[0]
    )
    assert value + const == pytest.approx(float(logp(point)), rel=1e-11)


@pytest.mark.parametrize(("kind", "options"), SETTINGS[1:])
def test_precision_is_minus_hessian(kind, options):
    X, y = make_data(kind, n=120)
    post = Posterior(model_spec(bs.build_model(X, y, kind=kind, **options)))
    theta = np.random.default_rng(2).normal(scale=0.5, size=post.size)
    h = 1e-5
    fd = np.empty((post.size, post.size))
    for i in range(post.size):
        e = np.zeros(post.size)
        e[i] = h
        fd[:, i] = (post.value_and_grad(theta + e)[1] - post.value_and_grad(theta - e)[1]) / 2 / h
    np.testing.assert_allclose(post.precision(theta), -fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_log_det_gradient_is_the_derivative_of_log_det_precision(kind, options, monkeypatch):
    """Against central differences of log det H(theta), with cov = H^-1 at theta: the
    third cumulants of the likelihood and the Student-t prior's third derivative; row
    blocks (7 rows each) and groups of rows within a block give the same sums."""
    X, y = make_data(kind, n=150)
    spec = model_spec(bs.build_model(X, y, kind=kind, **options))
    post = Posterior(spec)
    theta = np.random.default_rng(4).normal(scale=0.7, size=post.size)
    cov = np.linalg.inv(post.precision(theta))
    h = 1e-5
    fd = np.empty(post.size)
    for i in range(post.size):
        e = np.zeros(post.size)
        e[i] = h
        up = np.linalg.slogdet(post.precision(theta + e))[1]
        down = np.linalg.slogdet(post.precision(theta - e))[1]
        fd[i] = (up - down) / 2 / h
    grad = post.log_det_gradient(theta, cov)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)
    assert np.abs(grad).max() > 0.1
    monkeypatch.setattr(Posterior, "KEEP", 16)
    monkeypatch.setattr(Posterior, "BLOCK", 28)
    blocked = Posterior(spec)
    assert blocked.blocked
    np.testing.assert_allclose(blocked.log_det_gradient(theta, cov), grad, rtol=1e-10)
    # and the kept design summed in groups of rows (2 rows a group here)
    monkeypatch.setattr(_likelihood, "_WORK_ELEMENTS", 2 * post.size)
    np.testing.assert_allclose(post.log_det_gradient(theta, cov), grad, rtol=1e-10)


def test_row_blocks_give_the_same_density(monkeypatch):
    X, y = make_data("softmax", n=500)
    spec = model_spec(bs.build_model(X, y, kind="softmax"))
    theta = np.random.default_rng(3).normal(size=(X.shape[1] + 1) * 2)
    whole = Posterior(spec)
    monkeypatch.setattr(Posterior, "KEEP", 16)  # force 7-row blocks built on the fly
    monkeypatch.setattr(Posterior, "BLOCK", 28)
    blocked = Posterior(spec)
    assert blocked.blocked and blocked.n_blocks > 10
    v1, g1 = whole.value_and_grad(theta)
    v2, g2 = blocked.value_and_grad(theta)
    assert v1 == pytest.approx(v2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10)
    np.testing.assert_allclose(whole.precision(theta), blocked.precision(theta), rtol=1e-10)


@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_batched_density_equals_point_by_point(kind, options):
    X, y = make_data(kind, n=90)
    post = Posterior(model_spec(bs.build_model(X, y, kind=kind, **options)))
    theta = np.random.default_rng(4).normal(size=(5, post.size))
    values, grads = post.values_and_grads(theta)
    for i in range(5):
        v, g = post.value_and_grad(theta[i])
        assert values[i] == pytest.approx(v, rel=1e-12)
        np.testing.assert_allclose(grads[i], g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("blocks", [False, True])
@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_compiled_twin_equals_the_numpy_posterior(kind, options, blocks, monkeypatch):
    """The numba kernels (whitened, through nutpie's C callback and the row-block Python
    callback) against the numpy posterior they mirror: values and gradients to 1e-10."""
    import ctypes

    X, y = make_data(kind, n=400)
    if blocks:
        monkeypatch.setattr(Posterior, "KEEP", 16)
        monkeypatch.setattr(Posterior, "BLOCK", 37 * (X.shape[1] + 1))
    post = Posterior(model_spec(bs.build_model(X, y, kind=kind, **options)))
    rng = np.random.default_rng(11)
    p = post.size
    mean = rng.normal(scale=0.5, size=p)
    L = np.tril(rng.normal(scale=0.3, size=(p, p))) + np.eye(p)
    callback = whitened_density(post, mean, L)
    args = post.kernel_arguments()
    assert (args is None) == blocks
    for _ in range(5):
        z = rng.normal(size=p)
        value, grad = post.value_and_grad(mean + L @ z)
        got_value, got_grad = callback(z)
        assert got_value == pytest.approx(value, rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(got_grad, L.T @ grad, rtol=1e-10, atol=1e-10)
        if args is None:
            continue
        table = kernels.user_data(post.n_free, *args[:2], mean, L, *args[2:])
        out_grad, out_value = np.empty(p), np.empty(1)

        def ptr(a: np.ndarray) -> ctypes._Pointer:
            return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))

        code = kernels.nutpie_logp.ctypes(
            p, ptr(z), ptr(out_grad), ptr(out_value), table.ctypes.data
        )
        assert code == 0
        assert out_value[0] == pytest.approx(value, rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(out_grad, L.T @ grad, rtol=1e-10, atol=1e-10)


def test_the_kernels_exp_is_libm_accurate_and_floors_at_exp_of_minus_708():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-708.0, 709.0, 20_000), rng.normal(size=2_000)])
    x = np.concatenate([x, [0.0, -0.0, 1e-300, -1e-300, 0.5 * np.log(2.0), -708.0, 709.0]])
    got = np.empty_like(x)
    kernels.exp_into(x, got)
    np.testing.assert_allclose(got, np.exp(x), rtol=4e-16, atol=0)
    below = np.array([-708.5, -745.0, -1e4, -np.inf])
    out = np.empty_like(below)
    kernels.exp_into(below, out)
    np.testing.assert_allclose(out, np.exp(-708.0), rtol=4e-16)  # never 0: sums stay > 0


@pytest.mark.parametrize(("d", "k"), [(2, 2), (6, 2), (2, 4), (9, 5)])
def test_kernels_equal_scipy_over_blocks_and_extreme_logits(d, k):
    """Values and gradients of the compiled likelihoods against scipy's log-softmax, over
    several row blocks with a ragged last one, with design rows in fours and left over, and
    logits in the hundreds (where the max shift and exp's floor matter)."""
    rng = np.random.default_rng(d * k)
    n = 2 * 512 + 277
    ZT = np.vstack([np.ones(n), rng.normal(size=(d, n))])
    ZT[1, :40] *= 300.0  # rows whose logits reach the hundreds
    y = rng.integers(0, k, n)
    W = rng.normal(scale=0.8, size=(d + 1, k - 1))
    logits = np.vstack([np.zeros(n), W.T @ ZT])  # (K, N), the reference's logit 0
    log_p = log_softmax(logits, axis=0)
    value = log_p[y, np.arange(n)].sum()
    residual = np.eye(k)[y].T - np.exp(log_p)  # onehot - p, (K, N)
    grad = np.zeros(W.size)
    if k == 2:
        got = kernels.logistic_value_grad(ZT, y, W.ravel(), grad)
    else:
        got = kernels.softmax_value_grad(ZT, y, W.ravel(), grad)
    assert got == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(grad, (ZT @ residual[1:].T).ravel(), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_compiled_sums_of_many_points_equal_numpys(kind, options, monkeypatch):
    """Above Posterior.COMPILED logits the kernels sum them: the same values as numpy's."""
    X, y = make_data(kind, n=1300)
    post = Posterior(model_spec(bs.build_model(X, y, kind=kind, **options)))
    theta = np.random.default_rng(6).normal(scale=0.8, size=(40, post.size))
    theta[0] *= 60.0  # logits in the hundreds
    numpy_sums = post.log_likelihood(theta)
    monkeypatch.setattr(Posterior, "COMPILED", 1)
    assert post.row_sums(len(theta), post.n_obs) is not None
    np.testing.assert_allclose(post.log_likelihood(theta), numpy_sums, rtol=1e-12)


@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_log_likelihood_of_many_points_equals_pymc(kind, options, monkeypatch):
    """The values-only path (ELBO, k-hat, Pathfinder) at 300 points in cache-sized groups,
    kept and in row blocks: PyMC's compiled log-likelihood, and the gradient path's values."""
    X, y = make_data(kind, n=250)
    model = bs.build_model(X, y, kind=kind, **options)
    theta = np.random.default_rng(3).normal(
        scale=0.6, size=(300, Posterior(model_spec(model)).size)
    )
    loglik = model.compile_fn(
        model.logp(vars=model.observed_RVs, sum=True),
        inputs=[model.rvs_to_values[rv] for rv in model.free_RVs],
        on_unused_input="ignore",
    )
    reference = np.array([float(loglik(pymc_point(model, t))) for t in theta[:20]])
    whole = Posterior(model_spec(model))
    np.testing.assert_allclose(whole.log_likelihood(theta[:20]), reference, rtol=1e-10)
    monkeypatch.setattr(Posterior, "KEEP", 16)
    monkeypatch.setattr(Posterior, "BLOCK", 29 * (X.shape[1] + 1))
    blocked = Posterior(model_spec(model))
    assert blocked.blocked
    np.testing.assert_allclose(
        blocked.log_likelihood(theta), whole.log_likelihood(theta), rtol=1e-12
    )
    W = theta.reshape(300, X.shape[1] + 1, -1)
    values, _ = whole.log_likelihood_and_grad(W)
    np.testing.assert_allclose(whole.log_likelihood(theta), values, rtol=1e-12)


@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_log_prior_is_scipys_normalised_density(kind, options):
    """log p(theta): scipy's Normal and Student-t densities (a flat intercept counts 0); the
    optimisers' unnormalised value differs by exactly the normalising constant."""
    X, y = make_data(kind, n=50)
    spec = model_spec(bs.build_model(X, y, kind=kind, **options))
    post = Posterior(spec)
    theta = np.random.default_rng(5).normal(scale=2.0, size=(7, post.size))
    k = post.n_free
    intercepts = (
        np.zeros(7)
        if spec.flat_intercept
        else stats.norm.logpdf(theta[:, :k], scale=spec.intercept_prior_scale).sum(1)
    )
    coef = theta[:, k:]
    if spec.prior == "student_t":
        rest = stats.t.logpdf(coef, df=spec.prior_nu, scale=spec.prior_scale).sum(1)
    else:
        rest = stats.norm.logpdf(coef, scale=spec.prior_scale).sum(1)
    np.testing.assert_allclose(post.log_prior(theta), intercepts + rest, rtol=1e-12)
    diff = post.log_prior(theta) - post.log_prior(theta, normalised=False)
    np.testing.assert_allclose(diff, post.prior.log_constant(), rtol=1e-12)
    np.testing.assert_allclose(
        post.log_joint(theta), post.log_likelihood(theta) + post.log_prior(theta)
    )


@pytest.mark.parametrize("kind", ["logistic", "softmax"])
def test_family_likelihood_pointwise_summed_and_residual_agree(kind):
    """One likelihood per family, three evaluations: per row (prediction), summed with the
    product of logs (many points) and summed with the gradient's residuals (the fitters);
    against scipy's log-softmax and the derivative by finite differences."""
    rng = np.random.default_rng(2)
    n, k = 700, (1 if kind == "logistic" else 3)
    y = rng.integers(0, k + 1, n)
    labels = Labels.of(y)
    fam = family(kind)
    eta = rng.normal(scale=30.0, size=(4, k, n))  # logits far into the tails
    full = np.concatenate([np.zeros((4, 1, n)), eta], axis=1)
    reference = np.take_along_axis(log_softmax(full, axis=1), y[None, None, :], axis=1)[:, 0]
    shaped = (lambda a: a[:, 0]) if kind == "logistic" else (lambda a: a)
    pointwise = fam.log_likelihood(shaped(eta.copy()), labels, reduce=False)
    np.testing.assert_allclose(pointwise, reference, rtol=1e-12, atol=1e-12)
    summed = fam.log_likelihood(shaped(eta.copy()), labels)
    np.testing.assert_allclose(summed, reference.sum(1), rtol=1e-12)
    scratch = shaped(eta.copy())
    with_residual = fam.log_likelihood(scratch, labels, residual=True)
    np.testing.assert_allclose(with_residual, reference.sum(1), rtol=1e-12)
    # The residual is d/d eta of the summed log-likelihood: check one entry per class.
    h = 1e-6
    for c in range(k):
        bumped = eta.copy()
        bumped[:, c, 5] += h
        up = fam.log_likelihood(shaped(bumped.copy()), labels)
        bumped[:, c, 5] -= 2 * h
        down = fam.log_likelihood(shaped(bumped.copy()), labels)
        residual = scratch[:, 5] if kind == "logistic" else scratch[:, c, 5]
        np.testing.assert_allclose(residual, (up - down) / (2 * h), rtol=1e-4, atol=1e-4)
