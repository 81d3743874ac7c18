"""TemperatureScaling(posterior=True): the grid posterior of log T against quadrature,
its large-N limit, and transform's per-draw temperatures written out by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import quad
from scipy.optimize import brentq, minimize_scalar
from scipy.special import log_softmax, softmax
from scipy.stats import norm

import bayescore as bs
from bayescore._array.grid import grid_posterior


def simulate(rng, n, k=3, temperature=2.0, spread=3.0):
    """Logits over-confident by ``temperature``: labels come from softmax(z / T)."""
    z = rng.normal(size=(n, k)) * spread
    p = softmax(z / temperature, axis=1)
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return z, y


def log_lik(z, y, u):
    return float(log_softmax(z * np.exp(-u), axis=1)[np.arange(y.size), y].sum())


@pytest.fixture(scope="module")
def small():
    z, y = simulate(np.random.default_rng(3), 60)
    ts = bs.TemperatureScaling(input="logits", posterior=True, n_draws=20_000).fit(z, y)
    return z, y, ts


def test_grid_posterior_equals_quadrature_of_the_same_density(small):
    z, y, ts = small

    # The unnormalised posterior of u = log T, written independently of bayescore.
    def log_post(u):
        return log_lik(z, y, u) + norm.logpdf(u, 0.0, 1.0)

    mode = minimize_scalar(lambda u: -log_post(u), bounds=(-5, 5), method="bounded").x
    peak = log_post(mode)

    def dens(u):
        return np.exp(log_post(u) - peak)

    # Wide limits: as T grows the likelihood flattens to (1/K)^N and only the prior decays.
    lo, hi = mode - 4, mode + 12
    assert log_post(lo) < peak - 40 and log_post(hi) < peak - 40
    opts = {"points": [mode], "limit": 200, "epsabs": 0, "epsrel": 1e-12}
    mass = quad(dens, lo, hi, **opts)[0]
    mean = quad(lambda u: u * dens(u), lo, hi, **opts)[0] / mass
    var = quad(lambda u: (u - mean) ** 2 * dens(u), lo, hi, **opts)[0] / mass
    e_t = quad(lambda u: np.exp(u) * dens(u), lo, hi, **opts)[0] / mass
    assert ts.log_temperature_mean_ == pytest.approx(mean, abs=1e-4)
    assert ts.log_temperature_sd_ == pytest.approx(np.sqrt(var), abs=1e-4)
    assert ts.temperature_ == pytest.approx(e_t, rel=1e-4)
    # The normalised density on the grid is the quadrature's density / mass.
    i = int(np.argmax(ts.log_temperature_pdf_))
    g = ts.log_temperature_grid_[i]
    assert ts.log_temperature_pdf_[i] == pytest.approx(dens(g) / mass, rel=1e-6)
    # Inverse-CDF draws: quantiles within Monte Carlo error of the quadrature quantiles.
    log_draws = np.log(ts.temperature_draws_)
    sd = np.sqrt(var)
    for q in (0.05, 0.5, 0.95):
        exact = brentq(lambda u, q=q: quad(dens, lo, u, **opts)[0] / mass - q, lo, hi)
        assert np.quantile(log_draws, q) == pytest.approx(exact, abs=0.06 * sd)
    assert log_draws.mean() == pytest.approx(mean, abs=4 * sd / np.sqrt(log_draws.size))


def test_draws_are_reproducible_and_seeded(small):
    z, y, ts = small
    again = bs.TemperatureScaling(input="logits", posterior=True, n_draws=20_000).fit(z, y)
    other = bs.TemperatureScaling(
        input="logits", posterior=True, n_draws=20_000, random_state=1
    ).fit(z, y)
    np.testing.assert_array_equal(again.temperature_draws_, ts.temperature_draws_)
    assert not np.array_equal(other.temperature_draws_, ts.temperature_draws_)


def test_posterior_concentrates_on_the_mle_for_large_n():
    z, y = simulate(np.random.default_rng(0), 20_000, k=4)
    mle = bs.TemperatureScaling(input="logits").fit(z, y).temperature_
    post = bs.TemperatureScaling(input="logits", posterior=True).fit(z, y)
    u = np.log(mle)
    h = 1e-3  # observed information at the MLE, by central differences
    info = -(log_lik(z, y, u + h) - 2 * log_lik(z, y, u) + log_lik(z, y, u - h)) / h**2
    assert post.log_temperature_sd_ == pytest.approx(1 / np.sqrt(info), rel=0.02)
    assert post.log_temperature_sd_ < 0.02
    assert abs(post.log_temperature_mean_ - u) < 0.1 * post.log_temperature_sd_
    assert abs(u - np.log(2.0)) < 4 * post.log_temperature_sd_  # the simulated T


def test_point_forecasts_become_one_set_per_temperature_draw():
    z, y = simulate(np.random.default_rng(1), 40)
    ts = bs.TemperatureScaling(posterior=True, n_draws=7).fit(z, y)
    t = ts.temperature_draws_
    out = ts.transform(z[:5])
    assert type(out) is np.ndarray and out.shape == (7, 5, 3)
    for s in range(7):
        np.testing.assert_allclose(out[s], softmax(z[:5] / t[s], axis=1), rtol=1e-12)
    # Probabilities in: their logs are the logits up to a constant per row.
    np.testing.assert_allclose(ts.transform(softmax(z[:5], axis=1)), out, rtol=1e-9)
    # A DataArray (any dim order) comes back as draws with one chain, coords kept.
    classes = np.array(["ant", "bee", "cat"])
    da = xr.DataArray(
        z[:5], dims=("obs", "class"), coords={"obs": [10, 11, 12, 13, 14], "class": classes}
    )
    out_da = ts.transform(da.transpose("class", "obs"))
    assert out_da.dims == ("chain", "draw", "obs", "class") and out_da.shape == (1, 7, 5, 3)
    assert out_da["obs"].values.tolist() == [10, 11, 12, 13, 14]
    np.testing.assert_allclose(out_da.values[0], out, rtol=1e-12)
    # Recalibration uncertainty reaches the scores: the spread over T is epistemic.
    parts = bs.uncertainty_decomposition(out)
    mean = out.mean(0)
    total = -(mean * np.log(mean)).sum(-1)
    aleatoric = -(out * np.log(out)).sum(-1).mean(0)
    np.testing.assert_allclose(parts["epistemic"], total - aleatoric, rtol=1e-9, atol=1e-15)
    assert float(parts["epistemic"].min()) > 0
    scores = bs.score(classes[y[:5]], out_da)
    assert float(scores["epistemic"]) == pytest.approx(float(parts["epistemic"].mean()))


def test_binary_one_column_input_gives_two_columns_per_draw():
    rng = np.random.default_rng(2)
    p1 = rng.uniform(0.05, 0.95, 50)
    y = (rng.random(50) < p1).astype(int)
    ts = bs.TemperatureScaling(posterior=True, n_draws=5).fit(p1, y)
    out = ts.transform(p1[:4])
    logit = np.log(p1[:4]) - np.log1p(-p1[:4])
    for s, t in enumerate(ts.temperature_draws_):
        np.testing.assert_allclose(out[s, :, 1], 1 / (1 + np.exp(-logit / t)), rtol=1e-12)


def test_forecast_draws_each_get_their_own_temperature_cycled():
    rng = np.random.default_rng(4)
    z, y = simulate(rng, 30)
    draws = z + rng.normal(size=(2, 3, 30, 3))  # (chain, draw, obs, class) logits
    ts = bs.TemperatureScaling(input="logits", posterior=True, n_draws=4).fit(draws, y)
    t = ts.temperature_draws_
    out = ts.transform(draws)
    assert out.shape == draws.shape
    for c in range(2):
        for d in range(3):
            s = 3 * c + d  # C order over (chain, draw); six forecast draws, four of T
            np.testing.assert_allclose(
                out[c, d], softmax(draws[c, d] / t[s % 4], axis=-1), rtol=1e-12
            )
    da = xr.DataArray(draws, dims=("chain", "draw", "obs", "class"))
    np.testing.assert_allclose(ts.transform(da).values, out, rtol=1e-12)
    # apply_to="mean": the draw-averaged forecasts, then one set per draw of T.
    on_mean = bs.TemperatureScaling(input="logits", apply_to="mean", posterior=True, n_draws=4)
    on_mean = on_mean.fit(draws, y)
    log_mean = np.log(softmax(draws, axis=-1).mean((0, 1)))
    expected = softmax(log_mean[None] / on_mean.temperature_draws_[:, None, None], axis=-1)
    np.testing.assert_allclose(on_mean.transform(draws), expected, rtol=1e-9)


def test_draws_input_posterior_uses_the_posterior_predictive_likelihood():
    rng = np.random.default_rng(5)
    z, y = simulate(rng, 40)
    draws = z + 0.5 * rng.normal(size=(6, 40, 3))
    ts = bs.TemperatureScaling(input="logits", posterior=True).fit(draws, y)

    def log_post(u):
        logp = log_softmax(draws * np.exp(-u), axis=-1)[:, np.arange(40), y]
        lppd = np.log(np.exp(logp).mean(0)).sum()
        return lppd + norm.logpdf(u)

    mode = minimize_scalar(lambda u: -log_post(u), bounds=(-5, 5), method="bounded").x
    lo, hi = mode - 4, mode + 12
    assert max(log_post(lo), log_post(hi)) < log_post(mode) - 40
    mass = quad(lambda u: np.exp(log_post(u) - log_post(mode)), lo, hi, points=[mode])[0]
    first = quad(lambda u: u * np.exp(log_post(u) - log_post(mode)), lo, hi, points=[mode])[0]
    assert ts.log_temperature_mean_ == pytest.approx(first / mass, abs=1e-4)


def test_point_fit_is_unchanged_and_a_refit_drops_the_draws():
    z, y = simulate(np.random.default_rng(6), 50)
    ts = bs.TemperatureScaling(input="logits", posterior=True).fit(z, y)
    ts.set_params(posterior=False).fit(z, y)
    assert not hasattr(ts, "temperature_draws_")
    res = minimize_scalar(lambda u: -log_lik(z, y, u), bounds=(-5, 5), method="bounded")
    assert ts.temperature_ == pytest.approx(np.exp(res.x), rel=1e-6)
    assert ts.transform(z).shape == z.shape


def test_grid_kernel_recovers_a_skewed_density():
    # log of a Gamma(2, 1) variable: density exp(2u - e^u) / Gamma(2); E[u] = digamma(2).
    post = grid_posterior(lambda u: 2 * u - np.exp(u), np.log(2.0), 401)
    assert post.mean == pytest.approx(1 - np.euler_gamma, abs=1e-8)
    assert post.sd == pytest.approx(np.sqrt(np.pi**2 / 6 - 1), abs=1e-8)
    assert post.cdf[0] == 0 and post.cdf[-1] == 1


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"posterior": "yes"}, TypeError, "'posterior' parameter of TemperatureScaling"),
        ({"n_draws": 0}, ValueError, "'n_draws' parameter of TemperatureScaling"),
        ({"prior_scale": 0.0}, ValueError, "'prior_scale' parameter of TemperatureScaling"),
        ({"n_grid": 3}, ValueError, "'n_grid' parameter of TemperatureScaling"),
        ({"random_state": -1}, ValueError, "'random_state' parameter of TemperatureScaling"),
    ],
)
def test_bad_parameters_are_named(params, error, match):
    with pytest.raises(error, match=match):
        bs.TemperatureScaling(posterior=True).set_params(**params).fit([[2.0, 0.0]], [0])


def test_a_temperature_at_its_search_bound_warns():
    """A calibration set without errors drives the NLL-optimal T to 0: say so, loudly."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    logits = np.where(np.eye(2)[y] > 0, 2.0, -2.0) + rng.normal(scale=0.3, size=(40, 2))
    assert (logits.argmax(1) == y).all()  # every top class is right
    with pytest.warns(bs.CalibrationWarning, match="has no finite value on this calibration set"):
        ts = bs.TemperatureScaling().fit(logits, y)
    assert ts.temperature_ < 0.1
    # The posterior's prior on log T keeps it finite, with no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.CalibrationWarning)
        post = bs.TemperatureScaling(posterior=True).fit(logits, y)
    assert 0.05 < post.temperature_ < 2.0
