r"""MkDocs hook: serve MathJax from the built site, so formulas render without network.

The docstrings' formulas reach the pages as ``\( ... \)`` and ``\[ ... \]`` in
``<span class="arithmatex">`` (pymdownx.arithmatex, generic mode), which MathJax typesets
in the browser. MathJax comes from the ``django-static-mathjax`` wheel on PyPI (MathJax 3.2.2
as released, installed with the ``docs``/``dev`` extras; it needs no Django to be read from
disk). This hook adds its files to the site under ``javascripts/mathjax/``; mkdocs.yml loads
``javascripts/mathjax/es5/tex-chtml.js`` after the configuration in
``javascripts/mathjax.js``. No page loads anything from another host.

What is copied is what a page can ask for: the TeX-to-HTML component, the TeX extensions it
loads on demand (``\require``, autoloaded macros), the HTML output's fonts, and the menu
with its accessibility parts (loaded when a reader turns them on), plus the licence.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

#: Where the files go in the site.
TARGET = "javascripts/mathjax"
#: Files and folders of the MathJax distribution (relative to its root) that pages may load.
PARTS = (
    "LICENSE",
    "es5/tex-chtml.js",
    "es5/input/tex/extensions",
    "es5/output/chtml",
    "es5/ui",
    "es5/a11y",
    "es5/sre",
)


def mathjax_root() -> Path:
    """The MathJax distribution installed by ``django-static-mathjax``."""
    spec = importlib.util.find_spec("mathjax")
    origin = None if spec is None else spec.origin
    root = None if origin is None else Path(origin).parent / "static" / "mathjax"
    if root is None or not (root / "es5" / "tex-chtml.js").is_file():
        raise PluginError(
            "MathJax is not installed: the documentation serves it from the site. "
            "pip install -e '.[docs]' (or '.[dev]') installs it (django-static-mathjax)."
        )
    return root


def on_files(files: Files, *, config: MkDocsConfig, **kwargs: Any) -> Files:
    """Add MathJax's files to the site (also served by ``mkdocs serve``)."""
    root = mathjax_root()
    for part in PARTS:
        path = root / part
        sources = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for source in sources:
            uri = f"{TARGET}/{source.relative_to(root).as_posix()}"
            files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files
