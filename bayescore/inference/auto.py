r"""``method="auto"``: the Laplace approximation when its draws are usable as they are, else NUTS.

For logistic and softmax regression the posterior approaches a Gaussian as N grows
(Bernstein-von Mises), and its Laplace approximation costs a mode search and one Hessian:
at the sizes users fit, the exact sampler's answer is often that Gaussian, bought at many
times the price. ``auto`` therefore fits Laplace first and lets the verdict decide
(:mod:`bayescore.inference.verdict`): when the posterior's means are within 0.2 sd of the
Gaussian's and its sds within 0.8-1.25 times (checked by importance sampling), the Laplace
fit is returned. Its mode may still lie 0.1 sd or more from the posterior mean (a skewed
posterior; softmax regression with 93 parameters at N = 50,000: 0.10 sd from a long NUTS
run). From :data:`CENTRE_ABOVE` sd on, when that distance is over twice the largest Monte
Carlo error expected among the estimated means (so that centring can gain: at N = 50,000
above, an ESS of 1,300 for 93 means is too few), the Gaussian is centred at the posterior
mean the verdict estimated, judged again with independent draws, and kept when that
verdict is usable and closer (logistic regression, N = 150-250: 0.13-0.17 sd from the
exact posterior mean before, 0.03-0.06 after). Otherwise NUTS runs, warm-started from the
same mode and Hessian (nothing is searched twice). Models outside bayescore's closed form,
and posteriors without a mode, go to NUTS directly. The choice and its reason are recorded
on the fit (``bayescore_auto``), shown by :func:`bayescore.diagnose`, the CLI and the
report.
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
from bayescore.inference.laplace import N_MC, LaplaceOptions, find_mode, fit_laplace
from bayescore.inference.nuts import NutsOptions, fit_nuts
from bayescore.inference.options import FitSettings, MethodOptions, option
from bayescore.inference.posterior import Posterior
from bayescore.models import ModelSpec, model_spec

if TYPE_CHECKING:
    import pymc as pm

__all__ = ["AutoOptions", "fit_auto"]

_NUTS = "nuts"  # the route of the NUTS options
#: A Laplace fit whose posterior means lie farther than this (in its sds) from its own,
#: though usable as is, is centred at the importance-sampled posterior mean: half the
#: verdict guide's "accurate" (0.1 sd), so that a mode truly 0.1 sd off is caught through
#: the estimate's Monte Carlo error (about 0.03 sd).
CENTRE_ABOVE = 0.05


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


def _noise(n_params: int, ess: float) -> float:
    """The largest Monte Carlo error, in sds, expected among ``n_params`` estimated means.

    From ``ess`` effective draws: ``sqrt(2 log P / ESS)``, the typical maximum of P standard
    normals over the root of the ESS.
    """
    return float(np.sqrt(2.0 * np.log(max(n_params, 2)) / ess))


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
    laplace_options = LaplaceOptions(n_mc=options.n_mc)
    tree, record = fit_laplace(spec, settings, laplace_options, post=post, mode=mode)
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
    }
    if verdict.usable:
        reason = (
            "the Laplace approximation's draws are usable as they are: the posterior's "
            f"means lie within {verdict.mean_shift:.2f} sd of the Gaussian's, its sds "
            f"{verdict.sd_ratio_low:.2f}-{verdict.sd_ratio_high:.2f} times"
        )
        if verdict.posterior_mean is not None and verdict.mean_shift > max(
            CENTRE_ABOVE, 2 * _noise(verdict.posterior_mean.size, verdict.ess)
        ):
            moved, moved_record = fit_laplace(
                spec,
                settings,
                laplace_options,
                post=post,
                mode=mode,
                mean=verdict.posterior_mean,
                mean_ess=verdict.ess,
            )
            check = moved_record.verdict
            assert check is not None
            if check.usable and check.mean_shift < verdict.mean_shift:
                reason += (
                    "; the Gaussian was then centred at the posterior mean importance "
                    f"sampling estimated (ESS {verdict.ess:.0f}), whose verdict puts the "
                    f"posterior's means within {check.mean_shift:.2f} sd of it"
                )
                details["centred_at_posterior_mean"] = True
                details["mean_shift_after"] = round(check.mean_shift, 4)
                details["laplace_seconds"] = round(time.perf_counter() - start, 3)
                return _record(moved, "laplace", reason, **details), "laplace"
        return _record(tree, "laplace", reason, **details), "laplace"
    if verdict.decision == "usable after reweighting":
        why = (
            f"a posterior mean lies {verdict.mean_shift:.2f} sd from the Laplace Gaussian's "
            f"(sds {verdict.sd_ratio_low:.2f}-{verdict.sd_ratio_high:.2f} times)"
        )
    else:
        why = (
            "importance sampling cannot check the Laplace approximation (k-hat "
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
