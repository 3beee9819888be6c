"""Channel configuration: who belongs to a ledger and how it is ordered, in versions carried by the ledger itself.

Each channel is its own ledger. Its first block holds a single configuration transaction naming the member
organisations (with their CA certificates, which is how membership is decided, and the certificate revocation
lists their CAs signed), the ordering organisations whose orderer certificates may sign blocks, the batch
settings of the block cutter, the policy that governs the contract lifecycle, the *modification policy* that
governs changes to the configuration itself, and the read scope (who may read the channel through the gateway,
see :mod:`consortia.channel.scope`). Every member organisation's admin signs the genesis configuration, so no
organisation is put in a channel without its consent.

A consortium changes, so the configuration has versions: version 0 is the genesis block's, and a later
configuration transaction, alone in its block, carries version *n + 1* signed by enough admins to satisfy the
modification policy of version *n* (:mod:`consortia.channel.update`). Each block is judged under the version in
force at its height, so history stays valid when members come and go.

An organisation lists *CA certificates* (plural) so that a CA can be rotated without stopping anyone: the new CA
is added next to the old one, identities are re-issued, and the old CA is removed by a second update.
"""

from __future__ import annotations

import msgspec

from consortia.ledger.encoding import encode


class OrganisationConfig(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """An organisation: its MSP id, the certificates of its CAs, and the revocation lists they signed."""

    msp_id: str
    ca_certificates: tuple[bytes, ...]
    """PEM or DER CA certificates; identities issued by any of them are the organisation's."""
    revocation_lists: tuple[bytes, ...] = ()
    """DER X.509 CRLs signed by one of the organisation's CAs: the certificates it has revoked."""
    tls_ca_certificates: tuple[bytes, ...] = ()
    """PEM certificates of the organisation's TLS CAs: nodes accept TLS connections from what these issued."""

    @property
    def ca_certificate(self) -> bytes:
        """The organisation's first CA certificate (the one a single-CA organisation has)."""
        return self.ca_certificates[0]


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
    version: int = 0
    """0 for the genesis configuration, one more for each configuration update."""
    modification_policy: str = "MAJORITY"
    """Whose admins must sign the next version: ``MAJORITY`` of member organisations, ``ALL``, or a policy."""

    def org_ids(self) -> tuple[str, ...]:
        """MSP ids of the member organisations, in configuration order."""
        return tuple(org.msp_id for org in self.organisations)

    def orderer_cas(self) -> dict[str, bytes]:
        """The (first) CA certificate of each ordering organisation, by MSP id (what a proof's verifier trusts)."""
        return {org.msp_id: org.ca_certificate for org in self.orderer.organisations}

    def organisation(self, msp_id: str) -> OrganisationConfig | None:
        """The member organisation ``msp_id``, or None."""
        return next((org for org in self.organisations if org.msp_id == msp_id), None)


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
