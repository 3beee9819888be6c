"""Tests for the endorsement-policy package: parsing, formatting, evaluation and endorser selection."""

import itertools
import random

import pytest

from consortia.policy import (
    ROLES,
    OutOf,
    Policy,
    PolicySyntaxError,
    Principal,
    SignedBy,
    Signer,
    format_policy,
    majority_policy,
    minimal_org_sets,
    parse_policy,
    parse_policy_cached,
    policy_orgs,
    satisfied,
)
from consortia.policy.parser import MAX_DEPTH
from consortia.policy.tree import principals


def leaf(org: str, role: str) -> SignedBy:
    """Return the leaf policy for `org`.`role`."""
    return SignedBy(Principal(org, role))


def peer(org: str, name: str = "") -> Signer:
    """Return a peer signer of `org` with an id derived from its org and `name`."""
    return Signer(org, "peer", f"{org}/peer/{name}".encode())


def signer(org: str, kind: str, name: str = "") -> Signer:
    """Return a signer of `org` and `kind` with an id derived from all three."""
    return Signer(org, kind, f"{org}/{kind}/{name}".encode())


A, B, C = leaf("Org1", "peer"), leaf("Org2", "peer"), leaf("Org3", "peer")


# --- Parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'Org1.peer'", A),
        ('"Org1.peer"', A),
        ("  'Org1.peer'\n", A),
        ("'HKMA.admin'", leaf("HKMA", "admin")),
        ("'Busan-Coop.member'", leaf("Busan-Coop", "member")),
        ("'org_2.client'", leaf("org_2", "client")),
        ("'Orderers.orderer'", leaf("Orderers", "orderer")),
        ("AND('Org1.peer', 'Org2.peer')", OutOf(2, (A, B))),
        ("and('Org1.peer','Org2.peer')", OutOf(2, (A, B))),
        ("OR('Org1.peer', \"Org2.peer\")", OutOf(1, (A, B))),
        ("Or ( 'Org1.peer' )", OutOf(1, (A,))),
        ("AND('Org1.peer')", OutOf(1, (A,))),
        ("OutOf(2, 'Org1.peer', 'Org2.peer', 'Org3.peer')", OutOf(2, (A, B, C))),
        ("OUTOF(1,'Org1.peer','Org2.peer')", OutOf(1, (A, B))),
        ("outof( 02 ,'Org1.peer','Org2.peer')", OutOf(2, (A, B))),
        ("MAJORITY('Org1.peer', 'Org2.peer', 'Org3.peer')", OutOf(2, (A, B, C))),
        ("majority('Org1.peer', 'Org2.peer')", OutOf(2, (A, B))),
        ("Majority('Org1.peer')", OutOf(1, (A,))),
        (
            "MAJORITY('Org1.peer', 'Org2.peer', 'Org3.peer', 'Org1.admin')",
            OutOf(3, (A, B, C, leaf("Org1", "admin"))),
        ),
        (
            "AND('Org1.member', OR('Org2.peer', 'Org3.peer'))",
            OutOf(2, (leaf("Org1", "member"), OutOf(1, (B, C)))),
        ),
        (
            "\tOutOf(\n2,\r\nAND('Org1.peer','Org2.peer') , OR( 'Org3.peer' ,'Org1.admin'),'Org2.member'\n)\n",
            OutOf(2, (OutOf(2, (A, B)), OutOf(1, (C, leaf("Org1", "admin"))), leaf("Org2", "member"))),
        ),
        ("AND(AND(AND('Org1.peer')))", OutOf(1, (OutOf(1, (OutOf(1, (A,)),)),))),
    ],
)
def test_parse_valid(text: str, expected: Policy) -> None:
    assert parse_policy(text) == expected


def test_parse_keeps_duplicate_principals() -> None:
    assert parse_policy("AND('Org1.member', 'Org1.member')") == OutOf(
        2, (leaf("Org1", "member"), leaf("Org1", "member"))
    )


def test_nesting_up_to_the_limit_parses() -> None:
    text = "AND(" * MAX_DEPTH + "'Org1.peer'" + ")" * MAX_DEPTH
    policy = parse_policy(text)
    for _ in range(MAX_DEPTH):
        assert isinstance(policy, OutOf)
        policy = policy.rules[0]
    assert policy == A


