"""The determinism guard: contracts may not read the clock, draw random numbers, or touch files or the network.

Every endorsing peer runs a contract on its own; their read-write sets must be byte-identical or the client
cannot assemble a valid transaction. A contract that asks for the time, a random number, a file or a socket
would give each peer a different answer, so the runtime refuses such calls while a contract runs, with an
error that says what to use instead (``ctx.timestamp``, values derived from ``ctx.tx_id``).

Three nets catch them:

1. Contract modules are loaded with their own ``__builtins__`` (:func:`contract_builtins`): ``open``,
   ``input`` and ``hash`` (string hashes are salted per process) refuse, and ``import`` hands out guarded
   views of ``time``, ``datetime``, ``random``, ``secrets``, ``uuid``, ``os``, ``socket`` and friends.
2. The clock and random functions of those modules are also wrapped process-wide, so helper code a contract
   calls is caught too; outside a contract the wrappers call straight through.
3. A Python audit hook refuses file, network and process operations made by any code while a contract runs.

Guarding is per thread, so a peer can endorse on several threads while other code keeps its clock.
"""

from __future__ import annotations

import builtins
import datetime as _datetime
import functools
import os
import random
import secrets
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from consortia.contracts.contract import NondeterminismError

_state = threading.local()

_ADVICE = {
    "time": "use ctx.timestamp (the proposal's time, the same on every peer)",
    "random": "derive values from ctx.tx_id or take them as arguments",
    "io": "contracts cannot use files or the network; pass data in as arguments or transient data",
}


def active_contract() -> str | None:
    """Name of the contract running on this thread, if any."""
    return getattr(_state, "contract", None)


@contextmanager
def deterministic(contract: str) -> Iterator[None]:
    """Run the enclosed block as contract ``contract``: nondeterministic calls raise NondeterminismError."""
    previous = getattr(_state, "contract", None)
    _state.contract = contract
    try:
        yield
    finally:
        _state.contract = previous


def _refuse(what: str, family: str) -> NondeterminismError:
    contract = active_contract() or "?"
    return NondeterminismError(f"contract {contract!r} is not deterministic: it called {what}; {_ADVICE[family]}")


def _guard(function: Callable[..., Any], what: str, family: str, *, only_without_args: bool = False) -> Any:
    if getattr(function, "__consortia_guarded__", False):
        return function

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if getattr(_state, "contract", None) is not None and not (only_without_args and (args or kwargs)):
            raise _refuse(what, family)
        return function(*args, **kwargs)

    guarded.__consortia_guarded__ = True  # type: ignore[attr-defined]
    return guarded


_TIME_FUNCTIONS = (
    "time",
    "time_ns",
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "perf_counter_ns",
    "process_time",
    "process_time_ns",
    "thread_time",
    "thread_time_ns",
    "localtime",
    "ctime",
    "asctime",
    "mktime",
    "sleep",
    "clock_gettime",
    "clock_gettime_ns",
)
_RANDOM_FUNCTIONS = (
    "random",
    "randint",
    "randrange",
    "choice",
    "choices",
    "shuffle",
    "sample",
    "uniform",
    "gauss",
    "getrandbits",
    "randbytes",
    "triangular",
    "betavariate",
    "expovariate",
    "normalvariate",
    "lognormvariate",
    "vonmisesvariate",
    "gammavariate",
    "paretovariate",
    "weibullvariate",
    "binomialvariate",
)
_SECRETS_FUNCTIONS = ("token_bytes", "token_hex", "token_urlsafe", "choice", "randbelow", "randbits")


def _install_wrappers() -> None:
    for name in _TIME_FUNCTIONS:
        if hasattr(time, name):
            setattr(time, name, _guard(getattr(time, name), f"time.{name}()", "time"))
    time.gmtime = _guard(time.gmtime, "time.gmtime() without an argument", "time", only_without_args=True)
    # strftime(format) alone reads the clock; with an explicit time tuple it is a pure function.
    original_strftime = time.strftime

    @functools.wraps(original_strftime)
    def strftime(format: str, *rest: Any) -> str:
        if not rest and getattr(_state, "contract", None) is not None:
            raise _refuse("time.strftime() without a time tuple", "time")
        return original_strftime(format, *rest)

    if not getattr(original_strftime, "__wrapped__", None):
        time.strftime = strftime
    for name in _RANDOM_FUNCTIONS:
        if hasattr(random, name):
            setattr(random, name, _guard(getattr(random, name), f"random.{name}()", "random"))
    for name in _SECRETS_FUNCTIONS:
        if hasattr(secrets, name):
            setattr(secrets, name, _guard(getattr(secrets, name), f"secrets.{name}()", "random"))
    os.urandom = _guard(os.urandom, "os.urandom()", "random")
    # SystemRandom draws from the OS directly (through an os.urandom captured at import), and an unseeded
    # Random() seeds itself from the OS in C: guard both at the class level.
    for name in ("random", "getrandbits", "randbytes"):
        method = getattr(random.SystemRandom, name, None)
        if method is not None:
            setattr(random.SystemRandom, name, _guard(method, f"SystemRandom().{name}()", "random"))
    original_seed = random.Random.seed

    @functools.wraps(original_seed)
    def seed(self: random.Random, a: Any = None, version: int = 2) -> None:
        if a is None and getattr(_state, "contract", None) is not None:
            raise _refuse("random.Random() without a seed", "random")
        original_seed(self, a, version)

    if not getattr(original_seed, "__wrapped__", None):
        random.Random.seed = seed  # type: ignore[method-assign]
    uuid.uuid1 = _guard(uuid.uuid1, "uuid.uuid1()", "random")
    uuid.uuid4 = _guard(uuid.uuid4, "uuid.uuid4()", "random")


