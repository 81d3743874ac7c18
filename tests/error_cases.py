"""Rejected inputs for docs/errors.md: the calls, and the names they run with.

``python tests/error_cases.py`` (re)writes ``docs/errors.md`` by running every call; the test
``test_errors_table.py`` reads that file back and checks every message is still exact.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, ShuffleSplit

import bayescore as bs

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "errors.md"
#: bayescore's own warnings: a row may document a warning (shown by its category).
WARNINGS = (
    bs.ConvergenceWarning,
    bs.ComparisonWarning,
    bs.CalibrationWarning,
    bs.ParetoKWarning,
)


def _edit_file(source: Path, target: Path, edit: Callable[[xr.DataTree], None]) -> None:
    with xr.open_datatree(source, engine="h5netcdf") as opened:
        tree = opened.load().copy()
    edit(tree)
    tree.to_netcdf(target, engine="h5netcdf", mode="w")


def _permute_classes(tree: xr.DataTree) -> None:
    const = tree["constant_data"].to_dataset()
    const["classes"] = ("class", const["classes"].values[[1, 0, 2]])
    tree["constant_data"] = xr.DataTree(const)


def _reverse_feature_names(tree: xr.DataTree) -> None:
    names = json.loads(tree["posterior"].attrs["bayescore_feature_names_in"])
    tree["posterior"].attrs["bayescore_feature_names_in"] = json.dumps(names[::-1])


def _drop_coef_original(tree: xr.DataTree) -> None:
    tree["posterior"] = xr.DataTree(tree["posterior"].to_dataset().drop_vars("coef_original"))


def _fewer_features(tree: xr.DataTree) -> None:
    tree["posterior"] = xr.DataTree(tree["posterior"].to_dataset().isel(feature=[0]))


def model_files(X: np.ndarray) -> Path:
    """A directory of model files whose parts disagree (each made from one good file)."""
    directory = Path(tempfile.mkdtemp(prefix="bayescore-error-cases-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    y3 = np.array(["a", "b", "c"])[np.arange(X.shape[0]) % 3]
    frame = pd.DataFrame(X, columns=["x0", "x1"])
    good = bs.BayesianSoftmaxClassifier(method="laplace", draws=20, fit_kwargs={"warn": False})
    source = bs.save(good.fit(frame, y3), directory / "good.nc")
    edits = {
        "classes_permuted.nc": _permute_classes,
        "names_reversed.nc": _reverse_feature_names,
        "no_coef_original.nc": _drop_coef_original,
        "one_feature.nc": _fewer_features,
    }
    for name, edit in edits.items():
        _edit_file(source, directory / name, edit)
    return directory


def in_dir(directory: Path) -> Callable[[Callable[[], object]], object]:
    """``in_files(f)``: call ``f`` in ``directory``, so messages show short file names."""

    def call(f: Callable[[], object]) -> object:
        with contextlib.chdir(directory):
            return f()

    return call


def namespace() -> dict[str, object]:
    """The names the calls in the table may use."""
    rng = np.random.default_rng(0)
    draws = xr.DataArray(
        rng.dirichlet([1.0, 1.0, 1.0], size=(2, 5, 4)),
        dims=("chain", "draw", "obs", "class"),
        coords={"class": ["a", "b", "c"]},
    )
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)
    p_dims = ("chain", "draw", "obs_id", "cls")
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"p": (p_dims, draws.values)}),
            "predictions": xr.Dataset({"p": (p_dims, draws.values)}),
            "log_likelihood": xr.Dataset({"y": (p_dims[:3], np.log(draws.values[..., 0]))}),
        }
    )
    quiet = {"warn": False}
    import dask.array as da

    fit30 = bs.BayesianLogisticClassifier(method="laplace", draws=10, fit_kwargs=quiet)
    return {
        "bs": bs,
        "np": np,
        "pd": pd,
        "xr": xr,
        "LR": LogisticRegression,
        "ShuffleSplit": ShuffleSplit,
        "KFold": KFold,
        "lr": LogisticRegression().fit(X, y),
        "fitted": bs.BayesianLogisticClassifier(method="laplace", draws=20, fit_kwargs=quiet).fit(
            X, y
        ),
        "in_files": in_dir(model_files(X)),
        "obs": {"obs": [10, 11, 12, 13]},
        "da": da,
        "fit30": fit30.fit(X, y),
        "p": np.array([[0.8, 0.2], [0.3, 0.7]]),
        "y": np.array([0, 1]),
        "draws": draws,
        "X": X,
        "y30": y,
        # Posterior T: random forecasts give the point fit no finite optimum (it warns).
        "ts3": bs.TemperatureScaling(posterior=True).fit(
            rng.dirichlet([1, 1, 1], size=20), rng.integers(0, 3, 20)
        ),
        "iso3": bs.IsotonicCalibration().fit(
            rng.dirichlet([1, 1, 1], size=20), rng.integers(0, 3, 20)
        ),
        "Logistic": bs.BayesianLogisticClassifier,
        "Softmax": bs.BayesianSoftmaxClassifier,
        "fit_kw": {"warn": False, "draws": 10},
        "tree": tree,
        "square": xr.DataTree.from_dict(
            {
                "posterior": xr.Dataset(
                    {"p": (("chain", "draw", "u", "v"), np.full((1, 2, 2, 2), 0.5))}
                )
            }
        ),
    }


CALLS = [
    # ----------------------------------------------------------- probabilities
    "bs.log_loss(y, [[0.8, 0.3], [0.3, 0.7]])",
    "bs.log_loss(y, [[1.2, -0.2], [0.3, 0.7]])",
    "bs.log_loss(y, [[np.nan, 0.2], [0.3, 0.7]])",
    "bs.log_loss(y, [[np.inf, 0.2], [0.3, 0.7]])",
    "bs.log_loss(y, [1.5, 0.5])",
    "bs.log_loss(y, [['a', 'b'], ['c', 'd']])",
    "bs.log_loss(y, [[1 + 2j, 0], [0.3, 0.7]])",
    "bs.log_loss(y, np.empty((0, 2)))",
    "bs.log_loss([0, 1, 1], p)",
    "bs.log_loss([0, 2], p)",
    "bs.log_loss([0, -1], p)",
    "bs.log_loss([0.5, 1], p)",
    "bs.log_loss([[0, 1]], p)",
    "bs.log_loss(y, p, eps=0.7)",
    "bs.log_loss(y, p, eps=-1)",
    "bs.log_loss(y, p, eps='tiny')",
    "bs.log_loss(y, p, base=1)",
    "bs.log_loss(y, p, base=-2)",
    "bs.log_loss(y, p, sample_weight=[1.0, -1.0])",
    "bs.log_loss(y, p, sample_weight=[0.0, 0.0])",
    "bs.log_loss(y, p, sample_weight=[1.0])",
    "bs.nll_from_logits(y, [[np.nan, 0.0], [0.0, 1.0]])",
    "bs.brier_score(y, [[0.5, 0.6], [0.3, 0.7]])",
    "bs.spherical_score(y, [[-0.5, 1.5], [0.3, 0.7]])",
    # ------------------------------------------------------------- labels
    "bs.log_loss(['a', 'b'], p)",
    "bs.log_loss(['neg', 'pos'], p, labels=['neg', 'POS'])",
    "bs.log_loss(['a', 'b'], p, labels=['a', 'a'])",
    "bs.log_loss(['a', 'b'], p, labels=['a', 'b', 'c'])",
    "bs.posterior_predictive_nll(['a', 'b', 'd', 'a'], draws)",
    "bs.posterior_predictive_nll([0, 1, 2, 0], draws.assign_coords({'class': [1, 2, 3]}))",
    "bs.posterior_predictive_nll(['a', 'b', 'c', 'a'], draws, labels=['c', 'b', 'a'])",
    "bs.class_prior_baseline(['a', 'b'], ['a', 'z'], labels=['a', 'b'])",
    "bs.score(['a', 'b'], p, labels=['a', 'b'], y_train=[0, 1])",
    # rows are matched by label when y and the forecast both name them
    "bs.log_loss(pd.Series(y, index=[1, 2]), pd.DataFrame(p, index=[1, 3]))",
    "bs.log_loss(pd.Series(y, index=[1, 1]), pd.DataFrame(p, index=[1, 2]))",
    "bs.score(xr.DataArray(['a', 'b', 'c', 'a'], dims='obs', coords=obs), "
    "draws.assign_coords(obs=[10, 11, 12, 12]))",
    "bs.score(xr.DataArray(['a', 'b', 'c', 'a'], dims='obs', coords={'obs': [13, 12, 11, 9]}), "
    "draws.assign_coords(obs))",
    "bs.compare({'a': draws.assign_coords(obs), 'b': draws.assign_coords(obs).isel(obs=[3, 2, 1, "
    "0])}, ['a', 'b', 'c', 'a'])",
    "bs.TemperatureScaling().fit(xr.DataArray(p, dims=('obs', 'class'), coords={'obs': [1, 2]}), "
    "pd.Series(y, index=[2, 5]))",
    "bs.label_smoothing_nll(y, p, alpha=1.5)",
    "bs.focal_loss(y, p, gamma=-1)",
    "bs.uniform_baseline(0)",
    # ---------------------------------------------------------------- draws
    "bs.posterior_predictive_nll([0, 1], np.ones((3, 2, 2)))",
    "bs.posterior_predictive_nll([0, 1, 2, 0], draws.rename({'class': 'k'}))",
    "bs.uncertainty_decomposition(np.full((2, 3, 2), 0.7))",
    "bs.score([0, 1], np.full((2, 2, 3), 0.5))",
    # ---------------------------------------------------------- calibration
    "bs.expected_calibration_error(y, p, n_bins=0)",
    "bs.expected_calibration_error(y, p, n_bins=2.5)",
    "bs.expected_calibration_error(y, p, strategy='equal')",
    "bs.reliability_table(y, p, level=1.5)",
    "bs.maximum_calibration_error(y, p, n_bins=-3)",
    "bs.bootstrap_calibration_error(y, p, n_boot=1)",
    "bs.TemperatureScaling(input='scores').fit(p, y)",
    "ts3.transform(p)",
    "iso3.transform(p)",
    "bs.PlattScaling().fit(np.full((2, 3), 1 / 3), y)",
    "bs.TemperatureScaling().transform(p)",
    "bs.TemperatureScaling(posterior='yes').fit(p, y)",
    "bs.TemperatureScaling(posterior=True, n_draws=0).fit(p, y)",
    "bs.TemperatureScaling(posterior=True, prior_scale=0).fit(p, y)",
    "bs.TemperatureScaling(posterior=True, n_grid=3).fit(p, y)",
    "bs.TemperatureScaling(posterior=True, random_state=-1).fit(p, y)",
    "bs.TemperatureScaling().fit(p * 0.99, y)",
    "bs.TemperatureScaling(input='probs').fit(p * 0.99, y)",
    "bs.CalibratedBayesianClassifier(method='beta').fit(X, y30)",
    # ----------------------------------------------------------- estimators
    "Logistic(target_accept=1.5).fit(X, y30)",
    "Logistic(target_accept=0).fit(X, y30)",
    "Logistic(draws=0).fit(X, y30)",
    "Logistic(draws=10.5).fit(X, y30)",
    "Logistic(chains=0).fit(X, y30)",
    "Logistic(method='hmc').fit(X, y30)",
    "Logistic(prior_scale=-1).fit(X, y30)",
    "Logistic(prior='laplace').fit(X, y30)",
    "Logistic(sampler='stan').fit(X, y30)",
    "Logistic(cores=0).fit(X, y30)",
    "Logistic(batch_size=0).fit(X, y30)",
    "Logistic(fit_kwargs=[1]).fit(X, y30)",
    "Logistic(method='advi', fit_kwargs={'bogus': 1}).fit(X, y30)",
    "Logistic(method='pathfinder', fit_kwargs={'max_iter': 0}).fit(X, y30)",
    "Softmax(coding='effects').fit(X, y30)",
    "Logistic().fit(X, np.arange(30) % 3)",
    "Logistic().fit(X, np.zeros(30))",
    "Logistic().fit(X, np.where(y30 == 1, 'a', None))",
    "Logistic().fit(X, np.array(['a', 1] * 15, dtype=object))",
    "Logistic().fit(np.where(X > 1.5, np.nan, X), y30)",
    "Logistic().fit(X[:4, 0], y30[:4])",
    "Logistic().predict(X)",
    # ----------------------------------------------------------- lower level
    "bs.build_model(X, y30, kind='probit')",
    "bs.build_model(X, y30, prior_scale=0)",
    "bs.build_model(X, y30, kind='softmax', coding='zerosum', prior='student_t')",
    "bs.build_model(X, y30[:10])",
    "bs.fit(bs.build_model(X, y30), method='gibbs', warn=False)",
    "bs.fit(bs.build_model(X, y30), draws=0, warn=False)",
    "bs.fit(bs.build_model(X, y30), target_accept=1.5, **fit_kw)",
    "bs.fit(bs.build_model(X, y30), bogus=1, **fit_kw)",
    "bs.fit(bs.build_model(X, y30), 'advi', learning_rate=-1, **fit_kw)",
    "bs.fit(bs.build_model(X, y30), 'pathfinder', num_paths=0, **fit_kw)",
    "bs.fit(bs.build_model(X, y30), 'pathfinder', history_size=2.5, **fit_kw)",
    "bs.fit(bs.build_model(X, y30), 'pathfinder', num_elbo_draws=0, **fit_kw)",
    "bs.fit(bs.build_model(X, y30), 'pathfinder', learning_rate=0.1, **fit_kw)",
    "bs.fit(bs.build_model(X, y30), 'laplace', n_mc=1, **fit_kw)",
    "bs.fit(bs.build_model(X, y30, kind='softmax', coding='zerosum'), 'pathfinder', **fit_kw)",
    "bs.fit(bs.build_model(X, y30, kind='softmax', coding='zerosum'), 'laplace', **fit_kw)",
    "bs.predict_proba_draws({'not': 'a fit'}, X)",
    "bs.diagnose({'posterior': 1})",
    "bs.fit(bs.build_model(X, y30), draws=2, tune=20, random_seed=0)",
    "bs.load('missing.nc')",
    "in_files(lambda: bs.load('classes_permuted.nc'))",
    "in_files(lambda: bs.load('names_reversed.nc'))",
    "in_files(lambda: bs.load('no_coef_original.nc'))",
    "in_files(lambda: bs.load('one_feature.nc'))",
    "bs.save({'not': 'a model'}, 'x.nc')",
    "bs.save(fitted, '')",
    "fitted.save(3)",
    "bs.load_dataset('titanic')",
    "bs.compare({}, y)",
    "bs.compare({'a': p, 'b': np.full((3, 2), 0.5)}, y)",
    "bs.compare({'a': p}, y, metrics=('nll', 'auc'))",
    "bs.compare({'a': p}, y, metrics=('brier', 'brier'))",
    "bs.compare({'a': p}, y, n_boot=1)",
    "bs.compare({'a': p}, y, random_seed=-1)",
    "bs.compare({1: p, '1': p}, y)",
    "bs.compare({'lr': lr}, y30, X, labels=[1, 0])",
    "bs.compare({'a': [[1.0, 0.0], [0.3, 0.7]], 'b': [[1.0, 0.0], [0.4, 0.6]]}, [1, 1])",
    "bs.compare({'a': p}, y, var_name='p')",
    "bs.compare({'t': tree}, [0, 1, 2, 0])",
    # ------------------------------------------------ any model's posterior (DataTree)
    "bs.score(y, p, var_name='p')",
    "bs.score([0, 1, 2, 0], tree, var_name='p')",
    "bs.score([0, 1, 2, 0], tree, var_name='q')",
    "bs.score([0, 1, 2, 0], tree, var_name='p', group='prior')",
    "bs.score([0, 1], square, var_name='p')",
    "bs.score([0, 1], tree, var_name='p', group='posterior')",
    "bs.loo(tree, var_name='p')",
    "bs.loo(tree, y=[0, 1, 2, 0])",
    "bs.loo(np.ones(3))",
    "bs.loo(fitted)",
    "bs.cross_validate([], X, y30)",
    # ------------------------------------------------------------------ CORP
    "bs.reliability_table(y, p, strategy='isotonic')",
    "bs.reliability_table(y, p, strategy='pav', n_resamples=1)",
    "bs.reliability_table(y, p, strategy='pav', n_resamples=10.5)",
    "bs.score_decomposition(y, p, score='crps')",
    "bs.score_decomposition(y, p, multiclass='one-vs-rest')",
    "bs.score_decomposition(y, draws, level=1.0)",
    "bs.score_decomposition(['a', 'b', 'z', 'a'], draws)",
    # ------------------------------------------------------------ cross-check
    "bs.nll_crosscheck(object(), X, y30)",
    "bs.nll_crosscheck(Logistic(), X, y30, cv=1)",
    "bs.nll_crosscheck(Logistic(), X, y30, cv=2.5)",
    "bs.nll_crosscheck(Logistic(), X, y30, X_test=X)",
    "bs.nll_crosscheck(Logistic(), X, y30, z_max=0)",
    "bs.nll_crosscheck(Logistic(), X, y30, pareto_k_max=-1)",
    "bs.nll_crosscheck(Logistic(), X, y30, cv=ShuffleSplit(3, test_size=0.5, random_state=0))",
    "bs.cross_validate({'lr': LR()}, X, y30, cv='5')",
    "bs.cross_validate({'lr': LR()}, X, y30, cv=ShuffleSplit(3, test_size=0.5, random_state=0))",
    "bs.cross_validate({'lr': LR()}, X, y30, cv=[(np.arange(20), np.arange(15, 30))])",
    "bs.cross_validate({'lr': LR()}, X, np.where(np.arange(30) == 17, 2, y30), cv=KFold(3, "
    "shuffle=True, random_state=0))",
    "bs.cross_validate({'lr': LR()}, X, y30, random_state=-1)",
    "bs.cross_validate({1: LR(), '1': LR()}, X, y30)",
    # ---------------------------------------------------------------- report
    "bs.report({}, X, y30, 'r.html')",
    "bs.report({'a': p}, X, y30, 'r.html')",
    "bs.report({1: Logistic()}, X, y30, 'r.html')",
    "bs.report(Logistic(), X, y30, 'r.html')",
    "bs.report({'a': Logistic()}, X, y30, 'r.html', level=1.5)",
    # ------------------------------------------- selective risk, decisions, LOO refits
    "bs.selective_risk(y, p, by='entropy')",
    "bs.selective_risk(y, p, score='log')",
    "bs.selective_risk(y, p, by='epistemic')",
    "bs.decide(p, [[0, 1, 2], [1, 0, 2]])",
    "bs.decide(p, [[0, 1], [1, 0]], abstain_cost=np.inf)",
    "bs.compare({'a': p}, y, metrics=('nll', 'aurc'), aurc_by='epistemic')",
    "bs.loo(tree, reloo=True)",
    "bs.loo(tree, k_threshold=np.nan)",
    "bs.nll_crosscheck(Logistic(), X, y30, max_refits=-1)",
    # ------------------------------------------- prediction: draws=, dtype=, a Dask X
    "fit30.predict_proba_draws(X, draws=0)",
    "fit30.predict_proba_draws(X, draws=[3, 3])",
    "bs.predict_proba_draws(fit30, X, dtype=np.int32)",
    "fit30.predict_proba(da.from_array(X)[da.from_array(X)[:, 0] > 0])",
    "fit30.score(da.from_array(X, chunks=10), y30[:20])",
    "fit30.predict(da.from_array(X[:, :1]))",
]


def run(call: str, ns: dict[str, object]) -> str:
    """``"ExceptionType: message"`` of a call that must fail, or warn with one of WARNINGS."""
    try:
        with warnings.catch_warnings():
            for category in WARNINGS:
                warnings.simplefilter("error", category)
            eval(call, dict(ns))  # noqa: S307 - the calls are this file's own literals
    except Exception as exc:  # noqa: BLE001 - every rejection is recorded
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError(f"{call} did not raise")


def _cell(text: str) -> str:
    # Escaped so Markdown reads messages literally: "|" ends a cell, "[x]" is a link.
    text = " ".join(text.split())
    for char in "\\|[]*_<":
        text = text.replace(char, "\\" + char)
    return text


def write_table() -> None:
    """Write docs/errors.md from the calls above."""
    ns = namespace()
    lines = [
        "# Errors: what bayescore rejects, and what it says",
        "",
        "Every call below is refused with the message shown (exactly: the test suite runs",
        "each call and compares), or warned about with it (a row naming a warning category:",
        "the call returns a doubtful result). Messages name the argument, show the bad value",
        "and say how to fix it. Names used: `p = [[0.8, 0.2], [0.3, 0.7]]`, `y = [0, 1]`,",
        "`draws` a DataArray `(chain, draw, obs, class)` with classes `a, b, c` and 4",
        "observations,",
        "`X` (30 x 2) and `y30` (0/1 labels), `ts3`/`iso3` recalibrators fitted on 3 classes,",
        "`Logistic`/`Softmax` the two estimators, `fit_kw = {'warn': False, 'draws': 10}`,",
        "`tree` a DataTree holding `draws` as `p` (dims `chain, draw, obs_id, cls`) in its",
        "`posterior` and `predictions` groups and `log_likelihood` group `y`, `square` one",
        "with `p` of 0.5 on dims `chain, draw, u, v` (2 x 2: rows sum to 1 both ways),",
        "`obs = {'obs': [10, 11, 12, 13]}`, `lr` scikit-learn's LogisticRegression (`LR`)",
        "fitted on `X, y30`, `fitted` a Laplace `Logistic` fit with 20 draws, and",
        "`in_files(f)` calling `f` in a directory of model files edited so that their parts",
        "disagree (from a 3-class `Softmax` fit on a DataFrame with columns `x0, x1`),",
        "`fit30` a Laplace `Logistic` fit (10 draws) of `X, y30` and `da` `dask.array`.",
        "Regenerate with `python tests/error_cases.py`.",
        "",
        "| # | call | raises |",
        "|---|---|---|",
    ]
    for i, call in enumerate(CALLS, 1):
        lines.append(f"| {i} | `{call}` | {_cell(run(call, ns))} |")
    # The "Command line" section is tests/cli/test_cli_errors.py's: kept as it is.
    old = TABLE.read_text() if TABLE.exists() else ""
    cli = old[old.index("\n## Command line\n") :] if "\n## Command line\n" in old else ""
    TABLE.write_text("\n".join(lines) + "\n" + cli)


if __name__ == "__main__":
    write_table()
    print(f"wrote {len(CALLS)} rows to {TABLE}")
