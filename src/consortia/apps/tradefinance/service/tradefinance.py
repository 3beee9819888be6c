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

import csv
import hashlib
import hmac
import io
import os
import secrets
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from consortia.apps.tradefinance.consortium import (
    BANKS,
    CHANNEL,
    CONTRACT,
    JURISDICTION,
    REGULATORS,
    ROLE_ORGS,
    zone_of,
)
from consortia.apps.tradefinance.contract.codec import document_to_json
from consortia.apps.tradefinance.domain.csvrows import Row
from consortia.apps.tradefinance.domain.documents import DocStatus
from consortia.apps.tradefinance.domain.identifiers import parse_trader_id
from consortia.apps.tradefinance.domain.normalise import InvalidField
from consortia.client.errors import EndorsementFailed, GatewayError, TransactionInvalid
from consortia.client.sdk import Contract, Gateway
from consortia.identity import SigningIdentity
from consortia.ledger.encoding import canonical_json
from consortia.ledger.proof import UnknownTransaction, build_transaction_proof

if TYPE_CHECKING:
    from consortia.gateway.server.auth import Principal
    from consortia.gateway.server.backend import Backend
    from consortia.network.embedded import EmbeddedNetwork

RETRY_CODES = ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT", "ENDORSEMENT_MISMATCH")
BATCH = 200
"""Documents per registration transaction (the contract takes up to 500; 200 keeps a block well under 1 MiB)."""


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


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _plain(amount: Decimal | str) -> str:
    """An amount as the contract takes it: plain decimal text, at most four decimals."""
    value = Decimal(str(amount))
    if not value.is_finite() or value <= 0:
        raise TradeFinanceError(f"amount: expected a positive number, found {amount!r}", "INVALID")
    return format(value.quantize(Decimal("0.0001")).normalize(), "f")


def _hits(entries: Sequence[Mapping[str, Any]]) -> tuple[SimilarHit, ...]:
    return tuple(SimilarHit(e["risk"], tuple(e["reasons"]), bool(e.get("other_bank", True))) for e in entries)


def _flow(record: Mapping[str, Any], account_ref: str | None = None) -> FlowView:
    return FlowView(
        kind=record["kind"],
        amount=_decimal(record["amount"]),
        currency=record["currency"],
        counterparty_country=record["counterparty_country"],
        purpose_code=record["purpose_code"],
        corridor=record["corridor"],
        tx_id=record["tx"],
        at_ms=record["at"],
        account_ref=account_ref,
    )


def _financing(record: Mapping[str, Any], accounts: Sequence[Any] = ()) -> FinancingView:
    flows = []
    for flow in record.get("flow_records", ()):
        account = accounts[flow["n"]] if flow["n"] < len(accounts) and accounts[flow["n"]] else None
        flows.append(_flow(flow, account.get("account_ref") if isinstance(account, Mapping) else None))
    return FinancingView(
        financing_id=record["id"],
        doc_ref=record["doc"],
        bank=record["bank"],
        trader=record["trader"],
        amount=_decimal(record["amount"]),
        currency=record["currency"],
        state=record["state"],
        status=DocStatus.FNCD,
        tx_id=record["tx"],
        at_ms=record["at"],
        steps=tuple(FinancingStep(s["state"], s["tx"], s["at"], s["by"]) for s in record["steps"]),
        flows=tuple(flows),
        outstanding=_decimal(record.get("outstanding")),
    )


def _month(at_ms: int, zone: str) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz=ZoneInfo(zone)).strftime("%Y-%m")


