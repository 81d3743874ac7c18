"""Memory budgets of the vectorised passes over rows, in array elements (float64: 8 bytes).

Defined once, with the measurement behind each, instead of per module:

- :data:`KEEP_ELEMENTS` (1 GiB): a design matrix up to this size (5 million rows of 20
  features) is standardised once and kept, as large as X itself, so every gradient of the
  log posterior is two matrix products over it: 8x faster than building row blocks on the
  fly (measured at N = 200,000, D = 20: 25 ms against 190 ms a gradient). Larger designs
  are processed in such blocks, and memory stays bounded at any N.
- :data:`BLOCK_ELEMENTS` (4 MB): the rows of one such block.
- :data:`WORK_ELEMENTS` (8 MB): a temporary of a vectorised pass, e.g. the logits of many
  parameter draws for a block of rows; sized to stay in cache (1.6x faster than 32 MB for
  1,000 draws on 5,000 rows, measured on the project's 2-core machine).
- :data:`PREDICT_ELEMENTS` (8 MB): the ``(rows, draws, class)`` logits of one tile of a
  prediction (:mod:`bayescore._rowblocks`). A tile's float64 temporaries (logits,
  probabilities and the family's own) come to about three tiles on each of the threads
  over row blocks, so ``predict_proba`` holds ~60 MB beside X on 2 cores whatever the
  number of rows and draws (76 MB at N = 10^6, D = 20, 2,000 draws, where X is 160 MB;
  ``benchmarks/bench_predict.py``). Tiles of 4, 8 and 16 MB hold 23, 60 and 106 MB beside
  X at N = 10^5; their times (5.2, 4.4 and 3.6 s at load 1.7 on the shared 2-core
  machine; 11.9, 4.9 and 9.9 s, best of 3, at load 3-8 in ``results/predict.json``) differ
  less than the machine's noise, so the memory decides: 16 MB tiles would leave little of
  the 1 x X budget at N = 10^6.
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
PREDICT_ELEMENTS: Final = 1 << 20


def rows_per_block(width: int, budget: int = BLOCK_ELEMENTS) -> int:
    """Rows of ``width`` elements each that fit ``budget`` (at least one).

    Examples
    --------
    >>> rows_per_block(21), rows_per_block(10**9)
    (24966, 1)
    """
    return max(1, budget // max(1, width))
