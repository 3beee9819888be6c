"""Envelope encryption: a data key per patient, wrapped for each organisation that may use it.

Records are sealed with AES-256-GCM (NIST SP 800-38D) under the patient's *data key* (DEK), a random 256-bit key.
Each sealed record is ``nonce (12 bytes) ‖ ciphertext ‖ tag`` and binds its record id as associated data, so a
ciphertext moved to another record id does not open. Inside the ciphertext a random 16-byte salt precedes the
record: the ledger keeps ``SHA-256(salt ‖ record)`` — a commitment that proves the record was not altered, and
that, once the salt is shredded with the key, cannot be brute-forced back into a blood pressure.

A DEK is never stored in the clear. The custodian keeps its own copy in its vault wrapped under its symmetric *vault
key* (AES-256-GCM with the patient's pseudonym as associated data — the envelope encryption of a key management
service, cheap enough to unwrap 450,000 keys a day). For any other organisation it is *wrapped* under that
organisation's key-encryption key (KEK), an X25519 key pair whose public half is registered on the ledger: an
ephemeral X25519 agreement with the organisation's public key, HKDF-SHA256 (RFC 5869) bound to the patient and the
recipient, and AES-256-GCM (an ECIES / HPKE-base-mode construction). Anyone can wrap for an organisation knowing
only its public key; only that organisation can unwrap. Destroying every wrapped copy destroys the key, and with it
every record (crypto-shredding).
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
WRAP_INFO = b"consortia-health/dek-wrap/v1"


class DecryptError(Exception):
    """A ciphertext that does not open under the given key (wrong key, wrong record id, or altered)."""


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def seal(dek: bytes, record_id: str, record: bytes) -> tuple[bytes, bytes]:
    """Encrypt ``record``; return (sealed blob, salted hash of the record for the ledger)."""
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    blob = nonce + AESGCM(dek).encrypt(nonce, salt + record, record_id.encode())
    return blob, salted_hash(salt, record)


def open_sealed(dek: bytes, record_id: str, blob: bytes) -> tuple[bytes, bytes]:
    """Decrypt a sealed blob; return (record, salted hash) or raise DecryptError."""
    try:
        plain = AESGCM(dek).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], record_id.encode())
    except (InvalidTag, ValueError):
        raise DecryptError(f"record {record_id} does not open under this key") from None
    salt, record = plain[:SALT_BYTES], plain[SALT_BYTES:]
    return record, salted_hash(salt, record)


def salted_hash(salt: bytes, record: bytes) -> bytes:
    """SHA-256(salt ‖ record)."""
    return hashlib.sha256(salt + record).digest()


def wrap_local(dek: bytes, vault_key: bytes, context: str) -> bytes:
    """Wrap a data key under a symmetric vault key (the custodian's own copy)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(vault_key).encrypt(nonce, dek, WRAP_INFO + context.encode())


def unwrap_local(wrapped: bytes, vault_key: bytes, context: str) -> bytes:
    """Unwrap a vault copy, or raise DecryptError."""
    try:
        return AESGCM(vault_key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], WRAP_INFO + context.encode())
    except (InvalidTag, ValueError):
        raise DecryptError(f"the vault copy of the key of {context} does not open") from None


def new_kek() -> X25519PrivateKey:
    """A new organisation key-encryption key pair."""
    return X25519PrivateKey.generate()


def private_bytes(key: X25519PrivateKey) -> bytes:
    """The raw 32 bytes of a private KEK."""
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def public_bytes(key: X25519PrivateKey | X25519PublicKey) -> bytes:
    """The raw 32 bytes of a public KEK."""
    public = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _kek(shared: bytes, ephemeral: bytes, recipient: bytes, context: str) -> bytes:
    info = WRAP_INFO + b"\x00" + context.encode() + b"\x00" + ephemeral + recipient
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(shared)


def wrap(dek: bytes, recipient_public: bytes, context: str) -> bytes:
    """Wrap a data key for the holder of ``recipient_public``; ``context`` (the patient) is bound in."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = public_bytes(ephemeral)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    nonce = os.urandom(NONCE_BYTES)
    key = _kek(shared, ephemeral_public, recipient_public, context)
    return ephemeral_public + nonce + AESGCM(key).encrypt(nonce, dek, context.encode())


def unwrap(wrapped: bytes, private: X25519PrivateKey, context: str) -> bytes:
    """Unwrap a data key with an organisation's private KEK, or raise DecryptError."""
    if len(wrapped) != 32 + NONCE_BYTES + KEY_BYTES + 16:
        raise DecryptError("a wrapped key has the wrong length")
    ephemeral_public, nonce, body = wrapped[:32], wrapped[32 : 32 + NONCE_BYTES], wrapped[32 + NONCE_BYTES :]
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        key = _kek(shared, ephemeral_public, public_bytes(private), context)
        return AESGCM(key).decrypt(nonce, body, context.encode())
    except (InvalidTag, ValueError):
        raise DecryptError(f"the wrapped key for {context} does not open with this organisation's key") from None
