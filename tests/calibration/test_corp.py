"""CORP: PAV reliability tables with consistency bands, and the CORP score decomposition.

References: scikit-learn's IsotonicRegression (which since 1.6 calls scipy's compiled PAV,
as bayescore does), so also a brute-force min-max isotonic regression written here that
shares no code with either; the model-diagnostics package's ``decompose``; simulation for
the consistency bands.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import xlogy
from sklearn.isotonic import IsotonicRegression

import bayescore as bs

PARTS = ("score", "miscalibration", "discrimination", "uncertainty")


def _score_fn(name):
    if name == "brier":
        return lambda f, o: (f - o) ** 2
    return lambda f, o: -(xlogy(o, f) + xlogy(1 - o, 1 - f))


def _minmax_isotonic(x, o):
    """Isotonic regression by its min-max formula on tie-pooled groups (O(U^2), no PAV).

    f(u) = max_{j <= u} min_{k >= u} mean of the outcomes of groups j..k.
    """
    ux, inv = np.unique(x, return_inverse=True)
    w = np.bincount(inv).astype(float)
    s = np.bincount(inv, weights=o)
    cw, cs = np.r_[0.0, np.cumsum(w)], np.r_[0.0, np.cumsum(s)]
    with np.errstate(invalid="ignore", divide="ignore"):  # j > k entries are never read
        avg = (cs[None, 1:] - cs[:-1, None]) / (cw[None, 1:] - cw[:-1, None])  # avg[j, k]
    u = np.arange(ux.size)
    fitted = np.array(
        [max(avg[j, i:].min() for j in range(i + 1)) for i in u]  # j <= i <= k
    )
    return ux, fitted, fitted[inv]


def _reference(forecast, outcome, score, recal):
    fn = _score_fn(score)
    s_x = fn(forecast, outcome).mean()
    s_r = fn(recal, outcome).mean()
    s_c = fn(np.full_like(forecast, outcome.mean()), outcome).mean()
    return np.array([s_x, s_x - s_r, s_c - s_r, s_c])


def _sklearn_recal(forecast, outcome):
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip")
    return iso.fit(forecast, outcome).predict(forecast)


def _values(ds):
    return np.array([float(ds[v]) for v in PARTS])


def _binary_data(seed, n=400, decimals=2):
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0.02, 0.98, n), decimals)  # rounding makes many ties
    y = (rng.random(n) < p**1.5).astype(int)
    return y, p


# ------------------------------------------------------------------ decomposition


@pytest.mark.parametrize("score", ["brier", "log"])
def test_binary_decomposition_matches_sklearn_isotonic_and_minmax_formula(score):
    worst = 0.0
    for seed in range(5):
        y, p = _binary_data(seed, decimals=1 + seed % 3)
        got = _values(bs.score_decomposition(y, p, score=score))
        via_sklearn = _reference(p, y.astype(float), score, _sklearn_recal(p, y.astype(float)))
        via_minmax = _reference(p, y.astype(float), score, _minmax_isotonic(p, y)[2])
        worst = max(worst, np.abs(got - via_sklearn).max(), np.abs(got - via_minmax).max())
        assert got[1] > 0 and got[2] > 0
    assert worst < 1e-10


def test_ties_are_pooled_into_one_block():
    # Unpooled PAV in input order would fit 1, 0 on the tied 0.5s and keep 0.2 -> 0.0.
    out = bs.score_decomposition([1, 0, 0], [0.5, 0.5, 0.2])
    # PAV with ties pooled: 0.2 -> 0 and both 0.5s -> 1/2; S(recal) = (0.25 + 0.25 + 0) / 3.
    s_x = (0.25 + 0.25 + 0.04) / 3
    assert float(out["score"]) == pytest.approx(s_x, abs=1e-15)
    assert float(out["miscalibration"]) == pytest.approx(s_x - 0.5 / 3, abs=1e-15)
    table = bs.reliability_table([1, 0, 0], [0.5, 0.5, 0.2], strategy="pav", n_resamples=20)
    assert table["accuracy"].values.tolist() == [0.0, 0.5]
    assert table["count"].values.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("score", ["brier", "log"])
def test_matches_model_diagnostics_decompose(score):
    from model_diagnostics.scoring import LogLoss, SquaredError, decompose

    fn = SquaredError() if score == "brier" else LogLoss()
    worst = 0.0
    for seed in range(5):
        y, p = _binary_data(10 + seed)
        ref = decompose(y.astype(float), p, scoring_function=fn)
        expected = np.array([ref[v][0] for v in PARTS])
        worst = max(
            worst, np.abs(_values(bs.score_decomposition(y, p, score=score)) - expected).max()
        )
    assert worst < 1e-10


def test_log_score_with_recalibrated_values_of_zero_and_one():
    # Perfectly separated: PAV gives 0 on the 0s and 1 on the 1s, so S(recal) = 0 (xlogy).
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.2, 0.3, 0.6, 0.7, 0.9])
    out = bs.score_decomposition(y, p, score="log")
    score = -np.mean(np.log([0.8, 0.7, 0.6, 0.7, 0.9]))
    unc = -(0.4 * np.log(0.4) + 0.6 * np.log(0.6))
    assert float(out["score"]) == pytest.approx(score, abs=1e-14)
    assert float(out["miscalibration"]) == pytest.approx(score, abs=1e-14)
    assert float(out["discrimination"]) == pytest.approx(unc, abs=1e-14)
    assert float(out["uncertainty"]) == pytest.approx(unc, abs=1e-14)
    assert out.attrs["units"] == "nats"


def test_multiclass_top_label_and_classwise_against_one_vs_rest_by_hand():
    rng = np.random.default_rng(3)
    probs = np.round(rng.dirichlet([1.0, 2.0, 3.0], size=300), 2)
    # Rounded again so that equal forecasts are equal floats: bayescore pools exact ties
    # only, scikit-learn also pools values within 1e-15 (its _make_unique).
    probs[:, 2] = np.round(1 - probs[:, 0] - probs[:, 1], 2)
    y = np.array([rng.choice(3, p=row) for row in probs])
    top = bs.score_decomposition(y, probs, score="log")
    conf = probs.max(1)
    correct = (probs.argmax(1) == y).astype(float)
    expected = _reference(conf, correct, "log", _sklearn_recal(conf, correct))
    np.testing.assert_allclose(_values(top), expected, atol=1e-10)
    assert top.attrs["kind"] == "top-label"
    cw = bs.score_decomposition(y, probs, multiclass="classwise")
    expected = sum(
        _reference(
            probs[:, k], (y == k) * 1.0, "brier", _sklearn_recal(probs[:, k], (y == k) * 1.0)
        )
        for k in range(3)
    )
    np.testing.assert_allclose(_values(cw), expected, atol=1e-10)
    # The class-wise Brier sum is the multiclass Brier score of SPEC §3.
    assert float(cw["score"]) == pytest.approx(float(bs.brier_score(y, probs)), abs=1e-12)


def test_labels_by_value_and_class_order_do_not_matter():
    rng = np.random.default_rng(4)
    probs = rng.dirichlet([1, 1, 1], size=200)
    y = rng.integers(0, 3, 200)
    names = np.array(["cat", "dog", "eel"])
    base = bs.score_decomposition(y, probs)
    by_label = bs.score_decomposition(names[y], probs, labels=names)
    perm = [2, 0, 1]
    da = xr.DataArray(probs[:, perm], dims=("obs", "class"), coords={"class": names[perm]})
    permuted = bs.score_decomposition(names[y], da)
    np.testing.assert_array_equal(_values(base), _values(by_label))
    np.testing.assert_array_equal(_values(base), _values(permuted))


def test_binary_two_columns_equals_one_column_and_brier_score():
    y, p = _binary_data(5)
    one = bs.score_decomposition(y, p)
    two = bs.score_decomposition(y, np.column_stack([1 - p, p]))
    np.testing.assert_allclose(_values(one), _values(two), atol=1e-15)
    assert one.attrs["kind"] == "binary"
    assert float(one["score"]) == pytest.approx(float(bs.brier_score(y, p)), abs=1e-15)


@st.composite
def _problems(draw):
    n = draw(st.integers(1, 40))
    k = draw(st.integers(2, 4))
    grid = draw(st.sampled_from([2, 5, 100]))  # coarse grids make ties
    raw = draw(st.lists(st.integers(0, grid), min_size=n * k, max_size=n * k))
    weights = np.array(raw, dtype=float).reshape(n, k) + 1e-3
    probs = weights / weights.sum(1, keepdims=True)
    y = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    return y, probs


@settings(max_examples=200, deadline=None)
@given(
    problem=_problems(),
    score=st.sampled_from(["brier", "log"]),
    multiclass=st.sampled_from(["top-label", "classwise"]),
)
def test_identity_score_equals_mcb_minus_dsc_plus_unc(problem, score, multiclass):
    y, probs = problem
    out = bs.score_decomposition(y, probs, score=score, multiclass=multiclass)
    mcb, dsc, unc = (float(out[v]) for v in PARTS[1:])
    assert float(out["score"]) == pytest.approx(mcb - dsc + unc, abs=1e-10)
    assert mcb >= -1e-12 and dsc >= -1e-12


# ------------------------------------------------------------------ draws


def _draws(seed, chains=2, n_draws=6, n=120, k=3):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, k)) * 2
    logits = base + 0.5 * rng.normal(size=(chains, n_draws, n, k))
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in p.mean((0, 1))])
    names = np.array(["a", "b", "c"][:k])
    da = xr.DataArray(
        p,
        dims=("chain", "draw", "obs", "class"),
        coords={"chain": [0, 1][:chains], "draw": np.arange(n_draws) + 100, "class": names},
    )
    return names[y], da


@pytest.mark.parametrize("score", ["brier", "log"])
def test_draws_per_draw_values_intervals_and_mean_forecast(score):
    y, da = _draws(0)
    out = bs.score_decomposition(y, da, score=score, level=0.8)
    assert out["score_draws"].dims == ("chain", "draw")
    assert out["score_draws"]["draw"].values.tolist() == list(range(100, 106))
    for name in PARTS:
        per_draw = np.array(
            [
                [float(bs.score_decomposition(y, da.isel(chain=c, draw=d), score=score)[name])
                 for d in range(da.sizes["draw"])]
                for c in range(da.sizes["chain"])
            ]
        )  # fmt: skip
        np.testing.assert_allclose(out[f"{name}_draws"].values, per_draw, atol=1e-12)
        low, high = np.quantile(per_draw, [0.1, 0.9])
        assert float(out[f"{name}_low"]) == pytest.approx(low, abs=1e-12)
        assert float(out[f"{name}_high"]) == pytest.approx(high, abs=1e-12)
    mean = bs.score_decomposition(y, da.mean(("chain", "draw")), score=score)
    np.testing.assert_allclose(_values(out), _values(mean), atol=1e-12)
    assert out.attrs["n_draws"] == 12


def test_numpy_draws_give_a_sample_dim():
    y, da = _draws(1, chains=1, n_draws=4)
    arr = da.values[0]
    out = bs.score_decomposition(np.searchsorted(["a", "b", "c"], y), arr)
    assert out["miscalibration_draws"].dims == ("sample",)
    expected = [float(bs.score_decomposition(np.searchsorted(["a", "b", "c"], y), arr[s])
                      ["miscalibration"]) for s in range(4)]  # fmt: skip
    np.testing.assert_allclose(out["miscalibration_draws"].values, expected, atol=1e-12)


# ------------------------------------------------------------------ reliability table


def test_pav_table_rows_match_sklearn_isotonic_blocks():
    y, p = _binary_data(6, n=300)
    table = bs.reliability_table(y, p, strategy="pav", level=0.9, n_resamples=100)
    recal = _sklearn_recal(p, y.astype(float))
    blocks = np.unique(recal)
    np.testing.assert_allclose(table["accuracy"].values, blocks, atol=1e-12)
    for b, value in enumerate(blocks):
        members = np.isclose(recal, value, rtol=0, atol=1e-12)
        assert table["count"].values[b] == members.sum()
        assert table["lower"].values[b] == p[members].min()
        assert table["upper"].values[b] == p[members].max()
        assert table["confidence"].values[b] == pytest.approx(p[members].mean(), abs=1e-12)
        # A PAV block's value is its observed frequency.
        assert table["accuracy"].values[b] == pytest.approx(y[members].mean(), abs=1e-12)
    assert table.sizes["bin"] == blocks.size and table.attrs["kind"] == "binary"
    assert (table["consistency_low"] <= table["consistency_high"]).all()
    dec = bs.score_decomposition(y, p)
    assert table.attrs["brier_miscalibration"] == pytest.approx(float(dec["miscalibration"]))
    again = bs.reliability_table(y, p, strategy="pav", level=0.9, n_resamples=100)
    other = bs.reliability_table(y, p, strategy="pav", level=0.9, n_resamples=100, random_seed=1)
    xr.testing.assert_identical(table, again)
    assert not np.array_equal(table["consistency_low"], other["consistency_low"])


def test_consistency_band_is_the_null_distribution_computed_by_hand():
    # Two distinct forecasts of 40 observations each. Under calibration their frequencies
    # are Binomial(40, x) / 40; PAV of two equal-weight values pools them when decreasing.
    rng = np.random.default_rng(7)
    p = np.repeat([0.3, 0.6], 40)
    y = (rng.random(80) < p).astype(int)
    table = bs.reliability_table(y, p, strategy="pav", level=0.8, n_resamples=4000)
    f = np.random.default_rng(11).binomial(40, [0.3, 0.6], size=(4000, 2)) / 40
    fitted = np.where((f[:, 0] > f[:, 1])[:, None], f.mean(1)[:, None], f)
    for b, x in enumerate(table["confidence"].values):
        # The curve is linear between the two forecasts.
        t = (x - 0.3) / 0.3
        low, high = np.quantile((1 - t) * fitted[:, 0] + t * fitted[:, 1], [0.1, 0.9])
        assert table["consistency_low"].values[b] == pytest.approx(low, abs=0.03)
        assert table["consistency_high"].values[b] == pytest.approx(high, abs=0.03)


def _inside_fraction(truth, n, sims=50, n_resamples=300):
    fractions = []
    for s in range(sims):
        rng = np.random.default_rng(1000 + s)
        p = rng.uniform(0, 1, n)
        y = (rng.random(n) < truth(p)).astype(int)
        t = bs.reliability_table(
            y, p, strategy="pav", level=0.9, n_resamples=n_resamples, random_seed=s
        )
        acc = t["accuracy"].values
        inside = (acc >= t["consistency_low"].values) & (acc <= t["consistency_high"].values)
        fractions.append(inside.mean())
    return float(np.mean(fractions))


def test_consistency_band_covers_a_calibrated_forecaster_and_not_an_overconfident_one():
    # Measured on this tree: calibrated 0.95, over-confident 0.34 (n = 1000, 50 sims).
    calibrated = _inside_fraction(lambda p: p, n=1000)
    overconfident = _inside_fraction(lambda p: 0.5 + 0.5 * (p - 0.5), n=1000)
    assert calibrated >= 0.85
    assert overconfident <= 0.5


def test_classwise_pav_table_pads_classes_with_fewer_blocks():
    rng = np.random.default_rng(8)
    probs = np.round(rng.dirichlet([1, 1, 1], size=200), 2)
    probs[:, 2] = np.round(1 - probs[:, 0] - probs[:, 1], 2)
    y = rng.integers(0, 3, 200)
    table = bs.reliability_table(
        np.array(["x", "y", "z"])[y], probs, strategy="pav", classwise=True,
        labels=["x", "y", "z"], n_resamples=50,
    )  # fmt: skip
    assert table["class"].values.tolist() == ["x", "y", "z"]
    for k, name in enumerate("xyz"):
        row = table.sel({"class": name})
        filled = row["count"].values > 0
        blocks = np.unique(_sklearn_recal(probs[:, k], (y == k) * 1.0))
        np.testing.assert_allclose(row["accuracy"].values[filled], blocks, atol=1e-12)
        assert np.isnan(row["accuracy"].values[~filled]).all()
        assert row["count"].values.sum() == 200


def test_posterior_band_is_each_draws_isotonic_curve_at_the_table_forecasts():
    y, da = _draws(2, n_draws=5)
    table = bs.reliability_table(y, da, strategy="pav", level=0.8, n_resamples=50)
    mean = da.mean(("chain", "draw"))
    plain = bs.reliability_table(y, mean, strategy="pav", level=0.8, n_resamples=50)
    np.testing.assert_allclose(table["accuracy"], plain["accuracy"], atol=1e-12)
    at = table["confidence"].values
    curves = []
    for c in range(2):
        for d in range(5):
            p = da.isel(chain=c, draw=d).values
            yi = np.searchsorted(["a", "b", "c"], y)
            conf, correct = p.max(1), (p.argmax(1) == yi) * 1.0
            iso = IsotonicRegression(out_of_bounds="clip").fit(conf, correct)
            curves.append(iso.predict(at))
    low, high = np.quantile(curves, [0.1, 0.9], axis=0)
    np.testing.assert_allclose(table["posterior_low"].values, low, atol=1e-12)
    np.testing.assert_allclose(table["posterior_high"].values, high, atol=1e-12)
    assert table.attrs["n_draws"] == 10


def test_binned_strategies_are_unchanged_for_probabilities():
    y, p = _binary_data(9)
    table = bs.reliability_table(y, p, n_bins=5)
    assert table.sizes["bin"] == 5 and "accuracy_low" in table and "posterior_low" not in table


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_binned_tables_of_draws_are_the_mean_forecasts_with_each_draws_accuracy_band(strategy):
    y, da = _draws(3)
    table = bs.reliability_table(y, da, n_bins=6, strategy=strategy, level=0.8)
    mean = da.mean(("chain", "draw"))
    plain = bs.reliability_table(y, mean, n_bins=6, strategy=strategy, level=0.8)
    for var in ("lower", "upper", "count", "confidence", "accuracy", "accuracy_low"):
        np.testing.assert_allclose(table[var], plain[var], atol=1e-12)
    assert table.attrs["n_draws"] == 12 and table.attrs["ece"] == plain.attrs["ece"]
    # Independently: each draw's top-label forecasts put in the table's bins by comparing
    # with the edges one by one, its accuracy per bin, then the 10 % and 90 % quantiles.
    yi = np.searchsorted(["a", "b", "c"], y)
    edges = table["lower"].values.tolist() + [1.0]
    per_draw = []
    for p in da.values.reshape(12, 120, 3):
        conf, correct = p.max(1), (p.argmax(1) == yi) * 1.0
        acc = []
        for b in range(6):
            lo, hi = edges[b], edges[b + 1]
            if strategy == "uniform":  # b/B < c <= (b+1)/B, bin 0 also holds 0
                inside = ((conf > lo) | (b == 0)) & (conf <= hi)
            else:  # edges are each bin's first forecast: lo <= c < hi, the last bin holds 1
                inside = (conf >= lo) & ((conf < hi) | (b == 5))
            acc.append(correct[inside].mean() if inside.any() else np.nan)
        per_draw.append(acc)
    per_draw = np.array(per_draw)
    for b in range(6):
        got = per_draw[:, b][~np.isnan(per_draw[:, b])]
        if got.size == 0:
            assert np.isnan(table["posterior_low"][b]) and np.isnan(table["posterior_high"][b])
            continue
        low, high = np.quantile(got, [0.1, 0.9])
        assert table["posterior_low"][b] == pytest.approx(low, abs=1e-12)
        assert table["posterior_high"][b] == pytest.approx(high, abs=1e-12)
    assert np.isfinite(table["posterior_low"]).sum() >= 3


# ------------------------------------------------------------------ plot


def test_reliability_diagram_draws_the_pav_step_curve_and_bands():
    y, p = _binary_data(12, n=300)
    ax = bs.reliability_diagram(y, p, strategy="pav", n_resamples=100, level=0.9)
    table = bs.reliability_table(y, p, strategy="pav", n_resamples=100, level=0.9)
    handles, labels = ax.get_legend_handles_labels()
    curve = handles[next(i for i, lab in enumerate(labels) if lab.startswith("model"))]
    np.testing.assert_array_equal(curve.get_ydata(), np.repeat(table["accuracy"].values, 2))
    np.testing.assert_array_equal(
        curve.get_xdata(), np.column_stack([table["lower"], table["upper"]]).ravel()
    )
    band = handles[labels.index("90% consistency band (calibrated)")]
    vertices = band.get_paths()[0].vertices
    for x, lo, hi in zip(
        table["confidence"].values,
        table["consistency_low"].values,
        table["consistency_high"].values,
        strict=True,
    ):
        assert np.isclose(vertices, [x, lo]).all(1).any()
        assert np.isclose(vertices, [x, hi]).all(1).any()
    assert not any("posterior" in lab for lab in labels)
    # Binary diagrams name the regions by the direction of the error, not by confidence.
    assert any(t.get_text().startswith("forecast too low") for t in ax.texts)
    bars = [b.get_height() for b in ax.patches if b.get_width() > 0 and b.get_height() > 0]
    assert sum(bars) == pytest.approx(0.25)  # shares of forecasts, drawn at height / 4
    plt.close("all")

    y3, da = _draws(4, n_draws=4)
    ax = bs.reliability_diagram(y3, da, strategy="pav", n_resamples=50)
    labels = ax.get_legend_handles_labels()[1]
    assert "90% posterior band (over draws)" in labels
    plt.close("all")


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: bs.score_decomposition([0, 1], [0.2, 0.7], score="crps"),
            r"'score' parameter of score_decomposition must be one of \('brier', 'log'\)",
        ),
        (
            lambda: bs.score_decomposition([0, 1], [0.2, 0.7], multiclass="ovr"),
            r"'multiclass' parameter of score_decomposition must be one of",
        ),
        (
            lambda: bs.score_decomposition([0, 1], [0.2, 0.7], level=1.0),
            r"'level' parameter of score_decomposition must be a real number in \(0, 1\)",
        ),
        (
            lambda: bs.reliability_table([0, 1], [0.2, 0.7], strategy="pav", n_resamples=1),
            r"'n_resamples' parameter of reliability_table must be an int >= 2. Got 1",
        ),
        (
            lambda: bs.reliability_table([0, 1], [0.2, 0.7], strategy="isotonic"),
            r"'strategy' parameter of reliability_table must be one of "
            r"\('uniform', 'quantile', 'pav'\)",
        ),
        (
            lambda: bs.reliability_table([0, 1], [0.2, 0.7], strategy="pav", level=0),
            r"'level' parameter of reliability_table must be a real number in \(0, 1\)",
        ),
    ],
)
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_expected_calibration_error_does_not_accept_pav():
    with pytest.raises(ValueError, match="'strategy' parameter of expected_calibration_error"):
        bs.expected_calibration_error([0, 1], [0.2, 0.7], strategy="pav")


def test_classwise_binned_tables_of_draws_band_each_class_one_vs_rest():
    y, da = _draws(4)
    table = bs.reliability_table(y, da, n_bins=4, classwise=True, level=0.5)
    plain = bs.reliability_table(y, da.mean(("chain", "draw")), n_bins=4, classwise=True)
    assert table["class"].values.tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(table["accuracy"], plain["accuracy"], atol=1e-12)
    for k, name in enumerate(["a", "b", "c"]):
        freq = []
        for p in da.values.reshape(12, 120, 3):
            b = np.clip(np.ceil(p[:, k] * 4).astype(int) - 1, 0, 3)  # b/4 < p <= (b+1)/4
            hit = y == name
            freq.append([hit[b == j].mean() if (b == j).any() else np.nan for j in range(4)])
        freq = np.array(freq)
        for j in range(4):
            got = freq[:, j][~np.isnan(freq[:, j])]
            if got.size:
                low, high = np.quantile(got, [0.25, 0.75])
                assert float(table["posterior_low"].sel({"class": name})[j]) == pytest.approx(low)
                assert float(table["posterior_high"].sel({"class": name})[j]) == pytest.approx(
                    high
                )
