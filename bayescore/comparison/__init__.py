"""Model comparison: which model predicts better, and how sure.

Held-out comparison with paired standard errors (:func:`compare`), K-fold
cross-validation on identical folds (:func:`cross_validate`), PSIS-LOO and WAIC
(:func:`loo`, :func:`waic`, :func:`loo_compare`) and the cross-check of the three
(:func:`nll_crosscheck`); uncertainty put to use: selective prediction
(:func:`selective_risk`) and Bayes-optimal decisions under costs (:func:`decide`). The
comparison table itself (``comparison._table``) is on the scoring side: it never imports
the fitting engine.
"""

from __future__ import annotations

from bayescore.comparison._compare import compare
from bayescore.comparison._crosscheck import NLLCrosscheck, nll_crosscheck
from bayescore.comparison._cv import cross_validate
from bayescore.comparison._decide import decide
from bayescore.comparison._loo import WAIC, ParetoKWarning, loo, loo_compare, waic
from bayescore.comparison._selective import selective_risk
from bayescore.comparison._table import ComparisonWarning

__all__ = [
    "WAIC",
    "ComparisonWarning",
    "NLLCrosscheck",
    "ParetoKWarning",
    "compare",
    "cross_validate",
    "decide",
    "loo",
    "loo_compare",
    "nll_crosscheck",
    "selective_risk",
    "waic",
]
