"""
Transport Layer Security between nodes
^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

Each organisation runs two certificate authorities, as Fabric separates them:

* its *signing* CA (:mod:`consortia.identity.ca`) certifies who may sign proposals, endorsements, blocks and
  configuration updates — identities that end up on the ledger;
* its *TLS* CA, here, certifies the keys nodes and clients use to open connections to one another. Nothing it
  issues is ever written to the ledger; what it protects is the wire: TLS 1.3 encrypts the traffic, and with
  *mutual* TLS each side proves, during the handshake, that a member organisation's TLS CA certified it.

Keeping them apart means a leaked TLS key cannot sign a transaction, and TLS keys can use what every TLS stack
speaks: ECDSA on P-256 with SHA-256 (Ed25519 in TLS 1.3 works in OpenSSL 3, but etcd's and many operating
systems' TLS stacks still expect ECDSA or RSA).

A TLS certificate names where its holder can be reached — host names and IP addresses in the *subject
alternative name* extension — because a client checks that the server it dialled is the one the certificate is
for. A node's certificate serves both ends (extended key usages ``serverAuth`` and ``clientAuth``): it
answers as a server and presents itself when it calls another node.

A channel configuration lists each organisation's TLS CA certificates
(:attr:`~consortia.ledger.config.OrganisationConfig.tls_ca_certificates`); a node trusts exactly the TLS CAs of
the organisations of its channels, so a certificate of any other CA — or no certificate — fails the handshake.
"""

import ipaddress
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from consortia.identity.keystore import write_private_file, write_public_file

TLS_CA_DIR = "tlsca"
CA_CERTIFICATE_FILE = "ca.pem"
CA_PRIVATE_KEY_FILE = "ca.key"
CERTIFICATE_FILE = "cert.pem"
PRIVATE_KEY_FILE = "key.pem"

_SKEW = timedelta(minutes=5)


class TlsError(ValueError):
    """TLS material that cannot be used: the message says which file and why."""


def _name(org: str, common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def _general_name(host: str) -> x509.GeneralName:
    """An IP address SAN for an address, a DNS SAN for anything else."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return x509.DNSName(host)


@dataclass(frozen=True)
class TlsIdentity:
    """A TLS certificate and its private key, as files (``ssl`` loads a key only from a file)."""

    certificate: Path
    private_key: Path

    @classmethod
    def load(cls, directory: Path) -> "TlsIdentity":
        """The ``cert.pem`` and ``key.pem`` in ``directory`` (TlsError naming the missing one)."""
        directory = Path(directory)
        identity = cls(directory / CERTIFICATE_FILE, directory / PRIVATE_KEY_FILE)
        for path in (identity.certificate, identity.private_key):
            if not path.is_file():
                raise TlsError(f"{path}: no such file (expected a TLS certificate and key in {directory})")
        return identity

    @property
    def certificate_pem(self) -> bytes:
        """The certificate, PEM encoded."""
        return self.certificate.read_bytes()


@dataclass(frozen=True)
class TlsCertificateAuthority:
    """An organisation's TLS CA: a self-signed ECDSA P-256 root that certifies its nodes' and clients' TLS keys."""

    org: str
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, org: str, *, valid_days: int = 3650) -> "TlsCertificateAuthority":
        """Create the TLS CA of ``org`` with a new key."""
        if not org.strip():
            raise TlsError("a TLS CA needs an organisation name, got an empty one")
        key = ec.generate_private_key(ec.SECP256R1())
        start = datetime.now(UTC) - _SKEW
        subject = _name(org, f"tlsca.{org}")
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )  # keyCertSign and cRLSign only
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(org, certificate, key)

    @property
    def certificate_pem(self) -> bytes:
        """The CA certificate, PEM encoded (what a channel configuration lists)."""
        return self.certificate.public_bytes(Encoding.PEM)

    def issue(self, name: str, hosts: Sequence[str] = (), *, valid_days: int = 825) -> tuple[bytes, bytes]:
        """Certify a new key for ``name`` reachable at ``hosts`` (DNS names or IPs); return (cert, key) as PEM.

        The certificate is good for both ends of a connection (server and client authentication).
        """
        if not name.strip():
            raise TlsError("a TLS certificate needs a name, got an empty one")
        key = ec.generate_private_key(ec.SECP256R1())
        start = datetime.now(UTC) - _SKEW
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(self.org, name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )  # digitalSignature: all TLS 1.3 asks of an ECDSA key
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.private_key.public_key()), critical=False
            )
        )
        unique = list(dict.fromkeys(h for h in hosts if h))
        if unique:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_general_name(h) for h in unique]), critical=False
            )
        certificate = builder.sign(self.private_key, hashes.SHA256())
        key_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        return certificate.public_bytes(Encoding.PEM), key_pem

    def issue_to(self, directory: Path, name: str, hosts: Sequence[str] = ()) -> TlsIdentity:
        """Issue a certificate (see :meth:`issue`) and write ``cert.pem`` and ``key.pem`` (0600) to ``directory``."""
        certificate, key = self.issue(name, hosts)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_public_file(directory / CERTIFICATE_FILE, certificate)
        write_private_file(directory / PRIVATE_KEY_FILE, key)
        return TlsIdentity(directory / CERTIFICATE_FILE, directory / PRIVATE_KEY_FILE)

    def save(self, directory: Path) -> None:
        """Write ``ca.pem`` and ``ca.key`` (mode 0600)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_public_file(directory / CA_CERTIFICATE_FILE, self.certificate_pem)
        write_private_file(
            directory / CA_PRIVATE_KEY_FILE,
            self.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        )

    @classmethod
    def load(cls, directory: Path) -> "TlsCertificateAuthority":
        """Read a TLS CA written by :meth:`save`."""
        directory = Path(directory)
        try:
            certificate = x509.load_pem_x509_certificate((directory / CA_CERTIFICATE_FILE).read_bytes())
            key = load_pem_private_key((directory / CA_PRIVATE_KEY_FILE).read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise TlsError(f"{directory} holds no TLS CA: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TlsError(f"{directory / CA_PRIVATE_KEY_FILE}: expected an ECDSA key, found {type(key).__name__}")
        organisations = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if len(organisations) != 1:
            raise TlsError(f"{directory / CA_CERTIFICATE_FILE}: the subject must name exactly one organisation")
        return cls(str(organisations[0].value), certificate, key)


def _trust(context: ssl.SSLContext, cas: Iterable[bytes]) -> None:
    pems = [pem.decode() if pem.lstrip().startswith(b"-----") else None for pem in cas]
    ders = [pem for pem in cas if not pem.lstrip().startswith(b"-----")]
    text = "".join(p if p.endswith("\n") else p + "\n" for p in pems if p)
    if text:
        context.load_verify_locations(cadata=text)
    for der in ders:
        context.load_verify_locations(cadata=der)


def server_context(identity: TlsIdentity, cas: Iterable[bytes]) -> ssl.SSLContext:
    """A TLS 1.3 server context that requires a client certificate issued by one of ``cas`` (PEM or DER)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(identity.certificate, identity.private_key)
    _trust(context, list(cas))
    return context


def client_context(identity: TlsIdentity | None, cas: Iterable[bytes]) -> ssl.SSLContext:
    """A TLS 1.3 client context that presents ``identity`` and accepts servers certified by one of ``cas``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the server's chain and host name
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    if identity is not None:
        context.load_cert_chain(identity.certificate, identity.private_key)
    _trust(context, list(cas))
    return context
