"""Login throttling: password guessing is slowed per account and per client address.

Each failed login is remembered for a window; an account (or an address) with too many failures in the window
is refused with 429 and told when to try again, before the password is even checked — so a locked-out guesser
learns nothing, and Argon2's cost is not paid for them. A successful login clears the account's failures.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True)
class Refusal:
    """Why a login attempt is refused now, and in how many seconds to try again."""

    reason: str
    retry_after_s: int


class LoginThrottle:
    """Failed logins per account and per address within a sliding window."""

    def __init__(
        self,
        window_s: float = WINDOW_SECONDS,
        per_account: int = MAX_FAILURES_PER_ACCOUNT,
        per_address: int = MAX_FAILURES_PER_ADDRESS,
    ) -> None:
        self.window_s = window_s
        self.per_account = per_account
        self.per_address = per_address
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def check(self, account: str, address: str, now: float | None = None) -> Refusal | None:
        """A refusal if the account or the address has too many recent failures, else None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key, limit, what in (
                (f"account:{account.lower()}", self.per_account, f"account {account}"),
                (f"address:{address}", self.per_address, "your address"),
            ):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = int(times[0] + self.window_s - now) + 1
                    return Refusal(f"too many failed logins for {what}: try again in {wait} s", wait)
        return None

    def failed(self, account: str, address: str, now: float | None = None) -> None:
        """Remember a failed login."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in (f"account:{account.lower()}", f"address:{address}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, account: str) -> None:
        """Forget an account's failures after a successful login."""
        with self._lock:
            self._failures.pop(f"account:{account.lower()}", None)
