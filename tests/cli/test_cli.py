"""The CLI parses, calls the public API and prints: its outputs equal the API's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bayescore as bs
from bayescore.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "iris.nc"
    result = runner.invoke(
        app,
        [
            "fit",
            "--dataset",
            "iris",
            "--kind",
            "softmax",
            "--method",
            "advi",
            "--draws",
            "100",
            "--out",
            str(path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 classes" in result.output
    return path


def test_predict_writes_the_api_probabilities(model_file, tmp_path):
    out = tmp_path / "pred.csv"
    result = runner.invoke(
        app, ["predict", str(model_file), "--dataset", "iris", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    clf, ds = bs.load(model_file), bs.load_dataset("iris")
    np.testing.assert_allclose(
        frame[list(clf.classes_)].values, clf.predict_proba(ds.X), rtol=1e-12
    )
    assert (frame["prediction"].values == clf.predict(ds.X)).all()


def test_score_and_diagnose_print_api_values(model_file):
    clf, ds = bs.load(model_file), bs.load_dataset("iris")
    result = runner.invoke(app, ["score", str(model_file), "--dataset", "iris"])
    assert result.exit_code == 0, result.output
    scores = bs.score(ds.y, clf.predict_proba_draws(ds.X))
    # One row per score, "value ± SE": the SE to 2 significant digits, the value to match.
    row = next(line.split() for line in result.output.splitlines() if line.startswith("nll "))
    assert row[0] == "nll" and row[2] == "±"
    value, se = float(row[1]), float(row[3])
    decimals = len(row[3].split(".")[1])
    assert value == pytest.approx(float(scores["nll"]), abs=0.5 * 10**-decimals)
    assert se == pytest.approx(float(scores["nll_se"]), rel=0.06)
    assert not any(line.startswith("nll_se") for line in result.output.splitlines())
    result = runner.invoke(app, ["diagnose", str(model_file)])
    assert result.exit_code == (0 if bs.diagnose(clf).ok else 1)
    assert "elbo_converged" in result.output


def test_compare_csv_and_errors(model_file, tmp_path):
    ds = bs.load_dataset("iris")
    csv = tmp_path / "iris.csv"
    ds.X.assign(species=ds.y).to_csv(csv, index=False)
    result = runner.invoke(
        app,
        [
            "compare",
            str(model_file),
            str(model_file),
            "--data",
            str(csv),
            "--target",
            "species",
            "--name",
            "iris a",
            "--name",
            "iris b",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "iris" in result.output
    bad = runner.invoke(app, ["score", str(model_file), "--data", str(csv), "--target", "kind"])
    assert bad.exit_code != 0 and "not a column" in bad.output
    both = runner.invoke(app, ["score", str(model_file), "--data", str(csv), "--dataset", "iris"])
    assert both.exit_code != 0 and "exactly one" in both.output
