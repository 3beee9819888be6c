"""Running one node until it is told to stop: ``consortia node --config FILE``.

The configuration is checked first (a bad one exits with status 2 and a message naming the field), then the node
opens its ledgers, starts serving and joins the cluster. SIGTERM or SIGINT stop it cleanly: an orderer that
leads resigns at once so another takes over without waiting for its lease to expire; a peer finishes the block
it is committing. SIGKILL is also fine — that is what the block store, the state database's recovery and the
leader's lease are for.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from consortia.node.config import ConfigError, LoadedConfig, load_config, with_join_snapshot

log = logging.getLogger(__name__)

EXIT_CONFIG = 2


def open_node(loaded: LoadedConfig):
    """Build the node a configuration describes (ConfigError if it cannot listen or install)."""
    if loaded.config.role == "peer":
        from consortia.node.peer_node import PeerNode

        factory = PeerNode
    else:
        from consortia.node.orderer_node import OrdererNode

        factory = OrdererNode
    try:
        return factory(loaded)
    except OSError as exc:
        if exc.errno in (98, 48):  # EADDRINUSE (Linux, macOS)
            raise ConfigError("listen", f"{loaded.config.listen} is already in use") from None
        raise


def run_node(
    path: Path,
    *,
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
    join_snapshot: Path | None = None,
) -> int:
    """Run the node configured in ``path`` until SIGTERM/SIGINT (or ``stop``); return the exit status.

    ``join_snapshot`` (a peer only): on first start, join the snapshot's channel from it instead of from block 0
    (:mod:`consortia.peer.snapshot_join`); a refused snapshot exits 2 naming the file and what is wrong.
    """
    try:
        loaded = load_config(path)
        if join_snapshot is not None:
            loaded = with_join_snapshot(loaded, join_snapshot)
    except ConfigError as exc:
        sys.stderr.write(f"error: config {path}: {exc}\n")
        return EXIT_CONFIG
    logging.getLogger().setLevel(loaded.config.log_level.upper())
    for chatty in ("httpx", "httpcore"):  # one INFO line per etcd request otherwise
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        node = open_node(loaded)
    except ConfigError as exc:
        sys.stderr.write(f"error: config {path}: {exc}\n")
        return EXIT_CONFIG
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    node.start()
    sys.stdout.write(
        f"node {loaded.config.name} ({loaded.config.role} of {loaded.identity.org}) serving on {loaded.endpoint}\n"
    )
    gateway = getattr(node, "gateway", None)
    if gateway is not None:
        sys.stdout.write(f"gateway of {loaded.identity.org} on {gateway.plan.url}/\n")
    sys.stdout.flush()
    if ready is not None:
        ready.set()
    stop.wait()
    log.info("node %s stopping", loaded.config.name)
    node.close()
    return 0
