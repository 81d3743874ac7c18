"""Text from users and files is inert: in CSV outputs (no formulas), on the terminal (no
escape sequences, no rich markup read), and the CLI's advice is in option syntax."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bayescore as bs
from bayescore._text import csv_cell, csv_uncell, printable
from bayescore.cli import app

runner = CliRunner()
ESC = "\x1b"
EVIL = ['=HYPERLINK("http://x.example","click")', "@SUM(1+1)", "+A1", "-A1"]


def invoke(*args, code=0, env=None):
    result = runner.invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def evil(tmp_path_factory):
    """A model whose four class labels are spreadsheet formulas, fitted from a CSV."""
    root = tmp_path_factory.mktemp("cli-text")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = np.array(EVIL)[(X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0).astype(int)]
    pd.DataFrame({"=cmd|' /C calc'!A0": X[:, 0], "b": X[:, 1], "label": y}).to_csv(
        root / "evil.csv", index=False
    )
    invoke("fit", "--data", root / "evil.csv", "--target", "label", "--method", "laplace",
           "--draws", "100", "--out", root / "evil.nc")  # fmt: skip
    return root


def _raw_rows(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_csv_cells_that_start_a_formula_are_neutralised(evil, tmp_path):
    out = tmp_path / "p.csv"
    invoke("predict", evil / "evil.nc", "--data", evil / "evil.csv", "--out", out)
    rows = _raw_rows(out)
    clf = bs.load(evil / "evil.nc")
    assert rows[0] == ["prediction", *("'" + str(c) for c in clf.classes_)]
    predicted = clf.predict(pd.read_csv(evil / "evil.csv").drop(columns="label"))
    assert [r[0] for r in rows[1:]] == ["'" + p for p in predicted]
    assert all(r[0][0] == "'" and r[0][1] in "=@+-" for r in rows[1:])
    # The probabilities are numbers, written as they are.
    probs = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(
        probs, clf.predict_proba(pd.read_csv(evil / "evil.csv")), rtol=1e-12
    )


def test_raw_writes_cells_as_they_are(evil, tmp_path):
    out = tmp_path / "p.csv"
    invoke("predict", evil / "evil.nc", "--data", evil / "evil.csv", "--out", out, "--raw")
    rows = _raw_rows(out)
    assert rows[0][1:] == sorted(EVIL)
    assert {r[0] for r in rows[1:]} <= set(EVIL)


def test_neutralised_probabilities_score_as_the_model_does(evil, tmp_path):
    """score --probs reads the neutralised column names back as the labels they were."""
    out = tmp_path / "p.csv"
    data = ["--data", evil / "evil.csv", "--target", "label"]
    invoke("predict", evil / "evil.nc", *data, "--out", out)
    import json

    from_csv = json.loads(invoke("score", "--probs", out, *data, "--json").stdout)["scores"]
    from_model = json.loads(invoke("score", evil / "evil.nc", *data, "--json").stdout)["scores"]
    assert from_csv["nll"] == pytest.approx(from_model["nll"], rel=1e-10)
    assert from_csv["brier"] == pytest.approx(from_model["brier"], rel=1e-10)


def test_calibrate_writes_neutralised_cells_too(evil, tmp_path):
    out = tmp_path / "c.csv"
    invoke("calibrate", evil / "evil.nc", "--data", evil / "evil.csv", "--target", "label",
           "--predict", evil / "evil.csv", "--out", out, "--json")  # fmt: skip
    rows = _raw_rows(out)
    assert all(name.startswith("'") for name in rows[0][1:])
    assert all(r[0].startswith("'") for r in rows[1:])


def test_numbers_and_plain_labels_are_not_escaped(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    y = np.where(X[:, 0] > 0, 1, -1)
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(tmp_path / "d.csv", index=False)
    invoke("fit", "--data", tmp_path / "d.csv", "--target", "y", "--kind", "logistic",
           "--method", "laplace", "--draws", "50", "--out", tmp_path / "m.nc")  # fmt: skip
    invoke("predict", tmp_path / "m.nc", "--data", tmp_path / "d.csv", "--out", tmp_path / "p.csv")
    rows = _raw_rows(tmp_path / "p.csv")
    assert rows[0] == ["prediction", "-1", "1"]
    assert {r[0] for r in rows[1:]} == {"-1", "1"}


@pytest.mark.parametrize(
    "value, cell",
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'x", "''x"),
        ("-1.5e3", "-1.5e3"),
        ("+7", "+7"),
        ("x=1", "x=1"),
        ("", ""),
        (-3, -3),
    ],
)
def test_csv_cell_follows_owasp_and_round_trips(value, cell):
    assert csv_cell(value) == cell
    assert csv_uncell(csv_cell(value)) == value


def test_model_names_and_labels_never_reach_the_terminal_raw(evil):
    names = [f"a{ESC}]2;pwned\a", f"b{ESC}[2J"]
    result = invoke(
        "compare", evil / "evil.nc", evil / "evil.nc", "--data", evil / "evil.csv", "--target",
        "label", "--name", names[0], "--name", names[1], env={"COLUMNS": "100"},
    )  # fmt: skip
    assert ESC not in result.stdout + result.stderr and "\a" not in result.stdout
    assert printable(names[0]) in result.stdout and printable(names[1]) in result.stdout
    assert "\\x1b]2;pwned\\x07" in result.stdout


@pytest.mark.parametrize("name", ["[red]m.nc", "[/x].nc", "[bold]x[/bold].nc"])
def test_paths_with_rich_markup_are_printed_as_they_are(name, tmp_path):
    """'[/x]' used to crash the CLI after saving, '[red]' was swallowed."""
    out = tmp_path / name
    result = invoke("fit", "--dataset", "iris", "--method", "laplace", "--draws", "30", "--out",
                    out)  # fmt: skip
    assert result.stdout.strip().endswith(f"to {out}")
    assert bs.load(out).classes_.tolist() == ["setosa", "versicolor", "virginica"]
    predictions = tmp_path / f"p{name}.csv"
    result = invoke("predict", out, "--dataset", "iris", "--out", predictions)
    assert result.stdout.strip() == f"wrote 150 rows to {predictions}"
    report = tmp_path / f"r{name}.html"
    result = invoke("report", out, "--dataset", "iris", "--out", report)
    assert result.stdout.strip() == f"wrote a report on 1 model(s) to {report}"


def test_warnings_are_one_line_with_advice_in_option_syntax(tmp_path):
    """A failed convergence check: one warning line, advice as --method, not method=."""
    result = invoke("fit", "--dataset", "iris", "--method", "laplace", "--draws", "100",
                    "--out", tmp_path / "m.nc")  # fmt: skip
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: ConvergenceWarning: ")
    assert "--method nuts" in warnings[0] and "method='nuts'" not in warnings[0]
    text = invoke("diagnose", tmp_path / "m.nc", code=1).stdout
    assert "--method nuts" in text and "method='nuts'" not in text


def test_printable_escapes_every_control_character():
    text = "".join(chr(i) for i in range(32)) + "\x7f\x9b\u202e ok é"
    shown = printable(text)
    assert shown.isprintable() and shown.endswith(" ok é")
    assert "\\x1b" in shown and "\\x9b" in shown and "\\u202e" in shown
    assert io.StringIO(shown).read() == shown
