"""Scan every block file under a data folder for values that must never reach the ledger in clear.

Tests plant distinctive values (a patient's reading, an order number, a party's name) through an application's
normal routes, then call :func:`scan_block_files` on the network's folder. Block records are uncompressed
msgpack, so a string argument, event payload or public write shows up as its UTF-8 bytes, or as the ``\\uXXXX``
escapes of canonical JSON for non-ASCII text; each form is searched for. Contract events travel inside the
block (each endorsement response carries them), so a clean block file also means clean events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Finding:
    """A planted value found in a block file."""

    needle: str
    path: Path
    offset: int


def block_files(directory: Path) -> list[Path]:
    """Every block segment file below ``directory`` (peers' and orderers' copies alike)."""
    return sorted(Path(directory).rglob("segment-*.blk"))


def _forms(needle: str) -> set[bytes]:
    escaped = json.dumps(needle, ensure_ascii=True)[1:-1]
    return {needle.encode(), escaped.encode(), escaped.lower().encode()}


def scan_block_files(directory: Path, needles: Iterable[str]) -> list[Finding]:
    """Where any needle occurs in any block file below ``directory`` (empty when none does)."""
    files = block_files(directory)
    if not files:
        raise AssertionError(f"no block files below {directory}: nothing was scanned")
    wanted = {needle: _forms(needle) for needle in needles}
    found: list[Finding] = []
    for path in files:
        data = path.read_bytes()
        for needle, forms in wanted.items():
            for form in forms:
                offset = data.find(form)
                if offset >= 0:
                    found.append(Finding(needle, path, offset))
                    break
    return found
