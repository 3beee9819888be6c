"""Normalisation: one case per notation the issue lists, and errors that name the field, the expected, the found."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from consortia.apps.tradefinance.domain.normalise import (
    InvalidField,
    amount_text,
    nfkc,
    normalise_doc_number,
    normalise_text,
    parse_amount,
    parse_currency,
    parse_date,
)


def test_nfkc_folds_full_width_forms_and_the_ideographic_space() -> None:
    assert nfkc("ＩＮＶ－００４２\u3000ＡＢＣ") == "INV-0042 ABC"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cosco  Shipping-Star", "cosco shipping star"),
        ("COSCO SHIPPING STAR", "cosco shipping star"),
        ("ＣＯＳＣＯ　Ｓｈｉｐｐｉｎｇ／Ｓｔａｒ", "cosco shipping star"),
        ("  Wing_Lee. Co., Ltd ", "wing lee co ltd"),
        ("Maria·Santos", "maria santos"),
        ("Straße", "strasse"),  # case-folding, not just lower-casing
    ],
)
def test_normalise_text(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "INV-0042",
        "inv-0042",
        "INV 0042",
        "INV0042",
        "INV42",
        "INV-42",
        " INV - 00042 ",
        "ＩＮＶ－００４２",
        "INV/0042",
        "INV.0042",
        "INV_0042",
        "INV#42",
    ],
)
def test_document_numbers_agree_across_case_spaces_separators_leading_zeros_and_full_width(text: str) -> None:
    assert normalise_doc_number(text) == "INV42"


def test_document_numbers_keep_what_tells_documents_apart() -> None:
    assert normalise_doc_number("INV-0042") != normalise_doc_number("INV-0043")
    assert normalise_doc_number("INV-0100") != normalise_doc_number("INV-0001")
    assert normalise_doc_number("ZL25-05422") == normalise_doc_number("ZL2505422")  # a separator left out
    assert normalise_doc_number("0000") == "0"


@pytest.mark.parametrize(
    "text",
    [
        "2020-05-18",
        "2020/05/18",
        "2020.05.18",
        "2020-5-18",
        "18/05/2020",
        "18-05-2020",
        "18.05.2020",
        "20200518",
        "2020年5月18日",
        "2020年05月18日",
        "2020年5月18号",
        "18 May 2020",
        "18 may 2020",
        "18th May 2020",
        "May 18, 2020",
        "May 18 2020",
        "18-May-20",
        "18-MAY-2020",
        "18 May, 2020",
        "２０２０－０５－１８",
        "２０２０年５月１８日",
        " 2020-05-18 ",
    ],
)
def test_every_common_date_notation(text: str) -> None:
    assert parse_date(text) == date(2020, 5, 18)


def test_ambiguous_numeric_dates_are_read_day_first() -> None:
    """05/06/2020 is 5 June in Hong Kong, Macau and the Mainland's English documents; never the US 6 May."""
    assert parse_date("05/06/2020") == date(2020, 6, 5)
    assert parse_date("5.6.2020") == date(2020, 6, 5)
    assert parse_date("September 1, 2020") == parse_date("1 Sep 2020") == date(2020, 9, 1)


@pytest.mark.parametrize(
    "bad",
    [
        "2020-13-01",
        "31/04/2020",
        "18/05/20",
        "yesterday",
        "2020-05",
        "18 Foo 2020",
        "",
        "0020-05-18",
        "18/05/9999",
        "2020年2月30日",
    ],
)
def test_bad_dates_name_the_field_the_expected_and_the_found(bad: str) -> None:
    with pytest.raises(InvalidField) as caught:
        parse_date(bad, field="issue_date")
    assert caught.value.field == "issue_date"
    assert "date" in caught.value.expected
    assert caught.value.found == bad
    assert "issue_date" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.50", "1234.5"),
        ("1234.5", "1234.5"),
        ("1234.50", "1234.5"),
        ("１２３４.５", "1234.5"),
        ("１，２３４．５０", "1234.5"),
        ("1 234.50", "1234.5"),
        ("1\u00a0234.50", "1234.5"),
        ("1 234,50", "1234.5"),
        ("1.234,50", "1234.5"),
        ("1234,5", "1234.5"),
        ("12,34", "12.34"),  # a lone comma before one or two digits is a decimal comma
        ("1,234", "1234"),
        ("1,234,567.89", "1234567.89"),
        ("1.234.567", "1234567"),
        ("0.5", "0.5"),
        (" 42 ", "42"),
    ],
)
def test_amount_notations(text: str, expected: str) -> None:
    amount = parse_amount(text)
    assert amount == Decimal(expected)
    assert amount_text(amount) == expected


def test_amounts_are_exact_and_one_spelling() -> None:
    assert amount_text(parse_amount("1,000.00")) == "1000"  # not "1E+3"
    assert parse_amount("0.10") + parse_amount("0.20") == Decimal("0.3")


@pytest.mark.parametrize(
    "bad",
    [
        "0",
        "0.00",
        "-1,234.50",
        "(1,234.50)",
        "NaN",
        "Infinity",
        "1e5",
        "1,2345.00",
        "1.234.5",
        "HK$100",
        "",
        "1..5",
        ".5",
    ],
)
def test_bad_amounts_are_refused_with_the_field_named(bad: str) -> None:
    with pytest.raises(InvalidField) as caught:
        parse_amount(bad)
    assert caught.value.field == "amount" and caught.value.found == bad and caught.value.expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("CNY", "CNY"),
        ("cny", "CNY"),
        ("RMB", "CNY"),
        ("CNH", "CNY"),
        ("¥", "CNY"),
        ("￥", "CNY"),  # full-width yen sign
        ("元", "CNY"),
        ("人民币", "CNY"),
        ("人民幣", "CNY"),
        ("HKD", "HKD"),
        ("HK$", "HKD"),
        ("ＨＫ＄", "HKD"),
        ("港币", "HKD"),
        ("港元", "HKD"),
        ("MOP", "MOP"),
        ("MOP$", "MOP"),
        ("澳门元", "MOP"),
        ("澳門元", "MOP"),
        ("葡币", "MOP"),
        ("USD", "USD"),
        ("US$", "USD"),
        ("us $", "USD"),
        ("美元", "USD"),
        ("EUR", "EUR"),
        ("€", "EUR"),
        ("JPY", "JPY"),
        ("円", "JPY"),
        ("GBP", "GBP"),
        ("£", "GBP"),
    ],
)
def test_currency_aliases_become_iso_4217(text: str, code: str) -> None:
    assert parse_currency(text) == code


@pytest.mark.parametrize("bad", ["XYZ", "$", "dollars", "", "RMBB"])
def test_unknown_currencies_are_refused_with_the_field_named(bad: str) -> None:
    with pytest.raises(InvalidField) as caught:
        parse_currency(bad, field="currency")
    assert caught.value.field == "currency" and caught.value.found == bad
    assert "ISO 4217" in caught.value.expected
