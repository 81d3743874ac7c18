r"""What an approximate fit records: the ELBO split, the optimiser's run, the Gaussian q.

Every approximation (Laplace, ADVI on fixed draws or by stochastic gradients, Pathfinder)
writes one :class:`VariationalRecord` as the fit's ``variational`` group
(:meth:`VariationalRecord.to_dataset`), and :func:`bayescore.diagnose`, the plots and the
report read it back (:meth:`VariationalRecord.from_dataset`): the group's schema (its
variable and attribute names, and how "no minibatch" is written in a file) lives here only.

The ELBO is split into its two parts,

.. math::

    \mathrm{ELBO} = \mathbb{E}_q[\log p(y \mid \theta)] - \mathrm{KL}(q \,\|\, p),

the expectation by Monte Carlo over draws from q, the KL in closed form when q and the prior
are Gaussian (:meth:`bayescore.inference.gaussian.Gaussian.kl_to_normal`), a Monte Carlo
estimate otherwise, undefined under an improper flat prior; and the Pareto :math:`\hat k` of
the importance ratios :math:`\log p(\theta, y) - \log q(\theta)` over the same draws judges
the approximation (:mod:`bayescore.inference.psis`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._names import ITERATION, PARAMETER, PATH
from bayescore.inference.gaussian import Gaussian
from bayescore.inference.psis import psis
from bayescore.inference.verdict import Density, Verdict

__all__ = [
    "CHECK_ITERATION",
    "ELBOParts",
    "Optimisation",
    "PathRecord",
    "StochasticRecord",
    "VariationalRecord",
    "elbo_from_draws",
    "elbo_of_gaussians",
]

Floats = NDArray[np.float64]

#: Dim of the stopping rule's ELBO checks of stochastic ADVI.
CHECK_ITERATION = "check_" + ITERATION
#: Dim of the columns of q's scale factor (rows: the parameters).
_FACTOR = "factor"
#: The verdict's numbers, stored as scalar variables ``verdict_<name>``.
_VERDICT_NUMBERS = (
    "k_hat",
    "k_hat_spread",
    "ess",
    "mean_shift",
    "mean_shift_se",
    "sd_ratio_low",
    "sd_ratio_high",
)
#: A file's way of saying "no minibatch" (netCDF attributes cannot be None).
_FULL_DATA = -1


@dataclass(frozen=True)
class ELBOParts:
    """The final ELBO and its decomposition ``elbo = expected_log_likelihood - kl``.

    Attributes
    ----------
    elbo, expected_log_likelihood, kl : float
        In nats, summed over observations (full data, also for minibatch fits).
    kl_method : {"closed_form", "monte_carlo", "undefined (flat prior)"}
    mc_se : float
        Monte Carlo standard error of ``expected_log_likelihood`` (and of a Monte Carlo KL).
    n_mc : int
        Draws from q used for the expectations.
    pareto_k : float
        Pareto k-hat of ``log p(theta, y) - log q(theta)`` over the same draws (NaN if the
        draws gave no finite ratios).
    """

    elbo: float
    expected_log_likelihood: float
    kl: float
    kl_method: str
    mc_se: float
    n_mc: int
    pareto_k: float = np.nan


def elbo_from_draws(
    loglik: Floats,
    log_prior: Floats,
    log_q: Floats,
    pareto_k: float,
    *,
    flat_prior: bool,
    closed_form_kl: float | None,
) -> ELBOParts:
    """The ELBO split from the log-likelihood, log prior and log q at draws from q.

    ``E_q[log p(y | theta)]`` is the draws' mean (with its Monte Carlo SE); the KL is
    ``closed_form_kl`` when given, else ``E_q[log q - log p(theta)]`` over the same draws;
    undefined (NaN) under a flat prior, which is improper.

    Examples
    --------
    >>> parts = elbo_from_draws(np.array([-1.0, -3.0]), np.zeros(2), np.zeros(2), 0.1,
    ...                         flat_prior=False, closed_form_kl=0.5)
    >>> parts.elbo, parts.kl_method
    (-2.5, 'closed_form')
    """
    n = loglik.size
    expected_ll = float(loglik.mean())
    ll_se = float(loglik.std(ddof=1) / np.sqrt(n))
    if flat_prior:
        # KL to an improper flat prior is not defined: report NaN rather than a number.
        return ELBOParts(np.nan, expected_ll, np.nan, "undefined (flat prior)", ll_se, n, pareto_k)
    if closed_form_kl is not None:
        kl, kl_method, kl_se = float(closed_form_kl), "closed_form", 0.0
    else:
        diff = log_q - log_prior
        kl, kl_method = float(diff.mean()), "monte_carlo"
        kl_se = float(diff.std(ddof=1) / np.sqrt(n))
    return ELBOParts(
        elbo=expected_ll - kl,
        expected_log_likelihood=expected_ll,
        kl=kl,
        kl_method=kl_method,
        mc_se=float(np.hypot(ll_se, kl_se)),
        n_mc=n,
        pareto_k=pareto_k,
    )


def elbo_of_gaussians(
    density: Density,
    qs: list[Gaussian],
    theta: Floats,
    log_q: Floats,
    *,
    prior_variance: Floats | None,
    flat_prior: bool,
) -> tuple[ELBOParts, Floats]:
    r"""The ELBO split and the log importance ratios of draws from Gaussians ``qs``.

    ``theta`` holds the same number of draws from each ``q`` in ``qs``, stacked in that
    order, and ``log_q`` each draw's log density under the ``q`` that drew it. With one
    ``q`` this is the ELBO of ``q``; with several it is their mean (the pool is an equal
    mixture and every draw is judged by the ``q`` it came from, as the importance ratios
    are). The KL is in closed form when ``prior_variance`` (every prior a proper Normal)
    is given.

    Returns
    -------
    ELBOParts
    log_ratios : ndarray (n,)
        :math:`\log p(\theta, y) - \log q(\theta)` at each draw.
    """
    loglik = density.log_likelihood(theta)
    log_prior = density.log_prior(theta)
    log_ratios = loglik + log_prior - log_q
    _, k_hat = psis(log_ratios)
    closed = None
    if prior_variance is not None and not flat_prior:
        closed = float(np.mean([q.kl_to_normal(prior_variance) for q in qs]))
    parts = elbo_from_draws(
        loglik, log_prior, log_q, k_hat, flat_prior=flat_prior, closed_form_kl=closed
    )
    return parts, log_ratios


@dataclass(frozen=True)
class Optimisation:
    """How the optimiser behind an approximation ran.

    Attributes
    ----------
    converged : bool
        Laplace: L-BFGS reached the mode; ADVI: its stopping rule held; Pathfinder: every
        path's L-BFGS met its tolerances.
    n_iterations : int
    optimizer : str or None
        ``"lbfgs"`` or ``"adam"`` (ADVI).
    start : str or None
        Where ADVI's q started (``"laplace"`` or ``"prior"``).
    converged_at : int or None
        The iteration at which ADVI converged.
    relative_change : float
        ADVI: the ELBO's last relative change.
    objective : str or None
        ADVI: what was maximised.
    history : ndarray or None
        ADVI's ELBO per iteration, on the scale of the reported ELBO.
    mode_accuracy : float
        Laplace: the largest Newton step at the mode found, in posterior sd.
    message : str
        Why the optimiser stopped.
    """

    converged: bool
    n_iterations: int
    optimizer: str | None = None
    start: str | None = None
    converged_at: int | None = None
    relative_change: float = np.nan
    objective: str | None = None
    history: Floats | None = None
    mode_accuracy: float = np.nan
    message: str = ""


@dataclass(frozen=True)
class StochasticRecord:
    """The settings and stopping rule of stochastic-gradient ADVI (PyMC, Adam)."""

    tol: float
    window: int
    learning_rate: float
    final_learning_rate: float
    mean_change: float
    batch_size: int | None
    checks: Floats


@dataclass(frozen=True)
class PathRecord:
    """Pathfinder's settings and each single path's result."""

    history_size: int
    num_elbo_draws: int
    resampled: bool
    elbo: Floats
    iteration: NDArray[np.int64]
    n_iterations: NDArray[np.int64]
    converged: NDArray[np.bool_]

    @property
    def num_paths(self) -> int:
        """Number of single paths."""
        return int(self.elbo.size)


@dataclass(frozen=True)
class VariationalRecord:
    """The ``variational`` group of an approximate fit, typed.

    Attributes
    ----------
    method : str
        ``laplace``, ``advi``, ``fullrank_advi`` or ``pathfinder``.
    parts : ELBOParts
    optimisation : Optimisation
    n_points : int or None
        Fixed-draw ADVI: draws in its objective.
    stochastic : StochasticRecord or None
        Stochastic-gradient ADVI's settings.
    paths : PathRecord or None
        Pathfinder's paths.
    q : Gaussian or None
        The approximation itself, when it is one Gaussian (Laplace, ADVI, single-path
        Pathfinder): ``log q`` of any draw can be recomputed from a file.
    verdict : Verdict or None
        Whether the draws can be used as they are (:mod:`bayescore.inference.verdict`);
        None in files written before bayescore judged approximations this way.
    reweighted : bool
        The draws were PSIS-resampled towards the posterior (:func:`bayescore.reweight`).
    likelihood_rows : int or None
        Rows of the subsample from which the log-likelihood of the ELBO's and the verdict's
        draws was estimated (:mod:`bayescore.inference.subsample`); None when every draw's
        was summed over all rows.

    Examples
    --------
    >>> parts = elbo_from_draws(np.array([-1.0, -3.0]), np.zeros(2), np.zeros(2), 0.1,
    ...                         flat_prior=False, closed_form_kl=0.5)
    >>> rec = VariationalRecord("laplace", parts, Optimisation(True, 7, "lbfgs"))
    >>> back = VariationalRecord.from_dataset(rec.to_dataset())
    >>> back.parts == parts, back.optimisation.n_iterations, back.batch_size
    (True, 7, None)
    """

    method: str
    parts: ELBOParts
    optimisation: Optimisation
    n_points: int | None = None
    stochastic: StochasticRecord | None = None
    paths: PathRecord | None = None
    q: Gaussian | None = field(default=None, repr=False)
    verdict: Verdict | None = None
    reweighted: bool = False
    likelihood_rows: int | None = None

    @property
    def batch_size(self) -> int | None:
        """Minibatch size of stochastic ADVI; None for a full-data fit."""
        return None if self.stochastic is None else self.stochastic.batch_size

    def to_dataset(self) -> xr.Dataset:
        """The ``variational`` group (the file format's names)."""
        p, o = self.parts, self.optimisation
        data: dict[str, object] = {
            "elbo": p.elbo,
            "expected_log_likelihood": p.expected_log_likelihood,
            "kl": p.kl,
            "mc_se": p.mc_se,
            "pareto_k": p.pareto_k,
        }
        coords: dict[str, object] = {}
        attrs: dict[str, object] = {
            "method": self.method,
            "converged": int(o.converged),
            "n_iterations": int(o.n_iterations),
            "n_mc": int(p.n_mc),
            "kl_method": p.kl_method,
        }
        if o.optimizer is not None:
            attrs["optimizer"] = o.optimizer
        if self.method in ("advi", "fullrank_advi"):
            attrs["converged_at"] = -1 if o.converged_at is None else int(o.converged_at)
            attrs["relative_change"] = float(o.relative_change)
            attrs["start"] = o.start or "prior"
            attrs["batch_size"] = _FULL_DATA if self.batch_size is None else self.batch_size
        if o.objective is not None:
            attrs["objective"] = o.objective
        if np.isfinite(o.mode_accuracy) or o.message:
            attrs["mode_accuracy"] = float(o.mode_accuracy)
            attrs["message"] = o.message
        if self.n_points is not None:
            attrs["n_points"] = int(self.n_points)
        if o.history is not None:
            data["elbo_history"] = ((ITERATION,), o.history)
            coords[ITERATION] = np.arange(1, o.history.size + 1)
        if (s := self.stochastic) is not None:
            data["elbo_check"] = ((CHECK_ITERATION,), s.checks)
            attrs.update(
                tol=s.tol,
                window=s.window,
                learning_rate=s.learning_rate,
                final_learning_rate=s.final_learning_rate,
                mean_change=s.mean_change,
            )
        if (paths := self.paths) is not None:
            data.update(
                path_elbo=((PATH,), paths.elbo),
                path_iteration=((PATH,), paths.iteration),
                path_n_iterations=((PATH,), paths.n_iterations),
                path_converged=((PATH,), paths.converged.astype(np.int64)),
            )
            coords[PATH] = np.arange(paths.num_paths)
            attrs.update(
                num_paths=paths.num_paths,
                history_size=paths.history_size,
                num_elbo_draws=paths.num_elbo_draws,
                resampled=int(paths.resampled),
            )
        if self.reweighted:
            attrs["reweighted"] = 1
        if self.likelihood_rows is not None:
            attrs["likelihood_rows"] = int(self.likelihood_rows)
        if (v := self.verdict) is not None:
            attrs.update(
                verdict=v.decision,
                verdict_n_draws=v.n_draws,
                verdict_worst=v.worst,
                verdict_borderline=int(v.borderline),
                verdict_reweighted=int(v.reweighted),
            )
            for name in _VERDICT_NUMBERS:
                data[f"verdict_{name}"] = float(getattr(v, name))
        if self.q is not None:
            data["q_mean"] = ((PARAMETER,), self.q.mean)
            data["q_scale"] = ((PARAMETER, _FACTOR), self.q.scale)
        return xr.Dataset(data, coords=coords, attrs=attrs)

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> VariationalRecord:
        """Read a ``variational`` group back (files written since bayescore 0.2 included)."""
        a = ds.attrs

        def number(name: str) -> float:
            return float(ds[name].values) if name in ds else np.nan

        parts = ELBOParts(
            elbo=number("elbo"),
            expected_log_likelihood=number("expected_log_likelihood"),
            kl=number("kl"),
            kl_method=str(a.get("kl_method", "")),
            mc_se=number("mc_se"),
            n_mc=int(a.get("n_mc", 0)),
            pareto_k=number("pareto_k"),
        )
        converged_at = int(a.get("converged_at", -1))
        optimisation = Optimisation(
            converged=bool(int(a.get("converged", 0))),
            n_iterations=int(a.get("n_iterations", 0)),
            optimizer=a.get("optimizer"),
            start=a.get("start"),
            converged_at=None if converged_at < 0 else converged_at,
            relative_change=float(a.get("relative_change", np.nan)),
            objective=a.get("objective"),
            history=ds["elbo_history"].values if "elbo_history" in ds else None,
            mode_accuracy=float(a.get("mode_accuracy", np.nan)),
            message=str(a.get("message", "")),
        )
        stochastic = None
        if "tol" in a:
            batch = int(a.get("batch_size", _FULL_DATA))
            stochastic = StochasticRecord(
                tol=float(a["tol"]),
                window=int(a["window"]),
                learning_rate=float(a["learning_rate"]),
                final_learning_rate=float(a["final_learning_rate"]),
                mean_change=float(a.get("mean_change", np.nan)),
                batch_size=None if batch == _FULL_DATA else batch,
                checks=ds["elbo_check"].values if "elbo_check" in ds else np.empty(0),
            )
        paths = None
        if "path_elbo" in ds:
            paths = PathRecord(
                history_size=int(a.get("history_size", 0)),
                num_elbo_draws=int(a.get("num_elbo_draws", 0)),
                resampled=bool(int(a.get("resampled", 0))),
                elbo=ds["path_elbo"].values,
                iteration=ds["path_iteration"].values.astype(np.int64),
                n_iterations=ds["path_n_iterations"].values.astype(np.int64),
                converged=ds["path_converged"].values.astype(bool),
            )
        q = None
        if "q_mean" in ds and "q_scale" in ds:
            mean, scale = ds["q_mean"].values, ds["q_scale"].values
            q = Gaussian(mean, scale, float(np.linalg.slogdet(scale)[1] * 2.0))
        verdict = None
        if "verdict" in a:
            # Any: mypy would match the floats against every keyword of Verdict.
            numbers: dict[str, Any] = {
                name: float(ds[f"verdict_{name}"].values) for name in _VERDICT_NUMBERS
            }
            verdict = Verdict(
                decision=a["verdict"],
                n_draws=int(a["verdict_n_draws"]),
                worst=int(a["verdict_worst"]),
                borderline=bool(int(a["verdict_borderline"])),
                reweighted=bool(int(a["verdict_reweighted"])),
                **numbers,
            )
        return cls(
            method=str(a.get("method", "advi")),
            parts=parts,
            optimisation=optimisation,
            n_points=int(a["n_points"]) if "n_points" in a else None,
            stochastic=stochastic,
            paths=paths,
            q=q,
            verdict=verdict,
            reweighted=bool(int(a.get("reweighted", 0))),
            likelihood_rows=int(a["likelihood_rows"]) if "likelihood_rows" in a else None,
        )
