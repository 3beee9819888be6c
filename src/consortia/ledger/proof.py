"""Transaction proofs: everything an outsider needs to check that a transaction is in the ledger.

A proof document names a transaction and carries:

* the envelope itself (so its leaf hash can be recomputed);
* its inclusion proof in its block's Merkle tree, up to the header's ``data_hash``;
* its inclusion proof in the ledger-wide history tree, up to the header's ``history_root``;
* the block header (canonical bytes and fields), the orderer's signature and certificate, and the CA
  certificates of the channel's ordering organisations.

:func:`build_transaction_proof` builds one for a transaction id from a channel's ledger; :func:`build_proof`
from a block and a position.

:func:`check_proof` verifies such a document step by step without trusting whoever produced it: leaf hash,
both inclusion proofs (RFC 9162), the header's fields against its bytes, the orderer certificate against a
trusted orderer CA, and the Ed25519 signature over the header. A consistency proof between two history-tree sizes
lets the same outsider check that a later header extends an earlier one it already trusts.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consortia.identity import Kind, Membership, MembershipError
from consortia.identity.signing import verify_signature
from consortia.ledger import merkle
from consortia.ledger.block import Block, BlockHeader, header_hash, header_signing_bytes, transaction_leaves
from consortia.ledger.codes import code_name
from consortia.ledger.encoding import MalformedError, decode_canonical, encode
from consortia.ledger.history import HistoryTree
from consortia.ledger.ledger import ChannelLedger

PROOF_FORMAT = "consortia-proof/v1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def header_json(header: BlockHeader) -> dict[str, Any]:
    """A block header as JSON (hashes in hex)."""
    return {
        "channel": header.channel,
        "number": header.number,
        "previous_hash": header.previous_hash.hex(),
        "data_hash": header.data_hash.hex(),
        "history_root": header.history_root.hex(),
        "history_size": header.history_size,
        "timestamp_ms": header.timestamp_ms,
    }


class UnknownTransaction(LookupError):
    """The ledger holds no transaction with the id asked for."""


def build_proof(
    block: Block, index: int, history: HistoryTree, orderer_cas: Mapping[str, bytes], code: str
) -> dict[str, Any]:
    """Build the proof document of transaction ``index`` of ``block``."""
    header = block.header
    leaves = transaction_leaves(block.transactions)
    history_index = header.history_size - len(block.transactions) + index
    return {
        "format": PROOF_FORMAT,
        "channel": header.channel,
        "block": header.number,
        "index": index,
        "validation_code": code,
        "envelope": _b64(block.transactions[index]),
        "leaf_hash": leaves[index].hex(),
        "block_proof": {
            "tree_size": len(leaves),
            "index": index,
            "root": header.data_hash.hex(),
            "path": [h.hex() for h in merkle.inclusion_proof(leaves, index)],
        },
        "history_proof": {
            "tree_size": header.history_size,
            "index": history_index,
            "root": header.history_root.hex(),
            "path": [h.hex() for h in history.inclusion_proof(history_index, header.history_size)],
        },
        "header": header_json(header),
        "header_bytes": _b64(encode(header)),
        "header_hash": header_hash(header).hex(),
        "signed_bytes": _b64(header_signing_bytes(header)),
        "signature": block.signature.hex(),
        "orderer_certificate": _b64(block.orderer),
        "orderer_cas": {org: ca.decode() if ca.startswith(b"-----") else _b64(ca) for org, ca in orderer_cas.items()},
    }


def build_transaction_proof(
    ledger: ChannelLedger, tx_id: str, orderer_cas: Mapping[str, bytes], history: HistoryTree | None = None
) -> dict[str, Any]:
    """The proof document of the committed transaction ``tx_id`` (UnknownTransaction if the ledger has none).

    ``history`` is the channel's history tree when ``ledger`` is open read-only (which does not open it).
    """
    found = ledger.find_transaction(tx_id)
    if found is None:
        raise UnknownTransaction(f"transaction {tx_id} is not on channel {ledger.directory.name!r}")
    tree = history if history is not None else ledger.history
    if tree is None:
        raise ValueError("the ledger is open read-only: pass its history tree")
    document = build_proof(found.block, found.index, tree, orderer_cas, code_name(found.code))
    document["tx_id"] = tx_id
    return document


def corrupt_in_transit(document: dict[str, Any]) -> None:
    """Flip one bit of a proof document's history path (the servers' test switch for the verifiers' failure path)."""
    path = document["history_proof"]["path"]
    if path:
        first = bytes.fromhex(path[0])
        path[0] = (bytes([first[0] ^ 1]) + first[1:]).hex()
    else:
        document["header"]["history_size"] += 1


