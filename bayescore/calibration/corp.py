r"""CORP: PAV reliability tables with consistency bands, and the CORP score decomposition.

Dimitriadis, Gneiting & Jordan (2021), "Stable reliability diagrams for probabilistic
classifiers", PNAS 118: e2016191118. The recalibrated forecast :math:`\hat x` is the
isotonic (PAV) regression of the binary outcomes on the forecasts, ties pooled; it bins
optimally and reproducibly, so no ``n_bins`` is needed. For a proper score :math:`S`, means
over observations :math:`\bar S`, and climatology :math:`\bar o`:

.. math::

    \bar S(x) = \underbrace{\bar S(x) - \bar S(\hat x)}_{\mathrm{MCB}}
    - \underbrace{(\bar S(\bar o) - \bar S(\hat x))}_{\mathrm{DSC}}
    + \underbrace{\bar S(\bar o)}_{\mathrm{UNC}}.

What is recalibrated, by the number of classes and ``multiclass``:

- **binary** (two classes): the probability of the second class (the positive class, the
  column of index 1) against ``[y = second class]``;
- **top-label** (three or more classes, the default): confidence :math:`c_n = \max_k p_{nk}`
  against correct :math:`= [\arg\max_k p_{nk} = y_n]`;
- **classwise** (on request, any number of classes): every class one-vs-rest,
  :math:`p_{nk}` against :math:`[y_n = k]`; decompositions are summed over classes.

Posterior draws are judged through their posterior-predictive mean forecast, with the
spread over draws reported beside it.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._array import binning
from bayescore._array.corp import (
    SCORES,
    consistency_band,
    curve_at,
    decompose,
    pav_blocks,
)
from bayescore._datatree import as_probability_input
from bayescore._inputs import prepare, prepare_draws, reduce_draws, wrap
from bayescore._names import BIN, CLASS, OBS, SAMPLE
from bayescore._validation import LEVEL, Interval, Options, validate_params

__all__ = [
    "ForecastInput",
    "Forecasts",
    "corp_forecasts",
    "corp_table",
    "positive_class",
    "read_forecasts",
    "score_decomposition",
]

Floats = NDArray[np.float64]
MULTICLASS = Options(("top-label", "classwise"))
N_RESAMPLES = Interval(numbers.Integral, 2, None, "left")
#: The four parts of a decomposition, in the order of :class:`Decomposition`.
PARTS = ("score", "miscalibration", "discrimination", "uncertainty")


class Forecasts(NamedTuple):
    """The binary problems CORP recalibrates: forecasts and 0/1 outcomes, ``(M, n_obs)``.

    ``M`` is 1 (binary, top-label) or the number of classes (classwise); ``kind`` says
    which, ``classes`` labels the rows of classwise problems (labels, else column indices).
    """

    forecast: Floats
    outcome: Floats
    kind: str
    classes: np.ndarray | None


def _kind(n_classes: int, multiclass: str) -> str:
    if multiclass == "classwise":
        return "classwise"
    return "binary" if n_classes == 2 else "top-label"


def _sets(values: Floats, y_idx: NDArray[np.int64], kind: str) -> tuple[Floats, Floats]:
    """(M, N) forecasts and outcomes of one ``(N, K)`` set of probabilities."""
    if kind == "binary":
        return values[None, :, 1], (y_idx == 1).astype(np.float64)[None]
    if kind == "top-label":
        conf, correct = binning.top_label(values, y_idx)
        return np.asarray(conf, dtype=np.float64)[None], correct[None]
    k = np.arange(values.shape[1])
    return np.ascontiguousarray(values.T), (y_idx[None, :] == k[:, None]).astype(np.float64)


def _holds_draws(obj: Any) -> bool:
    """Posterior draws: a DataArray with dims besides obs/class, or an array of ndim >= 3."""
    if isinstance(obj, xr.DataArray):
        return any(d not in (OBS, CLASS) for d in obj.dims)
    return bool(np.ndim(obj) >= 3)


class ForecastInput(NamedTuple):
    """Probabilities or draws read for calibration: the forecast judged, and the draws.

    ``mean`` is the ``(N, K)`` point forecast, or the posterior-predictive mean of draws;
    ``draws`` the prepared draws (:class:`~bayescore._inputs.PreparedDraws`), None for
    point forecasts; ``classes`` the known class labels (None when only positions are).
    """

    mean: Floats
    y_idx: NDArray[np.int64]
    classes: np.ndarray | None
    draws: Any


def read_forecasts(y: Any, probs: Any, labels: Any = None, name: str = "probs") -> ForecastInput:
    """Point probabilities or posterior draws, validated, with their mean forecast.

    The one reading of forecasts for the reliability tables (binned and PAV) and the CORP
    decomposition: draws are a DataArray with dims besides ``obs``/``class`` or an array
    of 3 or more dims, checked row by row while their mean is taken.

    Examples
    --------
    >>> f = read_forecasts([0, 1], np.array([[[0.8, 0.2], [0.4, 0.6]], [[0.6, 0.4], [0.2, 0.8]]]))
    >>> f.mean.tolist(), f.draws.n_draws
    ([[0.7, 0.3], [0.30000000000000004, 0.7]], 2)
    """
    if _holds_draws(probs):
        d = prepare_draws(y, probs, labels=labels, name=name)
        sums = reduce_draws(d, frozenset({"probs"}), name=name)  # checks every row
        assert d.y_idx is not None and sums.probs is not None
        return ForecastInput(np.asarray(sums.probs / sums.n_draws), d.y_idx, d.classes, d)
    p = prepare(y, probs, labels=labels, name=name)
    assert p.y_idx is not None
    return ForecastInput(p.values, p.y_idx, p.classes, None)


def positive_class(classes: np.ndarray | None) -> Any:
    """The label of a binary problem's positive class (column 1); None when not known.

    Examples
    --------
    >>> positive_class(np.array(["benign", "malignant"])), positive_class(None)
    ('malignant', None)
    """
    if classes is None:
        return None
    label = classes[1]
    return label.item() if isinstance(label, np.generic) else label


def corp_forecasts(
    y: Any, probs: Any, *, labels: Any = None, multiclass: str = "top-label"
) -> Forecasts:
    """The forecasts and outcomes that CORP recalibrates (see the module docstring).

    Parameters
    ----------
    y, probs, labels, multiclass
        As in :func:`score_decomposition`; draws give their posterior-predictive mean.

    Returns
    -------
    Forecasts

    Examples
    --------
    >>> f = corp_forecasts([0, 2], [[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]])
    >>> f.kind, f.forecast.tolist(), f.outcome.tolist()
    ('top-label', [[0.7, 0.4]], [[1.0, 1.0]])
    """
    MULTICLASS.check("multiclass", multiclass, "corp_forecasts")
    inp = read_forecasts(y, probs, labels)
    kind = _kind(inp.mean.shape[1], multiclass)
    forecast, outcome = _sets(inp.mean, inp.y_idx, kind)
    classes = None
    if kind == "classwise":
        classes = inp.classes if inp.classes is not None else np.arange(inp.mean.shape[1])
    return Forecasts(forecast, outcome, kind, classes)


# ------------------------------------------------------------------ decomposition


def _decompose(values: Floats, y_idx: NDArray[np.int64], kind: str, score: str) -> Floats:
    """The four parts (summed over one-vs-rest problems) of one ``(N, K)`` forecast."""
    forecast, outcome = _sets(values, y_idx, kind)
    return np.sum([decompose(f, o, score) for f, o in zip(forecast, outcome, strict=True)], 0)


@validate_params({"score": Options(tuple(SCORES)), "multiclass": MULTICLASS, "level": LEVEL})
def score_decomposition(
    y: Any,
    probs_or_draws: Any,
    score: str = "brier",
    *,
    labels: Any = None,
    multiclass: str = "top-label",
    level: float = 0.95,
    var_name: str | None = None,
    group: str | None = None,
) -> xr.Dataset:
    r"""CORP decomposition of the Brier or log score: score = MCB - DSC + UNC.

    .. math::

        \mathrm{MCB} = \bar S(x) - \bar S(\hat x),\quad
        \mathrm{DSC} = \bar S(\bar o) - \bar S(\hat x),\quad
        \mathrm{UNC} = \bar S(\bar o),

    with :math:`\hat x` the PAV recalibration of the outcomes on the forecasts (ties
    pooled) and :math:`\bar o` the outcome frequency (Dimitriadis, Gneiting & Jordan 2021).
    MCB >= 0 and DSC >= 0 always; the identity holds to rounding (1e-12).

    Parameters
    ----------
    y : array-like of shape (n_obs,)
        Labels, matched by value against ``labels`` or the ``class`` coordinate.
    probs_or_draws : array-like or DataArray
        Probabilities ``(n_obs, n_classes)`` or ``(n_obs,)`` (binary, positive class), or
        posterior draws ``(S, n_obs, n_classes)`` / ``(C, D, n_obs, n_classes)`` or a
        DataArray ``(chain, draw, obs, class)``.
    score : {"brier", "log"}, default "brier"
        Brier :math:`(x - o)^2` or log score :math:`-o\log x - (1 - o)\log(1 - x)` (nats;
        :math:`0 \log 0 = 0`, so recalibrated values of exactly 0 or 1 are exact; a
        forecast of 0 for an outcome that happened gives ``inf``, as ``log_loss(eps=0)``).
    labels : array-like, optional
        The class of each column.
    multiclass : {"top-label", "classwise"}, default "top-label"
        Three or more classes: recalibrate the confidence against correctness (top-label),
        or each class one-vs-rest and sum the four parts over classes (classwise). Two
        classes are one binary problem on the second class's probability unless
        ``"classwise"`` asks for both one-vs-rest problems. (For two classes the binary
        score equals the top-label score; only the recalibration differs.)
    level : float in (0, 1), default 0.95
        Equal-tailed interval of the per-draw values (draws only).
    var_name, group : str, optional
        With an ArviZ result (``xarray.DataTree`` from PyMC or Bambi) as
        ``probs_or_draws``: the variable of class probabilities and the group holding it
        (default: ``predictions``, then ``posterior``), as :func:`bayescore.score`.

    Returns
    -------
    Dataset
        ``score`` (mean score, lower is better), ``miscalibration`` (MCB, lower is
        better), ``discrimination`` (DSC, higher is better), ``uncertainty`` (UNC), 0-d.
        For draws these four decompose the posterior-predictive mean forecast, and every
        part also comes per draw as ``<part>_draws`` (the draw dims and coords of a
        DataArray, else dim ``sample``) with its interval ``<part>_low``/``<part>_high``
        over draws (each draw recalibrated on its own). Attrs: ``score``, ``kind``
        ("binary", "top-label" or "classwise"), ``n_obs``, ``units``; draws add
        ``n_draws`` and ``level``.

    See Also
    --------
    reliability_table : ``strategy="pav"`` shows the recalibration itself.
    brier_decomposition : Murphy's binned decomposition.

    Examples
    --------
    >>> out = score_decomposition([0, 1, 0, 1], [0.1, 0.4, 0.4, 0.9])
    >>> [round(float(out[v]), 4) for v in ("score", "miscalibration", "discrimination")]
    [0.135, 0.01, 0.125]
    >>> float(out["miscalibration"] - out["discrimination"] + out["uncertainty"])
    0.135
    """
    probs_or_draws = as_probability_input(
        probs_or_draws,
        var_name=var_name,
        group=group,
        n_obs=len(y) if hasattr(y, "__len__") else None,
        func="score_decomposition",
    )
    inp = read_forecasts(y, probs_or_draws, labels, "probs_or_draws")
    kind = _kind(inp.mean.shape[1], multiclass)
    parts = _decompose(inp.mean, inp.y_idx, kind, score)
    data: dict[str, Any] = dict(zip(PARTS, (float(v) for v in parts), strict=True))
    attrs: dict[str, Any] = {
        "score": score,
        "kind": kind,
        "n_obs": int(inp.y_idx.size),
        "units": "nats" if score == "log" else "squared probability",
    }
    d = inp.draws
    if d is not None:
        per_draw = np.array(
            [_decompose(np.asarray(d.values[s], np.float64), inp.y_idx, kind, score)
             for s in range(d.n_draws)]
        )  # fmt: skip
        alpha = (1 - level) / 2
        for j, name in enumerate(PARTS):
            data[f"{name}_draws"] = _over_draws(per_draw[:, j], d, f"{name}_draws")
            low, high = np.quantile(per_draw[:, j], [alpha, 1 - alpha])
            data[f"{name}_low"], data[f"{name}_high"] = float(low), float(high)
        attrs.update(n_draws=d.n_draws, level=level)
    return xr.Dataset(data, attrs=attrs)


def _over_draws(values: Floats, d: Any, name: str) -> xr.DataArray:
    """Per-draw values on the draw dims of a DataArray, else on dim ``sample``."""
    if d.template is not None and d.draw_dims:
        shape = tuple(d.template.sizes[dim] for dim in d.draw_dims)
        out: xr.DataArray = wrap(values.reshape(shape), d.template, name, dims=d.draw_dims)
        return out
    return xr.DataArray(values, dims=(SAMPLE,), name=name)


# ------------------------------------------------------------------ reliability table


def _block_table(
    forecast: Floats, outcome: Floats, level: float, n_resamples: int, rng: np.random.Generator
) -> xr.Dataset:
    curve = binning.pav_curve(forecast, outcome)
    blocks = pav_blocks(curve)
    low, high = consistency_band(curve, blocks.mean_forecast, level, n_resamples, rng)
    return xr.Dataset(
        {
            "lower": ((BIN,), blocks.lower),
            "upper": ((BIN,), blocks.upper),
            "count": ((BIN,), blocks.n),
            "confidence": ((BIN,), blocks.mean_forecast),
            "accuracy": ((BIN,), blocks.value),
            "gap": ((BIN,), blocks.value - blocks.mean_forecast),
            "consistency_low": ((BIN,), low),
            "consistency_high": ((BIN,), high),
        },
        coords={BIN: np.arange(blocks.value.size)},
    )


def _posterior_band(
    d: Any,
    y_idx: NDArray[np.int64],
    kind: str,
    at: list[Floats],
    level: float,
) -> tuple[list[Floats], list[Floats]]:
    """Each draw's PAV curve at the table's forecasts ``at[m]``; equal-tailed quantiles."""
    curves = [np.empty((d.n_draws, a.size)) for a in at]
    for s in range(d.n_draws):
        forecast, outcome = _sets(np.asarray(d.values[s], np.float64), y_idx, kind)
        for m, (f, o) in enumerate(zip(forecast, outcome, strict=True)):
            c = binning.pav_curve(f, o)
            curves[m][s] = curve_at(at[m], c.x, c.fitted)
    alpha = (1 - level) / 2
    lows = [np.quantile(c, alpha, axis=0) for c in curves]
    highs = [np.quantile(c, 1 - alpha, axis=0) for c in curves]
    return lows, highs


@validate_params({"multiclass": MULTICLASS, "level": LEVEL, "n_resamples": N_RESAMPLES})
def corp_table(
    y: Any,
    probs: Any,
    *,
    labels: Any = None,
    multiclass: str = "top-label",
    level: float = 0.95,
    n_resamples: int = 1000,
    random_seed: int | None = 0,
) -> xr.Dataset:
    """The CORP reliability table: one row per PAV block, with consistency bands.

    Called by :func:`~bayescore.calibration.metrics.reliability_table` for
    ``strategy="pav"``; see there for the parameters and the variables returned
    (``classwise=True`` there is ``multiclass="classwise"`` here).

    Examples
    --------
    >>> t = corp_table([0, 1, 0, 1], [0.1, 0.4, 0.4, 0.9], n_resamples=50)
    >>> t["accuracy"].values.tolist(), t["count"].values.tolist()
    ([0.0, 0.5, 1.0], [1.0, 2.0, 1.0])
    """
    inp = read_forecasts(y, probs, labels)
    kind = _kind(inp.mean.shape[1], multiclass)
    forecast, outcome = _sets(inp.mean, inp.y_idx, kind)
    rng = np.random.default_rng(random_seed)
    tables = [
        _block_table(f, o, level, n_resamples, rng) for f, o in zip(forecast, outcome, strict=True)
    ]
    d = inp.draws
    if d is not None:
        at = [t["confidence"].values for t in tables]
        lows, highs = _posterior_band(d, inp.y_idx, kind, at, level)
        tables = [
            t.assign(posterior_low=((BIN,), lo), posterior_high=((BIN,), hi))
            for t, lo, hi in zip(tables, lows, highs, strict=True)
        ]
    brier = np.sum([decompose(f, o, "brier") for f, o in zip(forecast, outcome, strict=True)], 0)
    attrs: dict[str, Any] = {
        "strategy": "pav",
        "kind": kind,
        "n_obs": int(inp.y_idx.size),
        "level": level,
        "n_resamples": n_resamples,
        **{f"brier_{name}": float(v) for name, v in zip(PARTS, brier, strict=True)},
    }
    if d is not None:
        attrs["n_draws"] = d.n_draws
    if kind == "binary" and inp.classes is not None:
        attrs["positive_class"] = positive_class(inp.classes)
    if kind != "classwise":
        out = tables[0]
    else:
        classes = inp.classes if inp.classes is not None else np.arange(inp.mean.shape[1])
        # Classes have different numbers of blocks: the shorter ones end in empty rows.
        out = xr.concat(tables, dim=CLASS, join="outer").assign_coords({CLASS: classes})
        out["count"] = out["count"].fillna(0.0)
    out.attrs = attrs
    return out
