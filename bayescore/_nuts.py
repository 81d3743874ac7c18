r"""NUTS warm-started at the Laplace approximation: a dense metric for free, short tuning.

The posterior of a logistic or softmax regression is close to Gaussian, and its Laplace
approximation :math:`N(\hat\theta, \Sigma)`, :math:`\Sigma = H^{-1}`, costs one L-BFGS run
and one Hessian in closed form (:mod:`bayescore._laplace`). Most of a cold NUTS run's
tuning is spent learning what :math:`\Sigma` already says, so the sampler is given it:

- ``nutpie``: NUTS runs on the whitened parameters :math:`z` with
  :math:`\theta = \hat\theta + L z`, :math:`L L^\top = \Sigma` (a dense mass matrix
  :math:`\Sigma^{-1}`, exactly), whose posterior is close to :math:`N(0, I)`; nutpie's
  diagonal adaptation refines the remaining scale. The log density and its gradient are
  bayescore's closed form, compiled once per machine by numba into C callbacks nutpie
  calls from its chains' threads without Python (:mod:`bayescore._kernels`): the data are
  arguments, not constants, so a fit on new data (cross-validation folds, refits) costs
  only sampling, and no PyTensor graph is built or compiled.
- ``pymc``: PyMC's NUTS on the model's own graph, with
  :class:`~pymc.step_methods.hmc.quadpotential.QuadPotentialFullAdapt` initialised at
  :math:`(\hat\theta, \Sigma)` and adapting from there.

Either way every chain starts from its own draw of the Laplace Gaussian (over-dispersed
enough for R-hat to mean something, already in the typical set), and the result is the same
DataTree a cold PyMC run gives.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from bayescore._density import Posterior, supports
from bayescore._groups import data_groups, posterior_dataset
from bayescore._laplace import Laplace, laplace
from bayescore._names import CHAIN, DRAW, POSTERIOR, SAMPLE_STATS

__all__ = ["MAX_DENSE", "WarmStart", "prepare_warm_start", "sample_nutpie", "sample_pymc"]

#: Largest number of free parameters whose dense covariance is used (a P x P Cholesky).
MAX_DENSE = 2000


class WarmStart:
    """The Laplace approximation of a model, ready to start NUTS from.

    Attributes
    ----------
    posterior : Posterior
    laplace : Laplace
    mean, cov : ndarray (P,), (P, P)
        The Laplace Gaussian in the layout of ``laplace.names``.
    chol : ndarray (P, P)
        Lower Cholesky factor of ``cov``.
    """

    def __init__(self, posterior: Posterior, lap: Laplace) -> None:
        self.posterior = posterior
        self.laplace = lap
        self.mean, self.cov = lap.flat()
        self.chol = np.linalg.cholesky(self.cov)

    def draws(self, n: int, seed: Any) -> np.ndarray:
        """``n`` draws of the Laplace Gaussian, (n, P)."""
        z = np.random.default_rng(seed).standard_normal((n, self.mean.size))
        return self.mean + z @ self.chol.T


def prepare_warm_start(spec: Any) -> WarmStart | None:
    """The warm start of a bayescore model, or None when it does not apply.

    None for zero-sum coding (no closed form), more than :data:`MAX_DENSE` parameters, a
    mode search that did not converge (e.g. separable data under a flat intercept prior,
    where no mode exists) or a covariance that is not positive definite.
    """
    if spec is None or not supports(spec):
        return None
    post = Posterior(spec)
    if post.size > MAX_DENSE:
        return None
    lap = laplace(spec, posterior=post)
    if not lap.converged:
        return None
    try:
        return WarmStart(post, lap)
    except np.linalg.LinAlgError:
        return None


def _seed(random_seed: int | None) -> int:
    if random_seed is not None:
        return int(random_seed)
    return int(np.random.SeedSequence().generate_state(1)[0])


def _nutpie_model(warm: WarmStart) -> Any:
    """The nutpie model of the whitened posterior ``theta = mean + L z``, draws of ``theta``.

    With the design kept in memory: bayescore's C callbacks (:mod:`bayescore._kernels`) in
    nutpie's numba-model container, so the chains' threads never enter Python. Row blocks
    (large N): a Python callback of the same compiled density, block by block.
    """
    from bayescore import _kernels

    post, mean, L = warm.posterior, warm.mean, warm.chol
    size = mean.size
    mean, L = np.ascontiguousarray(mean), np.ascontiguousarray(L)

    def initial_point(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal(size)

    args = post.kernel_arguments()
    if args is not None:
        from nutpie.compile_pymc import CompiledPyMCModel

        ZT, y, family, scale, nu = args
        arrays = {"ZT": ZT, "y": y, "mean": mean, "L": L, "family": family, "scale": scale}
        arrays["nu"] = nu
        return CompiledPyMCModel(
            dims={},
            compiled_logp_func=_kernels.nutpie_logp,
            compiled_expand_func=_kernels.nutpie_expand,
            initial_point_func=initial_point,
            shared_data=arrays,  # nutpie keeps the model, and so these arrays, alive
            shared_var_keys={},
            user_data=_kernels.user_data(post.n_free, ZT, y, mean, L, family, scale, nu),
            n_expanded=size,
            shape_info=(["theta"], [slice(0, size)], [(size,)]),
            logp_func=None,
            expand_func=None,
            _n_dim=size,
            _shapes={"theta": (size,)},
            _coords={},
        )
    from nutpie.compiled_pyfunc import from_pyfunc

    density = post.whitened(mean, L)
    density(np.zeros(size))  # compile (or load) the kernels here, not on the chains' threads

    def logp(z: np.ndarray, **_: Any) -> tuple[float, np.ndarray]:
        return density(z)

    def expand(z: np.ndarray, **_: Any) -> dict[str, np.ndarray]:
        return {"theta": mean + L @ z}

    return from_pyfunc(
        ndim=size,
        make_logp_fn=lambda: logp,
        make_expand_fn=lambda *_: expand,
        expanded_dtypes=[np.dtype(np.float64)],
        expanded_shapes=[(size,)],
        expanded_names=["theta"],
        make_initial_point_fn=initial_point,
    )


def sample_nutpie(
    spec: Any,
    warm: WarmStart,
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int | None,
    random_seed: int | None,
    progressbar: bool,
    target_accept: float,
    max_treedepth: int = 10,
) -> xr.DataTree:
    """NUTS through nutpie on the whitened parameters, with bayescore's compiled density."""
    from nutpie import sample

    trace = sample(
        _nutpie_model(warm),
        draws=draws,
        tune=tune,
        chains=chains,
        cores=chains if cores is None else cores,
        seed=_seed(random_seed),
        progress_bar=progressbar,
        save_warmup=False,
        target_accept=target_accept,
        maxdepth=max_treedepth,
    )
    theta = trace[POSTERIOR]["theta"].transpose(CHAIN, DRAW, ...).values
    tree = xr.DataTree()
    tree[POSTERIOR] = xr.DataTree(posterior_dataset(spec, theta))
    tree[SAMPLE_STATS] = trace[SAMPLE_STATS].copy()
    for group, ds in data_groups(spec).items():
        tree[group] = xr.DataTree(ds)
    tree[POSTERIOR].attrs.update({"inference_library": "nutpie", "tuning_steps": tune})
    return tree


