"""Private data: non-member read refused; hash on the ledger matches; purge removes plaintext; verify passes.

The ``network`` fixture commits asset-transfer on ch1 with the collection 'appraisals' of Org1 and Org2; Org3 is on
the channel but not in the collection. Appraisals travel as transient data, only member peers keep the plaintext,
and every peer keeps the salted hash the transaction put on the ledger.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from consortia.client import Contract, EndorsementFailed
from consortia.contracts.collections_config import CollectionConfig
from consortia.contracts.context import key_hash, salted_value_hash
from consortia.ledger.codes import Code
from consortia.ledger.encoding import canonical_json, decode, parse_json
from consortia.ledger.rwset import HashedWrite, Version
from consortia.ledger.statedb import StateDB
from consortia.ledger.transaction import Envelope, ResponsePayload, Transaction
from consortia.network.embedded import EmbeddedNetwork
from consortia.peer.audit import audit_network

CONTRACT = "asset-transfer"
COLLECTION = "appraisals"
ASSET_TRANSFER = "consortia.samples.asset_transfer:AssetTransfer"
TIMEOUT = 20.0


@dataclass(frozen=True)
class Appraisal:
    """A committed appraisal: where it landed and the plaintext it carried."""

    channel: str
    asset_id: str
    tx_id: str
    block: int
    index: int
    marker: bytes

    @property
    def key(self) -> str:
        """The private key the contract writes."""
        return f"asset:{self.asset_id}"

    def note(self, by: str) -> dict[str, str]:
        """The JSON value the contract stores for this appraisal."""
        return {"asset": self.asset_id, "appraisal": self.marker.decode(), "by": by}


def caught_up(network: EmbeddedNetwork, channel: str) -> None:
    """Wait until every peer of ``channel`` has committed every block the orderer cut."""
    network.wait_for_height(channel, network.orderer.height(channel), timeout=TIMEOUT)


def contract(network: EmbeddedNetwork, org: str, channel: str = "ch1") -> Contract:
    """The asset-transfer contract through ``org``'s client gateway."""
    return network.gateway(org).network(channel).contract(CONTRACT)


def appraise(network: EmbeddedNetwork, asset_id: str, *, org: str = "Org1", channel: str = "ch1") -> Appraisal:
    """Submit an appraisal with a unique plaintext marker and wait until every peer committed it."""
    marker = f"appraisal {uuid.uuid4().hex}: worth 1,000,000 gold".encode()
    result = contract(network, org, channel).submit("appraise", asset_id, transient={"appraisal": marker})
    assert result.result == {"asset": asset_id, "collection": "appraisals", "stored": "salted hash on the ledger"}
    caught_up(network, channel)
    position = state(network, org, channel).tx_position(result.tx_id)
    assert position is not None and position[0] == result.block and position[2] == Code.VALID
    return Appraisal(channel, asset_id, result.tx_id, result.block, position[1], marker)


def state(network: EmbeddedNetwork, org: str, channel: str = "ch1") -> StateDB:
    """``org``'s peer's state database on ``channel``."""
    return network.peer(org).channel(channel).ledger.state


def files_containing(folder: Path, needle: bytes) -> list[Path]:
    """Every file under ``folder`` whose bytes contain ``needle``."""
    return [path for path in sorted(folder.rglob("*")) if path.is_file() and needle in path.read_bytes()]


def envelope_of(network: EmbeddedNetwork, org: str, appraisal: Appraisal) -> bytes:
    """The envelope bytes of the appraisal's transaction, as ``org``'s peer stores them in the block."""
    block = network.peer(org).channel(appraisal.channel).ledger.block(appraisal.block)
    return block.transactions[appraisal.index]


def test_non_member_read_is_refused(network: EmbeddedNetwork) -> None:
    """Org3 may not read the appraisal, through any peer; Org1 and Org2 read it on their own peers."""
    appraisal = appraise(network, "p1")

    with pytest.raises(EndorsementFailed) as refused:
        contract(network, "Org3").evaluate("read_appraisal", "p1")
    assert refused.value.code == "CONTRACT_ERROR"
    assert "Org3 is not a member of collection 'appraisals'" in refused.value.message
    assert "read refused" in refused.value.message

    # Asking a member's peer does not help: the caller's organisation is checked, not the peer's.
    with pytest.raises(EndorsementFailed) as via_member:
        contract(network, "Org3").evaluate("read_appraisal", "p1", org="Org1")
    assert via_member.value.code == "CONTRACT_ERROR"
    assert "not a member" in via_member.value.message

    # A member asking the non-member's peer learns that it holds nothing.
    with pytest.raises(EndorsementFailed) as wrong_peer:
        contract(network, "Org1").evaluate("read_appraisal", "p1", org="Org3")
    assert wrong_peer.value.code == "CONTRACT_ERROR"
    assert "holds none of its data" in wrong_peer.value.message

    for reader in ("Org1", "Org2"):
        assert contract(network, reader).evaluate("read_appraisal", "p1") == appraisal.note(by="Org1")
    assert contract(network, "Org2").evaluate("read_appraisal", "p1", org="Org1") == appraisal.note(by="Org1")


