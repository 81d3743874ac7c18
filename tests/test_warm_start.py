"""Warm-started NUTS, the closed-form density it runs on, and sampler="auto".

References are independent of the code under test: PyMC's own compiled log density and
gradient, finite differences, PyMC's deterministics, and cold-started PyMC NUTS (compared
within Monte Carlo error).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from arviz_stats import ess, mcse

import bayescore as bs
from bayescore._density import Posterior
from bayescore._groups import data_groups, posterior_dataset
from bayescore.models import model_spec


def _data(kind: str, n: int = 300, d: int = 3, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
    eta = rng.normal(scale=0.8, size=(d, k))
    logits = ((X - X.mean(0)) / X.std(0)) @ eta
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    if kind == "logistic":
        y = (y > 0).astype(int)
    return X, np.array(["a", "b", "c"])[y]


SETTINGS = [
    ("logistic", {}),
    ("softmax", {}),
    ("logistic", {"prior": "student_t", "flat_intercept": True}),
    ("softmax", {"prior": "student_t", "prior_scale": 1.0, "intercept_prior_scale": 4.0}),
]


def _free_names(model) -> list[str]:
    return [v.name for v in model.free_RVs]


@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_density_equals_pymc_graph(kind, options):
    X, y = _data(kind)
    model = bs.build_model(X, y, kind=kind, **options)
    post = Posterior(model_spec(model))
    logp = model.compile_logp()
    dlogp = model.compile_dlogp()
    names = _free_names(model)
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


def _pymc_point(model, theta: np.ndarray) -> dict[str, np.ndarray]:
    """``theta`` (the density's flat layout) as a point of the PyMC model's free variables."""
    point, at = {}, 0
    for name in _free_names(model):
        shape = model.initial_point()[name].shape
        size = int(np.prod(shape))
        point[name] = theta[at : at + size].reshape(shape)
        at += size
    return point


@pytest.mark.parametrize("blocks", [False, True])
@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_compiled_whitened_density_equals_pymc_graph(kind, options, blocks, monkeypatch):
    """NUTS's compiled density at theta = m + L z: PyMC's logp and L^T dlogp there."""
    X, y = _data(kind, n=200)
    model = bs.build_model(X, y, kind=kind, **options)
    if blocks:  # rows in 13-row blocks built on the fly
        monkeypatch.setattr(Posterior, "KEEP", 16)
        monkeypatch.setattr(Posterior, "BLOCK", 13 * (X.shape[1] + 1))
    post = Posterior(model_spec(model))
    assert (post._kept is None) == blocks
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(5)
    mean = rng.normal(scale=0.5, size=post.size)
    L = np.tril(rng.normal(scale=0.2, size=(post.size, post.size))) + np.eye(post.size)
    density = post.whitened(mean, L)
    values, refs = [], []
    for _ in range(4):
        z = rng.normal(size=post.size)
        value, grad = density(z)
        point = _pymc_point(model, mean + L @ z)
        np.testing.assert_allclose(grad, L.T @ dlogp(point), rtol=1e-9, atol=1e-8)
        values.append(value)
        refs.append(float(logp(point)))
    np.testing.assert_allclose(np.diff(values), np.diff(refs), rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_nutpie_c_callbacks_equal_the_pymc_graph(kind, options):
    """The C callbacks nutpie calls, through ctypes: PyMC's gradient, theta = m + L z, and
    nutpie's error codes (-1 wrong size, 3/4 non-finite)."""
    import ctypes

    from bayescore import _kernels

    X, y = _data(kind, n=150)
    model = bs.build_model(X, y, kind=kind, **options)
    post = Posterior(model_spec(model))
    dlogp = model.compile_dlogp()
    rng = np.random.default_rng(7)
    p = post.size
    mean = rng.normal(scale=0.5, size=p)
    L = np.tril(rng.normal(scale=0.2, size=(p, p))) + np.eye(p)
    ZT, labels, family, scale, nu = post.kernel_arguments()
    table = _kernels.user_data(post.n_free, ZT, labels, mean, L, family, scale, nu)

    def ptr(a: np.ndarray) -> ctypes._Pointer:
        return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))

    z, grad, logp, out = rng.normal(size=p), np.empty(p), np.empty(1), np.empty(p)

    def logp_code(dim: int) -> int:
        return _kernels.nutpie_logp.ctypes(dim, ptr(z), ptr(grad), ptr(logp), table.ctypes.data)

    assert logp_code(p) == 0
    np.testing.assert_allclose(
        grad, L.T @ dlogp(_pymc_point(model, mean + L @ z)), rtol=1e-9, atol=1e-8
    )
    assert logp[0] == pytest.approx(post.value_and_grad(mean + L @ z)[0], rel=1e-12)
    assert _kernels.nutpie_expand.ctypes(p, p, ptr(z), ptr(out), table.ctypes.data) == 0
    np.testing.assert_allclose(out, mean + L @ z, rtol=1e-13)
    assert logp_code(p + 1) == -1
    z[0] = np.nan
    assert logp_code(p) in (3, 4)
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.user_data(post.n_free, ZT, labels.astype(np.int32), mean, L, family, scale, nu)


