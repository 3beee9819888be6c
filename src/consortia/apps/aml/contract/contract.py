"""The ``aml`` contract: onboarding approved by two roles, the account policy, alerts, cases, filings, examination.

**Nothing on the public ledger but the configuration (and who was refused which function).** An exchange's peer
is a member of the channel and holds every block and the whole public state, so every record lives in a private
collection (plaintext on its members' peers, salted hashes on the ledger) and every piece of content arrives as
transient data:

* the bank's collection (``aml-bank``: the bank and the examiners) holds ``onb:<exchange>`` (the due-diligence
  record, its hash and the approvals), ``accounts`` (account → exchange), ``viol:<id>`` (policy violations),
  ``alert:<id>``, ``case:<id>`` (each step as :func:`~..domain.cases.to_record` writes it, with who, role, time and
  transaction), ``filing:<sha256>`` (the SAR or CTR XML), ``note:<tx>`` (examination notes), ``refusal:<tx>``
  (what a refused caller asked for, and why), and the indexes ``index:<kind>`` — the collection has no range
  reads, so each list is one record;
* each exchange's collection (``aml-acct-<Exchange>``: the bank, that exchange and the examiners) holds its
  accounts ``acct:<account>`` and its transactions, one record ``txb:<tx>`` per posting transaction.

**Onboarding approval is a policy over roles, not a flag.** Each approval is its own transaction, signed by the
person approving; the contract keeps the approver's organisation, kind, certificate hash and role (read from the
caller's certificate, counted only from the bank) and the version of the record approved (its hash), and decides
with the platform's evaluator: ``satisfied(parse_policy("AND('AtlanticBank.role:analyst',
'AtlanticBank.role:bsa_officer')"), signers)`` over the approvals of the current version (``'Org.analyst'``, the
shorter spelling, is read as ``'Org.role:analyst'``). One identity vouches for one principal, so the same person
approving twice is one approval, and an analyst alone or the officer alone is not enough. Until the platform's
policy language has role principals (the record's ``decided_by`` then says ``contract``), the same rule is decided by
:class:`~..domain.onboarding.ApprovalPolicy` over the same records.

**A refused transaction is recorded by a second transaction.** ``post`` checks every transaction with
:mod:`..domain.policy` (USD only, US only, nothing crypto) and refuses the whole posting with
``ContractError(code="INVALID")``: a refused transaction writes nothing. The service then submits
``record_violation`` with the same transaction, which the contract accepts only if the same policy finds a
violation in it, and which puts the violation in the analyst's queue. (Accepting the transaction as "rejected"
instead would let a refused payment write state under its own id; two transactions keep "refused" and "recorded"
apart, and the recording one is the bank's.)

**Results are public too.** A submitted function's answer is in the block, so it says "recorded" (or a count),
never what: the service reads what it needs back through the queries, which check who asks.

**Every refusal is logged.** A submitted function that refuses writes ``refusal:<tx>`` — who, which function, when
and a code in public state (the one exception to "nothing public": a refused exchange cannot read the bank's
collection, and an index there would need a read), what and why in the bank's collection — and returns
``{"refused": …, "code": …}``; a query cannot write, so the service logs its refusals with ``log_refusal``, as
the refused caller. Bad input raises ``ContractError`` (``INVALID``) and nothing is stored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any

from consortia.apps.aml.contract.codec import (
    CodecError,
    alert_from_json,
    record_from_json,
    record_to_json,
    transaction_from_json,
    transaction_to_json,
)
from consortia.apps.aml.domain import cases as case_domain
from consortia.apps.aml.domain.onboarding import (
    ANALYST,
    BSA_OFFICER,
    Approval,
    ApprovalPolicy,
    next_review_due,
    problems,
    record_hash,
)
from consortia.apps.aml.domain.policy import first_violation
from consortia.contracts import Context, Contract, ContractError, evaluate, submit
from consortia.ledger.encoding import parse_json
from consortia.policy import Signer, parse_policy, satisfied

EXAMINER = "examiner"
SERVICE = "service"
EXCHANGE = "exchange"
BANK_PEOPLE = (ANALYST, BSA_OFFICER)
MAX_POSTING = 500
MAX_ALERTS = 500
MAX_NOTE = 4000
HEX64 = re.compile(r"^[0-9a-f]{64}$")
DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def role_policy(text: str) -> Any:
    """The approval policy parsed by the platform: ``'Org.role'`` principals, or the ``'Org.role:role'``
    spelling; raises the platform's syntax error when it reads neither (no role principals yet)."""
    try:
        return parse_policy(text)
    except Exception:  # the platform's syntax error: try the attribute-role spelling before giving up
        spelled = re.sub(r"'([A-Za-z][A-Za-z0-9_-]*)\.([a-z][a-z0-9_]*)'", r"'\1.role:\2'", text)
        return parse_policy(spelled)


