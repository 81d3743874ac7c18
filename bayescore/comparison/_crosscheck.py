r"""Whether PSIS-LOO, K-fold and a held-out test set agree on a model's NLL.

Three estimates of the expected out-of-sample NLL, per observation:

- **PSIS-LOO** on the estimator fitted to all of ``X, y``: :math:`-\widehat{\mathrm{elpd}}_i`
  from :func:`bayescore.loo`, with a Pareto :math:`\hat k` per observation (Vehtari, Gelman
  & Gabry 2017); approximate fits (Laplace, ADVI, Pathfinder) weight by
  :math:`p(\theta, y)/q(\theta)` as well. Above ``pareto_k_max`` (0.7) the importance
  weights are too heavy-tailed to trust. On nearly separable data this is the rule, not the
  exception: 235 of the 398 training rows of breast cancer with all 30 features (NUTS,
  2 x 500 draws), whose ratios :math:`1/p(y_i \mid \theta)` are heavy-tailed over the
  posterior's wide margins. Those rows are **refitted exactly** (``loo(reloo=True)``: one
  fit without each), up to ``max_refits`` of them; a row refitted has an exact LOO term and
  no longer counts against the verdict.
- **K-fold** held-out posterior predictive NLL from :func:`bayescore.cross_validate`. Each
  fit sees :math:`(K-1)/K` of the data, so K-fold is slightly *pessimistic* about a model
  trained on all of it (by about :math:`p/(2N(K-1))` nats for a regular model with
  :math:`p` parameters: 0.002 nats for p = 4, N = 300, K = 5, half the SE of the K-fold -
  LOO difference below and a tenth of either estimate's own SE).
- **Test set** (optional): posterior predictive NLL of the full-data fit on rows it never
  saw.

Each is reported as mean and SE (:math:`\mathrm{sd}/\sqrt N`). Pairs are compared in SE
units, :math:`z = (\bar a - \bar b)/\mathrm{SE}(\bar a - \bar b)`:

- K-fold vs LOO are on the same observations, so the SE is that of the per-observation
  differences :math:`d_i`. Observations in one fold share one fitted model, which makes
  their :math:`d_i` positively correlated: to first order :math:`d_i = \sum_{j \in F,
  j \ne i} g_i^\top J^{-1} g_j` (:math:`g` the score, :math:`J` the Hessian), a degenerate
  U-statistic whose fold sums have *twice* the variance the per-observation SE assumes. The
  SE used is therefore :math:`\max(\sqrt2\,\mathrm{SE}_\mathrm{paired},
  \mathrm{SE}_\mathrm{fold})`, the second the fold-clustered (CR1) SE, which catches
  fold effects beyond first order. Measured by ``benchmarks/crosscheck_datasets.py`` on
  well-specified simulated logistic data (8 data sets of N = 300 with 3 features, 5 fold
  splits each, Laplace fits): the plain paired SE put 9 of 40 runs beyond 2 SE, this SE 3
  of 40 (nominal: 5 %). ``d_se_paired`` keeps the plain one.
- The test set is an independent sample: :math:`\mathrm{SE} = \sqrt{\mathrm{SE}_a^2 +
  \mathrm{SE}_b^2}`.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from bayescore._inputs import align_y
from bayescore._names import ESTIMATE, OBS, PAIR, TEST_OBS
from bayescore._validation import Interval, validate_params
from bayescore.comparison._compare import SEED
from bayescore.comparison._cv import check_cv, cross_validate, split_folds
from bayescore.comparison._loo import ParetoKWarning, loo
from bayescore.diagnostics import Diagnosis, diagnose
from bayescore.scoring import Estimate, posterior_predictive_nll

__all__ = ["NLLCrosscheck", "nll_crosscheck"]


@dataclass(frozen=True)
class NLLCrosscheck:
    """The verdict of :func:`nll_crosscheck`.

    Attributes
    ----------
    ok : bool
        True when every pair of estimates agrees within ``z_max`` SEs, no observation is
        left with a Pareto k above ``pareto_k_max`` (refitted rows are exact) and the
        full-data fit passed :func:`diagnose`.
    table : Dataset
        Over dim ``estimate`` (``loo``, ``kfold``, ``test``): ``nll`` and ``se``. Over dim
        ``pair`` (``kfold-loo``, ``test-loo``, ``test-kfold``): ``d_nll`` (first minus
        second, positive when the first is worse), ``d_se``, ``z = d_nll / d_se``,
        ``agree`` (``|z| <= z_max``) and ``d_se_paired`` (the plain per-observation paired SE
        for ``kfold-loo``, NaN for the independent pairs). Per observation: ``nll_loo``,
        ``nll_kfold``, ``pareto_k`` and ``fold`` over ``obs``; ``nll_test`` over
        ``test_obs`` (DataFrame rows keep their index as coordinate). Attributes
        ``z_max``, ``pareto_k_max``, ``n_high_pareto_k``, ``n_folds``, ``n_kfold_tested``
        (rows some fold tests: all of them, except for forward-chaining splitters, whose
        untested rows have ``fold`` -1 and ``nll_kfold`` NaN and are left out of the K-fold
        estimate and its comparison with LOO), ``fit_ok`` and ``units``.
    messages : list of str
        One line per problem: what disagrees or failed and what to make of it. Empty when
        ``ok``.
    diagnosis : Diagnosis
        :func:`diagnose` of the full-data fit.
    estimator : estimator
        The estimator fitted to all of ``X, y`` (a clone of the one given).
    """

    ok: bool
    table: xr.Dataset
    messages: list[str] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    estimator: Any = None

    def __getitem__(self, estimate: str) -> Estimate:
        """Mean NLL and SE of one estimate, e.g. ``check["loo"]``."""
        row = self.table.sel({ESTIMATE: estimate})
        return Estimate(float(row["nll"]), float(row["se"]))

    def __str__(self) -> str:
        t = self.table
        lines = [f"{'estimate':10} {'nll':>9} {'se':>8}"]
        for name in t[ESTIMATE].values:
            lines.append(
                f"{name:10} {float(t['nll'].sel(estimate=name)):9.4f} "
                f"{float(t['se'].sel(estimate=name)):8.4f}"
            )
        lines.append(f"{'pair':10} {'d_nll':>9} {'d_se':>8} {'z':>6}  agree")
        for name in t[PAIR].values:
            row = t.sel(pair=name)
            lines.append(
                f"{name:10} {float(row['d_nll']):9.4f} {float(row['d_se']):8.4f} "
                f"{float(row['z']):6.2f}  {'yes' if bool(row['agree']) else 'NO'}"
            )
        lines += [f"- {m}" for m in self.messages]
        return "\n".join(lines)


def _kfold_vs_loo(d: np.ndarray, fold: np.ndarray) -> tuple[float, float]:
    """SE of the mean of paired differences: (used, plain paired); see the module doc."""
    n = d.size
    paired = Estimate.of(d).se
    folds = np.unique(fold)
    if folds.size < 2:
        return np.sqrt(2.0) * paired, paired
    sums = np.array([np.sum(d[fold == k] - d.mean()) for k in folds])
    clustered = float(np.sqrt(folds.size / (folds.size - 1) * np.sum(sums**2)) / n)
    return max(np.sqrt(2.0) * paired, clustered), paired


def _advice(
    est: dict[str, Estimate],
    pairs: dict[str, tuple[float, float, float]],
    z_max: float,
    n_high: int,
    n_obs: int,
    k_max: float,
    n_folds: int,
    max_refits: int,
    forward: bool = False,
) -> list[str]:
    messages = []
    if n_high:
        kf = est["kfold"]
        messages.append(
            f"PSIS-LOO is unreliable for {n_high} of {n_obs} observations (Pareto k > "
            f"{k_max:g}): they are highly influential, and more than max_refits="
            f"{max_refits} to refit exactly. Trust the K-fold estimate "
            f"({kf.mean:.4g} +/- {kf.se:.2g} nats) over LOO."
        )
    d, _, z = pairs["kfold-loo"]
    if z > z_max:
        messages.append(
            f"K-fold NLL exceeds LOO by {d:.3g} nats ({z:.1f} SE): "
            + (
                "fitted on the rows before each fold only"
                if forward
                else f"fitted to {n_folds - 1}/{n_folds} of the data"
            )
            + ", the model predicts clearly worse, so it is sensitive to "
            "the training-set size (or LOO is optimistic on influential points). Use more "
            "folds (cv=10), stronger priors or fewer features."
        )
    elif z < -z_max:
        messages.append(
            f"LOO NLL exceeds K-fold by {-d:.3g} nats ({-z:.1f} SE), although K-fold fits on "
            "less data: check the Pareto k values and the fit's convergence, and repeat with "
            "another random_state to see how much the fold split matters."
        )
    if "test-loo" in pairs:
        worse = [b for b in ("loo", "kfold") if pairs[f"test-{b}"][2] > z_max]
        better = [b for b in ("loo", "kfold") if pairs[f"test-{b}"][2] < -z_max]
        test = est["test"]
        if len(worse) == 2:
            messages.append(
                f"Test NLL ({test.mean:.4g} +/- {test.se:.2g}) exceeds both LOO and K-fold "
                f"(by {pairs['test-loo'][2]:.1f} and {pairs['test-kfold'][2]:.1f} SE): the "
                "test rows differ from the training rows (covariate or label shift), or the "
                "model was tuned to the training set (overfitting through model selection). "
                "Check how the split was made and compare feature and label distributions."
            )
        elif worse:
            messages.append(
                f"Test NLL exceeds {worse[0].upper() if worse[0] == 'loo' else 'K-fold'} "
                f"by {pairs['test-' + worse[0]][2]:.1f} SE: the test rows may come from a "
                "shifted distribution; compare feature and label distributions."
            )
        if better:
            messages.append(
                f"Test NLL ({test.mean:.4g}) is lower than {' and '.join(better)} by more "
                f"than {z_max:g} SE: the test rows are easier than the training rows "
                "(a distribution shift), so the test score is not representative."
            )
    return messages


_POSITIVE = Interval(numbers.Real, 0, None, "neither")


_REFITS = Interval(numbers.Integral, 0, None, "left")


@validate_params(
    {"z_max": _POSITIVE, "pareto_k_max": _POSITIVE, "max_refits": _REFITS, "random_state": SEED}
)
def nll_crosscheck(
    estimator: Any,
    X: Any,
    y: Any,
    cv: int | Any = 5,
    X_test: Any = None,
    y_test: Any = None,
    *,
    z_max: float = 2.0,
    pareto_k_max: float = 0.7,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    max_refits: int = 100,
) -> NLLCrosscheck:
    r"""Cross-check PSIS-LOO, K-fold and test-set NLL of one estimator, with a verdict.

    See the module doc for the three estimates and the SE of each comparison.

    Parameters
    ----------
    estimator : unfitted bayescore estimator
        Cloned and fitted to all of ``X, y`` (for LOO and the test set) and once per fold.
    X : array-like or DataFrame of shape (n_obs, n_features)
    y : array-like of shape (n_obs,)
    cv : int or scikit-learn splitter, default 5
        Folds of :func:`bayescore.cross_validate` (``int`` -> stratified, seeded
        ``StratifiedKFold``), checked before any fit: the splitter must put every row in
        exactly one test fold, or (forward chaining, e.g. ``TimeSeriesSplit``) in at most
        one, the K-fold estimate then covering the rows tested.
    X_test, y_test : optional
        Held-out rows; both or neither.
    z_max : float, default 2.0
        Largest ``|z|`` at which two estimates count as agreeing (about a 95 % two-sided
        normal band).
    pareto_k_max : float, default 0.7
        Largest acceptable Pareto k of an observation's PSIS-LOO weights.
    random_state : int or None, default 0
        Seed of the fold split.
    n_jobs : int, optional
        Fit the folds in parallel (see :func:`bayescore.cross_validate`).
    max_refits : int, default 100
        Most rows with Pareto k above ``pareto_k_max`` to refit exactly (one fit each);
        with more such rows none is refitted, and the verdict says to trust K-fold.

    Returns
    -------
    NLLCrosscheck
        ``ok``, ``table`` (Dataset), ``messages`` (advice), ``diagnosis`` and the fitted
        ``estimator``. NLL in nats, lower is better.

    See Also
    --------
    bayescore.loo, bayescore.cross_validate, bayescore.diagnose

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = (X[:, 0] + rng.logistic(size=400) > 0).astype(int)
    >>> check = bs.nll_crosscheck(bs.BayesianLogisticClassifier(method="laplace"), X, y)
    >>> check.ok, check.table["estimate"].values.tolist()
    (True, ['loo', 'kfold'])
    """
    from sklearn.base import clone

    if not hasattr(estimator, "predict_proba_draws"):
        raise TypeError(
            "nll_crosscheck needs a bayescore estimator (with predict_proba_draws and a "
            f"posterior for PSIS-LOO); got {type(estimator).__name__}. Use "
            "bayescore.cross_validate for other classifiers."
        )
    splitter = check_cv(cv, "nll_crosscheck", random_state)
    if (X_test is None) != (y_test is None):
        raise ValueError(
            "nll_crosscheck needs both X_test and y_test, or neither; got only "
            f"{'X_test' if y_test is None else 'y_test'}."
        )
    y, _ = align_y(y, X, "X")  # rows by label when X and y both name them
    # The folds are split and checked once, before any fit, and reused as they are.
    folds = split_folds(splitter, X, np.asarray(getattr(y, "values", y)), func="nll_crosscheck")
    fitted = clone(estimator).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParetoKWarning)  # said in the messages instead
        elpd = loo(fitted, k_threshold=pareto_k_max, subsample=None)
        pareto_k = np.asarray(elpd.pareto_k, dtype=float)
        n_bad = int(np.sum(pareto_k > pareto_k_max))
        if 0 < n_bad <= max_refits:  # exact refits settle the influential rows
            elpd = loo(fitted, reloo=True, k_threshold=pareto_k_max, subsample=None)
    refitted = np.zeros(pareto_k.size, dtype=bool)
    refitted[elpd.refitted] = True
    nll_loo = -np.asarray(elpd.elpd_i, dtype=float)
    cv_table = cross_validate(
        {"model": estimator}, X, y, cv=folds.splits, random_state=random_state, n_jobs=n_jobs
    )
    nll_kfold = np.asarray(cv_table["nll_pointwise"].values[0], dtype=float)
    fold = folds.fold
    # Forward-chaining folds leave rows untested: K-fold is scored, and paired with LOO,
    # on the rows tested only (NaN and fold -1 for the others).
    tested = folds.tested

    per_obs = {"loo": nll_loo, "kfold": nll_kfold}
    if X_test is not None:
        draws = fitted.predict_proba_draws(X_test)
        per_obs["test"] = np.asarray(
            posterior_predictive_nll(y_test, draws, pointwise=True), dtype=float
        )
    est = {name: Estimate.of(values[~np.isnan(values)]) for name, values in per_obs.items()}

    d_tested = (nll_kfold - nll_loo)[tested]
    used, paired = _kfold_vs_loo(d_tested, fold[tested])
    pairs = {"kfold-loo": (float(d_tested.mean()), used, paired)}
    if "test" in est:
        for other in ("loo", "kfold"):
            se = float(np.hypot(est["test"].se, est[other].se))
            pairs[f"test-{other}"] = (est["test"].mean - est[other].mean, se, np.nan)
    z = {
        name: d / se if se > 0 else (0.0 if d == 0 else np.inf)
        for name, (d, se, _) in pairs.items()
    }
    agree = {name: bool(abs(v) <= z_max) for name, v in z.items()}

    diagnosis = diagnose(fitted)
    n_high = int(np.sum((pareto_k > pareto_k_max) & ~refitted))
    n_folds = len(folds.splits)
    messages = _advice(
        est,
        {name: (d, se, z[name]) for name, (d, se, _) in pairs.items()},
        z_max,
        n_high,
        nll_loo.size,
        pareto_k_max,
        n_folds,
        max_refits,
        forward=not folds.all_rows_tested,
    )
    if not diagnosis.ok:
        messages.append(
            "The fit to all of X, y failed convergence checks, so LOO and the test score "
            "rest on unreliable draws: " + " ".join(diagnosis.messages)
        )
    names = list(pairs)
    data: dict[str, Any] = {
        "nll": ((ESTIMATE,), np.array([est[n].mean for n in est])),
        "se": ((ESTIMATE,), np.array([est[n].se for n in est])),
        "d_nll": ((PAIR,), np.array([pairs[n][0] for n in names])),
        "d_se": ((PAIR,), np.array([pairs[n][1] for n in names])),
        "z": ((PAIR,), np.array([z[n] for n in names])),
        "agree": ((PAIR,), np.array([agree[n] for n in names])),
        "d_se_paired": ((PAIR,), np.array([pairs[n][2] for n in names])),
        "nll_loo": ((OBS,), nll_loo),
        "nll_kfold": ((OBS,), nll_kfold),
        "pareto_k": ((OBS,), pareto_k),
        "refitted": ((OBS,), refitted),
        "fold": ((OBS,), fold),
    }
    if "test" in per_obs:
        data["nll_test"] = ((TEST_OBS,), per_obs["test"])
    ok = all(agree.values()) and n_high == 0 and diagnosis.ok
    coords: dict[str, Any] = {ESTIMATE: list(est), PAIR: names}
    for dim, rows in ((OBS, X), (TEST_OBS, X_test)):
        if hasattr(rows, "index"):  # DataFrame rows keep their labels
            coords[dim] = np.asarray(rows.index)
    table = xr.Dataset(
        data,
        coords=coords,
        attrs={
            "units": "nats",
            "z_max": float(z_max),
            "pareto_k_max": float(pareto_k_max),
            "n_high_pareto_k": n_high,
            "n_refits": int(refitted.sum()),
            "n_folds": n_folds,
            "n_kfold_tested": int(tested.sum()),
            "fit_ok": int(diagnosis.ok),
        },
    )
    return NLLCrosscheck(
        ok=ok, table=table, messages=messages, diagnosis=diagnosis, estimator=fitted
    )
