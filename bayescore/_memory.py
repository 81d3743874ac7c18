"""Memory budgets of the vectorised passes over rows, in array elements (float64: 8 bytes).

Defined once, with the measurement behind each, instead of per module:

- :data:`KEEP_ELEMENTS` (1 GiB): a design matrix up to this size (5 million rows of 20
  features) is standardised once and kept, as large as X itself, so every gradient of the
  log posterior is two matrix products over it: 8x faster than building row blocks on the
  fly (measured at N = 200,000, D = 20: 25 ms against 190 ms a gradient). Larger designs
  are processed in such blocks, and memory stays bounded at any N.
- :data:`BLOCK_ELEMENTS` (4 MB): the rows of one such block.
- :data:`WORK_ELEMENTS` (8 MB): a temporary of a vectorised pass, e.g. the logits of many
  parameter draws for a block of rows; sized to stay in cache (faster than 32 MB blocks
  for 1,000 draws on 5,000 rows).
- :data:`PREDICT_ELEMENTS` (32 MB): the ``(draws, rows, class)`` logits of one chunk of a
  prediction, small beside the ``(chain, draw, obs, class)`` result it fills.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BLOCK_ELEMENTS",
    "KEEP_ELEMENTS",
    "PREDICT_ELEMENTS",
    "WORK_ELEMENTS",
    "rows_per_block",
]

KEEP_ELEMENTS: Final = 1 << 27
BLOCK_ELEMENTS: Final = 1 << 19
WORK_ELEMENTS: Final = 1 << 20
PREDICT_ELEMENTS: Final = 1 << 22


def rows_per_block(width: int, budget: int = BLOCK_ELEMENTS) -> int:
    """Rows of ``width`` elements each that fit ``budget`` (at least one).

    Examples
    --------
    >>> rows_per_block(21), rows_per_block(10**9)
    (24966, 1)
    """
    return max(1, budget // max(1, width))
