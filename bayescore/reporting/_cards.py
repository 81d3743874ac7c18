"""The model card of each model: data, classes, priors, method, sampler, versions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from bayescore._names import (
    ATTR_AUTO,
    ATTR_METHOD,
    ATTR_SAMPLER,
    ATTR_SAMPLING_TIME,
    ATTR_SETTINGS,
    ATTR_VERSION,
    ATTR_WARM_START,
    CHAIN,
    CONSTANT_DATA,
    DRAW,
    OBSERVED_DATA,
    POSTERIOR,
    has_group,
)

__all__ = ["class_counts", "model_card", "versions"]

_PACKAGES = ("pymc", "arviz-base", "arviz-stats", "xarray", "numpy", "scikit-learn", "matplotlib")


def _priors(settings: dict[str, Any]) -> str:
    scale = settings.get("prior_scale")
    if settings.get("prior") == "student_t":
        coef = f"StudentT(nu={settings.get('prior_nu')}, 0, {scale})"
    else:
        coef = f"Normal(0, {scale})"
    if settings.get("flat_intercept"):
        intercept = "flat"
    elif settings.get("coding") == "zerosum":
        intercept = f"ZeroSumNormal({settings.get('intercept_prior_scale')})"
    else:
        intercept = f"Normal(0, {settings.get('intercept_prior_scale')})"
    return f"coefficients (standardised features) ~ {coef}; intercept ~ {intercept}"


def class_counts(classes: Iterable[Any], counts: Iterable[int]) -> str:
    """``"a (3), b (5)"``: each class with its number of rows.

    Examples
    --------
    >>> class_counts(["a", "b"], [3, 5])
    'a (3), b (5)'
    """
    return ", ".join(f"{c} ({int(n)})" for c, n in zip(classes, counts, strict=True))


def _bayes_card(model: Any, rows: list[tuple[str, str]]) -> None:
    idata = model.idata_
    attrs = idata[POSTERIOR].attrs
    settings = json.loads(attrs.get(ATTR_SETTINGS, "{}"))
    post = idata[POSTERIOR]
    method = str(attrs.get(ATTR_METHOD, getattr(model, "method", "unknown")))
    rows.append(("inference", method))
    if ATTR_AUTO in attrs:  # method="auto": what it chose and why (the Laplace verdict)
        auto = json.loads(attrs[ATTR_AUTO])
        rows.append(("method='auto'", f"chose {auto['choice']}: {auto['reason']}"))
    if ATTR_SAMPLER in attrs:
        warm = attrs.get(ATTR_WARM_START, "none")
        rows.append(("sampler", f"{attrs[ATTR_SAMPLER]} (warm start: {warm})"))
    n_chain, n_draw = post.sizes.get(CHAIN, 1), post.sizes.get(DRAW, 1)
    rows.append(("posterior draws", f"{n_chain} chain(s) × {n_draw} = {n_chain * n_draw}"))
    if ATTR_SAMPLING_TIME in attrs:
        rows.append(("fit time", f"{float(attrs[ATTR_SAMPLING_TIME]):.2f} s"))
    if settings:
        rows.append(("model", str(settings.get("kind", ""))))
        rows.append(("priors", _priors(settings)))
        rows.append(("model settings", ", ".join(f"{k}={v}" for k, v in settings.items())))
    const = idata[CONSTANT_DATA]
    if "X" in const:
        n_rows, n_features = const["X"].shape
        rows.append(("training data", f"{n_rows} rows × {n_features} features"))
    else:  # fitted on a Dask cluster: the rows stayed there
        n_rows = const.attrs.get("n_obs", "?")
        rows.append(("training data", f"{n_rows} rows on a Dask cluster (not stored)"))
    if has_group(idata, OBSERVED_DATA) and "y" in idata[OBSERVED_DATA]:
        counts = np.bincount(
            np.asarray(idata[OBSERVED_DATA]["y"].values), minlength=len(model.classes_)
        )
        rows.append(("training classes", class_counts(model.classes_, counts)))
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        rows.append(("features", ", ".join(str(n) for n in names)))
    fitted = [
        f"{attrs[key]} {attrs[version]}"
        for key, version in (
            ("inference_library", "inference_library_version"),
            ("creation_library", "creation_library_version"),
        )
        if key in attrs and version in attrs
    ]
    if fitted:
        rows.append(("fitted with", ", ".join(fitted)))
    if ATTR_VERSION in attrs:
        rows.append(("saved by", f"bayescore {attrs[ATTR_VERSION]}"))


def model_card(model: Any, library_versions: dict[str, str]) -> list[tuple[str, str]]:
    """Rows of a model's card: estimator, classes, data, priors, method, versions."""
    rows: list[tuple[str, str]] = [("estimator", type(model).__name__)]
    rows.append(("classes", ", ".join(str(c) for c in model.classes_)))
    if hasattr(model, "idata_"):
        _bayes_card(model, rows)
    else:
        rows.append(("inference", "point estimate (no posterior draws)"))
        n_features = getattr(model, "n_features_in_", None)
        if n_features is not None:
            rows.append(("features", str(n_features)))
    if hasattr(model, "get_params"):
        params = model.get_params(deep=False)
        rows.append(("parameters", ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))))
    shown = ("bayescore", "pymc", "arviz-base", "arviz-stats")
    rows.append(("versions (report)", ", ".join(f"{p} {library_versions[p]}" for p in shown)))
    return rows


def versions() -> dict[str, str]:
    """Versions of bayescore and the libraries behind the report's numbers."""
    from importlib.metadata import PackageNotFoundError, version

    from bayescore import __version__

    out = {"bayescore": __version__}
    for package in _PACKAGES:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out
