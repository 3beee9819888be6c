"""Unit tests of the contract runtime: argument binding, the context, the determinism guard, loading, lifecycle."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from consortia.client import EndorsementFailed, build_proposal
from consortia.contracts import sandbox
from consortia.contracts.collections_config import CollectionConfig
from consortia.contracts.context import MAX_KEY_LENGTH, Caller, Context
from consortia.contracts.contract import (
    Contract,
    ContractError,
    NondeterminismError,
    bind_arguments,
    evaluate,
    submit,
)
from consortia.contracts.lifecycle import LIFECYCLE
from consortia.contracts.registry import ContractRegistry, InstallError, load_contract
from consortia.ledger.codes import Code
from consortia.ledger.encoding import canonical_json, encode
from consortia.ledger.rwset import KVRead, RangeRead, Version
from consortia.ledger.statedb import StateDB
from consortia.ledger.transaction import ENVELOPE_TRANSACTION, Envelope, Transaction
from consortia.ledger.updates import KeyWrite, UpdateBatch
from consortia.network.embedded import EmbeddedNetwork

ASSET_TRANSFER = "consortia.samples.asset_transfer:AssetTransfer"
POLICY = "AND('Org1.peer','Org2.peer')"
APPRAISALS = [{"name": "appraisals", "members": ["Org1", "Org2"]}]

# -- argument binding ----------------------------------------------------------------------------------------


class Sample(Contract):
    """A contract whose functions cover every annotation the runtime checks."""

    name = "sample"

    @submit
    def put(
        self,
        ctx: Context,
        key: str,
        count: int,
        ratio: float,
        flag: bool,
        doc: dict,
        items: list,
        anything: Any,
        maybe: str | None,
    ) -> None:
        """Take one argument of every kind."""

    @evaluate(public=True)
    def get(self, ctx: Context, key: str) -> None:
        """Read one key."""

    @submit()
    def nothing(self, ctx: Context) -> None:
        """Take no argument."""

    def helper(self, ctx: Context, key: str) -> None:
        """Not a contract function."""


GOOD = ["k", 3, 1.5, True, {"a": 1}, [1], None, None]


def test_functions_lists_only_decorated_methods() -> None:
    """functions() finds decorated methods with their kind, visibility, parameters and docs."""
    functions = Sample.functions()
    assert sorted(functions) == ["get", "nothing", "put"]
    assert functions["put"].kind == "submit"
    assert functions["get"].kind == "evaluate"
    assert functions["get"].public is True
    assert functions["put"].public is False
    assert [name for name, _ in functions["put"].parameters] == [
        "key",
        "count",
        "ratio",
        "flag",
        "doc",
        "items",
        "anything",
        "maybe",
    ]
    assert functions["get"].doc == "Read one key."
    assert Sample.functions() is functions


def test_bind_arguments_accepts_matching_values() -> None:
    """Values of the annotated JSON types pass; int is accepted for float; Optional and Any accept None."""
    spec = Sample.functions()["put"]
    assert bind_arguments(spec, GOOD) == GOOD
    assert bind_arguments(spec, ["k", 3, 2, False, {}, [], {"x": [1]}, "text"])
    assert bind_arguments(Sample.functions()["nothing"], []) == []


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (0, 1, "put: argument 'key' must be str, got int"),
        (0, None, "argument 'key' must be str, got NoneType"),
        (1, "3", "argument 'count' must be int, got str"),
        (1, True, "argument 'count' must be int, got bool"),
        (1, 2.0, "argument 'count' must be int, got float"),
        (2, "1.5", "argument 'ratio' must be float, got str"),
        (2, False, "argument 'ratio' must be float, got bool"),
        (3, 1, "argument 'flag' must be bool, got int"),
        (4, [], "argument 'doc' must be dict, got list"),
        (5, {}, "argument 'items' must be list, got dict"),
        (7, 5, "argument 'maybe'"),
    ],
)
def test_bind_arguments_names_the_wrong_parameter(index: int, value: Any, message: str) -> None:
    """A value of the wrong type is refused with the function, parameter, expected and actual types."""
    args = list(GOOD)
    args[index] = value
    with pytest.raises(ContractError) as info:
        bind_arguments(Sample.functions()["put"], args)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("function", "count", "message"),
    [
        ("put", 0, "put takes 8 argument(s) (key, count, ratio, flag, doc, items, anything, maybe), got 0"),
        ("put", 9, "got 9"),
        ("get", 2, "get takes 1 argument(s) (key), got 2"),
        ("nothing", 1, "nothing takes 0 argument(s) (none), got 1"),
    ],
)
def test_bind_arguments_wrong_count(function: str, count: int, message: str) -> None:
    """The wrong number of arguments is refused with the parameter names."""
    with pytest.raises(ContractError) as info:
        bind_arguments(Sample.functions()[function], list(range(count)))
    assert message in str(info.value)


# -- the transaction context ---------------------------------------------------------------------------------

NS = "sample"


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateDB]:
    """A state database with keys a, b, c, d in the sample namespace, written in block 1."""
    db = StateDB(tmp_path / "state.sqlite")
    batch = UpdateBatch(height=2)
    for tx, key in enumerate("abcd"):
        batch.state[(NS, key)] = KeyWrite(canonical_json({"key": key, "n": tx}), Version(1, tx))
    db.apply(batch)
    try:
        yield db
    finally:
        db.close()


def _context(state: StateDB, *, read_only: bool = False, **extra: Any) -> Context:
    caller = Caller("Org1", "alice", "client", {"role": "clerk"}, b"\x01" * 32)
    return Context(
        channel="ch",
        namespace=NS,
        tx_id="f" * 64,
        timestamp_ms=1_700_000_000_000,
        caller=caller,
        state=state,
        peer_org="Org1",
        read_only=read_only,
        **extra,
    )


def test_context_read_your_writes(state: StateDB) -> None:
    """A transaction sees its own writes and deletes; only reads of committed state are recorded."""
    ctx = _context(state)
    assert ctx.get_state("a") == {"key": "a", "n": 0}
    ctx.put_state("a", {"key": "a", "n": 100})
    assert ctx.get_state("a") == {"key": "a", "n": 100}
    ctx.delete_state("b")
    assert ctx.get_state("b") is None
    ctx.put_state("new", [1, 2])
    assert ctx.get_state("new") == [1, 2]
    assert ctx.get_state("missing") is None
    assert state.get(NS, "new") is None  # nothing reaches the database
    rwset = ctx.rwset()
    assert rwset.namespace == NS
    assert rwset.reads == (KVRead("a", Version(1, 0)), KVRead("missing", None))
    assert [(w.key, w.is_delete) for w in rwset.writes] == [("a", False), ("b", True), ("new", False)]
    assert rwset.writes[0].value == canonical_json({"key": "a", "n": 100})


def test_context_records_ranges(state: StateDB) -> None:
    """Range scans are recorded with the versions they returned and whether they were exhausted."""
    ctx = _context(state)
    ctx.put_state("b2", {"mine": True})  # a range sees committed state only
    assert [key for key, _ in ctx.get_range("b", "d")] == ["b", "c"]
    assert [key for key, _ in ctx.get_range("a", "", limit=2)] == ["a", "b"]
    assert [key for key, _ in ctx.get_range("a", "", limit=4)] == ["a", "b", "c", "d"]
    assert [key for key, _ in ctx.get_prefix("c")] == ["c"]
    ranges = ctx.rwset().ranges
    assert ranges[0] == RangeRead("b", "d", True, (KVRead("b", Version(1, 1)), KVRead("c", Version(1, 2))))
    assert ranges[1].exhausted is False
    assert [r.key for r in ranges[1].results] == ["a", "b"]
    assert ranges[2].exhausted is True
    assert ranges[3].start == "c"
    assert ranges[3].end == "d"
    assert ctx.rwset().reads == ()


def test_context_query_records_reads(state: StateDB) -> None:
    """A rich query's results count as reads; a bad query is a ContractError."""
    ctx = _context(state)
    assert [value["key"] for _, value in ctx.query({"n": {"$gte": 2}})] == ["c", "d"]
    assert ctx.rwset().reads == (KVRead("c", Version(1, 2)), KVRead("d", Version(1, 3)))
    with pytest.raises(ContractError, match=r"bad query: field 'n': unknown operator '\$like' \(use one of \$eq"):
        ctx.query({"n": {"$like": 1}})
    with pytest.raises(ContractError, match="bad query: invalid field name"):
        ctx.query({"a'); DROP TABLE state; --": 1})
    assert state.count(NS) == 4


