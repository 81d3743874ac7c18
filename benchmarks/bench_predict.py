"""Peak memory and time of prediction: streaming in tiles (now) against materialising (before).

The model is the default ``BayesianLogisticClassifier()`` (NUTS, 2 chains x 1,000 draws)
fitted once on 5,000 rows of D = 20 synthetic features; it predicts N new rows (N = 10^5
and 10^6). Issue 19's target: ``predict_proba`` at N = 10^6 with the default 2,000 draws
holds at most 1 x X beside X (X = 160 MB), where materialising ``(chain, draw, obs,
class)`` asks for 29.8 GiB.

Each job runs in a fresh process (as ``bench_memory.py``): it loads the saved fit, makes X,
predicts 1,000 rows once (imports, first-call costs: one-time, not copies of the data),
then measures the call. "extra" is the peak resident set size during the call (sampled
every 2 ms from /proc/self/statm) minus the RSS just before it; "extra (peak)" is the
kernel's high-water mark of the process's RSS (VmHWM in /proc/self/status, reset to the
current RSS just before the call through /proc/self/clear_refs) minus that RSS: a peak no
sampling can miss. Routes:

- ``predict_proba``: the estimator's method, now (streaming in tiles) and, with
  ``--before-src``, on the source tree given (e.g. ``git archive 0875f9a bayescore | tar -x
  -C /tmp/before``: the code before this change, which materialised every draw), at
  N = 10^5 only: at 10^6 it needs 29.8 GiB.
- ``predict_proba_draws(X).mean`` (materialising): every draw of every row, then the mean,
  the old algorithm on today's code.
- ``predict_proba_draws`` in float64, in float32 and thinned to 100 draws per chain.
- ``predict_proba`` with tiles of half and twice the default budget
  (``PREDICT_ELEMENTS``), for the choice in ``bayescore/_memory.py``.

    python benchmarks/bench_predict.py [--before-src /tmp/before] [--quick] [--repeat 3]

prints a Markdown table and writes ``benchmarks/results/predict.json``. The machine is
shared: ``--repeat`` runs every job that many times, in rounds over all of them, and keeps
the fastest time (all times are in the JSON) and the largest memory; the load average
before and after is recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ROOT = HERE.parent
D = 20
N_TRAIN = 5_000

RUNNER = """
import gc, json, os, sys, threading, time
import numpy as np
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE
def peak_rss():  # the kernel's high-water mark of this process's resident set (VmHWM)
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmHWM"))
import bayescore as bs
budget = {budget}
if budget:
    import bayescore._rowblocks as rb
    rb.PREDICT_ELEMENTS = budget
clf = bs.load({model!r})
X = np.random.default_rng(1).standard_normal(({n}, {d}))
def run(X):
    {call}
out = run(X[:1000])  # warm-up: imports and first-call costs
del out
gc.collect()
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset VmHWM to the current RSS: the peak from here on is the call's
base = rss(); peak = [base]; done = [False]
def watch():
    while not done[0]:
        peak[0] = max(peak[0], rss()); time.sleep(0.002)
t = threading.Thread(target=watch); t.start()
start = time.perf_counter(); out = run(X); seconds = time.perf_counter() - start
done[0] = True; t.join()
high = peak_rss()
checksum = float(np.asarray(out, dtype=np.float64).sum())
print(json.dumps({{"x_mb": X.nbytes / 1e6, "extra_mb": (peak[0] - base) / 1e6,
                  "extra_peak_mb": (high - base) / 1e6, "seconds": seconds,
                  "out_mb": np.asarray(out).nbytes / 1e6, "checksum": checksum}}))