def build_consistency(history: HistoryTree, size1: int, size2: int) -> dict[str, Any]:
    """A consistency proof between two sizes of the history tree, with both roots."""
    return {
        "size1": size1,
        "size2": size2,
        "root1": history.root(size1).hex(),
        "root2": history.root(size2).hex(),
        "path": [h.hex() for h in history.consistency_proof(size1, size2)],
    }


@dataclass(frozen=True)
class Step:
    """One check of a proof and whether it held."""

    name: str
    ok: bool
    detail: str


def _hex(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a hex string")
    return bytes.fromhex(value)


def check_proof(doc: Any, trusted_orderer_cas: dict[str, bytes] | None = None) -> list[Step]:
    """Verify a proof document step by step; every step must hold (never raises for bad input)."""
    steps: list[Step] = []

    def step(name: str, ok: bool, detail: str = "") -> bool:
        steps.append(Step(name, bool(ok), detail))
        return bool(ok)

    try:
        envelope = base64.b64decode(doc["envelope"], validate=True)
        header_bytes = base64.b64decode(doc["header_bytes"], validate=True)
        header = decode_canonical(header_bytes, BlockHeader)
        leaf = merkle.leaf_hash(envelope)
        block_proof, history_proof = doc["block_proof"], doc["history_proof"]
    except (KeyError, TypeError, ValueError, MalformedError) as exc:
        step("proof document is readable", False, str(exc))
        return steps
    step("proof document is readable", True)
    if not step("leaf hash = SHA-256(0x00 ‖ envelope)", leaf.hex() == doc.get("leaf_hash"), leaf.hex()):
        return steps
    try:
        block_path = [_hex(h) for h in block_proof["path"]]
        history_path = [_hex(h) for h in history_proof["path"]]
    except (KeyError, TypeError, ValueError) as exc:
        step("proof paths are hex", False, str(exc))
        return steps
    step(
        "transaction is in the block (RFC 9162 inclusion up to data_hash)",
        merkle.verify_inclusion(
            leaf, block_proof.get("index"), block_proof.get("tree_size"), block_path, header.data_hash
        ),
        f"index {block_proof.get('index')} of {block_proof.get('tree_size')}",
    )
    step(
        "transaction is in the ledger history (RFC 9162 inclusion up to history_root)",
        merkle.verify_inclusion(
            leaf, history_proof.get("index"), history_proof.get("tree_size"), history_path, header.history_root
        )
        and history_proof.get("tree_size") == header.history_size,
        f"index {history_proof.get('index')} of {history_proof.get('tree_size')}",
    )
    step("header fields match the signed header bytes", doc.get("header") == header_json(header))
    try:
        certificate = base64.b64decode(doc["orderer_certificate"], validate=True)
        cas = trusted_orderer_cas
        if cas is None:
            cas = {
                org: (v.encode() if v.startswith("-----") else base64.b64decode(v))
                for org, v in doc["orderer_cas"].items()
            }
        info = Membership(cas).validate(certificate, at_ms=header.timestamp_ms, kinds={Kind.ORDERER})
        step("orderer certificate issued by a trusted ordering CA", True, f"{info.name} of {info.org}")
    except (KeyError, TypeError, ValueError, MembershipError) as exc:
        step("orderer certificate issued by a trusted ordering CA", False, str(getattr(exc, "message", exc)))
        return steps
    try:
        signature = _hex(doc["signature"])
    except (KeyError, ValueError) as exc:
        step("orderer signature over the header", False, str(exc))
        return steps
    step(
        "orderer signature over the header", verify_signature(info.public_key, header_signing_bytes(header), signature)
    )
    return steps


def proof_holds(steps: list[Step]) -> bool:
    """Whether every step of a proof check held."""
    return bool(steps) and all(s.ok for s in steps)
