"""The application service: what each organisation's software does around the contract.

The contract decides and records; the service does the work that must stay off the ledger, for whichever
organisation's identity it is given — and it hands the contract every personal value as *transient data*
(:meth:`HealthService.submit`), never as an argument, so that no block carries it:

* **enrol** — the custodian makes a patient's data key and keeps it wrapped under its vault key, and tells the
  contract the pseudonym and the account of the patient's certificate;
* **ingest** — the custodian seals each reading with the patient's key, stages the ciphertexts in the store,
  anchors the batch (Merkle root of the salted hashes) on the ledger, and only then marks it stored; readings
  that raise alerts are recorded on the ledger too. FHIR Observations already stored (same identifier) are
  skipped. When a patient posts their own readings, the custodian's service anchors them *on behalf of* the
  patient's account, which the contract checks and logs;
* **grant / revoke** — the patient's own identity signs; on a grant to an organisation the patient's key is
  wrapped for that organisation's registered public key and travels as transient data into the private
  collection;
* **read** — a read is an ``access`` transaction (consent checked and logged, refusals too), then
  ``release_keys`` (consent checked again) tells the reader the decisions and hands the reader's organisation its
  wrapped key, which only that organisation's KEK opens; every decrypted record is checked against its anchored
  hash;
* **erase** — the ledger purges the wrapped keys and ends the consents, then the custodian destroys its vault
  copy and the ciphertexts (crypto-shredding).

Queries that read the private collection run on a peer of a member organisation: the caller's own if its
organisation is a member, else the custodian's (:meth:`HealthService.reader_org`).

One :class:`HealthService` serves one data folder (:func:`service_for` shares it between the web routes, the
CLI and the demo in one process).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from consortia.apps.health.consortium import CARE_ORGS, CHANNEL, CONTRACT, CUSTODIAN, ORGS, ROLE_ORGS
from consortia.apps.health.contract.records import MODEL_VERSION
from consortia.apps.health.domain import alerts as alert_rules
from consortia.apps.health.domain import consent as consent_rules
from consortia.apps.health.domain.loinc import BLOOD_PRESSURE, DATA_CLASSES, GLUCOSE
from consortia.apps.health.domain.readings import Reading, iso, parse_iso
from consortia.apps.health.service import crypto
from consortia.apps.health.service.keyring import Keyring
from consortia.apps.health.service.store import DuplicateRecord, RecordStore, StoredRecord, identifier_hash
from consortia.client.errors import EndorsementFailed, GatewayError, TransactionInvalid
from consortia.client.sdk import Contract, Gateway, SubmitResult
from consortia.identity import SigningIdentity
from consortia.ledger import merkle
from consortia.ledger.encoding import canonical_json, parse_json
from consortia.network.embedded import EmbeddedNetwork

RETRY_CODES = ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT", "ENDORSEMENT_MISMATCH")
INLINE_HASHES = 64
READING_KINDS = ("bp", "sbp", "dbp", "heart_rate", "glucose", "hba1c", "gmi", "cgm_mean", "cgm_tir")
"""Record kinds that are readings; the others (profiles, risk scores) are documents."""


class HealthError(Exception):
    """A request the service cannot carry out; the message says why."""


class AccessRefused(HealthError):
    """Consent does not permit this read; the refusal is in the access log under ``access_id``."""

    def __init__(self, patient: str, reason: str, access_id: str) -> None:
        super().__init__(f"access to {patient} refused: {reason}")
        self.patient = patient
        self.reason = reason
        self.access_id = access_id


@dataclass(frozen=True)
class PatientData:
    """What one permitted read returned."""

    patient: str
    access_id: str
    readings: list[Reading] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    verified: int = 0
    unverified: int = 0


@dataclass(frozen=True)
class Duplicate:
    """A reading not stored again: its FHIR identifier is already in the patient's records."""

    identifier: str
    batch: str
    tx_id: str | None

    def to_json(self) -> dict[str, Any]:
        """The ``duplicates`` entry of an import report."""
        return {"identifier": self.identifier, "batch": self.batch, "tx_id": self.tx_id}


@dataclass(frozen=True)
class IngestResult:
    """What an ingestion stored, skipped as already stored, and raised."""

    records: int
    batches: list[dict[str, str]] = field(default_factory=list)
    alerts: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)


