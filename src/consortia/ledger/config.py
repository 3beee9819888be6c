"""Channel configuration: who belongs to a ledger and how it is ordered, fixed by its signed genesis block.

Each channel is its own ledger. Its first block holds a single configuration transaction naming the member
organisations (with their CA certificates, which is how membership is decided), the ordering organisations
whose orderer certificates may sign blocks, the batch settings of the block cutter, the policy that governs
the contract lifecycle, and the read scope (who may read the channel through the gateway, see
:mod:`consortia.channel.scope`). Every member organisation's admin signs the configuration, so no organisation is put in
a channel without its consent.
"""

from __future__ import annotations

import msgspec

from consortia.ledger.encoding import encode


class OrganisationConfig(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """An organisation: its MSP id and the PEM certificate of its CA."""

    msp_id: str
    ca_certificate: bytes


class BatchConfig(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """When the block cutter closes a block: transaction count, bytes, or time since the first pending one."""

    max_transactions: int = 500
    max_bytes: int = 1 << 20
    timeout_ms: int = 100


class OrdererConfig(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The ordering service: its kind (``solo`` or ``etcd``), organisations and batch settings."""

    kind: str
    organisations: tuple[OrganisationConfig, ...]
    batch: BatchConfig


class ChannelConfig(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A channel's membership and rules."""

    name: str
    organisations: tuple[OrganisationConfig, ...]
    orderer: OrdererConfig
    lifecycle_policy: str
    created_ms: int
    readers: tuple[str, ...] = ()
    """Read scope: ``Org:role`` pairs that may read the channel through the gateway (empty: every member)."""

    def org_ids(self) -> tuple[str, ...]:
        """MSP ids of the member organisations, in configuration order."""
        return tuple(org.msp_id for org in self.organisations)

    def orderer_cas(self) -> dict[str, bytes]:
        """The CA certificate of each ordering organisation, by MSP id (what a proof's verifier trusts)."""
        return {org.msp_id: org.ca_certificate for org in self.orderer.organisations}


class ConfigSignature(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """An organisation admin's certificate and signature over the configuration bytes."""

    signer: bytes
    signature: bytes


class ConfigTransaction(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Canonical configuration bytes and the admins' signatures over them."""

    config: bytes
    signatures: tuple[ConfigSignature, ...]


def config_signing_bytes(config: bytes) -> bytes:
    """The bytes an admin signs to consent to a channel configuration."""
    return b"consortia/channel-config/v1\x00" + config


def encode_config(config: ChannelConfig) -> bytes:
    """Canonical bytes of a channel configuration."""
    return encode(config)
