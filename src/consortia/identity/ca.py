"""
Certificate Authorities
^^^^^^^^^^^^^^^^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

In a permissioned blockchain nobody joins by generating a key: each
organisation of the consortium runs its own certificate authority (CA), and
only the participants its CA certifies speak for it. The CA is a self-signed
root certificate (``CA:TRUE``, key usage ``keyCertSign``) whose Ed25519 key
signs every certificate the organisation issues.

A channel lists the CA certificates of its member organisations (see
:class:`~consortia.identity.membership.Membership`); a certificate then counts
as "a peer of Org1" exactly when Org1's CA signed a certificate saying so.

Issuing creates a fresh Ed25519 key pair and an X.509 v3 certificate with a
random serial number, subject ``O=<org>, OU=<kind>, CN=<name>``, and, when the
identity has application attributes, the non-critical attribute extension.

The CA also signs its organisation's certificate revocation lists
(:meth:`CertificateAuthority.revocation_list`, see
:mod:`consortia.identity.revocation`): cumulative, numbered, and carried in the
channel configuration.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from consortia.identity.certificate import (
    ATTRIBUTES_OID,
    Attributes,
    CertificateError,
    encode_attributes,
    is_ca_certificate,
    load_certificate,
    parse_certificate,
)
from consortia.identity.keystore import (
    encode_private_key,
    read_private_key,
    write_private_file,
    write_public_file,
)
from consortia.identity.kinds import Kind, parse_kind
from consortia.identity.revocation import RevocationTarget, crl_number, load_revocation_list, serials_of
from consortia.identity.signing import SigningIdentity

CA_CERTIFICATE_FILE = "ca.pem"
CA_PRIVATE_KEY_FILE = "ca.key"

CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)
"""How far back a certificate's validity starts when no start is given (as Fabric CA does)."""


