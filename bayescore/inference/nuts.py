r"""NUTS, warm-started at the Laplace approximation: a dense metric for free, short tuning.

The posterior of a logistic or softmax regression is close to Gaussian, and its Laplace
approximation :math:`N(\hat\theta, \Sigma)`, :math:`\Sigma = H^{-1}`, costs one L-BFGS run
and one Hessian in closed form (:mod:`bayescore.inference.laplace`). Most of a cold NUTS
run's tuning is spent learning what :math:`\Sigma` already says, so the sampler is given it:

- ``nutpie`` (``sampler="auto"``): NUTS runs on the whitened parameters :math:`z` with
  :math:`\theta = \hat\theta + L z`, :math:`L L^\top = \Sigma` (a dense mass matrix
  :math:`\Sigma^{-1}`, exactly), whose posterior is close to :math:`N(0, I)`, seen
  through a fixed rotation that spreads its frequencies (:func:`spread_rotation`: on an
  isotropic target NUTS flips every direction together, and the squares mix slowly);
  nutpie's diagonal adaptation refines the remaining scale. The log density and its
  gradient are bayescore's closed form, compiled once per machine by numba into C
  callbacks nutpie calls from its chains' threads without Python
  (:mod:`bayescore.inference.kernels`): the data are arguments, not constants, so a fit on
  new data (cross-validation folds, refits) costs only sampling, and no PyTensor graph is
  built or compiled.
- ``pymc``: PyMC's NUTS on the model's own graph, with
  :class:`~pymc.step_methods.hmc.quadpotential.QuadPotentialFullAdapt` initialised at
  :math:`(\hat\theta, \Sigma)` and adapting from there.

Either way every chain starts from its own draw of the Laplace Gaussian (over-dispersed
enough for R-hat to mean something, already in the typical set), and the result is the same
DataTree a cold PyMC run gives. Zero-sum models, ``warm_start=False``, numpyro and the
options of ``pm.sample``'s own initialisation take PyMC's cold route.
"""

from __future__ import annotations

import importlib.util
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._names import (
    ATTR_SAMPLER,
    ATTR_WARM_START,
    ATTR_WARM_START_REASON,
    CHAIN,
    DRAW,
    POSTERIOR,
    SAMPLE_STATS,
)
from bayescore._progress import current
from bayescore._pymc import import_pymc
from bayescore._validation import LEVEL, Boolean, Interval, Options
from bayescore.inference.gaussian import Gaussian
from bayescore.inference.laplace import Mode, find_mode
from bayescore.inference.options import FitSettings, InstanceOf, MethodOptions, option
from bayescore.inference.posterior import Posterior
from bayescore.inference.tree import data_groups, posterior_dataset
from bayescore.models import ModelSpec, model_spec, pymc_model

if TYPE_CHECKING:
    import pymc as pm
    from nutpie._lib import PyChainProgress as ChainProgress
    from nutpie.compile_pymc import CompiledPyMCModel
    from nutpie.compiled_pyfunc import PyFuncModel

__all__ = [
    "MAX_DENSE",
    "SAMPLERS",
    "NutsOptions",
    "WarmStart",
    "fit_nuts",
    "prepare_warm_start",
    "sample_nutpie",
    "sample_pymc",
    "spread_rotation",
    "whitened_density",
]

Floats = NDArray[np.float64]

#: Largest number of free parameters whose dense covariance is used (a P x P Cholesky).
MAX_DENSE = 2000

#: NUTS backends and the package each needs ("auto": nutpie where the warm start applies).
SAMPLERS: dict[str, str | None] = {
    "auto": None,
    "pymc": None,
    "nutpie": "nutpie",
    "numpyro": "numpyro",
}

_PYMC = "pymc"  # the route of pm.sample's own options


