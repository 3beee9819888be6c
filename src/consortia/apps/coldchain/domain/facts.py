"""What an EPCIS event says about the supply chain, extracted once so that the ledger can index it.

An EPCIS event answers *what* (objects: serialised items, lots, containers, devices), *when* (event time and
offset), *where* (read point, business location), *why* (business step, disposition) and *how* (sensor data).
The same "what" hides in many fields — ``epcList``, ``parentID``, ``childEPCs``, ``inputEPCList``, the
quantity lists' ``epcClass`` — in EPC URN or Digital Link spelling. :func:`event_facts` reads an event once and
returns those answers in canonical form (Digital Links, CBV bare words, UTC milliseconds), grouped by the role
the object plays, which is what the contract's indexes, EPCIS queries and trace need.

A *lot* is any class-level identifier with a lot number (``urn:epc:class:lgtin:…`` or ``…/01/<gtin>/10/<lot>``);
a *container* is any instance-level identifier (SSCC pallets, GRAI totes, …); a *device* is a sensor's
``deviceID`` or, in an AssociationEvent, a child that is an individual asset (GIAI).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consortia.apps.coldchain.domain import gs1, timestamps, vocab

EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")

NS = "https://consortia.example/ns/coldchain/"
"""Namespace of this application's EPCIS user extensions (prefix ``cc`` in the documents it writes)."""
PREFIX = "cc"
CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {PREFIX: NS}]
"""The JSON-LD context of the documents the application writes (EPCIS 2.0 and its own namespace)."""
MDA = "urn:epcglobal:cbv:mda#"
"""The CBV master-data attribute namespace."""
DEVICE_PREFIX = "8809012"
"""GS1 company prefix under which the logistics operator numbers its loggers (GIAI)."""


@dataclass(frozen=True)
class Quantity:
    """A quantity of a lot (or other class) in an event."""

    lot: str
    quantity: float | None
    uom: str | None


@dataclass(frozen=True)
class EventFacts:
    """The canonical who/what/when/where/why of one event."""

    event_type: str
    time_ms: int
    offset: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    persistent_set: tuple[str, ...]
    read_point: str | None
    biz_location: str | None
    epcs: tuple[str, ...]
    parent: str | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    classes: tuple[str, ...]
    input_classes: tuple[str, ...]
    output_classes: tuple[str, ...]
    devices: tuple[str, ...]
    transformation_id: str | None
    quantities: tuple[Quantity, ...]
    sources: tuple[tuple[str, str], ...]
    destinations: tuple[tuple[str, str], ...]

    @property
    def all_ids(self) -> tuple[str, ...]:
        """Every object the event names, once."""
        parent = (self.parent,) if self.parent else ()
        every = (*self.epcs, *parent, *self.inputs, *self.outputs, *self.classes)
        return tuple(dict.fromkeys((*every, *self.input_classes, *self.output_classes)))

    @property
    def lots(self) -> tuple[str, ...]:
        """Keys (``<gtin>/<lot>``) of every lot the event names."""
        return lot_keys(self.all_ids)

    @property
    def input_lots(self) -> tuple[str, ...]:
        """Lots consumed by a transformation."""
        return lot_keys((*self.inputs, *self.input_classes))

    @property
    def output_lots(self) -> tuple[str, ...]:
        """Lots produced by a transformation."""
        return lot_keys((*self.outputs, *self.output_classes))

    @property
    def containers(self) -> tuple[str, ...]:
        """Instance-level objects that are not lots or devices (pallets, totes, trucks)."""
        parent = (self.parent,) if self.parent else ()
        candidates = (*parent, *self.epcs)
        return tuple(i for i in dict.fromkeys(candidates) if "/10/" not in i and i not in self.devices)


