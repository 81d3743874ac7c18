"""Peak memory of scoring 2 GB of float32 draws, and of minibatch ADVI on N = 10^6 rows.

Each job runs in a fresh process; a thread samples the resident set size (RSS, from
/proc/self/statm) every 2 ms. "extra" is the peak during the call minus the RSS just before
it, when the inputs already exist and after one warm-up call (scoring: on 20 % of the
draws, which compiles the fused numba kernel; ADVI: a small minibatch fit, which imports
and JIT-compiles the ADVI path): those are one-time costs of a process, not copies of the
data; without the warm-ups the first call adds about 300 MB. "kept" is the RSS after
the call (and a garbage collection) minus that baseline. Targets (issue: reliability):
scoring extra <= 10 % of the input; minibatch ADVI extra <= 1 x X.

    python benchmarks/bench_memory.py            # prints a table, writes results/memory.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
PAGE = os.sysconf("SC_PAGE_SIZE")

JOBS = {
    "score": """
import numpy as np, bayescore as bs
S, N, K = 1000, 50_000, 10                      # 5e8 float32 = 2.0 GB
rng = np.random.default_rng(0)
draws = np.empty((S, N, K), dtype=np.float32)
for s in range(S):                               # fill draw by draw: no float64 temporary
    z = rng.standard_normal((N, K), dtype=np.float32)
    np.exp(z, out=z); z /= z.sum(axis=1, keepdims=True); draws[s] = z
y = rng.integers(0, K, N)
input_bytes = draws.nbytes
def warm():  # compile the fused numba kernel (a one-time cost, not a copy of the input)
    bs.score(y, draws[:200])
def run():
    return float(bs.score(y, draws)["nll"])
""",
    "minibatch_advi": """
import numpy as np, bayescore as bs, warnings
warnings.simplefilter("ignore")
N, D = 1_000_000, 20
rng = np.random.default_rng(0)
X = rng.standard_normal((N, D))
beta = rng.normal(0, 0.5, D)
y = (rng.random(N) < 1 / (1 + np.exp(-(X @ beta)))).astype(np.int64)
input_bytes = X.nbytes
def warm():  # first-fit imports and JIT compiles (numba, PyTensor): one-time, not data
    small = bs.build_model(X[:5000], y[:5000])
    bs.fit(small, "advi", draws=50, batch_size=1000, max_iter=1000, random_seed=0, warn=False)
def run():
    model = bs.build_model(X, y)
    idata = bs.fit(model, "advi", draws=200, batch_size=1000, random_seed=0, warn=False)
    return float(idata["variational"]["pareto_k"])
""",
}

RUNNER = """
import gc, json, os, threading, time
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE
{setup}
if "warm" in globals():
    warm()
gc.collect()
base = rss(); peak = [base]; done = [False]
def watch():
    while not done[0]:
        peak[0] = max(peak[0], rss()); time.sleep(0.002)
t = threading.Thread(target=watch); t.start()
start = time.perf_counter(); value = run(); seconds = time.perf_counter() - start
done[0] = True; t.join(); gc.collect()
print(json.dumps({{"input_mb": input_bytes / 1e6, "extra_mb": (peak[0] - base) / 1e6,
                  "kept_mb": (rss() - base) / 1e6, "seconds": seconds, "value": value}}))
"""


def main() -> None:
    results = {}
    for name, setup in JOBS.items():
        out = subprocess.run(
            [sys.executable, "-c", RUNNER.format(setup=setup)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{'job':16} {'input MB':>9} {'extra MB':>9} {'% input':>8} {'kept MB':>8} {'seconds':>8}"
    )
    for name, r in results.items():
        share = 100 * r["extra_mb"] / r["input_mb"]
        print(
            f"{name:16} {r['input_mb']:9.0f} {r['extra_mb']:9.1f} {share:7.1f}% "
            f"{r['kept_mb']:8.1f} {r['seconds']:8.1f}"
        )
    (HERE / "results").mkdir(exist_ok=True)
    stamp = {"date": time.strftime("%Y-%m-%d"), "python": sys.version.split()[0]}
    (HERE / "results" / "memory.json").write_text(json.dumps({**stamp, **results}, indent=2))


if __name__ == "__main__":
    main()
