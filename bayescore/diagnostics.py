"""Did the fit work? Convergence checks with a verdict and advice.

NUTS fits are judged by current ArviZ/Stan guidance (Vehtari et al., 2021): rank-normalised
split R-hat < 1.01, bulk and tail ESS > 100 per chain, no divergences, E-BFMI > 0.3 in every
chain, and few transitions hitting the maximum tree depth. Approximations (ADVI, Laplace,
Pathfinder) are judged by the Pareto k-hat of the importance ratios
``log p(theta, y) - log q(theta)`` over draws from q (Yao, Vehtari, Simpson & Gelman 2018):
above 0.7 the approximation is not a usable stand-in for the posterior. ADVI must also have
converged (its ELBO flattened), the Laplace approximation must sit at the mode (L-BFGS
converged); Pathfinder keeps the best Gaussian along paths that may stop early, so its
L-BFGS convergence is reported, not judged.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from bayescore._names import (
    ATTR_AUTO,
    ATTR_FREE_VARS,
    ATTR_METHOD,
    ATTR_SAMPLING_TIME,
    CHAIN,
    CHECK,
    DRAW,
    POSTERIOR,
    SAMPLE_STATS,
    VARIATIONAL,
    as_idata,
    has_group,
)
from bayescore._stack import user_stacklevel
from bayescore.inference.record import VariationalRecord
from bayescore.inference.tree import flat_labels, spec_from_tree
from bayescore.inference.verdict import ESS_MIN, SD_RATIO, SHIFT_MAX, Verdict

__all__ = ["ConvergenceWarning", "Diagnosis", "diagnose", "warn_if_failed"]


class ConvergenceWarning(UserWarning):
    """A fit finished but failed a convergence check; its numbers may be unreliable."""


@dataclass(frozen=True)
class Diagnosis:
    """The verdict of :func:`diagnose`.

    Attributes
    ----------
    ok : bool
        True when every check passed. A check whose value could not be computed (NaN:
        too few draws, one chain for R-hat, stuck chains) fails, with the reason in
        ``messages``; ``info`` rows are reported, never judged.
    table : Dataset
        Over dim ``check``: ``value``, ``threshold``, ``passed`` and ``rule`` (how the value
        is compared with the threshold).
    messages : list of str
        One line per failed check: what failed (or why it could not be computed) and what
        to try.
    method : str
        ``nuts``, ``advi``, ``fullrank_advi``, ``laplace`` or ``pathfinder``.
    verdict : Verdict or None
        Approximations: whether their draws are usable as they are, after reweighting
        (:func:`bayescore.reweight`) or not at all, with the evidence.
    auto : dict or None
        Fits made by ``method="auto"``: the method it chose (``choice``), why
        (``reason``) and the Laplace verdict behind it.
    """

    ok: bool
    table: xr.Dataset
    messages: list[str] = field(default_factory=list)
    method: str = "nuts"
    verdict: Verdict | None = None
    auto: dict[str, object] | None = None

    def __getitem__(self, check: str) -> float:
        """Value of one check, e.g. ``d["r_hat_max"]``."""
        return float(self.table["value"].sel(check=check))

    def __str__(self) -> str:
        lines = [f"{'check':22} {'value':>12} {'rule':>10}  passed"]
        for name in self.table["check"].values:
            row = self.table.sel(check=name)
            lines.append(
                f"{name:22} {float(row['value']):12.4g} {str(row['rule'].values):>4} "
                f"{float(row['threshold']):<6.4g} {'yes' if bool(row['passed']) else 'NO'}"
            )
        lines += [f"- {m}" for m in self.messages]
        if self.auto is not None:
            lines.append(f"method='auto' chose {self.auto['choice']}: {self.auto['reason']}.")
        return "\n".join(lines)


_ADVICE = {
    "r_hat_max": "chains disagree: run longer (more tune and draws), run chains=4 (with 2 "
    "chains, R-hat's noise alone reaches 1.01 when many parameters are checked) or "
    "reparameterise",
    "ess_bulk_min": "too few effective draws: run more draws or chains",
    "ess_tail_min": "tails poorly explored: run more draws; check the intervals you report",
    "divergences": "divergent transitions: raise target_accept (e.g. 0.95) or reparameterise "
    "(stronger priors, zero-sum coding)",
    "bfmi_min": "low E-BFMI: the sampler struggles with the energy distribution; "
    "reparameterise or use more tuning steps",
    "treedepth_share": "many trajectories hit the maximum tree depth: raise max_treedepth or "
    "reparameterise (rescale features)",
    "elbo_converged": "ADVI stopped before the ELBO flattened: raise max_iter, lower "
    "learning_rate, or use method='nuts' for exact inference",
    "elbo_relative_change": "the ELBO was still changing: run longer, lower learning_rate, or "
    "use method='nuts'",
    "mode_converged": "L-BFGS did not reach the posterior mode, so the Laplace Gaussian is "
    "centred in the wrong place (separable classes under a flat intercept prior have no "
    "mode): use stronger priors, or method='nuts'",
    "pareto_k": "the approximation is far from the posterior (importance ratios p/q are "
    "heavy-tailed): use method='nuts', or method='fullrank_advi' if a mean-field fit missed "
    "correlations between parameters",
    "is_ess": "importance sampling from the approximation has too few effective draws to "
    "check it: use method='nuts'",
    "mean_shift_max": "the posterior's means differ from these draws': use bs.reweight(fit) "
    "for importance-resampled draws of the posterior, or method='nuts'",
    "sd_ratio_min": "the posterior is narrower than these draws in some direction: use "
    "bs.reweight(fit), or method='nuts'",
    "sd_ratio_max": "the posterior is wider than these draws in some direction (mean-field "
    "ADVI misses correlations): use bs.reweight(fit), method='fullrank_advi' or "
    "method='nuts'",
}

#: What to try when an approximation's draws are not usable as they are, by method (and
#: "minibatch" for minibatch ADVI); else the advice of the failed checks.
_METHOD_ADVICE = {
    "laplace": "the posterior is too far from the Gaussian at its mode (skewed "
    "posteriors, Student-t priors, few observations per parameter): use bs.reweight(fit) "
    "when the verdict allows it, or method='nuts'",
    "advi": "mean-field ADVI misses the posterior (it cannot represent correlations, and "
    "it underestimates sds): use method='fullrank_advi', bs.reweight(fit) when the verdict "
    "allows it, or method='nuts'",
    "fullrank_advi": "the posterior is too far from any Gaussian: use bs.reweight(fit) "
    "when the verdict allows it, or method='nuts'",
    "pathfinder": "Pathfinder's Gaussians are far from the posterior: use method='nuts' "
    "or bs.reweight(fit) when the verdict allows it; if its paths stopped early "
    "(path_converged), raise max_iter, and more num_paths can find a better Gaussian",
    # At N = 10^6 minibatch ADVI's means were 0.8 sd off (k-hat 0.77) where full-data
    # fixed-draw ADVI was 0.02 sd off (k-hat 0.29) and Laplace near exact (k-hat -0.04).
    "minibatch": "minibatch gradients are too noisy for a posterior this narrow: drop "
    "batch_size (full-data ADVI on fixed draws reads the rows in blocks, so memory stays "
    "bounded), or use method='laplace', which gets more exact as N grows",
}


def _idata(obj: Any) -> xr.DataTree:
    idata = as_idata(obj)
    if not has_group(idata, POSTERIOR):
        raise TypeError(
            "diagnose() takes a DataTree with a posterior group (ArviZ 1.x) or a fitted "
            f"bayescore estimator; got {type(obj).__name__}."
        )
    return idata


def _free_posterior(idata: xr.DataTree) -> xr.Dataset:
    post = idata[POSTERIOR].to_dataset()
    names = json.loads(post.attrs.get(ATTR_FREE_VARS, "null")) or list(post.data_vars)
    return post[[n for n in names if n in post]]


def _nuts_checks(
    idata: Any, rhat_max: float, ess_per_chain: float, bfmi_min: float, treedepth_max_share: float
) -> list[tuple[str, float, str, float]]:
    import arviz_stats

    post = _free_posterior(idata)
    n_chains = int(post.sizes[CHAIN])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 1 chain / constant draws -> NaN
        rhat = arviz_stats.rhat(post).to_dataarray().values
        bulk = arviz_stats.ess(post, method="bulk").to_dataarray().values
        tail = arviz_stats.ess(post, method="tail").to_dataarray().values
    # np.max / np.min, not their nan- versions: one parameter whose R-hat or ESS cannot be
    # computed (a stuck chain) makes the whole check uncomputable, so it fails (issue 21).
    rows = [
        ("r_hat_max", float(np.max(rhat)), "<", rhat_max),
        ("ess_bulk_min", float(np.min(bulk)), ">", ess_per_chain * n_chains),
        ("ess_tail_min", float(np.min(tail)), ">", ess_per_chain * n_chains),
    ]
    seconds = post.attrs.get(ATTR_SAMPLING_TIME)
    if seconds:
        rows.append(("ess_bulk_per_second", float(np.min(bulk)) / float(seconds), "info", 0))
    stats = idata[SAMPLE_STATS].to_dataset() if has_group(idata, SAMPLE_STATS) else None
    if stats is not None and "diverging" in stats:
        n_div = int(stats["diverging"].sum())
        rows.append(("divergences", float(n_div), "<=", 0.0))
        rows.append(("divergence_share", n_div / stats["diverging"].size, "info", 0.0))
    if stats is not None and "energy" in stats:
        bfmi = arviz_stats.bfmi(idata).to_dataset().to_dataarray().values
        rows.append(("bfmi_min", float(np.min(bfmi)), ">", bfmi_min))
    depth = next(
        (
            v
            for v in ("reached_max_treedepth", "maxdepth_reached")
            if stats is not None and v in stats
        ),
        None,
    )
    if stats is not None and depth is not None:
        rows.append(("treedepth_share", float(stats[depth].mean()), "<=", treedepth_max_share))
    return rows


def _vi_checks(
    record: VariationalRecord, elbo_tol: float, k_max: float
) -> list[tuple[str, float, str, float]]:
    method, opt = record.method, record.optimisation
    converged = float(opt.converged)
    if method == "laplace":
        rows = [("mode_converged", converged, ">=", 1.0)]
    elif method == "pathfinder":
        # Each path keeps its best Gaussian wherever L-BFGS stopped: the verdict judges it.
        share = float(record.paths.converged.mean()) if record.paths is not None else np.nan
        rows = [("paths_converged_share", share, "info", 1.0)]
    else:
        tol = record.stochastic.tol if record.stochastic is not None else elbo_tol
        rows = [
            ("elbo_converged", converged, ">=", 1.0),
            ("elbo_relative_change", float(opt.relative_change), "info", tol),
        ]
    if record.reweighted:
        rows = [(name, value, "info", threshold) for name, value, _, threshold in rows]
    v = record.verdict
    if v is None:
        # Files written before bayescore's verdicts: the Pareto k-hat of q's own ratios.
        rows.append(("pareto_k", record.parts.pareto_k, "<=", k_max))
    else:
        # The verdict (inference.verdict): importance sampling must be reliable, then the
        # posterior's moments must be close to the draws' for them to be usable as they are.
        moments = "info" if not np.isfinite(v.mean_shift) else None
        rows += [
            ("pareto_k", v.k_hat, "<=", k_max),
            ("is_ess", v.ess, ">=", ESS_MIN),
            ("mean_shift_max", v.mean_shift, moments or "<=", SHIFT_MAX),
            ("sd_ratio_min", v.sd_ratio_low, moments or ">=", SD_RATIO[0]),
            ("sd_ratio_max", v.sd_ratio_high, moments or "<=", SD_RATIO[1]),
            ("verdict_draws", float(v.n_draws), "info", 0.0),
            ("borderline", float(v.borderline), "info", 0.0),
            ("pareto_k_q", record.parts.pareto_k, "info", k_max),
        ]
    parts = record.parts
    rows += [
        ("elbo", parts.elbo, "info", 0.0),
        ("expected_log_likelihood", parts.expected_log_likelihood, "info", 0.0),
        ("kl", parts.kl, "info", 0.0),
    ]
    return rows


def _labels(idata: xr.DataTree) -> list[str] | None:
    """Names of a bayescore fit's flat parameters (None for other fits)."""
    try:
        return flat_labels(spec_from_tree(idata))
    except (KeyError, ValueError, TypeError):
        return None


