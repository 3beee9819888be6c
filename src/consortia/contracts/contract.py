"""Contracts: Python classes whose decorated methods are the functions a channel's clients may call.

A contract is deterministic code that every endorsing peer runs against its own copy of the world state::

    class AssetTransfer(Contract):
        name = "asset-transfer"

        @submit
        def create(self, ctx: Context, asset_id: str, owner: str, value: int) -> dict: ...

        @evaluate
        def read(self, ctx: Context, asset_id: str) -> dict: ...

``@submit`` marks a function whose writes are ordered and committed; ``@evaluate`` marks a read-only query
answered by one peer. ``@evaluate(public=True)`` marks a query anyone may call without logging in (the consumer
pages use these). Arguments arrive as JSON values and are checked against the annotations (``str``, ``int``,
``float``, ``bool``, ``dict``, ``list``, ``Any``) so a caller passing the wrong thing gets a clear message
instead of a crash deep inside the contract. Raise :class:`ContractError` to refuse a call, with a
:class:`ContractCode` saying why (``FORBIDDEN``, ``NOT_FOUND``, ``CONFLICT``…; ``INVALID`` by default).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__consortia_function__"


class ContractCode(StrEnum):
    """Why a contract refused a call, as a machine code that travels with the message to the caller."""

    INVALID = "INVALID"
    """The arguments or transient data are not acceptable (the default)."""
    FORBIDDEN = "FORBIDDEN"
    """The caller may not do this (wrong organisation, role, owner or consent)."""
    NOT_FOUND = "NOT_FOUND"
    """What the call names does not exist."""
    CONFLICT = "CONFLICT"
    """The state does not allow it now (already exists, already done, out of sequence)."""
    GONE = "GONE"
    """It existed but was erased or purged."""


class ContractError(Exception):
    """A contract refused a call; the message and the code go back to the caller.

    ``raise ContractError(f"asset {asset_id} does not exist", code="NOT_FOUND")`` — the code (a
    :class:`ContractCode`, default ``INVALID``) reaches the SDK as ``EndorsementFailed.contract_code`` and the
    gateway answers it with the matching HTTP status, so nobody has to guess from the message.
    """

    def __init__(self, message: str, *, code: str = ContractCode.INVALID) -> None:
        super().__init__(message)
        self.code = ContractCode(code)


class NondeterminismError(ContractError):
    """A contract tried to use the clock, randomness, files or the network."""


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime knows of one contract function."""

    name: str
    kind: str  # "submit" or "evaluate"
    public: bool
    parameters: tuple[tuple[str, Any], ...]
    doc: str
    required: int = -1
    """How many leading parameters have no default (-1: all of them)."""


def _mark(kind: str, public: bool) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        setattr(function, _MARK, (kind, public))
        return function

    return decorate


def submit(function: F | None = None, *, public: bool = False) -> Any:
    """Mark a contract method as a transaction function (its writes are ordered and committed)."""
    if function is not None:
        return _mark("submit", public)(function)
    return _mark("submit", public)


def evaluate(function: F | None = None, *, public: bool = False) -> Any:
    """Mark a contract method as a read-only query function."""
    if function is not None:
        return _mark("evaluate", public)(function)
    return _mark("evaluate", public)


class Contract:
    """Base class of every contract; subclasses set ``name`` and decorate their functions."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1.0"

    @classmethod
    def functions(cls) -> dict[str, FunctionSpec]:
        """The decorated functions of this contract, by name."""
        cached = cls.__dict__.get("_consortia_functions")
        if cached is not None:
            return cached
        specs: dict[str, FunctionSpec] = {}
        for attr in dir(cls):
            member = getattr(cls, attr, None)
            mark = getattr(member, _MARK, None)
            if mark is None:
                continue
            try:
                hints = typing.get_type_hints(member)
            except Exception:
                hints = {}
            params = list(inspect.signature(member).parameters.values())[2:]  # self, ctx
            specs[attr] = FunctionSpec(
                name=attr,
                kind=mark[0],
                public=mark[1],
                parameters=tuple((p.name, hints.get(p.name, Any)) for p in params),
                doc=inspect.getdoc(member) or "",
                required=sum(1 for p in params if p.default is inspect.Parameter.empty),
            )
        cls._consortia_functions = specs  # type: ignore[attr-defined]
        return specs


_JSON_TYPES: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
    dict: (dict,),
    list: (list,),
}


_UNION_ORIGINS = (typing.Union, types.UnionType)


@functools.lru_cache(maxsize=1024)
def _union_members(annotation: Any) -> tuple[Any, ...] | None:
    """The members of a union annotation (cached: typing introspection is slow on the endorsement path)."""
    return typing.get_args(annotation) if typing.get_origin(annotation) in _UNION_ORIGINS else None


def _accepts(annotation: Any, value: Any) -> bool:
    if annotation is Any or annotation is inspect.Parameter.empty:
        return True
    accepted = _JSON_TYPES.get(annotation)
    if accepted is not None:  # the common case: a plain JSON type
        return isinstance(value, accepted) and (annotation is bool or not isinstance(value, bool))
    try:
        members = _union_members(annotation)
    except TypeError:  # an unhashable annotation: introspect without the cache
        members = typing.get_args(annotation) if typing.get_origin(annotation) in _UNION_ORIGINS else None
    if members is not None:
        return any(_accepts(arg, value) for arg in members)
    origin = typing.get_origin(annotation)
    if annotation is type(None):
        return value is None
    base = origin or annotation
    accepted = _JSON_TYPES.get(base)
    if accepted is None:
        return True
    if base is not bool and isinstance(value, bool):
        return False
    return isinstance(value, accepted)


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", str(annotation))


def bind_arguments(spec: FunctionSpec, args: list[Any]) -> list[Any]:
    """Check decoded JSON arguments against a function's parameters; raise ContractError naming the problem."""
    names = [name for name, _ in spec.parameters]
    required = len(names) if spec.required < 0 else spec.required
    if not required <= len(args) <= len(names):
        count = str(len(names)) if required == len(names) else f"{required} to {len(names)}"
        raise ContractError(f"{spec.name} takes {count} argument(s) ({', '.join(names) or 'none'}), got {len(args)}")
    for (name, annotation), value in zip(spec.parameters, args, strict=False):
        if not _accepts(annotation, value):
            raise ContractError(
                f"{spec.name}: argument {name!r} must be {_type_name(annotation)}, got {type(value).__name__}"
            )
    return args
