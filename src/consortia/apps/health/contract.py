"""The ``health-records`` contract: consent, the access log, record anchors, alerts, models — and erasure.

What the ``health`` channel's ledger holds, and the rules every peer enforces:

* ``config`` — the custodian organisation (the provincial health office), set once by :meth:`init`.
* ``org:<org>`` — each organisation's public key-encryption key (:mod:`.crypto`), so data keys can be wrapped
  for it.
* ``patient:<id>`` — a pseudonymous patient: home organisation, status (``active`` or ``erased``). No name, no
  date of birth, no reading is ever written to the ledger.
* ``consent:<id>:<consent id>`` — the patient's FHIR R4 Consent resources (:mod:`.consent`). Only the patient
  signs a grant or a revocation; a revocation sets ``status`` to ``inactive`` in the same ordered log every read
  is checked against, so it takes effect for every read ordered after it.
* ``access:<id>:<time>:<tx>`` — the access log: one entry per patient per read — who (organisation, person,
  role), when, for what purpose, which data classes, the decision and its reason. Reads are *transactions*
  (:meth:`access`): a refused read is logged like a permitted one. The data key is released only by
  :meth:`release_keys`, which accepts a permitted access of the same caller younger than 15 minutes and checks
  consent again, so a revocation also stops a read already under way.
* ``anchor:<batch>`` — a batch of records stored off-chain: the Merkle root (RFC 9162) of the records' salted
  hashes, their count, data classes and the pointer into the store; for small batches the hashes themselves.
* ``alert:<id>`` — alerts (patient pseudonym, severity, data class, status); the details sit in the private
  collection ``health-alerts`` of the care organisations.
* ``model:<name>:<version>`` — the SHA-256 of each trained model file and its metrics.

Private collection ``health-keys`` holds, per patient, the data key wrapped for each organisation the patient
granted consent to. :meth:`erase` purges it (and the alert details), marks the patient erased and ends every
consent; the access log, the anchors and the hashes stay, and the ledger still verifies.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from consortia.apps.health import consent as consent_rules
from consortia.apps.health.loinc import DATA_CLASSES
from consortia.contracts import Context, Contract, ContractError, evaluate, submit

KEYS = "health-keys"
ALERTS = "health-alerts"
GRANT_TTL_MS = 15 * 60 * 1000
MAX_PATIENTS = 1000
MAX_INLINE_HASHES = 64
MAX_ALERTS = 1000
MAX_LOG = 1000
STAFF_ROLES = ("clinician", "coordinator", "officer", "analyst")
SEVERITIES = ("critical", "warning")
ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or not set(value) <= ID_CHARS:
        raise ContractError(f"{what} must be 1–64 letters, digits, '-', '.' or '_', not {value!r}")
    return value


def _iso(ctx: Context) -> str:
    return ctx.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class HealthRecords(Contract):
    """Consent, access log, anchors, alerts and model registry of the Gangwon chronic-care programme."""

    name = "health-records"
    version = "1.0"

    # -- helpers ---------------------------------------------------------------------------------------------

    def _config(self, ctx: Context) -> dict[str, Any]:
        config = ctx.get_state("config")
        if config is None:
            raise ContractError("the contract is not initialised (call init with the custodian organisation)")
        return config

    def _custodian(self, ctx: Context) -> bool:
        return ctx.caller.org == self._config(ctx)["custodian"] and ctx.caller.role != "patient"

    def _require_custodian(self, ctx: Context, what: str) -> None:
        if not self._custodian(ctx):
            raise ContractError(f"only the custodian organisation's staff or services may {what}")

    def _patient(self, ctx: Context, patient: str) -> dict[str, Any]:
        record = ctx.get_state(f"patient:{_check_id(patient, 'patient id')}")
        if record is None:
            raise ContractError(f"patient {patient} is not enrolled")
        return record

    def _is_patient(self, ctx: Context, patient: str) -> bool:
        return ctx.caller.role == "patient" and ctx.caller.attributes.get("patient_id") == patient

    def _consents(self, ctx: Context, patient: str) -> list[dict[str, Any]]:
        return [value for _, value in ctx.get_prefix(f"consent:{patient}:")]

    def _accessor(self, ctx: Context) -> consent_rules.Accessor:
        return consent_rules.Accessor(ctx.caller.org, ctx.caller.id, ctx.caller.role)

    def _decide(self, ctx: Context, record: dict[str, Any], purpose: str, classes: list[str]) -> consent_rules.Decision:
        patient = record["id"]
        if record.get("status") != "active":
            return consent_rules.Decision(False, f"patient {patient}'s data was erased")
        if self._is_patient(ctx, patient):
            return consent_rules.Decision(True, "the patient's own data")
        if ctx.caller.role == "patient":
            return consent_rules.Decision(False, "a patient may read only their own data")
        return consent_rules.decide(self._consents(ctx, patient), self._accessor(ctx), purpose, classes, ctx.timestamp)

    def _log(self, ctx: Context, patient: str, entry: dict[str, Any]) -> None:
        ctx.put_state(f"access:{patient}:{ctx.timestamp_ms:013d}:{ctx.tx_id}", entry)

    # -- set-up ----------------------------------------------------------------------------------------------

    @submit
    def init(self, ctx: Context, custodian: str) -> dict:
        """Name the custodian organisation (once; a channel admin)."""
        if ctx.caller.kind != "admin":
            raise ContractError("only an organisation admin may initialise the contract")
        if ctx.get_state("config") is not None:
            raise ContractError("the contract is already initialised")
        if custodian not in ctx.channel_orgs:
            raise ContractError(f"{custodian} is not an organisation of channel {ctx.channel}")
        config = {"custodian": custodian, "since": _iso(ctx)}
        ctx.put_state("config", config)
        return config

    @evaluate
    def config(self, ctx: Context) -> dict:
        """The contract's configuration."""
        return self._config(ctx)

    @submit
    def register_kek(self, ctx: Context, public_key: str) -> dict:
        """Register (or rotate) the caller's organisation's public key-encryption key (base64, 32 bytes)."""
        if ctx.caller.role == "patient":
            raise ContractError("a patient cannot register an organisation key")
        try:
            raw = base64.b64decode(public_key, validate=True)
        except (ValueError, TypeError):
            raise ContractError("public_key must be base64") from None
        if len(raw) != 32:
            raise ContractError("public_key must be a 32-byte X25519 public key")
        record = {"org": ctx.caller.org, "kek_public": public_key, "registered": _iso(ctx), "by": ctx.caller.id}
        ctx.put_state(f"org:{ctx.caller.org}", record)
        return record

    @evaluate
    def org_key(self, ctx: Context, org: str) -> dict | None:
        """An organisation's registered public key-encryption key."""
        return ctx.get_state(f"org:{org}")

    @submit
    def enroll(self, ctx: Context, patients: list) -> dict:
        """Enrol pseudonymous patients in the programme (custodian only); already enrolled ones are skipped."""
        self._require_custodian(ctx, "enrol patients")
        if not 1 <= len(patients) <= 5000:
            raise ContractError("enrol 1–5000 patients per call")
        added = 0
        for patient in patients:
            key = f"patient:{_check_id(patient, 'patient id')}"
            if ctx.get_state(key) is not None:
                continue
            ctx.put_state(key, {"id": patient, "home_org": ctx.caller.org, "status": "active", "enrolled": _iso(ctx)})
            added += 1
        return {"enrolled": added, "skipped": len(patients) - added}

    @evaluate
    def patient(self, ctx: Context, patient: str) -> dict:
        """A patient's public record (pseudonym, home organisation, status)."""
        if ctx.caller.role == "patient" and not self._is_patient(ctx, patient):
            raise ContractError("a patient may see only their own record")
        return self._patient(ctx, patient)

    @evaluate
    def patients(self, ctx: Context, start: str = "", limit: int = 1000) -> list:
        """Enrolled patients' public records (staff only), in id order."""
        if ctx.caller.role not in STAFF_ROLES:
            raise ContractError("only care staff may list patients")
        return [v for _, v in ctx.get_range(f"patient:{start}", "patient;", min(max(limit, 1), 5000))]

    # -- consent ---------------------------------------------------------------------------------------------

    def _key_map(self, ctx: Context, patient: str) -> dict[str, str]:
        return ctx.get_private(KEYS, f"dek:{patient}") or {}

    @submit
    def grant(self, ctx: Context, consent: dict) -> dict:
        """Record a FHIR R4 Consent of the calling patient; transient ``wrapped_keys`` ({org: base64}) go with it."""
        try:
            doc = consent_rules.check(consent)
        except consent_rules.ConsentError as exc:
            raise ContractError(f"consent rejected at {exc.path}: {exc.message}") from None
        patient = doc["patient"]["reference"].removeprefix("Patient/")
        if not self._is_patient(ctx, patient):
            raise ContractError(f"only patient {patient} may grant consent to their data")
        record = self._patient(ctx, patient)
        if record["status"] != "active":
            raise ContractError(f"patient {patient}'s data was erased")
        if doc["status"] != "active":
            raise ContractError("a new consent must have status active")
        key = f"consent:{patient}:{doc['id']}"
        if ctx.get_state(key) is not None:
            raise ContractError(f"consent {doc['id']} already exists")
        doc = {**doc, "dateTime": _iso(ctx)}
        ctx.put_state(key, doc)
        raw = ctx.transient.get("wrapped_keys")
        if raw is not None and doc["provision"]["type"] == "permit":
            try:
                wrapped = json.loads(raw)
            except ValueError:
                raise ContractError("transient wrapped_keys must be JSON {org: base64}") from None
            named = {a.split("/")[0] for a in consent_rules.actors(doc)}
            if not isinstance(wrapped, dict) or not set(wrapped) <= named:
                raise ContractError("wrapped_keys may only hold keys for the organisations the consent names")
            keys = self._key_map(ctx, patient)
            keys.update({org: str(value) for org, value in wrapped.items()})
            ctx.put_private(KEYS, f"dek:{patient}", keys)
        ctx.set_event("ConsentGranted", {"patient": patient, "consent": doc["id"]})
        return doc

    @submit
    def revoke(self, ctx: Context, patient: str, consent_id: str) -> dict:
        """Revoke one of the calling patient's consents, at once; keys no other consent covers are withdrawn."""
        if not self._is_patient(ctx, patient):
            raise ContractError(f"only patient {patient} may revoke their consent")
        key = f"consent:{patient}:{_check_id(consent_id, 'consent id')}"
        doc = ctx.get_state(key)
        if doc is None:
            raise ContractError(f"patient {patient} has no consent {consent_id}")
        if doc["status"] != "active":
            raise ContractError(f"consent {consent_id} is not active (status {doc['status']})")
        revoked = {
            **doc,
            "status": "inactive",
            "extension": [{"url": "urn:consortia:health:revoked", "valueDateTime": _iso(ctx)}],
        }
        ctx.put_state(key, revoked)
        still = set()
        for other in self._consents(ctx, patient):
            if other["id"] != consent_id and other["status"] == "active" and other["provision"]["type"] == "permit":
                still.update(a.split("/")[0] for a in consent_rules.actors(other))
        keys = self._key_map(ctx, patient)
        kept = {org: value for org, value in keys.items() if org in still}
        if kept != keys:
            ctx.put_private(KEYS, f"dek:{patient}", kept)
        ctx.set_event("ConsentRevoked", {"patient": patient, "consent": consent_id})
        return revoked

    @evaluate
    def my_patients(self, ctx: Context, purpose: str) -> list:
        """Patients whose active permit consent names the caller (or its organisation) for ``purpose``."""
        if ctx.caller.role not in STAFF_ROLES:
            raise ContractError("only care staff may list their patients")
        accessor = self._accessor(ctx)
        found = []
        for _, doc in ctx.get_prefix("consent:"):
            patient = doc["patient"]["reference"].removeprefix("Patient/")
            if (
                patient not in found
                and doc["provision"]["type"] == "permit"
                and consent_rules.in_force(doc, ctx.timestamp)
                and consent_rules.names(doc, accessor)
                and (not consent_rules.purposes(doc) or purpose in consent_rules.purposes(doc))
            ):
                found.append(patient)
        return sorted(found)

    @evaluate
    def consents(self, ctx: Context, patient: str) -> list:
        """A patient's consents, newest first (the patient, and care staff)."""
        if ctx.caller.role == "patient" and not self._is_patient(ctx, patient):
            raise ContractError("a patient may see only their own consents")
        self._patient(ctx, patient)
        return sorted(self._consents(ctx, patient), key=lambda c: c.get("dateTime", ""), reverse=True)

    # -- reads and the access log ----------------------------------------------------------------------------

    @submit
    def access(self, ctx: Context, patients: list, purpose: str, classes: list) -> dict:
        """Ask to read patients' data for a purpose: check consent, log the decision for each, return them."""
        if not 1 <= len(patients) <= MAX_PATIENTS or len(set(patients)) != len(patients):
            raise ContractError(f"name 1–{MAX_PATIENTS} distinct patients")
        unknown = [c for c in classes if c not in DATA_CLASSES]
        if unknown or not isinstance(purpose, str):
            raise ContractError(f"classes must be among {', '.join(DATA_CLASSES)}")
        wanted = list(classes) or list(DATA_CLASSES)
        decisions: dict[str, Any] = {}
        permitted = []
        for patient in patients:
            record = self._patient(ctx, patient)
            own = self._is_patient(ctx, patient)
            decision = self._decide(ctx, record, consent_rules.PATRQT if own else purpose, wanted)
            entry = {
                "tx_id": ctx.tx_id,
                "patient": patient,
                "accessor": ctx.caller.id,
                "org": ctx.caller.org,
                "role": ctx.caller.role or "",
                "purpose": consent_rules.PATRQT if own else purpose,
                "classes": wanted,
                "at": _iso(ctx),
                **decision.to_json(),
            }
            self._log(ctx, patient, entry)
            decisions[patient] = decision.to_json()
            if decision.permit:
                permitted.append(patient)
        ctx.put_state(
            f"grant:{ctx.tx_id}",
            {
                "accessor": ctx.caller.id,
                "purpose": purpose,
                "classes": wanted,
                "at_ms": ctx.timestamp_ms,
                "permitted": permitted,
            },
        )
        denied = len(patients) - len(permitted)
        ctx.set_event("AccessLogged", {"patients": len(patients), "denied": denied})
        return {"access_id": ctx.tx_id, "decisions": decisions}

    @evaluate
    def release_keys(self, ctx: Context, access_id: str) -> dict:
        """Data keys for a permitted access of the caller (≤ 15 min old), each patient's consent checked again."""
        grant = ctx.get_state(f"grant:{_check_id(access_id, 'access id')}")
        if grant is None:
            raise ContractError(f"there is no access {access_id}")
        if grant["accessor"] != ctx.caller.id:
            raise ContractError(f"access {access_id} was granted to {grant['accessor']}, not {ctx.caller.id}")
        age = ctx.timestamp_ms - grant["at_ms"]
        if not 0 <= age <= GRANT_TTL_MS:
            raise ContractError(f"access {access_id} has expired; ask again")
        custodian = self._custodian(ctx)
        out: dict[str, Any] = {}
        for patient in grant["permitted"]:
            record = self._patient(ctx, patient)
            decision = self._decide(ctx, record, grant["purpose"], grant["classes"])
            if not decision.permit:
                out[patient] = {"refused": decision.reason}
            elif custodian or self._is_patient(ctx, patient):
                out[patient] = {"custodian": True}
            else:
                wrapped = self._key_map(ctx, patient).get(ctx.caller.org)
                out[patient] = (
                    {"wrapped": wrapped} if wrapped else {"refused": f"no key was shared with {ctx.caller.org}"}
                )
        return out

    @evaluate
    def access_log(self, ctx: Context, patient: str, limit: int = 200) -> list:
        """Who read a patient's data, newest first (the patient, and the custodian's officers)."""
        if not self._is_patient(ctx, patient) and not (self._custodian(ctx) and ctx.caller.role == "officer"):
            raise ContractError("only the patient (or a custodian officer) may read the access log")
        self._patient(ctx, patient)
        rows = ctx.get_prefix(f"access:{patient}:")
        return [value for _, value in reversed(rows)][: min(max(limit, 1), MAX_LOG)]

    # -- records ---------------------------------------------------------------------------------------------

    @submit
    def anchor(
        self, ctx: Context, batch: str, patient: str, count: int, root: str, hashes: list, classes: list
    ) -> dict:
        """Anchor a batch of off-chain records: Merkle root of their salted hashes (and the hashes if few)."""
        _check_id(batch, "batch id")
        if ctx.get_state(f"anchor:{batch}") is not None:
            raise ContractError(f"batch {batch} is already anchored")
        if not 1 <= count <= 1_000_000 or len(root) != 64:
            raise ContractError("a batch has 1–1,000,000 records and a 32-byte hex root")
        if any(c not in DATA_CLASSES for c in classes):
            raise ContractError(f"classes must be among {', '.join(DATA_CLASSES)}")
        if len(hashes) > MAX_INLINE_HASHES or (hashes and len(hashes) != count):
            raise ContractError(f"give all hashes of a batch of at most {MAX_INLINE_HASHES}, or none")
        if patient:
            record = self._patient(ctx, patient)
            if record["status"] != "active":
                raise ContractError(f"patient {patient}'s data was erased")
            if not self._custodian(ctx):
                decision = self._decide(ctx, record, consent_rules.CAREMGT, list(classes))
                if not decision.permit:
                    raise ContractError(f"{ctx.caller.id} may not add records for {patient}: {decision.reason}")
        else:
            self._require_custodian(ctx, "anchor batches of many patients")
        anchor = {
            "batch": batch,
            "patient": patient,
            "count": count,
            "root": root,
            "hashes": hashes,
            "classes": sorted(set(classes)),
            "pointer": f"health-store:{batch}",
            "by": ctx.caller.id,
            "at": _iso(ctx),
        }
        ctx.put_state(f"anchor:{batch}", anchor)
        return {"batch": batch, "tx_id": ctx.tx_id}

    @evaluate
    def anchor_of(self, ctx: Context, batch: str) -> dict | None:
        """The anchor of a batch."""
        return ctx.get_state(f"anchor:{_check_id(batch, 'batch id')}")

    # -- alerts ----------------------------------------------------------------------------------------------

    @submit
    def record_alerts(self, ctx: Context, alerts: list) -> dict:
        """Record alerts (custodian): public status, private details, a notification entry in the access log."""
        self._require_custodian(ctx, "record alerts")
        if not 1 <= len(alerts) <= MAX_ALERTS:
            raise ContractError(f"record 1–{MAX_ALERTS} alerts per call")
        added = []
        for alert in alerts:
            if not isinstance(alert, dict):
                raise ContractError("each alert must be an object")
            alert_id = _check_id(alert.get("id"), "alert id")
            patient = alert.get("patient")
            if alert.get("severity") not in SEVERITIES or alert.get("class") not in DATA_CLASSES:
                raise ContractError(f"alert {alert_id}: severity must be critical or warning, class a data class")
            record = self._patient(ctx, patient)
            if record["status"] != "active" or ctx.get_state(f"alert:{alert_id}") is not None:
                continue
            public = {
                "id": alert_id,
                "patient": patient,
                "severity": alert["severity"],
                "class": alert["class"],
                "status": "open",
                "raised": _iso(ctx),
            }
            ctx.put_state(f"alert:{alert_id}", public)
            ctx.put_state(f"palert:{patient}:{alert_id}", {"id": alert_id})
            ctx.put_private(ALERTS, f"alert:{alert_id}", alert)
            for consent in self._consents(ctx, patient):
                if (
                    consent_rules.in_force(consent, ctx.timestamp)
                    and consent["provision"]["type"] == "permit"
                    and consent_rules.CAREMGT in consent_rules.purposes(consent)
                    and (not consent_rules.classes(consent) or alert["class"] in consent_rules.classes(consent))
                ):
                    for actor in consent_rules.actors(consent):
                        self._log(
                            ctx,
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
            ctx.set_event("HealthAlert", {"id": alert_id, "patient": patient, "severity": alert["severity"]})
            added.append(alert_id)
        return {"recorded": added}

    @evaluate
    def alerts(self, ctx: Context, status: str = "", patient: str = "") -> list:
        """Alerts (public part), newest first; optionally only one status or one patient's (staff only)."""
        if ctx.caller.role not in STAFF_ROLES:
            raise ContractError("only care staff may list alerts")
        if patient:
            ids = [v["id"] for _, v in ctx.get_prefix(f"palert:{_check_id(patient, 'patient id')}:")]
            rows = [ctx.get_state(f"alert:{i}") for i in ids]
        else:
            rows = [v for _, v in ctx.get_prefix("alert:")]
        rows = [r for r in rows if r is not None and (not status or r["status"] == status)]
        return sorted(rows, key=lambda r: r["raised"], reverse=True)[:MAX_ALERTS]

    @evaluate
    def alert_detail(self, ctx: Context, alert_id: str) -> dict:
        """An alert's details, for care staff whose organisation the patient consented to (or the custodian)."""
        public = ctx.get_state(f"alert:{_check_id(alert_id, 'alert id')}")
        if public is None:
            raise ContractError(f"there is no alert {alert_id}")
        if not self._custodian(ctx):
            purpose = consent_rules.TREAT if ctx.caller.role == "clinician" else consent_rules.CAREMGT
            record = self._patient(ctx, public["patient"])
            decision = self._decide(ctx, record, purpose, [public["class"]])
            if not decision.permit:
                raise ContractError(f"alert {alert_id}: {decision.reason}")
        detail = ctx.get_private(ALERTS, f"alert:{alert_id}")
        return {**public, "detail": detail}

    @submit
    def acknowledge_alert(self, ctx: Context, alert_id: str, note: str = "") -> dict:
        """Mark an alert acknowledged (care staff)."""
        if ctx.caller.role not in ("coordinator", "clinician", "officer"):
            raise ContractError("only care staff may acknowledge alerts")
        key = f"alert:{_check_id(alert_id, 'alert id')}"
        public = ctx.get_state(key)
        if public is None:
            raise ContractError(f"there is no alert {alert_id}")
        if public["status"] != "open":
            raise ContractError(f"alert {alert_id} is already {public['status']}")
        updated = {
            **public,
            "status": "acknowledged",
            "by": ctx.caller.id,
            "acknowledged": _iso(ctx),
            "note": str(note)[:500],
        }
        ctx.put_state(key, updated)
        return updated

    # -- models ----------------------------------------------------------------------------------------------

    @submit
    def register_model(self, ctx: Context, name: str, version: str, sha256: str, metrics: dict) -> dict:
        """Register a trained model's file hash, version and metrics (analysts); it becomes the current one."""
        if ctx.caller.role != "analyst":
            raise ContractError("only an analyst may register a model")
        _check_id(name, "model name")
        _check_id(version, "model version")
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ContractError("sha256 must be 64 lowercase hex digits")
        key = f"model:{name}:{version}"
        existing = ctx.get_state(key)
        if existing is not None and existing["sha256"] != sha256:
            raise ContractError(f"model {name} {version} is registered with another hash")
        record = {
            "name": name,
            "version": version,
            "sha256": sha256,
            "metrics": metrics,
            "by": ctx.caller.id,
            "registered": _iso(ctx),
        }
        ctx.put_state(key, record)
        ctx.put_state(f"model-current:{name}", {"version": version})
        ctx.set_event("ModelRegistered", {"name": name, "version": version, "sha256": sha256})
        return record

    @evaluate
    def model(self, ctx: Context, name: str, version: str = "") -> dict | None:
        """A registered model (the current version unless one is named)."""
        if not version:
            current = ctx.get_state(f"model-current:{_check_id(name, 'model name')}")
            if current is None:
                return None
            version = current["version"]
        return ctx.get_state(f"model:{name}:{version}")

    # -- erasure ---------------------------------------------------------------------------------------------

    @submit
    def erase(self, ctx: Context, patient: str) -> dict:
        """Erase a patient (the patient, or a custodian officer): purge keys and alert details, end consents."""
        if not self._is_patient(ctx, patient) and not (self._custodian(ctx) and ctx.caller.role == "officer"):
            raise ContractError("only the patient or a custodian officer may erase a patient's data")
        record = self._patient(ctx, patient)
        if record["status"] == "erased":
            raise ContractError(f"patient {patient}'s data was already erased")
        ctx.purge_private(KEYS, f"dek:{patient}")
        purged_alerts = 0
        for _, index in ctx.get_prefix(f"palert:{patient}:"):
            ctx.purge_private(ALERTS, f"alert:{index['id']}")
            purged_alerts += 1
        ended = 0
        for doc in self._consents(ctx, patient):
            if doc["status"] == "active":
                ctx.put_state(
                    f"consent:{patient}:{doc['id']}",
                    {
                        **doc,
                        "status": "inactive",
                        "extension": [{"url": "urn:consortia:health:erased", "valueDateTime": _iso(ctx)}],
                    },
                )
                ended += 1
        ctx.put_state(f"patient:{patient}", {**record, "status": "erased", "erased": _iso(ctx)})
        self._log(
            ctx,
            patient,
            {
                "tx_id": ctx.tx_id,
                "patient": patient,
                "accessor": ctx.caller.id,
                "org": ctx.caller.org,
                "role": ctx.caller.role or "",
                "purpose": "ERASURE",
                "classes": list(DATA_CLASSES),
                "at": _iso(ctx),
                "decision": "permit",
                "reason": "erasure: data keys and alert details purged",
                "consents": [],
            },
        )
        ctx.set_event("PatientErased", {"patient": patient})
        return {"patient": patient, "consents_ended": ended, "alerts_purged": purged_alerts, "erased": _iso(ctx)}
