"""Numpy-only kernels: proper scores, binning, PAV, 1-D grid posteriors. Input is valid.

The lowest layer of bayescore: nothing here imports xarray or another bayescore module.
Kernels put the class axis last and the observation axis second to last.
"""

from __future__ import annotations

from bayescore._array.binning import (
    BinStats,
    EceMce,
    bin_index,
    bin_stats,
    ece_mce,
    pav,
    top_label,
    wilson,
)
from bayescore._array.grid import GridPosterior, grid_posterior
from bayescore._array.scores import (
    DrawSums,
    brier_pointwise,
    dask_draw_sums,
    draw_sums,
    entropy,
    log_mean_exp,
    nll_from_logits_pointwise,
    nll_pointwise,
    spherical_pointwise,
    true_class,
)

__all__ = [
    "BinStats",
    "DrawSums",
    "EceMce",
    "GridPosterior",
    "bin_index",
    "bin_stats",
    "brier_pointwise",
    "dask_draw_sums",
    "draw_sums",
    "ece_mce",
    "entropy",
    "grid_posterior",
    "log_mean_exp",
    "nll_from_logits_pointwise",
    "nll_pointwise",
    "pav",
    "spherical_pointwise",
    "top_label",
    "true_class",
    "wilson",
]
