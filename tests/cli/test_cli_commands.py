"""Every CLI command end to end on CSV files of bundled data, checked against the Python API.

Fits are Laplace approximations (closed form, seeded draws: the CLI's numbers equal the
API's exactly) except one short nutpie run for the NUTS flags. ``--json`` output is parsed
and compared number by number; tables are checked on a narrow terminal (COLUMNS=60).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.model_selection import train_test_split
from typer.testing import CliRunner

import bayescore as bs
from bayescore.cli import app

runner = CliRunner()
QUIET = {"warn": False}


def invoke(*args, env=None, code=0):
    result = runner.invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def as_json(*args, code=0):
    return json.loads(invoke(*args, "--json", code=code).stdout)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Train / calibration / test CSVs of breast cancer (3 features) and two Laplace fits."""
    root = tmp_path_factory.mktemp("cli-commands")
    ds = bs.load_dataset("breast_cancer")
    X, y = ds.X.iloc[:, :3], ds.y.rename("label")
    X_fit, X_test, y_fit, y_test = train_test_split(
        X, y, test_size=169, random_state=0, stratify=y
    )
    X_train, X_cal, y_train, y_cal = train_test_split(
        X_fit, y_fit, test_size=100, random_state=0, stratify=y_fit
    )
    for name, (Xp, yp) in {
        "train": (X_train, y_train),
        "cal": (X_cal, y_cal),
        "test": (X_test, y_test),
    }.items():
        Xp.assign(label=yp).to_csv(root / f"{name}.csv", index=False)
    data = {
        name: (pd.read_csv(root / f"{name}.csv").drop(columns="label"), pd.read_csv(
            root / f"{name}.csv")["label"])
        for name in ("train", "cal", "test")
    }  # fmt: skip
    common = ["--data", root / "train.csv", "--target", "label", "--kind", "logistic"]
    invoke("fit", *common, "--method", "laplace", "--draws", "200", "--out", root / "a.nc")
    invoke(
        "fit", *common, "--method", "laplace", "--draws", "200", "--prior-scale", "0.5",
        "--intercept-prior-scale", "5", "--progress", "--seed", "3", "--out", root / "b.nc",
    )  # fmt: skip
    return root, data


