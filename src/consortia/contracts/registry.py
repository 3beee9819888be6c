"""Installed contract code: loading a contract class under the determinism guard and naming it by its hash.

Installing a contract on a peer loads its module's source afresh, with the guarded builtins of
:mod:`consortia.contracts.sandbox`, and identifies the package by a SHA-256 over that source *and* the source of
every module of the same top-level package it imports, directly or through others (a contract's domain helpers
decide its results as much as the contract module does). The lifecycle approves and commits that hash, so every
organisation knows exactly which code its peers will run; a peer whose installed code differs cannot endorse.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path

from consortia.contracts import sandbox
from consortia.contracts.contract import Contract


class InstallError(ValueError):
    """A contract reference that cannot be loaded; the message says why."""


@dataclass(frozen=True)
class ContractPackage:
    """A loaded contract: its name, version, source hash and class."""

    name: str
    version: str
    reference: str
    source_hash: str
    contract_class: type[Contract]

    @property
    def package_id(self) -> str:
        """``name_version:hash``, as the lifecycle records it."""
        return f"{self.name}_{self.version}:{self.source_hash}"


def _load_source(reference: str) -> tuple[str, str, str, str | None]:
    """Return (module name, class name, source, origin path) of ``module:Class`` or ``path.py:Class``."""
    if ":" not in reference:
        raise InstallError(f"contract reference {reference!r} must look like 'package.module:ClassName'")
    module_name, _, class_name = reference.rpartition(":")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise InstallError(f"contract file {path} does not exist")
        return path.stem, class_name, path.read_text(), str(path)
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as exc:
        raise InstallError(f"cannot find contract module {module_name!r}: {exc}") from None
    if spec is None or spec.loader is None or not hasattr(spec.loader, "get_source"):
        raise InstallError(f"cannot find contract module {module_name!r}")
    source = spec.loader.get_source(module_name)  # type: ignore[union-attr]
    if source is None:
        raise InstallError(f"contract module {module_name!r} has no Python source")
    return module_name, class_name, source, spec.origin


def _local_imports(source: str, module_name: str, package_root: str) -> set[str]:
    """Modules of ``package_root`` that ``source`` imports (absolute or relative imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    package = module_name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parent = ".".join(parts[: len(parts) - node.level + 1]) if node.level > 1 else package
                base = f"{parent}.{base}".strip(".") if base else parent
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            if name == package_root or name.startswith(package_root + "."):
                found.add(name)
    return found


def _hash_root(module_name: str) -> str:
    """The package whose modules count as the contract's code: an application package, else its own package."""
    parts = module_name.split(".")
    if parts[0] == "consortia" and len(parts) > 3:
        return ".".join(parts[:3])  # consortia.apps.<application>
    return ".".join(parts[:-1])


def _package_digest(module_name: str, source: str) -> str:
    """SHA-256 over a contract module's source and the sources of the package modules it imports."""
    root = _hash_root(module_name)
    if not root:
        return hashlib.sha256(source.encode()).hexdigest()
    sources = {module_name: source}
    pending = [module_name]
    while pending:
        current = pending.pop()
        for name in sorted(_local_imports(sources[current], current, root)):
            if name in sources:
                continue
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                continue
            if spec is None or spec.loader is None or not hasattr(spec.loader, "get_source"):
                continue
            try:
                text = spec.loader.get_source(name)  # type: ignore[union-attr]
            except ImportError:
                continue
            if text is None:
                continue
            sources[name] = text
            pending.append(name)
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\x00" + sources[name].encode() + b"\x00")
    return digest.hexdigest()


def load_contract(reference: str) -> ContractPackage:
    """Load a contract class from its source under the determinism guard."""
    sandbox.install()
    module_name, class_name, source, origin = _load_source(reference)
    # A contract given as a file path is hashed alone; one given as a module, with the package code it imports.
    digest = (
        _package_digest(module_name, source)
        if origin is None or not reference.split(":")[0].endswith(".py")
        else hashlib.sha256(source.encode()).hexdigest()
    )
    unique = f"consortia_contract_{digest[:16]}_{module_name.replace('.', '_')}"
    module = sys.modules.get(unique)
    if module is None:
        module = types.ModuleType(unique)
        module.__file__ = origin
        module.__package__ = module_name.rpartition(".")[0]
        module.__dict__["__builtins__"] = sandbox.contract_builtins()
        sys.modules[unique] = module
        try:
            exec(compile(source, origin or module_name, "exec"), module.__dict__)
        except Exception as exc:
            del sys.modules[unique]
            raise InstallError(f"contract module {module_name!r} failed to load: {exc!r}") from None
    contract_class = getattr(module, class_name, None)
    if not (isinstance(contract_class, type) and issubclass(contract_class, Contract)):
        raise InstallError(f"{reference!r} does not name a Contract subclass")
    if not contract_class.name:
        raise InstallError(f"contract class {class_name} must set a non-empty 'name'")
    if not contract_class.functions():
        raise InstallError(f"contract {contract_class.name!r} has no @submit or @evaluate functions")
    return ContractPackage(contract_class.name, contract_class.version, reference, digest, contract_class)


class ContractRegistry:
    """The contract packages installed on a peer, by name and by source hash."""

    def __init__(self) -> None:
        self._by_hash: dict[str, ContractPackage] = {}
        self._instances: dict[str, Contract] = {}
        self._lock = threading.Lock()

    def install(self, reference: str) -> ContractPackage:
        """Load and install a contract; return its package."""
        package = load_contract(reference)
        self.add(package)
        return package

    def add(self, package: ContractPackage) -> None:
        """Install an already loaded package."""
        with self._lock:
            self._by_hash[package.source_hash] = package

    def by_hash(self, source_hash: str) -> ContractPackage | None:
        """The installed package whose source has this hash."""
        return self._by_hash.get(source_hash)

    def instance(self, package: ContractPackage) -> Contract:
        """A shared instance of the package's contract class (contracts hold no per-call state)."""
        instance = self._instances.get(package.source_hash)
        if instance is None:
            with self._lock:
                instance = self._instances.setdefault(package.source_hash, package.contract_class())
        return instance

    def packages(self) -> list[ContractPackage]:
        """All installed packages."""
        return list(self._by_hash.values())
