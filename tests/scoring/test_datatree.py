"""Scoring any model's posterior: Bambi and hand-written PyMC results (DataTree) by one call.

Every number is checked against numpy on the arrays taken out of the DataTree by hand (NLL
via logsumexp over draws), and PSIS-LOO against arviz-stats on the model's own
log-likelihood.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import logsumexp

import bayescore as bs
from bayescore._datatree import as_probability_input, probability_draws, tree_forecast

CLASSES = np.array(["a", "b", "c"])
N_TRAIN, N_TEST = 60, 20


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = N_TRAIN + N_TEST
    X = rng.normal(size=(n, 2))
    logits = np.stack([np.zeros(n), 1.5 * X[:, 0], -X[:, 1]], axis=1)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    df = pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "y": pd.Categorical(CLASSES[y])})
    return X, CLASSES[y], df


@pytest.fixture(scope="module")
def bambi_fits(data):
    import bambi as bmb

    _, _, df = data
    train, test = df.iloc[:N_TRAIN], df.iloc[N_TRAIN:].reset_index(drop=True)
    model = bmb.Model("y ~ x1 + x2", train, family="categorical")
    idata = model.fit(draws=200, tune=200, chains=2, random_seed=1, progressbar=False)
    model.predict(idata, kind="response_params")  # Bambi's class probabilities: "p"
    model.compute_log_likelihood(idata)
    held_out = model.predict(idata, kind="response_params", data=test, inplace=False)
    return idata, held_out


@pytest.fixture(scope="module")
def pymc_fit(data):
    import pymc as pm

    X, labels, _ = data
    y_idx = np.searchsorted(CLASSES, labels)
    coords = {"cls": CLASSES, "feature": ["x1", "x2"], "free": CLASSES[1:]}
    with pm.Model(coords=coords):
        X_data = pm.Data("X", X[:N_TRAIN], dims=("obs_id", "feature"))
        y_data = pm.Data("y_obs", y_idx[:N_TRAIN], dims="obs_id")
        alpha = pm.Normal("alpha", 0, 2, dims="free")
        beta = pm.Normal("beta", 0, 2, dims=("feature", "free"))
        eta = alpha + X_data @ beta
        eta = pm.math.concatenate([pm.math.zeros((X_data.shape[0], 1)), eta], axis=1)
        p = pm.Deterministic("p", pm.math.softmax(eta, axis=-1), dims=("obs_id", "cls"))
        pm.Categorical("y", p=p, observed=y_data, dims="obs_id")
        idata = pm.sample(
            200,
            tune=200,
            chains=2,
            cores=1,
            nuts_sampler="pymc",
            random_seed=3,
            progressbar=False,
        )
        pm.compute_log_likelihood(idata, progressbar=False)
        pm.set_data({"X": X[N_TRAIN:], "y_obs": y_idx[N_TRAIN:]}, coords={"obs_id": range(20)})
        pm.sample_posterior_predictive(
            idata, var_names=["p"], predictions=True, extend_inferencedata=True, progressbar=False
        )
    return idata


def by_hand(p: np.ndarray, y_idx: np.ndarray) -> dict[str, object]:
    """Scores of draws ``p`` (chain, draw, obs, class) straight from the definitions."""
    C, D, N, K = p.shape
    log_true = np.log(p[:, :, np.arange(N), y_idx])  # (C, D, N)
    nll_i = -(logsumexp(log_true.reshape(C * D, N), axis=0) - np.log(C * D))
    mean_p = p.reshape(C * D, N, K).mean(axis=0)
    # Monte Carlo SE: g_s = -(1/N) sum_n p_sn(y_n) / m_n, batch means of sqrt(D) draws.
    g = -(np.exp(log_true) / np.exp(-nll_i)).mean(axis=-1)
    b = int(np.sqrt(D))
    means = g[:, : (D // b) * b].reshape(C, D // b, b).mean(axis=-1).ravel()
    return {
        "nll_i": nll_i,
        "brier": ((mean_p - np.eye(K)[y_idx]) ** 2).sum(axis=1).mean(),
        "accuracy": (mean_p.argmax(axis=1) == y_idx).mean(),
        "mcse": np.sqrt(b * means.var(ddof=1) / (C * D)),
    }


def compare_checking_warning(*args, **kwargs):
    """compare, asserting it warns exactly when its table flags the Monte Carlo error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = bs.compare(*args, **kwargs)
    warned = any(issubclass(w.category, bs.ComparisonWarning) for w in caught)
    assert warned == any("nll_mcse not small" in str(d) for d in table["diag"].values)
    return table