def test_fit_passes_every_flag_and_equals_the_api(files):
    root, data = files
    X, y = data["train"]
    X_test, _ = data["test"]
    a, b = bs.load(root / "a.nc"), bs.load(root / "b.nc")
    ref_b = bs.BayesianLogisticClassifier(
        method="laplace", draws=200, prior_scale=0.5, intercept_prior_scale=5.0,
        random_seed=3, fit_kwargs=QUIET,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(b.predict_proba(X_test), ref_b.predict_proba(X_test), rtol=1e-10)
    params = b.get_params()
    assert (params["prior_scale"], params["intercept_prior_scale"]) == (0.5, 5.0)
    assert params["progressbar"] is True and a.get_params()["progressbar"] is None
    # NUTS flags: a short nutpie run, the same as the API's with the same settings.
    out = root / "nuts.nc"
    invoke(
        "fit", "--data", root / "train.csv", "--target", "label", "--kind", "logistic",
        "--method", "nuts",
        "--draws", "100", "--tune", "100", "--sampler", "nutpie", "--target-accept", "0.9",
        "--cores", "1", "--quiet", "--out", out,
    )  # fmt: skip
    nuts = bs.load(out)
    got = {k: nuts.get_params()[k] for k in ("sampler", "target_accept", "cores", "method")}
    assert got == {"sampler": "nutpie", "target_accept": 0.9, "cores": 1, "method": "nuts"}
    ref = bs.BayesianLogisticClassifier(
        method="nuts", draws=100, tune=100, sampler="nutpie", target_accept=0.9, cores=1,
        random_seed=0, fit_kwargs=QUIET,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(nuts.predict_proba(X_test), ref.predict_proba(X_test), rtol=1e-10)


def test_predict_then_score_probs_equals_scoring_the_model(files, tmp_path):
    root, data = files
    X_test, y_test = data["test"]
    clf = bs.load(root / "a.nc")
    probs_csv = tmp_path / "probs.csv"
    test = ["--data", root / "test.csv", "--target", "label"]
    invoke("predict", root / "a.nc", *test, "--out", probs_csv)
    from_probs = as_json("score", "--probs", probs_csv, *test)
    from_model = as_json("score", root / "a.nc", *test)
    expected = bs.score(y_test, clf.predict_proba_draws(X_test))
    for key, value in from_model["scores"].items():
        assert value == pytest.approx(float(expected[key]), rel=1e-10, abs=1e-14), key
    assert from_model["n_draws"] == 200 and from_probs["n_draws"] == 1
    # The posterior predictive NLL is the log loss of the mean probabilities the CSV holds.
    for key in ("nll", "brier", "spherical", "accuracy", "ece"):
        assert from_probs["scores"][key] == pytest.approx(from_model["scores"][key], rel=1e-10)
    frame = pd.read_csv(probs_csv)
    sk = sk_log_loss(y_test, frame[list(clf.classes_)].values, labels=list(clf.classes_))
    assert from_probs["scores"]["nll"] == pytest.approx(sk, rel=1e-12)
    # Columns in another order are matched by their labels, not their positions.
    frame[["prediction", "malignant", "benign"]].to_csv(tmp_path / "swapped.csv", index=False)
    swapped = as_json("score", "--probs", tmp_path / "swapped.csv", *test)
    assert swapped["scores"]["nll"] == pytest.approx(sk, rel=1e-12)


_RULES = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}


def test_diagnose_prints_the_checks_and_their_json(files):
    root, _ = files
    d = bs.diagnose(bs.load(root / "a.nc"))
    code = 0 if d.ok else 1
    text = invoke("diagnose", root / "a.nc", code=code).stdout
    lines = text.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("check ")))
    assert lines[header].split() == ["check", "value", "rule", "threshold", "passed"]
    assert ("ok: every check passed" in text) is d.ok
    rows = {line.split()[0]: line.split() for line in lines[header + 2 :] if line[:1].isalpha()}
    for check in d.table["check"].values:
        cells = rows[str(check)]
        rule = str(d.table["rule"].sel(check=check).values)
        if rule == "info":  # reported, not judged
            assert cells[2:] == ["info", "info"], cells
            continue
        # The printed value and threshold explain the verdict printed beside them.
        value, threshold, passed = float(cells[1]), float(cells[3]), cells[4]
        assert passed == ("yes" if bool(d.table["passed"].sel(check=check)) else "NO")
        assert _RULES[rule](value, threshold) is (passed == "yes"), cells
    out = as_json("diagnose", root / "a.nc", code=code)
    assert out["ok"] is d.ok and len(out["messages"]) == len(d.messages)
    for row in out["checks"]:
        expected = float(d.table["value"].sel(check=row["check"]))
        assert row["value"] == (None if np.isnan(expected) else pytest.approx(expected))
        assert row["passed"] is bool(d.table["passed"].sel(check=row["check"]))


def test_diagnose_shows_the_digits_that_decide_the_verdict(tmp_path):
    """An R-hat of 1.0099 against 1.01 prints as 1.0099 (not "1.01 < 1.01 yes")."""
    from bayescore.cli._judge import _verdict_digits

    assert _verdict_digits(1.0099, 1.01) == "1.0099"
    assert _verdict_digits(1.0101, 1.01) == "1.0101"
    assert _verdict_digits(0.7000004, 0.7) == "0.7000004"
    assert _verdict_digits(1.0, 1.0) == "1"
    assert _verdict_digits(123.456, 400.0) == "123.5"
    assert _verdict_digits(float("nan"), 1.01) == "nan"