@pytest.mark.parametrize("kind", ["logistic", "softmax"])
def test_compiled_density_is_stable_at_extreme_logits(kind):
    """Logits of +-700 (exp overflows at 710): finite, and equal to PyMC's graph."""
    X, y = _data(kind, n=60)
    model = bs.build_model(X, y, kind=kind)
    post = Posterior(model_spec(model))
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    theta = np.random.default_rng(6).normal(scale=150.0, size=post.size)
    value, grad = post.whitened(np.zeros(post.size), np.eye(post.size))(theta)
    point = _pymc_point(model, theta)
    assert np.isfinite(value) and np.isfinite(grad).all()
    np.testing.assert_allclose(grad, dlogp(point), rtol=1e-9, atol=1e-8)
    # The density leaves out the prior's normalising constant.
    const = (
        float(logp(_pymc_point(model, np.zeros(post.size))))
        - post.value_and_grad(np.zeros(post.size))[0]
    )
    assert value + const == pytest.approx(float(logp(point)), rel=1e-11)


@pytest.mark.parametrize(("kind", "options"), SETTINGS[1:])
def test_precision_is_minus_hessian(kind, options):
    X, y = _data(kind, n=120)
    post = Posterior(model_spec(bs.build_model(X, y, kind=kind, **options)))
    theta = np.random.default_rng(2).normal(scale=0.5, size=post.size)
    h = 1e-5
    fd = np.empty((post.size, post.size))
    for i in range(post.size):
        e = np.zeros(post.size)
        e[i] = h
        fd[:, i] = (post.value_and_grad(theta + e)[1] - post.value_and_grad(theta - e)[1]) / 2 / h
    np.testing.assert_allclose(post.precision(theta), -fd, rtol=1e-5, atol=1e-6)


def test_row_blocks_give_the_same_density(monkeypatch):
    X, y = _data("softmax", n=500)
    spec = model_spec(bs.build_model(X, y, kind="softmax"))
    theta = np.random.default_rng(3).normal(size=(X.shape[1] + 1) * 2)
    whole = Posterior(spec)
    monkeypatch.setattr(Posterior, "KEEP", 16)  # force 7-row blocks built on the fly
    monkeypatch.setattr(Posterior, "BLOCK", 28)
    blocked = Posterior(spec)
    assert blocked._kept is None and len(blocked._blocks) > 10
    v1, g1 = whole.value_and_grad(theta)
    v2, g2 = blocked.value_and_grad(theta)
    assert v1 == pytest.approx(v2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10)
    np.testing.assert_allclose(whole.precision(theta), blocked.precision(theta), rtol=1e-10)


@pytest.mark.parametrize("kind", ["logistic", "softmax"])
def test_posterior_groups_match_pymc(kind):
    X, y = _data(kind, n=80)
    model = bs.build_model(X, y, kind=kind)
    idata = bs.fit(
        model,
        draws=30,
        tune=30,
        chains=1,
        random_seed=0,
        warn=False,
        sampler="pymc",
        warm_start=False,
    )
    post = idata.posterior.to_dataset()
    names = _free_names(model)
    theta = np.concatenate([post[n].values.reshape(1, 30, -1) for n in names], axis=2)
    ours = posterior_dataset(model_spec(model), theta)
    assert set(ours.data_vars) == set(post.data_vars)
    for name in post.data_vars:
        xr.testing.assert_allclose(ours[name], post[name].transpose(*ours[name].dims))
    groups = data_groups(model_spec(model))
    for name in ("X", "x_mean", "x_scale"):
        np.testing.assert_array_equal(groups["constant_data"][name], idata.constant_data[name])
    np.testing.assert_array_equal(groups["observed_data"]["y"], idata.observed_data["y"])


def _agree_within_mc_error(a: xr.DataTree, b: xr.DataTree, names: list[str], z: float = 4.0):
    pa, pb = a.posterior.to_dataset()[names], b.posterior.to_dataset()[names]
    ea, eb = mcse(pa, method="mean"), mcse(pb, method="mean")
    for name in names:
        diff = np.abs(pa[name].mean(("chain", "draw")) - pb[name].mean(("chain", "draw")))
        se = np.sqrt(ea[name] ** 2 + eb[name] ** 2)
        assert float((diff / se).max()) < z, name
        # and the spread: posterior sds within 15 %
        ratio = pa[name].std(("chain", "draw")) / pb[name].std(("chain", "draw"))
        assert float(np.abs(ratio - 1).max()) < 0.15, name


