"""The Busan cold-chain consortium: its organisations, its channel and how the contract is deployed.

Five organisations share the ``coldchain`` channel, one per hand the fish passes through — the fishing
cooperative's fish market where it is landed and auctioned, the processor, the logistics operator, the Seoul
retailer — and the inspection agency, whose people carry the ``inspector`` role. Each organisation records its
own EPCIS events, endorsed by its own peer (the contract policy is "any one member peer"); a lot's
non-conformance additionally needs the inspection agency's peer, a recall the lot owner's and the inspection
agency's, closing an alarm the owners' and changing master data its owner's, by key-level policies the contract
sets (:mod:`consortia.apps.coldchain.contract.contract`). The events themselves live in one private data collection of
all five organisations, so every member peer can endorse and answer queries; the contract's secret for opaque
index keys is drawn here at :func:`deploy` and reaches the peers only as transient data. Consumers are not
members: they read public contract functions through the gateway's public pages.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from consortia.contracts.collections_config import CollectionConfig
from consortia.ledger.config import BatchConfig
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

CHANNEL = "coldchain"
CONTRACT = "coldchain"
CONTRACT_REFERENCE = "consortia.apps.coldchain.contract.contract:ColdChain"

FISH_MARKET = "BusanFishMarket"
PROCESSOR = "SeafoodProcessor"
LOGISTICS = "ColdLogistics"
RETAILER = "SeoulRetail"
INSPECTION = "InspectionAgency"
ORGS = (FISH_MARKET, PROCESSOR, LOGISTICS, RETAILER, INSPECTION)

DISPLAY_NAMES = {
    FISH_MARKET: "Busan Cooperative Fish Market (부산공동어시장)",
    PROCESSOR: "Gamcheon Seafood Processing (감천수산가공)",
    LOGISTICS: "Hanbit Cold Logistics (한빛콜드물류)",
    RETAILER: "Seoul Fresh Mart (서울신선마트)",
    INSPECTION: "Fishery Products Quality Inspection Agency (수산물품질검사원)",
}

DEMO_PASSWORD = "consortia-demo"
"""Password of the demo people (the same as the platform demo's)."""

PEOPLE = {
    FISH_MARKET: ("minji",),
    PROCESSOR: ("seojun",),
    LOGISTICS: ("haneul",),
    RETAILER: ("yuna",),
    INSPECTION: ("jiwoo",),
}

POLICY = "OutOf(1, " + ", ".join(f"'{org}.peer'" for org in ORGS) + ")"
"""The contract's endorsement policy: the capturing organisation's own peer vouches for its events."""

COLLECTION = "coldchain-members"
COLLECTIONS = (CollectionConfig(COLLECTION, ORGS, blocks_to_live=0, member_only_read=True, member_only_write=True),)
"""Where events, lot names, master data and alarms live: plaintext at the five members' peers, hashes on the ledger."""


def _users(org: str, passwords: bool) -> tuple[UserSpec, ...]:
    inspector = {"role": "inspector"} if org == INSPECTION else {}
    users = [UserSpec("admin", "admin"), UserSpec("client", "client", inspector)]
    if org == INSPECTION:
        users.append(UserSpec("inspector", "client", {"role": "inspector"}))
    for name in PEOPLE[org]:
        users.append(UserSpec(name, "client", inspector, DEMO_PASSWORD if passwords else None))
    return tuple(users)


def org_specs(passwords: bool = True) -> tuple[OrgSpec, ...]:
    """The five organisations with their programs' and people's identities."""
    return tuple(OrgSpec(org, DISPLAY_NAMES[org], _users(org, passwords)) for org in ORGS)


def channel_spec(batch: BatchConfig | None = None) -> ChannelSpec:
    """The ``coldchain`` channel: only its five member organisations read it through the gateway.

    The inspection agency is a member, so it needs no read scope of its own; consumers are not members and see
    only what the public contract functions and the consumer page give them.
    """
    # The platform's 1 MiB block limit (kept for etcd ordering) bounds one EPCIS document's transaction.
    batch = batch or BatchConfig(max_transactions=500, timeout_ms=50)
    return ChannelSpec(CHANNEL, ORGS, batch)


def network_spec(batch: BatchConfig | None = None, passwords: bool = False) -> NetworkSpec:
    """A network holding only the cold-chain consortium (for tests, the benchmark and ``coldchain init``)."""
    return NetworkSpec(orgs=org_specs(passwords), channels=(channel_spec(batch),))


def deploy(network: EmbeddedNetwork) -> None:
    """Install and commit the contract with its collection, then store the secret and create the register."""
    network.deploy(CHANNEL, CONTRACT_REFERENCE, policy=POLICY, collections=list(COLLECTIONS))
    admin = network.gateway(INSPECTION, "admin").network(CHANNEL).contract(CONTRACT)
    result = admin.submit("init", INSPECTION, transient={"secret": os.urandom(32)})
    network.wait_for_height(CHANNEL, result.block + 1)  # every member's peer sees the register before use


def is_deployed(network: EmbeddedNetwork) -> bool:
    """Whether the channel exists and the contract is committed on it."""
    try:
        network.spec.channel(CHANNEL)
    except KeyError:
        return False
    peer = network.peers[network.spec.channel(CHANNEL).orgs[0]]
    return peer.channel(CHANNEL).definition(CONTRACT) is not None