def test_ledger_holds_only_the_salted_hash(network: EmbeddedNetwork) -> None:
    """Org3's peer keeps the hash but no plaintext; the hash is SHA-256(salt ‖ value); blocks carry no plaintext."""
    appraisal = appraise(network, "p1")
    khash = key_hash(appraisal.key)

    rows = {org: state(network, org).private_get(CONTRACT, COLLECTION, appraisal.key) for org in ("Org1", "Org2")}
    assert rows["Org1"] is not None and rows["Org1"] == rows["Org2"]
    row = rows["Org1"]
    assert parse_json(row.value) == appraisal.note(by="Org1")
    assert row.version == Version(appraisal.block, appraisal.index)
    expected_hash = hashlib.sha256(row.salt + row.value).digest()
    assert salted_value_hash(row.salt, row.value) == expected_hash

    # Every peer, member or not, holds exactly that hash at the transaction's version.
    for org in ("Org1", "Org2", "Org3"):
        assert state(network, org).hashed_get(CONTRACT, COLLECTION, khash) == (
            expected_hash,
            Version(appraisal.block, appraisal.index),
        )
    assert contract(network, "Org3").evaluate("appraisal_hash", "p1") == expected_hash.hex()

    # The non-member's peer holds no plaintext, in its state or anywhere in its files.
    org3 = state(network, "Org3")
    assert org3.private_get(CONTRACT, COLLECTION, appraisal.key) is None
    assert org3.private_rows() == []
    assert org3.get_transient(appraisal.tx_id) == []
    assert files_containing(network.directory / "peers" / "Org3.peer0", appraisal.marker) == []
    assert files_containing(network.directory / "orderer", appraisal.marker) == []
    # Members dropped the transient copy once the transaction committed.
    for org in ("Org1", "Org2"):
        assert state(network, org).get_transient(appraisal.tx_id) == []

    # The transaction in the block commits to the hash and carries neither the plaintext nor the salt.
    for org in ("Org1", "Org2", "Org3"):
        envelope = envelope_of(network, org, appraisal)
        assert appraisal.marker not in envelope
        assert row.value not in envelope
        assert row.salt not in envelope
        transaction = decode(decode(envelope, Envelope).payload, Transaction)
        [namespace] = decode(transaction.response, ResponsePayload).rwset.namespaces
        [collection] = namespace.collections
        assert collection.collection == COLLECTION
        assert collection.writes == (HashedWrite(khash, expected_hash, False, False),)

    # A disclosed value can be checked against the ledger; a different value cannot pass for it.
    forged = canonical_json({**appraisal.note(by="Org1"), "appraisal": "worth 1 gold"})
    assert salted_value_hash(row.salt, forged) != expected_hash


def test_purge_removes_plaintext_and_keeps_hash(network: EmbeddedNetwork) -> None:
    """Purging erases the plaintext on every member peer, keeps the hash everywhere, and the audit passes."""
    purged = appraise(network, "p1")
    kept = appraise(network, "p2")
    khash = key_hash(purged.key)
    hashed = state(network, "Org3").hashed_get(CONTRACT, COLLECTION, khash)
    assert hashed is not None

    result = contract(network, "Org1").submit("purge_appraisal", "p1")
    caught_up(network, "ch1")

    for org in ("Org1", "Org2"):
        peer_state = state(network, org)
        assert peer_state.private_get(CONTRACT, COLLECTION, purged.key) is None
        assert peer_state.hashed_get(CONTRACT, COLLECTION, khash) == hashed
        assert peer_state.purge_record(CONTRACT, COLLECTION, khash) == (result.block, f"purged by {result.tx_id}")
        assert peer_state.private_get(CONTRACT, COLLECTION, kept.key) is not None
        assert contract(network, org).evaluate("read_appraisal", "p1") is None
        assert contract(network, org).evaluate("read_appraisal", "p2") == kept.note(by="Org1")
    for org in ("Org1", "Org2", "Org3"):
        assert state(network, org).hashed_get(CONTRACT, COLLECTION, khash) == hashed
        assert contract(network, org).evaluate("appraisal_hash", "p1") == hashed[0].hex()

    directory = network.directory
    network.close()
    report = audit_network(directory)
    assert report.ok, report.first_failure
    audited = {(ledger.node, ledger.channel) for ledger in report.ledgers}
    assert {("Org1.peer0", "ch1"), ("Org2.peer0", "ch1"), ("Org3.peer0", "ch1"), ("orderer", "ch1")} <= audited
    for ledger in report.ledgers:
        assert ledger.error is None and ledger.warnings == [], ledger
    # Once the peers are closed, no file of any node holds the purged plaintext; the kept one is still held.
    assert files_containing(directory, purged.marker) == []
    assert files_containing(directory / "peers" / "Org1.peer0", kept.marker) != []


