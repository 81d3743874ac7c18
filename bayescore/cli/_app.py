"""The Typer app, its error and warning handling, and input loading.

Errors are one line on stderr, ``error: ...``, with exit code 2 for a wrong command line and
1 for bad data or files; ``bayescore --debug COMMAND ...`` (the flag before the command)
shows the full traceback instead. Warnings (a failed convergence check, unreliable
PSIS-LOO) are printed on stderr as one ``warning: ...`` line each and do not change the exit
code. Advice in messages is rewritten in the command line's syntax (``--method nuts``, not
``method='nuts'``), and control characters in them are shown escaped. What the commands
print on stdout is :mod:`bayescore.cli._output`'s.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from typer.core import TyperGroup

from bayescore._atomic import check_outputs
from bayescore._tables import ColumnError
from bayescore._text import cli_syntax, one_line, printable
from bayescore.cli._output import flush_stdout, say, silence_stdout

if TYPE_CHECKING:
    from bayescore._tables import Table as DataTable

__all__ = [
    "DataOpt",
    "DatasetOpt",
    "DropOpt",
    "FeaturesOpt",
    "JsonOpt",
    "NameOpt",
    "TargetOpt",
    "advice",
    "app",
    "check_out",
    "load_table",
    "main",
    "model_names",
    "unique_names",
]

#: Exceptions that mean "bad data, file or setting": one line and exit code 1.
_DATA_ERRORS = (ValueError, TypeError, KeyError, OSError, ImportError)
#: Python names in the API's messages -> the option that sets them here (beyond the
#: commands' own parameters, which keep their names).
_API_OPTIONS = {
    "random_seed": "--seed",
    "progressbar": "--progress",
    "n_splits": "--cv",
    "n_jobs": "--jobs",
    "prediction": "--prediction-column",
    "target": "--target",
    "features": "--features",
    "drop": "--drop",
}


def _options(group: Any) -> dict[str, str]:
    """Python parameter name -> its command-line option, over every command."""
    found: dict[str, str] = {}
    for command in getattr(group, "commands", {}).values():
        for param in command.params:
            longs = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
            if param.name and longs:
                found.setdefault(param.name, longs[0])
    return {**found, **_API_OPTIONS}


def _debug_requested(argv: Sequence[str]) -> bool:
    """``--debug`` among the options before the command (a command's values never count)."""
    for arg in argv:
        if arg == "--debug":
            return True
        if not arg.startswith("-"):
            return False  # the command: what follows is its own
    return False


_OPTIONS: dict[str, str] = dict(_API_OPTIONS)


def advice(text: str) -> str:
    """``text`` with Python-style advice in option syntax, for every command's options.

    ``method='nuts'`` becomes ``--method nuts`` (see :func:`bayescore._text.cli_syntax`).
    """
    return cli_syntax(text, _OPTIONS)


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    print(f"warning: {category.__name__}: {printable(advice(one_line(message)))}", file=sys.stderr)


class _OneLineErrors(TyperGroup):
    """Print every error as one ``error: ...`` line on stderr, never a traceback.

    Usage errors exit with 2, data errors with 1 (as grep and git do); ``--debug`` before
    the command (or ``BAYESCORE_DEBUG=1``) lets exceptions through with their traceback.
    Warnings are shown once each as one ``warning: Category: message`` line on stderr.
    """

    def main(self, args: Sequence[str] | None = None, *posargs: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = _debug_requested(argv) or os.environ.get("BAYESCORE_DEBUG") == "1"
        _OPTIONS.update(_options(self))
        kwargs["standalone_mode"] = False
        try:
            with warnings.catch_warnings():
                # bayescore's warnings (ConvergenceWarning, ParetoKWarning: UserWarnings)
                # are reported, never raised, even under -W error; other categories keep
                # the interpreter's filters (deprecations stay hidden).
                warnings.filterwarnings("default", category=UserWarning)
                warnings.showwarning = _show_warning
                code = super().main(argv, *posargs, **kwargs)
            flush_stdout()
        except typer.Exit as exc:
            _flush_stdout_quietly()
            sys.exit(exc.exit_code)
        except typer.Abort:
            _fail("aborted", 1)
        except typer.TyperException as exc:  # typer's own click: usage errors
            if type(exc).__name__ == "NoArgsIsHelpError":
                cast(Any, exc).show()  # no command given: show the help, as click does
                sys.exit(2)
            if debug:
                raise
            message = exc.format_message()
            if "No such option: --debug" in message:
                message += " (--debug goes before the command: bayescore --debug COMMAND ...)"
            _fail(message, int(getattr(exc, "exit_code", 2)))
        except BrokenPipeError:
            # The reader went away (``bayescore ... | head``): nothing to say to anyone.
            silence_stdout()
            sys.exit(1)
        except ColumnError as exc:  # a column named on the command line does not fit
            if debug:
                raise
            _fail(_one_line(exc), 2)
        except _DATA_ERRORS as exc:
            if debug:
                raise
            _fail(_one_line(exc), 1)
        except KeyboardInterrupt:
            if debug:
                raise
            _fail("interrupted", 130)
        except Exception as exc:  # a dependency failed in a way nobody checked for
            if debug:
                raise
            _fail(
                f"{type(exc).__name__}: {_one_line(exc)} (bayescore --debug COMMAND ... shows "
                "the traceback)",
                1,
            )
        except BaseException as exc:  # e.g. a Rust panic from a sampler (PanicException)
            if debug or isinstance(exc, SystemExit | GeneratorExit):
                raise
            _fail(f"{type(exc).__name__}: {_one_line(exc)}", 1)
        sys.exit(code if isinstance(code, int) else 0)


def _flush_stdout_quietly() -> None:
    try:
        flush_stdout()
    except BrokenPipeError:
        silence_stdout()
    except OSError as exc:
        _fail(_one_line(exc), 1)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError) and exc.filename is not None:
        text = f"no such file: {exc.filename}"
    elif isinstance(exc, KeyError):
        text = f"missing key {exc}"
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror if exc.filename is None else f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return advice(one_line(text))


def _fail(message: str, code: int) -> None:
    print(f"error: {printable(message)}", file=sys.stderr)
    sys.exit(code)


app = typer.Typer(
    cls=_OneLineErrors,
    help="Bayesian classifiers with honest probability scores.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: click's own layout, paragraphs rewrapped, no rich markup read from the
    # docstrings, no <bool> shown for flags.
    rich_markup_mode=None,
)


DataOpt = Annotated[
    Path | None, typer.Option("--data", metavar="CSV", help="CSV file with features (and labels).")
]
DatasetOpt = Annotated[
    str | None,
    typer.Option("--dataset", metavar="NAME", help="Bundled data set instead of --data."),
]
TargetOpt = Annotated[
    str | None, typer.Option("--target", metavar="COLUMN", help="Label column of --data.")
]
FeaturesOpt = Annotated[
    str | None,
    typer.Option(
        "--features",
        metavar="A,B,...",
        help="Feature columns to use, comma-separated (default: every column but --target).",
    ),
]
DropOpt = Annotated[
    str | None,
    typer.Option("--drop", metavar="A,B,...", help="Columns to leave out, comma-separated."),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON instead of a table.")
]
NameOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--name", metavar="NAME", help="Name of each model, in order (default: file names)."
    ),
]


