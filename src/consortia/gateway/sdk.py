"""Kept for the applications until they move: the client SDK now lives in :mod:`consortia.client`."""

from consortia.client.connection import Connection
from consortia.client.errors import (
    CommitTimeout,
    EndorsementFailed,
    GatewayError,
    OrderingFailed,
    TransactionInvalid,
)
from consortia.client.proposal import PreparedProposal, build_proposal
from consortia.client.sdk import Contract, Gateway, Network, SubmitResult

__all__ = [
    "CommitTimeout",
    "Connection",
    "Contract",
    "EndorsementFailed",
    "Gateway",
    "GatewayError",
    "Network",
    "OrderingFailed",
    "PreparedProposal",
    "SubmitResult",
    "TransactionInvalid",
    "build_proposal",
]
