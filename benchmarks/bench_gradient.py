"""One gradient of NUTS's compiled density against this machine's floors, single thread.

What NUTS pays per leapfrog step is one log density and its gradient. This script times
that call for bayescore's compiled kernels and sets it against three lower bounds, each
measured here, so the cost per gradient reads as "x times the floor".

Problems (``bench_scaling.simulate``, seed 7, the first N rows): logistic with D = 20 at
N = 10^4, 10^5, 10^6; softmax with D = 30, K = 4 at N = 10^4, 5*10^4, 10^5 (``--sizes``
replaces every problem's sizes). The kernels' inputs are built as NUTS builds them:
``Posterior(make_spec(X, y, ...)).kernel_arguments()``, whose ``ZT`` is the (D + 1, N)
transposed standardised design with a row of ones (C-contiguous float64), at random
parameters (``0.1 * standard normal``; the cost does not depend on them).

Timings (median of repeated calls for ``--seconds`` each, after 3 warm-up calls, the
fastest call also in the JSON as ``*_min``; one thread: the BLAS and OpenMP thread counts
are set to 1 before numpy is imported, and the kernels are serial):

- kernel: ``logistic_value_grad`` / ``softmax_value_grad`` (likelihood and gradient),
  called through numba's dispatcher;
- callback: ``kernels.nutpie_logp`` through ctypes (what nutpie calls: the whitening
  ``theta = m + L z`` with a dense P x P ``L``, the prior, and the kernel);
- PyMC (``--no-peers`` leaves them out): the hand-written model of ``bench_scaling``
  (``pymc_model``, X a constant) at the zero point, (a) compiled by nutpie as
  ``pm.sample``'s default does (``nutpie.compile_pymc_model``, numba), its C callback
  through ctypes as above; (b) ``model.logp_dlogp_function(ravel_inputs=True)``, the
  PyTensor C function PyMC's own NUTS calls. What the peers pay per gradient.

Floors, each for one gradient (the ratio column is the kernel over the largest):

- bandwidth: the kernel reads ``ZT`` twice per gradient, once in ``_project`` (the logits)
  and once in ``_back`` (the gradient); for softmax each row of ``ZT`` is read K - 1 times
  in a row, the repeats from cache. So ``2 * (D + 1) * N * 8`` bytes. (It also streams the
  (K - 1, N) logits ``(D + 1) / 4`` times in each pass, four design rows at a time, from
  cache while they fit.) Two floors:
  those bytes over the streaming read bandwidth of a ``--bandwidth-gib`` array (DRAM), and
  twice the time of one streaming sum over ``ZT`` itself (the bandwidth of wherever ``ZT``
  lives between gradients: L2/L3 while it fits, DRAM after). The ratio uses the second,
  which at large N is the first. A kernel that fused the two passes in cache-sized blocks
  of rows would read ``ZT`` once: half the bandwidth floor.
- flops: ``2 * N * (D + 1) * (K - 1)`` for the logits and as many for the gradient, over
  the single-core float64 GEMM rate (``np.dot`` of two 2000 x 2000 matrices, one BLAS
  thread). GEMM's rate is the machine's peak; the kernel is matrix-vector shaped.
- exp: ``N`` exps (logistic) or ``N * (K - 1)`` (softmax; the kernel computes ``N * K``,
  one for the reference class after the max shift) times the cost of the cheapest
  float64 exp measured here over a cache-resident array (4,096 values in [-5, 0]): numpy's,
  a numba loop of ``math.exp``, and the kernels' own vectorised ``exp``
  (``kernels.exp_into``). Numpy's float32 exp is measured alongside.

Streaming read bandwidth: the best of 5 numpy ``a.sum()`` and 5 sums of a numba loop (the
kernels' style: reassociated, vectorised) over the array; copy bandwidth (``np.copyto``,
bytes read plus written, write-allocate not counted) is also recorded. Rates are the best
of their repeats, the kernel timings medians.

Usage::

    python benchmarks/bench_gradient.py                      # every size (minutes)
    python benchmarks/bench_gradient.py --sizes 10000        # a smoke run
    python benchmarks/bench_gradient.py --only softmax --sizes 50000 --no-peers

It prints a markdown table and writes machine information, the measured rates and every
row's numbers to ``benchmarks/results/gradient.json`` (``--out``).
"""

from __future__ import annotations

import os

# One thread everywhere, before numpy (and its BLAS) is imported.
os.environ.update(
    dict.fromkeys(
        ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"), "1"
    )
)

import argparse
import ctypes
import functools
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench_fit import finite, git_commit, log, machine, package_versions
from bench_scaling import _standardise, pymc_model, simulate

