"""Where a warning points: at the user's line, not at bayescore's internals.

This module imports only the standard library, so any layer may use it.
"""

from __future__ import annotations

import inspect

__all__ = ["user_stacklevel"]


def user_stacklevel() -> int:
    """``stacklevel`` for a ``warnings.warn`` call so it names the first frame outside bayescore.

    Call it from the function that warns: the frames of bayescore between that function
    and the user's code (decorators such as ``validate_params``' wrapper, public wrappers,
    helpers) are counted at run time, so the warning points at the user's line however
    deep inside the package it is raised.

    Examples
    --------
    >>> user_stacklevel() >= 1
    True
    """
    frame = inspect.currentframe()
    frame = frame.f_back if frame is not None else None  # the caller: stacklevel 1
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("bayescore"):
        frame = frame.f_back
        level += 1
    return level
