"""Where a warning should point: the first frame of the user's code."""

from __future__ import annotations

import inspect

__all__ = ["user_stacklevel"]


def _internal(frame: object) -> bool:
    """A frame of bayescore itself or of Python's import machinery."""
    code = getattr(frame, "f_code", None)
    module = getattr(frame, "f_globals", {}).get("__name__", "")
    filename = getattr(code, "co_filename", "")
    return module.startswith("bayescore") or filename.startswith("<frozen importlib")


def user_stacklevel() -> int:
    """The ``stacklevel`` for :func:`warnings.warn` that names the caller's line.

    Counted from the function that calls :func:`warnings.warn`: the first frame outside
    bayescore (and outside ``importlib``, for warnings raised while a module is imported),
    so a warning points at the user's ``fit``, ``compare`` or ``import`` line whichever path
    inside the package raised it.

    Examples
    --------
    >>> user_stacklevel() >= 1
    True
    """
    level, frame = 1, inspect.currentframe()
    frame = frame.f_back if frame is not None else None  # the function that warns
    while frame is not None and _internal(frame):
        frame = frame.f_back
        level += 1
    return level
