"""The CSV banks upload: rows numbered from 1, every problem named by row and field, nothing half-read."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from consortia.apps.tradefinance.domain.csvrows import COLUMNS, CsvError, decode_csv, parse_csv
from consortia.apps.tradefinance.domain.documents import DocStatus, DocType, document_from_fields
from consortia.apps.tradefinance.domain.identifiers import TraderId
from consortia.apps.tradefinance.domain.normalise import InvalidField

HEADER = ",".join(COLUMNS)
INVOICE = (
    "ShenzhenBank,INV,INV-0042,91440300568520498A,深圳市华盛电子有限公司,31130878,Wing Lee Trading Limited,"
    '2026-05-18,"1,234.50",RMB,,,'
)
BILL = (
    "HongKongBank,B/L,COSU6123456780,31130878,Wing Lee Trading Limited,12345 (SO),澳門海洋貿易有限公司,"
    "18 May 2026,98000,HK$,COSU6123456780,COSCO SHIPPING STAR,Yantian"
)


def csv_of(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


def test_rows_are_read_and_numbered_from_one() -> None:
    rows = parse_csv(csv_of(INVOICE, BILL))
    assert [row.number for row in rows] == [1, 2]
    first, second = rows
    assert first.bank == "ShenzhenBank"
    doc = first.document
    assert doc.doc_type is DocType.INVOICE and doc.doc_number == "INV42"
    assert doc.seller_id == TraderId("USCC", "91440300568520498A") and doc.buyer_id == TraderId("HKBR", "31130878")
    assert (doc.issue_date, doc.amount, doc.currency) == (date(2026, 5, 18), Decimal("1234.50"), "CNY")
    assert doc.bl_number is None and doc.vessel is None
    bill = second.document
    assert bill.doc_type is DocType.BILL_OF_LADING and bill.buyer_id == TraderId("MOCR", "12345 (SO)")
    assert (bill.bl_number, bill.vessel, bill.port_of_loading) == ("COSU6123456780", "COSCO SHIPPING STAR", "Yantian")


def test_names_keep_their_spaces_and_columns_may_come_in_any_order() -> None:
    values = next(csv.reader([INVOICE.replace("Wing Lee Trading Limited", " Wing Lee  Trading ")]))
    by_column = dict(zip(COLUMNS, values, strict=True))
    columns = list(reversed(COLUMNS))
    out = io.StringIO()
    csv.writer(out).writerows([columns, [by_column[c] for c in columns]])
    (row,) = parse_csv(out.getvalue())
    assert row.document.buyer_name == " Wing Lee  Trading "
    (plain,) = parse_csv(csv_of(INVOICE))
    assert row.document == replace(plain.document, buyer_name=" Wing Lee  Trading ")


def test_blank_lines_are_not_rows_and_a_bom_is_ignored() -> None:
    rows = parse_csv("\ufeff" + csv_of("", INVOICE, ",,,,,,,,,,,,", BILL, ""))
    assert [row.number for row in rows] == [1, 2]


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (HEADER.replace(",vessel", ""), "missing column(s): vessel"),
        (HEADER + ",notes", "unknown column(s): 'notes'"),
        (HEADER.replace("bank,", "bank,bank,"), "repeated column(s): bank"),
        ("a;b;c", "missing column(s): bank"),
    ],
)
def test_a_bad_header_names_the_columns(header: str, fragment: str) -> None:
    with pytest.raises(CsvError) as caught:
        parse_csv(csv_of(INVOICE, header=header))
    assert caught.value.row == 0 and fragment in caught.value.message


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(CsvError, match="empty"):
        parse_csv("")


def test_a_wrong_column_count_names_the_row() -> None:
    with pytest.raises(CsvError) as caught:
        parse_csv(csv_of(INVOICE, INVOICE + ",extra"))
    assert (caught.value.row, caught.value.field) == (2, None)
    assert "expected 13 fields, found 14" in caught.value.message


@pytest.mark.parametrize(
    ("bad_line", "field", "fragment"),
    [
        (INVOICE.replace("91440300568520498A", "91440300568520498B"), "seller_id", "unified social credit code"),
        (INVOICE.replace("31130878", "3113087"), "buyer_id", "business registration"),
        (INVOICE.replace(",RMB,", ",RMX,"), "currency", "ISO 4217"),
        (INVOICE.replace("2026-05-18", "2026-18-05"), "issue_date", "date"),
        (INVOICE.replace('"1,234.50"', "-5"), "amount", "amount"),
        (INVOICE.replace(",INV,", ",memo,"), "doc_type", "invoice"),
        (INVOICE.replace("INV-0042", " - "), "doc_number", "letters or digits"),
        (INVOICE.replace("深圳市华盛电子有限公司", "  "), "seller_name", "name"),
        (BILL.replace(",Yantian", ","), "port_of_loading", "bill of lading"),
        (BILL.replace(",COSU6123456780,COSCO", ",,COSCO"), "bl_number", "bill of lading"),
        (BILL.replace("COSCO SHIPPING STAR", ""), "vessel", "bill of lading"),
        ("," + INVOICE.split(",", 1)[1], "bank", "bank"),
    ],
)
def test_a_bad_field_names_row_and_field(bad_line: str, field: str, fragment: str) -> None:
    with pytest.raises(CsvError) as caught:
        parse_csv(csv_of(INVOICE, BILL, bad_line))
    assert (caught.value.row, caught.value.field) == (3, field), caught.value.problems
    assert fragment in caught.value.message
    assert f"row 3, {field}" in str(caught.value)


def test_every_problem_of_the_file_is_reported_at_once() -> None:
    bad_currency = INVOICE.replace(",RMB,", ",XYZ,")
    bad_both = INVOICE.replace("2026-05-18", "someday").replace("31130878", "bad-id")
    with pytest.raises(CsvError) as caught:
        parse_csv(csv_of(bad_currency, INVOICE, bad_both))
    found = {(p.row, p.field) for p in caught.value.problems}
    assert found == {(1, "currency"), (3, "issue_date"), (3, "buyer_id")}
    assert (caught.value.row, caught.value.field) == (1, "currency")
    problem = caught.value.problems[0]
    assert problem.found == "XYZ" and "ISO 4217" in problem.expected


def test_broken_quoting_is_a_csv_error_not_a_crash() -> None:
    with pytest.raises(CsvError, match="not valid CSV"):
        parse_csv(csv_of(INVOICE, 'ShenzhenBank,"INV,"oops'))


def test_bill_of_lading_fields_are_optional_for_other_documents() -> None:
    line = INVOICE[: -len(",,,")] + ",,SOME VESSEL,"
    doc = parse_csv(csv_of(line))[0].document
    assert doc.vessel == "SOME VESSEL" and doc.bl_number is None


def test_one_form_reads_like_one_row() -> None:
    fields = dict(zip(COLUMNS[1:], BILL.split(",")[1:], strict=True))
    assert document_from_fields(fields) == parse_csv(csv_of(BILL))[0].document
    fields["currency"] = "Shells"
    with pytest.raises(InvalidField) as caught:
        document_from_fields(fields)
    assert caught.value.field == "currency"


@pytest.mark.parametrize("alias", ["INV", "invoice", "Invoice", "发票", "發票", "commercial invoice", "ＩＮＶ"])
def test_document_type_aliases(alias: str) -> None:
    assert DocType(alias) is DocType.INVOICE


@pytest.mark.parametrize("alias", ["B/L", "BL", "b/l", "bill of lading", "bill_of_lading", "提单", "提單", "BOL"])
def test_bill_of_lading_aliases(alias: str) -> None:
    assert DocType(alias) is DocType.BILL_OF_LADING


def test_other_document_types_and_statuses() -> None:
    assert DocType("报关单") is DocType.CUSTOMS_DECLARATION and DocType("仓单") is DocType.WAREHOUSE_RECEIPT
    assert [s.value for s in DocStatus] == ["REGU", "REDU", "DFIN", "FNCD", "CANC"]
    assert all(status.meaning for status in DocStatus)
    assert DocStatus.DFIN.meaning == "duplicate of a document already financed"


def test_overlong_fields_and_line_breaks_inside_a_cell_are_refused() -> None:
    long_name = INVOICE.replace("深圳市华盛电子有限公司", "A" * 300)
    broken = INVOICE.replace("Wing Lee Trading Limited", '"Wing Lee\nTrading"')
    with pytest.raises(CsvError) as caught:
        parse_csv(csv_of(long_name, broken))
    assert [(p.row, p.field) for p in caught.value.problems] == [(1, "seller_name"), (2, "buyer_name")]
    assert "at most 256 characters" in caught.value.problems[0].message
    assert "line breaks" in caught.value.problems[1].message


def test_uploads_in_utf8_with_a_bom_utf16_or_gb18030_read_alike() -> None:
    text = csv_of(INVOICE, BILL)
    rows = parse_csv(text)
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16"), text.encode("gb18030")):
        assert parse_csv(decode_csv(data)) == rows
    with pytest.raises(CsvError, match="not text"):
        decode_csv(b"\xff\xfe\x00")
