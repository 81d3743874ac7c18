"""Draws of every inference route, saved before the engine moved into ``bayescore.inference``.

Written by this script on 2026-12-06 from commit eafc325 (the last tree with the engine in
``bayescore._approx``, ``_vi``, ``_nuts``, ...), with numpy 2.x, PyMC 6, nutpie 0.16 on the
project's 2-core machine. ``tests/inference/test_same_draws.py`` refits every route with the
same seeds and compares the draws with these, so a refactoring of the engine that changes
what users get (for the same ``random_seed``) fails.

Re-saved since, route by route, when a change was meant to move the draws:

- ``nuts`` (commit after 5ec0526): the compiled kernels' own vectorised ``exp`` (within
  4e-16 of libm's) and their sums taken four design rows at a time. The log density and
  its gradient agree with the old kernels' to 1e-12; a trajectory of 100 NUTS steps
  amplifies those last digits to 1e-7 in the draws.
- ``nuts`` again (commit fe80aad): the kernels' per-row loops vectorised (their sums
  reassociated).
- ``nuts`` again (the commit adding ``spread_rotation``): NUTS samples the whitened
  posterior through a fixed rotation with spread frequencies, a different trajectory of
  the same posterior.
- ``laplace``, ``advi``, ``fullrank_advi``: a Gaussian fit's draws are centred (their mean
  is the Gaussian's exactly, ``Gaussian.centred_draws``), from the same normals.

Run from the repository root: ``python tests/data/make_engine_fixtures.py [ROUTE ...]``
(the named routes only, the others' saved draws kept).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

import bayescore as bs

HERE = Path(__file__).parent
OUT = HERE / "engine_draws.npz"

#: Data sets: (name, data set, number of feature columns, build_model options).
CONFIGS = {
    "logistic": ("breast_cancer", 5, {"kind": "logistic"}),
    "softmax": ("iris", 4, {"kind": "softmax"}),
    "logistic_t_flat": (
        "breast_cancer",
        3,
        {"kind": "logistic", "prior": "student_t", "flat_intercept": True},
    ),
}

#: Routes: (name, fit options); the configurations each runs on.
ROUTES = {
    "laplace": ({"method": "laplace"}, ("logistic", "softmax", "logistic_t_flat")),
    "advi": ({"method": "advi"}, ("logistic", "softmax", "logistic_t_flat")),
    "fullrank_advi": ({"method": "fullrank_advi"}, ("logistic", "softmax")),
    "pathfinder": ({"method": "pathfinder"}, ("logistic", "softmax", "logistic_t_flat")),
    "pathfinder_1": ({"method": "pathfinder", "num_paths": 1}, ("logistic",)),
    "nuts": ({"method": "nuts"}, ("logistic", "softmax", "logistic_t_flat")),
    "nuts_pymc": ({"method": "nuts", "sampler": "pymc"}, ("logistic",)),
    "nuts_cold": ({"method": "nuts", "warm_start": False}, ("logistic",)),
    "advi_stochastic": ({"method": "advi", "stochastic": True, "max_iter": 3000}, ("logistic",)),
}

#: Draws per fit: small, the fixtures only pin down the routes.
DRAWS = {"draws": 40, "tune": 60, "chains": 2, "random_seed": 3}


def model_for(config: str):
    """The PyMC model (and its data) of one configuration."""
    name, n_features, options = CONFIGS[config]
    ds = bs.load_dataset(name)
    X = ds.X.iloc[:, :n_features].to_numpy()
    return bs.build_model(X, ds.y.to_numpy(), **options)


def main(routes: list[str]) -> None:
    arrays: dict[str, np.ndarray] = {}
    if routes:
        unknown = sorted(set(routes) - set(ROUTES))
        if unknown:
            raise SystemExit(f"unknown routes {unknown}; known: {sorted(ROUTES)}")
        with np.load(OUT) as saved:
            # Keys are "config/route/group/var", and "__meta__" (written again below).
            arrays = {k: saved[k] for k in saved.files if "/" in k}
        arrays = {k: v for k, v in arrays.items() if k.split("/")[1] not in routes}
    for route, (options, configs) in ROUTES.items():
        if routes and route not in routes:
            continue
        for config in configs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                idata = bs.fit(model_for(config), **options, **DRAWS, progressbar=False)
            post = idata["posterior"]
            for var in sorted(post.data_vars):
                arrays[f"{config}/{route}/posterior/{var}"] = post[var].values
            if "variational" in idata.children:
                vi = idata["variational"]
                for var in ("elbo", "expected_log_likelihood", "kl", "pareto_k"):
                    arrays[f"{config}/{route}/variational/{var}"] = np.asarray(vi[var].values)
            print(config, route, "ok")
    arrays["__meta__"] = np.asarray(json.dumps({"routes": list(ROUTES), "draws": DRAWS}))
    np.savez_compressed(OUT, **arrays)
    print("wrote", OUT, len(arrays), "arrays")


if __name__ == "__main__":
    main(sys.argv[1:])