@dataclass(frozen=True)
class NutsOptions(MethodOptions):
    """Options of ``method="nuts"``; those of the ``pymc`` route go to ``pm.sample``."""

    method = "nuts"

    sampler: str = option(
        "auto",
        Options(tuple(SAMPLERS)),
        "NUTS backend: nutpie on the compiled density where the warm start applies, "
        "else PyMC; or 'pymc', 'nutpie', 'numpyro'.",
    )
    warm_start: bool = option(
        True,
        Boolean(),
        "Start every chain from a draw of the Laplace approximation and give the sampler "
        "its covariance as the mass matrix.",
    )
    target_accept: float = option(0.8, LEVEL, "Target acceptance rate (as PyMC).")
    cores: int | None = option(
        None,
        Interval(numbers.Integral, 1, None, "left"),
        "Chains run in parallel (default: one per chain).",
    )
    max_treedepth: int = option(
        10, Interval(numbers.Integral, 1, 30, "both"), "Largest tree depth of a trajectory."
    )
    metric_spread: float = option(
        4.0,
        Interval(numbers.Real, 1, None, "left"),
        "Warm start through nutpie: the whitened metric's variances are spread over this "
        "factor in a fixed rotation, so NUTS's draws of squares decorrelate (1: the exact "
        "Laplace metric; its draws of the means are antithetic, of the squares slow).",
    )
    init: str | None = option(
        None, InstanceOf((str,), "a str"), "pm.sample's initialisation.", route=_PYMC
    )
    initvals: object = option(
        None,
        InstanceOf((dict, list, tuple), "a dict or a list of dicts"),
        "Initial values (pm.sample).",
        route=_PYMC,
    )
    nuts_sampler_kwargs: dict[str, object] | None = option(
        None, InstanceOf((dict,), "a dict"), "Options of the NUTS backend.", route=_PYMC
    )
    compile_kwargs: dict[str, object] | None = option(
        None, InstanceOf((dict,), "a dict"), "Options of PyTensor's compile.", route=_PYMC
    )
    mp_ctx: str | None = option(
        None, InstanceOf((str,), "a str"), "Multiprocessing context.", route=_PYMC
    )
    discard_tuned_samples: bool | None = option(
        None, Boolean(), "Drop the tuning draws (pm.sample).", route=_PYMC
    )
    jitter_max_retries: int | None = option(
        None,
        Interval(numbers.Integral, 0, None, "left"),
        "Retries of a jittered start (pm.sample).",
        route=_PYMC,
    )


class WarmStart:
    """Where NUTS starts and the whitening it runs on: the Laplace approximation, or none.

    Attributes
    ----------
    posterior : Posterior
    q : Gaussian
        The whitening ``theta = q.mean + q.scale z``: the Laplace Gaussian (a dense mass
        matrix for free), or ``N(0, I)`` on the standardised scale for a cold start (nutpie
        adapts a diagonal mass matrix itself).
    mode : Mode or None
        The Laplace mode, when the warm start applies.
    reason : str
        Why the start is cold (empty for a warm start).
    """

    def __init__(
        self, posterior: Posterior, q: Gaussian, mode: Mode | None = None, reason: str = ""
    ) -> None:
        self.posterior = posterior
        self.q = q
        self.mode = mode
        self.reason = reason

    @classmethod
    def from_mode(cls, posterior: Posterior, mode: Mode) -> WarmStart:
        """The warm start at a converged mode (raises ``LinAlgError`` if H is not PD)."""
        return cls(posterior, mode.gaussian(), mode)

    @classmethod
    def cold(cls, posterior: Posterior, reason: str) -> WarmStart:
        """No whitening: chains start from standard-normal draws of the parameters."""
        size = posterior.size
        return cls(posterior, Gaussian(np.zeros(size), np.eye(size), 0.0), None, reason)

    @property
    def warm(self) -> bool:
        """Whether NUTS starts at the Laplace approximation."""
        return self.mode is not None

    @property
    def mean(self) -> Floats:
        """The mode (zeros for a cold start)."""
        return self.q.mean

    @property
    def chol(self) -> Floats:
        """The lower Cholesky factor of the whitening."""
        return self.q.scale

    def draws(self, n: int, seed: int) -> Floats:
        """``n`` draws of the start's Gaussian, (n, P)."""
        return self.q.transform(np.random.default_rng(seed).standard_normal((n, self.q.size)))


def prepare_warm_start(spec: ModelSpec | None, mode: Mode | None = None) -> WarmStart | None:
    """The start of NUTS on bayescore's compiled density; None when that does not apply.

    None for models outside the closed form (zero-sum coding, hand-written models: PyMC's
    route). A cold start (no whitening) when there are more than :data:`MAX_DENSE`
    parameters, when the mode search did not converge (e.g. separable data under a flat
    intercept prior, where no mode exists) or when the Hessian is not positive definite:
    NUTS then still runs on the compiled density, which is faster than any PyMC route.
    ``mode``, when given, is used instead of a new search.
    """
    if spec is None or not spec.closed_form:
        return None
    post = Posterior(spec)
    if post.size > MAX_DENSE:
        return WarmStart.cold(post, f"{post.size} parameters: more than {MAX_DENSE}")
    mode = find_mode(post) if mode is None else mode
    if not mode.converged:
        return WarmStart.cold(post, f"no posterior mode found ({mode.message})")
    try:
        return WarmStart.from_mode(post, mode)
    except np.linalg.LinAlgError:
        return WarmStart.cold(post, "the Hessian at the mode is not positive definite")


