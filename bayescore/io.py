"""Save and load fitted models as netCDF: no pickle, atomic writes, checked on load.

A file holds the fit's :class:`xarray.DataTree` (posterior, sample statistics, the training
data, standardisation and class labels) plus the estimator's settings as JSON in the
posterior's attributes, stamped with the file format (``bayescore_format``). Loading reads
only netCDF/HDF5 and JSON, so a file from an untrusted source cannot run code. Files written
by bayescore 0.1 (format 1, ArviZ 0.23) are migrated on load; files from a newer release
raise ``ValueError`` naming the release that wrote them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import xarray as xr

from bayescore._names import (
    ATTR_ESTIMATOR,
    ATTR_KIND,
    ATTR_METHOD,
    ATTR_PARAMS,
    ATTR_SETTINGS,
    CONSTANT_DATA,
    FORMAT_VERSION,
    POSTERIOR,
    has_group,
)
from bayescore._netcdf import read_fit, write_fit
from bayescore.estimators import estimator_for_kind

__all__ = ["FORMAT_VERSION", "load", "save"]


def save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Save a fitted bayescore estimator (or the DataTree of a bayescore fit) to netCDF.

    The file is built in memory, written to a new file in the same directory, synced to
    disk and renamed into place, so a crash, ``kill -9`` or full disk never leaves a
    half-written model at ``path`` (a failed write raises ``OSError`` naming ``path``; the
    old file stays). An existing file keeps its permissions; a symlink is written through
    to its target. Building in memory needs about the file's size in memory again (the
    posterior draws and the training ``X``).

    Parameters
    ----------
    obj : BayesianLogisticClassifier, BayesianSoftmaxClassifier or DataTree
    path : str or path-like
        Destination, conventionally ending in ``.nc``.

    Returns
    -------
    Path
        The file written (a symlink's target).

    Raises
    ------
    ValueError
        ``path`` is empty or not a regular file (a directory, a device such as
        ``/dev/null``, a FIFO): the rename would replace it.
    OSError
        The write failed (a full disk, an I/O error); the message names ``path`` and says
        the existing file is unchanged.

    See Also
    --------
    load

    Examples
    --------
    >>> import tempfile, os, bayescore as bs
    >>> ds = bs.load_dataset("iris")
    >>> clf = bs.BayesianSoftmaxClassifier(method="fullrank_advi", draws=50).fit(ds.X, ds.y)
    >>> path = bs.save(clf, os.path.join(tempfile.mkdtemp(), "iris.nc"))
    >>> bool((bs.load(path).predict_proba(ds.X) == clf.predict_proba(ds.X)).all())
    True
    """
    if hasattr(obj, "get_params") and hasattr(obj, "save"):
        return Path(obj.save(path))
    if isinstance(obj, xr.DataTree) and has_group(obj, POSTERIOR):
        if ATTR_KIND not in obj[POSTERIOR].attrs:
            raise ValueError(
                "This DataTree was not made by bayescore.fit on a bayescore model; save it "
                "with its own to_netcdf method instead."
            )
        return write_fit(obj, path)
    raise TypeError(
        "save() takes a fitted bayescore estimator or the DataTree of a bayescore fit; got "
        f"{type(obj).__name__}."
    )


def load(path: str | os.PathLike[str]) -> Any:
    """Load a model saved by :func:`save` and return the fitted estimator.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    BayesianLogisticClassifier or BayesianSoftmaxClassifier
        Fitted, with ``idata_``, ``classes_``, ``n_features_in_`` (and
        ``feature_names_in_`` when it was fitted on a DataFrame). Its predictions equal
        the saved estimator's.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not netCDF/HDF5, not a bayescore model file, written by a newer
        bayescore, or corrupt (non-finite draws, non-positive scales, inconsistent shapes).

    See Also
    --------
    save
    """
    tree = read_fit(path)
    attrs = tree[POSTERIOR].attrs
    kind = attrs.get(ATTR_KIND)
    if kind not in ("logistic", "softmax") or not has_group(tree, CONSTANT_DATA):
        raise ValueError(
            f"{str(path)!r} is a netCDF file but not a bayescore model (no bayescore_kind "
            "attribute or training data). Save models with bayescore.save."
        )
    cls = estimator_for_kind(str(kind))
    name = attrs.get(ATTR_ESTIMATOR, cls.__name__)
    if name != cls.__name__:
        raise ValueError(f"{str(path)!r} names an unknown estimator {name!r}.")
    if ATTR_PARAMS in attrs:
        params = json.loads(attrs[ATTR_PARAMS])
    else:  # saved from bs.fit's DataTree: rebuild what the estimator needs from the settings
        settings = json.loads(attrs.get(ATTR_SETTINGS, "{}"))
        valid = set(cls().get_params())
        params = {k: v for k, v in settings.items() if k in valid}
        params["method"] = attrs.get(ATTR_METHOD, "nuts")
    unknown = sorted(set(params) - set(cls().get_params()))
    if unknown:
        raise ValueError(
            f"{str(path)!r} records parameters {unknown} that {cls.__name__} does not take; "
            "it was written by another bayescore release."
        )
    return cls.from_idata(tree, **params)
