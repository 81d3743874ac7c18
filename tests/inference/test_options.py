"""The methods' options: one dataclass each, checked once at the boundary, documented from it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from problems import make_data

import bayescore as bs
from bayescore.inference.advi import AdviOptions
from bayescore.inference.api import METHODS
from bayescore.inference.nuts import NutsOptions
from bayescore.inference.options import FitSettings, options_table


@pytest.fixture(scope="module")
def model():
    X, y = make_data("logistic", n=60)
    return bs.build_model(X, y)


BAD = [
    ("nuts", {"bogus": 1}, ValueError, r"fit\(method='nuts'\) got unknown options \['bogus'\]"),
    (
        "nuts",
        {"max_treedepth": "deep"},
        TypeError,
        "'max_treedepth' parameter of fit must be an int",
    ),
    (
        "nuts",
        {"max_treedepth": 0},
        ValueError,
        "'max_treedepth' parameter of fit must be an int in",
    ),
    ("nuts", {"sampler": "stan"}, ValueError, "'sampler' parameter of fit must be one of"),
    (
        "nuts",
        {"warm_start": "no"},
        TypeError,
        "'warm_start' parameter of fit must be True or False",
    ),
    (
        "nuts",
        {"target_accept": 1.0},
        ValueError,
        "'target_accept' parameter of fit must be a real",
    ),
    ("nuts", {"nuts_sampler_kwargs": [1]}, TypeError, "'nuts_sampler_kwargs' .* must be a dict"),
    (
        "nuts",
        {"random_seed": 2**64},
        ValueError,
        r"'random_seed' parameter of fit must be an int in \[0, 4294967295\]",
    ),
    ("nuts", {"random_seed": -1}, ValueError, "'random_seed' parameter of fit"),
    ("nuts", {"draws": 0}, ValueError, "'draws' parameter of fit must be an int >= 1"),
    ("nuts", {"draws": 2.5}, TypeError, "'draws' parameter of fit must be an int >= 1"),
    ("nuts", {"tune": -1}, ValueError, "'tune' parameter of fit must be an int >= 0"),
    (
        "nuts",
        {"tune": 0},
        ValueError,
        "'tune' parameter of fit must be an int >= 1 for NUTS through nutpie",
    ),
    ("advi", {"window": 5}, ValueError, "'window' parameter of fit must be an int >= 10"),
    ("advi", {"n_points": 2}, ValueError, "'n_points' parameter of fit must be an int >= 8"),
    (
        "advi",
        {"stochastic": False, "tol": 1e-3},
        ValueError,
        r"\['tol'\] set the stochastic optimiser",
    ),
    ("advi", {"stochastic": True, "n_points": 10}, ValueError, "n_points= sets the fixed draws"),
    ("laplace", {"n_mc": 1}, ValueError, "'n_mc' parameter of fit must be an int >= 2"),
    (
        "pathfinder",
        {"history_size": 2.5},
        TypeError,
        "'history_size' parameter of fit must be an int",
    ),
    ("pathfinder", {"learning_rate": 0.1}, ValueError, "unknown options \\['learning_rate'\\]"),
]


@pytest.mark.parametrize(("method", "kwargs", "error", "match"), BAD)
def test_bad_options_are_refused_before_any_backend_runs(model, method, kwargs, error, match):
    with pytest.raises(error, match=match):
        bs.fit(model, method, warn=False, **{"draws": 10, "tune": 10, **kwargs})


def test_numpy_integers_are_accepted_and_stored_as_int(model):
    """np.int64 from np.arange (a grid search) is an int: the draws, and the settings."""
    settings = FitSettings.checked(draws=np.int64(40), tune=np.int32(0), random_seed=np.uint8(3))
    assert (type(settings.draws), type(settings.tune), type(settings.random_seed)) == (int,) * 3
    fit = bs.fit(model, "laplace", draws=np.int64(40), random_seed=np.int64(3), warn=False)
    assert fit.posterior.sizes["draw"] == 40
    same = bs.fit(model, "laplace", draws=40, random_seed=3, warn=False)
    np.testing.assert_array_equal(fit.posterior["coef"], same.posterior["coef"])


def test_options_of_one_route_select_it(model):
    """An option of the stochastic optimiser takes PyMC's ADVI; none takes fixed draws."""
    fixed = bs.fit(model, "advi", draws=20, random_seed=0, warn=False)
    assert fixed.variational.attrs["optimizer"] == "lbfgs"
    options = AdviOptions.from_kwargs({"tol": 1e-3, "n_mc": 50})
    assert options.passed("stochastic") == ["tol"] and options.passed("fixed") == []
    nuts = NutsOptions.from_kwargs({"init": "adapt_diag", "cores": None})
    assert nuts.to_kwargs("pymc") == {"init": "adapt_diag"}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_the_documented_table_lists_every_option_with_its_default(method):
    cls = METHODS[method].options
    table = options_table(cls)
    for field in cls.fields():
        assert f"| `{field.name}` | `{field.default!r}` |" in table
    assert len(table.splitlines()) == 2 + len(cls.fields())
    assert all(dataclasses.is_dataclass(c) and c.__dataclass_params__.frozen for c in [cls])
