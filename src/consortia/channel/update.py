"""Configuration updates: how a channel's members and rules change while the ledger keeps its history.

A consortium changes: a bank joins, a clinic leaves, a CA is rotated, an employee's stolen key must stop working.
Each change is a new *version* of the channel configuration (:class:`~consortia.ledger.config.ChannelConfig`),
carried by a configuration transaction — the next configuration's canonical bytes and the admins' signatures over
them — that the ordering service cuts into a block of its own. The same judgement is made by the ordering
service (before it orders the update, and again when it cuts the block) and by every peer (when it validates the
block), with the block's timestamp as the moment of the signatures:

1. the transaction decodes, and the configuration inside is canonical (``CONFIG_REJECTED`` otherwise);
2. it configures this channel, at exactly the next version, with the same kind of ordering service;
3. it leaves the channel with at least one member organisation and one ordering organisation, each listed once,
   every CA certificate a valid CA and every revocation list signed by one of its organisation's CAs, policies
   that parse and batch settings in range (``CONFIG_REJECTED``, naming the first problem);
4. the signatures come from admins of the organisations of the configuration *in force* (a revoked or foreign
   admin's signature does not count), and they satisfy its *modification policy* — by default ``MAJORITY`` of
   the member organisations' admins (``CONFIG_POLICY_FAILURE`` otherwise, naming who signed).

An update that passes takes effect from the next block: membership, block signers, endorsement policies that
name organisations, the lifecycle policy and the batch settings all follow the new version, while every earlier
block is still judged under the version in force at its height. A refused update changes nothing.

The configuration in force is kept in the state database, in the system namespace :data:`CONFIG_NAMESPACE`, as a
:class:`ConfigRecord` (version, the block that set it, who signed) — so its key history is the channel's
configuration history, a snapshot carries it, and a replay after a crash restores it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from consortia.channel.rules import ChannelRules, ConfigError, read_genesis, rules_from_config
from consortia.identity import Kind, MembershipError
from consortia.identity.batch import verify_one
from consortia.identity.certificate import CertificateError, parse_certificate
from consortia.ledger.block import Block
from consortia.ledger.codes import Code
from consortia.ledger.config import ChannelConfig, ConfigSignature, ConfigTransaction, config_signing_bytes
from consortia.ledger.encoding import MalformedError, decode_canonical, encode
from consortia.ledger.ledger import ChannelLedger
from consortia.ledger.statedb import StateDB
from consortia.ledger.transaction import ENVELOPE_CONFIG, Envelope
from consortia.policy import Policy, Signer, format_policy, majority_policy, parse_policy, satisfied
from consortia.policy.tree import OutOf, signed_by

CONFIG_NAMESPACE = "_config"
"""The system namespace holding the configuration in force (no contract may be named so)."""
CONFIG_KEY = "channel"


class ConfigRefused(Exception):
    """A configuration update that cannot take effect: ``code`` is the validation code, ``message`` why."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class ConfigRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The configuration in force as the state keeps it (a JSON document): version, setting block, signers."""

    version: int
    block: int
    timestamp_ms: int
    config: bytes
    signers: tuple[str, ...]
    """``Org/name`` of each admin whose signature counted."""


@dataclass(frozen=True)
class AcceptedUpdate:
    """A configuration update that passed: the new configuration, its rules, and the admins who signed it."""

    config: ChannelConfig
    config_bytes: bytes
    rules: ChannelRules
    signers: tuple[str, ...]


def modification_policy(config: ChannelConfig) -> Policy:
    """The policy the admins' signatures on the next version must satisfy (``MAJORITY``, ``ALL`` or a policy)."""
    text = config.modification_policy.strip()
    orgs = list(config.org_ids())
    if text.upper() == "MAJORITY":
        return majority_policy(orgs, "admin")
    if text.upper() == "ALL":
        return OutOf(len(orgs), tuple(signed_by(org, "admin") for org in orgs))
    return parse_policy(text)


def is_config_envelope(envelope_bytes: bytes) -> bool:
    """Whether an envelope carries a configuration transaction (cheap: decodes only the envelope)."""
    try:
        return decode_canonical(envelope_bytes, Envelope).kind == ENVELOPE_CONFIG
    except MalformedError:
        return False


def is_config_block(block: Block) -> bool:
    """Whether a block after the genesis block is a configuration block: one configuration transaction alone."""
    return block.header.number > 0 and len(block.transactions) == 1 and is_config_envelope(block.transactions[0])


def config_envelope(transaction: ConfigTransaction) -> bytes:
    """The envelope that carries a configuration transaction to the ordering service."""
    return encode(Envelope(ENVELOPE_CONFIG, encode(transaction), b""))


def read_config_envelope(envelope_bytes: bytes) -> ConfigTransaction:
    """The configuration transaction inside an envelope; ConfigRefused(CONFIG_REJECTED) if it is not one."""
    try:
        envelope = decode_canonical(envelope_bytes, Envelope)
        if envelope.kind != ENVELOPE_CONFIG:
            raise ConfigRefused(Code.CONFIG_REJECTED, "the envelope does not hold a configuration transaction")
        return decode_canonical(envelope.payload, ConfigTransaction)
    except MalformedError as exc:
        raise ConfigRefused(Code.CONFIG_REJECTED, f"malformed configuration transaction: {exc}") from None


