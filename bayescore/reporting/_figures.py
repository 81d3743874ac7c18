"""The report's figures, drawn from prepared data as base64 PNG (drawing only).

Each function takes what :mod:`bayescore.reporting._prepare` computed and returns a PNG,
drawn on a matplotlib ``Figure`` of its own (the Agg canvas, no pyplot state, so reports can
be written from threads and never open a window). User text (model, class and feature
names) goes through :func:`bayescore._mpl.literal`: never read as mathtext.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from bayescore._mpl import literal
from bayescore.reporting._model import GRID, Classification, Coefficients

__all__ = ["comparison_png", "curves_png", "forest_png", "reliability_png", "uncertainty_png"]

#: Line styles of the data splits on the ROC / PR axes.
STYLES = {"scored": "-", "train": "--"}


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _png(fig: Any) -> str:
    """A matplotlib figure as a base64 PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def reliability_png(name: str, table: Any, shares: tuple[np.ndarray, np.ndarray]) -> str:
    """The CORP reliability diagram of one model (from its PAV table)."""
    from bayescore.plots import plot_reliability_table

    fig = _figure(5.2, 5.2)
    ax = fig.subplots()
    plot_reliability_table(table, ax=ax, label=name, shares=shares)
    ax.set_title(f"{literal(name)}: CORP reliability diagram", fontsize=10)
    return _png(fig)


def uncertainty_png(split: Any, correct: np.ndarray) -> str:
    """Histograms of the aleatoric and epistemic uncertainty, right and wrong stacked."""
    fig = _figure(9.0, 3.4)
    axes = fig.subplots(1, 2)
    for ax, part in zip(axes, ("aleatoric", "epistemic"), strict=True):
        values = split[part].values
        bins = np.histogram_bin_edges(values, bins=20)
        ax.hist(
            [values[correct], values[~correct]],
            bins=bins,
            stacked=True,
            color=["C0", "C3"],
            label=["correct", "wrong"],
        )
        ax.axvline(values.mean(), color="0.2", ls="--", lw=1, label=f"mean {values.mean():.3g}")
        ax.set_xlabel(f"{part} uncertainty ({split.attrs.get('units', 'nats')})")
        ax.set_ylabel("observations")
        ax.legend(fontsize=8)
    axes[0].set_title("aleatoric: expected entropy of the draws", fontsize=10)
    axes[1].set_title("epistemic: mutual information", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def comparison_png(table: Any) -> str:
    """The comparison chart of :func:`bayescore.comparison_chart`."""
    from bayescore.plots import comparison_chart

    fig = _figure(6.5, 0.6 * table.sizes["model"] + 1.6)
    comparison_chart(table, ax=fig.subplots())
    return _png(fig)


def forest_png(name: str, coef: Coefficients) -> str:
    """Coefficients per unit of each feature: posterior mean and interval, per class."""
    n_features = len(coef.features)
    columns = coef.mean.shape[1]
    fig = _figure(6.8, 0.32 * n_features * max(1, min(columns, 3) * 0.6) + 1.4)
    ax = fig.subplots()
    pos = np.arange(n_features)[::-1].astype(float)
    offsets = np.linspace(-0.25, 0.25, columns) if columns > 1 else np.zeros(1)
    for j in range(columns):
        label = None if coef.classes is None else f"class {literal(coef.classes[j])}"
        ax.errorbar(
            coef.mean[:, j],
            pos + offsets[j],
            xerr=[coef.mean[:, j] - coef.low[:, j], coef.high[:, j] - coef.mean[:, j]],
            fmt="o",
            ms=4,
            capsize=2,
            color=f"C{j}",
            label=label,
        )
    ax.axvline(0.0, color="0.5", lw=1, ls="--")
    ax.set_yticks(pos, [literal(f) for f in coef.features], fontsize=8)
    ax.set_ylim(-0.8, n_features - 0.2)
    ax.set_xlabel(
        f"coefficient per unit of the feature (mean, {coef.ci_prob:.0%} interval over draws)"
    )
    title = f"{literal(name)}: coefficients on the original feature scale"
    if coef.reference is not None:
        title += f"\n(log-odds against the reference class {literal(coef.reference)})"
    ax.set_title(title, fontsize=10)
    if coef.classes is not None:
        # Right of the axes: the title above may take two lines.
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _png(fig)


def curves_png(name: str, by_split: dict[str, Classification], titles: dict[str, str]) -> str:
    """ROC and precision-recall curves (one per class one-vs-rest), bands over draws."""
    fig = _figure(10.0, 4.4)
    roc, pr = fig.subplots(1, 2)
    for key, result in by_split.items():
        for j, curve in enumerate(result.curves):
            color = f"C{j}"
            who = f"{literal(curve.positive)}, {titles[key]}"
            r = curve.curve
            roc.plot(r.fpr, r.tpr, STYLES[key], color=color, lw=1.5,
                     label=f"{who}: AUC {r.auc:.3f}")  # fmt: skip
            recall = np.concatenate([[0.0], r.recall])
            precision = np.concatenate([[r.precision[0]], r.precision])
            pr.plot(recall, precision, STYLES[key], color=color, lw=1.5, drawstyle="steps-pre",
                    label=f"{who}: AP {r.ap:.3f}")  # fmt: skip
            if curve.tpr_band is not None and curve.precision_band is not None:
                roc.fill_between(GRID, *curve.tpr_band, color=color, alpha=0.15, lw=0)
                pr.fill_between(GRID, *curve.precision_band, color=color, alpha=0.15, lw=0,
                                step="pre")  # fmt: skip
            if key == "scored" and j == 0 and len(result.curves) == 1:
                pr.axhline(curve.prevalence, color="0.5", lw=1, ls=":",
                           label=f"no skill ({curve.prevalence:.2f})")  # fmt: skip
    roc.plot([0, 1], [0, 1], color="0.5", lw=1, ls=":", label="chance")
    roc.set_xlabel("false-positive rate")
    roc.set_ylabel("true-positive rate (recall)")
    pr.set_xlabel("recall")
    pr.set_ylabel("precision")
    for ax, what in ((roc, "ROC"), (pr, "precision-recall")):
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{literal(name)}: {what}", fontsize=10)
        ax.legend(fontsize=7, loc="lower left" if ax is pr else "lower right")
    fig.tight_layout()
    return _png(fig)