def _seed(random_seed: int | None) -> int:
    if random_seed is not None:
        return int(random_seed)
    return int(np.random.SeedSequence().generate_state(1)[0])


def whitened_density(
    post: Posterior, mean: Floats, L: Floats
) -> Callable[[Floats], tuple[float, Floats]]:
    """``z -> (log p(mean + L z | y), its gradient in z)``, up to a constant, compiled.

    NUTS's Python callback for designs processed in row blocks (kept designs go to nutpie
    as C callbacks): the likelihood of each block through the compiled kernels, with the
    GIL released, the prior in numpy. The first call in a process imports numba and
    compiles the kernels or loads them from numba's cache.
    """
    from bayescore.inference import kernels

    kernel = kernels.logistic_value_grad if post.n_free == 1 else kernels.softmax_value_grad
    mean = np.ascontiguousarray(mean, dtype=np.float64)
    L = np.ascontiguousarray(L, dtype=np.float64)
    LT = np.ascontiguousarray(L.T)

    def density(z: Floats) -> tuple[float, Floats]:
        theta = mean + L @ z
        value, grad = 0.0, np.zeros(post.size)
        for ZT, labels in post.designs():
            value += kernel(ZT, labels.y, theta, grad)
        values, grads = post.add_prior(theta[None, :], np.array([value]), grad[None, :])
        return float(values[0]), LT @ grads[0]

    return density


def spread_rotation(size: int, spread: float) -> tuple[Floats, Floats]:
    r"""``S`` and ``S^{-1}`` that spread a whitened target's frequencies over ``sqrt(spread)``.

    On a whitened posterior, :math:`z \sim N(0, I)` nearly, every direction oscillates at
    one frequency under Hamiltonian dynamics, so a NUTS trajectory flips all of them
    together: the draw taken at time :math:`\tau` along it has
    :math:`\operatorname{corr}(z_i'^2, z_i^2) = \cos^2 \tau` for *every* coordinate, about
    1/2 averaged over a trajectory. The means mix antithetically (bulk ESS above the number
    of draws), the squares at a third of it: folded (scale) ESS of 420-670 in 2,000 draws of
    an exact :math:`N(0, I_{93})`, and a 2-chain rank R-hat above 1.01 in a third of the
    runs (softmax, 5,000 rows: 6 of 18 seeds; 1 of 18 with ``spread=4``). Sampling
    :math:`w` with :math:`z = S w`, :math:`S = Q \Lambda^{-1/2} Q^\top`, gives the dynamics
    frequencies :math:`\lambda_j^{-1/2}` (:math:`\lambda` geometric over ``[spread^-1/2,
    spread^1/2]``) in directions :math:`Q` that no diagonal adaptation can undo, and every
    parameter sees a mixture of them: the phases no longer agree. ``spread=4`` measured on
    :math:`N(0, I_{93})` over six seeds: folded ESS 750-920, R-hat 1.005-1.008, 8 % more
    gradients. ``Q`` is a fixed Haar rotation (seeded by the size): the same for every fit.

    Parameters
    ----------
    size : int
    spread : float
        Ratio of the largest to the smallest variance of ``w`` (>= 1; 1: no spread).

    Returns
    -------
    S, S_inv : ndarray (size, size)
        Symmetric positive definite; ``S @ S_inv`` is the identity.

    Examples
    --------
    >>> S, S_inv = spread_rotation(3, 4.0)
    >>> bool(np.allclose(S @ S_inv, np.eye(3))), np.round(np.linalg.eigvalsh(S_inv @ S_inv), 6)
    (True, array([0.5, 1. , 2. ]))
    """
    if size < 2 or spread == 1.0:
        return np.eye(size), np.eye(size)
    q, r = np.linalg.qr(np.random.default_rng(size).standard_normal((size, size)))
    q *= np.sign(np.diag(r))  # Haar-distributed (the QR's sign convention removed)
    half = 0.25 * np.log(spread)  # sqrt of lambda, log-spaced over [spread^-1/4, spread^1/4]
    root = np.exp(np.linspace(-half, half, size))
    return (q / root) @ q.T, (q * root) @ q.T


