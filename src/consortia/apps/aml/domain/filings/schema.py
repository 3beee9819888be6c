"""Validation of a batch file against FinCEN's XSD, with an error that names the element.

FinCEN publishes one XML Schema per form (``EFL_SARXBatchSchema.xsd``, ``EFL_CTRXBatchSchema.xsd``, v1.2). Two
facts about them matter here:

* They declare ``vc:minVersion="1.1"``, so an XSD 1.0 processor *skips the whole schema* and then finds no
  element declarations at all; xmlschema's ``XMLSchema`` (1.0) does exactly that. They must be loaded with
  ``XMLSchema11``.
* Their target namespace is ``www.fincen.gov/base`` (not a URL) with qualified elements: a batch whose elements
  are in no namespace does not validate, whatever its content.

The schema checks structure, code lists, lengths and patterns and that every ``SeqNum`` in the batch is unique;
it cannot check FinCEN's batch totals (``ActivityCount``, ``PartyCount``, ``TotalAmount``), which
:func:`check_counts` recomputes from the document. :func:`validate` runs both and raises :class:`FilingError`
for the first problem, naming the element (for a missing element, the one that is missing).

The XSDs are FinCEN's, not ours: they are read from ``$CONSORTIA_FINCEN_SCHEMAS`` (a folder), else from the
shared test vectors (``shared/testvectors/fincen`` above the working directory or this package), once per
process. This is the one place the filings read a file.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lxml import etree

from .codes import SUBJECT

NS = "www.fincen.gov/base"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMAS_ENV = "CONSORTIA_FINCEN_SCHEMAS"
_RELATIVE = Path("shared/testvectors/fincen")

SAR = "SARX"
CTR = "CTRX"
SCHEMA_FILES = {SAR: "EFL_SARXBatchSchema.xsd", CTR: "EFL_CTRXBatchSchema.xsd"}

_lock = threading.Lock()
_schemas: dict[str, Any] = {}


class SchemaUnavailable(RuntimeError):
    """FinCEN's XSD could not be found or read."""


class FilingError(ValueError):
    """A filing that is not valid: which element, where, why. No bytes are returned with it."""

    def __init__(self, form: str, element: str, reason: str, path: str = "", expected: str = "", found: str = ""):
        where = f" at {path}" if path else ""
        super().__init__(f"{form} filing invalid: element {element}{where}: {reason}")
        self.form = form
        self.element = element
        self.reason = reason
        self.path = path
        self.expected = expected
        self.found = found


def schema_dir() -> Path:
    """The folder FinCEN's XSDs are read from."""
    configured = os.environ.get(SCHEMAS_ENV)
    if configured:
        return Path(configured)
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            for candidate in (folder / _RELATIVE, folder.parent / _RELATIVE):
                if (candidate / SCHEMA_FILES[SAR]).is_file():
                    return candidate
    raise SchemaUnavailable(
        f"FinCEN's XSDs were not found; set ${SCHEMAS_ENV} to the folder holding {', '.join(SCHEMA_FILES.values())}"
    )


def schema(form: str) -> Any:
    """FinCEN's XSD for ``form`` (``SARX`` or ``CTRX``), loaded once as an XSD 1.1 schema."""
    if form not in SCHEMA_FILES:
        raise ValueError(f"unknown form: expected one of {', '.join(SCHEMA_FILES)}, found {form!r}")
    with _lock:
        if form not in _schemas:
            import xmlschema

            path = schema_dir() / SCHEMA_FILES[form]
            try:
                _schemas[form] = xmlschema.XMLSchema11(str(path))
            except (OSError, xmlschema.XMLSchemaException) as exc:
                raise SchemaUnavailable(f"cannot load FinCEN's {form} schema at {path}: {exc}") from None
        return _schemas[form]


def _local(tag: Any) -> str:
    text = str(tag)
    text = text.rsplit("}", 1)[-1]
    return text.rsplit(":", 1)[-1]


