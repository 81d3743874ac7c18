"""DataTree groups of a fit made outside PyMC, in the layout PyMC gives (numpy only).

The numpy fitters (warm-started NUTS through nutpie, Laplace, Pathfinder) produce draws of
the flat free parameters; :func:`posterior_dataset` turns them into the ``posterior`` group
PyMC would write for the same model (free variables, the reference-coded full
``intercept``/``coef`` and the coefficients on the original feature scale), and
:func:`data_groups` gives ``observed_data`` and ``constant_data``. Every consumer
(prediction, scoring, diagnostics, files) then sees one format whatever the fitter.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._names import CHAIN, CLASS, DRAW, FEATURE, FREE_CLASS, OBS, POSTERIOR, VARIATIONAL
from bayescore.inference.record import VariationalRecord
from bayescore.models import ModelSpec, family

__all__ = [
    "approximation_tree",
    "data_groups",
    "flat_draws",
    "flat_labels",
    "posterior_dataset",
    "spec_from_tree",
]


def posterior_dataset(spec: ModelSpec, theta: NDArray[np.float64]) -> xr.Dataset:
    """The ``posterior`` group of flat draws ``theta`` of shape (chains, draws, P).

    ``theta`` is in the layout of :class:`bayescore.inference.posterior.Posterior`: per draw
    ``W = [intercepts; coefficients]`` of shape (D + 1, K - 1), raveled in C order.

    Examples
    --------
    >>> from bayescore.models import make_spec
    >>> spec = make_spec(np.array([[0.0], [2.0]]), np.array([0, 1]), np.array(["a", "b"]))
    >>> ds = posterior_dataset(spec, np.array([[[0.5, 2.0]]]))
    >>> float(ds["coef_original"][0, 0, 0]), float(ds["intercept_original"][0, 0])
    (2.0, -1.5)
    """
    theta = np.asarray(theta, dtype=np.float64)
    n_chains, n_draws, _ = theta.shape
    d = spec.X.shape[1]
    W = theta.reshape(n_chains, n_draws, d + 1, -1)
    a, B = W[:, :, 0, :], W[:, :, 1:, :]  # (c, s, k), (c, s, d, k)
    mean, scale = spec.standardization.mean, spec.standardization.scale
    B_orig = B / scale[:, None]
    a_orig = a - np.einsum("d,csdk->csk", mean, B_orig)
    sample = (CHAIN, DRAW)
    coords: dict[str, object] = {
        CHAIN: np.arange(n_chains),
        DRAW: np.arange(n_draws),
        FEATURE: spec.feature_names,
        **family(spec.kind).coords(spec),
    }
    if spec.kind == "logistic":
        data = {
            "intercept": (sample, a[..., 0]),
            "coef": ((*sample, FEATURE), B[..., 0]),
            "coef_original": ((*sample, FEATURE), B_orig[..., 0]),
            "intercept_original": (sample, a_orig[..., 0]),
        }
        return xr.Dataset(data, coords=coords)

    def full(free: np.ndarray) -> np.ndarray:
        """Prepend the reference class's zeros along the last axis."""
        return np.concatenate([np.zeros((*free.shape[:-1], 1)), free], axis=-1)

    data = {
        "intercept_free": ((*sample, FREE_CLASS), a),
        "coef_free": ((*sample, FEATURE, FREE_CLASS), B),
        "intercept": ((*sample, CLASS), full(a)),
        "coef": ((*sample, FEATURE, CLASS), full(B)),
        "coef_original": ((*sample, FEATURE, CLASS), full(B_orig)),
        "intercept_original": ((*sample, CLASS), full(a_orig)),
    }
    return xr.Dataset(data, coords=coords)


def data_groups(spec: ModelSpec) -> dict[str, xr.Dataset]:
    """``observed_data`` (``y`` as class indices) and ``constant_data`` of a fit.

    Examples
    --------
    >>> from bayescore.models import make_spec
    >>> spec = make_spec(np.array([[0.0], [2.0]]), np.array([0, 1]), np.array(["a", "b"]))
    >>> groups = data_groups(spec)
    >>> groups["observed_data"]["y"].values.tolist(), list(groups["constant_data"])
    ([0, 1], ['X', 'x_mean', 'x_scale', 'y_obs'])

    A fit of a Dask X keeps its training rows where they are: its ``constant_data`` holds the
    standardisation only (and the number of rows), and there is no ``observed_data``.
    """
    if spec.distributed:
        stats = xr.Dataset(
            {
                "x_mean": ((FEATURE,), spec.standardization.mean),
                "x_scale": ((FEATURE,), spec.standardization.scale),
            },
            coords={FEATURE: spec.feature_names},
            attrs={"n_obs": int(spec.n_obs), "rows": "on a Dask cluster, not stored"},
        )
        return {"constant_data": stats}
    n_obs = spec.X.shape[0]
    obs = np.arange(n_obs)
    y = np.asarray(spec.y, dtype=np.int64)
    return {
        "observed_data": xr.Dataset({"y": ((OBS,), y)}, coords={OBS: obs}),
        "constant_data": xr.Dataset(
            {
                "X": ((OBS, FEATURE), spec.X),
                "x_mean": ((FEATURE,), spec.standardization.mean),
                "x_scale": ((FEATURE,), spec.standardization.scale),
                "y_obs": ((OBS,), y.astype(np.int32)),
            },
            coords={OBS: obs, FEATURE: spec.feature_names},
        ),
    }


