"""One value per field, however it was written: the normalisation every fingerprint is computed on.

The same invoice reaches two banks typed by two clerks. One writes ``INV-0042``, ``2020-05-18``, ``1,234.50`` and
``RMB``; the other, on a Chinese input method, ``ＩＮＶ－４２``, ``2020年5月18日``, ``１２３４.５`` and ``人民币``.
A keyed hash of the raw text would call them two documents — which is exactly how a document financed twice
slips through. So every key field is first brought to one canonical form:

* **Unicode NFKC** first, everywhere (:func:`nfkc`): full-width letters and digits (``ＡＢＣ１２３``) and the
  ideographic space become their ASCII forms; compatibility characters fold.
* **Free text** (:func:`normalise_text`; names, vessels, ports) is case-folded, its separators ``- _ / . , ·``
  become spaces and runs of spaces collapse: ``Cosco  Shipping-Star`` ≡ ``COSCO SHIPPING STAR``.
* **Document numbers** (:func:`normalise_doc_number`) are upper-cased, every space and separator dropped (they
  carry no meaning: ``INV-0042``, ``INV 0042`` and ``INV0042`` are one number), and then the leading zeros of each
  run of digits dropped (padding: a clerk's ``INV42`` is the printer's ``INV0042``): ``inv - 0042`` ≡ ``INV42``,
  while ``INV-0042`` and ``INV-0043`` stay two numbers. Separators go *first*, so ``ZL25-05422`` ≡ ``ZL2505422``
  (a separator left out is the commonest retyping); the price is that zeros padding a run *after* a separator are
  kept (``ZL25-5422`` is another number: ``ZL255422``) — such a copy still meets its original on the ``parties``
  fingerprint.
* **Dates** (:func:`parse_date`): ISO ``2020-05-18``, ``2020/05/18``, ``2020.05.18``, compact ``20200518``,
  Chinese ``2020年5月18日``, day-first numeric ``18/05/2020``, ``18-05-2020``, ``18.05.2020``, and month names
  ``18 May 2020``, ``May 18, 2020``, ``18-May-20``. A numeric date with the year last is read **day first**
  (``05/06/2020`` is 5 June): the convention of Hong Kong, Macau and of English-language documents of the
  Mainland; the month-first US reading is never guessed. Two-digit years are accepted only with a month name
  (``18-May-20``, the bill-of-lading habit) and mean 2000–2099.
* **Amounts** (:func:`parse_amount`): ``1,234.50``, ``1234.5``, ``１２３４.５``, ``1 234.50``. The decimal mark
  is ``.``; ``,`` and spaces group thousands (groups of three digits). The European forms ``1.234,50`` and
  ``1 234,50`` are read too, because they are unambiguous: when both marks appear the last one is the decimal
  mark, and a lone ``,`` followed by one or two digits is a decimal comma. ``1,234`` is one thousand two hundred
  and thirty-four. At most 15 digits before the decimal mark and 4 after. Zero, negative, ``NaN``, infinite and
  exponent forms are refused — nothing is financed against them. The value is exact (:class:`decimal.Decimal`);
  ``1234.5`` and ``1,234.50`` are equal, and :func:`amount_text` gives their one canonical spelling.
* **Currencies** (:func:`parse_currency`) become ISO 4217 codes: ``RMB``, ``¥``, ``元``, ``人民币`` → ``CNY``;
  ``HK$``, ``港币``, ``港元`` → ``HKD``; ``MOP$``, ``澳门元``, ``澳門元``, ``葡币`` → ``MOP``; ``US$``, ``美元`` →
  ``USD``; ``€`` → ``EUR``, ``£`` → ``GBP``, ``円`` → ``JPY``. **CNH** (offshore renminbi, Hong Kong's market
  code, not an ISO 4217 code) is the same currency for a trade document and becomes ``CNY``: an invoice in CNH
  presented as CNY elsewhere is the same invoice. ``¥`` is read as renminbi, as it is in this region; a yen
  invoice says ``JPY`` or ``円``. A bare ``$`` names no currency and is refused.

Every parser raises :class:`InvalidField` naming the field, what was expected and what was found, so a CSV
row's error can tell a person exactly which cell to fix.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

__all__ = [
    "CURRENCIES",
    "InvalidField",
    "amount_text",
    "nfkc",
    "normalise_doc_number",
    "normalise_text",
    "parse_amount",
    "parse_currency",
    "parse_date",
]


class InvalidField(ValueError):
    """A field that cannot be read: which field, what was expected, what was found."""

    def __init__(self, field: str, expected: str, found: str) -> None:
        super().__init__(f"{field}: expected {expected}, found {found!r}")
        self.field = field
        self.expected = expected
        self.found = found


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width forms and compatibility characters folded to their plain equivalents."""
    return unicodedata.normalize("NFKC", text)


