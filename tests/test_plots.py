"""Plots are drawn from the computed tables and labelled the right way round."""

from __future__ import annotations

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
