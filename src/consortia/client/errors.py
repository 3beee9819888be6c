"""What can go wrong when a client submits or queries, as exceptions an application can act on.

Every failure the SDK reports is a :class:`GatewayError` with a machine ``code`` that classifies it and a
``message`` a person can read. The subclasses say at which step it failed: endorsement (a peer refused, or the
endorsers disagreed), ordering (the ordering service refused the envelope), validation (the transaction was
ordered but committed as invalid) or waiting for the commit.

When a contract itself refused the call (it raised :class:`~consortia.contracts.contract.ContractError`), the
error's ``code`` is ``CONTRACT_ERROR`` and ``contract_code`` carries the contract's own code — ``FORBIDDEN``,
``NOT_FOUND``, ``CONFLICT``, ``INVALID``… — so that an application never has to guess from the message text
(the gateway service turns it into an HTTP status with :func:`consortia.gateway.server.problems.problem_for`).
"""

from __future__ import annotations


class GatewayError(Exception):
    """A submission or query that did not succeed; ``code`` classifies it, the message explains."""

    def __init__(self, code: str, message: str, tx_id: str | None = None, *, contract_code: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.tx_id = tx_id
        self.contract_code = contract_code
        """The contract's own code when a contract refused the call (``FORBIDDEN``, ``NOT_FOUND``…), else None."""


class EndorsementFailed(GatewayError):
    """A peer refused to endorse (contract error, not a member, unknown contract…), or endorsers disagreed."""


class OrderingFailed(GatewayError):
    """The ordering service refused the envelope."""


class TransactionInvalid(GatewayError):
    """The transaction was ordered and committed as invalid; ``code`` is the validation code name."""

    def __init__(self, code: str, message: str, tx_id: str, block: int) -> None:
        super().__init__(code, message, tx_id)
        self.block = block


class CommitTimeout(GatewayError):
    """The transaction was submitted but its commit was not seen in time (it may still commit)."""
