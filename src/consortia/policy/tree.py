"""
Policy Trees
^^^^^^^^^^^^

An endorsement policy says *whose signatures* make a transaction acceptable. It is a tree:

- a leaf, :class:`SignedBy`, names one :class:`Principal` -- an organisation (identified by its
  MSP id) together with a role inside it, written ``'Org1.peer'``. The role ``member`` stands for
  any identity of the organisation; ``admin``, ``client``, ``peer`` and ``orderer`` stand for
  identities of that kind only; ``role:NAME`` stands for identities whose certificate carries the
  ``role`` attribute ``NAME`` -- a person's job, as in ``AND('Bank.role:analyst',
  'Bank.role:bsa_officer')``, which two different people of the bank must satisfy;
- an inner node, :class:`OutOf`, holds a threshold ``n`` and a tuple of sub-policies, and is
  satisfied when at least ``n`` of them are.

``AND`` and ``OR`` are not separate node types: ``AND(a, b, c)`` is ``OutOf(3, a, b, c)`` and
``OR(a, b, c)`` is ``OutOf(1, a, b, c)``. Keeping a single inner node type means every algorithm
over policies (evaluation, endorser selection, formatting) has exactly two cases to handle.

Trees are immutable values: two policies are equal exactly when their trees are, which is what
lets the channel configuration compare, hash and cache them. The canonical text of a tree is given
by :func:`format_policy`, and :func:`consortia.policy.parser.parse_policy` reads it back.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

ROLES: tuple[str, ...] = ("member", "admin", "client", "peer", "orderer")
"""The built-in roles a principal may name, in the order error messages list them."""

ATTRIBUTE_ROLE_PREFIX = "role:"
"""A principal's role ``role:NAME`` names identities whose certificate's ``role`` attribute is ``NAME``."""

ATTRIBUTE_ROLE_PATTERN = re.compile(r"role:[a-z][a-z0-9_]{0,63}")
"""An attribute role: ``role:`` then a lowercase name (letters, digits, ``_``)."""


def is_role(text: str) -> bool:
    """Return whether `text` is a role a principal may name: built-in, or ``role:NAME``."""
    return text in ROLES or ATTRIBUTE_ROLE_PATTERN.fullmatch(text) is not None


def attribute_role(role: str) -> str | None:
    """The attribute value ``role:NAME`` asks for (``NAME``), or None for a built-in role."""
    return role[len(ATTRIBUTE_ROLE_PREFIX) :] if role.startswith(ATTRIBUTE_ROLE_PREFIX) else None


MSP_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
"""An MSP id: a letter, then letters, digits, ``-`` or ``_``."""


def is_msp_id(text: str) -> bool:
    """Return whether `text` is a well-formed MSP id."""
    return MSP_ID_PATTERN.fullmatch(text) is not None


@dataclass(frozen=True)
class Principal:
    """An organisation and a role inside it, written ``'Org1.peer'``."""

    org: str
    role: str

    def __post_init__(self) -> None:
        # Trees are also built by code, not only by the parser; refuse to hold a principal that
        # could not be written down and read back.
        if not isinstance(self.org, str) or not is_msp_id(self.org):
            raise ValueError(
                f"invalid MSP id {self.org!r}: must start with a letter and contain only letters, digits, '-' and '_'"
            )
        if not isinstance(self.role, str) or not is_role(self.role):
            raise ValueError(f"unknown role {self.role!r}: valid roles are {', '.join(ROLES)} or role:NAME")

    def __str__(self) -> str:
        """Return the principal as policy text, e.g. ``'Org1.peer'``."""
        return f"'{self.org}.{self.role}'"


@dataclass(frozen=True)
class SignedBy:
    """A leaf policy: satisfied by one signature from an identity matching `principal`."""

    principal: Principal


@dataclass(frozen=True)
class OutOf:
    """An inner policy: satisfied when at least `n` of `rules` are satisfied."""

    n: int
    rules: tuple["Policy", ...]

    def __post_init__(self) -> None:
        # Accept any sequence for convenience but store a tuple so the node stays hashable.
        if not isinstance(self.rules, tuple):
            if isinstance(self.rules, str) or not isinstance(self.rules, Sequence):
                raise TypeError(f"OutOf rules must be a sequence of policies, not {type(self.rules).__name__}")
            object.__setattr__(self, "rules", tuple(self.rules))
        for rule in self.rules:
            if not isinstance(rule, SignedBy | OutOf):
                raise TypeError(f"OutOf rules must be SignedBy or OutOf, not {type(rule).__name__}")
        if not self.rules:
            raise ValueError("OutOf needs at least one sub-policy")
        # bool is an int subclass, but OutOf(True, ...) is certainly a mistake.
        if not isinstance(self.n, int) or isinstance(self.n, bool):
            raise TypeError(f"OutOf threshold must be an int, not {type(self.n).__name__}")
        if not 1 <= self.n <= len(self.rules):
            raise ValueError(
                f"OutOf threshold {self.n} is out of range: it must be between 1 and {len(self.rules)}, "
                "the number of sub-policies"
            )


Policy = SignedBy | OutOf
"""An endorsement policy: a leaf or an inner node."""


def signed_by(org: str, role: str) -> SignedBy:
    """Return the leaf policy satisfied by one `role` identity of `org`."""
    return SignedBy(Principal(org, role))


def principals(policy: Policy) -> list[Principal]:
    """Return the principals at the leaves of `policy`, left to right, with repeats."""
    if isinstance(policy, SignedBy):
        return [policy.principal]
    found: list[Principal] = []
    for rule in policy.rules:
        found.extend(principals(rule))
    return found


def policy_orgs(policy: Policy) -> frozenset[str]:
    """Return the MSP ids of every organisation named anywhere in `policy`."""
    return frozenset(principal.org for principal in principals(policy))


def majority_policy(orgs: Sequence[str], role: str) -> Policy:
    """Return the policy satisfied by `role` identities of a strict majority of `orgs`."""
    if isinstance(orgs, str):
        # A lone string is a sequence of characters, which is never what the caller meant.
        raise TypeError("majority_policy takes a sequence of MSP ids, not a single str")
    orgs = list(orgs)
    if not orgs:
        raise ValueError("majority_policy needs at least one organisation")
    if len(set(orgs)) != len(orgs):
        raise ValueError(f"majority_policy got duplicate organisations: {orgs}")
    return OutOf(len(orgs) // 2 + 1, tuple(signed_by(org, role) for org in orgs))


def format_policy(policy: Policy) -> str:
    """Return the canonical text of `policy`, which `parse_policy` turns back into it."""
    if isinstance(policy, SignedBy):
        return str(policy.principal)
    if not isinstance(policy, OutOf):
        raise TypeError(f"format_policy takes a SignedBy or OutOf, not {type(policy).__name__}")
    inner = ", ".join(format_policy(rule) for rule in policy.rules)
    # AND wins when n == len == 1; either spelling reads back to the same tree.
    if policy.n == len(policy.rules):
        return f"AND({inner})"
    if policy.n == 1:
        return f"OR({inner})"
    return f"OutOf({policy.n}, {inner})"
