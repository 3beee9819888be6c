"""Endorsement: simulating a proposal against committed state and signing what it would do.

An endorsing peer checks the signed proposal (well formed, creator a member, signature valid, transaction id
derived from nonce and creator, transient data matching its hash, not already committed), loads the contract the
channel committed, runs the function under the determinism guard inside one read snapshot, and signs the
resulting :class:`ResponsePayload`. Nothing is written: the read-write set is a promise that validation will
check once the transaction is ordered. Private writes leave the peer only towards member organisations' peers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consortia.contracts.context import Caller, Context
from consortia.contracts.contract import ContractError, NondeterminismError, bind_arguments
from consortia.contracts.lifecycle import LIFECYCLE, ContractDefinition, Lifecycle
from consortia.contracts.registry import ContractPackage
from consortia.contracts.sandbox import deterministic
from consortia.identity import CertInfo, Kind, MembershipError
from consortia.identity.batch import verify_one
from consortia.ledger.encoding import MalformedError, canonical_json, parse_json
from consortia.ledger.rwset import PrivateWrites, RWSet
from consortia.ledger.transaction import (
    Proposal,
    Response,
    ResponsePayload,
    compute_tx_id,
    open_signed_proposal,
    proposal_hash,
    transient_hash,
)

if TYPE_CHECKING:
    from consortia.peer.channel import PeerChannel

log = logging.getLogger(__name__)

_CLIENT_KINDS = frozenset({Kind.CLIENT, Kind.ADMIN})
_LIFECYCLE_PACKAGE = ContractPackage(LIFECYCLE, "1", "consortia.contracts.lifecycle:Lifecycle", "", Lifecycle)
_LIFECYCLE_INSTANCE = Lifecycle()


class EndorsementError(Exception):
    """A proposal this peer will not endorse; ``code`` classifies why, the message explains.

    When the contract itself refused (``code`` is ``CONTRACT_ERROR``), ``contract_code`` is the contract's own
    code (``FORBIDDEN``, ``NOT_FOUND``, ``CONFLICT``, ``INVALID``…, see :class:`~consortia.contracts.ContractCode`).
    """

    def __init__(self, code: str, message: str, contract_code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.contract_code = contract_code


@dataclass(frozen=True)
class Simulation:
    """The result of simulating a proposal."""

    proposal: Proposal
    proposal_bytes: bytes
    creator: CertInfo
    payload: ResponsePayload
    private: list[PrivateWrites]
    result: Any


@dataclass(frozen=True)
class CheckedProposal:
    """A signed proposal that passed the checks: the proposal, its signed bytes, and who made it."""

    proposal: Proposal
    proposal_bytes: bytes
    creator: CertInfo


def check_proposal(channel: PeerChannel, signed: bytes, transient: Mapping[str, bytes] | None) -> CheckedProposal:
    """Decode and authenticate a signed proposal; raise EndorsementError naming the problem."""
    try:
        opened = open_signed_proposal(signed)
    except MalformedError as exc:
        raise EndorsementError("BAD_PROPOSAL", str(exc)) from None
    envelope, proposal = opened.signed, opened.proposal
    if proposal.channel != channel.name:
        raise EndorsementError("WRONG_CHANNEL", f"proposal is for channel {proposal.channel!r}")
    if compute_tx_id(proposal.nonce, proposal.creator) != proposal.tx_id:
        raise EndorsementError("BAD_TXID", "transaction id is not SHA-256(nonce ‖ creator)")
    try:
        creator = channel.rules.members.validate(proposal.creator, at_ms=proposal.timestamp_ms, kinds=_CLIENT_KINDS)
    except MembershipError as exc:
        # A revoked certificate is named as such, so its holder (and their admin) know what happened.
        raise EndorsementError(
            exc.code if exc.code == exc.REVOKED_CERTIFICATE else "NOT_A_MEMBER", exc.message
        ) from None
    if not verify_one(creator.public_key, envelope.proposal, envelope.signature):
        raise EndorsementError("BAD_SIGNATURE", "the creator's signature over the proposal does not verify")
    if transient_hash(dict(transient or {})) != proposal.transient_hash:
        raise EndorsementError("BAD_TRANSIENT", "transient data does not match the hash in the proposal")
    return CheckedProposal(proposal, envelope.proposal, creator)


def _package(channel: PeerChannel, name: str) -> tuple[ContractPackage, ContractDefinition]:
    definition = channel.definition(name)
    if definition is None:
        raise EndorsementError("UNKNOWN_CONTRACT", f"contract {name!r} is not committed on channel {channel.name!r}")
    if name == LIFECYCLE:
        return _LIFECYCLE_PACKAGE, definition
    package = channel.registry.by_hash(definition.source_hash)
    if package is None:
        raise EndorsementError(
            "NOT_INSTALLED",
            f"this peer has no installed code for {name!r} with source hash {definition.source_hash[:16]}…",
        )
    return package, definition


def simulate(
    channel: PeerChannel, signed: bytes, transient: Mapping[str, bytes] | None, *, read_only: bool = False
) -> Simulation:
    """Run a proposal's function against committed state; return what it read, wrote and answered."""
    checked = check_proposal(channel, signed, transient)
    proposal, proposal_bytes, creator = checked.proposal, checked.proposal_bytes, checked.creator
    if not read_only and channel.ledger.state.tx_position(proposal.tx_id) is not None:
        raise EndorsementError("DUPLICATE_TXID", f"transaction {proposal.tx_id} was already committed")
    package, definition = _package(channel, proposal.contract)
    contract = _LIFECYCLE_INSTANCE if package is _LIFECYCLE_PACKAGE else channel.registry.instance(package)
    spec = package.contract_class.functions().get(proposal.function)
    if spec is None:
        names = ", ".join(sorted(package.contract_class.functions()))
        raise EndorsementError(
            "UNKNOWN_FUNCTION",
            f"contract {proposal.contract!r} has no function {proposal.function!r} (functions: {names})",
        )
    try:
        args = [parse_json(arg) for arg in proposal.args]
    except ValueError as exc:
        raise EndorsementError("BAD_ARGUMENTS", f"arguments must be JSON values: {exc}") from None
    caller = Caller(creator.org, creator.name, creator.kind.value, creator.attributes, creator.cert_hash)
    state = channel.ledger.state
    with state.snapshot():
        ctx = Context(
            channel=channel.name,
            namespace=proposal.contract,
            tx_id=proposal.tx_id,
            timestamp_ms=proposal.timestamp_ms,
            caller=caller,
            state=state,
            peer_org=channel.org,
            collections={c.name: c for c in definition.collections},
            transient=transient,
            read_only=read_only,
            channel_orgs=channel.rules.config.org_ids(),
        )
        try:
            bind_arguments(spec, args)
            with deterministic(proposal.contract):
                result = getattr(contract, spec.name)(ctx, *args)
            payload_bytes = canonical_json(result)
        except NondeterminismError as exc:
            raise EndorsementError("NONDETERMINISTIC_CONTRACT", str(exc)) from None
        except ContractError as exc:
            raise EndorsementError("CONTRACT_ERROR", str(exc), exc.code.value) from None
        except ValueError as exc:
            raise EndorsementError("CONTRACT_ERROR", f"result is not JSON: {exc}") from None
        except Exception as exc:  # a bug in the contract: report it, never crash the peer
            log.exception("contract %s.%s raised", proposal.contract, proposal.function)
            raise EndorsementError(
                "CONTRACT_FAILED",
                f"contract {proposal.contract!r} failed in {proposal.function}: {type(exc).__name__}: {exc}",
            ) from None
        payload = ResponsePayload(
            proposal_hash=proposal_hash(proposal_bytes),
            contract=proposal.contract,
            version=definition.version,
            rwset=RWSet((ctx.rwset(),)),
            events=ctx.events(),
            response=Response(200, "", payload_bytes),
        )
    return Simulation(proposal, proposal_bytes, creator, payload, ctx.private_writes(), result)
