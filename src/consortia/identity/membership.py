"""
Channel Membership
^^^^^^^^^^^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

A channel is shared by a set of organisations, and its configuration lists
each one's CA certificate. Those certificates are the channel's *trust
anchors*: a certificate identifies a member of the channel when

1. it names, in its subject ``O``, an organisation of the channel;
2. its issuer is that organisation's CA, and the CA's signature over it
   verifies with the CA's key: so an organisation can only certify its own
   participants, never another's;
3. it is an end-entity certificate (``CA:FALSE``), not a CA;
4. the moment of use lies within its validity period;
5. it is of a kind the caller accepts (a peer to endorse, an orderer to cut
   blocks, ...), when the caller says.

As in RFC 5280, trust anchors themselves are not subject to a validity check:
they are trusted because the channel configuration lists them, and replacing
one is a configuration update.

Checks 1–3 never change for a given certificate and are costly (parsing X.509,
verifying a signature), while the same few certificates sign transaction after
transaction. So a certificate that passes them is remembered, by the SHA-256 of
its DER encoding, and later calls cost a hash and a dictionary look-up; checks
4 and 5 depend on the call and are made every time.
"""

import hashlib
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from consortia.identity.certificate import (
    CertificateError,
    CertInfo,
    certificate_info,
    format_timestamp_ms,
    is_ca_certificate,
    load_certificate,
)
from consortia.identity.kinds import Kind
from consortia.identity.signing import verify_signature

DEFAULT_CACHE_SIZE = 100_000
"""How many verified certificates a membership remembers (a few hundred bytes each)."""


class MembershipError(Exception):
    """A certificate that does not identify a member of the channel; `code` says which way it fails."""

    NOT_A_MEMBER: Final = "NOT_A_MEMBER"
    BAD_CERTIFICATE: Final = "BAD_CERTIFICATE"

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type["MembershipError"], tuple[str, str]]:
        # Rebuild from both fields, so the error survives pickling (e.g. across a process pool).
        return (type(self), (self.code, self.message))


@dataclass(frozen=True, slots=True)
class _TrustAnchor:
    """The CA of a member organisation, in the form checks need."""

    org: str
    subject: x509.Name
    public_key: bytes
    certificate_der: bytes