def raw(tree, group, dims):
    """The probability array, transposed by hand with the model's own dim names."""
    return tree[group]["p"].transpose(*dims).values


def test_bambi_and_pymc_scored_and_compared_by_the_same_calls(data, bambi_fits, pymc_fit):
    _, labels, _ = data
    y_test = labels[N_TRAIN:]
    y_idx = np.searchsorted(CLASSES, y_test)
    _, bambi_new = bambi_fits
    bambi_p = raw(bambi_new, "posterior", ("chain", "draw", "__obs__", "y_dim"))
    pymc_p = raw(pymc_fit, "predictions", ("chain", "draw", "obs_id", "cls"))
    refs = {"bambi": by_hand(bambi_p, y_idx), "pymc": by_hand(pymc_p, y_idx)}
    trees = {"bambi": bambi_new, "pymc": pymc_fit}
    for name, tree in trees.items():
        s = bs.score(y_test, tree, var_name="p")
        ref = refs[name]
        assert float(s["nll"]) == pytest.approx(ref["nll_i"].mean(), rel=1e-10)
        assert float(s["brier"]) == pytest.approx(ref["brier"], rel=1e-10)
        assert float(s["accuracy"]) == pytest.approx(ref["accuracy"])
        assert float(s["nll_mcse"]) == pytest.approx(ref["mcse"], rel=1e-8)
        assert s.attrs["n_draws"] == 400 and s.attrs["n_classes"] == 3
    table = compare_checking_warning(trees, y_test, var_name="p", metrics=("nll", "brier"))
    best, other = table["model"].values
    diff = refs[other]["nll_i"] - refs[best]["nll_i"]
    assert float(table.sel(model=other)["d_nll"]) == pytest.approx(diff.mean(), rel=1e-10)
    assert float(table.sel(model=other)["d_se"]) == pytest.approx(diff.std() / np.sqrt(N_TEST))
    for name in trees:
        assert float(table.sel(model=name)["nll_mcse"]) == pytest.approx(refs[name]["mcse"])
        assert float(table.sel(model=name)["brier"]) == pytest.approx(refs[name]["brier"])
    assert "N < 100" in str(table.sel(model=other)["diag"].values)
    # The CORP decomposition of a DataTree equals that of the arrays taken out by hand.
    for name, arr in (("bambi", bambi_p), ("pymc", pymc_p)):
        from_tree = bs.score_decomposition(y_test, trees[name], var_name="p", score="log")
        by_array = bs.score_decomposition(y_idx, arr, score="log")
        for part in ("score", "miscalibration", "discrimination", "uncertainty"):
            assert float(from_tree[part]) == pytest.approx(float(by_array[part]), rel=1e-12)


def test_log_likelihood_group_gives_the_nll_of_the_probabilities(data, pymc_fit, bambi_fits):
    _, labels, _ = data
    y_train = labels[:N_TRAIN]
    for tree in (pymc_fit, bambi_fits[0]):
        ll = tree["log_likelihood"]["y"].values.reshape(-1, N_TRAIN)
        expected = -(logsumexp(ll, axis=0) - np.log(ll.shape[0])).mean()
        from_ll = bs.score(y_train, tree)  # no var_name: the single log_likelihood variable
        from_p = bs.score(y_train, tree, var_name="p", group="posterior")
        assert float(from_ll["nll"]) == pytest.approx(expected, rel=1e-10)
        assert float(from_ll["nll"]) == pytest.approx(float(from_p["nll"]), rel=1e-9)
        assert float(from_ll["gibbs_nll"]) == pytest.approx(-ll.mean(), rel=1e-10)
        assert float(from_ll["nll_mcse"]) == pytest.approx(float(from_p["nll_mcse"]), rel=1e-6)
        assert "brier" not in from_ll and "n_classes" not in from_ll.attrs
    with pytest.raises(ValueError, match=r"metrics \['brier', 'ece'\] need class probabilities"):
        bs.compare({"pymc": pymc_fit}, y_train)
    table = compare_checking_warning(
        {"pymc": pymc_fit, "bambi": bambi_fits[0]}, y_train, metrics="nll"
    )
    assert np.isnan(table["brier"]).all()
    with pytest.raises(ValueError, match="brier_score needs class probabilities"):
        probability_draws(pymc_fit, func="brier_score")


