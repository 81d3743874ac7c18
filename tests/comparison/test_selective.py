"""selective_risk: risk-coverage curves, AURC and AUGRC against computations by hand."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import bayescore as bs


@pytest.fixture(scope="module")
def draws():
    """Posterior draws (2 chains x 40 draws, 150 rows, 3 classes) with real spread."""
    rng = np.random.default_rng(0)
    n = 150
    y = rng.integers(0, 3, n)
    logits = rng.normal(0, 1.5, (n, 3)) + 1.5 * np.eye(3)[y]
    noise = rng.normal(0, rng.uniform(0.1, 1.5, (n, 1)), (2, 40, n, 3))
    z = logits + noise
    p = np.exp(z - z.max(-1, keepdims=True))
    return y, p / p.sum(-1, keepdims=True)


def _by_hand(y, p, by, score):
    """Measures, scores, order and curves written from the definitions (SPEC §3)."""
    flat = p.reshape(-1, *p.shape[-2:])
    mean = flat.mean(axis=0)
    n = y.size

    def entropy(q):
        return -np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0), axis=-1)

    total = entropy(mean)
    aleatoric = entropy(flat).mean(axis=0)
    measure = {
        "total": total,
        "aleatoric": aleatoric,
        "epistemic": np.maximum(total - aleatoric, 0.0),
        "max_prob": mean.max(axis=1),
    }[by]
    s = {
        "nll": -np.log(mean[np.arange(n), y]),
        "brier": ((mean - np.eye(p.shape[-1])[y]) ** 2).sum(axis=1),
        "zero_one": (mean.argmax(axis=1) != y).astype(float),
    }[score]
    order = np.argsort(-measure if by == "max_prob" else measure, kind="stable")
    ranked = s[order]
    k = np.arange(1, n + 1)
    risk = np.cumsum(ranked) / k
    generalized = np.cumsum(ranked) / n
    return s, measure, order, risk, generalized


@pytest.mark.parametrize("score", ["nll", "brier", "zero_one"])
@pytest.mark.parametrize("by", ["total", "epistemic", "aleatoric", "max_prob"])
@pytest.mark.parametrize("kind", ["probabilities", "draws"])
def test_curves_and_areas_equal_a_computation_by_hand(draws, by, score, kind):
    y, p = draws
    if kind == "probabilities":
        if by == "epistemic":
            with pytest.raises(ValueError, match="by='epistemic' needs posterior draws"):
                bs.selective_risk(y, p.mean(axis=(0, 1)), by=by, score=score)
            return
        p = p.mean(axis=(0, 1))
    sr = bs.selective_risk(y, p, by=by, score=score)
    s, measure, order, risk, generalized = _by_hand(y, p, by, score)
    np.testing.assert_allclose(sr["risk"].values, risk, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sr["generalized_risk"].values, generalized, rtol=1e-12, atol=1e-12)
    assert float(sr["aurc"]) == pytest.approx(risk.mean(), rel=1e-12, abs=1e-12)
    assert float(sr["augrc"]) == pytest.approx(generalized.mean(), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(sr["score"].values, s, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sr["uncertainty"].values, measure, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sr["threshold"].values, measure[order], rtol=1e-12, atol=1e-12)
    # The oracle sorts by the score itself; random order has the flat expected curve.
    oracle = np.cumsum(np.sort(s)) / np.arange(1, y.size + 1)
    assert float(sr["aurc_oracle"]) == pytest.approx(oracle.mean(), rel=1e-12, abs=1e-12)
    assert float(sr["aurc_random"]) == pytest.approx(s.mean(), rel=1e-12)
    assert float(sr["aurc_oracle"]) <= float(sr["aurc"]) + 1e-12
    assert float(sr["mean_score"]) == pytest.approx(risk[-1], rel=1e-12)


def test_random_baseline_is_the_mean_over_random_orders(draws):
    y, p = draws
    sr = bs.selective_risk(y, p, score="brier")
    s = sr["score"].values
    rng = np.random.default_rng(1)
    n = s.size
    perms = np.array([s[rng.permutation(n)] for _ in range(4000)])
    aurc = (np.cumsum(perms, axis=1) / np.arange(1, n + 1)).mean(axis=1)
    augrc = (np.cumsum(perms, axis=1) / n).mean(axis=1)
    for area, sim in (("aurc", aurc), ("augrc", augrc)):
        mc_se = sim.std() / np.sqrt(sim.size)
        assert abs(float(sr[f"{area}_random"]) - sim.mean()) < 4 * mc_se


@pytest.mark.parametrize("area", ["aurc", "augrc"])
def test_influence_function_se_agrees_with_a_bootstrap_over_rows(area):
    rng = np.random.default_rng(2)
    n = 600
    y = rng.integers(0, 2, n)
    p1 = 1 / (1 + np.exp(-(rng.normal(0, 2, n) + 1.5 * (2 * y - 1))))
    probs = np.stack([1 - p1, p1], axis=1)
    sr = bs.selective_risk(y, probs, by="max_prob", score="nll")
    # Reference: 1000 bootstrap resamples of rows, each scored by the definition.
    boots = np.empty(1000)
    conf, s = probs.max(axis=1), -np.log(probs[np.arange(n), y])
    for b in range(boots.size):
        rows = rng.integers(0, n, n)
        ranked = s[rows][np.argsort(-conf[rows], kind="stable")]
        curve = np.cumsum(ranked) / (np.arange(1, n + 1) if area == "aurc" else n)
        boots[b] = curve.mean()
    # Measured: IF SE / bootstrap SE = 0.980 (aurc) and 0.986 (augrc).
    assert float(sr[f"{area}_se"]) == pytest.approx(boots.std(ddof=1), rel=0.12)


def test_posterior_interval_is_over_draws_on_the_fixed_order(draws):
    y, p = draws
    sr = bs.selective_risk(y, p, by="total", score="nll", level=0.8)
    _, _, order, _, _ = _by_hand(y, p, "total", "nll")
    flat = p.reshape(-1, *p.shape[-2:])
    per_draw = -np.log(flat[:, np.arange(y.size), y])[:, order]  # each draw's own NLL
    curves = np.cumsum(per_draw, axis=1) / np.arange(1, y.size + 1)
    lo, hi = np.quantile(curves.mean(axis=1), [0.1, 0.9])
    assert float(sr["aurc_lower"]) == pytest.approx(lo, rel=1e-12)
    assert float(sr["aurc_upper"]) == pytest.approx(hi, rel=1e-12)
    np.testing.assert_allclose(sr["risk_lower"], np.quantile(curves, 0.1, axis=0), rtol=1e-12)
    gen = (np.cumsum(per_draw, axis=1) / y.size).mean(axis=1)
    assert float(sr["augrc_upper"]) == pytest.approx(np.quantile(gen, 0.9), rel=1e-12)
    # A single draw scores worse than the posterior predictive (Jensen): the NLL band
    # sits above the posterior predictive curve at full coverage.
    assert float(sr["risk_lower"][-1]) > float(sr["risk"][-1])
    assert "interval" in sr.attrs and sr.attrs["n_draws"] == 80


def test_dataarray_input_keeps_obs_coords_and_labels_match_by_value(draws):
    y, p = draws
    labels = np.array(["c", "a", "b"])
    da = xr.DataArray(
        p,
        dims=("chain", "draw", "obs", "class"),
        coords={"obs": np.arange(100, 100 + y.size), "class": labels},
    )
    sr = bs.selective_risk(labels[y], da, by="max_prob", score="zero_one")
    plain = bs.selective_risk(y, p, by="max_prob", score="zero_one")
    assert sr["obs"].values.tolist() == list(range(100, 100 + y.size))
    np.testing.assert_array_equal(sr["risk"].values, plain["risk"].values)
    assert float(sr["aurc"]) == float(plain["aurc"])


def test_a_perfect_uncertainty_ranking_is_the_oracle():
    # Certain rows are right, uncertain rows wrong: abstaining by uncertainty is optimal.
    y = np.array([0, 0, 1, 1, 0, 1])
    p1 = np.array([0.02, 0.05, 0.97, 0.9, 0.6, 0.45])
    sr = bs.selective_risk(y, p1, by="max_prob", score="zero_one")
    assert sr["risk"].values.tolist() == [0, 0, 0, 0, 0.2, 2 / 6]
    assert float(sr["aurc"]) == pytest.approx(float(sr["aurc_oracle"]), abs=1e-15)


def test_compare_ranks_models_by_aurc_with_paired_pseudo_values(draws):
    y, p = draws
    flat = p.mean(axis=(0, 1))
    worse = 0.5 * flat + 0.5 / 3  # shrunk towards uniform: the same order, higher risk
    table = bs.compare(
        {"draws": p, "shrunk": worse}, y, metrics=("nll", "aurc"), aurc_by="max_prob"
    )
    for name, model in (("draws", p), ("shrunk", worse)):
        sr = bs.selective_risk(y, model, by="max_prob")
        assert float(table.sel(model=name)["aurc"]) == pytest.approx(float(sr["aurc"]))
        assert float(table.sel(model=name)["aurc_se"]) == pytest.approx(float(sr["aurc_se"]))

    # Pseudo-values by hand (module formula): v_i = s_i w_i - sum_{j>=i} s_j / j + mean(s).
    def pseudo(model):
        sr = bs.selective_risk(y, model, by="max_prob")
        s, u = sr["score"].values, sr["uncertainty"].values
        order = np.argsort(-u, kind="stable")
        r = s[order]
        k = np.arange(1, r.size + 1)
        w = np.cumsum((1 / k)[::-1])[::-1]
        v = r * w - np.cumsum((r / k)[::-1])[::-1] + r.mean()
        out = np.empty_like(v)
        out[order] = v
        return out

    d = pseudo(worse) - pseudo(p)
    row = table.sel(model="shrunk")
    assert float(row["d_aurc"]) == pytest.approx(d.mean(), rel=1e-9)
    assert float(row["d_aurc_se"]) == pytest.approx(d.std() / np.sqrt(d.size), rel=1e-9)
    assert table.attrs["aurc"] == "by=max_prob, score=nll"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"by": "entropy"}, ValueError, "'by' parameter of selective_risk must be one of"),
        ({"score": "log"}, ValueError, "'score' parameter of selective_risk must be one of"),
        ({"level": 1.0}, ValueError, "'level' parameter of selective_risk"),
        ({"var_name": "p"}, TypeError, "var_name= and group= of selective_risk apply"),
        ({"y": [0, 5]}, ValueError, "class index 5"),
        ({"probs_or_draws": [[0.5, 0.6], [0.5, 0.5]]}, ValueError, "must sum to 1"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    args = {"y": [0, 1], "probs_or_draws": [[0.5, 0.5], [0.2, 0.8]], **kwargs}
    with pytest.raises(error, match=match):
        bs.selective_risk(**args)


def test_risk_coverage_plot_draws_what_selective_risk_computed(draws):
    y, p = draws
    sr = bs.selective_risk(y, p, by="epistemic", score="zero_one")
    ax = bs.risk_coverage_plot({"posterior": sr})
    lines = {line.get_label(): line for line in ax.get_lines()}
    model = lines[f"posterior (AURC {float(sr['aurc']):.3g})"]
    np.testing.assert_array_equal(model.get_ydata(), sr["risk"].values)
    np.testing.assert_array_equal(model.get_xdata(), sr["coverage"].values)
    oracle = next(v for k, v in lines.items() if k.startswith("oracle"))
    np.testing.assert_array_equal(oracle.get_ydata(), sr["risk_oracle"].values)
    assert len(ax.collections) == 1  # the band over draws
    gen = bs.risk_coverage_plot(sr, generalized=True, baselines=False)
    assert len(gen.get_lines()) == 1
    np.testing.assert_array_equal(gen.get_lines()[0].get_ydata(), sr["generalized_risk"])
