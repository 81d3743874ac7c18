"""Same seed, same draws: every inference route against draws saved before the engine moved.

``tests/data/engine_draws.npz`` was written by ``tests/data/make_engine_fixtures.py`` from
the engine as it was before it became ``bayescore.inference`` (commit eafc325). The draws of
every route must be the same to the bit: the mode search, the fixed-draw ADVI objective and
NUTS's compiled density kept their order of operations. The ELBO and Pareto k-hat of the
variational record are compared to 1e-12 (relative): the log-likelihood of many draws that
judges an approximation is now the family's one numpy implementation, whose sums run in a
different order than the old second implementation's. The Pareto k-hat, a shape fitted to
the largest ratios, amplifies those last-digit changes of the ratios about a thousandfold:
it is compared to 1e-9.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
_spec = importlib.util.spec_from_file_location(
    "make_engine_fixtures", DATA / "make_engine_fixtures.py"
)
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)
SAVED = np.load(DATA / "engine_draws.npz")

#: Routes that run PyMC (a graph compile each): the slow lane.
SLOW = {"nuts_pymc", "nuts_cold", "advi_stochastic"}

CASES = [
    pytest.param(route, config, marks=[pytest.mark.slow] if route in SLOW else [])
    for route, (_, configs) in fixtures.ROUTES.items()
    for config in configs
]


@pytest.mark.parametrize(("route", "config"), CASES)
def test_route_gives_the_saved_draws(route, config):
    import bayescore as bs

    options, _ = fixtures.ROUTES[route]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = bs.fit(fixtures.model_for(config), **options, **fixtures.DRAWS, progressbar=False)
    prefix = f"{config}/{route}/"
    saved = [k for k in SAVED.files if k.startswith(prefix)]
    assert saved, prefix
    for key in saved:
        group, var = key[len(prefix) :].split("/")
        new = np.asarray(idata[group][var].values)
        old = SAVED[key]
        if group == "posterior":
            np.testing.assert_array_equal(new, old, err_msg=key)
        else:
            rtol = 1e-9 if var == "pareto_k" else 1e-12
            np.testing.assert_allclose(new, old, rtol=rtol, atol=0, err_msg=key)
