"""Readings in: FHIR R4 Observations and Bundles, parsed, checked and normalised — or rejected with the path.

Each Observation is validated with the ``fhir.resources`` R4B models (the R4B package shares R4's Observation and
Bundle structure), so a malformed element — a string where a decimal belongs, an unknown element, a missing
``status`` — is refused with the FHIRPath-like location pydantic reports (``Observation.component[0].
valueQuantity.value``). A well-formed Observation is then read as this application understands it:

* ``status`` final, amended, corrected or preliminary (others carry no usable value);
* ``code`` one of :mod:`.loinc`'s codes (system ``http://loinc.org``);
* ``subject`` ``Patient/<id>``, matching the patient the import is for, when one is given;
* ``effectiveDateTime`` / ``effectiveInstant`` (or the end of ``effectivePeriod`` for CGM summaries) with a
  time zone, not in the future;
* the value (``valueQuantity``, or the components of a panel) in an accepted unit, normalised
  (:mod:`.units`), and plausible (:mod:`.plausibility`);
* its first business ``identifier`` (``system|value``), if any, is kept so that a second post of the same
  Observation stores nothing new.

JSON text is decoded by the platform's :func:`~consortia.ledger.encoding.parse_json`, which refuses documents nested
deeper than 64 levels or with number literals longer than 40 characters (a FHIR document needs about ten levels),
so a hostile file is a clean error, never a RecursionError — in the gateway and in ``consortia health import-fhir``
alike.

Anything else is a :class:`Rejection` naming the element's path and the reason, and nothing of that Observation
is kept. In a Bundle each entry stands alone (``batch``, ``collection``…), except in a ``transaction`` Bundle,
which is all or nothing as FHIR defines it: one rejected entry rejects them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError

from consortia.apps.health.domain import loinc, plausibility
from consortia.apps.health.domain.readings import Reading
from consortia.apps.health.domain.units import UnitError, normalise, ucum
from consortia.ledger.encoding import JsonLimitError, parse_json

USABLE_STATUS = ("final", "amended", "corrected", "preliminary")
BUNDLE_TYPES = (
    "document",
    "message",
    "transaction",
    "transaction-response",
    "batch",
    "batch-response",
    "history",
    "searchset",
    "collection",
)
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Rejection:
    """Why one Observation (or the whole document) was not accepted."""

    path: str
    reason: str
    index: int | None = None
    resource_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``rejected`` entry of an import report."""
        out: dict[str, Any] = {"path": self.path, "reason": self.reason}
        if self.index is not None:
            out["index"] = self.index
        if self.resource_id:
            out["id"] = self.resource_id
        return out


@dataclass(frozen=True)
class ParseResult:
    """What a document yielded: accepted readings, rejections and how many Observations it held."""

    observations: int
    readings: list[Reading] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """``{"observations": n, "rejected": [...], "items": [...]}``."""
        return {
            "observations": self.observations,
            "accepted": len(self.readings),
            "rejected": [r.to_json() for r in self.rejected],
            "items": [r.summary() for r in self.readings],
        }


class _Reject(Exception):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


_FORMATS = {
    "DateTime": "a FHIR dateTime such as 2024-05-01T08:00:00+09:00; with a time, the time zone is required",
    "Instant": "a FHIR instant such as 2024-05-01T08:00:00Z",
    "Decimal": "a number, such as 120 or 5.5",
}


def _loc_path(root: str, loc: tuple[Any, ...]) -> str:
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("__root__",):
            continue
        else:
            path += f".{part}"
    return path


def _first_error(root: str, exc: ValidationError) -> _Reject:
    error = exc.errors()[0]
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    for kind, hint in _FORMATS.items():
        if message.startswith(f"{kind} value string does not match"):
            message = f"{message} ({hint})"
    return _Reject(_loc_path(root, tuple(error.get("loc", ()))), message)


def parse_json_document(raw: bytes | str) -> Any:
    """Decode JSON text within the platform's limits; a ValueError says what is wrong (and where)."""
    try:
        return parse_json(raw)
    except JsonLimitError as exc:
        raise ValueError(f"not accepted: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {str(exc).removeprefix('invalid JSON: ')}") from None


def parse_document(document: Any, patient: str | None = None, now: datetime | None = None) -> ParseResult:
    """Parse an Observation or a Bundle of Observations (a decoded JSON value)."""
    now = now or datetime.now(UTC)
    if not isinstance(document, dict):
        return ParseResult(0, rejected=[Rejection("$", "expected a JSON object (an Observation or a Bundle)")])
    kind = document.get("resourceType")
    if kind == "Observation":
        try:
            return ParseResult(1, readings=parse_observation(document, "Observation", patient, now))
        except _Reject as exc:
            return ParseResult(1, rejected=[Rejection(exc.path, exc.reason, 0, _id(document))])
    if kind == "Bundle":
        return parse_bundle(document, patient, now)
    return ParseResult(0, rejected=[Rejection("resourceType", f"expected Observation or Bundle, not {kind!r}")])


