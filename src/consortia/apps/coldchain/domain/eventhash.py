"""The EPCIS event hash ID of GS1 CBV 2.0: a name for an event computed from the event itself.

EPCIS does not require an ``eventID``, yet a ledger must file each event under a unique, stable key, and two
parties holding the same event in different syntaxes (XML, JSON-LD with fields in another order, URNs instead of
Digital Links) must arrive at the same name. CBV 2.0 (section 8.9) therefore defines a canonical *pre-hash
string* and names the event ``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920 "named information").

This module computes exactly what GS1's reference generator (``RalphTro/epcis-event-hash-generator``) computes;
its published test files are reproduced in ``tests/coldchain/vectors/epcis-event-hash-generator``. The event is
first read as a tree of *elements* (:class:`Element`: a name, a text, child elements) the way the XML binding
would spell it: a JSON list ``"epcList": [a, b]`` becomes an ``epcList`` element with one ``epc`` child per
entry, ``quantityList`` entries become ``quantityElement``, ``childEPCs`` entries ``epc``, and a prefixed key
``example:myField`` becomes ``{https://ns.example.com/epcis/}myField`` (Clark notation, the namespace taken from
the document's ``@context``). Then the pre-hash string is built in two passes:

1. ``eventType=<type>``, then the standard fields in the *canonical property order* (:data:`PROPERTY_ORDER`),
   each as ``name=value``. A structured field contributes its name followed by its children in their own order
   (``readPoint`` then ``id=…``), then its user extensions (children in a namespace), sorted. Wherever a name
   repeats (``epc`` in an ``epcList``), the strings of the repeats are sorted (by code point), so the order of
   a JSON array does not matter. Every element this pass writes is *consumed*.
2. Everything not consumed — the event's user extensions, ``bizTransactionList``, ``sourceList`` and
   ``destinationList`` (the reference never matches them in the ordered pass), fields the standard does not
   know, and the unknown remains of structured fields — follows as ``name=value`` strings with their children,
   all sorted. ``recordTime``, ``eventID``, ``errorDeclaration`` and
   the event's ``type`` are left out (the first two are assigned by whoever stores the event; an event later
   declared in error keeps its ID), and so are comments (``rdfs:comment``) and the fields a document lists under
   ``<prefix>:ignoreFields`` (fields a repository adds, such as its own copy of the hash; see
   :func:`ignored_fields`, and pass them as ``ignore`` when hashing one event of such a document).

Values are normalised: timestamps to UTC with milliseconds (``2020-03-04T10:00:30.000Z``), numbers without
leading/trailing zeros (``26.0`` → ``26``), CBV bare words and URNs to web URIs (``shipping`` →
``https://ref.gs1.org/cbv/BizStep-shipping``), every EPC URN or Digital Link to its canonical Digital Link
(``urn:epc:id:sgln:4012345.00005.0`` → ``https://id.gs1.org/414/4012345000054``, see :mod:`gs1`).

The strings are concatenated without separators and hashed with SHA-256.

Where the reference's behaviour makes the hash depend on how an event is written rather than on the event, and
no published answer depends on it, we deliberately differ (each place says so in a comment):

- bare words: the reference guesses them document-wide (any value equal to the last word of a CBV URI found
  anywhere in the document, even in a user extension or another event, is replaced by that URI), so an event's
  hash could depend on its neighbours; we expand bare words in the CBV fields only;
- ``cbv:``/``gs1:`` compact values are expanded even when the document does not redeclare the prefixes (the
  standard EPCIS context declares them); the reference leaves them as written unless redeclared;
- a business transaction, source or destination hashes type first whatever the JSON key order (the reference
  follows the key order); JSON ``null`` is left out (the reference hashes Python's ``None``);
- a timestamp rounding into the next second, or a number too large for a float, is hashed (the reference fails
  on the event); ``<prefix>:ignoreFields`` is honoured under any prefix, for extension fields only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from consortia.apps.coldchain.domain import gs1, vocab

HASH_PREFIX = "ni:///sha-256;"
HASH_SUFFIX = "?ver=CBV2.0"


@dataclass(frozen=True)
class Element:
    """One element of an event as the hash algorithm reads it: a name, its text and its child elements."""

    name: str
    text: str = ""
    children: tuple[Element, ...] = ()


@dataclass(frozen=True)
class Pair:
    """One entry of ``bizTransactionList``, ``sourceList`` or ``destinationList``: its type, then its value."""

    children: tuple[Element, ...]


Node = Element | Pair

Order = tuple[tuple[str, "Order | None"], ...]
"""A canonical property order: (element name, order of its children or None for a plain value)."""

_QUANTITY: Order = (("quantityElement", (("epcClass", None), ("quantity", None), ("uom", None))),)
_EPCS: Order = (("epc", None),)
_SENSOR_METADATA: Order = tuple(
    (name, None)
    for name in (
        "time",
        "startTime",
        "endTime",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "bizRules",
    )
)
_SENSOR_REPORT: Order = tuple(
    (name, None)
    for name in (
        "type",
        "exception",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "time",
        "microorganism",
        "chemicalSubstance",
        "value",
        "component",
        "stringValue",
        "booleanValue",
        "hexBinaryValue",
        "uriValue",
        "minValue",
        "maxValue",
        "meanValue",
        "sDev",
        "percRank",
        "percValue",
        "uom",
        "coordinateReferenceSystem",
    )
)

PROPERTY_ORDER: Order = (
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    # The reference places certificationInfo here, right after the time zone, and hashes it (CBV 2.0 as
    # published lists it nowhere); we follow the reference, whose answers partners compare against.
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", _EPCS),
    ("inputEPCList", _EPCS),
    ("childEPCs", _EPCS),
    ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY),
    ("inputQuantityList", _QUANTITY),
    ("outputEPCList", _EPCS),
    ("outputQuantityList", _QUANTITY),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", (("id", None),)),
    ("bizLocation", (("id", None),)),
    # bizTransactionList, sourceList and destinationList come next in CBV 2.0, but the reference never matches
    # them here: they land in the sorted remainder (pass 2), so "destinationList" precedes "sourceList". We
    # follow the reference (its answers in ReferenceEventHashAlgorithm3 and epcisDocWithVariousEventTypes).
    (
        "sensorElementList",
        (("sensorElement", (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT))),),
    ),
)
"""The canonical property order of CBV 2.0 section 8.9 as GS1's reference generator applies it."""