def test_parse_policy_cached_returns_the_same_tree() -> None:
    text = "OR('Org1.peer', 'Org2.peer')"
    first = parse_policy_cached(text)
    assert first == parse_policy(text)
    assert parse_policy_cached(text) is first
    with pytest.raises(PolicySyntaxError):
        parse_policy_cached("AND(")


# --- Formatting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("'Org1.peer'", "'Org1.peer'"),
        ('"Org1.peer"', "'Org1.peer'"),
        ("and('Org1.peer','Org2.peer')", "AND('Org1.peer', 'Org2.peer')"),
        ("or('Org1.peer','Org2.peer')", "OR('Org1.peer', 'Org2.peer')"),
        ("OR('Org1.peer')", "AND('Org1.peer')"),
        ("OutOf(2,'Org1.peer','Org2.peer')", "AND('Org1.peer', 'Org2.peer')"),
        ("OutOf(1,'Org1.peer','Org2.peer')", "OR('Org1.peer', 'Org2.peer')"),
        ("outof(2,'Org1.peer','Org2.peer','Org3.peer')", "OutOf(2, 'Org1.peer', 'Org2.peer', 'Org3.peer')"),
        ("MAJORITY('Org1.peer','Org2.peer','Org3.peer')", "OutOf(2, 'Org1.peer', 'Org2.peer', 'Org3.peer')"),
        (
            "AND('Org1.admin', OR('Org2.peer', OutOf(2, 'A.peer', 'B.peer', 'C.peer')))",
            "AND('Org1.admin', OR('Org2.peer', OutOf(2, 'A.peer', 'B.peer', 'C.peer')))",
        ),
    ],
)
def test_format_is_canonical(text: str, canonical: str) -> None:
    assert format_policy(parse_policy(text)) == canonical


def test_principal_str() -> None:
    assert str(Principal("Org1", "peer")) == "'Org1.peer'"
    assert str(Principal("Busan-Coop", "member")) == "'Busan-Coop.member'"


def random_policy(rng: random.Random, orgs: list[str], roles: tuple[str, ...], depth: int, width: int) -> Policy:
    """Return a random policy at most `depth` operators deep with at most `width` rules per node."""
    if depth == 0 or rng.random() < 0.3:
        return leaf(rng.choice(orgs), rng.choice(roles))
    rules = tuple(random_policy(rng, orgs, roles, depth - 1, width) for _ in range(rng.randint(1, width)))
    return OutOf(rng.randint(1, len(rules)), rules)


def test_round_trip_random_policies() -> None:
    rng = random.Random(1)
    orgs = ["Org1", "Org2", "HKMA", "Busan-Coop", "bank_3", "X"]
    for _ in range(2000):
        policy = random_policy(rng, orgs, ROLES, depth=4, width=4)
        text = format_policy(policy)
        assert parse_policy(text) == policy
        assert format_policy(parse_policy(text)) == text


