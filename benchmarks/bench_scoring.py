"""Scoring speed and memory on posterior draws, against a plain read and ArviZ's route.

For S draws x N observations x K classes of float64 probabilities (default 4000 x 20 000 x 10
= 6.4 GB) it times, in one run:

- a plain read of the array (``arr.sum()``): the memory-bandwidth floor;
- ``bs.posterior_predictive_nll`` from the probabilities, with the row checks (default)
  and without (``validate=False``);
- ``bs.score`` (every score, standard errors and the uncertainty split, which needs a log of
  every entry);
- ArviZ's route: the pointwise log-likelihood array -> ``arviz_stats.loo`` (the
  log-likelihood gather itself is not charged to ArviZ).

and reports the peak extra memory of each bayescore call (tracemalloc) against the input.
Usage: ``python benchmarks/bench_scoring.py [--S 4000 --N 20000 --K 10]``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np

import bayescore as bs


def make_draws(S: int, N: int, K: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    arr = np.empty((S, N, K))
    step = max(1, (1 << 24) // (N * K))
    for s in range(0, S, step):
        block = rng.random((min(step, S - s), N, K)) + 0.02
        block /= block.sum(axis=-1, keepdims=True)
        arr[s : s + step] = block
    return arr


def timed(fn, repeat: int = 2):
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def peak_extra(fn) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--S", type=int, default=4000)
    parser.add_argument("--N", type=int, default=20_000)
    parser.add_argument("--K", type=int, default=10)
    parser.add_argument("--chains", type=int, default=4)
    args = parser.parse_args()
    S, N, K = args.S, args.N, args.K
    arr = make_draws(S, N, K)
    y = np.random.default_rng(1).integers(0, K, N)
    gb = arr.nbytes / 1e9
    print(f"draws: S={S}, N={N}, K={K}, float64, {gb:.2f} GB")

    t_read, _ = timed(lambda: arr.sum())
    t_ppd, ppd = timed(lambda: bs.posterior_predictive_nll(y, arr))
    t_raw, _ = timed(lambda: bs.posterior_predictive_nll(y, arr, validate=False))
    t_score, scores = timed(lambda: bs.score(y, arr))  # 2 runs: the first imports modules

    import arviz_base
    import arviz_stats

    ll = np.log(np.take_along_axis(arr, np.broadcast_to(y[None, :, None], (S, N, 1)), -1)[..., 0])
    idata = arviz_base.from_dict(
        {
            "posterior": {"mu": np.zeros((args.chains, S // args.chains))},
            "log_likelihood": {"y": ll.reshape(args.chains, S // args.chains, N)},
        }
    )
    del ll

    def arviz_route():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return arviz_stats.loo(idata, pointwise=True)

    t_arviz, loo = timed(arviz_route, repeat=1)
    lppd = loo.elpd + loo.p  # elpd_loo = lppd - p_loo
    assert abs(ppd + lppd / N) < 1e-9, (ppd, -lppd / N)

    mem_ppd = peak_extra(lambda: bs.posterior_predictive_nll(y, arr))
    mem_score = peak_extra(lambda: bs.score(y, arr))

    rows = [
        ("plain read arr.sum()", t_read, "", ""),
        ("posterior_predictive_nll", t_ppd, f"{t_ppd / t_read:.2f}x read", mem_ppd),
        ("  ... validate=False", t_raw, f"{t_raw / t_read:.2f}x read", ""),
        ("score() incl. uncertainty", t_score, f"{t_arviz / t_score:.1f}x faster", mem_score),
        ("ArviZ: arviz_stats.loo", t_arviz, f"{t_arviz / t_read:.1f}x read", ""),
    ]
    print(f"{'task':28} {'seconds':>9} {'ratio':>18} {'peak extra MB':>14} {'% input':>8}")
    for name, t, ratio, mem in rows:
        mem_s = f"{mem / 1e6:14.1f} {100 * mem / arr.nbytes:7.2f}%" if mem != "" else ""
        print(f"{name:28} {t:9.3f} {ratio:>18} {mem_s}")
    print(
        f"posterior predictive NLL {ppd:.6f} nats = -lppd/N from ArviZ "
        f"(difference {abs(ppd + lppd / N):.1e}); epistemic {float(scores['epistemic']):.4f}"
    )


if __name__ == "__main__":
    main()
