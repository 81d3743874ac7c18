"""Fits on a Dask cluster: bayescore's map-reduce fit beside dask-ml's LogisticRegression.

The data live on the cluster, as a user's would after ``read_parquet(...).persist()``:
logistic regression with D = 20 Gaussian features and known coefficients, N = 10^7 rows
(1.6 GB of float64) in partitions of 500,000 rows, generated on the workers and persisted
there. The cluster is a ``distributed.LocalCluster`` of 2 worker processes with one thread
each (this machine's 2 cores), 4 GB per worker.

Configurations, each after a warm-up fit on the first partition (imports, first calls):

- bayescore's default, ``BayesianLogisticClassifier().fit(X, y)`` (``method="auto"``: the
  Laplace approximation by map-reduce over the partitions, judged by importance sampling,
  200 posterior draws kept);
- dask-ml's ``LogisticRegression()`` with its defaults (ADMM, L2 penalty ``C=1``).

Measured: wall time of ``fit``; each worker's peak resident set during the fit (the
kernel's ``VmHWM``, reset just before through ``/proc/self/clear_refs``), minus its size
then, and the driver's likewise; the held-out NLL on 100,000 new rows of the same generator
(in memory). Run: ``python benchmarks/bench_dask.py [--n 10000000] [--quick]``; writes
``benchmarks/results/dask.json`` and prints the Markdown table of the README.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

D = 20
BETA = np.linspace(-1.0, 1.0, D)
RESULTS = Path(__file__).parent / "results" / "dask.json"


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(field))


def reset_peak() -> int:
    """Reset this process's VmHWM to its current RSS; return that RSS (bytes)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status("VmRSS:")


def peak() -> int:
    """This process's VmHWM (bytes)."""
    return _status("VmHWM:")


def data(n: int, chunk: int) -> tuple[Any, Any]:
    """Lazy X (n, D) and y: the same numbers whenever computed (seeded per chunk)."""
    import dask.array as da

    X = da.random.default_rng(5).standard_normal((n, D), chunks=(chunk, D))
    noise = da.random.default_rng(6).logistic(size=n, chunks=chunk)
    y = (X @ BETA - 1.0 + noise > 0).astype(np.int64)
    return X, y


def held_out(n: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.standard_normal((n, D))
    y = (X @ BETA - 1.0 + rng.logistic(size=n) > 0).astype(np.int64)
    return X, y


def nll(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(y.size), y], 1e-300, None))))


def measured(client: Any, fit: Any) -> dict[str, Any]:
    """Wall time and the peak memory of each worker and the driver during ``fit()``."""
    before = client.run(reset_peak)
    driver_before = reset_peak()
    start = time.perf_counter()
    model = fit()
    wall = time.perf_counter() - start
    driver = peak() - driver_before
    peaks = client.run(peak)
    worker = {w: peaks[w] - before[w] for w in peaks}
    return {
        "model": model,
        "wall_s": wall,
        "worker_peak_mb": [round(v / 1e6) for v in worker.values()],
        "worker_rss_mb": [round(v / 1e6) for v in before.values()],
        "driver_peak_mb": round(driver / 1e6),
    }


def main() -> None:
    import dask
    import distributed
    from dask_ml.linear_model import LogisticRegression as DaskLR

    import bayescore as bs

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=500_000)
    parser.add_argument("--memory", default="4GB", help="memory_limit per worker")
    parser.add_argument("--quick", action="store_true", help="N = 10^6")
    args = parser.parse_args()
    n = 1_000_000 if args.quick else args.n

    with (
        dask.config.set({"distributed.worker.memory.spill": False}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, memory_limit=args.memory
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        X, y = data(n, args.chunk)
        X, y = client.persist([X, y])
        distributed.wait([X, y])
        Xt, yt = held_out()
        configs = {
            "bayescore default (auto)": lambda X, y: bs.BayesianLogisticClassifier(
                random_seed=0
            ).fit(X, y),
            "dask-ml LogisticRegression()": lambda X, y: DaskLR().fit(X, y),
        }
        rows = []
        for name, fit in configs.items():
            fit(X[: args.chunk], y[: args.chunk])  # warm-up: imports, first calls
            result = measured(client, lambda fit=fit: fit(X, y))
            model = result.pop("model")
            result["held_out_nll"] = nll(np.asarray(model.predict_proba(Xt)), yt)
            if isinstance(model, bs.BayesianLogisticClassifier):
                d = bs.diagnose(model)
                result["method"] = str(model.idata_["posterior"].attrs.get("bayescore_method", ""))
                result["verdict"] = d.verdict.decision
                result["pareto_k"] = float(d["pareto_k"])
            rows.append({"config": name, **result})
            print(name, {k: v for k, v in result.items()}, flush=True)
    base = rows[1]["wall_s"]
    out = {
        "n": n,
        "d": D,
        "chunk": args.chunk,
        "workers": 2,
        "threads_per_worker": 1,
        "memory_limit": args.memory,
        "x_mb": round(n * D * 8 / 1e6),
        "rows": rows,
    }
    if not args.quick:
        RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nN = {n:,}, D = {D}, X = {out['x_mb']} MB on 2 workers (1 thread each)\n")
    print("| configuration | fit (s) | vs dask-ml | peak per worker (MB) | driver (MB) | NLL |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['config']} | {r['wall_s']:.1f} | {r['wall_s'] / base:.2f}x | "
            f"{', '.join(map(str, r['worker_peak_mb']))} | {r['driver_peak_mb']} | "
            f"{r['held_out_nll']:.4f} |"
        )


if __name__ == "__main__":
    main()
