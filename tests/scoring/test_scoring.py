"""Scoring against independent references: scikit-learn, scipy, ArviZ, closed forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import logsumexp, softmax
from sklearn import metrics

import bayescore as bs
from bayescore._array import scores as K

RNG = np.random.default_rng(0)


def dirichlet(shape, k, seed=0, alpha=1.0):
    return np.random.default_rng(seed).dirichlet(np.full(k, alpha), size=shape)


# ------------------------------------------------------------ scikit-learn


@pytest.mark.parametrize(
    "y, probs, kwargs",
    [
        (RNG.integers(0, 2, 50), RNG.uniform(0.01, 0.99, 50), {}),  # binary 1-D
        (RNG.integers(0, 2, 50), dirichlet(50, 2, 1), {}),  # binary 2-D
        (RNG.integers(0, 4, 80), dirichlet(80, 4, 2), {}),  # multiclass
        (RNG.choice(["b", "a", "c"], 60), dirichlet(60, 3, 3), {"labels": ["a", "b", "c"]}),
        (RNG.integers(0, 3, 40), dirichlet(40, 3, 4), {"sample_weight": RNG.uniform(0, 2, 40)}),
    ],
)
def test_log_loss_matches_sklearn(y, probs, kwargs):
    expected = metrics.log_loss(y, probs, **kwargs)
    assert bs.log_loss(y, probs, **kwargs) == pytest.approx(expected, abs=1e-10)


def test_log_loss_closed_form_and_bits():
    y = np.array([0, 2, 1])
    p = dirichlet(3, 3, 5)
    expected = -np.mean(np.log(p[np.arange(3), y]))
    assert bs.log_loss(y, p) == pytest.approx(expected, rel=1e-14)
    assert bs.log_loss(y, p, base=2) == pytest.approx(expected / np.log(2), rel=1e-14)
    assert bs.perplexity(y, p) == pytest.approx(np.exp(expected), rel=1e-14)


def test_brier_matches_sklearn_binary_and_multiclass():
    y = RNG.integers(0, 2, 70)
    p1 = RNG.uniform(size=70)
    assert bs.brier_score(y, p1) == pytest.approx(metrics.brier_score_loss(y, p1), abs=1e-12)
    ym = RNG.integers(0, 4, 70)
    pm = dirichlet(70, 4, 6)
    ref = metrics.brier_score_loss(ym, pm, scale_by_half=False)
    assert bs.brier_score(ym, pm) == pytest.approx(ref, abs=1e-12)
    onehot = np.eye(4)[ym]
    assert bs.brier_score(ym, pm) == pytest.approx(np.mean(((pm - onehot) ** 2).sum(1)))


def test_spherical_closed_form():
    y = np.array([1, 0])
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    expected = np.mean([0.8 / np.hypot(0.2, 0.8), 0.5 / np.hypot(0.5, 0.5)])
    assert bs.spherical_score(y, p) == pytest.approx(expected, rel=1e-14)


# ---------------------------------------------------------- draws and ArviZ


@pytest.fixture(scope="module")
def draws():
    # (chain, draw, obs, class) with real posterior-like spread.
    logits = RNG.normal(size=(2, 100, 30, 3)) + RNG.normal(size=(1, 1, 30, 3)) * 2
    return softmax(logits, axis=-1), RNG.integers(0, 3, 30)


def test_posterior_predictive_nll_equals_minus_lppd(draws):
    p, y = draws
    log_p = np.log(np.take_along_axis(p, y[None, None, :, None], axis=-1)[..., 0])
    lppd = logsumexp(log_p.reshape(-1, 30), axis=0) - np.log(200)
    assert bs.posterior_predictive_nll(y, p) == pytest.approx(-lppd.mean(), abs=1e-12)
    np.testing.assert_allclose(bs.pointwise_nll(y, p), -lppd, atol=1e-12)


def test_posterior_predictive_nll_matches_arviz_lppd(draws):
    """ArviZ 1.x has no WAIC; its PSIS-LOO reports elpd_loo and p_loo = lppd - elpd_loo."""
    import arviz as az

    p, y = draws
    log_p = np.log(np.take_along_axis(p, y[None, None, :, None], axis=-1)[..., 0])
    dt = az.from_dict({"posterior": {"mu": np.zeros((2, 100))}, "log_likelihood": {"y": log_p}})
    with warnings.catch_warnings():
        # A Pareto k warning may fire for these random draws; lppd does not depend on k.
        warnings.simplefilter("ignore", UserWarning)
        result = az.loo(dt)
    lppd = result.elpd + result.p
    assert bs.posterior_predictive_nll(y, p) == pytest.approx(-lppd / 30, abs=1e-10)


def test_gibbs_nll_closed_form_and_jensen(draws):
    p, y = draws
    true = np.take_along_axis(p, y[None, None, :, None], axis=-1)[..., 0]
    assert bs.gibbs_nll(y, p) == pytest.approx(-np.log(true).mean(), abs=1e-12)
    assert bs.gibbs_nll(y, p) >= bs.posterior_predictive_nll(y, p)


def test_one_draw_equals_point_score():
    p = dirichlet(20, 3, 7)
    y = RNG.integers(0, 3, 20)
    assert bs.posterior_predictive_nll(y, p[None]) == pytest.approx(bs.log_loss(y, p, eps=0))
    assert bs.gibbs_nll(y, p[None]) == pytest.approx(bs.log_loss(y, p, eps=0))


def test_xarray_in_xarray_out_with_class_labels(draws):
    p, y = draws
    labels = np.array(["ant", "bee", "cat"])
    da = xr.DataArray(
        p,
        dims=("chain", "draw", "obs", "class"),
        coords={"class": labels, "obs": np.arange(100, 130)},
    )
    out = bs.posterior_predictive_nll(labels[y], da)
    assert isinstance(out, xr.DataArray)
    assert float(out) == pytest.approx(bs.posterior_predictive_nll(y, p))
    per_obs = bs.posterior_predictive_nll(labels[y], da, pointwise=True)
    assert per_obs.dims == ("obs",) and per_obs["obs"].values[0] == 100
    per_draw = bs.log_loss(labels[y], da)
    assert per_draw.dims == ("chain", "draw")
    np.testing.assert_allclose(
        per_draw.values[1, 5], metrics.log_loss(y, p[1, 5], labels=[0, 1, 2]), atol=1e-10
    )
    # Moving the class axis does not change anything.
    moved = da.transpose("class", "obs", "draw", "chain")
    assert float(bs.posterior_predictive_nll(labels[y], moved)) == pytest.approx(float(out))


def test_sample_dim_and_threads_give_same_result(draws):
    p, y = draws
    stacked = xr.DataArray(p.reshape(200, 30, 3), dims=("sample", "obs", "class"))
    one = K.draw_sums(p.reshape(200, 30, 3), y, frozenset({"p_true", "entropy"}), n_threads=1)
    two = K.draw_sums(p.reshape(200, 30, 3), y, frozenset({"p_true", "entropy"}), n_threads=2)
    np.testing.assert_allclose(one.p_true, two.p_true, rtol=1e-14)
    np.testing.assert_allclose(one.entropy, two.entropy, rtol=1e-14)
    assert float(bs.posterior_predictive_nll(y, stacked)) == pytest.approx(
        bs.posterior_predictive_nll(y, p), rel=1e-14
    )


# ------------------------------------------------------------ uncertainty


def test_uncertainty_split_closed_forms():
    same = np.tile(np.array([[[0.2, 0.3, 0.5]]]), (10, 1, 1))
    split = bs.uncertainty_decomposition(same)
    h = -np.sum([0.2, 0.3, 0.5] * np.log([0.2, 0.3, 0.5]))
    assert float(split["total"][0]) == pytest.approx(h, rel=1e-14)
    assert float(split["aleatoric"][0]) == pytest.approx(h, rel=1e-14)
    assert float(split["epistemic"][0]) == pytest.approx(0.0, abs=1e-15)
    onehots = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    split = bs.uncertainty_decomposition(onehots)
    assert float(split["epistemic"][0]) == pytest.approx(np.log(2), rel=1e-14)
    assert float(split["aleatoric"][0]) == 0.0
    bits = bs.uncertainty_decomposition(onehots, base=2)
    assert float(bits["epistemic"][0]) == pytest.approx(1.0)


# -------------------------------------------------------------- numerics


def test_logits_of_magnitude_1e4_are_exact_and_finite():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4], [-1e4, -1e4, -1e4]])
    y = np.array([1, 2, 0])
    values = bs.nll_from_logits(y, logits, pointwise=True)
    np.testing.assert_allclose(values, [1e4, np.log(2), np.log(3)], rtol=1e-15)
    assert bs.nll_from_logits([1], [-1e4]) == pytest.approx(1e4)  # 1-D binary logit
    p = softmax(RNG.normal(size=(10, 4)), axis=1)
    yy = RNG.integers(0, 4, 10)
    assert bs.nll_from_logits(yy, np.log(p)) == pytest.approx(bs.log_loss(yy, p), abs=1e-12)


def test_eps_auto_clips_and_eps_zero_is_honest():
    y, p = [0, 1], [[1.0, 0.0], [1.0, 0.0]]
    assert bs.log_loss(y, p, eps=0) == np.inf
    eps = np.finfo(float).eps
    assert bs.log_loss(y, p) == pytest.approx(-np.log(eps) / 2)
    assert bs.log_loss(y, p) == pytest.approx(metrics.log_loss(y, p), abs=1e-10)


# ---------------------------------------------------- training-loss variants


def test_training_loss_variants():
    y = np.array([0, 1, 1, 1])
    p = np.array([[0.6, 0.4], [0.3, 0.7], [0.1, 0.9], [0.5, 0.5]])
    assert bs.focal_loss(y, p, gamma=0.0) == pytest.approx(bs.log_loss(y, p))
    py = p[np.arange(4), y]
    assert bs.focal_loss(y, p, gamma=2.0) == pytest.approx(np.mean((1 - py) ** 2 * -np.log(py)))
    targets = 0.8 * np.eye(2)[y] + 0.1
    assert bs.label_smoothing_nll(y, p, alpha=0.2) == pytest.approx(
        np.mean(-(targets * np.log(p)).sum(1))
    )
    from sklearn.utils.class_weight import compute_sample_weight

    w = compute_sample_weight("balanced", y)
    assert bs.class_weighted_nll(y, p) == pytest.approx(metrics.log_loss(y, p, sample_weight=w))


def test_baselines():
    assert bs.uniform_baseline(5) == pytest.approx(np.log(5))
    y_train, y_test = [0, 0, 0, 1], [0, 1, 1, 1]
    expected = -(0.25 * np.log(0.75) + 0.75 * np.log(0.25))
    assert bs.class_prior_baseline(y_train, y_test) == pytest.approx(expected)
    # The prior forecast scores exactly the baseline.
    assert bs.log_loss(y_test, [[0.75, 0.25]] * 4) == pytest.approx(expected)


def test_score_dataset_agrees_with_individual_functions(draws):
    p, y = draws
    s = bs.score(y, p)
    mean = p.mean((0, 1))
    assert float(s["nll"]) == pytest.approx(bs.posterior_predictive_nll(y, p))
    assert float(s["gibbs_nll"]) == pytest.approx(bs.gibbs_nll(y, p))
    assert float(s["brier"]) == pytest.approx(bs.brier_score(y, mean))
    assert float(s["spherical"]) == pytest.approx(bs.spherical_score(y, mean))
    assert float(s["ece"]) == pytest.approx(bs.expected_calibration_error(y, mean))
    per_obs = bs.pointwise_nll(y, p)
    assert float(s["nll_se"]) == pytest.approx(per_obs.std() / np.sqrt(30))
    split = bs.uncertainty_decomposition(p)
    assert float(s["epistemic"]) == pytest.approx(float(split["epistemic"].mean()))
    assert float(s["perplexity"]) == pytest.approx(np.exp(float(s["nll"])))
    assert float(s["baseline_uniform"]) == pytest.approx(np.log(3))
    assert s.attrs["n_obs"] == 30 and s.attrs["n_draws"] == 200 and s.attrs["units"] == "nats"


# ------------------------------------------------------------- properties

probs_vec = arrays(np.float64, st.integers(2, 6), elements=st.floats(0.01, 1.0)).map(
    lambda a: a / a.sum()
)


@settings(max_examples=60, deadline=None)
@given(p=probs_vec, seed=st.integers(0, 1000))
def test_scores_are_proper(p, seed):
    """Under outcomes drawn from p, reporting p beats reporting any other q in expectation."""
    q = np.random.default_rng(seed).dirichlet(np.ones(p.size))
    k = np.arange(p.size)
    rows_p, rows_q = np.tile(p, (p.size, 1)), np.tile(q, (p.size, 1))
    for fn, sign in ((bs.log_loss, 1), (bs.brier_score, 1), (bs.spherical_score, -1)):
        exp_p = p @ fn(k, rows_p, pointwise=True)
        exp_q = p @ fn(k, rows_q, pointwise=True)
        assert sign * exp_p <= sign * exp_q + 1e-12


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), s=st.integers(1, 8), n=st.integers(1, 6), k=st.integers(2, 5))
def test_draw_properties_and_permutation_invariance(seed, s, n, k):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(k, 0.5), size=(s, n))
    p = np.clip(p, 1e-12, None)
    p /= p.sum(-1, keepdims=True)
    y = rng.integers(0, k, n)
    ppd, gibbs = bs.posterior_predictive_nll(y, p), bs.gibbs_nll(y, p)
    assert ppd >= 0 and gibbs >= ppd - 1e-12
    split = bs.uncertainty_decomposition(p)
    assert (split["epistemic"].values >= 0).all()
    np.testing.assert_allclose(split["total"], split["aleatoric"] + split["epistemic"], atol=1e-12)
    perm = rng.permutation(k)
    inv = np.argsort(perm)
    assert bs.posterior_predictive_nll(inv[y], p[..., perm]) == pytest.approx(ppd, rel=1e-12)
    assert bs.brier_score(inv[y], p[0][:, perm]) == pytest.approx(bs.brier_score(y, p[0]))


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bs.log_loss([0, 1], [[0.5, 0.6], [0.5, 0.5]]), "row 0 sums to 1.1"),
        (lambda: bs.log_loss([0, 1], [[0.5, 0.5], [np.nan, 1.0]]), "NaN at row 1, column 0"),
        (lambda: bs.log_loss([0, 1], [[1.5, -0.5], [0.5, 0.5]]), "non-negative; row 0, class 1"),
        (lambda: bs.log_loss([0, 3], [[0.5, 0.5], [0.5, 0.5]]), "class index 3 at row 1"),
        (
            lambda: bs.log_loss(["a", "z"], [[0.5, 0.5]] * 2, labels=["a", "b"]),
            "label 'z' at row 1",
        ),
        (lambda: bs.log_loss([0, 1, 0], [[0.5, 0.5]] * 2), "y has 3 observations but probs has 2"),
        (lambda: bs.log_loss([], np.zeros((0, 2))), "empty"),
        (lambda: bs.log_loss([0], [[0.5, 0.5]], eps=-1), "'eps' parameter"),
        (
            lambda: bs.posterior_predictive_nll([0], [[[0.5, 0.5]], [[0.9, 0.2]]]),
            "draw 1: .*row 0 sums to 1.1",
        ),
        (lambda: bs.brier_score([0, 1], [0.5, 1.2]), "row 1 is 1.2"),
        (lambda: bs.log_loss([0], [[0.5, 0.5]], sample_weight=[-1.0]), "non-negative; row 0"),
        (lambda: bs.uniform_baseline(0), "'n_classes' parameter"),
        (
            lambda: bs.uncertainty_decomposition(xr.DataArray(np.ones((2, 2)), dims=("a", "b"))),
            "dims 'obs' and 'class'",
        ),
    ],
)
def test_errors_name_argument_position_and_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("tol", [0.0, 1e-6])
def test_fused_numba_kernel_equals_numpy_path(tol):
    rng = np.random.default_rng(9)
    p = rng.dirichlet(np.ones(4), size=(30, 50))
    y = rng.integers(0, 4, 50)
    want = frozenset({"p_true"})
    fused = K.draw_sums(p, y, want, tol=tol, engine="numba")
    plain = K.draw_sums(p, y, want, tol=tol, engine="numpy")
    np.testing.assert_allclose(fused.p_true, plain.p_true, rtol=1e-13)
    assert fused.n_draws == plain.n_draws == 30 and fused.first_invalid is None
    p[17, 3] = [0.5, 0.5, 0.5, -0.5]  # sums to 1 but has a negative entry
    p[21, 8, 0] = np.nan
    if tol:
        assert K.draw_sums(p, y, want, tol=tol, engine="numba").first_invalid == 17
        assert K.draw_sums(p, y, want, tol=tol, engine="numpy").first_invalid is not None
    with pytest.raises(ValueError, match="engine='numba' needs labels"):
        K.draw_sums(p, None, frozenset({"entropy"}), engine="numba")
    full = frozenset({"p_true", "log_p_true", "probs", "entropy"})
    ok = rng.dirichlet(np.ones(4), size=(30, 50))
    a = K.draw_sums(ok, y, full, tol=tol, engine="numba")
    b = K.draw_sums(ok, y, full, tol=tol, engine="numpy")
    for name in ("p_true", "log_p_true", "probs", "entropy"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12)


# ------------------------------------------------------------------ float32 draws


def test_float32_draws_scored_without_a_float64_copy():
    import tracemalloc

    rng = np.random.default_rng(3)
    p64 = rng.dirichlet(np.ones(4), size=(400, 2000))
    p32 = p64.astype(np.float32)
    y = rng.integers(0, 4, 2000)
    # Reference: the float32 values, read exactly in float64 (summed in float64).
    p_true = np.take_along_axis(p32.astype(np.float64), y[None, :, None], -1)[..., 0]
    ref = float(np.mean(-np.log(p_true.mean(axis=0))))
    tracemalloc.start()
    try:
        got = bs.posterior_predictive_nll(y, p32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == pytest.approx(ref, rel=1e-12)
    assert peak < p32.nbytes  # a float64 copy alone would be twice p32.nbytes
    s = bs.score(y, p32)
    assert float(s["nll"]) == pytest.approx(ref, rel=1e-12)
    fused = K.draw_sums(p32, y, frozenset({"p_true"}), tol=1e-6, engine="numba")
    np.testing.assert_allclose(fused.p_true, p_true.sum(axis=0), rtol=1e-12)


def test_float32_rows_get_a_tolerance_float32_can_meet():
    from scipy.special import softmax as sm

    z = np.random.default_rng(0).normal(size=(5, 20, 300)).astype(np.float32)
    p = sm(z, axis=-1).astype(np.float32)  # rows off by up to ~K * eps32 from 1
    y = np.zeros(20, dtype=int)
    expected = -np.mean(np.log(p[:, :, 0].astype(np.float64).mean(axis=0)))
    assert bs.posterior_predictive_nll(y, p) == pytest.approx(expected, rel=1e-10)
    p[2, 3, :] *= np.float32(1.01)
    with pytest.raises(ValueError, match="draw 2: .*row 3 sums to 1.01"):
        bs.posterior_predictive_nll(y, p)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: bs.log_loss([0], [[0.5, 0.5]], eps=0.7),
            r"'eps' parameter of log_loss.*\[0, 0.5\)",
        ),
        (lambda: bs.log_loss([0], [[0.5, 0.5]], eps=0.5), r"'eps' parameter of log_loss"),
        (lambda: bs.score([0], [[0.5, 0.5]], n_bins=0), r"'n_bins' parameter of score.*>= 1"),
        (lambda: bs.label_smoothing_nll([0], [[0.5, 0.5]], alpha=1.5), r"'alpha' parameter"),
        (lambda: bs.focal_loss([0], [[0.5, 0.5]], gamma=-1.0), r"'gamma' parameter"),
    ],
)
def test_parameter_ranges_are_checked(call, match):
    with pytest.raises(ValueError, match=match):
        call()
