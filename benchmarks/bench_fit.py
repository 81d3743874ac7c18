"""Fitting speed and accuracy: bayescore's NUTS and approximations vs PyMC by hand and Bambi.

Problems (simulated, seeded; ``simulate`` below). ``rng = np.random.default_rng(seed)``, then

- features ``X = rng.standard_normal((N, D))``;
- logistic (seed 0): intercept ``rng.normal(0, 0.5)``, coefficients ``rng.normal(0, 0.5, D)``,
  ``y = rng.random(N) < sigmoid(intercept + X @ coef)``; N = 5 000, D = 20;
- softmax (seed 1): intercepts ``rng.normal(0, 0.5, K)`` and coefficients
  ``rng.normal(0, 0.5, (D, K))``, the first class's set to 0 (reference class); ``y`` by
  inverse CDF of ``softmax(intercept + X @ coef)`` at ``rng.random((N, 1))``; N = 5 000,
  D = 20, K = 5.

Every model has ``Normal(0, 2.5)`` priors on the intercept(s) and on the coefficients of the
standardised features (training mean, population sd); 2 chains x 1 000 draws after 1 000
tuning steps, ``random_seed=1``. bayescore gets the raw X (it standardises inside the fit,
which is timed); PyMC by hand and Bambi get the standardised X.

Rows (``NUTS_ROWS``, ``APPROX_ROWS``: data, one dict per configuration). A configuration
whose option the installed bayescore does not know (a ``ValueError`` naming it at ``fit``),
or whose package is not installed, is reported as "n/a (not available)", so the script runs
on trees before and after a change of options.

- bayescore estimators with their defaults (only ``random_seed`` and the draws set), with
  ``sampler=`` "pymc", "nutpie", "numpyro", and with the cold start of NUTS
  (``fit_kwargs={"warm_start": False}``);
- PyMC by hand: ``pm.Data`` X, ``Bernoulli(logit_p)`` / ``Categorical(logit_p)`` with the
  first class's logits fixed at 0, ``pm.sample(chains=2)`` with PyMC's defaults (PyMC 6 picks
  nutpie when installed; the sampler used is recorded);
- Bambi defaults: ``bmb.Model("y ~ x0 + ... + x19", df, family="bernoulli" | "categorical")``
  with ``priors={"Intercept": Normal(0, 2.5), "common": Normal(0, 2.5)}`` and
  ``model.fit(chains=2, draws, tune, random_seed)``. Bambi centres the predictors and puts
  the intercept prior on the centred intercept; the standardised columns have mean 0, so
  this is the same prior as everywhere else. Its categorical family takes the first level as
  the reference, as bayescore does;
- approximations: bayescore ``method=`` "advi", "fullrank_advi", "laplace", "pathfinder"
  (1 000 draws from q), compared with the bayescore default NUTS posterior of the same
  problem on the intercept(s) and coefficients (softmax: all K columns, less the constant
  reference column): max |mean - mean_NUTS| / sd_NUTS, the range of sd / sd_NUTS, and the
  Pareto k-hat from ``bs.diagnose(est).table``.

Each row runs in a fresh process (``python bench_fit.py --worker '<json>'``) twice: a
warm-up with 100 draws and 100 tuning steps, which fills the compile caches (PyTensor,
numba), then the measured run. Wall time is the whole fit call: model building, compiling,
sampling and conversion to a DataTree; module imports (pymc, nutpie, bambi) and xarray's
one-off probe for dask (0.3-0.4 s with dask installed, paid at any library's first xarray
object) happen before the clock starts. bayescore rows also time the same fit again in the
same process ("in session": without the process's one-off costs, such as loading the
compiled NUTS kernels); approximations report their speed-up over the default NUTS both
ways. Per NUTS row: min bulk ESS over the free parameters
(``arviz_stats.ess(method="bulk")``), ESS/s, max R-hat (``arviz_stats.rhat``),
divergences, and ESS/s over the best peer's (max of PyMC by hand and Bambi) in this run.

Sections (``--only``, comma-separated; default all):

- ``fit``: the table above;
- ``cold``: time to the first result with EMPTY compile caches (fresh ``PYTENSOR_FLAGS=
  base_compiledir=<tmp>``, which holds PyTensor's C and numba caches, and
  ``NUMBA_CACHE_DIR=<tmp>``), bayescore default vs PyMC by hand, logistic problem: the fit
  call and the whole process (imports included);
- ``cv``: ``bs.cross_validate({"bayescore": est}, X, y, cv=5)`` vs one fit in the same
  process after a warm-up fit, logistic problem;
- ``minibatch``: ``method="advi", batch_size=1000`` at N = 10^4, 10^5, 10^6 (D = 20,
  logistic), then the same N with full-data ``method="advi"`` (fixed draws, rows read in
  blocks) for comparison: time, k-hat, and peak RSS (``ru_maxrss``) raw and less the RSS
  just before the fit (after a small warm-up fit in the same process, so imports and JIT
  compiles are not counted as data).

Usage::

    python benchmarks/bench_fit.py                 # full: writes benchmarks/results/fit.json
    python benchmarks/bench_fit.py --quick         # N = 1000, 200 draws: a smoke run
    python benchmarks/bench_fit.py --only fit,cv

It prints markdown tables and writes machine information, versions, settings and every
row's raw numbers as JSON (``--quick`` to ``results/fit_quick.json`` unless ``--out``).
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
MARK = "BENCH_FIT_RESULT "
SECTIONS = ("fit", "cold", "cv", "minibatch")
SEED = 1
DATA_SEEDS = {"logistic": 0, "softmax": 1}
PAGE = os.sysconf("SC_PAGE_SIZE")

FULL: dict[str, Any] = {
    "n": 5000,
    "d": 20,
    "k": {"logistic": 2, "softmax": 5},
    "draws": 1000,
    "tune": 1000,
    "chains": 2,
    "warmup_draws": 100,
    "prior_sd": 2.5,
    "cv": 5,
    "minibatch_n": [10_000, 100_000, 1_000_000],
    "batch_size": 1000,
    "minibatch_max_iter": None,  # bayescore's default and stopping rule
}
QUICK: dict[str, Any] = {
    **FULL,
    "n": 1000,
    "draws": 200,
    "tune": 200,
    "warmup_draws": 50,
    "minibatch_n": [2_000, 20_000, 200_000],
    "minibatch_max_iter": 5000,
}

#: NUTS configurations. ``params``: estimator parameters; ``needs``: packages; ``peer``:
#: counts as a reference for the "x best peer" column.
NUTS_ROWS: list[dict[str, Any]] = [
    # method="nuts" spelt out: the estimators' default is method="auto" since 0.3, which
    # may return the Laplace approximation (see the "auto" row below).
    {"row": "bayescore method=nuts", "engine": "bayescore", "params": {"method": "nuts"}},
    {
        "row": "bayescore sampler=pymc",
        "engine": "bayescore",
        "params": {"method": "nuts", "sampler": "pymc"},
    },
    {
        "row": "bayescore sampler=nutpie",
        "engine": "bayescore",
        "params": {"method": "nuts", "sampler": "nutpie"},
    },
    {
        "row": "bayescore sampler=numpyro",
        "engine": "bayescore",
        "params": {"method": "nuts", "sampler": "numpyro"},
        "needs": ["numpyro"],
    },
    {
        "row": "bayescore cold start (warm_start=False)",
        "engine": "bayescore",
        "params": {"method": "nuts", "fit_kwargs": {"warm_start": False}},
    },
    {"row": "PyMC by hand, pm.sample defaults", "engine": "pymc", "peer": True},
    {"row": "Bambi defaults", "engine": "bambi", "peer": True, "needs": ["bambi"]},
]
APPROX_ROWS: list[dict[str, Any]] = [
    {
        "row": f"bayescore method={m}",
        "engine": "bayescore",
        "params": {"method": m},
        "approx": True,
    }
    for m in ("auto", "advi", "fullrank_advi", "laplace", "pathfinder")
]
DEFAULT_ROW = NUTS_ROWS[0]["row"]


# --------------------------------------------------------------------------- data


def simulate(kind: str, n: int, d: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark problems (see the module docstring)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if kind == "logistic":
        intercept = rng.normal(0.0, 0.5)
        coef = rng.normal(0.0, 0.5, d)
        eta = intercept + X @ coef
        return X, (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    intercepts = rng.normal(0.0, 0.5, k)
    coefs = rng.normal(0.0, 0.5, (d, k))
    intercepts[0] = 0.0
    coefs[:, 0] = 0.0
    logits = intercepts + X @ coefs
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return X, (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1).astype(np.int64)


def standardise(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(axis=0)) / X.std(axis=0)


# --------------------------------------------------------------------------- worker side


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB


def summarise(intercept: Any, coef: Any) -> dict[str, list[float]]:
    """``{label: [mean, sd]}`` of every intercept and coefficient, labels by position/class.

    ``intercept`` has dims ``(chain, draw[, class])``, ``coef`` ``(chain, draw, feature[,
    class])``, with integer ``feature`` and ``class`` coordinates, so every engine's draws
    get the same labels.
    """
    out: dict[str, list[float]] = {}
    for name, da in (("intercept", intercept), ("coef", coef)):
        mean = da.mean(("chain", "draw"))
        sd = da.std(("chain", "draw"), ddof=1)
        for idx in np.ndindex(mean.shape):
            labels = [str(int(mean[dim].values[i])) for dim, i in zip(mean.dims, idx, strict=True)]
            key = f"{name}[{','.join(labels)}]" if labels else name
            out[key] = [float(mean.values[idx]), float(sd.values[idx])]
    return out


#: The sample stats that count a draw's leapfrog steps, one gradient each: nutpie's (and
#: NumPyro's ``num_steps``, renamed) ``n_steps``, PyMC's ``tree_size``.
GRADIENT_STATS = ("n_steps", "tree_size")


def nuts_metrics(post: Any, free: list[str], stats: Any) -> dict[str, Any]:
    """Min bulk ESS and max R-hat over ``free``, divergences, and gradients of the draws.

    ``post`` and ``stats``: the posterior and sample-stats Datasets (``chain``, ``draw``
    dims). ``gradients`` sums the leapfrog steps of the draws in ``stats``: the sampling
    phase only when the tuning draws were discarded, as every engine here does.
    """
    import arviz_stats

    sub = post[free]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ess = arviz_stats.ess(sub, method="bulk")
        rhat = arviz_stats.rhat(sub)
    ess_all = np.concatenate([np.ravel(ess[v].values) for v in free])
    rhat_all = np.concatenate([np.ravel(rhat[v].values) for v in free])
    steps = next((stats[v] for v in GRADIENT_STATS if v in stats), None)
    gradients = int(steps.sum()) if steps is not None else None
    return {
        "free_vars": free,
        "n_params": int(ess_all.size),
        "ess_bulk_min": float(np.min(ess_all)),
        "rhat_max": float(np.max(rhat_all)),
        "divergences": int(stats["diverging"].sum()) if "diverging" in stats else None,
        "inference_library": post.attrs.get("inference_library"),
        "gradients": gradients,
        "ess_per_gradient": float(np.min(ess_all)) / gradients if gradients else None,
    }


def unavailable(exc: Exception, cfg: dict[str, Any]) -> bool:
    """Whether ``exc`` names one of this row's option values or ``fit_kwargs`` keys."""
    params = cfg.get("params", {})
    words = {v for v in params.values() if isinstance(v, str)} | set(params.get("fit_kwargs", {}))
    return any(repr(w) in str(exc) for w in words)


