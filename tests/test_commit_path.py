"""The commit path piece by piece, without a network: the block cutter, envelope admission, and the validator on
blocks built by hand.

A bootstrapped data folder gives real certificates and a real genesis configuration; transactions are assembled
from their parts (a signed proposal, a response payload with a hand-written read-write set, endorsements signed
by the peers' keys, the client's envelope), so each validation code can be provoked on its own. The validator
runs against a state database that holds only a committed contract definition.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import three_org_spec
from consortia.channel.rules import ChannelRules, read_genesis, rules_from_config
from consortia.client.proposal import build_proposal
from consortia.contracts.lifecycle import LIFECYCLE, ContractDefinition, definition_key, definition_to_json
from consortia.identity import CertificateAuthority, Kind, SigningIdentity
from consortia.ledger.block import Block, BlockHeader
from consortia.ledger.codes import Code
from consortia.ledger.config import BatchConfig
from consortia.ledger.encoding import canonical_json, decode, encode
from consortia.ledger.rwset import KVRead, KVWrite, NamespaceRWSet, RWSet, Version
from consortia.ledger.statedb import StateDB
from consortia.ledger.transaction import (
    ENVELOPE_CONFIG,
    ENVELOPE_TRANSACTION,
    Endorsement,
    Envelope,
    Response,
    ResponsePayload,
    Transaction,
    proposal_hash,
)
from consortia.ledger.updates import KeyWrite, UpdateBatch
from consortia.network.bootstrap import create_network, genesis_path, peer_dir, user_dir
from consortia.ordering.admission import admit_envelope
from consortia.ordering.base import OrderingError
from consortia.ordering.cutter import BlockCutter
from consortia.peer.validator import BlockValidator

CHANNEL = "ch1"
CONTRACT = "ledger-notes"
POLICY = "AND('Org1.peer','Org2.peer')"


# -- the block cutter ------------------------------------------------------------------------------------------


def test_cutter_cuts_at_the_transaction_count() -> None:
    """Envelopes wait until max_transactions are pending; then they leave as one batch, in order."""
    cutter = BlockCutter(BatchConfig(max_transactions=3, max_bytes=1 << 20, timeout_ms=50))
    assert cutter.add(b"a") == []
    assert cutter.add(b"b") == []
    assert cutter.add(b"c") == [[b"a", b"b", b"c"]]
    assert cutter.pending == [] and cutter.pending_bytes == 0
    assert cutter.deadline() is None


def test_cutter_cuts_before_an_envelope_that_would_overflow_the_bytes() -> None:
    """An envelope that would push the pending batch past max_bytes closes the batch before it; one that alone
    reaches the limit leaves at once."""
    cutter = BlockCutter(BatchConfig(max_transactions=100, max_bytes=10, timeout_ms=50))
    assert cutter.add(b"12345") == []
    assert cutter.add(b"123456") == [[b"12345"]]
    assert cutter.pending == [b"123456"]
    assert cutter.add(b"1234567890") == [[b"123456"], [b"1234567890"]]
    assert cutter.pending == []


def test_cutter_deadline_counts_from_the_first_pending_envelope() -> None:
    """The time limit runs from the first envelope of a batch; cut() hands over whatever is pending."""
    cutter = BlockCutter(BatchConfig(max_transactions=100, max_bytes=1 << 20, timeout_ms=250))
    before = time.monotonic()
    cutter.add(b"x")
    deadline = cutter.deadline()
    assert deadline is not None and before + 0.25 <= deadline <= time.monotonic() + 0.25
    cutter.add(b"y")
    assert cutter.deadline() == deadline
    assert cutter.cut() == [b"x", b"y"]
    assert cutter.deadline() is None
    assert cutter.cut() == []


# -- a bootstrapped folder, a contract definition, transactions by hand -----------------------------------------


@dataclass(frozen=True)
class Folder:
    """A bootstrapped network folder: the channel's rules and the identities that sign."""

    path: Path
    rules: ChannelRules

    def client(self, org: str = "Org1") -> SigningIdentity:
        """A client of ``org``."""
        return SigningIdentity.load(user_dir(self.path, org, "client"))

    def peer(self, org: str) -> SigningIdentity:
        """The peer of ``org``."""
        return SigningIdentity.load(peer_dir(self.path, org))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    """Three organisations with certificates and the signed genesis block of ch1 (no process runs)."""
    path = tmp_path_factory.mktemp("commit-path")
    create_network(path, three_org_spec())
    config, _ = read_genesis(decode(genesis_path(path, CHANNEL).read_bytes(), Block))
    return Folder(path, rules_from_config(config))


