"""The page: figures drawn from :class:`ReportData` and the Jinja2 template filled in.

The template (``templates/report.html.j2``) is autoescaped, with ``StrictUndefined`` so that
a name missing from the data fails loudly instead of leaving a blank. Numbers are shown
with four significant digits and carried at full precision in ``data-value`` attributes
(``repr`` round-trips), which is what the tests read back.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from bayescore.reporting import _figures
from bayescore.reporting._prepare import SCORED, SCORES, ReportData

__all__ = ["render_report"]


def _format(value: Any) -> str:
    """Four significant digits; NaN as a dash; bools as yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, numbers.Real):
        value = float(value)
        return "–" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def _exact(value: Any) -> str:
    """The full-precision value, for ``data-value`` attributes (``repr`` round-trips)."""
    return repr(float(value))


def _figures_of(data: ReportData) -> dict[str, Any]:
    """Every figure of the page as base64 PNG, by model name (and the comparison chart)."""
    titles = {s.key: s.key for s in data.splits}
    out: dict[str, Any] = {"models": {}}
    for m in data.models:
        figs: dict[str, str | None] = {
            "reliability": _figures.reliability_png(m.name, m.reliability, m.shares),
            "curves": _figures.curves_png(m.name, m.classification, titles),
            "forest": None,
            "uncertainty": None,
        }
        if m.coefficients is not None:
            figs["forest"] = _figures.forest_png(m.name, m.coefficients)
        if m.uncertainty is not None and m.correct is not None:
            figs["uncertainty"] = _figures.uncertainty_png(m.uncertainty, m.correct)
        out["models"][m.name] = figs
    out["comparison"] = None
    if data.comparison is not None:
        out["comparison"] = _figures.comparison_png(data.comparison.table)
    return out


def _checks(diagnosis: Any) -> list[dict[str, Any]]:
    """The rows of a :class:`~bayescore.Diagnosis` table, as the page shows them."""
    table = diagnosis.table
    return [
        {
            "check": str(check),
            "value": float(table["value"].sel(check=check)),
            "rule": str(table["rule"].sel(check=check).values),
            "threshold": float(table["threshold"].sel(check=check)),
            "passed": bool(table["passed"].sel(check=check)),
        }
        for check in table["check"].values
    ]


def render_report(data: ReportData) -> str:
    """The HTML page of :func:`bayescore.report` for prepared data (figures drawn here).

    Parameters
    ----------
    data : ReportData
        From :func:`prepare_report`.

    Returns
    -------
    str
        One self-contained HTML document.

    Examples
    --------
    >>> import bayescore as bs
    >>> from sklearn.linear_model import LogisticRegression
    >>> from bayescore.reporting import prepare_report
    >>> ds = bs.load_dataset("iris")
    >>> lr = LogisticRegression(max_iter=1000).fit(ds.X, ds.y)
    >>> html = render_report(prepare_report(lr, ds.X, ds.y, held_out=False))
    >>> 'data-status="in-sample"' in html, html.count("data:image/png;base64,")
    (True, 2)
    """
    from importlib.resources import files

    import jinja2

    source = files("bayescore").joinpath("templates", "report.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = _format
    env.filters["exact"] = _exact
    score_columns = [
        {"key": k, "label": label, "lower": lower, "help": text}
        for k, label, lower, text in SCORES
    ]
    return env.from_string(source).render(
        data=data,
        figures=_figures_of(data),
        score_columns=score_columns,
        scored=SCORED,
        n_scored=data.splits[0].n_obs,
        checks={m.name: _checks(m.diagnosis) for m in data.models if m.diagnosis is not None},
    )