def parse_bundle(bundle: dict[str, Any], patient: str | None, now: datetime) -> ParseResult:
    """Parse each entry of a Bundle; a transaction Bundle is accepted whole or not at all."""
    bundle_type = bundle.get("type")
    if bundle_type not in BUNDLE_TYPES:
        return ParseResult(0, rejected=[Rejection("Bundle.type", f"must be one of {', '.join(BUNDLE_TYPES)}")])
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        return ParseResult(0, rejected=[Rejection("Bundle.entry", "must be a list")])
    if len(entries) > MAX_ENTRIES:
        return ParseResult(0, rejected=[Rejection("Bundle.entry", f"at most {MAX_ENTRIES} entries per Bundle")])
    readings: list[Reading] = []
    rejected: list[Rejection] = []
    observations = 0
    for index, entry in enumerate(entries):
        root = f"Bundle.entry[{index}].resource"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            rejected.append(Rejection(f"Bundle.entry[{index}]", "an entry needs a resource", index))
            continue
        if resource.get("resourceType") != "Observation":
            rejected.append(Rejection(f"{root}.resourceType", "only Observations are imported", index, _id(resource)))
            continue
        observations += 1
        try:
            readings.extend(parse_observation(resource, root, patient, now))
        except _Reject as exc:
            rejected.append(Rejection(exc.path, exc.reason, index, _id(resource)))
    if bundle_type == "transaction" and rejected:
        note = "transaction Bundle: nothing was imported because an entry was rejected"
        return ParseResult(observations, [], [*rejected, Rejection("Bundle", note)])
    return ParseResult(observations, readings, rejected)


def _id(resource: dict[str, Any]) -> str | None:
    value = resource.get("id")
    return value if isinstance(value, str) else None


def _float(value: Decimal | float | int | None, path: str) -> float:
    if value is None:
        raise _Reject(path, "a value is required")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise _Reject(path, "must be a finite number")
    return number


def _loinc(concept: Any, path: str) -> str:
    codings = getattr(concept, "coding", None) or []
    for index, coding in enumerate(codings):
        if coding.system == loinc.LOINC and coding.code:
            return coding.code
        if coding.system is None and coding.code:
            raise _Reject(f"{path}.coding[{index}].system", f"give the system {loinc.LOINC} for code {coding.code}")
    raise _Reject(f"{path}.coding", "needs a LOINC coding (system http://loinc.org)")


def _quantity(quantity: Any, path: str, kind: str, accepted: tuple[str, ...]) -> tuple[float, str]:
    if quantity is None:
        raise _Reject(path, "a valueQuantity is required")
    if quantity.comparator is not None:
        raise _Reject(f"{path}.comparator", f"a bounded value ({quantity.comparator}) cannot be used")
    value = _float(quantity.value, f"{path}.value")
    try:
        unit = ucum(quantity.code, quantity.unit, quantity.system)
        return normalise(kind, value, unit, accepted)
    except UnitError as exc:
        raise _Reject(f"{path}.code" if quantity.code else f"{path}.unit", str(exc)) from None


def _plausible(kind: str, value: float, path: str) -> float:
    problem = plausibility.check_value(kind, value)
    if problem:
        raise _Reject(path, problem)
    return value


def _effective(obs: Observation, root: str, now: datetime, summary: bool) -> datetime:
    when: Any = obs.effectiveDateTime or obs.effectiveInstant
    path = f"{root}.effectiveDateTime" if obs.effectiveDateTime else f"{root}.effectiveInstant"
    if when is None and summary and obs.effectivePeriod is not None:
        when = obs.effectivePeriod.end
        path = f"{root}.effectivePeriod.end"
    if when is None:
        raise _Reject(f"{root}.effective[x]", "when the reading was taken is required")
    if isinstance(when, date) and not isinstance(when, datetime):
        if not summary:
            raise _Reject(path, "a reading needs a time of day, not only a date")
        when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    if not isinstance(when, datetime):
        raise _Reject(path, "a reading needs a full date and time")
    problem = plausibility.check_time(when, now)
    if problem:
        raise _Reject(path, problem)
    return when.astimezone(UTC)


