"""The REST API: channels, blocks, transactions, proofs, contracts and live events.

Every route answers JSON (errors as RFC 9457 problem details) and asks :class:`Backend` whether the caller may
do what it asks. Reads need a member (or a reader role); writes need a member organisation's client or admin;
public contract functions may be evaluated by anyone.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from consortia.client.errors import GatewayError
from consortia.client.proposal import PreparedProposal
from consortia.client.sdk import endorsement_failed
from consortia.gateway.server import explorer
from consortia.gateway.server.auth import Principal
from consortia.gateway.server.backend import Backend
from consortia.gateway.server.limits import ascii_int
from consortia.gateway.server.problems import PROBLEM_RESPONSES, Problem, problem_for
from consortia.gateway.server.streams import block_event_stream, stream_key
from consortia.gateway.server.views import block_view, config_history_view, transaction_view
from consortia.ledger.block import Block, header_hash
from consortia.ledger.codes import code_name
from consortia.ledger.encoding import MalformedError, encode
from consortia.ledger.proof import build_consistency, header_json
from consortia.ledger.transaction import open_envelope, open_signed_proposal
from consortia.peer.endorser import EndorsementError
from consortia.peer.events import BlockEvent

log = logging.getLogger(__name__)

MAX_PAGE = 100
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class ContractCall(BaseModel):
    """A contract call: by a logged-in person (function and args) or a program (a signed proposal)."""

    function: str | None = Field(None, max_length=128, description="Function name (people and public calls).")
    args: list[Any] = Field(default_factory=list, max_length=64, description="JSON arguments.")
    transient: dict[str, str] = Field(default_factory=dict, description="Transient data, base64 values.")
    signed_proposal: str | None = Field(None, description="Base64 signed proposal (programs).")
    peer_org: str | None = Field(
        None,
        max_length=64,
        description="Evaluate on this member organisation's peer (default: the caller's own, if a member).",
    )


class SubmitCall(ContractCall):
    """A submission: function and args (people), or a signed envelope (programs, after /endorse)."""

    envelope: str | None = Field(None, description="Base64 signed envelope (programs).")
    timeout_s: float = Field(30.0, ge=0.1, le=120.0, description="How long to wait for the commit.")


class EndorseCall(BaseModel):
    """A program's signed proposal to be endorsed."""

    signed_proposal: str = Field(..., description="Base64 signed proposal.")
    transient: dict[str, str] = Field(default_factory=dict, description="Transient data, base64 values.")


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        raise Problem(400, f"{what} is not valid base64", code="BAD_BASE64") from None


def _transient(values: dict[str, str]) -> dict[str, bytes]:
    return {key: _b64(value, f"transient[{key!r}]") for key, value in values.items()}