def _verdict_messages(record: VariationalRecord, labels: list[str] | None) -> list[str]:
    """What the verdict means for the user, in words (empty when the draws are usable)."""
    v = record.verdict
    if v is None:
        return []
    where = ""
    if v.worst >= 0 and labels is not None and v.worst < len(labels):
        where = f" (worst: {labels[v.worst]})"
    lines = []
    if v.decision == "usable after reweighting":
        lines.append(
            f"verdict: usable after reweighting. The posterior differs from these draws: a "
            f"mean lies {v.mean_shift:.2f} sd from theirs{where}, posterior sds are "
            f"{v.sd_ratio_low:.2f}-{v.sd_ratio_high:.2f} times theirs. Use "
            "bs.reweight(fit) for importance-resampled draws of the posterior, or "
            "method='nuts'."
        )
    elif v.decision == "not usable":
        what = "these reweighted draws" if v.reweighted else "this approximation"
        lines.append(
            f"verdict: not usable. Importance sampling from {what} cannot reach the "
            f"posterior reliably (Pareto k-hat {v.k_hat:.2f}, ESS {v.ess:.0f}), so nothing "
            "checks its draws."
        )
    if v.borderline:
        lines.append(
            f"The verdict is borderline: within Monte Carlo error of its threshold after "
            f"{v.n_draws} draws (k-hat {v.k_hat:.2f} +- {v.k_hat_spread:.2f}, largest shift "
            f"{v.mean_shift:.2f} +- {v.mean_shift_se:.2f} sd); another seed may decide "
            "otherwise."
        )
    return lines


