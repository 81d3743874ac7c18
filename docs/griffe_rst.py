"""Griffe extension for the API pages: bayescore's reST docstrings rendered as Markdown.

bayescore's docstrings are numpydoc with reST roles and directives (``:func:``, ``:math:``,
``.. math::``), which the doctests and ``help()`` read as they are; mkdocstrings renders
Markdown. At documentation build time this extension rewrites each docstring:

- ``.. math::`` (on its line or as an indented block) becomes a ``$$`` block and ``:math:`x```
  becomes ``$x$`` (pymdownx.arithmatex, typeset by MathJax);
- ``.. code-block:: lang`` becomes a fenced code block;
- ``:func:`` / ``:class:`` / ``:meth:`` / ``:mod:`` / ``:attr:`` / ``:exc:`` / ``:data:`` /
  ``:obj:`` become optional cross-references: a link when the target is on a page, plain
  code otherwise (private modules, other libraries), so ``mkdocs build --strict`` passes;
- a numpydoc type that griffe would read as a Python expression but is prose
  (``array-like`` as ``array - like``, ``(N, K)`` with ``K`` resolved to a module alias)
  is shown as written; real types (``float``, ``DataArray``, ``int | None``) stay links;
- a class whose docstring is assigned at runtime (``__doc__ = ...``, as the estimators do to
  share their parameter list) gets that docstring, which static analysis cannot see;
- a class with a private base (the estimators' ``_BayesianClassifier``) lists that base's
  public bases instead, in ``extra["bayescore"]["public_bases"]``, which the class template
  (docs/templates/python/material/class.html.jinja) shows; the bases themselves stay, so
  inherited members are still found.

The source files are not changed.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

from griffe import (
    Docstring,
    ExprAttribute,
    ExprBinOp,
    ExprName,
    ExprSubscript,
    Extension,
    GriffeLoader,
    Object,
)

# Live imports (top-level names, runtime docstrings) must come from this checkout, the source
# griffe reads (mkdocs.yml: paths [.]), not from another bayescore on sys.path.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

_ROLE = re.compile(r":(?:py:)?(func|class|meth|mod|attr|exc|data|obj):`([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. (?P<name>math|code-block)::\s*(?P<arg>.*)$")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())


def _directives(text: str) -> str:
    """Turn ``.. math::`` and ``.. code-block::`` directives into Markdown blocks."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent, name, arg = match["indent"], match["name"], match["arg"].strip()
        i += 1
        body: list[str] = []
        # The directive's content: the following lines indented deeper (blank lines inside).
        while i < len(lines) and (not lines[i].strip() or _indent_of(lines[i]) > len(indent)):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            i -= 1
            body.pop()
        content = textwrap.dedent("\n".join(body)).strip("\n").splitlines()
        if name == "math":
            content = ([arg] if arg else []) + content
            block = ["$$", *content, "$$"]
        else:
            block = [f"```{arg}", *content, "```"]
        if out and out[-1].strip():
            out.append("")
        out.extend(f"{indent}{line}" if line else "" for line in block)
        if i < len(lines) and lines[i].strip():
            out.append("")
    return "\n".join(out)


def _public_path(target: str, obj: Object) -> str:
    """The identifier a role's target is documented under, as far as it can be told."""
    import bayescore

    parts = target.split(".")
    if parts[0] == "bayescore" and len(parts) == 2 and parts[1] in bayescore._WHERE:
        # Top-level names load lazily from the module that defines them.
        return f"bayescore.{bayescore._WHERE[parts[1]]}.{parts[1]}"
    if len(parts) == 1:
        scopes = [obj.parent, obj.module] if obj.parent is not None else [obj.module]
        for scope in scopes:
            if scope is not None and target in scope.members:
                return f"{scope.path}.{target}"
    return target


def _roles(text: str, obj: Object) -> str:
    """Turn reST roles into optional cross-references and ``:math:`` into inline maths."""
    text = _MATH_ROLE.sub(lambda m: f"${m[1]}$", text)

    def link(match: re.Match[str]) -> str:
        target = match[2].strip()
        title = None
        if "<" in target and target.endswith(">"):  # :func:`title <target>`
            title, target = (part.strip() for part in target[:-1].split("<", 1))
        short = target.startswith("~")
        target = target.lstrip("~").removesuffix("()")
        if title is None:
            title = target.rsplit(".", 1)[-1] if short else target
        identifier = _public_path(target, obj)
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

    return _ROLE.sub(link, text)


def _runtime_doc(obj: Object) -> str | None:
    """A class docstring set by assignment in the class body, read from the live class."""
    if not obj.is_class or obj.docstring is not None or "__doc__" not in obj.members:
        return None
    live: Any = importlib.import_module(obj.module.path)
    for name in obj.path.split(".")[len(obj.module.path.split(".")) :]:
        live = getattr(live, name)
    doc = live.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) else None


def _type_like(expr: Any) -> bool:
    """Whether a parsed docstring type reads as a type (names, ``a.b``, ``x[...]``, ``|``)."""
    if isinstance(expr, ExprBinOp):
        return expr.operator == "|" and _type_like(expr.left) and _type_like(expr.right)
    return isinstance(expr, str | ExprName | ExprAttribute | ExprSubscript)


def _types_as_written(docstring: Docstring) -> None:
    """Parse ``docstring``, keeping prose types as the text griffe would have rewritten."""
    parsed = docstring.parse()
    # Without a parent griffe cannot resolve names, so it keeps every type as its text.
    parent, docstring.parent = docstring.parent, None
    try:
        as_text = docstring.parse(
            docstring.parser, **{**docstring.parser_options, "warnings": False}
        )
    finally:
        docstring.parent = parent
    for section, text_section in zip(parsed, as_text, strict=True):
        if not isinstance(section.value, list):
            continue
        for item, text_item in zip(section.value, text_section.value, strict=True):
            written = getattr(text_item, "annotation", None)
            if isinstance(written, str) and not _type_like(item.annotation):
                item.annotation = written
            if isinstance(getattr(item, "annotation", None), str):
                item.annotation = item.annotation.replace("``", "")  # shown as code already
    docstring.__dict__["parsed"] = parsed  # what mkdocstrings renders (a cached property)


def _public_bases(cls: Any, loader: GriffeLoader) -> list[Any]:
    """The bases of ``cls`` a reader can use: each private base replaced by its own bases."""
    shown: list[Any] = []
    for base in cls.bases:
        path = getattr(base, "canonical_path", str(base))
        if not path.rsplit(".", 1)[-1].startswith("_"):
            shown.append(base)
            continue
        try:
            private = loader.modules_collection.get_member(path)
        except KeyError:  # not loaded (another package): nothing to show instead
            continue
        shown.extend(b for b in _public_bases(private, loader) if b not in shown)
    return shown


class RstToMarkdown(Extension):
    """Rewrite every loaded docstring from reST to Markdown for mkdocstrings."""

    def on_object(self, *, obj: Object, loader: GriffeLoader, **kwargs: Any) -> None:
        """Convert ``obj``'s docstring once the object tree is complete."""
        if (doc := _runtime_doc(obj)) is not None:
            obj.docstring = Docstring(
                doc,
                parent=obj,
                parser=loader.docstring_parser,
                parser_options=loader.docstring_options,
            )
        if obj.is_class and obj.bases:
            obj.extra["bayescore"]["public_bases"] = _public_bases(obj, loader)
        if obj.docstring is not None:
            obj.docstring.value = _roles(_directives(obj.docstring.value), obj)
            if obj.docstring.parser is not None:
                _types_as_written(obj.docstring)