# --- Errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments", "position"),
    [
        # Empty input.
        ("", ["empty policy", "'Org1.peer'", "AND(...)"], 0),
        ("   \n\t ", ["empty policy"], 6),
        # A missing separator: what was expected, what was found, where.
        ("OR('Org1.member' Org2.member)", ["expected ',' or ')' at position 17, found 'Org2'"], 17),
        ("AND('Org1.peer' 'Org2.peer')", ["expected ',' or ')' at position 16, found 'Org2.peer'"], 16),
        # Roles.
        ("'Org1.pear'", ["unknown role 'pear'", "position 6", "member, admin, client, peer, orderer"], 6),
        ("AND('Org1.peer', 'Org2.Peer')", ["unknown role 'Peer'", "roles are lowercase"], 23),
        ("'Org1.'", ["unknown role ''", "valid roles are"], 6),
        # Principals.
        ("'Org1peer'", ["invalid principal", "exactly one '.'", "position 0"], 0),
        ("'Org1.peer.x'", ["invalid principal", "exactly one '.'"], 0),
        ("'.peer'", ["missing MSP id", "position 0"], 0),
        ("OR('Org1.peer', '1Org.peer')", ["invalid MSP id '1Org'", "position 17", "start with a letter"], 17),
        ("'Org 1.peer'", ["invalid MSP id 'Org 1'"], 1),
        ("Org1.peer", ["found 'Org1'", "principals must be quoted"], 0),
        ("AND('Org1.peer', Org2.peer)", ["position 17", "principals must be quoted"], 17),
        ("'Org1.peer", ["unterminated principal", "position 0"], 0),
        ("AND('Org1.peer', 'Org2.peer)", ["unterminated principal", "position 17"], 17),
        ("AND('Org1.peer\", 'Org2.peer')", ["mismatched quotes", 'opened with "\'" at position 4'], 14),
        # OutOf thresholds.
        ("OutOf(3, 'Org1.peer', 'Org2.peer')", ["OutOf threshold 3", "out of range", "between 1 and 2"], 6),
        ("OutOf(0, 'Org1.peer')", ["OutOf threshold 0", "out of range", "between 1 and 1"], 6),
        ("OutOf(-1, 'Org1.peer')", ["OutOf threshold -1", "out of range"], 6),
        ("OutOf(" + "9" * 5000 + ", 'Org1.peer')", ["out of range"], 6),
        ("OutOf('Org1.peer', 'Org2.peer')", ["expected the OutOf threshold (an integer) at position 6"], 6),
        ("OutOf(1)", ["expected ',' after the OutOf threshold", "at least one sub-policy"], 7),
        ("OutOf()", ["expected the OutOf threshold", "found ')'"], 6),
        # Empty operators and stray commas.
        ("AND()", ["empty AND()", "at least one policy", "position 4"], 4),
        ("or ( )", ["empty OR()", "position 5"], 5),
        ("MAJORITY()", ["empty MAJORITY()"], 9),
        ("AND('Org1.peer',)", ["expected a policy", "position 16", "trailing comma"], 16),
        ("AND(, 'Org1.peer')", ["expected a policy", "position 4", "found ','"], 4),
        # Trailing garbage.
        ("'Org1.peer' 'Org2.peer'", ["expected end of input at position 12", "found 'Org2.peer'"], 12),
        ("AND('Org1.peer') OR", ["expected end of input at position 17", "found 'OR'"], 17),
        ("AND('Org1.peer'),", ["expected end of input at position 16", "found ','"], 16),
        # Unbalanced parentheses.
        ("AND('Org1.peer'))", ["unbalanced parentheses", "')' at position 16 has no matching '('"], 16),
        (")", ["unbalanced parentheses", "position 0"], 0),
        ("AND('Org1.peer'", ["found end of input", "'(' at position 3 is never closed"], 15),
        ("AND(OR('Org1.peer', 'Org2.peer')", ["expected ',' or ')' at position 32", "'(' at position 3"], 32),
        ("AND(", ["found end of input", "'(' at position 3 is never closed"], 4),
        ("('Org1.peer')", ["expected a policy", "found '('", "parentheses only follow"], 0),
        # Operators.
        ("NAND('Org1.peer')", ["unknown operator 'NAND'", "AND, OR, OutOf, MAJORITY"], 0),
        ("AND 'Org1.peer'", ["expected '(' after AND at position 4"], 4),
        ("AND", ["expected '(' after AND", "found end of input"], 3),
        ("AND[('Org1.peer')]", ["unexpected character '['", "position 3"], 3),
        ("AND('Org1.peer'; 'Org2.peer')", ["unexpected character ';'", "position 15"], 15),
        ("AND('Org1.peer',\x00)", ["unexpected character '\\x00'"], 16),
        ("42", ["expected a policy", "found '42'"], 0),
        # Depth.
        ("AND(" * (MAX_DEPTH + 1) + "'Org1.peer'" + ")" * (MAX_DEPTH + 1), ["more than 32"], 4 * MAX_DEPTH),
        ("AND(" * 10_000, ["more than 32"], 4 * MAX_DEPTH),
    ],
)
def test_syntax_errors(text: str, fragments: list[str], position: int) -> None:
    with pytest.raises(PolicySyntaxError) as caught:
        parse_policy(text)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert caught.value.position == position
    assert caught.value.text == text
    assert isinstance(caught.value, ValueError)


