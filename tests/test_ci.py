"""`make test` on a machine without Chromium: installed where it can be, else one clear line.

``.ci/ensure-chromium`` is what ``make test`` runs before the suite (and so what ``.ci/run``
gets through ``make test``). The paths that do not install anything are run for real here:
the script and a copy of the Makefile in a folder every user can read, run as an
unprivileged user (``setpriv`` to ``nobody`` when the tests run as root) with a ``PATH`` that
holds ``bash`` and ``id`` but no browser. The install path itself (root with apt-get) is what
a fresh CI machine runs; it is not repeated here, since it would install a package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "ensure-chromium"
NOBODY = 65534
MISSING = (
    "make test: Chromium is missing (the report and docs tests render pages in it): install "
    "Debian's chromium ('sudo apt-get install chromium'), or set CHROMIUM=/path/to/chromium."
)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A folder any user can read, with the script, the Makefile and a bin/ of bash and id."""
    with tempfile.TemporaryDirectory() as name:
        work = Path(name)
        (work / ".ci").mkdir()
        shutil.copy2(SCRIPT, work / ".ci" / "ensure-chromium")
        shutil.copy2(ROOT / "Makefile", work / "Makefile")
        (work / "bin").mkdir()
        for tool in ("bash", "id"):
            (work / "bin" / tool).symlink_to(shutil.which(tool))
        for path in (work, *work.rglob("*")):
            if not path.is_symlink():
                path.chmod(0o755)
        yield work


def as_user(cmd: list[str], work: Path, path: str, root: bool = False, **env: str):
    """Run ``cmd`` in ``work`` with only ``PATH`` (and ``env``) set; not as root unless asked."""
    if os.geteuid() == 0 and not root:
        setpriv = shutil.which("setpriv")  # util-linux: on every Debian
        assert setpriv is not None
        cmd = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *cmd]
    return subprocess.run(
        cmd, cwd=work, env={"PATH": path, "HOME": str(work), **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_without_chromium_a_non_root_user_gets_one_line_and_exit_1(workdir):
    done = as_user(["/bin/bash", ".ci/ensure-chromium"], workdir, str(workdir / "bin"))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [MISSING]


@pytest.mark.skipif(os.geteuid() != 0, reason="the root path needs root")
def test_root_without_apt_get_is_not_promised_an_install(workdir):
    done = as_user(["/bin/bash", ".ci/ensure-chromium"], workdir, str(workdir / "bin"), root=True)
    assert (done.returncode, done.stderr.splitlines()) == (1, [MISSING])


def test_make_test_stops_before_the_suite(workdir):
    # -o: the venv stamp counts as up to date, so make goes straight to the recipes.
    make = shutil.which("make")
    assert make is not None
    done = as_user([make, "-o", ".venv/.installed-dev", "test"], workdir, str(workdir / "bin"))
    assert done.returncode != 0
    assert MISSING in done.stderr.splitlines()
    assert "pytest" not in done.stdout + done.stderr  # the suite never started


def test_a_chromium_that_starts_passes_silently(workdir):
    from chromium import chromium

    browser = chromium()  # the tests' own browser: real, not a stand-in
    done = as_user(
        ["/bin/bash", ".ci/ensure-chromium"], workdir, f"{workdir / 'bin'}:/usr/bin:/bin",
        CHROMIUM=browser,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_a_chromium_that_does_not_start_is_named(workdir):
    done = as_user(
        ["/bin/bash", ".ci/ensure-chromium"], workdir, str(workdir / "bin"),
        CHROMIUM=str(workdir / "bin" / "no-such-browser"),
    )  # fmt: skip
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"make test: Chromium at {workdir / 'bin' / 'no-such-browser'} does")
