"""Plots: reliability diagrams, recalibration before/after, model comparison, ELBO trace.

Computation lives in :mod:`bayescore.calibration` and :mod:`bayescore.compare`; these
functions only draw what those return. matplotlib is imported inside each function, and each
returns the Axes it drew on (pass ``ax=`` to draw into your own figure).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayescore._names import VARIATIONAL, as_idata, has_group

__all__ = [
    "comparison_chart",
    "elbo_trace",
    "recalibration_plot",
    "reliability_diagram",
    "risk_coverage_plot",
]


def _axes(ax: Any, figsize: tuple[float, float] = (5.0, 5.0)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _draw_reliability(ax, table, label: str, color: str, intervals: bool) -> None:
    filled = table["count"].values > 0
    conf = table["confidence"].values[filled]
    acc = table["accuracy"].values[filled]
    if intervals:
        low = acc - table["accuracy_low"].values[filled]
        high = table["accuracy_high"].values[filled] - acc
        ax.errorbar(conf, acc, yerr=[low, high], fmt="o-", color=color, capsize=3, label=label)
    else:
        ax.plot(conf, acc, "o-", color=color, label=label)


def reliability_diagram(
    y: Any,
    probs: Any,
    n_bins: int = 15,
    strategy: str = "uniform",
    *,
    labels: Any = None,
    ax: Any = None,
    intervals: bool = True,
    histogram: bool = True,
    label: str = "model",
    level: float = 0.9,
    n_resamples: int = 1000,
    random_seed: int | None = 0,
) -> Any:
    """Reliability diagram: binned with Wilson intervals, or the CORP (PAV) diagram.

    Points above the diagonal (accuracy > confidence) are **under-confident**, points below
    are over-confident; both regions are labelled.

    Binned (``strategy="uniform"``/``"quantile"``): top-label accuracy per bin with 95 %
    Wilson intervals; the legend shows the ECE. ``strategy="pav"`` draws the CORP diagram
    (Dimitriadis, Gneiting & Jordan 2021) from
    ``reliability_table(..., strategy="pav")``: the recalibrated frequency as a step curve
    (flat over each PAV block from its smallest to its largest forecast, joined linearly
    between blocks), the ``level`` consistency band under calibration shaded, the
    posterior band hatched when ``probs`` holds draws, and the CORP Brier miscalibration
    in the legend. Binary problems plot the positive-class probability, others the
    top-label confidence.

    Parameters
    ----------
    y, probs, n_bins, strategy, labels
        As in :func:`bayescore.reliability_table`; with ``"pav"``, ``probs`` may be
        posterior draws and ``n_bins`` sets the bins of the forecast histogram.
    ax : matplotlib Axes, optional
    intervals : bool, default True
        Draw 95 % Wilson intervals for each bin's accuracy (binned), or the bands (PAV).
    histogram : bool, default True
        Show the share of forecasts per bin along the bottom (bar height / 4).
    label : str
        Legend label of the model.
    level : float in (0, 1), default 0.9
        ``"pav"``: coverage of the consistency and posterior bands.
    n_resamples : int, default 1000
        ``"pav"``: resamples behind the consistency band.
    random_seed : int, optional
        ``"pav"``: seed of the resampling.

    Returns
    -------
    matplotlib Axes
    """
    from bayescore.calibration import reliability_table

    if strategy == "pav":
        return _pav_diagram(
            y, probs, n_bins, labels, ax, intervals, histogram, label, level, n_resamples,
            random_seed,
        )  # fmt: skip
    table = reliability_table(y, probs, n_bins=n_bins, strategy=strategy, labels=labels)
    ax = _axes(ax)
    _frame(ax)
    _draw_reliability(ax, table, f"{label} (ECE {table.attrs['ece']:.3f})", "C0", intervals)
    if histogram:
        share = table["count"].values / table["count"].values.sum()
        ax.bar(
            table["lower"].values,
            share * 0.25,
            width=table["upper"] - table["lower"],
            align="edge",
            color="0.6",
            alpha=0.5,
            label="share of rows (bar height / 4)",
        )
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), fontsize=8)
    return ax


def _pav_diagram(
    y: Any,
    probs: Any,
    n_bins: int,
    labels: Any,
    ax: Any,
    bands: bool,
    histogram: bool,
    label: str,
    level: float,
    n_resamples: int,
    random_seed: int | None,
) -> Any:
    from bayescore.calibration import reliability_table
    from bayescore.calibration.corp import corp_forecasts

    table = reliability_table(
        y, probs, strategy="pav", labels=labels, level=level, n_resamples=n_resamples,
        random_seed=random_seed,
    )  # fmt: skip
    ax = _axes(ax)
    _frame(ax, binary=table.attrs["kind"] == "binary")
    conf = table["confidence"].values
    if bands:
        ax.fill_between(
            conf,
            table["consistency_low"].values,
            table["consistency_high"].values,
            color="C1",
            alpha=0.25,
            lw=0,
            label=f"{level:.0%} consistency band (calibrated)",
        )
        if "posterior_low" in table:
            ax.fill_between(
                conf,
                table["posterior_low"].values,
                table["posterior_high"].values,
                facecolor="none",
                edgecolor="C0",
                hatch="///",
                lw=0,
                label=f"{level:.0%} posterior band (over draws)",
            )
    # Flat over each block [lower, upper], joined linearly to the next block (CORP).
    xs = np.column_stack([table["lower"].values, table["upper"].values]).ravel()
    ax.plot(
        xs,
        np.repeat(table["accuracy"].values, 2),
        color="C0",
        lw=2,
        label=f"{label} (CORP MCB {table.attrs['brier_miscalibration']:.4f}, Brier)",
    )
    if histogram:
        forecast = corp_forecasts(y, probs, labels=labels).forecast[0]
        counts, edges = np.histogram(forecast, bins=n_bins, range=(0.0, 1.0))
        ax.bar(
            edges[:-1],
            counts / forecast.size * 0.25,
            width=np.diff(edges),
            align="edge",
            color="0.6",
            alpha=0.5,
            label="share of forecasts (bar height / 4)",
        )
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), fontsize=8)
    return ax


def _frame(ax, binary: bool = False) -> None:
    """Diagonal, limits, labels and the two regions.

    Top-label diagrams: accuracy above confidence means the model could have been more
    confident. Binary diagrams of the positive-class probability: above the diagonal the
    forecast was too low, which is over-confidence below 1/2 and under-confidence above
    it, so the regions are named by the direction of the error instead.
    """
    ax.plot([0, 1], [0, 1], ls="--", color="0.4", lw=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    if binary:
        ax.set_xlabel("forecast probability of the positive class")
        ax.set_ylabel("observed frequency (PAV recalibrated)")
        above, below = (
            "forecast too low (frequency > forecast)",
            "forecast too high\n(frequency < forecast)",
        )
    else:
        ax.set_xlabel("confidence (mean predicted probability of the top class)")
        ax.set_ylabel("accuracy")
        above, below = (
            "under-confident (accuracy > confidence)",
            "over-confident\n(accuracy < confidence)",
        )
    ax.text(0.03, 0.95, above, color="C2", fontsize=9, transform=ax.transAxes, va="top")
    ax.text(
        0.97,
        0.30,
        below,
        color="C3",
        fontsize=9,
        transform=ax.transAxes,
        ha="right",
        va="top",
    )
    ax.fill_between([0, 1], [0, 1], [1, 1], color="C2", alpha=0.05)
    ax.fill_between([0, 1], [0, 0], [0, 1], color="C3", alpha=0.05)


def recalibration_plot(
    y: Any,
    probs_before: Any,
    probs_after: Any,
    n_bins: int = 15,
    *,
    labels: Any = None,
    ax: Any = None,
) -> Any:
    """Reliability curves before and after recalibration on the same axes.

    Returns
    -------
    matplotlib Axes
    """
    from bayescore.calibration import reliability_table

    ax = _axes(ax)
    _frame(ax)
    for probs, name, color in ((probs_before, "before", "C3"), (probs_after, "after", "C0")):
        table = reliability_table(y, probs, n_bins=n_bins, labels=labels)
        _draw_reliability(ax, table, f"{name} (ECE {table.attrs['ece']:.3f})", color, True)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), fontsize=8)
    return ax


def comparison_chart(table: Any, ax: Any = None) -> Any:
    """Held-out NLL per model with ±1 SE, and the paired difference to the best.

    Parameters
    ----------
    table : Dataset
        From :func:`bayescore.compare` (variables ``nll``, ``se``, ``d_nll``, ``d_se``
        over dim ``model``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax, figsize=(6.0, 0.6 * table.sizes["model"] + 1.5))
    names = [str(m) for m in table["model"].values]
    pos = np.arange(len(names))[::-1]
    ax.errorbar(
        table["nll"].values,
        pos,
        xerr=table["se"].values,
        fmt="o",
        color="C0",
        capsize=3,
        label="NLL ± SE",
    )
    best = float(table["nll"].values[0])
    ax.errorbar(
        best + table["d_nll"].values[1:],
        pos[1:] - 0.2,
        xerr=table["d_se"].values[1:],
        fmt="^",
        color="C1",
        capsize=3,
        label="best + difference ± paired SE",
    )
    ax.axvline(best, color="0.5", ls="--", lw=1)
    ax.set_yticks(pos, names)
    ax.set_xlabel(f"held-out NLL ({table.attrs.get('units', 'nats')} per observation)")
    ax.legend(fontsize=8)
    return ax


