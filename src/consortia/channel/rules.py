"""A channel's rules as a peer applies them: membership, block signers and the lifecycle policy.

They come from the channel's genesis configuration block and are what every validation decision rests on: who
is a member (their CA certificates), who may sign blocks (the ordering organisations' orderer certificates), and
which policy endorses contract lifecycle changes, and who may read the channel through the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

from consortia.channel.scope import ScopeEntry, read_scope
from consortia.identity import Kind, Membership, MembershipError
from consortia.identity.batch import verify_one
from consortia.ledger.block import Block
from consortia.ledger.config import (
    ChannelConfig,
    ConfigTransaction,
    config_signing_bytes,
)
from consortia.ledger.encoding import MalformedError, decode_canonical
from consortia.ledger.transaction import ENVELOPE_CONFIG, Envelope
from consortia.policy import Policy, format_policy, majority_policy, parse_policy


class ConfigError(ValueError):
    """A channel configuration that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class ChannelRules:
    """What a peer needs from the channel configuration to validate transactions and blocks."""

    config: ChannelConfig
    members: Membership
    orderers: Membership
    lifecycle_policy: Policy
    read_scope: tuple[ScopeEntry, ...] = ()

    @property
    def name(self) -> str:
        """The channel name."""
        return self.config.name

    @property
    def lifecycle_policy_text(self) -> str:
        """The lifecycle policy in canonical text."""
        return format_policy(self.lifecycle_policy)


def lifecycle_policy(config: ChannelConfig) -> Policy:
    """The channel's lifecycle endorsement policy ('MAJORITY' means a majority of the member orgs' peers)."""
    if config.lifecycle_policy.strip().upper() == "MAJORITY":
        return majority_policy(list(config.org_ids()), "peer")
    return parse_policy(config.lifecycle_policy)


def rules_from_config(config: ChannelConfig) -> ChannelRules:
    """Build the validation rules of a channel configuration."""
    try:
        members = Membership(
            {org.msp_id: org.ca_certificates for org in config.organisations},
            revocation_lists={org.msp_id: org.revocation_lists for org in config.organisations},
        )
        orderers = Membership(
            {org.msp_id: org.ca_certificates for org in config.orderer.organisations},
            revocation_lists={org.msp_id: org.revocation_lists for org in config.orderer.organisations},
        )
        policy = lifecycle_policy(config)
        scope = read_scope(config.readers, config.org_ids())
    except ValueError as exc:
        raise ConfigError(f"channel {config.name!r}: {exc}") from None
    if not config.organisations:
        raise ConfigError(f"channel {config.name!r} has no organisations")
    return ChannelRules(config, members, orderers, policy, scope)


def read_genesis(block: Block) -> tuple[ChannelConfig, ConfigTransaction]:
    """Extract and check the configuration transaction of a genesis block."""
    if block.header.number != 0 or len(block.transactions) != 1:
        raise ConfigError("a genesis block is block 0 with exactly one configuration transaction")
    try:
        envelope = decode_canonical(block.transactions[0], Envelope)
        if envelope.kind != ENVELOPE_CONFIG:
            raise ConfigError("block 0 does not hold a configuration transaction")
        transaction = decode_canonical(envelope.payload, ConfigTransaction)
        config = decode_canonical(transaction.config, ChannelConfig)
    except MalformedError as exc:
        raise ConfigError(f"genesis block: {exc}") from None
    if config.name != block.header.channel:
        raise ConfigError(f"genesis block of {block.header.channel!r} configures {config.name!r}")
    return config, transaction


def check_config_signatures(config: ChannelConfig, transaction: ConfigTransaction) -> None:
    """Require a valid signature by an admin of every member organisation on the configuration."""
    rules = rules_from_config(config)
    signed: set[str] = set()
    message = config_signing_bytes(transaction.config)
    for signature in transaction.signatures:
        try:
            info = rules.members.validate(signature.signer, at_ms=config.created_ms, kinds={Kind.ADMIN})
        except MembershipError as exc:
            raise ConfigError(f"configuration signer: {exc.message}") from None
        if not verify_one(info.public_key, message, signature.signature):
            raise ConfigError(f"configuration signature of {info.describe()} does not verify")
        signed.add(info.org)
    missing = [org for org in config.org_ids() if org not in signed]
    if missing:
        raise ConfigError(f"configuration of {config.name!r} lacks the signature of an admin of {', '.join(missing)}")
