"""The real ``consortia`` command in a child process, as an operator runs it from a shell.

Tests that check what the command prints, its exit status, or anything that must outlive one Python process
(cluster nodes it starts, files it locks) run ``python -m consortia`` with this interpreter rather than calling
the Typer app in-process. The child inherits the test's environment plus what a test adds: ``QUIET_LOG`` keeps
log lines out of the output a test reads; ``source_first()`` puts this checkout's ``src`` ahead of anything else
on ``PYTHONPATH`` so that processes the command spawns import the code under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
QUIET_LOG: Mapping[str, str] = {"CONSORTIA_LOG": "ERROR"}


def source_first() -> dict[str, str]:
    """``PYTHONPATH`` with this checkout's ``src`` first, then whatever the environment already had."""
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}


def consortia(
    *args: str, timeout: float = 180, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m consortia ARGS`` with the environment plus ``env``, and return its exit status and text."""
    return subprocess.run(
        [sys.executable, "-m", "consortia", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
