"""MkDocs hook: the option tables of the inference guide, generated from the options dataclasses.

A line ``<!-- options: bayescore.inference.nuts.NutsOptions -->`` in a page becomes the
Markdown table of that class's options (name, default, meaning), so the documented defaults
are the ones the code defines (:func:`bayescore.inference.options.options_table`).
"""

from __future__ import annotations

import importlib
import re

from bayescore.inference.options import MethodOptions, options_table

MARKER = re.compile(r"^<!-- options: ([\w.]+) -->$", re.MULTILINE)


def _table(match: re.Match[str]) -> str:
    module, _, name = match.group(1).rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, MethodOptions)):
        raise TypeError(f"{match.group(1)} is not a MethodOptions class")
    return options_table(cls)


def on_page_markdown(markdown: str, **_: object) -> str:
    """Replace every options marker by its table."""
    return MARKER.sub(_table, markdown)
