"""The client side of the platform: the SDK, the remote REST client and request signing.

    from consortia.client import Gateway

    contract = Gateway(identity, connection).network("trade").contract("asset-transfer")
    contract.submit("transfer", "asset-1", "bob")

* :mod:`consortia.client.sdk` — ``Gateway → Network → Contract``: submit, evaluate, events;
* :mod:`consortia.client.connection` and :mod:`consortia.client.peer_channel` — the two narrow interfaces the SDK
  works over, which the embedded network and a cluster implement alike;
* :mod:`consortia.client.proposal` — signed proposals with their transient data;
* :mod:`consortia.client.errors` — what can go wrong, with machine codes;
* :mod:`consortia.client.remote` — a program's client of a gateway service's REST API;
* :mod:`consortia.client.request_signing` — the ``Consortia-Ed25519`` scheme every HTTP request is signed with.
"""

from consortia.client.connection import Connection
from consortia.client.errors import (
    CommitTimeout,
    EndorsementFailed,
    GatewayError,
    OrderingFailed,
    TransactionInvalid,
)
from consortia.client.peer_channel import ChannelPeer
from consortia.client.proposal import PreparedProposal, build_proposal
from consortia.client.sdk import CommittedEvent, Contract, Gateway, Network, SubmitResult

__all__ = [
    "ChannelPeer",
    "CommitTimeout",
    "CommittedEvent",
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
