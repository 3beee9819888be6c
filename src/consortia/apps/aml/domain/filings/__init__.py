"""FinCEN filings: the SAR and the CTR as BSA E-Filing batch XML, valid before they exist.

A US bank reports to FinCEN through the BSA E-Filing System, in batch files of XML (``EFilingBatchXML``) that
FinCEN's schemas describe: a Suspicious Activity Report (``FormTypeCode`` ``SARX``) when a case is decided SAR,
a Currency Transaction Report (``CTRX``) for cash over $10,000 in a business day. The builders here —
:func:`build_sar` (:mod:`.sar`) and :func:`build_ctr` (:mod:`.ctr`) — write them with lxml from frozen inputs
(:mod:`.model`), and validate each against FinCEN's XSD and its batch totals (:mod:`.schema`) *before* returning:
an invalid filing raises :class:`FilingError` naming the element, and no bytes of it ever exist to be written.
:func:`activity_from` and :func:`draft_narrative` turn a case and its transactions into the report's period,
amount and a factual first draft of the narrative for the analyst to complete; :func:`ctr_due` is the CTR's
15-day deadline. :func:`filing_hash` is the SHA-256 of the exact bytes, which the ledger records so an examiner
can check the file FinCEN received is the one the case points to. :mod:`.codes` holds FinCEN's code lists by name.

The builders are deterministic (no clock: the filing date is an input), so the same case and inputs always give
the same bytes and the same hash.
"""

from .codes import Classification, classifications_for
from .common import filing_hash
from .ctr import CTR_FILING_DAYS, CTR_THRESHOLD, build_ctr, ctr_due, currency_activity
from .model import Address, CashItem, CtrPerson, CurrencyActivity, Filer, Subject, SuspiciousActivity, Transmitter
from .sar import activity_from, build_sar, case_transactions, draft_narrative, narrative_blocks
from .schema import CTR, SAR, FilingError, SchemaUnavailable, counts, validate

__all__ = [
    "CTR",
    "CTR_FILING_DAYS",
    "CTR_THRESHOLD",
    "SAR",
    "Address",
    "CashItem",
    "Classification",
    "CtrPerson",
    "CurrencyActivity",
    "Filer",
    "FilingError",
    "SchemaUnavailable",
    "Subject",
    "SuspiciousActivity",
    "Transmitter",
    "activity_from",
    "build_ctr",
    "build_sar",
    "case_transactions",
    "classifications_for",
    "counts",
    "ctr_due",
    "currency_activity",
    "draft_narrative",
    "filing_hash",
    "narrative_blocks",
    "validate",
]
