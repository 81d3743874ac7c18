r"""Text made safe for where it goes: terminals, spreadsheets, and the command line's advice.

Labels, model names, column names and paths come from users and files, so they may hold
anything:

- **Terminals** run escape sequences (``ESC]2;...BEL`` retitles the window, ``ESC[2J``
  clears it) and break lines at control characters. :func:`printable` shows every control
  character as its Python escape (``\x1b``), and bidirectional overrides too (they make
  text read differently from what it is), so nothing printed can act on the terminal.
- **Spreadsheets** run a CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
  (tab and carriage return can hide such a start): formula injection. :func:`csv_cell`
  applies OWASP's rule, a leading ``'`` that makes the cell text. Two refinements keep it
  exact: plain numbers (``-1``, ``+0.5``) are left alone, as no spreadsheet runs them and
  escaping them would corrupt negative labels for every reader; and a cell that already
  starts with ``'`` gets one more, so :func:`csv_uncell` recovers every original exactly.
- **Advice** in messages is written for Python (``method='nuts'``); :func:`cli_syntax`
  rewrites it for the command line (``--method nuts``).

References: OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Mapping
from typing import Any

__all__ = ["cli_syntax", "csv_cell", "csv_uncell", "one_line", "printable"]

#: Characters that start a formula in spreadsheets (OWASP), or hide such a start.
_FORMULA_START = frozenset("=+-@\t\r")
#: A plain decimal number: no spreadsheet evaluates it as anything else.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
#: Bidirectional embeddings, overrides and isolates (Unicode category Cf, not Cc): they
#: reorder what a terminal shows ("Trojan Source", CVE-2021-42574).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _unsafe(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI


def printable(text: Any) -> str:
    r"""``str(text)`` with every control character shown as its escape, never sent as is.

    Control characters (C0, DEL, C1), line and paragraph separators and bidirectional
    overrides become ``\xNN`` / ``\uNNNN`` (tab and newline too: output stays on its
    lines). Everything else, including non-ASCII letters, is kept.

    Examples
    --------
    >>> printable("model\x1b]2;pwned\x07 [red]x")
    'model\\x1b]2;pwned\\x07 [red]x'
    >>> printable("Adélie\npenguin")
    'Adélie\\npenguin'
    """
    text = str(text)
    if not any(_unsafe(c) for c in text):
        return text
    return "".join(c.encode("unicode_escape").decode("ascii") if _unsafe(c) else c for c in text)


def one_line(text: Any) -> str:
    r"""``text`` on one printable line: runs of whitespace become one space.

    Examples
    --------
    >>> one_line("The fit failed:\n  pareto_k = 0.8\x1b[2J")
    'The fit failed: pareto_k = 0.8\\x1b[2J'
    """
    return printable(" ".join(str(text).split()))


def csv_cell(value: Any) -> Any:
    r"""``value`` made inert for spreadsheets (OWASP: a leading ``'``); non-text unchanged.

    Parameters
    ----------
    value : any
        A cell or column name. Only text is changed.

    Returns
    -------
    any
        Text starting with ``=``, ``+``, ``-``, ``@``, tab, carriage return or ``'`` gets a
        leading ``'``, unless it is a plain number; anything else is returned as it is.

    Examples
    --------
    >>> [csv_cell(v) for v in ['=HYPERLINK("http://x")', "@SUM(A1)", "-1", "setosa", 3]]
    ['\'=HYPERLINK("http://x")', "'@SUM(A1)", '-1', 'setosa', 3]
    >>> csv_cell("'quoted")
    "''quoted"
    """
    if not isinstance(value, str) or not value:
        return value
    if value[0] == "'" or (value[0] in _FORMULA_START and not _NUMBER.fullmatch(value)):
        return "'" + value
    return value


def csv_uncell(value: Any) -> Any:
    """The inverse of :func:`csv_cell`: ``csv_uncell(csv_cell(v)) == v`` for every ``v``.

    Examples
    --------
    >>> [csv_uncell(csv_cell(v)) for v in ["=1+1", "'x", "''y", "-1", "plain"]]
    ['=1+1', "'x", "''y", '-1', 'plain']
    """
    if isinstance(value, str) and value.startswith("'") and csv_cell(value[1:]) == value:
        return value[1:]
    return value


#: ``name=value`` with a quoted, bracketed or bare value.
_ASSIGNMENT = re.compile(
    r"(?<![\w.'\"-])(?P<name>[A-Za-z_]\w*)=(?P<value>'[^']*'|\"[^\"]*\"|\[[^\]]*\]|[\w.+-]+)"
)


def _cli_value(value: str) -> str:
    """A Python literal as one shell word.

    Quotes are dropped, lists joined by commas, and the result quoted for the shell when it
    holds spaces or other special characters.
    """
    if value.startswith("["):
        items = [v.strip().strip("'\"") for v in value[1:-1].split(",")]
        value = ",".join(i for i in items if i)
    else:
        value = value.strip("'\"")
    return shlex.quote(value)


def cli_syntax(text: str, options: Mapping[str, str]) -> str:
    """Rewrite Python-style advice in ``text`` as command-line options.

    ``name=value`` becomes ``--option value`` (lists become ``a,b``), and a bare
    ``name`` that holds an underscore becomes ``--option``, for the names in ``options``;
    all other text is kept.

    Parameters
    ----------
    text : str
    options : mapping of str to str
        Python parameter name -> command-line option, e.g. ``{"method": "--method",
        "random_seed": "--seed"}``.

    Examples
    --------
    >>> opts = {"method": "--method", "target_accept": "--target-accept", "drop": "--drop"}
    >>> cli_syntax("use method='nuts', or raise target_accept (e.g. 0.95)", opts)
    'use --method nuts, or raise --target-accept (e.g. 0.95)'
    >>> cli_syntax("leave them out with drop=['island', 'sex']", opts)
    'leave them out with --drop island,sex'
    >>> cli_syntax("max_iter=100 is not an option here", opts)
    'max_iter=100 is not an option here'
    >>> cli_syntax("leave it out with drop=['petal width (cm)']", opts)
    "leave it out with --drop 'petal width (cm)'"
    """

    def assignment(match: re.Match[str]) -> str:
        option = options.get(match["name"])
        if option is None:
            return match[0]
        return f"{option} {_cli_value(match['value'])}"

    text = _ASSIGNMENT.sub(assignment, text)
    bare = sorted((n for n in options if "_" in n), key=len, reverse=True)
    if bare:
        pattern = re.compile(r"(?<![\w'\"-])(" + "|".join(map(re.escape, bare)) + r")(?![\w'\"=])")
        text = pattern.sub(lambda m: options[m[1]], text)
    return text