EXCLUDED = frozenset({"type", "eventID", "recordTime", "errorDeclaration", "@context"})
"""Top-level fields that never enter the pre-hash string."""

_COMMENTS = frozenset({"comment", "rdfs:comment", "{http://www.w3.org/2000/01/rdf-schema#}comment"})
_PAIR_LISTS = {
    "bizTransactionList": ("bizTransaction", "bizTransactionType"),
    "sourceList": ("source", "sourceDestType"),
    "destinationList": ("destination", "sourceDestType"),
}
# Children of a "...List" element are named by dropping "List"; a few then take their XML name.
_LIST_CHILD = {"inputEPC": "epc", "outputEPC": "epc", "quantity": "quantityElement"}
_LIST_CHILD.update(dict.fromkeys(("childQuantity", "inputQuantity", "outputQuantity"), "quantityElement"))
# CBV fields whose bare words ("shipping") stand for web vocabulary URIs: (parent element, name) -> vocab field.
_VOCABULARY = {
    ("", "bizStep"): "bizStep",
    ("", "disposition"): "disposition",
    ("persistentDisposition", "set"): "disposition",
    ("persistentDisposition", "unset"): "disposition",
    ("sensorReport", "type"): "sensorType",
    ("sensorReport", "exception"): "sensorException",
    ("sensorReport", "component"): "component",
}

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


# -- values --------------------------------------------------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)$"
)


