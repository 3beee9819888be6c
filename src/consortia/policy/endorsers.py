"""
Endorser Selection
^^^^^^^^^^^^^^^^^^

Before submitting a transaction, a client must decide which organisations' peers to ask for
endorsements. Each peer signs once, so asking one peer per organisation in a set ``S`` of
organisations yields one ``peer`` signer per member of ``S``. The client wants the sets ``S`` for
which that is enough, and among them only the *minimal* ones: asking more peers than necessary
costs latency and leaks the transaction to organisations that need not see it.

Because one identity of each organisation is all a set provides, a policy naming the same
organisation twice -- ``AND('Org1.peer', 'Org1.member')`` -- cannot be met that way, and a
principal whose role the chosen kind does not fill (``'Org1.admin'`` when asking peers) never
counts. Concretely, a choice of principals that meets every threshold of the policy is usable when
its principals name pairwise different organisations and all accept the kind; its organisations
form a candidate set, and the answer is the minimal candidates.

They are computed bottom-up. A leaf contributes its organisation; an ``OutOf(n, ...)`` node
combines the candidates of ``n`` of its rules, taking one from each and requiring them to be
disjoint. Keeping only minimal candidates at every node loses nothing, since a smaller set is
disjoint from everything a larger one is.
"""

from .evaluate import SIGNER_KINDS
from .tree import Policy, SignedBy

OrgSet = frozenset[str]


def minimal_org_sets(policy: Policy, role: str = "peer") -> list[OrgSet]:
    """Return the minimal sets of orgs whose one `role` identity each satisfies `policy`, smallest first."""
    if role not in SIGNER_KINDS:
        raise ValueError(f"unknown signer kind {role!r}: valid kinds are {', '.join(SIGNER_KINDS)}")
    return sorted(_candidates(policy, role), key=lambda orgs: (len(orgs), sorted(orgs)))


def _candidates(policy: Policy, role: str) -> frozenset[OrgSet]:
    """Return the minimal org sets that satisfy `policy` with one `role` identity per org."""
    if isinstance(policy, SignedBy):
        principal = policy.principal
        if principal.role in ("member", role):
            return frozenset({frozenset({principal.org})})
        return frozenset()
    # chosen[k]: the minimal org sets satisfying k of the rules considered so far.
    chosen: list[frozenset[OrgSet]] = [frozenset({frozenset()})] + [frozenset()] * policy.n
    for rule in policy.rules:
        options = _candidates(rule, role)
        if not options:
            continue
        # Downwards, so that one rule is never counted twice.
        for k in range(policy.n - 1, -1, -1):
            if chosen[k]:
                combined = set(chosen[k + 1])
                combined.update(
                    before | option for before in chosen[k] for option in options if before.isdisjoint(option)
                )
                chosen[k + 1] = _minimal(combined)
    return chosen[policy.n]


def _minimal(sets: set[OrgSet]) -> frozenset[OrgSet]:
    """Return the members of `sets` that have no proper subset in `sets`."""
    kept: list[OrgSet] = []
    for candidate in sorted(sets, key=len):
        if not any(smaller < candidate for smaller in kept):
            kept.append(candidate)
    return frozenset(kept)