def test_error_messages_stay_short_for_huge_tokens() -> None:
    with pytest.raises(PolicySyntaxError) as caught:
        parse_policy("AND('Org1.peer' " + "x" * 100_000 + ")")
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("value", [None, b"AND('Org1.peer')", 42, ["AND"], {"AND": 1}, bytearray(b"x")])
def test_non_str_input_is_a_type_error(value: object) -> None:
    for parse in (parse_policy, parse_policy_cached):
        with pytest.raises(TypeError, match=r"policy text must be a str, not \w+"):
            parse(value)  # type: ignore[arg-type]


def test_bytes_input_suggests_decoding() -> None:
    with pytest.raises(TypeError, match="decode"):
        parse_policy(b"'Org1.peer'")  # type: ignore[arg-type]


VALID_TEXTS = [
    "'Org1.peer'",
    "AND('Org1.peer', 'Org2.peer')",
    "OR('Org1.member', \"Org2.admin\")",
    "OutOf(2, 'Org1.peer', 'Org2.peer', 'Org3.client')",
    "MAJORITY('A.peer', 'B.peer', 'C.peer', 'D.orderer')",
    "AND('Busan-Coop.admin', OR('HKMA.peer', OutOf(1, 'x_1.member')), majority('A.peer'))",
]
FUZZ_ALPHABET = "ANDORUTFMJIYandorutfmjiyO()()(),,,,''\"\" ..\t\n0123456789-_pereadminclt#;[]{}\\é²\x00\u3000"


def check_parse(text: str) -> None:
    """Parse `text`, allowing only PolicySyntaxError, and round-trip whatever parses."""
    try:
        policy = parse_policy(text)
    except PolicySyntaxError as error:
        assert str(error)
        assert error.position is not None and 0 <= error.position <= len(text)
    else:
        assert parse_policy(format_policy(policy)) == policy


def test_fuzz_random_strings() -> None:
    rng = random.Random(20240601)
    for _ in range(5000):
        check_parse("".join(rng.choice(FUZZ_ALPHABET) for _ in range(rng.randint(0, 60))))


def test_fuzz_random_token_sequences() -> None:
    tokens = ["AND", "or", "OutOf", "MAJORITY", "(", ")", ",", "'Org1.peer'", '"Org2.member"', "'Org3.pear'"]
    tokens += ["2", "0", "-1", "1", "Org1", "'", "."]
    rng = random.Random(7)
    parsed = 0
    for _ in range(5000):
        text = rng.choice(["", " ", "\n"]).join(rng.choice(tokens) for _ in range(rng.randint(0, 25)))
        check_parse(text)
        try:
            parse_policy(text)
            parsed += 1
        except PolicySyntaxError:
            pass
    assert parsed > 0


def mutate(rng: random.Random, text: str) -> str:
    """Return `text` with one random edit: a deletion, insertion, replacement, duplication or swap."""
    i, j = sorted(rng.randint(0, len(text)) for _ in range(2))
    edit = rng.randrange(5)
    if edit == 0:
        return text[:i] + text[j:]
    if edit == 1:
        return text[:i] + rng.choice(FUZZ_ALPHABET) + text[i:]
    if edit == 2:
        return text[:i] + rng.choice(FUZZ_ALPHABET) + text[i + 1 :]
    if edit == 3:
        return text[:j] + text[i:j] + text[j:]
    return text[i:j] + text[:i] + text[j:]


def test_fuzz_mutations_of_valid_policies() -> None:
    rng = random.Random(99)
    for _ in range(5000):
        text = rng.choice(VALID_TEXTS)
        for _ in range(rng.randint(1, 4)):
            text = mutate(rng, text)
        check_parse(text)


# --- The tree ---------------------------------------------------------------------------------------


