r"""Recalibration maps fitted by NLL: temperature scaling, Platt scaling, isotonic regression.

scikit-learn estimators (``fit(values, y)``, ``transform``/``predict_proba``). Same kind in,
same kind out: numpy input gives an ndarray, a DataArray gives a DataArray with its
``obs``/``class`` coords and attrs (1-D binary input gains a trailing ``class`` dim). ``y`` is
matched by value against ``labels=`` or the input's ``class`` coordinate
(:mod:`bayescore._inputs`). A map fitted on K classes refuses input with another K.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator

from bayescore._array.grid import grid_posterior
from bayescore._array.scores import log_mean_exp, true_class
from bayescore._inputs import align_y, class_coord, class_last, resolve_labels, wrap
from bayescore._names import CHAIN, CLASS, DRAW
from bayescore._validation import (
    SUM_TOL,
    Interval,
    Options,
    as_float_array,
    check_consistent_length,
    check_probs,
)

__all__ = ["CalibrationWarning", "IsotonicCalibration", "PlattScaling", "TemperatureScaling"]

INPUTS = ("auto", "logits", "probs")


class CalibrationWarning(UserWarning):
    """A recalibrator's fit is doubtful, e.g. the temperature ran to its search bound."""


#: Search range of log T for the NLL minimiser and the posterior mode (T in [1e-3, 1e3]).
_LOG_T_BOUNDS = (float(np.log(1e-3)), float(np.log(1e3)))
_XATOL = {"xatol": 1e-10}
#: Allowed values of TemperatureScaling's posterior parameters, checked in ``fit``.
_TEMPERATURE_CONSTRAINTS: dict[str, Interval] = {
    "n_draws": Interval(numbers.Integral, 1, None, "left"),
    "prior_scale": Interval(numbers.Real, 0, None, "neither"),
    "n_grid": Interval(numbers.Integral, 16, None, "left"),
    "random_state": Interval(numbers.Integral, 0, None, "left"),
}
#: Fitted attributes of the posterior mode (dropped by a refit with posterior=False).
_POSTERIOR_ATTRS = (
    "temperature_draws_",
    "log_temperature_mean_",
    "log_temperature_sd_",
    "log_temperature_grid_",
    "log_temperature_pdf_",
)
_EPS = float(np.finfo(np.float64).eps)
#: Probabilities of exactly 0 or 1 map to this logit: beyond it float64 cannot tell p from 1.
_MAX_LOGIT = float(-np.log(_EPS))
Floats = NDArray[np.floating[Any]]


def _values(values: Any, name: str) -> tuple[Floats, xr.DataArray | None]:
    """Float64 values with ``class`` last, and the DataArray template (None for numpy)."""
    if isinstance(values, xr.DataArray):
        template = class_last(values)
        return as_float_array(template.values, name), template
    return as_float_array(values, name), None


#: Most decimals probabilities are looked for being rounded to (beyond, float64 noise in
#: ``x * 10**d`` reaches the 1e-6 of a rounding step that the test allows).
_MAX_DECIMALS = 9
#: Rows of values in [0, 1] summing to 1 within this, but not within rounding, are doubtful.
_NEAR_ONE = 0.05


def _decimals(arr: Floats) -> int | None:
    """The fewest decimals ``d`` (up to 9) every value is a multiple of ``10**-d`` of.

    Examples
    --------
    >>> _decimals(np.array([0.1234, 0.5])), _decimals(np.array([1 / 3]))
    (4, None)
    """
    for d in range(1, _MAX_DECIMALS + 1):
        scaled = arr * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6):
            return d
    return None


def _probability_tolerance(arr: Floats) -> float:
    """How far rows may sum from 1 and still be probabilities: 1e-6, or their rounding.

    Probabilities rounded to ``d`` decimals (a CSV export, a printed table) sum to 1 only
    within ``K / 2 * 10**-d``: each of the K entries moved by at most half a step.
    """
    d = _decimals(arr)
    rounding = 0.0 if d is None else arr.shape[-1] * 0.5 * 10.0**-d * (1 + 1e-9)
    return max(SUM_TOL, rounding)


