"""Reading an EPCIS 2.0 document for capture: parse, validate every event, name each one — or reject it whole.

Capture is all or nothing. Before anything reaches the ledger a document must be JSON, an ``EPCISDocument``
(events under ``epcisBody.eventList``) or an ``EPCISQueryDocument`` (the answer to a query, events under
``epcisBody.queryResults.resultsBody.eventList`` — what one repository's ``GET /events`` gives another to
capture) valid against GS1's JSON Schema, and every event must make sense beyond the schema: a time with an offset, GS1
keys whose check digits are right (a Digital Link's GTIN, SSCC or GLN), temperatures in a temperature unit, event
IDs that do not repeat. The first problems found are reported as :class:`Rejection` values naming the event (its
index and ID) and the field (``epcList[1]``, ``sensorElementList[0].sensorReport[2].uom``), and nothing is stored.

A document that passes becomes a :class:`Document`: its events as given, the ``eventID`` of each (the CBV 2.0
event hash ID when the document gave none — the contract computes the same), the namespace prefixes of its
``@context`` (the contract needs them to hash user extensions), the extension fields its ``ignoreFields`` asks
hashers to leave out (a repository's own additions, such as its copy of the hash: the contract needs them too), its
master data, and counts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from consortia.apps.coldchain.domain import gs1, schema, timestamps
from consortia.apps.coldchain.domain.eventhash import context_prefixes, document_events, event_hash_id, ignored_fields
from consortia.apps.coldchain.domain.facts import event_facts
from consortia.ledger import encoding

MAX_EVENTS = 5000
TEMPERATURE_UNITS = ("CEL", "FAH", "KEL")
_FIXED_KEYS = {"00": 18, "414": 13, "417": 13, "402": 17, "8017": 18, "8018": 18}
DOCUMENT_TYPES = ("EPCISDocument", "EPCISQueryDocument")
_EVENT_LISTS = {
    "EPCISDocument": ("epcisBody", "eventList"),
    "EPCISQueryDocument": ("epcisBody", "queryResults", "resultsBody", "eventList"),
}
_REQUIRED = re.compile(r"^['\"](?P<name>[^'\"]+)['\"] is a required property")


@dataclass(frozen=True)
class Rejection:
    """Why a document was refused: the event (index, ID) and field at fault, and what is wrong."""

    message: str
    event_index: int | None = None
    event_id: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (for the CLI and problem details)."""
        return {
            "event_index": self.event_index,
            "event_id": self.event_id,
            "field": self.field,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = []
        if self.event_index is not None:
            where.append(f"event {self.event_index}" + (f" ({self.event_id})" if self.event_id else ""))
        if self.field:
            where.append(f"field {self.field}")
        return (", ".join(where) + ": " if where else "") + self.message


class DocumentRejected(ValueError):
    """A document refused whole; ``rejections`` lists the problems (the first is the main one).

    ``code`` is the contract's code when the contract refused it (``FORBIDDEN``, ``CONFLICT``, ``NOT_FOUND`` …), and
    None when the document failed validation before reaching the ledger.
    """

    def __init__(self, rejections: list[Rejection], source: str | None = None, *, code: str | None = None) -> None:
        self.rejections = rejections
        self.source = source
        self.code = code
        prefix = f"{source}: " if source else ""
        more = f" (and {len(rejections) - 1} more)" if len(rejections) > 1 else ""
        super().__init__(prefix + str(rejections[0]) + more)

    def as_dict(self) -> dict[str, Any]:
        """JSON form: the source, the first problem, and all of them."""
        return {
            "source": self.source,
            "error": str(self.rejections[0]),
            "rejections": [r.as_dict() for r in self.rejections],
        }


@dataclass(frozen=True)
class Document:
    """A validated EPCIS document, ready to capture."""

    events: tuple[Mapping[str, Any], ...]
    context: Any
    prefixes: dict[str, str]
    master_data: dict[str, Any] | None
    event_ids: tuple[str, ...]
    hashed: tuple[bool, ...]
    sensor_reports: int
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    """Extension fields the document's ``ignoreFields`` leaves out of every event's hash (a repository's own)."""


def _path_text(parts: tuple[str | int, ...] | list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _event_ref(events: list[Any], index: int) -> str | None:
    if 0 <= index < len(events) and isinstance(events[index], Mapping):
        value = events[index].get("eventID")
        return value if isinstance(value, str) else None
    return None


def _event_path(path: list[str | int]) -> tuple[int, list[str | int]] | None:
    """(event index, path within the event) when a JSON path points into either form's event list."""
    for prefix in _EVENT_LISTS.values():
        size = len(prefix)
        if len(path) > size and tuple(path[:size]) == prefix and isinstance(path[size], int):
            return path[size], path[size + 1 :]
    return None


def _schema_rejections(document: Any, events: list[Any]) -> list[Rejection]:
    out = []
    for violation in schema.violations(document):
        path = list(violation.path)
        match = _REQUIRED.match(violation.message)
        if match:
            path.append(match.group("name"))
        event_path = _event_path(path)
        if event_path is not None:
            index, rest = event_path
            out.append(Rejection(violation.message, index, _event_ref(events, index), _path_text(rest) or None))
        else:
            out.append(Rejection(violation.message, None, None, _path_text(path) or None))
    return out


def _identifiers(event: Mapping[str, Any]) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
        for i, value in enumerate(event.get(name) or []):
            found.append((f"{name}[{i}]", value))
    if "parentID" in event:
        found.append(("parentID", event["parentID"]))
    for name in ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"):
        for i, element in enumerate(event.get(name) or []):
            if isinstance(element, Mapping):
                found.append((f"{name}[{i}].epcClass", element.get("epcClass")))
    for name in ("readPoint", "bizLocation"):
        if isinstance(event.get(name), Mapping):
            found.append((f"{name}.id", event[name].get("id")))
    for name, key in (("sourceList", "source"), ("destinationList", "destination")):
        for i, element in enumerate(event.get(name) or []):
            if isinstance(element, Mapping):
                found.append((f"{name}[{i}].{key}", element.get(key)))
    for i, element in enumerate(event.get("sensorElementList") or []):
        metadata = element.get("sensorMetadata") if isinstance(element, Mapping) else None
        if isinstance(metadata, Mapping) and "deviceID" in metadata:
            found.append((f"sensorElementList[{i}].sensorMetadata.deviceID", metadata["deviceID"]))
    return found


def check_identifier(value: Any) -> str | None:
    """Why a GS1 identifier is invalid (bad EPC URI, wrong check digit), or None when it is fine or not GS1."""
    if not isinstance(value, str):
        return None
    canonical = gs1.canonical_id(value)
    if value.startswith("urn:epc:") and canonical is None:
        return f"{value!r} is not a valid EPC URI"
    if canonical is None:
        return None
    segments = canonical[len(gs1.CANONICAL_DOMAIN) :].split("/")
    key, number = segments[1], segments[2]
    if key in ("01", "8006"):
        gtin = number[:14]
        if not gs1.is_valid_gtin(gtin):
            return f"{value!r}: GTIN {gtin} has a wrong check digit (expected {gs1.check_digit(gtin[:-1])})"
    elif key in _FIXED_KEYS and gs1.check_digit(number[:-1]) != int(number[-1]):
        return f"{value!r}: {number} has a wrong check digit (expected {gs1.check_digit(number[:-1])})"
    if "/10/" in canonical:
        lot = canonical.rsplit("/10/", 1)[1].split("/")[0]
        try:
            gs1.check_lot(gs1.LotId.parse(canonical).lot)
        except gs1.GS1Error as exc:
            return f"{value!r}: {exc} ({lot})"
    return None


def _semantic_rejections(index: int, event: Mapping[str, Any]) -> list[Rejection]:
    ref = event.get("eventID") if isinstance(event.get("eventID"), str) else None
    out = []
    try:
        event_facts(event)
    except ValueError as exc:
        name, _, message = str(exc).partition(": ")
        out.append(Rejection(message or str(exc), index, ref, name))
    try:
        timestamps.check_offset(event.get("eventTimeZoneOffset"))  # type: ignore[arg-type]
    except timestamps.TimestampError as exc:
        out.append(Rejection(str(exc), index, ref, "eventTimeZoneOffset"))
    for path, value in _identifiers(event):
        problem = check_identifier(value)
        if problem:
            out.append(Rejection(problem, index, ref, path))
    for i, element in enumerate(event.get("sensorElementList") or []):
        if not isinstance(element, Mapping):
            continue
        for j, report in enumerate(element.get("sensorReport") or []):
            if not isinstance(report, Mapping):
                continue
            kind = report.get("type")
            if kind in ("Temperature", "gs1:Temperature", "https://gs1.org/voc/Temperature"):
                uom = report.get("uom")
                has_value = any(k in report for k in ("value", "minValue", "maxValue", "meanValue"))
                if has_value and uom not in TEMPERATURE_UNITS:
                    out.append(
                        Rejection(
                            f"a temperature needs a temperature unit ({', '.join(TEMPERATURE_UNITS)}), got {uom!r}",
                            index,
                            ref,
                            f"sensorElementList[{i}].sensorReport[{j}].uom",
                        )
                    )
    return out


def parse_json(raw: bytes | str) -> Any:
    """Decode JSON text within the platform's input limits, or raise DocumentRejected saying what is wrong."""
    try:
        return encoding.parse_json(raw)
    except ValueError as exc:
        message = str(exc)
        if message.startswith("invalid JSON: "):
            message = "not valid JSON: " + message.removeprefix("invalid JSON: ")
        raise DocumentRejected([Rejection(message)]) from None


def read_document(raw: bytes | str | Mapping[str, Any], source: str | None = None, limit: int = 20) -> Document:
    """Validate an EPCIS document (bytes, text or parsed) and return it ready to capture, or raise DocumentRejected."""
    try:
        document = parse_json(raw) if isinstance(raw, bytes | str) else raw
        return _read(document, source, limit)
    except DocumentRejected as exc:
        if exc.source is None and source is not None:
            raise DocumentRejected(exc.rejections, source) from None
        raise


def _event_list(document: Mapping[str, Any], kind: str) -> list[Any] | None:
    """The document's event list where its type keeps it, or None when that place holds no list."""
    node: Any = document
    for name in _EVENT_LISTS[kind]:
        node = node.get(name) if isinstance(node, Mapping) else None
    if not isinstance(node, list):
        return None
    events = document_events(document)  # how both forms are read is eventhash's, and the hash must agree
    if events != node:
        other = ".".join(_EVENT_LISTS["EPCISQueryDocument" if kind == "EPCISDocument" else "EPCISDocument"])
        raise DocumentRejected(
            [Rejection(f"an {kind} holds its events in {'.'.join(_EVENT_LISTS[kind])}, not {other}", field="type")]
        )
    return events


def _read(document: Any, source: str | None, limit: int) -> Document:
    if not isinstance(document, Mapping):
        raise DocumentRejected([Rejection(f"an EPCIS document is a JSON object, got {type(document).__name__}")])
    kind = document.get("type")
    if kind not in DOCUMENT_TYPES:
        raise DocumentRejected(
            [Rejection(f"type must be 'EPCISDocument' or 'EPCISQueryDocument', got {kind!r}", field="type")]
        )
    where = ".".join(_EVENT_LISTS[kind])
    events = _event_list(document, kind)
    if events is None:
        raise DocumentRejected([Rejection(f"an {kind} holds its events in {where}: it has none", field=where)])
    if not events:
        raise DocumentRejected([Rejection(f"{where} is empty", field=where)])
    if len(events) > MAX_EVENTS:
        raise DocumentRejected([Rejection(f"at most {MAX_EVENTS} events per document, got {len(events)}", field=where)])
    rejections = _schema_rejections(document, events)
    if rejections:
        raise DocumentRejected(rejections[:limit])
    prefixes = context_prefixes(document.get("@context"))
    ignore = ignored_fields(document)
    ids: list[str] = []
    hashed: list[bool] = []
    seen: dict[str, int] = {}
    reports = 0
    for index, event in enumerate(events):
        rejections.extend(_semantic_rejections(index, event))
        given = event.get("eventID")
        event_id = given.strip() if isinstance(given, str) and given.strip() else event_hash_id(event, prefixes, ignore)
        if event_id in seen:
            rejections.append(
                Rejection(f"eventID repeats event {seen[event_id]}", index, event_id, "eventID"),
            )
        seen[event_id] = index
        ids.append(event_id)
        hashed.append(not (isinstance(given, str) and given.strip()))
        for element in event.get("sensorElementList") or []:
            reports += len(element.get("sensorReport") or []) if isinstance(element, Mapping) else 0
        if len(rejections) >= limit:
            break
    if rejections:
        raise DocumentRejected(rejections[:limit])
    header = document.get("epcisHeader")
    master = header.get("epcisMasterData") if isinstance(header, Mapping) else None
    return Document(
        events=tuple(events),
        context=document.get("@context"),
        prefixes=prefixes,
        master_data=master if isinstance(master, Mapping) else None,
        event_ids=tuple(ids),
        hashed=tuple(hashed),
        sensor_reports=reports,
        source=source,
        ignore=ignore,
    )