def _nutpie_model(warm: WarmStart, spread: float) -> CompiledPyMCModel | PyFuncModel:
    """The nutpie model of the whitened posterior ``theta = mean + L S w``, draws of ``theta``.

    ``S`` spreads the frequencies by ``spread`` (:func:`spread_rotation`; 1 for a cold
    start, which is not whitened and keeps its coordinates for nutpie's diagonal
    adaptation). With the design kept in memory: bayescore's C callbacks
    (:mod:`bayescore.inference.kernels`) in nutpie's numba-model container, so the chains'
    threads never enter Python. Row blocks (large N): a Python callback of the same
    compiled density, block by block.
    """
    from bayescore.inference import kernels

    post = warm.posterior
    size = warm.q.size
    S, S_inv = spread_rotation(size, spread)
    mean, L = np.ascontiguousarray(warm.mean), np.ascontiguousarray(warm.chol @ S)

    def initial_point(seed: int) -> Floats:
        # A draw of the Laplace Gaussian: z ~ N(0, I), w = S^-1 z.
        return S_inv @ np.random.default_rng(seed).standard_normal(size)

    args = post.kernel_arguments()
    if args is not None:
        from nutpie.compile_pymc import CompiledPyMCModel

        ZT, y, family, scale, nu = args
        arrays = {"ZT": ZT, "y": y, "mean": mean, "L": L, "family": family, "scale": scale}
        arrays["nu"] = nu
        return CompiledPyMCModel(
            dims={},
            compiled_logp_func=kernels.nutpie_logp,
            compiled_expand_func=kernels.nutpie_expand,
            initial_point_func=initial_point,
            shared_data=arrays,  # nutpie keeps the model, and so these arrays, alive
            shared_var_keys={},
            user_data=kernels.user_data(post.n_free, ZT, y, mean, L, family, scale, nu),
            n_expanded=size,
            shape_info=(["theta"], [slice(0, size)], [(size,)]),
            logp_func=None,
            expand_func=None,
            _n_dim=size,
            _shapes={"theta": (size,)},
            _coords={},
        )
    from nutpie.compiled_pyfunc import from_pyfunc

    density = whitened_density(post, mean, L)
    density(np.zeros(size))  # compile (or load) the kernels here, not on the chains' threads

    def logp(z: Floats, **_: object) -> tuple[float, Floats]:
        return density(z)

    def expand(z: Floats, **_: object) -> dict[str, Floats]:
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


def sample_nutpie(warm: WarmStart, settings: FitSettings, options: NutsOptions) -> xr.DataTree:
    """NUTS through nutpie on the whitened parameters, with bayescore's compiled density."""
    from nutpie import sample

    spec = warm.posterior.spec
    reporter = current()
    spread = options.metric_spread if warm.warm else 1.0  # a cold start is not whitened
    with reporter.phase("loading NUTS's compiled density (numba)"):
        model = _nutpie_model(warm, spread)
    total = settings.chains * (settings.tune + settings.draws)
    with reporter.phase(f"NUTS, {settings.chains} chains", total=total) as task:

        def progress(chains: list[ChainProgress]) -> None:
            tuning = any(c.tuning for c in chains)
            divergences = sum(c.divergences for c in chains)
            task.update(
                completed=sum(c.finished_draws for c in chains),
                note=f"{'tuning' if tuning else 'sampling'}, {divergences} divergences",
            )

        trace = sample(
            model,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=settings.chains if options.cores is None else options.cores,
            seed=_seed(settings.random_seed),
            # bayescore's display shows the chains' progress (one live display at a time).
            progress_bar=False,
            progress_callback=progress if reporter.enabled else None,
            progress_rate=200,
            save_warmup=False,
            target_accept=options.target_accept,
            maxdepth=options.max_treedepth,
        )
    theta = trace[POSTERIOR]["theta"].transpose(CHAIN, DRAW, ...).values
    tree = xr.DataTree()
    tree[POSTERIOR] = xr.DataTree(posterior_dataset(spec, theta))
    tree[SAMPLE_STATS] = trace[SAMPLE_STATS].copy()
    for group, ds in data_groups(spec).items():
        tree[group] = xr.DataTree(ds)
    tree[POSTERIOR].attrs.update(
        {"inference_library": "nutpie", "tuning_steps": settings.tune, "metric_spread": spread}
    )
    return tree