def _operations(ctx: Context, order: list[int]) -> None:
    steps = [
        lambda: ctx.put_state("z", 1),
        lambda: ctx.get_state("c"),
        lambda: ctx.put_state("m", {"b": 2, "a": 1}),
        lambda: ctx.get_state("a"),
        lambda: ctx.delete_state("d"),
        lambda: ctx.get_state("missing"),
        lambda: ctx.set_key_policy("z", "AND('Org1.peer')"),
        lambda: ctx.set_key_policy("m", "OR('Org1.peer','Org2.peer')"),
    ]
    for index in order:
        steps[index]()


def test_context_rwset_is_deterministic(state: StateDB) -> None:
    """The same reads and writes in any order give byte-identical, sorted read-write sets."""
    orders = [list(range(8)), [7, 6, 5, 4, 3, 2, 1, 0], [3, 0, 5, 2, 7, 4, 1, 6]]
    encoded = set()
    for order in orders:
        ctx = _context(state)
        _operations(ctx, order)
        rwset = ctx.rwset()
        assert [r.key for r in rwset.reads] == ["a", "c", "missing"]
        assert [w.key for w in rwset.writes] == ["d", "m", "z"]
        assert [p.key for p in rwset.policy_writes] == ["m", "z"]
        encoded.add(encode(rwset))
    assert len(encoded) == 1


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "a key must be a non-empty string"),
        (None, "a key must be a non-empty string, got None"),
        (42, "a key must be a non-empty string, got 42"),
        ("a\x00b", "must not contain NUL"),
        ("k" * (MAX_KEY_LENGTH + 1), f"longer than {MAX_KEY_LENGTH} characters"),
    ],
    ids=["empty", "none", "int", "nul", "too-long"],
)
def test_context_key_validation(state: StateDB, key: Any, message: str) -> None:
    """Every state operation refuses empty, non-string, NUL-bearing and over-long keys."""
    ctx = _context(state)
    for operation in (ctx.get_state, lambda k: ctx.put_state(k, 1), ctx.delete_state, ctx.get_history):
        with pytest.raises(ContractError) as info:
            operation(key)
        assert message in str(info.value)
    assert ctx.rwset().reads == ()
    assert ctx.rwset().writes == ()


