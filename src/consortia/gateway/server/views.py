"""JSON views of ledger data: what the API and the explorer pages show of blocks and transactions.

Private values never appear: a private write is shown as its key hash and salted value hash only. Public values
are the JSON documents contracts stored.
"""

from __future__ import annotations

import base64
from typing import Any

from consortia.identity import CertificateError, parse_certificate
from consortia.ledger.block import header_hash
from consortia.ledger.codes import code_name
from consortia.ledger.encoding import MalformedError, parse_json
from consortia.ledger.ledger import CommittedBlock, FoundTransaction
from consortia.ledger.proof import header_json
from consortia.ledger.transaction import ENVELOPE_CONFIG, NotATransaction, open_envelope


def _who(certificate: bytes) -> dict[str, Any]:
    try:
        info = parse_certificate(certificate)
    except CertificateError:
        return {"org": None, "name": None, "kind": None, "role": None}
    return {"org": info.org, "name": info.name, "kind": info.kind.value, "role": info.role()}


def _json_or_text(value: bytes) -> Any:
    try:
        return parse_json(value)
    except ValueError:
        return base64.b64encode(value).decode()


def transaction_summary(envelope_bytes: bytes, index: int, code: int) -> dict[str, Any]:
    """One line of a block's transaction list."""
    base: dict[str, Any] = {"index": index, "validation_code": code_name(code)}
    try:
        proposal = open_envelope(envelope_bytes).proposal
    except NotATransaction as exc:
        if exc.kind == ENVELOPE_CONFIG:
            return {**base, "tx_id": None, "type": "config", "contract": None, "function": None, "creator": None}
        return {**base, "tx_id": None, "type": "malformed", "error": str(exc)}
    except MalformedError as exc:
        return {**base, "tx_id": None, "type": "malformed", "error": str(exc)}
    return {
        **base,
        "tx_id": proposal.tx_id,
        "type": "transaction",
        "contract": proposal.contract,
        "function": proposal.function,
        "creator": _who(proposal.creator),
        "timestamp_ms": proposal.timestamp_ms,
    }


def block_view(committed: CommittedBlock, *, with_transactions: bool = True) -> dict[str, Any]:
    """A block: header, hash, signer, and its transactions with validation codes."""
    block, codes = committed.block, committed.codes
    view: dict[str, Any] = {
        "number": block.header.number,
        "header": header_json(block.header),
        "header_hash": header_hash(block.header).hex(),
        "signature": block.signature.hex(),
        "orderer": _who(block.orderer),
        "transaction_count": len(block.transactions),
        "valid_count": sum(1 for c in codes if c == 0),
    }
    if with_transactions:
        view["transactions"] = [
            transaction_summary(envelope, i, committed.code(i)) for i, envelope in enumerate(block.transactions)
        ]
    return view


def transaction_view(found: FoundTransaction) -> dict[str, Any]:
    """A transaction in full: proposal, endorsements, read-write set, events, validation code."""
    opened = open_envelope(found.envelope)
    block, index, code = found.block, found.index, found.code
    transaction, proposal, payload = opened.transaction, opened.proposal, opened.payload
    namespaces = []
    for ns in payload.rwset.namespaces:
        namespaces.append(
            {
                "namespace": ns.namespace,
                "reads": [
                    {"key": r.key, "version": None if r.version is None else [r.version.block, r.version.tx]}
                    for r in ns.reads
                ],
                "ranges": [
                    {"start": q.start, "end": q.end, "exhausted": q.exhausted, "keys": [r.key for r in q.results]}
                    for q in ns.ranges
                ],
                "writes": [
                    {"key": w.key, "deleted": w.is_delete, "value": None if w.is_delete else _json_or_text(w.value)}
                    for w in ns.writes
                ],
                "key_policies": [{"key": p.key, "policy": p.policy or None} for p in ns.policy_writes],
                "private": [
                    {
                        "collection": c.collection,
                        "reads": [h.key_hash.hex() for h in c.reads],
                        "writes": [
                            {
                                "key_hash": w.key_hash.hex(),
                                "value_hash": w.value_hash.hex() or None,
                                "deleted": w.is_delete,
                                "purged": w.is_purge,
                            }
                            for w in c.writes
                        ],
                    }
                    for c in ns.collections
                ],
            }
        )
    return {
        "tx_id": proposal.tx_id,
        "channel": proposal.channel,
        "block": block.header.number,
        "index": index,
        "validation_code": code_name(code),
        "valid": code == 0,
        "contract": proposal.contract,
        "contract_version": payload.version,
        "function": proposal.function,
        "args": [_json_or_text(arg.encode()) for arg in proposal.args],
        "timestamp_ms": proposal.timestamp_ms,
        "creator": _who(proposal.creator),
        "endorsements": [_who(e.endorser) for e in transaction.endorsements],
        "rwset": namespaces,
        "events": [{"name": e.name, "payload": _json_or_text(e.payload)} for e in payload.events],
        "result": _json_or_text(payload.response.payload),
        "block_time_ms": block.header.timestamp_ms,
    }