def propose(config: ChannelConfig) -> ConfigTransaction:
    """An unsigned configuration transaction for ``config`` (admins then add signatures with :func:`add_signature`)."""
    return ConfigTransaction(encode(config), ())


def add_signature(transaction: ConfigTransaction, signer: bytes, signature: bytes) -> ConfigTransaction:
    """The transaction with one more admin signature (replacing an earlier one by the same certificate)."""
    kept = tuple(s for s in transaction.signatures if s.signer != signer)
    return ConfigTransaction(transaction.config, (*kept, ConfigSignature(signer, signature)))


def _check_shape(current: ChannelConfig, config: ChannelConfig) -> ChannelRules:
    """Checks 2 and 3: the right channel and version, and a configuration that can be in force."""
    if config.name != current.name:
        raise ConfigRefused(
            Code.CONFIG_REJECTED, f"the update configures channel {config.name!r}, not {current.name!r}"
        )
    if config.version != current.version + 1:
        raise ConfigRefused(
            Code.CONFIG_REJECTED,
            f"the update is version {config.version}, but version {current.version} is in force, so the next is "
            f"{current.version + 1} (was another update committed first? make the update again)",
        )
    if config.orderer.kind != current.orderer.kind:
        raise ConfigRefused(
            Code.CONFIG_REJECTED,
            f"the ordering service kind cannot change (from {current.orderer.kind!r} to {config.orderer.kind!r})",
        )
    if not config.organisations:
        raise ConfigRefused(Code.CONFIG_REJECTED, "the update would leave the channel without a member organisation")
    if not config.orderer.organisations:
        raise ConfigRefused(Code.CONFIG_REJECTED, "the update would leave the channel without an ordering organisation")
    for what, orgs in (("member", config.organisations), ("ordering", config.orderer.organisations)):
        ids = [org.msp_id for org in orgs]
        repeated = sorted({org for org in ids if ids.count(org) > 1})
        if repeated:
            raise ConfigRefused(Code.CONFIG_REJECTED, f"{what} organisation(s) listed twice: {', '.join(repeated)}")
    batch = config.orderer.batch
    if not (1 <= batch.max_transactions <= 100_000):
        raise ConfigRefused(
            Code.CONFIG_REJECTED, f"batch max_transactions must be 1..100000, not {batch.max_transactions}"
        )
    if not (1024 <= batch.max_bytes <= 64 << 20):
        raise ConfigRefused(Code.CONFIG_REJECTED, f"batch max_bytes must be 1024..67108864, not {batch.max_bytes}")
    if not (1 <= batch.timeout_ms <= 60_000):
        raise ConfigRefused(Code.CONFIG_REJECTED, f"batch timeout_ms must be 1..60000, not {batch.timeout_ms}")
    try:
        rules = rules_from_config(config)
        modification_policy(config)
    except (ConfigError, ValueError) as exc:
        raise ConfigRefused(Code.CONFIG_REJECTED, str(exc)) from None
    return rules


def counted_signers(
    rules: ChannelRules, transaction: ConfigTransaction, at_ms: int
) -> tuple[list[Signer], list[str], list[str]]:
    """The admins whose signatures count (as policy signers and as ``Org/name``), and why others do not."""
    message = config_signing_bytes(transaction.config)
    signers: list[Signer] = []
    names: list[str] = []
    ignored: list[str] = []
    for signature in transaction.signatures:
        try:
            info = rules.members.validate(signature.signer, at_ms=at_ms, kinds={Kind.ADMIN})
        except MembershipError as exc:
            ignored.append(exc.message)
            continue
        if not verify_one(info.public_key, message, signature.signature):
            ignored.append(f"the signature of {info.describe()} does not verify")
            continue
        if any(s.id == info.cert_hash for s in signers):
            continue
        signers.append(Signer(info.org, info.kind.value, info.cert_hash, info.role()))
        names.append(f"{info.org}/{info.name}")
    return signers, names, ignored


def judge_update(rules: ChannelRules, transaction: ConfigTransaction, at_ms: int) -> AcceptedUpdate:
    """The update if it may take effect under ``rules`` at ``at_ms``; raise ConfigRefused (code, reason) if not."""
    try:
        config = decode_canonical(transaction.config, ChannelConfig)
    except MalformedError as exc:
        raise ConfigRefused(Code.CONFIG_REJECTED, f"the configuration in the update is malformed: {exc}") from None
    new_rules = _check_shape(rules.config, config)
    signers, names, ignored = counted_signers(rules, transaction, at_ms)
    policy = modification_policy(rules.config)
    if not satisfied(policy, signers):
        signed = ", ".join(sorted({s.org for s in signers})) or "nobody"
        why = f"; not counted: {'; '.join(ignored)}" if ignored else ""
        raise ConfigRefused(
            Code.CONFIG_POLICY_FAILURE,
            f"the modification policy {rules.config.modification_policy} ({format_policy(policy)}) is not met: "
            f"signed by admins of {signed}{why}",
        )
    return AcceptedUpdate(config, transaction.config, new_rules, tuple(names))


