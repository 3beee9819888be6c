"""
Signing and Verifying
^^^^^^^^^^^^^^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

Every proposal, endorsement, transaction and block is signed with Ed25519
(RFC 8032): 32-byte public keys, 64-byte deterministic signatures. A
:class:`SigningIdentity` is what a participant signs with, its certificate
together with the private key the certificate certifies; anyone verifies with
:func:`verify_signature` and the raw public key found in the certificate.

Signing and verifying are the hot path of the platform (a transaction carries
a client signature and one signature per endorsement, and every peer checks
them all), so they go through PyNaCl (libsodium), which does Ed25519 in about
half the time OpenSSL takes through ``cryptography``. ``cryptography`` is used
for what is not hot: building, parsing and storing certificates and keys.
"""

from pathlib import Path

import nacl.bindings
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from consortia.identity.certificate import PUBLIC_KEY_SIZE, CertInfo, certificate_info, load_certificate
from consortia.identity.keystore import (
    encode_private_key,
    read_private_key,
    write_private_file,
    write_public_file,
)
from consortia.identity.kinds import Kind

SIGNATURE_SIZE = 64
"""Size in bytes of an Ed25519 signature."""

SEED_SIZE = 32
"""Size in bytes of an Ed25519 private key (the RFC 8032 "secret key", a seed)."""

CERTIFICATE_FILE = "cert.pem"
PRIVATE_KEY_FILE = "key.pem"

_BYTES_LIKE = (bytes, bytearray, memoryview)


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Return whether `signature` is `public_key`'s Ed25519 signature of `message`; never raise."""
    if not (
        isinstance(public_key, _BYTES_LIKE) and isinstance(message, _BYTES_LIKE) and isinstance(signature, _BYTES_LIKE)
    ):
        return False
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        # libsodium verifies a signed message (signature then message); it also rejects small-order
        # public keys and non-canonical signatures, which a forger could otherwise exploit.
        nacl.bindings.crypto_sign_open(bytes(signature) + bytes(message), bytes(public_key))
    except Exception:  # bad signature, or input libsodium refuses: either way, not a valid signature
        return False
    return True


class SigningIdentity:
    """A certificate together with its private key: what a participant signs with."""

    __slots__ = ("_secret_key", "certificate_der", "info")

    certificate_der: bytes
    info: CertInfo
    _secret_key: bytes

    def __init__(self, certificate: bytes, private_key_seed: bytes) -> None:
        x509_certificate, der = load_certificate(certificate)
        info = certificate_info(x509_certificate, der)
        if not isinstance(private_key_seed, bytes) or len(private_key_seed) != SEED_SIZE:
            raise ValueError(f"an Ed25519 private key is {SEED_SIZE} bytes")
        public_key, secret_key = nacl.bindings.crypto_sign_seed_keypair(private_key_seed)
        if public_key != info.public_key:
            raise ValueError(f"the private key does not belong to {info.describe()}")
        self.certificate_der = der
        self.info = info
        # libsodium's 64-byte secret key (seed and public key), so signing need not rederive it.
        self._secret_key = secret_key

    @property
    def org(self) -> str:
        """The organisation (MSP id) the identity belongs to."""
        return self.info.org

    @property
    def name(self) -> str:
        """The identity's name within its organisation."""
        return self.info.name

    @property
    def kind(self) -> Kind:
        """The kind of participant the identity is."""
        return self.info.kind

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key that verifies the identity's signatures."""
        return self.info.public_key

    @property
    def certificate_pem(self) -> bytes:
        """The certificate, PEM encoded."""
        return load_certificate(self.certificate_der)[0].public_bytes(Encoding.PEM)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of `message`."""
        # crypto_sign returns signature || message; the detached signature is its head.
        return nacl.bindings.crypto_sign(message, self._secret_key)[:SIGNATURE_SIZE]

    def save(self, directory: Path, password: bytes | None = None) -> None:
        """Write ``cert.pem`` and ``key.pem`` (mode 0600, encrypted when `password` is given)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_public_file(directory / CERTIFICATE_FILE, self.certificate_pem)
        write_private_file(directory / PRIVATE_KEY_FILE, encode_private_key(self._private_key(), password))

    @classmethod
    def load(cls, directory: Path, password: bytes | None = None) -> "SigningIdentity":
        """Read an identity written by :meth:`save`."""
        directory = Path(directory)
        certificate = (directory / CERTIFICATE_FILE).read_bytes()
        key = read_private_key(directory / PRIVATE_KEY_FILE, password)
        return cls(certificate, key.private_bytes_raw())

    def _private_key(self) -> Ed25519PrivateKey:
        """Return the private key as a `cryptography` object, for serialisation."""
        return Ed25519PrivateKey.from_private_bytes(self._secret_key[:SEED_SIZE])

    def __repr__(self) -> str:
        # Never show key material.
        return f"SigningIdentity(org={self.org!r}, name={self.name!r}, kind={self.kind.value!r})"
