"""PSIS-LOO: bayescore's own pointwise log-likelihood vs PyMC's compute_log_likelihood route.

Both routes end in ``arviz_stats.loo`` on the same posterior; bayescore computes the pointwise
log-likelihood with numpy from the draws, PyMC compiles and evaluates the model's
likelihood graph. Times are the best of three after a warm-up (imports, compile cache).
Usage: ``python benchmarks/bench_loo.py [--n 2000] [--draws 1000]``.
"""

from __future__ import annotations

import argparse
import time

import arviz_stats
import numpy as np

import bayescore as bs
from bayescore._pymc import import_pymc


def best_of(fn, repeat: int = 3):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    pm = import_pymc()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, 5))
    logits = X @ rng.normal(size=(5, 3))
    y = (
        np.exp(logits).cumsum(1) / np.exp(logits).sum(1, keepdims=True) > rng.random((args.n, 1))
    ).argmax(1)
    model = bs.build_model(X, y, kind="softmax")
    idata = bs.fit(model, draws=args.draws, tune=args.draws, random_seed=0, warn=False)

    def pymc_route():
        ll = pm.compute_log_likelihood(idata.copy(), model=model, progressbar=False)
        return arviz_stats.loo(ll, pointwise=True)

    t_bs, ours = best_of(lambda: bs.loo(idata))
    t_pm, ref = best_of(pymc_route)
    print(f"softmax regression, N={args.n}, 2 chains x {args.draws} draws")
    print(f"{'route':44} {'seconds':>8}")
    print(f"{'bayescore.loo (numpy log-likelihood)':44} {t_bs:8.3f}")
    print(f"{'pm.compute_log_likelihood + arviz_stats.loo':44} {t_pm:8.3f}")
    print(
        f"ratio {t_pm / t_bs:.1f}x; elpd difference {abs(ours.elpd - ref.elpd):.1e}; "
        f"max |k difference| {np.max(np.abs(ours.pareto_k.values - ref.pareto_k.values)):.1e}"
    )


if __name__ == "__main__":
    main()