def judge_envelope(rules: ChannelRules, envelope_bytes: bytes, at_ms: int) -> AcceptedUpdate:
    """:func:`judge_update` for an envelope as it travels to the ordering service or sits in a block."""
    return judge_update(rules, read_config_envelope(envelope_bytes), at_ms)


def genesis_record(config: ChannelConfig, transaction: ConfigTransaction, timestamp_ms: int) -> ConfigRecord:
    """The record of version 0, set by the genesis block and signed by every member's admin."""
    names = []
    for signature in transaction.signatures:
        try:
            info = parse_certificate(signature.signer)
        except CertificateError:
            continue
        names.append(f"{info.org}/{info.name}")
    return ConfigRecord(config.version, 0, timestamp_ms, transaction.config, tuple(names))


def record_of(update: AcceptedUpdate, block: int, timestamp_ms: int) -> ConfigRecord:
    """The record the state keeps for an accepted update committed in ``block``."""
    return ConfigRecord(update.config.version, block, timestamp_ms, update.config_bytes, update.signers)


def read_record(value: bytes) -> ConfigRecord:
    """Decode a configuration record from the state (MalformedError if it is not one)."""
    try:
        return msgspec.json.decode(value, type=ConfigRecord)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedError(f"configuration record: {exc}") from None


def encode_record(record: ConfigRecord) -> bytes:
    """The JSON document the state keeps for a configuration record."""
    return msgspec.json.encode(record)


def record_config(record: ConfigRecord) -> ChannelConfig:
    """The channel configuration a record holds."""
    return decode_canonical(record.config, ChannelConfig)


def sign_update(
    transaction: ConfigTransaction, certificate_der: bytes, sign: Callable[[bytes], bytes]
) -> ConfigTransaction:
    """Add an admin's signature (``sign`` signs bytes with the admin's key) to a configuration transaction."""
    return add_signature(transaction, certificate_der, sign(config_signing_bytes(transaction.config)))


def now_ms() -> int:
    """The current time in epoch milliseconds (the orderer's moment of judgement before a block exists)."""
    return int(time.time() * 1000)


def describe_changes(old: ChannelConfig, new: ChannelConfig) -> list[str]:
    """What an update changes, in words a person reviewing it before signing can check."""
    changes: list[str] = []
    old_orgs = {org.msp_id: org for org in old.organisations}
    new_orgs = {org.msp_id: org for org in new.organisations}
    for org in sorted(new_orgs.keys() - old_orgs.keys()):
        changes.append(f"adds organisation {org}")
    for org in sorted(old_orgs.keys() - new_orgs.keys()):
        changes.append(f"removes organisation {org}")
    for org in sorted(new_orgs.keys() & old_orgs.keys()):
        before, after = old_orgs[org], new_orgs[org]
        added = [c for c in after.ca_certificates if c not in before.ca_certificates]
        removed = [c for c in before.ca_certificates if c not in after.ca_certificates]
        if added:
            changes.append(f"adds {len(added)} CA certificate(s) of {org}")
        if removed:
            changes.append(f"removes {len(removed)} CA certificate(s) of {org}")
        if after.revocation_lists != before.revocation_lists:
            changes.append(f"changes the revocation lists of {org}")
        if after.tls_ca_certificates != before.tls_ca_certificates:
            changes.append(f"changes the TLS CA certificates of {org}")
    if old.orderer.organisations != new.orderer.organisations:
        changes.append("changes the ordering organisations")
    if old.orderer.batch != new.orderer.batch:
        b = new.orderer.batch
        changes.append(
            f"sets batch settings to {b.max_transactions} transactions, {b.max_bytes} bytes, {b.timeout_ms} ms"
        )
    if old.lifecycle_policy != new.lifecycle_policy:
        changes.append(f"sets the lifecycle policy to {new.lifecycle_policy}")
    if old.modification_policy != new.modification_policy:
        changes.append(f"sets the modification policy to {new.modification_policy}")
    if old.readers != new.readers:
        changes.append(f"sets the read scope to {', '.join(new.readers) or 'every member'}")
    return changes


def config_in_force(state: StateDB) -> ConfigRecord | None:
    """The configuration record a state database holds (None for a ledger that predates configuration records)."""
    found = state.get(CONFIG_NAMESPACE, CONFIG_KEY)
    return read_record(found.value) if found is not None and found.value is not None else None


def config_history(state: StateDB) -> list[ConfigRecord]:
    """Every configuration version of the channel, oldest first, from the key history of the configuration record."""
    records = [read_record(entry.value) for entry in state.history(CONFIG_NAMESPACE, CONFIG_KEY) if entry.value]
    return sorted(records, key=lambda record: record.version)


def ledger_config(ledger: ChannelLedger) -> ChannelConfig:
    """The configuration in force at a ledger's height: its state's record, or its genesis block's."""
    record = config_in_force(ledger.state) if ledger.state.height > 0 else None
    if record is not None:
        return record_config(record)
    config, _ = read_genesis(ledger.block(0))
    return config
