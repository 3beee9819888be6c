"""HTTP between nodes: MessagePack bodies, every request signed by the sender's identity.

Nodes of a cluster — peers, orderers, and the clients that use them — talk HTTP/1.1 with keep-alive, over mutual
TLS 1.3 when the node has TLS settings (``https://`` endpoints, see :class:`NodeTls`): the server requires a
client certificate issued by the TLS CA of an organisation of its channels, so a stranger's connection fails in
the handshake, before any HTTP is read, and everything on the wire — private data included — is encrypted. A
request body is a MessagePack document (msgspec structs, see :mod:`consortia.node.messages`); every request
carries the ``Authorization`` header of :mod:`consortia.client.request_signing`: the sender's certificate, a
timestamp, and its Ed25519 signature over method, path, timestamp and the SHA-256 of the body. The receiver
checks the certificate against the CAs of the organisations of its channels and that the sender is of a kind the
route admits (a peer pulling blocks, an orderer forwarding envelopes, a client asking for an endorsement), so
a node never acts on a request it cannot attribute. Answers are not signed: what matters in them — blocks,
endorsements — carries its own signatures.

The server is the standard library's threading HTTP server (one thread per connection): the work behind a
request is CPU-bound Python that holds the GIL anyway, and long polls (blocks, events) simply park a thread.
The client keeps one connection per thread and endpoint.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import msgspec

from consortia.client.request_signing import AuthError, NonceCache, authorization_header, verify_request
from consortia.identity import CertInfo, Kind, Membership, SigningIdentity
from consortia.identity.tls import TlsIdentity, client_context, server_context

log = logging.getLogger(__name__)

T = TypeVar("T")

MSGPACK = "application/msgpack"
JSON = "application/json"
MAX_BODY = 64 << 20

_ENCODER = msgspec.msgpack.Encoder()


class NodeError(Exception):
    """A node answered with an error, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, message: str, endpoint: str = "") -> None:
        super().__init__(f"{endpoint}: {message}" if endpoint else message)
        self.status = status
        self.message = message
        self.endpoint = endpoint


class HttpError(Exception):
    """Raised by a route to answer with an error status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Request:
    """An authenticated request as a route sees it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: bytes
    caller: CertInfo | None

    def arg(self, name: str, default: int) -> int:
        """An integer query parameter (400 if it is not one)."""
        value = self.query.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise HttpError(400, f"query parameter {name!r} must be an integer") from None

    def decode(self, kind: type[T]) -> T:
        """The MessagePack body as ``kind`` (400 if it is not)."""
        try:
            return msgspec.msgpack.decode(self.body, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise HttpError(400, f"malformed request body: {exc}") from None


@dataclass(frozen=True)
class Reply:
    """What a route answers."""

    body: bytes = b""
    status: int = 200
    content_type: str = MSGPACK


def msgpack_reply(value: Any) -> Reply:
    """A MessagePack answer."""
    return Reply(_ENCODER.encode(value))


def json_reply(value: Any, status: int = 200) -> Reply:
    """A JSON answer (status documents people read with curl)."""
    return Reply(json.dumps(value, default=str).encode(), status, JSON)


Handler = Callable[[Request], Reply]

NODE_KINDS = frozenset({Kind.PEER, Kind.ORDERER})
CLIENT_KINDS = frozenset({Kind.CLIENT, Kind.ADMIN})
ANY_KIND = NODE_KINDS | CLIENT_KINDS


@dataclass(frozen=True)
class Route:
    """A method and path pattern (``{name}`` segments), its handler, and who may call it (None: anyone)."""

    method: str
    pattern: str
    handler: Handler
    kinds: frozenset[Kind] | None = ANY_KIND
    regex: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern)
        object.__setattr__(self, "regex", re.compile(f"^{regex}$"))