def test_only_the_appraising_member_may_purge(network: EmbeddedNetwork) -> None:
    """A non-member (Org3) and a member that did not write the appraisal (Org2) cannot erase it."""
    appraisal = appraise(network, "p1")
    with pytest.raises(EndorsementFailed) as outsider:
        contract(network, "Org3").submit("purge_appraisal", "p1")
    assert "made by Org1; Org3 may not change it" in outsider.value.message, outsider.value.message
    with pytest.raises(EndorsementFailed) as other_member:
        contract(network, "Org2").submit("purge_appraisal", "p1")
    assert "made by Org1; Org2 may not change it" in other_member.value.message, other_member.value.message
    caught_up(network, "ch1")
    for org in ("Org1", "Org2"):
        assert contract(network, org).evaluate("read_appraisal", "p1") == appraisal.note(by="Org1")
    # Even its own appraisal (a non-member may write into this collection) a non-member cannot erase.
    own = appraise(network, "p9", org="Org3")
    with pytest.raises(EndorsementFailed) as not_member:
        contract(network, "Org3").submit("purge_appraisal", "p9")
    assert "Org3 is not a member of collection 'appraisals' and may not purge" in not_member.value.message
    assert contract(network, "Org1").evaluate("read_appraisal", "p9") == own.note(by="Org3")


def test_purge_erases_plaintext_from_running_member_peers_files(network: EmbeddedNetwork) -> None:
    """Right after a purge commits, no file of a running member peer still holds the plaintext."""
    appraisal = appraise(network, "p1")
    contract(network, "Org1").submit("purge_appraisal", "p1")
    caught_up(network, "ch1")
    for org in ("Org1", "Org2"):
        assert state(network, org).private_get(CONTRACT, COLLECTION, appraisal.key) is None
        leftovers = files_containing(network.directory / "peers" / f"{org}.peer0", appraisal.marker)
        assert leftovers == [], [str(path.relative_to(network.directory)) for path in leftovers]


def test_blocks_to_live_expires_plaintext(network: EmbeddedNetwork) -> None:
    """With blocks_to_live=2 the plaintext is kept for two further blocks, then expires; the hash stays."""
    network.deploy(
        "ch2",
        ASSET_TRANSFER,
        policy="AND('Org2.peer','Org3.peer')",
        collections=[CollectionConfig(COLLECTION, ("Org2", "Org3"), blocks_to_live=2)],
    )
    appraisal = appraise(network, "p1", org="Org2", channel="ch2")
    khash = key_hash(appraisal.key)
    members = ("Org2", "Org3")
    hashed = state(network, "Org2", "ch2").hashed_get(CONTRACT, COLLECTION, khash)
    assert hashed is not None and hashed[1] == Version(appraisal.block, appraisal.index)
    for org in members:
        row = state(network, org, "ch2").private_get(CONTRACT, COLLECTION, appraisal.key)
        assert row is not None and parse_json(row.value) == appraisal.note(by="Org2")
        assert salted_value_hash(row.salt, row.value) == hashed[0]
        assert state(network, org, "ch2").hashed_get(CONTRACT, COLLECTION, khash) == hashed

    expiry = appraisal.block + 2 + 1
    last = appraisal.block
    while last < expiry + 1:
        last = contract(network, "Org2", "ch2").submit("touch", f"t{last}").block
        caught_up(network, "ch2")
        for org in members:
            peer_state = state(network, org, "ch2")
            row = peer_state.private_get(CONTRACT, COLLECTION, appraisal.key)
            assert peer_state.hashed_get(CONTRACT, COLLECTION, khash) == hashed
            if last < expiry:
                assert row is not None, f"plaintext gone at block {last}, before block {expiry}"
                assert peer_state.purge_record(CONTRACT, COLLECTION, khash) is None
            else:
                assert row is None, f"plaintext still held at block {last}"
                assert peer_state.purge_record(CONTRACT, COLLECTION, khash) == (expiry, "blocks-to-live expired")
    assert contract(network, "Org2", "ch2").evaluate("read_appraisal", "p1") is None
    assert contract(network, "Org3", "ch2").evaluate("appraisal_hash", "p1") == hashed[0].hex()
    # The collection of ch1 has no blocks_to_live: its plaintext is not touched by ch2's expiry.
    ch1 = appraise(network, "q1")
    assert state(network, "Org1").private_get(CONTRACT, COLLECTION, ch1.key) is not None

    directory = network.directory
    network.close()
    report = audit_network(directory)
    assert report.ok, report.first_failure
    assert {("Org2.peer0", "ch2"), ("Org3.peer0", "ch2"), ("orderer", "ch2")} <= {
        (ledger.node, ledger.channel) for ledger in report.ledgers
    }
    assert files_containing(directory, appraisal.marker) == []
