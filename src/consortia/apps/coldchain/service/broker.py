"""An MQTT broker for the loggers: Debian's Mosquitto when installed, else amqtt inside this process.

The cold chain's loggers speak MQTT 3.1.1 to a broker; the ingester subscribes to it. In production that is the
site's Mosquitto. For the demo and the tests :func:`start` runs one on a free loopback port without root:
Mosquitto (``/usr/sbin/mosquitto``) with a throw-away configuration — no persistence, unlimited queues and
in-flight windows so a burst of QoS 1 readings is delivered, not dropped — or, when Mosquitto is not installed,
amqtt (a pure-Python broker) on an event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto")


def parse_broker(text: str) -> tuple[str, int]:
    """``host:port`` (port 1883 when omitted)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "1883"
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"broker {text!r} must look like host:port, e.g. 127.0.0.1:1883")
    return host, int(port)


def mosquitto_binary() -> str | None:
    """The Mosquitto executable, if installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in MOSQUITTO_PATHS if Path(p).is_file()), None)


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_open(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class Broker:
    """A running broker: where it listens, what it is, and how to stop it."""

    host: str
    port: int
    kind: str
    _stop: Callable[[], None] = field(repr=False)

    def stop(self) -> None:
        """Stop the broker."""
        self._stop()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_mosquitto(port: int | None = None, binary: str | None = None) -> Broker:
    """Run Mosquitto on 127.0.0.1 with a temporary configuration."""
    binary = binary or mosquitto_binary()
    if binary is None:
        raise FileNotFoundError("Mosquitto is not installed")
    port = port or free_port()
    folder = Path(tempfile.mkdtemp(prefix="coldchain-mqtt-"))
    config = folder / "mosquitto.conf"
    config.write_text(
        "\n".join(
            [
                f"listener {port} 127.0.0.1",
                "allow_anonymous true",
                "persistence false",
                "max_queued_messages 0",
                "max_inflight_messages 0",
                "set_tcp_nodelay true",
                "log_dest none",
                "",
            ]
        )
    )
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not _wait_open("127.0.0.1", port, 10.0):
        process.kill()
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise OSError(f"Mosquitto did not start on port {port}: {error.strip()}")

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        shutil.rmtree(folder, ignore_errors=True)

    return Broker("127.0.0.1", port, "mosquitto", stop)


def start_amqtt(port: int | None = None) -> Broker:
    """Run amqtt on 127.0.0.1 in a background thread."""
    from amqtt.broker import Broker as AmqttBroker

    port = port or free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []
    holder: dict[str, AmqttBroker] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}", "max_connections": 100}},
            "sys_interval": 0,
            "auth": {"allow-anonymous": True, "plugins": ["auth_anonymous"]},
            "topic-check": {"enabled": False},
        }
        try:
            broker = AmqttBroker(config, loop)
            holder["broker"] = broker
            loop.run_until_complete(broker.start())
        except BaseException as exc:
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="coldchain-amqtt", daemon=True)
    thread.start()
    started.wait(10)
    if failure or not _wait_open("127.0.0.1", port, 10.0):
        raise OSError(f"amqtt did not start on port {port}: {failure[0] if failure else 'timeout'}")

    def stop() -> None:
        broker = holder.get("broker")
        if broker is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return Broker("127.0.0.1", port, "amqtt", stop)


def start(port: int | None = None) -> Broker:
    """Mosquitto if installed, else amqtt."""
    if mosquitto_binary() is not None:
        return start_mosquitto(port)
    return start_amqtt(port)
