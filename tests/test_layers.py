"""The house rules a reader relies on, checked on the source: the layers import
downwards only, the SQLite store is reached through the port, no module of `actors/`
is part of an import cycle (type-only imports included), and modules stay short."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "automations"

LAYERS = [
    "model",
    "schedules",
    "runtime",
    "persistence",
    "actors",
    "telemetry",
    "api",
    "executors",
    "mcp_server",
    "http",
    "cli",
]
"""Each may import those before it in this list, never those after (`api` stands for
the top-level modules: `api.py`, `_facade.py`, `_client.py`, `_keyed.py`,
`_event_stream.py`, `testing.py`)."""

_TOP_LEVEL = {"api", "_client", "_event_stream", "_facade", "_keyed", "testing"}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(("automations", *parts)), path


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports, anywhere in it (under TYPE_CHECKING too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


MODULES = dict(_modules())
IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "automations" or len(parts) == 1:
        return None
    if parts[1] == "__main__":  # `python -m automations`: the command line
        return "cli"
    return "api" if parts[1] in _TOP_LEVEL else parts[1]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_layer_imports_only_the_layers_below_it(module: str) -> None:
    own = _layer(module)
    if own is None or own not in LAYERS:
        return
    above = set(LAYERS[LAYERS.index(own) + 1 :])
    upward = sorted(m for m in IMPORTS[module] if _layer(m) in above)
    assert not upward, f"{module} imports higher layers: {upward}"


def _imports_package(imports: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in imports)


def test_only_the_sqlite_store_imports_apsw_and_only_open_store_knows_it() -> None:
    sqlite = "automations.persistence.sqlite"
    for module, imports in IMPORTS.items():
        if module.startswith(sqlite):
            continue
        assert not any(m == "apsw" or m.startswith("apsw.") for m in imports), module
        if module != "automations.persistence._open":
            assert not any(m.startswith(sqlite) for m in imports), module


def test_only_the_postgresql_store_imports_psycopg_and_only_open_store_knows_it() -> None:
    postgresql = "automations.persistence.postgresql"
    for module, imports in IMPORTS.items():
        if module.startswith(postgresql):
            continue
        for driver in ("psycopg", "psycopg_pool"):
            assert not _imports_package(imports, driver), (module, driver)
        if module != "automations.persistence._open":
            assert not _imports_package(imports, postgresql), module


def test_the_stores_do_not_import_each_other() -> None:
    for module, imports in IMPORTS.items():
        if module.startswith("automations.persistence.sqlite"):
            assert not _imports_package(imports, "automations.persistence.postgresql"), module
        if module.startswith("automations.persistence.postgresql"):
            assert not _imports_package(imports, "automations.persistence.sqlite"), module
            assert not _imports_package(imports, "apsw"), module


def test_runtime_imports_anyio_and_the_standard_library_only() -> None:
    allowed = {"anyio", "sniffio"}  # sniffio: see runtime/_loop.py
    for module, imports in IMPORTS.items():
        if not module.startswith("automations.runtime"):
            continue
        for imported in imports:
            top = imported.split(".")[0]
            if top == "automations":
                assert imported.startswith("automations.runtime"), (module, imported)
            else:
                assert top in allowed or top in sys.stdlib_module_names, (module, imported)


def test_no_module_of_actors_is_part_of_an_import_cycle() -> None:
    actors = {m for m in MODULES if m.startswith("automations.actors.")}
    edges = {m: {i for i in IMPORTS[m] if i in actors and i != m} for m in actors}

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    cyclic = sorted(m for m in actors if reaches(m, m))
    assert not cyclic, f"import cycles through {cyclic}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_is_at_most_400_lines(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= 400, f"{module} has {lines} lines; split it by concept"


FRAMEWORKS = {
    "pydantic_ai": "automations.executors.pydantic_ai",
    "pydantic_core": "automations.executors.pydantic_ai",
    "langgraph": "automations.executors.langgraph",
    "langchain_core": "automations.executors.langgraph",
    "agents": "automations.executors.openai_agents",
    "openai": "automations.executors.openai_agents",
    "mcp": "automations.mcp_server",
    "mcp_types": "automations.mcp_server",
}
"""Each optional framework (an extra) and the one package that may import it, so that
`import automations` works without any of them."""


def test_an_optional_framework_is_imported_only_by_its_own_package() -> None:
    for module, imports in IMPORTS.items():
        for imported in imports:
            owner = FRAMEWORKS.get(imported.split(".")[0])
            if owner is not None:
                assert module.startswith(owner + "."), (module, imported)
