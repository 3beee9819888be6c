"""A small client of etcd's v3 API, spoken through the JSON gateway every etcd member serves.

etcd keeps an ordered, replicated key-value store: each write goes through Raft and gets a *revision*, a counter
that grows by one per write transaction across the whole store. Each key remembers the revision that created it
(``create_revision``) and last changed it (``mod_revision``). Four operations are all the ordering service needs:

* ``range`` reads a key or a range of keys — linearizable by default, so a read sees every write acknowledged
  before it;
* ``txn`` is an atomic *if–then–else*: if every comparison holds (e.g. ``create_revision(key) == 0``, "the key does
  not exist yet"), apply the success operations, else the failure ones. This compare-and-swap is how a block
  number is written at most once;
* a *lease* is a time-to-live that keys can be attached to; unless its holder keeps renewing it, etcd deletes the
  lease and its keys when it expires. This is how a dead leader is noticed;
* ``watch`` streams every change to a key range from a revision on.

Every etcd member also answers these calls as JSON over HTTP (``/v3/kv/range``, ``/v3/kv/txn``,
``/v3/lease/grant``…, keys and values base64-encoded), so no gRPC stack is needed: this client is plain httpx
(over mutual TLS when the members require client certificates: pass an SSL context with ours as ``tls``).
It knows several members' endpoints and moves to the next one when a member does not answer or has lost its
quorum. A write whose answer was lost is *ambiguous* (it may or may not have been applied):
:class:`EtcdUnavailable` says so, and callers make their writes safe to repeat (a compare-and-swap on a key that
must not exist is: the repeat fails its comparison if the first attempt landed, and the caller reads back what is
there).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

log = logging.getLogger(__name__)

_JSON = msgspec.json.Decoder()
_NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
_ENCODE = msgspec.json.Encoder()

# gRPC status codes the gateway reports (``code`` in its error documents).
_GRPC_UNAVAILABLE = 14
_GRPC_DEADLINE = 4
_GRPC_OUT_OF_RANGE = 11


class EtcdError(Exception):
    """etcd refused a request; ``code`` is the gRPC status code when it gave one."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class EtcdUnavailable(EtcdError):
    """No member answered in time (the outcome of a write sent is unknown)."""


class EtcdCompacted(EtcdError):
    """A watch or read asked for a revision that has been compacted away."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key that starts with ``prefix`` (the ``range_end`` of a prefix)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\x00"


@dataclass(frozen=True)
class KeyValue:
    """A key as etcd stores it."""

    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int

    @classmethod
    def from_json(cls, kv: dict[str, Any]) -> KeyValue:
        """Decode the gateway's JSON form."""
        return cls(
            _unb64(kv.get("key")),
            _unb64(kv.get("value")),
            int(kv.get("create_revision", 0)),
            int(kv.get("mod_revision", 0)),
            int(kv.get("version", 0)),
            int(kv.get("lease", 0)),
        )


@dataclass(frozen=True)
class Compare:
    """One comparison of a transaction: ``target`` of ``key`` compared (``result``) with ``value``."""

    key: bytes
    target: str  # CREATE, MOD, VERSION, VALUE, LEASE
    result: str  # EQUAL, GREATER, LESS, NOT_EQUAL
    value: int | bytes

    def to_json(self) -> dict[str, Any]:
        """The gateway's JSON form."""
        field_name = {"CREATE": "create_revision", "MOD": "mod_revision", "VERSION": "version", "LEASE": "lease"}
        body: dict[str, Any] = {"key": _b64(self.key), "target": self.target, "result": self.result}
        if self.target == "VALUE":
            assert isinstance(self.value, bytes)
            body["value"] = _b64(self.value)
        else:
            body[field_name[self.target]] = str(self.value)
        return body


def created_at(key: bytes, revision: int) -> Compare:
    """``create_revision(key) == revision`` (0: the key does not exist)."""
    return Compare(key, "CREATE", "EQUAL", revision)


def absent(key: bytes) -> Compare:
    """The key does not exist."""
    return created_at(key, 0)


@dataclass(frozen=True)
class Put:
    """Write ``value`` at ``key`` (attached to ``lease`` unless 0)."""

    key: bytes
    value: bytes
    lease: int = 0

    def to_json(self) -> dict[str, Any]:
        """The gateway's JSON form."""
        body: dict[str, Any] = {"key": _b64(self.key), "value": _b64(self.value)}
        if self.lease:
            body["lease"] = str(self.lease)
        return {"request_put": body}


@dataclass(frozen=True)
class Get:
    """Read ``key`` (or the range up to ``range_end``)."""

    key: bytes
    range_end: bytes = b""
    keys_only: bool = False

    def to_json(self) -> dict[str, Any]:
        """The gateway's JSON form."""
        body: dict[str, Any] = {"key": _b64(self.key)}
        if self.range_end:
            body["range_end"] = _b64(self.range_end)
        if self.keys_only:
            body["keys_only"] = True
        return {"request_range": body}


