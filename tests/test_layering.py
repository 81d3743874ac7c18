"""The package's layering rules, checked on its source (imports inside functions count)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bayescore"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, str | None]]:
    """(module, imported name) for every bayescore import, at any depth of the file."""
    out = []
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.startswith("bayescore")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            if base.startswith("bayescore"):
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    out.append((sub, None) if sub in MODULES else (base, alias.name))
    return out


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, path in MODULES.items():
        for target, _ in _imports(name, path):
            while target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in MODULES and target not in (name, "bayescore"):
                edges[name].add(target)
    return edges


def test_no_import_cycles():
    edges, state, cycles = _edges(), {}, []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "active"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "active":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_private_names_taken_from_another_public_module():
    bad = []
    for name, path in MODULES.items():
        for target, imported in _imports(name, path):
            public = not any(p.startswith("_") for p in target.split(".")[1:])
            private = imported is not None and imported.startswith("_")
            if public and private and target != name and not imported.startswith("__"):
                bad.append(f"{name} <- {target}.{imported}")
    assert bad == []


#: The scoring side, by module prefix: it must run without the fitting engine.
SCORING_SIDE = (
    "bayescore._array",
    "bayescore._inputs",
    "bayescore._validation",
    "bayescore._names",
    "bayescore._memory",
    "bayescore._point_scores",
    "bayescore._pointwise",
    "bayescore._datatree",
    "bayescore.scoring",
    "bayescore.calibration",
    "bayescore.comparison._table",
)
#: The fitting side, by package prefix.
FITTING_SIDE = ("bayescore.inference", "bayescore.models", "bayescore.estimators")


def _is(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def upward_imports(modules: dict[str, Path]) -> list[str]:
    """Scoring-side modules that import the fitting side, PyMC or PyTensor (any depth)."""
    bad = []
    for name, path in modules.items():
        if not _is(name, SCORING_SIDE):
            continue
        for target, _ in _imports(name, path):
            if _is(target, FITTING_SIDE):
                bad.append(f"{name} -> {target}")
        text = path.read_text()
        if "import pymc" in text or "import pytensor" in text:
            bad.append(f"{name} -> pymc/pytensor")
    return bad


def test_scoring_side_never_imports_pymc_or_the_fitting_side():
    # Every prefix names modules of the tree (a renamed module cannot slip out of the rule).
    assert all(any(_is(m, (prefix,)) for m in MODULES) for prefix in SCORING_SIDE)
    assert upward_imports(MODULES) == []


def test_the_layering_rule_catches_a_planted_upward_import(tmp_path, monkeypatch):
    """Planting ``from bayescore.inference.laplace import fit_laplace`` in scoring.py (a
    copy) is caught: the rule can fail."""
    planted = tmp_path / "scoring.py"
    planted.write_text(
        MODULES["bayescore.scoring"].read_text()
        + "\n\ndef _planted():\n    from bayescore.inference.laplace import fit_laplace\n"
    )
    modules = dict(MODULES, **{"bayescore.scoring": planted})
    assert upward_imports(modules) == ["bayescore.scoring -> bayescore.inference.laplace"]


def test_no_module_over_1000_lines():
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > 1000} == {}
