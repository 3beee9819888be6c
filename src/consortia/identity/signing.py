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

An identity lives in a folder (``cert.pem``, ``key.pem``). Renewing it
(:func:`replace_identity`) keeps the certificate it replaces next to it as
``previous-cert.pem``, still good until it expires; a running node follows the
folder with an :class:`IdentityWatch`, which notices the new files and hands
the new identity over without a restart.
"""

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import nacl.bindings
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from consortia.identity.certificate import (
    PUBLIC_KEY_SIZE,
    CertInfo,
    certificate_info,
    format_timestamp_ms,
    load_certificate,
)
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
PREVIOUS_CERTIFICATE_FILE = "previous-cert.pem"
"""The certificate a renewal replaced: kept readable, it is still valid until it expires or is revoked."""

log = logging.getLogger(__name__)

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


def replace_identity(directory: Path, identity: SigningIdentity, password: bytes | None = None) -> bytes | None:
    """Write `identity` into `directory`, keeping the certificate it replaces as ``previous-cert.pem``.

    Returns the previous certificate (PEM), or None when the folder held none. The key is written before the
    certificate, so a watcher that sees the certificate change finds its key already there.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    current = directory / CERTIFICATE_FILE
    previous = current.read_bytes() if current.exists() else None
    if previous is not None:
        write_public_file(directory / PREVIOUS_CERTIFICATE_FILE, previous)
    write_private_file(directory / PRIVATE_KEY_FILE, encode_private_key(identity._private_key(), password))
    write_public_file(current, identity.certificate_pem)
    return previous


class IdentityWatch:
    """Follow an identity folder: when its files change and hold a renewed identity of the same holder, swap it in.

    Every `interval` seconds the watch compares the files' inode, size and modification time with what it saw
    last; on a change it loads the identity and, when it is the same organisation, name and kind with another
    certificate, calls `swap` with it. Files caught half-written simply fail to load and are read again on the
    next tick. A watch never stops its node: a failure is logged and the current identity kept.
    """

    def __init__(
        self,
        directory: Path,
        current: SigningIdentity,
        swap: Callable[[SigningIdentity], None],
        *,
        interval: float = 1.0,
        password: bytes | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"a watch interval is a positive number of seconds, not {interval!r}")
        self.directory = Path(directory)
        self.current = current
        self.interval = interval
        self._swap = swap
        self._password = password
        self._seen = self._stamp()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _stamp(self) -> tuple[tuple[int, int, int], ...] | None:
        try:
            stats = [os.stat(self.directory / name) for name in (CERTIFICATE_FILE, PRIVATE_KEY_FILE)]
        except OSError:
            return None
        return tuple((stat.st_ino, stat.st_size, stat.st_mtime_ns) for stat in stats)

    def poll(self) -> SigningIdentity | None:
        """Look once; return the identity swapped in, or None when nothing (usable) changed."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return None
        try:
            renewed = SigningIdentity.load(self.directory, self._password)
        except (OSError, ValueError) as error:
            log.info("identity in %s not readable yet (%s); trying again", self.directory, error)
            return None
        self._seen = stamp
        if renewed.certificate_der == self.current.certificate_der:
            return None
        held, found = self.current.info, renewed.info
        if (found.org, found.name, found.kind) != (held.org, held.name, held.kind):
            log.error(
                "identity in %s is now %s, a %s; keeping %s, a %s (a renewal keeps who the holder is)",
                self.directory,
                found.describe(),
                found.kind.value,
                held.describe(),
                held.kind.value,
            )
            return None
        self._swap(renewed)
        self.current = renewed
        log.warning(
            "identity %s renewed: serial %x in use (was %x), valid until %s",
            found.describe(),
            found.serial,
            held.serial,
            format_timestamp_ms(found.not_after_ms),
        )
        return renewed

    def start(self) -> "IdentityWatch":
        """Poll in a daemon thread until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"identity-watch-{self.current.name}", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # a swap that failed must not end the watch
                log.exception("identity watch of %s failed; the current identity stays", self.directory)

    def stop(self) -> None:
        """Stop polling (and wait for the thread)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