def _ids(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    return [gs1.normalise_id(v.strip()) for v in values if isinstance(v, str) and v.strip()]


def _classes(values: Any) -> tuple[list[str], list[Quantity]]:
    ids, quantities = [], []
    if not isinstance(values, list):
        return ids, quantities
    for element in values:
        if not isinstance(element, Mapping) or not isinstance(element.get("epcClass"), str):
            continue
        canonical = gs1.normalise_id(element["epcClass"].strip())
        ids.append(canonical)
        lot = gs1.LotId.from_id(canonical)
        if lot is not None:
            quantity = element.get("quantity")
            number = float(quantity) if isinstance(quantity, int | float) and not isinstance(quantity, bool) else None
            uom = element.get("uom") if isinstance(element.get("uom"), str) else None
            quantities.append(Quantity(lot.key, number, uom))
    return ids, quantities


def lot_keys(ids: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The lot keys among canonical identifiers, once each, in order."""
    keys = []
    for value in ids:
        lot = gs1.LotId.from_id(value)
        if lot is not None:
            keys.append(lot.key)
    return tuple(dict.fromkeys(keys))


def _location(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return gs1.normalise_id(value["id"].strip())
    return None


def _party_list(values: Any, field: str) -> tuple[tuple[str, str], ...]:
    out = []
    if isinstance(values, list):
        for element in values:
            if isinstance(element, Mapping) and isinstance(element.get(field), str):
                kind = element.get("type") if isinstance(element.get("type"), str) else ""
                out.append((vocab.short("sourceDestType", kind) or "", gs1.normalise_id(element[field])))
    return tuple(out)


def _devices(event: Mapping[str, Any], event_type: str, children: list[str]) -> list[str]:
    devices = []
    for element in event.get("sensorElementList") or []:
        if isinstance(element, Mapping):
            metadata = element.get("sensorMetadata")
            if isinstance(metadata, Mapping) and isinstance(metadata.get("deviceID"), str):
                devices.append(gs1.normalise_id(metadata["deviceID"]))
    if event_type == "AssociationEvent":
        devices.extend(c for c in children if "/8004/" in c)
    return list(dict.fromkeys(devices))


def event_facts(event: Mapping[str, Any]) -> EventFacts:
    """Extract the canonical facts of an event (raises ValueError naming the field when one is unusable)."""
    event_type = event.get("type")
    if event_type not in EVENT_TYPES:
        raise ValueError(f"type: {event_type!r} is not one of {', '.join(EVENT_TYPES)}")
    try:
        time_ms = timestamps.to_ms(event.get("eventTime"))  # type: ignore[arg-type]
    except timestamps.TimestampError as exc:
        raise ValueError(f"eventTime: {exc}") from None
    offset = event.get("eventTimeZoneOffset")
    if not isinstance(offset, str):
        raise ValueError("eventTimeZoneOffset: required, e.g. +09:00")
    epcs = _ids(event.get("epcList")) + _ids(event.get("childEPCs"))
    classes, quantities = _classes(event.get("quantityList"))
    child_classes, child_quantities = _classes(event.get("childQuantityList"))
    input_classes, input_quantities = _classes(event.get("inputQuantityList"))
    output_classes, output_quantities = _classes(event.get("outputQuantityList"))
    parent = event.get("parentID")
    persistent = event.get("persistentDisposition")
    persistent_set: list[str] = []
    if isinstance(persistent, Mapping) and isinstance(persistent.get("set"), list):
        persistent_set = [vocab.short("disposition", v) or "" for v in persistent["set"] if isinstance(v, str)]
    step = event.get("bizStep")
    disposition = event.get("disposition")
    action = event.get("action")
    transformation_id = event.get("transformationID")
    children = _ids(event.get("childEPCs"))
    return EventFacts(
        event_type=event_type,
        time_ms=time_ms,
        offset=offset,
        action=action if isinstance(action, str) else None,
        biz_step=vocab.short("bizStep", step) if isinstance(step, str) else None,
        disposition=vocab.short("disposition", disposition) if isinstance(disposition, str) else None,
        persistent_set=tuple(persistent_set),
        read_point=_location(event.get("readPoint")),
        biz_location=_location(event.get("bizLocation")),
        epcs=tuple(dict.fromkeys(epcs)),
        parent=gs1.normalise_id(parent) if isinstance(parent, str) else None,
        inputs=tuple(_ids(event.get("inputEPCList"))),
        outputs=tuple(_ids(event.get("outputEPCList"))),
        classes=tuple(dict.fromkeys(classes + child_classes)),
        input_classes=tuple(input_classes),
        output_classes=tuple(output_classes),
        devices=tuple(_devices(event, event_type, children)),
        transformation_id=transformation_id if isinstance(transformation_id, str) else None,
        quantities=tuple(quantities + child_quantities + input_quantities + output_quantities),
        sources=_party_list(event.get("sourceList"), "source"),
        destinations=_party_list(event.get("destinationList"), "destination"),
    )


def extension(value: Mapping[str, Any], name: str, prefixes: Mapping[str, str] | None = None) -> Any:
    """The value of this application's extension ``name`` in an event or ilmd (``cc:name`` or full IRI)."""
    if f"{PREFIX}:{name}" in value:
        return value[f"{PREFIX}:{name}"]
    if NS + name in value:
        return value[NS + name]
    for key, item in value.items():
        prefix, sep, local = key.partition(":")
        if sep and local == name and prefixes and prefixes.get(prefix) == NS:
            return item
    return None


def mda(value: Mapping[str, Any], name: str) -> Any:
    """The value of a CBV master data attribute (``cbvmda:name``) in an ilmd or master data element."""
    for key in (f"cbvmda:{name}", f"urn:epcglobal:cbv:mda:{name}", f"urn:epcglobal:cbv:mda#{name}"):
        if key in value:
            return value[key]
    return None
