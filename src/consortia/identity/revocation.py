"""
Certificate Revocation Lists
^^^^^^^^^^^^^^^^^^^^^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

A certificate says who its holder is until it expires. When a key is stolen,
or an employee leaves, the organisation must withdraw the certificate sooner:
its CA signs a *certificate revocation list* (CRL, RFC 5280 section 5), a list
of the serial numbers it no longer vouches for, each with the moment it was
revoked. A channel configuration carries each organisation's CRLs next to its
CA certificates (as Fabric's MSP configuration does), so every node judges a
certificate against the same list from the same block on
(:class:`~consortia.identity.membership.Membership` refuses a listed
certificate with ``REVOKED_CERTIFICATE``).

Lists are cumulative: a new list repeats every revocation of the one it
replaces (with the original dates) and adds new serials; its ``cRLNumber``
extension is one more than the previous list's, so anyone holding two lists
of the same CA can tell which is newer. A CRL's ``nextUpdate`` is required by
X.509 but not relied on here: the channel configuration, not a CRL's
freshness, decides which list is in force.

This module reads and describes CRLs (and tells which of an organisation's CAs
signed one, :func:`signer_of`: after a CA rotation the new CA carries on the
old CA's list); issuing one needs the CA's key and is
:meth:`~consortia.identity.ca.CertificateAuthority.revocation_list`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consortia.identity.certificate import CertificateError, CertInfo, load_certificate, parse_certificate

RevocationTarget = int | bytes | CertInfo
"""What may be revoked: a serial number, a certificate (DER or PEM), or a parsed certificate."""


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    """One revocation in a list: the certificate's serial number and when its CA revoked it."""

    serial: int
    revoked_at: datetime


@dataclass(frozen=True, slots=True)
class RevocationListInfo:
    """What a CRL says: who issued it, its number, when it was made, and the revocations it carries."""

    issuer: str
    number: int
    last_update: datetime
    entries: tuple[RevokedEntry, ...]

    @property
    def serials(self) -> frozenset[int]:
        """The serial numbers the list revokes."""
        return frozenset(entry.serial for entry in self.entries)


def load_revocation_list(crl: bytes) -> x509.CertificateRevocationList:
    """Parse a DER or PEM X.509 CRL; `CertificateError` saying what was found instead."""
    if not isinstance(crl, bytes | bytearray | memoryview):
        raise CertificateError(f"a revocation list is bytes (DER or PEM), not {type(crl).__name__}")
    data = bytes(crl)
    if not data:
        raise CertificateError("revocation list is empty")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as error:
        raise CertificateError(f"not an X.509 revocation list: {error}") from None


def describe_revocation_list(crl: bytes) -> RevocationListInfo:
    """Return what a CRL (DER or PEM) says, without checking who signed it."""
    revocation_list = load_revocation_list(crl)
    return RevocationListInfo(
        issuer=revocation_list.issuer.rfc4514_string(),
        number=crl_number(revocation_list),
        last_update=revocation_list.last_update_utc,
        entries=tuple(
            RevokedEntry(entry.serial_number, entry.revocation_date_utc.astimezone(UTC)) for entry in revocation_list
        ),
    )


def signer_of(crl: bytes, ca_certificates: Sequence[bytes]) -> bytes | None:
    """Which of `ca_certificates` (PEM or DER) signed `crl`, as given; None if none of them did."""
    revocation_list = load_revocation_list(crl)
    for candidate in ca_certificates:
        try:
            certificate, _ = load_certificate(candidate)
        except CertificateError:
            continue
        key = certificate.public_key()
        if (
            certificate.subject == revocation_list.issuer
            and isinstance(key, Ed25519PublicKey)
            and revocation_list.is_signature_valid(key)
        ):
            return candidate
    return None


def crl_number(revocation_list: x509.CertificateRevocationList) -> int:
    """The list's ``cRLNumber`` extension, or 0 when it has none."""
    try:
        return revocation_list.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


def target_serial(org: str, target: RevocationTarget) -> int:
    """The serial number to revoke for `target`; a certificate must be an identity of `org`."""
    if isinstance(target, bool):
        raise CertificateError(f"a revocation names a serial number or a certificate, not {target!r}")
    if isinstance(target, int):
        if target <= 0:
            raise CertificateError(f"a serial number is positive, not {target}")
        return target
    if isinstance(target, CertInfo):
        info = target
    elif isinstance(target, bytes | bytearray | memoryview):
        load_certificate(bytes(target))  # a clearer error for bytes that are no certificate at all
        info = parse_certificate(bytes(target))
    else:
        raise CertificateError(f"a revocation names a serial number or a certificate, not {type(target).__name__}")
    if info.org != org:
        raise CertificateError(f"{info.describe()} cannot be revoked by the CA of {org}: it is not {org}'s")
    return info.serial


def serials_of(org: str, targets: Sequence[RevocationTarget]) -> tuple[int, ...]:
    """The serial numbers of `targets`, in order, without repeats."""
    if isinstance(targets, bytes | bytearray | str):
        raise CertificateError("revoked is a sequence of serial numbers or certificates, not a single value")
    return tuple(dict.fromkeys(target_serial(org, target) for target in targets))
