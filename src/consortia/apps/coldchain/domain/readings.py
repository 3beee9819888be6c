"""Temperature readings as loggers publish them over MQTT, and how bad ones are told apart.

A logger at a site publishes each reading on ``coldchain/{site}/{device}/temperature`` as JSON::

    {"ts": "2024-03-05T04:10:00+09:00", "celsius": 1.8, "device": "LG-007", "seq": 1042}

``seq`` counts the logger's readings, so a repeated ``(device, seq)`` is the same reading sent twice (MQTT QoS 1
delivers at least once) and a smaller ``seq`` than the last one seen means the network reordered them.
:func:`parse` turns a message into a :class:`Reading` or a :class:`Rejected` with a reason the ingester counts —
malformed JSON or fields, a topic that is not a reading's, a device that does not match its topic, a timestamp
without offset, a unit that is not Celsius or a value no fish ever had (60 °C is Fahrenheit, 275 is Kelvin).
The fast path decodes straight into a typed struct; only a failure takes the slower path that finds the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, NamedTuple

import msgspec

from consortia.apps.coldchain.domain.timestamps import iso_local

TOPIC_ROOT = "coldchain"
TOPIC_FILTER = "coldchain/+/+/temperature"
PLAUSIBLE = (-60.0, 60.0)
MAX_FUTURE_MS = 3_600_000
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

REASONS = (
    "malformed",
    "bad_topic",
    "device_mismatch",
    "bad_timestamp",
    "wrong_unit",
    "out_of_range",
)


class _Payload(msgspec.Struct):
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    celsius: float
    device: str
    seq: int


_decoder = msgspec.json.Decoder(_Payload)


class Reading(NamedTuple):
    """A valid reading (a named tuple: a million of them pass through the ingester quickly)."""

    site: str
    device: str
    seq: int
    ts_ms: int
    celsius: float


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that is not a valid reading: why (one of :data:`REASONS`) and a detail for people."""

    reason: str
    detail: str


def topic(site: str, device: str) -> str:
    """The topic a device at a site publishes on."""
    return f"{TOPIC_ROOT}/{site}/{device}/temperature"


_topics: dict[str, tuple[str, str] | None] = {}


def _split_topic(name: str) -> tuple[str, str] | None:
    found = _topics.get(name, False)
    if found is not False:
        return found  # type: ignore[return-value]
    where = _parse_topic(name)
    if len(_topics) < 100_000:
        _topics[name] = where
    return where


def _parse_topic(name: str) -> tuple[str, str] | None:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != TOPIC_ROOT or parts[3] != "temperature":
        return None
    if not _TOKEN.match(parts[1]) or not _TOKEN.match(parts[2]):
        return None
    return parts[1], parts[2]


def _ts_ms(text: str) -> int | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return round(moment.timestamp() * 1000)


def _slow(payload: bytes) -> Rejected:
    """Why a payload failed the fast path."""
    try:
        value = msgspec.json.decode(payload)
    except msgspec.DecodeError as exc:
        return Rejected("malformed", f"not JSON: {exc}")
    if not isinstance(value, dict):
        return Rejected("malformed", f"expected a JSON object, got {type(value).__name__}")
    if "celsius" not in value and any(k in value for k in ("fahrenheit", "kelvin", "temperature", "value")):
        unit = (
            value.get("unit")
            or value.get("uom")
            or next(k for k in ("fahrenheit", "kelvin", "temperature", "value") if k in value)
        )
        return Rejected("wrong_unit", f"readings must give 'celsius'; got {unit!r}")
    for name in ("ts", "device"):
        if not isinstance(value.get(name), str):
            return Rejected("malformed", f"{name!r} must be a string")
    celsius = value.get("celsius")
    if isinstance(celsius, bool) or not isinstance(celsius, int | float):
        return Rejected("malformed", "'celsius' must be a number")
    seq = value.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        return Rejected("malformed", "'seq' must be an integer")
    if _ts_ms(value["ts"]) is None:
        return Rejected("bad_timestamp", f"ts {value['ts']!r} is not ISO 8601 with a time zone offset")
    return Rejected("malformed", "unreadable reading")


def parse(name: str, payload: bytes, received_ms: int) -> Reading | Rejected:
    """A reading from an MQTT message, or why not."""
    where = _split_topic(name)
    if where is None:
        return Rejected("bad_topic", f"topic {name!r} is not coldchain/<site>/<device>/temperature")
    try:
        data = _decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _slow(payload)
    site, device = where
    if data.device != device:
        return Rejected("device_mismatch", f"payload device {data.device!r} published on the topic of {device!r}")
    if data.seq < 0:
        return Rejected("malformed", "'seq' must not be negative")
    unit = None
    if b'"unit"' in payload or b'"uom"' in payload:
        extra = msgspec.json.decode(payload)
        unit = extra.get("unit", extra.get("uom"))
    if unit is not None and str(unit).upper() not in ("C", "CEL", "CELSIUS", "°C"):
        return Rejected("wrong_unit", f"unit {unit!r} is not Celsius")
    ts_ms = round(data.ts.timestamp() * 1000)
    if ts_ms > received_ms + MAX_FUTURE_MS:
        return Rejected("bad_timestamp", f"ts {data.ts.isoformat()} is more than an hour in the future")
    celsius = float(data.celsius)
    if not PLAUSIBLE[0] <= celsius <= PLAUSIBLE[1] or celsius != celsius:
        return Rejected("out_of_range", f"{celsius} °C is outside {PLAUSIBLE[0]:g}…{PLAUSIBLE[1]:g} °C (not Celsius?)")
    return Reading(site, device, data.seq, ts_ms, celsius)


def encode(reading: Reading, offset: str = "+09:00") -> bytes:
    """The MQTT payload of a reading (what loggers and the simulator publish)."""
    return msgspec.json.encode(
        {
            "ts": iso_local(reading.ts_ms, offset),
            "celsius": reading.celsius,
            "device": reading.device,
            "seq": reading.seq,
        }
    )
