"""What the SAR and CTR builders share: the batch element, sequence numbers, FinCEN's value formats, the hash.

Every element of a batch that FinCEN may point at carries a ``SeqNum`` unique in the whole batch (the XSD's
``Unique-SeqNum``); acknowledgements name errors by it. :class:`Batch` hands them out in document order.
Values follow FinCEN's general rules: no leading or trailing spaces, no line breaks or tabs (the schema's
``\\S+( +\\S+)*`` pattern), dates as ``YYYYMMDD``, amounts in whole US dollars with fractions rounded up,
identification numbers as digits only.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import ROUND_CEILING, Decimal

from lxml import etree

from .model import Address
from .schema import NS, XSI, FilingError, validate

_SCHEMA_LOCATION = {
    "SARX": "www.fincen.gov/base https://www.fincen.gov/base/EFL_SARXBatchSchema.xsd",
    "CTRX": "www.fincen.gov/base https://www.fincen.gov/base/EFL_CTRXBatchSchema.xsd",
}


def clean(text: str) -> str:
    """One line, single spaces, nothing at either end (FinCEN rejects line breaks, tabs and edge spaces)."""
    return " ".join(str(text).split())


def digits(text: str) -> str:
    """An identification number as FinCEN wants it: the digits and letters only (no hyphens or spaces)."""
    return re.sub(r"[^0-9A-Za-z]", "", text)


def yyyymmdd(day: date) -> str:
    """A date as ``YYYYMMDD``."""
    return day.strftime("%Y%m%d")


def whole_dollars(amount: Decimal, form: str, element: str) -> str:
    """An amount in whole US dollars, rounded up (FinCEN's rule), refusing negatives and non-numbers."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise FilingError(form, element, "the amount is not a finite decimal number", expected="USD", found=str(amount))
    if amount < 0:
        raise FilingError(form, element, "the amount is negative", expected=">= 0", found=str(amount))
    return str(int(amount.to_integral_value(rounding=ROUND_CEILING)))


class Batch:
    """An ``EFilingBatchXML`` being built, handing out ``SeqNum`` values in document order."""

    def __init__(self, form: str) -> None:
        self.form = form
        self.root = etree.Element(f"{{{NS}}}EFilingBatchXML", nsmap={"fc2": NS, "xsi": XSI})
        self.root.set(f"{{{XSI}}}schemaLocation", _SCHEMA_LOCATION[form])
        self._seq = 0
        self.add(self.root, "FormTypeCode", form)

    def add(self, parent: etree._Element, tag: str, text: str | None = None, *, seq: bool = False) -> etree._Element:
        """Append ``tag`` to ``parent`` (with the next ``SeqNum`` when ``seq``) and return it."""
        element = etree.SubElement(parent, f"{{{NS}}}{tag}")
        if seq:
            self._seq += 1
            element.set("SeqNum", str(self._seq))
        if text is not None:
            element.text = text
        return element

    def flag(self, parent: etree._Element, tag: str, on: bool) -> None:
        """An indicator: ``Y`` when on; left out when off."""
        if on:
            self.add(parent, tag, "Y")

    def section(self, parent: etree._Element, tag: str) -> etree._Element:
        """A child element with its own ``SeqNum``."""
        return self.add(parent, tag, seq=True)

    def name(self, party: etree._Element, full_name: str, kind: str = "L") -> None:
        """A ``PartyName`` with a full name (transmitter, contact, institution)."""
        element = self.section(party, "PartyName")
        self.add(element, "PartyNameTypeCode", kind)
        self.add(element, "RawPartyFullName", clean(full_name))

    def address(self, party: etree._Element, address: Address) -> None:
        """A US ``Address`` (the schema's element order)."""
        element = self.section(party, "Address")
        self.add(element, "RawCityText", clean(address.city))
        self.add(element, "RawCountryCodeText", clean(address.country))
        self.add(element, "RawStateCodeText", clean(address.state))
        self.add(element, "RawStreetAddress1Text", clean(address.street))
        self.add(element, "RawZIPCode", digits(address.zip_code))

    def phone(self, party: etree._Element, number: str) -> None:
        """A ``PhoneNumber`` (digits only)."""
        element = self.section(party, "PhoneNumber")
        self.add(element, "PhoneNumberText", digits(number))

    def identification(self, party: etree._Element, number: str, type_code: str, *, verbatim: bool = False) -> None:
        """A ``PartyIdentification`` of a type (EIN 2, SSN/ITIN 1, TIN 4, TCC 28, internal control number 29).

        Tax and control numbers lose their hyphens; a ``verbatim`` one (the bank's own case id) keeps them.
        """
        element = self.section(party, "PartyIdentification")
        self.add(element, "PartyIdentificationNumberText", clean(number) if verbatim else digits(number))
        self.add(element, "PartyIdentificationTypeCode", type_code)

    def finish(self, activity_count: int, party_count: int, total_amount: int, **extra: int) -> bytes:
        """Set the batch totals, validate against FinCEN's XSD and totals, and return the bytes (never invalid)."""
        self.root.set("TotalAmount", str(total_amount))
        self.root.set("PartyCount", str(party_count))
        self.root.set("ActivityCount", str(activity_count))
        for attribute, value in extra.items():
            self.root.set(attribute, str(value))
        validate(self.root, self.form)
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def filing_hash(xml: bytes) -> str:
    """SHA-256 of the exact bytes of a filing, in lowercase hex: what the ledger records and ``sha256sum`` prints."""
    if not isinstance(xml, bytes):
        raise TypeError(f"expected the filing's bytes, found {type(xml).__name__}")
    return hashlib.sha256(xml).hexdigest()
