"""progressbar=None: shown to a person at a terminal or in a notebook, silent otherwise."""

from __future__ import annotations

import io
import sys
import types

import pytest

from bayescore._progress import interactive, resolve


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_shows_progress_and_pipes_do_not(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert interactive() and resolve(None)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe or a log file
    assert not interactive() and not resolve(None)
    assert resolve(True) and not resolve(False)  # an explicit choice always wins


def test_notebook_kernel_shows_progress(monkeypatch):
    class ZMQInteractiveShell:  # the class name IPython's notebook kernel uses
        pass

    fake = types.ModuleType("IPython")
    fake.get_ipython = ZMQInteractiveShell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert interactive()


def test_progressbar_must_be_a_bool_or_none():
    with pytest.raises(TypeError, match="progressbar must be True, False or None"):
        resolve("yes")  # type: ignore[arg-type]


# ------------------------------------------------------------- in a real terminal (a pty)

SCRIPT = """
import sys, time
import numpy as np
import bayescore as bs
rng = np.random.default_rng(0)
X = rng.normal(size=({n}, 5)); y = (X[:, 0] + rng.logistic(size={n}) > 0).astype(int)
model = bs.build_model(X, y)
sys.stderr.write("CALL\\n"); sys.stderr.flush()
bs.fit(model, {method!r}, draws=200, tune=200, random_seed=0, warn=False)
sys.stderr.write("DONE\\n"); sys.stderr.flush()
"""


def _run_in_pty(code: str, timeout: float = 240.0) -> list[tuple[float, str]]:
    """Run ``code`` with its terminal a pty; the output, as (seconds, text) chunks."""
    import os
    import pty
    import select
    import subprocess
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm-256color"},
    )
    os.close(slave)
    chunks: list[tuple[float, str]] = []
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append((time.perf_counter(), data.decode(errors="replace")))
            elif proc.poll() is not None:
                break
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    return chunks


def _seconds_to(chunks: list[tuple[float, str]], after: str, text: str) -> float:
    """Seconds from the chunk holding ``after`` to the first one (from there) holding ``text``."""
    seen = "".join(c for _, c in chunks)
    assert after in seen and text in seen.split(after, 1)[1], seen[-2000:]
    start = next(t for t, c in chunks if after in c)
    return next(t for t, c in chunks if t >= start and text in c) - start


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "first", "later"),
    [
        ("laplace", "fit, method='laplace'", "checking the approximation"),
        ("advi", "fit, method='advi'", "ADVI: L-BFGS on"),
        ("nuts", "fit, method='nuts'", "NUTS, 2 chains"),
    ],
)
def test_a_fit_in_a_terminal_shows_its_phases_within_a_second(method, first, later):
    """Started in a pty with progressbar=None: the first phase is on the screen within a
    second of the call, the later phases follow, and the fit finishes."""
    chunks = _run_in_pty(SCRIPT.format(n=20_000, method=method))
    assert _seconds_to(chunks, "CALL", first) < 1.0
    assert _seconds_to(chunks, "CALL", "finding the posterior mode") > 0.0
    assert _seconds_to(chunks, "CALL", later) > 0.0
    assert "DONE" in "".join(c for _, c in chunks)


CLI_SCRIPT = """
import sys
import numpy as np
import pandas as pd
from bayescore.cli import main
rng = np.random.default_rng(0)
X = rng.normal(size=(20_000, 5)); y = (X[:, 0] + rng.logistic(size=20_000) > 0).astype(int)
frame = pd.DataFrame(X, columns=[f"x{{i}}" for i in range(5)]).assign(y=y)
frame.to_csv({csv!r}, index=False)
sys.argv = ["bayescore", "fit", "--data", {csv!r}, "--target", "y", "--kind", "logistic",
            "--out", {out!r}, "--draws", "200"]
sys.stderr.write("CALL\\n"); sys.stderr.flush()
try:
    main()
finally:
    sys.stderr.write("DONE\\n"); sys.stderr.flush()
"""


@pytest.mark.slow
def test_the_cli_fit_in_a_terminal_shows_progress_within_a_second(tmp_path):
    """``bayescore fit`` (method auto, no --progress) in a pty: the fit's first phase shows
    within a second of the call, the mode and the verdict follow, and the model is saved."""
    out = tmp_path / "m.nc"
    code = CLI_SCRIPT.format(csv=str(tmp_path / "d.csv"), out=str(out))
    chunks = _run_in_pty(code)
    assert _seconds_to(chunks, "CALL", "fit, method='auto'") < 1.0
    assert _seconds_to(chunks, "CALL", "finding the posterior mode") > 0.0
    assert _seconds_to(chunks, "CALL", "checking the approximation") > 0.0
    assert "DONE" in "".join(c for _, c in chunks) and out.stat().st_size > 0