def test_context_longest_key_is_accepted(state: StateDB) -> None:
    """A key of exactly the maximum length is fine."""
    ctx = _context(state)
    key = "k" * MAX_KEY_LENGTH
    ctx.put_state(key, 1)
    assert ctx.get_state(key) == 1


def test_context_value_and_mode_errors(state: StateDB) -> None:
    """Null or non-JSON values, writes in read-only mode, and bad range arguments are ContractErrors."""
    ctx = _context(state)
    with pytest.raises(ContractError, match="cannot store null under 'k'"):
        ctx.put_state("k", None)
    with pytest.raises(ContractError, match=r"value for 'k': value is not JSON-serialisable"):
        ctx.put_state("k", {"when": object()})
    with pytest.raises(ContractError, match="range bounds must be strings"):
        ctx.get_range(1, "z")  # type: ignore[arg-type]
    with pytest.raises(ContractError, match="range limit must be a positive integer"):
        ctx.get_range("a", "z", limit=0)
    with pytest.raises(ContractError, match="an event needs a non-empty name"):
        ctx.set_event("", {})
    with pytest.raises(ContractError, match="no private data collection 'secret' \\(has: none\\)"):
        ctx.get_private("secret", "k")
    reader = _context(state, read_only=True)
    assert reader.get_state("a") is not None
    for write in (lambda: reader.put_state("a", 1), lambda: reader.delete_state("a")):
        with pytest.raises(ContractError, match="read-only"):
            write()


