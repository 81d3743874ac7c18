"""When to show progress: by default in an interactive terminal or a notebook, else never.

``progressbar=None`` (the default of :func:`bayescore.fit`, the estimators and
:func:`bayescore.cross_validate`) resolves here, so scripts, pipes, CI logs and test runs
stay silent while a person at a terminal or in Jupyter sees the sampler's progress.
"""

from __future__ import annotations

import sys

__all__ = ["interactive", "resolve"]


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
