"""The code's shape: no import cycles in dashboard/ and jobs/, dependencies one way (the
REST API never imports the page; the worker never imports the web side), no imports
hidden inside functions, functions of a readable size, and a warning for a module long
enough to ask whether it holds two features. Exceptions are listed here with their
reason, so a new one is a decision, not an accident."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = ("dashboard", "jobs")
#: past this a module gets a warning (not a failure): a cohesive long module beats fragments
WARN_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
#: (importer prefix, imported prefix) pairs that must never occur
FORBIDDEN_IMPORTS = (
    ("dashboard.api", "dashboard.page"),  # the REST API works without the Dash page
    ("dashboard.exports", "dashboard.api"),  # the export feature knows nothing of HTTP
    ("dashboard.exports", "dashboard.page"),
    ("dashboard.figures", "dashboard.page"),  # figures are pure: the page uses them, not back
    ("dashboard.data", "dashboard.api"),
    ("dashboard.data", "dashboard.page"),
    ("jobs", "dashboard.api"),  # the worker never imports the web side
    ("jobs", "dashboard.page"),
    ("jobs", "dashboard.app"),
)

#: imports inside a function, on purpose (module: names imported there, why)
LATE_IMPORTS = {
    # kaleido and plotly.io take ~1.1 s to import: only a process that draws pays it
    "dashboard.exports.browser": {"kaleido", "plotly.io"},
}
#: longer functions, with the reason
LONG_FUNCTIONS: dict[str, str] = {}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = modules()


def resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The project modules an import statement loads (a name imported from a package may
    be a submodule)."""
    targets = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            pkg = module.split(".")
            is_pkg = MODULES[module].name == "__init__.py"
            pkg = pkg if is_pkg else pkg[:-1]
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join(pkg + ([base] if base else []))
        names = [base] + [f"{base}.{alias.name}" for alias in node.names]
    for name in names:
        if name in MODULES:
            targets.append(name)
    return targets


def top_level_imports(module: str, tree: ast.Module) -> set[str]:
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.update(resolve(module, node))
        elif isinstance(node, ast.If | ast.Try):  # conditional imports at module level
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    out.update(resolve(module, inner))
    out.discard(module)
    return out


def trees() -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def test_the_packages_have_modules():
    assert {"dashboard.app", "dashboard.data.store", "jobs.worker"} <= set(MODULES)


def test_no_import_cycles():
    graph = {name: top_level_imports(name, tree) for name, tree in trees().items()}
    # a package's __init__ importing its own submodules is how re-exports work; a cycle
    # through it is still a cycle when a submodule imports the package back
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_imports_inside_functions():
    found = []
    for name, tree in trees().items():
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    what = {a.name for a in node.names} if isinstance(node, ast.Import) else {node.module or "."}
                    if not what <= LATE_IMPORTS.get(name, set()):
                        found.append(f"{name}:{node.lineno} imports {', '.join(sorted(what))} in {func.name}()")
    assert found == []


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_dependencies_run_one_way():
    found = []
    for name, tree in trees().items():
        for target in top_level_imports(name, tree):
            for importer, imported in FORBIDDEN_IMPORTS:
                if _within(name, importer) and _within(target, imported):
                    found.append(f"{name} imports {target}")
    assert found == []


def test_module_size():
    """Long modules are reported as a warning: a reason to look, not a rule to cut by."""
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > WARN_MODULE_LINES}
    for name, lines in long.items():
        warnings.warn(f"{name} has {lines} lines: does it hold more than one feature?", stacklevel=1)


def test_function_size():
    long = []
    for name, tree in trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = (node.end_lineno or node.lineno) - start + 1
                key = f"{name}.{node.name}"
                if lines > MAX_FUNCTION_LINES and key not in LONG_FUNCTIONS:
                    long.append(f"{key}: {lines} lines")
    assert long == []