def build_router(backend: Backend, get_principal: Any, metrics: Any, tamper_proofs: bool) -> APIRouter:
    """The /api routes."""
    router = APIRouter(prefix="/api", responses=PROBLEM_RESPONSES)
    principal_dep = Depends(get_principal)

    def _channel_summary(name: str, principal: Principal | None) -> dict[str, Any]:
        access = backend.access(name)
        peer_channel = backend.peer_channel(name, principal)
        header = peer_channel.ledger.last_header
        return {
            "name": name,
            "organisations": list(access.orgs),
            "reader_roles": list(access.readers),
            "height": peer_channel.height,
            "last_header_hash": None if header is None else header_hash(header).hex(),
        }

    @router.get("/channels", summary="Channels the caller may read, with heights")
    def list_channels(principal: Principal | None = principal_dep) -> dict[str, Any]:
        if principal is None:
            raise Problem(401, "log in or sign the request to list channels", code="UNAUTHENTICATED")
        names = [n for n in backend.channel_names() if backend.can_read(principal, n)]
        return {"channels": [_channel_summary(n, principal) for n in names]}

    @router.get("/channels/{channel}", summary="A channel: organisations, height, contracts")
    def get_channel(channel: str, principal: Principal | None = principal_dep) -> dict[str, Any]:
        backend.require_read(principal, channel)
        summary = _channel_summary(channel, principal)
        peer_channel = backend.peer_channel(channel, principal)
        rows = peer_channel.ledger.state.range("_lifecycle", "definition/", "definition0")
        summary["contracts"] = [json.loads(value.value) for _, value in rows]
        summary["orderer_organisations"] = [o.msp_id for o in peer_channel.rules.config.orderer.organisations]
        return summary

    @router.get("/channels/{channel}/blocks", summary="Block headers, from a number, ascending")
    def list_blocks(
        channel: str,
        principal: Principal | None = principal_dep,
        start: int | None = Query(None, alias="from", ge=0, description="First block (default: the latest page)."),
        limit: int = Query(20, ge=1, le=MAX_PAGE),
    ) -> dict[str, Any]:
        backend.require_read(principal, channel)
        peer_channel = backend.peer_channel(channel, principal)
        height = peer_channel.height
        first = max(0, height - limit) if start is None else start
        blocks = [
            block_view(peer_channel.ledger.committed_block(number), with_transactions=False)
            for number in range(first, min(height, first + limit))
        ]
        return {"channel": channel, "height": height, "blocks": blocks}

    @router.get("/channels/{channel}/blocks/{number}", summary="A block with its transactions and codes")
    def get_block(channel: str, number: int, principal: Principal | None = principal_dep) -> dict[str, Any]:
        backend.require_read(principal, channel)
        peer_channel = backend.peer_channel(channel, principal)
        if not 0 <= number < peer_channel.height:
            raise Problem(
                404, f"channel {channel!r} has no block {number} (height {peer_channel.height})", code="UNKNOWN_BLOCK"
            )
        return block_view(peer_channel.ledger.committed_block(number))

    @router.get("/channels/{channel}/transactions/{tx_id}", summary="A transaction in full")
    def get_transaction(channel: str, tx_id: str, principal: Principal | None = principal_dep) -> dict[str, Any]:
        return transaction_view(explorer.locate(backend, principal, channel, tx_id).transaction)

    @router.get(
        "/channels/{channel}/transactions/{tx_id}/proof",
        summary="Inclusion proofs (block and history tree), signed header, orderer certificates",
    )
    def get_proof(channel: str, tx_id: str, principal: Principal | None = principal_dep) -> dict[str, Any]:
        backend.require_read(principal, channel)
        return explorer.transaction_proof(backend.peer_channel(channel, principal), tx_id, tamper=tamper_proofs)

    @router.get("/channels/{channel}/consistency", summary="Consistency proof between two blocks' history trees")
    def get_consistency(
        channel: str,
        principal: Principal | None = principal_dep,
        start: int = Query(..., alias="from", ge=0),
        end: int = Query(..., alias="to", ge=0),
    ) -> dict[str, Any]:
        backend.require_read(principal, channel)
        peer_channel = backend.peer_channel(channel, principal)
        height = peer_channel.height
        if not (start <= end < height):
            raise Problem(400, f"need 0 ≤ from ≤ to < height ({height})", code="BAD_RANGE")
        first, last = peer_channel.ledger.block(start), peer_channel.ledger.block(end)
        proof = build_consistency(peer_channel.ledger.history, first.header.history_size, last.header.history_size)

        def signed(block: Block) -> dict[str, Any]:
            return {
                "header": header_json(block.header),
                "header_bytes": base64.b64encode(encode(block.header)).decode(),
                "signature": block.signature.hex(),
                "orderer_certificate": base64.b64encode(block.orderer).decode(),
            }

        return {"channel": channel, "from": signed(first), "to": signed(last), "proof": proof}

    @router.get(
        "/channels/{channel}/config/history",
        summary="The channel's configuration versions: members, CAs, revocations, signers, blocks in force",
    )
    def config_history(channel: str, principal: Principal | None = principal_dep) -> dict[str, Any]:
        return config_history_view(explorer.channel_config_history(backend, principal, channel))

    @router.get("/search", summary="Find a transaction id, block number or state key")
    def search(
        q: str = Query(..., min_length=1, max_length=256), principal: Principal | None = principal_dep
    ) -> dict[str, Any]:
        if principal is None:
            raise Problem(401, "log in or sign the request to search", code="UNAUTHENTICATED")
        return {"query": q, "results": [hit.as_json() for hit in explorer.search(backend, principal, q)]}

    # -- contracts -------------------------------------------------------------------------------------------

    def _check_names(channel: str, contract: str) -> None:
        if not re.match(_NAME, contract) and contract != "_lifecycle":
            raise Problem(400, f"invalid contract name {contract!r}", code="BAD_NAME")
        backend.access(channel)

    @router.post("/channels/{channel}/contracts/{contract}/evaluate", summary="Evaluate a query function")
    def evaluate(
        channel: str, contract: str, call: ContractCall, principal: Principal | None = principal_dep
    ) -> dict[str, Any]:
        _check_names(channel, contract)
        transient = _transient(call.transient)
        if call.signed_proposal is not None:
            if principal is None or principal.via != "signature":
                raise Problem(401, "a signed proposal must come in a signed request", code="UNAUTHENTICATED")
            # Contract queries are for members (the read scope governs the raw ledger, not contracts): the contract
            # itself decides what the caller may see.
            access = backend.require_write(principal, channel)
            signed = _b64(call.signed_proposal, "signed_proposal")
            org = call.peer_org or principal.org
            if org not in access.orgs:
                raise Problem(400, f"peer_org {org!r} is not a member of channel {channel!r}", code="BAD_PEER_ORG")
            try:
                return {"result": backend.network.peers[org].channel(channel).evaluate(signed, transient)}
            except EndorsementError as exc:
                raise problem_for(endorsement_failed(exc)) from None
        if not call.function:
            raise Problem(400, "give a function (and args), or a signed_proposal", code="BAD_CALL")
        access = backend.access(channel)
        if principal is not None and principal.identity is not None and principal.org in access.orgs:
            identity = principal.identity  # a member person queries as themselves
        elif backend.is_public(channel, contract, call.function):
            identity = backend.public_identity(channel)  # anyone may call a public function
        elif principal is None:
            raise Problem(401, f"{contract}.{call.function} is not public: log in to call it", code="UNAUTHENTICATED")
        elif principal.identity is None:
            raise Problem(
                400,
                "programs send a signed_proposal (the server holds no key for them)",
                code="SIGNED_PROPOSAL_REQUIRED",
            )
        else:
            backend.require_read(principal, channel)
            # A reader role opens the ledger (blocks, transactions, proofs), not contract queries, which run as a
            # member of the channel.
            raise Problem(
                403,
                f"{principal.org} is not a member of channel {channel!r}: contract queries run as a member",
                code="FORBIDDEN",
            )
        contract_handle = backend.gateway(identity).network(channel).contract(contract)
        try:
            return {"result": contract_handle.evaluate(call.function, *call.args, transient=transient)}
        except GatewayError as exc:
            raise problem_for(exc) from None

    @router.post(
        "/channels/{channel}/contracts/{contract}/endorse",
        summary="Endorse a program's signed proposal; returns the transaction for it to sign",
    )
    def endorse(
        channel: str, contract: str, call: EndorseCall, principal: Principal | None = principal_dep
    ) -> dict[str, Any]:
        backend.require_write(principal, channel)  # 401 before anything is looked up
        _check_names(channel, contract)
        signed = _b64(call.signed_proposal, "signed_proposal")
        try:
            proposal = open_signed_proposal(signed).proposal
        except MalformedError as exc:
            raise Problem(400, f"signed_proposal: {exc}", code="BAD_PROPOSAL") from None
        if proposal.channel != channel or proposal.contract != contract:
            raise Problem(400, "the proposal names another channel or contract", code="BAD_PROPOSAL")
        handle = backend.gateway(backend.network.identity(principal.org, "public")).network(channel).contract(contract)
        try:
            transaction = handle.endorse(PreparedProposal(signed, proposal, _transient(call.transient)))
        except GatewayError as exc:
            raise problem_for(exc) from None
        return {"tx_id": proposal.tx_id, "transaction": base64.b64encode(transaction).decode()}

    @router.post("/channels/{channel}/contracts/{contract}/submit", summary="Submit a transaction and wait for commit")
    def submit(
        channel: str, contract: str, call: SubmitCall, principal: Principal | None = principal_dep
    ) -> dict[str, Any]:
        backend.require_write(principal, channel)  # 401 before anything is looked up
        _check_names(channel, contract)
        assert principal is not None
        started = time.perf_counter()
        try:
            if call.envelope is not None:
                envelope_bytes = _b64(call.envelope, "envelope")
                try:
                    proposal = open_envelope(envelope_bytes).proposal
                except MalformedError as exc:
                    raise Problem(400, f"envelope: {exc}", code="BAD_ENVELOPE") from None
                if proposal.channel != channel or proposal.contract != contract:
                    raise Problem(400, "the envelope names another channel or contract", code="BAD_ENVELOPE")
                handle = backend.gateway(backend.network.identity(principal.org, "public")).network(channel)
                future = handle.contract(contract).order(envelope_bytes)
            else:
                if principal.identity is None:
                    raise Problem(400, "programs submit a signed envelope (see /endorse)", code="ENVELOPE_REQUIRED")
                if not call.function:
                    raise Problem(400, "give the function to call", code="BAD_CALL")
                handle = backend.gateway(principal.identity).network(channel).contract(contract)
                future = handle.submit_async(
                    call.function, *call.args, transient=_transient(call.transient), timeout=call.timeout_s
                )
            try:
                result = future.result(call.timeout_s)
            except TimeoutError:
                raise Problem(
                    504, f"not committed within {call.timeout_s:g} s (it may still commit)", code="COMMIT_TIMEOUT"
                ) from None
        except GatewayError as exc:
            raise problem_for(exc) from None
        metrics.latency.labels(channel).observe(time.perf_counter() - started)
        return {"tx_id": result.tx_id, "block": result.block, "validation_code": result.code, "result": result.result}

    # -- events ----------------------------------------------------------------------------------------------

    @router.get(
        "/channels/{channel}/events",
        summary="Server-sent events: blocks and contract events",
        response_class=StreamingResponse,
    )
    def events(
        channel: str,
        request: Request,
        principal: Principal | None = principal_dep,
        start: int | None = Query(None, alias="from", ge=0, description="First block (default: next block)."),
    ) -> Response:
        backend.require_read(principal, channel)
        assert principal is not None
        peer_channel = backend.peer_channel(channel, principal)
        last_id = ascii_int(request.headers.get("last-event-id"))
        if start is None:
            start = last_id + 1 if last_id is not None else peer_channel.height
        slot = request.app.state.streams.acquire(stream_key(request, principal))

        async def render(event: BlockEvent) -> AsyncIterator[str]:
            payload = {
                "channel": channel,
                "number": event.number,
                "header_hash": event.header_hash.hex(),
                "timestamp_ms": event.timestamp_ms,
                "transactions": [
                    {"tx_id": o.tx_id, "code": code_name(o.code), "contract": o.contract, "function": o.function}
                    for o in event.transactions
                ],
            }
            yield f"id: {event.number}\nevent: block\ndata: {json.dumps(payload)}\n\n"
            for outcome in event.transactions:
                for contract_event in outcome.events:
                    data = {
                        "tx_id": outcome.tx_id,
                        "contract": outcome.contract,
                        "name": contract_event.name,
                        "payload": json.loads(contract_event.payload or b"null"),
                    }
                    yield f"id: {event.number}\nevent: contract\ndata: {json.dumps(data)}\n\n"

        return block_event_stream(request, peer_channel, start, render, slot)

    return router