def _is_probs(arr: Floats, input: str) -> tuple[bool, float]:
    """Whether ``arr`` holds probabilities, and the tolerance of their row sums.

    ``input="auto"`` reads values in [0, 1] whose rows sum to 1 within their rounding as
    probabilities (rounded probabilities are not logits: reading them as such fitted T =
    0.3 instead of 1.0, issue 21); rows that are close to 1 but not within rounding are
    read as probabilities too, with a :class:`CalibrationWarning`, since logits seldom do
    that; anything else is logits.
    """
    if input == "logits":
        return False, 0.0
    tol = _probability_tolerance(arr)
    if input == "probs":
        return True, tol
    if arr.min() < 0 or arr.max() > 1:
        return False, 0.0
    off = float(np.max(np.abs(arr.sum(axis=-1) - 1.0)))
    if off <= tol:
        return True, tol
    if off <= _NEAR_ONE:
        warnings.warn(
            f"input='auto' cannot tell whether these values are probabilities or logits: "
            f"they lie in [0, 1] and their rows sum to 1 within {off:.3g}, more than "
            f"rounding explains (tolerance {tol:.3g}). They are read as probabilities; pass "
            "input='probs' or input='logits' to say which.",
            CalibrationWarning,
            stacklevel=4,
        )
        return True, off
    return False, 0.0


def _log_probs(arr: Floats, input: str) -> Floats:
    """Log-probabilities (or logits) with classes last; 1-D input is the positive class."""
    if arr.ndim == 1:
        if input == "logits":
            arr = np.stack([np.zeros_like(arr), arr], axis=-1)
        else:
            arr = check_probs(arr, "probs")
    is_probs, tol = _is_probs(arr, input)
    if is_probs:
        # Rows summing to 1 only within rounding: their logs are logits up to a constant
        # per row, which softmax ignores, so they need no renormalising.
        arr = check_probs(arr, "probs", atol=tol)
        with np.errstate(divide="ignore"):
            return np.log(arr)
    if not np.isfinite(arr).all():
        raise ValueError("logits must be finite.")
    return arr


def _check_classes(est: Any, n_classes: int, coord: np.ndarray | None) -> None:
    """Refuse input whose classes differ from those the map was fitted on."""
    name = type(est).__name__
    if n_classes != est.n_classes_:
        raise ValueError(
            f"{name} was fitted on {est.n_classes_} classes but got input with {n_classes} "
            "classes; transform forecasts of the same classes it was fitted on."
        )
    fitted = getattr(est, "classes_", None)
    if fitted is not None and coord is not None and fitted.tolist() != coord.tolist():
        raise ValueError(
            f"{name} was fitted on classes {fitted.tolist()!r} but got the 'class' coordinate "
            f"{coord.tolist()!r}; reorder the input with .sel(class=...)."
        )


def _fit_labels(
    y: Any, n_classes: int, labels: Any, values: Any, n_obs: int, name: str
) -> NDArray[np.int64]:
    # Rows by label when both y and the forecasts name them (the one input path's rule).
    y, _ = align_y(y, values, name)
    y_idx = resolve_labels(y, n_classes, labels, class_coord(values))
    check_consistent_length(y_idx.shape[0], n_obs, "y", "the calibration forecasts")
    return y_idx


def _known(labels: Any, values: Any) -> np.ndarray | None:
    return np.asarray(labels) if labels is not None else class_coord(values)