def test_loo_of_pymc_and_bambi_results_equals_arviz(data, pymc_fit, bambi_fits):
    import arviz_stats

    _, labels, _ = data
    y_train = labels[:N_TRAIN]
    for tree in (pymc_fit, bambi_fits[0]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # arviz-stats' own Pareto k note
            ref = arviz_stats.loo(tree, var_name="y")
        flagged = bool((ref.pareto_k.values > ref.good_k).any())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from_ll = bs.loo(tree)
            from_p = bs.loo(tree, var_name="p", y=y_train)  # log p_sn(y_n) from the probs
        said = [w for w in caught if issubclass(w.category, bs.ParetoKWarning)]
        assert len(said) == (2 if flagged else 0)
        assert from_ll.elpd == pytest.approx(ref.elpd, abs=1e-8)
        assert from_p.elpd == pytest.approx(ref.elpd, abs=1e-6)
        np.testing.assert_allclose(from_p.pareto_k.values, ref.pareto_k.values, atol=1e-6)
    with pytest.raises(ValueError, match="loo needs the training labels y="):
        bs.loo(pymc_fit, var_name="p")


# ----------------------------------------------------------- extraction, no sampling


def tree_of(values, dims, coords=None, group="posterior", observed_dim=None):
    groups = {group: xr.Dataset({"p": (dims, values)}, coords=coords or {})}
    if observed_dim is not None:
        groups["observed_data"] = xr.Dataset({"y": ((observed_dim,), np.zeros(4))})
    return xr.DataTree.from_dict(groups)


def test_binary_probability_of_class_one_is_expanded():
    rng = np.random.default_rng(1)
    p1 = rng.uniform(0.05, 0.95, size=(2, 9, 4))  # Bambi's bernoulli: (chain, draw, __obs__)
    y = np.array([1, 0, 1, 1])
    s = bs.score(y, tree_of(p1, ("chain", "draw", "__obs__")), var_name="p")
    true = np.where(y == 1, p1, 1 - p1).reshape(18, 4)
    assert float(s["nll"]) == pytest.approx(-np.log(true.mean(axis=0)).mean(), rel=1e-12)
    mean_p1 = p1.reshape(18, 4).mean(axis=0)
    assert float(s["brier"]) == pytest.approx(2 * np.mean((mean_p1 - y) ** 2), rel=1e-12)


def test_class_and_obs_dims_are_found_whatever_their_order_and_names():
    rng = np.random.default_rng(2)
    p = rng.dirichlet([1.0, 2.0, 3.0], size=(2, 5, 4))  # chain, draw, obs, class
    coords = {"cls": ["x", "y", "z"]}
    ordered = tree_forecast(tree_of(p, ("chain", "draw", "row", "cls"), coords), "p").draws
    swapped = tree_of(p.transpose(0, 1, 3, 2), ("chain", "draw", "cls", "row"), coords)
    np.testing.assert_array_equal(tree_forecast(swapped, "p").draws.values, p)
    assert ordered.dims == ("chain", "draw", "obs", "class")
    assert ordered["class"].values.tolist() == ["x", "y", "z"]
    # A 2x2 problem with every row summing to one both ways: the observed data decides.
    square = np.full((1, 3, 2, 2), 0.5)
    tree = tree_of(square, ("chain", "draw", "d0", "d1"), observed_dim="d1")
    assert tree_forecast(tree, "p").draws.dims[2:] == ("obs", "class")
    assert float(tree_forecast(tree, "p", obs_dim="d0").draws["obs"].size) == 2
    with pytest.raises(ValueError, match=r"rename\(\{'d0': 'obs', 'd1': 'class'\}\)"):
        tree_forecast(tree_of(square, ("chain", "draw", "d0", "d1")), "p")


def test_groups_and_names_are_never_guessed():
    p = np.full((1, 2, 3, 2), 0.5)
    both = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"p": (("chain", "draw", "o", "k"), p)}),
            "predictions": xr.Dataset({"p": (("chain", "draw", "o", "k"), p)}),
        }
    )
    with pytest.raises(ValueError, match=r"is in groups \['predictions', 'posterior'\]"):
        bs.score([0, 1, 1], both, var_name="p")
    assert float(bs.score([0, 1, 1], both, var_name="p", group="posterior")["nll"]) == (
        pytest.approx(np.log(2))
    )
    with pytest.raises(ValueError, match="var_name= must name the variable"):
        bs.score([0, 1, 1], both)
    with pytest.raises(ValueError, match="var_name='q' is in none of the groups"):
        bs.score([0, 1, 1], both, var_name="q")
    with pytest.raises(TypeError, match="apply to DataTree input"):
        bs.score([0, 1], [[0.5, 0.5], [0.5, 0.5]], var_name="p")
    assert as_probability_input(both, var_name="p", group="posterior").dims[-1] == "class"
