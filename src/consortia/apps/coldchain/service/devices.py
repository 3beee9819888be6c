"""Which lots a temperature logger watches, and when: the ledger's AssociationEvents, cached for the ingester.

A logger publishes under a short id (``LG-007``); on the ledger it is an individual asset, GIAI
``urn:epc:id:giai:8809012.LG-007`` (canonical ``https://id.gs1.org/8004/8809012LG-007``), and AssociationEvents
add it to and remove it from lots and containers. :class:`DeviceRegistry` keeps those intervals in memory,
fetched from the contract and refetched when a reading names a device it does not know (at most once a second),
so a logger associated a moment ago is recognised without restarting anything. A device never associated is
*unknown*: its readings are kept aside, not anchored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consortia.apps.coldchain.domain import gs1
from consortia.apps.coldchain.domain.facts import DEVICE_PREFIX


@dataclass(frozen=True)
class Interval:
    """A stretch of time a device watched some lots (``end_ms`` None: still does)."""

    start_ms: int
    end_ms: int | None
    lots: tuple[str, ...]
    read_point: str | None

    def overlaps(self, start_ms: int, end_ms: int) -> bool:
        """Whether the interval overlaps [start, end)."""
        return self.start_ms < end_ms and (self.end_ms is None or self.end_ms > start_ms)


class DeviceRegistry:
    """Device intervals by MQTT device id, refreshed from the ledger on demand."""

    def __init__(
        self,
        fetch: Callable[[], dict[str, list[dict[str, Any]]]],
        company_prefix: str = DEVICE_PREFIX,
        min_refresh_seconds: float = 1.0,
    ) -> None:
        self._fetch = fetch
        self.company_prefix = company_prefix
        self.min_refresh_seconds = min_refresh_seconds
        self._intervals: dict[str, list[Interval]] = {}
        self._last_refresh = 0.0
        self._lock = threading.Lock()

    def uri(self, device: str) -> str:
        """The canonical Digital Link of a device id."""
        return f"{gs1.CANONICAL_DOMAIN}/8004/{self.company_prefix}{device}"

    def giai(self, device: str) -> str:
        """The EPC URI (GIAI) of a device id."""
        return gs1.giai_urn(self.company_prefix, device)

    def _token(self, uri: str) -> str | None:
        prefix = f"{gs1.CANONICAL_DOMAIN}/8004/{self.company_prefix}"
        return uri[len(prefix) :] if uri.startswith(prefix) else None

    def refresh(self, force: bool = False) -> set[str]:
        """Refetch the intervals (unless done less than a second ago); return the devices newly known."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last_refresh < self.min_refresh_seconds:
                return set()
            self._last_refresh = now
        fetched = self._fetch()
        intervals: dict[str, list[Interval]] = {}
        for uri, rows in fetched.items():
            token = self._token(uri)
            if token is None:
                continue
            intervals[token] = [
                Interval(row["from"], row.get("to"), tuple(row.get("lots") or ()), row.get("readPoint")) for row in rows
            ]
        with self._lock:
            new = set(intervals) - set(self._intervals)
            self._intervals = intervals
        return new

    def known(self, device: str) -> bool:
        """Whether any AssociationEvent named the device (refetching once if not)."""
        if device in self._intervals:
            return True
        self.refresh()
        return device in self._intervals

    def devices(self) -> list[str]:
        """Every known device id."""
        return sorted(self._intervals)

    def lots(self, device: str, start_ms: int, end_ms: int) -> tuple[str, ...]:
        """Lots the device watched at some time in [start, end)."""
        found: dict[str, None] = {}
        for interval in self._intervals.get(device, ()):
            if interval.overlaps(start_ms, end_ms):
                found.update(dict.fromkeys(interval.lots))
        return tuple(sorted(found))

    def read_point(self, device: str, start_ms: int, end_ms: int) -> str | None:
        """Where the device was during [start, end), if an association says."""
        for interval in self._intervals.get(device, ()):
            if interval.overlaps(start_ms, end_ms) and interval.read_point:
                return interval.read_point
        return None
