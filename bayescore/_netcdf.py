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

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayescore._atomic import atomic_write, check_target
from bayescore._names import (
    ATTR_FORMAT,
    ATTR_KIND,
    ATTR_VERSION,
    CLASS,
    CONSTANT_DATA,
    FORMAT_VERSION,
    OBSERVED_DATA,
    POSTERIOR,
    has_group,
)

__all__ = ["read_fit", "write_fit"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bayescore")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


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


def _check_contents(tree: xr.DataTree, path: str) -> None:
    """Finite draws, positive scales, consistent shapes and classes."""
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
