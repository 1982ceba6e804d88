"""The tree shows the medallion: a package imports only the shared packages and the layers
below it, and no module reaches itself through its imports."""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib" / "lakehouse"

# Lowest first. A module may import its own package and the packages of lower ranks only.
RANKS = [
    {"context", "results", "errors"},  # the contracts every layer shares, at the top
    {"config"},
    {"storage"},  # Delta and Hadoop plumbing, key-date layout, input fingerprints
    {"bronze"},
    {"silver"},
    {"gold"},
    {"marts"},
    {"pipeline"},
    {"ops"},
    {"runtime"},
    {"simulator", "serving"},
    {"bench"},
]
RANK = {package: i for i, packages in enumerate(RANKS) for package in packages}
SHARED = RANKS[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    return module.split(".")[1] if "." in module else "lakehouse"


def imports(path: Path, modules: set[str]) -> set[str]:
    """Every lakehouse module ``path`` imports, at its top or inside a function:
    ``from lakehouse.gold import writers`` is the module ``lakehouse.gold.writers``,
    ``from lakehouse.gold import refresh`` (a function) is the package ``lakehouse.gold``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lakehouse.")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lakehouse"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in LIB.rglob("*.py")}
    return {m: imports(p, set(files)) - {m} for m, p in files.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of a module graph, each as the modules around it."""
    found, state = [], {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = "open"
        for n in sorted(edges.get(m, ())):
            if state.get(n) == "open":
                found.append([*trail[trail.index(n) :], n])
            elif n not in state:
                visit(n, [*trail, n])
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    return found


def test_every_package_has_a_rank():
    packages = {package_of(m) for m in graph()} - {"lakehouse"}
    assert packages <= set(RANK), f"give these packages a rank: {sorted(packages - set(RANK))}"


def test_imports_go_down_the_layers():
    wrong = []
    for module, targets in graph().items():
        source = package_of(module)
        if source == "lakehouse":
            continue  # the package's own docstring
        for target in targets:
            to = package_of(target)
            if to == source or RANK[to] < RANK[source] or {source, to} <= SHARED:
                continue
            wrong.append(f"{module} -> {target}")
    assert not wrong, "imports that go up or across the layers:\n" + "\n".join(sorted(wrong))


def test_the_cycle_finder_finds_a_circle():
    # bronze and its fingerprint once imported each other; this is how that looked
    circle = {
        "lakehouse.bronze": {"lakehouse.freshness"},
        "lakehouse.freshness": {"lakehouse.bronze"},
    }
    assert cycles(circle) == [["lakehouse.bronze", "lakehouse.freshness", "lakehouse.bronze"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_module_imports_itself_in_a_circle():
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)