def test_tree_validation() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        Principal("Org1", "root")
    with pytest.raises(ValueError, match="invalid MSP id"):
        Principal("1Org", "peer")
    with pytest.raises(ValueError, match="out of range"):
        OutOf(3, (A, B))
    with pytest.raises(ValueError, match="at least one"):
        OutOf(1, ())
    with pytest.raises(TypeError):
        OutOf(True, (A,))
    with pytest.raises(TypeError):
        OutOf(1, (A, "'Org2.peer'"))  # type: ignore[arg-type]
    assert OutOf(1, [A, B]) == OutOf(1, (A, B))  # type: ignore[arg-type]
    assert hash(OutOf(1, [A, B])) == hash(OutOf(1, (A, B)))  # type: ignore[arg-type]


def test_policy_orgs() -> None:
    policy = parse_policy("AND('Org1.peer', OR('Org2.admin', 'Org1.member'), OutOf(1, 'HKMA.client'))")
    assert policy_orgs(policy) == frozenset({"Org1", "Org2", "HKMA"})
    assert policy_orgs(A) == frozenset({"Org1"})


def test_majority_policy() -> None:
    assert majority_policy(["Org1", "Org2", "Org3"], "peer") == OutOf(2, (A, B, C))
    assert majority_policy(["Org1", "Org2"], "peer") == OutOf(2, (A, B))
    assert majority_policy(["Org1"], "admin") == OutOf(1, (leaf("Org1", "admin"),))
    assert majority_policy(["A", "B", "C", "D"], "member").n == 3
    assert majority_policy(["Org1", "Org2", "Org3"], "peer") == parse_policy(
        "MAJORITY('Org1.peer', 'Org2.peer', 'Org3.peer')"
    )
    with pytest.raises(ValueError):
        majority_policy([], "peer")
    with pytest.raises(ValueError):
        majority_policy(["Org1", "Org1"], "peer")
    with pytest.raises(ValueError):
        majority_policy(["Org1"], "boss")
    with pytest.raises(TypeError):
        majority_policy("Org1", "peer")


# --- Evaluation -------------------------------------------------------------------------------------


def subsets(items: list[Signer]) -> list[list[Signer]]:
    """Return every subset of `items`, as lists."""
    return [list(chosen) for size in range(len(items) + 1) for chosen in itertools.combinations(items, size)]


@pytest.mark.parametrize(
    ("principal", "kind", "expected"),
    [
        ("Org1.peer", "peer", True),
        ("Org1.peer", "admin", False),
        ("Org1.admin", "admin", True),
        ("Org1.admin", "client", False),
        ("Org1.client", "client", True),
        ("Org1.orderer", "orderer", True),
        ("Org1.orderer", "peer", False),
        ("Org1.member", "peer", True),
        ("Org1.member", "admin", True),
        ("Org1.member", "client", True),
        ("Org1.member", "orderer", True),
    ],
)
def test_principal_matching(principal: str, kind: str, expected: bool) -> None:
    policy = parse_policy(f"'{principal}'")
    assert satisfied(policy, [signer("Org1", kind)]) is expected
    assert satisfied(policy, [signer("Org2", kind)]) is False


def test_and_or_outof_truth_tables() -> None:
    pool = [peer("Org1"), peer("Org2"), peer("Org3")]
    policies = {
        "AND('Org1.peer', 'Org2.peer', 'Org3.peer')": lambda orgs: orgs == {"Org1", "Org2", "Org3"},
        "OR('Org1.peer', 'Org2.peer', 'Org3.peer')": lambda orgs: bool(orgs),
        "OutOf(2, 'Org1.peer', 'Org2.peer', 'Org3.peer')": lambda orgs: len(orgs) >= 2,
        "MAJORITY('Org1.peer', 'Org2.peer', 'Org3.peer')": lambda orgs: len(orgs) >= 2,
        "AND('Org1.peer', OR('Org2.peer', 'Org3.peer'))": lambda orgs: "Org1" in orgs and len(orgs) >= 2,
        "OR(AND('Org1.peer', 'Org2.peer'), 'Org3.peer')": lambda orgs: {"Org1", "Org2"} <= orgs or "Org3" in orgs,
        "OutOf(2, OR('Org1.peer', 'Org2.peer'), AND('Org2.peer', 'Org3.peer'), 'Org3.peer')": lambda orgs: (
            bool(orgs & {"Org1", "Org2"}) + ({"Org2", "Org3"} <= orgs) + ("Org3" in orgs) >= 2
        ),
    }
    for text, expected in policies.items():
        policy = parse_policy(text)
        for chosen in subsets(pool):
            orgs = {s.org for s in chosen}
            assert satisfied(policy, chosen) is expected(orgs), (text, sorted(orgs))