def approximation_tree(
    spec: ModelSpec, theta: NDArray[np.float64], record: VariationalRecord
) -> xr.DataTree:
    """The DataTree of an approximate fit: one chain of flat draws ``theta`` (draws, P).

    ``posterior`` in PyMC's layout, ``observed_data``, ``constant_data`` and the
    ``variational`` group of ``record``.
    """
    tree = xr.DataTree()
    tree[POSTERIOR] = xr.DataTree(posterior_dataset(spec, theta[None]))
    for group, ds in data_groups(spec).items():
        tree[group] = xr.DataTree(ds)
    tree[VARIATIONAL] = xr.DataTree(record.to_dataset())
    tree[POSTERIOR].attrs["inference_library"] = "bayescore"
    return tree


def spec_from_tree(idata: xr.DataTree) -> ModelSpec:
    """The :class:`~bayescore.models.ModelSpec` a bayescore fit was made from.

    The inverse of :func:`data_groups`: the training data, classes, feature names and the
    stored standardisation (not recomputed), and the prior settings recorded by
    :func:`bayescore.fit`.

    Examples
    --------
    >>> import bayescore as bs
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    >>> fit = bs.fit(bs.build_model(X, ["a", "a", "b", "b"]), "laplace", draws=5, warn=False)
    >>> spec = spec_from_tree(fit)
    >>> spec.kind, spec.classes.tolist(), spec.X.shape
    ('logistic', ['a', 'b'], (4, 2))
    """
    import json

    from bayescore._names import ATTR_KIND, ATTR_SETTINGS, CONSTANT_DATA, OBSERVED_DATA
    from bayescore.data import Standardization
    from bayescore.models import make_spec

    post, const = idata[POSTERIOR], idata[CONSTANT_DATA].to_dataset()
    if "X" not in const:
        raise ValueError(
            "This fit does not store its training rows (a fit of a Dask X keeps them on the "
            "cluster), so its posterior cannot be rebuilt from it; refit with the data."
        )
    settings = json.loads(post.attrs[ATTR_SETTINGS])
    settings.pop("kind", None)
    spec = make_spec(
        np.asarray(const["X"].values, dtype=np.float64),
        np.asarray(idata[OBSERVED_DATA]["y"].values, dtype=np.int64),
        np.asarray(const["classes"].values),
        kind=post.attrs[ATTR_KIND],
        feature_names=[str(f) for f in const[FEATURE].values],
        **settings,
    )
    stored = Standardization(
        np.asarray(const["x_mean"].values, dtype=np.float64),
        np.asarray(const["x_scale"].values, dtype=np.float64),
    )
    return dataclasses.replace(spec, standardization=stored)


def flat_draws(spec: ModelSpec, posterior: xr.Dataset) -> NDArray[np.float64]:
    """The posterior's draws in the flat layout of the closed-form posterior, (chain, draw, P).

    The inverse of :func:`posterior_dataset` on the free variables: per draw
    ``W = [intercepts; coefficients]`` of shape (D + 1, K - 1), raveled in C order.
    """
    names = family(spec.kind).free_names(spec)
    a = posterior[names[0]].transpose(CHAIN, DRAW, ...).values
    B = posterior[names[1]].transpose(CHAIN, DRAW, FEATURE, ...).values
    n_chains, n_draws = a.shape[:2]
    a = a.reshape(n_chains, n_draws, 1, -1)
    B = B.reshape(n_chains, n_draws, spec.n_features, -1)
    return np.concatenate([a, B], axis=2).reshape(n_chains, n_draws, -1)


def flat_labels(spec: ModelSpec) -> list[str]:
    """A readable name for each flat parameter, in the closed-form posterior's layout.

    Examples
    --------
    >>> from bayescore.models import make_spec
    >>> spec = make_spec(np.eye(3), np.array([0, 1, 2]), np.array(["a", "b", "c"]),
    ...                  kind="softmax", feature_names=["x", "y", "z"])
    >>> flat_labels(spec)[:3]
    ['intercept_free[b]', 'intercept_free[c]', 'coef_free[x, b]']
    """
    names = family(spec.kind).free_names(spec)
    if spec.kind == "logistic":
        return [names[0]] + [f"{names[1]}[{f}]" for f in spec.feature_names]
    free = [str(c) for c in spec.classes[1:]]
    return [f"{names[0]}[{c}]" for c in free] + [
        f"{names[1]}[{f}, {c}]" for f in spec.feature_names for c in free
    ]
