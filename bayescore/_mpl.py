r"""Text that users give (model names, class labels, feature names) made safe for matplotlib.

matplotlib reads any text with an even number of unescaped ``$`` as mathtext: a model named
``"$\frac{1$"`` (or ``"cost in $ and $"``) is parsed as TeX, and a malformed one raises
``ValueError`` when the figure is drawn, long after the name was accepted. Every piece of
user text that bayescore puts into a label, title, legend or tick goes through
:func:`literal` first; this is the one place that knows the rule. (With ``text.usetex``
switched on, matplotlib hands text to LaTeX instead, where more characters are special;
bayescore's figures leave that setting as it is.)

This module imports nothing, not even matplotlib.
"""

from __future__ import annotations

__all__ = ["literal"]


def literal(text: object) -> str:
    r"""``text`` as a string matplotlib shows as it is: each ``$`` escaped as ``\$``.

    Examples
    --------
    >>> literal(r"$\frac{1$")
    '\\$\\frac{1\\$'
    >>> literal(3), literal("plain")
    ('3', 'plain')
    """
    return str(text).replace("$", r"\$")