def sample_pymc(
    model: pm.Model, warm: WarmStart, settings: FitSettings, options: NutsOptions
) -> xr.DataTree:
    """PyMC's NUTS on the model's graph, its dense metric started at the Laplace covariance."""
    pm = import_pymc()
    from pymc.step_methods.hmc.quadpotential import QuadPotentialFullAdapt

    post, mode = warm.posterior, warm.mode
    if mode is None:
        raise ValueError("PyMC's warm-started NUTS needs the Laplace mode.")
    starts = warm.draws(settings.chains, _seed(settings.random_seed))
    initvals = [post.split(row) for row in starts]
    with model:
        # The potential's layout is the step's variables in the order given here: the
        # posterior's layout (intercepts, then coefficients), each raveled in C order.
        with warnings.catch_warnings():  # PyMC flags the class "experimental"
            warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
            potential = QuadPotentialFullAdapt(
                warm.q.size, warm.mean, mode.covariance(), initial_weight=100
            )
        step = pm.NUTS(
            vars=[model[name] for name in post.names],
            potential=potential,
            target_accept=options.target_accept,
            max_treedepth=options.max_treedepth,
        )
        with current().paused():  # PyMC draws its own bar
            return pm.sample(
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=settings.chains if options.cores is None else options.cores,
                step=step,
                initvals=initvals,
                random_seed=settings.random_seed,
                progressbar=settings.progressbar,
                compute_convergence_checks=False,
                **options.to_kwargs(_PYMC),
            )


def _stamp(idata: xr.DataTree, sampler: str, start: WarmStart | None) -> xr.DataTree:
    warm = "laplace" if start is not None and start.warm else "none"
    if start is None:
        reason = "the model is outside bayescore's closed form, or a cold start was asked for"
    elif start.warm and start.mode is not None:
        reason = f"mode by {start.mode.route} ({start.mode.accuracy:.2g} sd)"
    else:
        reason = start.reason
    for group in (POSTERIOR, SAMPLE_STATS):
        idata[group].attrs.update(
            {ATTR_SAMPLER: sampler, ATTR_WARM_START: warm, ATTR_WARM_START_REASON: reason}
        )
    return idata


def fit_nuts(
    model: pm.Model | ModelSpec,
    settings: FitSettings,
    options: NutsOptions,
    *,
    mode: Mode | None = None,
) -> xr.DataTree:
    """NUTS on ``model``, on bayescore's compiled density where its closed form covers it.

    Warm-started at the Laplace approximation when there is a mode, cold otherwise; models
    outside the closed form take PyMC's route. ``mode``, when given, is the Laplace mode
    already found (``method="auto"``).
    """
    module = SAMPLERS[options.sampler]
    if module is not None and importlib.util.find_spec(module) is None:
        raise ImportError(
            f"sampler={options.sampler!r} needs the {module!r} package, which is not "
            "installed. Install the fast backends with `pip install 'bayescore[fast]'`, or "
            "use sampler='auto', 'pymc' or 'nutpie'."
        )
    # The compiled density needs bayescore's closed-form posterior; options of pm.sample's
    # own initialisation, numpyro, or warm_start=False take PyMC's route, started cold.
    start = None
    if options.warm_start and options.sampler != "numpyro" and not options.passed(_PYMC):
        start = prepare_warm_start(model_spec(model), mode)
    if start is not None and (start.warm or options.sampler != "pymc"):
        backend = "pymc" if options.sampler == "pymc" else "nutpie"
    else:
        start = None  # PyMC's own cold route
        backend = "pymc" if options.sampler == "auto" else options.sampler
    if backend == "nutpie" and settings.tune < 1:
        # nutpie panics (in Rust) without a tuning step: say so before it does.
        raise ValueError(
            "The 'tune' parameter of fit must be an int >= 1 for NUTS through nutpie (its "
            "step size and mass matrix adapt while tuning). Got 0 instead; pass tune >= 1, "
            "or sampler='pymc'."
        )
    if start is not None and backend == "nutpie":
        return _stamp(sample_nutpie(start, settings, options), backend, start)
    if start is not None:
        return _stamp(sample_pymc(pymc_model(model), start, settings, options), backend, start)
    pm = import_pymc()
    extra = options.to_kwargs(_PYMC)
    if "max_treedepth" in options.given:
        extra["max_treedepth"] = options.max_treedepth
    with pymc_model(model), current().paused():  # PyMC draws its own bar
        idata = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=settings.chains if options.cores is None else options.cores,
            random_seed=settings.random_seed,
            target_accept=options.target_accept,
            nuts_sampler=backend,
            progressbar=settings.progressbar,
            compute_convergence_checks=False,
            **extra,
        )
    return _stamp(idata, backend, None)