def test_context_identity_time_and_events(state: StateDB) -> None:
    """The caller, the proposal time and emitted events are what the contract sees."""
    ctx = _context(state)
    assert ctx.caller.id == "Org1/alice"
    assert ctx.caller.role == "clerk"
    assert ctx.timestamp.isoformat() == "2023-11-14T22:13:20+00:00"
    ctx.set_event("Done", {"b": 1, "a": 2})
    assert [(e.name, e.payload) for e in ctx.events()] == [("Done", b'{"a":2,"b":1}')]


def test_context_private_collection_membership(state: StateDB) -> None:
    """Private reads are refused to non-members with the member list; writes need the SDK's salt."""
    collections = {"secret": CollectionConfig("secret", ("Org2",))}
    ctx = _context(state, collections=collections)
    with pytest.raises(ContractError, match=r"Org1 is not a member of collection 'secret' \(members: Org2\)"):
        ctx.get_private("secret", "k")
    with pytest.raises(ContractError, match="needs a salt secret"):
        ctx.put_private("secret", "k", {"v": 1})


# -- the determinism guard -----------------------------------------------------------------------------------


@pytest.fixture
def guarded() -> None:
    """Install the process-wide wrappers and audit hook (idempotent)."""
    sandbox.install()


@pytest.mark.usefixtures("guarded")
@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda: time.time(), "time.time()"),
        (lambda: time.monotonic(), "time.monotonic()"),
        (lambda: time.perf_counter_ns(), "time.perf_counter_ns()"),
        (lambda: time.sleep(0), "time.sleep()"),
        (lambda: time.localtime(), "time.localtime()"),
        (lambda: time.gmtime(), "time.gmtime() without an argument"),
        (lambda: time.strftime("%Y"), "time.strftime() without a time tuple"),
        (lambda: random.random(), "random.random()"),
        (lambda: random.choice([1, 2]), "random.choice()"),
        (lambda: os.urandom(8), "os.urandom()"),
        (lambda: uuid.uuid4(), "uuid.uuid4()"),
        (lambda: open(os.devnull, "rb").close(), "open("),
    ],
    ids=[
        "time",
        "monotonic",
        "perf_counter_ns",
        "sleep",
        "localtime",
        "gmtime",
        "strftime",
        "random",
        "choice",
        "urandom",
        "uuid4",
        "open",
    ],
)
def test_guards_refuse_inside_and_call_through_outside(call: Any, what: str) -> None:
    """Inside deterministic(...) each call raises NondeterminismError with advice; outside it works normally."""
    call()
    with sandbox.deterministic("clocky"):
        assert sandbox.active_contract() == "clocky"
        with pytest.raises(NondeterminismError) as info:
            call()
    message = str(info.value)
    assert message.startswith("contract 'clocky' is not deterministic: it called ")
    assert what in message
    assert "use " in message or "cannot" in message or "derive" in message
    assert sandbox.active_contract() is None
    call()


@pytest.mark.usefixtures("guarded")
def test_guards_allow_pure_functions_inside() -> None:
    """Pure time functions with explicit arguments and seeded generators stay available to contracts."""
    with sandbox.deterministic("pure"):
        assert time.gmtime(0).tm_year == 1970
        assert time.strftime("%Y-%m-%d", time.gmtime(86400)) == "1970-01-02"
        assert random.Random(7).random() == random.Random(7).random()


