"""Fitting and prediction: bayescore against what a PyMC user would write by hand.

Measured side by side in one run, on the same data:

1. NUTS: ``bs.fit`` vs a hand-written PyMC model sampled with ``pm.sample`` defaults.
2. ADVI: bayescore's ADVI (Adam, windowed stopping rule, iterate averaging) vs
   ``pm.fit`` with PyMC defaults (adagrad_window, n=10 000 / 20 000): wall time and distance
   of the means from NUTS in posterior sd.
3. Posterior predictive probabilities for new rows: ``bs.predict_proba_draws`` (numpy) vs
   ``pm.set_data`` + ``pm.sample_posterior_predictive`` on a Deterministic.

Usage: ``python benchmarks/bench_fit.py [--n 5000] [--draws 1000]``. Compile times are
excluded by a warm-up run of each graph.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import bayescore as bs
from bayescore._pymc import import_pymc


def simulate(n: int, d: int = 10, k: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    B = rng.normal(scale=0.7, size=(d, k))
    B[:, 0] = 0.0
    logits = X @ B
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return X, y


def hand_written_model(pm, X, y, k):
    import pytensor.tensor as pt

    coords = {"feature": np.arange(X.shape[1]), "class_free": np.arange(1, k)}
    with pm.Model(coords=coords) as model:
        Xd = pm.Data("X", X)
        a = pm.Normal("intercept_free", 0, 2.5, dims="class_free")
        b = pm.Normal("coef_free", 0, 2.5, dims=("feature", "class_free"))
        logits = pt.concatenate([pt.zeros((Xd.shape[0], 1)), a + Xd @ b], axis=1)
        p = pm.Deterministic("p", pt.special.softmax(logits, axis=-1))
        pm.Categorical("y", p=p, observed=y, shape=Xd.shape[0])
    return model


def timed(fn, repeat=1):
    best = np.inf
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def z_error(post, ref):
    mean = post["coef_free"].mean(("chain", "draw")).values
    ref_mean = ref["coef_free"].mean(("chain", "draw")).values
    return float(np.abs((mean - ref_mean) / ref["coef_free"].std(("chain", "draw")).values).max())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    pm = import_pymc()
    k = 4
    X, y = simulate(args.n, k=k)
    X_new = simulate(2000, k=k, seed=1)[0]
    # Standardised features so both models see the same parameterisation.
    X = (X - X.mean(0)) / X.std(0)
    rows = []

    model = bs.build_model(X, y, kind="softmax")
    hand = hand_written_model(pm, X, y, k)
    kw = {"draws": args.draws, "tune": args.draws, "chains": 2, "random_seed": 1}
    bs.fit(model, draws=20, tune=20, random_seed=0, warn=False)  # warm the compile cache
    with hand:
        pm.sample(draws=20, tune=20, chains=2, progressbar=False, random_seed=0)
    t_bs, idata = timed(lambda: bs.fit(model, warn=False, **kw))
    with hand:
        t_pm, idata_pm = timed(lambda: pm.sample(progressbar=False, **kw))
    rows.append(("NUTS 2x1000", "pm.sample defaults", t_bs, t_pm, "", ""))
    nuts = idata.posterior

    t_vi, vi = timed(lambda: bs.fit(model, "advi", draws=1000, random_seed=1, warn=False))
    for n_iter in (10_000, 20_000):
        with hand:
            t_def, approx = timed(
                lambda n_iter=n_iter: pm.fit(n=n_iter, progressbar=False, random_seed=1)
            )
            post_def = approx.sample(1000, random_seed=1).posterior
        rows.append(
            (
                f"ADVI vs pm.fit(n={n_iter})",
                "pm.fit defaults",
                t_vi,
                t_def,
                f"{z_error(vi.posterior, nuts):.2f}",
                f"{z_error(post_def, nuts):.2f}",
            )
        )

    t_pred, _ = timed(lambda: bs.predict_proba_draws(idata, X_new), repeat=3)

    def pymc_route():
        with hand:
            pm.set_data({"X": X_new}, coords=None)
            return pm.sample_posterior_predictive(
                idata_pm, var_names=["p"], progressbar=False, random_seed=1
            )

    pymc_route()  # compile
    t_ppc, _ = timed(pymc_route, repeat=3)
    rows.append(
        ("probabilities, 2000 new rows", "sample_posterior_predictive", t_pred, t_ppc, "", "")
    )

    print(f"\nsoftmax regression, N={args.n}, d=10, K={k}, draws={args.draws} x 2 chains")
    head = f"{'task':32} {'reference':28} {'bayescore s':>12} {'ref s':>8} {'ratio':>7}"
    print(head + f" {'|z| bs':>7} {'|z| ref':>8}")
    print("-" * (len(head) + 17))
    for task, ref, a, b, za, zb in rows:
        print(f"{task:32} {ref:28} {a:12.2f} {b:8.2f} {b / a:6.1f}x {za:>7} {zb:>8}")
    print("ratio = reference time / bayescore time (higher favours bayescore); |z| = max")
    print("distance of the posterior means of the coefficients from NUTS, in posterior sd.")


if __name__ == "__main__":
    main()
