"""What every ordering service offers: accept envelopes, hand out blocks.

Peers and clients talk to the ordering service through this interface, whether it runs in the same process
(:mod:`consortia.ordering.solo`) or as a replicated cluster (a later ``etcd`` implementation): ``broadcast``
accepts a signed envelope for a channel or refuses it with a reason; ``deliver`` yields the channel's blocks from
a given number on, waiting for new ones, until told to stop.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator


class OrderingError(Exception):
    """The ordering service refused an envelope or a request; ``status`` is an HTTP-like status code.

    ``reason`` is a validation code's name when there is one (a refused configuration update says
    ``CONFIG_POLICY_FAILURE`` or ``CONFIG_REJECTED``), else empty.
    """

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason

    @classmethod
    def answered(cls, status: int, message: str) -> OrderingError:
        """The error for a refusal received as text; a leading ``CODE:`` (``CONFIG_REJECTED: …``) is its reason."""
        head, sep, _ = message.partition(":")
        reason = head if sep and head.isupper() and head.replace("_", "").isalpha() else ""
        return cls(status, message, reason)


class OrderingService(ABC):
    """The interface of an ordering service."""

    @abstractmethod
    def broadcast(self, channel: str, envelope: bytes) -> None:
        """Accept an envelope for ordering on ``channel`` (raises OrderingError)."""

    @abstractmethod
    def deliver(
        self, channel: str, start: int, stop: threading.Event | None = None, reader: str | None = None
    ) -> Iterator[bytes]:
        """Yield the channel's blocks (canonical bytes) from number ``start`` on, waiting for new ones.

        With ``reader`` (an organisation), delivery stops (OrderingError 403) once it is no longer a member.
        """

    @abstractmethod
    def height(self, channel: str) -> int:
        """Number of blocks the service has cut on ``channel``."""

    @abstractmethod
    def close(self) -> None:
        """Stop cutting blocks and release resources."""
