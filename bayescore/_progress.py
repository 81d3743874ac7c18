"""What a fit is doing, shown while it runs: phases with rates and an ETA.

``progressbar=None`` (the default of :func:`bayescore.fit`, the estimators and
:func:`bayescore.cross_validate`) resolves here: shown in an interactive terminal or a
notebook, silent in scripts, pipes, CI logs and test runs; ``True`` forces it.

A fit opens one :func:`reporting` context; the engine's steps announce themselves through
:func:`current` (``with current().phase("finding the mode") as task: task.advance()``)
without threading a progress object through every signature. Disabled, :func:`current`
returns a reporter whose phases do nothing. The display is rich's (a terminal, or Jupyter's
HTML), on stderr, and appears when the fit starts: the first phase is shown within the
refresh interval of the call. Libraries that draw their own bar (PyMC) run inside
:meth:`Reporter.paused`, so two live displays never compete for the terminal.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["Reporter", "Task", "current", "interactive", "reporting", "resolve"]


def interactive() -> bool:
    """Whether output goes to a person: a notebook kernel or a terminal on stderr.

    Examples
    --------
    >>> isinstance(interactive(), bool)
    True
    """
    shell = sys.modules.get("IPython")
    if shell is not None:
        get_ipython = getattr(shell, "get_ipython", None)
        ip = get_ipython() if get_ipython is not None else None
        if ip is not None and type(ip).__name__ == "ZMQInteractiveShell":
            return True
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def resolve(flag: bool | None) -> bool:
    """``flag`` itself, or :func:`interactive` when it is None.

    Examples
    --------
    >>> resolve(True), resolve(False)
    (True, False)
    """
    if flag is None:
        return interactive()
    if not isinstance(flag, bool):
        raise TypeError(f"progressbar must be True, False or None (automatic); got {flag!r}.")
    return flag


class Task:
    """One phase's counter: ``advance`` it, or set what it has done (no-op when hidden)."""

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, steps: float = 1.0, note: str | None = None) -> None:
        """Count ``steps`` more; ``note`` replaces the phase's note (e.g. ``"log p -27.3"``)."""
        self.update(advance=steps, note=note)

    def update(
        self,
        *,
        completed: float | None = None,
        total: float | None = None,
        advance: float | None = None,
        note: str | None = None,
    ) -> None:
        """Set the work done (and the total, once known) and the phase's note."""
        if self._progress is None or self._task is None:
            return
        if note is None:
            self._progress.update(self._task, completed=completed, total=total, advance=advance)
        else:
            self._progress.update(
                self._task, completed=completed, total=total, advance=advance, note=note
            )


class Reporter:
    """The phases of one fit, drawn by rich; :meth:`phase` is a no-op when hidden."""

    def __init__(self, progress: Progress | None = None) -> None:
        self._progress = progress

    @property
    def enabled(self) -> bool:
        """Whether progress is shown."""
        return self._progress is not None

    @contextlib.contextmanager
    def phase(self, description: str, total: float | None = None) -> Iterator[Task]:
        """Show ``description`` (with a bar, a rate and an ETA when ``total`` is known)."""
        if self._progress is None:
            yield Task()
            return
        task = self._progress.add_task(description, total=total, note="")
        try:
            yield Task(self._progress, task)
        finally:
            # A finished phase shows as complete, whatever its total was.
            done = self._progress.tasks[self._progress.task_ids.index(task)].completed
            self._progress.update(task, total=max(done, 1.0), completed=max(done, 1.0))

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hide the display while a library draws its own bar (PyMC's, nutpie's)."""
        if self._progress is None:
            yield
            return
        self._progress.stop()
        try:
            yield
        finally:
            self._progress.start()


_NULL = Reporter()
_CURRENT: ContextVar[Reporter] = ContextVar("bayescore_progress", default=_NULL)


def current() -> Reporter:
    """The reporter of the fit running in this context (a silent one outside a fit).

    Examples
    --------
    >>> with current().phase("nothing shown") as task:
    ...     task.advance()
    >>> current().enabled
    False
    """
    return _CURRENT.get()


@contextlib.contextmanager
def reporting(enabled: bool, first: str, title: str = "bayescore") -> Iterator[Reporter]:
    """Show the phases of the work inside the block when ``enabled``.

    ``first`` names the whole task; it is on the screen from the display's first frame,
    before any phase has started.
    """
    if not enabled or _CURRENT.get().enabled:  # nested fits report into the outer display
        with _CURRENT.get().phase(first):
            yield _CURRENT.get()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        SpinnerColumn(),
        TextColumn(f"[bold]{title}[/bold] {{task.description}}", markup=True),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=Console(stderr=True),
        refresh_per_second=10,
        transient=False,
    )
    reporter = Reporter(progress)
    token = _CURRENT.set(reporter)
    whole = progress.add_task(first, total=None, note="")
    progress.start()
    try:
        yield reporter
    finally:
        progress.update(whole, total=1.0, completed=1.0)
        progress.stop()
        _CURRENT.reset(token)
