"""Debian's Chromium driven by Playwright: one place for where it lives, how it starts and when tests skip.

Browser tests run the pages as a person would, so they need a real browser. The project uses the distribution's
Chromium (``/usr/bin/chromium``, Debian package ``chromium``) rather than Playwright's download, which needs the
network. Without it a developer's run skips the browser tests and says why; CI (``CI=true``) installs it, so there
a missing browser is a failure, never a skip.

The launch flags turn off what a headless test browser must not do: sandbox set-up a container forbids, the GPU,
QUIC and background calls to Google's services (tests use loopback only). A test that needs more — a host
resolver rule, say — passes its own ``args``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI") == "true"
HAS_CHROMIUM = CHROMIUM.exists() or shutil.which("chromium") is not None

NO_SANDBOX = ("--no-sandbox",)
LAUNCH_ARGS = (*NO_SANDBOX, "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking")
QUIET_LAUNCH_ARGS = (*LAUNCH_ARGS, "--disable-component-update", "--disable-sync")
"""``LAUNCH_ARGS`` plus no component updates and no sync: nothing at all leaves the machine."""

requires_chromium = pytest.mark.skipif(
    not HAS_CHROMIUM and not IN_CI, reason="Debian's Chromium is not installed (required when CI=true)"
)
"""Skip a test (or, as ``pytestmark``, a module) without Chromium, except when CI=true: then it runs and fails."""


def require_chromium(*, allow_module_level: bool = False) -> None:
    """Skip the caller when Chromium or Playwright is missing, or fail it when CI=true (CI runs every browser test)."""
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing (Debian package chromium; see scripts/system-deps)"
    elif importlib.util.find_spec("playwright") is None:
        missing = "the Python package playwright is not installed (the dev extra installs it)"
    else:
        return
    if IN_CI:
        pytest.fail(f"{missing}; CI=true, so the browser tests must run", pytrace=False)
    pytest.skip(missing, allow_module_level=allow_module_level)


def launch_chromium(playwright: Playwright, args: Iterable[str] = LAUNCH_ARGS) -> Browser:
    """Start headless Debian Chromium through ``playwright`` with the given command-line flags."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=list(args))


@contextmanager
def chromium_browser(args: Iterable[str] = LAUNCH_ARGS) -> Iterator[Browser]:
    """A headless Debian Chromium for the ``with`` block, closed (and Playwright stopped) at its end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, args)
        try:
            yield browser
        finally:
            browser.close()


def browser_fixture(args: Iterable[str] = LAUNCH_ARGS) -> Callable[[], Iterator[Browser]]:
    """A module-scoped ``browser`` fixture: one Chromium launched with ``args`` for all the module's tests."""
    flags = tuple(args)

    @pytest.fixture(scope="module", name="browser")
    def browser() -> Iterator[Browser]:
        with chromium_browser(flags) as instance:
            yield instance

    return browser
