"""The one place that imports PyMC, so the import happens only when a model is built or fit.

PyTensor installed from pip wheels finds no BLAS and warns that operations "will be severely
degraded" (and logs that it falls back to NumPy's C-API). For these models the message is
noise: linking OpenBLAS changed softmax NUTS speed by < 3 % when measured. It is filtered
here, once, by its exact message, instead of reaching users at every import.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from types import ModuleType

__all__ = ["import_pymc", "quiet_pymc"]


def import_pymc() -> ModuleType:
    """Import and return :mod:`pymc`, hiding PyTensor's missing-BLAS messages only."""
    blas_logger = logging.getLogger("pytensor.tensor.blas")
    if blas_logger.level == logging.NOTSET:  # respect a level the user chose
        blas_logger.setLevel(logging.ERROR)
    # BLAS detection is lazy (it runs a C compiler, ~0.3 s) and happens at the first
    # compile, which the numpy fitters never reach; so the one message is filtered for the
    # process, by its exact text, instead of forcing the detection here.
    warnings.filterwarnings(
        "ignore", message="PyTensor could not link to a BLAS", category=UserWarning
    )
    import pymc

    return pymc


@contextlib.contextmanager
def quiet_pymc(quiet: bool = True) -> Iterator[None]:
    """Silence PyMC's INFO chatter ("Initializing NUTS...", "Finished [100%]") while fitting.

    Warnings and errors still come through; nothing changes when ``quiet`` is False.
    """
    logger = logging.getLogger("pymc")
    old = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(old)
