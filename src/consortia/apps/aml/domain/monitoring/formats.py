"""Reading transactions from CSV text: IBM AMLSim's converted format and the native format.

Two formats (see :mod:`..generator` for how they are written):

- ``amlsim``: ``tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp`` (``is_sar`` and ``alert_id`` may
  be present and are **never read**: the scanner must not see the answer). Currency is USD and countries US (the
  bank's accounts are USD-only, US-only); timestamps ISO 8601 with ``Z`` or an offset (a timestamp without one is
  read as UTC, as AMLSim writes UTC); tx_type ``TRANSFER``, ``WIRE``, ``ACH``, ``CHECK``, ``CASH-IN``/``DEPOSIT``,
  ``CASH-OUT``/``WITHDRAWAL`` (any other is kept, lower case, as a non-cash transfer).
- ``native``: ``tx_id,timestamp,orig_account,bene_account,amount,currency,tx_type,orig_country,bene_country``;
  timestamps must carry ``Z`` or an offset; extra columns are ignored.

Amounts are decimal dollars (``1234.5``, ``9999.99``), exact to the cent; a third decimal rounds half up.
Every problem is an :class:`InputError` naming the row, the column, what was expected and what was found —
the first bad row in file order. Parsing is vectorised (polars); only errors are looked at row by row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import polars as pl

from consortia.apps.aml.domain.monitoring.frame import SCHEMA
from consortia.apps.aml.domain.transactions import CASH_DEPOSIT, CASH_WITHDRAWAL

FORMATS = ("amlsim", "native")

AMLSIM_REQUIRED = ("tran_id", "orig_acct", "bene_acct", "tx_type", "base_amt", "tran_timestamp")
NATIVE_REQUIRED = (
    "tx_id",
    "timestamp",
    "orig_account",
    "bene_account",
    "amount",
    "currency",
    "tx_type",
    "orig_country",
    "bene_country",
)

_AMLSIM_TYPES = {
    "cash-in": CASH_DEPOSIT,
    "cash_in": CASH_DEPOSIT,
    "deposit": CASH_DEPOSIT,
    "cash_deposit": CASH_DEPOSIT,
    "cash-out": CASH_WITHDRAWAL,
    "cash_out": CASH_WITHDRAWAL,
    "withdrawal": CASH_WITHDRAWAL,
    "cash_withdrawal": CASH_WITHDRAWAL,
}

_AMOUNT = r"^\s*\d+(\.\d+)?\s*$"


@dataclass(frozen=True)
class InputError(ValueError):
    """A CSV that cannot be read: which data row (1 = the first after the header; 0 = the header), which column,
    what was expected and what was found."""

    row: int
    column: str
    expected: str
    found: str

    def __str__(self) -> str:
        where = "header" if self.row == 0 else f"row {self.row} (line {self.row + 1})"
        return f"{where}, column {self.column!r}: expected {self.expected}, found {self.found}"


def _read(data: bytes, required: tuple[str, ...]) -> pl.DataFrame:
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, truncate_ragged_lines=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        _ragged(data)
        raise InputError(
            0, "*", "a CSV file with a header row", f"unreadable CSV ({str(exc).splitlines()[0]})"
        ) from exc
    for column in required:
        if column not in frame.columns:
            raise InputError(0, column, f"the column {column!r}", f"columns {', '.join(frame.columns) or 'none'}")
    return frame.select(required)


def _ragged(data: bytes) -> None:
    """Find the first row whose number of fields differs from the header's (polars only says that one does)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace")))
    header = next(reader, None)
    if not header:
        raise InputError(0, "*", "a CSV file with a header row", "an empty file")
    for number, row in enumerate(reader, start=1):
        if row and len(row) != len(header):
            raise InputError(number, "*", f"{len(header)} fields as in the header", f"{len(row)} fields")


def _first_bad(frame: pl.DataFrame, bad: pl.Series, column: str, expected: str) -> None:
    index = bad.arg_true()
    if len(index):
        i = int(index[0])
        value = frame[column][i]
        shown = "an empty value" if value is None or value == "" else repr(value[:60])
        raise InputError(i + 1, column, expected, shown)