#: The checks behind an approximation's verdict.
_VERDICT_CHECKS = frozenset(
    {"pareto_k", "is_ess", "mean_shift_max", "sd_ratio_min", "sd_ratio_max"}
)

#: Fewest draws per chain for which split R-hat and the ESS are defined (arviz-stats gives
#: NaN below: each chain is split in halves, whose variances need two draws each).
MIN_DRAWS_PER_CHAIN = 4


def _nuts_nan_reason(check: str, idata: Any) -> str:
    """Why a NUTS check came out NaN, and what to do: the message of a failed check."""
    post = _free_posterior(idata)
    n_chains, n_draws = int(post.sizes[CHAIN]), int(post.sizes[DRAW])
    if check == "r_hat_max" and n_chains < 2:
        return (
            f"R-hat compares chains and this fit has {n_chains} chain; sample with chains >= 2 "
            "(4 is the usual choice)"
        )
    if check == "bfmi_min":
        energy = idata[SAMPLE_STATS].to_dataset()["energy"]
        if n_draws < 2:
            return f"only {n_draws} draw per chain; E-BFMI needs at least 2. Run more draws"
        if not np.isfinite(energy.values).all():
            return "the sampler's energy holds NaN or inf: the sampler failed"
        return "the sampler's energy is constant within a chain (the chains are stuck)"
    if n_draws < MIN_DRAWS_PER_CHAIN:
        return (
            f"only {n_draws} draws per chain; split R-hat and ESS need at least "
            f"{MIN_DRAWS_PER_CHAIN}. Run more draws (hundreds per chain)"
        )
    broken = [str(n) for n, da in post.data_vars.items() if not np.isfinite(da.values).all()]
    if broken:
        return f"the draws of {broken} hold NaN or inf: the sampler failed"
    # max == min, not std == 0: the std of equal numbers can round to 1e-17.
    stuck = [
        str(n) for n, da in post.data_vars.items() if bool((da.max(DRAW) == da.min(DRAW)).any())
    ]
    if stuck:
        return (
            f"{stuck} keep one value in every draw of a chain (the chains are stuck): rescale "
            "the features, use stronger priors or more tuning steps, and check the sampler's "
            "messages"
        )
    return "arviz-stats returned NaN for it"


