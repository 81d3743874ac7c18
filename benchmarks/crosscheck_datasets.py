"""Do PSIS-LOO, 5-fold CV and a held-out split agree on real data? And is a shift caught?

Three parts, written to ``benchmarks/results/crosscheck.json``:

1. ``datasets``: breast cancer (logistic) and wine (softmax), default estimator settings
   with NUTS (``draws=500, tune=500, chains=2``), a stratified 70/30 train/test split
   (``random_state=0``); :func:`bayescore.nll_crosscheck` on the 70 % with the 30 % as test.
2. ``shift``: the same NUTS estimator where train and test differ on purpose: breast cancer
   split by ``worst radius`` (train on the smallest 70 %, test on the largest 30 %:
   covariate shift), and simulated logistic data whose test labels come from a shifted
   intercept (label shift).
3. ``se_calibration``: how often a *well-specified* simulated model is flagged on the
   K-fold vs LOO pair, with the plain per-observation paired SE and with the SE
   nll_crosscheck uses (Laplace fits; several data sets x several fold splits).

Usage: ``python benchmarks/crosscheck_datasets.py [--draws 500] [--tune 500] [--chains 2]
[--seeds 8] [--splits 5]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
import warnings
from pathlib import Path

import arviz_stats
import numpy as np
import pymc
from scipy.special import expit
from sklearn.model_selection import train_test_split

import bayescore as bs

OUT = Path(__file__).resolve().parent / "results" / "crosscheck.json"


def summary(check: bs.NLLCrosscheck, seconds: float) -> dict:
    t = check.table
    return {
        "estimates": {
            str(e): {"nll": float(t["nll"].sel(estimate=e)), "se": float(t["se"].sel(estimate=e))}
            for e in t["estimate"].values
        },
        "pairs": {
            str(p): {
                "d_nll": float(t["d_nll"].sel(pair=p)),
                "d_se": float(t["d_se"].sel(pair=p)),
                "d_se_paired": float(t["d_se_paired"].sel(pair=p)),
                "z": float(t["z"].sel(pair=p)),
                "agree": bool(t["agree"].sel(pair=p)),
            }
            for p in t["pair"].values
        },
        "n_train": int(t.sizes["obs"]),
        "n_test": int(t.sizes.get("test_obs", 0)),
        "pareto_k_max_observed": float(t["pareto_k"].max()),
        "n_high_pareto_k": int(t.attrs["n_high_pareto_k"]),
        "fit_ok": bool(t.attrs["fit_ok"]),
        "ok": bool(check.ok),
        "messages": list(check.messages),
        "seconds": round(seconds, 1),
    }


def run(name: str, estimator, X, y, X_test, y_test) -> dict:
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bs.ConvergenceWarning)
        check = bs.nll_crosscheck(estimator, X, y, cv=5, X_test=X_test, y_test=y_test)
    result = summary(check, time.perf_counter() - start)
    result["fit_warnings"] = sorted({str(w.message).splitlines()[-1] for w in caught})
    print(
        f"\n== {name}: n_train={result['n_train']}, n_test={result['n_test']}, "
        f"{result['seconds']} s, ok={check.ok}"
    )
    print(check)
    print(f"max Pareto k {result['pareto_k_max_observed']:.3f}")
    return result


def simulate(rng, n: int, shift: float = 0.0):
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < expit(X @ np.array([1.5, -1.0, 0.5]) + shift)).astype(int)
    return X, y


def se_calibration(n_seeds: int, n_splits: int, n: int = 300) -> dict:
    """False-alarm rate of the K-fold vs LOO pair on well-specified simulated data."""
    est = bs.BayesianLogisticClassifier(method="laplace", draws=2000)
    z_used, z_paired, d_all = [], [], []
    for seed in range(n_seeds):
        X, y = simulate(np.random.default_rng(100 + seed), n)
        for split in range(n_splits):
            check = bs.nll_crosscheck(est, X, y, random_state=split)
            row = check.table.sel(pair="kfold-loo")
            z_used.append(float(row["z"]))
            z_paired.append(float(row["d_nll"] / row["d_se_paired"]))
            d_all.append(float(row["d_nll"]))
    z_used_a, z_paired_a = np.abs(z_used), np.abs(z_paired)
    d = np.asarray(d_all).reshape(n_seeds, n_splits)
    out = {
        "n": n,
        "features": 3,
        "data_sets": n_seeds,
        "fold_splits_each": n_splits,
        "flagged_plain_paired_se": int(np.sum(z_paired_a > 2)),
        "flagged_crosscheck_se": int(np.sum(z_used_a > 2)),
        "runs": int(z_used_a.size),
        "sd_of_kfold_minus_loo_across_splits": float(np.mean(d.std(axis=1, ddof=1))),
        "mean_kfold_minus_loo": float(d.mean()),
    }
    print(f"\n== SE calibration ({n_seeds} data sets x {n_splits} fold splits, N={n}):")
    print(f"|z| > 2 with the plain paired SE: {out['flagged_plain_paired_se']} of {out['runs']}")
    print(f"|z| > 2 with nll_crosscheck's SE: {out['flagged_crosscheck_se']} of {out['runs']}")
    print(
        f"mean sd of (K-fold - LOO) across fold splits: "
        f"{out['sd_of_kfold_minus_loo_across_splits']:.4f} nats"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--splits", type=int, default=5)
    args = parser.parse_args()
    nuts = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "random_seed": 0}
    results: dict = {
        "script": "benchmarks/crosscheck_datasets.py",
        "date": datetime.date.today().isoformat(),
        "versions": {
            "python": platform.python_version(),
            "bayescore": bs.__version__,
            "pymc": pymc.__version__,
            "arviz_stats": arviz_stats.__version__,
            "numpy": np.__version__,
        },
        "settings": {"method": "nuts", **nuts, "cv": 5, "test_size": 0.3, "z_max": 2.0},
        "datasets": {},
        "shift": {},
    }
    estimators = {
        "breast_cancer": bs.BayesianLogisticClassifier(**nuts),
        "wine": bs.BayesianSoftmaxClassifier(**nuts),
    }
    for name, estimator in estimators.items():
        ds = bs.load_dataset(name)
        X_tr, X_te, y_tr, y_te = train_test_split(
            ds.X, ds.y, test_size=0.3, stratify=ds.y, random_state=0
        )
        results["datasets"][name] = run(name, estimator, X_tr, y_tr, X_te, y_te)

    ds = bs.load_dataset("breast_cancer")
    order = np.argsort(ds.X["worst radius"].to_numpy(), kind="stable")
    cut = int(0.7 * order.size)
    train, test = order[:cut], order[cut:]
    results["shift"]["breast_cancer_covariate_shift"] = run(
        "breast cancer, train on smallest 70 % worst radius, test on largest 30 %",
        estimators["breast_cancer"],
        ds.X.iloc[train],
        ds.y.iloc[train],
        ds.X.iloc[test],
        ds.y.iloc[test],
    )
    rng = np.random.default_rng(0)
    X, y = simulate(rng, 400)
    X_te, y_te = simulate(rng, 300, shift=2.5)
    results["shift"]["simulated_label_shift"] = run(
        "simulated logistic, test labels from intercept + 2.5",
        estimators["breast_cancer"],
        X,
        y,
        X_te,
        y_te,
    )
    results["se_calibration"] = se_calibration(args.seeds, args.splits)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
