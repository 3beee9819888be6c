"""JSON views of ledger data: what the API and the explorer pages show of blocks and transactions.

Private values never appear: a private write is shown as its key hash and salted value hash only. Public values
are the JSON documents contracts stored. A configuration block is marked as such (``config``: the version it
sets, or the code it was refused with), and a channel's configuration history is shown by
:func:`config_history_view`.
"""

from __future__ import annotations

import base64
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from consortia.channel.update import ConfigRefused, is_config_block, read_config_envelope
from consortia.gateway.server.explorer import ConfigHistory
from consortia.identity import CertificateError, parse_certificate
from consortia.ledger.block import header_hash
from consortia.ledger.codes import code_name
from consortia.ledger.config import ChannelConfig
from consortia.ledger.encoding import MalformedError, decode_canonical, parse_json
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


def config_mark(committed: CommittedBlock) -> dict[str, Any] | None:
    """For a configuration block: the version it sets and whether it took effect (its code); None otherwise."""
    block = committed.block
    if not is_config_block(block):
        return None
    code = code_name(committed.code(0))
    version: int | None = None
    with suppress(ConfigRefused, MalformedError):  # a refused update may not even decode: its code says why
        version = decode_canonical(read_config_envelope(block.transactions[0]).config, ChannelConfig).version
    return {"version": version, "code": code, "accepted": code == "VALID"}


def block_view(committed: CommittedBlock, *, with_transactions: bool = True) -> dict[str, Any]:
    """A block: header, hash, signer, configuration mark, and its transactions with validation codes."""
    block, codes = committed.block, committed.codes
    view: dict[str, Any] = {
        "number": block.header.number,
        "header": header_json(block.header),
        "header_hash": header_hash(block.header).hex(),
        "signature": block.signature.hex(),
        "orderer": _who(block.orderer),
        "transaction_count": len(block.transactions),
        "valid_count": sum(1 for c in codes if c == 0),
        "config": config_mark(committed),
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


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def config_history_view(history: ConfigHistory) -> dict[str, Any]:
    """A channel's configuration history: versions (with CA certificates as PEM and revocations), members, CRLs.

    Serial numbers are lowercase hexadecimal strings: they are up to 20 bytes, beyond what a JSON number carries.
    """
    versions = []
    for v in history.versions:
        batch = v.config.orderer.batch
        versions.append(
            {
                "version": v.version,
                "block": v.block,
                "timestamp_ms": v.timestamp_ms,
                "time": _iso(v.timestamp_ms),
                "signers": list(v.signers),
                "changes": list(v.changes),
                "from_block": v.from_block,
                "to_block": v.to_block,
                "organisations": [
                    {
                        "msp_id": org.msp_id,
                        "ca_certificates": list(org.ca_certificates),
                        "revoked": [
                            {"serial": format(r.serial, "x"), "revoked_ms": r.revoked_ms, "revoked": _iso(r.revoked_ms)}
                            for r in org.revoked
                        ],
                        "problem": org.problem,
                    }
                    for org in v.organisations
                ],
                "ordering_organisations": [o.msp_id for o in v.config.orderer.organisations],
                "batch": {
                    "max_transactions": batch.max_transactions,
                    "max_bytes": batch.max_bytes,
                    "timeout_ms": batch.timeout_ms,
                },
                "lifecycle_policy": v.config.lifecycle_policy,
                "modification_policy": v.config.modification_policy,
                "readers": list(v.config.readers),
            }
        )
    return {
        "channel": history.channel,
        "height": history.height,
        "versions": versions,
        "membership": [{"org": s.org, "from_block": s.from_block, "to_block": s.to_block} for s in history.members],
        "revocation_changes": [
            {
                "org": r.org,
                "version": r.version,
                "block": r.block,
                "from_block": r.from_block,
                "revoked": [format(serial, "x") for serial in r.revoked],
            }
            for r in history.revocations
        ],
    }