def test_compare_and_loo_json_equal_the_api(files):
    root, data = files
    X_test, y_test = data["test"]
    a, b = bs.load(root / "a.nc"), bs.load(root / "b.nc")
    test = ["--data", root / "test.csv", "--target", "label"]
    out = as_json("compare", root / "a.nc", root / "b.nc", *test)
    table = bs.compare({"a": a, "b": b}, y_test, X=X_test)
    assert [m["model"] for m in out["models"]] == table["model"].values.tolist()
    for row in out["models"]:
        for key in ("nll", "se", "d_nll", "brier", "ece", "accuracy"):
            assert row[key] == pytest.approx(float(table[key].sel(model=row["model"])), rel=1e-10)
    with pytest.warns(bs.ParetoKWarning, match=r"unreliable for \d+ of 300") as caught:
        loo = bs.loo(a)
    n_bad = int(re.search(r"unreliable for (\d+) of", str(caught[0].message)).group(1))
    result = invoke("loo", root / "a.nc", "--json")
    got = json.loads(result.stdout)
    assert got["elpd"] == pytest.approx(float(loo.elpd), rel=1e-10)
    assert got["nll"] == pytest.approx(-float(loo.elpd) / 300, rel=1e-10)
    assert got["nll_se"] == pytest.approx(float(loo.se) / 300, rel=1e-10)
    counts = [got[k] for k in ("k_good", "k_bad", "k_very_bad", "k_nan")]
    assert sum(counts) == 300 == got["n_obs"]
    assert got["k_bad"] + got["k_very_bad"] == n_bad > 0
    assert got["k_max"] == pytest.approx(float(np.max(loo.pareto_k)))
    # The warning goes to stderr as one "warning:" line; stdout stays pure JSON.
    assert result.stderr.startswith(f"warning: ParetoKWarning: PSIS-LOO is unreliable for {n_bad}")


def test_cv_json_equals_cross_validate(files):
    root, data = files
    X, y = data["train"]
    out = as_json(
        "cv", "--data", root / "train.csv", "--target", "label", "--kind", "logistic",
        "--method", "laplace", "--prior-scale", "0.5", "--prior-scale", "2.5", "--cv", "3",
        "--draws", "100",
    )  # fmt: skip
    estimators = {
        f"laplace prior_scale={s:g}": bs.BayesianLogisticClassifier(
            method="laplace", prior_scale=s, draws=100, random_seed=0, fit_kwargs=QUIET
        )
        for s in (0.5, 2.5)
    }
    table = bs.cross_validate(estimators, X, y, cv=3, random_state=0)
    assert out["n_folds"] == 3
    assert [m["model"] for m in out["models"]] == table["model"].values.tolist()
    for row in out["models"]:
        for key in ("nll", "se", "d_nll", "d_se"):
            assert row[key] == pytest.approx(float(table[key].sel(model=row["model"])), rel=1e-10)


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_calibrate_writes_the_api_recalibrated_probabilities(method, files, tmp_path):
    root, data = files
    (X_cal, y_cal), (X_test, _) = data["cal"], data["test"]
    clf = bs.load(root / "a.nc")
    out = tmp_path / "recal.csv"
    summary = as_json(
        "calibrate", root / "a.nc", "--data", root / "cal.csv", "--target", "label",
        "--predict", root / "test.csv", "--method", method, "--out", out,
    )  # fmt: skip
    cls = {
        "temperature": bs.TemperatureScaling,
        "platt": bs.PlattScaling,
        "isotonic": bs.IsotonicCalibration,
    }[method]
    recal = cls().fit(clf.predict_proba(X_cal), y_cal, labels=clf.classes_)
    expected = recal.transform(clf.predict_proba(X_test))
    frame = pd.read_csv(out)
    np.testing.assert_allclose(frame[list(clf.classes_)].values, expected, rtol=1e-10)
    assert (frame["prediction"] == clf.classes_[expected.argmax(1)]).all()
    before = sk_log_loss(y_cal, clf.predict_proba(X_cal), labels=list(clf.classes_))
    assert summary["calibration_nll_before"] == pytest.approx(before, rel=1e-12)
    if method == "temperature":
        assert summary["temperature"] == pytest.approx(recal.temperature_, rel=1e-12)
    assert summary["rows_written"] == 169


