"""The platform's layers, checked by reading every import of ``src/consortia`` with :mod:`ast`.

Platform packages depend only downward, in this order (bottom first)::

    ui · identity · ledger · policy · channel · contracts · samples · ordering · peer · client · network · plugins ·
    gateway · node · cluster · cli · (__main__)

and the applications (``consortia.apps``) sit on top: nothing else imports them. On top of the order, the rules of
the "Platform layout" issue are checked one by one, so a failure names the rule it breaks: ``ledger/`` imports
only ``identity/``; ``client/`` imports nothing from ``gateway/`` or ``node/``; ``node/`` imports nothing from
``gateway.server``; and no two packages import each other, directly or round a longer cycle.

Imports under ``if TYPE_CHECKING:`` only name types for annotations and run nothing; they are left out of the
layer order and of the cycle check (``consortia.plugins`` names the gateway's ``Backend`` that way), but not out
of the rules about ``consortia.apps`` and ``ledger/``. Imports inside functions count like any other.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "consortia"

ORDER = (
    "consortia",  # the root package: the version number
    "ui",  # page conventions: translations, times, chart ticks (depends on nothing of the platform)
    "identity",
    "ledger",
    "policy",
    "channel",
    "contracts",
    "samples",
    "ordering",
    "peer",
    "client",
    "network",
    "plugins",
    "gateway",
    "node",
    "cluster",
    "bench",  # open-loop and at-scale benchmarks: measure the network, the ledger and the audit
    "cli",
    "__main__",
)
"""Platform packages (and top-level modules), bottom first."""


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it is, and whether it runs (not only under TYPE_CHECKING)."""

    module: str
    """The importing module, dotted."""
    target: str
    """The imported module, dotted (``from x import y`` counts as importing ``x``; ``y`` may be a module too)."""
    names: tuple[str, ...]
    line: int
    runtime: bool

    @property
    def source_package(self) -> str:
        """The platform package (or top-level module) the importing module belongs to."""
        return package_of(self.module)

    @property
    def target_package(self) -> str:
        """The platform package (or top-level module) imported from."""
        return package_of(self.target)

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def package_of(module: str) -> str:
    """``consortia.ledger.block`` → ``ledger``; ``consortia`` → ``consortia``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    """The dotted name of a source file."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, module: str, is_package: bool, runtime: bool) -> Iterator[Import]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.body:
                yield from _imports_of(statement, module, is_package, False)
            for statement in child.orelse:
                yield from _imports_of(statement, module, is_package, runtime)
            continue
        yield from _imports_of(child, module, is_package, runtime)


def _imports_of(node: ast.AST, module: str, is_package: bool, runtime: bool) -> Iterator[Import]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield Import(module, alias.name, (), node.lineno, runtime)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        yield Import(module, target, tuple(alias.name for alias in node.names), node.lineno, runtime)
    else:
        yield from _imports(node, module, is_package, runtime)


def platform_imports() -> list[Import]:
    """Every import of a ``consortia`` module made by a module of ``src/consortia`` outside ``apps/``."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        module = module_name(path)
        if module.startswith("consortia.apps"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for item in _imports(tree, module, path.name == "__init__.py", True):
            if item.target == "consortia" or item.target.startswith("consortia."):
                found.append(item)
    return found


IMPORTS = platform_imports()


def _crossing(imports: list[Import]) -> list[Import]:
    return [i for i in imports if i.source_package != i.target_package]


def test_the_reader_sees_imports() -> None:
    """The reader finds imports at module level, in functions, relative ones and type-only ones."""
    modules = {i.module for i in IMPORTS}
    assert {"consortia.client.sdk", "consortia.gateway.server.api", "consortia.cli.main"} <= modules
    assert any(i.module == "consortia.ledger.history" and i.target == "consortia.ledger.merkle" for i in IMPORTS)
    assert any(not i.runtime for i in IMPORTS), "no TYPE_CHECKING import found: is the reader blind to them?"
    assert len(IMPORTS) > 300


def test_no_platform_module_imports_the_applications() -> None:
    """Applications plug in through entry points; no module of the platform names ``consortia.apps``."""
    offenders = [
        str(i)
        for i in IMPORTS
        if i.target == "consortia.apps"
        or i.target.startswith("consortia.apps.")
        or (i.target == "consortia" and "apps" in i.names)
    ]
    assert offenders == []


def test_ledger_imports_only_identity() -> None:
    """The ledger (encoding, blocks, trees, stores) stands on identities alone."""
    offenders = [str(i) for i in _crossing(IMPORTS) if i.source_package == "ledger" and i.target_package != "identity"]
    assert offenders == []


def test_client_imports_no_gateway_or_node_module() -> None:
    """The client SDK sits below the network, the gateway service and the nodes."""
    offenders = [str(i) for i in IMPORTS if i.source_package == "client" and i.target_package in ("gateway", "node")]
    assert offenders == []


GATEWAY_HOST = "consortia.node.gateway_network"
"""The one node module that hosts the gateway service next to a peer (issue 15): it must import the server."""


def test_node_imports_nothing_from_the_gateway_server() -> None:
    """Nodes sign and check requests with the client's signing scheme, not the web server's code.

    Only the module that serves the organisation's gateway from its node imports the server; the transport,
    request checking, peers and orderers do not.
    """
    offenders = [
        str(i)
        for i in IMPORTS
        if i.source_package == "node"
        and i.module != GATEWAY_HOST
        and (
            i.target.startswith("consortia.gateway.server") or (i.target == "consortia.gateway" and "server" in i.names)
        )
    ]
    assert offenders == []
    hosting = [i for i in IMPORTS if i.module == GATEWAY_HOST and i.target.startswith("consortia.gateway.server")]
    assert hosting, f"{GATEWAY_HOST} no longer imports the gateway server: drop this exception"


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for item in _crossing(IMPORTS):
        if item.runtime:
            graph[item.source_package].add(item.target_package)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_cycle_finder_finds_cycles() -> None:
    """The cycle check itself: it finds a three-package cycle and accepts a diamond."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}}) is None


def test_no_import_cycle_between_packages() -> None:
    """No package reaches itself through the packages it imports (type-only imports left out)."""
    cycle = _cycle(_package_graph())
    assert cycle is None, " → ".join(cycle or [])


def test_every_package_is_placed_in_the_order() -> None:
    """Every package and top-level module of the platform has a place in the layer order."""
    packages = {package_of(module_name(path)) for path in ROOT.rglob("*.py")} - {"apps"}
    assert packages <= set(ORDER), packages - set(ORDER)


@pytest.mark.parametrize("package", [p for p in ORDER if p != "consortia"])
def test_imports_only_go_down(package: str) -> None:
    """A package imports (at run time) only packages below it in the layer order."""
    rank = {name: index for index, name in enumerate(ORDER)}
    offenders = [
        f"{i} ({i.target_package} is not below {package})"
        for i in _crossing(IMPORTS)
        if i.runtime and i.source_package == package and rank[i.target_package] > rank[package]
    ]
    assert offenders == []