def elbo_trace(idata: Any, ax: Any = None, window: int = 100) -> Any:
    """ELBO history of an ADVI fit, with a running mean and the final estimate.

    Returns
    -------
    matplotlib Axes
    """
    idata = as_idata(idata)
    if not has_group(idata, VARIATIONAL):
        raise ValueError(
            "elbo_trace needs an ADVI fit (a DataTree with a 'variational' "
            "group from bayescore.fit(..., method='advi'))."
        )
    from bayescore.inference.record import VariationalRecord

    record = VariationalRecord.from_dataset(idata[VARIATIONAL].to_dataset())
    history = record.optimisation.history
    if history is None:
        raise ValueError(
            f"elbo_trace needs an ADVI fit; this {record.method} fit has no ELBO history."
        )
    ax = _axes(ax, figsize=(6.0, 3.5))
    ax.plot(history, color="0.7", lw=0.5, label="ELBO per step")
    if history.size >= window:
        running = np.convolve(history, np.ones(window) / window, mode="valid")
        ax.plot(
            np.arange(window - 1, history.size),
            running,
            color="C0",
            label=f"running mean ({window})",
        )
    final = record.parts.elbo
    ax.axhline(final, color="C3", ls="--", lw=1, label="final ELBO")
    lo = np.quantile(history, 0.05)
    ax.set_ylim(lo, max(history.max(), final) + 0.05 * abs(lo))
    ax.set_xlabel("iteration")
    ax.set_ylabel("ELBO (nats)")
    ax.legend(fontsize=8)
    return ax


