r"""``method="auto"``: the Laplace approximation when its draws are usable as they are, else NUTS.

For logistic and softmax regression the posterior approaches a Gaussian as N grows
(Bernstein-von Mises), and its Laplace approximation costs a mode search and one Hessian:
at the sizes users fit, the exact sampler's answer is often that Gaussian, bought at many
times the price. ``auto`` therefore fits Laplace first and lets the verdict decide
(:mod:`bayescore.inference.verdict`): when the posterior's means are within 0.2 sd of the
Gaussian's and its sds within 0.8-1.25 times (checked by importance sampling), the Laplace
fit is returned. Its mode may still lie 0.1 sd or more from the posterior mean (a skewed
posterior; softmax regression with 93 parameters at N = 50,000: 0.10 sd from a long NUTS
run). So the posterior mean to second order is computed first
(:func:`~bayescore.inference.laplace.second_order_mean`: the mode moved by the log
posterior's third derivatives, deterministic, one pass over the rows; logistic regression
at N = 50-400: the mode 0.1-0.3 sd from the exact posterior mean, the second-order mean
within 0.004 sd). When it lies between :data:`CENTRE_ABOVE` and 0.2 sd from the mode, the
Gaussian is centred there, and that Gaussian is the one judged and returned; farther off,
the posterior is too skewed for a Gaussian and the plain Laplace fit is judged (and NUTS
usually takes over). The draws are centred: their mean is the Gaussian's exactly
(:meth:`~bayescore.inference.gaussian.Gaussian.centred_draws`). When the verdict does not
find them usable, NUTS runs, warm-started from the same mode and Hessian (nothing is
searched twice). Models outside bayescore's closed form, and posteriors without a mode, go
to NUTS directly. The choice and its reason are recorded on the fit (``bayescore_auto``),
shown by :func:`bayescore.diagnose`, the CLI and the report.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from bayescore._names import ATTR_AUTO, POSTERIOR, SAMPLE_STATS, VARIATIONAL, has_group
from bayescore.inference.advi import AdviOptions, fit_advi_fixed
from bayescore.inference.laplace import (
    N_MC,
    LaplaceOptions,
    find_mode,
    fit_laplace,
    second_order_mean,
)
from bayescore.inference.nuts import NutsOptions, fit_nuts
from bayescore.inference.options import FitSettings, MethodOptions, option
from bayescore.inference.posterior import Posterior
from bayescore.inference.verdict import SHIFT_MAX
from bayescore.models import ModelSpec, model_spec

if TYPE_CHECKING:
    import pymc as pm

__all__ = ["AutoOptions", "fit_auto"]

_NUTS = "nuts"  # the route of the NUTS options
#: The Gaussian is centred at the posterior mean to second order when that lies farther
#: than this from the mode (in posterior sds) and no farther than the verdict's
#: :data:`~bayescore.inference.verdict.SHIFT_MAX`: a strongly skewed posterior is NUTS's.
CENTRE_ABOVE = 0.01


@dataclass(frozen=True)
class AutoOptions(MethodOptions):
    """Options of ``method="auto"``: Laplace's, and NUTS's for when it takes over."""

    method = "auto"

    n_mc: int = option(1000, N_MC, "Draws from the Laplace Gaussian for its ELBO split.")
    sampler: str = option(
        "auto", NutsOptions.rule("sampler"), "NUTS backend, when NUTS runs.", route=_NUTS
    )
    target_accept: float = option(
        0.8, NutsOptions.rule("target_accept"), "NUTS target acceptance rate.", route=_NUTS
    )
    cores: int | None = option(
        None, NutsOptions.rule("cores"), "Chains run in parallel (NUTS).", route=_NUTS
    )
    max_treedepth: int = option(
        10, NutsOptions.rule("max_treedepth"), "Largest tree depth (NUTS).", route=_NUTS
    )


def _record(idata: xr.DataTree, choice: str, reason: str, **details: object) -> xr.DataTree:
    text = json.dumps({"choice": choice, "reason": reason, **details})
    for group in (POSTERIOR, SAMPLE_STATS, VARIATIONAL):
        if has_group(idata, group):
            idata[group].attrs[ATTR_AUTO] = text
    return idata


def _nuts_options(options: AutoOptions) -> NutsOptions:
    given = {name: getattr(options, name) for name in options.passed(_NUTS)}
    return NutsOptions.from_kwargs(given)


def fit_auto(
    model: pm.Model | ModelSpec, settings: FitSettings, options: AutoOptions
) -> tuple[xr.DataTree, str]:
    """Laplace when its verdict says its draws are usable as they are, else NUTS.

    Returns the fit and the method that made it (``"laplace"`` or ``"nuts"``).
    """
    spec = model_spec(model)
    if spec is None or not spec.closed_form:
        idata = fit_nuts(model, settings, _nuts_options(options))
        reason = "the model is outside bayescore's closed form (zero-sum or hand-written)"
        return _record(idata, "nuts", reason), "nuts"
    start = time.perf_counter()
    post = Posterior(spec)
    mode = find_mode(post)
    if not mode.converged and spec.distributed:
        raise ValueError(
            f"The posterior has no mode to approximate ({mode.message}), and NUTS does not "
            "run on a Dask X: use stronger priors, or fit the data in memory with "
            "method='nuts'."
        )
    if not mode.converged:
        idata = fit_nuts(model, settings, _nuts_options(options), mode=mode)
        reason = f"the posterior has no mode to approximate ({mode.message})"
        return _record(idata, "nuts", reason), "nuts"
    # The posterior mean to second order: where the mode is mildly off it (a skewed
    # posterior), the Gaussian is centred there and that Gaussian is judged.
    centre = second_order_mean(post, mode)
    correction = float(np.max(np.abs(centre - mode.theta) / np.sqrt(np.diag(mode.covariance()))))
    centred = CENTRE_ABOVE < correction <= SHIFT_MAX
    laplace_options = LaplaceOptions(n_mc=options.n_mc)
    tree, record = fit_laplace(
        spec, settings, laplace_options, post=post, mode=mode, mean=centre if centred else None
    )
    verdict = record.verdict
    assert verdict is not None
    details = {
        "laplace_verdict": verdict.decision,
        "laplace_seconds": round(time.perf_counter() - start, 3),
        "mean_shift": round(verdict.mean_shift, 4),
        "sd_ratio_low": round(verdict.sd_ratio_low, 4),
        "sd_ratio_high": round(verdict.sd_ratio_high, 4),
        "k_hat": round(verdict.k_hat, 4),
        "borderline": verdict.borderline,
        "mean_correction": round(correction, 4),
        "centred_at_posterior_mean": centred,
    }
    gaussian = (
        f"the Laplace Gaussian centred at the posterior mean to second order ({correction:.2f}"
        " sd from the mode at most: the posterior is mildly skewed)"
        if centred
        else "the Laplace Gaussian"
    )
    if verdict.usable:
        reason = (
            f"the draws of {gaussian} are usable as they are: the posterior's means lie "
            f"within {verdict.mean_shift:.2f} sd of the Gaussian's, its sds "
            f"{verdict.sd_ratio_low:.2f}-{verdict.sd_ratio_high:.2f} times"
        )
        return _record(tree, "laplace", reason, **details), "laplace"
    if verdict.decision == "usable after reweighting":
        why = (
            f"a posterior mean lies {verdict.mean_shift:.2f} sd from {gaussian}'s "
            f"(sds {verdict.sd_ratio_low:.2f}-{verdict.sd_ratio_high:.2f} times)"
        )
    else:
        why = (
            f"importance sampling cannot check {gaussian} (k-hat "
            f"{verdict.k_hat:.2f}, ESS {verdict.ess:.0f})"
        )
    if spec.distributed:
        # NUTS does not run on a cluster: full-rank ADVI on fixed draws, from the same mode.
        advi = fit_advi_fixed(spec, settings, AdviOptions(), full_rank=True, post=post, mode=mode)
        reason = f"{why}: full-rank ADVI on fixed draws (the data are on a Dask cluster)"
        return _record(advi, "fullrank_advi", reason, **details), "fullrank_advi"
    idata = fit_nuts(model, settings, _nuts_options(options), mode=mode)
    reason = f"{why}: NUTS, warm-started from the Laplace mode and Hessian"
    return _record(idata, "nuts", reason, **details), "nuts"