def _nan_reason(check: str, idata: Any, record: VariationalRecord | None) -> str:
    if record is None:
        return _nuts_nan_reason(check, idata)
    if check == "pareto_k":
        return (
            "the importance ratios log p - log q over q's draws gave no finite Pareto k "
            "(too few draws, or non-finite log densities): refit with more draws, or use "
            "method='nuts'"
        )
    return "the fit recorded NaN for it"


_COMPARE = {
    "<": np.less,
    ">": np.greater,
    "<=": np.less_equal,
    ">=": np.greater_equal,
}


def diagnose(
    idata_or_estimator: Any,
    *,
    rhat_max: float = 1.01,
    ess_per_chain: float = 100.0,
    bfmi_min: float = 0.3,
    treedepth_max_share: float = 0.05,
    elbo_tol: float = 1e-4,
    pareto_k_max: float = 0.7,
) -> Diagnosis:
    """Check a fit's convergence and return a verdict with advice.

    Parameters
    ----------
    idata_or_estimator : DataTree or fitted bayescore estimator
    rhat_max : float, default 1.01
        Largest acceptable rank-normalised split R-hat.
    ess_per_chain : float, default 100
        Smallest acceptable bulk and tail ESS, per chain.
    bfmi_min : float, default 0.3
        Smallest acceptable E-BFMI of any chain.
    treedepth_max_share : float, default 0.05
        Largest acceptable share of transitions at the maximum tree depth.
    elbo_tol : float, default 1e-4
        ADVI: tolerance on the relative change of the windowed mean ELBO (used when the
        fit did not record its own).
    pareto_k_max : float, default 0.7
        Approximate fits: largest acceptable Pareto k-hat of the importance ratios
        ``log p(theta, y) - log q(theta)`` over draws from q (Yao et al. 2018).

    Returns
    -------
    Diagnosis
        ``ok``, ``table`` (Dataset over ``check``) and ``messages``. Only the free
        parameters are judged (the reference class's fixed zeros have no R-hat).

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 2)); y = (X[:, 0] + rng.normal(size=100) > 0).astype(int)
    >>> d = bs.diagnose(bs.fit(bs.build_model(X, y), draws=1000, tune=500, random_seed=0))
    >>> d.ok, d["divergences"]
    (True, 0.0)
    """
    idata = _idata(idata_or_estimator)
    record = None
    if has_group(idata, VARIATIONAL):
        record = VariationalRecord.from_dataset(idata[VARIATIONAL].to_dataset())
    method = idata[POSTERIOR].attrs.get(ATTR_METHOD)
    if method is None:
        method = record.method if record is not None else "nuts"
    if record is not None:
        rows = _vi_checks(record, elbo_tol, pareto_k_max)
    else:
        rows = _nuts_checks(idata, rhat_max, ess_per_chain, bfmi_min, treedepth_max_share)
    advice_for = method
    if record is not None and record.batch_size is not None:
        advice_for = "minibatch"
    names, values, rules, thresholds, passed, messages = [], [], [], [], [], []
    for name, value, rule, threshold in rows:
        # NaN never passes: a check that cannot be computed fails, saying why. "info" rows
        # are reported, not judged.
        computed = not np.isnan(value)
        ok = rule == "info" or (computed and bool(_COMPARE[rule](value, threshold)))
        names.append(name)
        values.append(value)
        rules.append(rule)
        thresholds.append(threshold)
        passed.append(ok)
        if not ok and not computed:
            messages.append(f"{name} could not be computed: {_nan_reason(name, idata, record)}.")
        elif not ok:
            advice = _ADVICE[name]
            if name in _VERDICT_CHECKS:
                advice = _METHOD_ADVICE.get(advice_for, advice)
            messages.append(f"{name} = {value:.4g} fails '{rule} {threshold:.4g}': {advice}.")
    table = xr.Dataset(
        {
            "value": ((CHECK,), np.asarray(values, dtype=float)),
            "threshold": ((CHECK,), np.asarray(thresholds, dtype=float)),
            "rule": ((CHECK,), np.asarray(rules, dtype=object)),
            "passed": ((CHECK,), np.asarray(passed, dtype=bool)),
        },
        coords={CHECK: names},
        attrs={"method": method},
    )
    if record is not None:
        messages += _verdict_messages(record, _labels(idata))
    verdict = record.verdict if record is not None else None
    auto = idata[POSTERIOR].attrs.get(ATTR_AUTO)
    return Diagnosis(
        ok=all(passed),
        table=table,
        messages=messages,
        method=method,
        verdict=verdict,
        auto=None if auto is None else json.loads(auto),
    )


def warn_if_failed(idata: Any) -> Diagnosis:
    """Run :func:`diagnose` and emit one :class:`ConvergenceWarning` if a check failed.

    The warning is attributed to the caller's code (the first frame outside bayescore),
    whether the fit came from :func:`bayescore.fit` or an estimator's ``fit``.
    """
    diagnosis = diagnose(idata)
    if not diagnosis.ok:
        warnings.warn(
            "The fit failed convergence checks; its scores may be unreliable:\n  "
            + "\n  ".join(diagnosis.messages),
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return diagnosis
