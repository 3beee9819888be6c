"""The AML service: one caller's view of the consortium, over the ``aml`` contract through the client SDK.

An :class:`AmlService` acts for exactly one identity — an analyst, the BSA officer, the bank's core-banking program,
an exchange's compliance person or program, or an examiner — and signs with that identity only (for a web caller:
:meth:`AmlService.for_caller`, with the gateway's ``backend.acting_identity``; never a borrowed identity). What it
answers is that caller's view: an exchange sees its own accounts and nothing else; the bank and the examiners see
everything; only the examiners write examination notes.

Content (transactions, due-diligence records, alerts, case steps, filings) travels to the contract as *transient
data* and is stored in private collections (:mod:`..consortium`); arguments, events and results carry only opaque
ids, hashes and statuses.

- **Posting** (:meth:`AmlService.post_transaction`): the account policy is checked by the contract (USD only, US
  only, nothing crypto — :mod:`..domain.policy`); a refused transaction writes nothing, so the service records the
  violation in a second transaction (``record_violation``), which the contract accepts only when the
  same policy finds the same violation, and it appears in the analyst's queue. An accepted transaction goes through
  the **streaming** engine (:class:`Monitor`, one per network, primed from the ledger), and every typology it
  completes is recorded as an alert (hash on the ledger, content in the bank's collection).
- **Batch** (:meth:`AmlService.scan`): the batch engine over every stored transaction (the demo's month); new
  alerts are recorded.
- **Cases** (:meth:`AmlService.open_case`, :meth:`AmlService.case_step`): each step is one event of
  :mod:`..domain.cases`, applied by the contract with the caller's identity, role and the ledger's time.
- **Filings** (:meth:`AmlService.file_sar`, :meth:`AmlService.ctr`): built and validated here
  (:mod:`..domain.filings`, never in the contract); the XML is kept in the bank's collection and its SHA-256 on
  the case's record; an invalid filing raises :class:`~..domain.filings.FilingError` naming the element and
  nothing is recorded.
- **Audit trail** (:meth:`AmlService.audit_trail`): every step with its transaction id and the platform's proof.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from typing import TYPE_CHECKING, Any

from consortia.apps.aml.consortium import (
    BANK,
    CHANNEL,
    CONTRACT,
    DISPLAY,
    EXAMINER,
    EXAMINERS,
    EXCHANGES,
    ROLE_ORGS,
    ZONE,
)
from consortia.apps.aml.contract import codec
from consortia.apps.aml.domain import cases as case_domain
from consortia.apps.aml.domain.cases import Deadline, Event
from consortia.apps.aml.domain.onboarding import ExchangeRecord, Problem
from consortia.apps.aml.domain.policy import Violation, first_violation
from consortia.apps.aml.domain.transactions import CASH_ACCOUNT, Alert, RuleHit, Transaction
from consortia.client.errors import EndorsementFailed, GatewayError, TransactionInvalid
from consortia.client.sdk import Contract, Gateway
from consortia.identity import SigningIdentity
from consortia.ledger.encoding import canonical_json
from consortia.ledger.proof import UnknownTransaction, build_transaction_proof

if TYPE_CHECKING:
    from consortia.apps.aml.domain.monitoring.config import Rules
    from consortia.gateway.server.auth import Principal
    from consortia.gateway.server.backend import Backend
    from consortia.network.embedded import EmbeddedNetwork

RETRY_CODES = ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT", "ENDORSEMENT_MISMATCH")
BATCH = 100
"""Transactions per posting transaction when posting many at once (the demo's month)."""


# -- errors ------------------------------------------------------------------------------------------------------


class AmlError(Exception):
    """A request the service cannot carry out; ``code`` is the contract's or the SDK's machine code."""

    def __init__(self, message: str, code: str = "INVALID") -> None:
        super().__init__(message)
        self.code = code


class Refused(AmlError):
    """The contract refused, and logged the refusal on the ledger in transaction ``tx_id``."""

    def __init__(self, reason: str, code: str, tx_id: str | None) -> None:
        super().__init__(reason, code)
        self.reason = reason
        self.tx_id = tx_id


class PolicyRejected(AmlError):
    """A transaction the account policy refuses (code ``INVALID``); the violation is recorded in ``tx_id``."""

    def __init__(self, violation: Violation, violation_id: str, tx_id: str) -> None:
        super().__init__(
            f"{violation.rule}: {violation.reason} (expected {violation.expected}, found {violation.found})",
            "INVALID",
        )
        self.violation = violation
        self.violation_id = violation_id
        self.tx_id = tx_id


# -- what the service answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExchangeView:
    """An exchange as the bank knows it: its onboarding state and due-diligence summary."""

    exchange: str
    """The organisation (``BlueRiverExchange``)."""
    name: str
    approved: bool
    submitted: bool
    """Whether a due-diligence record is on file."""
    rating: str
    """``low``, ``medium`` or ``high`` (empty when no record is on file)."""
    next_review_due: date | None
    accounts: int


@dataclass(frozen=True)
class ApprovalView:
    """One person's signed approval of one version of an exchange's record."""

    person: str
    """``org/name`` of the approver."""
    role: str
    record_hash: str
    at_ms: int
    tx_id: str
    current: bool
    """Whether it approves the record's current version (a changed record voids older approvals)."""


@dataclass(frozen=True)
class OnboardingView:
    """An exchange's due-diligence record, its approvals and whether the approval policy is met."""

    exchange: str
    record: ExchangeRecord | None
    record_hash: str
    approvals: tuple[ApprovalView, ...]
    approved: bool
    missing_roles: tuple[str, ...]
    problems: tuple[Problem, ...]
    """What blocks approval (owners, licences, the EDD review), as of the ledger's time of the last step."""
    policy: str
    """The approval policy's text: ``AND('AtlanticBank.analyst','AtlanticBank.bsa_officer')``."""
    decided_by: str
    """``policy`` (the platform's evaluator over role principals) or ``contract`` (its fallback, same rule)."""
    tx_id: str


@dataclass(frozen=True)
class TxView:
    """A posted transaction of an account at the bank."""

    tx_id: str
    """The bank's id of the transaction."""
    timestamp: datetime
    """Aware, UTC (pages show it in New York time)."""
    orig_account: str
    bene_account: str
    amount: Decimal
    currency: str
    tx_type: str
    orig_country: str
    bene_country: str
    ledger_tx: str
    """The ledger transaction that posted it."""

    def transaction(self) -> Transaction:
        """As the domain's :class:`Transaction`."""
        return Transaction(
            self.tx_id,
            self.timestamp,
            self.orig_account,
            self.bene_account,
            self.amount,
            self.currency,
            self.tx_type,
            self.orig_country,
            self.bene_country,
        )


@dataclass(frozen=True)
class AccountView:
    """One account of an exchange at the bank, with its transactions (newest first)."""

    account: str
    exchange: str
    transactions: tuple[TxView, ...]
    inflow: Decimal
    outflow: Decimal


@dataclass(frozen=True)
class AlertView:
    """An alert: the typology, the accounts, the score and the rule hits with the transactions behind them."""

    alert_id: str
    typology: str
    accounts: tuple[str, ...]
    tx_ids: tuple[str, ...]
    score: float
    rule_hits: tuple[RuleHit, ...]
    detected_at: datetime
    source: str
    """``streaming`` (decided as a transaction arrived) or ``batch`` (a scan)."""
    exchanges: tuple[str, ...]
    """The exchanges whose accounts the alert is about."""
    case_id: str
    """The case it was gathered into (empty when none)."""
    ledger_tx: str

    @property
    def status(self) -> str:
        """``new`` or ``in_case``."""
        return "in_case" if self.case_id else "new"

    def alert(self) -> Alert:
        """As the domain's :class:`Alert`."""
        return Alert(
            self.alert_id, self.typology, self.accounts, self.tx_ids, self.score, self.rule_hits, self.detected_at
        )


@dataclass(frozen=True)
class AlertFilters:
    """What the alert queue is narrowed to (every field optional)."""

    typology: str = ""
    exchange: str = ""
    status: str = ""
    """``new`` or ``in_case``."""
    account: str = ""
    min_score: float = 0.0
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class ViolationView:
    """A transaction the account policy refused, as recorded for the analyst's queue."""

    violation_id: str
    rule: str
    reason: str
    expected: str
    found: str
    transaction: TxView
    """The refused transaction (its ``ledger_tx`` is the recording transaction)."""
    recorded_by: str
    at_ms: int
    ledger_tx: str


@dataclass(frozen=True)
class GraphNode:
    """An account in an alert's counterparty graph."""

    account: str
    exchange: str
    """The exchange whose account it is (empty for a counterparty outside the bank, or cash)."""
    in_alert: bool


@dataclass(frozen=True)
class GraphEdge:
    """Money from one account to another on one New York business date: count, total and transactions."""

    orig_account: str
    bene_account: str
    day: date
    count: int
    amount: Decimal
    tx_ids: tuple[str, ...]
    in_alert: bool
    """Whether any of its transactions is behind the alert."""


@dataclass(frozen=True)
class CounterpartyGraph:
    """The alert's accounts and their counterparties over time (one edge per pair and day)."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    days: tuple[date, ...]
    """Every New York date with an edge, in order."""


@dataclass(frozen=True)
class AlertDetail:
    """One alert with the transactions behind it and its counterparty graph over time."""

    alert: AlertView
    transactions: tuple[TxView, ...]
    """The alert's transactions (those behind its hits)."""
    graph: CounterpartyGraph


@dataclass(frozen=True)
class CaseStep:
    """One ledger record of a case: the event (as :func:`~..domain.cases.to_record` writes it) and its tx."""

    number: int
    event: str
    """``open``, ``assign``, ``note``, ``evidence``, ``suspect``, ``decide``, ``filing``, ``continuing_review``."""
    record: Mapping[str, Any]
    actor: str
    role: str
    at: datetime
    tx_id: str


@dataclass(frozen=True)
class FilingRecord:
    """A SAR or CTR whose XML the bank keeps and whose hash is on the ledger."""

    kind: str
    """``SAR`` or ``CTR``."""
    subject: str
    """The case id (SAR) or ``account@date`` (CTR)."""
    filing_hash: str
    filed_on: date
    by: str
    tx_id: str


@dataclass(frozen=True)
class CaseView:
    """A case, rebuilt from its steps: status, decision, deadlines, filings and the trail."""

    case_id: str
    case: case_domain.Case
    steps: tuple[CaseStep, ...]
    deadlines: tuple[Deadline, ...]
    overdue: tuple[Deadline, ...]
    filings: tuple[FilingRecord, ...]

    @property
    def status(self) -> str:
        """The status's code (``open`` … ``closed``)."""
        return self.case.status.value

    @property
    def decision(self) -> str | None:
        """``sar``, ``no_sar`` or None."""
        return self.case.decision.value if self.case.decision else None

    @property
    def accounts(self) -> tuple[str, ...]:
        """Every account of the case's alerts."""
        return self.case.accounts


@dataclass(frozen=True)
class SarPreview:
    """What the SAR of a case would be: the XML when it validates, else the error naming the element."""

    case_id: str
    xml: bytes | None
    filing_hash: str
    narrative: str
    error: str
    """Empty when the XML validates."""
    element: str
    """The element an invalid filing names (empty when valid)."""


@dataclass(frozen=True)
class Filing:
    """A filed report: its exact XML bytes, their SHA-256 (on the ledger) and the recording transaction."""

    xml: bytes
    hash: str
    tx_id: str


@dataclass(frozen=True)
class TrailStep:
    """One step of the audit trail, with its transaction id and the platform's proof of that transaction."""

    number: int
    kind: str
    """``onboarding``, ``approval``, ``violation``, ``alert``, ``case``, ``filing``, ``note``, ``refusal``."""
    subject: str
    """What the step is about (an exchange, an alert id, a case id …)."""
    by: str
    role: str
    at: datetime
    tx_id: str
    proof: Mapping[str, Any] | None
    """``build_transaction_proof``'s document (what the in-browser verifier checks); None when not asked."""


@dataclass(frozen=True)
class ExaminationNote:
    """An examiner's note on a record of the trail."""

    note_id: str
    subject: str
    text: str
    by: str
    at: datetime
    tx_id: str


@dataclass(frozen=True)
class PostResult:
    """What posting one transaction answered: the ledger transaction and the alerts the posting raised."""

    tx_id: str
    ledger_tx: str
    alerts: tuple[AlertView, ...] = field(default=())


CaseEvent = Event | Mapping[str, Any]
"""A case event: a domain event, or its record (``{"event": "note", "text": …}``); actor, role and time are the
caller's and the ledger's, whatever the event says."""


# -- conversions -------------------------------------------------------------------------------------------------


def _instant(value: Any) -> datetime:
    """An aware UTC datetime from epoch milliseconds or ISO text."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    moment = datetime.fromisoformat(str(value))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tx_view(record: Mapping[str, Any]) -> TxView:
    tx = codec.transaction_from_json(record["transaction"])
    return TxView(
        tx.tx_id,
        tx.timestamp,
        tx.orig_account,
        tx.bene_account,
        tx.amount,
        tx.currency,
        tx.tx_type,
        tx.orig_country,
        tx.bene_country,
        str(record.get("tx", "")),
    )


def _alert_view(record: Mapping[str, Any], exchanges: Mapping[str, str]) -> AlertView:
    alert = codec.alert_from_json(record["alert"])
    owners = tuple(sorted({exchanges[a] for a in alert.accounts if a in exchanges}))
    return AlertView(
        alert.alert_id,
        alert.typology,
        alert.accounts,
        alert.tx_ids,
        alert.score,
        alert.rule_hits,
        alert.detected_at,
        str(record.get("source", "")),
        owners,
        str(record.get("case_id") or ""),
        str(record.get("tx", "")),
    )


def _rules() -> Rules:
    from consortia.apps.aml.domain.monitoring.config import parse_rules

    return parse_rules(resources.files("consortia.apps.aml").joinpath("rules.toml").read_text(encoding="utf-8"))


# -- streaming monitoring ----------------------------------------------------------------------------------------


class Monitor:
    """The streaming engine of one network, fed every accepted transaction in order, primed from the ledger.

    One per network (the engine's state is the accounts' history, which every caller's service shares): the first
    service to post primes it with the stored transactions, then each posted transaction is decided as it
    arrives. It remembers which transactions it has seen, so a transaction is never decided twice.
    """

    def __init__(self) -> None:
        from consortia.apps.aml.domain.monitoring.streaming import StreamingEngine

        self.rules = _rules()
        self.engine = StreamingEngine(self.rules)
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        self.primed = False
        self.hits: dict[str, list[tuple[int, str, float, str]]] = defaultdict(list)
        """Per account: (epoch seconds, rule, value, tx id) of every hit the engine reported."""

    def decide(self, tx: Transaction) -> list[Alert]:
        """The alerts ``tx`` completes (empty when none, or when the transaction was seen before)."""
        from consortia.apps.aml.domain.monitoring.typologies import describe

        if tx.tx_id in self.seen:
            return []
        self.seen.add(tx.tx_id)
        decision = self.engine.decide(tx)
        t = int(tx.timestamp.timestamp())
        for hit in decision.hits:
            self.hits[hit.account].append((t, hit.rule, hit.value, hit.tx_id))
        alerts = []
        for found in decision.alerts:
            typology = self.rules.typology(found.typology)
            since = t - typology.window_days * 86400
            behind = [h for h in self.hits[found.account] if h[0] > since and h[1] in found.rules]
            tx_ids = tuple(sorted({h[3] for h in behind}))
            rule_hits = tuple(
                RuleHit(rule, typology.weight(rule), describe(rule, value, tx_id))
                for rule, value, tx_id in sorted({(h[1], h[2], h[3]) for h in behind})
            )
            digest = hashlib.sha256(f"{found.typology}|{found.account}|{tx.tx_id}".encode()).hexdigest()[:16]
            alerts.append(
                Alert(
                    f"S-{digest}",
                    found.typology,
                    (found.account,),
                    tx_ids,
                    float(found.score),
                    rule_hits,
                    tx.timestamp,
                )
            )
        return alerts


_MONITORS: dict[str, Monitor] = {}
_MONITORS_LOCK = threading.Lock()


def monitor_of(network: EmbeddedNetwork) -> Monitor:
    """The streaming monitor of ``network`` (one per network directory)."""
    key = str(getattr(network, "directory", id(network)))
    with _MONITORS_LOCK:
        if key not in _MONITORS:
            _MONITORS[key] = Monitor()
        return _MONITORS[key]


# -- the facade --------------------------------------------------------------------------------------------------


class AmlService:
    """One caller's AML service over a network: an analyst, the BSA officer, the bank's program, an exchange's
    compliance person or program, or an examiner."""

    def __init__(self, network: EmbeddedNetwork, identity: SigningIdentity) -> None:
        self.network = network
        self.identity = identity
        self.retries = 0
        """How many submissions were retried after an MVCC conflict."""

    @classmethod
    def for_caller(cls, backend: Backend, principal: Principal) -> AmlService:
        """The service acting for a gateway caller (``backend.acting_identity``: their own key, never another's)."""
        return cls(backend.network, backend.acting_identity(principal))

    @classmethod
    def as_user(
        cls, network: EmbeddedNetwork, org: str, user: str = "client", password: str | None = None
    ) -> AmlService:
        """The service acting as a program's key file, or a person's wallet entry opened with their password."""
        if password is None:
            try:
                return cls(network, network.identity(org, user))
            except (OSError, ValueError, KeyError) as exc:
                raise AmlError(f"{org}/{user} has no key file here: {exc}", "UNAUTHENTICATED") from None
        from consortia.identity.wallet import WalletError

        try:
            return cls(network, network.person(org, user, password))
        except WalletError as exc:
            raise AmlError(f"cannot log in as {org}/{user}: {exc}", "UNAUTHENTICATED") from None

    # -- who ---------------------------------------------------------------------------------------------------

    @property
    def org(self) -> str:
        """The caller's organisation."""
        return self.identity.info.org

    @property
    def who(self) -> str:
        """``org/name`` of the caller."""
        return f"{self.identity.info.org}/{self.identity.info.name}"

    @property
    def role(self) -> str | None:
        """The caller's role attribute (counted only from the organisations allowed to issue it)."""
        role = self.identity.info.attributes.get("role")
        return role if role and self.org in ROLE_ORGS.get(role, []) else None

    @property
    def is_bank(self) -> bool:
        """Whether the caller acts for the bank (its admin, analysts, BSA officer or program)."""
        return self.org == BANK and (self.identity.info.kind == "admin" or self.role is not None)

    @property
    def is_examiner(self) -> bool:
        """Whether the caller is an examiner."""
        return self.org == EXAMINERS and self.role == EXAMINER

    @property
    def exchange(self) -> str | None:
        """The caller's exchange when the caller acts for one, else None."""
        return self.org if self.org in EXCHANGES else None

    @property
    def zone(self) -> str:
        """The zone pages show times in (the bank's: America/New_York)."""
        return ZONE

    # -- plumbing ----------------------------------------------------------------------------------------------

    def _contract(self) -> Contract:
        return Gateway(self.identity, self.network).network(CHANNEL).contract(CONTRACT)

    def sync(self, org: str | None = None, timeout: float = 10.0) -> None:
        """Wait until a peer (default: the caller's organisation's) has committed every block ordered so far."""
        height = self.network.orderer.height(CHANNEL)
        self.network.peer(org or self.org).channel(CHANNEL).wait_for_height(height, timeout)

    @staticmethod
    def _error(exc: GatewayError) -> AmlError:
        code = str(getattr(exc, "contract_code", None) or exc.code)
        return AmlError(str(exc), code)

    def _submit(self, function: str, *args: Any, transient: Mapping[str, bytes] | None = None) -> tuple[Any, str]:
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
        raise AmlError(f"{function}: still conflicting after 8 attempts", "CONFLICT")

    def _write(self, function: str, *args: Any, transient: Mapping[str, Any] | None = None) -> tuple[Any, str]:
        """Submit (transient values as canonical JSON) and raise :class:`Refused` when the contract refused."""
        encoded = {k: v if isinstance(v, bytes) else canonical_json(v) for k, v in (transient or {}).items()}
        result, tx_id = self._submit(function, *args, transient=encoded or None)
        if isinstance(result, dict) and "refused" in result:
            raise Refused(self._refusal_reason(tx_id, result["refused"]), result["code"], tx_id)
        return result, tx_id

    def _refusal_reason(self, tx_id: str, fallback: str) -> str:
        """Why the contract refused (kept in the bank's collection: the bank and examiners read it)."""
        if not (self.is_bank or self.is_examiner):
            return fallback
        try:
            self.sync()
            record = self._contract().evaluate("refusal", tx_id, org=self.org)
        except GatewayError:
            return fallback
        return str(record.get("reason") or fallback) if isinstance(record, dict) else fallback

    def _read_org(self) -> str:
        """Where the caller's queries run: its own peer (a member of what it may read)."""
        return self.org

    def _evaluate(self, function: str, *args: Any) -> Any:
        """Evaluate a query on the caller's peer; a refusal is logged on the ledger by the caller's identity."""
        self.sync()
        try:
            return self._contract().evaluate(function, *args, org=self._read_org())
        except GatewayError as exc:
            code = getattr(exc, "contract_code", None)
            if code in ("FORBIDDEN", "NOT_MEMBER") or (code is None and exc.code == "FORBIDDEN"):
                _, tx_id = self._log_refusal(function, ",".join(map(str, args)), str(exc))
                raise Refused(str(exc), "FORBIDDEN", tx_id) from None
            raise self._error(exc) from None

    def query(self, function: str, *args: Any) -> Any:
        """A query of the contract as this caller, answered as the contract records it (for commands that print
        the ledger's own records); a refusal is logged like any other."""
        return self._evaluate(function, *args)

    def _log_refusal(self, function: str, target: str, reason: str) -> tuple[Any, str]:
        """Log a refusal as the refused caller (what and why as transient data: a block carries neither)."""
        detail = canonical_json({"target": target[:256], "reason": reason[:512]})
        return self._submit("log_refusal", function[:64], transient={"refusal": detail})

    def _require_bank_or_examiner(self, what: str) -> None:
        if not (self.is_bank or self.is_examiner):
            reason = f"{self.who} is neither the bank nor an examiner: {what} is theirs alone"
            _, tx_id = self._log_refusal(what, "", reason)
            raise Refused(reason, "FORBIDDEN", tx_id)

    def _owners(self) -> dict[str, str]:
        """Every account the caller may know of → its exchange."""
        return {a.account: a.exchange for a in self.accounts(transactions=False)}

    # -- exchanges and onboarding ------------------------------------------------------------------------------

    def exchanges(self) -> list[ExchangeView]:
        """The exchanges (an exchange's caller: itself only), with onboarding state and accounts."""
        out = []
        for r in self._evaluate("exchanges"):
            due = r.get("next_review_due")
            out.append(
                ExchangeView(
                    r["exchange"],
                    r.get("name") or DISPLAY.get(r["exchange"], r["exchange"]),
                    bool(r.get("approved")),
                    bool(r.get("submitted")),
                    str(r.get("rating") or ""),
                    date.fromisoformat(due) if due else None,
                    int(r.get("accounts", 0)),
                )
            )
        return out

    def submit_onboarding(self, record: ExchangeRecord) -> OnboardingView:
        """File (or update) an exchange's due-diligence record; a changed record voids earlier approvals."""
        self._write("submit_onboarding", record.exchange_id, transient={"record": codec.record_to_json(record)})
        return self.onboarding(record.exchange_id)

    def onboarding(self, exchange: str) -> OnboardingView:
        """An exchange's due-diligence record, approvals and whether the approval policy is met (bank, examiner)."""
        self._require_bank_or_examiner("onboarding records")
        r = self._evaluate("onboarding", exchange)
        if r is None:
            raise AmlError(f"no due-diligence record of {exchange!r} is on file", "NOT_FOUND")
        return OnboardingView(
            exchange=r["exchange"],
            record=codec.record_from_json(r["record"]) if r.get("record") else None,
            record_hash=r["record_hash"],
            approvals=tuple(
                ApprovalView(
                    a["who"], a["role"], a["record_hash"], a["at"], a["tx"], a["record_hash"] == r["record_hash"]
                )
                for a in r["approvals"]
            ),
            approved=bool(r["approved"]),
            missing_roles=tuple(r["missing_roles"]),
            problems=tuple(Problem(**p) for p in r["problems"]),
            policy=r["policy"],
            decided_by=r["decided_by"],
            tx_id=r["tx"],
        )

    def approve_onboarding(self, exchange: str, record_hash: str) -> OnboardingView:
        """Approve one version of an exchange's record, as the caller (an analyst or the BSA officer) in their
        own signed transaction; the contract decides with the approval policy over the approvers' roles."""
        self._write("approve_onboarding", exchange, record_hash)
        return self.onboarding(exchange)

    def open_accounts(self, exchange: str, accounts: Sequence[str]) -> list[str]:
        """Open accounts for an approved exchange (the bank); refused before the approval policy is met."""
        self._write("open_accounts", exchange, transient={"accounts": list(accounts)})
        return list(accounts)

    # -- accounts and transactions -----------------------------------------------------------------------------

    def accounts(self, transactions: bool = True) -> list[AccountView]:
        """The caller's view of accounts: an exchange's own; the bank's and the examiners' every exchange's."""
        records = self._evaluate("accounts", bool(transactions))
        out = []
        for r in records:
            txs = tuple(
                sorted((_tx_view(t) for t in r.get("transactions", ())), key=lambda t: t.timestamp, reverse=True)
            )
            inflow = sum((t.amount for t in txs if t.bene_account == r["account"]), Decimal(0))
            outflow = sum((t.amount for t in txs if t.orig_account == r["account"]), Decimal(0))
            out.append(AccountView(r["account"], r["exchange"], txs, inflow, outflow))
        return sorted(out, key=lambda a: (a.exchange, a.account))

    def account(self, account: str) -> AccountView:
        """One account the caller may see (another exchange's is not found, and the attempt is logged)."""
        for view in self.accounts():
            if view.account == account:
                return view
        self._log_refusal("account", account, f"{self.who} has no account {account[:64]!r}")
        raise AmlError(f"no account {account[:64]!r} visible to {self.org}", "NOT_FOUND")

    def post_transaction(self, tx: Transaction) -> PostResult:
        """Post one transaction: policy-checked by the contract (a refusal is recorded for the analyst's queue and
        raised as :class:`PolicyRejected`), then decided by the streaming engine; an alert on a hit."""
        posted = self.post_transactions([tx], monitor=True)
        return posted[0]

    def post_transactions(self, txs: Sequence[Transaction], *, monitor: bool = True) -> list[PostResult]:
        """Post many transactions (``BATCH`` per ledger transaction, in order); stops at the first refused one
        (recorded and raised as :class:`PolicyRejected`); ``monitor``: decide each with the streaming engine."""
        results: list[PostResult] = []
        watcher = monitor_of(self.network) if monitor else None
        if watcher is not None:
            self._prime(watcher)
        for start in range(0, len(txs), BATCH):
            chunk = list(txs[start : start + BATCH])
            for tx in chunk:
                violation = first_violation(tx)
                if violation is not None:
                    # The contract refuses the same (INVALID, nothing written); record it where analysts look.
                    clean = chunk[: chunk.index(tx)]
                    if clean:
                        results += self._post_chunk(clean, watcher)
                    try:
                        self._write("post", transient={"transactions": [codec.transaction_to_json(tx)]})
                    except AmlError as exc:
                        if exc.code != "INVALID":
                            raise
                    _, tx_id = self._write("record_violation", transient={"transaction": codec.transaction_to_json(tx)})
                    raise PolicyRejected(violation, "V-" + tx_id[:12], tx_id)
            results += self._post_chunk(chunk, watcher)
        return results

    def _post_chunk(self, chunk: list[Transaction], watcher: Monitor | None) -> list[PostResult]:
        _, ledger_tx = self._write("post", transient={"transactions": [codec.transaction_to_json(t) for t in chunk]})
        out = []
        for tx in chunk:
            alerts: list[Alert] = []
            if watcher is not None:
                with watcher.lock:
                    alerts = watcher.decide(tx)
            views = tuple(self.record_alerts(alerts, source="streaming")) if alerts else ()
            out.append(PostResult(tx.tx_id, ledger_tx, views))
        return out

    def _prime(self, watcher: Monitor) -> None:
        with watcher.lock:
            if watcher.primed:
                return
            stored = self._all_transactions()
            for tx in sorted(stored, key=lambda t: (t.timestamp, t.tx_id)):
                watcher.decide(tx)
            watcher.primed = True

    def _all_transactions(self) -> list[Transaction]:
        seen: dict[str, Transaction] = {}
        for account in self.accounts():
            for view in account.transactions:
                seen.setdefault(view.tx_id, view.transaction())
        return list(seen.values())

    # -- monitoring --------------------------------------------------------------------------------------------

    def record_alerts(self, alerts: Iterable[Alert], source: str) -> list[AlertView]:
        """Record alerts (content in the bank's collection, hash on the ledger); ones already recorded are kept."""
        items = [{"alert": codec.alert_to_json(a), "source": source} for a in alerts]
        if not items:
            return []
        result, tx_id = self._write("record_alerts", transient={"alerts": items})
        if not result["recorded"]:
            return []
        owners = self._owners()
        stored = (self._evaluate("alert", item["alert"]["alert_id"]) for item in items)
        return [_alert_view(record, owners) for record in stored if record is not None and record["tx"] == tx_id]

    def scan(self) -> list[AlertView]:
        """Run the batch engine over every stored transaction and record the alerts not yet recorded."""
        from consortia.apps.aml.domain.monitoring.engine import scan
        from consortia.apps.aml.domain.monitoring.frame import frame_of

        stored = sorted(self._all_transactions(), key=lambda t: (t.timestamp, t.tx_id))
        if not stored:
            return []
        result = scan(frame_of(stored), _rules())
        return self.record_alerts(result.alerts, source="batch")

    def alerts(self, filters: AlertFilters | None = None) -> list[AlertView]:
        """The alert queue, newest first, narrowed by ``filters`` (bank, examiner; never an exchange)."""
        self._require_bank_or_examiner("alerts")
        filters = filters or AlertFilters()
        owners = self._owners()
        views = [_alert_view(r, owners) for r in self._evaluate("alerts")]

        def keep(v: AlertView) -> bool:
            return (
                (not filters.typology or v.typology == filters.typology)
                and (not filters.exchange or filters.exchange in v.exchanges)
                and (not filters.status or v.status == filters.status)
                and (not filters.account or filters.account in v.accounts)
                and v.score >= filters.min_score
                and (filters.since is None or v.detected_at >= filters.since)
                and (filters.until is None or v.detected_at <= filters.until)
            )

        return sorted((v for v in views if keep(v)), key=lambda v: (v.detected_at, v.alert_id), reverse=True)

    def alert(self, alert_id: str) -> AlertDetail:
        """One alert with its rule hits, transactions and counterparty graph over time."""
        self._require_bank_or_examiner("alerts")
        record = self._evaluate("alert", alert_id)
        if record is None:
            raise AmlError(f"no alert {alert_id[:64]!r}", "NOT_FOUND")
        accounts = self.accounts()
        owners = {a.account: a.exchange for a in accounts}
        view = _alert_view(record, owners)
        every: dict[str, TxView] = {}
        for account in accounts:
            for t in account.transactions:
                every.setdefault(t.tx_id, t)
        behind = tuple(sorted((every[t] for t in view.tx_ids if t in every), key=lambda t: t.timestamp))
        return AlertDetail(view, behind, counterparty_graph(view, every.values(), owners))

    def violations(self) -> list[ViolationView]:
        """Policy violations recorded for the analyst's queue, newest first (bank, examiner)."""
        self._require_bank_or_examiner("policy violations")
        out = []
        for r in self._evaluate("violations"):
            v = r["violation"]
            out.append(
                ViolationView(
                    r["violation_id"],
                    v["rule"],
                    v["reason"],
                    v["expected"],
                    v["found"],
                    _tx_view({"transaction": r["transaction"], "tx": r["tx"]}),
                    r["by"],
                    r["at"],
                    r["tx"],
                )
            )
        return sorted(out, key=lambda v: v.at_ms, reverse=True)

    # -- cases -------------------------------------------------------------------------------------------------

    def open_case(self, alert_ids: Sequence[str]) -> CaseView:
        """Open a case from alerts (an analyst or the BSA officer); the case id comes from the ledger."""
        result, _ = self._write("open_case", transient={"alert_ids": list(alert_ids)})
        return self.case(result["case_id"])

    def case(self, case_id: str) -> CaseView:
        """A case rebuilt from its ledger records, with deadlines and filings (bank, examiner)."""
        self._require_bank_or_examiner("cases")
        record = self._evaluate("case", case_id)
        if record is None:
            raise AmlError(f"no case {case_id[:64]!r}", "NOT_FOUND")
        return self._case_view(record)

    def _case_view(self, record: Mapping[str, Any]) -> CaseView:
        steps = tuple(
            CaseStep(n, s["event"]["event"], s["event"], s["by"], s["role"], _instant(s["at"]), s["tx"])
            for n, s in enumerate(record["steps"], start=1)
        )
        case = case_domain.replay([case_domain.from_record(dict(s.record)) for s in steps])
        today = datetime.now(UTC).astimezone(case_domain.BANK_ZONE).date()
        filings = tuple(
            FilingRecord(f["kind"], f["subject"], f["hash"], date.fromisoformat(f["filed_on"]), f["by"], f["tx"])
            for f in record.get("filings", ())
        )
        return CaseView(
            record["case_id"], case, steps, case_domain.deadlines(case), case_domain.overdue(case, today), filings
        )

    def cases(self) -> list[CaseView]:
        """Every case, newest first (bank, examiner)."""
        self._require_bank_or_examiner("cases")
        views = [self._case_view(r) for r in self._evaluate("cases")]
        return sorted(views, key=lambda v: (v.case.opened_at, v.case_id), reverse=True)

    def case_step(self, case_id: str, event: CaseEvent) -> CaseView:
        """Apply one event to a case (:mod:`..domain.cases`): the contract replays the case, applies the event
        with the caller as actor, the caller's role and the ledger's time, and records it — or refuses."""
        record = dict(event) if isinstance(event, Mapping) else case_domain.to_record(event)
        if record.get("event") == "open":
            raise AmlError("open a case with open_case(alert_ids), not as a step", "INVALID")
        self._write("case_step", case_id, transient={"event": record})
        return self.case(case_id)

    # -- filings -----------------------------------------------------------------------------------------------

    def sar_preview(self, case_id: str, narrative: str = "", filed_on: date | None = None) -> SarPreview:
        """What the case's SAR would be today (built and validated, not filed), or the error naming the element."""
        from consortia.apps.aml.service import filings

        view = self.case(case_id)
        return filings.preview(self, view, narrative, filed_on or self.today())

    def file_sar(self, case_id: str, narrative: str = "", filed_on: date | None = None) -> Filing:
        """Build, validate and file the SAR of a case decided SAR (the BSA officer): the XML is kept in the
        bank's collection and its hash recorded as the case's filing step. An invalid SAR raises
        :class:`~..domain.filings.FilingError` and nothing is recorded."""
        from consortia.apps.aml.service import filings

        view = self.case(case_id)
        xml = filings.build_sar_for(self, view, narrative, filed_on or self.today())
        digest = filings.digest(xml)
        event = {"event": "filing", "filing_hash": digest}
        _, tx_id = self._write("case_step", case_id, transient={"event": event, "xml": xml})
        return Filing(xml, digest, tx_id)

    def filing_xml(self, filing_hash: str) -> bytes:
        """The exact bytes of a filed SAR or CTR, by its hash (bank, examiner)."""
        self._require_bank_or_examiner("filings")
        record = self._evaluate("filing", filing_hash)
        if record is None:
            raise AmlError(f"no filing {filing_hash[:64]!r}", "NOT_FOUND")
        return record["xml"].encode("utf-8")

    def filings(self) -> list[FilingRecord]:
        """Every SAR and CTR filed, newest first (bank, examiner)."""
        self._require_bank_or_examiner("filings")
        return sorted(
            (
                FilingRecord(f["kind"], f["subject"], f["hash"], date.fromisoformat(f["filed_on"]), f["by"], f["tx"])
                for f in self._evaluate("filings")
            ),
            key=lambda f: (f.filed_on, f.tx_id),
            reverse=True,
        )

    def ctr(self, account: str, day: date, filed_on: date | None = None, *, file: bool = True) -> Filing:
        """The CTR of one account's cash on one New York business day (more than $10,000 in or out): built,
        validated and (``file``) recorded with its hash; raises :class:`~..domain.filings.FilingError` when no
        CTR is due or the report is invalid, and nothing is recorded."""
        from consortia.apps.aml.service import filings

        xml = filings.build_ctr_for(self, account, day, filed_on or self.today())
        digest = filings.digest(xml)
        if not file:
            return Filing(xml, digest, "")
        details = {
            "account": account,
            "day": day.isoformat(),
            "hash": digest,
            "filed_on": (filed_on or self.today()).isoformat(),
        }
        _, tx_id = self._write("record_ctr", transient={"ctr": details, "xml": xml})
        return Filing(xml, digest, tx_id)

    def ctr_candidates(self) -> list[tuple[str, date]]:
        """(account, New York date) of every business day whose cash in or out exceeds $10,000."""
        from consortia.apps.aml.service import filings

        return filings.ctr_candidates(self)

    def today(self) -> date:
        """Today in New York (a filing's date)."""
        return datetime.now(UTC).astimezone(case_domain.BANK_ZONE).date()

    # -- audit trail and examination ---------------------------------------------------------------------------

    def audit_trail(self, proofs: bool = True) -> list[TrailStep]:
        """Every step on the ledger in order (bank, examiner), each with its transaction id and (``proofs``) the
        platform's proof of that transaction."""
        self._require_bank_or_examiner("the audit trail")
        steps = []
        for n, s in enumerate(self._evaluate("trail"), start=1):
            steps.append(
                TrailStep(
                    n,
                    s["kind"],
                    s["subject"],
                    s["by"],
                    s["role"],
                    _instant(s["at"]),
                    s["tx"],
                    self.proof(s["tx"]) if proofs else None,
                )
            )
        return steps

    def proof(self, tx_id: str) -> dict[str, Any]:
        """The platform's proof of a transaction of the channel (what the in-browser verifier checks)."""
        self._require_bank_or_examiner("proofs")
        peer_channel = self.network.peer(self.org).channel(CHANNEL)
        try:
            return build_transaction_proof(peer_channel.ledger, tx_id.lower(), peer_channel.rules.config.orderer_cas())
        except UnknownTransaction as exc:
            raise AmlError(str(exc), "NOT_FOUND") from None

    def examination_note(self, subject: str, text: str) -> ExaminationNote:
        """An examiner's note on a record (an alert, a case, a filing, a step): the only thing an examiner writes;
        anyone else is refused and the refusal logged."""
        _, tx_id = self._write("examination_note", transient={"note": {"subject": subject, "text": text}})
        for note in self.examination_notes():
            if note.tx_id == tx_id:
                return note
        raise AmlError(f"note {tx_id[:12]} was recorded but is not visible to {self.who} yet", "CONFLICT")

    def examination_notes(self) -> list[ExaminationNote]:
        """Every examination note, newest first (bank, examiner)."""
        self._require_bank_or_examiner("examination notes")
        return sorted(
            (
                ExaminationNote(r["note_id"], r["subject"], r["text"], r["by"], _instant(r["at"]), r["tx"])
                for r in self._evaluate("notes")
            ),
            key=lambda n: n.at,
            reverse=True,
        )

    def refusals(self) -> list[dict[str, Any]]:
        """Refusals logged on the ledger (bank, examiner): who, which function, what, why, the transaction."""
        self._require_bank_or_examiner("refusals")
        return list(self._evaluate("refusals"))


def counterparty_graph(
    alert: AlertView, transactions: Iterable[TxView], owners: Mapping[str, str]
) -> CounterpartyGraph:
    """The alert's accounts and every counterparty they dealt with, one edge per pair and New York date."""
    from consortia.apps.aml.domain.cases import bank_date

    focus = set(alert.accounts)
    behind = set(alert.tx_ids)
    grouped: dict[tuple[str, str, date], list[TxView]] = defaultdict(list)
    for t in transactions:
        if t.orig_account in focus or t.bene_account in focus:
            grouped[(t.orig_account, t.bene_account, bank_date(t.timestamp))].append(t)
    edges = tuple(
        GraphEdge(
            o,
            b,
            d,
            len(ts),
            sum((t.amount for t in ts), Decimal(0)),
            tuple(sorted(t.tx_id for t in ts)),
            any(t.tx_id in behind for t in ts),
        )
        for (o, b, d), ts in sorted(grouped.items(), key=lambda item: (item[0][2], item[0][0], item[0][1]))
    )
    names = sorted({e.orig_account for e in edges} | {e.bene_account for e in edges} | focus)
    nodes = tuple(GraphNode(n, "" if n == CASH_ACCOUNT else owners.get(n, ""), n in focus) for n in names)
    return CounterpartyGraph(nodes, edges, tuple(sorted({e.day for e in edges})))