# -- guarded views handed to contract modules ----------------------------------------------------------------


class _ContractDatetime(_datetime.datetime):
    """datetime for contracts: everything but the clock."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
        raise _refuse("datetime.now()", "time")

    @classmethod
    def utcnow(cls) -> Any:  # type: ignore[override]
        raise _refuse("datetime.utcnow()", "time")

    @classmethod
    def today(cls) -> Any:  # type: ignore[override]
        raise _refuse("datetime.today()", "time")


class _ContractDate(_datetime.date):
    """date for contracts: everything but the clock."""

    @classmethod
    def today(cls) -> Any:  # type: ignore[override]
        raise _refuse("date.today()", "time")


def _datetime_view() -> types.ModuleType:
    view = types.ModuleType("datetime")
    view.__dict__.update({k: v for k, v in vars(_datetime).items() if not k.startswith("__")})
    view.datetime = _ContractDatetime  # type: ignore[attr-defined]
    view.date = _ContractDate  # type: ignore[attr-defined]
    return view


class _ForbiddenModule(types.ModuleType):
    """A module a contract may import but not use: any attribute is a callable that refuses."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        module = self.__name__

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise _refuse(f"{module}.{name}", "io")

        return refuse


_FORBIDDEN_MODULES = frozenset(
    {
        "os",
        "socket",
        "subprocess",
        "shutil",
        "tempfile",
        "pathlib",
        "urllib",
        "urllib.request",
        "http",
        "http.client",
        "requests",
        "httpx",
        "asyncio",
        "threading",
        "multiprocessing",
        "sqlite3",
        "ssl",
        "ftplib",
        "smtplib",
        "signal",
        "ctypes",
        "io",
        "glob",
    }
)


@functools.cache
def _view(name: str) -> types.ModuleType | None:
    if name == "datetime":
        return _datetime_view()
    if name in _FORBIDDEN_MODULES:
        return _ForbiddenModule(name)
    return None


def _contract_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
    if level == 0:
        view = _view(name)
        if view is not None:
            return view
    return builtins.__import__(name, globals, locals, fromlist, level)


def _refusing(what: str, family: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise _refuse(what, family)

    return refuse


@functools.cache
def contract_builtins() -> dict[str, Any]:
    """The builtins a contract module sees."""
    namespace = dict(vars(builtins))
    namespace["__import__"] = _contract_import
    namespace["open"] = _refusing("open()", "io")
    namespace["input"] = _refusing("input()", "io")
    namespace["breakpoint"] = _refusing("breakpoint()", "io")
    namespace["hash"] = _refusing("hash() (string hashes differ between processes)", "random")
    return namespace


# -- audit hook ----------------------------------------------------------------------------------------------

_ALLOWED_OPEN_SUFFIXES = (".py", ".pyc", ".so", ".pyd")
_FORBIDDEN_EVENT_PREFIXES = (
    "socket.",
    "subprocess.",
    "os.system",
    "os.exec",
    "os.spawn",
    "os.fork",
    "os.posix_spawn",
    "os.kill",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.truncate",
    "os.link",
    "os.symlink",
    "os.utime",
    "shutil.",
    "urllib.",
    "http.client.",
    "sqlite3.connect",
    "ftplib.",
    "smtplib.",
    "time.sleep",
    "webbrowser.",
)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if getattr(_state, "contract", None) is None:
        return
    if event == "open":
        path = str(args[0]) if args else ""
        mode = args[1] if len(args) > 1 else "r"
        if path.endswith(_ALLOWED_OPEN_SUFFIXES) and (mode is None or "w" not in str(mode)):
            return  # the import machinery reading code
        raise _refuse(f"open({path!r})", "io")
    if event.startswith(_FORBIDDEN_EVENT_PREFIXES):
        raise _refuse(event, "io")


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Install the process-wide wrappers and the audit hook (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _install_wrappers()
        sys.addaudithook(_audit)
        _installed = True
