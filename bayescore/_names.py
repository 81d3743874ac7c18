"""Names used throughout bayescore, defined once: dims, result attribute keys, file format.

Posterior quantities are xarray objects with ``chain, draw`` first, then ``obs``, then
``class``. Fits are ``xarray.DataTree`` objects (ArviZ 1.x) whose groups carry
``bayescore_*`` attributes; every module takes the keys from here instead of spelling them.
This module imports only the standard library.
"""

from __future__ import annotations

from typing import Any, Final

# ----------------------------------------------------------------------------- dims
CHAIN: Final = "chain"
DRAW: Final = "draw"
SAMPLE: Final = "sample"
OBS: Final = "obs"
CLASS: Final = "class"
FEATURE: Final = "feature"
BIN: Final = "bin"
#: Dim of the K - 1 free classes under reference coding of the softmax model.
FREE_CLASS: Final = "class_free"
#: Dim of comparison tables.
MODEL: Final = "model"
#: Dim of the diagnostics table.
CHECK: Final = "check"
#: Dim of the ELBO history of variational fits.
ITERATION: Final = "iteration"
#: Dims of the NLL cross-check table: the estimates (LOO, K-fold, test), their pairwise
#: differences, and the held-out test rows (a set apart from the training ``obs``).
ESTIMATE: Final = "estimate"
PAIR: Final = "pair"
TEST_OBS: Final = "test_obs"
#: Dim of the single paths of a multi-path Pathfinder fit.
PATH: Final = "path"
#: Dim of the flat free parameters of an approximation's Gaussian q.
PARAMETER: Final = "parameter"

#: Dimensions that index posterior draws, in the order they appear.
DRAW_DIMS: Final = (CHAIN, DRAW)

# ------------------------------------------------------------ groups of a fit (DataTree)
POSTERIOR: Final = "posterior"
SAMPLE_STATS: Final = "sample_stats"
OBSERVED_DATA: Final = "observed_data"
CONSTANT_DATA: Final = "constant_data"
VARIATIONAL: Final = "variational"
LOG_LIKELIHOOD: Final = "log_likelihood"
#: Draws for new rows (``pm.sample_posterior_predictive(..., predictions=True)``).
PREDICTIONS: Final = "predictions"

# -------------------------------------------------------------------- attribute keys
#: "logistic" or "softmax": which model made the fit.
ATTR_KIND: Final = "bayescore_kind"
#: Inference method ("nuts", "advi", ...).
ATTR_METHOD: Final = "bayescore_method"
#: JSON list of the free variables' names (the ones diagnostics judge).
ATTR_FREE_VARS: Final = "bayescore_free_vars"
#: JSON dict of the model's prior and coding settings.
ATTR_SETTINGS: Final = "bayescore_settings"
#: NUTS backend that drew the posterior ("nutpie", "pymc", "numpyro").
ATTR_SAMPLER: Final = "bayescore_sampler"
#: How NUTS was started: "laplace" (warm start) or "none".
ATTR_WARM_START: Final = "bayescore_warm_start"
#: method="auto": JSON of the method it chose, why, and the Laplace verdict behind it.
ATTR_AUTO: Final = "bayescore_auto"
#: Why: how the mode was found, or why the start was cold.
ATTR_WARM_START_REASON: Final = "bayescore_warm_start_reason"
#: Integer file format version, written by ``save`` and checked by ``load``.
ATTR_FORMAT: Final = "bayescore_format"
#: Version of bayescore that wrote a file.
ATTR_VERSION: Final = "bayescore_version"
#: Estimator class name and its JSON parameters, for files saved from an estimator.
ATTR_ESTIMATOR: Final = "bayescore_estimator"
ATTR_PARAMS: Final = "bayescore_params"
#: JSON list of the feature names seen in ``fit`` (DataFrame input).
ATTR_FEATURE_NAMES: Final = "bayescore_feature_names_in"
#: Wall time of the fit in seconds (ArviZ's own key).
ATTR_SAMPLING_TIME: Final = "sampling_time"

#: File format written by this release. Version 1: ArviZ 0.23 InferenceData files (groups
#: as netCDF groups, read and migrated on load). Version 2: ArviZ 1.x DataTree files.
FORMAT_VERSION: Final = 2


def as_idata(obj: Any) -> Any:
    """The fit behind ``obj``: a fitted estimator's ``idata_``, or ``obj`` itself.

    Examples
    --------
    >>> class Fitted:
    ...     idata_ = "the fit"
    >>> as_idata(Fitted()), as_idata("a DataTree")
    ('the fit', 'a DataTree')
    """
    return getattr(obj, "idata_", obj)


def has_group(idata: Any, group: str) -> bool:
    """Whether a DataTree (or a mapping of groups) holds ``group``.

    Examples
    --------
    >>> import xarray as xr
    >>> dt = xr.DataTree.from_dict({"posterior": xr.Dataset()})
    >>> has_group(dt, "posterior"), has_group(dt, "sample_stats"), has_group(3, "posterior")
    (True, False, False)
    """
    children = getattr(idata, "children", None)
    return children is not None and group in children


__all__ = [
    "ATTR_AUTO",
    "ATTR_ESTIMATOR",
    "ATTR_FEATURE_NAMES",
    "ATTR_FORMAT",
    "ATTR_FREE_VARS",
    "ATTR_KIND",
    "ATTR_METHOD",
    "ATTR_PARAMS",
    "ATTR_SAMPLER",
    "ATTR_SAMPLING_TIME",
    "ATTR_SETTINGS",
    "ATTR_VERSION",
    "ATTR_WARM_START",
    "ATTR_WARM_START_REASON",
    "BIN",
    "CHAIN",
    "CHECK",
    "CLASS",
    "CONSTANT_DATA",
    "DRAW",
    "DRAW_DIMS",
    "ESTIMATE",
    "FEATURE",
    "FORMAT_VERSION",
    "FREE_CLASS",
    "ITERATION",
    "LOG_LIKELIHOOD",
    "MODEL",
    "OBS",
    "OBSERVED_DATA",
    "PAIR",
    "PARAMETER",
    "PATH",
    "POSTERIOR",
    "PREDICTIONS",
    "SAMPLE",
    "SAMPLE_STATS",
    "TEST_OBS",
    "VARIATIONAL",
    "as_idata",
    "has_group",
]
