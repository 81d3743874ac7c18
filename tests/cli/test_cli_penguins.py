"""A user's own CSV end to end: the Palmer penguins through fit -> compare -> report.

The table (``palmerpenguins.load_penguins()``, 344 penguins of 3 species) has text columns
(``island``, ``sex``) and missing values, as users' tables do. Only the command line is used
to choose columns (``--features``/``--drop``); two models fitted on different columns are
compared and reported from one test CSV, each taking its own columns. Every number printed
is checked against the Python API run on each model's own columns.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from rich.cells import cell_len
from sklearn.model_selection import train_test_split
from typer.testing import CliRunner

import bayescore as bs
from bayescore.cli import app

runner = CliRunner()
BILL = ["bill_length_mm", "bill_depth_mm"]
BODY = ["flipper_length_mm", "body_mass_g"]


def invoke(*args, code=0, env=None):
    result = runner.invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def penguins(tmp_path_factory):
    """The raw table as a CSV, and a train/test split of its complete rows."""
    root = tmp_path_factory.mktemp("penguins")
    raw = load_penguins()
    raw.to_csv(root / "penguins.csv", index=False)
    complete = raw.dropna().reset_index(drop=True)
    train, test = train_test_split(
        complete, test_size=0.4, random_state=0, stratify=complete["species"]
    )
    train.to_csv(root / "train.csv", index=False)
    test.to_csv(root / "test.csv", index=False)
    return root, raw


def test_text_and_missing_values_are_refused_naming_the_column_and_the_option(penguins):
    root, raw = penguins
    result = invoke("fit", "--data", root / "train.csv", "--target", "species", "--out",
                    root / "x.nc", code=1)  # fmt: skip
    assert re.fullmatch(
        r"error: columns 'island', 'sex' of train\.csv hold text \(e\.g\. '\w+', '\w+'\), not "
        r"numbers; bayescore models take numeric features\. Leave them out with --drop "
        r"island,sex, or encode them as numbers first\.",
        result.stderr.strip(),
    ), result.stderr
    # The raw table: rows 3 and 271 have no measurements at all.
    missing = np.flatnonzero(raw["bill_length_mm"].isna()).tolist()
    assert missing == [3, 271]
    result = invoke("fit", "--data", root / "penguins.csv", "--target", "species", "--drop",
                    "island,sex", "--out", root / "x.nc", code=1)  # fmt: skip
    assert result.stderr.strip() == (
        "error: column 'bill_length_mm' of penguins.csv has no value in rows 3, 271 (rows "
        "count from 0 below the header). Remove or fill those rows, or leave the column out "
        "with --drop bill_length_mm."
    )
    assert not (root / "x.nc").exists()


@pytest.fixture(scope="module")
def fitted(penguins):
    """Two models on different columns, chosen with --features and with --drop."""
    root, _ = penguins
    common = ["--data", root / "train.csv", "--target", "species", "--method", "laplace",
              "--draws", "200"]  # fmt: skip
    out = invoke("fit", *common, "--features", ",".join(BILL), "--out", root / "bill.nc")
    assert "3 classes, 2 features" in out.stdout
    out = invoke("fit", *common, "--drop", "island,sex,year,bill_length_mm,bill_depth_mm",
                 "--out", root / "body.nc")  # fmt: skip
    assert "3 classes, 2 features" in out.stdout
    return root


def test_models_remember_their_columns(fitted):
    assert bs.load(fitted / "bill.nc").feature_names_in_.tolist() == BILL
    assert bs.load(fitted / "body.nc").feature_names_in_.tolist() == BODY


def _api(root):
    """The comparison by the Python API, each model given only its own columns."""
    test = pd.read_csv(root / "test.csv")
    models = {"bill": bs.load(root / "bill.nc"), "body": bs.load(root / "body.nc")}
    draws = {n: m.predict_proba_draws(test[list(m.feature_names_in_)]) for n, m in models.items()}
    return bs.compare(draws, test["species"]), models, test


def test_compare_takes_each_models_columns_from_one_csv(fitted):
    table, _, _ = _api(fitted)
    args = ["compare", fitted / "bill.nc", fitted / "body.nc", "--data", fitted / "test.csv",
            "--target", "species"]  # fmt: skip
    out = json.loads(invoke(*args, "--json").stdout)
    assert [m["model"] for m in out["models"]] == table["model"].values.tolist()
    for row in out["models"]:
        for key in ("nll", "nll_se", "d_nll", "d_nll_se", "brier", "ece"):
            assert row[key] == pytest.approx(float(table[key].sel(model=row["model"])), rel=1e-9)
    # The default output: one table, at most 100 columns wide, on any terminal from 80 up.
    for columns in ("80", "100", "250"):
        text = invoke(*args, env={"COLUMNS": columns}).stdout
        assert max(cell_len(line) for line in text.splitlines()) <= min(100, int(columns))
        lines = text.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("model "))
        assert lines[header].split() == ["model", "NLL", "ΔNLL", "Brier", "ECE", "diag"]
        best, worse = table["model"].values
        first = lines[header + 2].split()
        assert first[0] == best and first[2] == "±" and first[4] == "best"
        half = 0.5 * 10 ** -len(first[3].split(".")[-1])  # the value is rounded like its SE
        assert float(first[1]) == pytest.approx(float(table["nll"].sel(model=best)), abs=half)
        row = next(line for line in lines if line.startswith(f"{worse} ")).split()
        assert float(row[4]) == pytest.approx(float(table["d_nll"].sel(model=worse)), abs=0.005)


def test_report_takes_each_models_columns_from_one_csv(fitted):
    _, models, test = _api(fitted)
    out = fitted / "penguins.html"
    invoke("report", fitted / "bill.nc", fitted / "body.nc", "--data", fitted / "test.csv",
           "--target", "species", "--out", out)  # fmt: skip
    html = out.read_text()
    for name, model in models.items():
        draws = model.predict_proba_draws(test[list(model.feature_names_in_)])
        nll = float(bs.score(test["species"], draws)["nll"])
        assert f'data-model="{name}" data-score="nll" data-value="{nll!r}"' in html


def test_predict_and_score_take_the_models_columns(fitted, tmp_path):
    _, models, test = _api(fitted)
    out = tmp_path / "p.csv"
    invoke("predict", fitted / "body.nc", "--data", fitted / "test.csv", "--out", out)
    frame = pd.read_csv(out)
    model = models["body"]
    np.testing.assert_allclose(
        frame[list(model.classes_)].to_numpy(), model.predict_proba(test[BODY]), rtol=1e-12
    )
    scored = json.loads(
        invoke("score", fitted / "bill.nc", "--data", fitted / "test.csv", "--target",
               "species", "--json").stdout
    )  # fmt: skip
    expected = bs.score(test["species"], models["bill"].predict_proba_draws(test[BILL]))
    assert scored["scores"]["nll"] == pytest.approx(float(expected["nll"]), rel=1e-12)
    # A model whose columns were dropped: one line naming them, no wrong --target hint.
    result = invoke("compare", fitted / "bill.nc", fitted / "body.nc", "--data",
                    fitted / "test.csv", "--target", "species", "--drop", "body_mass_g",
                    code=1)  # fmt: skip
    assert result.stderr.strip() == (
        "error: body.nc needs columns that test.csv lacks (or that were left out): "
        "['body_mass_g']; it was fitted on ['flipper_length_mm', 'body_mass_g']."
    )
    assert "--target" not in result.stderr


def test_columns_in_another_order_are_taken_by_name(fitted, tmp_path):
    """A CSV holding exactly a model's columns, in another order, still works by name."""
    _, models, test = _api(fitted)
    test[["species", *reversed(BODY)]].to_csv(tmp_path / "swapped.csv", index=False)
    test[list(reversed(BODY))].to_csv(tmp_path / "unlabelled.csv", index=False)
    invoke("predict", fitted / "body.nc", "--data", tmp_path / "unlabelled.csv", "--out",
           tmp_path / "p.csv")  # fmt: skip
    np.testing.assert_allclose(
        pd.read_csv(tmp_path / "p.csv")[list(models["body"].classes_)].to_numpy(),
        models["body"].predict_proba(test[BODY]),
        rtol=1e-12,
    )
    data = ["--data", tmp_path / "swapped.csv", "--target", "species", "--json"]
    out = json.loads(invoke("compare", fitted / "body.nc", *data).stdout)
    expected = bs.score(test["species"], models["body"].predict_proba_draws(test[BODY]))
    assert out["models"][0]["nll"] == pytest.approx(float(expected["nll"]), rel=1e-12)