def test_report_command_writes_the_page(files, tmp_path):
    root, data = files
    X_test, y_test = data["test"]
    out = tmp_path / "r.html"
    invoke(
        "report", root / "a.nc", root / "b.nc", "--data", root / "test.csv", "--target",
        "label", "--name", "wide prior", "--name", "narrow prior", "--title", "Two priors",
        "--out", out,
    )  # fmt: skip
    html = out.read_text()
    assert "<title>Two priors</title>" in html and 'id="comparison"' in html
    nll = float(bs.score(y_test, bs.load(root / "b.nc").predict_proba_draws(X_test))["nll"])
    assert f'data-model="narrow prior" data-score="nll" data-value="{nll!r}"' in html


def _width(text):
    from rich.cells import cell_len

    return max(cell_len(line) for line in text.splitlines())


def test_compare_prints_one_table_within_100_columns_and_wide_shows_every_field(files):
    root, data = files
    X_test, y_test = data["test"]
    args = ["compare", root / "a.nc", root / "b.nc", "--data", root / "test.csv", "--target"]
    table = bs.compare(
        {"a": bs.load(root / "a.nc"), "b": bs.load(root / "b.nc")}, y_test, X=X_test
    )
    for columns in ("250", "100", "80"):
        text = invoke(*args, "label", env={"COLUMNS": columns}).stdout
        assert _width(text) <= min(100, int(columns)), text
        lines = text.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("model "))
        assert lines[header].split() == ["model", "NLL", "ΔNLL", "Brier", "ECE", "diag"]
        for name in table["model"].values:  # one row per model: value ± SE
            row = next(line for line in lines[header + 2 :] if line.startswith(f"{name} "))
            nll, se = float(row.split()[1]), float(row.split()[3])
            assert nll == pytest.approx(float(table["nll"].sel(model=name)), abs=5e-3)
            assert se == pytest.approx(float(table["nll_se"].sel(model=name)), rel=0.06)
        worse = str(table["model"].values[1])
        row = next(line for line in lines[header + 2 :] if line.startswith(f"{worse} ")).split()
        assert row[4:7] != ["best"] and row[5] == "±"
        assert float(row[4]) == pytest.approx(float(table["d_nll"].sel(model=worse)), abs=5e-3)
        assert float(row[6]) == pytest.approx(float(table["d_nll_se"].sel(model=worse)), rel=0.06)
        assert "best" in lines[header + 2]
        flags = str(table["diag"].sel(model=worse).values)
        assert " ".join(flags.split()) in " ".join(text.split())
    # --wide: every field; one row per line when the terminal is wide, else blocks.
    wide = invoke(*args, "label", "--wide", env={"COLUMNS": "1000"}).stdout
    narrow = invoke(*args, "label", "--wide", env={"COLUMNS": "60"}).stdout
    fields = list(as_json(*args, "label")["models"][0])
    assert "…" not in wide + narrow and _width(narrow) <= 60
    header = next(line for line in wide.splitlines() if line.startswith("model "))
    assert header.split() == fields
    for row in as_json(*args, "label")["models"]:
        for key in fields:
            value = row[key]
            text = (
                "nan"
                if value is None
                else f"{value:.4g}"
                if isinstance(value, float)
                else str(value)
            )
            assert f"  {key:<{max(map(len, fields))}}  {text}" in narrow  # one block per row
            assert text in wide


def test_datasets_json():
    assert json.loads(invoke("datasets", "--json").stdout) == list(bs.list_datasets())
    assert invoke("datasets").stdout.split() == list(bs.list_datasets())