class NodeTls:
    """A node's (or client's) TLS certificate and the TLS CAs it trusts, as server and client SSL contexts.

    The trusted CAs change when a configuration update adds or removes an organisation; ``ssl`` can only add
    to a context's trust, so :meth:`trust` builds new contexts, which the next connection uses (connections
    already open keep the peer they authenticated).
    """

    def __init__(self, identity: TlsIdentity | None, cas: Sequence[bytes]) -> None:
        self.identity = identity
        self._lock = threading.Lock()
        self._client: ssl.SSLContext | None = None
        self._server: ssl.SSLContext | None = None
        self.cas: tuple[bytes, ...] = ()
        self.trust(cas)

    def trust(self, cas: Sequence[bytes]) -> None:
        """Trust exactly ``cas`` (PEM or DER TLS CA certificates) from the next connection on."""
        unique = tuple(dict.fromkeys(cas))
        if unique == self.cas and self._client is not None:
            return
        client = client_context(self.identity, unique)
        server = server_context(self.identity, unique) if self.identity is not None else None
        with self._lock:
            self.cas, self._client, self._server = unique, client, server

    def client_context(self) -> ssl.SSLContext:
        """The context connections this side opens use."""
        with self._lock:
            assert self._client is not None
            return self._client

    def server_context(self) -> ssl.SSLContext:
        """The context accepted connections use (ValueError without a certificate of our own)."""
        with self._lock:
            if self._server is None:
                raise ValueError("a TLS server needs a certificate and key")
            return self._server