HERE = Path(__file__).resolve().parent
PROBLEMS: dict[str, dict[str, Any]] = {
    "logistic": {"d": 20, "k": 2, "sizes": [10_000, 100_000, 1_000_000]},
    "softmax": {"d": 30, "k": 4, "sizes": [10_000, 50_000, 100_000]},
}


# ----------------------------------------------------------------------------- timing


def timings_ns(fn: Callable[[], object], seconds: float) -> tuple[float, float]:
    """Median and fastest wall time of ``fn()`` in ns, over about ``seconds`` of calls after 3.

    The fastest call is recorded beside the median: on a machine shared with other work it
    is the less disturbed of the two.
    """
    for _ in range(3):
        fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    times = np.empty(int(min(max(seconds / max(once, 1e-9), 11), 200_000)))
    for i in range(times.size):
        t = time.perf_counter_ns()
        fn()
        times[i] = time.perf_counter_ns() - t
    return float(np.median(times)), float(times.min())


def timed(key: str, fn: Callable[[], object], seconds: float) -> dict[str, float]:
    """``{key: median ns, key_min: fastest ns}`` of ``fn()``."""
    median, fastest = timings_ns(fn, seconds)
    return {key: median, f"{key}_min": fastest}


def best_seconds(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``fn()`` (after one), in seconds."""
    fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return float(best)


# ------------------------------------------------------------------- machine's rates


@functools.cache
def numba_helpers() -> tuple[Any, Any]:
    """A streaming sum and an exp loop, compiled as the kernels are (numba, reassociated)."""
    import numba

    jit = numba.njit(nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})

    @jit
    def stream_sum(a: np.ndarray) -> float:
        total = 0.0
        for i in range(a.size):
            total += a[i]
        return total

    @jit
    def exp_loop(a: np.ndarray, out: np.ndarray) -> None:
        for i in range(a.size):
            out[i] = math.exp(a[i])

    return stream_sum, exp_loop


def bandwidth(gib: float) -> dict[str, float]:
    """Streaming read (numpy sum, numba loop) and copy bandwidth over ``gib`` GiB arrays."""
    stream_sum = numba_helpers()[0]
    a = np.empty(int(gib * 2**30 // 8))
    a.fill(1.0)  # touch every page before timing
    stream_sum(a[:8])  # compile
    numpy_read = a.nbytes / best_seconds(a.sum, 5)
    numba_read = a.nbytes / best_seconds(lambda: stream_sum(a), 5)
    b = np.empty_like(a)
    b.fill(0.0)
    return {
        "read_bytes_per_s_numpy": numpy_read,
        "read_bytes_per_s_numba": numba_read,
        "read_bytes_per_s": max(numpy_read, numba_read),
        "copy_bytes_per_s": 2 * a.nbytes / best_seconds(lambda: np.copyto(b, a), 5),
    }


def machine_rates(bandwidth_gib: float) -> dict[str, Any]:
    """Streaming read and copy bandwidth, single-core GEMM rate, the cost of one exp."""
    from threadpoolctl import threadpool_info, threadpool_limits

    exp_loop = numba_helpers()[1]
    out: dict[str, Any] = {"bandwidth_array_gib": bandwidth_gib, **bandwidth(bandwidth_gib)}
    rng = np.random.default_rng(0)
    m = rng.standard_normal((2000, 2000))
    m2 = rng.standard_normal((2000, 2000))
    with threadpool_limits(limits=1, user_api="blas"):
        out["gemm_flops_per_s"] = 2 * 2000**3 / best_seconds(lambda: np.dot(m, m2), 3)
        out["blas"] = [
            {k: info.get(k) for k in ("internal_api", "num_threads", "architecture")}
            for info in threadpool_info()
            if info.get("user_api") == "blas"
        ]
    x64 = rng.uniform(-5.0, 0.0, 4096)
    y64 = np.empty_like(x64)
    x32, y32 = x64.astype(np.float32), np.empty(4096, np.float32)
    exp_loop(x64, y64)  # compile
    # 2,000 exps of the array per timed call: tens of microseconds, above the clock's grain.
    n_calls = 2000

    def per_exp(fn: Callable[[], object]) -> float:
        return 1e9 * best_seconds(lambda: [fn() for _ in range(n_calls)], 5) / (n_calls * 4096)

    out["exp_ns_float64"] = per_exp(lambda: np.exp(x64, out=y64))
    out["exp_ns_float32"] = per_exp(lambda: np.exp(x32, out=y32))
    out["exp_ns_numba_math_exp"] = per_exp(lambda: exp_loop(x64, y64))
    from bayescore.inference.kernels import exp_into

    exp_into(x64, y64)  # load the compiled kernel
    out["exp_ns_kernels"] = per_exp(lambda: exp_into(x64, y64))
    out["exp_ns_floor"] = min(
        out["exp_ns_float64"], out["exp_ns_numba_math_exp"], out["exp_ns_kernels"]
    )
    return out


# ------------------------------------------------------------------------- one size


def _ptr(a: np.ndarray) -> Any:
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))


def bayescore_inputs(kind: str, X: np.ndarray, y: np.ndarray, k: int) -> tuple[Any, ...]:
    """``(ZT, y, family, scale, nu)`` as NUTS gets them, and the number of free classes."""
    from bayescore.inference.posterior import Posterior
    from bayescore.models import make_spec

    post = Posterior(make_spec(X, y, np.arange(k), kind=kind))
    args = post.kernel_arguments()
    if args is None:
        raise RuntimeError("the design is processed in row blocks: no kept ZT to time")
    return args, post.n_free


def time_size(problem: str, n: int, rates: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    from bayescore.inference import kernels

    spec = PROBLEMS[problem]
    d, k = spec["d"], spec["k"]
    X, y = simulate(problem, n, seed=7)
    X, y = X[:n], y[:n]
    (ZT, labels, family, scale, nu), n_free = bayescore_inputs(problem, X, y, k)
    p = ZT.shape[0] * n_free
    rng = np.random.default_rng(3)
    theta, grad = 0.1 * rng.standard_normal(p), np.zeros(p)
    kernel = kernels.logistic_value_grad if n_free == 1 else kernels.softmax_value_grad
    row: dict[str, Any] = {"problem": problem, "n": n, "d": d, "k": k, "p": p}
    row["zt_mb"] = ZT.nbytes / 1e6
    row.update(timed("kernel_ns", lambda: kernel(ZT, labels, theta, grad), s["seconds"]))

    mean, L = np.zeros(p), np.ascontiguousarray(np.tril(0.01 * rng.standard_normal((p, p))))
    L += np.eye(p)
    table = kernels.user_data(n_free, ZT, labels, mean, L, family, scale, nu)
    z, out_grad, logp = 0.1 * rng.standard_normal(p), np.empty(p), np.empty(1)
    callback = kernels.nutpie_logp.ctypes
    args = (p, _ptr(z), _ptr(out_grad), _ptr(logp), table.ctypes.data)
    row.update(timed("callback_ns", lambda: callback(*args), s["seconds"]))

    # The floors.
    bytes_zt = 2 * ZT.nbytes  # _project and _back: one pass each
    flops = 2 * 2 * n * ZT.shape[0] * n_free
    exps = n * n_free
    flat = ZT.reshape(-1)
    stream_sum = numba_helpers()[0]
    one_pass_s = best_seconds(lambda: stream_sum(flat), 20)
    row.update(
        zt_bytes_per_gradient=bytes_zt,
        flops_per_gradient=flops,
        exps_per_gradient=exps,
        kernel_exps_per_gradient=n * (n_free + 1) if n_free > 1 else n,
        floor_bandwidth_dram_ns=1e9 * bytes_zt / rates["read_bytes_per_s"],
        floor_bandwidth_cache_ns=2e9 * one_pass_s,
        floor_flops_ns=1e9 * flops / rates["gemm_flops_per_s"],
        floor_exp_ns=exps * rates["exp_ns_floor"],
    )
    floors = ("floor_bandwidth_cache_ns", "floor_flops_ns", "floor_exp_ns")
    row["binding_floor"] = max(floors, key=lambda key: row[key])
    row["kernel_over_floor"] = row["kernel_ns"] / row[row["binding_floor"]]
    if s["peers"]:
        row.update(time_pymc(problem, X, y, k, s["seconds"]))
    return row


def time_pymc(
    problem: str, X: np.ndarray, y: np.ndarray, k: int, seconds: float
) -> dict[str, Any]:
    """PyMC's gradient of the same model: nutpie's numba callback and PyTensor's C function."""
    import warnings

    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pymc_model(problem, _standardise(X, X), y, k)
        fn = model.logp_dlogp_function(ravel_inputs=True)
        point = np.zeros(sum(v.size for v in model.initial_point().values()))
        out.update(timed("pymc_c_ns", lambda: fn(point), seconds))
        try:
            import nutpie
        except ImportError:
            return out
        compiled = nutpie.compile_pymc_model(model)
    x, grad, logp = np.zeros(compiled.n_dim), np.empty(compiled.n_dim), np.empty(1)
    user_data = compiled.user_data
    callback = compiled.compiled_logp_func.ctypes
    args = (compiled.n_dim, _ptr(x), _ptr(grad), _ptr(logp), user_data.ctypes.data)
    if callback(*args) != 0:
        raise RuntimeError("nutpie's logp callback failed at the zero point")
    out.update(timed("pymc_nutpie_ns", lambda: callback(*args), seconds))
    return out


# -------------------------------------------------------------------------- report


def fmt_ns(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def report(rows: list[dict[str, Any]], rates: dict[str, Any]) -> str:
    gb = 1e9
    lines = [
        "Machine, one thread: streaming read "
        f"{rates['read_bytes_per_s'] / gb:.1f} GB/s (numpy sum "
        f"{rates['read_bytes_per_s_numpy'] / gb:.1f}, numba loop "
        f"{rates['read_bytes_per_s_numba'] / gb:.1f}), copy {rates['copy_bytes_per_s'] / gb:.1f} "
        f"GB/s (read + write), GEMM {rates['gemm_flops_per_s'] / gb:.1f} GFLOP/s, exp "
        f"{rates['exp_ns_float64']:.2f} ns float64 / {rates['exp_ns_float32']:.2f} ns float32 "
        f"(numpy), {rates['exp_ns_numba_math_exp']:.2f} ns (numba math.exp loop), "
        f"{rates['exp_ns_kernels']:.2f} ns (the kernels' own exp)\n",
    ]
    head = [
        "problem",
        "N",
        "ZT MB",
        "kernel ns/gradient",
        "nutpie callback ns",
        "PyMC via nutpie ns",
        "PyMC C (own NUTS) ns",
        "floor: bandwidth, DRAM",
        "floor: bandwidth, ZT where it lives",
        "floor: flops",
        "floor: exp",
        "kernel / max(floors)",
    ]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    short = {
        "floor_bandwidth_cache_ns": "bandwidth",
        "floor_flops_ns": "flops",
        "floor_exp_ns": "exp",
    }
    for r in rows:
        cells = [
            r["problem"],
            f"{r['n']:,}",
            f"{r['zt_mb']:.1f}",
            fmt_ns(r["kernel_ns"]),
            fmt_ns(r["callback_ns"]),
            fmt_ns(r.get("pymc_nutpie_ns")),
            fmt_ns(r.get("pymc_c_ns")),
            fmt_ns(r["floor_bandwidth_dram_ns"]),
            fmt_ns(r["floor_bandwidth_cache_ns"]),
            fmt_ns(r["floor_flops_ns"]),
            fmt_ns(r["floor_exp_ns"]),
            f"{r['kernel_over_floor']:.1f} ({short[r['binding_floor']]})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "\nns per log density + gradient, single thread. kernel: logistic_value_grad / "
        "softmax_value_grad; nutpie callback: bayescore's nutpie_logp (whitening, prior, "
        "kernel) through ctypes; PyMC: the hand-written model compiled by nutpie (pm.sample's "
        "default) and PyTensor's C logp_dlogp_function (PyMC's NUTS). Floors: 2 passes of ZT "
        "over the DRAM read bandwidth, or twice one streaming sum over ZT itself; "
        "4 N (D+1)(K-1) flops at the GEMM rate; N (K-1) exps (logistic N) at the cheapest "
        "float64 exp measured. The ratio is "
        "over the largest of the last three floors (named)."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(PROBLEMS), help="logistic,softmax")
    parser.add_argument(
        "--sizes", default=None, help="comma-separated N, replacing every problem's sizes"
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per measurement")
    parser.add_argument(
        "--bandwidth-gib", type=float, default=1.0, help="array size of the DRAM bandwidth"
    )
    parser.add_argument("--no-peers", action="store_true", help="leave out PyMC's gradients")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "gradient.json")
    args = parser.parse_args()
    problems = [name.strip() for name in args.only.split(",") if name.strip()]
    bad = sorted(set(problems) - set(PROBLEMS))
    if bad:
        parser.error(f"--only got unknown problems {bad}; choose from {list(PROBLEMS)}.")
    settings = {"seconds": args.seconds, "peers": not args.no_peers}
    log(f"[rates] bandwidth ({args.bandwidth_gib} GiB array), GEMM, exp")
    rates = machine_rates(args.bandwidth_gib)
    rows = []
    for problem in problems:
        sizes = PROBLEMS[problem]["sizes"]
        if args.sizes is not None:
            sizes = [int(n) for n in args.sizes.split(",")]
        for n in sizes:
            log(f"[gradient] {problem} N = {n:,}")
            rows.append(time_size(problem, n, rates, settings))
    print(report(rows, rates))
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "versions": package_versions(),
        "git": git_commit(),
        "settings": {**settings, "bandwidth_gib": args.bandwidth_gib, "argv": sys.argv[1:]},
        "rates": rates,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(finite(meta), indent=2, allow_nan=False))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
