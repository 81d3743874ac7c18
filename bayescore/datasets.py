"""Small real data sets that ship inside installed packages (no network).

They come from scikit-learn's bundled files; labels are the data sets' own class names so
that examples show string labels end to end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

__all__ = ["Dataset", "list_datasets", "load_dataset"]


@dataclass(frozen=True)
class Dataset:
    """A bundled data set: features, labels and a short description.

    Attributes
    ----------
    name : str
    X : DataFrame of shape (n_obs, n_features)
    y : Series of length n_obs with the class labels
    description : str
    """

    name: str
    X: pd.DataFrame
    y: pd.Series
    description: str


def _sklearn_loader(func_name: str, label_names: bool) -> Callable[[], tuple]:
    def load() -> tuple[pd.DataFrame, pd.Series, str]:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, func_name)(as_frame=True)
        y = bunch.target
        if label_names:
            names = list(bunch.target_names)
            y = y.map(lambda i: str(names[int(i)]))
        y = y.rename("target")
        first_line = bunch.DESCR.strip().splitlines()
        return bunch.data, y, " ".join(first_line[:3]) if first_line else func_name

    return load


_REGISTRY: dict[str, Callable[[], tuple]] = {
    "breast_cancer": _sklearn_loader("load_breast_cancer", label_names=True),
    "wine": _sklearn_loader("load_wine", label_names=True),
    "iris": _sklearn_loader("load_iris", label_names=True),
    "digits": _sklearn_loader("load_digits", label_names=False),
}


def list_datasets() -> tuple[str, ...]:
    """Names accepted by :func:`load_dataset`.

    Examples
    --------
    >>> list_datasets()
    ('breast_cancer', 'digits', 'iris', 'wine')
    """
    return tuple(sorted(_REGISTRY))


def load_dataset(name: str) -> Dataset:
    """Load a bundled real data set as DataFrames.

    Parameters
    ----------
    name : {"breast_cancer", "wine", "iris", "digits"}
        ``breast_cancer`` is binary (malignant / benign, 569 rows, 30 features), ``wine`` has
        3 classes (178 rows, 13 features), ``iris`` 3 classes (150 rows, 4 features) and
        ``digits`` 10 classes (1797 rows, 64 pixel features).

    Returns
    -------
    Dataset
        With ``X`` (DataFrame) and ``y`` (Series of labels).

    Examples
    --------
    >>> ds = load_dataset("wine")
    >>> ds.X.shape, sorted(ds.y.unique())
    ((178, 13), ['class_0', 'class_1', 'class_2'])
    """
    if name not in _REGISTRY:
        raise ValueError(f"Unknown data set {name!r}; available: {list_datasets()}.")
    X, y, description = _REGISTRY[name]()
    return Dataset(name=name, X=X, y=y, description=description)
