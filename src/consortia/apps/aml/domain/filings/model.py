"""What a filing is made of: the filing bank and its transmitter, the subjects, the activity.

These are the inputs of :func:`~.sar.build_sar` and :func:`~.ctr.build_ctr`, as plain frozen values. They carry
what FinCEN's forms ask for, in the words of the forms (a *transmitter* is whoever sends the batch file, with its
Transmitter Control Code; the *filing institution* is the bank; the *contact office* answers FinCEN's questions;
a *subject* is the person or entity the SAR is about; in a CTR the *person conducting the transaction*).
Identification numbers are stored as digits; the builders format dates and amounts as FinCEN wants them
(``YYYYMMDD``; whole US dollars, fractions rounded up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .codes import DEPOSITS, OCC, PERSON_OWN_BEHALF, Classification


@dataclass(frozen=True)
class Address:
    """A US postal address (FinCEN's state code is the USPS one; ZIP has 5 or 9 digits, no hyphen)."""

    street: str
    city: str
    state: str
    zip_code: str
    country: str = "US"


@dataclass(frozen=True)
class Transmitter:
    """Whoever sends the batch to BSA E-Filing: name, address, phone, TIN and Transmitter Control Code."""

    name: str
    address: Address
    phone: str
    tin: str
    tcc: str
    """FinCEN's Transmitter Control Code; ``TBSATEST`` for the BSA E-Filing test system."""
    contact_name: str


@dataclass(frozen=True)
class Filer:
    """The filing bank: legal name, EIN, address, primary federal regulator, contact office, transmitter."""

    name: str
    ein: str
    address: Address
    contact_office: str
    contact_phone: str
    transmitter: Transmitter
    primary_regulator: str = OCC
    """FinCEN's federal regulator code: ``4`` is the OCC (national banks)."""
    branch_address: Address | None = None
    """Where the activity occurred, when not at the main office."""


@dataclass(frozen=True)
class Subject:
    """A person or entity a SAR is about (or, in a CTR, a person involved in the transaction)."""

    name: str
    """An entity's legal name, or an individual's last name."""
    first_name: str = ""
    is_entity: bool = True
    tin: str = ""
    tin_type: str = "EIN"
    """``EIN`` for an entity, ``SSN`` or ``ITIN`` for an individual."""
    address: Address | None = None
    birth_date: date | None = None
    accounts: tuple[str, ...] = ()
    """Account numbers at the filing bank that the activity affected."""
    customer: bool = True
    """Whether the subject is the bank's customer (its relationship to the institution)."""
    alternate_name: str = ""
    """A DBA name (entity) or an alias (individual)."""


@dataclass(frozen=True)
class SuspiciousActivity:
    """What the SAR reports: the period, the amount, the classifications, and the narrative."""

    start: date
    end: date
    amount: Decimal | None
    """The total suspicious amount in USD; None when unknown."""
    narrative: str
    filed_on: date
    classifications: tuple[Classification, ...] = ()
    """Empty: the defaults for the case's typologies (:func:`~.codes.classifications_for`)."""
    prior_bsa_id: str = ""
    """The BSA ID of the previous SAR, for a continuing report (taken from the case when empty)."""
    cumulative_amount: Decimal | None = None
    """For a continuing report: the total of this and the previous reports."""
    note_to_fincen: str = ""
    """At most 50 characters, e.g. an advisory's key term."""


@dataclass(frozen=True)
class CashItem:
    """One line of a CTR: a kind of cash in or out (FinCEN's detail code) and its amount."""

    code: str
    """e.g. ``55`` deposit(s), ``56`` withdrawal(s)."""
    amount: Decimal
    other_text: str = ""


@dataclass(frozen=True)
class CtrPerson:
    """A person involved in the cash transactions, with their accounts and cash in and out."""

    subject: Subject
    role: str = PERSON_OWN_BEHALF
    """``50`` on their own behalf, ``17`` for another, ``23`` on whose behalf."""
    cash_in: Decimal = Decimal(0)
    cash_out: Decimal = Decimal(0)
    accounts_in: tuple[str, ...] = ()
    accounts_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class CurrencyActivity:
    """The business day's cash transactions a CTR reports."""

    transaction_date: date
    filed_on: date
    cash_in: tuple[CashItem, ...] = ()
    cash_out: tuple[CashItem, ...] = ()
    aggregated: bool = True
    """Several transactions below $10,000 each, aggregated (31 CFR 1010.313)."""


def deposits(amount: Decimal) -> CashItem:
    """A cash-in line of deposits."""
    return CashItem(DEPOSITS, amount)