def _version(value: bool) -> None:
    if value:
        from bayescore import __version__

        say(f"bayescore {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show full tracebacks instead of one-line errors (give it before the command).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Bayesian classifiers with honest probability scores."""


def _column_list(value: str | None, option: str) -> list[str] | None:
    """``a,b,c`` -> ``['a', 'b', 'c']`` (spaces around names dropped)."""
    if value is None:
        return None
    names = [v.strip() for v in value.split(",")]
    if not all(names):
        raise typer.BadParameter(f"{option} {value!r} has an empty column name.")
    return names


def load_table(
    data: Path | None,
    dataset: str | None,
    target: str | None,
    features: str | None = None,
    drop: str | None = None,
    *,
    labels_for: str | None = None,
    for_fit: bool = False,
) -> DataTable:
    """Features and labels from a CSV (``--target`` column) or a bundled data set.

    ``labels_for`` names what needs the labels ("fitting"): without them it is a usage
    error. ``for_fit`` asks the features to be numbers with none missing.
    """
    import bayescore as bs
    from bayescore._tables import frame_table, read_table

    if (data is None) == (dataset is None):
        raise typer.BadParameter("give exactly one of --data CSV or --dataset NAME.")
    columns = {
        "features": _column_list(features, "--features"),
        "drop": _column_list(drop, "--drop"),
    }
    if dataset is not None:
        if target is not None:
            raise typer.BadParameter(
                f"--target is for --data; the bundled data set {dataset!r} has its own labels."
            )
        ds = bs.load_dataset(dataset)
        return frame_table(ds.X, target=ds.y, source=dataset, for_fit=for_fit, **columns)
    assert data is not None
    if target is None and labels_for is not None:
        raise typer.BadParameter(f"--target is required with --data for {labels_for}.")
    return read_table(data, target=target, for_fit=for_fit, **columns)


def check_out(out: str, inputs: Sequence[Path | None]) -> Path:
    """``--out`` as a path, refused (usage error) before any work if it cannot be written.

    It must not be one of ``inputs`` and must be a regular file or nothing yet; it is
    checked as typed (``results/`` names a directory).
    """
    try:
        check_outputs(out, inputs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--out'") from None
    return Path(out)


def unique_names(paths: Sequence[Path]) -> list[str]:
    """The shortest distinct trailing parts of ``paths`` (file stems when they differ).

    Examples
    --------
    >>> unique_names([Path("a/model.nc"), Path("b/model.nc"), Path("c/other.nc")])
    ['a/model', 'b/model', 'other']
    """
    parts = [p.with_suffix("").parts for p in paths]
    parts = [p[1:] if len(p) > 1 and Path(p[0]).anchor == p[0] else p for p in parts]
    depth = [1] * len(paths)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(parts, depth, strict=True)]
        clashes = {n for n in names if names.count(n) > 1}
        if not clashes:
            return names
        grew = False
        for i, name in enumerate(names):
            if name in clashes and depth[i] < len(parts[i]):
                depth[i] += 1
                grew = True
        if not grew:
            raise typer.BadParameter(f"the same model file is given twice: {sorted(clashes)}.")


def model_names(models: Sequence[Path], name: Sequence[str] | None) -> list[str]:
    """One distinct name per model file: the ``--name`` values, else the file names."""
    if not name:
        return unique_names(models)
    if not all(n.strip() for n in name):
        raise typer.BadParameter(f"every --name needs some text; got {list(name)}.")
    if len(name) != len(models) or len(set(name)) != len(name):
        raise typer.BadParameter(
            f"give one distinct --name per model: {len(models)} models, names {list(name)}."
        )
    return list(name)


def main() -> None:
    """Entry point of the ``bayescore`` console script."""
    app()