class TradeFinanceService:
    """One caller's trade-finance service over a network (bank officer, bank service, or regulator)."""

    def __init__(self, network: EmbeddedNetwork, identity: SigningIdentity) -> None:
        self.network = network
        self.identity = identity
        self.retries = 0
        """How many submissions were retried after an MVCC conflict (the race test reads it)."""

    @classmethod
    def for_caller(cls, backend: Backend, principal: Principal) -> TradeFinanceService:
        """The service acting for a gateway caller (``backend.acting_identity``: their own key, never another's)."""
        return cls(backend.network, backend.acting_identity(principal))

    @classmethod
    def as_user(cls, network: EmbeddedNetwork, org: str, user: str = "client", password: str | None = None):
        """The service acting as a program's key file, or a person's wallet entry opened with their password."""
        if password is None:
            try:
                return cls(network, network.identity(org, user))
            except (OSError, ValueError) as exc:
                raise TradeFinanceError(f"{org}/{user} has no key file here: {exc}", "UNAUTHENTICATED") from None
        from consortia.identity.wallet import WalletError

        try:
            return cls(network, network.person(org, user, password))
        except WalletError as exc:
            raise TradeFinanceError(f"cannot log in as {org}/{user}: {exc}", "UNAUTHENTICATED") from None

    # -- who ---------------------------------------------------------------------------------------------------

    @property
    def org(self) -> str:
        """The caller's organisation."""
        return self.identity.info.org

    @property
    def role(self) -> str | None:
        """The caller's role attribute."""
        return self.identity.info.attributes.get("role")

    @property
    def is_bank(self) -> bool:
        """Whether the caller acts for a member bank (its admin, officers or service)."""
        if self.org not in BANKS:
            return False
        return self.identity.info.kind == "admin" or (
            self.role in ("officer", "service") and self.org in ROLE_ORGS[self.role]
        )

    @property
    def is_regulator(self) -> bool:
        """Whether the caller is a regulator (role ``regulator`` from a regulator organisation)."""
        return self.org in REGULATORS and self.role == "regulator"

    @property
    def zone(self) -> str:
        """The time zone of the caller's organisation's place."""
        return zone_of(self.org)

    # -- plumbing ----------------------------------------------------------------------------------------------

    def _contract(self) -> Contract:
        return Gateway(self.identity, self.network).network(CHANNEL).contract(CONTRACT)

    def sync(self, org: str | None = None, timeout: float = 10.0) -> None:
        """Wait until a peer (default: the caller's organisation's) has committed every block ordered so far."""
        height = self.network.orderer.height(CHANNEL)
        self.network.peer(org or self.org).channel(CHANNEL).wait_for_height(height, timeout)

    def _submit(self, function: str, *args: Any, transient: Mapping[str, bytes] | None = None) -> Any:
        """Submit; retry when validation found a conflicting write (MVCC) — the retry sees the winner's state."""
        for attempt in range(8):
            try:
                self.sync()
                result = self._contract().submit(function, *args, transient=transient)
                return result.result, result.tx_id
            except (TransactionInvalid, EndorsementFailed) as exc:
                if exc.code in RETRY_CODES and attempt < 7:
                    self.retries += 1
                    time.sleep(0.01 * (attempt + 1) + secrets.randbelow(20) / 1000)
                    continue
                raise self._error(exc) from None
            except GatewayError as exc:
                raise self._error(exc) from None
        raise AssertionError("unreachable")

    def _write(self, function: str, *args: Any, transient: Mapping[str, bytes] | None = None) -> tuple[Any, str]:
        """Submit and raise :class:`Refused` when the contract refused (the refusal is on the ledger)."""
        result, tx_id = self._submit(function, *args, transient=transient)
        # ``register`` answers a list: its refusal is the list's only entry.
        answer = result[0] if isinstance(result, list) and len(result) == 1 else result
        if isinstance(answer, dict) and "refused" in answer:
            raise Refused(answer["refused"], answer["code"], tx_id)
        return result, tx_id

    def _evaluate(self, function: str, *args: Any, org: str | None = None) -> Any:
        """Evaluate a query; a refusal (the contract's FORBIDDEN) is logged on the ledger by the caller's identity."""
        try:
            # Read what every block ordered so far says (the caller's own writes included).
            self.sync(org=org)
            return self._contract().evaluate(function, *args, org=org)
        except GatewayError as exc:
            if getattr(exc, "contract_code", None) == "FORBIDDEN":
                # Queries cannot write: the service records the refusal for them, as the caller.
                _, tx_id = self._submit("log_refusal", function, ",".join(map(str, args))[:256], str(exc)[:512])
                raise Refused(str(exc), "FORBIDDEN", tx_id) from None
            raise self._error(exc) from None

    @staticmethod
    def _error(exc: GatewayError) -> TradeFinanceError:
        code = str(getattr(exc, "contract_code", None) or exc.code)
        return TradeFinanceError(str(exc), code)

    def _require_bank(self, what: str) -> str:
        if not self.is_bank:
            raise TradeFinanceError(
                f"{self.identity.info.describe()} does not act for a member bank: {what}", "FORBIDDEN"
            )
        return self.org

    def _private(self, bank: str, kind: str, target: str) -> Any:
        """Read a bank's private data: an access transaction (decided and logged), then the read on its peer."""
        result, tx_id = self._submit("access", bank, kind, target)
        if not result["allowed"]:
            raise Refused(result["refused"], result["code"], tx_id)
        self.sync(org=bank)
        try:
            return self._contract().evaluate("read_private", result["access_id"], org=bank)
        except GatewayError as exc:
            raise self._error(exc) from None

    # -- documents ---------------------------------------------------------------------------------------------

    def register_documents(self, rows: Sequence[Row]) -> list[Registration]:
        """Register the caller bank's documents (contents as transient data); one status per row."""
        self._require_bank("registering documents")
        out: list[Registration] = []
        for start in range(0, len(rows), BATCH):
            chunk = list(rows[start : start + BATCH])
            items = [{"row": row.number, "document": document_to_json(row.document)} for row in chunk]
            results, tx_id = self._write("register", transient={"documents": canonical_json(items)})
            for row, result in zip(chunk, results, strict=True):
                out.append(
                    Registration(row, result["ref"], DocStatus(result["status"]), _hits(result["similar"]), tx_id)
                )
        return out

    def _document_view(self, record: Mapping[str, Any], financings: Mapping[str, FinancingView]) -> DocumentView:
        content = record.get("content") or {}
        document = content.get("document") or {}

        def trader(name: str) -> str:
            value = document.get(name) or {}
            return f"{value.get('kind', '')}:{value.get('value', '')}" if value else ""

        return DocumentView(
            doc_ref=record["ref"],
            bank=record["bank"],
            doc_type=record["doc_type"],
            doc_number=document.get("doc_number", ""),
            seller_id=trader("seller_id"),
            seller_name=document.get("seller_name", ""),
            buyer_id=trader("buyer_id"),
            buyer_name=document.get("buyer_name", ""),
            issue_date=document.get("issue_date", ""),
            amount=_decimal(document.get("amount")),
            currency=document.get("currency", ""),
            status=DocStatus(record["status"]),
            similar=_hits(record.get("similar", ())),
            tx_id=record["tx"],
            registered_ms=record["at"],
            row=int(content.get("row", 0)),
            financing=financings.get(record["financing"]) if record.get("financing") else None,
        )

    def documents(self, bank: str | None = None) -> list[DocumentView]:
        """The caller bank's own documents with status and financing state; a regulator: every bank's registrations
        (no contents), or one named bank's with their contents (a logged read)."""
        if self.is_regulator and bank:
            records = self._private(bank, "documents", "*")
        elif self.is_regulator:
            # Every bank's registrations without their contents (a regulator names a bank to read those).
            records = self._evaluate("documents", "")
        else:
            self._require_bank("listing documents")
            self.sync()
            records = self._evaluate("my_documents")
        financings = {f.financing_id: f for f in self.financings(bank if self.is_regulator else None)}
        views = [self._document_view(r, financings) for r in records]
        return sorted(views, key=lambda v: (v.registered_ms, v.row), reverse=True)

    def document(self, doc_ref: str, bank: str | None = None) -> DocumentView:
        """One document: the caller bank's own, or (a regulator, naming the bank) any bank's — the read is logged."""
        for view in self.documents(bank):
            if view.doc_ref == doc_ref:
                return view
        raise TradeFinanceError(f"no document {doc_ref!r} of {bank or self.org}", "NOT_FOUND")

    def cancel_document(self, doc_ref: str) -> DocumentView:
        """Cancel one of the caller bank's documents (CANC): its fingerprints stop counting as duplicates."""
        self._write("cancel", doc_ref)
        return self.document(doc_ref)

    # -- financing ---------------------------------------------------------------------------------------------

    def apply_financing(self, doc_ref: str, amount: Decimal | str, currency: str) -> FinancingView:
        """Apply to finance a document: FNCD, or a view with status DFIN (state ``refused``) when any of its
        fingerprints is already financed — also when another bank won a race for it. Other refusals (no current
        KYC, not the registering bank) raise :class:`Refused`."""
        result, tx_id = self._submit("apply_financing", doc_ref, _plain(amount), currency.strip().upper())
        if "refused" in result:
            if result["code"] != "DFIN":
                raise Refused(result["refused"], result["code"], tx_id)
            return FinancingView(
                financing_id="",
                doc_ref=doc_ref,
                bank=self.org,
                trader="",
                amount=Decimal(str(amount)),
                currency=currency,
                state="refused",
                status=DocStatus.DFIN,
                tx_id=tx_id,
                at_ms=int(time.time() * 1000),
                reason=result["refused"],
            )
        return self.financing(result["financing"])

    def approve(self, financing_id: str) -> FinancingView:
        """Approve an applied financing."""
        self._write("approve", financing_id)
        return self.financing(financing_id)

    def _flow_step(
        self, function: str, financing_id: str, amount: Any, currency: str, country: str, purpose: str, account_ref: str
    ) -> FinancingView:
        account = canonical_json({"account_ref": account_ref})
        self._write(
            function,
            financing_id,
            _plain(amount),
            currency.strip().upper(),
            country.strip().upper(),
            purpose.strip(),
            transient={"account": account},
        )
        return self.financing(financing_id)

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
        return self._flow_step(
            "disburse", financing_id, amount, currency, counterparty_country, purpose_code, account_ref
        )

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
        return self._flow_step("repay", financing_id, amount, currency, counterparty_country, purpose_code, account_ref)

    def settle(self, financing_id: str) -> FinancingView:
        """Close a disbursed financing as settled."""
        self._write("settle", financing_id)
        return self.financing(financing_id)

    def default(self, financing_id: str, note: str = "") -> FinancingView:
        """Close a disbursed financing as defaulted."""
        self._write("default", financing_id)
        return self.financing(financing_id)

    def financings(self, bank: str | None = None) -> list[FinancingView]:
        """The caller bank's financings (a regulator: every bank's, or one bank's)."""
        self.sync()
        records = self._evaluate("financings", bank or "")
        return [_financing(r) for r in records]

    def financing(self, financing_id: str, *, accounts: bool = False) -> FinancingView:
        """One financing with its steps and flows (``accounts``: with the account references — a logged read)."""
        for record in self._evaluate("financings", ""):
            if record["id"] == financing_id:
                refs = self._private(record["bank"], "accounts", financing_id) if accounts else ()
                return _financing(record, refs)
        raise TradeFinanceError(f"no financing {financing_id!r} visible to {self.org}", "NOT_FOUND")

    def accounts(self, financing_id: str, bank: str) -> list[str | None]:
        """The account references of a bank's financing's flows (the bank or a regulator; the read is logged, and
        another bank's attempt is refused and logged)."""
        values = self._private(bank, "accounts", financing_id)
        return [v.get("account_ref") if isinstance(v, Mapping) else None for v in values]

    # -- traders and KYC ---------------------------------------------------------------------------------------

    @staticmethod
    def _kyc(record: Mapping[str, Any], today: str) -> KycView:
        return KycView(
            bank=record["bank"],
            trader=record["trader"],
            level=record["level"],
            date=record["date"],
            expiry=record["expiry"],
            file_hash=record["file_hash"],
            revoked=bool(record["revoked"]),
            current=not record["revoked"] and record["expiry"] >= today,
            tx_id=record["tx"],
        )

    def traders(self) -> list[TraderView]:
        """The shared trader registry with each trader's KYC attestations."""
        today = datetime.now(UTC).date().isoformat()
        self.sync()
        return [
            TraderView(
                trader_id=r["id"],
                kind=r["kind"],
                value=r["value"],
                names=dict(r["names"]),
                aliases=tuple(r["aliases"]),
                attestations=tuple(self._kyc(k, today) for k in r["kyc"]),
                tx_id=r["tx"],
            )
            for r in self._evaluate("traders")
        ]

    def trader(self, trader_id: str) -> TraderView:
        """One trader of the registry."""
        key = self._trader_key(trader_id)
        for view in self.traders():
            if view.trader_id == key:
                return view
        raise TradeFinanceError(f"trader {key} is not in the registry", "NOT_FOUND")

    @staticmethod
    def _trader_key(trader_id: str) -> str:
        try:
            return parse_trader_id(trader_id).key
        except InvalidField as exc:
            raise TradeFinanceError(str(exc), "INVALID") from None

    def register_trader(self, trader_id: str, names: Mapping[str, str], aliases: Sequence[str] = ()) -> TraderView:
        """Add a trader to the shared registry (identifier validated: USCC, HK BR, Macau registration)."""
        key = self._trader_key(trader_id)
        self._write("register_trader", key, dict(names), list(aliases))
        return self.trader(key)

    def attest_kyc(self, trader_id: str, level: str, date: str, expiry: str, file: Mapping[str, Any]) -> KycView:
        """Publish the caller bank's KYC attestation; the file goes to the bank's collection only."""
        key = self._trader_key(trader_id)
        body, salt = canonical_json(dict(file)), os.urandom(16)
        file_hash = hmac.new(salt, body, hashlib.sha256).hexdigest()
        record, _ = self._write(
            "attest_kyc", key, level, date, expiry, file_hash, transient={"file": body, "salt": salt}
        )
        return self._kyc(record, datetime.now(UTC).date().isoformat())

    def revoke_kyc(self, trader_id: str) -> KycView:
        """Revoke the caller bank's attestation of a trader (new financing is then refused)."""
        record, _ = self._write("revoke_kyc", self._trader_key(trader_id))
        return self._kyc(record, datetime.now(UTC).date().isoformat())

    def kyc_file(self, trader_id: str, bank: str) -> Mapping[str, Any]:
        """A bank's KYC file (the bank itself or a regulator; another bank is refused, and the refusal logged)."""
        value = self._private(bank, "kyc", self._trader_key(trader_id))
        if value is None:
            raise TradeFinanceError(f"{bank} holds no KYC file of {trader_id}", "NOT_FOUND")
        return value["file"]

    def refusals(self) -> list[RefusalView]:
        """Refusals logged on the ledger: a regulator sees all, anyone else their own organisation's."""
        return [self._refusal(r) for r in self._evaluate("refusals")]

    @staticmethod
    def _refusal(r: Mapping[str, Any]) -> RefusalView:
        return RefusalView(r["who"], r["org"], r["function"], r["target"], r["reason"], r["code"], r["at"], r["tx"])

    # -- regulators --------------------------------------------------------------------------------------------

    def oversight(self) -> Oversight:
        """Financings by bank, corridor and currency per month; attempts; exposure; flows; flags; refusals."""
        self.sync()
        data = self._evaluate("oversight")
        zone = self.zone
        flows_by_fin: dict[str, list[Any]] = defaultdict(list)
        for flow in data["flows"]:
            flows_by_fin[flow["financing"]].append(flow)
        records = tuple(
            _financing({**f, "flow_records": sorted(flows_by_fin[f["id"]], key=lambda x: x["n"])})
            for f in data["financings"]
        )
        grouped: dict[tuple[str, str, str, str], list[Any]] = defaultdict(list)
        for f in data["financings"]:
            grouped[(_month(f["at"], zone), f["bank"], f.get("corridor", "XX-XX"), f["currency"])].append(f)
        financings = tuple(
            FinancingFigure(
                m, b, c, cur, len(fs), sum((_decimal(f["amount"]) for f in fs), Decimal(0)), tuple(f["tx"] for f in fs)
            )
            for (m, b, c, cur), fs in sorted(grouped.items())
        )
        attempts_by: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for d in data["documents"]:
            first = d.get("registered_status", d["status"])
            month = _month(d["at"], zone)
            if first == "REDU":
                attempts_by[(month, d["bank"], "duplicate")].append(d["tx"])
            elif first == "DFIN":
                attempts_by[(month, d["bank"], "financed_duplicate")].append(d["tx"])
            if d.get("similar"):
                attempts_by[(month, d["bank"], "near_duplicate")].append(d["tx"])
        for r in data["refusals"]:
            if r["code"] == "DFIN":
                attempts_by[(_month(r["at"], zone), r["org"], "financed_duplicate")].append(r["tx"])
        attempts = tuple(
            AttemptFigure(m, b, k, len(txs), tuple(dict.fromkeys(txs)))
            for (m, b, k), txs in sorted(attempts_by.items())
        )
        open_fin: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
        for f in data["financings"]:
            if f["state"] != "settled":
                open_fin[(f["trader"], f["bank"], f["currency"])].append(f)

        def exposure_of(fs: list[Any]) -> Decimal:
            total = Decimal(0)
            for f in fs:
                total += (
                    _decimal(f["outstanding"]) if f["state"] in ("disbursed", "defaulted") else _decimal(f["amount"])
                )
            return total

        totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for (trader, _, currency), fs in open_fin.items():
            totals[(trader, currency)] += exposure_of(fs)
        exposure = tuple(
            ExposureFigure(
                trader,
                bank,
                currency,
                exposure_of(fs),
                len(fs),
                float(exposure_of(fs) / totals[(trader, currency)]) if totals[(trader, currency)] else 0.0,
                tuple(f["tx"] for f in fs),
            )
            for (trader, bank, currency), fs in sorted(open_fin.items())
        )
        flows = tuple(_flow(f) for f in sorted(data["flows"], key=lambda f: f["at"]))
        flags = tuple(
            FlagView(f["record"], f["note"], f["by"], f["org"], f["at"], f["tx"])
            for f in sorted(data["flags"], key=lambda f: f["at"], reverse=True)
        )
        refusals = tuple(self._refusal(r) for r in sorted(data["refusals"], key=lambda r: r["at"], reverse=True))
        return Oversight(financings, attempts, exposure, flows, flags, refusals, records)

    def flag(self, record_ref: str, note: str) -> FlagView:
        """A regulator's supervisory flag or note on a record (the only write a regulator may make)."""
        f, _ = self._write("flag", record_ref, note)
        return FlagView(f["record"], f["note"], f["by"], f["org"], f["at"], f["tx"])

    def _tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        view = self.oversight()
        return [
            (
                "financings",
                ["month", "bank", "corridor", "currency", "count", "amount", "tx_ids"],
                [
                    [f.month, f.bank, f.corridor, f.currency, f.count, str(f.amount), " ".join(f.tx_ids)]
                    for f in view.financings
                ],
            ),
            (
                "attempts",
                ["month", "bank", "kind", "count", "tx_ids"],
                [[a.month, a.bank, a.kind, a.count, " ".join(a.tx_ids)] for a in view.attempts],
            ),
            (
                "exposure",
                ["trader", "bank", "currency", "amount", "count", "share", "tx_ids"],
                [
                    [e.trader, e.bank, e.currency, str(e.amount), e.count, round(e.share, 4), " ".join(e.tx_ids)]
                    for e in view.exposure
                ],
            ),
            (
                "flows",
                ["kind", "amount", "currency", "counterparty_country", "purpose_code", "corridor", "tx_id"],
                [
                    [f.kind, str(f.amount), f.currency, f.counterparty_country, f.purpose_code, f.corridor, f.tx_id]
                    for f in view.flows
                ],
            ),
            ("flags", ["record", "note", "by", "tx_id"], [[f.record_ref, f.note, f.by, f.tx_id] for f in view.flags]),
        ]

    def export_csv(self) -> str:
        """The oversight figures as CSV: one section per table, each headed by its name."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for name, header, rows in self._tables():
            writer.writerow([f"# {name}"])
            writer.writerow(header)
            writer.writerows(rows)
            writer.writerow([])
        return out.getvalue()

    def export_xlsx(self) -> bytes:
        """The oversight figures as an XLSX workbook, one sheet per table."""
        from openpyxl import Workbook

        book = Workbook()
        book.remove(book.active)
        for name, header, rows in self._tables():
            sheet = book.create_sheet(name)
            sheet.append(header)
            for row in rows:
                sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    # -- proofs and keys ---------------------------------------------------------------------------------------

    def proof(self, tx_id: str) -> dict[str, Any]:
        """The platform's proof of a transaction of the channel (what the in-browser verifier checks)."""
        peer_channel = self.network.peer(self.org).channel(CHANNEL)
        try:
            return build_transaction_proof(peer_channel.ledger, tx_id.lower(), peer_channel.rules.config.orderer_cas())
        except UnknownTransaction as exc:
            raise TradeFinanceError(str(exc), "NOT_FOUND") from None

    def rotate_key(self, retire_before: int = 0) -> int:
        """Start a new fingerprint-key epoch (a bank's admin): a fresh random key, as transient data."""
        result, _ = self._write("rotate_key", retire_before, transient={"key": os.urandom(32)})
        return int(result["epoch"])

    def place(self) -> str:
        """Where the caller's organisation is (CN, HK, MO)."""
        return JURISDICTION.get(self.org, "CN")