class TemperatureScaling(BaseEstimator):
    r"""Temperature scaling (Guo et al., 2017): divide logits by :math:`T` fitted by NLL.

    .. math:: \hat p_n = \mathrm{softmax}(z_n / T),\qquad
              T = \arg\min_{T>0} -\sum_n \log \hat p_n(y_n)

    Probabilities are accepted too (their logs are the logits up to a constant).

    With ``posterior=True`` the temperature is uncertain, and that uncertainty is passed on:
    :math:`u = \log T \sim \mathrm{Normal}(0, \sigma_0)` a priori (``prior_scale``
    :math:`= \sigma_0`, default 1: T within a factor :math:`e^{\pm 2} \approx 7` with
    95 % prior probability), and

    .. math:: p(u \mid y) \propto \mathrm{Normal}(u; 0, \sigma_0)
              \prod_n \mathrm{softmax}(z_n e^{-u})_{y_n},

    the same likelihood the point fit maximises (for draws input, the posterior predictive
    likelihood of the tempered draws). Being one-dimensional, the posterior is computed on a
    grid (``n_grid`` points around its mode, reaching to where the density is
    :math:`e^{-30}` of its peak, normalised by a log-sum-exp of the trapezoid rule) and
    sampled by inverting its CDF. ``transform`` then tempers each forecast with every draw
    of T, so the output is a set of draws whose spread (e.g. the epistemic term of
    :func:`bayescore.score`) includes the recalibration uncertainty.

    Parameters
    ----------
    input : {"auto", "logits", "probs"}, default "auto"
        ``auto`` treats values in [0, 1] whose rows sum to 1 as probabilities, within the
        rounding of their decimals (probabilities rounded to 4 decimals sum to 1 within
        ``K * 0.5e-4``); rows near 1 beyond rounding are read as probabilities with a
        :class:`CalibrationWarning`. ``probs`` accepts the same rounding.
    apply_to : {"draws", "mean"}, default "draws"
        For posterior draws (leading dims before ``obs, class``): ``draws`` tempers every
        draw and fits T by the posterior predictive NLL of the tempered draws; ``mean``
        fits and applies T to the draw-averaged probabilities (and returns those).
    posterior : bool, default False
        Infer a posterior over T instead of a point estimate.
    n_draws : int, default 1000
        Draws of T kept (``posterior=True``).
    prior_scale : float, default 1.0
        Prior sd of :math:`\log T` (``posterior=True``).
    n_grid : int, default 401
        Grid points for the posterior of :math:`\log T`; each costs one evaluation of the
        likelihood.
    random_state : int or None, default 0
        Seed of the inverse-CDF draws.

    Attributes
    ----------
    temperature_ : float
        > 1 softens over-confident forecasts, < 1 sharpens under-confident ones. The NLL
        minimiser; with ``posterior=True`` the posterior mean :math:`E[T \mid y]` (a
        summary: ``transform`` uses the draws).
    temperature_draws_ : ndarray of shape (n_draws,)
        Posterior draws of T (``posterior=True`` only).
    log_temperature_mean_, log_temperature_sd_ : float
        Posterior mean and sd of :math:`\log T` (``posterior=True`` only).
    log_temperature_grid_, log_temperature_pdf_ : ndarray of shape (n_grid,)
        The grid and the normalised posterior density of :math:`\log T` on it.
    n_classes_ : int
    classes_ : ndarray or None
        Class labels seen in ``fit`` (``labels=`` or the ``class`` coordinate).

    Examples
    --------
    >>> ts = TemperatureScaling().fit([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0]], [0, 1, 1])
    >>> ts.temperature_ > 1
    True
    >>> bayes = TemperatureScaling(posterior=True, n_draws=200).fit(
    ...     [[4.0, 0.0], [0.0, 4.0], [4.0, 0.0]], [0, 1, 1])
    >>> bayes.temperature_draws_.shape, bayes.transform([[4.0, 0.0]]).shape
    ((200,), (200, 1, 2))
    """

    def __init__(
        self,
        input: str = "auto",
        apply_to: str = "draws",
        posterior: bool = False,
        n_draws: int = 1000,
        prior_scale: float = 1.0,
        n_grid: int = 401,
        random_state: int | None = 0,
    ) -> None:
        self.input = input
        self.apply_to = apply_to
        self.posterior = posterior
        self.n_draws = n_draws
        self.prior_scale = prior_scale
        self.n_grid = n_grid
        self.random_state = random_state

    def _logits(self, values: Any) -> tuple[Floats, xr.DataArray | None]:
        Options(INPUTS).check("input", self.input, "TemperatureScaling")
        Options(("draws", "mean")).check("apply_to", self.apply_to, "TemperatureScaling")
        arr, template = _values(values, "logits_or_probs")
        z = _log_probs(arr, self.input)
        if z.ndim > 2 and self.apply_to == "mean":
            lead = tuple(range(z.ndim - 2))
            # log of the draw-averaged probabilities
            z = log_mean_exp(log_softmax(z, axis=-1), axis=lead)
            if template is not None:
                template = template.isel({dim: 0 for dim in template.dims[: len(lead)]}, drop=True)
        return z, template

    def _check_params(self) -> None:
        name = type(self).__name__
        if not isinstance(self.posterior, bool | np.bool_):
            raise TypeError(
                f"The 'posterior' parameter of {name} must be a bool. "
                f"Got {self.posterior!r} instead."
            )
        for param, rule in _TEMPERATURE_CONSTRAINTS.items():
            value = getattr(self, param)
            if value is not None:
                rule.check(param, value, name)

    def fit(self, logits_or_probs: Any, y: Any, *, labels: Any = None) -> TemperatureScaling:
        """Fit T (or its posterior) by the NLL of ``y`` (matched by value, see module doc)."""
        self._check_params()
        z, _ = self._logits(logits_or_probs)
        y_idx = _fit_labels(
            y, z.shape[-1], labels, logits_or_probs, z.shape[-2], "logits_or_probs"
        )
        z = np.where(np.isneginf(z), -1e300, z)  # log(0): finite but decisive

        def nll(log_t: float) -> float:
            ll = true_class(log_softmax(z / np.exp(log_t), axis=-1), y_idx)
            if ll.ndim > 1:  # draws: posterior predictive log-likelihood
                ll = log_mean_exp(ll, axis=tuple(range(ll.ndim - 1)))
            return -float(ll.sum())

        for attr in _POSTERIOR_ATTRS:  # a refit drops the previous fit's posterior
            self.__dict__.pop(attr, None)
        if self.posterior:
            self._fit_posterior(nll)
        else:
            res = minimize_scalar(nll, bounds=_LOG_T_BOUNDS, method="bounded", options=_XATOL)
            self.temperature_ = float(np.exp(res.x))
            # No interior minimum: the NLL still falls (or stays flat, once it underflows)
            # halving or doubling T, so the optimum is T -> 0 or T -> infinity.
            at = float(nll(res.x))
            toward_zero = float(nll(res.x - np.log(2.0))) <= at
            if toward_zero or float(nll(res.x + np.log(2.0))) <= at:
                warnings.warn(
                    "The NLL-optimal temperature has no finite value on this calibration set "
                    f"(the fit stopped at T = {self.temperature_:.3g}): "
                    + (
                        "every forecast's top class is right, so sharper is always better"
                        if toward_zero
                        else "the forecasts carry no information about the labels"
                    )
                    + ". The fitted T will mislead on new data; use more calibration data, "
                    "or TemperatureScaling(posterior=True), whose prior keeps T finite.",
                    CalibrationWarning,
                    stacklevel=2,
                )
        self.n_classes_ = int(z.shape[-1])
        self.classes_ = _known(labels, logits_or_probs)
        return self

    def _fit_posterior(self, nll: Callable[[float], float]) -> None:
        scale = float(self.prior_scale)

        def log_post(u: float) -> float:
            return -nll(u) - 0.5 * (u / scale) ** 2  # Normal(0, scale) prior, up to a constant

        res = minimize_scalar(
            lambda u: -log_post(u), bounds=_LOG_T_BOUNDS, method="bounded", options=_XATOL
        )
        post = grid_posterior(log_post, float(res.x), self.n_grid)
        u = np.random.default_rng(self.random_state).random(self.n_draws)
        self.temperature_draws_ = np.exp(post.draws(u))
        self.log_temperature_mean_, self.log_temperature_sd_ = post.mean, post.sd
        self.log_temperature_grid_, self.log_temperature_pdf_ = post.grid, post.pdf
        dx = np.diff(post.grid)
        tempered = np.exp(post.grid) * post.pdf
        self.temperature_ = float(np.sum((tempered[1:] + tempered[:-1]) / 2 * dx))

    def transform(self, logits_or_probs: Any) -> Any:
        """Recalibrated probabilities, same kind as the input.

        With ``posterior=False`` the output has the input's shape. With ``posterior=True``
        every draw of T gets used:

        - point forecasts ``(n_obs, n_classes)`` (or 1-D binary) give draws
          ``(n_draws, n_obs, n_classes)``, draw s tempered by ``temperature_draws_[s]``; a
          DataArray gives dims ``(chain, draw, obs, class)`` with one chain, ready for
          :func:`bayescore.score`;
        - draws (any leading dims, e.g. ``(S, N, K)`` or ``(chain, draw, obs, class)``)
          keep their shape; draw s, counted in C order over the leading dims, is tempered by
          ``temperature_draws_[s % n_draws]`` (the T draws are cycled when there are fewer
          of them than forecast draws; set ``n_draws`` to at least the number of forecast
          draws to give each its own). The draws of T are independent of the forecast
          draws, so pairing them by position is a valid joint draw.

        Examples
        --------
        >>> ts = TemperatureScaling().fit([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]], [0, 1, 1])
        >>> ts.transform([[2.0, 0.0]]).sum().round(6)
        np.float64(1.0)
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "temperature_draws_" if self.posterior else "temperature_")
        z, template = self._logits(logits_or_probs)
        _check_classes(self, z.shape[-1], class_coord(logits_or_probs))
        z = np.where(np.isneginf(z), -1e300, z)
        if not self.posterior:
            return wrap(softmax(z / self.temperature_, axis=-1), template)
        t = self.temperature_draws_
        if z.ndim == 2:  # point forecasts -> one set per draw of T
            out = softmax(z[None] / t[:, None, None], axis=-1)
            if template is None:
                return out
            dims = (*template.dims, CLASS) if template.ndim == 1 else template.dims
            return wrap(out[None], template, dims=(CHAIN, DRAW, *dims))
        lead = z.shape[:-2]
        per_draw = np.resize(t, int(np.prod(lead))).reshape(lead)
        return wrap(softmax(z / per_draw[..., None, None], axis=-1), template)

    predict_proba = transform


class PlattScaling(BaseEstimator):
    r"""Platt scaling for binary problems: :math:`\hat p = \sigma(a s + b)` fitted by NLL.

    ``s`` is the score: the logit of the positive-class probability for probability input,
    or the given decision values / logits. As Platt (1999) and scikit-learn's
    ``CalibratedClassifierCV(method="sigmoid")``, the targets are shrunk to
    :math:`(N_+ + 1)/(N_+ + 2)` and :math:`1/(N_- + 2)` when ``prior_correction=True``.

    Parameters
    ----------
    input : {"auto", "logits", "probs"}, default "auto"
    prior_correction : bool, default True

    Attributes
    ----------
    a_, b_ : float
    n_classes_ : int
        Always 2.

    Examples
    --------
    >>> ps = PlattScaling().fit([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> ps.transform([0.5]).shape
    (1, 2)
    """

    def __init__(self, input: str = "auto", prior_correction: bool = True) -> None:
        self.input = input
        self.prior_correction = prior_correction

    def _scores(self, values: Any) -> tuple[Floats, xr.DataArray | None]:
        """Scores ``s`` (..., n_obs): the positive-class logit or the given decision values."""
        Options(INPUTS).check("input", self.input, "PlattScaling")
        arr, template = _values(values, "scores_or_probs")
        if arr.ndim >= 2:
            if arr.shape[-1] != 2:
                fitted = getattr(self, "n_classes_", None)
                was = f" (fitted on {fitted} classes)" if fitted else ""
                raise ValueError(
                    f"PlattScaling is binary{was}; got {arr.shape[-1]} classes. Use "
                    "TemperatureScaling or IsotonicCalibration."
                )
            z = _log_probs(arr, self.input)
            return np.clip(z[..., 1] - z[..., 0], -_MAX_LOGIT, _MAX_LOGIT), template
        if self.input == "logits" or (self.input == "auto" and (arr.min() < 0 or arr.max() > 1)):
            return arr, template
        p = check_probs(arr, "probs")[:, 1]
        logit = np.log(p + _EPS) - np.log1p(-p + _EPS)
        return np.clip(logit, -_MAX_LOGIT, _MAX_LOGIT), template

    def fit(self, scores_or_probs: Any, y: Any, *, labels: Any = None) -> PlattScaling:
        """Fit ``a`` and ``b`` by minimising the (Platt-target) cross-entropy."""
        s, _ = self._scores(scores_or_probs)
        if s.ndim != 1:
            raise ValueError(f"PlattScaling fits one set of scores (n_obs,); got {s.shape}.")
        y_idx = _fit_labels(y, 2, labels, scores_or_probs, s.size, "scores_or_probs")
        n_pos = float(y_idx.sum())
        n_neg = y_idx.size - n_pos
        t = y_idx.astype(float)
        if self.prior_correction:
            t = np.where(y_idx == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

        def loss(ab: Floats) -> tuple[float, Floats]:
            eta = ab[0] * s + ab[1]
            # Cross-entropy -t log sigma(eta) - (1 - t) log sigma(-eta), stably.
            value = np.sum(np.logaddexp(0, -eta) * t + np.logaddexp(0, eta) * (1 - t))
            g = expit(eta) - t
            return float(value), np.array([g @ s, g.sum()])

        x0 = np.array([1.0, np.log((n_pos + 1) / (n_neg + 1))])
        res = minimize(
            loss,
            x0,
            jac=True,
            method="L-BFGS-B",
            options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 1000},
        )
        self.a_, self.b_ = float(res.x[0]), float(res.x[1])
        self.n_classes_ = 2
        self.classes_ = _known(labels, scores_or_probs)
        return self

    def transform(self, scores_or_probs: Any) -> Any:
        """Recalibrated probabilities, shape (..., n_obs, 2), same kind as the input.

        Examples
        --------
        >>> ps = PlattScaling(input="logits", prior_correction=False)
        >>> ps = ps.fit([-1.0, 1.0, 2.0, -2.0], [0, 1, 0, 1])  # uninformative scores
        >>> ps.transform([0.0]).round(6).tolist()
        [[0.5, 0.5]]
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "a_")
        s, template = self._scores(scores_or_probs)
        _check_classes(self, 2, class_coord(scores_or_probs))
        p1 = expit(self.a_ * s + self.b_)
        return wrap(np.stack([1 - p1, p1], axis=-1), template)

    predict_proba = transform


class IsotonicCalibration(BaseEstimator):
    """Isotonic recalibration: binary, or one-vs-rest with renormalisation for K > 2.

    Each class's probability is mapped through a monotone step function fitted by
    :class:`sklearn.isotonic.IsotonicRegression` (the NLL-optimal monotone map for binary
    outcomes, as it is also the Brier-optimal one); rows are renormalised to sum to 1.

    Attributes
    ----------
    maps_ : dict of int -> IsotonicRegression
    n_classes_ : int

    Examples
    --------
    >>> iso = IsotonicCalibration().fit([0.1, 0.3, 0.6, 0.9], [0, 1, 0, 1])
    >>> iso.transform([0.2, 0.7])[:, 1].round(4).tolist()  # interpolates the steps
    [0.25, 0.6667]
    """

    def fit(self, probs: Any, y: Any, *, labels: Any = None) -> IsotonicCalibration:
        """Fit one isotonic map per class (one for binary problems)."""
        from sklearn.isotonic import IsotonicRegression

        arr, _ = _values(probs, "probs")
        arr = check_probs(arr, "probs")
        if arr.ndim != 2:
            raise ValueError(
                f"IsotonicCalibration fits one set of probabilities (n_obs, n_classes); got "
                f"shape {arr.shape}."
            )
        y_idx = _fit_labels(y, arr.shape[-1], labels, probs, arr.shape[0], "probs")
        columns = [1] if arr.shape[1] == 2 else range(arr.shape[1])
        self.maps_ = {
            k: IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
                arr[:, k], (y_idx == k).astype(float)
            )
            for k in columns
        }
        self.n_classes_ = int(arr.shape[1])
        self.classes_ = _known(labels, probs)
        return self

    def transform(self, probs: Any) -> Any:
        """Recalibrated probabilities, shape (..., n_obs, n_classes), same kind as the input.

        Examples
        --------
        >>> iso = IsotonicCalibration().fit([0.1, 0.3, 0.6, 0.9], [0, 0, 1, 1])
        >>> iso.transform([0.2, 0.8]).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "maps_")
        values, template = _values(probs, "probs")
        arr = check_probs(values, "probs")
        _check_classes(self, arr.shape[-1], class_coord(probs))
        flat = arr.reshape(-1, arr.shape[-1])
        if self.n_classes_ == 2:
            p1 = self.maps_[1].predict(flat[:, 1])
            out = np.stack([1 - p1, p1], axis=-1)
        else:
            out = np.stack([self.maps_[k].predict(flat[:, k]) for k in range(flat.shape[1])], 1)
            sums = out.sum(axis=1, keepdims=True)
            out = np.where(sums > 0, out / np.where(sums > 0, sums, 1), 1.0 / flat.shape[1])
        return wrap(out.reshape(arr.shape), template)

    predict_proba = transform
