"""
Key Store
^^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

Certificates and private keys live on disk as PEM files, in the layout
Fabric's tools use: one directory per identity holding its certificate and its
key. A private key is the identity itself (whoever reads it can sign as its
owner), so key files are created readable by their owner only (mode ``0600``)
*before* any byte is written, and every file is replaced atomically: a reader,
or a crash, sees the old file or the new one, never half of one.

Private keys are PKCS #8 PEM, unencrypted unless a password is given, in which
case they are encrypted with the best scheme the ``cryptography`` library
offers.
"""

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PRIVATE_FILE_MODE = 0o600
"""Owner read/write only: the mode of every private key file."""

PUBLIC_FILE_MODE = 0o644
"""The mode certificates are created with (before the process umask applies)."""


def write_public_file(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, readable by everyone (certificates)."""
    _write_atomically(path, data, PUBLIC_FILE_MODE, exact_mode=False)


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, readable by its owner only (private keys)."""
    _write_atomically(path, data, PRIVATE_FILE_MODE, exact_mode=True)


def encode_private_key(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """Return an Ed25519 private key as PKCS #8 PEM, encrypted with `password` when one is given."""
    encryption: serialization.KeySerializationEncryption
    encryption = serialization.NoEncryption() if password is None else serialization.BestAvailableEncryption(password)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def read_private_key(path: Path, password: bytes | None = None) -> Ed25519PrivateKey:
    """Return the Ed25519 private key stored at `path`; raise `ValueError` saying why it cannot be read."""
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as error:
        # TypeError is how `cryptography` reports a password given for a plain key, or missing for an
        # encrypted one: to the caller both are simply an unreadable key file.
        raise ValueError(f"cannot read private key {path}: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"private key {path} is an {type(key).__name__}, not an Ed25519 key")
    return key


def _write_atomically(path: Path, data: bytes, mode: int, *, exact_mode: bool) -> None:
    """Write `data` to a fresh temporary file beside `path`, then rename it over `path`."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # The mode is given to open(2), so the file never exists with looser permissions, not even empty.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        if exact_mode:
            # The umask may only narrow the mode; pin it so a key file is always exactly 0600.
            os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            descriptor = -1
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if descriptor >= 0:
            os.close(descriptor)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable, where the platform allows it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename itself is still atomic
    finally:
        os.close(descriptor)
