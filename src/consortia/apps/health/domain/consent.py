"""Consent, in the shape of FHIR R4 Consent, and the decision it implies for one read.

A patient's consent is a FHIR R4 ``Consent`` resource (http://hl7.org/fhir/R4/consent.html) stored on the
ledger as it is, so any FHIR tool can read it:

* ``status`` ``active`` until revoked (then ``inactive``), ``scope`` ``patient-privacy`` (``research`` for
  research), ``category`` LOINC 59284-0 (patient consent), ``patient`` ``Patient/<pseudonym>``,
  ``policyRule`` ``OPTIN`` — under Korean PIPA art. 23, processing health data needs the person's separate,
  explicit consent;
* one ``provision`` with ``type`` ``permit`` or ``deny``, a ``period``, the ``actor`` it names (an organisation
  ``Organization/<org>``, or one person by ``identifier`` ``<org>/<name>`` with type ``Practitioner``) in the
  role of information recipient (``IRCP``), the ``purpose`` (v3 ActReason ``TREAT`` treatment, ``CAREMGT`` care
  coordination, ``HRESCH`` research — with the ``PSEUDED`` security label: pseudonymised data only) and the data
  ``class`` es it covers (:data:`.loinc.DATA_CLASSES`; none listed means all).

A consent that names no purpose covers the purposes of care only — treatment and care coordination
(:data:`DEFAULT_PURPOSES`) — never research: research on a patient's data needs a consent that names
``HRESCH`` itself (the programme's rule: a patient who ticked no purpose agreed to be cared for, not studied).
:func:`covers` is the one place where "no purpose listed" is read.

:func:`decide` is the policy decision the contract takes on every read: the patient may always read their own
data; otherwise a matching ``deny`` provision wins over any ``permit``, and every requested data class must be
covered by an active ``permit`` whose period holds the moment of the read, whose actor is the reader and whose
purpose is the reader's. A purpose also needs the matching role (a clinician treats; a coordinator, a clinician,
or the analysis service scoring risk for them, coordinate care; an analyst does research). The functions here are
pure — the contract runs them with ``ctx.timestamp``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from consortia.apps.health.domain.loinc import DATA_CLASSES

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
DATA_CLASS_SYSTEM = "urn:consortia:health:data-class"
IDENTITY_SYSTEM = "urn:consortia:identity"

TREAT = "TREAT"
CAREMGT = "CAREMGT"
HRESCH = "HRESCH"
PATRQT = "PATRQT"
PURPOSES: dict[str, dict[str, str]] = {
    TREAT: {"en": "treatment", "ko": "진료"},
    CAREMGT: {"en": "care coordination", "ko": "돌봄 조정"},
    HRESCH: {"en": "research on pseudonymised data", "ko": "가명정보 연구"},
    PATRQT: {"en": "patient's own access", "ko": "본인 열람"},
}
DEFAULT_PURPOSES = (TREAT, CAREMGT)
"""What a consent that lists no purpose covers: care, not research."""
ROLES_FOR_PURPOSE: dict[str, tuple[str, ...]] = {
    TREAT: ("clinician",),
    CAREMGT: ("coordinator", "clinician", "analyst"),
    HRESCH: ("analyst",),
}
STATUSES = ("draft", "proposed", "active", "rejected", "inactive", "entered-in-error")
MAX_ACTORS = 16


class ConsentError(ValueError):
    """A consent document that is not acceptable; ``path`` names the element."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Accessor:
    """Who asks to read: organisation, ``org/name`` and role."""

    org: str
    id: str
    role: str | None