@dataclass(frozen=True)
class ModelCard:
    """The current model's record, and its card once the model file's hash matched the registered one."""

    record: dict[str, Any] | None
    card: str = ""
    problem: str = ""
    translations: Mapping[str, str] = field(default_factory=dict)
    """The card in other languages (``ko``), where the training wrote one."""


_SERVICES: dict[Path, HealthService] = {}
_SERVICES_LOCK = threading.Lock()


def service_for(network: EmbeddedNetwork) -> HealthService:
    """The one service of a network's data folder in this process."""
    key = Path(network.directory).resolve()
    with _SERVICES_LOCK:
        service = _SERVICES.get(key)
        if service is None or service.network is not network:
            service = HealthService(network)
            _SERVICES[key] = service
        return service


def registration(report: Any) -> tuple[str, str, str, dict[str, Any]]:
    """The contract's ``register_model`` arguments for a training report: name, version, SHA-256, metrics."""
    metrics = {
        "model": report.model.to_json(),
        "framingham_2008_equation": report.equation.to_json(),
        "estimator": report.estimator,
    }
    return report.name, report.version, report.sha256, metrics


def _leaf(digest: bytes) -> bytes:
    return merkle.leaf_hash(digest)


def transient(**values: Any) -> dict[str, bytes]:
    """Transient data for a proposal: each value as canonical JSON bytes."""
    return {name: canonical_json(value) for name, value in values.items()}


