"""The GS1 Core Business Vocabulary (CBV 2.0): what the bare words of an EPCIS event stand for.

EPCIS 2.0 JSON-LD lets an event say ``"bizStep": "shipping"`` instead of the full web URI
``https://ref.gs1.org/cbv/BizStep-shipping``; the standard JSON-LD context maps each bare word of the CBV to its
URI, per field. The older URN spelling (``urn:epcglobal:cbv:bizstep:shipping``) still appears in EPCIS 1.x data.
This module knows the three spellings and converts between them: :func:`expand` gives the web URI (what the event
hash and comparisons use) and :func:`short` gives the bare word (what people and query parameters use).
"""

from __future__ import annotations

CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"

BIZ_STEPS = frozenset(
    [
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "sampling",
        "sensor_reporting",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
    ]
)
DISPOSITIONS = frozenset(
    [
        "active",
        "available",
        "completeness_inferred",
        "completeness_verified",
        "conformant",
        "container_closed",
        "container_open",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "mismatch_class",
        "mismatch_instance",
        "mismatch_quantity",
        "needs_replacement",
        "no_pedigree_match",
        "non_conformant",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unavailable",
        "unknown",
    ]
)
BIZ_TRANSACTION_TYPES = frozenset(
    [
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    ]
)
SOURCE_DEST_TYPES = frozenset(("owning_party", "possessing_party", "location"))
ERROR_REASONS = frozenset(("did_not_occur", "incorrect_data"))
SENSOR_EXCEPTIONS = frozenset(("ALARM_CONDITION", "ERROR_CONDITION"))
COMPONENTS = frozenset(
    [
        "x",
        "y",
        "z",
        "axial_distance",
        "azimuth",
        "height",
        "spherical_radius",
        "polar_angle",
        "elevation_angle",
        "easting",
        "northing",
        "latitude",
        "longitude",
        "altitude",
    ]
)

# field → (web URI prefix, old URN prefix, bare words). Sensor types are open-ended CamelCase words (gs1:).
_FIELDS: dict[str, tuple[str, str, frozenset[str] | None]] = {
    "bizStep": (CBV + "BizStep-", "urn:epcglobal:cbv:bizstep:", BIZ_STEPS),
    "disposition": (CBV + "Disp-", "urn:epcglobal:cbv:disp:", DISPOSITIONS),
    "bizTransactionType": (CBV + "BTT-", "urn:epcglobal:cbv:btt:", BIZ_TRANSACTION_TYPES),
    "sourceDestType": (CBV + "SDT-", "urn:epcglobal:cbv:sdt:", SOURCE_DEST_TYPES),
    "errorReason": (CBV + "ER-", "urn:epcglobal:cbv:er:", ERROR_REASONS),
    "component": (CBV + "Comp-", "urn:epcglobal:cbv:comp:", COMPONENTS),
    "sensorException": (GS1_VOC, "", SENSOR_EXCEPTIONS),
    "sensorType": (GS1_VOC, "", None),
}

_URN_PREFIXES = tuple((urn, uri) for uri, urn, _ in _FIELDS.values() if urn)


def expand(field: str, value: str) -> str:
    """The web URI of a CBV value of ``field`` (bare word, ``gs1:``/``cbv:`` CURIE, URN or URI)."""
    uri, urn, words = _FIELDS[field]
    if urn and value.startswith(urn):
        return uri + value[len(urn) :]
    if value.startswith("gs1:"):
        return GS1_VOC + value[4:]
    if value.startswith("cbv:"):
        return CBV + value[4:]
    if words is None:
        return uri + value if value[:1].isupper() and value.isalnum() else value
    return uri + value if value in words else value


def short(field: str, value: str | None) -> str | None:
    """The bare word of a CBV value (``shipping`` for any spelling of the shipping business step)."""
    if value is None:
        return None
    uri, urn, _ = _FIELDS[field]
    for prefix in (uri, urn, "cbv:" + uri[len(CBV) :] if uri.startswith(CBV) else None):
        if prefix and value.startswith(prefix):
            return value[len(prefix) :]
    return value


def is_standard(field: str, value: str) -> bool:
    """Whether ``value`` is a standard CBV value of ``field`` in any spelling (URIs of user vocabularies are not)."""
    words = _FIELDS[field][2]
    word = short(field, value)
    return words is not None and word in words


def upgrade_urns(text: str) -> str:
    """Replace an EPCIS 1.x CBV URN (of any field) by its CBV 2.0 web URI; other text is returned unchanged."""
    if not text.startswith("urn:epcglobal:cbv:"):
        return text
    for urn, uri in _URN_PREFIXES:
        if text.startswith(urn):
            return uri + text[len(urn) :]
    return text
