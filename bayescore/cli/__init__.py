"""The ``bayescore`` command: fit, predict, calibrate, score, diagnose, compare, cv, loo, report.

The CLI only parses arguments, calls the public API and prints; it holds no logic of its own.
Tables come from the ``xarray``/``pandas`` objects the API returns, rendered with rich, and
never truncate (too wide for the terminal, each row becomes a block of ``column: value``
lines); ``--json`` prints them as JSON instead.

Errors are one line on stderr, ``error: ...``, with exit code 2 for a wrong command line and
1 for bad data or files; ``--debug`` (before the command) shows the full traceback instead.
Warnings are printed on stderr as ``warning: ...``.

Examples
--------
.. code-block:: bash

    bayescore fit --dataset wine --kind softmax --out wine.nc
    bayescore diagnose wine.nc
    bayescore score wine.nc --dataset wine --json
    bayescore compare a.nc b.nc --data test.csv --target label --name small --name big
    bayescore report a.nc b.nc --data test.csv --target label --out report.html
"""

from __future__ import annotations

# The command modules register their commands on ``app`` when imported, in this order.
from bayescore.cli import _build, _judge  # noqa: F401
from bayescore.cli._app import app, main, unique_names

__all__ = ["app", "main", "unique_names"]