DEFINITION = ContractDefinition(CONTRACT, "1.0", 1, "ab" * 32, POLICY)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateDB]:
    """A state database at height 1 that holds the committed definition of the contract and one key."""
    db = StateDB(tmp_path / "state.sqlite")
    batch = UpdateBatch(height=1)
    batch.state[(LIFECYCLE, definition_key(CONTRACT))] = KeyWrite(
        canonical_json(definition_to_json(DEFINITION)), Version(0, 0)
    )
    batch.state[(CONTRACT, "note")] = KeyWrite(b'{"n":0}', Version(0, 0))
    db.apply(batch)
    try:
        yield db
    finally:
        db.close()


def transaction(
    folder: Folder,
    *,
    reads: tuple[KVRead, ...] = (KVRead("note", Version(0, 0)),),
    writes: tuple[KVWrite, ...] = (KVWrite("note", b'{"n":1}', False),),
    endorsers: tuple[str, ...] = ("Org1", "Org2"),
    creator: SigningIdentity | None = None,
    contract: str = CONTRACT,
    version: str = "1.0",
) -> tuple[str, bytes]:
    """A signed envelope (and its tx id) for ``contract`` with the given read-write set and endorsers."""
    identity = creator or folder.client()
    prepared = build_proposal(identity, CHANNEL, contract, "write", [], None)
    proposal_bytes = encode(prepared.proposal)
    payload = encode(
        ResponsePayload(
            proposal_hash=proposal_hash(proposal_bytes),
            contract=contract,
            version=version,
            rwset=RWSet((NamespaceRWSet(contract, reads, (), writes, (), ()),)),
            events=(),
            response=Response(200, "", b"null"),
        )
    )
    endorsements = tuple(
        Endorsement(folder.peer(org).certificate_der, folder.peer(org).sign(payload)) for org in endorsers
    )
    body = encode(Transaction(proposal_bytes, payload, endorsements))
    return prepared.tx_id, encode(Envelope(ENVELOPE_TRANSACTION, body, identity.sign(body)))


def block(number: int, *envelopes: bytes) -> Block:
    """A block holding ``envelopes`` (the validator reads only the number, time and transactions)."""
    header = BlockHeader(CHANNEL, number, bytes(32), bytes(32), bytes(32), 0, int(time.time() * 1000))
    return Block(header, tuple(envelopes), b"", b"")


def codes(validator: BlockValidator, candidate: Block) -> list[Code]:
    """The codes the validator gives a block's transactions."""
    return [Code(c) for c in validator.validate(candidate).codes]


# -- envelope admission ----------------------------------------------------------------------------------------


def test_admission_accepts_a_member_client_envelope(folder: Folder) -> None:
    """A canonical transaction envelope for this channel, signed by a member's client, is admitted by tx id."""
    tx_id, envelope = transaction(folder)
    assert admit_envelope(folder.rules, CHANNEL, envelope, 1 << 20) == tx_id


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("too large", 413, "exceeds"),
        ("not an envelope", 400, "malformed envelope"),
        ("configuration envelope", 400, "only transaction envelopes"),
        ("another channel", 400, "is for channel"),
        ("outsider", 403, "submitter"),
        ("forged signature", 403, "does not verify"),
    ],
)
def test_admission_refuses(folder: Folder, name: str, status: int, message: str) -> None:
    """What no peer could accept is refused before ordering, with a status and a reason."""
    _, envelope = transaction(folder)
    channel, limit = CHANNEL, 1 << 20
    if name == "too large":
        limit = len(envelope) - 1
    elif name == "not an envelope":
        envelope = b"\x93\x01\x02"
    elif name == "configuration envelope":
        envelope = encode(Envelope(ENVELOPE_CONFIG, b"", b""))
    elif name == "another channel":
        channel = "ch2"
    elif name == "outsider":
        _, envelope = transaction(folder, creator=CertificateAuthority.create("Org9").issue("c", Kind.CLIENT))
    elif name == "forged signature":
        parsed = decode(envelope, Envelope)
        envelope = encode(Envelope(parsed.kind, parsed.payload, bytes(64)))
    with pytest.raises(OrderingError) as refused:
        admit_envelope(folder.rules, channel, envelope, limit)
    assert refused.value.status == status
    assert message in refused.value.message


# -- the validator on hand-built blocks ------------------------------------------------------------------------


def test_validator_applies_a_valid_transaction(folder: Folder, state: StateDB) -> None:
    """A valid transaction's write lands in the batch at its version, with history and its tx id."""
    validator = BlockValidator(folder.rules, state, "Org1")
    tx_id, envelope = transaction(folder)
    verdict = validator.validate(block(1, envelope))
    assert [Code(c) for c in verdict.codes] == [Code.VALID]
    assert verdict.batch.height == 2
    assert verdict.batch.state[(CONTRACT, "note")] == KeyWrite(b'{"n":1}', Version(1, 0))
    assert [(h.key, h.tx_id, h.block, h.tx) for h in verdict.batch.history] == [("note", tx_id, 1, 0)]
    assert [(r.tx_id, r.block, r.index, r.code) for r in verdict.batch.txids] == [(tx_id, 1, 0, 0)]
    [outcome] = verdict.outcomes
    assert (outcome.tx_id, outcome.code, outcome.contract, outcome.creator_org) == (tx_id, Code.VALID, CONTRACT, "Org1")


