"""Leader election on etcd: one lease-holding key, won by compare-and-swap, lost when the lease expires.

Each orderer holds a *session*: an etcd lease of a few seconds that it renews three times per TTL. To campaign it
runs one transaction — *if the leader key does not exist, create it with my name, attached to my lease* — and
whoever's transaction lands first leads. The leader key's ``create_revision`` is the *term*: a number no other
leadership will ever have, since revisions only grow. The leader puts ``create_revision(leader) == term`` into
every block write it makes, so a leader that was paused, partitioned or replaced can no longer write anything:
its comparison fails the moment its key is gone or re-created by someone else.

When the leader dies its renewals stop, etcd deletes its lease and with it the leader key (within the TTL), and
the others, polling the key a few times a second, campaign again. A leader that shuts down cleanly deletes the
key itself, so hand-over is immediate.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from consortia.ordering.etcd.client import Delete, EtcdClient, EtcdError, Get, Put, absent, created_at

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Leadership:
    """Who leads, at which term, and where to reach them."""

    name: str
    endpoint: str
    term: int


class Session:
    """An etcd lease kept alive by a background thread.

    ``alive`` means a renewal succeeded less than a TTL ago: only then does the holder act on what the lease
    gives it. ``lost`` means etcd said the lease is gone; only then is it replaced by a new one. Between the two
    (etcd busy electing its own leader, say) the lease is kept and renewed as soon as etcd answers again: etcd
    itself extends every lease when its leader changes, so a short etcd outage need not cost the leadership.
    """

    def __init__(self, etcd: EtcdClient, ttl: int) -> None:
        self.etcd = etcd
        self.ttl = ttl
        self.lease = 0
        self.expires_at = 0.0
        self.lost = threading.Event()
        self.lost.set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Grant a new lease (revoking the previous one, if any) and keep it alive; return its id."""
        if self.lease:
            try:
                self.etcd.lease_revoke(self.lease)  # its keys (a stale leader key) go at once
            except EtcdError as exc:
                log.info("session: could not revoke lease %x: %s", self.lease, exc)
        self.lease = self.etcd.lease_grant(self.ttl)
        self.expires_at = time.monotonic() + self.ttl
        self.lost.clear()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._keepalive, name="etcd-session", daemon=True)
            self._thread.start()
        return self.lease

    @property
    def alive(self) -> bool:
        """Whether the lease is (as far as this process knows) still held."""
        return not self.lost.is_set() and time.monotonic() < self.expires_at

    def _keepalive(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            if self.lost.is_set():
                continue
            sent = time.monotonic()
            try:
                ttl = self.etcd.lease_keepalive(self.lease)
            except EtcdError as exc:
                log.warning("session: keep-alive failed: %s", exc)
                continue
            if ttl <= 0:
                log.warning("session: lease %x expired", self.lease)
                self.lost.set()
            else:
                self.expires_at = sent + ttl

    def close(self) -> None:
        """Stop renewing and revoke the lease (deleting the keys attached to it)."""
        self._stop.set()
        if self.lease and not self.lost.is_set():
            try:
                self.etcd.lease_revoke(self.lease)
            except EtcdError as exc:
                log.info("session: revoke failed (the lease will expire): %s", exc)
        self.lost.set()


class Election:
    """Campaigns for, holds and observes the leader key; calls back on every change of leadership."""

    def __init__(
        self,
        etcd: EtcdClient,
        session: Session,
        key: bytes,
        name: str,
        endpoint: str,
        on_change: Callable[[Leadership | None, bool], None],
        *,
        poll: float = 0.2,
    ) -> None:
        self.etcd = etcd
        self.session = session
        self.key = key
        self.name = name
        self.endpoint = endpoint
        self.on_change = on_change
        self.poll = poll
        self.current: Leadership | None = None
        self._leading = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="etcd-election", daemon=True)

    @property
    def leading(self) -> bool:
        """Whether this node holds the leader key under a live session."""
        return self._leading and self.session.alive

    @property
    def term(self) -> int:
        """The term of the current leadership (0 when unknown)."""
        return self.current.term if self.current else 0

    def start(self) -> None:
        """Start campaigning and observing."""
        self._thread.start()

    def _value(self) -> bytes:
        return json.dumps({"name": self.name, "endpoint": self.endpoint}).encode()

    def _set(self, leadership: Leadership | None, leading: bool) -> None:
        changed = leadership != self.current or leading != self._leading
        self.current, self._leading = leadership, leading
        if changed:
            if leading:
                log.warning("orderer %s leads (term %d)", self.name, leadership.term if leadership else 0)
            elif leadership is not None:
                log.info("orderer %s follows %s (term %d)", self.name, leadership.name, leadership.term)
            self.on_change(leadership, leading)

    def _run(self) -> None:
        last_warning = 0.0
        while not self._stop.is_set():
            try:
                self._step()
            except EtcdError as exc:
                if time.monotonic() - last_warning > 10:  # etcd down: say so, not five times a second
                    log.warning("election: %s", exc)
                    last_warning = time.monotonic()
                if self._leading and not self.session.alive:
                    self._set(None, False)
            self._stop.wait(self.poll)

    def _step(self) -> None:
        if self.session.lost.is_set():
            if self._leading:
                self._set(None, False)
            self.session.start()
        # Observe with a (cheap, linearizable) read; campaign with a write only when the key is free.
        holder = self.etcd.get(self.key, deadline=1.0)
        if holder is None:
            if not self.session.alive:
                self._set(None, False)
                return
            result = self.etcd.txn(
                [absent(self.key)],
                [Put(self.key, self._value(), self.session.lease)],
                [Get(self.key)],
                deadline=1.0,
            )
            if result.succeeded:
                self._set(Leadership(self.name, self.endpoint, result.revision), True)
                return
            holder = result.reads[0][0] if result.reads and result.reads[0] else None
            if holder is None:
                return  # deleted between the comparison and the read: campaign again next round
        try:
            value = json.loads(holder.value)
            leadership = Leadership(str(value["name"]), str(value["endpoint"]), holder.create_revision)
        except (ValueError, KeyError, TypeError):
            leadership = Leadership("?", "", holder.create_revision)
        mine = holder.lease == self.session.lease and leadership.name == self.name
        self._set(leadership, mine and self.session.alive)

    def resign(self) -> None:
        """Stop campaigning; if leading, delete the leader key so another takes over at once."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        if self._leading and self.current is not None:
            try:
                self.etcd.txn([created_at(self.key, self.current.term)], [Delete(self.key)], deadline=1.0)
            except EtcdError as exc:
                log.info("election: could not resign cleanly: %s", exc)
        self._leading = False