# Separators that carry no meaning in names, numbers, vessels and ports. "·" (U+00B7) and "・" (U+30FB, what
# NFKC makes of the half-width katakana middle dot) separate transliterated names; NFKC has already turned the
# full-width forms of the others into these.
_SEPARATORS = "-_/.,·・‧"
_SEPARATOR_RUN = re.compile(r"[\s" + re.escape(_SEPARATORS) + r"]+")
_DOC_NUMBER_DROP = re.compile(r"[\s" + re.escape(_SEPARATORS) + r"#:]+")
_DIGIT_RUN = re.compile(r"\d+")


def normalise_text(text: str) -> str:
    """NFKC, case-folded, separators ``-_/.,·`` as spaces, runs of spaces collapsed, ends trimmed."""
    return _SEPARATOR_RUN.sub(" ", nfkc(text).casefold()).strip()


def normalise_doc_number(text: str) -> str:
    """NFKC, upper case, every space and separator dropped, then the leading zeros of each digit run dropped."""
    compact = _DOC_NUMBER_DROP.sub("", nfkc(text).upper())
    return _DIGIT_RUN.sub(lambda m: m.group().lstrip("0") or "0", compact)


# -- dates ---------------------------------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<mon>[a-z]{3,9})\.?"
_DATE_PATTERNS = (
    # Year first: ISO and its slash/dot cousins, and the compact form.
    re.compile(r"(?P<y>\d{4})\s*[-/.]\s*(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
    # Chinese: 2020年5月18日 (the 日 or 号 may be left off).
    re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号號]?"),
    # Year last, numeric: day first (the region's convention, see the module docstring).
    re.compile(r"(?P<d>\d{1,2})\s*[-/.]\s*(?P<m>\d{1,2})\s*[-/.]\s*(?P<y>\d{4})"),
    # Month names: 18 May 2020, 18-May-20, 18 May, 2020; May 18, 2020.
    re.compile(r"(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s\-/.]*" + _MONTH + r"[\s\-/.,]*(?P<y>\d{4}|\d{2})"),
    re.compile(_MONTH + r"[\s\-/.]*(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s,]*(?P<y>\d{4})"),
)
_DATE_EXPECTED = "a date such as 2020-05-18, 18/05/2020, 20200518, 2020年5月18日 or 18 May 2020 (day before month)"


def parse_date(text: str, *, field: str = "issue_date") -> date:
    """A calendar date from any of the region's common notations (numeric year-last dates read day first)."""
    cleaned = nfkc(text).strip().casefold()
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(cleaned)
        if match is None:
            continue
        parts = match.groupdict()
        if "mon" in parts:
            month = _MONTHS.get(parts["mon"])
            if month is None:
                continue
        else:
            month = int(parts["m"])
        year = int(parts["y"])
        if len(parts["y"]) == 2:
            year += 2000
        if not 1900 <= year <= 2199:  # a typo, not a trade document
            raise InvalidField(field, _DATE_EXPECTED + " with a year from 1900 to 2199", text)
        try:
            return date(year, month, int(parts["d"]))
        except ValueError:
            raise InvalidField(field, _DATE_EXPECTED + " that exists in the calendar", text) from None
    raise InvalidField(field, _DATE_EXPECTED, text)


# -- amounts -------------------------------------------------------------------------------------------------------

_AMOUNT_CHARS = re.compile(r"[0-9.,]+")
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+")
_AMOUNT_EXPECTED = "a positive amount such as 1,234.50 or 1234.5 (decimal point '.', thousands ',' or space)"
# Spaces used to group thousands: ordinary, no-break (NFKC turns it into a space) and thin/narrow spaces.
_GROUP_SPACES = re.compile(r"(?<=\d)[ \u2009\u202f\u00a0'](?=\d{3}(?:\D|$))")


