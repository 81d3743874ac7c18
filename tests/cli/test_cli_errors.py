"""Every CLI error is one line on stderr, no traceback, with the documented exit code.

The cases are the "Command line" section of docs/errors.md, each with its exact line:
``python tests/cli/test_cli_errors.py`` rewrites that section, the tests replay it. They run
in a directory holding the files :func:`make_files` writes, so every path is relative and
every message the same on any machine.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bayescore as bs
from bayescore.cli import app

runner = CliRunner()
DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
HEADING = "## Command line"
IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ESC = "\x1b"


def make_files(root: Path) -> None:
    """The models and files the cases name (deterministic: seeded fits, fixed rows)."""
    ds = bs.load_dataset("iris")
    quiet = {"warn": False}
    clf = bs.BayesianSoftmaxClassifier(method="advi", draws=20, random_seed=0, fit_kwargs=quiet)
    clf.fit(ds.X, ds.y)
    bs.save(clf, root / "iris.nc")
    (root / "other").mkdir()
    bs.save(clf, root / "other" / "iris.nc")
    (root / "link.nc").symlink_to("iris.nc")
    (root / "adir").mkdir()
    os.mkfifo(root / "fifo")
    iris = ds.X.assign(species=ds.y)
    iris.to_csv(root / "iris.csv", index=False)
    iris.assign(species=iris["species"].where(iris.index != 5)).to_csv(
        root / "nan_y.csv", index=False
    )
    nan_x = iris.copy()
    nan_x.loc[3, "petal width (cm)"] = np.nan
    nan_x.to_csv(root / "nan_x.csv", index=False)
    iris.assign(island=np.where(iris.index % 2, "Dream", "Biscoe")).to_csv(
        root / "text.csv", index=False
    )
    (root / "bad.csv").write_bytes(b'a,b\n1,"2\n')
    (root / "empty.csv").write_bytes(b"")
    (root / "binary.csv").write_bytes(b"\xff\xfe\x00\x01\x02")
    (root / "header.csv").write_text("a,b,y\n")
    (root / "dup.csv").write_text("a,a,y\n1,2,x\n3,4,z\n")
    (root / "not_model.nc").write_text("just text")
    # Probabilities whose columns are not iris's classes.
    (root / "probs_abc.csv").write_text("a,b,c\n" + "0.2,0.3,0.5\n" * 150)
    # A class labelled "prediction", the name of predict's predicted-class column.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    label = np.where(x[:, 0] > 0, "prediction", "other")
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": label}).to_csv(
        root / "prediction.csv", index=False
    )
    pred = bs.BayesianLogisticClassifier(method="laplace", draws=20, fit_kwargs=quiet)
    bs.save(pred.fit(pd.read_csv(root / "prediction.csv")[["a", "b"]], label), root / "pred.nc")
    pd.DataFrame({"other": np.full(60, 0.5), "prediction": np.full(60, 0.5)}).to_csv(
        root / "pred_probs.csv", index=False
    )


# (family, arguments, exit code); the exact line is in docs/errors.md.
CASES = [
    # -------------------------------------------------------------- usage and options
    ("usage", ["fit"], 2),
    ("usage", ["fit", "--out", "m.nc"], 2),
    ("usage", ["fit", "--out", "m.nc", "--dataset", "titanic"], 1),
    ("usage", ["fit", "--out", "m.nc", "--dataset", "iris", "--draws", "x"], 2),
    ("usage", ["fit", "--out", "m.nc", "--dataset", "iris", "--kind", "probit"], 2),
    ("usage", ["fit", "--out", "m.nc", "--data", "iris.csv"], 2),
    ("usage", ["fit", "--out", "m.nc", "--dataset", "iris", "--method", "hmc"], 1),
    ("usage", ["fit", "--out", "m.nc", "--dataset", "iris", "--sampler", "stan"], 1),
    ("usage", ["fit", "--out", "m.nc", "--dataset", "iris", "--target-accept", "1.5"], 1),
    ("usage", ["fit", "--out", "m.nc", "--dataset", "iris", "--cores", "0"], 1),
    ("usage", ["fit", "--out", "m.nc", "--dataset", "iris", "--kind", "logistic"], 1),
    (
        "usage",
        ["predict", "iris.nc", "--dataset", "iris", "--target", "species", "--out", "p.csv"],
        2,
    ),
    ("usage", ["bogus"], 2),
    ("usage", ["score"], 2),
    ("usage", ["score", "iris.nc", "--probs", "probs_abc.csv", "--dataset", "iris"], 2),
    ("usage", ["score", "iris.nc", "--data", "iris.csv", "--target", "kind"], 2),
    ("usage", ["score", "iris.nc", "--data", "iris.csv"], 2),
    ("usage", ["compare", "iris.nc", "iris.nc", "--dataset", "iris"], 2),
    ("usage", ["compare", "iris.nc", "other/iris.nc", "--dataset", "iris", "--name", "a"], 2),
    (
        "usage",
        ["compare", "iris.nc", "other/iris.nc", "--dataset", "iris", "--name", "", "--name", "b"],
        2,
    ),  # fmt: skip
    (
        "usage",
        [
            "calibrate",
            "iris.nc",
            "--dataset",
            "iris",
            "--predict",
            "iris.csv",
            "--out",
            "c.csv",
            "--method",
            "beta",
        ],
        2,
    ),  # fmt: skip
    (
        "usage",
        [
            "calibrate",
            "iris.nc",
            "--dataset",
            "iris",
            "--predict",
            "iris.csv",
            "--out",
            "c.csv",
            "--method",
            "platt",
        ],
        1,
    ),  # fmt: skip
    ("usage", ["cv", "--dataset", "iris", "--cv", "1"], 2),
    ("usage", ["cv", "--dataset", "iris", "--kind", "probit"], 2),
    ("usage", ["cv", "--data", "iris.csv"], 2),
    ("usage", ["cv", "--dataset", "iris", "--method", "laplace", "--method", "laplace"], 2),
    ("usage", ["report", "iris.nc", "--dataset", "iris"], 2),
    (
        "usage",
        [
            "report",
            "iris.nc",
            "other/iris.nc",
            "--dataset",
            "iris",
            "--name",
            "a",
            "--out",
            "r.html",
        ],
        2,
    ),  # fmt: skip
    ("usage", ["report", "iris.nc", "--data", "iris.csv", "--out", "r.html"], 2),
    # ------------------------------------------------------------------- files in
    ("files", ["score", "missing.nc", "--dataset", "iris"], 1),
    ("files", ["score", "not_model.nc", "--dataset", "iris"], 1),
    ("files", ["score", "adir", "--dataset", "iris"], 1),
    ("files", ["score", "iris.nc", "--data", "missing.csv", "--target", "y"], 1),
    ("files", ["score", "iris.nc", "--data", "bad.csv", "--target", "a"], 1),
    ("files", ["score", "iris.nc", "--data", "empty.csv", "--target", "a"], 1),
    ("files", ["score", "iris.nc", "--data", "binary.csv", "--target", "a"], 1),
    ("files", ["score", "iris.nc", "--data", "fifo", "--target", "a"], 1),
    ("files", ["score", "--probs", "probs_abc.csv", "--dataset", "iris"], 1),
    ("files", ["score", "--probs", "bad.csv", "--dataset", "iris"], 1),
    ("files", ["score", "--probs", "iris.csv", "--dataset", "iris"], 1),
    ("files", ["diagnose", "missing.nc"], 1),
    ("files", ["loo", "missing.nc"], 1),
    ("files", ["loo", "not_model.nc"], 1),
    # ------------------------------------------ data loss: outputs never destroy inputs
    ("data loss", ["predict", "iris.nc", "--dataset", "iris", "--out", "iris.nc"], 2),
    ("data loss", ["predict", "iris.nc", "--data", "iris.csv", "--out", "./iris.csv"], 2),
    ("data loss", ["predict", "link.nc", "--dataset", "iris", "--out", "iris.nc"], 2),
    ("data loss", ["predict", "iris.nc", "--dataset", "iris", "--out", "link.nc"], 2),
    ("data loss", ["report", "iris.nc", "--dataset", "iris", "--out", "adir/../iris.nc"], 2),
    (
        "data loss",
        [
            "calibrate",
            "iris.nc",
            "--dataset",
            "iris",
            "--predict",
            "iris.csv",
            "--out",
            "iris.csv",
        ],
        2,
    ),  # fmt: skip
    ("data loss", ["fit", "--data", "iris.csv", "--target", "species", "--out", "iris.csv"], 2),
    ("data loss", ["predict", "iris.nc", "--dataset", "iris", "--out", "/dev/null"], 2),
    ("data loss", ["report", "iris.nc", "--dataset", "iris", "--out", "fifo"], 2),
    ("data loss", ["fit", "--dataset", "iris", "--out", "adir"], 2),
    ("data loss", ["predict", "iris.nc", "--dataset", "iris", "--out", ""], 2),
    ("data loss", ["predict", "iris.nc", "--dataset", "iris", "--out", "new/"], 2),
    # ------------------------------------------------------ tracebacks -> one line
    ("traceback", ["compare", "missing.nc", "--dataset", "iris", "--name", "--debug"], 1),
    (
        "traceback",
        ["report", "missing.nc", "--dataset", "iris", "--out", "r.html", "--title", "--debug"],
        1,
    ),  # fmt: skip
    ("traceback", ["fit", "--debug"], 2),
    ("traceback", ["diagnose", "iris.nc", "--debug"], 2),
    ("traceback", ["score", "[/x].nc", "--dataset", "iris"], 1),
    ("traceback", ["predict", "[red]m.nc", "--dataset", "iris", "--out", "p.csv"], 1),
    # ------------------------------------------------- unsafe text on the terminal
    ("unsafe text", ["score", f"{ESC}]2;pwned\a.nc", "--dataset", "iris"], 1),
    ("unsafe text", ["score", "iris.nc", "--data", f"{ESC}[2Jx.csv", "--target", "y"], 1),
    (
        "unsafe text",
        ["fit", "--dataset", "iris", "--features", f"petal{ESC}[31m", "--out", "m.nc"],
        2,
    ),  # fmt: skip
    # -------------------------------------------------------------------- unclear
    ("unclear", ["predict", "pred.nc", "--data", "prediction.csv", "--out", "p.csv"], 2),
    (
        "unclear",
        ["score", "--probs", "pred_probs.csv", "--data", "prediction.csv", "--target", "label"],
        2,
    ),  # fmt: skip
    ("unclear", ["fit", "--data", "nan_y.csv", "--target", "species", "--out", "m.nc"], 1),
    ("unclear", ["fit", "--data", "nan_x.csv", "--target", "species", "--out", "m.nc"], 1),
    ("unclear", ["predict", "iris.nc", "--data", "nan_x.csv", "--out", "p.csv"], 1),
    ("unclear", ["fit", "--data", "text.csv", "--target", "species", "--out", "m.nc"], 1),
    ("unclear", ["fit", "--data", "dup.csv", "--target", "y", "--out", "m.nc"], 1),
    ("unclear", ["fit", "--data", "header.csv", "--target", "y", "--out", "m.nc"], 1),
    (
        "unclear",
        [
            "fit",
            "--data",
            "iris.csv",
            "--target",
            "species",
            "--features",
            "petal",
            "--out",
            "m.nc",
        ],
        2,
    ),  # fmt: skip
    (
        "unclear",
        ["fit", "--data", "iris.csv", "--target", "species", "--drop", "petal", "--out", "m.nc"],
        2,
    ),  # fmt: skip
    (
        "unclear",
        [
            "fit",
            "--data",
            "iris.csv",
            "--target",
            "species",
            "--features",
            IRIS[0],
            "--drop",
            IRIS[1],
            "--out",
            "m.nc",
        ],
        2,
    ),  # fmt: skip
    (
        "unclear",
        [
            "fit",
            "--data",
            "iris.csv",
            "--target",
            "species",
            "--features",
            f"{IRIS[0]},species",
            "--out",
            "m.nc",
        ],
        2,
    ),  # fmt: skip
    (
        "unclear",
        [
            "fit",
            "--data",
            "iris.csv",
            "--target",
            "species",
            "--drop",
            ",".join(IRIS),
            "--out",
            "m.nc",
        ],
        2,
    ),  # fmt: skip
    (
        "unclear",
        [
            "fit",
            "--data",
            "iris.csv",
            "--target",
            "species",
            "--features",
            f"{IRIS[0]},,{IRIS[1]}",
            "--out",
            "m.nc",
        ],
        2,
    ),  # fmt: skip
    (
        "unclear",
        ["predict", "iris.nc", "--data", "iris.csv", "--features", IRIS[0], "--out", "p.csv"],
        1,
    ),  # fmt: skip
    (
        "unclear",
        ["compare", "iris.nc", "pred.nc", "--data", "iris.csv", "--target", "species"],
        1,
    ),  # fmt: skip
]
FAMILIES = {"usage", "files", "data loss", "traceback", "unsafe text", "unclear"}


def shell(args: list[str]) -> str:
    """The command as a shell would take it (control characters in bash's $'...')."""
    words = []
    for arg in args:
        if any(ord(c) < 32 or c == "\x7f" for c in arg):
            escaped = arg.encode("unicode_escape").decode("ascii").replace("'", "\\'")
            words.append(f"$'{escaped}'")
        else:
            words.append(shlex.quote(arg))
    return " ".join(["bayescore", *words])


def invoke(args: list[str]):
    return runner.invoke(app, args)


def _cell(text: str) -> str:
    # Escaped so Markdown reads the line literally: "|" ends a cell, "[x]" is a link.
    for char in "\\|[]*_<`":
        text = text.replace(char, "\\" + char)
    return text


def _code(text: str) -> str:
    # Inside a code span only "|" (the table's) needs escaping: other backslashes would show.
    return text.replace("|", "\\|")


ROW = re.compile(r"^\| C(\d+) \| `(.+)` \| (\d) \| (.+) \|$")


def _section(lines: list[str]) -> str:
    return "\n".join(
        [
            HEADING,
            "",
            "Every command below fails with the one line shown on stderr (exactly: the test",
            "suite runs each and compares) and the exit code: 2 when the command line is wrong,",
            "1 when the data or a file is; never a traceback. Run in a directory holding",
            "`iris.nc` (a softmax model of the bundled iris data, saved again as",
            "`other/iris.nc` and linked as `link.nc`), `iris.csv` (its features and `species`",
            "label), `nan_x.csv`/`nan_y.csv` (a missing feature in row 3, a missing label in",
            "row 5), `text.csv` (a text column `island`), `pred.nc` (a model with a class",
            "labelled `prediction`, fitted on `prediction.csv`), broken CSVs, a directory",
            "`adir` and a FIFO `fifo`. Regenerate with `python tests/cli/test_cli_errors.py`.",
            "",
            "| # | command | exit | stderr |",
            "|---|---|---|---|",
            *lines,
            "",
        ]
    )


def write_section(root: Path) -> None:
    """Run every case in ``root`` and (re)write the Command line section of docs/errors.md."""
    lines = []
    for i, (_, args, code) in enumerate(CASES, 1):
        result = invoke(args)
        assert result.exit_code == code, (args, result.stderr)
        lines.append(
            f"| C{i} | `{_code(shell(args))}` | {code} | {_cell(result.stderr.strip())} |"
        )
    text = DOC.read_text()
    head = text.split(f"\n{HEADING}\n")[0].rstrip("\n")
    DOC.write_text(f"{head}\n\n{_section(lines)}")


def documented() -> list[tuple[str, int, str]]:
    rows = []
    section = DOC.read_text().split(f"\n{HEADING}\n", 1)[1]
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            rows.append((match.group(2), int(match.group(3)), match.group(4)))
    return rows


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-errors")
    make_files(path)
    return path


def test_the_doc_lists_every_case_and_every_family():
    rows = documented()
    assert [command for command, _, _ in rows] == [_code(shell(args)) for _, args, _ in CASES]
    assert [code for _, code, _ in rows] == [code for _, _, code in CASES]
    assert len(CASES) >= 40
    assert {family for family, _, _ in CASES} == FAMILIES


@pytest.mark.parametrize(
    "case",
    range(len(CASES)),
    ids=[f"C{i + 1} {' '.join(c[1])[:40]!r}" for i, c in enumerate(CASES)],
)
def test_bad_invocation_gives_the_documented_line(case, root, monkeypatch):
    monkeypatch.chdir(root)
    _, args, code = CASES[case]
    _, documented_code, line = documented()[case]
    result = invoke(args)
    assert result.exit_code == code == documented_code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert _cell(lines[0]) == line
    assert "Traceback" not in result.stdout + result.stderr
    assert ESC not in result.stdout + result.stderr and "\a" not in result.stderr
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []


def test_no_input_was_touched(root, monkeypatch):
    """After every case above (and in any order) the inputs are what make_files wrote."""
    monkeypatch.chdir(root)
    for _, args, _ in CASES:
        invoke(args)
    assert root.joinpath("link.nc").is_symlink() and os.path.samefile("link.nc", "iris.nc")
    assert Path("fifo").is_fifo() and Path("adir").is_dir() and Path("/dev/null").is_char_device()
    assert pd.read_csv("iris.csv").shape == (150, 5)
    ds = bs.load_dataset("iris")
    np.testing.assert_array_equal(
        bs.load("iris.nc").predict_proba(ds.X), bs.load("other/iris.nc").predict_proba(ds.X)
    )


def test_debug_before_the_command_shows_the_traceback(root, monkeypatch):
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["--debug", "score", "missing.nc", "--dataset", "iris"])
    assert result.exit_code == 1
    assert isinstance(result.exception, FileNotFoundError)


def test_compare_keys_models_by_distinct_paths(root, monkeypatch):
    """Two files both called iris.nc are two models, named by their distinct paths."""
    monkeypatch.chdir(root)
    result = invoke(["compare", "iris.nc", "other/iris.nc", "--dataset", "iris"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    rows = [line.split()[0] for line in lines[header + 2 : header + 4]]
    assert rows == ["iris", "other/iris"] or rows == ["other/iris", "iris"]


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"bayescore {bs.__version__}"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        make_files(Path(tmp))
        write_section(Path(tmp))
    print(f"wrote {len(CASES)} command-line rows to {DOC}", file=sys.stderr)