@pytest.mark.usefixtures("guarded")
def test_time_works_normally_outside() -> None:
    """Outside a contract the wrapped clock is the real clock."""
    first = time.time()
    assert isinstance(first, float)
    assert first > 1_600_000_000
    assert time.monotonic() <= time.monotonic()
    assert len(os.urandom(16)) == 16
    assert getattr(time.time, "__consortia_guarded__", False)


@pytest.mark.usefixtures("guarded")
def test_guard_nesting_and_exceptions_restore_state() -> None:
    """Nested contracts restore the outer one, and an exception leaves the thread unguarded."""
    with sandbox.deterministic("outer"):
        with sandbox.deterministic("inner"):
            assert sandbox.active_contract() == "inner"
        assert sandbox.active_contract() == "outer"
    with pytest.raises(RuntimeError), sandbox.deterministic("failing"):
        raise RuntimeError("contract bug")
    assert sandbox.active_contract() is None
    assert time.time() > 0


@pytest.mark.usefixtures("guarded")
def test_guard_is_per_thread() -> None:
    """While one thread runs a contract, another thread keeps its clock."""
    inside = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def contract_thread() -> None:
        with sandbox.deterministic("threaded"):
            inside.set()
            release.wait(30)
            try:
                time.time()
            except NondeterminismError as exc:
                errors.append(exc)

    thread = threading.Thread(target=contract_thread)
    thread.start()
    assert inside.wait(30)
    assert sandbox.active_contract() is None
    assert time.time() > 0
    release.set()
    thread.join(30)
    assert len(errors) == 1


def test_contract_builtins_refuse_io_and_hash() -> None:
    """A contract module's builtins refuse open, input and hash, and hand out guarded module views."""
    namespace = sandbox.contract_builtins()
    for name in ("open", "input", "hash", "breakpoint"):
        with pytest.raises(NondeterminismError):
            namespace[name]("x")
    view = namespace["__import__"]("datetime")
    with pytest.raises(NondeterminismError, match=r"datetime\.now\(\)"):
        view.datetime.now()
    assert view.datetime(2024, 1, 2).year == 2024
    forbidden = namespace["__import__"]("socket")
    with pytest.raises(NondeterminismError, match=r"socket\.socket"):
        forbidden.socket()
    assert namespace["__import__"]("json").dumps([1]) == "[1]"


# -- loading contracts ---------------------------------------------------------------------------------------

GOOD_SOURCE = """
from consortia.contracts import Contract, Context, submit


class Counter(Contract):
    name = "counter-{tag}"
    version = "3.1"

    @submit
    def bump(self, ctx: Context, key: str) -> int:
        value = (ctx.get_state(key) or 0) + 1
        ctx.put_state(key, value)
        return value
"""


