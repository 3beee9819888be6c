"""Validation codes: why a peer accepted or refused each transaction of a block.

An invalid transaction stays in its block (the ordering service cannot know in advance which ones will fail);
every peer computes the same code for it independently, and only ``VALID`` transactions change the state.
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    """The outcome of validating one transaction."""

    VALID = 0
    BAD_PAYLOAD = 1
    BAD_SIGNATURE = 2
    NOT_A_MEMBER = 3
    DUPLICATE_TXID = 4
    ENDORSEMENT_POLICY_FAILURE = 5
    MVCC_READ_CONFLICT = 6
    PHANTOM_READ_CONFLICT = 7
    UNKNOWN_CONTRACT = 8
    BAD_TXID = 9
    BAD_RESPONSE = 10
    WRONG_CHANNEL = 11
    BAD_RWSET = 12
    CONFIG_REJECTED = 13
    CONTRACT_VERSION_MISMATCH = 14
    EXPIRED_TIMESTAMP = 15
    REVOKED_CERTIFICATE = 16
    CONFIG_POLICY_FAILURE = 17


def code_name(value: int) -> str:
    """The name of a validation code, or ``UNKNOWN(n)`` for a value this version does not define."""
    try:
        return Code(value).name
    except ValueError:
        return f"UNKNOWN({value})"
