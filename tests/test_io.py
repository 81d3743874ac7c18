"""Saving and loading: netCDF round trips, atomic writes, clear errors, no pickle."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import bayescore as bs


@pytest.fixture(scope="module")
def fitted():
    ds = bs.load_dataset("breast_cancer")
    X, y = ds.X.iloc[:, :6], ds.y
    clf = bs.BayesianLogisticClassifier(
        draws=100, tune=100, random_seed=2, fit_kwargs={"warn": False}
    )
    return clf.fit(X, y), X


def test_round_trip_gives_identical_predictions(fitted, tmp_path):
    clf, X = fitted
    path = bs.save(clf, tmp_path / "model.nc")
    loaded = bs.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.get_params() == clf.get_params()
    assert loaded.classes_.tolist() == clf.classes_.tolist()
    assert loaded.feature_names_in_.tolist() == clf.feature_names_in_.tolist()
    np.testing.assert_array_equal(loaded.coef_, clf.coef_)
    assert type(loaded) is type(clf)
    # Only the final file is left behind: the temporary file was renamed into place.
    assert os.listdir(tmp_path) == ["model.nc"]


def test_save_of_bare_idata_loads_as_estimator(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = np.where(X[:, 0] > 0, "b", "a")
    idata = bs.fit(bs.build_model(X, y), "advi", draws=50, random_seed=0, warn=False)
    loaded = bs.load(bs.save(idata, tmp_path / "idata.nc"))
    assert isinstance(loaded, bs.BayesianLogisticClassifier)
    assert loaded.method == "advi"
    np.testing.assert_allclose(
        loaded.predict_proba(X), bs.predict_proba_draws(idata, X).mean(("chain", "draw"))
    )
    assert "variational" in loaded.idata_.children


def test_failed_save_leaves_existing_file_intact(fitted, tmp_path):
    """A fit netCDF cannot store (a dict attribute) fails before anything is written."""
    import copy

    clf, X = fitted
    path = bs.save(clf, tmp_path / "model.nc")
    before = path.read_bytes()
    broken = copy.deepcopy(clf)
    broken.idata_["posterior"].attrs["unstorable"] = {"a": 1}
    with pytest.raises(TypeError, match="no native HDF5 equivalent"):
        bs.save(broken, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.nc"]
    np.testing.assert_array_equal(bs.load(path).predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x80\x04\x95pickle-bytes", "not a bayescore model file"),
        (b"col1,col2\n1,2\n", "not a bayescore model file"),
    ],
)
def test_load_rejects_foreign_files(content, match, tmp_path):
    path = tmp_path / "foreign.nc"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        bs.load(path)


def test_load_rejects_netcdf_that_is_not_a_model(tmp_path):
    import xarray as xr

    path = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ValueError, match="netCDF file but not a bayescore model"):
        bs.load(path)


def test_load_missing_file_and_save_unfitted(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such model file"):
        bs.load(tmp_path / "missing.nc")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        bs.save(bs.BayesianSoftmaxClassifier(), tmp_path / "x.nc")
    with pytest.raises(TypeError, match="takes a fitted bayescore estimator"):
        bs.save({"not": "a model"}, tmp_path / "x.nc")


# ------------------------------------------------------------------ format and validation

DATA = Path(__file__).parent / "data"


def test_file_from_the_previous_release_loads_and_predicts_the_same():
    """A format-1 file written by bayescore 0.1 (PyMC 5.28, ArviZ 0.23) is migrated."""
    import xarray as xr

    with xr.open_datatree(DATA / "v1_softmax_iris.nc", engine="h5netcdf") as raw:
        assert int(raw["posterior"].attrs["bayescore_format"]) == 1  # written by 0.1
        assert "bayescore_version" not in raw["posterior"].attrs
    iris = bs.load_dataset("iris")
    loaded = bs.load(DATA / "v1_softmax_iris.nc")
    assert isinstance(loaded, bs.BayesianSoftmaxClassifier)
    assert loaded.classes_.tolist() == sorted(set(iris.y))
    expected = np.loadtxt(DATA / "v1_softmax_iris_proba.txt")
    np.testing.assert_allclose(loaded.predict_proba(iris.X.iloc[:5]), expected, rtol=1e-12)
    assert int(loaded.idata_["posterior"].attrs["bayescore_format"]) == 2


def _rewrite(path, edit):
    """Load the tree behind a saved model, edit it, and write it back (no checks)."""
    import xarray as xr

    with xr.open_datatree(path, engine="h5netcdf") as tree:
        tree = tree.load().copy()
    edit(tree)
    path.unlink()
    tree.to_netcdf(path, engine="h5netcdf")


def test_file_from_a_newer_release_names_it(fitted, tmp_path):
    clf, _ = fitted
    path = bs.save(clf, tmp_path / "model.nc")

    def newer(tree):
        tree["posterior"].attrs.update({"bayescore_format": 99, "bayescore_version": "9.1"})

    _rewrite(path, newer)
    with pytest.raises(ValueError, match=r"made by bayescore 9\.1 in file format 99.*Upgrade"):
        bs.load(path)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda t: t["constant_data"]["x_scale"].values.__setitem__(0, 0.0), "feature scales"),
        (lambda t: t["posterior"]["coef"].values.__setitem__((0, 3, 1), np.nan), "NaN or inf"),
        (lambda t: t["posterior"].attrs.__setitem__("bayescore_format", "x"), "format stamp"),
        (lambda t: t["posterior"].attrs.__setitem__("bayescore_format", 0), "format 0"),
    ],
)
def test_corrupt_contents_are_rejected(fitted, tmp_path, edit, match):
    clf, _ = fitted
    path = bs.save(clf, tmp_path / "model.nc")
    _rewrite(path, edit)
    with pytest.raises(ValueError, match=match):
        bs.load(path)


def test_save_keeps_the_mode_of_an_existing_file_and_follows_the_umask(fitted, tmp_path):
    clf, _ = fitted
    path = tmp_path / "model.nc"
    old = os.umask(0o022)
    try:
        bs.save(clf, path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # new file: 0666 & ~umask
        path.chmod(0o640)
        bs.save(clf, path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640  # existing file keeps its mode
    finally:
        os.umask(old)


def test_save_onto_a_symlink_writes_through_to_its_target(fitted, tmp_path):
    clf, X = fitted
    target = tmp_path / "real" / "model.nc"
    target.parent.mkdir()
    target.write_bytes(b"old contents")
    link = tmp_path / "link.nc"
    link.symlink_to(target)
    written = bs.save(clf, link)
    assert link.is_symlink() and written == target.resolve()
    np.testing.assert_array_equal(bs.load(link).predict_proba(X), clf.predict_proba(X))


def _open_in(pid: int, directory: Path) -> bool:
    """Whether process ``pid`` holds a file in ``directory`` open (its anonymous temp)."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(f"{directory}/"):
                return True
        except OSError:
            continue
    return False


