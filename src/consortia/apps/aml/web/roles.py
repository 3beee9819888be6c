"""Who is who on the ``aml`` channel, as the pages need to know it before the contract would refuse.

A role counts only from the organisation that may give it (anyone's CA can write ``role=examiner`` into a
certificate): ``analyst`` and ``bsa_officer`` from the bank, ``examiner`` from the examiners; an exchange's people
are known by their organisation. The contract enforces the same on every read and write; the pages use it to show
each person their own pages and to say 403 early, in words.
"""

from __future__ import annotations

from consortia.apps.aml import consortium
from consortia.gateway.server.auth import Principal

CHANNEL = consortium.CHANNEL
BANK = consortium.BANK
EXCHANGES: tuple[str, ...] = tuple(consortium.EXCHANGES)
EXAMINERS = consortium.EXAMINERS
ORGS: tuple[str, ...] = tuple(consortium.ORGS)
ZONE = consortium.ZONE
"""The bank's zone: every time on the pages is New York time, the zone named."""

ANALYST = consortium.ANALYST
BSA_OFFICER = consortium.BSA_OFFICER
EXAMINER = consortium.EXAMINER


def org_name(org: str) -> str:
    """An organisation by its name (``BlueRiverExchange`` → Blue River Digital Exchange, Inc.)."""
    return consortium.DISPLAY.get(org, org)


def is_analyst(principal: Principal | None) -> bool:
    """The bank's analyst."""
    return principal is not None and principal.org == BANK and principal.role == ANALYST


def is_bsa_officer(principal: Principal | None) -> bool:
    """The bank's BSA officer."""
    return principal is not None and principal.org == BANK and principal.role == BSA_OFFICER


def is_bank_staff(principal: Principal | None) -> bool:
    """The bank's analyst or BSA officer (who work alerts and cases)."""
    return is_analyst(principal) or is_bsa_officer(principal)


def is_examiner(principal: Principal | None) -> bool:
    """An examiner (reads everything, writes only examination notes)."""
    return principal is not None and principal.org == EXAMINERS and principal.role == EXAMINER


def is_exchange(principal: Principal | None) -> bool:
    """A person or program of one of the exchanges."""
    return principal is not None and principal.org in EXCHANGES