def sample_pymc(
    model: Any,
    warm: WarmStart,
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int | None,
    random_seed: int | None,
    progressbar: bool,
    target_accept: float,
    **kwargs: Any,
) -> xr.DataTree:
    """PyMC's NUTS on the model's graph, its dense metric started at the Laplace covariance."""
    import pymc as pm
    from pymc.step_methods.hmc.quadpotential import QuadPotentialFullAdapt

    lap = warm.laplace
    names = list(lap.names)
    mean, cov = warm.mean, warm.cov  # the Laplace layout: the order of ``names``
    starts = warm.draws(chains, _seed(random_seed))
    initvals = []
    for row in starts:
        point, offset = {}, 0
        for name, shape in zip(lap.names, lap.shapes, strict=True):
            size = int(np.prod(shape))
            point[name] = row[offset : offset + size].reshape(shape)
            offset += size
        initvals.append(point)
    with model:
        # The potential's layout is the step's variables in the order given here: the
        # Laplace layout (intercepts, then coefficients), each raveled in C order.
        with warnings.catch_warnings():  # PyMC flags the class "experimental"
            warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
            potential = QuadPotentialFullAdapt(mean.size, mean, cov, initial_weight=100)
        step = pm.NUTS(
            vars=[model[name] for name in names],
            potential=potential,
            target_accept=target_accept,
        )
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=chains if cores is None else cores,
            step=step,
            initvals=initvals,
            random_seed=random_seed,
            progressbar=progressbar,
            compute_convergence_checks=False,
            **kwargs,
        )
