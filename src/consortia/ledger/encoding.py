"""Canonical encoding: the one way Consortia turns a value into bytes before signing or hashing it.

A signature or a hash is only meaningful if every party derives the same bytes from the same value. JSON text
produced ad hoc does not give that (key order, spacing, number formats differ between libraries), so every
structure that is signed or hashed is a msgspec ``Struct`` declared ``array_like``: it is encoded as a MessagePack
array whose elements follow the declared field order, with msgspec's minimal integer and string encodings.

Decoding is strict: unknown or missing fields are errors, and :func:`decode_canonical` additionally refuses bytes
that do not re-encode to themselves, so that one value has exactly one accepted encoding and nothing can be
smuggled into a signed payload in a form another implementation would read differently.

Application values (the documents contracts keep in the world state) are JSON; :func:`canonical_json` gives them
one deterministic form as well (sorted keys, no insignificant whitespace).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

_ENCODER = msgspec.msgpack.Encoder()
_JSON_ENCODER = msgspec.json.Encoder(order="sorted")
_DECODERS: dict[type, msgspec.msgpack.Decoder] = {}


class MalformedError(ValueError):
    """Bytes that do not decode to the expected structure."""


def encode(value: Any) -> bytes:
    """Encode a struct (or plain value) in the canonical MessagePack form."""
    return _ENCODER.encode(value)


def _decoder(kind: type[T]) -> msgspec.msgpack.Decoder:
    decoder = _DECODERS.get(kind)
    if decoder is None:
        decoder = msgspec.msgpack.Decoder(kind)
        _DECODERS[kind] = decoder
    return decoder


def decode(data: bytes, kind: type[T]) -> T:
    """Decode bytes into ``kind``, raising :class:`MalformedError` with the reason on failure."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedError(f"expected bytes for {kind.__name__}, got {type(data).__name__}")
    try:
        return _decoder(kind).decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedError(f"malformed {kind.__name__}: {exc}") from None


def decode_canonical(data: bytes, kind: type[T]) -> T:
    """Decode bytes and insist they are the canonical encoding of the value they hold."""
    value = decode(data, kind)
    if _ENCODER.encode(value) != bytes(data):
        raise MalformedError(f"{kind.__name__} is not canonically encoded")
    return value


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def canonical_json(value: Any) -> bytes:
    """Encode a JSON value deterministically: sorted keys, compact separators, UTF-8."""
    try:
        return _JSON_ENCODER.encode(value)
    except (TypeError, msgspec.EncodeError) as exc:
        raise ValueError(f"value is not JSON-serialisable: {exc}") from None


MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted in JSON input (EPCIS and FHIR documents need about 10)."""
MAX_JSON_NUMBER = 40
"""Longest number literal accepted in JSON input, in characters."""

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")
_JSON_NUMBERISH = re.compile(rb"[-+0-9.eE]{%d,}" % (MAX_JSON_NUMBER + 1))


class JsonLimitError(ValueError):
    """JSON input beyond a limit (nesting depth, number length); the message names the limit."""


def check_json_limits(data: bytes | str) -> None:
    """Refuse JSON nested deeper than ``MAX_JSON_DEPTH`` or with a number longer than ``MAX_JSON_NUMBER``."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    deep = raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH
    long_number = _JSON_NUMBERISH.search(raw) is not None
    if not deep and not long_number:
        return  # the common case: too few brackets to nest too deep, no long run of number characters
    text = _JSON_STRING.sub(b'""', raw)  # brackets and digits inside strings do not count
    if long_number:
        match = _JSON_NUMBERISH.search(text)
        if match is not None:
            raise JsonLimitError(
                f"JSON number at byte {match.start()} is longer than {MAX_JSON_NUMBER} characters (the limit)"
            )
    if deep:
        depth = 0
        for match in _JSON_BRACKET.finditer(text):
            depth += 1 if match.group() in (b"[", b"{") else -1
            if depth > MAX_JSON_DEPTH:
                raise JsonLimitError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels (the limit)")


def parse_json(data: bytes | str) -> Any:
    """Decode JSON text within the input limits, raising ValueError with the position of the first error."""
    check_json_limits(data)
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise JsonLimitError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels (the limit)") from None
