"""A test contract that reaches for the clock, randomness, files and the network, and one function that does not.

Every nondeterministic function first buffers a write, so a test can check that nothing of it reaches the ledger
when the determinism guard refuses the call. ``stamp`` and ``lucky`` are the deterministic ways to do the same:
the proposal's timestamp and a generator seeded from the transaction id.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import time
import uuid
from datetime import date, datetime
from typing import Any

from consortia.contracts import Context, Contract, submit


class ClockContract(Contract):
    """Functions that read the clock (and friends) while endorsing, and deterministic alternatives."""

    name = "clock"
    version = "1.0"

    @staticmethod
    def _record(ctx: Context, what: str, value: Any) -> Any:
        ctx.put_state(f"reading:{what}", {"value": repr(value)})
        return repr(value)

    @submit
    def wall_time(self, ctx: Context) -> Any:
        """Read the wall clock with time.time()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "wall_time", time.time())

    @submit
    def monotonic(self, ctx: Context) -> Any:
        """Read time.monotonic()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "monotonic", time.monotonic())

    @submit
    def now(self, ctx: Context) -> Any:
        """Read datetime.now()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "now", datetime.now())

    @submit
    def today(self, ctx: Context) -> Any:
        """Read date.today()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "today", date.today())

    @submit
    def gmtime(self, ctx: Context) -> Any:
        """Read time.gmtime() without an argument."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "gmtime", time.gmtime())

    @submit
    def strftime(self, ctx: Context) -> Any:
        """Format the current time with time.strftime()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "strftime", time.strftime("%Y-%m-%d %H:%M:%S"))

    @submit
    def clock_gettime(self, ctx: Context) -> Any:
        """Read the real-time clock with time.clock_gettime()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "clock_gettime", time.clock_gettime(time.CLOCK_REALTIME))

    @submit
    def rand(self, ctx: Context) -> Any:
        """Draw random.random()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "rand", random.random())

    @submit
    def randint(self, ctx: Context) -> Any:
        """Draw random.randint()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "randint", random.randint(1, 1_000_000))

    @submit
    def unseeded_generator(self, ctx: Context) -> Any:
        """Draw from a random.Random() seeded by the operating system."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "unseeded_generator", random.Random().random())

    @submit
    def system_random(self, ctx: Context) -> Any:
        """Draw from random.SystemRandom()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "system_random", random.SystemRandom().random())

    @submit
    def token(self, ctx: Context) -> Any:
        """Draw secrets.token_hex()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "token", secrets.token_hex(8))

    @submit
    def new_uuid(self, ctx: Context) -> Any:
        """Draw uuid.uuid4()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "new_uuid", str(uuid.uuid4()))

    @submit
    def urandom(self, ctx: Context) -> Any:
        """Draw os.urandom()."""
        ctx.put_state("before", {"step": 1})
        return self._record(ctx, "urandom", os.urandom(8).hex())

    @submit
    def read_file(self, ctx: Context) -> Any:
        """Read a file with open()."""
        ctx.put_state("before", {"step": 1})
        with open("/etc/hostname") as handle:
            return self._record(ctx, "read_file", handle.read())

    @submit
    def connect(self, ctx: Context) -> Any:
        """Open a socket."""
        ctx.put_state("before", {"step": 1})
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            return self._record(ctx, "connect", sock.fileno())

    @submit
    def stamp(self, ctx: Context) -> dict:
        """Record the proposal's timestamp: the clock a contract may use."""
        value = {"at": ctx.timestamp.isoformat(), "ms": ctx.timestamp_ms, "tx_id": ctx.tx_id}
        ctx.put_state("stamp", value)
        return value

    @submit
    def lucky(self, ctx: Context) -> float:
        """Draw a number from a generator seeded with the transaction id (the same on every peer)."""
        value = random.Random(ctx.tx_id).random()
        ctx.put_state("lucky", {"value": value, "tx_id": ctx.tx_id})
        return value
