"""
Identity Certificates
^^^^^^^^^^^^^^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

A participant of a consortium is known by an X.509 v3 certificate issued by the
certificate authority of its organisation. The certificate binds an Ed25519
public key to a subject:

- ``O``  (organisation): the organisation's MSP id, such as ``Org1``;
- ``OU`` (organisational unit): the :class:`~consortia.identity.kinds.Kind` of
  participant (``admin``, ``peer``, ``orderer`` or ``client``);
- ``CN`` (common name): the participant's name within its organisation.

Applications need more than that: that a client is a regulator, or a clinician
of a given hospital. Such *attributes* travel inside the certificate, as in
Hyperledger Fabric, in a non-critical extension (OID ``1.2.3.4.5.6.7.8.1``)
whose value is the canonical JSON ``{"attrs": {...}}`` (sorted keys, no
whitespace). Being inside the signed certificate, they are vouched for by the
CA, and a participant cannot grant itself one.

This module only *reads* certificates: :func:`parse_certificate` says what a
certificate claims. Whether the claim is true (that the organisation's CA
issued it, and that it is valid now) is judged by
:class:`~consortia.identity.membership.Membership`.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from consortia.identity.kinds import Kind, parse_kind

ATTRIBUTES_OID = x509.ObjectIdentifier("1.2.3.4.5.6.7.8.1")
"""The certificate extension carrying application attributes (as Fabric's)."""

PUBLIC_KEY_SIZE = 32
"""Size in bytes of a raw Ed25519 public key."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MILLISECOND = timedelta(milliseconds=1)


class CertificateError(ValueError):
    """A certificate that cannot be read, or that is not an identity certificate of this platform."""


class Attributes(Mapping[str, str]):
    """An immutable, hashable mapping of attribute names to values."""

    __slots__ = ("_items", "_lookup")

    _items: tuple[tuple[str, str], ...]
    _lookup: dict[str, str]

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        lookup = dict(items)
        for key, value in lookup.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(f"attribute {key!r}: names and values must be strings, not {value!r}")
            if not key:
                raise ValueError("attribute names must not be empty")
        self._lookup = lookup
        # Sorted, so that equal mappings hash equally whatever order they were built in.
        self._items = tuple(sorted(lookup.items()))

    def __getitem__(self, key: str) -> str:
        return self._lookup[key]

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._lookup

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """Return the value of attribute `key`, or `default` when there is none."""
        return self._lookup.get(key, default)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Attributes):
            return self._items == other._items
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Attributes({dict(self._items)!r})"


@dataclass(frozen=True, slots=True)
class CertInfo:
    """What an identity certificate says: who, of which organisation, which kind, with which key."""

    org: str
    name: str
    kind: Kind
    attributes: Mapping[str, str]
    public_key: bytes
    not_before_ms: int
    not_after_ms: int
    cert_hash: bytes
    serial: int = 0
    """The certificate's serial number: what its CA's revocation list names."""

    def __post_init__(self) -> None:
        # Coerce, so that a CertInfo built by hand is as immutable and hashable as a parsed one.
        if not isinstance(self.attributes, Attributes):
            object.__setattr__(self, "attributes", Attributes(self.attributes))
        if not isinstance(self.kind, Kind):
            object.__setattr__(self, "kind", parse_kind(self.kind))

    def role(self) -> str | None:
        """Return the ``role`` attribute, if the certificate carries one."""
        return self.attributes.get("role")

    def valid_at(self, at_ms: int) -> bool:
        """Return whether `at_ms` lies within the certificate's validity period (both ends included)."""
        return self.not_before_ms <= at_ms <= self.not_after_ms

    def describe(self) -> str:
        """Return a short human description, e.g. ``certificate 'alice' of Org1``."""
        return f"certificate {self.name!r} of {self.org}"


def timestamp_ms(dt: datetime) -> int:
    """Return the epoch milliseconds of a timezone-aware datetime."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"datetime {dt.isoformat()} has no time zone; use an aware datetime (e.g. UTC)")
    return (dt - EPOCH) // _ONE_MILLISECOND


def format_timestamp_ms(ms: int) -> str:
    """Return epoch milliseconds as ISO 8601 UTC, e.g. ``2027-01-01T00:00:00Z``."""
    moment = EPOCH + ms * _ONE_MILLISECOND
    if ms % 1000:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_attributes(attributes: Mapping[str, str]) -> bytes:
    """Return the canonical JSON ``{"attrs": {...}}`` carried in the attribute extension."""
    checked = Attributes(attributes)
    document = {"attrs": dict(checked.items())}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode_attributes(value: bytes) -> Attributes:
    """Return the attributes of an attribute extension's value, or raise `CertificateError`."""
    try:
        document = json.loads(value.decode("utf-8"))
    except ValueError as error:
        raise CertificateError(f"attribute extension is not UTF-8 JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("attrs"), dict):
        raise CertificateError('attribute extension is not a JSON object {"attrs": {...}}')
    try:
        return Attributes(document["attrs"])
    except ValueError as error:
        raise CertificateError(f"attribute extension: {error}") from None


def load_certificate(der_or_pem: bytes) -> tuple[x509.Certificate, bytes]:
    """Return the certificate in DER or PEM bytes, with its DER encoding; raise `CertificateError`."""
    if not isinstance(der_or_pem, bytes | bytearray | memoryview):
        raise CertificateError(f"a certificate is bytes (DER or PEM), not {type(der_or_pem).__name__}")
    data = bytes(der_or_pem)
    if not data:
        raise CertificateError("certificate is empty")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            certificate = x509.load_pem_x509_certificate(data)
            return certificate, certificate.public_bytes(Encoding.DER)
        return x509.load_der_x509_certificate(data), data
    except ValueError as error:
        raise CertificateError(f"not an X.509 certificate: {error}") from None


def certificate_info(certificate: x509.Certificate, der: bytes) -> CertInfo:
    """Return what a loaded identity certificate says; raise `CertificateError` if it is not one."""
    try:
        public_key = certificate.public_key()
    except Exception as error:  # an unsupported algorithm surfaces as one of several error types
        raise CertificateError(f"certificate public key cannot be read: {error}") from None
    if not isinstance(public_key, Ed25519PublicKey):
        raise CertificateError(f"certificate key is an {type(public_key).__name__}, not an Ed25519 key")

    org = _subject_value(certificate, NameOID.ORGANIZATION_NAME, "O (organisation)")
    kind_name = _subject_value(certificate, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU (kind)")
    name = _subject_value(certificate, NameOID.COMMON_NAME, "CN (name)")
    try:
        kind = parse_kind(kind_name)
    except ValueError as error:
        raise CertificateError(f"certificate OU: {error}") from None

    return CertInfo(
        org=org,
        name=name,
        kind=kind,
        attributes=_attributes(certificate),
        public_key=public_key.public_bytes(Encoding.Raw, PublicFormat.Raw),
        not_before_ms=timestamp_ms(certificate.not_valid_before_utc),
        not_after_ms=timestamp_ms(certificate.not_valid_after_utc),
        cert_hash=hashlib.sha256(der).digest(),
        serial=certificate.serial_number,
    )


def parse_certificate(der_or_pem: bytes) -> CertInfo:
    """Return what an identity certificate (DER or PEM) says, without judging who issued it."""
    certificate, der = load_certificate(der_or_pem)
    return certificate_info(certificate, der)


def is_ca_certificate(certificate: x509.Certificate) -> bool:
    """Return whether a certificate carries the basic constraint CA:TRUE (may certify others)."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    except ValueError as error:
        raise CertificateError(f"certificate extensions cannot be read: {error}") from None
    return constraints.value.ca


def _subject_value(certificate: x509.Certificate, oid: x509.ObjectIdentifier, label: str) -> str:
    """Return the single value of a subject attribute; a missing or repeated one is an error."""
    values = certificate.subject.get_attributes_for_oid(oid)
    if not values:
        raise CertificateError(f"certificate subject has no {label}")
    if len(values) > 1:
        raise CertificateError(f"certificate subject has {len(values)} {label} attributes, not one")
    value = values[0].value
    if not isinstance(value, str) or not value:
        raise CertificateError(f"certificate subject {label} is empty")
    return value


def _attributes(certificate: x509.Certificate) -> Attributes:
    """Return the attributes a certificate carries (none when it has no attribute extension)."""
    try:
        extension = certificate.extensions.get_extension_for_oid(ATTRIBUTES_OID)
    except x509.ExtensionNotFound:
        return Attributes()
    except ValueError as error:  # a malformed or duplicated extension anywhere in the certificate
        raise CertificateError(f"certificate extensions cannot be read: {error}") from None
    value = extension.value
    if not isinstance(value, x509.UnrecognizedExtension):
        raise CertificateError("attribute extension has an unexpected form")
    return decode_attributes(value.value)