def _subject(obs: Observation, root: str, patient: str | None) -> str:
    reference = obs.subject.reference if obs.subject is not None else None
    if reference is None:
        if patient is None:
            raise _Reject(f"{root}.subject", "the patient is required (subject.reference Patient/<id>)")
        return patient
    if not reference.startswith("Patient/") or len(reference) <= len("Patient/"):
        raise _Reject(f"{root}.subject.reference", f"must be Patient/<id>, not {reference!r}")
    subject = reference.removeprefix("Patient/")
    if patient is not None and subject != patient:
        raise _Reject(f"{root}.subject.reference", f"is Patient/{subject}, but the import is for patient {patient}")
    return subject


def parse_observation(resource: dict[str, Any], root: str, patient: str | None, now: datetime) -> list[Reading]:
    """One Observation as readings (one, normally); raises _Reject naming the offending element."""
    try:
        obs = Observation.model_validate(resource)
    except ValidationError as exc:
        raise _first_error(root, exc) from None
    if obs.status not in USABLE_STATUS:
        raise _Reject(f"{root}.status", f"status {obs.status!r} carries no usable value")
    code = _loinc(obs.code, f"{root}.code")
    known = loinc.lookup(code)
    if known is None or code in loinc.TIR_COMPONENTS:
        raise _Reject(f"{root}.code", f"LOINC {code} is not a blood-pressure, heart-rate or glucose code read here")
    subject = _subject(obs, root, patient)
    summary = known.kind in ("gmi", "cgm_mean", "cgm_tir")
    when = _effective(obs, root, now, summary)
    base = {
        "patient": subject,
        "code": code,
        "kind": known.kind,
        "data_class": known.data_class,
        "effective": when,
        "context": known.context,
        "source_id": obs.id or "",
        "identifier": _identifier(obs),
    }
    if known.kind == "bp":
        return [_blood_pressure(obs, root, base)]
    if known.kind == "cgm_tir":
        return [_times_in_ranges(obs, root, base)]
    if obs.valueQuantity is None:
        reason = "a valueQuantity is required"
        if obs.dataAbsentReason is not None:
            reason += " (the Observation says the value is absent)"
        raise _Reject(f"{root}.valueQuantity", reason)
    value, unit = _quantity(obs.valueQuantity, f"{root}.valueQuantity", known.kind, known.units)
    _plausible(known.kind, value, f"{root}.valueQuantity.value")
    return [Reading(value=value, unit=unit, **base)]


def _identifier(obs: Observation) -> str:
    """The Observation's first business identifier as ``system|value`` ("" when it has none)."""
    for identifier in obs.identifier or []:
        if identifier.value:
            return f"{identifier.system or ''}|{identifier.value}"
    return ""


def _blood_pressure(obs: Observation, root: str, base: dict[str, Any]) -> Reading:
    found: dict[str, float] = {}
    for index, component in enumerate(obs.component or []):
        path = f"{root}.component[{index}]"
        code = _loinc(component.code, f"{path}.code")
        if code not in (loinc.SYSTOLIC, loinc.DIASTOLIC):
            continue
        kind = "sbp" if code == loinc.SYSTOLIC else "dbp"
        if kind in found:
            raise _Reject(f"{path}.code", f"{code} appears twice")
        value, _ = _quantity(component.valueQuantity, f"{path}.valueQuantity", kind, ("mm[Hg]",))
        found[kind] = _plausible(kind, value, f"{path}.valueQuantity.value")
    for kind, code in (("sbp", loinc.SYSTOLIC), ("dbp", loinc.DIASTOLIC)):
        if kind not in found:
            raise _Reject(f"{root}.component", f"the blood-pressure panel needs a component {code}")
    if found["dbp"] >= found["sbp"]:
        raise _Reject(f"{root}.component", f"diastolic {found['dbp']:g} must be below systolic {found['sbp']:g}")
    return Reading(value=found["sbp"], value2=found["dbp"], unit="mm[Hg]", **base)


def _times_in_ranges(obs: Observation, root: str, base: dict[str, Any]) -> Reading:
    parts: dict[str, float] = {}
    for index, component in enumerate(obs.component or []):
        path = f"{root}.component[{index}]"
        code = _loinc(component.code, f"{path}.code")
        name = loinc.TIR_COMPONENTS.get(code)
        if name is None:
            raise _Reject(f"{path}.code", f"LOINC {code} is not a time-in-range component")
        value, _ = _quantity(component.valueQuantity, f"{path}.valueQuantity", "cgm_tir", ("%",))
        parts[name] = _plausible("tir", value, f"{path}.valueQuantity.value")
    if "target" not in parts:
        raise _Reject(f"{root}.component", "the panel needs time in target range (97510-2)")
    total = sum(parts.values())
    if len(parts) == len(loinc.TIR_COMPONENTS) and not 98 <= total <= 102:
        raise _Reject(f"{root}.component", f"the five ranges add up to {total:g} %, not 100 %")
    return Reading(value=parts["target"], unit="%", parts=parts, **base)
