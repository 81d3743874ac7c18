"""Options are data: one dataclass per method, its fields the keywords it accepts.

Each method of :func:`bayescore.fit` declares its options as a frozen dataclass built with
:func:`option`: the field's default, the rule its values must follow (the declarative rules
of :mod:`bayescore._validation`), one line of documentation, and, where an option belongs
to one route of the method only, that route. :meth:`MethodOptions.from_kwargs` validates a
call's keywords once, at the boundary, and rejects unknown ones by name; the documentation's
option tables are generated from the same fields (:func:`options_table`), so defaults are
written in one place.

The settings every method shares (draws, tuning steps, chains, the seed) are
:class:`FitSettings`, with their rules in :data:`FIT_CONSTRAINTS`, which the estimators use
too.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Self

from bayescore._validation import Interval, Rule, check_params

__all__ = [
    "CHAINS",
    "DRAWS",
    "FIT_CONSTRAINTS",
    "SEED",
    "TUNE",
    "FitSettings",
    "InstanceOf",
    "MethodOptions",
    "option",
    "options_table",
]

DRAWS = Interval(numbers.Integral, 1, None, "left")
TUNE = Interval(numbers.Integral, 0, None, "left")
CHAINS = Interval(numbers.Integral, 1, None, "left")
#: Seeds of every random stream (numpy, nutpie, PyMC): scikit-learn's range for
#: ``random_state``, which every backend accepts.
SEED = Interval(numbers.Integral, 0, 2**32 - 1, "both")

#: Rules of the settings every method shares.
FIT_CONSTRAINTS: dict[str, Rule] = {
    "draws": DRAWS,
    "tune": TUNE,
    "chains": CHAINS,
    "random_seed": SEED,
}


@dataclass(frozen=True)
class InstanceOf:
    """A declarative check that a parameter is an instance of some types (``dict``, ``str``).

    Examples
    --------
    >>> InstanceOf((dict,), "a dict").check("compile_kwargs", [1], "fit")
    Traceback (most recent call last):
    ...
    TypeError: The 'compile_kwargs' parameter of fit must be a dict. Got [1] instead.
    """

    types: tuple[type, ...]
    what: str

    def describe(self) -> str:
        """The allowed values in words, for error messages."""
        return self.what

    def check(self, name: str, value: object, func: str = "") -> object:
        """Return ``value`` if it is an instance of the types; else raise ``TypeError``."""
        if not isinstance(value, self.types):
            where = f" of {func}" if func else ""
            raise TypeError(
                f"The {name!r} parameter{where} must be {self.what}. Got {value!r} instead."
            )
        return value


@dataclass(frozen=True)
class FitSettings:
    """The settings every method shares.

    Attributes
    ----------
    draws : int
        Posterior draws per chain (NUTS) or draws from the approximation (one chain).
    tune : int
        NUTS tuning steps per chain (the approximations ignore it).
    chains : int
        NUTS chains (the approximations draw one).
    random_seed : int or None
        The same seed gives the same draws, in any process.
    progressbar : bool
        Show the sampler's or optimiser's progress.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    random_seed: int | None = None
    progressbar: bool = False

    @classmethod
    def checked(cls, func: str = "fit", **values: object) -> FitSettings:
        """The settings from user values, each checked against :data:`FIT_CONSTRAINTS`.

        Examples
        --------
        >>> import numpy as np
        >>> FitSettings.checked(draws=np.int64(200)).draws    # NumPy integers become int
        200
        >>> FitSettings.checked(random_seed=2**64)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: The 'random_seed' parameter of fit must be an int in [0, 4294967295]. ...
        """
        return cls(**check_params(FIT_CONSTRAINTS, values, func))


def option[T](
    default: T,
    rule: Rule | InstanceOf | None,
    doc: str,
    *,
    route: str | None = None,
) -> T:
    """A field of a method's options: its default, rule, documentation and route.

    ``route`` names the only route of the method that reads the option; passing it selects
    that route (an ADVI option of the stochastic optimiser, a ``pm.sample`` option of NUTS).
    """
    return field(default=default, metadata={"rule": rule, "doc": doc, "route": route})


@dataclass(frozen=True)
class MethodOptions:
    """The base of every method's options (a frozen dataclass of :func:`option` fields).

    ``given`` records which keywords the caller passed, so a method can tell "left at its
    default" from "asked for", as route selection needs.
    """

    #: The method's name, in error messages.
    method: ClassVar[str] = ""

    given: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @classmethod
    def fields(cls) -> list[dataclasses.Field[object]]:
        """The option fields (not ``given``)."""
        return [f for f in dataclasses.fields(cls) if f.name != "given"]

    @classmethod
    def rule(cls, name: str) -> Rule | InstanceOf | None:
        """The rule of one option (for callers that check it under another name)."""
        for f in cls.fields():
            if f.name == name:
                return f.metadata["rule"]
        raise KeyError(name)

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, object], func: str = "fit") -> Self:
        """The options of one call, each checked once; unknown keywords raise by name."""
        names = {f.name for f in cls.fields()}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise ValueError(
                f"{func}(method={cls.method!r}) got unknown options {unknown}; it accepts "
                f"{sorted(names)}."
            )
        values = dict(kwargs)
        for f in cls.fields():
            rule = f.metadata["rule"]
            if rule is not None and values.get(f.name) is not None:
                values[f.name] = rule.check(f.name, values[f.name], func)
        return cls(given=frozenset(kwargs), **values)

    def passed(self, route: str) -> list[str]:
        """Options of ``route`` the caller passed (not None), sorted."""
        return sorted(
            f.name
            for f in self.fields()
            if f.metadata["route"] == route
            and f.name in self.given
            and getattr(self, f.name) is not None
        )

    def to_kwargs(self, route: str) -> dict[str, object]:
        """Options of ``route`` that were passed, as keywords for that route's backend."""
        return {name: getattr(self, name) for name in self.passed(route)}


def options_table(cls: type[MethodOptions]) -> str:
    """A Markdown table of a method's options: name, default, route and meaning.

    Examples
    --------
    >>> @dataclass(frozen=True)
    ... class Demo(MethodOptions):
    ...     n_mc: int = option(1000, None, "Draws from q.")
    >>> print(options_table(Demo))
    | option | default | meaning |
    |---|---|---|
    | `n_mc` | `1000` | Draws from q. |
    """
    lines = ["| option | default | meaning |", "|---|---|---|"]
    for f in cls.fields():
        route = f.metadata["route"]
        doc = f.metadata["doc"] + (f" ({route} route only.)" if route else "")
        lines.append(f"| `{f.name}` | `{f.default!r}` | {doc} |")
    return "\n".join(lines)
