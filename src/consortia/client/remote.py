"""A program's client of a remote gateway service: signed HTTP requests, keys never leave the program.

``RemoteClient(url, identity)`` signs every request (see :mod:`consortia.client.request_signing`). Submitting is the
two-step dance of Fabric's gateway: the program signs a proposal, the service has peers endorse it and returns the
transaction, the program signs that into an envelope, and the service orders it and waits for the commit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from consortia.client.errors import GatewayError
from consortia.client.proposal import build_proposal
from consortia.client.request_signing import authorization_header
from consortia.identity import SigningIdentity
from consortia.ledger.encoding import encode
from consortia.ledger.transaction import ENVELOPE_TRANSACTION, Envelope


class RemoteError(GatewayError):
    """The service answered with a problem document (or could not be reached)."""

    def __init__(
        self, status: int, code: str, message: str, tx_id: str | None = None, *, contract_code: str | None = None
    ) -> None:
        super().__init__(code, message, tx_id, contract_code=contract_code)
        self.status = status


class RemoteClient:
    """Talks to a Consortia gateway service as one identity (or anonymously, for public reads)."""

    def __init__(self, url: str, identity: SigningIdentity | None = None, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.identity = identity
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send a (signed) request; return the JSON answer or raise RemoteError with the problem detail."""
        content = b"" if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if body is not None else {}
        request = self._http.build_request(method, path, content=content or None, headers=headers)
        if self.identity is not None:
            # Sign the target exactly as it goes on the wire (percent-encoded), which is what the server verifies.
            target = request.url.raw_path.decode("latin-1")
            request.headers["authorization"] = authorization_header(self.identity, method, target, content)
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise RemoteError(0, "UNREACHABLE", f"cannot reach {self.url}: {exc}") from None
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:200]}
            raise RemoteError(
                response.status_code,
                problem.get("code") or f"HTTP_{response.status_code}",
                problem.get("detail", "request failed"),
                problem.get("tx_id"),
                contract_code=problem.get("contract_code"),
            )
        return response.json()

    def get(self, path: str) -> Any:
        """GET a JSON resource."""
        return self.request("GET", path)

    def _require_identity(self) -> SigningIdentity:
        if self.identity is None:
            raise RemoteError(0, "NO_IDENTITY", "this call needs an identity (certificate and key)")
        return self.identity

    def evaluate(
        self,
        channel: str,
        contract: str,
        function: str,
        args: Sequence[Any] = (),
        transient: Mapping[str, bytes] | None = None,
    ) -> Any:
        """Evaluate a query (signed proposal; anonymous calls work for public functions)."""
        path = f"/api/channels/{channel}/contracts/{contract}/evaluate"
        if self.identity is None:
            return self.request("POST", path, {"function": function, "args": list(args)})["result"]
        prepared = build_proposal(self.identity, channel, contract, function, args, transient)
        body = {
            "signed_proposal": base64.b64encode(prepared.signed).decode(),
            "transient": {k: base64.b64encode(v).decode() for k, v in prepared.transient.items()},
        }
        return self.request("POST", path, body)["result"]

    def submit(
        self,
        channel: str,
        contract: str,
        function: str,
        args: Sequence[Any] = (),
        transient: Mapping[str, bytes] | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Endorse, sign, order and wait for a transaction; return tx_id, block, validation_code, result."""
        identity = self._require_identity()
        prepared = build_proposal(identity, channel, contract, function, args, transient)
        base = f"/api/channels/{channel}/contracts/{contract}"
        endorsed = self.request(
            "POST",
            f"{base}/endorse",
            {
                "signed_proposal": base64.b64encode(prepared.signed).decode(),
                "transient": {k: base64.b64encode(v).decode() for k, v in prepared.transient.items()},
            },
        )
        transaction = base64.b64decode(endorsed["transaction"])
        envelope = encode(Envelope(ENVELOPE_TRANSACTION, transaction, identity.sign(transaction)))
        return self.request(
            "POST",
            f"{base}/submit",
            {
                "envelope": base64.b64encode(envelope).decode(),
                "timeout_s": timeout,
            },
        )