def test_killed_save_leaves_the_old_file_and_no_temp_file(fitted, tmp_path):
    """kill -9 in the middle of a save: the old file loads and nothing else is left.

    The temporary file has no name while it is written (O_TMPFILE), so the kernel removes
    it with the killed process.
    """
    clf, X = fitted
    path = bs.save(clf, tmp_path / "model.nc")
    before = path.read_bytes()
    # A child process saves a large fit and is killed while the new file is written.
    script = f"""
import numpy as np, xarray as xr, bayescore as bs
from bayescore._netcdf import write_fit
clf = bs.load({str(path)!r})
tree = clf.idata_.copy()
big = np.random.default_rng(0).normal(size=(8_000_000, 8))
tree["posterior"] = tree["posterior"].to_dataset().assign(big=(("big_row", "big_col"), big))
print("writing", flush=True)
write_fit(tree, {str(path)!r})
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().strip() == b"writing", proc.stderr.read().decode()
    deadline = time.monotonic() + 60
    while not _open_in(proc.pid, tmp_path) and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None and _open_in(proc.pid, tmp_path), "not caught writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.nc"]
    assert path.read_bytes() == before
    np.testing.assert_array_equal(bs.load(path).predict_proba(X), clf.predict_proba(X))


def test_the_next_save_removes_temp_files_of_killed_writes(fitted, tmp_path):
    """Named temp files (systems without O_TMPFILE) of a dead process go at the next save."""
    clf, _ = fitted
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stale = tmp_path / f".model.nc.{dead}.0123abcd.bayescore-tmp"
    stale.write_bytes(b"half a file")
    bs.save(clf, tmp_path / "model.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.nc"]