def policy_decides(text: str, approvals: list[dict[str, Any]]) -> bool | None:
    """Whether the approvals' signers satisfy the policy, by the platform's evaluator over role principals; None
    when the platform cannot yet express role principals (then :class:`ApprovalPolicy` decides)."""
    try:
        policy = role_policy(text)
        signers = [
            Signer(a["org"], a["kind"], bytes.fromhex(a["cert"]), role=a["role"])  # type: ignore[call-arg]
            for a in approvals
        ]
        return bool(satisfied(policy, signers))
    except (TypeError, ValueError):
        return None
    except Exception as exc:  # PolicySyntaxError (a ValueError subclass in most versions) or a platform gap
        if type(exc).__name__ == "PolicySyntaxError":
            return None
        raise


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _transient(ctx: Context, name: str, what: str) -> Any:
    raw = ctx.transient.get(name)
    if raw is None:
        raise ContractError(f"give {what} as transient data {name!r}: it never travels as an argument")
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise ContractError(f"transient {name!r} must be JSON ({what}): {exc}") from None


class _Call:
    """One function call: the configuration and who is calling, as this contract recognises them."""

    def __init__(self, ctx: Context, function: str) -> None:
        self.ctx = ctx
        self.function = function
        config = ctx.get_state("config")
        if config is None:
            raise ContractError(
                "the contract is not initialised (init with the consortium's configuration)", code="CONFLICT"
            )
        self.config: dict[str, Any] = config

    @property
    def who(self) -> str:
        """``org/name`` of the caller."""
        return self.ctx.caller.id

    @property
    def org(self) -> str:
        """The caller's organisation."""
        return self.ctx.caller.org

    @property
    def role(self) -> str:
        """The caller's role when its organisation may issue it (else its kind: ``admin``, ``client``)."""
        role = self.ctx.caller.role
        if role and self.org in self.config["roles"].get(role, []):
            return role
        return self.ctx.caller.kind

    @property
    def bank(self) -> bool:
        """Whether the caller acts for the bank (its admin, analysts, BSA officer or program)."""
        return self.org == self.config["bank"] and (
            self.ctx.caller.kind == "admin" or self.role in (*BANK_PEOPLE, SERVICE)
        )

    @property
    def examiner(self) -> bool:
        """Whether the caller is an examiner."""
        return self.org in self.config["examiners"] and self.role == EXAMINER

    @property
    def exchange(self) -> str | None:
        """The caller's exchange when it acts for one (its admin or role ``exchange``)."""
        if self.org not in self.config["exchanges"]:
            return None
        return self.org if self.ctx.caller.kind == "admin" or self.role == EXCHANGE else None

    @property
    def bank_collection(self) -> str:
        return self.config["bank_collection"]

    def collection(self, exchange: str) -> str:
        """An exchange's collection."""
        return self.config["exchanges"][exchange]["collection"]

    # -- the bank's records ------------------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        return self.ctx.get_private(self.bank_collection, key)

    def put(self, key: str, value: Any) -> None:
        self.ctx.put_private(self.bank_collection, key, value)

    def index(self, name: str) -> list[Any]:
        return list(self.get(f"index:{name}") or [])

    def add_index(self, name: str, *items: Any) -> None:
        self.put(f"index:{name}", [*self.index(name), *items])

    def trail(self, kind: str, subject: str) -> None:
        """Append a step to the audit trail (what, about what, who, in which role, when, which transaction)."""
        self.add_index(
            "trail",
            {
                "kind": kind,
                "subject": subject[:256],
                "by": self.who,
                "role": self.role,
                "at": self.ctx.timestamp_ms,
                "tx": self.ctx.tx_id,
            },
        )

    def refuse(self, target: str, reason: str, code: str = "FORBIDDEN") -> dict[str, Any]:
        """Log a refusal and return it as the function's answer.

        Who was refused, which function, when and the code go to public state (``refusal:<tx>``): the refused
        caller may be an exchange, which cannot read the bank's collection, so nothing here may read it. What was
        asked for and why go to the bank's collection by a blind write (no read), for the bank and examiners.
        """
        ctx = self.ctx
        public = {
            "who": self.who,
            "org": self.org,
            "role": self.role,
            "function": self.function,
            "code": code,
            "at": ctx.timestamp_ms,
            "tx": ctx.tx_id,
        }
        ctx.put_state(f"refusal:{ctx.tx_id}", public)
        self.put(f"refusal:{ctx.tx_id}", {"target": target[:256], "reason": reason[:512]})
        ctx.set_event("refused", {"function": self.function, "code": code})
        # The answer is in the block every member's peer stores: no target, no reason (the bank reads them).
        return {"refused": f"{self.function} refused to {self.who}", "code": code, "tx_id": ctx.tx_id}

    def forbid(self, what: str) -> None:
        """Refuse a query (no write: the service logs it)."""
        raise ContractError(f"{what}; {self.who} may not see it", code="FORBIDDEN")

    def reader(self, what: str) -> None:
        """Only the bank and the examiners read the bank's records."""
        if not (self.bank or self.examiner):
            self.forbid(f"{what} are the bank's and the examiners' only")


