"""The demo scenario as data: ten traders, five banks, two hundred documents, financings, one race, one review.

The documents come from :func:`~consortia.apps.tradefinance.domain.synthetic.generate_batch` (seeded, so every
demo is the same): realistic GBA traders with valid identifiers, invoices, bills of lading, customs declarations
and warehouse receipts, among them a handful of disguised duplicates presented to two or three banks and planted
near-duplicates. The rest of the scenario says what the banks and regulators then do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """What the demo plays."""

    seed: int = 2026
    documents: int = 200
    traders: int = 10
    financings: int = 16
    """Unique documents (REGU) financed, disbursed and (most) repaid and settled."""
    defaults: int = 1
    """Of those, how many end in default."""
    kyc_days: int = 365
    """How long the banks' KYC attestations run."""
    expired_trader: int = 9
    """The trader (index) whose attestation at its first bank has expired: financing it is refused, and logged."""
    purpose_codes: tuple[str, ...] = ("121010", "121020", "122010")
    """SAFE balance-of-payments codes of trade in goods used for the flows."""
    review_note: str = "Near-duplicate of a document at another bank: ask the bank for the original."
    """The regulator's note on the near-duplicate put up for review."""


def gba() -> Scenario:
    """The Greater Bay Area scenario the demo plays."""
    return Scenario()
