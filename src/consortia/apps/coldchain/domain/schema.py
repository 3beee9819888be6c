"""Validation against GS1's EPCIS 2.0 JSON Schema (draft-07), fast enough to run on every captured document.

GS1 publishes a JSON Schema for EPCIS 2.0 JSON/JSON-LD documents and events (``EPCIS-JSON-Schema.json``,
draft-07). It checks structure — which fields each event type may and must have, value types, CBV bare words or
URIs, ``@context`` present — so that a document the ledger accepts is one any EPCIS system can read. The schema
is compiled once with ``jsonschema_rs`` (a Rust implementation, ~200× faster than pure Python here) and each
violation is reported with its JSON path, from which :mod:`consortia.apps.coldchain.domain.document` names the event
and the field.

The schema file is GS1's, not ours: it is looked up at ``$CONSORTIA_EPCIS_SCHEMA``, else in the repository's
shared test vectors (``shared/testvectors/epcis2/EPCIS-JSON-Schema.json`` above the working directory or this
package).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_ENV = "CONSORTIA_EPCIS_SCHEMA"
_RELATIVE = Path("shared/testvectors/epcis2/EPCIS-JSON-Schema.json")

_lock = threading.Lock()
_validator: Any = None


class SchemaUnavailable(RuntimeError):
    """The EPCIS JSON Schema file could not be found or read."""


@dataclass(frozen=True)
class SchemaViolation:
    """One schema violation: where (JSON path as a tuple) and what."""

    path: tuple[str | int, ...]
    message: str


def schema_path() -> Path:
    """Where the EPCIS 2.0 JSON Schema is read from."""
    configured = os.environ.get(SCHEMA_ENV)
    if configured:
        return Path(configured)
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for folder in (start, *start.parents):
            for candidate in (folder / _RELATIVE, folder.parent / _RELATIVE):
                if candidate.is_file():
                    return candidate
    raise SchemaUnavailable(
        f"the EPCIS 2.0 JSON Schema was not found; set ${SCHEMA_ENV} to the path of EPCIS-JSON-Schema.json"
    )


def _load() -> Any:
    global _validator
    with _lock:
        if _validator is None:
            import jsonschema_rs

            path = schema_path()
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SchemaUnavailable(f"cannot read the EPCIS JSON Schema at {path}: {exc}") from None
            _validator = jsonschema_rs.Draft7Validator(schema, validate_formats=True)
        return _validator


def violations(instance: Any, limit: int = 20) -> list[SchemaViolation]:
    """Schema violations of a document or event (empty when valid), at most ``limit``."""
    validator = _load()
    if validator.is_valid(instance):
        return []
    found = []
    for error in validator.iter_errors(instance):
        found.append(SchemaViolation(tuple(error.instance_path), str(error.message)))
        if len(found) >= limit:
            break
    return found


def preload() -> None:
    """Compile the schema now (so the first capture does not pay for it)."""
    _load()
