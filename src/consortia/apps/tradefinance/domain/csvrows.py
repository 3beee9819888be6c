"""The CSV banks upload: one trade document per row, read all-or-nothing.

The header names the columns of :data:`COLUMNS`, in any order (a spreadsheet may reorder them), each exactly once::

    bank,doc_type,doc_number,seller_id,seller_name,buyer_id,buyer_name,issue_date,amount,currency,bl_number,vessel,port_of_loading

The last three are for bills of lading (required there; other documents may leave them empty). Row numbers count
*data* rows from 1, the header excluded, so row 1 is the first document; rows that are entirely empty (a blank
line, or a spreadsheet's row of commas) are skipped and not counted.

Spaces at the start or end of a cell may be data, so nothing is stripped here: each field's normalisation decides
(identifiers, numbers, dates, amounts and currencies ignore them; names are kept as written for display).

Uploaded bytes become text through :func:`decode_csv` (UTF-8, or the GB18030 of a Mainland spreadsheet).

A file with any bad row registers nothing, so :func:`parse_csv` reads the whole file and reports *every* problem
in one :class:`CsvError` (``.problems``), the first one also as ``.row``, ``.field`` and ``.message``. A header
problem is reported with row 0.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from .documents import TradeDocument, read_document

__all__ = ["COLUMNS", "CsvError", "CsvProblem", "Row", "decode_csv", "parse_csv"]

COLUMNS = (
    "bank",
    "doc_type",
    "doc_number",
    "seller_id",
    "seller_name",
    "buyer_id",
    "buyer_name",
    "issue_date",
    "amount",
    "currency",
    "bl_number",
    "vessel",
    "port_of_loading",
)
"""The CSV columns, in the order files are written."""

MAX_ROWS = 100_000
"""A file larger than this is refused whole (a bank uploads a day's documents, not its archive)."""


@dataclass(frozen=True)
class Row:
    """One data row read: its number (from 1, header excluded), the presenting bank, and the document."""

    number: int
    bank: str
    document: TradeDocument


@dataclass(frozen=True)
class CsvProblem:
    """One problem of a file: the data row (0 for the header), the field (None for the row as a whole), why."""

    row: int
    field: str | None
    message: str
    expected: str = ""
    found: str = ""


class CsvError(ValueError):
    """A file that cannot be registered: every problem found, the first one also as ``row``/``field``/``message``."""

    def __init__(self, problems: list[CsvProblem] | tuple[CsvProblem, ...]) -> None:
        if not problems:
            raise ValueError("CsvError needs at least one problem")
        self.problems = tuple(problems)
        first = self.problems[0]
        self.row = first.row
        self.field = first.field
        self.message = first.message
        where = "header" if first.row == 0 else f"row {first.row}"
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        field = f", {first.field}" if first.field else ""
        super().__init__(f"{where}{field}: {first.message}{more}")


def decode_csv(data: bytes) -> str:
    """The text of an uploaded file: UTF-8 (with or without a BOM), UTF-16 with a BOM, else GB18030.

    A spreadsheet on a Mainland Windows desktop saves CSV in GB18030 (GBK); everything else here sends UTF-8.
    Big5 (older Hong Kong and Macau desktops) cannot be told from GB18030 by its bytes, so it is not guessed: such
    a file reads as other characters and its identifiers, dates or names fail with their row and field.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            pass
    raise CsvError([CsvProblem(0, None, "the file is not text in UTF-8, UTF-16 or GB18030", "UTF-8 text", "")])


def _header_problem(header: list[str]) -> CsvProblem | None:
    names = [name.strip().lower() for name in header]
    missing = [c for c in COLUMNS if c not in names]
    extra = [n for n in names if n not in COLUMNS]
    repeated = sorted({n for n in names if names.count(n) > 1 and n in COLUMNS})
    if not (missing or extra or repeated):
        return None
    parts = []
    if missing:
        parts.append("missing column(s): " + ", ".join(missing))
    if extra:
        parts.append("unknown column(s): " + ", ".join(repr(e) for e in extra))
    if repeated:
        parts.append("repeated column(s): " + ", ".join(repeated))
    return CsvProblem(0, None, "; ".join(parts), expected=",".join(COLUMNS), found=",".join(header))


def parse_csv(text: str) -> list[Row]:
    """Every row of a CSV file as a :class:`Row`, or a :class:`CsvError` listing every problem of the file."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    number = 0
    try:
        header = next(reader, None)
        if header is None:
            raise CsvError([CsvProblem(0, None, "the file is empty: expected a header row", ",".join(COLUMNS), "")])
        header_problem = _header_problem(header)
        if header_problem is not None:
            raise CsvError([header_problem])
        positions = {name.strip().lower(): index for index, name in enumerate(header)}

        rows: list[Row] = []
        problems: list[CsvProblem] = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            number += 1
            if number > MAX_ROWS:
                raise CsvError([CsvProblem(number, None, f"more than {MAX_ROWS} rows", f"at most {MAX_ROWS}", "")])
            if len(record) != len(header):
                problems.append(
                    CsvProblem(
                        number,
                        None,
                        f"expected {len(header)} fields, found {len(record)}",
                        str(len(header)),
                        str(len(record)),
                    )
                )
                continue
            fields = {name: record[index] for name, index in positions.items()}
            bank = fields["bank"].strip()
            if not bank:
                problems.append(CsvProblem(number, "bank", "expected the presenting bank, found ''", "a bank", ""))
            reading = read_document(fields)
            problems.extend(
                CsvProblem(number, p.field, f"expected {p.expected}, found {p.found!r}", p.expected, p.found)
                for p in reading.problems
            )
            if reading.document is not None and bank:
                rows.append(Row(number, bank, reading.document))
    except csv.Error as exc:
        raise CsvError([CsvProblem(number + 1, None, f"not valid CSV: {exc}")]) from None
    if problems:
        raise CsvError(problems)
    return rows