def _write_contract(directory: Path, name: str, source: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(source)
    return path


def test_load_contract_from_file(tmp_path: Path) -> None:
    """A contract file loads into a package with its name, version and source hash; loading is repeatable."""
    path = _write_contract(tmp_path, "counter_ok", GOOD_SOURCE.format(tag="a"))
    package = load_contract(f"{path}:Counter")
    assert package.name == "counter-a"
    assert package.version == "3.1"
    assert len(package.source_hash) == 64
    assert package.package_id == f"counter-a_3.1:{package.source_hash}"
    assert load_contract(f"{path}:Counter").source_hash == package.source_hash
    registry = ContractRegistry()
    assert registry.install(f"{path}:Counter") == package
    assert registry.by_hash(package.source_hash) == package
    assert registry.instance(package) is registry.instance(package)
    assert registry.by_hash("0" * 64) is None


@pytest.mark.parametrize(
    ("reference", "source", "message"),
    [
        ("no-colon-here", None, "must look like 'package.module:ClassName'"),
        ("{dir}/absent.py:Thing", None, "absent.py does not exist"),
        ("no_such_package_xyz.module:Thing", None, "cannot find contract module 'no_such_package_xyz.module'"),
        ("no_such_module_xyz:Thing", None, "cannot find contract module 'no_such_module_xyz'"),
        (ASSET_TRANSFER.replace("AssetTransfer", "Nope"), None, "does not name a Contract subclass"),
        ("consortia.ledger.codes:Code", None, "'consortia.ledger.codes:Code' does not name a Contract subclass"),
        ("consortia.contracts.contract:submit", None, "does not name a Contract subclass"),
        ("{file}:Broken", "class Broken(:\n", "failed to load: SyntaxError"),
        ("{file}:Boom", "raise RuntimeError('bad module')\n", "failed to load: RuntimeError('bad module')"),
        ("{file}:Reader", "DATA = open('/etc/hostname').read()\n", "failed to load: NondeterminismError"),
        (
            "{file}:Nameless",
            "from consortia.contracts import Contract, submit\n\nclass Nameless(Contract):\n"
            "    @submit\n    def f(self, ctx):\n        pass\n",
            "contract class Nameless must set a non-empty 'name'",
        ),
        (
            "{file}:Empty",
            "from consortia.contracts import Contract\n\nclass Empty(Contract):\n    name = 'empty'\n",
            "contract 'empty' has no @submit or @evaluate functions",
        ),
    ],
    ids=[
        "no-colon",
        "missing-file",
        "missing-package",
        "missing-module",
        "missing-class",
        "not-a-contract",
        "a-function",
        "syntax-error",
        "raises-on-import",
        "reads-a-file",
        "no-name",
        "no-functions",
    ],
)
def test_load_contract_errors(tmp_path: Path, reference: str, source: str | None, message: str) -> None:
    """Each bad reference is an InstallError (a ValueError) whose message says what is wrong."""
    file = tmp_path / "contract_under_test.py"
    if source is not None:
        file.write_text(source)
    reference = reference.replace("{dir}", str(tmp_path)).replace("{file}", str(file))
    with pytest.raises(InstallError) as info:
        load_contract(reference)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)


# -- lifecycle -----------------------------------------------------------------------------------------------


def _definition_args(version: str, sequence: int, policy: str = POLICY) -> list[Any]:
    package = load_contract(ASSET_TRANSFER)
    return [package.name, version, sequence, package.source_hash, policy, APPRAISALS]


def _lifecycle(network: EmbeddedNetwork, org: str, user: str = "admin") -> Any:
    return network.gateway(org, user).network("ch1").contract(LIFECYCLE)


def test_lifecycle_approve_needs_an_admin(network: EmbeddedNetwork) -> None:
    """A client (not an admin) cannot approve a definition; the peer says why."""
    with pytest.raises(EndorsementFailed) as info:
        _lifecycle(network, "Org1", "client").submit("approve", *_definition_args("2.0", 2))
    assert info.value.code == "CONTRACT_ERROR"
    assert "only an organisation admin may change contract definitions (Org1/client is a client)" in info.value.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({2: 3}, "contract 'asset-transfer' is at sequence 1; approve sequence 2"),
        ({2: 0}, "sequence must be a positive integer"),
        ({3: "abc"}, "source_hash must be the 64-hex-digit SHA-256"),
        ({4: "AND('Org1.peer'"}, "endorsement policy:"),
        ({0: "_private"}, "must not start with '_'"),
        ({5: [{"name": "x", "members": ["Org9"]}]}, "collection 'x': Org9 not on this channel"),
    ],
)
def test_lifecycle_approve_refuses_bad_definitions(
    network: EmbeddedNetwork, change: dict[int, Any], message: str
) -> None:
    """A definition with a wrong sequence, hash, policy, name or collection is refused with the reason."""
    args = _definition_args("2.0", 2)
    for index, value in change.items():
        args[index] = value
    with pytest.raises(EndorsementFailed) as info:
        _lifecycle(network, "Org1").submit("approve", *args)
    assert info.value.code == "CONTRACT_ERROR"
    assert message in info.value.message


