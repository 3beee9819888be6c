"""The trade-finance service: one caller's view of the consortium, over the contract through the client SDK.

A :class:`TradeFinanceService` acts for exactly one identity — a bank's officer or service, or a regulator's
examiner — and signs with that identity only (built for a web caller by :meth:`TradeFinanceService.for_caller`
with the gateway's ``backend.acting_identity``; never a borrowed identity). Everything commercial travels to the
contract as *transient data* (documents, KYC files, account references), so no block carries it; what comes back
is statuses, opaque references, risk classes and reasons that name no other bank.

Reads of private data are *access transactions*: the contract decides (the owning bank and the regulators may,
another bank never), logs the decision on the ledger, and only then answers the evaluate that returns the
content, on the owning bank's peer. A refusal the contract makes in a submitted function is itself committed (a
``refusal`` record with who, what and why — never content) and raised here as :class:`Refused` with its
transaction id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consortia.apps.tradefinance.domain.csvrows import Row
    from consortia.apps.tradefinance.domain.documents import DocStatus
    from consortia.gateway.server.auth import Principal
    from consortia.gateway.server.backend import Backend
    from consortia.identity import SigningIdentity
    from consortia.network.embedded import EmbeddedNetwork


class TradeFinanceError(Exception):
    """A request the service cannot carry out; ``code`` is the contract's or the SDK's machine code."""

    def __init__(self, message: str, code: str = "INVALID") -> None:
        super().__init__(message)
        self.code = code


class Refused(TradeFinanceError):
    """The contract refused (and logged the refusal on the ledger in transaction ``tx_id``)."""

    def __init__(self, reason: str, code: str, tx_id: str | None) -> None:
        super().__init__(reason, code)
        self.reason = reason
        self.tx_id = tx_id


# -- what the service answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimilarHit:
    """A suspiciously similar document registered before: its risk class and reasons, never whose or what."""

    risk: str
    """``high``, ``medium`` or ``low``."""
    reasons: tuple[str, ...]
    """Machine codes (``same_parties``, ``amount_within_2pct``, ``dates_within_3_days``, ``numbers_alike`` …)."""
    other_bank: bool = True
    """True when it was registered by another member bank (never named), False when by the caller's own bank."""


@dataclass(frozen=True)
class Registration:
    """What registering one CSV row answered."""

    row: Row
    doc_ref: str
    status: DocStatus
    similar: tuple[SimilarHit, ...]
    tx_id: str


@dataclass(frozen=True)
class FlowView:
    """A disbursement or repayment: the cross-border fields SAFE's reporting needs, and the bank's account ref."""

    kind: str
    """``disbursement`` or ``repayment``."""
    amount: Decimal
    currency: str
    counterparty_country: str
    purpose_code: str
    corridor: str
    """``CN-HK``, ``HK-MO`` … (the bank's place, then the counterparty's); ``CN-CN`` when domestic."""
    tx_id: str
    at_ms: int
    account_ref: str | None = None
    """The account reference (the bank's private data): present only for the bank itself and the regulators."""


@dataclass(frozen=True)
class FinancingStep:
    """One step of a financing's lifecycle, with the transaction that made it."""

    state: str
    tx_id: str
    at_ms: int
    by: str


@dataclass(frozen=True)
class FinancingView:
    """A financing of one registered document (or the refusal to finance it)."""

    financing_id: str
    doc_ref: str
    bank: str
    trader: str
    """The seller's identifier (``USCC:…``, ``HKBR:…``, ``MOCR:…``)."""
    amount: Decimal
    currency: str
    state: str
    """``applied``, ``approved``, ``disbursed``, ``settled``, ``defaulted`` — or ``refused``."""
    status: DocStatus
    """FNCD once financed here; DFIN when refused because the document is already financed."""
    tx_id: str
    at_ms: int
    steps: tuple[FinancingStep, ...] = ()
    flows: tuple[FlowView, ...] = ()
    outstanding: Decimal = Decimal(0)
    reason: str = ""
    """Why it was refused (empty otherwise)."""


