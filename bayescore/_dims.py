"""Dimension names used throughout bayescore, defined once.

Posterior quantities are xarray objects with ``chain, draw`` first, then ``obs``, then
``class`` (SPEC §4). Every module imports the names from here instead of spelling them.
"""

CHAIN = "chain"
DRAW = "draw"
SAMPLE = "sample"
OBS = "obs"
CLASS = "class"
FEATURE = "feature"
BIN = "bin"

#: Dimensions that index posterior draws, in the order they appear.
DRAW_DIMS = (CHAIN, DRAW)

__all__ = ["BIN", "CHAIN", "CLASS", "DRAW", "DRAW_DIMS", "FEATURE", "OBS", "SAMPLE"]