def test_each_identity_satisfies_one_principal() -> None:
    twice = parse_policy("AND('Org1.member', 'Org1.member')")
    assert not satisfied(twice, [peer("Org1", "a")])
    assert satisfied(twice, [peer("Org1", "a"), peer("Org1", "b")])
    assert satisfied(twice, [peer("Org1", "a"), signer("Org1", "admin")])

    peer_and_member = parse_policy("AND('Org1.peer', 'Org1.member')")
    assert not satisfied(peer_and_member, [peer("Org1")])
    assert not satisfied(peer_and_member, [signer("Org1", "admin"), signer("Org1", "client")])
    assert satisfied(peer_and_member, [signer("Org1", "admin"), peer("Org1")])

    two_of_three = parse_policy("OutOf(2, 'Org1.admin', 'Org1.member', 'Org2.peer')")
    assert not satisfied(two_of_three, [signer("Org1", "admin")])
    assert satisfied(two_of_three, [signer("Org1", "admin"), signer("Org1", "client")])
    assert satisfied(two_of_three, [signer("Org1", "client"), peer("Org2")])


def test_duplicate_signer_ids_count_once() -> None:
    twice = parse_policy("AND('Org1.member', 'Org1.member')")
    same = peer("Org1", "a")
    assert not satisfied(twice, [same, same])
    assert not satisfied(twice, [same, Signer("Org1", "peer", same.id)])
    assert satisfied(parse_policy("'Org1.peer'"), [same, same])


def test_one_id_with_two_identities_is_refused() -> None:
    with pytest.raises(ValueError, match="appears as both"):
        satisfied(A, [Signer("Org1", "peer", b"x"), Signer("Org2", "peer", b"x")])


def test_search_is_not_greedy() -> None:
    # Fabric's greedy evaluator gives the Org1 peer to 'Org1.member' first and then finds nothing
    # left for 'Org1.peer'; the right answer gives it to 'Org1.peer' and uses the Org2 peer.
    policy = parse_policy("AND(OR('Org1.member', 'Org2.peer'), 'Org1.peer')")
    assert satisfied(policy, [peer("Org1"), peer("Org2")])
    assert not satisfied(policy, [peer("Org1")])


def test_signers_from_unknown_orgs_are_ignored() -> None:
    policy = parse_policy("OutOf(2, 'Org1.peer', 'Org2.peer', 'Org3.peer')")
    strangers = [peer("Evil"), peer("Org4"), signer("Nobody", "admin")]
    assert not satisfied(policy, strangers)
    assert not satisfied(policy, [*strangers, peer("Org1")])
    assert satisfied(policy, [*strangers, peer("Org1"), peer("Org3")])


def test_no_signers() -> None:
    assert not satisfied(A, [])
    assert not satisfied(parse_policy("OR('Org1.member', 'Org2.member')"), ())