def canonical_time(text: str) -> str:
    """A timestamp in UTC with exactly three fraction digits and ``Z``; text that is not one is returned as is.

    Like the reference, the fraction is cut to microseconds and then rounded to milliseconds half to even
    (``.1415`` → ``.142``, ``.1425`` → ``.142``). Where the rounding reaches the next second the reference fails
    on the event; we carry into the next second instead.
    """
    match = _TIMESTAMP.match(text.strip())
    if match is None:
        return text
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC)
    except ValueError:
        return text
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        moment -= (-1 if offset[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes)
    moment += timedelta(milliseconds=round(micros, -3) // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _canonical_number(text: str) -> str:
    """Numbers without leading/trailing zeros or sign, as Python's float() reads them; other text unchanged."""
    try:
        number = float(text)
        if number == int(number):
            return str(int(number))
        return str(number)
    except (ValueError, OverflowError):  # not a number, nan, or infinity (where the reference fails on the event)
        return text


def _canonical_text(text: str) -> str:
    """The reference's value normalisation: CBV 1.x URNs to web URIs, then numbers, then GS1 keys."""
    text = _canonical_number(vocab.upgrade_urns(text))
    return gs1.canonical_id(text) or text


def _scalar_text(value: Any) -> str:
    # The reference reads JSON scalars with Python's str(): true is "True", 26.0 is "26.0" (then "26").
    return str(value)


def canonical_value(value: Any, kind: str = "value") -> str:
    """The normalised text of a value: ``kind`` is "time", a CBV field ("bizStep", "sensorType", …) or "value"."""
    text = _scalar_text(value).strip()
    if kind == "time":
        return canonical_time(text)
    if kind not in ("value", "id"):
        text = vocab.expand(kind, text)
    return _canonical_text(text)


# -- reading an event into elements ---------------------------------------------------------------------------------


def _clark(key: str, prefixes: Mapping[str, str]) -> str:
    prefix, sep, local = key.partition(":")
    if sep and prefix in prefixes and not local.startswith("//"):
        return "{" + prefixes[prefix] + "}" + local
    return key


def _expand_value(text: str, prefixes: Mapping[str, str]) -> str:
    """A compact IRI value (``example:abc``) written out with its namespace, as the reference does."""
    prefix, sep, local = text.partition(":")
    if sep and prefix in prefixes and not local.startswith("//"):
        return prefixes[prefix] + local
    return text


@dataclass(frozen=True)
class _Reader:
    """Reads JSON-LD values into elements, resolving prefixes against one document's context."""

    prefixes: Mapping[str, str]

    def element(self, name: str, value: Any, parent: str) -> Element:
        if isinstance(value, Mapping):
            text = _scalar_text(value["#text"]) if "#text" in value else ""
            children = tuple(c for key, item in value.items() for c in self.members(key, item, name))
            return Element(name, text, children)
        if isinstance(value, list):
            # A list inside a list: the reference writes its entries as nameless children ("name=a=b", sorted).
            return Element(name, "", tuple(self.element("", item, name) for item in value if item is not None))
        text = _expand_value(_scalar_text(value), self.prefixes)
        vocabulary = _VOCABULARY.get((parent, name))
        if vocabulary:
            text = vocab.expand(vocabulary, text.strip())
        return Element(name, text)

    def pair(self, value: Any, list_name: str) -> Pair:
        value_name, type_vocabulary = _PAIR_LISTS[list_name]
        children = []
        if isinstance(value, Mapping):
            # Only the type and the value take part; CBV allows nothing else in these entries.
            if value.get("type") is not None:
                kind = vocab.expand(type_vocabulary, _expand_value(_scalar_text(value["type"]), self.prefixes))
                children.append(Element("type", kind))
            if value.get(value_name) is not None:
                children.append(self.element(value_name, value[value_name], list_name))
        return Pair(tuple(children))

    def members(self, key: str, value: Any, parent: str) -> list[Node]:
        """The elements one JSON member becomes (none, one, or one per list entry)."""
        if key in _COMMENTS or key.startswith("@") or key == "#text" or value is None:
            return []
        name = _clark(key, self.prefixes)
        if name in _COMMENTS:
            return []
        # JSON null has no XML spelling; the reference would hash Python's "None", we leave it out.
        items = [item for item in value if item is not None] if isinstance(value, list) else [value]
        if parent == "" and name in _PAIR_LISTS:
            pairs = tuple(self.pair(item, name) for item in items)
            return [Element(name, "", pairs)] if pairs else []
        if name.endswith("List") or name == "childEPCs":
            child = "epc" if name == "childEPCs" else name[:-4]
            children = []
            for item in items:
                element = self.element(child, item, name)
                if element.children:  # a "quantity" with children is a quantityElement; a bare quantity stays
                    element = Element(_LIST_CHILD.get(child, child), element.text, element.children)
                elif child in ("inputEPC", "outputEPC"):
                    element = Element("epc", element.text)
                children.append(element)
            return [Element(name, "", tuple(children))] if children else []
        return [self.element(name, item, parent) for item in items]


# -- the two passes ---------------------------------------------------------------------------------------------------


def _is_extension(name: str) -> bool:
    # The reference recognises nested user extensions by a namespace ending in "/" ({https://ns.example.com/x/}a).
    return "{" in name and "/}" in name


def _ordered(children: tuple[Node, ...], order: Order) -> tuple[str, tuple[Node, ...]]:
    """Pass 1 over one element's children: the pre-hash text of those in ``order``, and the unconsumed rest."""
    remaining = [c for c in children if isinstance(c, Element)]
    extensions: list[Node] = []
    # The reference gathers nested extensions only when an element has several children, and never at the top
    # (which it recognises by a child whose name contains "eventTime" or "action").
    top = any("eventTime" in c.name or "action" in c.name for c in remaining)
    if len(remaining) > 1 and not top:
        extensions = [c for c in remaining if _is_extension(c.name)]
        remaining = [c for c in remaining if not _is_extension(c.name)]
    text = ""
    for name, child_order in order:
        strings = []
        kept: list[Element] = []
        for child in remaining:
            if child.name != name:
                kept.append(child)
                continue
            string, rest = _consume(child, child_order)
            if string:
                strings.append(string)
            if rest is not None:
                kept.append(rest)
        remaining = kept
        text += "".join(sorted(strings))
    if extensions:
        text += _remainder(extensions)
    return text, tuple(remaining)


def _consume(element: Element, order: Order | None) -> tuple[str, Element | None]:
    """The pre-hash string of one element in pass 1, and what of it is left for pass 2 (None if nothing)."""
    inner, rest = _ordered(element.children, order) if order else ("", element.children)
    value = element.text.strip()
    if value:
        is_time = "time" in element.name.lower() and "offset" not in element.name.lower()
        value = "=" + (canonical_time(value) if is_time else _canonical_text(value))
    string = element.name + value + inner if value or inner else ""
    return string, (Element(element.name, element.text, rest) if rest else None)


def _remainder(nodes: Iterable[Node]) -> str:
    """Pass 2: elements in no order, each as ``name=value`` followed by its children, sorted."""
    nodes = list(nodes)
    strings = []
    for node in nodes:
        if isinstance(node, Pair):
            strings.append(_remainder(node.children))
            continue
        value = node.text.strip()
        strings.append(node.name + ("=" + _canonical_text(value) if value else "") + _remainder(node.children))
    # Type first, then the value: the reference never sorts the two halves of a bizTransaction/source/destination.
    if len(nodes) > 1 and not any(isinstance(n, Element) and n.name in _PAIR_VALUES for n in nodes):
        strings.sort()
    return "".join(strings)


_PAIR_VALUES = frozenset(value for value, _ in _PAIR_LISTS.values())


def event_elements(
    event: Mapping[str, Any], prefixes: Mapping[str, str] | None = None, ignore: Collection[str] = ()
) -> tuple[Element, ...]:
    """The top-level elements of a JSON-LD event as the hash algorithm reads them (ignored fields left out)."""
    prefixes = dict(prefixes or STANDARD_PREFIXES)
    if isinstance(event.get("@context"), list | dict):
        prefixes.update(context_prefixes(event["@context"]))
    reader = _Reader(prefixes)
    skipped = {_clark(name, prefixes) for name in ignore}
    return tuple(
        node
        for key, value in event.items()
        if _clark(key, prefixes) not in skipped
        for node in reader.members(key, value, "")
        if isinstance(node, Element)
    )


def prehash(event: Mapping[str, Any], prefixes: Mapping[str, str] | None = None, ignore: Collection[str] = ()) -> str:
    """The CBV 2.0 pre-hash string of an event (a JSON-LD event object); ``ignore`` names fields to leave out."""
    ordered, rest = _ordered(event_elements(event, prefixes, ignore), PROPERTY_ORDER)
    remainder = _remainder(n for n in rest if isinstance(n, Pair) or n.name not in EXCLUDED)
    return f"eventType={event.get('type', '')}" + ordered + remainder


def hash_id(prehash_string: str) -> str:
    """The event hash ID of a pre-hash string: ``ni:///sha-256;<hex>?ver=CBV2.0``."""
    return f"{HASH_PREFIX}{hashlib.sha256(prehash_string.encode('utf-8')).hexdigest()}{HASH_SUFFIX}"


def event_hash_id(
    event: Mapping[str, Any], prefixes: Mapping[str, str] | None = None, ignore: Collection[str] = ()
) -> str:
    """The CBV 2.0 event hash ID: ``ni:///sha-256;<hex>?ver=CBV2.0``."""
    return hash_id(prehash(event, prefixes, ignore))


# -- documents ---------------------------------------------------------------------------------------------------------


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


def ignored_fields(document: Mapping[str, Any]) -> frozenset[str]:
    """Event fields a document asks hashers to leave out: its ``<prefix>:ignoreFields`` list.

    A repository that adds its own fields to events it serves (a copy of the hash, a capture ID) lists them
    there, on the document or, in a query document, on ``queryResults``, so the hash stays that of the captured
    event. The reference honours only one example namespace (``https://repository-x.example.com/``); we honour
    the list under any prefix, but only for extension fields (``prefix:name``), never standard ones.
    """
    holders: list[Mapping[str, Any]] = [document]
    body = document.get("epcisBody")
    if isinstance(body, Mapping) and isinstance(body.get("queryResults"), Mapping):
        holders = [body["queryResults"]]
    fields: set[str] = set()
    for holder in holders:
        for key, value in holder.items():
            if key.partition(":")[2] == "ignoreFields" and isinstance(value, list):
                fields.update(v for v in value if isinstance(v, str) and ":" in v)
    return frozenset(fields)


def document_prehashes(document: Mapping[str, Any]) -> list[str]:
    """The pre-hash string of every event of an EPCIS document, in document order."""
    prefixes = context_prefixes(document.get("@context"))
    ignore = ignored_fields(document)
    return [prehash(event, prefixes, ignore) for event in document_events(document)]


def document_hash_ids(document: Mapping[str, Any]) -> list[str]:
    """The event hash ID of every event of an EPCIS document, in document order."""
    return [hash_id(text) for text in document_prehashes(document)]
