"""Fits on disk: atomic netCDF writes, format stamps and checks, validation on load.

A file is the fit's :class:`xarray.DataTree` written with h5netcdf: one netCDF group per
DataTree group (posterior, sample_stats, observed_data, constant_data, variational), the
``bayescore_*`` attributes on the posterior. Reading uses only netCDF/HDF5 and JSON: a file
from an untrusted source cannot run code (nothing is unpickled).

Writes are atomic (:func:`bayescore._atomic.atomic_write`): the file is built in memory,
written to a new file beside the target, flushed to disk (``fsync``) and renamed over the
target, so a crash, ``kill -9`` or full disk leaves either the old file or the new one,
never a half-written one. A target that is not a regular file (``/dev/null``, a FIFO, a
directory) is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayescore._atomic import atomic_write, check_target
from bayescore._names import (
    ATTR_FEATURE_NAMES,
    ATTR_FORMAT,
    ATTR_KIND,
    ATTR_VERSION,
    CLASS,
    CONSTANT_DATA,
    FEATURE,
    FORMAT_VERSION,
    FREE_CLASS,
    OBSERVED_DATA,
    POSTERIOR,
    has_group,
)

__all__ = ["check_path", "read_fit", "write_fit"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bayescore")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def check_path(path: Any, func: str = "save") -> Path:
    """The file ``path`` names, refused when it cannot be one (before anything is written).

    The argument's own checks, named after the function that received it; what the path
    names on disk (a device, a FIFO) is :func:`bayescore._atomic.check_target`'s.

    Examples
    --------
    >>> check_path("")
    Traceback (most recent call last):
    ...
    ValueError: The 'path' parameter of save must name a file. Got '' instead.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"The 'path' parameter of {func} must be a str or path-like. Got {path!r} instead."
        )
    text = os.fspath(path)
    if isinstance(text, bytes) or not text.strip():
        raise ValueError(f"The 'path' parameter of {func} must name a file. Got {path!r} instead.")
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        raise ValueError(
            f"The 'path' parameter of {func} is a directory ({text!r}); give a file name in "
            f"it, e.g. {os.path.join(text, 'model.nc')!r}."
        )
    return Path(text)


def write_fit(tree: xr.DataTree, path: str | os.PathLike[str]) -> Path:
    """Write ``tree`` to ``path`` atomically, stamped with the format and bayescore version.

    An existing file keeps its permission bits; a new one gets the umask's. A symlink at
    ``path`` is written through to its target (the link stays).

    Examples
    --------
    >>> import os, tempfile, numpy as np, xarray as xr
    >>> tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"a": ("draw", np.zeros(3))})})
    >>> path = write_fit(tree, os.path.join(tempfile.mkdtemp(), "fit.nc"))
    >>> int(read_fit(path, validate=False)["posterior"].attrs["bayescore_format"])
    2
    """
    path = check_path(path)
    check_target(path)  # a bad target is refused before the file is built
    tree = tree.copy()
    tree[POSTERIOR].attrs.update({ATTR_FORMAT: FORMAT_VERSION, ATTR_VERSION: _package_version()})
    # The file is built in memory (HDF5 writes to a buffer, which cannot fail like a disk)
    # and written by atomic_write. HDF5 never touches the disk: after a write failed on a
    # full disk it left the file half-closed, and closing it again at garbage collection
    # crashed the process (SIGSEGV in H5Oopen via h5netcdf's flush, h5py 3.16, HDF5 2.0).
    image = tree.to_netcdf(None, engine="h5netcdf")
    return atomic_write(path, image)


def _migrate(tree: xr.DataTree, version: int, path: str) -> xr.DataTree:
    """Bring an older file up to the current format (1 -> 2: same groups, new stamp)."""
    if version == 1:
        # Format 1 was ArviZ 0.23's InferenceData.to_netcdf: the same netCDF groups and
        # variables that a DataTree reads; only the stamp changes.
        tree[POSTERIOR].attrs[ATTR_FORMAT] = FORMAT_VERSION
        return tree
    raise ValueError(
        f"{path!r} has bayescore file format {version}, which this release cannot read "
        f"(it reads formats 1 to {FORMAT_VERSION}). Refit the model and save it again."
    )