@dataclass(frozen=True)
class Decision:
    """The outcome of a consent check."""

    permit: bool
    reason: str
    consents: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Shape stored in the access log."""
        return {"decision": "permit" if self.permit else "deny", "reason": self.reason, "consents": list(self.consents)}


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (a date means its midnight, UTC)."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"{text!r} needs a time zone")
    return when.astimezone(UTC)


def build(
    *,
    consent_id: str,
    patient: str,
    actor: str,
    purposes: Sequence[str],
    classes: Sequence[str] = (),
    start: str,
    end: str | None = None,
    provision: str = "permit",
    recorded: str,
) -> dict[str, Any]:
    """A FHIR R4 Consent permitting (or denying) ``actor`` (``Org`` or ``Org/name``) the given purposes."""
    if "/" in actor:
        actor_ref: dict[str, Any] = {"type": "Practitioner", "identifier": {"system": IDENTITY_SYSTEM, "value": actor}}
    else:
        actor_ref = {"reference": f"Organization/{actor}"}
    research = list(purposes) == [HRESCH]
    body: dict[str, Any] = {
        "resourceType": "Consent",
        "id": consent_id,
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "research" if research else "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "dateTime": recorded,
        "policyRule": {"coding": [{"system": ACT_CODE, "code": "OPTIN"}]},
        "provision": {
            "type": provision,
            "period": {"start": start, **({"end": end} if end else {})},
            "actor": [{"role": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]}, "reference": actor_ref}],
            "purpose": [{"system": ACT_REASON, "code": p} for p in purposes],
            "class": [{"system": DATA_CLASS_SYSTEM, "code": c} for c in classes],
        },
    }
    if research:
        body["provision"]["securityLabel"] = [{"system": OBSERVATION_VALUE, "code": "PSEUDED"}]
    return body


def _codes(items: Any, path: str, system: str, allowed: Iterable[str]) -> list[str]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConsentError(path, "must be a list of codings")
    allowed = tuple(allowed)
    codes = []
    for index, coding in enumerate(items):
        if not isinstance(coding, dict) or coding.get("system") != system:
            raise ConsentError(f"{path}[{index}].system", f"must be {system}")
        if coding.get("code") not in allowed:
            raise ConsentError(f"{path}[{index}].code", f"must be one of {', '.join(allowed)}")
        codes.append(coding["code"])
    return codes


def check(doc: Any, patient: str | None = None) -> dict[str, Any]:
    """Check a Consent document's elements this application relies on; raise ConsentError naming the path."""
    if not isinstance(doc, dict) or doc.get("resourceType") != "Consent":
        raise ConsentError("Consent.resourceType", "must be Consent")
    consent_id = doc.get("id")
    if not isinstance(consent_id, str) or not 1 <= len(consent_id) <= 64 or ":" in consent_id:
        raise ConsentError("Consent.id", "must be 1–64 characters without ':'")
    if doc.get("status") not in STATUSES:
        raise ConsentError("Consent.status", f"must be one of {', '.join(STATUSES)}")
    reference = (doc.get("patient") or {}).get("reference", "")
    if not isinstance(reference, str) or not reference.startswith("Patient/"):
        raise ConsentError("Consent.patient.reference", "must be Patient/<id>")
    if patient is not None and reference != f"Patient/{patient}":
        raise ConsentError("Consent.patient.reference", f"must be Patient/{patient}")
    provision = doc.get("provision")
    if not isinstance(provision, dict):
        raise ConsentError("Consent.provision", "is required")
    if provision.get("type") not in ("permit", "deny"):
        raise ConsentError("Consent.provision.type", "must be permit or deny")
    period = provision.get("period")
    if not isinstance(period, dict) or not isinstance(period.get("start"), str):
        raise ConsentError("Consent.provision.period.start", "is required")
    try:
        start = parse_time(period["start"])
        end = parse_time(period["end"]) if period.get("end") is not None else None
    except (TypeError, ValueError) as exc:
        raise ConsentError("Consent.provision.period", f"not a valid date or date-time: {exc}") from None
    if end is not None and end <= start:
        raise ConsentError("Consent.provision.period.end", "must be after the start")
    actors = provision.get("actor")
    if not isinstance(actors, list) or not 1 <= len(actors) <= MAX_ACTORS:
        raise ConsentError("Consent.provision.actor", f"name 1–{MAX_ACTORS} actors")
    for index, actor in enumerate(actors):
        ref = actor.get("reference") if isinstance(actor, dict) else None
        if not isinstance(ref, dict) or not _actor_key(ref):
            raise ConsentError(
                f"Consent.provision.actor[{index}].reference",
                "must be Organization/<org> or an identifier <org>/<name> of system " + IDENTITY_SYSTEM,
            )
    _codes(provision.get("purpose"), "Consent.provision.purpose", ACT_REASON, ROLES_FOR_PURPOSE)
    _codes(provision.get("class"), "Consent.provision.class", DATA_CLASS_SYSTEM, DATA_CLASSES)
    return doc