def parse_amount(text: str, *, field: str = "amount") -> Decimal:
    """A positive exact amount from ``1,234.50``, ``1234.5``, ``１２３４.５`` or ``1 234,50``."""
    cleaned = _GROUP_SPACES.sub("", nfkc(text).strip())
    if not cleaned or _AMOUNT_CHARS.fullmatch(cleaned) is None:
        raise InvalidField(field, _AMOUNT_EXPECTED, text)
    last_dot, last_comma = cleaned.rfind("."), cleaned.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        # Both marks: the last one is the decimal mark, the other groups thousands.
        decimal_mark, group_mark = (".", ",") if last_dot > last_comma else (",", ".")
    elif last_comma >= 0:
        # "1,234" groups thousands; "1234,5" and "1 234,50" (spaces already gone) carry a decimal comma.
        decimal_mark, group_mark = (",", ".") if re.fullmatch(r"\d+,\d{1,2}", cleaned) else (".", ",")
    else:
        # Several dots can only group thousands (1.234.567); one dot is the decimal point.
        decimal_mark, group_mark = (",", ".") if cleaned.count(".") > 1 else (".", ",")
    if decimal_mark in cleaned:
        whole, _, fraction = cleaned.rpartition(decimal_mark)
        if not fraction.isdigit() or decimal_mark in whole:
            raise InvalidField(field, _AMOUNT_EXPECTED, text)
    else:
        whole, fraction = cleaned, ""
    if group_mark in whole:
        if _GROUPED.fullmatch(whole.replace(group_mark, ",")) is None:
            raise InvalidField(field, _AMOUNT_EXPECTED + " with thousands in groups of three", text)
        whole = whole.replace(group_mark, "")
    if not whole.isdigit():
        raise InvalidField(field, _AMOUNT_EXPECTED, text)
    # Beyond any trade document (ISO 4217 minor units go to 3 decimals): a paste gone wrong. The contract's wire
    # form takes the same bounds.
    if len(whole.lstrip("0")) > 15 or len(fraction) > 4:
        raise InvalidField(field, "an amount of at most 15 digits before the decimal mark and 4 after", text)
    try:
        value = Decimal(f"{whole}.{fraction}" if fraction else whole)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits by now
        raise InvalidField(field, _AMOUNT_EXPECTED, text) from None
    if value <= 0:
        raise InvalidField(field, "an amount greater than zero", text)
    return value


def amount_text(amount: Decimal) -> str:
    """The one canonical spelling of an amount: plain digits, no exponent, no trailing zeros (``1234.5``)."""
    return format(amount.normalize(), "f")


# -- currencies ----------------------------------------------------------------------------------------------------

CURRENCIES = frozenset(
    {
        *("AED", "AUD", "BDT", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR"),
        *("ILS", "INR", "JPY", "KRW", "KWD", "KZT", "LKR", "MOP", "MXN", "MYR", "NOK", "NZD", "PHP", "PKR"),
        *("PLN", "QAR", "RUB", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "USD", "VND", "ZAR"),
    }
)
"""ISO 4217 codes of the currencies trade documents of the region are written in (a deliberate short list: an
unknown code is a typo far more often than a currency nobody here trades in)."""

_CURRENCY_ALIASES = {
    # Renminbi. CNH (offshore) is the same currency for a trade document; see the module docstring.
    "RMB": "CNY",
    "CNH": "CNY",
    "RMB¥": "CNY",
    "CN¥": "CNY",
    "¥": "CNY",
    "元": "CNY",
    "人民币": "CNY",
    "人民幣": "CNY",
    "人民币元": "CNY",
    # Hong Kong dollar.
    "HK$": "HKD",
    "HKD$": "HKD",
    "港币": "HKD",
    "港幣": "HKD",
    "港元": "HKD",
    # Macau pataca.
    "MOP$": "MOP",
    "PATACA": "MOP",
    "PATACAS": "MOP",
    "澳门元": "MOP",
    "澳門元": "MOP",
    "澳门币": "MOP",
    "澳門幣": "MOP",
    "葡币": "MOP",
    "葡幣": "MOP",
    # US dollar.
    "US$": "USD",
    "USD$": "USD",
    "美元": "USD",
    "美金": "USD",
    # Others commonly met.
    "€": "EUR",
    "欧元": "EUR",
    "歐元": "EUR",
    "£": "GBP",
    "英镑": "GBP",
    "英鎊": "GBP",
    "円": "JPY",
    "日元": "JPY",
    "日圓": "JPY",
}
_CURRENCY_EXPECTED = (
    "an ISO 4217 currency code (CNY, HKD, MOP, USD, EUR …) or a known alias (RMB, HK$, MOP$, US$, 人民币 …)"
)


def parse_currency(text: str, *, field: str = "currency") -> str:
    """An ISO 4217 code from a code or a common alias (``RMB``→``CNY``, ``HK$``→``HKD``, ``澳門元``→``MOP`` …)."""
    cleaned = re.sub(r"\s+", "", nfkc(text)).upper()
    if cleaned in CURRENCIES:
        return cleaned
    code = _CURRENCY_ALIASES.get(cleaned)
    if code is None:
        raise InvalidField(field, _CURRENCY_EXPECTED, text)
    return code