@dataclass(frozen=True)
class Delete:
    """Delete ``key`` (or the range up to ``range_end``)."""

    key: bytes
    range_end: bytes = b""

    def to_json(self) -> dict[str, Any]:
        """The gateway's JSON form."""
        body: dict[str, Any] = {"key": _b64(self.key)}
        if self.range_end:
            body["range_end"] = _b64(self.range_end)
        return {"request_delete_range": body}


@dataclass(frozen=True)
class TxnResult:
    """Whether a transaction's comparisons held, its revision, and the key-values its reads returned."""

    succeeded: bool
    revision: int
    reads: tuple[tuple[KeyValue, ...], ...] = ()


@dataclass(frozen=True)
class WatchEvent:
    """A change seen by a watch: PUT or DELETE of a key at a revision."""

    kind: str
    kv: KeyValue


@dataclass
class _Endpoint:
    url: str
    http: httpx.Client
    failures: int = 0
    down_until: float = 0.0


@dataclass
class EtcdClient:
    """Talks to an etcd cluster through any of its members' JSON gateways."""

    endpoints: Sequence[str]
    timeout: float = 5.0
    connect_timeout: float = 0.5
    tls: ssl.SSLContext | None = None
    """For ``https://`` members: the client certificate to present and the CAs the members' certificates are from."""
    _members: list[_Endpoint] = field(init=False, repr=False)
    _current: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ValueError("an etcd client needs at least one endpoint")
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        self._members = [
            _Endpoint(
                url.rstrip("/"),
                httpx.Client(
                    base_url=url.rstrip("/"),
                    timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                    transport=httpx.HTTPTransport(
                        limits=limits, socket_options=_NODELAY, verify=self.tls if self.tls is not None else True
                    ),
                ),
            )
            for url in self.endpoints
        ]

    # -- transport -------------------------------------------------------------------------------------------

    def _order(self) -> list[_Endpoint]:
        """Members to try, the current one first, members recently found down last."""
        with self._lock:
            start = self._current
        now = time.monotonic()
        rotated = self._members[start:] + self._members[:start]
        return sorted(rotated, key=lambda m: m.down_until > now)

    def _mark(self, member: _Endpoint, ok: bool) -> None:
        with self._lock:
            if ok:
                member.failures = 0
                member.down_until = 0.0
                self._current = self._members.index(member)
            else:
                member.failures += 1
                member.down_until = time.monotonic() + min(5.0, 0.5 * member.failures)

    def call(self, path: str, body: dict[str, Any], *, deadline: float | None = None) -> dict[str, Any]:
        """POST ``body`` to ``path`` on a member that answers; raise EtcdError or EtcdUnavailable."""
        stop_at = time.monotonic() + (self.timeout if deadline is None else deadline)
        payload = _ENCODE.encode(body)
        last_error = "no etcd member answered"
        while True:
            for member in self._order():
                remaining = stop_at - time.monotonic()
                budget = min(self.timeout, max(0.2, remaining))
                timeout = httpx.Timeout(budget, connect=min(self.connect_timeout, budget))
                try:
                    response = member.http.post(
                        path, content=payload, headers={"content-type": "application/json"}, timeout=timeout
                    )
                except httpx.HTTPError as exc:
                    self._mark(member, False)
                    last_error = f"{member.url}: {type(exc).__name__}: {exc}"
                    continue
                document = _JSON.decode(response.content) if response.content else {}
                if response.status_code == 200:
                    self._mark(member, True)
                    return document
                code = int(document.get("code", 0)) if isinstance(document, dict) else 0
                message = document.get("message") or document.get("error") or response.text[:200]
                if code in (_GRPC_UNAVAILABLE, _GRPC_DEADLINE) or response.status_code >= 500:
                    # No leader, lost quorum, timed out: another member may do better.
                    self._mark(member, False)
                    last_error = f"{member.url}: {message}"
                    continue
                if code == _GRPC_OUT_OF_RANGE or "compacted" in str(message):
                    raise EtcdCompacted(str(message), code)
                raise EtcdError(f"etcd refused {path}: {message}", code)
            if time.monotonic() >= stop_at:
                raise EtcdUnavailable(last_error, _GRPC_UNAVAILABLE)
            time.sleep(0.1)

    # -- key-value -------------------------------------------------------------------------------------------

    def get(self, key: bytes, *, deadline: float | None = None) -> KeyValue | None:
        """The key's current value, or None."""
        kvs, _, _ = self.range(key, deadline=deadline)
        return kvs[0] if kvs else None

    def range(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        limit: int = 0,
        keys_only: bool = False,
        descending: bool = False,
        serializable: bool = False,
        deadline: float | None = None,
    ) -> tuple[list[KeyValue], int, bool]:
        """Keys in [key, range_end) in key order: (key-values, store revision, whether more remain)."""
        body: dict[str, Any] = {"key": _b64(key)}
        if range_end:
            body["range_end"] = _b64(range_end)
        if limit:
            body["limit"] = str(limit)
        if keys_only:
            body["keys_only"] = True
        if descending:
            body["sort_order"] = "DESCEND"
            body["sort_target"] = "KEY"
        if serializable:
            body["serializable"] = True
        document = self.call("/v3/kv/range", body, deadline=deadline)
        kvs = [KeyValue.from_json(kv) for kv in document.get("kvs", ())]
        return kvs, int(document.get("header", {}).get("revision", 0)), bool(document.get("more", False))

    def put(self, key: bytes, value: bytes, *, lease: int = 0) -> int:
        """Write a key; return the store revision of the write."""
        document = self.call("/v3/kv/put", Put(key, value, lease).to_json()["request_put"])
        return int(document.get("header", {}).get("revision", 0))

    def delete_range(self, key: bytes, range_end: bytes = b"") -> tuple[int, int]:
        """Delete keys in [key, range_end): (number deleted, store revision)."""
        document = self.call("/v3/kv/deleterange", Delete(key, range_end).to_json()["request_delete_range"])
        return int(document.get("deleted", 0)), int(document.get("header", {}).get("revision", 0))

    def txn(
        self,
        compare: Sequence[Compare],
        success: Sequence[Put | Get | Delete],
        failure: Sequence[Put | Get | Delete] = (),
        *,
        deadline: float | None = None,
    ) -> TxnResult:
        """Atomically: if every comparison holds apply ``success``, else ``failure``."""
        document = self.call(
            "/v3/kv/txn",
            {
                "compare": [c.to_json() for c in compare],
                "success": [op.to_json() for op in success],
                "failure": [op.to_json() for op in failure],
            },
            deadline=deadline,
        )
        reads = []
        for response in document.get("responses", ()):
            ranged = response.get("response_range")
            if ranged is not None:
                reads.append(tuple(KeyValue.from_json(kv) for kv in ranged.get("kvs", ())))
        return TxnResult(
            bool(document.get("succeeded", False)), int(document.get("header", {}).get("revision", 0)), tuple(reads)
        )

    def compact(self, revision: int) -> None:
        """Discard the history of every key before ``revision`` (current values are kept)."""
        with contextlib.suppress(EtcdCompacted):  # already compacted further
            self.call("/v3/kv/compaction", {"revision": str(revision)})

    # -- leases ----------------------------------------------------------------------------------------------

    def lease_grant(self, ttl: int) -> int:
        """A new lease of ``ttl`` seconds; return its id."""
        document = self.call("/v3/lease/grant", {"TTL": str(ttl)})
        if document.get("error"):
            raise EtcdError(f"lease grant: {document['error']}")
        return int(document["ID"])

    def lease_keepalive(self, lease: int) -> int:
        """Renew a lease; return its remaining TTL in seconds (0: it has expired)."""
        document = self.call("/v3/lease/keepalive", {"ID": str(lease)}, deadline=1.0)
        return int(document.get("result", {}).get("TTL", 0))

    def lease_revoke(self, lease: int) -> None:
        """End a lease now, deleting its keys."""
        try:
            self.call("/v3/lease/revoke", {"ID": str(lease)}, deadline=1.0)
        except EtcdError as exc:
            if "not found" not in str(exc):
                raise

    # -- watching --------------------------------------------------------------------------------------------

    def watch(
        self, key: bytes, range_end: bytes, start_revision: int, *, idle: float = 2.0
    ) -> Iterator[tuple[int, list[WatchEvent]]]:
        """Changes in [key, range_end) from ``start_revision``: (revision, events) per notification.

        The iterator ends when the stream has been idle for ``idle`` seconds or the member went away; the
        caller resumes from the last revision it saw (possibly on another member). Raises EtcdCompacted when
        ``start_revision`` has been compacted away.
        """
        request = {
            "create_request": {"key": _b64(key), "range_end": _b64(range_end), "start_revision": str(start_revision)}
        }
        for member in self._order():
            timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout, read=idle)
            try:
                with member.http.stream("POST", "/v3/watch", content=_ENCODE.encode(request), timeout=timeout) as resp:
                    if resp.status_code != 200:
                        self._mark(member, False)
                        continue
                    self._mark(member, True)
                    for line in resp.iter_lines():
                        if not line.strip():
                            continue
                        document = _JSON.decode(line)
                        result = document.get("result")
                        if result is None:
                            error = document.get("error", {})
                            raise EtcdError(f"watch: {error.get('message', error)}")
                        if int(result.get("compact_revision", 0)):
                            raise EtcdCompacted(f"watch start {start_revision} compacted", _GRPC_OUT_OF_RANGE)
                        if result.get("canceled"):
                            return
                        events = [
                            WatchEvent(event.get("type", "PUT"), KeyValue.from_json(event.get("kv", {})))
                            for event in result.get("events", ())
                        ]
                        if events:
                            yield int(result.get("header", {}).get("revision", 0)), events
                return
            except httpx.ReadTimeout:
                return
            except httpx.HTTPError:
                self._mark(member, False)
                continue
        time.sleep(0.2)

    def close(self) -> None:
        """Close the connections."""
        for member in self._members:
            member.http.close()