@dataclass(frozen=True)
class DocumentView:
    """One of the caller bank's own documents: its content (from the bank's collection), status and financing."""

    doc_ref: str
    bank: str
    doc_type: str
    doc_number: str
    seller_id: str
    seller_name: str
    buyer_id: str
    buyer_name: str
    issue_date: str
    amount: Decimal
    currency: str
    status: DocStatus
    similar: tuple[SimilarHit, ...]
    tx_id: str
    registered_ms: int
    row: int = 0
    financing: FinancingView | None = None


@dataclass(frozen=True)
class KycView:
    """A KYC attestation as every member sees it (the file itself stays in the attesting bank's collection)."""

    bank: str
    trader: str
    level: str
    date: str
    expiry: str
    file_hash: str
    revoked: bool
    current: bool
    """Not revoked and not expired today (by the ledger's latest time)."""
    tx_id: str


@dataclass(frozen=True)
class TraderView:
    """A trader of the shared registry, and whether a current KYC attestation exists and by which banks."""

    trader_id: str
    kind: str
    value: str
    names: Mapping[str, str]
    """By language: ``zh-Hans``, ``zh-Hant``, ``en``, ``pt``."""
    aliases: tuple[str, ...]
    attestations: tuple[KycView, ...]
    tx_id: str

    @property
    def current_kyc(self) -> bool:
        """Whether any bank holds a current attestation."""
        return any(a.current for a in self.attestations)

    @property
    def kyc_banks(self) -> tuple[str, ...]:
        """The banks with a current attestation."""
        return tuple(a.bank for a in self.attestations if a.current)


@dataclass(frozen=True)
class FinancingFigure:
    """Financings of one month, bank, corridor and currency, with the transactions behind the figure."""

    month: str
    bank: str
    corridor: str
    currency: str
    count: int
    amount: Decimal
    tx_ids: tuple[str, ...]


@dataclass(frozen=True)
class AttemptFigure:
    """Duplicate or near-duplicate attempts of one month and bank, with the transactions behind the figure."""

    month: str
    bank: str
    kind: str
    """``duplicate`` (REDU), ``financed_duplicate`` (DFIN: registration or refused financing) or ``near_duplicate``."""
    count: int
    tx_ids: tuple[str, ...]


@dataclass(frozen=True)
class ExposureFigure:
    """What one bank has financed to one trader in one currency (outstanding), with the transactions behind it."""

    trader: str
    bank: str
    currency: str
    amount: Decimal
    count: int
    share: float
    """This bank's part of the trader's exposure in this currency (0–1): concentration."""
    tx_ids: tuple[str, ...]


@dataclass(frozen=True)
class FlagView:
    """A regulator's supervisory flag or note on a ledger record."""

    record_ref: str
    note: str
    by: str
    org: str
    at_ms: int
    tx_id: str


@dataclass(frozen=True)
class RefusalView:
    """A refused read or write, as logged on the ledger: who, what, why (no content)."""

    who: str
    org: str
    function: str
    target: str
    reason: str
    code: str
    at_ms: int
    tx_id: str


@dataclass(frozen=True)
class Oversight:
    """The regulator's view of the whole channel; every figure names the transactions behind it."""

    financings: tuple[FinancingFigure, ...]
    attempts: tuple[AttemptFigure, ...]
    exposure: tuple[ExposureFigure, ...]
    flows: tuple[FlowView, ...]
    flags: tuple[FlagView, ...]
    refusals: tuple[RefusalView, ...]
    records: tuple[FinancingView, ...] = field(default=())


# -- the facade --------------------------------------------------------------------------------------------------


