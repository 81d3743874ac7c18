"""Were the scored rows used for fitting? Row fingerprints against a model's training rows.

A bayescore fit keeps its training features (``constant_data["X"]``, ``(obs, feature)`` in
the model's column order). Each row is reduced to a fingerprint, a 16-byte BLAKE2b digest
of its float64 values (with ``-0.0`` read as ``0.0``, so that equal numbers give equal
bytes), and a scored row counts as in-sample when its fingerprint is among the training
rows'. A row that appears in the training data by coincidence (a duplicated record) counts
as in-sample too: the model has seen those values with a label.

Models without training rows (scikit-learn, arrays) cannot be checked; the caller says
whether the rows were held out (``held_out=``), or else the report says it is not known.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._names import CONSTANT_DATA, FEATURE, OBS, has_group

__all__ = ["RowStatus", "fingerprints", "row_matrix", "row_status", "training_rows"]

#: Statuses, as the page shows them.
IN_SAMPLE, HELD_OUT, PARTLY, UNKNOWN = "in-sample", "held-out", "partly in-sample", "not known"


@dataclass(frozen=True)
class RowStatus:
    """Whether the rows of one data split were used to fit one model.

    Attributes
    ----------
    status : str
        ``"in-sample"``, ``"held-out"``, ``"partly in-sample"`` or ``"not known"``.
    text : str
        As the page shows it, e.g. ``"partly in-sample (12 of 150 rows)"``.
    n_rows : int
        Rows in the split.
    n_in_training : int or None
        Rows found among the model's training rows (None when not checked).
    source : str
        How it is known: detected from the model's training rows, or said by the caller.
    note : str or None
        A disagreement between what the caller said and what was detected.
    """

    status: str
    text: str
    n_rows: int
    n_in_training: int | None
    source: str
    note: str | None = None


def row_matrix(X: Any) -> NDArray[np.float64]:
    """Features as a float64 ``(n_obs, n_features)`` array, in the caller's column order.

    Examples
    --------
    >>> row_matrix([[1, 2], [3, 4]]).dtype
    dtype('float64')
    """
    if isinstance(X, xr.DataArray) and FEATURE in X.dims:
        X = X.transpose(OBS if OBS in X.dims else ..., FEATURE).values
    elif hasattr(X, "to_numpy"):
        X = X.to_numpy()
    return np.asarray(X, dtype=np.float64)


def fingerprints(X: NDArray[np.float64]) -> list[bytes]:
    """One 16-byte digest per row of a 2-D float array (``-0.0`` and ``0.0`` agree).

    Examples
    --------
    >>> a, b, c = fingerprints(np.array([[0.0, 1.5], [-0.0, 1.5], [0.0, 1.25]]))
    >>> a == b, a == c, len(a)
    (True, False, 16)
    """
    rows = np.ascontiguousarray(X, dtype=np.float64) + 0.0  # -0.0 + 0.0 is +0.0
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows]


def training_rows(model: Any) -> NDArray[np.float64] | None:
    """The training features a bayescore fit keeps, or None (no fit, or none kept)."""
    idata = getattr(model, "idata_", None)
    if idata is None or not has_group(idata, CONSTANT_DATA) or "X" not in idata[CONSTANT_DATA]:
        return None
    return np.asarray(idata[CONSTANT_DATA]["X"].values, dtype=np.float64)


def row_status(
    rows: NDArray[np.float64],
    train: NDArray[np.float64] | None,
    *,
    held_out: bool | None = None,
    said: str = "held_out=",
) -> RowStatus:
    """Whether ``rows`` were used to fit a model whose training rows are ``train``.

    Parameters
    ----------
    rows : ndarray of shape (n_obs, n_features)
        The rows of one data split.
    train : ndarray of shape (n_train, n_features) or None
        The model's training rows (None: not recorded).
    held_out : bool, optional
        What the caller says: True held out, False used for fitting, None not known.
        Detection wins where there are training rows; a disagreement is noted.
    said : str
        How the caller said it, for the page (``"held_out="`` or ``"train="``).

    Returns
    -------
    RowStatus

    Examples
    --------
    >>> train = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> row_status(np.array([[2.0, 3.0], [5.0, 5.0]]), train).text
    'partly in-sample (1 of 2 rows)'
    >>> row_status(train, None, held_out=None).text
    'not known'
    """
    n = int(rows.shape[0])
    if train is None or train.shape[1] != rows.shape[1]:
        if held_out is None:
            return RowStatus(
                UNKNOWN, UNKNOWN, n, None,
                "the model keeps no training rows to check; pass held_out= to say",
            )  # fmt: skip
        status = HELD_OUT if held_out else IN_SAMPLE
        return RowStatus(status, status, n, None, f"said by the caller ({said})")
    seen = set(fingerprints(train))
    k = sum(f in seen for f in fingerprints(rows))
    source = f"detected: rows compared with the model's {train.shape[0]} training rows"
    if k == 0:
        status, text = HELD_OUT, HELD_OUT
    elif k == n:
        status, text = IN_SAMPLE, IN_SAMPLE
    else:
        status, text = PARTLY, f"{PARTLY} ({k} of {n} rows)"
    note = None
    if held_out is True and k > 0:
        note = f"{said} said held out, but {k} of {n} rows are among the training rows"
    elif held_out is False and k < n:
        note = f"{said} said used for fitting, but {n - k} of {n} rows are not training rows"
    return RowStatus(status, text, n, k, source, note)
