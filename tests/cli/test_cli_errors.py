"""Every CLI error is one line on stderr, no traceback, with the documented exit code."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import bayescore as bs
from bayescore.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A saved iris model, a good CSV (with its label column), and broken files."""
    root = tmp_path_factory.mktemp("cli-errors")
    ds = bs.load_dataset("iris")
    clf = bs.BayesianSoftmaxClassifier(
        method="advi", draws=20, random_seed=0, fit_kwargs={"warn": False}
    ).fit(ds.X, ds.y)
    model = bs.save(clf, root / "iris.nc")
    (root / "other").mkdir()
    bs.save(clf, root / "other" / "iris.nc")
    ds.X.assign(species=ds.y).to_csv(root / "iris.csv", index=False)
    (root / "bad.csv").write_bytes(b'a,b\n1,"2\n')
    (root / "empty.csv").write_bytes(b"")
    (root / "binary.csv").write_bytes(b"\xff\xfe\x00\x01\x02")
    (root / "not_model.nc").write_text("just text")
    # Probabilities whose columns are not iris's classes.
    (root / "probs_abc.csv").write_text("a,b,c\n" + "0.2,0.3,0.5\n" * 150)
    return root, model


CASES = [
    # (arguments, exit code, words the one line must contain)
    (["fit"], 2, "Missing option '--out'"),
    (["fit", "--out", "{root}/m.nc"], 2, "exactly one of --data CSV or --dataset"),
    (["fit", "--out", "{root}/m.nc", "--dataset", "titanic"], 1, "Unknown data set 'titanic'"),
    (["fit", "--out", "{root}/m.nc", "--dataset", "iris", "--draws", "x"], 2, "'--draws'"),
    (["fit", "--out", "{root}/m.nc", "--dataset", "iris", "--kind", "probit"], 2, "--kind"),
    (["fit", "--out", "{root}/m.nc", "--data", "{root}/iris.csv"], 2, "--target is required"),
    (
        ["fit", "--out", "{root}/m.nc", "--dataset", "iris", "--method", "hmc"],
        1,
        "'method' parameter",
    ),
    (["score", "{root}/missing.nc", "--dataset", "iris"], 1, "No such model file"),
    (["score", "{root}/not_model.nc", "--dataset", "iris"], 1, "not a bayescore model file"),
    (["score", "{model}", "--data", "{root}/missing.csv", "--target", "y"], 1, "no such file"),
    (["score", "{model}", "--data", "{root}/bad.csv", "--target", "a"], 1, "could not read"),
    (["score", "{model}", "--data", "{root}/empty.csv", "--target", "a"], 1, "could not read"),
    (["score", "{model}", "--data", "{root}/binary.csv", "--target", "a"], 1, "could not read"),
    (["score", "{model}", "--data", "{root}/iris.csv", "--target", "kind"], 2, "not a column"),
    (["score", "{model}", "--data", "{root}/iris.csv"], 2, "--target is required"),
    (
        ["predict", "{model}", "--data", "{root}/iris.csv", "--out", "{root}/p.csv"],
        1,
        "pass --target species",
    ),
    (["compare", "{model}", "{model}", "--dataset", "iris"], 2, "given twice"),
    (
        ["compare", "{model}", "{root}/other/iris.nc", "--dataset", "iris", "--name", "a"],
        2,
        "one distinct --name per model",
    ),
    (["diagnose", "{root}/missing.nc"], 1, "No such model file"),
    (["bogus"], 2, "No such command 'bogus'"),
    (["score"], 2, "give exactly one of MODEL or --probs"),
    (
        ["score", "{model}", "--probs", "{root}/probs_abc.csv", "--dataset", "iris"],
        2,
        "give exactly one of MODEL or --probs",
    ),
    (["score", "--probs", "{root}/probs_abc.csv", "--dataset", "iris"], 1, "label 'setosa'"),
    (["score", "--probs", "{root}/bad.csv", "--dataset", "iris"], 1, "could not read"),
    (["fit", "--out", "{root}/m.nc", "--dataset", "iris", "--sampler", "stan"], 1, "'sampler'"),
    (
        ["fit", "--out", "{root}/m.nc", "--dataset", "iris", "--target-accept", "1.5"],
        1,
        "'target_accept' parameter",
    ),
    (["fit", "--out", "{root}/m.nc", "--dataset", "iris", "--cores", "0"], 1, "'cores'"),
    (
        [
            "calibrate",
            "{model}",
            "--dataset",
            "iris",
            "--predict",
            "{root}/iris.csv",
            "--out",
            "{root}/c.csv",
            "--method",
            "beta",
        ],
        2,
        "--method must be one of ['temperature', 'platt', 'isotonic']",
    ),  # fmt: skip
    (
        [
            "calibrate",
            "{model}",
            "--dataset",
            "iris",
            "--target",
            "species",
            "--predict",
            "{root}/iris.csv",
            "--out",
            "{root}/c.csv",
            "--method",
            "platt",
        ],
        1,
        "PlattScaling is binary",
    ),  # fmt: skip
    (
        [
            "calibrate",
            "{model}",
            "--dataset",
            "iris",
            "--predict",
            "{root}/iris.csv",
            "--out",
            "{root}/c.csv",
        ],
        1,
        "pass --target species",
    ),  # fmt: skip
    (["cv", "--dataset", "iris", "--cv", "1"], 2, "'--cv'"),
    (["cv", "--dataset", "iris", "--kind", "probit"], 2, "--kind"),
    (["cv", "--data", "{root}/iris.csv"], 2, "--target is required"),
    (
        ["cv", "--dataset", "iris", "--method", "laplace", "--method", "laplace"],
        2,
        "the same setting is given twice",
    ),
    (["loo", "{root}/missing.nc"], 1, "No such model file"),
    (["loo", "{root}/not_model.nc"], 1, "not a bayescore model file"),
    (["report", "{model}", "--dataset", "iris"], 2, "Missing option '--out'"),
    (
        [
            "report",
            "{model}",
            "{root}/other/iris.nc",
            "--dataset",
            "iris",
            "--name",
            "a",
            "--out",
            "{root}/r.html",
        ],
        2,
        "one distinct --name per model",
    ),  # fmt: skip
    (["report", "{model}", "--data", "{root}/iris.csv", "--out", "{root}/r.html"], 2, "--target"),
]


@pytest.mark.parametrize("args, code, words", CASES, ids=[" ".join(c[0])[:40] for c in CASES])
def test_bad_invocation_gives_one_line(args, code, words, files):
    root, model = files
    argv = [a.format(root=root, model=model) for a in args]
    result = runner.invoke(app, argv)
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_debug_shows_the_traceback(files):
    root, _ = files
    result = runner.invoke(app, ["--debug", "score", f"{root}/missing.nc", "--dataset", "iris"])
    assert result.exit_code == 1
    assert isinstance(result.exception, FileNotFoundError)


def test_compare_keys_models_by_distinct_paths(files):
    """Two files both called iris.nc are two models, named by their distinct paths."""
    root, model = files
    result = runner.invoke(
        app, ["compare", str(model), f"{root}/other/iris.nc", "--dataset", "iris"]
    )
    assert result.exit_code == 0, result.stderr
    assert "other/iris" in result.stdout
    names = [line for line in result.stdout.splitlines() if "iris" in line]
    assert len(names) == 2


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"bayescore {bs.__version__}"