def estimator(kind: str, params: dict[str, Any]) -> Any:
    import bayescore as bs

    cls = bs.BayesianLogisticClassifier if kind == "logistic" else bs.BayesianSoftmaxClassifier
    return cls(random_seed=SEED, **params)


def fit_bayescore(cfg: dict[str, Any], X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    import bayescore as bs

    params = dict(cfg.get("params", {}))
    params.update(draws=cfg["draws"], tune=cfg["tune"], chains=cfg["chains"])
    est = estimator(cfg["kind"], params)
    start = time.perf_counter()
    try:
        est.fit(X, y)
    except (ValueError, ImportError) as exc:
        if isinstance(exc, ImportError) or unavailable(exc, cfg):
            return {"status": "n/a", "reason": f"{type(exc).__name__}: {exc}"}
        raise
    seconds = time.perf_counter() - start
    # The same fit again in this process: a session's later fits, without the process's
    # one-off costs (imports, loading compiled kernels, library discovery).
    again = estimator(cfg["kind"], params)
    start = time.perf_counter()
    again.fit(X, y)
    seconds_in_session = time.perf_counter() - start
    idata = est.idata_
    post = idata["posterior"].to_dataset()
    out: dict[str, Any] = {
        "status": "ok",
        "seconds": seconds,
        "seconds_in_session": seconds_in_session,
        "estimator_params": {k: repr(v) for k, v in est.get_params().items()},
        "method": post.attrs.get("bayescore_method"),
    }
    # bayescore records its free variables (not the reference class's fixed zeros).
    free = json.loads(post.attrs.get("bayescore_free_vars", "null")) or ["intercept", "coef"]
    if out["method"] == "nuts":
        out.update(nuts_metrics(post, free, idata["sample_stats"].to_dataset()))
    table = bs.diagnose(est).table
    checks = [str(c) for c in table["check"].values]
    out["diagnose"] = {c: float(table["value"].sel(check=c)) for c in checks}
    out["pareto_k"] = out["diagnose"].get("pareto_k")
    coef = post["coef"].assign_coords(feature=np.arange(post.sizes["feature"]))
    out["summary"] = summarise(post["intercept"], coef)
    return out


def hand_pymc_model(kind: str, Xs: np.ndarray, y: np.ndarray, k: int, prior_sd: float) -> Any:
    import pymc as pm
    import pytensor.tensor as pt

    coords: dict[str, Any] = {"feature": np.arange(Xs.shape[1])}
    if kind == "softmax":
        coords["class_free"] = np.arange(1, k)
    with pm.Model(coords=coords) as model:
        X = pm.Data("X", Xs)
        if kind == "logistic":
            a = pm.Normal("intercept", 0.0, prior_sd)
            b = pm.Normal("coef", 0.0, prior_sd, dims="feature")
            pm.Bernoulli("y", logit_p=a + X @ b, observed=y)
        else:
            a = pm.Normal("intercept_free", 0.0, prior_sd, dims="class_free")
            b = pm.Normal("coef_free", 0.0, prior_sd, dims=("feature", "class_free"))
            logits = pt.concatenate([pt.zeros((X.shape[0], 1)), a + X @ b], axis=1)
            pm.Categorical("y", logit_p=logits, observed=y)
    return model


def fit_hand_pymc(cfg: dict[str, Any], X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    import pymc as pm

    Xs = standardise(X)
    start = time.perf_counter()
    model = hand_pymc_model(cfg["kind"], Xs, y, cfg["k"], cfg["prior_sd"])
    with model:
        idata = pm.sample(
            draws=cfg["draws"],
            tune=cfg["tune"],
            chains=cfg["chains"],
            random_seed=SEED,
            progressbar=False,
        )
    seconds = time.perf_counter() - start
    post = idata["posterior"].to_dataset()
    free = [rv.name for rv in model.free_RVs]
    out = {"status": "ok", "seconds": seconds}
    out.update(nuts_metrics(post, free, idata["sample_stats"].to_dataset()))
    if cfg["kind"] == "logistic":
        out["summary"] = summarise(post["intercept"], post["coef"])
    else:
        out["summary"] = summarise(
            post["intercept_free"].rename(class_free="class"),
            post["coef_free"].rename(class_free="class"),
        )
    return out


def fit_bambi(cfg: dict[str, Any], X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    import bambi as bmb
    import pandas as pd
    import xarray as xr

    Xs = standardise(X)
    names = [f"x{j}" for j in range(Xs.shape[1])]
    df = pd.DataFrame(Xs, columns=names)
    df["y"] = y if cfg["kind"] == "logistic" else pd.Categorical(y)
    family = "bernoulli" if cfg["kind"] == "logistic" else "categorical"
    prior = bmb.Prior("Normal", mu=0.0, sigma=cfg["prior_sd"])
    start = time.perf_counter()
    model = bmb.Model(
        "y ~ " + " + ".join(names), df, family=family, priors={"Intercept": prior, "common": prior}
    )
    idata = model.fit(
        chains=cfg["chains"],
        draws=cfg["draws"],
        tune=cfg["tune"],
        random_seed=SEED,
        progressbar=False,
    )
    seconds = time.perf_counter() - start
    post = idata["posterior"].to_dataset()
    free = [rv.name for rv in model.backend.model.free_RVs]
    out = {"status": "ok", "seconds": seconds}
    out.update(nuts_metrics(post, free, idata["sample_stats"].to_dataset()))
    coef = xr.concat([post[n] for n in names], dim="feature").assign_coords(
        feature=np.arange(len(names))
    )
    intercept = post["Intercept"]
    if cfg["kind"] == "softmax":  # Bambi's free classes: y_reduced_dim, labels "1".."K-1"
        (dim,) = [d for d in intercept.dims if d not in ("chain", "draw")]
        classes = [int(c) for c in intercept[dim].values]
        intercept = intercept.rename({dim: "class"}).assign_coords({"class": classes})
        coef = coef.rename({dim: "class"}).assign_coords({"class": classes})
        coef = coef.transpose("chain", "draw", "feature", "class")
    out["summary"] = summarise(intercept, coef)
    return out


def work_fit(cfg: dict[str, Any]) -> dict[str, Any]:
    import pymc  # noqa: F401  (imported before the clock, as a user's session would)

    if importlib.util.find_spec("nutpie") is not None:
        import nutpie  # noqa: F401
    if cfg["engine"] == "bambi":
        import bambi  # noqa: F401
    # xarray looks for dask at its first object in a process (0.3-0.4 s when dask is
    # installed, as in the dev environment): a session's one-off cost every engine pays at
    # its first result, not a cost of fitting.
    import xarray as xr

    xr.DataArray(np.zeros(1))
    X, y = simulate(cfg["kind"], cfg["n"], cfg["d"], cfg["k"], DATA_SEEDS[cfg["kind"]])
    fitters = {"bayescore": fit_bayescore, "pymc": fit_hand_pymc, "bambi": fit_bambi}
    return fitters[cfg["engine"]](cfg, X, y)


def work_cv(cfg: dict[str, Any]) -> dict[str, Any]:
    from sklearn.base import clone

    import bayescore as bs

    X, y = simulate("logistic", cfg["n"], cfg["d"], 2, DATA_SEEDS["logistic"])
    params = {"draws": cfg["draws"], "tune": cfg["tune"], "chains": cfg["chains"]}
    est = estimator("logistic", params)
    start = time.perf_counter()
    clone(est).fit(X, y)  # warm-up: imports and compile caches of this process
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    clone(est).fit(X, y)
    one_fit = time.perf_counter() - start
    start = time.perf_counter()
    table = bs.cross_validate({"bayescore": est}, X, y, cv=cfg["cv"])
    cv_seconds = time.perf_counter() - start
    return {
        "status": "ok",
        "warmup_seconds": warmup,
        "one_fit_seconds": one_fit,
        "cv_seconds": cv_seconds,
        "cv": cfg["cv"],
        "ratio": cv_seconds / one_fit,
        "nll": float(table["nll"].sel(model="bayescore")),
    }


def work_minibatch(cfg: dict[str, Any]) -> dict[str, Any]:
    import bayescore as bs

    n = cfg["n"]
    X, y = simulate("logistic", n, cfg["d"], 2, DATA_SEEDS["logistic"])
    fit_kwargs = {} if cfg["max_iter"] is None else {"max_iter": cfg["max_iter"]}
    params = {"method": "advi", "fit_kwargs": fit_kwargs}
    if cfg["batch_size"] is not None:  # else full-data ADVI on fixed draws, in row blocks
        params["batch_size"] = cfg["batch_size"]
    # A small fit first: imports and JIT compiles are one-time costs of a process, not data.
    small = min(n, 5000)
    estimator("logistic", {**params, "fit_kwargs": {"max_iter": 500}}).fit(X[:small], y[:small])
    est = estimator("logistic", params)
    gc.collect()
    before, max_before = rss_bytes(), max_rss_bytes()
    start = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - start
    max_after = max_rss_bytes()
    table = bs.diagnose(est).table
    checks = [str(c) for c in table["check"].values]
    return {
        "status": "ok",
        "n": n,
        "batch_size": cfg["batch_size"],
        "seconds": seconds,
        "x_mb": X.nbytes / 1e6,
        "rss_before_mb": before / 1e6,
        "maxrss_before_mb": max_before / 1e6,
        "maxrss_mb": max_after / 1e6,
        "peak_extra_mb": (max_after - before) / 1e6,
        "pareto_k": float(table["value"].sel(check="pareto_k")) if "pareto_k" in checks else None,
        "converged": bool(table["value"].sel(check="elbo_converged"))
        if "elbo_converged" in checks
        else None,
    }


def worker(cfg: dict[str, Any]) -> None:
    warnings.simplefilter("ignore")  # diagnostics are recorded, not printed
    tasks = {"fit": work_fit, "cv": work_cv, "minibatch": work_minibatch}
    result = tasks[cfg["task"]](cfg)
    print(MARK + json.dumps(finite(result), allow_nan=False), flush=True)


# --------------------------------------------------------------------------- driver side


def run_worker(cfg: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cfg`` in a fresh interpreter; its result, or the error it died with.

    With bytecode caching on (PYTHONDONTWRITEBYTECODE unset), as in an installed package:
    otherwise an editable checkout recompiles its modules from source in every process.
    """
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(cfg)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    process_seconds = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-15:]
        return {"status": "error", "returncode": proc.returncode, "stderr_tail": tail}
    result: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    result["process_seconds"] = process_seconds
    return result


def finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None: strict JSON."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def compare_to(ref: dict[str, list[float]], other: dict[str, list[float]]) -> dict[str, Any]:
    """max |mean - mean_ref| / sd_ref and the range of sd / sd_ref on shared labels."""
    labels = [k for k in ref if k in other and ref[k][1] > 0]  # constant reference column out
    if not labels:
        return {}
    z = [abs(other[k][0] - ref[k][0]) / ref[k][1] for k in labels]
    ratio = [other[k][1] / ref[k][1] for k in labels]
    return {
        "n_compared": len(labels),
        "max_abs_dmean_over_sd": max(z),
        "sd_ratio_min": min(ratio),
        "sd_ratio_max": max(ratio),
    }


def section_fit(s: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for kind in ("logistic", "softmax"):
        base = {"task": "fit", "kind": kind, "k": s["k"][kind]}
        base.update({key: s[key] for key in ("n", "d", "draws", "tune", "chains", "prior_sd")})
        problem_rows = []
        for row in NUTS_ROWS + APPROX_ROWS:
            cfg = {**base, **row}
            missing = [m for m in row.get("needs", []) if importlib.util.find_spec(m) is None]
            rec: dict[str, Any] = {"problem": kind, **row}
            if missing:
                rec["result"] = {"status": "n/a", "reason": f"not installed: {missing}"}
                problem_rows.append(rec)
                continue
            log(f"[fit] {kind}: {row['row']} (warm-up)")
            warm = run_worker({**cfg, "draws": s["warmup_draws"], "tune": s["warmup_draws"]})
            rec["warmup"] = warm
            if warm["status"] != "ok":
                rec["result"] = warm
            else:
                log(f"[fit] {kind}: {row['row']}")
                rec["result"] = run_worker(cfg)
            problem_rows.append(rec)
        ref = next(r["result"] for r in problem_rows if r["row"] == DEFAULT_ROW)
        peers = [
            r["result"]["ess_bulk_min"] / r["result"]["seconds"]
            for r in problem_rows
            if r.get("peer") and r["result"]["status"] == "ok"
        ]
        for r in problem_rows:
            res = r["result"]
            if res["status"] != "ok":
                continue
            if "ess_bulk_min" in res:
                res["ess_per_second"] = res["ess_bulk_min"] / res["seconds"]
                res["ratio_to_best_peer"] = res["ess_per_second"] / max(peers) if peers else None
            if ref["status"] == "ok" and r["row"] != DEFAULT_ROW:
                res["vs_default_nuts"] = compare_to(ref["summary"], res["summary"])
            if ref["status"] == "ok" and r.get("approx"):
                res["x_faster_than_nuts"] = ref["seconds"] / res["seconds"]
                res["x_faster_than_nuts_in_session"] = (
                    ref["seconds_in_session"] / res["seconds_in_session"]
                )
        rows.extend(problem_rows)
    return rows


def section_cold(s: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    base = {"task": "fit", "kind": "logistic", "k": 2}
    base.update({key: s[key] for key in ("n", "d", "draws", "tune", "chains", "prior_sd")})
    for row in (NUTS_ROWS[0], next(r for r in NUTS_ROWS if r["engine"] == "pymc")):
        with tempfile.TemporaryDirectory(prefix="bench_fit_cold_") as tmp:
            env = dict(os.environ)
            # base_compiledir, not only compiledir: PyTensor keeps its numba cache in
            # <base_compiledir>/numba, so compiledir alone leaves that cache warm.
            flags = f"base_compiledir={tmp}/pytensor"
            old = env.get("PYTENSOR_FLAGS")
            env["PYTENSOR_FLAGS"] = f"{old},{flags}" if old else flags
            env["NUMBA_CACHE_DIR"] = f"{tmp}/numba"
            log(f"[cold] {row['row']} (empty caches in {tmp})")
            out[row["engine"]] = {"row": row["row"], "result": run_worker({**base, **row}, env)}
    a, b = out["bayescore"]["result"], out["pymc"]["result"]
    if a["status"] == b["status"] == "ok":
        out["ratio_fit"] = a["seconds"] / b["seconds"]
        out["ratio_process"] = a["process_seconds"] / b["process_seconds"]
    return out


def section_cv(s: dict[str, Any]) -> dict[str, Any]:
    cfg = {"task": "cv", **{key: s[key] for key in ("n", "d", "draws", "tune", "chains", "cv")}}
    log("[cv] one fit vs cross_validate")
    return run_worker(cfg)


def section_minibatch(s: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for batch_size in (s["batch_size"], None):
        route = []
        for n in s["minibatch_n"]:
            log(f"[minibatch] N = {n}, batch_size = {batch_size}")
            cfg = {"task": "minibatch", "n": n, "d": s["d"], "batch_size": batch_size}
            route.append(run_worker({**cfg, "max_iter": s["minibatch_max_iter"]}))
        for prev, cur in zip(route, route[1:], strict=False):
            if prev["status"] == cur["status"] == "ok":
                cur["time_ratio_vs_previous_n"] = cur["seconds"] / prev["seconds"]
        rows.extend(route)
    return rows


# --------------------------------------------------------------------------- reporting


def fmt(value: Any, spec: str = ".2f") -> str:
    return "" if value is None else format(value, spec)


def table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def speedup(res: dict[str, Any]) -> str:
    """An approximation's speed-up over the default NUTS: fresh process / in session."""
    if "x_faster_than_nuts" not in res:
        return ""
    return f"{res['x_faster_than_nuts']:.1f} / {res['x_faster_than_nuts_in_session']:.1f}"


def fit_table(rows: list[dict[str, Any]]) -> str:
    head = [
        "problem",
        "configuration",
        "sampler",
        "wall s",
        "in session s",
        "x faster than NUTS",
        "min bulk ESS",
        "ESS/s",
        "x best peer",
        "max R-hat",
        "div.",
        "max abs dmean/sd",
        "sd ratio",
        "k-hat",
    ]
    body = []
    for r in rows:
        res = r["result"]
        if res["status"] != "ok":
            what = "n/a (not available)" if res["status"] == "n/a" else "error (see JSON)"
            body.append([r["problem"], r["row"], "", what] + [""] * (len(head) - 4))
            continue
        cmp = res.get("vs_default_nuts", {})
        sd = f"{cmp['sd_ratio_min']:.2f}-{cmp['sd_ratio_max']:.2f}" if cmp else ""
        body.append(
            [
                r["problem"],
                r["row"],
                str(res.get("inference_library") or res.get("method") or ""),
                fmt(res["seconds"], ".2f"),
                fmt(res.get("seconds_in_session"), ".2f"),
                speedup(res),
                fmt(res.get("ess_bulk_min"), ".0f"),
                fmt(res.get("ess_per_second"), ".1f"),
                fmt(res.get("ratio_to_best_peer")),
                fmt(res.get("rhat_max"), ".3f"),
                fmt(res.get("divergences"), "d"),
                fmt(cmp.get("max_abs_dmean_over_sd")),
                sd,
                fmt(res.get("pareto_k")),
            ]
        )
    return table(head, body)


def report(results: dict[str, Any], s: dict[str, Any]) -> str:
    out = []
    quick = " (--quick: not the benchmark's figures)" if s["quick"] else ""
    if "fit" in results:
        out.append(
            f"## Fitting: N = {s['n']}, D = {s['d']}, {s['chains']} chains x {s['draws']} "
            f"draws after {s['tune']} tuning steps{quick}\n"
        )
        out.append(fit_table(results["fit"]))
        out.append(
            "\nsampler: NUTS library used (approximations: the method); x best peer: ESS/s "
            "over the best of PyMC by hand and Bambi; in session s: the same fit again in "
            "the same process; x faster than NUTS: the default NUTS's time over the "
            "approximation's, fresh process / in session; max abs dmean/sd, sd ratio: "
            "against the bayescore default NUTS posterior (intercepts and coefficients)."
        )
        notes = []
        for r in results["fit"]:
            res = r["result"]
            if res["status"] != "ok":
                why = res.get("reason") or " / ".join(res.get("stderr_tail", [])[-2:])
                notes.append(f"- {r['problem']}, {r['row']}: {res['status']}: {why[:160]}")
        out.extend([""] + notes if notes else [])
    if "cold" in results:
        c = results["cold"]
        body = []
        for key in ("bayescore", "pymc"):
            res = c[key]["result"]
            ok = res["status"] == "ok"
            body.append(
                [
                    c[key]["row"],
                    fmt(res.get("seconds"), ".1f") if ok else res["status"],
                    fmt(res.get("process_seconds"), ".1f") if ok else "",
                    str(res.get("inference_library", "")),
                ]
            )
        if "ratio_fit" in c:
            body.append(
                ["ratio bayescore / PyMC", fmt(c["ratio_fit"]), fmt(c["ratio_process"]), ""]
            )
        out.append(f"\n## Cold start: empty compile caches, logistic problem{quick}\n")
        out.append(table(["configuration", "fit call s", "process s", "sampler"], body))
    if "cv" in results:
        c = results["cv"]
        out.append(f"\n## {s['cv']}-fold cross_validate vs one fit, logistic problem{quick}\n")
        if c["status"] == "ok":
            body = [
                [fmt(c["one_fit_seconds"], ".1f"), fmt(c["cv_seconds"], ".1f"), fmt(c["ratio"])]
            ]
        else:
            body = [[c["status"], "", ""]]
        out.append(table(["one fit s", f"cross_validate(cv={s['cv']}) s", "ratio"], body))
    if "minibatch" in results:
        out.append(
            f"\n## Minibatch ADVI (batch_size = {s['batch_size']}) and full-data ADVI on fixed "
            f"draws, logistic, D = {s['d']}{quick}\n"
        )
        body = []
        for r in results["minibatch"]:
            if r["status"] != "ok":
                body.append([r["status"]] + [""] * 8)
                continue
            route = "full data" if r.get("batch_size") is None else f"batch {r['batch_size']}"
            body.append(
                [
                    route,
                    f"{r['n']:,}",
                    fmt(r["x_mb"], ".0f"),
                    fmt(r["seconds"], ".1f"),
                    fmt(r.get("time_ratio_vs_previous_n")),
                    fmt(r["maxrss_mb"], ".0f"),
                    fmt(r["rss_before_mb"], ".0f"),
                    fmt(r["peak_extra_mb"], ".0f"),
                    fmt(r["pareto_k"]),
                ]
            )
        head = ["route", "N", "X MB", "wall s", "x previous N", "ru_maxrss MB", "RSS before MB"]
        out.append(table(head + ["peak - before MB", "k-hat"], body))
    return "\n".join(out)


def package_versions() -> dict[str, str | None]:
    names = [
        "bayescore",
        "pymc",
        "pytensor",
        "nutpie",
        "numpyro",
        "jax",
        "bambi",
        "arviz-base",
        "arviz-stats",
        "numpy",
        "numba",
        "scikit-learn",
        "xarray",
    ]
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    spec = importlib.util.find_spec("bayescore")  # the tree on PYTHONPATH, not only the dist
    out["bayescore_path"] = spec.origin if spec is not None else None
    return out


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        (
            ln.split()[1]
            for ln in Path("/proc/meminfo").read_text().splitlines()
            if "MemTotal" in ln
        ),
        "0",
    )
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gb": int(mem) / 1e6,
        "load_average_start": os.getloadavg(),
    }


def git_commit() -> str | None:
    proc = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N and few draws")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"of {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    bad = sorted(set(only) - set(SECTIONS))
    if bad:
        parser.error(f"--only got unknown sections {bad}; choose from {list(SECTIONS)}.")
    settings = {**(QUICK if args.quick else FULL), "quick": args.quick, "seed": SEED}
    settings["data_seeds"] = DATA_SEEDS
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "versions": package_versions(),
        "git": git_commit(),
        "settings": settings,
        "rows": {"nuts": NUTS_ROWS, "approx": APPROX_ROWS},
    }
    runners = {
        "fit": section_fit,
        "cold": section_cold,
        "cv": section_cv,
        "minibatch": section_minibatch,
    }
    results: dict[str, Any] = {}
    for name in SECTIONS:
        if name in only:
            start = time.perf_counter()
            results[name] = runners[name](settings)
            log(f"[{name}] done in {time.perf_counter() - start:.0f} s")
    meta["machine"]["load_average_end"] = os.getloadavg()
    print(report(results, settings))
    out = args.out or HERE / "results" / ("fit_quick.json" if args.quick else "fit.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(finite({**meta, "results": results}), indent=2, allow_nan=False))
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
