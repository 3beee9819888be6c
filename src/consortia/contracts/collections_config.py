"""Private data collections: which organisations may hold a contract's confidential data, and for how long.

A collection names its member organisations. Only their peers keep the plaintext; every peer keeps the salted
hash that the transaction put on the ledger, so anyone can later check a disclosed value against the ledger
without the ledger ever revealing it. ``blocks_to_live`` bounds how long plaintext is kept (0: until purged),
which is how data-protection rules on erasure are honoured; the hash stays.
"""

from __future__ import annotations

import msgspec


class CollectionConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A private data collection of a contract."""

    name: str
    members: tuple[str, ...]
    blocks_to_live: int = 0
    member_only_read: bool = True
    member_only_write: bool = False

    def is_member(self, org: str) -> bool:
        """Whether ``org`` belongs to the collection."""
        return org in self.members
