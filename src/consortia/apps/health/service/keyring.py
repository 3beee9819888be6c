"""Organisations' key-encryption keys, as each organisation would keep them (here: files in the data folder).

Each organisation of the ``health`` channel holds an X25519 private key (:mod:`.crypto`) and registers the public
half on the ledger, so that a patient's data key can be wrapped for it. In production the private key lives in
the organisation's HSM or key management service and never leaves it; in the embedded network, where every
organisation's services share one process, the keys are files ``health/keks/<org>.key`` (mode 0600) in the
data folder, one per organisation, read only by the service acting for that organisation. The custodian also
has a symmetric *vault key* (``<org>.vault``) under which it keeps its own copies of patients' data keys.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from consortia.apps.health.service import crypto


class KeyringError(Exception):
    """An organisation without a key, or a key file that cannot be read."""


class Keyring:
    """The KEK files of the organisations served from this data folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, X25519PrivateKey] = {}
        self._lock = threading.Lock()

    def _path(self, org: str) -> Path:
        if not org or "/" in org or org.startswith("."):
            raise KeyringError(f"bad organisation name {org!r}")
        return self.directory / f"{org}.key"

    def ensure(self, org: str) -> bytes:
        """Create ``org``'s key pair if it has none; return its public key."""
        with self._lock:
            path = self._path(org)
            if not path.exists():
                self.directory.mkdir(parents=True, exist_ok=True)
                key = crypto.new_kek()
                tmp = path.with_suffix(".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(crypto.private_bytes(key))
                tmp.replace(path)
        return crypto.public_bytes(self.private(org))

    def vault_key(self, org: str) -> bytes:
        """``org``'s symmetric vault key (created on first use)."""
        with self._lock:
            path = self._path(org).with_suffix(".vault")
            if not path.exists():
                self.directory.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(crypto.new_data_key())
                tmp.replace(path)
            key = path.read_bytes()
            if len(key) != crypto.KEY_BYTES:
                raise KeyringError(f"the vault key of {org} is damaged")
            return key

    def private(self, org: str) -> X25519PrivateKey:
        """``org``'s private KEK."""
        with self._lock:
            key = self._cache.get(org)
            if key is None:
                try:
                    raw = self._path(org).read_bytes()
                    key = X25519PrivateKey.from_private_bytes(raw)
                except FileNotFoundError:
                    raise KeyringError(f"{org} has no key-encryption key in {self.directory}") from None
                except ValueError:
                    raise KeyringError(f"the key file of {org} is damaged") from None
                self._cache[org] = key
            return key

    def public(self, org: str) -> bytes:
        """``org``'s public KEK."""
        return crypto.public_bytes(self.private(org))
