"""How good are the verdicts on approximations? Against long NUTS runs, over seeds.

For each (data set, method) pair: a reference posterior from a long NUTS run of the same
model (4 chains x 5,000 draws after 2,000 tuning steps; R-hat and ESS checked), then the
approximation fitted with 10 seeds. For every fit: the largest error of a posterior mean in
reference sd, the range of the sd ratios (approximation over reference), the old verdict
(Pareto k-hat <= 0.7 on 1,000 raw draws, and the optimiser converged) and the new one
(``bayescore.inference.verdict``: "usable as is" or not). A fit is *off* when a mean is more
than 0.3 sd away or an sd ratio is outside 0.7-1.3, *accurate* when every mean is within
0.1 sd and every ratio within 0.85-1.15. A *miss* is an off fit called usable; a *false
alarm* an accurate fit called not usable.

Data: statsmodels' ``spector``, ``star98`` and ``anes96`` data sets, palmerpenguins,
scikit-learn's breast cancer and wine (bundled), and simulated problems (nearly separable,
collinear, large N). Run: ``python benchmarks/bench_verdict.py [--seeds 10] [--only name]``;
writes ``benchmarks/results/verdict.json`` and prints the table (Markdown) that the
inference guide shows.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

import bayescore as bs
from bayescore.inference.record import VariationalRecord

RESULTS = Path(__file__).parent / "results"
METHODS = ("laplace", "advi", "fullrank_advi", "pathfinder")


# ----------------------------------------------------------------------------- data
def _spector(constant: bool = False):
    import statsmodels.api as sm

    d = sm.datasets.spector.load_pandas().data
    X = d[["GPA", "TUCE", "PSI"]].to_numpy(float)
    if constant:
        X = np.column_stack([X, np.ones(len(X))])
    return X, d["GRADE"].to_numpy(int)


def _penguins():
    from palmerpenguins import load_penguins

    d = load_penguins().dropna()
    cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    return d[cols].to_numpy(float), d["species"].to_numpy(str)


def _anes96():
    import statsmodels.api as sm

    d = sm.datasets.anes96.load_pandas().data
    cols = ["logpopul", "TVnews", "selfLR", "age", "educ", "income"]
    return d[cols].to_numpy(float), d["PID"].to_numpy(int)


def _star98():
    import statsmodels.api as sm

    d = sm.datasets.star98.load_pandas().data
    cols = [
        "LOWINC", "PERASIAN", "PERBLACK", "PERHISP", "PERMINTE", "AVYRSEXP",
        "AVSALK", "PERSPENK", "PTRATIO", "PCTAF", "PCTCHRT", "PCTYRRND",
    ]  # fmt: skip
    rate = d["NABOVE"] / (d["NABOVE"] + d["NBELOW"])
    y = np.digitize(rate, np.quantile(rate, [1 / 3, 2 / 3]))  # tertiles: 3 classes
    return d[cols].to_numpy(float), y


def _separable(seed: int = 3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(100, 3))
    eta = 4.0 * X[:, 0] + 2.0 * X[:, 1]
    return X, (eta + 0.3 * rng.normal(size=100) > 0).astype(int)


def _collinear(seed: int = 4):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(200, 1))
    X = base + 0.05 * rng.normal(size=(200, 5))
    eta = 0.3 + X @ np.array([1.0, -0.5, 0.5, 0.0, 0.2])
    return X, (rng.random(200) < 1 / (1 + np.exp(-eta))).astype(int)


def _large(seed: int = 5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(5000, 10))
    eta = -0.5 + X @ rng.normal(scale=0.4, size=10)
    return X, (rng.random(5000) < 1 / (1 + np.exp(-eta))).astype(int)


def _bundled(name: str, n_features: int | None = None):
    ds = bs.load_dataset(name)
    X = ds.X.to_numpy(float)
    return (X if n_features is None else X[:, :n_features]), ds.y.to_numpy()


#: name -> (data loader, build_model options, description)
PROBLEMS: dict[str, tuple[Callable[[], tuple[np.ndarray, np.ndarray]], dict, str]] = {
    "spector": (_spector, {}, "spector (32, 3; Normal 2.5)"),
    "spector_t3": (
        lambda: _spector(constant=True),
        {"prior": "student_t", "prior_nu": 3.0},
        "spector + constant column (32, 4; t3)",
    ),
    "penguins": (_penguins, {"kind": "softmax"}, "penguins (333, 4, 3)"),
    "penguins_t5": (
        _penguins,
        {
            "kind": "softmax",
            "prior": "student_t",
            "prior_nu": 5.0,
            "prior_scale": 0.5,
            "intercept_prior_scale": 10.0,
        },
        "penguins (333, 4, 3; t5(0.5), intercept 10)",
    ),
    "anes96": (
        _anes96,
        {"kind": "softmax", "flat_intercept": True, "prior_scale": 10.0},
        "anes96 PID (944, 6, 7; flat intercept, 10)",
    ),
    "star98": (_star98, {"kind": "softmax", "prior_scale": 50.0}, "star98 (303, 12, 3; 50)"),
    "separable": (
        _separable,
        {"prior": "student_t", "prior_nu": 3.0},
        "nearly separable (100, 3; t3)",
    ),
    "collinear": (_collinear, {"prior_scale": 50.0}, "collinear (200, 5; 50)"),
    "breast_cancer": (lambda: _bundled("breast_cancer", 5), {}, "breast cancer (569, 5)"),
    "wine": (lambda: _bundled("wine"), {"kind": "softmax"}, "wine (178, 13, 3)"),
    "large": (_large, {}, "simulated (5000, 10)"),
}


def _free(idata) -> list[str]:
    return json.loads(idata.posterior.attrs["bayescore_free_vars"])


def _flat(idata, names: list[str]) -> np.ndarray:
    post = idata.posterior
    parts = [post[n].values.reshape(post.sizes["chain"] * post.sizes["draw"], -1) for n in names]
    return np.concatenate(parts, axis=1)


def reference(name: str) -> dict[str, np.ndarray]:
    """Mean and sd of the long NUTS run (cached in results/verdict_refs.npz)."""
    cache = RESULTS / "verdict_refs.npz"
    store = dict(np.load(cache)) if cache.exists() else {}
    if f"{name}/mean" in store:
        return {"mean": store[f"{name}/mean"], "sd": store[f"{name}/sd"]}
    loader, options, _ = PROBLEMS[name]
    X, y = loader()
    model = bs.build_model(X, y, **options)
    idata = bs.fit(model, draws=5000, tune=2000, chains=4, random_seed=1, warn=False)
    d = bs.diagnose(idata)
    if d["r_hat_max"] > 1.01 or d["ess_bulk_min"] < 2000:
        raise RuntimeError(f"reference NUTS for {name} not converged: {d}")
    draws = _flat(idata, _free(idata))
    store[f"{name}/mean"], store[f"{name}/sd"] = draws.mean(0), draws.std(0)
    np.savez(cache, **store)
    return {"mean": store[f"{name}/mean"], "sd": store[f"{name}/sd"]}


def judge(name: str, method: str, seed: int, ref: dict[str, np.ndarray]) -> dict:
    loader, options, _ = PROBLEMS[name]
    X, y = loader()
    model = bs.build_model(X, y, **options)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = bs.fit(model, method, draws=1000, random_seed=seed, warn=False)
    seconds = time.perf_counter() - start
    draws = _flat(idata, _free(idata))
    err = np.abs(draws.mean(0) - ref["mean"]) / ref["sd"]
    ratio = draws.std(0) / ref["sd"]
    record = VariationalRecord.from_dataset(idata.variational.to_dataset())
    v = record.verdict
    old_ok = bool(record.optimisation.converged or method == "pathfinder") and bool(
        record.parts.pareto_k <= 0.7
    )
    return {
        "problem": name,
        "method": method,
        "seed": seed,
        "seconds": seconds,
        "mean_error": float(err.max()),
        "sd_ratio_min": float(ratio.min()),
        "sd_ratio_max": float(ratio.max()),
        "old_k_hat": float(record.parts.pareto_k),
        "old_ok": old_ok,
        "new_decision": v.decision,
        "new_ok": v.usable,
        "borderline": v.borderline,
        "k_hat": v.k_hat,
        "k_hat_spread": v.k_hat_spread,
        "n_draws": v.n_draws,
        "ess": v.ess,
        "mean_shift": v.mean_shift,
        "sd_ratio_low": v.sd_ratio_low,
        "sd_ratio_high": v.sd_ratio_high,
    }


def classify(row: dict) -> str:
    off = row["mean_error"] > 0.3 or not 0.7 <= row["sd_ratio_min"] <= row["sd_ratio_max"] <= 1.3
    accurate = (
        row["mean_error"] <= 0.1 and 0.85 <= row["sd_ratio_min"] and row["sd_ratio_max"] <= 1.15
    )
    return "off" if off else ("accurate" if accurate else "between")


def table(rows: list[dict]) -> str:
    out = [
        "| data | method | max mean error (sd) | sd ratio | k-hat (draws) | old verdict | "
        "new verdict | agreement |",
        "|---|---|---|---|---|---|---|---|",
    ]
    totals = {"old_miss": 0, "old_false": 0, "new_miss": 0, "new_false": 0, "unstable": 0}

    def order(key: tuple[str, str]) -> tuple[int, int]:
        return list(PROBLEMS).index(key[0]), METHODS.index(key[1])

    keys = sorted({(r["problem"], r["method"]) for r in rows}, key=order)
    for name, method in keys:
        rs = [r for r in rows if r["problem"] == name and r["method"] == method]
        kinds = [classify(r) for r in rs]
        for r, k in zip(rs, kinds, strict=True):
            totals["old_miss"] += k == "off" and r["old_ok"]
            totals["old_false"] += k == "accurate" and not r["old_ok"]
            totals["new_miss"] += k == "off" and r["new_ok"]
            totals["new_false"] += k == "accurate" and not r["new_ok"]
        decisions = [r["new_decision"] for r in rs]
        top = max(set(decisions), key=decisions.count)
        agree = decisions.count(top)
        borderline = sum(r["borderline"] for r in rs)
        stable = agree >= 0.9 * len(rs) or borderline > 0
        totals["unstable"] += not stable
        err = np.median([r["mean_error"] for r in rs])
        lo = min(r["sd_ratio_min"] for r in rs)
        hi = max(r["sd_ratio_max"] for r in rs)
        k = np.median([r["k_hat"] for r in rs])
        n = int(np.median([r["n_draws"] for r in rs]))
        old = sum(r["old_ok"] for r in rs)
        out.append(
            f"| {PROBLEMS[name][2]} | {method} | {err:.2f} | {lo:.2f}-{hi:.2f} | {k:.2f} ({n}) "
            f"| ok {old}/{len(rs)} | {top} {agree}/{len(rs)} | "
            f"{'borderline ' + str(borderline) if borderline else ''} |"
        )
    out.append("")
    out.append(
        f"Fits: {len(rows)}. Old rule: {totals['old_miss']} misses, {totals['old_false']} false "
        f"alarms. New verdict: {totals['new_miss']} misses, {totals['new_false']} false alarms; "
        f"{totals['unstable']} pairs whose verdict changes with the seed without being flagged "
        "borderline."
    )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    args = parser.parse_args()
    rows: list[dict] = []
    for name in args.only or list(PROBLEMS):
        ref = reference(name)
        for method in args.methods:
            for seed in range(args.seeds):
                rows.append(judge(name, method, seed, ref))
            last = rows[-args.seeds :]
            print(
                f"{name:14} {method:14} err {np.median([r['mean_error'] for r in last]):.2f} "
                f"new {sum(r['new_ok'] for r in last)}/{args.seeds} "
                f"old {sum(r['old_ok'] for r in last)}/{args.seeds}",
                flush=True,
            )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "verdict.json").write_text(json.dumps(rows, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()
