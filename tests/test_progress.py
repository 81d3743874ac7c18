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