class CertificateAuthority:
    """The certificate authority of one organisation: a self-signed root that certifies its members."""

    __slots__ = ("_certificate", "_private_key", "org")

    org: str
    _certificate: x509.Certificate
    _private_key: Ed25519PrivateKey

    def __init__(self, certificate: x509.Certificate, private_key: Ed25519PrivateKey) -> None:
        if _raw_public_key(certificate.public_key()) != _raw_public_key(private_key.public_key()):
            raise ValueError("the CA private key does not belong to the CA certificate")
        if not is_ca_certificate(certificate):
            raise ValueError("the CA certificate lacks the basic constraint CA:TRUE")
        organisations = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if len(organisations) != 1:
            raise ValueError("the CA certificate subject must name exactly one O (organisation)")
        self.org = str(organisations[0].value)
        self._certificate = certificate
        self._private_key = private_key

    @classmethod
    def create(cls, org: str, *, valid_days: int = 3650, now: datetime | None = None) -> "CertificateAuthority":
        """Create the self-signed root CA of organisation `org`, with a new Ed25519 key."""
        _require_name("organisation", org)
        not_before = _validity_start(now)
        not_after = not_before + _validity_length(valid_days)
        private_key = Ed25519PrivateKey.generate()
        public_key = private_key.public_key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                x509.NameAttribute(NameOID.COMMON_NAME, f"ca.{org}"),
            ]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(private_key, algorithm=None)  # Ed25519 hashes internally: no separate digest
        )
        return cls(certificate, private_key)

    @property
    def certificate_pem(self) -> bytes:
        """The CA certificate, PEM encoded (what a channel configuration lists)."""
        return self._certificate.public_bytes(Encoding.PEM)

    @property
    def certificate_der(self) -> bytes:
        """The CA certificate, DER encoded."""
        return self._certificate.public_bytes(Encoding.DER)

    @property
    def public_key(self) -> bytes:
        """The CA's raw 32-byte Ed25519 public key."""
        return _raw_public_key(self._certificate.public_key())

    def issue(
        self,
        name: str,
        kind: Kind | str,
        attributes: Mapping[str, str] | None = None,
        *,
        valid_days: int = 825,
        not_before: datetime | None = None,
    ) -> SigningIdentity:
        """Create a key pair for `name` and certify it as a `kind` of this organisation."""
        _require_name("identity", name)
        kind = parse_kind(kind)
        checked_attributes = Attributes(attributes or {})
        start = _validity_start(not_before)
        end = start + _validity_length(valid_days)

        private_key = Ed25519PrivateKey.generate()
        public_key = private_key.public_key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.org),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, kind.value),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._private_key.public_key()),
                critical=False,
            )
        )
        if checked_attributes:
            # Non-critical, so that X.509 tools that do not know the OID still accept the certificate.
            attribute_extension = x509.UnrecognizedExtension(ATTRIBUTES_OID, encode_attributes(checked_attributes))
            builder = builder.add_extension(attribute_extension, critical=False)
        certificate = builder.sign(self._private_key, algorithm=None)
        return SigningIdentity(certificate.public_bytes(Encoding.DER), private_key.private_bytes_raw())

    def renew(
        self, certificate: bytes, *, valid_days: int = 825, not_before: datetime | None = None
    ) -> SigningIdentity:
        """Certify a new key for the holder of `certificate` (one of ours): same name, kind and attributes."""
        held = parse_certificate(certificate)
        if held.org != self.org:
            raise CertificateError(f"{held.describe()} is not {self.org}'s: the CA of {held.org} renews it")
        x509_certificate, _ = load_certificate(certificate)
        if is_ca_certificate(x509_certificate):
            raise CertificateError(f"{held.describe()} is a CA certificate: rotate a CA instead of renewing it")
        return self.issue(held.name, held.kind, dict(held.attributes), valid_days=valid_days, not_before=not_before)

    @property
    def certificate(self) -> x509.Certificate:
        """The CA certificate, parsed."""
        return self._certificate

    def revocation_list(
        self,
        revoked: Sequence[RevocationTarget],
        previous: bytes | None = None,
        *,
        previous_signer: bytes | None = None,
        now: datetime | None = None,
        valid_days: int = 3650,
    ) -> bytes:
        """A DER CRL signed by this CA: the revocations of `previous` and `revoked`, numbered one up.

        `previous` is a list this CA signed, or — during a CA rotation — one signed by `previous_signer`, another
        CA certificate of this same organisation (the list then carries on under the new CA).
        """
        moment = _validity_start(now if now is not None else datetime.now(UTC))
        earlier: dict[int, datetime] = {}
        number = 1
        if previous is not None:
            previous_list = load_revocation_list(previous)
            signer = self._certificate
            if previous_signer is not None:
                signer, _ = load_certificate(previous_signer)
                named = [a.value for a in signer.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
                if named != [self.org] or not is_ca_certificate(signer):
                    raise CertificateError(
                        f"the previous list's signer must be a CA certificate of {self.org}, "
                        f"not {signer.subject.rfc4514_string()!r}"
                    )
            # Only lists of this organisation's CAs, checked: carrying on a list vouches for what it revokes.
            signer_key = signer.public_key()
            if (
                previous_list.issuer != signer.subject
                or not isinstance(signer_key, Ed25519PublicKey)
                or not previous_list.is_signature_valid(signer_key)
            ):
                issuer = previous_list.issuer.rfc4514_string()
                whose = "the given previous signer" if previous_signer is not None else f"this CA of {self.org}"
                raise CertificateError(f"the previous revocation list was issued by {issuer!r}, not signed by {whose}")
            number = crl_number(previous_list) + 1
            earlier = {entry.serial_number: entry.revocation_date_utc for entry in previous_list}
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self._certificate.subject)
            .last_update(moment)
            .next_update(moment + _validity_length(valid_days))
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._private_key.public_key()),
                critical=False,
            )
        )
        # An earlier revocation keeps its date: revoking again does not move when the key stopped being trusted.
        for serial in serials_of(self.org, revoked):
            earlier.setdefault(serial, moment)
        for serial in sorted(earlier):
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(earlier[serial]).build()
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(self._private_key, algorithm=None).public_bytes(Encoding.DER)

    def save(self, directory: Path, password: bytes | None = None) -> None:
        """Write ``ca.pem`` and ``ca.key`` (mode 0600, encrypted when `password` is given)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_public_file(directory / CA_CERTIFICATE_FILE, self.certificate_pem)
        write_private_file(directory / CA_PRIVATE_KEY_FILE, encode_private_key(self._private_key, password))

    @classmethod
    def load(cls, directory: Path, password: bytes | None = None) -> "CertificateAuthority":
        """Read a CA written by :meth:`save`."""
        directory = Path(directory)
        certificate, _ = load_certificate((directory / CA_CERTIFICATE_FILE).read_bytes())
        private_key = read_private_key(directory / CA_PRIVATE_KEY_FILE, password)
        return cls(certificate, private_key)

    def __repr__(self) -> str:
        return f"CertificateAuthority(org={self.org!r})"


def _require_name(what: str, value: str) -> None:
    """Refuse an empty or non-string organisation or identity name."""
    if not isinstance(value, str):
        raise ValueError(f"an {what} name must be a string, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"an {what} name must not be empty")
    if value != value.strip():
        raise ValueError(f"an {what} name must not start or end with white space: {value!r}")


def _validity_start(moment: datetime | None) -> datetime:
    """Return when a validity period starts: `moment`, or a little before now to absorb clock skew."""
    if moment is None:
        moment = datetime.now(UTC) - CLOCK_SKEW_ALLOWANCE
    elif moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment.isoformat()} has no time zone; use an aware datetime (e.g. UTC)")
    # X.509 times have whole seconds; dropping the fraction here keeps the certificate and the
    # caller's idea of it identical.
    return moment.astimezone(UTC).replace(microsecond=0)


def _validity_length(valid_days: int) -> timedelta:
    """Return a validity period of `valid_days` days, which must be positive."""
    if isinstance(valid_days, bool) or not isinstance(valid_days, int) or valid_days <= 0:
        raise ValueError(f"valid_days must be a positive number of days, not {valid_days!r}")
    return timedelta(days=valid_days)


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    """Return a key usage extension with only the named usages set."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _raw_public_key(public_key: object) -> bytes:
    """Return the raw bytes of an Ed25519 public key; refuse any other kind of key."""
    if not isinstance(public_key, Ed25519PublicKey):
        raise ValueError(f"the CA key is an {type(public_key).__name__}, not an Ed25519 key")
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
