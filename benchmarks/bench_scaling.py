"""How fits scale with N: wall time, peak memory and held-out NLL, beside the peers.

Problems (Gaussian features, known coefficients, a held-out set of 10,000 rows from the same
generator): logistic with D = 20 at N = 10^3, 10^4, 10^5, 10^6; softmax with D = 30, K = 4 at
N = 10^3, 10^4, 10^5; and softmax on scikit-learn's ``make_classification`` (N = 50,000,
D = 30, 15 informative, K = 4), the three problems a user found slow in round 2.

Configurations, each fit in a fresh process, after a warm-up fit of the same configuration
on the first 500 rows (100 draws for the samplers) that pays the imports and first-call
costs a session pays once (e.g. arviz-base's lazy ``jax`` module makes SciPy's array-API
checks import all of JAX, 1.3 s, when it is installed):
bayescore's default (``method="auto"``), ``method="nuts"``, ``"laplace"``,
``"fullrank_advi"``; scikit-learn's ``LogisticRegression()``; PyMC 6 by hand with
``pm.sample`` defaults (nutpie when installed), and with ``nuts_sampler="pymc"`` (PyMC's own
NUTS); NumPyro's NUTS by hand. Every sampler runs 2 chains of ``--draws`` draws (1,000)
after as many tuning steps.
Every peer runs up to the size it finishes within ``--timeout`` seconds (10 minutes), then
is skipped at larger sizes. Peak memory is the process's peak resident set (``VmHWM``,
reset after the data were made and the warm-up ran, read when the fit returns) minus its
size then. The default's
wall time is also given as a ratio to scikit-learn's on the same data. For the 10^5
logistic and the two 5*10^4 softmax problems the default's posterior means are also
compared with a long NUTS run (4 chains x 2,000 draws, ``method="nuts"``): the largest
error in posterior sd.

Every NUTS row (bayescore's NUTS and the three peers) also reports, with
``bench_fit.nuts_metrics``: the min bulk ESS over the free parameters
(``arviz_stats.ess(method="bulk")``), ESS/s (over the wall time of the whole fit), max R-hat
(``arviz_stats.rhat``), divergences, the gradient evaluations of the sampling phase (the
sum of the draws' leapfrog steps: ``n_steps`` of nutpie, ``tree_size`` of PyMC, NumPyro's
``num_steps`` from ``get_extra_fields``; every engine discards its tuning draws, so tuning's
gradients, and those of bayescore's mode search, are not counted) and ESS per gradient; and
its ESS/s over the best peer's at the same problem and size in this run ("x best peer").

Run: ``python benchmarks/bench_scaling.py [--quick] [--only logistic,softmax,classification]
[--sizes 5000,50000] [--configs "name,name"] [--draws 1000]``; ``--sizes`` replaces every
chosen problem's sizes. Writes ``benchmarks/results/scaling.json`` and prints the Markdown
tables of the README, then one table of the NUTS rows per problem.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_fit import nuts_metrics

HERE = Path(__file__).resolve().parent
MARK = "BENCH_SCALING_RESULT "
PAGE = os.sysconf("SC_PAGE_SIZE")
TEST_N = 10_000

PROBLEMS: dict[str, dict[str, Any]] = {
    "logistic": {
        "kind": "logistic",
        "d": 20,
        "k": 2,
        "sizes": [1_000, 10_000, 100_000, 1_000_000],
    },
    "softmax": {"kind": "softmax", "d": 30, "k": 4, "sizes": [1_000, 10_000, 50_000, 100_000]},
    "classification": {
        "kind": "softmax",
        "d": 30,
        "k": 4,
        "sizes": [50_000],
        "sklearn_data": True,
    },
}
#: Problems whose default fit is checked against a long NUTS run.
CHECKED = {("logistic", 100_000), ("softmax", 50_000), ("classification", 50_000)}

CONFIGS: dict[str, dict[str, Any]] = {
    "bayescore default (auto)": {"engine": "bayescore", "params": {}},
    "bayescore method=nuts": {"engine": "bayescore", "params": {"method": "nuts"}},
    "bayescore method=laplace": {"engine": "bayescore", "params": {"method": "laplace"}},
    "bayescore method=fullrank_advi": {
        "engine": "bayescore",
        "params": {"method": "fullrank_advi"},
    },
    "scikit-learn LogisticRegression()": {"engine": "sklearn"},
    "PyMC 6 by hand, pm.sample defaults": {"engine": "pymc", "peer": True},
    "PyMC 6 by hand, nuts_sampler='pymc'": {
        "engine": "pymc",
        "peer": True,
        "sample_kwargs": {"nuts_sampler": "pymc"},
    },
    "NumPyro NUTS by hand": {"engine": "numpyro", "peer": True},
    # pmap's parallel chains hold ~0.85 MB per data row on the softmax model (2.3 GB at
    # 2,000 rows, killed at 24 GB at 50,000); sequential chains hold 0.5 GB at 2,000 rows.
    "NumPyro NUTS by hand (sequential chains)": {
        "engine": "numpyro",
        "peer": True,
        "chain_method": "sequential",
    },
}
#: Engines whose rows are NUTS runs (bayescore's only when its method was NUTS).
NUTS_ENGINES = {"bayescore", "pymc", "numpyro"}


def simulate(problem: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` training rows then ``TEST_N`` held-out rows of one problem."""
    spec = PROBLEMS[problem]
    total = n + TEST_N
    if spec.get("sklearn_data"):
        from sklearn.datasets import make_classification

        X, y = make_classification(
            n_samples=total,
            n_features=spec["d"],
            n_informative=15,
            n_classes=spec["k"],
            random_state=seed,
        )
        return X, y.astype(np.int64)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((total, spec["d"]))
    if spec["kind"] == "logistic":
        eta = rng.normal(0.0, 0.5) + X @ rng.normal(0.0, 0.5, spec["d"])
        return X, (rng.random(total) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    coefs = rng.normal(0.0, 0.5, (spec["d"], spec["k"]))
    coefs[:, 0] = 0.0
    logits = X @ coefs
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return X, (p.cumsum(axis=1) > rng.random((total, 1))).argmax(axis=1).astype(np.int64)


# ------------------------------------------------------------------------ worker side


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def reset_peak() -> None:
    """Reset the kernel's peak resident set (VmHWM) to the current one."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def max_rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def held_out_nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(y.size), y], 1e-300, None))))


def _standardise(X: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return (X - ref.mean(axis=0)) / ref.std(axis=0)


def fit_bayescore(cfg: dict[str, Any], X, y, Xt, yt) -> dict[str, Any]:
    import bayescore as bs

    cls = (
        bs.BayesianLogisticClassifier
        if cfg["kind"] == "logistic"
        else bs.BayesianSoftmaxClassifier
    )
    params = {"draws": cfg["draws"], "tune": cfg["draws"], **cfg["params"]}
    est = cls(random_seed=1, progressbar=False, fit_kwargs={"warn": False}, **params)
    start = time.perf_counter()
    est.fit(X, y)
    seconds, peak = time.perf_counter() - start, max_rss_bytes()
    out: dict[str, Any] = {
        "seconds": seconds,
        "peak": peak,
        "method": est.idata_.posterior.attrs["bayescore_method"],
    }
    auto = est.idata_.posterior.attrs.get("bayescore_auto")
    if auto is not None:
        out["auto"] = json.loads(auto)
    out["diagnose_ok"] = bool(bs.diagnose(est).ok)
    post = est.idata_.posterior
    names = json.loads(post.attrs["bayescore_free_vars"])
    if out["method"] == "nuts":
        out.update(nuts_metrics(post.to_dataset(), names, est.idata_.sample_stats.to_dataset()))
    flat = np.concatenate(
        [post[n].values.reshape(post.sizes["chain"] * post.sizes["draw"], -1) for n in names], 1
    )
    out["mean"] = flat.mean(0).tolist()
    out["sd"] = flat.std(0).tolist()
    out["nll"] = held_out_nll(est.predict_proba(Xt), yt)
    return out


def fit_sklearn(cfg: dict[str, Any], X, y, Xt, yt) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    clf = LogisticRegression().fit(X, y)
    seconds, peak = time.perf_counter() - start, max_rss_bytes()
    return {"seconds": seconds, "peak": peak, "nll": held_out_nll(clf.predict_proba(Xt), yt)}


def pymc_model(kind: str, Xs: np.ndarray, y: np.ndarray, k: int) -> Any:
    """The PyMC model by hand: Normal(0, 2.5) priors on ``a`` and ``b``, ``Xs`` a constant.

    Softmax: the first class's logits fixed at 0 (reference coding, as bayescore's).
    """
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        if kind == "logistic":
            a = pm.Normal("a", 0.0, 2.5)
            b = pm.Normal("b", 0.0, 2.5, shape=Xs.shape[1])
            pm.Bernoulli("y", logit_p=a + Xs @ b, observed=y)
        else:
            a = pm.Normal("a", 0.0, 2.5, shape=k - 1)
            b = pm.Normal("b", 0.0, 2.5, shape=(Xs.shape[1], k - 1))
            logits = pt.concatenate([pt.zeros((Xs.shape[0], 1)), a + Xs @ b], axis=1)
            pm.Categorical("y", logit_p=logits, observed=y)
    return model


def fit_pymc(cfg: dict[str, Any], X, y, Xt, yt) -> dict[str, Any]:
    import pymc as pm

    Xs = _standardise(X, X)
    start = time.perf_counter()
    with pymc_model(cfg["kind"], Xs, y, cfg["k"]):
        idata = pm.sample(
            draws=cfg["draws"],
            tune=cfg["draws"],
            random_seed=1,
            progressbar=False,
            compute_convergence_checks=False,
            **cfg.get("sample_kwargs", {}),
        )
    seconds, peak = time.perf_counter() - start, max_rss_bytes()
    post = idata["posterior"]
    a, b = post["a"].values, post["b"].values
    a = a.reshape(-1, 1 if cfg["kind"] == "logistic" else cfg["k"] - 1)
    b = b.reshape(a.shape[0], Xs.shape[1], -1)
    out = {
        "seconds": seconds,
        "peak": peak,
        "nll": _nll_of_draws(cfg, a, b, _standardise(Xt, X), yt),
    }
    # inference_library (from the posterior's attrs): the sampler pm.sample ran.
    out.update(nuts_metrics(post.to_dataset(), ["a", "b"], idata["sample_stats"].to_dataset()))
    return out


def fit_numpyro(cfg: dict[str, Any], X, y, Xt, yt) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    import xarray as xr
    from numpyro.infer import MCMC, NUTS

    numpyro.set_host_device_count(2)
    Xs = jnp.asarray(_standardise(X, X))
    k = cfg["k"]

    def model(Xs, y=None):
        if cfg["kind"] == "logistic":
            a = numpyro.sample("a", dist.Normal(0.0, 2.5))
            b = numpyro.sample("b", dist.Normal(0.0, 2.5).expand([Xs.shape[1]]))
            numpyro.sample("y", dist.Bernoulli(logits=a + Xs @ b), obs=y)
        else:
            a = numpyro.sample("a", dist.Normal(0.0, 2.5).expand([k - 1]))
            b = numpyro.sample("b", dist.Normal(0.0, 2.5).expand([Xs.shape[1], k - 1]))
            eta = jnp.concatenate([jnp.zeros((Xs.shape[0], 1)), a + Xs @ b], axis=1)
            numpyro.sample("y", dist.Categorical(logits=eta), obs=y)

    start = time.perf_counter()
    mcmc = MCMC(
        NUTS(model),
        num_warmup=cfg["draws"],
        num_samples=cfg["draws"],
        num_chains=2,
        chain_method=cfg.get("chain_method", "parallel"),
        progress_bar=False,
    )
    # num_steps: the leapfrog steps of each kept draw (sampling phase only).
    mcmc.run(jax.random.PRNGKey(1), Xs, jnp.asarray(y), extra_fields=("num_steps", "diverging"))
    samples = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(samples)
    seconds, peak = time.perf_counter() - start, max_rss_bytes()
    dims = ("chain", "draw")
    post = xr.Dataset(
        {
            name: (dims + tuple(f"{name}_dim_{i}" for i in range(v.ndim - 2)), np.asarray(v))
            for name, v in samples.items()
        },
        attrs={"inference_library": "numpyro"},
    )
    extra = mcmc.get_extra_fields(group_by_chain=True)
    stats = xr.Dataset(
        {
            "n_steps": (dims, np.asarray(extra["num_steps"])),
            "diverging": (dims, np.asarray(extra["diverging"])),
        }
    )
    a = post["a"].values.reshape(-1, 1 if cfg["kind"] == "logistic" else k - 1)
    b = post["b"].values.reshape(a.shape[0], X.shape[1], -1)
    out = {
        "seconds": seconds,
        "peak": peak,
        "nll": _nll_of_draws(cfg, a, b, _standardise(Xt, X), yt),
    }
    out.update(nuts_metrics(post, ["a", "b"], stats))
    return out


def _nll_of_draws(cfg, a, b, Xt, yt) -> float:
    """Held-out posterior predictive NLL of reference-coded draws a (S, k), b (S, D, k)."""
    eta = np.einsum("nd,sdk->snk", Xt, b) + a[:, None, :]
    logits = np.concatenate([np.zeros(eta.shape[:2] + (1,)), eta], axis=2)
    logits -= logits.max(axis=2, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=2, keepdims=True)
    return held_out_nll(p.mean(axis=0), yt)


def worker(cfg: dict[str, Any]) -> None:
    import pymc  # noqa: F401  (imports before the clock, as in a user's session)
    import sklearn.linear_model  # noqa: F401
    import xarray as xr

    xr.DataArray(np.zeros(1))
    if cfg["engine"] == "numpyro":
        import numpyro  # noqa: F401
    spec = PROBLEMS[cfg["problem"]]
    X, y = simulate(cfg["problem"], cfg["n"], seed=7)
    X, Xt, y, yt = X[: cfg["n"]], X[cfg["n"] :], y[: cfg["n"]], y[cfg["n"] :]
    cfg = {**cfg, **spec}
    fitter = {
        "bayescore": fit_bayescore,
        "sklearn": fit_sklearn,
        "pymc": fit_pymc,
        "numpyro": fit_numpyro,
    }[cfg["engine"]]
    # Warm-up: the same configuration on 500 rows (imports, first-call costs).
    params = {**cfg.get("params", {}), "draws": 100, "tune": 100}
    warm = {**cfg, "draws": 100, "params": params}
    fitter(warm, X[:500], y[:500], Xt[:500], yt[:500])
    reset_peak()
    base = rss_bytes()
    out = fitter(cfg, X, y, Xt, yt)
    # The fit's own peak (taken when it returned), not the held-out prediction's.
    out["peak_extra_mb"] = (out.pop("peak") - base) / 2**20
    out["x_mb"] = X.nbytes / 2**20
    print(MARK + json.dumps(out), flush=True)


def run(cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONWARNINGS": "ignore",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", json.dumps(cfg)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "seconds": time.perf_counter() - start}
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return {"status": "ok", **json.loads(line[len(MARK) :])}
    return {"status": "error", "error": proc.stderr.strip().splitlines()[-1:] or ["?"]}


# ---------------------------------------------------------------------- driver side


def reference(problem: str, n: int, timeout: float) -> dict[str, Any]:
    cfg = {
        "engine": "bayescore",
        "problem": problem,
        "n": n,
        "draws": 2000,
        "params": {"method": "nuts", "draws": 2000, "tune": 1000, "chains": 4},
    }
    return run(cfg, timeout)


def table(results: list[dict[str, Any]]) -> str:
    out = []
    for problem in PROBLEMS:
        rows = [r for r in results if r["problem"] == problem]
        if not rows:
            continue
        sizes = sorted({r["n"] for r in rows})
        spec = PROBLEMS[problem]
        out.append(
            f"\n**{problem}** (D = {spec['d']}, K = {spec['k']}): "
            "wall s / peak extra MB / held-out NLL\n"
        )
        out.append("| configuration | " + " | ".join(f"N = {n:,}" for n in sizes) + " |")
        out.append("|---|" + "---|" * len(sizes))
        for name in CONFIGS:
            cells = []
            for n in sizes:
                r = next((r for r in rows if r["config"] == name and r["n"] == n), None)
                if r is None or r["status"] == "skipped":
                    cells.append("-")
                elif r["status"] != "ok":
                    cells.append(r["status"])
                else:
                    extra = ""
                    if name.startswith("bayescore default"):
                        sk = next(
                            (
                                s
                                for s in rows
                                if s["config"].startswith("scikit-learn")
                                and s["n"] == n
                                and s["status"] == "ok"
                            ),
                            None,
                        )
                        ratio = f", {r['seconds'] / sk['seconds']:.1f}x sklearn" if sk else ""
                        extra = f" ({r['method']}{ratio})"
                    cells.append(
                        f"{r['seconds']:.1f} / {r['peak_extra_mb']:.0f} / {r['nll']:.4f}{extra}"
                    )
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append(nuts_table(problem, rows))
    return "\n".join(out)


def add_ess_ratios(rows: list[dict[str, Any]]) -> None:
    """ESS/s of every NUTS row, and over the best peer's (the same problem and size)."""
    nuts = [r for r in rows if r["status"] == "ok" and "ess_bulk_min" in r]
    for r in nuts:
        r["ess_per_second"] = r["ess_bulk_min"] / r["seconds"]
    peers = [r["ess_per_second"] for r in nuts if CONFIGS[r["config"]].get("peer")]
    for r in nuts:
        r["ratio_to_best_peer"] = r["ess_per_second"] / max(peers) if peers else None


