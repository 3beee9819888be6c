"""A gateway app served by uvicorn in a thread on a free port of 127.0.0.1, for tests that need a real server.

Browser tests, event streams and anything the in-process ``TestClient`` cannot do (it waits for a stream's next
block before closing it) use :class:`Server`. ``stop`` asks uvicorn to exit and ``join`` waits for it, apart,
because a server with open event streams ends only once the network behind it closes them; ``close`` does both.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from fastapi import FastAPI


class Server:
    """A gateway app served by uvicorn in a thread, on a free port of 127.0.0.1."""

    def __init__(self, app: FastAPI) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> Server:
        """Start serving; return once uvicorn accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit (join after the network closed its event streams)."""
        self.server.should_exit = True

    def join(self) -> None:
        """Wait for uvicorn's thread to end and free the port."""
        self.thread.join(timeout=10)
        self.socket.close()

    def close(self) -> None:
        """Stop serving and wait for it."""
        self.stop()
        self.join()
