"""The package's layers only point down: an ast walk over paddle_optim/ finds every import.

Fails on an import cycle between modules, on an edge to a higher layer or sideways to another
component of the same layer, and on a function-level import that is not listed below with its reason.
"""
import ast
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

PACKAGE = "paddle_optim"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

#: Bottom to top. A module belongs to the component of its longest listed prefix; it may import a
#: lower layer or its own component, never a higher layer or another component of its layer.
LAYERS: List[Tuple[str, ...]] = [
    ("errors",),
    ("config",),                                        # schema, ranges, loader, import paths, list fields
    ("compat",),                                        # the Paddle 2.6 / 3.x bridge
    ("optimizers",),                                    # RAdam, Lookahead, Ranger, portable state
    ("schedulers", "data", "models"),                   # peers: none imports another (schedules set an
                                                        # optimizer's momentum, so they sit above it)
    ("factory",),                                       # registry, Optimizer section, decay groups, clipping
    ("training",),                                      # loop, AMP, EMA, checkpoints, records, distributed
    ("sections",),                                      # the table of every config section
    ("check", "lr_plot"),                               # a config inspected without training
    ("compare", "lr_find", "suites", "training.command"),  # commands that train
    ("cli",),                                           # the command line
    ("__main__", "launch_entry"),                       # what `python -m` and the launcher run
]

#: Function-level imports of OTHER packages that are allowed, and why: heavy or optional libraries
#: that only some commands need.
LAZY_LIBRARIES: Dict[str, str] = {
    "matplotlib": "only lr-plot / compare / records draw PNGs; importing it costs ~0.5 s",
    "visualdl": "VisualDL records are optional",
    "tqdm": "the progress bar is optional",
    "paddle.vision": "image folders and vision models only; importing it costs ~1 s",
    "paddleseg": "a suite's own package, imported when that suite is registered (it may not be installed)",
    "importlib": "paddle_optim/__init__.py: the public API loads its modules on first use",
}
#: Modules whose function-level imports of paddle_optim modules are allowed, and why.
LAZY_IMPORTERS: Dict[str, str] = {
    "cli": "each sub-command imports its handler on use, so that `--help` and config errors are instant",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: Dict[str, Path] = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> List[str]:
    """The paddle_optim modules a ``from ... import ...`` statement loads."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target != PACKAGE and not target.startswith(PACKAGE + "."):
        return []
    # `from pkg import name` loads pkg.name when that is a module, else takes a name defined in pkg.
    submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    return submodules if len(submodules) == len(node.names) else [target] + submodules


def _imports() -> List[Tuple[str, str, bool, str]]:
    """Every import statement as ``(importer, imported, inside_a_function, imported_name)``."""
    found = []
    for module, path in MODULES.items():
        is_package = path.name == "__init__.py"

        def visit(node, in_function):
            for child in ast.iter_child_nodes(node):
                nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, ast.Import):
                    for alias in child.names:
                        found.append((module, alias.name, nested, alias.name))
                elif isinstance(child, ast.ImportFrom):
                    targets = _resolve(module, child, is_package)
                    for target in targets:
                        found.append((module, target, nested, target))
                    if not targets and child.level == 0:
                        found.append((module, child.module or "", nested, child.module or ""))
                visit(child, nested)

        visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _component(module: str) -> Tuple[int, str]:
    """``(layer index, component)`` of a paddle_optim module (the package itself sits at the bottom)."""
    rest = module[len(PACKAGE) + 1:] if module != PACKAGE else ""
    best = (-1, "", -1)
    for rank, layer in enumerate(LAYERS):
        for component in layer:
            if (rest == component or rest.startswith(component + ".")) and len(component) > best[2]:
                best = (rank, component, len(component))
    assert best[0] >= 0 or module == PACKAGE, f"{module} is in no layer: add it to LAYERS"
    return best[0], best[1]


def _internal(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def test_every_module_belongs_to_a_layer():
    for module in MODULES:
        _component(module)


def test_no_import_points_up_or_sideways():
    wrong = []
    for importer, imported, _, _ in _imports():
        if not _internal(imported) or imported == PACKAGE or importer == PACKAGE:
            continue
        (rank_from, comp_from), (rank_to, comp_to) = _component(importer), _component(imported)
        if comp_from != comp_to and rank_to >= rank_from:
            wrong.append(f"{importer} (layer {rank_from}: {comp_from}) -> {imported} (layer {rank_to}: {comp_to})")
    assert wrong == [], "imports against the layering:\n" + "\n".join(sorted(set(wrong)))


def test_no_import_cycle():
    graph: Dict[str, Set[str]] = {m: set() for m in MODULES}
    for importer, imported, _, _ in _imports():
        if _internal(imported) and imported in MODULES and imported != importer:
            graph[importer].add(imported)
    state: Dict[str, int] = {}
    cycles = []

    def dfs(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                dfs(nxt, stack)
        stack.pop()
        state[node] = 2

    sys.setrecursionlimit(10000)
    for module in sorted(graph):
        if module not in state:
            dfs(module, [])
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_function_level_imports_only_where_listed():
    wrong = []
    for importer, imported, nested, _ in _imports():
        if not nested:
            continue
        if _internal(imported):
            if _component(importer)[1] not in LAZY_IMPORTERS:
                wrong.append(f"{importer}: function-level import of {imported}")
        elif not any(imported == lib or imported.startswith(lib + ".") for lib in LAZY_LIBRARIES):
            wrong.append(f"{importer}: function-level import of {imported}")
    assert wrong == [], "unlisted function-level imports (move them to the top):\n" + "\n".join(sorted(set(wrong)))
