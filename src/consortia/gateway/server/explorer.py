"""The explorer service: search the ledgers, locate a transaction, prove it — one answer for API and pages.

The REST API (:mod:`consortia.gateway.server.api`) and the explorer pages (:mod:`consortia.gateway.server.pages`)
show the same things; both ask this module, so they cannot drift apart:

* :func:`search` — what a text names on the channels the caller may read: a transaction id (64 hex digits, with
  its block and validation code), a block number, or a state key (in every namespace holding it, with its version
  and the transaction that last wrote it);
* :func:`locate` — a committed transaction by id on one channel, after the caller's read check (404 otherwise);
* :func:`transaction_proof` — its proof document (inclusion in the block and in the history tree, signed
  header), built by :func:`consortia.ledger.proof.build_transaction_proof`;
* :func:`channel_config_history` — the channel's configuration history: every version with the block that set it,
  who signed it and what it changed, the block ranges during which each organisation was a member, and where an
  organisation's revocation list changed.

A configuration set by block *B* is in force *from block B + 1* (the configuration block itself is judged under the
version before it), and version 0 from the genesis block. So "a member during blocks 6–9" means blocks 6 to 9 were
validated with the organisation in the channel: its endorsements counted and its peer received them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from consortia.channel.update import ConfigRecord, config_history, describe_changes, record_config
from consortia.gateway.server.auth import Principal
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.limits import ascii_int
from consortia.gateway.server.problems import Problem
from consortia.identity import CertificateError
from consortia.identity.certificate import load_certificate
from consortia.identity.membership import Membership
from consortia.ledger.codes import code_name
from consortia.ledger.config import ChannelConfig, OrganisationConfig
from consortia.ledger.encoding import MalformedError, encode
from consortia.ledger.ledger import FoundTransaction, LedgerError
from consortia.ledger.proof import UnknownTransaction, build_transaction_proof, corrupt_in_transit
from consortia.ledger.transaction import open_envelope
from consortia.peer.channel import PeerChannel

MAX_TX_ID = 128
"""Longer texts are not looked up as transaction ids."""


@dataclass(frozen=True)
class SearchHit:
    """One thing a search text names: a transaction, a block, or a state key in one namespace."""

    type: str
    """``transaction``, ``block`` or ``key``."""
    channel: str
    block: int | None = None
    tx_id: str | None = None
    code: str | None = None
    """The transaction's validation code name."""
    namespace: str | None = None
    key: str | None = None
    version: tuple[int, int] | None = None
    """The key's version: (block, transaction index) of its last write."""
    writer: str | None = None
    """The id of the transaction that last wrote the key (None if it cannot be read)."""

    def as_json(self) -> dict[str, Any]:
        """The hit as the API and the search page show it (only the fields of its type)."""
        if self.type == "transaction":
            return {
                "type": self.type,
                "channel": self.channel,
                "tx_id": self.tx_id,
                "block": self.block,
                "code": self.code,
            }
        if self.type == "block":
            return {"type": self.type, "channel": self.channel, "block": self.block}
        return {
            "type": self.type,
            "channel": self.channel,
            "namespace": self.namespace,
            "key": self.key,
            "version": list(self.version or ()),
            "writer": self.writer,
        }


@dataclass(frozen=True)
class Located:
    """A committed transaction found on a channel, with the peer channel it was read from."""

    peer_channel: PeerChannel
    transaction: FoundTransaction


