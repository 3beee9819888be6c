"""Read scopes: who may read a channel's blocks, transactions and events through the gateway.

A channel's configuration (its signed genesis block) carries its read scope: a list of *organisation and role*
pairs written ``Org:role``. ``role`` is matched against the caller's certificate: its ``role`` attribute
(``auditor``, ``regulator`` …) or its kind (``admin``, ``client``); ``Org:*`` admits everyone of that
organisation. An empty scope means every member organisation, and nobody else.

The organisation is part of every entry because a role is only as good as the CA that vouches for it: any
organisation's CA can put ``role=auditor`` into a certificate it issues, so ``auditor`` counts only from the
organisation the channel's members agreed on. Members' contract routes are not governed by the read scope:
applications show people what they may see through their own routes, which check consent or ownership.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

ANY_ROLE = "*"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class ScopeError(ValueError):
    """A read-scope entry that is not ``Org:role``; the message shows what was found."""


@dataclass(frozen=True)
class ScopeEntry:
    """One organisation and role that may read a channel (``role`` may be ``*``)."""

    org: str
    role: str

    def __str__(self) -> str:
        return f"{self.org}:{self.role}"

    def admits(self, org: str, kind: str, attributes: Mapping[str, str]) -> bool:
        """Whether a caller of ``org`` with this kind and attributes matches the entry."""
        if org != self.org:
            return False
        return self.role == ANY_ROLE or self.role == kind or attributes.get("role") == self.role


def parse_entry(text: str) -> ScopeEntry:
    """Parse ``Org:role`` (or ``Org:*``)."""
    org, sep, role = text.partition(":")
    if not sep or not _NAME.match(org) or not (role == ANY_ROLE or _NAME.match(role)):
        raise ScopeError(f"read scope entry {text!r}: expected 'Org:role' or 'Org:*'")
    return ScopeEntry(org, role)


def read_scope(readers: tuple[str, ...], members: tuple[str, ...]) -> tuple[ScopeEntry, ...]:
    """The entries of a channel's read scope (every member organisation when ``readers`` is empty)."""
    if not readers:
        return tuple(ScopeEntry(org, ANY_ROLE) for org in members)
    return tuple(parse_entry(text) for text in readers)


def may_read(scope: tuple[ScopeEntry, ...], org: str, kind: str, attributes: Mapping[str, str]) -> bool:
    """Whether a caller may read a channel whose read scope is ``scope``."""
    return any(entry.admits(org, kind, attributes) for entry in scope)
