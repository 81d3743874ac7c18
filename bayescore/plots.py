"""Plots: reliability diagrams, recalibration before/after, model comparison, ELBO trace.

Computation lives in :mod:`bayescore.calibration` and :mod:`bayescore.comparison`; these
functions only draw what those return. matplotlib is imported inside each function, and each
returns the Axes it drew on (pass ``ax=`` to draw into your own figure). Text from the user
(model names, class labels) is shown as written: a ``$`` in it is never read as mathtext.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayescore._array.binning import STRATEGIES
from bayescore._mpl import literal
from bayescore._names import VARIATIONAL, as_idata, has_group
from bayescore._validation import LEVEL, N_BINS, Options, validate_params
from bayescore.calibration.corp import N_RESAMPLES

__all__ = [
    "comparison_chart",
    "elbo_trace",
    "plot_reliability_table",
    "recalibration_plot",
    "reliability_diagram",
    "risk_coverage_plot",
    "table_shares",
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
        # The table's intervals contain each accuracy (binning.wilson clips them), so the
        # error bars are never negative.
        low = acc - table["accuracy_low"].values[filled]
        high = table["accuracy_high"].values[filled] - acc
        ax.errorbar(
            conf, acc, yerr=[low, high], fmt="o-", color=color, capsize=3, label=label, zorder=4
        )
    else:
        ax.plot(conf, acc, "o-", color=color, label=label, zorder=4)
    if intervals and "posterior_low" in table:
        band = filled & np.isfinite(table["posterior_low"].values)
        ax.fill_between(
            table["confidence"].values[band],
            table["posterior_low"].values[band],
            table["posterior_high"].values[band],
            facecolor="none",
            edgecolor=color,
            hatch="///",
            lw=0,
            label=f"{table.attrs['level']:.0%} posterior band (each draw's accuracy per bin)",
        )


@validate_params(
    {
        "n_bins": N_BINS,
        "strategy": Options((*STRATEGIES, "pav")),
        "level": LEVEL,
        "n_resamples": N_RESAMPLES,
    }
)
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
    level: float | None = None,
    n_resamples: int = 1000,
    random_seed: int | None = 0,
) -> Any:
    """Reliability diagram: binned with Wilson intervals, or the CORP (PAV) diagram.

    Points above the diagonal (accuracy > confidence) are **under-confident**, points below
    are over-confident; both regions are labelled.

    Binned (``strategy="uniform"``/``"quantile"``): top-label accuracy per bin with Wilson
    intervals; the legend shows the ECE. ``strategy="pav"`` draws the CORP diagram
    (Dimitriadis, Gneiting & Jordan 2021) from
    ``reliability_table(..., strategy="pav")``: the recalibrated frequency as a step curve
    (flat over each PAV block from its smallest to its largest forecast, joined linearly
    between blocks, a dot at each block's mean forecast), the ``level`` consistency band
    under calibration shaded, and the CORP Brier miscalibration in the legend. Binary
    problems plot the probability of the positive class (the second column, named on the
    axis), others the top-label confidence.

    Posterior draws (either strategy) are judged through their posterior-predictive mean
    forecast, and a hatched posterior band shows the spread over draws: each draw's own
    accuracy per bin, or its own PAV curve.

    The axes reach a little beyond [0, 1], so that a curve on 0 or 1 (a model that gets
    every row right) is drawn inside them, not hidden under their frame.

    Parameters
    ----------
    y, probs, n_bins, strategy, labels
        As in :func:`bayescore.reliability_table`: ``probs`` holds probabilities
        ``(n_obs, n_classes)`` / ``(n_obs,)`` or posterior draws ``(S, n_obs, n_classes)``
        / a DataArray ``(chain, draw, obs, class)``. With ``"pav"``, ``n_bins`` sets the
        bins of the forecast histogram.
    ax : matplotlib Axes, optional
    intervals : bool, default True
        Draw the Wilson intervals of each bin's accuracy (binned) or the consistency band
        (PAV), and the posterior band of draws.
    histogram : bool, default True
        Show the share of forecasts per bin along the bottom (bar height / 4).
    label : str
        Legend label of the model (shown as written: a ``$`` is not read as mathtext).
    level : float in (0, 1), optional
        Coverage of the intervals and bands: default 0.95 binned (Wilson intervals and
        posterior band), 0.9 for ``"pav"``.
    n_resamples : int, default 1000
        ``"pav"``: resamples behind the consistency band.
    random_seed : int, optional
        ``"pav"``: seed of the resampling.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(0)
    >>> draws = rng.dirichlet([4, 1], size=(20, 100))  # (S, N, K) posterior draws
    >>> ax = bs.reliability_diagram(rng.integers(0, 2, 100), draws, n_bins=5)
    >>> ax.get_xlabel()
    'confidence (mean predicted probability of the top class)'
    """
    from bayescore.calibration import reliability_table
    from bayescore.calibration.corp import corp_forecasts

    if level is None:
        level = 0.9 if strategy == "pav" else 0.95
    table = reliability_table(
        y, probs, n_bins=n_bins, strategy=strategy, labels=labels, level=level,
        n_resamples=n_resamples, random_seed=random_seed,
    )  # fmt: skip
    shares = None
    if histogram and strategy == "pav":
        forecast = corp_forecasts(y, probs, labels=labels).forecast[0]
        counts, edges = np.histogram(forecast, bins=n_bins, range=(0.0, 1.0))
        shares = (edges, counts / forecast.size)
    elif histogram:
        shares = table_shares(table)
    return plot_reliability_table(table, ax=ax, label=label, bands=intervals, shares=shares)


def table_shares(table: Any) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges and share of forecasts per bin of a binned reliability table.

    Examples
    --------
    >>> import bayescore as bs
    >>> table = bs.reliability_table([0, 1, 2], [[0.4, 0.3, 0.3], [0.1, 0.7, 0.2],
    ...                                          [0.2, 0.2, 0.6]], n_bins=2)
    >>> edges, share = table_shares(table)  # top-label confidences 0.4, 0.7 and 0.6
    >>> edges.tolist(), share.round(3).tolist()
    ([0.0, 0.5, 1.0], [0.333, 0.667])
    """
    count = table["count"].values
    edges = np.append(table["lower"].values, table["upper"].values[-1])
    return edges, count / count.sum()


def plot_reliability_table(
    table: Any,
    *,
    ax: Any = None,
    label: str = "model",
    bands: bool = True,
    shares: tuple[np.ndarray, np.ndarray] | None = None,
) -> Any:
    """Draw a reliability table made by :func:`bayescore.reliability_table`.

    Drawing only (the table holds every number): binned tables as points with their
    Wilson intervals, PAV tables as the CORP step curve with the consistency band; the
    posterior band of draws hatched; see :func:`reliability_diagram`, which computes the
    table and calls this.

    Parameters
    ----------
    table : Dataset
        From :func:`bayescore.reliability_table` (any strategy, not ``classwise``).
    ax : matplotlib Axes, optional
    label : str
        Legend label of the model (shown as written).
    bands : bool, default True
        Draw the intervals (binned) or the consistency band (PAV), and the posterior band.
    shares : (edges, share), optional
        Bin edges and share of forecasts per bin, drawn as bars along the bottom (height
        / 4); :func:`table_shares` gives them for a binned table.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(1)
    >>> p = rng.uniform(size=300)
    >>> y = np.where(rng.random(300) < p, "spam", "ham")
    >>> table = bs.reliability_table(y, p, strategy="pav", labels=["ham", "spam"])
    >>> ax = plot_reliability_table(table, label="filter")
    >>> ax.get_xlabel()
    "forecast probability of class 'spam'"
    """
    ax = _axes(ax)
    if table.attrs["strategy"] == "pav":
        _draw_pav(ax, table, label, bands)
    else:
        _frame(ax)
        name = f"{literal(label)} (ECE {table.attrs['ece']:.3f})"
        _draw_reliability(ax, table, name, "C0", bands)
    if shares is not None:
        edges, share = shares
        ax.bar(
            edges[:-1],
            np.asarray(share) * 0.25,
            width=np.diff(edges),
            align="edge",
            color="0.6",
            alpha=0.5,
            label="share of forecasts (bar height / 4)",
        )
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), fontsize=8)
    return ax