def test_satisfied_takes_parsed_policies_and_valid_signers() -> None:
    with pytest.raises(TypeError, match="parse_policy"):
        satisfied("'Org1.peer'", [peer("Org1")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown signer kind"):
        Signer("Org1", "member", b"x")
    with pytest.raises(TypeError):
        Signer("Org1", "peer", "not bytes")  # type: ignore[arg-type]


def reference_satisfied(policy: Policy, signers: list[Signer]) -> bool:
    """Decide `satisfied` by trying every assignment of distinct identities to principals."""
    identities = list({s.id: s for s in signers}.values())
    leaves: list[Principal] = []

    def collect(node: Policy) -> None:
        if isinstance(node, SignedBy):
            leaves.append(node.principal)
        else:
            for rule in node.rules:
                collect(rule)

    collect(policy)

    def fits(principal: Principal, identity: Signer) -> bool:
        if principal.role.startswith("role:"):
            return principal.org == identity.org and principal.role == f"role:{identity.role}"
        return principal.org == identity.org and principal.role in ("member", identity.kind)

    def holds(node: Policy, truth: list[bool], next_leaf: list[int]) -> bool:
        if isinstance(node, SignedBy):
            next_leaf[0] += 1
            return truth[next_leaf[0] - 1]
        results = [holds(rule, truth, next_leaf) for rule in node.rules]
        return sum(results) >= node.n

    def assignments(index: int, used: frozenset[int]):
        if index == len(leaves):
            yield []
            return
        for rest in assignments(index + 1, used):
            yield [False, *rest]
        for j, identity in enumerate(identities):
            if j not in used and fits(leaves[index], identity):
                for rest in assignments(index + 1, used | {j}):
                    yield [True, *rest]

    return any(holds(policy, truth, [0]) for truth in assignments(0, frozenset()))


def test_satisfied_matches_exhaustive_reference() -> None:
    rng = random.Random(42)
    pool = [
        peer("A", "1"),
        peer("A", "2"),
        signer("A", "admin"),
        signer("B", "client"),
        peer("B"),
        signer("C", "orderer"),
    ]
    roles = ("member", "peer", "admin", "client", "orderer", "role:analyst", "role:officer")
    pool += [
        Signer("A", "client", b"A/analyst/1", role="analyst"),
        Signer("A", "client", b"A/officer/1", role="officer"),
        Signer("B", "client", b"B/analyst/1", role="analyst"),
    ]
    checked = 0
    for _ in range(250):
        policy = random_policy(rng, ["A", "B", "C"], roles, depth=3, width=3)
        if len(principals(policy)) > 6:
            continue
        for chosen in subsets(pool):
            # Repeat a signer now and then: duplicates must count once.
            if chosen and rng.random() < 0.2:
                chosen.append(rng.choice(chosen))
            assert satisfied(policy, chosen) is reference_satisfied(policy, chosen), (
                format_policy(policy),
                chosen,
            )
            checked += 1
    assert checked > 2000


# --- Endorser selection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'Org1.peer'", [{"Org1"}]),
        ("'Org1.member'", [{"Org1"}]),
        ("'Org1.admin'", []),
        ("AND('Org1.peer', 'Org2.peer')", [{"Org1", "Org2"}]),
        ("OR('Org2.peer', 'Org1.peer')", [{"Org1"}, {"Org2"}]),
        (
            "OutOf(2, 'Org1.peer', 'Org2.peer', 'Org3.peer')",
            [{"Org1", "Org2"}, {"Org1", "Org3"}, {"Org2", "Org3"}],
        ),
        (
            "AND('Org1.peer', OR('Org2.peer', AND('Org3.peer', 'Org4.peer')))",
            [{"Org1", "Org2"}, {"Org1", "Org3", "Org4"}],
        ),
        ("OR('Org3.peer', AND('Org1.peer', 'Org2.peer'), 'Org2.peer')", [{"Org2"}, {"Org3"}]),
        ("OR('Org1.admin', AND('Org2.peer', 'Org3.member'))", [{"Org2", "Org3"}]),
        # One peer per org cannot fill two principals of the same org.
        ("AND('Org1.peer', 'Org1.member')", []),
        ("OR(AND('Org1.peer', 'Org1.member'), 'Org2.peer')", [{"Org2"}]),
        (
            "AND(OR('Org1.peer', 'Org2.peer'), OR('Org1.peer', 'Org3.peer'))",
            [{"Org1", "Org2"}, {"Org1", "Org3"}, {"Org2", "Org3"}],
        ),
    ],
)
def test_minimal_org_sets(text: str, expected: list[set[str]]) -> None:
    assert minimal_org_sets(parse_policy(text)) == [frozenset(orgs) for orgs in expected]


def test_minimal_org_sets_for_other_kinds() -> None:
    policy = parse_policy("OR('Org1.admin', AND('Org2.peer', 'Org3.member'))")
    assert minimal_org_sets(policy, "admin") == [frozenset({"Org1"})]
    with pytest.raises(ValueError, match="valid kinds"):
        minimal_org_sets(policy, "member")


