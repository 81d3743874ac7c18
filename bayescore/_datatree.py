r"""Class probabilities or a pointwise log-likelihood out of any ArviZ result (DataTree).

Any PyMC or Bambi fit can be scored: PyMC's ``pm.sample`` keeps a ``pm.Deterministic`` of
class probabilities in the ``posterior`` group (``pm.sample_posterior_predictive(...,
predictions=True)`` puts it for new rows in ``predictions``), Bambi's
``model.predict(idata, kind="response_params")`` stores ``p`` in ``posterior``, and
``idata_kwargs={"log_likelihood": True}`` (or ``pm.compute_log_likelihood``) adds the
pointwise ``log_likelihood`` group. Dim names are whatever the model used (``__obs__``,
``y_dim``, ``obs_id`` ...): :func:`tree_forecast` finds which dim indexes observations and
which classes, and returns bayescore's own layout, ``(chain, draw, obs, class)`` with the
class labels as the ``class`` coordinate where the model named them.

A log-likelihood holds :math:`\log p(y_n \mid \theta_s)` of the labels observed at fit
time only, so it gives NLL-type scores (posterior predictive and Gibbs NLL, their SEs and
Monte Carlo SE, PSIS-LOO) but no Brier score, calibration or accuracy, which need the whole
probability vector; :func:`probability_draws` raises a clear error for those.

This module imports neither PyMC nor ArviZ.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from bayescore._names import (
    CHAIN,
    CLASS,
    DRAW,
    LOG_LIKELIHOOD,
    OBS,
    OBSERVED_DATA,
    POSTERIOR,
    PREDICTIONS,
    has_group,
)

__all__ = [
    "PROBS",
    "LOG_LIK",
    "TreeForecast",
    "as_probability_input",
    "is_tree",
    "probability_draws",
    "tree_forecast",
]

#: Kinds of :class:`TreeForecast`.
PROBS = "probabilities"
LOG_LIK = "log_likelihood"

#: Groups searched for ``var_name``, in this order.
_GROUPS = (PREDICTIONS, POSTERIOR, LOG_LIKELIHOOD)
#: Tolerance of the "sums to one over the class dim" test that tells class from obs.
_SUM_TOL = 1e-6


class TreeForecast(NamedTuple):
    """What a DataTree holds for scoring, in bayescore's dims.

    Attributes
    ----------
    kind : {"probabilities", "log_likelihood"}
    draws : DataArray
        ``(*sample dims, obs, class)`` class probabilities, or ``(*sample dims, obs)``
        pointwise log-likelihood of the observed labels; ``chain`` first when present.
    source : str
        ``"group/variable"``, for messages.
    """

    kind: str
    draws: xr.DataArray
    source: str


def is_tree(obj: Any) -> bool:
    """Whether ``obj`` is an ``xarray.DataTree`` (an ArviZ 1.x result).

    Examples
    --------
    >>> is_tree(xr.DataTree()), is_tree(np.zeros(2))
    (True, False)
    """
    return isinstance(obj, xr.DataTree)


def _var(tree: xr.DataTree, group: str, name: str) -> xr.DataArray:
    return tree[group].to_dataset()[name]


def _variables(tree: xr.DataTree) -> dict[str, list[str]]:
    return {g: [str(v) for v in tree[g].data_vars] for g in _GROUPS if has_group(tree, g)}


def _find(
    tree: xr.DataTree, var_name: str | None, group: str | None, n_obs: int | None
) -> tuple[str, xr.DataArray]:
    """The group and variable to score (see :func:`tree_forecast`)."""
    found = _variables(tree)
    if group is not None:
        if not has_group(tree, group):
            raise ValueError(
                f"group={group!r} is not a group of this DataTree; it has "
                f"{sorted(str(c) for c in tree.children)}."
            )
        names = [str(v) for v in tree[group].data_vars]
        if var_name is None and group == LOG_LIKELIHOOD and len(names) == 1:
            var_name = names[0]
        if var_name is None or var_name not in names:
            raise ValueError(
                f"var_name={var_name!r} is not a variable of group {group!r}; it has {names}."
            )
        return group, _var(tree, group, var_name)
    if var_name is None:
        lik = found.get(LOG_LIKELIHOOD, [])
        if len(lik) == 1:
            return LOG_LIKELIHOOD, _var(tree, LOG_LIKELIHOOD, lik[0])
        raise ValueError(
            "var_name= must name the variable of class probabilities to score (e.g. "
            f"var_name='p'); this DataTree has {found}. Bambi stores 'p' after "
            "model.predict(idata, kind='response_params'); in PyMC, wrap the probabilities in "
            "pm.Deterministic('p', ...)."
        )
    hits = [g for g, names in found.items() if var_name in names]
    if not hits:
        raise ValueError(
            f"var_name={var_name!r} is in none of the groups {list(_GROUPS)} of this "
            f"DataTree; it has {found}."
        )
    if len(hits) > 1 and n_obs is not None:
        sized = [g for g in hits if n_obs in _other_sizes(tree, g, var_name)]
        hits = sized or hits
    if len(hits) > 1:
        raise ValueError(
            f"var_name={var_name!r} is in groups {hits} with the same number of rows; pass "
            f"group= to say which ('{PREDICTIONS}': new rows, '{POSTERIOR}': the fitted rows)."
        )
    return hits[0], _var(tree, hits[0], var_name)


def _sample_dims(tree: xr.DataTree, group: str, da: xr.DataArray) -> list[Hashable]:
    declared = tree[group].attrs.get("sample_dims")
    names = declared if isinstance(declared, list | tuple) else [CHAIN, DRAW]
    dims = [d for d in names if d in da.dims]
    # Chains first: each chain's draws are then consecutive once the draws are flattened.
    return sorted(dims, key=lambda d: d != CHAIN)


def _other_sizes(tree: xr.DataTree, group: str, var_name: str) -> list[int]:
    da = _var(tree, group, var_name)
    sample = _sample_dims(tree, group, da)
    return [int(da.sizes[d]) for d in da.dims if d not in sample]


def _sums_to_one(da: xr.DataArray, sample: list[Hashable], dim: Hashable) -> bool:
    first = da.isel({d: 0 for d in sample}) if sample else da
    sums = np.asarray(first.sum(dim=[dim]).values, dtype=np.float64)
    return bool(np.all(np.abs(sums - 1.0) <= _SUM_TOL))


def _observed_dims(tree: xr.DataTree) -> set[Hashable]:
    if not has_group(tree, OBSERVED_DATA):
        return set()
    return {d for v in tree[OBSERVED_DATA].data_vars.values() for d in v.dims}


def _obs_and_class(
    tree: xr.DataTree,
    da: xr.DataArray,
    dims: list[Hashable],
    sample: list[Hashable],
    obs_dim: str | None,
    class_dim: str | None,
    source: str,
) -> tuple[Hashable, Hashable]:
    """Which of two dims indexes observations and which classes."""
    for arg, value in (("obs_dim", obs_dim), ("class_dim", class_dim)):
        if value is not None and value not in dims:
            raise ValueError(f"{arg}={value!r} is not a dim of {source}; its dims are {dims}.")
    if obs_dim is not None or class_dim is not None:
        known = obs_dim if obs_dim is not None else class_dim
        other = next(d for d in dims if d != known)
        return (known, other) if obs_dim is not None else (other, known)
    if OBS in dims or CLASS in dims:
        named = OBS if OBS in dims else next(d for d in dims if d != CLASS)
        return named, next(d for d in dims if d != named)
    # The class dim is the one the probabilities sum to one over.
    summing = [d for d in dims if _sums_to_one(da, sample, d)]
    if len(summing) == 1:
        return next(d for d in dims if d != summing[0]), summing[0]
    # Else the dim shared with the observed data (Bambi's __obs__, PyMC's obs_id).
    shared = [d for d in dims if d in _observed_dims(tree)]
    if len(shared) == 1:
        return shared[0], next(d for d in dims if d != shared[0])
    group, name = source.split("/", 1)
    renamed = f"{{{dims[0]!r}: 'obs', {dims[1]!r}: 'class'}}"
    raise ValueError(
        f"Cannot tell which of the dims {dims} of {source} indexes observations and which "
        f"classes. Pass the DataArray with its dims named instead, e.g. "
        f"idata[{group!r}][{name!r}].rename({renamed}), or obs_dim=/class_dim= to "
        "tree_forecast."
    )


def tree_forecast(
    tree: xr.DataTree,
    var_name: str | None = None,
    *,
    group: str | None = None,
    n_obs: int | None = None,
    obs_dim: str | None = None,
    class_dim: str | None = None,
) -> TreeForecast:
    """Class probabilities or pointwise log-likelihood of a DataTree, in bayescore's dims.

    Parameters
    ----------
    tree : DataTree
        An ArviZ result from PyMC, Bambi or bayescore.
    var_name : str, optional
        The variable to score: class probabilities in the ``predictions`` or ``posterior``
        group (dims ``chain, draw``, an observation dim and a class dim, any names; a binary
        model may give only :math:`P(y = 1)`, dims ``chain, draw, obs``), or a variable of
        the ``log_likelihood`` group. Default: the single variable of ``log_likelihood``.
    group : str, optional
        Where to look; by default ``predictions``, ``posterior``, then ``log_likelihood``. A
        name found in several groups is taken from the one with ``n_obs`` rows, else an
        error asks for ``group=``.
    n_obs : int, optional
        Number of labels to be scored, to choose between groups.
    obs_dim, class_dim : str, optional
        Dim names, when they cannot be told apart (by default: dims named ``obs``/``class``,
        else the dim the probabilities sum to one over is the class dim, else the dim
        shared with ``observed_data`` is the observation dim).

    Returns
    -------
    TreeForecast
        ``draws`` with dims ``(chain, draw, obs, class)`` (binary ``P(y=1)`` expanded to
        two columns, classes ``[0, 1]`` by position) or ``(chain, draw, obs)``.

    Examples
    --------
    >>> p = np.full((2, 3, 4, 2), 0.5)  # chain, draw, row, class
    >>> tree = xr.DataTree.from_dict({"posterior": xr.Dataset(
    ...     {"p": (("chain", "draw", "__obs__", "y_dim"), p)}, coords={"y_dim": ["no", "yes"]})})
    >>> f = tree_forecast(tree, "p")
    >>> f.kind, f.draws.dims, f.draws["class"].values.tolist()
    ('probabilities', ('chain', 'draw', 'obs', 'class'), ['no', 'yes'])
    """
    group, da = _find(tree, var_name, group, n_obs)
    source = f"{group}/{da.name}"
    sample = _sample_dims(tree, group, da)
    other = [d for d in da.dims if d not in sample]
    if group == LOG_LIKELIHOOD:
        if len(other) != 1:
            raise ValueError(
                f"{source} must have one observation dim besides {sample}; got dims "
                f"{list(da.dims)}. Stack multivariate observations into one dim first."
            )
        out = da.rename({other[0]: OBS}).transpose(*sample, OBS)
        values = np.asarray(out.values)
        if np.isnan(values).any() or (values > 0).any():
            bad = float(values[np.isnan(values) | (values > 0)].flat[0])
            raise ValueError(
                f"{source} must hold log-probabilities of class labels (<= 0, no NaN); it "
                f"holds {bad!r}."
            )
        return TreeForecast(LOG_LIK, out, source)
    if len(other) == 1:  # binary: P(y = 1) per observation
        p1 = da.rename({other[0]: OBS})
        out = xr.concat([1.0 - p1, p1], dim=CLASS, coords="minimal", compat="override")
        return TreeForecast(PROBS, out.transpose(*sample, OBS, CLASS), source)
    if len(other) != 2:
        raise ValueError(
            f"{source} must have dims ({', '.join(map(str, sample))}, observation, class) or, "
            f"for P(y = 1) of a binary model, ({', '.join(map(str, sample))}, observation); "
            f"got dims {list(da.dims)}."
        )
    obs, cls = _obs_and_class(tree, da, other, sample, obs_dim, class_dim, source)
    out = da.rename({obs: OBS, cls: CLASS}).transpose(*sample, OBS, CLASS)
    return TreeForecast(PROBS, out, source)


def probability_draws(
    tree: xr.DataTree,
    var_name: str | None = None,
    *,
    group: str | None = None,
    n_obs: int | None = None,
    func: str = "this score",
) -> xr.DataArray:
    """Class probabilities ``(chain, draw, obs, class)`` of a DataTree, for any scorer.

    As :func:`tree_forecast`, but a log-likelihood raises: ``func`` needs probabilities.

    Examples
    --------
    >>> ll = xr.DataTree.from_dict({"log_likelihood": xr.Dataset(
    ...     {"y": (("chain", "draw", "obs"), np.full((1, 2, 3), -0.5))})})
    >>> probability_draws(ll, func="brier_score")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: brier_score needs class probabilities, but log_likelihood/y is a pointwise ...
    """
    forecast = tree_forecast(tree, var_name, group=group, n_obs=n_obs)
    if forecast.kind != PROBS:
        raise ValueError(
            f"{func} needs class probabilities, but {forecast.source} is a pointwise "
            "log-likelihood, which gives NLL-type scores only (score, compare with "
            "metrics=('nll',), loo). Pass var_name= naming a probability variable of the "
            f"posterior or predictions group."
        )
    return forecast.draws


def as_probability_input(
    obj: Any,
    *,
    var_name: str | None = None,
    group: str | None = None,
    n_obs: int | None = None,
    func: str = "this score",
) -> Any:
    """``obj`` unchanged, or the class probabilities of a DataTree (:func:`probability_draws`).

    The one call a probability scorer makes to accept any PyMC/Bambi result; ``var_name=``
    or ``group=`` with any other input raises ``TypeError``.

    Examples
    --------
    >>> as_probability_input([[0.2, 0.8]])
    [[0.2, 0.8]]
    """
    if is_tree(obj):
        return probability_draws(obj, var_name, group=group, n_obs=n_obs, func=func)
    if var_name is not None or group is not None:
        raise TypeError(
            f"var_name= and group= of {func} apply to DataTree input (an ArviZ result); "
            f"got {type(obj).__name__}."
        )
    return obj