def _cents(frame: pl.DataFrame, column: str) -> pl.Series:
    text = frame[column].str.strip_chars()
    _first_bad(frame, ~text.str.contains(_AMOUNT).fill_null(False), column, "a positive decimal amount such as 1234.56")
    parts = text.str.split_exact(".", 1).struct.rename_fields(["whole", "frac"]).struct.unnest()
    frac = parts["frac"].fill_null("").str.pad_end(3, "0")
    try:
        whole = parts["whole"].cast(pl.Int64)
    except pl.exceptions.InvalidOperationError as exc:
        raise InputError(1, column, "an amount below 92 quadrillion dollars", "a larger number") from exc
    cents = (
        whole * 100 + frac.str.slice(0, 2).cast(pl.Int64) + (frac.str.slice(2, 1).cast(pl.Int64) >= 5).cast(pl.Int64)
    )
    _first_bad(frame, cents <= 0, column, "a positive amount")
    return cents


def _timestamps(frame: pl.DataFrame, column: str, naive_is_utc: bool) -> pl.Series:
    text = frame[column].str.strip_chars()
    utc = pl.Datetime("us", "UTC")
    # The common shape first (AMLSim writes 2017-01-01T00:00:00Z), the general ones only for what is left.
    parsed = text.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%SZ", strict=False).dt.replace_time_zone("UTC")
    formats = ["%Y-%m-%dT%H:%M:%S%.f%#z"]
    if naive_is_utc:
        formats += ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f%#z"]
    for fmt in formats:
        if not parsed.null_count():
            break
        parsed = parsed.fill_null(text.str.strptime(utc, fmt, strict=False))
    expected = "an ISO 8601 timestamp such as 2026-01-05T14:30:00Z" + ("" if naive_is_utc else " (with Z or an offset)")
    _first_bad(frame, parsed.is_null(), column, expected)
    return parsed


def _text(frame: pl.DataFrame, column: str, expected: str = "a non-empty value") -> pl.Series:
    values = frame[column].str.strip_chars()
    _first_bad(frame, values.fill_null("").str.len_chars() == 0, column, expected)
    return values


def _ids(frame: pl.DataFrame, column: str) -> pl.Series:
    ids = _text(frame, column)
    repeated = ids.is_duplicated() & ~ids.is_first_distinct()
    _first_bad(frame, repeated, column, "a transaction id not used by an earlier row")
    return ids


def parse_csv(data: bytes, fmt: str) -> pl.DataFrame:
    """Transactions (schema :data:`.frame.SCHEMA`) from CSV bytes in ``fmt`` (``amlsim`` or ``native``)."""
    if fmt == "amlsim":
        frame = _read(data, AMLSIM_REQUIRED)
        ids = _ids(frame, "tran_id")
        orig, bene = _text(frame, "orig_acct"), _text(frame, "bene_acct")
        kinds = _text(frame, "tx_type").str.to_lowercase()
        kinds = kinds.replace(_AMLSIM_TYPES)
        cents = _cents(frame, "base_amt")
        when = _timestamps(frame, "tran_timestamp", naive_is_utc=True)
        n = frame.height
        out = pl.DataFrame(
            {
                "tx_id": ids,
                "timestamp": when,
                "orig_account": orig,
                "bene_account": bene,
                "amount_cents": cents,
                "currency": ["USD"] * n,
                "tx_type": kinds,
                "orig_country": ["US"] * n,
                "bene_country": ["US"] * n,
            }
        )
    elif fmt == "native":
        frame = _read(data, NATIVE_REQUIRED)
        out = pl.DataFrame(
            {
                "tx_id": _ids(frame, "tx_id"),
                "timestamp": _timestamps(frame, "timestamp", naive_is_utc=False),
                "orig_account": _text(frame, "orig_account"),
                "bene_account": _text(frame, "bene_account"),
                "amount_cents": _cents(frame, "amount"),
                "currency": _text(frame, "currency", "an ISO 4217 code such as USD").str.to_uppercase(),
                "tx_type": _text(frame, "tx_type").str.to_lowercase(),
                "orig_country": _text(frame, "orig_country", "an ISO 3166 code such as US").str.to_uppercase(),
                "bene_country": _text(frame, "bene_country", "an ISO 3166 code such as US").str.to_uppercase(),
            }
        )
    else:
        raise ValueError(f"unknown format: expected one of {', '.join(FORMATS)}, found {fmt!r}")
    return out.cast(SCHEMA)
