"""
Policy Evaluation
^^^^^^^^^^^^^^^^^

A transaction carries signatures; after checking them cryptographically, the validator turns each
into a :class:`Signer` -- the signing identity's organisation, its kind (``admin``, ``client``,
``peer`` or ``orderer``) and an ``id`` that tells identities apart, such as a certificate hash --
and asks :func:`satisfied` whether those signers meet the endorsement policy.

A principal ``'Org1.peer'`` is matched by a signer of ``Org1`` whose kind is ``peer``; the role
``member`` is matched by a signer of any kind; ``'Org1.role:analyst'`` by a signer of ``Org1`` whose
certificate carries the ``role`` attribute ``analyst`` (a contract deciding on recorded approvals
passes each approver's role; peers endorsing have none). As in Hyperledger Fabric, one identity vouches for
one principal only: ``AND('Org1.member', 'Org1.member')`` needs two different ``Org1`` identities,
and a signature repeated in a transaction still counts once. Evaluation is therefore a search for
an assignment of distinct identities to the principals of some choice of sub-policies that meets
every threshold. Fabric's own evaluator assigns greedily and can miss such an assignment; this one
searches exhaustively, but cheaply:

- When every principal in the policy names a different organisation, no identity can match two
  principals, so there is nothing to assign: plain boolean evaluation is exact. Nearly all real
  policies (``AND``/``OR``/``MAJORITY`` across organisations) take this path.
- Otherwise identities with the same organisation and kind are interchangeable, so the search
  tracks how many of each kind remain rather than which ones, and after each sub-policy keeps
  only the leftovers that no other leftover beats in every count.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from .tree import ATTRIBUTE_ROLE_PREFIX, OutOf, Policy, Principal, SignedBy, attribute_role, principals

SIGNER_KINDS: tuple[str, ...] = ("admin", "client", "peer", "orderer")
"""The kinds of identity that sign; ``member`` is a role principals name, not a kind."""

Pool = tuple[int, ...]
"""How many unused identities remain of each (organisation, kind) class."""


@dataclass(frozen=True)
class Signer:
    """An identity whose signature has been verified: its organisation, kind and distinct id."""

    org: str
    kind: str
    id: bytes
    role: str | None = None
    """The certificate's ``role`` attribute, if any (what ``'Org.role:NAME'`` principals match)."""

    def __post_init__(self) -> None:
        if self.kind not in SIGNER_KINDS:
            raise ValueError(f"unknown signer kind {self.kind!r}: valid kinds are {', '.join(SIGNER_KINDS)}")
        if not isinstance(self.id, bytes):
            raise TypeError(f"signer id must be bytes, not {type(self.id).__name__}")


def _fills(role: str, kind: str, attribute: str | None) -> bool:
    """Return whether an identity of this kind and role attribute fills a principal's `role`."""
    wanted = attribute_role(role)
    if wanted is not None:
        return attribute == wanted
    return role == "member" or role == kind


def matches(principal: Principal, signer: Signer) -> bool:
    """Return whether `signer` is an identity that `principal` names."""
    return principal.org == signer.org and _fills(principal.role, signer.kind, signer.role)


def distinct_identities(signers: Sequence[Signer]) -> list[Signer]:
    """Return `signers` with repeated ids dropped, refusing one id claimed by two identities."""
    by_id: dict[bytes, Signer] = {}
    for signer in signers:
        seen = by_id.setdefault(signer.id, signer)
        # An id is a certificate hash, so disagreement means a bug upstream; guessing which
        # record is true could let one certificate vouch for an organisation it is not in.
        if seen is not signer and seen != signer:
            raise ValueError(f"signer id {signer.id.hex()} appears as both {seen} and {signer}")
    return list(by_id.values())


def satisfied(policy: Policy, signers: Sequence[Signer]) -> bool:
    """Return whether distinct identities among `signers` satisfy `policy`."""
    if not isinstance(policy, SignedBy | OutOf):
        hint = "; parse it with parse_policy first" if isinstance(policy, str) else ""
        raise TypeError(f"satisfied takes a parsed policy, not {type(policy).__name__}{hint}")
    identities = distinct_identities(signers)
    leaves = principals(policy)
    if len({principal.org for principal in leaves}) == len(leaves):
        held = {(signer.org, signer.kind) for signer in identities}
        held.update((signer.org, "member") for signer in identities)
        held.update((signer.org, f"{ATTRIBUTE_ROLE_PREFIX}{signer.role}") for signer in identities if signer.role)
        return _holds(policy, held)
    return _assignable(policy, leaves, identities)


def _holds(policy: Policy, held: set[tuple[str, str]]) -> bool:
    """Evaluate `policy` as a boolean formula over the (org, role) pairs in `held`."""
    if isinstance(policy, SignedBy):
        return (policy.principal.org, policy.principal.role) in held
    count = 0
    for rule in policy.rules:
        if _holds(rule, held):
            count += 1
            if count == policy.n:
                return True
    return False


def _assignable(policy: Policy, leaves: list[Principal], identities: list[Signer]) -> bool:
    """Search for distinct identities satisfying `policy`, whose principals are `leaves`."""
    # Identities of one organisation, kind and role attribute are interchangeable.
    counts: dict[tuple[str, str, str | None], int] = {}
    for signer in identities:
        if any(matches(principal, signer) for principal in leaves):
            key = (signer.org, signer.kind, signer.role)
            counts[key] = counts.get(key, 0) + 1
    classes = list(counts)
    usable = {
        principal: tuple(
            index
            for index, (org, kind, attribute) in enumerate(classes)
            if org == principal.org and _fills(principal.role, kind, attribute)
        )
        for principal in set(leaves)
    }
    # Identities beyond what all the principals could consume only widen the search.
    pool = tuple(
        min(counts[key], sum(1 for principal in leaves if index in usable[principal]))
        for index, key in enumerate(classes)
    )
    return bool(_leftovers(policy, pool, usable, {}))


def _leftovers(
    policy: Policy,
    pool: Pool,
    usable: dict[Principal, tuple[int, ...]],
    memo: dict[tuple[int, Pool], frozenset[Pool]],
) -> frozenset[Pool]:
    """Return the best pools that can remain after satisfying `policy` from `pool`."""
    # Keyed by id(): the tree outlives this search, and hashing trees would cost more.
    key = (id(policy), pool)
    if key in memo:
        return memo[key]
    if isinstance(policy, SignedBy):
        result = _best({(*pool[:i], pool[i] - 1, *pool[i + 1 :]) for i in usable[policy.principal] if pool[i]})
    else:
        # reached[k]: the pools left after satisfying k of the rules considered so far.
        reached: list[frozenset[Pool]] = [frozenset({pool})] + [frozenset()] * policy.n
        for rule in policy.rules:
            # Downwards, so that one rule is never counted twice.
            for k in range(policy.n - 1, -1, -1):
                if reached[k]:
                    after = set(reached[k + 1])
                    for before in reached[k]:
                        after.update(_leftovers(rule, before, usable, memo))
                    reached[k + 1] = _best(after)
        result = reached[policy.n]
    memo[key] = result
    return result


def _best(pools: set[Pool] | frozenset[Pool]) -> frozenset[Pool]:
    """Return the pools in `pools` that no other pool matches or beats in every count."""
    if len(pools) <= 1:
        return frozenset(pools)
    # A pool that beats another has a strictly larger total, so it is seen first.
    kept: list[Pool] = []
    for pool in sorted(pools, key=sum, reverse=True):
        if not any(all(a >= b for a, b in zip(better, pool, strict=True)) for better in kept):
            kept.append(pool)
    return frozenset(kept)