def _draw_pav(ax: Any, table: Any, label: str, bands: bool) -> None:
    binary = table.attrs["kind"] == "binary"
    _frame(ax, positive=_class_name(table.attrs) if binary else None)
    conf = table["confidence"].values
    level = table.attrs["level"]
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
    # Flat over each block [lower, upper], joined linearly to the next block (CORP). Above
    # the frame (zorder 3 > the spines' 2.5) and unclipped, with a dot per block, so that a
    # perfect model's curve along 0 and 1 stays in sight.
    xs = np.column_stack([table["lower"].values, table["upper"].values]).ravel()
    ax.plot(
        xs,
        np.repeat(table["accuracy"].values, 2),
        color="C0",
        lw=2,
        zorder=3,
        clip_on=False,
        label=f"{literal(label)} (CORP MCB {table.attrs['brier_miscalibration']:.4f}, Brier)",
    )
    ax.plot(conf, table["accuracy"].values, "o", color="C0", ms=4, zorder=3, clip_on=False)


#: How far the axes of a reliability diagram reach beyond [0, 1] on each side.
MARGIN = 0.03


def _class_name(attrs: Any) -> str:
    """How a binary table's positive class is named on an axis: its label, else its column."""
    if "positive_class" not in attrs:
        # Neither labels= nor a class coordinate: the classes are known by position only.
        return "the second column's class"
    label = attrs["positive_class"]
    return f"class '{literal(label)}'" if isinstance(label, str) else f"class {literal(label)}"