def _approval_state(call: _Call, onboarding: dict[str, Any]) -> dict[str, Any]:
    """Whether the current version is approved, by the approval policy over the approvers' identities."""
    current = [a for a in onboarding["approvals"] if a["record_hash"] == onboarding["record_hash"]]
    roles = {a["role"] for a in current}
    missing = [role for role in BANK_PEOPLE if role not in roles]
    decided = policy_decides(call.config["approval_policy"], current)
    if decided is None:
        state = ApprovalPolicy(call.config["bank"]).evaluate(
            onboarding["record_hash"],
            tuple(Approval(a["role"], a["who"], a["org"], call.ctx.timestamp, a["record_hash"]) for a in current),
        )
        return {"approved": state.approved, "missing_roles": list(state.missing_roles), "decided_by": "contract"}
    return {"approved": decided, "missing_roles": missing, "decided_by": "policy"}


class Aml(Contract):
    """Onboarding, account policy, alerts, cases, filings and examination for the bank's exchange accounts."""

    name = "aml"
    version = "1.0"

    # -- set-up ------------------------------------------------------------------------------------------------

    @submit
    def init(self, ctx: Context, config: dict) -> dict:
        """Store the consortium's configuration (the bank's admin, once)."""
        if ctx.get_state("config") is not None:
            raise ContractError("the contract is already initialised", code="CONFLICT")
        for key in ("bank", "bank_collection", "exchanges", "examiners", "roles", "approval_policy"):
            if key not in config:
                raise ContractError(f"config needs {key!r}")
        if ctx.caller.kind != "admin" or ctx.caller.org != config["bank"]:
            raise ContractError("only the bank's admin may initialise the contract", code="FORBIDDEN")
        ctx.put_state("config", config)
        return {"bank": config["bank"]}

    @evaluate
    def whoami(self, ctx: Context) -> dict:
        """How the contract sees the caller."""
        call = _Call(ctx, "whoami")
        return {"id": call.who, "org": call.org, "role": call.role, "bank": call.bank, "examiner": call.examiner,
                "exchange": call.exchange}  # fmt: skip

    @submit
    def log_refusal(self, ctx: Context, function: str) -> dict:
        """Log a refusal a query made to the caller (transient ``refusal``: ``{"target", "reason"}``): queries cannot
        write, so the service logs them."""
        call = _Call(ctx, str(function)[:64] or "query")
        detail = _transient(ctx, "refusal", "what was asked for and why it was refused")
        if not isinstance(detail, dict):
            raise ContractError(f"refusal: expected {{target, reason}}, found {str(detail)[:60]}")
        return call.refuse(str(detail.get("target", ""))[:256], str(detail.get("reason", ""))[:512])

    # -- onboarding --------------------------------------------------------------------------------------------

    @submit
    def submit_onboarding(self, ctx: Context, exchange: str) -> dict:
        """File or update an exchange's due-diligence record (transient ``record``); a new version voids
        the approvals of the old one."""
        call = _Call(ctx, "submit_onboarding")
        if exchange not in call.config["exchanges"]:
            raise ContractError(f"exchange: expected one of {', '.join(call.config['exchanges'])}, found {exchange!r}",
                                code="NOT_FOUND")  # fmt: skip
        if not (call.bank and call.role in BANK_PEOPLE):
            return call.refuse(f"onb:{exchange}", "only the bank's analysts and BSA officer file onboarding records")
        try:
            record = record_from_json(_transient(ctx, "record", "the due-diligence record"))
        except CodecError as exc:
            raise ContractError(str(exc)) from None
        if record.exchange_id != exchange:
            raise ContractError(f"record.exchange_id: expected {exchange}, found {record.exchange_id!r}")
        previous = call.get(f"onb:{exchange}") or {"approvals": []}
        digest = record_hash(record)
        onboarding = {
            "exchange": exchange,
            "record": record_to_json(record),
            "record_hash": digest,
            "approvals": previous["approvals"],
            "tx": ctx.tx_id,
            "at": ctx.timestamp_ms,
        }
        onboarding.update(_approval_state(call, onboarding))
        call.put(f"onb:{exchange}", onboarding)
        call.trail("onboarding", exchange)
        return {"recorded": True}

    @submit
    def approve_onboarding(self, ctx: Context, exchange: str, approved_hash: str) -> dict:
        """One person's approval of one version of an exchange's record, in their own role; the contract then
        decides with the approval policy over every approver of that version."""
        call = _Call(ctx, "approve_onboarding")
        if not (call.bank and call.role in BANK_PEOPLE):
            return call.refuse(
                f"onb:{exchange}", f"approval needs an analyst or the BSA officer of {call.config['bank']}; {call.who} "
                f"signs as {call.role}"
            )  # fmt: skip
        onboarding = call.get(f"onb:{exchange}") if exchange in call.config["exchanges"] else None
        if onboarding is None:
            raise ContractError(f"no due-diligence record of {exchange!r} is on file", code="NOT_FOUND")
        if approved_hash != onboarding["record_hash"]:
            return call.refuse(
                f"onb:{exchange}",
                f"the approval names another version of the record: expected {onboarding['record_hash'][:12]}, "
                f"found {str(approved_hash)[:12]}",
                "CONFLICT",
            )
        cert = ctx.caller.cert_hash.hex()
        if any(a["cert"] == cert and a["record_hash"] == approved_hash for a in onboarding["approvals"]):
            return call.refuse(f"onb:{exchange}", f"{call.who} has already approved this version", "CONFLICT")
        found = problems(record_from_json(onboarding["record"]), ctx.timestamp.date())
        if found:
            why = "; ".join(f"{p.rule}: expected {p.expected}, found {p.found}" for p in found)
            return call.refuse(f"onb:{exchange}", f"the record has problems that block approval: {why}", "CONFLICT")
        approval = {
            "who": call.who,
            "org": call.org,
            "kind": ctx.caller.kind,
            "cert": cert,
            "role": call.role,
            "record_hash": approved_hash,
            "at": ctx.timestamp_ms,
            "tx": ctx.tx_id,
        }
        onboarding = {**onboarding, "approvals": [*onboarding["approvals"], approval]}
        onboarding.update(_approval_state(call, onboarding))
        call.put(f"onb:{exchange}", onboarding)
        call.trail("approval", exchange)
        return {"recorded": True}

    @evaluate
    def onboarding(self, ctx: Context, exchange: str) -> Any:
        """An exchange's record, approvals and state (bank, examiners), with what blocks approval today."""
        call = _Call(ctx, "onboarding")
        call.reader("onboarding records")
        record = call.get(f"onb:{exchange}") if exchange in call.config["exchanges"] else None
        if record is None:
            return None
        found = problems(record_from_json(record["record"]), ctx.timestamp.date())
        return {
            **record,
            "problems": [{"rule": p.rule, "reason": p.reason, "expected": p.expected, "found": p.found} for p in found],
            "policy": call.config["approval_policy"],
        }

    @evaluate
    def exchanges(self, ctx: Context) -> list:
        """The exchanges: every one for the bank and examiners, itself only for an exchange."""
        call = _Call(ctx, "exchanges")
        out = []
        if call.exchange is not None:
            accounts = ctx.get_private(call.collection(call.exchange), "index:accounts") or []
            info = call.config["exchanges"][call.exchange]
            # An exchange cannot read the bank's onboarding records; accounts exist only once it was approved.
            return [{"exchange": call.exchange, "name": info.get("name", ""), "approved": bool(accounts),
                     "submitted": bool(accounts), "accounts": len(accounts)}]  # fmt: skip
        call.reader("exchanges' records")
        owners = call.get("accounts") or {}
        for exchange, info in call.config["exchanges"].items():
            onboarding = call.get(f"onb:{exchange}")
            row = {"exchange": exchange, "name": info.get("name", ""), "submitted": onboarding is not None,
                   "approved": bool(onboarding and onboarding["approved"]), "rating": "", "next_review_due": None,
                   "accounts": sum(1 for owner in owners.values() if owner == exchange)}  # fmt: skip
            if onboarding is not None:
                record = record_from_json(onboarding["record"])
                row["rating"] = record.rating.value
                if record.reviews:
                    row["next_review_due"] = next_review_due(max(record.reviews, key=lambda r: r.on)).isoformat()
            out.append(row)
        return out

    # -- accounts and posting ----------------------------------------------------------------------------------

    @submit
    def open_accounts(self, ctx: Context, exchange: str) -> dict:
        """Open accounts (transient ``accounts``: a list of ids) for an exchange whose onboarding is approved."""
        call = _Call(ctx, "open_accounts")
        if exchange not in call.config["exchanges"]:
            raise ContractError(f"exchange: expected one of {', '.join(call.config['exchanges'])}, found {exchange!r}",
                                code="NOT_FOUND")  # fmt: skip
        if not call.bank:
            return call.refuse(f"accounts:{exchange}", "only the bank opens accounts")
        onboarding = call.get(f"onb:{exchange}")
        if onboarding is None or not onboarding["approved"]:
            return call.refuse(
                f"accounts:{exchange}",
                f"{exchange}'s onboarding is not approved (needs {call.config['approval_policy']})",
                "CONFLICT",
            )
        accounts = _transient(ctx, "accounts", "the account ids")
        if not isinstance(accounts, list) or not accounts or len(accounts) > MAX_POSTING:
            raise ContractError(f"accounts: expected a list of 1–{MAX_POSTING} ids, found {str(accounts)[:60]}")
        owners = dict(call.get("accounts") or {})
        collection = call.collection(exchange)
        index = list(ctx.get_private(collection, "index:accounts") or [])
        opened = []
        for account in accounts:
            if not isinstance(account, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", account) or account == "CASH":
                raise ContractError(f"account: expected 1–64 letters, digits or ._:-, found {str(account)[:60]!r}")
            if account in owners:
                raise ContractError(f"account {account} is already open (for {owners[account]})", code="CONFLICT")
            owners[account] = exchange
            index.append(account)
            ctx.put_private(collection, f"acct:{account}", {"account": account, "exchange": exchange,
                                                             "tx": ctx.tx_id, "at": ctx.timestamp_ms})  # fmt: skip
            opened.append(account)
        call.put("accounts", owners)
        ctx.put_private(collection, "index:accounts", index)
        call.trail("accounts", f"{exchange}: {len(opened)} opened")
        return {"opened": len(opened)}

    @submit
    def post(self, ctx: Context) -> dict:
        """Post transactions (transient ``transactions``) to the accounts' exchanges' collections: each is checked
        with the account policy (USD only, US only, nothing crypto); one violation refuses the whole posting with
        code INVALID and nothing is written (the service records the violation with ``record_violation``)."""
        call = _Call(ctx, "post")
        if not (call.bank and (call.role == SERVICE or ctx.caller.kind == "admin")):
            return call.refuse("post", "only the bank's core-banking program posts transactions")
        items = _transient(ctx, "transactions", "the transactions")
        if not isinstance(items, list) or not 0 < len(items) <= MAX_POSTING:
            raise ContractError(f"transactions: expected a list of 1–{MAX_POSTING}, found {str(items)[:60]}")
        owners = call.get("accounts") or {}
        posted = set(call.index("posted"))
        by_exchange: dict[str, list[Any]] = {}
        ids = []
        for item in items:
            try:
                tx = transaction_from_json(item)
            except CodecError as exc:
                raise ContractError(str(exc)) from None
            violation = first_violation(tx)
            if violation is not None:
                raise ContractError(
                    f"transaction {tx.tx_id}: {violation.rule}: {violation.reason} (expected {violation.expected}, "
                    f"found {violation.found})"
                )
            if tx.tx_id in posted or tx.tx_id in ids:
                raise ContractError(f"transaction {tx.tx_id} is already posted", code="CONFLICT")
            sides = {owners[a] for a in (tx.orig_account, tx.bene_account) if a in owners}
            if not sides:
                raise ContractError(
                    f"transaction {tx.tx_id}: expected an account at the bank on one side, found "
                    f"{tx.orig_account} → {tx.bene_account}"
                )
            record = {"transaction": transaction_to_json(tx), "tx": ctx.tx_id}
            for exchange in sorted(sides):
                by_exchange.setdefault(exchange, []).append(record)
            ids.append(tx.tx_id)
        for exchange, records in by_exchange.items():
            collection = call.collection(exchange)
            ctx.put_private(collection, f"txb:{ctx.tx_id}", records)
            batches = list(ctx.get_private(collection, "index:txb") or [])
            ctx.put_private(collection, "index:txb", [*batches, ctx.tx_id])
        call.add_index("posted", *ids)
        call.trail("posting", f"{len(ids)} transactions")
        return {"posted": len(ids)}

    @submit
    def record_violation(self, ctx: Context) -> dict:
        """Record a transaction the account policy refused (transient ``transaction``) for the analyst's queue;
        accepted only when the same policy finds a violation in it."""
        call = _Call(ctx, "record_violation")
        if not call.bank:
            return call.refuse("violation", "only the bank records policy violations")
        try:
            tx = transaction_from_json(_transient(ctx, "transaction", "the refused transaction"))
        except CodecError as exc:
            raise ContractError(str(exc)) from None
        violation = first_violation(tx)
        if violation is None:
            raise ContractError(f"transaction {tx.tx_id}: expected a policy violation to record, found none")
        violation_id = "V-" + ctx.tx_id[:12]
        call.put(
            f"viol:{violation_id}",
            {
                "violation_id": violation_id,
                "violation": {"rule": violation.rule, "reason": violation.reason, "expected": violation.expected,
                              "found": violation.found},
                "transaction": transaction_to_json(tx),
                "by": call.who,
                "at": ctx.timestamp_ms,
                "tx": ctx.tx_id,
            },
        )  # fmt: skip
        call.add_index("violations", violation_id)
        call.trail("violation", violation_id)
        return {"recorded": True}

    @evaluate
    def violations(self, ctx: Context) -> list:
        """The recorded policy violations (bank, examiners)."""
        call = _Call(ctx, "violations")
        call.reader("policy violations")
        return [call.get(f"viol:{v}") for v in call.index("violations")]

    @evaluate
    def accounts(self, ctx: Context, with_transactions: bool = True) -> list:
        """Accounts and their transactions: an exchange's own; every exchange's for the bank and examiners."""
        call = _Call(ctx, "accounts")
        if call.exchange is not None:
            exchanges = [call.exchange]
        elif call.bank or call.examiner:
            exchanges = list(call.config["exchanges"])
        else:
            call.forbid("accounts are their exchange's, the bank's and the examiners'")
        out = []
        for exchange in exchanges:
            collection = call.collection(exchange)
            names = ctx.get_private(collection, "index:accounts") or []
            records: list[Any] = []
            if with_transactions:
                for batch in ctx.get_private(collection, "index:txb") or []:
                    records += ctx.get_private(collection, f"txb:{batch}") or []
            for account in names:
                mine = [
                    r
                    for r in records
                    if account in (r["transaction"]["orig_account"], r["transaction"]["bene_account"])
                ]
                out.append({"account": account, "exchange": exchange, "transactions": mine})
        return out

    # -- alerts ------------------------------------------------------------------------------------------------

    @submit
    def record_alerts(self, ctx: Context) -> dict:
        """Record alerts (transient ``alerts``: ``[{"alert": …, "source": …}]``); known ids are skipped."""
        call = _Call(ctx, "record_alerts")
        if not call.bank:
            return call.refuse("alerts", "only the bank records alerts")
        items = _transient(ctx, "alerts", "the alerts")
        if not isinstance(items, list) or not 0 < len(items) <= MAX_ALERTS:
            raise ContractError(f"alerts: expected a list of 1–{MAX_ALERTS}, found {str(items)[:60]}")
        known = set(call.index("alerts"))
        recorded = []
        for item in items:
            if not isinstance(item, dict) or item.get("source") not in ("streaming", "batch"):
                raise ContractError(f"alert item: expected {{alert, source: streaming|batch}}, found {str(item)[:60]}")
            try:
                alert = alert_from_json(item.get("alert"))
            except CodecError as exc:
                raise ContractError(str(exc)) from None
            if alert.alert_id in known:
                continue
            known.add(alert.alert_id)
            call.put(f"alert:{alert.alert_id}", {"alert": item["alert"], "source": item["source"], "case_id": "",
                                                 "tx": ctx.tx_id, "at": ctx.timestamp_ms})  # fmt: skip
            recorded.append(alert.alert_id)
        if recorded:
            call.add_index("alerts", *recorded)
            call.add_index(
                "trail",
                *(
                    {"kind": "alert", "subject": a, "by": call.who, "role": call.role, "at": ctx.timestamp_ms,
                     "tx": ctx.tx_id}
                    for a in recorded
                ),
            )  # fmt: skip
        return {"recorded": len(recorded)}

    @evaluate
    def alerts(self, ctx: Context) -> list:
        """Every alert (bank, examiners; never an exchange)."""
        call = _Call(ctx, "alerts")
        call.reader("alerts")
        return [call.get(f"alert:{a}") for a in call.index("alerts")]

    @evaluate
    def alert(self, ctx: Context, alert_id: str) -> Any:
        """One alert (bank, examiners), or None."""
        call = _Call(ctx, "alert")
        call.reader("alerts")
        if not isinstance(alert_id, str) or not 0 < len(alert_id) <= 64:
            return None
        return call.get(f"alert:{alert_id}")

    # -- cases -------------------------------------------------------------------------------------------------

    def _event_refusal(self, call: _Call, case_id: str, event: Any) -> dict[str, Any] | None:
        kind = type(event)
        allowed = case_domain.ROLES[kind]
        if not call.bank or call.role not in allowed:
            return call.refuse(
                f"case:{case_id}",
                f"{kind.__name__} needs role {' or '.join(sorted(allowed))} of the bank; "
                f"{call.who} signs as {call.role}",
            )
        return None

    @submit
    def open_case(self, ctx: Context) -> dict:
        """Open a case from recorded alerts not yet in a case (transient ``alert_ids``; an analyst or the BSA
        officer)."""
        call = _Call(ctx, "open_case")
        alert_ids = _transient(ctx, "alert_ids", "the alerts' ids")
        if not isinstance(alert_ids, list) or not 0 < len(alert_ids) <= 50:
            raise ContractError(f"alert_ids: expected a list of 1–50 alert ids, found {str(alert_ids)[:60]}")
        case_id = "C-" + ctx.tx_id[:10]
        event_probe = case_domain.Open(case_id, (), ctx.timestamp, call.who, call.role)
        refused = self._event_refusal(call, case_id, event_probe)
        if refused:
            return refused
        records = []
        for alert_id in alert_ids:
            record = call.get(f"alert:{alert_id}") if isinstance(alert_id, str) and 0 < len(alert_id) <= 64 else None
            if record is None:
                raise ContractError(f"no alert {str(alert_id)[:64]!r}", code="NOT_FOUND")
            if record["case_id"]:
                return call.refuse(f"alert:{alert_id}", f"alert {alert_id} is already in case {record['case_id']}",
                                   "CONFLICT")  # fmt: skip
            records.append((alert_id, record))
        alerts = tuple(alert_from_json(r["alert"]) for _, r in records)
        event = replace(event_probe, alerts=alerts)
        try:
            case_domain.apply(None, event)
        except case_domain.TransitionError as exc:
            return call.refuse(f"case:{case_id}", str(exc), "CONFLICT")
        step = {"event": case_domain.to_record(event), "by": call.who, "role": call.role, "at": ctx.timestamp_ms,
                "tx": ctx.tx_id}  # fmt: skip
        call.put(f"case:{case_id}", {"case_id": case_id, "steps": [step], "filings": []})
        for alert_id, record in records:
            call.put(f"alert:{alert_id}", {**record, "case_id": case_id})
        call.add_index("cases", case_id)
        call.trail("case", f"{case_id} open")
        ctx.set_event("case", {"case_id": case_id})
        return {"case_id": case_id}

    @submit
    def case_step(self, ctx: Context, case_id: str) -> dict:
        """Apply one event (transient ``event``, a :func:`~..domain.cases.to_record` mapping) to a case, with the
        caller as actor, the caller's role and the ledger's time; a filing also gives its XML (transient ``xml``)
        whose SHA-256 must be the event's ``filing_hash``."""
        call = _Call(ctx, "case_step")
        raw = _transient(ctx, "event", "the case event")
        if not isinstance(raw, dict) or raw.get("event") in (None, "open"):
            raise ContractError(f"event: expected a step record other than open, found {str(raw)[:60]}")
        # Who, in which role and when are the ledger's, whatever the request says.
        record = {**raw, "at": ctx.timestamp.isoformat(), "actor": call.who, "role": call.role}
        try:
            event = case_domain.from_record(record)
        except (case_domain.TransitionError, TypeError, ValueError, KeyError) as exc:
            raise ContractError(f"event: {exc}") from None
        refused = self._event_refusal(call, str(case_id)[:32], event)
        if refused:
            return refused
        stored = call.get(f"case:{case_id}") if isinstance(case_id, str) and 0 < len(case_id) <= 32 else None
        if stored is None:
            raise ContractError(f"no case {str(case_id)[:32]!r}", code="NOT_FOUND")
        case = case_domain.replay([case_domain.from_record(s["event"]) for s in stored["steps"]])
        try:
            after = case_domain.apply(case, event)
        except case_domain.TransitionError as exc:
            return call.refuse(f"case:{case_id}", str(exc), "CONFLICT")
        filings = list(stored.get("filings", []))
        if isinstance(event, case_domain.RecordFiling):
            xml = ctx.transient.get("xml")
            if xml is None or _hash(xml) != event.filing_hash:
                found = "no XML" if xml is None else _hash(xml)[:12]
                raise ContractError(f"xml: expected bytes whose SHA-256 is {event.filing_hash[:12]}…, found {found}")
            filing = {"kind": "SAR", "subject": case_id, "hash": event.filing_hash,
                      "filed_on": after.filings[-1].filed_on.isoformat(), "by": call.who, "tx": ctx.tx_id}  # fmt: skip
            call.put(f"filing:{event.filing_hash}", {**filing, "xml": xml.decode("utf-8")})
            call.add_index("filings", event.filing_hash)
            filings.append(filing)
        step = {"event": case_domain.to_record(event), "by": call.who, "role": call.role, "at": ctx.timestamp_ms,
                "tx": ctx.tx_id}  # fmt: skip
        call.put(f"case:{case_id}", {**stored, "steps": [*stored["steps"], step], "filings": filings})
        call.trail("filing" if filings and filings[-1]["tx"] == ctx.tx_id else "case", f"{case_id} {record['event']}")
        return {"recorded": True}

    @evaluate
    def case(self, ctx: Context, case_id: str) -> Any:
        """One case's records (bank, examiners), or None."""
        call = _Call(ctx, "case")
        call.reader("cases")
        if not isinstance(case_id, str) or not 0 < len(case_id) <= 32:
            return None
        return call.get(f"case:{case_id}")

    @evaluate
    def cases(self, ctx: Context) -> list:
        """Every case's records (bank, examiners)."""
        call = _Call(ctx, "cases")
        call.reader("cases")
        return [call.get(f"case:{c}") for c in call.index("cases")]

    # -- filings -----------------------------------------------------------------------------------------------

    @submit
    def record_ctr(self, ctx: Context) -> dict:
        """Record a CTR of one account and business day: transient ``ctr`` (account, day, hash, filed_on) and
        ``xml`` (the account never travels as an argument: a block is read by every member's peer)."""
        call = _Call(ctx, "record_ctr")
        if not call.bank:
            return call.refuse("ctr", "only the bank files CTRs")
        info = _transient(ctx, "ctr", "the CTR's account, day, hash and filing date")
        if not isinstance(info, dict):
            raise ContractError(f"ctr: expected {{account, day, hash, filed_on}}, found {str(info)[:60]}")
        account, day = info.get("account"), str(info.get("day", ""))
        owners = call.get("accounts") or {}
        if not isinstance(account, str) or account not in owners:
            raise ContractError(f"ctr.account: no account {str(account)[:64]!r} at the bank", code="NOT_FOUND")
        if not DAY.match(day):
            raise ContractError(f"ctr.day: expected YYYY-MM-DD, found {day[:20]!r}")
        xml = ctx.transient.get("xml")
        digest = info.get("hash")
        if not isinstance(digest, str) or not HEX64.match(digest) or xml is None or _hash(xml) != digest:
            raise ContractError("ctr: expected the XML (transient 'xml') and its SHA-256 (ctr.hash) to agree")
        filed_on = str(info.get("filed_on", ""))
        if not DAY.match(filed_on):
            raise ContractError(f"ctr.filed_on: expected YYYY-MM-DD, found {filed_on[:20]!r}")
        if call.get(f"filing:{digest}") is not None:
            raise ContractError(f"this CTR ({digest[:12]}…) is already filed", code="CONFLICT")
        filing = {"kind": "CTR", "subject": f"{account}@{day}", "hash": digest, "filed_on": filed_on, "by": call.who,
                  "tx": ctx.tx_id}  # fmt: skip
        call.put(f"filing:{digest}", {**filing, "xml": xml.decode("utf-8")})
        call.add_index("filings", digest)
        call.trail("filing", f"CTR {account} {day}")
        return {"recorded": True}

    @evaluate
    def filing(self, ctx: Context, filing_hash: str) -> Any:
        """One filing with its XML (bank, examiners), or None."""
        call = _Call(ctx, "filing")
        call.reader("filings")
        if not isinstance(filing_hash, str) or not HEX64.match(filing_hash):
            return None
        return call.get(f"filing:{filing_hash}")

    @evaluate
    def filings(self, ctx: Context) -> list:
        """Every filing without its XML (bank, examiners)."""
        call = _Call(ctx, "filings")
        call.reader("filings")
        out = []
        for digest in call.index("filings"):
            record = dict(call.get(f"filing:{digest}") or {})
            record.pop("xml", None)
            out.append(record)
        return out

    # -- examination -------------------------------------------------------------------------------------------

    @submit
    def examination_note(self, ctx: Context) -> dict:
        """An examiner's note (transient ``note``: ``{"subject", "text"}``) on a record: the only write an examiner
        makes, and only an examiner makes it."""
        call = _Call(ctx, "examination_note")
        if not call.examiner:
            return call.refuse("note", f"only an examiner writes examination notes; {call.who} is not one")
        note = _transient(ctx, "note", "the note")
        subject = note.get("subject") if isinstance(note, dict) else None
        text = note.get("text") if isinstance(note, dict) else None
        if not isinstance(subject, str) or not 0 < len(subject) <= 256:
            raise ContractError(f"note.subject: expected 1–256 characters naming a record, found {str(subject)[:40]!r}")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE:
            raise ContractError(f"note.text: expected 1–{MAX_NOTE} characters, found {str(text)[:40]!r}")
        note_id = "N-" + ctx.tx_id[:12]
        call.put(f"note:{note_id}", {"note_id": note_id, "subject": subject, "text": text, "by": call.who,
                                     "at": ctx.timestamp_ms, "tx": ctx.tx_id})  # fmt: skip
        call.add_index("notes", note_id)
        call.trail("note", subject)
        return {"recorded": True}

    @evaluate
    def notes(self, ctx: Context) -> list:
        """Every examination note (bank, examiners)."""
        call = _Call(ctx, "notes")
        call.reader("examination notes")
        return [call.get(f"note:{n}") for n in call.index("notes")]

    @evaluate
    def trail(self, ctx: Context) -> list:
        """The audit trail: every step in order with who, role, when and its transaction (bank, examiners)."""
        call = _Call(ctx, "trail")
        call.reader("the audit trail")
        refusals = [
            {"kind": "refusal", "subject": f"{r['function']} ({r['code']})", "by": r["who"], "role": r["role"],
             "at": r["at"], "tx": r["tx"]}
            for _, r in ctx.get_prefix("refusal:")
        ]  # fmt: skip
        return sorted([*call.index("trail"), *refusals], key=lambda step: step["at"])

    @evaluate
    def refusal(self, ctx: Context, tx_id: str) -> Any:
        """One refusal with what was asked for and why (bank, examiners), or None."""
        call = _Call(ctx, "refusal")
        call.reader("refusals")
        if not isinstance(tx_id, str) or not re.fullmatch(r"[0-9a-f]{64}", tx_id):
            return None
        public = ctx.get_state(f"refusal:{tx_id}")
        return None if public is None else {**public, **(call.get(f"refusal:{tx_id}") or {})}

    @evaluate
    def refusals(self, ctx: Context) -> list:
        """Every refusal logged (bank, examiners)."""
        call = _Call(ctx, "refusals")
        call.reader("refusals")
        return [{**r, **(call.get(f"refusal:{r['tx']}") or {})} for _, r in ctx.get_prefix("refusal:")]
