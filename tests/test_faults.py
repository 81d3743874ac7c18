"""Faults while writing: a full disk, an I/O error, an output that is an input or not a file,
and ``kill -9`` in the middle of a write, for every command and function that writes a file.

Each leaves every file that existed before intact and loadable, leaves no temporary file,
and ends (when it ends by itself) with exit code 1 (2 for a wrong command line) and one
line on stderr, never a traceback or a crash.

The full disk is real: a 1 MB tmpfs filled to its last 4 KB (as root; elsewhere the same
ENOSPC is injected into ``os.write``), written to by a separate process, which must end by
itself (a crash would show as exit 139). An I/O error (EIO) cannot be produced on purpose on
a real filesystem, so it is injected into ``os.fsync``, where real disks report it. The
kill is real too: the child writes half of its file, says so, and is killed by the parent;
only its pace is changed (it sleeps after the first half) so the kill lands mid-write.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import bayescore as bs
from bayescore.cli import app

#: Prepended to every child: faults injected into os.write / os.fsync for files written
#: in one directory (sys.argv[1] = fault, sys.argv[2] = directory; both removed).
PREAMBLE = textwrap.dedent(
    """
    import errno, os, sys, time
    FAULT, DIRECTORY = sys.argv[1], os.path.realpath(sys.argv[2])
    del sys.argv[1:3]

    def _ours(fd):
        try:
            return os.readlink(f"/proc/self/fd/{fd}").startswith(DIRECTORY + "/")
        except OSError:
            return False

    _write, _fsync = os.write, os.fsync

    def write(fd, data):
        if _ours(fd):
            if FAULT == "enospc":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            if FAULT == "pause":
                written = _write(fd, bytes(data[: max(1, len(data) // 2)]))
                print("mid-write", file=sys.stderr, flush=True)
                time.sleep(300)
                return written
        return _write(fd, data)

    def fsync(fd):
        if FAULT == "eio" and _ours(fd):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return _fsync(fd)

    os.write, os.fsync = write, fsync
    """
)
CLI_MAIN = "from bayescore.cli import main\nsys.argv[0] = 'bayescore'\nmain()\n"
TIMEOUT = 600


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A saved Laplace fit of iris, its CSV, and one output of each kind to overwrite."""
    root = tmp_path_factory.mktemp("faults-inputs")
    ds = bs.load_dataset("iris")
    clf = bs.BayesianSoftmaxClassifier(method="laplace", draws=100, fit_kwargs={"warn": False})
    clf.fit(ds.X, ds.y)
    bs.save(clf, root / "model.nc")
    ds.X.assign(species=ds.y).to_csv(root / "iris.csv", index=False)
    pd.DataFrame({"prediction": ["x"], "setosa": [1.0]}).to_csv(root / "old.csv", index=False)
    bs.report({"m": clf}, ds.X, ds.y, root / "old.html")
    return root


#: Each CLI writer: arguments (``{in}`` the inputs' directory, ``{out}`` the output), and
#: the old output it replaces.
CLI_WRITERS = {
    "fit": (
        [
            "fit",
            "--data",
            "{in}/iris.csv",
            "--target",
            "species",
            "--method",
            "laplace",
            "--draws",
            "50",
            "--out",
            "{out}",
        ],
        "model.nc",
    ),  # fmt: skip
    "predict": (["predict", "{in}/model.nc", "--dataset", "iris", "--out", "{out}"], "old.csv"),
    "calibrate": (
        [
            "calibrate",
            "{in}/model.nc",
            "--dataset",
            "iris",
            "--predict",
            "{in}/iris.csv",
            "--out",
            "{out}",
        ],
        "old.csv",
    ),  # fmt: skip
    "report": (["report", "{in}/model.nc", "--dataset", "iris", "--out", "{out}"], "old.html"),
}
#: Each API writer: a statement writing to ``out`` (with ``clf``, ``ds``, ``bs`` defined).
API_WRITERS = {
    "bs.save": ("bs.save(clf, out)", "model.nc"),
    "est.save": ("clf.save(out)", "model.nc"),
    "bs.report": ("bs.report({'m': clf}, ds.X, ds.y, out)", "old.html"),
}
API_SETUP = """
import bayescore as bs
ds = bs.load_dataset("iris")
clf = bs.load({model!r})
out = {out!r}
"""


def _args(args: list[str], inputs: Path, out: Path | str) -> list[str]:
    return [a.replace("{in}", str(inputs)).replace("{out}", str(out)) for a in args]


def _child(code: str, fault: str, directory: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", PREAMBLE + code, fault, str(directory), *args]


def _intact(path: Path, before: bytes) -> None:
    """``path`` holds exactly what it held, and loads as what it is."""
    assert path.read_bytes() == before
    if path.suffix == ".nc":
        assert bs.load(path).classes_.tolist() == ["setosa", "versicolor", "virginica"]
    elif path.suffix == ".csv":
        assert len(pd.read_csv(path)) >= 1
    else:
        assert path.read_text().startswith("<!DOCTYPE html>")


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# ------------------------------------------------------------------------- full disk
@pytest.fixture
def full_disk(tmp_path):
    """A directory on a 1 MB tmpfs (as root), and a function that fills it to 4 KB free.

    Elsewhere a plain directory, with ENOSPC injected into writes to it ("simulated").
    """
    directory = tmp_path / "disk"
    directory.mkdir()
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        mounted = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(directory)],
                capture_output=True,
            ).returncode
            == 0
        )

    def fill() -> None:
        if not mounted:
            return
        st = os.statvfs(directory)
        free = st.f_bavail * st.f_frsize
        (directory / "filler").write_bytes(b"\0" * max(0, free - 4096))
        st = os.statvfs(directory)
        assert st.f_bavail * st.f_frsize <= 8192

    yield directory, fill, "none" if mounted else "enospc"
    if mounted:
        subprocess.run(["umount", str(directory)], check=True)


@pytest.mark.parametrize("writer", list(CLI_WRITERS))
def test_cli_on_a_full_disk_keeps_the_old_file_and_says_one_line(writer, inputs, full_disk):
    directory, fill, fault = full_disk
    args, old = CLI_WRITERS[writer]
    out = directory / f"out{Path(old).suffix}"
    shutil.copy(inputs / old, out)
    before = out.read_bytes()
    fill()
    listing = sorted(p.name for p in directory.iterdir())
    proc = subprocess.run(
        _child(CLI_MAIN, fault, directory, *_args(args, inputs, out)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 1, (proc.returncode, proc.stderr)  # not 139 (SIGSEGV)
    line = _one_error_line(proc.stderr)
    assert line == (
        f"error: could not write {out}: No space left on device; the existing file is unchanged"
    )
    assert sorted(p.name for p in directory.iterdir()) == listing  # no temp file left
    _intact(out, before)


def test_api_on_a_full_disk_raises_oserror_and_the_process_lives_on(inputs, full_disk):
    """bs.save, est.save and bs.report on a full disk: OSError, old files kept, no crash."""
    directory, fill, fault = full_disk
    outs = {}
    for name, (_, old) in API_WRITERS.items():
        outs[name] = directory / f"{name.replace('.', '_')}{Path(old).suffix}"
        shutil.copy(inputs / old, outs[name])
    before = {name: path.read_bytes() for name, path in outs.items()}
    fill()
    listing = sorted(p.name for p in directory.iterdir())
    script = API_SETUP.format(model=str(inputs / "model.nc"), out="") + "\n".join(
        f"""
try:
    out = {str(outs[name])!r}
    {statement}
    print("wrote", {name!r})
except OSError as exc:
    print({name!r}, exc.errno, exc.strerror)
import gc; gc.collect()  # h5py/HDF5 used to crash here, closing a half-written file
"""
        for name, (statement, _) in API_WRITERS.items()
    )
    proc = subprocess.run(
        _child(script, fault, directory), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert proc.returncode == 0, proc.stderr
    for name, path in outs.items():
        expected = (
            f"could not write {path}: No space left on device; the existing file is unchanged"
        )
        assert f"{name} {errno.ENOSPC} {expected}" in proc.stdout.splitlines(), proc.stdout
        _intact(path, before[name])
    assert sorted(p.name for p in directory.iterdir()) == listing


# ----------------------------------------------------------------------- I/O error
def _failing_fsync(monkeypatch, directory: Path) -> None:
    """A disk that reports EIO when asked to sync a file in ``directory``."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(f"{directory}/"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("writer", list(CLI_WRITERS))
def test_cli_on_an_io_error_keeps_the_old_file_and_says_one_line(
    writer, inputs, tmp_path, monkeypatch
):
    args, old = CLI_WRITERS[writer]
    out = tmp_path / f"out{Path(old).suffix}"
    shutil.copy(inputs / old, out)
    before = out.read_bytes()
    _failing_fsync(monkeypatch, tmp_path)
    result = CliRunner().invoke(app, _args(args, inputs, out))
    monkeypatch.undo()
    assert result.exit_code == 1, result.stderr
    assert _one_error_line(result.stderr) == (
        f"error: could not write {out}: Input/output error; the existing file is unchanged"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    _intact(out, before)


@pytest.mark.parametrize("writer", list(API_WRITERS))
def test_api_on_an_io_error_raises_oserror_naming_the_file(writer, inputs, tmp_path, monkeypatch):
    statement, old = API_WRITERS[writer]
    out = tmp_path / f"out{Path(old).suffix}"
    shutil.copy(inputs / old, out)
    before = out.read_bytes()
    ds, clf = bs.load_dataset("iris"), bs.load(inputs / "model.nc")
    _failing_fsync(monkeypatch, tmp_path)
    with pytest.raises(OSError, match=r"could not write .*: Input/output error; the existing"):
        exec(statement, {"bs": bs, "ds": ds, "clf": clf, "out": out})  # noqa: S102
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    _intact(out, before)


# ------------------------------------------------------- the output is an input
@pytest.mark.parametrize(
    "args, victim",
    [
        (["fit", "--data", "{in}/iris.csv", "--target", "species", "--out", "{in}/iris.csv"],
         "iris.csv"),
        (["predict", "{in}/model.nc", "--dataset", "iris", "--out", "{in}/model.nc"], "model.nc"),
        (["predict", "{in}/model.nc", "--data", "{in}/iris.csv", "--out",
          "{in}/../{base}/iris.csv"], "iris.csv"),
        (["calibrate", "{in}/model.nc", "--dataset", "iris", "--predict", "{in}/iris.csv",
          "--out", "{in}/iris.csv"], "iris.csv"),
        (["calibrate", "{in}/model.nc", "--data", "{in}/iris.csv", "--target", "species",
          "--predict", "{in}/iris.csv", "--out", "{in}/model.nc"], "model.nc"),
        (["report", "{in}/model.nc", "--dataset", "iris", "--out", "{in}/model.nc"], "model.nc"),
        (["report", "{in}/model.nc", "--data", "{in}/iris.csv", "--target", "species",
          "--out", "{in}/iris.csv"], "iris.csv"),
    ],
    ids=["fit csv", "predict model", "predict csv ..", "calibrate csv", "calibrate model",
         "report model", "report csv"],
)  # fmt: skip
def test_an_output_that_is_an_input_is_refused(args, victim, inputs):
    before = (inputs / victim).read_bytes()
    argv = [a.replace("{base}", inputs.name) for a in _args(args, inputs, "")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.stderr
    line = _one_error_line(result.stderr)
    assert "is the input" in line and "writing it would destroy the input" in line
    _intact(inputs / victim, before)


def test_an_output_that_is_an_input_through_a_link_is_refused(inputs, tmp_path):
    (tmp_path / "link.nc").symlink_to(inputs / "model.nc")
    os.link(inputs / "iris.csv", tmp_path / "hard.csv")  # the same file by another name
    before = {p: (inputs / p).read_bytes() for p in ("model.nc", "iris.csv")}
    link, model, csv = tmp_path / "link.nc", inputs / "model.nc", inputs / "iris.csv"
    for argv in (
        ["predict", str(link), "--dataset", "iris", "--out", str(model)],
        ["predict", str(model), "--dataset", "iris", "--out", str(link)],
        ["predict", str(model), "--data", str(csv), "--out", str(tmp_path / "hard.csv")],
    ):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2 and "is the input" in _one_error_line(result.stderr)
    for name, content in before.items():
        _intact(inputs / name, content)
    assert (tmp_path / "link.nc").is_symlink()


# ------------------------------------------------- devices, FIFOs and directories
@pytest.fixture
def specials(tmp_path):
    """A FIFO, a directory, and a character device (/dev/null, or a new one as root)."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    device = Path("/dev/null")
    if os.geteuid() == 0:
        try:
            os.mknod(tmp_path / "null", 0o666 | 0o020000, os.makedev(1, 3))
            device = tmp_path / "null"
        except OSError:
            pass
    return {"device": device, "fifo": tmp_path / "fifo", "directory": tmp_path / "dir"}


def _still(kind: str, path: Path) -> bool:
    return {"device": path.is_char_device, "fifo": path.is_fifo, "directory": path.is_dir}[kind]()


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
@pytest.mark.parametrize("writer", list(CLI_WRITERS))
def test_cli_refuses_a_target_that_is_not_a_regular_file(writer, kind, inputs, specials):
    args, _ = CLI_WRITERS[writer]
    target = specials[kind]
    result = CliRunner().invoke(app, _args(args, inputs, target))
    assert result.exit_code == 2, result.stderr
    line = _one_error_line(result.stderr)
    assert f"'{target}' is a" in line and "not a regular file" in line
    assert _still(kind, target)


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
@pytest.mark.parametrize("writer", list(API_WRITERS))
def test_api_refuses_a_target_that_is_not_a_regular_file(writer, kind, inputs, specials):
    statement, _ = API_WRITERS[writer]
    ds, clf = bs.load_dataset("iris"), bs.load(inputs / "model.nc")
    target = specials[kind]
    expected = (
        "is a directory .*; give a file name in it"
        if kind == "directory"
        else "not a regular file: bayescore writes only regular"
    )
    with pytest.raises(ValueError, match=expected):
        exec(statement, {"bs": bs, "ds": ds, "clf": clf, "out": target})  # noqa: S102
    assert _still(kind, target)
    left = {p.name for p in specials["fifo"].parent.iterdir()}
    assert left <= {"fifo", "dir", "null"}  # nothing written beside them


def test_predict_into_a_fifo_returns_at_once_in_a_real_process(inputs, specials):
    """It used to block on opening the FIFO for writing, waiting for a reader forever."""
    args, _ = CLI_WRITERS["predict"]
    proc = subprocess.run(
        _child(CLI_MAIN, "none", specials["fifo"].parent, *_args(args, inputs, specials["fifo"])),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 2 and "FIFO (named pipe)" in _one_error_line(proc.stderr)
    assert specials["fifo"].is_fifo()


# ---------------------------------------------------------------- standard output
@pytest.mark.parametrize(
    "args",
    [["datasets", "--json"], ["compare", "{in}/model.nc", "--dataset", "iris", "--json"]],
    ids=["datasets --json", "compare --json"],
)
def test_stdout_on_a_full_device_is_one_line(args, inputs):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-c", "import sys\n" + CLI_MAIN, *_args(args, inputs, "")],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
        )
    assert proc.returncode == 1, proc.stderr
    assert _one_error_line(proc.stderr) == (
        "error: could not write to standard output: No space left on device"
    )


# ----------------------------------------------------------------- kill -9 mid-write
def _kill_mid_write(command: list[str]) -> None:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # warnings may come first
        if line.strip() == "mid-write":
            break
    else:
        proc.wait()
        raise AssertionError(f"the child never wrote (exit {proc.returncode})")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("writer", list(CLI_WRITERS))
def test_cli_killed_mid_write_leaves_the_old_file_and_no_temp_file(writer, inputs, tmp_path):
    args, old = CLI_WRITERS[writer]
    out = tmp_path / f"out{Path(old).suffix}"
    shutil.copy(inputs / old, out)
    before = out.read_bytes()
    _kill_mid_write(_child(CLI_MAIN, "pause", tmp_path, *_args(args, inputs, out)))
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    _intact(out, before)


@pytest.mark.slow
@pytest.mark.parametrize("writer", list(API_WRITERS))
def test_api_killed_mid_write_leaves_the_old_file_and_no_temp_file(writer, inputs, tmp_path):
    statement, old = API_WRITERS[writer]
    out = tmp_path / f"out{Path(old).suffix}"
    shutil.copy(inputs / old, out)
    before = out.read_bytes()
    script = API_SETUP.format(model=str(inputs / "model.nc"), out=str(out)) + statement
    _kill_mid_write(_child(script, "pause", tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    _intact(out, before)


def test_the_injected_pause_really_interrupts_a_write(inputs, tmp_path):
    """The harness itself: without the kill, the paused child has half a file open."""
    out = tmp_path / "out.csv"
    args, _ = CLI_WRITERS["predict"]
    proc = subprocess.Popen(
        _child(CLI_MAIN, "pause", tmp_path, *_args(args, inputs, out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().strip() == "mid-write"
    held = [
        os.readlink(fd)
        for fd in Path(f"/proc/{proc.pid}/fd").iterdir()
        if os.readlink(fd).startswith(f"{tmp_path}/")
    ]
    proc.kill()
    proc.wait()
    assert len(held) == 1 and held[0].endswith("(deleted)")  # an anonymous file, no name
    assert not out.exists() and os.listdir(tmp_path) == []
