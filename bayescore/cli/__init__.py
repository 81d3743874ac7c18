"""The ``bayescore`` command: fit, predict, calibrate, score, diagnose, compare, cv, loo, report.

The CLI only parses arguments, calls the public API and prints; it holds no logic of its own
(CSV reading and writing are :mod:`bayescore._tables`', atomic outputs
:mod:`bayescore._atomic`'s, safe text :mod:`bayescore._text`'s). Tables come from the
``xarray``/``pandas`` objects the API returns, rendered with rich, and never truncate (too
wide for the terminal, each row becomes a block of ``column: value`` lines); ``--json``
prints them as JSON instead.

Every command that reads a CSV takes ``--features a,b,c`` or ``--drop x,y``; a saved model
remembers its feature names and takes its own columns from any CSV that holds them. Every
output is checked before any work (not an input of the command, not a device, FIFO or
directory) and written atomically.

Errors are one line on stderr, ``error: ...``, with exit code 2 for a wrong command line and
1 for bad data or files; ``--debug`` (before the command) shows the full traceback instead.
Warnings are printed on stderr as one ``warning: ...`` line each.

Examples
--------
.. code-block:: bash

    bayescore fit --dataset wine --kind softmax --out wine.nc
    bayescore diagnose wine.nc
    bayescore score wine.nc --dataset wine --json
    bayescore compare a.nc b.nc --data test.csv --target label --name small --name big
    bayescore fit --data train.csv --target species --drop island,sex --out p.nc
    bayescore report a.nc b.nc --data test.csv --target label --out report.html
"""

from __future__ import annotations

# The command modules register their commands on ``app`` when imported, in this order.
from bayescore.cli import _build, _judge  # noqa: F401
from bayescore.cli._app import app, main, unique_names

__all__ = ["app", "main", "unique_names"]