class TradeFinanceService:
    """One caller's trade-finance service over a network (bank officer, bank service, or regulator)."""

    def __init__(self, network: EmbeddedNetwork, identity: SigningIdentity) -> None:
        self.network = network
        self.identity = identity

    @classmethod
    def for_caller(cls, backend: Backend, principal: Principal) -> TradeFinanceService:
        """The service acting for a gateway caller (``backend.acting_identity``: their own key, never another's)."""
        return cls(backend.network, backend.acting_identity(principal))

    @property
    def org(self) -> str:
        """The caller's organisation."""
        return self.identity.info.org

    @property
    def is_bank(self) -> bool:
        """Whether the caller acts for a member bank."""
        raise NotImplementedError

    @property
    def is_regulator(self) -> bool:
        """Whether the caller is a regulator (role ``regulator`` from a regulator organisation)."""
        raise NotImplementedError

    @property
    def zone(self) -> str:
        """The time zone of the caller's organisation's place."""
        raise NotImplementedError

    # documents
    def register_documents(self, rows: Sequence[Row]) -> list[Registration]:
        """Register the caller bank's documents (contents as transient data); one status per row."""
        raise NotImplementedError

    def documents(self) -> list[DocumentView]:
        """The caller bank's own documents with status and financing state."""
        raise NotImplementedError

    def document(self, doc_ref: str) -> DocumentView:
        """One of the caller bank's documents (a regulator may read any: the read is logged)."""
        raise NotImplementedError

    def cancel_document(self, doc_ref: str) -> DocumentView:
        """Cancel one of the caller bank's documents (CANC): its fingerprints stop counting as duplicates."""
        raise NotImplementedError

    # financing
    def apply_financing(self, doc_ref: str, amount: Decimal | str, currency: str) -> FinancingView:
        """Apply to finance a document: FNCD, or DFIN when any of its fingerprints is already financed."""
        raise NotImplementedError

    def approve(self, financing_id: str) -> FinancingView:
        """Approve an applied financing."""
        raise NotImplementedError

    def disburse(
        self,
        financing_id: str,
        *,
        amount: Decimal | str,
        currency: str,
        counterparty_country: str,
        purpose_code: str,
        account_ref: str,
    ) -> FinancingView:
        """Disburse an approved financing (the account reference goes to the bank's collection only)."""
        raise NotImplementedError

    def repay(
        self,
        financing_id: str,
        *,
        amount: Decimal | str,
        currency: str,
        counterparty_country: str,
        purpose_code: str,
        account_ref: str,
    ) -> FinancingView:
        """Record a repayment of a disbursed financing."""
        raise NotImplementedError

    def settle(self, financing_id: str) -> FinancingView:
        """Close a disbursed financing as settled."""
        raise NotImplementedError

    def default(self, financing_id: str, note: str = "") -> FinancingView:
        """Close a disbursed financing as defaulted."""
        raise NotImplementedError

    def financings(self) -> list[FinancingView]:
        """The caller bank's financings (a regulator: every bank's)."""
        raise NotImplementedError

    def financing(self, financing_id: str) -> FinancingView:
        """One financing with its steps and flows."""
        raise NotImplementedError

    # traders and KYC
    def traders(self) -> list[TraderView]:
        """The shared trader registry with each trader's KYC attestations."""
        raise NotImplementedError

    def register_trader(self, trader_id: str, names: Mapping[str, str], aliases: Sequence[str] = ()) -> TraderView:
        """Add a trader to the shared registry (identifier validated: USCC, HK BR, Macau registration)."""
        raise NotImplementedError

    def attest_kyc(self, trader_id: str, level: str, date: str, expiry: str, file: Mapping[str, Any]) -> KycView:
        """Publish the caller bank's KYC attestation; the file goes to the bank's collection only."""
        raise NotImplementedError

    def revoke_kyc(self, trader_id: str) -> KycView:
        """Revoke the caller bank's attestation of a trader (new financing is then refused)."""
        raise NotImplementedError

    def kyc_file(self, trader_id: str, bank: str) -> Mapping[str, Any]:
        """A bank's KYC file (the bank itself or a regulator; another bank is refused, and the refusal logged)."""
        raise NotImplementedError

    # regulators
    def oversight(self) -> Oversight:
        """Financings by bank, corridor and currency per month; attempts; exposure; flows; flags; refusals."""
        raise NotImplementedError

    def flag(self, record_ref: str, note: str) -> FlagView:
        """A regulator's supervisory flag or note on a record (the only write a regulator may make)."""
        raise NotImplementedError

    def export_csv(self) -> str:
        """The oversight figures as CSV (one section per table)."""
        raise NotImplementedError

    def export_xlsx(self) -> bytes:
        """The oversight figures as an XLSX workbook (one sheet per table)."""
        raise NotImplementedError

    # proofs and keys
    def proof(self, tx_id: str) -> dict[str, Any]:
        """The platform's proof of a transaction (what the in-browser verifier checks)."""
        raise NotImplementedError

    def rotate_key(self) -> int:
        """Start a new fingerprint-key epoch (bank admins); returns the new epoch."""
        raise NotImplementedError
