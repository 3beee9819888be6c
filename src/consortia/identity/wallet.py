"""The wallet: identities that people log in to, their keys encrypted under their own passwords.

Programs hold their own keys and sign their own requests. People log in with a password instead, and the server
signs on their behalf — but it never holds their keys in the clear at rest: each key is stored as PKCS #8,
encrypted under the user's password (``cryptography``'s best available scheme), next to an Argon2id hash of the
password for fast refusal of wrong ones. The key is decrypted at login and lives only in that session's memory.

A person's certificate is renewed in place (:meth:`Wallet.replace`): the new key is encrypted under the same
password (which the person must give), and the certificate it replaces stays readable as ``previous-cert.pem``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error, InvalidHashError

from consortia.identity.signing import SigningIdentity, replace_identity

_HASHER = PasswordHasher()
USERS_FILE = "users.json"


class WalletError(Exception):
    """A login that cannot succeed (unknown user or wrong password); deliberately not saying which."""


@dataclass(frozen=True)
class WalletUser:
    """A person's account: organisation, user name, identity kind and role, password hash."""

    org: str
    name: str
    kind: str
    role: str | None
    password_hash: str

    @property
    def username(self) -> str:
        """``org/name``, as typed at login."""
        return f"{self.org}/{self.name}"


class Wallet:
    """The accounts of people who log in to the gateway, stored in a folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def _users_path(self) -> Path:
        return self.directory / USERS_FILE

    def users(self) -> dict[str, WalletUser]:
        """All accounts by ``org/name``."""
        path = self._users_path()
        if not path.exists():
            return {}
        raw = json.loads(path.read_text())
        return {key: WalletUser(**value) for key, value in raw.items()}

    def add(self, identity: SigningIdentity, password: str) -> WalletUser:
        """Store an identity for a person, its key encrypted under ``password``."""
        if len(password) < 8:
            raise ValueError("a password must have at least 8 characters")
        user = WalletUser(
            identity.org, identity.name, identity.kind.value, identity.info.role(), _HASHER.hash(password)
        )
        identity.save(self.directory / identity.org / identity.name, password=password.encode())
        with self._lock:
            users = self.users()
            users[user.username] = user
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self._users_path().with_suffix(".tmp")
            tmp.write_text(json.dumps({k: vars(v) for k, v in users.items()}, indent=2))
            tmp.replace(self._users_path())
        return user

    def login(self, username: str, password: str) -> tuple[WalletUser, SigningIdentity]:
        """Check a password and decrypt the user's signing identity; WalletError if either fails."""
        user = self.users().get(username)
        if user is None:
            _HASHER.hash(password)  # spend the same time as a real check, so names cannot be probed
            raise WalletError("unknown user or wrong password")
        try:
            _HASHER.verify(user.password_hash, password)
        except (Argon2Error, InvalidHashError):
            raise WalletError("unknown user or wrong password") from None
        try:
            identity = SigningIdentity.load(self.directory / user.org / user.name, password=password.encode())
        except (OSError, ValueError) as exc:
            raise WalletError(f"the wallet entry of {username} cannot be opened: {exc}") from None
        return user, identity

    def replace(self, identity: SigningIdentity, password: str) -> bytes | None:
        """Put a renewed identity in a person's entry, under their password; return the certificate it replaced.

        WalletError if the person has no entry or the password is not theirs: a renewal never changes a password.
        """
        username = f"{identity.org}/{identity.name}"
        user = self.users().get(username)
        if user is None:
            raise WalletError(f"{username} has no wallet entry to renew")
        try:
            _HASHER.verify(user.password_hash, password)
        except (Argon2Error, InvalidHashError):
            raise WalletError(f"the password given is not {username}'s") from None
        if identity.kind.value != user.kind:
            raise WalletError(f"{username} is a {user.kind}; the renewed certificate says {identity.kind.value}")
        with self._lock:
            return replace_identity(self.directory / user.org / user.name, identity, password=password.encode())