def _element_of(error: Any) -> str:
    """The element an xmlschema error is about: a missing child, an unexpected one, or the one that failed."""
    from xmlschema.validators import XsdAttribute

    unique = re.search(r"Unique-(\w+)", str(error.reason or ""))
    if unique:
        return unique.group(1)  # an identity constraint: the value that repeats (SeqNum, a subtype …)
    expected = [_local(tag) for tag in getattr(error, "expected_tags", None) or ()]
    invalid_tag = getattr(error, "invalid_tag", None)
    if expected and invalid_tag is not None:
        # A child the parent declares, met where another was expected: the expected one is missing.
        # A child the parent does not declare at all: that child is the problem.
        group = getattr(error, "validator", None)
        declared = {_local(e.name) for e in group.iter_elements()} if hasattr(group, "iter_elements") else set()
        return expected[0] if _local(invalid_tag) in declared else _local(invalid_tag)
    if expected:
        return expected[0]
    if invalid_tag is not None:
        return _local(invalid_tag)
    validator = getattr(error, "validator", None)
    if isinstance(validator, XsdAttribute):
        return _local(validator.local_name or validator.name)
    elem = getattr(error, "elem", None)
    if elem is not None:
        return _local(elem.tag)
    return "EFilingBatchXML"


@dataclass(frozen=True)
class BatchCounts:
    """FinCEN's batch totals as recomputed from a document."""

    activity_count: int
    party_count: int
    total_amount: Decimal


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _amount(text: str | None) -> Decimal:
    try:
        return Decimal(text) if text else Decimal(0)
    except InvalidOperation:
        return Decimal(0)  # the schema reports a malformed amount; the totals only add what can be read


def counts(root: etree._Element, form: str) -> BatchCounts:
    """The totals FinCEN's guide defines, recomputed from the document.

    SAR: ``PartyCount`` is the number of Subject parties (``ActivityPartyTypeCode`` 33), ``TotalAmount`` the sum
    of ``TotalSuspiciousAmountText``. CTR: ``PartyCount`` is every ``Party`` of the batch, ``TotalAmount`` the
    sum of ``DetailTransactionAmountText``. ``ActivityCount`` is the number of ``Activity`` elements in both.
    """
    activities = root.findall(_q("Activity"))
    if form == SAR:
        parties = sum(
            1 for party in root.iter(_q("Party")) if (party.findtext(_q("ActivityPartyTypeCode")) or "") == SUBJECT
        )
        total = sum((_amount(e.text) for e in root.iter(_q("TotalSuspiciousAmountText"))), Decimal(0))
    else:
        parties = sum(1 for activity in activities for _ in activity.findall(_q("Party")))
        total = sum((_amount(e.text) for e in root.iter(_q("DetailTransactionAmountText"))), Decimal(0))
    return BatchCounts(len(activities), parties, total)


def check_counts(root: etree._Element, form: str) -> None:
    """Raise :class:`FilingError` when the batch attributes disagree with the document."""
    found = counts(root, form)
    for attribute, value in (
        ("ActivityCount", found.activity_count),
        ("PartyCount", found.party_count),
        ("TotalAmount", found.total_amount),
    ):
        stated = root.get(attribute)
        try:
            matches = stated is not None and Decimal(stated) == Decimal(value)
        except InvalidOperation:
            matches = False
        if not matches:
            raise FilingError(
                form,
                attribute,
                f"the batch states {stated!r} but the document holds {value}",
                "/EFilingBatchXML",
                str(value),
                str(stated),
            )


def validate(document: bytes | etree._Element, form: str) -> None:
    """Check a batch against FinCEN's XSD and totals; raise :class:`FilingError` naming the first bad element."""
    if isinstance(document, bytes):
        try:
            root = etree.fromstring(document, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise FilingError(form, "EFilingBatchXML", f"not well-formed XML: {exc}") from None
    else:
        root = document
    errors = list(schema(form).iter_errors(root))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        reason = str(first.reason or first.message).rstrip(".") + more
        raise FilingError(form, _element_of(first), reason, str(first.path or ""))
    check_counts(root, form)