def test_validator_mvcc_counts_earlier_writes_of_the_same_block(folder: Folder, state: StateDB) -> None:
    """Two transactions read the same version: the first is valid, the second reads a key the first changed."""
    validator = BlockValidator(folder.rules, state, "Org1")
    _, first = transaction(folder)
    _, second = transaction(folder)
    verdict = validator.validate(block(1, first, second))
    assert [Code(c) for c in verdict.codes] == [Code.VALID, Code.MVCC_READ_CONFLICT]
    assert "changed after it was read" in verdict.outcomes[1].detail
    assert verdict.batch.state[(CONTRACT, "note")].version == Version(1, 0)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("one endorser", Code.ENDORSEMENT_POLICY_FAILURE),
        ("unknown contract", Code.UNKNOWN_CONTRACT),
        ("old version", Code.CONTRACT_VERSION_MISMATCH),
        ("stale read", Code.MVCC_READ_CONFLICT),
        ("outsider", Code.NOT_A_MEMBER),
        ("forged signature", Code.BAD_SIGNATURE),
        ("unreadable", Code.BAD_PAYLOAD),
        ("configuration", Code.CONFIG_REJECTED),
    ],
)
def test_validator_codes_on_hand_built_blocks(folder: Folder, state: StateDB, case: str, expected: Code) -> None:
    """Each check, provoked on its own, gives its code and changes nothing."""
    validator = BlockValidator(folder.rules, state, "Org1")
    envelope: bytes
    if case == "one endorser":
        _, envelope = transaction(folder, endorsers=("Org1",))
    elif case == "unknown contract":
        _, envelope = transaction(folder, contract="nowhere")
    elif case == "old version":
        _, envelope = transaction(folder, version="0.9")
    elif case == "stale read":
        _, envelope = transaction(folder, reads=(KVRead("note", Version(0, 7)),))
    elif case == "outsider":
        _, envelope = transaction(folder, creator=CertificateAuthority.create("Org9").issue("c", Kind.CLIENT))
    elif case == "forged signature":
        _, good = transaction(folder)
        parsed = decode(good, Envelope)
        envelope = encode(Envelope(parsed.kind, parsed.payload, bytes(64)))
    elif case == "unreadable":
        envelope = b"\x93\x01\x02"
    else:
        envelope = encode(Envelope(ENVELOPE_CONFIG, b"", b""))
    verdict = validator.validate(block(1, envelope))
    assert [Code(c) for c in verdict.codes] == [expected]
    assert verdict.batch.state == {}


def test_validator_duplicate_id_in_one_block_and_against_the_ledger(folder: Folder, state: StateDB) -> None:
    """The second copy of an envelope in a block is DUPLICATE_TXID; so is a copy once the first is committed."""
    validator = BlockValidator(folder.rules, state, "Org1")
    tx_id, envelope = transaction(folder, reads=())
    verdict = validator.validate(block(1, envelope, envelope))
    assert [Code(c) for c in verdict.codes] == [Code.VALID, Code.DUPLICATE_TXID]
    state.apply(verdict.batch)
    validator.invalidate_definitions()
    assert state.tx_position(tx_id) == (1, 0, Code.VALID)
    assert codes(validator, block(2, envelope)) == [Code.DUPLICATE_TXID]


def test_replay_recomputes_the_updates_from_stored_codes(folder: Folder, state: StateDB) -> None:
    """Crash replay applies what the stored codes call valid — the same batch validation produced."""
    validator = BlockValidator(folder.rules, state, "Org1")
    _, first = transaction(folder)
    _, second = transaction(folder)
    _, lonely = transaction(folder, endorsers=("Org2",))
    candidate = block(1, first, second, lonely)
    verdict = validator.validate(candidate)
    assert [Code(c) for c in verdict.codes] == [Code.VALID, Code.MVCC_READ_CONFLICT, Code.ENDORSEMENT_POLICY_FAILURE]
    replayed = validator.replay(candidate, verdict.codes)
    assert replayed == verdict.batch
    # Replay trusts the stored codes: it checks nothing again.
    assert validator.replay(candidate, bytes([Code.MVCC_READ_CONFLICT, Code.VALID, Code.MVCC_READ_CONFLICT])).state[
        (CONTRACT, "note")
    ] == KeyWrite(b'{"n":1}', Version(1, 1))
    with pytest.raises(ValueError, match="stored codes"):
        validator.replay(candidate, bytes([Code.VALID]))