@pytest.fixture(scope="module")
def softmax_fits():
    X, y = _data("softmax", n=300)
    model = bs.build_model(X, y, kind="softmax")
    kw = {"draws": 600, "tune": 600, "chains": 2, "warn": False}
    auto = bs.fit(model, random_seed=1, **kw)
    cold = bs.fit(model, random_seed=2, sampler="pymc", warm_start=False, **kw)
    warm_pymc = bs.fit(model, random_seed=3, sampler="pymc", **kw)
    return model, auto, cold, warm_pymc


def test_auto_picks_nutpie_with_the_warm_start(softmax_fits):
    _, auto, cold, warm_pymc = softmax_fits
    assert auto.posterior.attrs["bayescore_sampler"] == "nutpie"
    assert auto.posterior.attrs["bayescore_warm_start"] == "laplace"
    assert cold.posterior.attrs["bayescore_warm_start"] == "none"
    assert warm_pymc.posterior.attrs["bayescore_sampler"] == "pymc"
    assert bs.diagnose(auto).ok


def test_auto_equals_pymc_nuts_within_mc_error(softmax_fits):
    model, auto, cold, _ = softmax_fits
    _agree_within_mc_error(auto, cold, ["intercept_free", "coef_free", "coef_original"])
    # The warm start is at least as efficient as the cold PyMC run per draw.
    names = ["intercept_free", "coef_free"]
    ess_auto = min(float(ess(auto.posterior.to_dataset()[names])[n].min()) for n in names)
    ess_cold = min(float(ess(cold.posterior.to_dataset()[names])[n].min()) for n in names)
    assert ess_auto > 0.8 * ess_cold


def test_warm_start_equals_cold_start_within_mc_error(softmax_fits):
    _, _, cold, warm_pymc = softmax_fits
    _agree_within_mc_error(warm_pymc, cold, ["intercept_free", "coef_free"])


def test_row_blocks_sample_the_same_posterior(softmax_fits, monkeypatch):
    """Designs too large to keep go through nutpie's Python callback, block by block."""
    model, auto, _, _ = softmax_fits
    monkeypatch.setattr(Posterior, "KEEP", 16)
    monkeypatch.setattr(Posterior, "BLOCK", 50 * 4)  # 50-row blocks (D + 1 = 4)
    blocked = bs.fit(model, draws=600, tune=600, chains=2, random_seed=4, warn=False)
    assert blocked.posterior.attrs["bayescore_sampler"] == "nutpie"
    _agree_within_mc_error(blocked, auto, ["intercept_free", "coef_free"])


def test_same_seed_same_draws_across_calls():
    X, y = _data("logistic", n=150)
    model = bs.build_model(X, y, kind="logistic")
    a = bs.fit(model, draws=50, tune=50, random_seed=7, warn=False)
    b = bs.fit(model, draws=50, tune=50, random_seed=7, warn=False)
    np.testing.assert_array_equal(a.posterior["coef"].values, b.posterior["coef"].values)


def test_zerosum_falls_back_to_pymc():
    X, y = _data("softmax", n=100)
    model = bs.build_model(X, y, kind="softmax", coding="zerosum")
    idata = bs.fit(model, draws=40, tune=40, random_seed=0, warn=False)
    assert idata.posterior.attrs["bayescore_sampler"] == "pymc"
    assert idata.posterior.attrs["bayescore_warm_start"] == "none"


def test_cross_validation_compiles_nothing_per_fold(monkeypatch):
    import pytensor.compile.maker as types

    X, y = _data("logistic", n=200)
    calls = []
    real = types.FunctionMaker.create

    def counting(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(types.FunctionMaker, "create", counting)
    est = bs.BayesianLogisticClassifier(draws=1000, tune=500, random_seed=0)
    result = bs.cross_validate({"nuts": est}, X, y, cv=5)
    # Every held-out row was scored, better than the coin-flip baseline log 2.
    assert np.isfinite(result["nll_pointwise"]).all()
    assert float(result["nll"][0]) < np.log(2)
    # The warm-started NUTS runs on bayescore's numpy density: no PyTensor function is
    # compiled in any fold (a cold pm.sample compiles at least one per fold).
    assert len(calls) <= 1


@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_batched_density_equals_point_by_point(kind, options):
    X, y = _data(kind, n=90)
    post = Posterior(model_spec(bs.build_model(X, y, kind=kind, **options)))
    theta = np.random.default_rng(4).normal(size=(5, post.size))
    values, grads = post.values_and_grads(theta)
    for i in range(5):
        v, g = post.value_and_grad(theta[i])
        assert values[i] == pytest.approx(v, rel=1e-12)
        np.testing.assert_allclose(grads[i], g, rtol=1e-12, atol=1e-12)