class Membership:
    """The organisations of a channel: their CA certificates. Validates identities against them."""

    __slots__ = ("_anchors", "_cache_size", "_lock", "_orgs", "_verified")

    def __init__(self, ca_certificates: Mapping[str, bytes], *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        if cache_size < 1:
            raise ValueError(f"cache_size must be positive, not {cache_size}")
        self._anchors: dict[str, _TrustAnchor] = {
            org: _trust_anchor(org, certificate) for org, certificate in ca_certificates.items()
        }
        self._orgs = tuple(sorted(self._anchors))
        self._cache_size = cache_size
        self._verified: dict[bytes, CertInfo] = {}
        self._lock = threading.Lock()

    @property
    def orgs(self) -> tuple[str, ...]:
        """The member organisations (MSP ids), sorted."""
        return self._orgs

    def __contains__(self, org: object) -> bool:
        return org in self._anchors

    def ca_certificate(self, org: str) -> bytes:
        """Return the DER CA certificate of member `org`."""
        return self._anchors[org].certificate_der

    def validate(self, certificate_der: bytes, *, at_ms: int, kinds: Collection[Kind] | None = None) -> CertInfo:
        """Return what `certificate_der` says if it identifies a member at `at_ms`; else `MembershipError`."""
        try:
            key = hashlib.sha256(certificate_der).digest()
        except TypeError:
            raise MembershipError(
                MembershipError.BAD_CERTIFICATE,
                f"a certificate is bytes, not {type(certificate_der).__name__}",
            ) from None
        # A plain read needs no lock: dict look-ups are atomic, and entries are only ever added whole.
        info = self._verified.get(key)
        if info is None:
            info = self._remember(key, self._verify(certificate_der))

        if at_ms > info.not_after_ms:
            raise MembershipError(
                MembershipError.NOT_A_MEMBER,
                f"{info.describe()} expired at {format_timestamp_ms(info.not_after_ms)}",
            )
        if at_ms < info.not_before_ms:
            raise MembershipError(
                MembershipError.NOT_A_MEMBER,
                f"{info.describe()} is not valid until {format_timestamp_ms(info.not_before_ms)}",
            )
        if kinds is not None and info.kind not in kinds:
            expected = ", ".join(sorted(str(kind) for kind in kinds)) or "(none)"
            raise MembershipError(
                MembershipError.NOT_A_MEMBER,
                f"{info.describe()} is of kind {info.kind.value}, not one of: {expected}",
            )
        return info

    def _verify(self, certificate: bytes) -> CertInfo:
        """Make the checks that never change for a certificate: parse it and check who issued it."""
        try:
            x509_certificate, der = load_certificate(certificate)
            info = certificate_info(x509_certificate, der)
            is_ca = is_ca_certificate(x509_certificate)
        except CertificateError as error:
            raise MembershipError(MembershipError.BAD_CERTIFICATE, f"unreadable certificate: {error}") from None

        anchor = self._anchors.get(info.org)
        if anchor is None:
            raise _not_a_member(info, f"{info.org} is not a member of this channel")
        if x509_certificate.issuer != anchor.subject:
            issuer = x509_certificate.issuer.rfc4514_string()
            raise _not_a_member(info, f"issued by {issuer!r}, not by the CA of {info.org}")
        if x509_certificate.signature_algorithm_oid != SignatureAlgorithmOID.ED25519:
            raise _not_a_member(info, "not signed with Ed25519, the only algorithm CAs use")
        if not verify_signature(anchor.public_key, x509_certificate.tbs_certificate_bytes, x509_certificate.signature):
            raise _not_a_member(info, f"the signature of the CA of {info.org} on it does not verify")
        if is_ca:
            raise _not_a_member(info, "it is a CA certificate, not an identity")
        return info

    def _remember(self, key: bytes, info: CertInfo) -> CertInfo:
        """Cache a verified certificate, returning the cached entry (another thread's, if it won)."""
        with self._lock:
            cached = self._verified.get(key)
            if cached is not None:
                return cached
            if len(self._verified) >= self._cache_size:
                # Evict the oldest entry: cheap, and the certificates in use are re-verified once.
                del self._verified[next(iter(self._verified))]
            self._verified[key] = info
            return info

    def __repr__(self) -> str:
        return f"Membership(orgs={self._orgs!r})"


def _not_a_member(info: CertInfo, reason: str) -> MembershipError:
    """Return the error for a readable certificate that does not identify a member."""
    return MembershipError(MembershipError.NOT_A_MEMBER, f"{info.describe()}: {reason}")


def _trust_anchor(org: str, ca_certificate: bytes) -> _TrustAnchor:
    """Check a channel's CA certificate for `org` and keep what validation needs."""
    try:
        certificate, der = load_certificate(ca_certificate)
        is_ca = is_ca_certificate(certificate)
    except CertificateError as error:
        raise CertificateError(f"CA certificate of {org}: {error}") from None
    public_key = certificate.public_key()
    if not isinstance(public_key, Ed25519PublicKey):
        raise CertificateError(f"CA certificate of {org}: its key is not Ed25519")
    if not is_ca:
        raise CertificateError(f"CA certificate of {org}: it lacks the basic constraint CA:TRUE")
    named = [name.value for name in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if named != [org]:
        raise CertificateError(f"CA certificate of {org}: its subject names organisation(s) {named!r}")
    raw_public_key = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    # A trust anchor is not checked against anything, but a corrupted one is better caught here.
    if certificate.issuer != certificate.subject or not verify_signature(
        raw_public_key, certificate.tbs_certificate_bytes, certificate.signature
    ):
        raise CertificateError(f"CA certificate of {org}: it is not a valid self-signed certificate")
    return _TrustAnchor(org=org, subject=certificate.subject, public_key=raw_public_key, certificate_der=der)
