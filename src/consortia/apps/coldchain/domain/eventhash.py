"""The EPCIS event hash ID of GS1 CBV 2.0: a name for an event computed from the event itself.

EPCIS does not require an ``eventID``, yet a ledger must file each event under a unique, stable key, and two
parties holding the same event in different syntaxes (XML, JSON-LD with fields in another order, URNs instead of
Digital Links) must arrive at the same name. CBV 2.0 (section 8.9) therefore defines a canonical *pre-hash
string* and names the event ``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920 "named information").

The pre-hash string is built like this:

1. ``eventType=<type>``, then the standard fields in the *canonical property order* below, each as
   ``name=value``; structured fields contribute their name followed by their children (``readPoint`` then
   ``id=…``); a list contributes its name followed by one child per element (``epcList`` then ``epc=…`` for
   each), and wherever a field repeats, the child strings are sorted (case-sensitive, by code point) so that the
   order of a JSON array does not matter.
2. ``recordTime``, ``eventID``, ``errorDeclaration`` and ``certificationInfo`` are left out: the first two are
   assigned by whoever stores the event, and an event declared in error later must keep its ID.
3. Values are normalised: timestamps to UTC with milliseconds (``2020-03-04T10:00:30.000Z``), numbers without
   leading/trailing zeros (``26.0`` → ``26``), CBV bare words and URNs to web URIs
   (``shipping`` → ``https://ref.gs1.org/cbv/BizStep-shipping``), every EPC URN or Digital Link to its canonical
   Digital Link (``urn:epc:id:sgln:4012345.00005.0`` → ``https://id.gs1.org/414/4012345000054``).
4. User extensions follow, named in Clark notation ``{namespace}localName`` (the JSON-LD prefix is resolved
   through the document's ``@context``), nested and repeated ones treated like standard fields, all sorted.

The strings are concatenated without separators and hashed with SHA-256. The reference vectors in
``shared/testvectors/epcis2-eventhash`` (``*.prehashes``) show the exact strings.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from consortia.apps.coldchain.domain import gs1, timestamps, vocab

HASH_PREFIX = "ni:///sha-256;"
HASH_SUFFIX = "?ver=CBV2.0"

Order = tuple[tuple[str, Any], ...]
"""A canonical order: (field name, order of its children or a value kind)."""

_QUANTITY: Order = (("epcClass", "id"), ("quantity", "value"), ("uom", "value"))
_SENSOR_METADATA: Order = (
    ("time", "time"),
    ("startTime", "time"),
    ("endTime", "time"),
    ("deviceID", "id"),
    ("deviceMetadata", "id"),
    ("rawData", "id"),
    ("dataProcessingMethod", "id"),
    ("bizRules", "id"),
)
_SENSOR_REPORT: Order = (
    ("type", "sensorType"),
    ("exception", "sensorException"),
    ("deviceID", "id"),
    ("deviceMetadata", "id"),
    ("rawData", "id"),
    ("dataProcessingMethod", "id"),
    ("time", "time"),
    ("microorganism", "id"),
    ("chemicalSubstance", "id"),
    ("value", "value"),
    ("component", "component"),
    ("stringValue", "value"),
    ("booleanValue", "value"),
    ("hexBinaryValue", "value"),
    ("uriValue", "id"),
    ("minValue", "value"),
    ("maxValue", "value"),
    ("meanValue", "value"),
    ("sDev", "value"),
    ("percRank", "value"),
    ("percValue", "value"),
    ("uom", "value"),
    ("coordinateReferenceSystem", "id"),
)

# (JSON field, XML child name of each element or None for a single value, order of an element or value kind)
_EVENT_ORDER: tuple[tuple[str, str | None, Any], ...] = (
    ("eventTime", None, "time"),
    ("eventTimeZoneOffset", None, "value"),
    ("epcList", "epc", "id"),
    ("parentID", None, "id"),
    ("inputEPCList", "epc", "id"),
    ("childEPCs", "epc", "id"),
    ("quantityList", "quantityElement", _QUANTITY),
    ("childQuantityList", "quantityElement", _QUANTITY),
    ("inputQuantityList", "quantityElement", _QUANTITY),
    ("outputEPCList", "epc", "id"),
    ("outputQuantityList", "quantityElement", _QUANTITY),
    ("action", None, "value"),
    ("transformationID", None, "id"),
    ("bizStep", None, "bizStep"),
    ("disposition", None, "disposition"),
    ("persistentDisposition", None, (("set", "disposition"), ("unset", "disposition"))),
    ("readPoint", None, (("id", "id"),)),
    ("bizLocation", None, (("id", "id"),)),
    ("bizTransactionList", "", (("type", "bizTransactionType"), ("bizTransaction", "id"))),
    ("sourceList", "", (("type", "sourceDestType"), ("source", "id"))),
    ("destinationList", "", (("type", "sourceDestType"), ("destination", "id"))),
    (
        "sensorElementList",
        "sensorElement",
        (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT)),
    ),
)
EXCLUDED = frozenset({"type", "eventID", "recordTime", "errorDeclaration", "certificationInfo", "@context"})
_STANDARD = frozenset(name for name, _, _ in _EVENT_ORDER) | EXCLUDED

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

# Prefixes every EPCIS 2.0 document may use without declaring them (the standard context), in Clark notation.
# cbvmda is an XML namespace (no trailing colon) so that XML and JSON-LD spell user master data alike.
STANDARD_PREFIXES = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda",
    "gs1": "https://gs1.org/voc/",
}


def context_prefixes(context: Any) -> dict[str, str]:
    """The namespace prefixes a document's ``@context`` declares (string entries are remote contexts)."""
    prefixes = dict(STANDARD_PREFIXES)
    entries = context if isinstance(context, list) else [context]
    for entry in entries:
        if isinstance(entry, Mapping):
            for key, value in entry.items():
                if isinstance(value, str) and not key.startswith("@"):
                    prefixes[key] = value
    return prefixes


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def canonical_value(value: Any, kind: str = "value") -> str:
    """The normalised text of a value of the given kind (time, id, CBV field name, or plain value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if not isinstance(value, str):
        return str(value)
    text = value.strip()
    if kind == "time":
        return timestamps.normalise(text)
    if kind in ("bizStep", "disposition", "bizTransactionType", "sourceDestType", "sensorType", "sensorException"):
        return gs1.normalise_id(vocab.expand(kind, text))
    if kind == "component":
        return vocab.expand(kind, text)
    text = vocab.upgrade_urns(text)
    if _NUMBER.match(text):
        try:
            return _number(float(text))
        except (ValueError, OverflowError):
            return text
    return gs1.normalise_id(text)


def _clark(key: str, prefixes: Mapping[str, str]) -> str:
    prefix, sep, local = key.partition(":")
    if sep and prefix in prefixes and not local.startswith("//"):
        return "{" + prefixes[prefix] + "}" + local
    return key


def _generic(name: str, value: Any, prefixes: Mapping[str, str]) -> list[str]:
    """Pre-hash strings of an unordered (extension) field; a list yields one string per element."""
    if isinstance(value, list):
        return [s for item in value for s in _generic(name, item, prefixes)]
    if isinstance(value, Mapping):
        children = sorted(s for key, child in value.items() for s in _generic(_clark(key, prefixes), child, prefixes))
        return [name + "".join(children)] if children else []
    if value is None:
        return []
    text = canonical_value(value)
    return [f"{name}={text}"] if text else [name]


def _ordered(value: Mapping[str, Any], order: Order, prefixes: Mapping[str, str]) -> str:
    """Children of a structured value: ordered fields first, then its extensions, sorted."""
    out = []
    known = set()
    for name, kind in order:
        known.add(name)
        if name not in value:
            continue
        items = value[name] if isinstance(value[name], list) else [value[name]]
        strings = []
        for item in items:
            if isinstance(kind, tuple):
                if isinstance(item, Mapping):
                    inner = _ordered(item, kind, prefixes)
                    if inner:
                        strings.append(name + inner)
            elif item is not None:
                text = canonical_value(item, kind)
                if text:
                    strings.append(f"{name}={text}")
        out.extend(sorted(strings))
    extras = sorted(
        s for key, child in value.items() if key not in known for s in _generic(_clark(key, prefixes), child, prefixes)
    )
    return "".join(out) + "".join(extras)


def prehash(event: Mapping[str, Any], prefixes: Mapping[str, str] | None = None) -> str:
    """The CBV 2.0 pre-hash string of an event (a JSON-LD event object)."""
    prefixes = dict(prefixes or STANDARD_PREFIXES)
    if isinstance(event.get("@context"), list | dict):
        prefixes.update(context_prefixes(event["@context"]))
    parts = [f"eventType={event.get('type', '')}"]
    for field, child, kind in _EVENT_ORDER:
        if field not in event or event[field] is None:
            continue
        value = event[field]
        if child is None:
            if isinstance(kind, tuple):
                if isinstance(value, Mapping):
                    inner = _ordered(value, kind, prefixes)
                    if inner:
                        parts.append(field + inner)
            else:
                text = canonical_value(value, kind)
                if text:
                    parts.append(f"{field}={text}")
            continue
        items = value if isinstance(value, list) else [value]
        strings = []
        for item in items:
            if isinstance(kind, tuple):
                if isinstance(item, Mapping):
                    inner = _ordered(item, kind, prefixes)
                    if inner:
                        strings.append(child + inner)
            elif item is not None:
                text = canonical_value(item, kind)
                if text:
                    strings.append(f"{child}={text}")
        if strings:
            parts.append(field + "".join(sorted(strings)))
    extensions = sorted(
        s
        for key, value in event.items()
        if key not in _STANDARD
        for s in _generic(_clark(key, prefixes), value, prefixes)
    )
    return "".join(parts) + "".join(extensions)


def event_hash_id(event: Mapping[str, Any], prefixes: Mapping[str, str] | None = None) -> str:
    """The CBV 2.0 event hash ID: ``ni:///sha-256;<hex>?ver=CBV2.0``."""
    digest = hashlib.sha256(prehash(event, prefixes).encode("utf-8")).hexdigest()
    return f"{HASH_PREFIX}{digest}{HASH_SUFFIX}"


def document_events(document: Mapping[str, Any]) -> list[Any]:
    """The events of an ``EPCISDocument`` or an ``EPCISQueryDocument``, in document order (raw, unchecked).

    A capture document holds them under ``epcisBody.eventList`` (or one under ``epcisBody.event``); a query
    document, the answer to a query, under ``epcisBody.queryResults.resultsBody.eventList``.
    """
    body = document.get("epcisBody")
    if not isinstance(body, Mapping):
        return []
    results = body.get("queryResults")
    if document.get("type") == "EPCISQueryDocument" or isinstance(results, Mapping):
        results_body = results.get("resultsBody") if isinstance(results, Mapping) else None
        events = results_body.get("eventList") if isinstance(results_body, Mapping) else None
    else:
        events = body.get("eventList")
        if events is None and isinstance(body.get("event"), Mapping):
            events = [body["event"]]
    return list(events) if isinstance(events, list) else []


def document_hash_ids(document: Mapping[str, Any]) -> list[str]:
    """The event hash ID of every event of an EPCIS document, in document order."""
    prefixes = context_prefixes(document.get("@context"))
    return [event_hash_id(event, prefixes) for event in document_events(document)]
