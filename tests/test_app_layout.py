"""Every application has the one layout of ``apps/README.md``, and its imports run one way.

Read with :mod:`ast`, like the platform's layers (``test_layers.py``): each application package under
``src/consortia/apps`` has ``contract/``, ``domain/``, ``service/``, ``web/``, ``demo/``, ``cli.py``, ``plugin.py``
and ``consortium.py``; inside it, ``domain/`` imports nothing of the application but ``domain/``, ``contract/``
only ``domain/``, ``service/`` nothing of ``web/``, ``demo/`` or ``cli.py``, and ``web/`` nothing of ``demo/`` or
``cli.py``; no application imports another one, nor the SDK's and plug-ins' old homes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[1] / "src" / "consortia" / "apps"
LAYOUT = ("contract", "domain", "service", "web", "demo", "cli.py", "plugin.py", "consortium.py")
MAY_IMPORT = {
    "domain": {"domain"},
    "contract": {"domain", "contract"},
    "service": {"domain", "contract", "service", "consortium"},
    "web": {"domain", "contract", "service", "web", "consortium"},
}
SHIMS = ("consortia.gateway.sdk", "consortia.gateway.applications")


def applications() -> list[Path]:
    return sorted(p for p in APPS.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, dotted target) of every import in a file, relative ones resolved."""
    module = ".".join(path.relative_to(APPS.parents[1]).with_suffix("").parts)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if path.name == "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module or ""))
                found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_there_are_applications() -> None:
    assert {p.name for p in applications()} >= {"coldchain", "health"}


@pytest.mark.parametrize("app", applications(), ids=lambda p: p.name)
def test_each_application_has_the_layout(app: Path) -> None:
    missing = [part for part in LAYOUT if not (app / part).exists()]
    assert missing == [], f"{app.name} lacks {missing}"
    loose = sorted(p.name for p in app.glob("*.py") if p.name not in ("__init__.py", *LAYOUT))
    assert loose == [], f"{app.name}: modules outside the layout's folders: {loose}"


@pytest.mark.parametrize("app", applications(), ids=lambda p: p.name)
def test_imports_run_one_way(app: Path) -> None:
    prefix = f"consortia.apps.{app.name}."
    offenders = []
    for path in sorted(app.rglob("*.py")):
        part = path.relative_to(app).parts[0]
        allowed = MAY_IMPORT.get(part)
        for line, target in imports_of(path):
            where = f"{path.relative_to(APPS)}:{line} imports {target}"
            if target.startswith(SHIMS):
                offenders.append(where + " (an old home: use consortia.client / consortia.plugins)")
            elif target.startswith("consortia.apps.") and not (target + ".").startswith(prefix):
                offenders.append(where + " (another application)")
            elif allowed is not None and target.startswith(prefix):
                inner = target[len(prefix) :].split(".")[0]
                if inner not in allowed:
                    offenders.append(where + f" ({part}/ may import only {sorted(allowed)})")
    assert offenders == []


def test_the_reader_resolves_absolute_and_relative_imports() -> None:
    """The checker itself finds what a known module imports, relative imports resolved."""
    contract = APPS / "coldchain" / "contract" / "contract.py"
    targets = {target for _, target in imports_of(contract)}
    assert any(t.startswith("consortia.apps.coldchain.domain") for t in targets), sorted(targets)
    assert "consortia.contracts" in targets