HANDSHAKE_TIMEOUT = 10.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    routes: Sequence[Route]
    members: Membership
    nonces: NonceCache
    tls: NodeTls | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self.tls is None:
            return sock, address
        # The handshake runs in the connection's own thread (finish_request), so a slow or hostile client
        # cannot hold up the accept loop.
        wrapped = self.tls.server_context().wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            try:
                request.settimeout(HANDSHAKE_TIMEOUT)
                request.do_handshake()
                request.settimeout(None)
            except (ssl.SSLError, OSError) as exc:
                # A certificate of no member organisation, no certificate, or plain HTTP: nothing is read.
                log.info("TLS handshake with %s refused: %s", client_address, exc)
                return
        super().finish_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: do not hold the second back
    server: _Server

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _handle(self, method: str) -> None:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send(json_reply({"error": f"request body must be at most {MAX_BODY} bytes"}, 413))
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        try:
            reply = self._dispatch(method, url.path, dict(parse_qsl(url.query)), body)
        except HttpError as exc:
            reply = json_reply({"error": exc.message}, exc.status)
        except Exception as exc:  # a bug behind a route: answer 500, keep serving
            log.exception("%s %s failed", method, url.path)
            reply = json_reply({"error": f"internal error: {type(exc).__name__}: {exc}"}, 500)
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _dispatch(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        allowed = False
        for route in self.server.routes:
            match = route.regex.match(path)
            if match is None:
                continue
            allowed = True
            if route.method != method:
                continue
            caller = None
            if route.kinds is not None:
                header = self.headers.get("authorization")
                if not header:
                    raise HttpError(401, "sign the request (Authorization: Consortia-Ed25519 …)")
                try:
                    caller = verify_request(
                        header,
                        method,
                        self.path,
                        body,
                        self.server.members,
                        kinds=route.kinds,
                        nonces=self.server.nonces,
                    )
                except AuthError as exc:
                    raise HttpError(401, exc.message) from None
            return route.handler(Request(method, path, match.groupdict(), query, body, caller))
        if allowed:
            raise HttpError(405, f"{method} is not allowed on {path}")
        raise HttpError(404, f"no route for {path}")


class NodeServer:
    """Serves routes on ``host:port`` from a background thread."""

    def __init__(
        self,
        host: str,
        port: int,
        routes: Sequence[Route],
        members: Membership,
        *,
        tls: NodeTls | None = None,
        tls_cas: Callable[[], Sequence[bytes]] | None = None,
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.routes = routes
        self._server.members = members
        self._server.nonces = NonceCache()
        self._server.tls = tls
        self._tls_cas = tls_cas
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def tls(self) -> NodeTls | None:
        """The server's TLS settings (None: plain HTTP)."""
        return self._server.tls

    def use_members(self, members: Membership) -> None:
        """Authenticate requests against ``members`` from now on (a configuration update changed who belongs).

        With TLS, the handshake's trust follows too: ``tls_cas`` gives the TLS CAs of the configurations now in
        force, and the next connection is checked against exactly those.
        """
        self._server.members = members
        if self._server.tls is not None and self._tls_cas is not None:
            self._server.tls.trust(self._tls_cas())

    @property
    def port(self) -> int:
        """The port listened on (useful when 0 was asked for)."""
        return self._server.server_address[1]

    def start(self) -> None:
        """Start serving."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


class NodeClient:
    """Signed requests to one node, over one keep-alive connection per calling thread."""

    def __init__(
        self, endpoint: str, identity: SigningIdentity | None, *, timeout: float = 10.0, tls: NodeTls | None = None
    ) -> None:
        url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        if url.scheme not in ("http", "https") or not url.hostname or not url.port:
            raise ValueError(f"node endpoint {endpoint!r} is not http://host:port or https://host:port")
        if url.scheme == "https" and tls is None:
            raise ValueError(f"node endpoint {endpoint!r} is https: give the TLS settings (certificate, trusted CAs)")
        self.endpoint = f"{url.scheme}://{url.hostname}:{url.port}"
        self.host, self.port = url.hostname, url.port
        self.identity = identity
        self.timeout = timeout
        self.tls = tls if url.scheme == "https" else None
        self._local = threading.local()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        if self.tls is not None:
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self.tls.client_context()
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self._local.conn = conn
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(self, method: str, path: str, body: bytes = b"", *, timeout: float | None = None) -> tuple[int, bytes]:
        """Send a signed request; return (status, body). Raises NodeError(0) when the node cannot be reached."""
        headers = {"content-type": MSGPACK}
        for attempt in (1, 2):
            if self.identity is not None:
                # Signed anew for each attempt: the server refuses a nonce it has seen, even on a retry.
                headers["authorization"] = authorization_header(self.identity, method, path, body)
            conn, reused = self._connection()
            try:
                conn.timeout = timeout or self.timeout
                if conn.sock is not None:
                    conn.sock.settimeout(conn.timeout)
                conn.request(method, path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.will_close:
                    self._drop()
                return response.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop()
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection: try once on a fresh one
                raise NodeError(0, f"connection lost: {exc}", self.endpoint) from None
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                self._drop()
                raise NodeError(0, f"{type(exc).__name__}: {exc}", self.endpoint) from None
        raise NodeError(0, "unreachable", self.endpoint)

    def call(
        self,
        method: str,
        path: str,
        value: Any = None,
        *,
        reply: type[T] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send ``value`` as MessagePack; decode the answer as ``reply`` (raises NodeError on an error status)."""
        body = b"" if value is None else _ENCODER.encode(value)
        status, data = self.request(method, path, body, timeout=timeout)
        if status >= 400:
            try:
                message = json.loads(data).get("error", "")
            except ValueError:
                message = data[:200].decode(errors="replace")
            raise NodeError(status, message or f"HTTP {status}", self.endpoint)
        try:
            if reply is None:
                return msgspec.msgpack.decode(data) if data else None
            return msgspec.msgpack.decode(data, type=reply)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise NodeError(502, f"malformed answer: {exc}", self.endpoint) from None

    def get_json(self, path: str, *, timeout: float | None = None) -> Any:
        """GET a JSON document."""
        status, data = self.request("GET", path, timeout=timeout)
        if status >= 400:
            raise NodeError(status, data[:200].decode(errors="replace"), self.endpoint)
        return json.loads(data)

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        self._drop()