def test_minimal_org_sets_match_brute_force() -> None:
    rng = random.Random(5)
    orgs = ["A", "B", "C", "D"]
    for _ in range(300):
        policy = random_policy(rng, orgs, ("member", "peer", "admin"), depth=3, width=3)

        def enough(chosen: frozenset[str], policy: Policy = policy) -> bool:
            return satisfied(policy, [peer(org) for org in chosen])

        every = [frozenset(c) for size in range(len(orgs) + 1) for c in itertools.combinations(orgs, size)]
        minimal = [s for s in every if enough(s) and not any(enough(s - {org}) for org in s)]
        expected = sorted(minimal, key=lambda s: (len(s), sorted(s)))
        assert minimal_org_sets(policy) == expected, format_policy(policy)


# --- Roles people hold (certificate role attributes) ------------------------------------------------


def person(org: str, name: str, role: str | None) -> Signer:
    """A client identity of `org` named `name` whose certificate carries the role attribute `role`."""
    return Signer(org, "client", f"{org}/{name}".encode(), role=role)


def test_attribute_role_principals_parse_and_print() -> None:
    policy = parse_policy("AND('AtlanticBank.role:analyst', 'AtlanticBank.role:bsa_officer')")
    assert policy == OutOf(2, (leaf("AtlanticBank", "role:analyst"), leaf("AtlanticBank", "role:bsa_officer")))
    assert parse_policy(format_policy(policy)) == policy
    with pytest.raises(PolicySyntaxError, match="role:NAME for identities whose certificate's role attribute"):
        parse_policy("'AtlanticBank.analyst'")
    with pytest.raises(PolicySyntaxError, match="unknown role 'role:Analyst'"):
        parse_policy("'AtlanticBank.role:Analyst'")
    with pytest.raises(ValueError, match="unknown role 'role:'"):
        Principal("AtlanticBank", "role:")


def test_two_people_with_the_named_roles_are_needed() -> None:
    """Onboarding approval: an analyst and a BSA officer, two different people of the bank."""
    policy = parse_policy("AND('AtlanticBank.role:analyst', 'AtlanticBank.role:bsa_officer')")
    analyst = person("AtlanticBank", "ann", "analyst")
    officer = person("AtlanticBank", "olu", "bsa_officer")
    assert satisfied(policy, [analyst, officer])
    assert not satisfied(policy, [analyst])
    assert not satisfied(policy, [officer, officer])
    assert not satisfied(policy, [analyst, person("AtlanticBank", "ann2", "analyst")])
    # The role must be held in the organisation the principal names, and a peer holds no person's role.
    assert not satisfied(policy, [analyst, person("BlueRiverExchange", "x", "bsa_officer")])
    assert not satisfied(policy, [analyst, Signer("AtlanticBank", "peer", b"AtlanticBank/peer0")])
    assert satisfied(parse_policy("'AtlanticBank.member'"), [analyst])


def test_two_principals_with_one_role_need_two_people() -> None:
    policy = parse_policy("AND('Bank.role:analyst', 'Bank.role:analyst', 'Bank.client')")
    ann, bo, cy = person("Bank", "ann", "analyst"), person("Bank", "bo", "analyst"), person("Bank", "cy", None)
    assert not satisfied(policy, [ann, bo])  # three principals of one bank need three identities
    assert satisfied(policy, [ann, bo, cy])
    assert not satisfied(policy, [ann, cy, ann])


def test_a_contract_caller_is_a_signer_with_its_role() -> None:
    """What a contract does to decide an approval recorded by two people: their callers against a policy."""
    from consortia.contracts.context import Caller

    def caller(name: str, role: str) -> Caller:
        return Caller("AtlanticBank", name, "client", {"role": role}, f"cert-{name}".encode())

    policy = parse_policy("AND('AtlanticBank.role:analyst', 'AtlanticBank.role:bsa_officer')")
    approvers = [caller("ann", "analyst").as_signer(), caller("olu", "bsa_officer").as_signer()]
    assert approvers[0] == Signer("AtlanticBank", "client", b"cert-ann", role="analyst")
    assert satisfied(policy, approvers)
    assert not satisfied(policy, approvers[:1])