def _is_tx_id(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def _writer(peer_channel: PeerChannel, block: int, index: int) -> str | None:
    try:
        committed = peer_channel.ledger.committed_block(block)
        if index >= len(committed.block.transactions):
            return None
        return open_envelope(committed.block.transactions[index]).tx_id
    except (MalformedError, LedgerError, OSError):
        return None


def search_channel(peer_channel: PeerChannel, text: str) -> list[SearchHit]:
    """What ``text`` names on one channel (no access check: see :func:`search`)."""
    name = peer_channel.name
    hits: list[SearchHit] = []
    if _is_tx_id(text):
        tx_id = text.lower()
        position = peer_channel.ledger.state.tx_position(tx_id)
        if position is not None:
            hits.append(SearchHit("transaction", name, position.block, tx_id, code_name(position.code)))
    number = ascii_int(text)
    if number is not None and number < peer_channel.height:
        hits.append(SearchHit("block", name, number))
    for namespace, value in peer_channel.ledger.state.find_key(text):
        version = value.version
        hits.append(
            SearchHit(
                "key",
                name,
                namespace=namespace,
                key=text,
                version=(version.block, version.tx),
                writer=_writer(peer_channel, version.block, version.tx),
            )
        )
    return hits


def search(backend: Backend, principal: Principal, text: str) -> list[SearchHit]:
    """What ``text`` (stripped) names on every channel ``principal`` may read, channel by channel."""
    query = text.strip()
    if not query:
        return []
    hits: list[SearchHit] = []
    for name in backend.channel_names():
        if backend.can_read(principal, name):
            hits.extend(search_channel(backend.peer_channel(name, principal), query))
    return hits


def _unknown(tx_id: str, channel: str) -> Problem:
    return Problem(404, f"transaction {tx_id[:MAX_TX_ID]} is not on channel {channel!r}", code="UNKNOWN_TRANSACTION")


def _normalised(tx_id: str) -> str:
    return tx_id.strip().lower()


def locate(backend: Backend, principal: Principal | None, channel: str, tx_id: str) -> Located:
    """The committed transaction ``tx_id`` on ``channel``, if the caller may read it (401/403/404 problems)."""
    backend.require_read(principal, channel)
    peer_channel = backend.peer_channel(channel, principal)
    wanted = _normalised(tx_id)
    found = peer_channel.ledger.find_transaction(wanted) if len(wanted) <= MAX_TX_ID else None
    if found is None:
        raise _unknown(tx_id, channel)
    return Located(peer_channel, found)


def transaction_proof(peer_channel: PeerChannel, tx_id: str, *, tamper: bool = False) -> dict[str, Any]:
    """The proof document of a committed transaction (404 problem if there is none); ``tamper`` is for tests."""
    wanted = _normalised(tx_id)
    if len(wanted) > MAX_TX_ID:
        raise _unknown(tx_id, peer_channel.name)
    try:
        document = build_transaction_proof(peer_channel.ledger, wanted, peer_channel.rules.config.orderer_cas())
    except UnknownTransaction:
        raise _unknown(tx_id, peer_channel.name) from None
    if tamper:
        corrupt_in_transit(document)  # test-only: the verifiers must catch it
    return document


# -- configuration history -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevokedCertificate:
    """A certificate an organisation's CA revoked, as its revocation list says."""

    serial: int
    revoked_ms: int


@dataclass(frozen=True)
class OrganisationVersion:
    """A member organisation as one configuration version lists it."""

    msp_id: str
    ca_certificates: tuple[str, ...]
    """PEM, whatever form the configuration carries them in."""
    revoked: tuple[RevokedCertificate, ...]
    problem: str | None = None
    """Why its CA certificates or revocation lists could not be read (None when they could)."""


@dataclass(frozen=True)
class ConfigVersion:
    """One version of a channel's configuration, the block that set it and the blocks judged under it."""

    version: int
    block: int
    timestamp_ms: int
    signers: tuple[str, ...]
    """``Org/name`` of each admin whose signature counted."""
    changes: tuple[str, ...]
    """What it changed from the version before, in words."""
    from_block: int
    """The first block validated under this version (the setting block + 1; 0 for the genesis version)."""
    to_block: int | None
    """The last block validated under it, None while it is in force."""
    organisations: tuple[OrganisationVersion, ...]
    config: ChannelConfig


@dataclass(frozen=True)
class MemberSpan:
    """A run of blocks during which an organisation was a member (``to_block`` None: it still is)."""

    org: str
    from_block: int
    to_block: int | None


@dataclass(frozen=True)
class RevocationChange:
    """A version that changed an organisation's revocation list, and the serial numbers it newly revoked."""

    org: str
    version: int
    block: int
    from_block: int
    revoked: tuple[int, ...]


@dataclass(frozen=True)
class ConfigHistory:
    """A channel's configuration history as the explorer shows it."""

    channel: str
    height: int
    versions: tuple[ConfigVersion, ...]
    members: tuple[MemberSpan, ...]
    revocations: tuple[RevocationChange, ...]

    @property
    def organisations(self) -> tuple[str, ...]:
        """Every organisation that was ever a member, in the order they first were."""
        return tuple(dict.fromkeys(span.org for span in self.members))


def _pem(certificate: bytes) -> str:
    return load_certificate(certificate)[0].public_bytes(Encoding.PEM).decode()


def organisation_version(org: OrganisationConfig) -> OrganisationVersion:
    """An organisation's CA certificates as PEM and its revocations (a ``problem`` instead if unreadable)."""
    try:
        pems = tuple(_pem(certificate) for certificate in org.ca_certificates)
        membership = Membership({org.msp_id: org.ca_certificates}, revocation_lists={org.msp_id: org.revocation_lists})
    except (CertificateError, ValueError) as exc:
        # A committed configuration was checked when it took effect; show what is wrong rather than fail the page.
        return OrganisationVersion(org.msp_id, (), (), str(exc))
    revoked = tuple(RevokedCertificate(r.serial, r.revoked_ms) for r in membership.revocations)
    return OrganisationVersion(org.msp_id, pems, revoked)


def _genesis_changes(config: ChannelConfig) -> tuple[str, ...]:
    orgs = ", ".join(config.org_ids())
    ordering = ", ".join(o.msp_id for o in config.orderer.organisations)
    return (f"creates the channel with members {orgs}, ordered by {ordering}",)


def history_of(records: list[ConfigRecord], channel: str, height: int) -> ConfigHistory:
    """The history the explorer shows, from a channel's configuration records (oldest first)."""
    configs = [record_config(record) for record in records]
    versions: list[ConfigVersion] = []
    for index, (record, config) in enumerate(zip(records, configs, strict=True)):
        from_block = 0 if record.block == 0 else record.block + 1
        following = records[index + 1].block if index + 1 < len(records) else None
        changes = _genesis_changes(config) if index == 0 else tuple(describe_changes(configs[index - 1], config))
        versions.append(
            ConfigVersion(
                version=record.version,
                block=record.block,
                timestamp_ms=record.timestamp_ms,
                signers=record.signers,
                changes=changes,
                from_block=from_block,
                to_block=following,
                organisations=tuple(organisation_version(org) for org in config.organisations),
                config=config,
            )
        )
    return ConfigHistory(channel, height, tuple(versions), _member_spans(versions), _revocation_changes(versions))


def _member_spans(versions: list[ConfigVersion]) -> tuple[MemberSpan, ...]:
    open_spans: dict[str, int] = {}
    spans: list[MemberSpan] = []
    for index, version in enumerate(versions):
        orgs = set(version.config.org_ids())
        for org in version.config.org_ids():
            open_spans.setdefault(org, version.from_block)
        for org in [org for org in open_spans if org not in orgs]:
            # Its last block was the last one judged under the version before (the block that removed it).
            spans.append(MemberSpan(org, open_spans.pop(org), versions[index - 1].to_block))
    spans.extend(MemberSpan(org, start, None) for org, start in open_spans.items())
    order = {org: i for i, org in enumerate(dict.fromkeys(o for v in versions for o in v.config.org_ids()))}
    return tuple(sorted(spans, key=lambda span: (order[span.org], span.from_block)))


def _revocation_changes(versions: list[ConfigVersion]) -> tuple[RevocationChange, ...]:
    changes: list[RevocationChange] = []
    before: dict[str, tuple[bytes, ...]] = {}
    revoked_before: dict[str, set[int]] = {}
    for version in versions:
        lists = {org.msp_id: org.revocation_lists for org in version.config.organisations}
        for org in version.organisations:
            serials = {r.serial for r in org.revoked}
            if lists[org.msp_id] != before.get(org.msp_id, ()):
                added = tuple(sorted(serials - revoked_before.get(org.msp_id, set())))
                changes.append(RevocationChange(org.msp_id, version.version, version.block, version.from_block, added))
            revoked_before[org.msp_id] = serials
        before = lists
    return tuple(changes)


def peer_config_history(peer_channel: PeerChannel) -> ConfigHistory:
    """A peer channel's configuration history (no access check: see :func:`channel_config_history`)."""
    records = config_history(peer_channel.ledger.state)
    if not records:
        # A ledger from before configuration records: only the configuration in force is known.
        config = peer_channel.rules.config
        records = [ConfigRecord(config.version, 0, 0, encode(config), ())]
    return history_of(records, peer_channel.name, peer_channel.height)


def channel_config_history(backend: Backend, principal: Principal | None, channel: str) -> ConfigHistory:
    """The configuration history of ``channel``, if the caller may read it (401/403/404 problems)."""
    backend.require_read(principal, channel)
    return peer_config_history(backend.peer_channel(channel, principal))