def _actor_key(reference: dict[str, Any]) -> str | None:
    text = reference.get("reference")
    if isinstance(text, str) and text.startswith("Organization/") and len(text) > len("Organization/"):
        return text.removeprefix("Organization/")
    identifier = reference.get("identifier")
    if isinstance(identifier, dict) and identifier.get("system") == IDENTITY_SYSTEM:
        value = identifier.get("value")
        if isinstance(value, str) and value.count("/") == 1 and all(value.split("/")):
            return value
    return None


def actors(doc: dict[str, Any]) -> list[str]:
    """The actors a consent names: ``Org`` or ``Org/name``."""
    found = [_actor_key(a.get("reference", {})) for a in doc.get("provision", {}).get("actor", [])]
    return [a for a in found if a]


def purposes(doc: dict[str, Any]) -> list[str]:
    """The purposes a consent names."""
    return [c["code"] for c in doc.get("provision", {}).get("purpose", [])]


def covers(doc: dict[str, Any], purpose: str) -> bool:
    """Whether a consent covers ``purpose``: one it names, or care (never research) when it names none."""
    named = purposes(doc)
    return purpose in named if named else purpose in DEFAULT_PURPOSES


def classes(doc: dict[str, Any]) -> list[str]:
    """The data classes a consent covers ([] = all)."""
    return [c["code"] for c in doc.get("provision", {}).get("class", [])]


def in_force(doc: dict[str, Any], at: datetime) -> bool:
    """Whether a consent is active and its period holds ``at``."""
    if doc.get("status") != "active":
        return False
    period = doc.get("provision", {}).get("period", {})
    if parse_time(period["start"]) > at:
        return False
    return period.get("end") is None or at < parse_time(period["end"])


def names(doc: dict[str, Any], accessor: Accessor) -> bool:
    """Whether a consent's actors include the accessor (its organisation, or the person)."""
    named = actors(doc)
    return accessor.org in named or accessor.id in named


def decide(
    consents: Sequence[dict[str, Any]],
    accessor: Accessor,
    purpose: str,
    wanted: Sequence[str],
    at: datetime,
    *,
    is_patient: bool = False,
) -> Decision:
    """May ``accessor`` read ``wanted`` data classes for ``purpose`` at ``at``, given the patient's consents?"""
    if is_patient:
        return Decision(True, "the patient's own data")
    if purpose not in ROLES_FOR_PURPOSE:
        return Decision(False, f"unknown purpose {purpose!r}")
    if accessor.role not in ROLES_FOR_PURPOSE[purpose]:
        allowed = " or ".join(ROLES_FOR_PURPOSE[purpose])
        return Decision(False, f"purpose {purpose} needs the role {allowed}, not {accessor.role or 'none'}")
    wanted = list(wanted) or list(DATA_CLASSES)
    matching = [c for c in consents if in_force(c, at) and names(c, accessor) and covers(c, purpose)]
    for consent in matching:
        covered = classes(consent) or list(DATA_CLASSES)
        if consent["provision"]["type"] == "deny" and set(covered) & set(wanted):
            return Decision(False, f"denied by consent {consent['id']}", (consent["id"],))
    used: list[str] = []
    for data_class in wanted:
        permit = next(
            (
                c
                for c in matching
                if c["provision"]["type"] == "permit" and (not classes(c) or data_class in classes(c))
            ),
            None,
        )
        if permit is None:
            return Decision(False, f"no active consent permits {accessor.id} {purpose} access to {data_class} data")
        if permit["id"] not in used:
            used.append(permit["id"])
    return Decision(True, "permitted by consent", tuple(used))