#: Posterior variables every bayescore fit holds: predictions need the first two, the
#: estimators' ``coef_`` and ``intercept_`` the last two.
_REQUIRED = ("intercept", "coef", "intercept_original", "coef_original")


def _listed(values: Any) -> list[Any]:
    return np.asarray(values).tolist()


def _check_parts_agree(tree: xr.DataTree, path: str) -> None:
    """The parts of a file that name the same things must name them alike (issue 21).

    A class list that permutes the posterior's ``class`` coordinate would relabel every
    prediction, and feature names that permute the ``feature`` coordinate would swap
    columns: both are refused, as are a missing variable and a feature-count mismatch.
    """
    post, const = tree[POSTERIOR], tree[CONSTANT_DATA]
    refit = "Refit the model and save it again."
    missing = [name for name in _REQUIRED if name not in post.data_vars]
    if missing:
        raise ValueError(
            f"{path!r} is corrupt: its posterior lacks {missing} (it holds "
            f"{sorted(str(v) for v in post.data_vars)}). {refit}"
        )
    n_features = int(const["x_scale"].size)
    for name in ("coef", "coef_original"):
        if FEATURE not in post[name].dims or post.sizes[FEATURE] != n_features:
            raise ValueError(
                f"{path!r} is corrupt: posterior {name!r} has dims "
                f"{dict(post[name].sizes)} but the file standardises {n_features} features. "
                f"{refit}"
            )
    if FEATURE in post.coords and FEATURE in const.coords:
        mine, theirs = _listed(post[FEATURE].values), _listed(const[FEATURE].values)
        if mine != theirs:
            raise ValueError(
                f"{path!r} is corrupt: the posterior's features {mine!r} disagree with the "
                f"training data's {theirs!r}. {refit}"
            )
    names = post.attrs.get(ATTR_FEATURE_NAMES)
    if names is not None:
        try:
            listed = json.loads(names)
        except (TypeError, ValueError):
            listed = None
        if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
            raise ValueError(
                f"{path!r} is corrupt: its {ATTR_FEATURE_NAMES!r} attribute {names!r} is not a "
                f"JSON list of feature names. {refit}"
            )
        coord = [str(v) for v in _listed(post[FEATURE].values)] if FEATURE in post.coords else []
        if listed != coord:
            raise ValueError(
                f"{path!r} is corrupt: its feature names {listed!r} disagree with the "
                f"posterior's 'feature' coordinate {coord!r} (columns would be swapped). "
                f"{refit}"
            )
    classes = _listed(const["classes"].values)
    for dim, expected in ((CLASS, classes), (FREE_CLASS, classes[1:])):
        if dim in post.coords and _listed(post[dim].values) != expected:
            raise ValueError(
                f"{path!r} is corrupt: the class list {classes!r} of constant_data disagrees "
                f"with the posterior's {dim!r} coordinate {_listed(post[dim].values)!r} "
                f"(predictions would be relabelled). {refit}"
            )


