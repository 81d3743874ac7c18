r"""scikit-learn compatible Bayesian classifiers.

They follow the estimator API (``get_params``/``set_params``, ``clone``, ``Pipeline``,
``cross_val_score``, ``GridSearchCV``), keep the posterior as ``idata_`` and predict with
the posterior predictive mean, :math:`\bar p_{nk} = \frac1S\sum_s p_{snk}`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Self

import numpy as np
import xarray as xr
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from bayescore._dask import DaskRows, dask_labels, dask_rows, is_dask
from bayescore._names import (
    ATTR_ESTIMATOR,
    ATTR_FEATURE_NAMES,
    ATTR_KIND,
    ATTR_PARAMS,
    CHAIN,
    CONSTANT_DATA,
    DRAW,
    FEATURE,
    OBS,
    POSTERIOR,
)
from bayescore._netcdf import write_fit
from bayescore._progress import resolve as resolve_progress
from bayescore._validation import (
    Boolean,
    Options,
    Rule,
    check_finite,
    check_labels_present,
    check_numeric_columns,
)
from bayescore.data import encode_classes, feature_names_of
from bayescore.inference.advi import AdviOptions
from bayescore.inference.api import METHODS, method_options, run
from bayescore.inference.nuts import NutsOptions
from bayescore.inference.options import FIT_CONSTRAINTS, FitSettings, InstanceOf
from bayescore.models import MODEL_CONSTRAINTS, ModelSpec, family, make_spec
from bayescore.predictive import PosteriorPredictor

__all__ = ["BayesianLogisticClassifier", "BayesianSoftmaxClassifier", "estimator_for_kind"]


def _as_sklearn_input(X: Any) -> Any:
    """DataArray (obs, feature) -> DataFrame so feature names survive validation."""
    if isinstance(X, xr.DataArray) and X.ndim == 2 and FEATURE in X.dims:
        return X.transpose(OBS if OBS in X.dims else ..., FEATURE).to_pandas()
    return X


def _own_columns(estimator: Any, X: Any) -> Any:
    """The columns the model was fitted on, by name, from a DataFrame holding more.

    One table can then feed models fitted on different columns (``compare``, ``report``,
    the CLI on one CSV). Exactly the fitted columns in another order, renamed or missing
    ones are left to scikit-learn, which refuses them as its estimator checks require.
    """
    names = getattr(estimator, "feature_names_in_", None)
    columns = getattr(X, "columns", None)
    if names is None or columns is None or not hasattr(X, "iloc"):
        return X
    labels = [str(c) for c in columns]
    if len(set(labels)) != len(labels) or not set(names) < set(labels):
        return X
    position = {label: i for i, label in enumerate(labels)}
    return X.iloc[:, [position[str(n)] for n in names]]


def _rows(estimator: Any, X: Any, y: Any = None, reset: bool = False) -> Any:
    """X (and y) validated once: scikit-learn's checks, then ours naming the first NaN/inf.

    Text columns, missing labels and non-finite features are refused with the column's
    name (a DataFrame's, e.g. the CSV header) before scikit-learn's anonymous messages.
    """
    X = _as_sklearn_input(X)
    if not reset:
        X = _own_columns(estimator, X)
    fitted = None if reset else getattr(estimator, "feature_names_in_", None)
    if fitted is None or set(map(str, fitted)) == set(map(str, getattr(X, "columns", ()))):
        check_numeric_columns(X, "X")  # other column sets: scikit-learn names the mismatch
    names = feature_names_of(X)
    index = getattr(X, "index", None)
    if y is None:
        X_arr = validate_data(estimator, X, reset=reset, dtype="numeric", ensure_all_finite=False)
        X_arr = check_finite(X_arr, "X", columns=names)
        return X_arr, None if index is None else np.asarray(index)
    check_labels_present(y, "y")
    X_arr, y_arr = validate_data(estimator, X, y, dtype="numeric", ensure_all_finite=False)
    return check_finite(X_arr, "X", columns=names), y_arr


def _json_number(value: Any) -> Any:
    """NumPy scalars as Python numbers in saved parameters; anything else is not JSON.

    ``GridSearchCV`` over ``np.arange`` sets ``draws=np.int64(500)``, which ``fit`` accepts.
    """
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _labels_of(proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The most probable class of each row of a block of probabilities (Dask tasks)."""
    return np.asarray(classes[np.argmax(proba, axis=1)])


def _rules(*names: str, of: type[NutsOptions] | type[AdviOptions]) -> dict[str, Rule | InstanceOf]:
    rules = {name: of.rule(name) for name in names}
    return {name: rule for name, rule in rules.items() if rule is not None}


#: Allowed values of every estimator parameter, checked at the top of ``fit`` (as
#: scikit-learn's ``_parameter_constraints``); ``None`` passes where it is the default.
#: The rules are the engine's own: the same values pass here and in ``bayescore.fit``.
_CONSTRAINTS: dict[str, Rule | InstanceOf] = {
    "method": Options(tuple(METHODS)),
    **FIT_CONSTRAINTS,
    **{k: MODEL_CONSTRAINTS[k] for k in ("prior_scale", "intercept_prior_scale", "prior")},
    **{"coding": MODEL_CONSTRAINTS["coding"]},
    **_rules("sampler", "target_accept", "cores", of=NutsOptions),
    **_rules("batch_size", of=AdviOptions),
}


class _BayesianClassifier(ClassifierMixin, BaseEstimator):
    """Shared fit/predict logic; subclasses set the model kind and its parameters."""

    _kind: str = "softmax"

    def _check_params(self) -> None:
        name = type(self).__name__
        for param, value in self.get_params(deep=False).items():
            rule = _CONSTRAINTS.get(param)
            if rule is not None and value is not None:
                rule.check(param, value, name)
        if self.fit_kwargs is not None and not isinstance(self.fit_kwargs, dict):
            raise TypeError(
                f"The 'fit_kwargs' parameter of {name} must be a dict or None. "
                f"Got {self.fit_kwargs!r} instead."
            )

    def _model_kwargs(self) -> dict[str, Any]:
        return {
            "prior_scale": self.prior_scale,
            "intercept_prior_scale": self.intercept_prior_scale,
            "prior": self.prior,
        }

    def _fit_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(self.fit_kwargs or {})
        if self.method in ("nuts", "auto"):
            kwargs.setdefault("sampler", self.sampler)
            kwargs.setdefault("target_accept", self.target_accept)
            kwargs.setdefault("cores", self.cores)
        elif self.batch_size is not None:
            kwargs.setdefault("batch_size", self.batch_size)
        return kwargs

    def fit(self, X: Any, y: Any) -> Self:
        """Fit the model to ``X`` and ``y`` by NUTS or ADVI.

        Parameters
        ----------
        X : array-like of shape (n_obs, n_features), DataFrame or DataArray (obs, feature)
        y : array-like of shape (n_obs,)
            Labels of any hashable type (strings, ints, bools).

        Returns
        -------
        self
        """
        self._check_params()
        if y is None:  # scikit-learn's wording (its estimator checks look for it)
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        if is_dask(X) or is_dask(y):
            spec, classes = self._distributed_spec(X, y)
        else:
            X_arr, y_arr = _rows(self, X, y, reset=True)
            # The one label encoder of the fitting side: missing labels (None, NaN) and mixed
            # types are named by row before scikit-learn's sort of the labels can fail on them.
            y_idx, classes = encode_classes(y_arr)
            check_classification_targets(y_arr)
            spec = make_spec(
                X_arr,
                y_idx,
                classes,
                kind=self._kind,
                feature_names=getattr(self, "feature_names_in_", None),
                func=type(self).__name__,
                **self._model_kwargs(),
            )
        settings = FitSettings(
            draws=int(self.draws),
            tune=int(self.tune),
            chains=int(self.chains),
            random_seed=None if self.random_seed is None else int(self.random_seed),
            progressbar=resolve_progress(self.progressbar),
        )
        kwargs = self._fit_kwargs()
        warn = Boolean().check("warn", kwargs.pop("warn", True), "fit")
        options = method_options(self.method, kwargs)
        idata = run(spec, self.method, settings, options, warn=warn)
        self._set_fitted(idata, classes)
        return self

    def _distributed_spec(self, X: Any, y: Any) -> tuple[ModelSpec, np.ndarray]:
        """The model of a Dask X (array or dataframe) and y: checked on the partitions.

        Nothing is gathered: the standardisation, the check for non-finite values (named by
        partition and row) and the labels' classes are map-reduced over the partitions.
        """
        import dask.array as da

        from bayescore.inference.cluster import encode_labels, standardize, validate

        columns = getattr(X, "columns", None)
        if not is_dask(y):
            y = da.from_array(np.asarray(y), chunks=-1)
        X_d, y_d = validate(X, y)
        standardization = standardize(X_d)
        y_idx, classes = encode_labels(y_d)
        check_classification_targets(classes)
        self.n_features_in_ = int(X_d.shape[1])
        if columns is not None:
            self.feature_names_in_ = np.asarray([str(c) for c in columns], dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        spec = make_spec(
            X_d,
            y_idx,
            classes,
            kind=self._kind,
            feature_names=getattr(self, "feature_names_in_", None),
            func=type(self).__name__,
            standardization=standardization,
            **self._model_kwargs(),
        )
        return spec, classes

    @classmethod
    def from_idata(cls, idata: xr.DataTree, **params: Any) -> Self:
        """A fitted estimator around an existing fit of this estimator's model kind.

        Parameters
        ----------
        idata : DataTree
            From :func:`bayescore.fit` on a :func:`bayescore.build_model` model of the
            matching kind, or read back by :func:`bayescore.load`.
        **params
            Estimator parameters (as ``get_params``) recorded with the fit.

        Returns
        -------
        estimator
            With ``idata_``, ``classes_``, ``n_features_in_``, ``coef_``, ``intercept_`` and,
            when the fit recorded them, ``feature_names_in_``.
        """
        kind = idata[POSTERIOR].attrs.get(ATTR_KIND)
        if kind != cls._kind:
            raise ValueError(
                f"{cls.__name__} needs a fit of a {cls._kind!r} model; this one is {kind!r}."
            )
        est = cls(**params)
        const = idata[CONSTANT_DATA]
        est._set_fitted(idata, np.asarray(const["classes"].values))
        est.n_features_in_ = int(const["x_mean"].size)
        names = idata[POSTERIOR].attrs.get(ATTR_FEATURE_NAMES)
        if names is not None:
            est.feature_names_in_ = np.asarray(json.loads(names), dtype=object)
        return est

    def _set_fitted(self, idata: Any, classes: np.ndarray) -> None:
        """Set ``idata_``, ``classes_`` and the original-scale posterior means."""
        self.idata_ = idata
        self.classes_ = classes
        post = idata[POSTERIOR]
        self.coef_, self.intercept_ = family(self._kind).point_coefficients(
            post["coef_original"].mean((CHAIN, DRAW)),
            post["intercept_original"].mean((CHAIN, DRAW)),
        )

    def _predictor(self) -> PosteriorPredictor:
        check_is_fitted(self, "idata_")
        return PosteriorPredictor(self.idata_)

    def _dask_rows(self, X: Any) -> DaskRows:
        """A Dask X checked as scikit-learn checks an in-memory one: features and names."""
        rows = dask_rows(X)
        name = type(self).__name__
        if rows.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {rows.n_features} features, but {name} is expecting "
                f"{self.n_features_in_} features as input."
            )
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and rows.columns is not None:
            if [str(c) for c in rows.columns] != [str(c) for c in fitted]:
                raise ValueError(
                    "The feature names should match those that were passed during fit. "
                    f"{name} was fitted with {[str(c) for c in fitted]}; X has "
                    f"{[str(c) for c in rows.columns]}."
                )
        return rows

    def predict_proba_draws(self, X: Any, draws: Any = None, dtype: Any = None) -> xr.DataArray:
        """Class probabilities for each posterior draw.

        Parameters
        ----------
        X : array-like of shape (n_obs, n_features), DataFrame, DataArray, or Dask
            A Dask array or DataFrame gives a lazy result (see Returns).
        draws : None, int, slice or sequence of int, optional
            Thin the posterior: an int ``n`` keeps ``n`` draws per chain, evenly spaced over
            each chain; a slice or positions select along ``draw`` in every chain (see
            :func:`bayescore.predictive.draw_positions`).
        dtype : np.float32 or np.float64, optional
            Type of the result (default float64); float32 halves its memory (computed in
            float64, rounded once).

        Returns
        -------
        DataArray
            Dims ``(chain, draw, obs, class)`` with ``class`` coord ``classes_`` and ``obs``
            coord the DataFrame's index (none for arrays: their rows are positional). For a
            Dask ``X``: over a Dask array chunked along ``obs`` like ``X``'s row partitions,
            not computed.
        """
        predictor = self._predictor()
        if is_dask(X):
            return predictor.lazy_draws(self._dask_rows(X), "proba", draws=draws, dtype=dtype)
        X_arr, index = _rows(self, X)
        return predictor.proba(X_arr, index, draws=draws, dtype=dtype)

    def predict_proba(self, X: Any) -> Any:
        r"""Posterior predictive mean probabilities, shape (n_obs, n_classes).

        :math:`\bar p_{nk} = \frac1S \sum_s p_{snk}`, accumulated over tiles of rows and
        draws: memory beside ``X`` stays about 30 MB per core however many rows and draws
        there are (75 MB at 10^6 rows, 2,000 draws; ``benchmarks/bench_predict.py``), where
        the draws themselves would take 30 GB. A Dask ``X`` gives a Dask array chunked like
        its rows, not computed.
        """
        predictor = self._predictor()
        if is_dask(X):
            return predictor.lazy_mean_proba(self._dask_rows(X))
        X_arr, _ = _rows(self, X)
        return predictor.mean_proba(X_arr)

    def predict_log_proba(self, X: Any) -> Any:
        """Log of :meth:`predict_proba`, computed in log space (log-mean-exp over draws).

        A Dask ``X`` gives a Dask array, not computed.
        """
        predictor = self._predictor()
        if is_dask(X):
            return predictor.lazy_mean_log_proba(self._dask_rows(X))
        X_arr, _ = _rows(self, X)
        return predictor.mean_log_proba(X_arr)

    def predict(self, X: Any) -> Any:
        """Most probable class label under the posterior predictive distribution.

        A Dask ``X`` gives a Dask array of labels chunked like its rows, not computed.
        """
        proba = self.predict_proba(X)
        if is_dask(proba):
            return proba.map_blocks(
                _labels_of,
                classes=self.classes_,
                drop_axis=1,
                dtype=self.classes_.dtype,
                meta=np.empty((0,), dtype=self.classes_.dtype),
            )
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Accuracy of :meth:`predict` on ``X`` against ``y`` (scikit-learn's convention).

        For the quality of the probabilities use :func:`bayescore.score` (proper scores).
        A Dask ``X`` gives a 0-d Dask array, not computed; ``y`` (and ``sample_weight``),
        numpy or Dask, are lined up with ``X``'s row partitions by position.
        """
        if not is_dask(X):
            return super().score(X, y, sample_weight=sample_weight)
        rows = self._dask_rows(X)
        correct = self.predict(rows.data) == dask_labels(y, rows.chunks)
        if sample_weight is None:
            return correct.mean()
        weight = dask_labels(sample_weight, rows.chunks, name="sample_weight")
        return (correct * weight).sum() / weight.sum()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fitted estimator to a netCDF file, atomically (see :func:`bayescore.save`).

        The file holds the fit (``idata_``), the estimator's class and parameters and the
        feature names; :func:`bayescore.load` returns an equal estimator.
        """
        check_is_fitted(self, "idata_")
        try:
            params_json = json.dumps(self.get_params(), default=_json_number)
        except TypeError as exc:
            raise TypeError(
                f"Estimator parameters must be JSON-serialisable to be saved; {exc}."
            ) from exc
        tree = self.idata_.copy()
        attrs = {ATTR_ESTIMATOR: type(self).__name__, ATTR_PARAMS: params_json}
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            attrs[ATTR_FEATURE_NAMES] = json.dumps([str(n) for n in names])
        tree[POSTERIOR].attrs.update(attrs)
        return write_fit(tree, path)


_PARAMS_DOC = """
    Parameters
    ----------
    method : {"auto", "nuts", "advi", "fullrank_advi", "laplace", "pathfinder"}, default "auto"
        Posterior inference. ``auto``: the Laplace approximation when its verdict says its
        draws are usable as they are, else NUTS warm-started from it (the choice and its
        reason are recorded on ``idata_``); ``nuts``: NUTS sampling, exact up to Monte
        Carlo error, for final, small-data analyses; mean-field / full-rank ADVI, the
        Laplace approximation (mode and Hessian) or Pathfinder (Gaussians along L-BFGS
        paths, importance-resampled). Approximations are judged by the verdict of
        :func:`bayescore.diagnose`.
    draws : int, default 1000
        Posterior draws per chain (NUTS) or draws from the approximation (one chain).
    tune : int, default 1000
        NUTS tuning steps per chain.
    chains : int, default 2
        NUTS chains.
    prior_scale : float, default 2.5
        Prior scale of the standardised coefficients.
    intercept_prior_scale : float, default 2.5
        Scale of the Normal prior on the intercept(s).
    prior : {"normal", "student_t"}, default "normal"
    random_seed : int or None, default 0
        Same seed, same draws, same predictions.
    sampler : {"auto", "pymc", "nutpie", "numpyro"}, default "auto"
        NUTS backend. ``auto``: nutpie on bayescore's closed-form density, warm-started at
        the Laplace approximation (no compilation, short effective tuning), where that
        applies; PyMC's NUTS otherwise (zero-sum coding). numpyro needs
        ``pip install 'bayescore[fast]'``. ``fit_kwargs={"warm_start": False}`` starts
        NUTS cold, as ``pm.sample`` does.
    target_accept : float, default 0.8
        NUTS target acceptance rate (raise it if there are divergences).
    cores : int or None, default None
        Processes for NUTS chains (None: one per chain).
    batch_size : int or None, default None
        Minibatch size for ADVI on large data.
    progressbar : bool or None, default None
        Show the sampler's progress; None: in an interactive terminal or a notebook only.
    fit_kwargs : dict or None, default None
        Further options for :func:`bayescore.fit`: the method's options (e.g.
        ``{"learning_rate": 0.01}``) and ``warn``.
"""


class BayesianLogisticClassifier(_BayesianClassifier):  # noqa: D101 (docstring below)
    __doc__ = (
        """Bayesian logistic regression for binary labels, fitted with PyMC.

    .. math::

        y_n \\sim \\mathrm{Bernoulli}(\\sigma(\\alpha + \\tilde x_n \\beta)),\\quad
        \\alpha, \\beta_j \\sim \\mathrm{Normal}(0, 2.5)

    Features are standardised inside the model with the training mean and population sd.
"""
        + _PARAMS_DOC
        + """
    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only for DataFrame input)
    idata_ : xarray.DataTree
    coef_ : ndarray of shape (1, n_features)
        Posterior mean coefficients on the original feature scale.
    intercept_ : ndarray of shape (1,)

    See Also
    --------
    BayesianSoftmaxClassifier : K >= 2 classes.

    Examples
    --------
    >>> import bayescore as bs
    >>> ds = bs.load_dataset("breast_cancer")
    >>> clf = bs.BayesianLogisticClassifier(method="advi", draws=100)
    >>> clf.fit(ds.X.iloc[:, :5], ds.y).classes_.tolist()
    ['benign', 'malignant']
    >>> clf.predict_proba(ds.X.iloc[:2, :5]).shape
    (2, 2)
    """
    )

    _kind = "logistic"

    def __init__(
        self,
        method: str = "auto",
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 2,
        prior_scale: float = 2.5,
        intercept_prior_scale: float = 2.5,
        prior: str = "normal",
        random_seed: int | None = 0,
        sampler: str = "auto",
        target_accept: float = 0.8,
        cores: int | None = None,
        batch_size: int | None = None,
        progressbar: bool | None = None,
        fit_kwargs: dict | None = None,
    ) -> None:
        self.method = method
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.prior_scale = prior_scale
        self.intercept_prior_scale = intercept_prior_scale
        self.prior = prior
        self.random_seed = random_seed
        self.sampler = sampler
        self.target_accept = target_accept
        self.cores = cores
        self.batch_size = batch_size
        self.progressbar = progressbar
        self.fit_kwargs = fit_kwargs

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


class BayesianSoftmaxClassifier(_BayesianClassifier):  # noqa: D101 (docstring below)
    __doc__ = (
        """Bayesian softmax (multinomial logistic) regression for K >= 2 classes.

    .. math::

        y_n \\sim \\mathrm{Categorical}(\\mathrm{softmax}(\\alpha + \\tilde x_n B))

    The first class is the reference (logits 0) by default; ``coding="zerosum"`` uses
    sum-to-zero coefficients instead.
"""
        + _PARAMS_DOC
        + """    coding : {"reference", "zerosum"}, default "reference"

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only for DataFrame input)
    idata_ : xarray.DataTree
    coef_ : ndarray of shape (n_classes, n_features)
        Posterior mean coefficients on the original feature scale.
    intercept_ : ndarray of shape (n_classes,)

    See Also
    --------
    BayesianLogisticClassifier : the binary model.

    Examples
    --------
    >>> import bayescore as bs
    >>> ds = bs.load_dataset("iris")
    >>> clf = bs.BayesianSoftmaxClassifier(draws=500, tune=500, random_seed=1).fit(ds.X, ds.y)
    >>> clf.predict_proba_draws(ds.X.iloc[:3]).dims
    ('chain', 'draw', 'obs', 'class')
    """
    )

    _kind = "softmax"

    def __init__(
        self,
        method: str = "auto",
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 2,
        prior_scale: float = 2.5,
        intercept_prior_scale: float = 2.5,
        prior: str = "normal",
        random_seed: int | None = 0,
        sampler: str = "auto",
        target_accept: float = 0.8,
        cores: int | None = None,
        batch_size: int | None = None,
        progressbar: bool | None = None,
        fit_kwargs: dict | None = None,
        coding: str = "reference",
    ) -> None:
        self.method = method
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.prior_scale = prior_scale
        self.intercept_prior_scale = intercept_prior_scale
        self.prior = prior
        self.random_seed = random_seed
        self.sampler = sampler
        self.target_accept = target_accept
        self.cores = cores
        self.batch_size = batch_size
        self.progressbar = progressbar
        self.fit_kwargs = fit_kwargs
        self.coding = coding

    def _model_kwargs(self) -> dict[str, Any]:
        return {**super()._model_kwargs(), "coding": self.coding}


def estimator_for_kind(kind: str) -> type[_BayesianClassifier]:
    """The estimator class that fits models of ``kind`` ("logistic" or "softmax").

    Examples
    --------
    >>> estimator_for_kind("softmax").__name__
    'BayesianSoftmaxClassifier'
    """
    classes = {c._kind: c for c in (BayesianLogisticClassifier, BayesianSoftmaxClassifier)}
    if kind not in classes:
        raise ValueError(f"Unknown model kind {kind!r}; bayescore fits {sorted(classes)}.")
    return classes[kind]