def _frame(ax, positive: str | None = None) -> None:
    """Diagonal, limits, labels and the two regions.

    Top-label diagrams: accuracy above confidence means the model could have been more
    confident. Binary diagrams of the positive-class probability (``positive``: that
    class's name on the axes): above the diagonal the forecast was too low,
    which is over-confidence below 1/2 and under-confidence above it, so the regions are
    named by the direction of the error instead.
    """
    ax.plot([0, 1], [0, 1], ls="--", color="0.4", lw=1, label="perfect calibration")
    ax.set_xlim(-MARGIN, 1 + MARGIN)
    ax.set_ylim(-MARGIN, 1 + MARGIN)
    if positive is not None:
        ax.set_xlabel(f"forecast probability of {positive}")
        ax.set_ylabel(f"observed frequency of {positive} (PAV recalibrated)")
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


@validate_params({"n_bins": N_BINS})
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

    Parameters
    ----------
    y, n_bins, labels
        As in :func:`reliability_diagram`.
    probs_before, probs_after : array-like or DataArray
        Probabilities or posterior draws before and after recalibration.
    ax : matplotlib Axes, optional

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

    The legend sits above the axes, where it covers no model's bars.

    Parameters
    ----------
    table : Dataset
        From :func:`bayescore.compare` (variables ``nll`` and ``d_nll`` over dim
        ``model``, best first; the SEs ``nll_se``/``d_nll_se``, or the older ``se``/
        ``d_se``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax, figsize=(6.0, 0.6 * table.sizes["model"] + 1.5))
    names = [literal(m) for m in table["model"].values]
    se, d_se = (_first(table, *keys) for keys in (("nll_se", "se"), ("d_nll_se", "d_se")))
    pos = np.arange(len(names))[::-1]
    ax.errorbar(
        table["nll"].values,
        pos,
        xerr=se,
        fmt="o",
        color="C0",
        capsize=3,
        label="NLL ± SE",
    )
    best = float(table["nll"].values[0])
    ax.errorbar(
        best + table["d_nll"].values[1:],
        pos[1:] - 0.2,
        xerr=d_se[1:],
        fmt="^",
        color="C1",
        capsize=3,
        label="best + difference ± paired SE",
    )
    ax.axvline(best, color="0.5", ls="--", lw=1)
    ax.set_yticks(pos, names)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlabel(f"held-out NLL ({table.attrs.get('units', 'nats')} per observation)")
    ax.legend(
        loc="lower left", bbox_to_anchor=(0.0, 1.01), ncols=2, fontsize=8, frameon=False,
        borderaxespad=0.0,
    )  # fmt: skip
    return ax


def _first(table: Any, *names: str) -> np.ndarray:
    """The first of ``names`` that ``table`` holds, as an array."""
    for name in names:
        if name in table:
            return np.asarray(table[name].values, dtype=np.float64)
    raise KeyError(f"the table holds none of {names}; available: {sorted(table.data_vars)}")


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