def test_lifecycle_commit_needs_a_majority(network: EmbeddedNetwork) -> None:
    """Committing without a majority of identical approvals fails, listing who approved."""
    args = _definition_args("2.0", 2)
    with pytest.raises(EndorsementFailed) as info:
        _lifecycle(network, "Org1").submit("commit", *args)
    assert "approved so far: none" in info.value.message
    _lifecycle(network, "Org1").submit("approve", *args)
    different = _definition_args("2.0", 2, policy="OR('Org1.peer','Org2.peer')")
    _lifecycle(network, "Org2").submit("approve", *different)
    network.wait_for_height("ch1", network.orderer.height("ch1"))
    with pytest.raises(EndorsementFailed) as info:
        _lifecycle(network, "Org1").submit("commit", *args)
    assert info.value.code == "CONTRACT_ERROR"
    assert (
        "2 of 3 organisations must approve this exact definition of 'asset-transfer' (sequence 2); "
        "approved so far: Org1" in info.value.message
    )
    definition = network.gateway("Org1").network("ch1").contract(LIFECYCLE).evaluate("definition", "asset-transfer")
    assert definition["sequence"] == 1
    assert definition["version"] == "1.0"


def test_lifecycle_upgrade_rejects_old_version_endorsements(network: EmbeddedNetwork) -> None:
    """After sequence 2 (version 2.0) is committed, a transaction endorsed under 1.0 is CONTRACT_VERSION_MISMATCH."""
    identity = network.identity("Org1")
    prepared = build_proposal(identity, "ch1", "asset-transfer", "create", ("v1", "red", 1, 1), None)
    signed, proposal, sent = prepared.signed, prepared.proposal, prepared.transient
    responses = [network.peer(org).endorse("ch1", signed, sent) for org in ("Org1", "Org2")]
    transaction = encode(Transaction(encode(proposal), responses[0].payload, tuple(r.endorsement for r in responses)))
    old_envelope = encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction)))

    committed = network.deploy(
        "ch1",
        ASSET_TRANSFER,
        policy=POLICY,
        collections=[msgspec.convert(c, CollectionConfig) for c in APPRAISALS],
        version="2.0",
    )
    assert committed["sequence"] == 2
    assert committed["version"] == "2.0"
    assert sorted(committed["approved_by"]) == ["Org1", "Org2", "Org3"]

    home = network.peer("Org1").channel("ch1")
    waiter = home.commit_waiter(proposal.tx_id)
    network.orderer.broadcast("ch1", old_envelope)
    status = waiter.result(timeout=30)
    assert status.code == Code.CONTRACT_VERSION_MISMATCH
    assert "endorsed with version 1.0, the channel runs 2.0" in status.detail
    network.wait_for_height("ch1", status.block + 1)
    for org in ("Org1", "Org2", "Org3"):
        assert network.peer(org).channel("ch1").ledger.state.get("asset-transfer", "asset:v1") is None

    contract = network.gateway("Org2").network("ch1").contract("asset-transfer")
    result = contract.submit("create", "v2", "blue", 2, 2)
    assert result.code == "VALID"
    assert contract.evaluate("read", "v2")["owner"] == "Org2"
    definition = contract.network.contract(LIFECYCLE).evaluate("definition", "asset-transfer")
    assert (definition["version"], definition["sequence"]) == ("2.0", 2)


def test_context_refuses_keys_that_are_not_utf8(state: StateDB) -> None:
    """A key that has no UTF-8 form (a lone surrogate) is refused like any other invalid key."""
    ctx = _context(state)
    with pytest.raises(ContractError):
        ctx.put_state("bad\ud800key", 1)
    assert encode(ctx.rwset())
