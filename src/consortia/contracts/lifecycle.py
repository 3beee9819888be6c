"""The contract lifecycle: a contract runs on a channel only after a majority of its organisations agree.

As in Hyperledger Fabric's ``_lifecycle``, each organisation's admin *approves* a definition — contract name,
version, sequence number, the SHA-256 of the contract's source, its endorsement policy and its private data
collections — and once a majority of the channel's organisations have approved the very same definition, any
admin may *commit* it. Validation then takes every contract's endorsement policy from the committed definition,
so no single organisation can change the rules, and every peer knows which code it must run.

The lifecycle is itself a contract, living in the ``_lifecycle`` namespace, endorsed under the channel's
lifecycle policy (a majority of the organisations' peers by default).
"""

from __future__ import annotations

from typing import Any

import msgspec

from consortia.contracts.collections_config import CollectionConfig
from consortia.contracts.context import Context
from consortia.contracts.contract import Contract, ContractError, evaluate, submit
from consortia.ledger.encoding import canonical_json, parse_json

LIFECYCLE = "_lifecycle"


class ContractDefinition(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An approved or committed contract definition."""

    name: str
    version: str
    sequence: int
    source_hash: str
    policy: str
    collections: tuple[CollectionConfig, ...] = ()

    def collection(self, name: str) -> CollectionConfig | None:
        """The collection called ``name``, if defined."""
        return next((c for c in self.collections if c.name == name), None)


def definition_key(name: str) -> str:
    """State key of a committed definition."""
    return f"definition/{name}"


def approval_key(name: str, sequence: int, org: str) -> str:
    """State key of an organisation's approval."""
    return f"approval/{name}/{sequence:010d}/{org}"


def definition_to_json(definition: ContractDefinition) -> Any:
    """The JSON form of a definition, exactly as the state stores it."""
    return parse_json(canonical_json(definition))


def definition_from_json(value: Any) -> ContractDefinition:
    """Decode a stored definition."""
    return msgspec.convert(value, ContractDefinition)


def _collections(value: Any, channel_orgs: tuple[str, ...]) -> tuple[CollectionConfig, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ContractError("collections must be a list of {name, members, blocks_to_live, ...}")
    result = []
    for item in value:
        try:
            config = msgspec.convert(item, CollectionConfig) if not isinstance(item, CollectionConfig) else item
        except msgspec.ValidationError as exc:
            raise ContractError(f"collection {item!r}: {exc}") from None
        if not config.name or not config.members:
            raise ContractError("a collection needs a name and at least one member")
        unknown = [m for m in config.members if m not in channel_orgs]
        if unknown:
            raise ContractError(f"collection {config.name!r}: {', '.join(unknown)} not on this channel")
        if config.blocks_to_live < 0:
            raise ContractError(f"collection {config.name!r}: blocks_to_live must be ≥ 0")
        result.append(config)
    names = [c.name for c in result]
    if len(set(names)) != len(names):
        raise ContractError("collection names must be unique")
    return tuple(result)


class Lifecycle(Contract):
    """The system contract that approves and commits contract definitions."""

    name = LIFECYCLE
    version = "1"

    def _definition(
        self,
        ctx: Context,
        action: str,
        name: str,
        version: str,
        sequence: int,
        source_hash: str,
        policy: str,
        collections: Any,
    ) -> ContractDefinition:
        """Check the caller and a definition's fields, and that ``sequence`` is the next one."""
        from consortia.policy import PolicySyntaxError, parse_policy

        if ctx.caller.kind != "admin":
            raise ContractError(
                f"only an organisation admin may change contract definitions ({ctx.caller.id} is a {ctx.caller.kind})",
                code="FORBIDDEN",
            )
        if not name or name.startswith("_"):
            raise ContractError("contract names must be non-empty and must not start with '_'")
        if not isinstance(sequence, int) or sequence < 1:
            raise ContractError("sequence must be a positive integer")
        if len(source_hash) != 64 or any(c not in "0123456789abcdef" for c in source_hash):
            raise ContractError("source_hash must be the 64-hex-digit SHA-256 of the contract source")
        try:
            parse_policy(policy)
        except PolicySyntaxError as exc:
            raise ContractError(f"endorsement policy: {exc}") from None
        current = ctx.get_state(definition_key(name))
        expected = 1 if current is None else current["sequence"] + 1
        if sequence != expected:
            raise ContractError(
                f"contract {name!r} is at sequence {expected - 1}; {action} sequence {expected}", code="CONFLICT"
            )
        channel_orgs = tuple(ctx.channel_orgs)
        return ContractDefinition(name, version, sequence, source_hash, policy, _collections(collections, channel_orgs))

    @submit
    def approve(
        self,
        ctx: Context,
        name: str,
        version: str,
        sequence: int,
        source_hash: str,
        policy: str,
        collections: list | None,
    ) -> dict:
        """Record the caller's organisation's approval of a contract definition."""
        definition = self._definition(ctx, "approve", name, version, sequence, source_hash, policy, collections)
        ctx.put_state(approval_key(name, sequence, ctx.caller.org), definition_to_json(definition))
        ctx.set_event("ContractApproved", {"name": name, "sequence": sequence, "org": ctx.caller.org})
        return {"approved": name, "sequence": sequence, "org": ctx.caller.org}

    @submit
    def commit(
        self,
        ctx: Context,
        name: str,
        version: str,
        sequence: int,
        source_hash: str,
        policy: str,
        collections: list | None,
    ) -> dict:
        """Commit a definition that a majority of the channel's organisations approved."""
        definition = self._definition(ctx, "commit", name, version, sequence, source_hash, policy, collections)
        wanted = definition_to_json(definition)
        approved = [org for org in ctx.channel_orgs if ctx.get_state(approval_key(name, sequence, org)) == wanted]
        needed = len(ctx.channel_orgs) // 2 + 1
        if len(approved) < needed:
            raise ContractError(
                f"{needed} of {len(ctx.channel_orgs)} organisations must approve this exact definition of "
                f"{name!r} (sequence {sequence}); approved so far: {', '.join(approved) or 'none'}",
                code="CONFLICT",
            )
        ctx.put_state(definition_key(name), wanted)
        ctx.set_event("ContractCommitted", {"name": name, "version": version, "sequence": sequence})
        return {"committed": name, "version": version, "sequence": sequence, "approved_by": approved}

    @evaluate
    def definition(self, ctx: Context, name: str) -> dict | None:
        """The committed definition of a contract, or null."""
        return ctx.get_state(definition_key(name))

    @evaluate
    def definitions(self, ctx: Context) -> list:
        """All committed definitions."""
        return [value for _, value in ctx.get_prefix("definition/")]
