"""What peer and orderer nodes share: who they trust, who may read a channel, and their status document."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping

from consortia.identity import CertInfo, Membership
from consortia.ledger.config import ChannelConfig
from consortia.node.transport import HttpError, NodeServer, Request


def node_membership(configs: Mapping[str, ChannelConfig]) -> Membership:
    """Every organisation a node's channels name — members and ordering organisations — by their CAs."""
    cas: dict[str, tuple[bytes, ...]] = {}
    for config in configs.values():
        for org in (*config.organisations, *config.orderer.organisations):
            cas.setdefault(org.msp_id, org.ca_certificates)
    return Membership(cas)


def channel_readers(config: ChannelConfig) -> frozenset[str]:
    """Organisations that may read a channel's blocks and events from a node: members and orderers."""
    return frozenset(config.org_ids()) | frozenset(org.msp_id for org in config.orderer.organisations)


def require_reader(request: Request, configs: Mapping[str, ChannelConfig], channel: str) -> ChannelConfig:
    """The channel's configuration; 404 if the node does not serve it, 403 if the caller may not read it."""
    config = configs.get(channel)
    if config is None:
        raise HttpError(404, f"this node does not serve channel {channel!r}")
    caller: CertInfo | None = request.caller
    if caller is not None and caller.org not in channel_readers(config):
        raise HttpError(403, f"{caller.org} is not a member of channel {channel!r}")
    return config


def base_status(name: str, role: str, org: str, endpoint: str, started: float) -> dict[str, object]:
    """The fields every node's status starts with."""
    return {
        "name": name,
        "role": role,
        "org": org,
        "pid": os.getpid(),
        "endpoint": endpoint,
        "uptime_s": round(time.monotonic() - started, 1),
    }


def follow_configs(
    configs: dict[str, ChannelConfig],
    current: Callable[[str], ChannelConfig],
    server: NodeServer,
    stop: threading.Event,
    interval: float = 0.5,
) -> threading.Thread:
    """Keep ``configs`` and the server's membership equal to the configurations in force, as updates commit.

    A node authenticates requests against the organisations of its channels; when an update adds or removes one
    (or revokes a certificate, or rotates a CA), the node must follow without a restart.
    """

    def run() -> None:
        while not stop.wait(interval):
            changed = False
            for channel in list(configs):
                try:
                    now = current(channel)
                except Exception:  # a channel not open (yet): keep what we have
                    continue
                if now.version != configs[channel].version:
                    configs[channel] = now
                    changed = True
            if changed:
                server.use_members(node_membership(configs))

    thread = threading.Thread(target=run, name="follow-configs", daemon=True)
    thread.start()
    return thread