"""

CALLS = {
    "predict_proba": "return clf.predict_proba(X)",
    "predict_log_proba": "return clf.predict_log_proba(X)",
    "predict_proba_draws(X).mean (materialising)": (
        "return clf.predict_proba_draws(X).mean(('chain', 'draw')).values"
    ),
    "predict_proba_draws (float64)": "return clf.predict_proba_draws(X).values",
    "predict_proba_draws (float32)": (
        "return clf.predict_proba_draws(X, dtype=np.float32).values"
    ),
    "predict_proba_draws (float32, draws=100 per chain)": (
        "return clf.predict_proba_draws(X, draws=100, dtype=np.float32).values"
    ),
}


def fit_model(path: Path) -> float:
    import bayescore as bs

    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_TRAIN, D))
    beta = rng.normal(0.0, 0.5, D)
    y = (rng.random(N_TRAIN) < 1.0 / (1.0 + np.exp(-(X @ beta)))).astype(int)
    start = time.perf_counter()
    clf = bs.BayesianLogisticClassifier(
        method="nuts", random_seed=0, fit_kwargs={"warn": False}
    ).fit(X, y)
    seconds = time.perf_counter() - start
    post = clf.idata_["posterior"]
    assert (post.sizes["chain"], post.sizes["draw"]) == (2, 1000), post.sizes
    clf.save(path)
    return seconds


def job(
    name: str, n: int, model: Path, *, src: Path | None = None, budget: int = 0
) -> dict[str, float | str | int]:
    code = RUNNER.format(budget=budget, model=str(model), n=n, d=D, call=CALLS[name])
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} at N={n} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    code_label = "before (0875f9a)" if src is not None else "now"
    if budget:
        code_label += f", tile {budget * 8 / 2**20:g} MB"
    return {"route": name, "code": code_label, "n": n, **result}


def table(rows: list[dict]) -> str:
    lines = [
        "| route | code | N | X (MB) | extra, sampled (MB) | extra, peak (MB) | peak / X "
        "| time (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['route']} | {r['code']} | {r['n']:,} | {r['x_mb']:.0f} | "
            f"{r['extra_mb']:.0f} | {r['extra_peak_mb']:.0f} | "
            f"{r['extra_peak_mb'] / r['x_mb']:.2f} | {r['seconds']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before-src", type=Path, help="source tree of the code before")
    parser.add_argument("--quick", action="store_true", help="N = 10^5 only, fewer routes")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "predict.json")
    parser.add_argument("--repeat", type=int, default=1, help="rounds over every job")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.nc"
        fit_seconds = fit_model(model)
        big = [10**5] if args.quick else [10**5, 10**6]
        plan: list[tuple[str, int, Path | None, int]] = []
        for n in big:
            plan.append(("predict_proba", n, None, 0))
        if args.before_src is not None:
            plan.append(("predict_proba", 10**5, args.before_src, 0))
        plan.append(("predict_proba_draws(X).mean (materialising)", 10**5, None, 0))
        if not args.quick:
            plan += [
                ("predict_log_proba", 10**6, None, 0),
                ("predict_proba_draws (float64)", 10**5, None, 0),
                ("predict_proba_draws (float32)", 10**5, None, 0),
                ("predict_proba_draws (float32, draws=100 per chain)", 10**6, None, 0),
            ]
            for budget in (1 << 19, 1 << 21):  # the default is 1 << 20
                plan.append(("predict_proba", 10**5, None, budget))
        # Rounds over the whole plan, so every route sees the machine's load alike; each row
        # keeps the fastest time and the largest memory of its runs.
        runs: list[list[dict]] = [[] for _ in plan]
        for _ in range(args.repeat):
            for i, (name, n, src, budget) in enumerate(plan):
                runs[i].append(job(name, n, model, src=src, budget=budget))
                print(table(runs[i][-1:]).splitlines()[-1], flush=True)
        rows = [
            {
                **r[0],
                "runs": len(r),
                "seconds": min(x["seconds"] for x in r),
                "seconds_all": [x["seconds"] for x in r],
                "extra_mb": max(x["extra_mb"] for x in r),
                "extra_peak_mb": max(x["extra_peak_mb"] for x in r),
            }
            for r in runs
        ]
    text = table(rows)
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    args.out.write_text(
        json.dumps(
            {
                "what": __doc__.split("\n")[0],
                "script": "benchmarks/bench_predict.py",
                "date": time.strftime("%Y-%m-%d"),
                "commit": commit,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "numpy": np.__version__,
                    "load_average_before": load_before,
                    "load_average_after": os.getloadavg(),
                },
                "model": "BayesianLogisticClassifier() (NUTS, 2 chains x 1000 draws), "
                f"fitted on {N_TRAIN} rows, D = {D}",
                "fit_seconds": fit_seconds,
                "results": rows,
                "table": text,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