def risk_coverage_plot(
    selective: Any, ax: Any = None, *, generalized: bool = False, baselines: bool = True
) -> Any:
    """Risk-coverage curves from :func:`bayescore.selective_risk`, with their baselines.

    Draws only what ``selective_risk`` computed: the selective risk (or, with
    ``generalized=True``, the generalised risk of Traub et al. 2024) against coverage, the
    posterior band over draws where there is one, and the oracle and random baselines.

    Parameters
    ----------
    selective : Dataset or dict of name -> Dataset
        From :func:`bayescore.selective_risk`; a dict overlays several models (the
        baselines of the first are drawn, as they depend on its scores).
    ax : matplotlib Axes, optional
    generalized : bool, default False
        Plot the generalised risk and label the AUGRC instead of the AURC.
    baselines : bool, default True
        Draw the oracle (rows sorted by their own score) and random-order baselines.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import bayescore as bs
    >>> sr = bs.selective_risk([0, 1, 1, 0], [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.4, 0.6]])
    >>> ax = bs.risk_coverage_plot(sr)
    >>> [line.get_label() for line in ax.get_lines()][:1]
    ['model (AURC 0.283)']
    """
    curves = selective if isinstance(selective, dict) else {"model": selective}
    if not curves:
        raise ValueError("risk_coverage_plot needs at least one selective_risk result.")
    ax = _axes(ax, figsize=(5.5, 4.0))
    prefix, area = ("generalized_risk", "augrc") if generalized else ("risk", "aurc")
    first = next(iter(curves.values()))
    for i, (name, sr) in enumerate(curves.items()):
        coverage = sr["coverage"].values
        label = f"{name} ({area.upper()} {float(sr[area]):.3g})"
        ax.plot(coverage, sr[prefix].values, color=f"C{i}", lw=1.5, label=label)
        if not generalized and "risk_lower" in sr:
            ax.fill_between(
                coverage,
                sr["risk_lower"].values,
                sr["risk_upper"].values,
                color=f"C{i}",
                alpha=0.15,
                lw=0,
                label=f"{name}: {sr.attrs['level']:.0%} over posterior draws",
            )
    if baselines:
        coverage = first["coverage"].values
        ax.plot(
            coverage,
            first[f"{prefix}_oracle"].values,
            color="0.3",
            ls=":",
            label=f"oracle ({area.upper()} {float(first[f'{area}_oracle']):.3g})",
        )
        ax.plot(
            coverage,
            first[f"{prefix}_random"].values,
            color="0.5",
            ls="--",
            label=f"random ({area.upper()} {float(first[f'{area}_random']):.3g})",
        )
    score = first.attrs.get("score", "score")
    kinds = {sr.attrs.get("by") for sr in curves.values()}
    by = f" by {kinds.pop()}" if len(kinds) == 1 else ""
    ax.set_xlabel(f"coverage (share of rows kept, most certain{by} first)")
    ax.set_ylabel(f"{'generalised' if generalized else 'selective'} risk ({score})")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=8)
    return ax
