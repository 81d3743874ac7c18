"""predict_proba streams over tiles: its peak extra memory stays within 1 x X (issue 19).

Measured in a fresh process, as ``benchmarks/bench_predict.py`` does at N = 10^6, D = 20
(X = 160 MB, 2,000 draws): here X keeps its 160 MB with 10 times fewer, wider rows
(N = 10^5, D = 200) and 300 draws, so the test runs in seconds. Materialising every draw,
as ``predict_proba`` did before, would need 300 x 10^5 x 2 x 8 B = 480 MB = 3 x X beside X.
The limit is a bound checked once, not a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

import bayescore as bs

CHILD = """
import gc, json, os, threading, time
import numpy as np
import bayescore as bs
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE
def peak_rss():  # the kernel's high-water mark of this process's resident set (VmHWM)
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmHWM"))
clf = bs.load({path!r})
X = np.random.default_rng(1).standard_normal(({n}, {d}))
clf.predict_proba(X[:1000])  # first-call costs (imports): once per process, not per row
gc.collect()
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset VmHWM to the current RSS: the peak from here on is the call's
base = rss(); peak = [base]; done = [False]
def watch():
    while not done[0]:
        peak[0] = max(peak[0], rss()); time.sleep(0.001)
t = threading.Thread(target=watch); t.start()
proba = clf.predict_proba(X)
done[0] = True; t.join()
high = peak_rss()
np.save({out!r}, proba)
print(json.dumps({{"x": X.nbytes, "extra": peak[0] - base, "extra_peak": high - base}}))
"""


def test_predict_proba_peak_extra_memory_is_within_one_x(tmp_path):
    n, d, draws = 100_000, 200, 300
    rng = np.random.default_rng(0)
    X_train = rng.standard_normal((500, d))
    beta = rng.normal(0.0, 0.1, d)
    y_train = (rng.random(500) < 1.0 / (1.0 + np.exp(-(X_train @ beta)))).astype(int)
    clf = bs.BayesianLogisticClassifier(
        method="laplace", draws=draws, random_seed=0, fit_kwargs={"warn": False}
    ).fit(X_train, y_train)
    path, out = tmp_path / "model.nc", tmp_path / "proba.npy"
    clf.save(path)
    code = CHILD.format(path=str(path), n=n, d=d, out=str(out))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mem = json.loads(proc.stdout.strip().splitlines()[-1])
    materialised = draws * n * 2 * 8
    assert mem["x"] == 160e6
    # The kernel's high-water mark (VmHWM, reset just before the call): a peak no sampling
    # can miss. (getrusage's ru_maxrss would not do: a child started by a large process
    # inherits its parent's high-water mark across exec.)
    assert mem["extra_peak"] <= mem["x"], mem
    assert mem["extra"] <= mem["extra_peak"] + 1e6
    assert mem["extra_peak"] <= materialised / 3, mem
    # The numbers are the posterior predictive mean (the reference: every draw at once).
    X = np.random.default_rng(1).standard_normal((n, d))[:2000]
    full = bs.predict_proba_draws(clf, X).mean(("chain", "draw")).values
    np.testing.assert_allclose(np.load(out)[:2000], full, rtol=1e-12, atol=1e-15)
