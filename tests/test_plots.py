"""Plots are drawn from the computed tables and labelled the right way round."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayescore as bs


def _region_text(ax, word):
    return next(t for t in ax.texts if t.get_text().startswith(word))


def test_reliability_diagram_png_and_region_labels(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 1.0, 2000)
    y = (rng.random(2000) < p**3).astype(int)  # over-confident: accuracy below confidence
    probs = np.stack([1 - p, p], axis=1)
    ax = bs.reliability_diagram(y, probs, n_bins=10)
    path = tmp_path / "reliability.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 10_000 and path.read_bytes()[:4] == b"\x89PNG"
    under, over = _region_text(ax, "under-confident"), _region_text(ax, "over-confident")
    # Axes coordinates: the under-confident label sits above the diagonal, over below.
    ux, uy = under.get_position()
    ox, oy = over.get_position()
    assert uy > ux and oy < ox
    # Every plotted point of this over-confident model lies in the over-confident region.
    points = ax.lines[1].get_xydata()
    assert (points[:, 1] < points[:, 0]).all()
    table = bs.reliability_table(y, probs, n_bins=10)
    assert f"ECE {table.attrs['ece']:.3f}" in ax.get_legend_handles_labels()[1][1]


def test_recalibration_comparison_and_elbo_plots(tmp_path):
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    z = rng.normal(size=(500, 3)) * 4
    y = np.array([rng.choice(3, p=np.exp(r / 3) / np.exp(r / 3).sum()) for r in z])
    ts = bs.TemperatureScaling().fit(z, y)
    ax = bs.recalibration_plot(y, np.exp(z) / np.exp(z).sum(1, keepdims=True), ts.transform(z))
    labels = ax.get_legend_handles_labels()[1]
    assert any(lab.startswith("before") for lab in labels)
    assert any(lab.startswith("after") for lab in labels)
    table = bs.compare(
        {"tempered": ts.transform(z), "raw": np.exp(z) / np.exp(z).sum(1)[:, None]}, y
    )
    ax = bs.comparison_chart(table)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["tempered", "raw"]
    X = rng.normal(size=(80, 2))
    idata = bs.fit(
        bs.build_model(X, (X[:, 0] > 0).astype(int)), "advi", draws=50, random_seed=0, warn=False
    )
    ax = bs.elbo_trace(idata)
    assert ax.lines[0].get_ydata().size == idata.variational.attrs["n_iterations"]
    ax.figure.savefig(tmp_path / "elbo.png")
    plt.close("all")
    with pytest.raises(ValueError, match="needs an ADVI fit"):
        bs.elbo_trace(
            bs.fit(
                bs.build_model(X, (X[:, 0] > 0).astype(int)),
                draws=20,
                tune=20,
                chains=1,
                warn=False,
            )
        )


# ------------------------------------------------------------------ issue 23: plot bugs


def _errorbar_intervals(ax):
    """(x, y, lower end, upper end) of each point of the first errorbar on ``ax``."""
    container = next(c for c in ax.containers if hasattr(c, "has_yerr") and c.has_yerr)
    line, _, (bars,) = container
    x, y = line.get_xdata(), line.get_ydata()
    segments = np.array(bars.get_segments())  # (n, 2, 2): bottom and top of each bar
    return x, y, segments[:, :, 1].min(1), segments[:, :, 1].max(1)


def test_a_bin_the_model_gets_all_right_has_a_bar_reaching_exactly_1():
    # Confidence 0.93-0.99 and always right: the top bins' Wilson bound was 1 - 1e-16 < 1.
    rng = np.random.default_rng(3)
    conf = np.concatenate([rng.uniform(0.93, 0.99, 40), rng.uniform(0.55, 0.75, 60)])
    correct = np.concatenate([np.ones(40, bool), rng.random(60) < 0.6])
    y = np.where(correct, 1, 0)
    probs = np.stack([1 - conf, conf], axis=1)
    ax = bs.reliability_diagram(y, probs, n_bins=10)
    table = bs.reliability_table(y, probs, n_bins=10)
    filled = table["count"].values > 0
    x, acc, low, high = _errorbar_intervals(ax)
    np.testing.assert_allclose(x, table["confidence"].values[filled])
    np.testing.assert_allclose(acc, table["accuracy"].values[filled])
    assert np.all(low <= acc) and np.all(acc <= high)
    np.testing.assert_allclose(low, table["accuracy_low"].values[filled], atol=1e-12)
    np.testing.assert_allclose(high, table["accuracy_high"].values[filled], atol=1e-12)
    # The all-right bin 9 (0.9 < c <= 1): accuracy 1, Wilson interval [n / (n + z^2), 1].
    n, z = table["count"].values[9], 1.959963984540054
    assert (table["accuracy"].values[9], table["accuracy_high"].values[9]) == (1.0, 1.0)
    assert table["accuracy_low"].values[9] == pytest.approx(n / (n + z**2), rel=1e-12)


@pytest.mark.parametrize("kind", ["numpy", "xarray"])
def test_binned_diagram_of_draws_plots_the_mean_forecast_with_a_posterior_band(kind):
    import xarray as xr

    rng = np.random.default_rng(4)
    logits = rng.normal(size=(150, 3)) * 2 + 0.6 * rng.normal(size=(2, 40, 150, 3))
    draws = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in draws.mean((0, 1))])
    if kind == "numpy":
        probs = draws.reshape(80, 150, 3)
    else:
        probs = xr.DataArray(draws, dims=("chain", "draw", "obs", "class"))
    ax = bs.reliability_diagram(y, probs, n_bins=5, level=0.8)
    mean = draws.mean((0, 1))
    plain = bs.reliability_table(y, mean, n_bins=5, level=0.8)
    filled = plain["count"].values > 0
    x, acc, _, _ = _errorbar_intervals(ax)
    np.testing.assert_allclose(x, plain["confidence"].values[filled], atol=1e-12)
    np.testing.assert_allclose(acc, plain["accuracy"].values[filled], atol=1e-12)
    # The hatched band: per bin, 10 % and 90 % quantiles of each draw's accuracy there.
    band = next(c for c in ax.collections if c.get_hatch() == "///")
    vertices = band.get_paths()[0].vertices
    per_draw = []
    for p in draws.reshape(80, 150, 3):
        c, ok = p.max(1), p.argmax(1) == y
        b = np.clip(np.ceil(c * 5).astype(int) - 1, 0, 4)
        per_draw.append([ok[b == k].mean() if (b == k).any() else np.nan for k in range(5)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # bins no draw reaches
        low, high = np.nanquantile(np.array(per_draw), [0.1, 0.9], axis=0)
    xs = plain["confidence"].values[filled]
    for xv, lo, hi in zip(xs, low[filled], high[filled], strict=True):
        at = vertices[np.isclose(vertices[:, 0], xv)][:, 1]
        assert min(at) == pytest.approx(lo, abs=1e-12) and max(at) == pytest.approx(hi, abs=1e-12)
    assert any("posterior band" in t for t in ax.get_legend_handles_labels()[1])


def test_diagram_errors_name_the_diagram_not_the_table():
    y, p = np.array([0, 1]), np.array([0.2, 0.7])
    with pytest.raises(ValueError, match="'n_bins' parameter of reliability_diagram") as err:
        bs.reliability_diagram(y, p, n_bins=0)
    assert "reliability_table" not in str(err.value)
    with pytest.raises(ValueError, match="'strategy' parameter of reliability_diagram"):
        bs.reliability_diagram(y, p, strategy="isotonic")


def test_pav_diagram_names_the_positive_class_or_says_it_is_the_second_column():
    rng = np.random.default_rng(5)
    p = rng.uniform(size=200)
    y = np.where(rng.random(200) < p, "malignant", "benign")
    ax = bs.reliability_diagram(y, p, strategy="pav", labels=["benign", "malignant"])
    assert ax.get_xlabel() == "forecast probability of class 'malignant'"
    assert ax.get_ylabel() == "observed frequency of class 'malignant' (PAV recalibrated)"
    ax = bs.reliability_diagram((y == "malignant").astype(int), p, strategy="pav")
    assert ax.get_xlabel() == "forecast probability of the second column's class"


def test_a_perfect_models_pav_curve_is_drawn_inside_the_axes_above_the_frame():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 300)
    p = np.where(y == 1, rng.uniform(0.8, 1.0, 300), rng.uniform(0.0, 0.2, 300))
    ax = bs.reliability_diagram(y, p, strategy="pav")
    curve = next(line for line in ax.lines if "CORP MCB" in line.get_label())
    ys = curve.get_ydata()
    assert set(np.unique(ys)) == {0.0, 1.0}  # the whole curve lies on the border values
    low, high = ax.get_ylim()
    assert low < 0.0 and high > 1.0  # ... which are inside the axes, not on their frame
    spines = max(s.get_zorder() for s in ax.spines.values())
    assert curve.get_zorder() > spines and not curve.get_clip_on()


def test_comparison_legend_covers_no_error_bar():
    rng = np.random.default_rng(7)
    n = 400
    y = rng.integers(0, 2, n)
    good = np.where(y == 1, 0.8, 0.2)
    table = bs.compare({"good": good, "noisy": np.clip(good + rng.normal(0, 0.1, n), 0.01, 0.99),
                        "flat": np.full(n, 0.5)}, y)  # fmt: skip
    ax = bs.comparison_chart(table)
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    for container in ax.containers:
        for bar in container[2]:
            for segment in bar.get_segments():
                pts = ax.transData.transform(segment)
                assert not legend.overlaps(type(legend).from_extents(*pts.min(0), *pts.max(0))), (
                    "the legend covers an error bar"
                )
    assert legend.y0 >= ax.get_window_extent().y1  # above the axes


def test_mathtext_in_user_text_is_shown_as_written():
    import matplotlib.pyplot as plt

    name = r"$\frac{1$"
    rng = np.random.default_rng(8)
    p = rng.uniform(size=100)
    y = (rng.random(100) < p).astype(int)
    for ax in (
        bs.reliability_diagram(y, p, label=name),
        bs.reliability_diagram(y, p, strategy="pav", label=name),
        bs.reliability_diagram(
            np.where(y == 1, name, "b"), p, strategy="pav", labels=["b", name], label=name
        ),
    ):
        ax.figure.canvas.draw()  # raised "ValueError: ... ParseFatalException" before
        texts = [t for t in ax.get_legend().get_texts() if t.get_text().startswith(r"\$")]
        shown = [t._preprocess_math(t.get_text()) for t in texts]
        assert shown and all(s == (s[0], False) and s[0].startswith(name) for s in shown)
    assert ax.get_xlabel() == r"forecast probability of class '\$\frac{1\$'"
    table = bs.compare({name: p, "other": np.full(100, 0.5)}, y)
    ax = bs.comparison_chart(table)
    ax.figure.canvas.draw()
    ticks = [t._preprocess_math(t.get_text()) for t in ax.get_yticklabels()]
    assert (name, False) in ticks
    plt.close("all")
