"""The gateway: the client SDK (submit, evaluate, events), and later the REST API, CLI client and explorer."""

from consortia.gateway.sdk import (
    CommitTimeout,
    Contract,
    EndorsementFailed,
    Gateway,
    GatewayError,
    Network,
    OrderingFailed,
    SubmitResult,
    TransactionInvalid,
)

__all__ = [
    "CommitTimeout",
    "Contract",
    "EndorsementFailed",
    "Gateway",
    "GatewayError",
    "Network",
    "OrderingFailed",
    "SubmitResult",
    "TransactionInvalid",
]
