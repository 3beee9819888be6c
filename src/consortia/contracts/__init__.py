"""Contract runtime: the API contract authors use, the determinism guard, installed packages and the lifecycle."""

from consortia.contracts.collections_config import CollectionConfig
from consortia.contracts.context import Caller, Context
from consortia.contracts.contract import (
    Contract,
    ContractCode,
    ContractError,
    NondeterminismError,
    evaluate,
    submit,
)

__all__ = [
    "Caller",
    "CollectionConfig",
    "Context",
    "Contract",
    "ContractCode",
    "ContractError",
    "NondeterminismError",
    "evaluate",
    "submit",
]
