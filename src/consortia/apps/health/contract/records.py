"""The ``health-records`` contract: consent, the access log, record anchors, alerts, models — and erasure.

**Nothing personal reaches the ledger in clear.** A block holds a transaction's arguments, its events, its
result and its read-write set, and every member of the channel may fetch blocks; so personal data — which
patients exist, their readings and alerts, their consents, who read whose data for which purpose — travels to
this contract only as *transient data* (``ctx.transient``, which the proposal commits to by a salted hash but
does not carry) and is kept only in the private data collection :data:`PRIVATE`, whose plaintext lives on the
peers of its member organisations (the custodian and the care organisations) while the ledger gets the hash of
each key and a salted hash of each value. Arguments, events and the results of submit functions carry only
what anyone may see: counts, random batch ids, Merkle roots, transaction ids, model hashes.

*Keys that give nothing away.* The ledger shows the SHA-256 of every private key a transaction touches, and a
pseudonym such as ``GW-0007`` is easy to guess, so no private key contains one. At :meth:`init` the custodian
hands the contract a random 32-byte *pseudonym key* (transient, kept in the collection); every private key is
built from ``HMAC-SHA256(pseudonym key, kind ‖ value)`` (:meth:`_Call.token`). Member peers can compute them;
anyone else sees unlinkable hex. What remains visible is who submitted a transaction (its creator certificate),
which function it called, and that two transactions touched the same opaque key.

Public state (``get_state``), readable by every channel member:

* ``config`` — the custodian organisation and, per role, the organisations whose certificates may carry it.
* ``org:<org>`` — each organisation's public key-encryption key (:mod:`..service.crypto`).
* ``anchor:<batch>`` — a batch of records stored off-chain: count, Merkle root (RFC 9162) of the records' salted
  hashes (and the hashes themselves for small batches), pointer. No patient, no data class.
* ``model:<name>:<version>`` and ``model-current:<name>`` — the model registry.

Private state (collection :data:`PRIVATE`; ``t(…)`` is the HMAC token):

* ``secret`` — the pseudonym key; ``r`` / ``r:<n>`` — the roster of enrolled pseudonyms, in pages;
* ``p:<t(patient)>`` — the patient: home organisation, the account (``Org/name``) of their certificate,
  status; ``u:<t(account)>`` — which patient an account is;
* ``c:<t(patient)>`` — the patient's FHIR R4 Consent resources (:mod:`..domain.consent`);
* ``n:<t(patient)>`` — the length of the patient's access log and their alert ids; ``l:<t(patient)>:<i>`` —
  access-log entry *i*: who (organisation, person, role, and on whose behalf), when, purpose, data classes,
  decision and reason;
* ``k:<t(patient)>`` — the patient's data key wrapped for each organisation the patient consented to;
* ``g:<tx>`` — the decisions of one access (read by :meth:`release_keys`); ``b:<batch>`` — whose batch it is;
* ``a:<t(alert)>`` / ``d:<t(alert)>`` — an alert's status and its details; ``i`` / ``i:<n>`` — every alert
  id, in pages; ``t:<tx>`` — the alerts one transaction recorded (for the live stream).

**Authority comes from a certificate and the organisation that issued it.** A role counts only from the
organisations :data:`config` names for it (a clinician from the hospital or the clinic, an analyst from the
analysis service …), and a patient is recognised only by a certificate of the organisation holding the patient's
record, whose account the custodian bound to the pseudonym at enrolment (:meth:`_Call.own_patient`). A service
acting for a person says so: the custodian's ingestion service anchors a patient's posted readings with
``on_behalf`` naming the patient's account, which the contract checks and writes into the access log.

Reads are *transactions* (:meth:`access`): a refused read is logged like a permitted one, and
:meth:`release_keys` hands out the data key only for a permitted access of the same caller younger than 15
minutes, checking consent again. :meth:`erase` purges the wrapped keys and the alert details, marks the patient
erased and ends every consent; the access log, the anchors and the hashes stay, and the ledger still verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

from consortia.apps.health.domain import consent as consent_rules
from consortia.apps.health.domain.loinc import DATA_CLASSES
from consortia.contracts import Context, Contract, ContractError, evaluate, submit
from consortia.ledger.encoding import parse_json

PRIVATE = "health-care"
"""The private data collection of everything personal (members: the custodian and the care organisations)."""
GRANT_TTL_MS = 15 * 60 * 1000
MAX_PATIENTS = 1000
MAX_ENROL = 5000
MAX_INLINE_HASHES = 64
MAX_ALERTS = 1000
MAX_LOG = 1000
ROSTER_PAGE = 1000
INDEX_PAGE = 500
STAFF_ROLES = ("clinician", "coordinator", "officer", "analyst")
CUSTODIAN_ROLES = ("officer", "service")
ROLES = ("patient", "officer", "service", "clinician", "coordinator", "analyst")
SEVERITIES = ("critical", "warning")
ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")
MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MODEL_VERSION = re.compile(r"^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}-[0-9a-f]{8}$")
"""What training produces: ``major.minor.patch-`` and the first 8 hex digits of the model file's SHA-256."""
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}/[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
ERASURE = "ERASURE"


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or not set(value) <= ID_CHARS:
        raise ContractError(f"{what} must be 1–64 letters, digits, '-', '.' or '_', not {value!r}", code="INVALID")
    return value


def _iso(ctx: Context) -> str:
    return ctx.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _transient(ctx: Context, name: str, what: str) -> Any:
    """A JSON value the client sent as transient data (personal data never travels as an argument)."""
    raw = ctx.transient.get(name)
    if raw is None:
        raise ContractError(
            f"give {what} as transient data {name!r}: personal data never travels as an argument", code="INVALID"
        )
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise ContractError(f"transient {name!r} must be JSON ({what}): {exc}", code="INVALID") from None


def _classes(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or any(c not in DATA_CLASSES for c in value):
        raise ContractError(
            f"{what} must be a list of data classes among {', '.join(DATA_CLASSES)}, not {value!r}", code="INVALID"
        )
    return list(value)


def token(secret: bytes, kind: str, value: str) -> str:
    """The keyed hash that stands for ``value`` (a pseudonym, an account, an alert id) in private keys."""
    return hmac.new(secret, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()[:32]


class _Call:
    """One function call: the caller as this contract sees it, and the private records it touched (cached)."""

    def __init__(self, ctx: Context, contract: HealthRecords) -> None:
        self.ctx = ctx
        config = ctx.get_state("config")
        if config is None:
            raise ContractError(
                "the contract is not initialised (call init with the custodian organisation)", code="CONFLICT"
            )
        self.config: dict[str, Any] = config
        self.custodian_org: str = config["custodian"]
        self._secret: bytes | None = None
        self._records: dict[str, dict[str, Any] | None] = {}
        self._consents: dict[str, list[dict[str, Any]]] = {}
        self._own: tuple[str | None, str] | None = None

    # -- who is calling --------------------------------------------------------------------------------------

    @property
    def caller_id(self) -> str:
        """``org/name`` of the caller."""
        return self.ctx.caller.id

    def role_orgs(self, role: str) -> list[str]:
        """The organisations whose certificates may carry ``role``."""
        return list(self.config["roles"].get(role, []))

    @property
    def role(self) -> str | None:
        """The caller's role if its organisation may issue it (else None: a role counts only from its orgs)."""
        role = self.ctx.caller.role
        return role if role is not None and self.ctx.caller.org in self.role_orgs(role) else None

    def role_refusal(self) -> str:
        """Why the caller's role does not count (empty when it does, or when it has none)."""
        role = self.ctx.caller.role
        if role is None or self.role is not None:
            return ""
        orgs = self.role_orgs(role)
        where = f"only from {', '.join(orgs)}" if orgs else "from no organisation"
        return f"the role {role} counts {where}; {self.caller_id}'s certificate was issued by {self.ctx.caller.org}"

    @property
    def custodian(self) -> bool:
        """Whether the caller is the custodian's admin, officer or service (not a patient, not an auditor)."""
        caller = self.ctx.caller
        return caller.org == self.custodian_org and (caller.kind == "admin" or self.role in CUSTODIAN_ROLES)

    def require_custodian(self, what: str) -> None:
        """ContractError unless the caller is the custodian's staff or service."""
        if not self.custodian:
            raise ContractError(
                f"only the custodian ({self.custodian_org}) — its admin, officers or service — may {what}; "
                f"{self.caller_id} may not",
                code="FORBIDDEN",
            )

    def own_patient(self) -> str | None:
        """The pseudonym of the patient who is calling, or None (see :meth:`patient_refusal`)."""
        if self._own is None:
            self._own = self._recognise()
        return self._own[0]

    def patient_refusal(self) -> str:
        """Why the caller is not recognised as a patient."""
        if self._own is None:
            self._own = self._recognise()
        return self._own[1]

    def _recognise(self) -> tuple[str | None, str]:
        caller = self.ctx.caller
        if caller.role != "patient":
            return None, f"{self.caller_id} is not a patient"
        if self.role is None:
            return None, (
                f"{self.caller_id} holds a patient certificate issued by {caller.org}, but a patient is recognised "
                f"only by a certificate of {', '.join(self.role_orgs('patient'))}, which holds the patient records"
            )
        link = self.get(f"u:{self.token('account', self.caller_id)}")
        record = None if link is None else self.record(link["patient"], required=False)
        if record is None or record.get("account") != self.caller_id or record.get("home_org") != caller.org:
            return None, f"{self.caller_id} is not enrolled as a patient"
        return record["id"], ""

    def require_own_patient(self, what: str) -> str:
        """The calling patient's pseudonym, or ContractError saying why the caller is not one."""
        own = self.own_patient()
        if own is None:
            raise ContractError(f"only a patient may {what}: {self.patient_refusal()}", code="FORBIDDEN")
        return own

    def accessor(self) -> consent_rules.Accessor:
        """The caller as consent sees it (its role only where its organisation may issue it)."""
        return consent_rules.Accessor(self.ctx.caller.org, self.caller_id, self.role)

    # -- private state ---------------------------------------------------------------------------------------

    def token(self, kind: str, value: str) -> str:
        """The keyed hash that stands for ``value`` in private keys (unguessable without the pseudonym key)."""
        if self._secret is None:
            stored = self.ctx.get_private(PRIVATE, "secret")
            if stored is None:
                raise ContractError(
                    "the pseudonym key is missing: the contract was initialised without one", code="CONFLICT"
                )
            self._secret = base64.b64decode(stored["key"])
        return token(self._secret, kind, value)

    def get(self, key: str) -> Any | None:
        """A private value."""
        return self.ctx.get_private(PRIVATE, key)

    def put(self, key: str, value: Any) -> None:
        """Write a private value."""
        self.ctx.put_private(PRIVATE, key, value)

    def record(self, patient: Any, *, required: bool = True) -> dict[str, Any] | None:
        """A patient's record (ContractError if not enrolled and ``required``)."""
        patient = _check_id(patient, "patient id")
        if patient not in self._records:
            self._records[patient] = self.get(f"p:{self.token('patient', patient)}")
        record = self._records[patient]
        if record is None and required:
            raise ContractError(f"patient {patient} is not enrolled", code="NOT_FOUND")
        return record

    def put_record(self, record: dict[str, Any]) -> None:
        """Write a patient's record."""
        self._records[record["id"]] = record
        self.put(f"p:{self.token('patient', record['id'])}", record)

    def consents(self, patient: str) -> list[dict[str, Any]]:
        """A patient's consents."""
        if patient not in self._consents:
            stored = self.get(f"c:{self.token('patient', patient)}")
            self._consents[patient] = [] if stored is None else list(stored["consents"])
        return self._consents[patient]

    def put_consents(self, patient: str, consents: list[dict[str, Any]]) -> None:
        """Write a patient's consents."""
        self._consents[patient] = consents
        self.put(f"c:{self.token('patient', patient)}", {"consents": consents})

    def counters(self, patient: str) -> dict[str, Any]:
        """The patient's access-log length and alert ids."""
        return self.get(f"n:{self.token('patient', patient)}") or {"log": 0, "alerts": []}

    def log(self, patient: str, entry: dict[str, Any]) -> None:
        """Append an entry to a patient's access log."""
        counters = self.counters(patient)
        self.put(f"l:{self.token('patient', patient)}:{counters['log']}", entry)
        self.put(f"n:{self.token('patient', patient)}", {**counters, "log": counters["log"] + 1})

    def entry(self, patient: str, purpose: str, classes: list[str], decision: dict[str, Any]) -> dict[str, Any]:
        """An access-log entry for the caller."""
        return {
            "tx_id": self.ctx.tx_id,
            "patient": patient,
            "accessor": self.caller_id,
            "org": self.ctx.caller.org,
            "role": self.ctx.caller.role or "",
            "purpose": purpose,
            "classes": classes,
            "at": _iso(self.ctx),
            **decision,
        }

    def append_paged(self, head_key: str, page_size: int, items: list[str]) -> None:
        """Append ids to a paged list (``head_key`` holds the page count, ``head_key:<n>`` the pages)."""
        head = self.get(head_key) or {"pages": 0, "count": 0}
        pages, page = head["pages"], None
        if pages:
            page = self.get(f"{head_key}:{pages - 1}")
        for item in items:
            if page is None or len(page["items"]) >= page_size:
                if page is not None:
                    self.put(f"{head_key}:{pages - 1}", page)
                page = {"items": []}
                pages += 1
            page["items"].append(item)
        if page is not None:
            self.put(f"{head_key}:{pages - 1}", page)
        self.put(head_key, {"pages": pages, "count": head["count"] + len(items)})

    def paged(self, head_key: str, *, newest_first: bool = False) -> list[str]:
        """Every id of a paged list."""
        head = self.get(head_key) or {"pages": 0}
        order = range(head["pages"] - 1, -1, -1) if newest_first else range(head["pages"])
        out: list[str] = []
        for number in order:
            items = self.get(f"{head_key}:{number}")["items"]
            out.extend(reversed(items) if newest_first else items)
        return out

    # -- decisions -------------------------------------------------------------------------------------------

    def decide(self, record: dict[str, Any], purpose: str, classes: list[str]) -> consent_rules.Decision:
        """May the caller read ``classes`` of this patient for ``purpose``?"""
        patient = record["id"]
        if record.get("status") != "active":
            return consent_rules.Decision(False, f"patient {patient}'s data was erased")
        if self.own_patient() == patient:
            return consent_rules.Decision(True, "the patient's own data")
        if self.ctx.caller.role == "patient":
            if self.own_patient() is None:
                return consent_rules.Decision(False, self.patient_refusal())
            return consent_rules.Decision(False, "a patient may read only their own data")
        refusal = self.role_refusal()
        if refusal:
            return consent_rules.Decision(False, refusal)
        return consent_rules.decide(self.consents(patient), self.accessor(), purpose, classes, self.ctx.timestamp)

    def may_see_alert(self, alert: dict[str, Any]) -> consent_rules.Decision:
        """The same consent as reading the record: treatment or care coordination of the alert's data class."""
        if self.custodian:
            return consent_rules.Decision(True, f"the custodian ({self.custodian_org})")
        record = self.record(alert["patient"])
        purposes = [consent_rules.CAREMGT]
        if self.role == "clinician":
            purposes.insert(0, consent_rules.TREAT)
        decision = consent_rules.Decision(False, "no purpose")
        for purpose in purposes:
            decision = self.decide(record, purpose, [alert["class"]])
            if decision.permit:
                break
        return decision


class HealthRecords(Contract):
    """Consent, access log, anchors, alerts and model registry of the Gangwon chronic-care programme."""

    name = "health-records"
    version = "2.0"

    # -- set-up ----------------------------------------------------------------------------------------------

    @submit
    def init(self, ctx: Context, custodian: str, roles: dict) -> dict:
        """Name the custodian and which organisations may issue each role (once; the custodian's admin).

        Transient ``pseudonym_key``: 32 random bytes from which every private key is derived.
        """
        if ctx.caller.kind != "admin" or ctx.caller.org != custodian:
            raise ContractError(
                f"only an admin of {custodian} may initialise the contract naming it custodian", code="FORBIDDEN"
            )
        if ctx.get_state("config") is not None:
            raise ContractError("the contract is already initialised", code="CONFLICT")
        if custodian not in ctx.channel_orgs:
            raise ContractError(f"{custodian} is not an organisation of channel {ctx.channel}", code="INVALID")
        if not isinstance(roles, dict) or set(roles) - set(ROLES):
            raise ContractError(
                f"roles must map roles among {', '.join(ROLES)} to organisations, not {roles!r}", code="INVALID"
            )
        for role, orgs in roles.items():
            if not isinstance(orgs, list) or any(org not in ctx.channel_orgs for org in orgs):
                raise ContractError(
                    f"roles[{role!r}] must list organisations of channel {ctx.channel}, not {orgs!r}", code="INVALID"
                )
        if roles.get("patient") != [custodian]:
            raise ContractError(
                f"a patient is recognised from the custodian only: roles['patient'] = [{custodian!r}]", code="INVALID"
            )
        key = ctx.transient.get("pseudonym_key")
        if key is None or len(key) != 32:
            raise ContractError(
                "give 32 random bytes as transient 'pseudonym_key' (private keys derive from it)", code="INVALID"
            )
        ctx.put_private(PRIVATE, "secret", {"key": base64.b64encode(key).decode()})
        config = {"custodian": custodian, "roles": {r: list(o) for r, o in sorted(roles.items())}, "since": _iso(ctx)}
        ctx.put_state("config", config)
        return config

    @evaluate
    def config(self, ctx: Context) -> dict:
        """The contract's configuration."""
        return _Call(ctx, self).config

    @submit
    def register_kek(self, ctx: Context, public_key: str) -> dict:
        """Register (or rotate) the caller's organisation's public key-encryption key (base64, 32 bytes)."""
        if ctx.caller.kind != "admin" and ctx.caller.role not in ("service", "analyst"):
            raise ContractError(
                "only an organisation's admin or service may register its key-encryption key", code="FORBIDDEN"
            )
        try:
            raw = base64.b64decode(public_key, validate=True)
        except (ValueError, TypeError):
            raise ContractError("public_key must be base64", code="INVALID") from None
        if len(raw) != 32:
            raise ContractError("public_key must be a 32-byte X25519 public key", code="INVALID")
        record = {"org": ctx.caller.org, "kek_public": public_key, "registered": _iso(ctx), "by": ctx.caller.id}
        ctx.put_state(f"org:{ctx.caller.org}", record)
        return record

    @evaluate
    def org_key(self, ctx: Context, org: str) -> dict | None:
        """An organisation's registered public key-encryption key."""
        return ctx.get_state(f"org:{org}")

    # -- patients --------------------------------------------------------------------------------------------

    @submit
    def enroll(self, ctx: Context) -> dict:
        """Enrol patients (custodian); transient ``patients``: ``[{"patient": id, "account": "Org/name" | null}]``.

        ``account`` binds the patient's certificate (issued by the custodian) to the pseudonym. Already enrolled
        patients are skipped.
        """
        call = _Call(ctx, self)
        call.require_custodian("enrol patients")
        patients = _transient(ctx, "patients", "the patients to enrol")
        if not isinstance(patients, list) or not 1 <= len(patients) <= MAX_ENROL:
            raise ContractError(f"enrol 1–{MAX_ENROL} patients per call", code="INVALID")
        added: list[str] = []
        for item in patients:
            if not isinstance(item, dict):
                raise ContractError(
                    'each patient must be {"patient": id, "account": "Org/name" or null}', code="INVALID"
                )
            patient = _check_id(item.get("patient"), "patient id")
            account = item.get("account")
            if account is not None and (not isinstance(account, str) or not ACCOUNT.match(account)):
                raise ContractError(f"account must be 'Org/name', not {account!r}", code="INVALID")
            if account is not None and account.split("/")[0] != ctx.caller.org:
                raise ContractError(
                    f"a patient's account must be of the custodian {ctx.caller.org}, not {account}", code="INVALID"
                )
            if patient in added or call.record(patient, required=False) is not None:
                continue
            if account is not None and call.get(f"u:{call.token('account', account)}") is not None:
                raise ContractError(f"account {account} is already bound to another patient", code="CONFLICT")
            call.put_record(
                {
                    "id": patient,
                    "home_org": ctx.caller.org,
                    "account": account,
                    "status": "active",
                    "enrolled": _iso(ctx),
                }
            )
            if account is not None:
                call.put(f"u:{call.token('account', account)}", {"patient": patient})
            added.append(patient)
        if added:
            call.append_paged("r", ROSTER_PAGE, added)
        return {"enrolled": len(added), "skipped": len(patients) - len(added)}

    @evaluate
    def whoami(self, ctx: Context) -> dict:
        """The caller as the contract sees it: organisation, role that counts, and (a patient) the pseudonym."""
        call = _Call(ctx, self)
        if ctx.caller.role == "patient":
            patient = call.require_own_patient("be recognised as one")
            return {"id": call.caller_id, "org": ctx.caller.org, "role": "patient", "patient": patient}
        return {"id": call.caller_id, "org": ctx.caller.org, "role": call.role, "refusal": call.role_refusal()}

    @evaluate
    def account_patient(self, ctx: Context, account: str) -> dict | None:
        """Which patient an account (``Org/name``) is — for the custodian's service receiving a patient's readings."""
        call = _Call(ctx, self)
        call.require_custodian("look up a patient's account")
        if not isinstance(account, str) or not ACCOUNT.match(account):
            raise ContractError(f"account must be 'Org/name', not {account!r}", code="INVALID")
        link = call.get(f"u:{call.token('account', account)}")
        return None if link is None else {"patient": link["patient"]}

    @evaluate
    def patient(self, ctx: Context, patient: str) -> dict:
        """A patient's record (the patient, the custodian's staff, and care staff)."""
        call = _Call(ctx, self)
        own = call.own_patient()
        if own != patient and not call.custodian and call.role not in STAFF_ROLES:
            reason = call.patient_refusal() if ctx.caller.role == "patient" else call.role_refusal()
            raise ContractError(
                f"{call.caller_id} may not see patient records: {reason or 'not care staff'}", code="FORBIDDEN"
            )
        record = dict(call.record(patient) or {})
        if not call.custodian:
            record.pop("account", None)
        return record

    @evaluate
    def patients(self, ctx: Context, start: int = 0, limit: int = 1000) -> list:
        """Enrolled patients' records (the custodian's staff only), in enrolment order."""
        call = _Call(ctx, self)
        call.require_custodian("list every patient")
        roster = call.paged("r")[max(start, 0) : max(start, 0) + min(max(limit, 1), MAX_ENROL)]
        return [call.record(p) for p in roster]

    # -- consent ---------------------------------------------------------------------------------------------

    @submit
    def grant(self, ctx: Context) -> dict:
        """The calling patient records a FHIR R4 Consent (transient ``consent``; ``wrapped_keys`` {org: base64})."""
        call = _Call(ctx, self)
        own = call.require_own_patient("grant consent")
        try:
            doc = consent_rules.check(_transient(ctx, "consent", "the FHIR Consent"))
        except consent_rules.ConsentError as exc:
            raise ContractError(f"consent rejected at {exc.path}: {exc.message}", code="INVALID") from None
        patient = doc["patient"]["reference"].removeprefix("Patient/")
        if patient != own:
            raise ContractError(f"only patient {patient} may grant consent to their data", code="FORBIDDEN")
        record = call.record(patient)
        if record["status"] != "active":
            raise ContractError(f"patient {patient}'s data was erased", code="GONE")
        if doc["status"] != "active":
            raise ContractError("a new consent must have status active", code="INVALID")
        consents = call.consents(patient)
        if any(c["id"] == doc["id"] for c in consents):
            raise ContractError(f"consent {doc['id']} already exists", code="CONFLICT")
        doc = {**doc, "dateTime": _iso(ctx)}
        call.put_consents(patient, [*consents, doc])
        if "wrapped_keys" in ctx.transient and doc["provision"]["type"] == "permit":
            wrapped = _transient(ctx, "wrapped_keys", "the data key wrapped per organisation")
            named = {a.split("/")[0] for a in consent_rules.actors(doc)}
            if not isinstance(wrapped, dict) or not set(wrapped) <= named:
                raise ContractError(
                    "wrapped_keys may only hold keys for the organisations the consent names", code="INVALID"
                )
            key = f"k:{call.token('patient', patient)}"
            keys = call.get(key) or {}
            keys.update({org: str(value) for org, value in wrapped.items()})
            call.put(key, keys)
        return {"recorded": 1}

    @submit
    def revoke(self, ctx: Context) -> dict:
        """The calling patient revokes a consent (transient ``consent_id``); keys no other consent covers go."""
        call = _Call(ctx, self)
        patient = call.require_own_patient("revoke consent")
        consent_id = _check_id(_transient(ctx, "consent_id", "the consent to revoke"), "consent id")
        consents = call.consents(patient)
        doc = next((c for c in consents if c["id"] == consent_id), None)
        if doc is None:
            raise ContractError(f"patient {patient} has no consent {consent_id}", code="NOT_FOUND")
        if doc["status"] != "active":
            raise ContractError(f"consent {consent_id} is not active (status {doc['status']})", code="CONFLICT")
        revoked = {
            **doc,
            "status": "inactive",
            "extension": [{"url": "urn:consortia:health:revoked", "valueDateTime": _iso(ctx)}],
        }
        updated = [revoked if c["id"] == consent_id else c for c in consents]
        call.put_consents(patient, updated)
        still = set()
        for other in updated:
            if other["status"] == "active" and other["provision"]["type"] == "permit":
                still.update(a.split("/")[0] for a in consent_rules.actors(other))
        key = f"k:{call.token('patient', patient)}"
        keys = call.get(key) or {}
        kept = {org: value for org, value in keys.items() if org in still}
        if kept != keys:
            call.put(key, kept)
        return {"revoked": 1}

    def _visible_consents(self, call: _Call, patient: str) -> list[dict[str, Any]]:
        """The consents of ``patient`` the caller may see: all (the patient, the custodian), else those naming it."""
        if call.own_patient() == patient or call.custodian:
            call.record(patient)
            return call.consents(patient)
        if call.ctx.caller.role == "patient":
            reason = call.patient_refusal() if call.own_patient() is None else "a patient may see only their own"
            raise ContractError(
                f"{call.caller_id} may not see patient {patient}'s consents: {reason}", code="FORBIDDEN"
            )
        if call.role not in STAFF_ROLES:
            raise ContractError(
                f"{call.caller_id} may not see consents: {call.role_refusal() or 'only care staff may'}",
                code="FORBIDDEN",
            )
        call.record(patient)
        accessor = call.accessor()
        return [c for c in call.consents(patient) if consent_rules.names(c, accessor)]

    @evaluate
    def consents(self, ctx: Context, patient: str) -> list:
        """A patient's consents, newest first (all for the patient and the custodian; staff see those naming them)."""
        call = _Call(ctx, self)
        rows = self._visible_consents(call, patient)
        return sorted(rows, key=lambda c: c.get("dateTime", ""), reverse=True)

    @evaluate
    def consent(self, ctx: Context, patient: str, consent_id: str) -> dict:
        """One of a patient's consents (who may see it: as :meth:`consents`)."""
        call = _Call(ctx, self)
        found = next((c for c in self._visible_consents(call, patient) if c["id"] == consent_id), None)
        if found is None:
            raise ContractError(
                f"patient {patient} has no consent {consent_id} that {call.caller_id} may see", code="NOT_FOUND"
            )
        return found

    @evaluate
    def my_patients(self, ctx: Context, purpose: str) -> list:
        """Patients whose active permit consent names the caller (or its organisation) for ``purpose``."""
        call = _Call(ctx, self)
        if call.role not in STAFF_ROLES:
            raise ContractError(
                f"only care staff may list their patients: {call.role_refusal() or call.caller_id}", code="FORBIDDEN"
            )
        accessor = call.accessor()
        found = []
        for patient in call.paged("r"):
            record = call.record(patient)
            if record["status"] != "active":
                continue
            if any(
                doc["provision"]["type"] == "permit"
                and consent_rules.in_force(doc, ctx.timestamp)
                and consent_rules.names(doc, accessor)
                and consent_rules.covers(doc, purpose)
                for doc in call.consents(patient)
            ):
                found.append(patient)
        return sorted(found)

    # -- reads and the access log ----------------------------------------------------------------------------

    @submit
    def access(self, ctx: Context) -> dict:
        """Ask to read patients' data; transient ``request``: ``{"patients": [...], "purpose": …, "classes": [...]}``.

        Consent is checked and the decision logged for each patient; :meth:`release_keys` tells the caller.
        """
        call = _Call(ctx, self)
        if ctx.caller.role == "patient" and call.own_patient() is None:
            raise ContractError(
                f"{call.caller_id} may not read patient data: {call.patient_refusal()}", code="FORBIDDEN"
            )
        request = _transient(ctx, "request", "the patients, purpose and data classes to read")
        if not isinstance(request, dict):
            raise ContractError(
                'request must be {"patients": [...], "purpose": "...", "classes": [...]}', code="INVALID"
            )
        patients, purpose = request.get("patients"), request.get("purpose")
        if (
            not isinstance(patients, list)
            or not 1 <= len(patients) <= MAX_PATIENTS
            or len(set(patients)) != len(patients)
        ):
            raise ContractError(f"name 1–{MAX_PATIENTS} distinct patients", code="INVALID")
        if not isinstance(purpose, str):
            raise ContractError(
                f"purpose must be one of {', '.join(consent_rules.PURPOSES)}, not {purpose!r}", code="INVALID"
            )
        wanted = _classes(request.get("classes", []), "classes") or list(DATA_CLASSES)
        decisions: dict[str, Any] = {}
        permitted = []
        for patient in patients:
            record = call.record(patient)
            used = consent_rules.PATRQT if call.own_patient() == patient else purpose
            decision = call.decide(record, used, wanted)
            call.log(patient, call.entry(patient, used, wanted, decision.to_json()))
            decisions[patient] = {**decision.to_json(), "purpose": used}
            if decision.permit:
                permitted.append(patient)
        call.put(
            f"g:{ctx.tx_id}",
            {
                "accessor": call.caller_id,
                "purpose": purpose,
                "classes": wanted,
                "at_ms": ctx.timestamp_ms,
                "decisions": decisions,
            },
        )
        ctx.set_event("AccessLogged", {"patients": len(patients)})
        return {"access_id": ctx.tx_id, "patients": len(patients)}

    @evaluate
    def release_keys(self, ctx: Context, access_id: str) -> dict:
        """Each patient of an access of the caller (≤ 15 min old): refused with the reason, or its data key.

        A permitted patient's consent is checked again now, so a revocation ordered since stops the read.
        """
        call = _Call(ctx, self)
        grant = call.get(f"g:{_check_id(access_id, 'access id')}")
        if grant is None:
            raise ContractError(f"there is no access {access_id}", code="NOT_FOUND")
        if grant["accessor"] != call.caller_id:
            raise ContractError(
                f"access {access_id} was granted to {grant['accessor']}, not {call.caller_id}", code="FORBIDDEN"
            )
        age = ctx.timestamp_ms - grant["at_ms"]
        if not 0 <= age <= GRANT_TTL_MS:
            raise ContractError(f"access {access_id} has expired; ask again", code="GONE")
        out: dict[str, Any] = {}
        for patient, logged in grant["decisions"].items():
            if logged["decision"] != "permit":
                out[patient] = {"refused": logged["reason"], "logged": True}
                continue
            decision = call.decide(call.record(patient), logged["purpose"], grant["classes"])
            if not decision.permit:
                out[patient] = {"refused": decision.reason}
            elif call.custodian or call.own_patient() == patient:
                out[patient] = {"custodian": True}
            else:
                wrapped = (call.get(f"k:{call.token('patient', patient)}") or {}).get(ctx.caller.org)
                out[patient] = (
                    {"wrapped": wrapped} if wrapped else {"refused": f"no key was shared with {ctx.caller.org}"}
                )
        return out

    @evaluate
    def access_log(self, ctx: Context, patient: str, limit: int = 200) -> list:
        """Who read a patient's data, newest first (the patient, and the custodian's officers)."""
        call = _Call(ctx, self)
        if call.own_patient() != patient and not (call.custodian and call.role == "officer"):
            reason = call.patient_refusal() if ctx.caller.role == "patient" else call.role_refusal()
            raise ContractError(
                "only the patient (or a custodian officer) may read the access log"
                + (f": {reason}" if reason and call.own_patient() is None else ""),
                code="FORBIDDEN",
            )
        call.record(patient)
        count = call.counters(patient)["log"]
        token = call.token("patient", patient)
        rows = []
        for index in range(count - 1, max(count - min(max(limit, 1), MAX_LOG), 0) - 1, -1):
            rows.append(call.get(f"l:{token}:{index}"))
        return rows

    # -- records ---------------------------------------------------------------------------------------------

    @submit
    def anchor(self, ctx: Context, batch: str, count: int, root: str, hashes: list) -> dict:
        """Anchor a batch of off-chain records: Merkle root of their salted hashes (and the hashes if few).

        Transient ``records``: ``{"patient": id or "", "classes": [...], "on_behalf": "Org/name" (optional)}`` —
        whose records they are, and, when the custodian's service stores a patient's own posted readings, the
        patient's account it acts for (checked, and written into the patient's access log).
        """
        call = _Call(ctx, self)
        _check_id(batch, "batch id")
        if ctx.get_state(f"anchor:{batch}") is not None:
            raise ContractError(f"batch {batch} is already anchored", code="CONFLICT")
        if not isinstance(count, int) or not 1 <= count <= 1_000_000 or not SHA256_HEX.match(str(root)):
            raise ContractError("a batch has 1–1,000,000 records and a root of 64 lowercase hex digits", code="INVALID")
        if len(hashes) > MAX_INLINE_HASHES or (hashes and len(hashes) != count):
            raise ContractError(f"give all hashes of a batch of at most {MAX_INLINE_HASHES}, or none", code="INVALID")
        if any(not SHA256_HEX.match(str(h)) for h in hashes):
            raise ContractError("hashes must be 64 lowercase hex digits each", code="INVALID")
        about = _transient(ctx, "records", "whose records the batch holds and their data classes")
        if not isinstance(about, dict):
            raise ContractError('records must be {"patient": ..., "classes": [...]}', code="INVALID")
        patient = about.get("patient") or ""
        classes = sorted(set(_classes(about.get("classes", []), "classes")))
        on_behalf = about.get("on_behalf")
        if patient:
            record = call.record(patient)
            if record["status"] != "active":
                raise ContractError(f"patient {patient}'s data was erased", code="GONE")
            if on_behalf is not None:
                if not (ctx.caller.org == call.custodian_org and call.role == "service"):
                    raise ContractError(
                        f"only the custodian's service may store records on behalf of someone, not {call.caller_id}",
                        code="FORBIDDEN",
                    )
                if on_behalf != record.get("account"):
                    raise ContractError(
                        f"{call.caller_id} may store patient {patient}'s records on behalf of the patient's own "
                        f"account only, not {on_behalf!r}",
                        code="FORBIDDEN",
                    )
                entry = call.entry(
                    patient,
                    consent_rules.PATRQT,
                    classes,
                    {"decision": "permit", "reason": f"records posted by {on_behalf} stored", "consents": []},
                )
                call.log(patient, {**entry, "on_behalf": on_behalf})
            elif not call.custodian and call.own_patient() != patient:
                decision = call.decide(record, consent_rules.CAREMGT, classes)
                if not decision.permit:
                    raise ContractError(
                        f"{call.caller_id} may not add records for {patient}: {decision.reason}", code="FORBIDDEN"
                    )
        else:
            if on_behalf is not None:
                raise ContractError("on_behalf needs the patient whose records are stored", code="INVALID")
            call.require_custodian("anchor batches of many patients")
        call.put(f"b:{batch}", {"patient": patient, "classes": classes, "on_behalf": on_behalf})
        anchor = {
            "batch": batch,
            "count": count,
            "root": root,
            "hashes": hashes,
            "pointer": f"health-store:{batch}",
            "by": call.caller_id,
            "at": _iso(ctx),
        }
        ctx.put_state(f"anchor:{batch}", anchor)
        return {"batch": batch, "tx_id": ctx.tx_id}

    @evaluate
    def anchor_of(self, ctx: Context, batch: str) -> dict | None:
        """The public anchor of a batch."""
        return ctx.get_state(f"anchor:{_check_id(batch, 'batch id')}")

    # -- alerts ----------------------------------------------------------------------------------------------

    @submit
    def record_alerts(self, ctx: Context) -> dict:
        """Record alerts (the custodian); transient ``alerts``: a list of alert records (:mod:`..domain.alerts`).

        Each goes to the private collection with a notification entry in the patient's access log for every
        organisation the patient's care-coordination consent names; the event says only how many.
        """
        call = _Call(ctx, self)
        call.require_custodian("record alerts")
        alerts = _transient(ctx, "alerts", "the alerts")
        if not isinstance(alerts, list) or not 1 <= len(alerts) <= MAX_ALERTS:
            raise ContractError(f"record 1–{MAX_ALERTS} alerts per call", code="INVALID")
        added: list[str] = []
        for alert in alerts:
            if not isinstance(alert, dict):
                raise ContractError("each alert must be an object", code="INVALID")
            alert_id = _check_id(alert.get("id"), "alert id")
            patient = alert.get("patient")
            if alert.get("severity") not in SEVERITIES or alert.get("class") not in DATA_CLASSES:
                raise ContractError(
                    f"alert {alert_id}: severity must be critical or warning, class a data class", code="INVALID"
                )
            record = call.record(patient)
            token = call.token("alert", alert_id)
            if record["status"] != "active" or alert_id in added or call.get(f"a:{token}") is not None:
                continue
            public = {
                "id": alert_id,
                "patient": patient,
                "severity": alert["severity"],
                "class": alert["class"],
                "status": "open",
                "raised": _iso(ctx),
                "tx_id": ctx.tx_id,
            }
            call.put(f"a:{token}", public)
            call.put(f"d:{token}", alert)
            counters = call.counters(patient)
            call.put(f"n:{call.token('patient', patient)}", {**counters, "alerts": [*counters["alerts"], alert_id]})
            for consent in call.consents(patient):
                if (
                    consent_rules.in_force(consent, ctx.timestamp)
                    and consent["provision"]["type"] == "permit"
                    and consent_rules.covers(consent, consent_rules.CAREMGT)
                    and (not consent_rules.classes(consent) or alert["class"] in consent_rules.classes(consent))
                ):
                    for actor in consent_rules.actors(consent):
                        call.log(
                            patient,
                            {
                                "tx_id": ctx.tx_id,
                                "patient": patient,
                                "accessor": actor,
                                "org": actor.split("/")[0],
                                "role": "alert notification",
                                "purpose": consent_rules.CAREMGT,
                                "classes": [alert["class"]],
                                "at": _iso(ctx),
                                "decision": "permit",
                                "reason": f"alert {alert_id} sent under consent {consent['id']}",
                                "consents": [consent["id"]],
                            },
                        )
            added.append(alert_id)
        if added:
            call.append_paged("i", INDEX_PAGE, added)
            call.put(f"t:{ctx.tx_id}", {"alerts": added})
            ctx.set_event("HealthAlert", {"alerts": len(added)})
        return {"recorded": len(added)}

    def _alert(self, call: _Call, alert_id: str) -> dict[str, Any]:
        public = call.get(f"a:{call.token('alert', _check_id(alert_id, 'alert id'))}")
        if public is None:
            raise ContractError(f"there is no alert {alert_id}", code="NOT_FOUND")
        return public

    def _require_alert_staff(self, call: _Call, what: str) -> None:
        if not call.custodian and call.role not in STAFF_ROLES:
            reason = call.patient_refusal() if call.ctx.caller.role == "patient" else call.role_refusal()
            raise ContractError(f"only care staff may {what}" + (f": {reason}" if reason else ""), code="FORBIDDEN")

    @evaluate
    def alerts(self, ctx: Context, status: str = "", patient: str = "") -> list:
        """Alerts the caller may see (the same consent as reading the record), newest first; by status or patient."""
        call = _Call(ctx, self)
        self._require_alert_staff(call, "list alerts")
        if patient:
            call.record(patient)
            ids = list(reversed(call.counters(patient)["alerts"]))
        else:
            ids = call.paged("i", newest_first=True)
        rows = []
        for alert_id in ids:
            public = self._alert(call, alert_id)
            if status and public["status"] != status:
                continue
            if call.may_see_alert(public).permit:
                rows.append(public)
            if len(rows) >= MAX_ALERTS:
                break
        return sorted(rows, key=lambda r: r["raised"], reverse=True)

    @evaluate
    def alerts_of(self, ctx: Context, tx_id: str) -> list:
        """The alerts one transaction recorded that the caller may see, with their details (for the live stream)."""
        call = _Call(ctx, self)
        self._require_alert_staff(call, "follow alerts")
        recorded = call.get(f"t:{_check_id(tx_id, 'transaction id')}")
        out = []
        for alert_id in [] if recorded is None else recorded["alerts"]:
            public = self._alert(call, alert_id)
            if call.may_see_alert(public).permit:
                out.append({**public, "detail": call.get(f"d:{call.token('alert', alert_id)}")})
        return out

    @evaluate
    def alert_detail(self, ctx: Context, alert_id: str) -> dict:
        """An alert and its details, for the custodian and for care staff the patient consented to."""
        call = _Call(ctx, self)
        self._require_alert_staff(call, "see alerts")
        public = self._alert(call, alert_id)
        decision = call.may_see_alert(public)
        if not decision.permit:
            raise ContractError(f"alert {alert_id}: {decision.reason}", code="FORBIDDEN")
        return {**public, "detail": call.get(f"d:{call.token('alert', alert_id)}")}

    @submit
    def acknowledge_alert(self, ctx: Context) -> dict:
        """Mark an alert acknowledged (transient ``alert``: ``{"id": …, "note": …}``); needs consent to the record."""
        call = _Call(ctx, self)
        if not (call.custodian and call.role == "officer") and call.role not in ("coordinator", "clinician"):
            reason = call.role_refusal()
            raise ContractError("only coordinators, clinicians and custodian officers may acknowledge alerts"
                                + (f": {reason}" if reason else ""), code="FORBIDDEN")  # fmt: skip
        request = _transient(ctx, "alert", "the alert to acknowledge")
        if not isinstance(request, dict):
            raise ContractError('alert must be {"id": ..., "note": ...}', code="INVALID")
        alert_id = _check_id(request.get("id"), "alert id")
        public = self._alert(call, alert_id)
        decision = call.may_see_alert(public)
        if not decision.permit:
            raise ContractError(
                f"{call.caller_id} may not acknowledge alert {alert_id}: {decision.reason}", code="FORBIDDEN"
            )
        if public["status"] != "open":
            raise ContractError(f"alert {alert_id} is already {public['status']}", code="CONFLICT")
        call.put(
            f"a:{call.token('alert', alert_id)}",
            {
                **public,
                "status": "acknowledged",
                "by": call.caller_id,
                "acknowledged": _iso(ctx),
                "note": str(request.get("note", ""))[:500],
            },
        )
        return {"acknowledged": 1}

    # -- models ----------------------------------------------------------------------------------------------

    @submit
    def register_model(self, ctx: Context, name: str, version: str, sha256: str, metrics: dict) -> dict:
        """Register a trained model's file hash, version and metrics (an analyst of the analysis service).

        Registration does not make it current: the custodian does that (:meth:`promote_model`).
        """
        call = _Call(ctx, self)
        if call.role != "analyst":
            raise ContractError(
                f"only an analyst may register a model: {call.role_refusal() or call.caller_id}", code="FORBIDDEN"
            )
        if not isinstance(name, str) or not MODEL_NAME.match(name):
            raise ContractError(f"model name must match {MODEL_NAME.pattern}, not {name!r}", code="INVALID")
        if not isinstance(version, str) or not MODEL_VERSION.match(version):
            raise ContractError(f"model version must match {MODEL_VERSION.pattern}, not {version!r}", code="INVALID")
        if not isinstance(sha256, str) or not SHA256_HEX.match(sha256):
            raise ContractError("sha256 must be 64 lowercase hex digits", code="INVALID")
        if version.rsplit("-", 1)[1] != sha256[:8]:
            raise ContractError(
                f"model version {version} must end with the first 8 hex digits of its SHA-256", code="INVALID"
            )
        key = f"model:{name}:{version}"
        existing = ctx.get_state(key)
        if existing is not None and existing["sha256"] != sha256:
            raise ContractError(f"model {name} {version} is registered with another hash", code="CONFLICT")
        record = {
            "name": name,
            "version": version,
            "sha256": sha256,
            "metrics": metrics,
            "by": call.caller_id,
            "registered": _iso(ctx),
        }
        ctx.put_state(key, record)
        ctx.set_event("ModelRegistered", {"name": name, "version": version, "sha256": sha256})
        return record

    @submit
    def promote_model(self, ctx: Context, name: str, version: str) -> dict:
        """Make a registered model version the current one (the custodian only)."""
        call = _Call(ctx, self)
        call.require_custodian("make a model version current")
        record = ctx.get_state(f"model:{name}:{version}") if isinstance(version, str) else None
        if record is None:
            raise ContractError(f"model {name!r} version {version!r} is not registered", code="NOT_FOUND")
        current = {"version": version, "sha256": record["sha256"], "by": call.caller_id, "since": _iso(ctx)}
        ctx.put_state(f"model-current:{name}", current)
        ctx.set_event("ModelPromoted", {"name": name, "version": version, "sha256": record["sha256"]})
        return current

    @evaluate
    def model(self, ctx: Context, name: str, version: str = "") -> dict | None:
        """A registered model (the current version unless one is named)."""
        if not version:
            current = ctx.get_state(f"model-current:{name}") if isinstance(name, str) else None
            if current is None:
                return None
            version = current["version"]
        return ctx.get_state(f"model:{name}:{version}")

    # -- erasure ---------------------------------------------------------------------------------------------

    @submit
    def erase(self, ctx: Context) -> dict:
        """Erase a patient (transient ``patient``; the patient, or a custodian officer): purge keys and details."""
        call = _Call(ctx, self)
        patient = _check_id(_transient(ctx, "patient", "the patient to erase"), "patient id")
        if call.own_patient() != patient and not (call.custodian and call.role == "officer"):
            reason = call.patient_refusal() if ctx.caller.role == "patient" and call.own_patient() is None else ""
            raise ContractError(
                "only the patient or a custodian officer may erase a patient's data"
                + (f": {reason}" if reason else ""),
                code="FORBIDDEN",
            )
        record = call.record(patient)
        if record["status"] == "erased":
            raise ContractError(f"patient {patient}'s data was already erased", code="GONE")
        token = call.token("patient", patient)
        ctx.purge_private(PRIVATE, f"k:{token}")
        alerts = call.counters(patient)["alerts"]
        for alert_id in alerts:
            ctx.purge_private(PRIVATE, f"d:{call.token('alert', alert_id)}")
        ended = 0
        consents = []
        for doc in call.consents(patient):
            if doc["status"] == "active":
                doc = {
                    **doc,
                    "status": "inactive",
                    "extension": [{"url": "urn:consortia:health:erased", "valueDateTime": _iso(ctx)}],
                }
                ended += 1
            consents.append(doc)
        if ended:
            call.put_consents(patient, consents)
        call.put_record({**record, "status": "erased", "erased": _iso(ctx)})
        call.log(
            patient,
            call.entry(
                patient,
                ERASURE,
                list(DATA_CLASSES),
                {"decision": "permit", "reason": "erasure: data keys and alert details purged", "consents": []},
            ),
        )
        return {"consents_ended": ended, "alerts_purged": len(alerts), "erased": _iso(ctx)}