def _fmt(value: Any, spec: str) -> str:
    return "" if value is None else format(value, spec)


def nuts_table(problem: str, rows: list[dict[str, Any]]) -> str:
    """The NUTS rows of one problem: speed, ESS, convergence and gradients, size by size."""
    head = [
        "N",
        "configuration",
        "sampler",
        "wall s",
        "peak extra MB",
        "held-out NLL",
        "min bulk ESS",
        "ESS/s",
        "x best peer",
        "max R-hat",
        "div.",
        "gradients (sampling phase)",
        "ESS / 1000 gradients",
    ]
    body = []
    for r in sorted(rows, key=lambda r: (r["n"], list(CONFIGS).index(r["config"]))):
        if CONFIGS[r["config"]]["engine"] not in NUTS_ENGINES:
            continue
        if r["status"] != "ok":
            body.append([f"{r['n']:,}", r["config"], r["status"]] + [""] * (len(head) - 3))
            continue
        if "ess_bulk_min" not in r:  # bayescore's default when it chose an approximation
            continue
        per_gradient = r.get("ess_per_gradient")
        body.append(
            [
                f"{r['n']:,}",
                r["config"],
                str(r.get("inference_library") or ""),
                f"{r['seconds']:.1f}",
                f"{r['peak_extra_mb']:.0f}",
                f"{r['nll']:.4f}",
                f"{r['ess_bulk_min']:.0f}",
                f"{r['ess_per_second']:.1f}",
                _fmt(r.get("ratio_to_best_peer"), ".2f"),
                f"{r['rhat_max']:.3f}",
                _fmt(r.get("divergences"), "d"),
                _fmt(r.get("gradients"), ",d"),
                _fmt(None if per_gradient is None else 1000 * per_gradient, ".2f"),
            ]
        )
    if not body:
        return ""
    lines = [
        f"\n**{problem}, NUTS rows**: ESS/s = min bulk ESS / wall s; x best peer = ESS/s over "
        "the best of PyMC defaults, PyMC's NUTS and NumPyro at this N; gradients = leapfrog "
        "steps of the kept draws, tuning (and bayescore's mode search) not counted\n",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def config_names(text: str) -> list[str] | None:
    """The configurations named in ``text``, comma-separated (names may hold commas)."""
    names, piece = [], ""
    for part in text.split(","):
        piece = f"{piece},{part}" if piece else part
        if piece.strip() in CONFIGS:
            names.append(piece.strip())
            piece = ""
    return None if piece or not names else names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="N up to 10^4")
    parser.add_argument("--only", default=",".join(PROBLEMS))
    parser.add_argument("--configs", default=None, help="comma-separated configuration names")
    parser.add_argument(
        "--sizes", default=None, help="comma-separated N, replacing every problem's sizes"
    )
    parser.add_argument(
        "--draws", type=int, default=1000, help="draws and tuning steps of every sampler"
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scaling.json")
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    configs = list(CONFIGS) if args.configs is None else config_names(args.configs)
    if configs is None:
        parser.error(f"--configs: name configurations of {list(CONFIGS)}, comma-separated")
    results: list[dict[str, Any]] = []
    for problem in args.only.split(","):
        sizes = PROBLEMS[problem]["sizes"]
        if args.sizes is not None:
            sizes = [int(n) for n in args.sizes.split(",")]
        elif args.quick:
            sizes = [n for n in sizes if n <= 10_000]
        slow: set[str] = set()
        for n in sizes:
            for name in configs:
                if name in slow:
                    results.append(
                        {"problem": problem, "n": n, "config": name, "status": "skipped"}
                    )
                    continue
                cfg = {"problem": problem, "n": n, "draws": args.draws, **CONFIGS[name]}
                res = run(cfg, args.timeout)
                if res["status"] == "timeout":
                    slow.add(name)
                res.update(problem=problem, n=n, config=name)
                results.append(res)
                print(
                    problem,
                    n,
                    name,
                    res.get("status"),
                    f"{res.get('seconds', float('nan')):.1f}s",
                    res.get("method", ""),
                    f"ESS {res['ess_bulk_min']:.0f}" if "ess_bulk_min" in res else "",
                    flush=True,
                )
            add_ess_ratios([r for r in results if r["problem"] == problem and r["n"] == n])
            default = next(
                (
                    r
                    for r in results
                    if r["problem"] == problem
                    and r["n"] == n
                    and r["config"] == "bayescore default (auto)"
                ),
                None,
            )
            if (problem, n) in CHECKED and not args.quick and default is not None:
                ref = reference(problem, n, 4 * args.timeout)
                if ref["status"] == "ok" and default["status"] == "ok":
                    err = np.abs(np.array(default["mean"]) - ref["mean"]) / np.array(ref["sd"])
                    default["mean_error_vs_long_nuts"] = float(err.max())
                    default["long_nuts_seconds"] = ref["seconds"]
                    print("  default vs long NUTS: max error", f"{err.max():.3f} sd", flush=True)
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=float))
    print(table(results))


if __name__ == "__main__":
    main()
