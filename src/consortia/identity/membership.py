"""
Channel Membership
^^^^^^^^^^^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

A channel is shared by a set of organisations, and its configuration lists
each one's CA certificates (usually one; two while a CA is being rotated).
Those certificates are the channel's *trust anchors*: a certificate identifies
a member of the channel when

1. it names, in its subject ``O``, an organisation of the channel;
2. its issuer is one of that organisation's CAs, and the CA's signature over
   it verifies with the CA's key: so an organisation can only certify its own
   participants, never another's;
3. it is an end-entity certificate (``CA:FALSE``), not a CA;
4. its serial number is not on a revocation list (an X.509 CRL) that one of
   the organisation's CAs signed and the configuration carries
   (``REVOKED_CERTIFICATE``) — as Fabric's MSP CRLs;
5. the moment of use lies within its validity period;
6. it is of a kind the caller accepts (a peer to endorse, an orderer to cut
   blocks, ...), when the caller says.

A membership belongs to one version of the channel configuration: a
certificate revoked by version *n* is refused in blocks judged under version
*n* and later, and stays valid in the history judged before.

As in RFC 5280, trust anchors themselves are not subject to a validity check:
they are trusted because the channel configuration lists them, and replacing
one is a configuration update.

Checks 1–4 never change for a given certificate and membership and are costly
(parsing X.509, verifying a signature), while the same few certificates sign
transaction after transaction. So a certificate that passes them is
remembered, by the SHA-256 of its DER encoding, and later calls cost a hash and
a dictionary look-up; checks 5 and 6 depend on the call and are made every
time.
"""

import hashlib
import threading
from collections.abc import Collection, Mapping, Sequence
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
    REVOKED_CERTIFICATE: Final = "REVOKED_CERTIFICATE"

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


@dataclass(frozen=True, slots=True)
class Revocation:
    """A certificate an organisation's CA revoked: its serial number and when, as the CRL says."""

    org: str
    serial: int
    revoked_ms: int


class Membership:
    """The organisations of a channel: their CA certificates and revocations. Validates identities against them."""

    __slots__ = ("_anchors", "_cache_size", "_lock", "_orgs", "_revoked", "_verified")

    def __init__(
        self,
        ca_certificates: Mapping[str, bytes | Sequence[bytes]],
        *,
        revocation_lists: Mapping[str, Sequence[bytes]] | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if cache_size < 1:
            raise ValueError(f"cache_size must be positive, not {cache_size}")
        self._anchors: dict[str, tuple[_TrustAnchor, ...]] = {}
        for org, certificates in ca_certificates.items():
            listed = (certificates,) if isinstance(certificates, bytes | bytearray) else tuple(certificates)
            if not listed:
                raise CertificateError(f"organisation {org} lists no CA certificate")
            self._anchors[org] = tuple(_trust_anchor(org, bytes(certificate)) for certificate in listed)
        self._revoked: dict[tuple[str, int], Revocation] = {}
        for org, lists in (revocation_lists or {}).items():
            if org not in self._anchors:
                raise CertificateError(f"a revocation list is given for {org}, which is not an organisation here")
            for crl in lists:
                for revocation in read_revocation_list(org, crl, self._anchors[org]):
                    self._revoked.setdefault((org, revocation.serial), revocation)
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
        """Return the (first) DER CA certificate of member `org`."""
        return self._anchors[org][0].certificate_der

    def ca_certificates(self, org: str) -> tuple[bytes, ...]:
        """Return every DER CA certificate of member `org`."""
        return tuple(anchor.certificate_der for anchor in self._anchors[org])

    @property
    def revocations(self) -> tuple[Revocation, ...]:
        """Every certificate revoked by a member's CA, by organisation and serial number."""
        return tuple(self._revoked[key] for key in sorted(self._revoked))

    def is_revoked(self, org: str, serial: int) -> bool:
        """Whether `org`'s CA has revoked the certificate with this serial number."""
        return (org, serial) in self._revoked

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

        if self._revoked and (info.org, info.serial) in self._revoked:
            revoked = self._revoked[(info.org, info.serial)]
            raise MembershipError(
                MembershipError.REVOKED_CERTIFICATE,
                f"{info.describe()} (serial {info.serial:x}) was revoked by the CA of {info.org} "
                f"on {format_timestamp_ms(revoked.revoked_ms)}",
            )
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

        anchors = self._anchors.get(info.org)
        if anchors is None:
            raise _not_a_member(info, f"{info.org} is not a member of this channel")
        issuers = [anchor for anchor in anchors if anchor.subject == x509_certificate.issuer]
        if not issuers:
            issuer = x509_certificate.issuer.rfc4514_string()
            raise _not_a_member(info, f"issued by {issuer!r}, not by the CA of {info.org}")
        if x509_certificate.signature_algorithm_oid != SignatureAlgorithmOID.ED25519:
            raise _not_a_member(info, "not signed with Ed25519, the only algorithm CAs use")
        # Two CAs of one organisation may share a subject (a rotated key): any of them may have signed.
        if not any(
            verify_signature(anchor.public_key, x509_certificate.tbs_certificate_bytes, x509_certificate.signature)
            for anchor in issuers
        ):
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


def read_revocation_list(org: str, crl: bytes, anchors: Sequence[_TrustAnchor]) -> list[Revocation]:
    """The revocations of a DER (or PEM) X.509 CRL signed by one of `org`'s CAs; `CertificateError` if it is not."""
    try:
        data = bytes(crl)
        if data.lstrip().startswith(b"-----BEGIN"):
            revocation_list = x509.load_pem_x509_crl(data)
        else:
            revocation_list = x509.load_der_x509_crl(data)
    except (TypeError, ValueError) as error:
        raise CertificateError(f"revocation list of {org}: not an X.509 CRL: {error}") from None
    signer = next(
        (
            anchor
            for anchor in anchors
            if anchor.subject == revocation_list.issuer
            and revocation_list.signature_algorithm_oid == SignatureAlgorithmOID.ED25519
            and verify_signature(anchor.public_key, revocation_list.tbs_certlist_bytes, revocation_list.signature)
        ),
        None,
    )
    if signer is None:
        raise CertificateError(
            f"revocation list of {org}: issued by {revocation_list.issuer.rfc4514_string()!r} and not signed by "
            f"a CA of {org}"
        )
    return [
        Revocation(org, entry.serial_number, int(entry.revocation_date_utc.timestamp() * 1000))
        for entry in revocation_list
    ]


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
