"""Save and load fitted models as netCDF: no pickle, atomic writes.

A file holds the fit's :class:`arviz.InferenceData` (posterior, sample statistics, the
training data, standardisation and class labels) plus the estimator's settings as JSON in the
posterior's attributes. Loading reads only netCDF/HDF5 and JSON, so a file from an
untrusted source cannot run code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["FORMAT_VERSION", "load", "save"]

FORMAT_VERSION = 1
_ESTIMATORS = {
    "logistic": "BayesianLogisticClassifier",
    "softmax": "BayesianSoftmaxClassifier",
}


def save(obj: Any, path: str | os.PathLike) -> Path:
    """Save a fitted bayescore estimator (or the InferenceData of a bayescore fit) to netCDF.

    The file is written to a temporary file in the same directory and renamed into place,
    so a crash never leaves a half-written model at ``path``.

    Parameters
    ----------
    obj : BayesianLogisticClassifier, BayesianSoftmaxClassifier or InferenceData
    path : str or path-like
        Destination, conventionally ending in ``.nc``.

    Returns
    -------
    Path
        The path written.

    See Also
    --------
    load

    Examples
    --------
    >>> import tempfile, os, bayescore as bs
    >>> ds = bs.load_dataset("iris")
    >>> clf = bs.BayesianSoftmaxClassifier(method="advi", draws=50).fit(ds.X, ds.y)
    >>> path = bs.save(clf, os.path.join(tempfile.mkdtemp(), "iris.nc"))
    >>> bool((bs.load(path).predict_proba(ds.X) == clf.predict_proba(ds.X)).all())
    True
    """
    from sklearn.utils.validation import check_is_fitted

    path = Path(path)
    if hasattr(obj, "get_params"):
        check_is_fitted(obj, "idata_")
        idata = obj.idata_.copy()
        params = obj.get_params()
        try:
            params_json = json.dumps(params)
        except TypeError as exc:
            raise TypeError(
                f"Estimator parameters must be JSON-serialisable to be saved; {exc}."
            ) from exc
        extra = {
            "bayescore_estimator": type(obj).__name__,
            "bayescore_params": params_json,
        }
        names = getattr(obj, "feature_names_in_", None)
        if names is not None:
            extra["bayescore_feature_names_in"] = json.dumps([str(n) for n in names])
    elif hasattr(obj, "groups") and "posterior" in obj.groups():
        idata = obj.copy()
        extra = {}
    else:
        raise TypeError(
            "save() takes a fitted bayescore estimator or the InferenceData of a bayescore "
            f"fit; got {type(obj).__name__}."
        )
    if "bayescore_kind" not in idata.posterior.attrs:
        raise ValueError(
            "This InferenceData was not made by bayescore.fit on a bayescore model; save it "
            "with idata.to_netcdf instead."
        )
    idata.posterior.attrs.update({**extra, "bayescore_format": FORMAT_VERSION})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        idata.to_netcdf(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load(path: str | os.PathLike) -> Any:
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
        The file is not netCDF/HDF5, or not a bayescore model file.

    See Also
    --------
    save
    """
    import arviz as az
    import numpy as np

    import bayescore.estimators as estimators

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such model file: {str(path)!r}.")
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic != b"\x89HDF\r\n\x1a\n":
        raise ValueError(
            f"{str(path)!r} is not a bayescore model file (not netCDF4/HDF5; it starts with "
            f"{magic!r}). Save models with bayescore.save."
        )
    try:
        idata = az.from_netcdf(path)
    except Exception as exc:
        raise ValueError(f"{str(path)!r} is not a readable netCDF model file: {exc}") from exc
    idata = idata.load() if hasattr(idata, "load") else idata
    attrs = dict(idata.posterior.attrs) if "posterior" in idata.groups() else {}
    kind = attrs.get("bayescore_kind")
    if kind not in _ESTIMATORS or "constant_data" not in idata.groups():
        raise ValueError(
            f"{str(path)!r} is a netCDF file but not a bayescore model (no bayescore_kind "
            "attribute or training data). Save models with bayescore.save."
        )
    name = attrs.get("bayescore_estimator", _ESTIMATORS[kind])
    cls = getattr(estimators, _ESTIMATORS[kind])
    if name != cls.__name__:
        raise ValueError(f"{str(path)!r} names an unknown estimator {name!r}.")
    if "bayescore_params" in attrs:
        params = json.loads(attrs["bayescore_params"])
    else:
        settings = json.loads(attrs.get("bayescore_settings", "{}"))
        valid = set(cls().get_params())
        params = {k: v for k, v in settings.items() if k in valid}
        params["method"] = attrs.get("bayescore_method", "nuts")
    est = cls(**params)
    est._set_fitted(idata, np.asarray(idata.constant_data["classes"].values))
    est.n_features_in_ = int(idata.constant_data["x_mean"].size)
    if "bayescore_feature_names_in" in attrs:
        est.feature_names_in_ = np.asarray(
            json.loads(attrs["bayescore_feature_names_in"]), dtype=object
        )
    return est