def _check_contents(tree: xr.DataTree, path: str) -> None:
    """Finite draws, positive scales, consistent shapes and classes, parts that agree."""
    post = tree[POSTERIOR]
    for name, da in post.data_vars.items():
        values = np.asarray(da.values)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise ValueError(
                f"{path!r} is corrupt: posterior variable {name!r} holds NaN or inf draws. "
                "Refit the model and save it again."
            )
    if not has_group(tree, CONSTANT_DATA):
        return
    const = tree[CONSTANT_DATA]
    for name in ("X", "x_mean", "x_scale", "classes"):
        if name not in const:
            raise ValueError(f"{path!r} is corrupt: constant_data has no {name!r}.")
    scale = np.asarray(const["x_scale"].values, dtype=float)
    mean = np.asarray(const["x_mean"].values, dtype=float)
    if not (np.isfinite(scale).all() and (scale > 0).all() and np.isfinite(mean).all()):
        raise ValueError(
            f"{path!r} is corrupt: the stored feature scales must be finite and positive and "
            f"the means finite; got x_scale={scale.tolist()!r}. Refit and save again."
        )
    X = const["X"]
    if X.ndim != 2 or X.shape[1] != scale.size or mean.size != scale.size:
        raise ValueError(
            f"{path!r} is corrupt: X has shape {X.shape} but {scale.size} feature scales."
        )
    classes = np.asarray(const["classes"].values)
    if classes.ndim != 1 or np.unique(classes).size != classes.size or classes.size < 2:
        raise ValueError(
            f"{path!r} is corrupt: classes {classes.tolist()!r} must be >= 2 distinct labels."
        )
    if CLASS in post.dims and post.sizes[CLASS] != classes.size:
        raise ValueError(
            f"{path!r} is corrupt: the posterior has {post.sizes[CLASS]} classes but the "
            f"file lists {classes.size}."
        )
    if has_group(tree, OBSERVED_DATA) and "y" in tree[OBSERVED_DATA]:
        y = np.asarray(tree[OBSERVED_DATA]["y"].values)
        if y.size != X.shape[0] or (y.size and (y.min() < 0 or y.max() >= classes.size)):
            raise ValueError(
                f"{path!r} is corrupt: observed labels do not match X's {X.shape[0]} rows "
                f"and {classes.size} classes."
            )
    _check_parts_agree(tree, path)


def read_fit(path: str | os.PathLike[str], *, validate: bool = True) -> xr.DataTree:
    """Read a fit written by :func:`write_fit` (or by bayescore 0.1), checked and in memory.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not a regular file, not netCDF/HDF5, not a bayescore file, written by a newer
        bayescore, or corrupt.

    Examples
    --------
    >>> read_fit("no/such/model.nc")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No such model file: 'no/such/model.nc'.
    """
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"No such model file: {name!r}.")
    if not p.is_file():
        kind = "a directory" if p.is_dir() else "not a regular file"
        raise ValueError(f"{name!r} is {kind}, not a bayescore model file.")
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if magic != _HDF5_MAGIC:
        raise ValueError(
            f"{name!r} is not a bayescore model file (not netCDF4/HDF5; it starts with "
            f"{magic!r}). Save models with bayescore.save."
        )
    try:
        with xr.open_datatree(p, engine="h5netcdf") as opened:
            tree = opened.load().copy()
    except Exception as exc:
        raise ValueError(f"{name!r} is not a readable netCDF model file: {exc}") from exc
    if not has_group(tree, POSTERIOR) or ATTR_FORMAT not in tree[POSTERIOR].attrs:
        raise ValueError(
            f"{name!r} is a netCDF file but not a bayescore model (no posterior group with "
            f"a {ATTR_FORMAT!r} stamp). Save models with bayescore.save."
        )
    attrs: dict[Any, Any] = tree[POSTERIOR].attrs
    try:
        version = int(attrs[ATTR_FORMAT])
    except (TypeError, ValueError):
        raise ValueError(
            f"{name!r} has an unreadable format stamp {attrs[ATTR_FORMAT]!r}."
        ) from None
    if version > FORMAT_VERSION:
        writer = attrs.get(ATTR_VERSION, "a newer release")
        raise ValueError(
            f"{name!r} was made by bayescore {writer} in file format {version}; this release "
            f"({_package_version()}) reads formats up to {FORMAT_VERSION}. Upgrade bayescore "
            "to load it."
        )
    if version < FORMAT_VERSION:
        tree = _migrate(tree, version, name)
    if validate and ATTR_KIND in attrs:
        _check_contents(tree, name)
    return tree
