"""Timestamps as EPCIS writes them: ISO 8601 with an explicit offset, compared in UTC milliseconds.

EPCIS events carry ``eventTime`` with its own offset (``2024-03-05T04:10:00+09:00``) plus the
``eventTimeZoneOffset`` of the place where it happened. Everything this application compares — query bounds,
windows of sensor readings, the ordering of a lot's journey — uses integer milliseconds since the Unix epoch in
UTC; :func:`to_ms` gets there without losing precision and :func:`iso_ms` writes the normalised form the CBV
2.0 event hash uses (``2024-03-04T19:10:00.000Z``: UTC, exactly three fraction digits, fractions beyond the
millisecond rounded half up).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})?$",
)
_OFFSET = re.compile(r"^[+-](\d{2}):(\d{2})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimestampError(ValueError):
    """A timestamp that is not ISO 8601 date-time with an offset (or Z)."""


def to_ms(text: str, *, assume_utc: bool = False) -> int:
    """Milliseconds since the epoch (UTC) of an ISO 8601 date-time; fractions beyond 1 ms round half up."""
    if not isinstance(text, str):
        raise TimestampError(f"timestamp must be a string, got {type(text).__name__}")
    match = _ISO.match(text.strip())
    if match is None:
        raise TimestampError(f"{text!r} is not an ISO 8601 date-time such as 2024-03-05T04:10:00+09:00")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset is None and not assume_utc:
        raise TimestampError(f"{text!r} has no time zone offset (add Z or +09:00)")
    try:
        base = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError as exc:
        raise TimestampError(f"{text!r}: {exc}") from None
    millis = 0
    if fraction:
        digits = (fraction + "000")[:4] if len(fraction) > 3 else fraction.ljust(3, "0")
        millis = int(digits[:3]) + (1 if len(digits) > 3 and int(digits[3]) >= 5 else 0)
    delta = timedelta(0)
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise TimestampError(f"{text!r} has an invalid offset {offset}")
        delta = sign * timedelta(hours=hours, minutes=minutes)
    return int((base - delta - _EPOCH).total_seconds()) * 1000 + millis


def iso_ms(ms: int) -> str:
    """UTC ISO 8601 with exactly three fraction digits and Z (the CBV 2.0 normal form)."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_local(ms: int, offset: str = "+00:00") -> str:
    """ISO 8601 in a given offset, seconds precision (for display and generated events)."""
    match = _OFFSET.match(offset)
    if match is None:
        raise TimestampError(f"offset {offset!r} must look like +09:00")
    sign = -1 if offset[0] == "-" else 1
    delta = sign * timedelta(hours=int(match.group(1)), minutes=int(match.group(2)))
    moment = _EPOCH + timedelta(milliseconds=ms) + delta
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if ms % 1000:
        text += f".{ms % 1000:03d}"
    return text + offset


def normalise(text: str) -> str:
    """The CBV 2.0 normal form of an ISO 8601 timestamp (UTC, milliseconds, Z); unparsable text is returned as is."""
    try:
        return iso_ms(to_ms(text))
    except TimestampError:
        return text


def check_offset(text: str) -> str:
    """Validate an ``eventTimeZoneOffset`` (``+09:00``) and return it."""
    if not isinstance(text, str) or not _OFFSET.match(text):
        raise TimestampError(f"time zone offset {text!r} must look like +09:00")
    return text
