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


def test_scoring_layers_never_import_pymc_or_the_fitting_side():
    light = [m for m in MODULES if m.startswith(("bayescore._array", "bayescore.calibration"))]
    light += [
        "bayescore.scoring",
        "bayescore._inputs",
        "bayescore._validation",
        "bayescore._names",
    ]
    fitting = {"bayescore.models", "bayescore.inference", "bayescore._vi", "bayescore.estimators"}
    for name in light:
        targets = {t for t, _ in _imports(name, MODULES[name])}
        text = MODULES[name].read_text()
        assert not (targets & fitting), name
        assert "import pymc" not in text and "import pytensor" not in text, name


def test_no_module_over_600_lines():
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > 600} == {}