class HealthService:
    """Enrolment, ingestion, consent, reads and erasure over one network."""

    def __init__(self, network: EmbeddedNetwork, directory: Path | None = None) -> None:
        self.network = network
        self.directory = Path(directory or network.directory) / "health"
        self.keyring = Keyring(self.directory / "keks")
        self.store = RecordStore(self.directory / "records.sqlite")
        self._anchors: dict[str, dict[str, Any]] = {}
        self._org_keys: dict[str, bytes] = {}
        self._pseudonyms: dict[bytes, str] = {}

    # -- plumbing --------------------------------------------------------------------------------------------

    def contract(self, identity: SigningIdentity) -> Contract:
        """The health contract as ``identity``."""
        return Gateway(identity, self.network).network(CHANNEL).contract(CONTRACT)

    def identity(self, org: str, user: str, password: str | None = None) -> SigningIdentity:
        """A user's identity: a program's key file, or a person's wallet entry opened with their password."""
        if password is not None:
            from consortia.identity.wallet import WalletError

            try:
                return self.network.person(org, user, password)
            except WalletError as exc:
                raise HealthError(f"cannot log in as {org}/{user}: {exc}") from None
        try:
            return self.network.identity(org, user)
        except FileNotFoundError:
            raise HealthError(f"{org}/{user} has no key file here; a person logs in with a password") from None
        except (OSError, ValueError) as exc:
            raise HealthError(f"no identity {org}/{user}: {exc}") from None

    def custodian(self) -> SigningIdentity:
        """The custodian's service identity."""
        return self.identity(CUSTODIAN, "client")

    @staticmethod
    def reader_org(identity: SigningIdentity) -> str:
        """Whose peer answers the caller's queries: its own organisation's if a member of the collection."""
        return identity.info.org if identity.info.org in CARE_ORGS else CUSTODIAN

    def submit(
        self, identity: SigningIdentity, function: str, *args: Any, transient: Mapping[str, bytes] | None = None
    ) -> SubmitResult:
        """Submit from an up-to-date peer; retry a few times on MVCC conflicts or endorsers at other heights."""
        for attempt in range(8):
            try:
                self.sync(identity)
                return self.contract(identity).submit(function, *args, transient=transient)
            except (TransactionInvalid, EndorsementFailed) as exc:
                if exc.code not in RETRY_CODES or attempt == 7:
                    raise
                time.sleep(0.02 * (attempt + 1) + secrets.randbelow(20) / 1000)
        raise AssertionError("unreachable")

    def evaluate(self, identity: SigningIdentity, function: str, *args: Any) -> Any:
        """Evaluate a query as ``identity`` on a peer that holds the private collection."""
        return self.contract(identity).evaluate(function, *args, org=self.reader_org(identity))

    def sync(self, identity: SigningIdentity, timeout: float = 10.0, org: str | None = None) -> None:
        """Wait until a peer (the caller's organisation's) has committed every block ordered so far."""
        height = self.network.orderer.height(CHANNEL)
        self.network.peer(org or identity.info.org).channel(CHANNEL).wait_for_height(height, timeout)

    # -- set-up ----------------------------------------------------------------------------------------------

    def setup(self) -> None:
        """Initialise the contract (once, with a fresh pseudonym key) and register every organisation's KEK."""
        custodian = self.custodian()
        try:
            self.evaluate(custodian, "config")
        except GatewayError:
            self.submit(
                self.identity(CUSTODIAN, "admin"),
                "init",
                CUSTODIAN,
                ROLE_ORGS,
                transient={"pseudonym_key": os.urandom(32)},
            )
        for org in ORGS:
            public = base64.b64encode(self.keyring.ensure(org)).decode()
            registered = self.evaluate(custodian, "org_key", org)
            if registered is None or registered["kek_public"] != public:
                self.submit(self.identity(org, "client"), "register_kek", public)

    def org_public_key(self, org: str) -> bytes:
        """An organisation's public key-encryption key, as registered on the ledger."""
        key = self._org_keys.get(org)
        if key is None:
            record = self.evaluate(self.custodian(), "org_key", org)
            if record is None:
                raise HealthError(f"{org} has not registered a key-encryption key")
            key = base64.b64decode(record["kek_public"])
            self._org_keys[org] = key
        return key

    # -- patients and keys -----------------------------------------------------------------------------------

    def enroll(self, patients: Sequence[str], accounts: Mapping[str, str] | None = None) -> int:
        """Enrol patients: a data key each in the custodian's vault; pseudonyms (and accounts) in the collection.

        ``accounts`` maps a pseudonym to the account (``Org/name``) of the patient's certificate; a patient without
        one cannot act on the ledger themselves (benchmarks, records kept for others).
        """
        accounts = accounts or {}
        vault = self.keyring.vault_key(CUSTODIAN)
        have = self.store.wrapped_keys(list(patients))
        fresh = [(p, crypto.wrap_local(crypto.new_data_key(), vault, p)) for p in patients if p not in have]
        if fresh:
            self.store.put_keys(fresh)
        added = 0
        for start in range(0, len(patients), 5000):
            chunk = [{"patient": p, "account": accounts.get(p)} for p in patients[start : start + 5000]]
            added += self.submit(self.custodian(), "enroll", transient=transient(patients=chunk)).result["enrolled"]
        return added

    def patient_of(self, identity: SigningIdentity) -> str:
        """The pseudonym of a patient identity (the contract knows which account is which patient)."""
        if identity.info.attributes.get("role") != "patient":
            raise HealthError(f"{identity.info.org}/{identity.info.name} is not a patient")
        found = self._pseudonyms.get(identity.info.cert_hash)
        if found is None:
            try:
                found = self.evaluate(identity, "whoami")["patient"]
            except GatewayError as exc:
                raise HealthError(exc.message) from None
            self._pseudonyms[identity.info.cert_hash] = found
        return found

    def account_patient(self, account: str) -> str | None:
        """The pseudonym bound to an account (``Org/name``), asked as the custodian's service."""
        found = self.evaluate(self.custodian(), "account_patient", account)
        return None if found is None else found["patient"]

    def custodian_key(self, patient: str) -> bytes:
        """The patient's data key from the custodian's vault (HealthError if none: not enrolled, or erased)."""
        wrapped = self.store.wrapped_key(patient)
        if wrapped is None:
            raise HealthError(f"there is no data key for patient {patient} (not enrolled, or erased)")
        return crypto.unwrap_local(wrapped, self.keyring.vault_key(CUSTODIAN), patient)

    # -- ingestion -------------------------------------------------------------------------------------------

    def put_documents(
        self,
        patient: str,
        documents: Sequence[dict[str, Any]],
        identity: SigningIdentity,
        dek: bytes | None = None,
        *,
        on_behalf: str | None = None,
    ) -> dict[str, str]:
        """Seal documents of one patient into a new batch, anchor it as ``identity``, then mark it stored.

        ``on_behalf``: the account of the patient whose own posted readings the custodian's service stores.
        """
        if not documents:
            raise HealthError("nothing to store")
        dek = dek if dek is not None else self.custodian_key(patient)
        batch = f"b-{secrets.token_hex(10)}"
        rows: list[StoredRecord] = []
        for leaf, document in enumerate(documents):
            record_id = f"{batch}/{leaf}"
            blob, digest = crypto.seal(dek, record_id, canonical_json(document))
            effective = int(parse_iso(document["effective"]).timestamp())
            identifier = identifier_hash(document["identifier"]) if document.get("identifier") else b""
            rows.append(StoredRecord(batch, leaf, patient, document["class"], effective, blob, digest, identifier))
        digests = [r.digest for r in rows]
        root = merkle.root([_leaf(d) for d in digests])
        classes = sorted({r.data_class for r in rows})
        inline = [d.hex() for d in digests] if len(digests) <= INLINE_HASHES else []
        try:
            self.store.stage(batch, patient, root, rows)
        except DuplicateRecord:
            raise HealthError("the same Observation is being stored right now; send it again to see it") from None
        about: dict[str, Any] = {"patient": patient, "classes": classes}
        if on_behalf is not None:
            about["on_behalf"] = on_behalf
        try:
            result = self.submit(
                identity, "anchor", batch, len(rows), root.hex(), inline, transient=transient(records=about)
            )
        except BaseException:
            self.store.drop(batch)
            raise
        self.store.commit(batch, result.tx_id)
        return {"batch": batch, "tx_id": result.tx_id, "records": str(len(rows))}

    def ingest(
        self, readings: Sequence[Reading], identity: SigningIdentity | None = None, *, on_behalf: str | None = None
    ) -> IngestResult:
        """Store readings (grouped per patient, each FHIR identifier once), anchor them, record their alerts."""
        identity = identity or self.custodian()
        by_patient: dict[str, list[Reading]] = {}
        for reading in readings:
            by_patient.setdefault(reading.patient, []).append(reading)
        batches: list[dict[str, str]] = []
        found: list[alert_rules.Alert] = []
        duplicates: list[Duplicate] = []
        stored = 0
        for patient, items in by_patient.items():
            items, skipped = self._new_readings(patient, items)
            duplicates.extend(skipped)
            if not items:
                continue
            dek = self.custodian_key(patient)
            earliest = min(r.effective for r in items) - timedelta(hours=24)
            history = self._history(patient, dek, earliest) if any(r.kind == "glucose" for r in items) else []
            batches.append(self.put_documents(patient, [r.record() for r in items], identity, dek, on_behalf=on_behalf))
            stored += len(items)
            found.extend(alert_rules.scan(items, history))
        recorded = self.record_alerts(found) if found else []
        return IngestResult(stored, batches, recorded, duplicates)

    def _new_readings(self, patient: str, items: list[Reading]) -> tuple[list[Reading], list[Duplicate]]:
        """The readings not stored yet (by FHIR identifier; once each), and the duplicates with where they are."""
        wanted = list({identifier_hash(r.identifier) for r in items if r.identifier})
        known = self.store.sources(patient, wanted) if wanted else {}
        fresh: list[Reading] = []
        duplicates: list[Duplicate] = []
        seen: dict[str, Duplicate | None] = {}
        for reading in items:
            if not reading.identifier:
                fresh.append(reading)
                continue
            if reading.identifier in seen:
                continue  # the same Observation twice in one request: stored once
            source = known.get(identifier_hash(reading.identifier))
            if source is None:
                seen[reading.identifier] = None
                fresh.append(reading)
            else:
                duplicate = Duplicate(reading.identifier, source.batch, source.tx_id)
                seen[reading.identifier] = duplicate
                duplicates.append(duplicate)
        return fresh, duplicates

    def _history(self, patient: str, dek: bytes, since: datetime) -> list[Reading]:
        out = []
        for row in self.store.records(patient, [GLUCOSE], int(since.timestamp())):
            body, _ = crypto.open_sealed(dek, row.record_id, row.blob)
            document = parse_json(body)
            if document.get("kind") == "glucose":
                out.append(Reading.from_record(document))
        return out

    def record_alerts(self, found: Iterable[alert_rules.Alert]) -> list[dict[str, str]]:
        """Record alerts on the ledger (in the private collection); return those newly recorded."""
        documents = []
        for alert in found:
            body = alert.to_json()
            body["class"] = BLOOD_PRESSURE if alert.kind == "hypertensive-crisis" else GLUCOSE
            documents.append(body)
        recorded: list[dict[str, str]] = []
        custodian = self.custodian()
        for start in range(0, len(documents), 500):
            chunk = documents[start : start + 500]
            result = self.submit(custodian, "record_alerts", transient=transient(alerts=chunk))
            if result.result["recorded"]:
                self.sync(custodian, org=self.reader_org(custodian))
                new = {a["id"] for a in self.evaluate(custodian, "alerts_of", result.tx_id)}
                recorded.extend(d for d in chunk if d["id"] in new)
        return recorded

    # -- consent ---------------------------------------------------------------------------------------------

    def grant(
        self,
        identity: SigningIdentity,
        actor: str,
        purposes: Sequence[str],
        classes: Sequence[str] = (),
        *,
        start: str | None = None,
        end: str | None = None,
        provision: str = "permit",
    ) -> dict[str, Any]:
        """The patient (``identity``) grants ``actor`` (``Org`` or ``Org/name``) access for ``purposes``."""
        patient = self.patient_of(identity)
        org = actor.split("/")[0]
        if org not in ORGS:
            raise HealthError(f"unknown organisation {org!r} (expected one of {', '.join(ORGS)})")
        unknown = [c for c in classes if c not in DATA_CLASSES]
        if unknown:
            raise HealthError(f"unknown data class {unknown[0]!r} (expected {', '.join(DATA_CLASSES)})")
        now = datetime.now(UTC)
        doc = consent_rules.build(
            consent_id=f"c-{secrets.token_hex(6)}",
            patient=patient,
            actor=actor,
            purposes=list(purposes),
            classes=list(classes),
            start=start or iso(now),
            end=end,
            provision=provision,
            recorded=iso(now),
        )
        try:
            consent_rules.check(doc, patient)
        except consent_rules.ConsentError as exc:
            raise HealthError(f"consent rejected at {exc.path}: {exc.message}") from None
        data: dict[str, Any] = {"consent": doc}
        if provision == "permit" and org != CUSTODIAN:
            wrapped = crypto.wrap(self.custodian_key(patient), self.org_public_key(org), patient)
            data["wrapped_keys"] = {org: base64.b64encode(wrapped).decode()}
        self.submit(identity, "grant", transient=transient(**data))
        return self.consent(identity, patient, doc["id"])

    def revoke(self, identity: SigningIdentity, consent_id: str) -> dict[str, Any]:
        """The patient revokes one of their consents; return it as it now stands."""
        patient = self.patient_of(identity)
        self.submit(identity, "revoke", transient=transient(consent_id=consent_id))
        return self.consent(identity, patient, consent_id)

    def consent(self, identity: SigningIdentity, patient: str, consent_id: str) -> dict[str, Any]:
        """One consent, from a peer that has committed everything ordered so far."""
        self.sync(identity, org=self.reader_org(identity))
        return self.evaluate(identity, "consent", patient, consent_id)

    def consents(self, identity: SigningIdentity, patient: str) -> list[dict[str, Any]]:
        """A patient's consents (those the caller may see), newest first."""
        return self.evaluate(identity, "consents", patient)

    def access_log(self, identity: SigningIdentity, patient: str, limit: int = 200) -> list[dict[str, Any]]:
        """Who read a patient's data, newest first."""
        return self.evaluate(identity, "access_log", patient, limit)

    # -- reads -----------------------------------------------------------------------------------------------

    def read_many(
        self, identity: SigningIdentity, patients: Sequence[str], purpose: str, classes: Sequence[str] = ()
    ) -> dict[str, PatientData | AccessRefused]:
        """Read several patients' data for ``purpose`` in one logged access; refusals come back as values."""
        opened = self._read_many(identity, patients, purpose, classes)
        return {p: v if isinstance(v, AccessRefused) else v[0] for p, v in opened.items()}

    def _read_many(
        self, identity: SigningIdentity, patients: Sequence[str], purpose: str, classes: Sequence[str]
    ) -> dict[str, tuple[PatientData, bytes] | AccessRefused]:
        request = {"patients": list(patients), "purpose": purpose, "classes": list(classes)}
        access_id = self.submit(identity, "access", transient=transient(request=request)).result["access_id"]
        released = self.release_keys(identity, access_id)
        org = identity.info.org
        out: dict[str, tuple[PatientData, bytes] | AccessRefused] = {}
        for patient in patients:
            grant = released.get(patient, {"refused": "no key released"})
            if "refused" in grant:
                out[patient] = AccessRefused(patient, grant["refused"], access_id)
                continue
            try:
                if grant.get("custodian"):
                    dek = self.custodian_key(patient)
                else:
                    dek = crypto.unwrap(base64.b64decode(grant["wrapped"]), self.keyring.private(org), patient)
            except (crypto.DecryptError, HealthError) as exc:
                out[patient] = AccessRefused(patient, f"the data key cannot be opened: {exc}", access_id)
                continue
            out[patient] = (self._open(patient, access_id, dek, classes), dek)
        return out

    def release_keys(self, identity: SigningIdentity, access_id: str) -> dict[str, Any]:
        """The decisions and data keys of an access, consent checked again on a peer that is up to date.

        The peer must have every block ordered so far — a revocation committed a moment ago included — before it
        answers; this is what makes a revocation effective for reads already under way.
        """
        self.sync(identity, org=self.reader_org(identity))
        return self.evaluate(identity, "release_keys", access_id)

    def read(self, identity: SigningIdentity, patient: str, purpose: str, classes: Sequence[str] = ()) -> PatientData:
        """Read one patient's data; raise AccessRefused (already logged) if consent does not permit it."""
        outcome = self.read_many(identity, [patient], purpose, classes)[patient]
        if isinstance(outcome, AccessRefused):
            raise outcome
        return outcome

    def _anchor(self, batch: str) -> dict[str, Any] | None:
        anchor = self._anchors.get(batch)
        if anchor is None:
            anchor = self.evaluate(self.custodian(), "anchor_of", batch)
            if anchor is not None:
                self._anchors[batch] = anchor
        return anchor

    def _batch_digests(self, batch: str, cache: dict[str, list[bytes] | None]) -> list[bytes] | None:
        """The batch's salted hashes if their Merkle root is the one anchored on the ledger, else None."""
        if batch not in cache:
            anchor = self._anchor(batch)
            digests = self.store.digests(batch)
            matches = anchor is not None and merkle.root([_leaf(d) for d in digests]).hex() == anchor["root"]
            cache[batch] = digests if matches else None
        return cache[batch]

    def _open(self, patient: str, access_id: str, dek: bytes, classes: Sequence[str]) -> PatientData:
        readings: list[Reading] = []
        documents: list[dict[str, Any]] = []
        verified = unverified = 0
        cache: dict[str, list[bytes] | None] = {}
        for row in self.store.records(patient, list(classes) or None):
            body, digest = crypto.open_sealed(dek, row.record_id, row.blob)
            digests = self._batch_digests(row.batch, cache)
            if digests is None or row.leaf >= len(digests) or digests[row.leaf] != digest:
                unverified += 1
                continue
            verified += 1
            document = parse_json(body)
            if document.get("kind") in READING_KINDS:
                readings.append(Reading.from_record(document))
            else:
                documents.append(document)
        return PatientData(patient, access_id, readings, documents, verified, unverified)

    # -- alerts ----------------------------------------------------------------------------------------------

    def alerts(self, identity: SigningIdentity, status: str = "", patient: str = "") -> list[dict[str, Any]]:
        """Alerts the caller may see (consent as for the record), newest first, from a peer that has committed
        everything ordered so far (a consent just revoked on another organisation's peer counts here too)."""
        self.sync(identity, org=self.reader_org(identity))
        return self.evaluate(identity, "alerts", status, patient)

    def alerts_of(self, identity: SigningIdentity, tx_id: str) -> list[dict[str, Any]]:
        """The alerts a transaction recorded that the caller may see, with details."""
        return self.evaluate(identity, "alerts_of", tx_id)

    def alert_detail(self, identity: SigningIdentity, alert_id: str) -> dict[str, Any]:
        """One alert with its details (consent permitting)."""
        return self.evaluate(identity, "alert_detail", alert_id)

    def acknowledge(self, identity: SigningIdentity, alert_id: str, note: str = "") -> dict[str, Any]:
        """Acknowledge an alert (consent permitting); return it as it now stands."""
        self.submit(identity, "acknowledge_alert", transient=transient(alert={"id": alert_id, "note": note}))
        self.sync(identity, org=self.reader_org(identity))
        return self.alert_detail(identity, alert_id)

    # -- profiles, models and risk scores ---------------------------------------------------------------------

    def put_profile(self, patient: str, profile: dict[str, Any], when: datetime | None = None) -> dict[str, str]:
        """Store a patient's risk-factor profile (custodian, at enrolment), sealed like any record."""
        document = {
            "kind": "profile",
            "class": "risk",
            "patient": patient,
            "effective": iso(when or datetime.now(UTC)),
            "factors": dict(profile),
        }
        return self.put_documents(patient, [document], self.custodian())

    @property
    def models_dir(self) -> Path:
        """Where trained model files are kept."""
        return self.directory / "models"

    def model_folder(self, version: Any) -> Path:
        """The folder of a model version — only for a version of the registry's strict pattern."""
        if not isinstance(version, str) or not MODEL_VERSION.fullmatch(version):
            raise HealthError(f"model version must match {MODEL_VERSION.pattern}, not {version!r}")
        return self.models_dir / version

    def register_model(self, identity: SigningIdentity, report: Any) -> dict[str, Any]:
        """Register a trained model's hash, version and held-out metrics on the ledger (an analyst)."""
        return self.submit(identity, "register_model", *registration(report)).result

    def promote_model(self, identity: SigningIdentity, name: str, version: str) -> dict[str, Any]:
        """Make a registered model version the current one (the custodian)."""
        return self.submit(identity, "promote_model", name, version).result

    def current_record(self) -> dict[str, Any] | None:
        """The registry's record of the current model (None if none was made current)."""
        from consortia.apps.health.service.training import NAME

        return self.evaluate(self.custodian(), "model", NAME, "")

    def current_model(self) -> Any | None:
        """The current model, loaded after its file's hash is checked (None if none; ModelError if it differs)."""
        from consortia.apps.health.service.training import ModelError, load

        record = self.current_record()
        if record is None:
            return None
        try:
            folder = self.model_folder(record["version"])
        except HealthError as exc:
            raise ModelError(str(exc)) from None
        return load(folder / "model.joblib", record["sha256"])

    def model_card(self) -> ModelCard:
        """The current model's record and card; the card only if the model file matches the registered hash."""
        record = self.current_record()
        if record is None:
            return ModelCard(None)
        try:
            folder = self.model_folder(record["version"])
            blob = (folder / "model.joblib").read_bytes()
        except HealthError as exc:
            return ModelCard(record, problem=str(exc))
        except OSError:
            return ModelCard(record, problem=f"the model file of version {record['version']} is missing")
        found = hashlib.sha256(blob).hexdigest()
        if found != record["sha256"]:
            return ModelCard(
                record, problem=f"the model file has SHA-256 {found}, not the registered {record['sha256']}"
            )
        try:
            card = (folder / "MODEL_CARD.md").read_text()
        except OSError:
            card = ""
        translations = {}
        for path in folder.glob("MODEL_CARD.*.md"):
            translations[path.name.split(".")[1]] = path.read_text()
        return ModelCard(record, card, translations=translations)

    def score(
        self, identity: SigningIdentity, patients: Sequence[str], model: Any | None = None, now: datetime | None = None
    ) -> dict[str, dict[str, Any] | AccessRefused]:
        """Score patients (an analyst, under care-coordination consent) and store each score as a record."""
        from consortia.apps.health.domain.scoring import score_document

        now = now or datetime.now(UTC)
        out: dict[str, dict[str, Any] | AccessRefused] = {}
        for patient, opened in self._read_many(identity, patients, consent_rules.CAREMGT, []).items():
            if isinstance(opened, AccessRefused):
                out[patient] = opened
                continue
            data, dek = opened
            profiles = [d for d in data.documents if d.get("kind") == "profile"]
            if not profiles:
                out[patient] = {"error": "no risk-factor profile"}
                continue
            document = score_document(patient, profiles[-1]["factors"], data.readings, now, model)
            self.put_documents(patient, [document], identity, dek)
            out[patient] = document
        return out

    # -- erasure ---------------------------------------------------------------------------------------------

    def erase(self, identity: SigningIdentity, patient: str) -> dict[str, Any]:
        """Erase a patient: purge keys and details on the ledger, then destroy the vault key and ciphertexts."""
        result = self.submit(identity, "erase", transient=transient(patient=patient))
        had_key, deleted = self.store.shred(patient)
        return {
            "patient": patient,
            **result.result,
            "tx_id": result.tx_id,
            "vault_key_destroyed": had_key,
            "records_deleted": deleted,
        }
