"""Same kind in, same kind out, for every public scoring and calibration function.

numpy input gives a float (a single number), an ndarray (per observation or per class) or a
Dataset (tables); DataArray input gives a DataArray (0-d for a single number) with its
``obs``/``class`` coords kept, or the same Dataset. The numbers never depend on the kind.
The DataArray path is given string labels matched by value against the ``class``
coordinate, on a permuted class axis; the numpy path gets positional indices.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.special import softmax

import bayescore as bs

N, K = 60, 3
CLASSES = np.array(["ant", "bee", "cat"])
OBS_IDS = np.arange(100, 100 + N)
RNG = np.random.default_rng(42)
LOGITS = RNG.normal(size=(N, K)) * 2
PROBS = softmax(LOGITS, axis=-1)
DRAWS = softmax(LOGITS[None, None] + RNG.normal(size=(2, 15, N, K)), axis=-1)
Y = RNG.integers(0, K, N)
PERM = [2, 0, 1]


def as_da(values, dims):
    coords = {"obs": OBS_IDS, "class": CLASSES}
    da = xr.DataArray(values, dims=dims, coords=coords, attrs={"source": "unit test"})
    return da.isel({"class": PERM})  # columns out of order: only the coordinate says which


def point(values=PROBS):
    return values, as_da(values, ("obs", "class"))


def draws():
    return DRAWS, as_da(DRAWS, ("chain", "draw", "obs", "class"))


SCALAR = [
    ("log_loss", lambda y, p: bs.log_loss(y, p), point),
    ("nll_from_logits", lambda y, z: bs.nll_from_logits(y, z), lambda: point(LOGITS)),
    ("brier_score", lambda y, p: bs.brier_score(y, p), point),
    ("spherical_score", lambda y, p: bs.spherical_score(y, p), point),
    ("label_smoothing_nll", lambda y, p: bs.label_smoothing_nll(y, p), point),
    ("class_weighted_nll", lambda y, p: bs.class_weighted_nll(y, p), point),
    ("focal_loss", lambda y, p: bs.focal_loss(y, p), point),
    ("posterior_predictive_nll", lambda y, d: bs.posterior_predictive_nll(y, d), draws),
    ("gibbs_nll", lambda y, d: bs.gibbs_nll(y, d), draws),
    ("perplexity", lambda y, d: bs.perplexity(y, d), draws),
    ("expected_calibration_error", lambda y, p: bs.expected_calibration_error(y, p), point),
    ("maximum_calibration_error", lambda y, p: bs.maximum_calibration_error(y, p), point),
    ("classwise_calibration_error", lambda y, p: bs.classwise_calibration_error(y, p), point),
    ("smooth_calibration_error", lambda y, p: bs.smooth_calibration_error(y, p), point),
]

PER_OBS = [
    ("log_loss", lambda y, p: bs.log_loss(y, p, pointwise=True), point),
    (
        "nll_from_logits",
        lambda y, z: bs.nll_from_logits(y, z, pointwise=True),
        lambda: point(LOGITS),
    ),
    ("brier_score", lambda y, p: bs.brier_score(y, p, pointwise=True), point),
    ("spherical_score", lambda y, p: bs.spherical_score(y, p, pointwise=True), point),
    ("label_smoothing_nll", lambda y, p: bs.label_smoothing_nll(y, p, pointwise=True), point),
    ("class_weighted_nll", lambda y, p: bs.class_weighted_nll(y, p, pointwise=True), point),
    ("focal_loss", lambda y, p: bs.focal_loss(y, p, pointwise=True), point),
    ("pointwise_nll", lambda y, d: bs.pointwise_nll(y, d), draws),
    (
        "posterior_predictive_nll",
        lambda y, d: bs.posterior_predictive_nll(y, d, pointwise=True),
        draws,
    ),
    ("gibbs_nll", lambda y, d: bs.gibbs_nll(y, d, pointwise=True), draws),
]

TABLES = [
    ("score", lambda y, d: bs.score(y, d), draws),
    ("uncertainty_decomposition", lambda y, d: bs.uncertainty_decomposition(d), draws),
    ("reliability_table", lambda y, p: bs.reliability_table(y, p, n_bins=5), point),
    (
        "posterior_calibration_error",
        lambda y, d: bs.posterior_calibration_error(y, d, n_bins=5),
        draws,
    ),
    (
        "bootstrap_calibration_error",
        lambda y, p: bs.bootstrap_calibration_error(y, p, n_boot=50),
        point,
    ),
    ("brier_decomposition", lambda y, p: bs.brier_decomposition(y, p), point),
    ("log_loss_decomposition", lambda y, p: bs.log_loss_decomposition(y, p), point),
    (
        "calibration_drift",
        lambda y, p: bs.calibration_drift(y, p, y, p, n_boot=50),
        point,
    ),
    ("score_decomposition", lambda y, p: bs.score_decomposition(y, p, score="log"), point),
    ("score_decomposition_draws", lambda y, d: bs.score_decomposition(y, d), draws),
    (
        "reliability_table_pav",
        lambda y, p: bs.reliability_table(y, p, strategy="pav", n_resamples=50),
        point,
    ),
    (
        "reliability_table_pav_draws",
        lambda y, d: bs.reliability_table(y, d, strategy="pav", n_resamples=50),
        draws,
    ),
]


def labels_for(kind):
    return Y if kind == "numpy" else CLASSES[Y]


@pytest.mark.parametrize("name, fn, data", SCALAR, ids=[c[0] for c in SCALAR])
def test_single_numbers(name, fn, data):
    arr, da = data()
    out_np, out_da = fn(labels_for("numpy"), arr), fn(labels_for("xarray"), da)
    assert isinstance(out_np, float), type(out_np)
    assert isinstance(out_da, xr.DataArray) and out_da.ndim == 0, type(out_da)
    assert float(out_da) == pytest.approx(out_np, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name, fn, data", PER_OBS, ids=[c[0] for c in PER_OBS])
def test_per_observation_values(name, fn, data):
    arr, da = data()
    out_np, out_da = fn(labels_for("numpy"), arr), fn(labels_for("xarray"), da)
    assert type(out_np) is np.ndarray and out_np.shape == (N,)
    assert isinstance(out_da, xr.DataArray) and out_da.dims == ("obs",)
    assert out_da["obs"].values.tolist() == OBS_IDS.tolist()
    np.testing.assert_allclose(out_da.values, out_np, rtol=1e-12, atol=1e-15)


def test_per_draw_values_keep_draw_dims():
    arr, da = draws()
    out_np = bs.log_loss(Y, arr)
    out_da = bs.log_loss(CLASSES[Y], da.assign_coords(draw=np.arange(50, 65)))
    assert type(out_np) is np.ndarray and out_np.shape == (2, 15)
    assert out_da.dims == ("chain", "draw") and out_da["draw"].values[0] == 50
    np.testing.assert_allclose(out_da.values, out_np, rtol=1e-12)
    ece = bs.expected_calibration_error(CLASSES[Y], da)
    assert ece.dims == ("chain", "draw")
    np.testing.assert_allclose(ece.values, bs.expected_calibration_error(Y, arr), rtol=1e-12)


@pytest.mark.parametrize("name, fn, data", TABLES, ids=[c[0] for c in TABLES])
def test_tables_are_datasets_with_equal_numbers(name, fn, data):
    arr, da = data()
    out_np, out_da = fn(labels_for("numpy"), arr), fn(labels_for("xarray"), da)
    assert isinstance(out_np, xr.Dataset) and isinstance(out_da, xr.Dataset)
    assert set(out_np.data_vars) == set(out_da.data_vars)
    for var in out_np.data_vars:
        # Per-draw values keep the draw dims of a DataArray (numpy: one "sample" dim).
        np.testing.assert_allclose(
            out_da[var].values.ravel(),
            out_np[var].values.ravel(),
            rtol=1e-12,
            atol=1e-15,
            err_msg=var,
        )
    if "ece_draws" in out_da:
        assert out_da["ece_draws"].dims == ("chain", "draw")
        assert out_np["ece_draws"].dims == ("sample",)
    if "obs" in out_da.dims:
        assert out_da["obs"].values.tolist() == OBS_IDS.tolist()


def test_classwise_reliability_table_names_classes_by_label():
    arr, da = point()
    out_np = bs.reliability_table(Y, arr, n_bins=4, classwise=True)
    out_da = bs.reliability_table(CLASSES[Y], da, n_bins=4, classwise=True)
    assert out_np["class"].values.tolist() == [0, 1, 2]
    # The DataArray's columns are permuted: its table follows its own coordinate.
    assert out_da["class"].values.tolist() == CLASSES[PERM].tolist()
    np.testing.assert_allclose(
        out_da["accuracy"].sel({"class": "ant"}), out_np["accuracy"].sel({"class": 0})
    )


RECALIBRATORS = [
    ("TemperatureScaling", lambda: bs.TemperatureScaling(), LOGITS, PROBS, Y),
    ("IsotonicCalibration", lambda: bs.IsotonicCalibration(), PROBS, PROBS, Y),
]


@pytest.mark.parametrize(
    "name, make, fit_x, x, y", RECALIBRATORS, ids=[r[0] for r in RECALIBRATORS]
)
def test_recalibrators_transform_same_kind(name, make, fit_x, x, y):
    est = make().fit(fit_x, y)
    out_np = est.transform(x)
    da = xr.DataArray(x, dims=("obs", "class"), coords={"obs": OBS_IDS, "class": CLASSES})
    out_da = est.transform(da.transpose("class", "obs"))
    assert type(out_np) is np.ndarray and out_np.shape == (N, K)
    assert isinstance(out_da, xr.DataArray) and out_da.dims == ("obs", "class")
    assert out_da["class"].values.tolist() == CLASSES.tolist()
    assert out_da["obs"].values.tolist() == OBS_IDS.tolist()
    np.testing.assert_allclose(out_da.values, out_np, rtol=1e-12)


def test_platt_transform_same_kind_binary():
    p1 = RNG.uniform(0.05, 0.95, N)
    yb = (RNG.random(N) < p1).astype(int)
    platt = bs.PlattScaling().fit(p1, yb)
    two = np.stack([1 - p1, p1], axis=-1)
    out_np = platt.transform(two)
    da = xr.DataArray(two, dims=("obs", "class"), coords={"obs": OBS_IDS, "class": ["no", "yes"]})
    out_da = platt.transform(da)
    assert type(out_np) is np.ndarray
    assert out_da.dims == ("obs", "class") and out_da["class"].values.tolist() == ["no", "yes"]
    np.testing.assert_allclose(out_da.values, out_np, rtol=1e-12)
    one_d = platt.transform(xr.DataArray(p1, dims=("obs",), coords={"obs": OBS_IDS}))
    assert one_d.dims == ("obs", "class") and one_d["obs"].values[0] == OBS_IDS[0]
    np.testing.assert_allclose(one_d.values, out_np, rtol=1e-12)


def test_temperature_on_draws_and_mean_keep_coords():
    arr, da = draws()
    ts = bs.TemperatureScaling().fit(arr, Y)
    out = ts.transform(da)
    assert out.dims == ("chain", "draw", "obs", "class")
    assert out["class"].values.tolist() == CLASSES[PERM].tolist()
    np.testing.assert_allclose(out.values, ts.transform(arr[..., PERM]), rtol=1e-12)
    on_mean = bs.TemperatureScaling(apply_to="mean").fit(arr, Y)
    mean_out = on_mean.transform(da)
    assert mean_out.dims == ("obs", "class") and mean_out["obs"].values[0] == OBS_IDS[0]
