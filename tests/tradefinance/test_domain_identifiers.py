"""Trader identifiers: published USCCs (both check characters), Hong Kong BR numbers, Macau SO registrations."""

from __future__ import annotations

import pytest
from stdnum.cn import uscc

from consortia.apps.tradefinance.domain.identifiers import (
    InvalidIdentifier,
    TraderId,
    organisation_check_char,
    parse_trader_id,
)
from consortia.apps.tradefinance.domain.normalise import InvalidField

# Published codes, from python-stdnum's tests/test_cn_uscc.doctest ("found online"): ordinary enterprises,
# the MA… codes issued since 2015, an individual business (92…), a public institution (12…).
PUBLISHED_USCC = (
    "91110000600037341L",
    "121200004013590816",
    "91110000710926094P",
    "91120224064012553U",
    "91152201078371135X",
    "9115220107837757XE",
    "9115220107837941X1",
    "91310115MA1K3BTP2B",
    "91340600MA2PBM9HXD",
    "91440300568520498A",
    "9144030071526726XG",
    "9144060573144633XL",
    "91442000696462712R",
    "91620105L015101280",
    "91620105MA71T4YW8Q",
    "92340602MA2PBMEM24",
    "92340603MA2PBN17X5",
    "92340621MA2UK3PJXE",
)
# Published Hong Kong BR numbers (python-stdnum's tests/test_hk_brn.doctest).
PUBLISHED_HKBR = ("31130878", "52399423", "71623118", "33120398", "1767 4094", "12004664")


@pytest.mark.parametrize("code", PUBLISHED_USCC)
def test_published_unified_social_credit_codes_are_valid(code: str) -> None:
    assert parse_trader_id(code) == TraderId("USCC", code)


@pytest.mark.parametrize(
    "text",
    [
        "９１１１００００６０００３７３４１Ｌ",
        "91110000600037341l",
        " 91 110000 600037341 L ",
        "9111-0000-6000-3734-1L",
        "USCC:91110000600037341L",
    ],
)
def test_a_uscc_is_read_through_full_width_case_spaces_and_a_prefix(text: str) -> None:
    assert parse_trader_id(text) == TraderId("USCC", "91110000600037341L")


def test_a_wrong_final_check_character_is_refused() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_trader_id("91110000600037341N", field="seller_id")
    assert caught.value.field == "seller_id"
    assert "unified social credit code" in caught.value.expected
    assert caught.value.found == "91110000600037341N"
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, InvalidField)


def test_a_wrong_organisation_check_character_is_refused_even_when_the_final_one_is_recomputed() -> None:
    """The mod-31 sum alone would pass this code: its organisation code (GB 11714) check character is wrong."""
    body = "91110000" + "60003734" + "2"  # the organisation code's check character is 1, not 2
    forged = body + uscc.calc_check_digit(body)
    assert uscc.is_valid(forged)
    with pytest.raises(InvalidIdentifier, match="organisation code"):
        parse_trader_id(forged)


def test_organisation_check_character_follows_gb_11714() -> None:
    assert organisation_check_char("60003734") == "1"  # 91110000 60003734 1 L
    assert organisation_check_char("07837757") == "X"  # 91152201 07837757 X E
    assert organisation_check_char("MA2PBM9H") == "X"  # 91340600 MA2PBM9H X D


@pytest.mark.parametrize("bad", ["9111000060003734", "A1110000600037341L", "9111000060003IOZSV"])
def test_malformed_usccs_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_trader_id(bad)


@pytest.mark.parametrize("text", PUBLISHED_HKBR)
def test_published_hong_kong_business_registration_numbers(text: str) -> None:
    assert parse_trader_id(text) == TraderId("HKBR", text.replace(" ", ""))


@pytest.mark.parametrize(
    "text",
    [
        "12345678",
        "1234 5678",
        "１２３４５６７８",
        "12345678-000",
        "12345678-000-01-23-4",
        "BR:12345678",
        "HKBR 12345678",
    ],
)
def test_a_br_number_with_a_branch_or_certificate_suffix_is_the_business(text: str) -> None:
    """The trader is the business: branch and certificate suffixes are accepted and dropped."""
    assert parse_trader_id(text) == TraderId("HKBR", "12345678")


@pytest.mark.parametrize("bad", ["1234567", "123456789", "12345678-00", "12345678-000-1-23-4"])
def test_malformed_br_numbers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_trader_id(bad)


@pytest.mark.parametrize(
    "text",
    [
        "12345 (SO)",
        "12345(SO)",
        "SO 12345",
        "12345 SO",
        "012345 (SO)",
        "１２３４５（ＳＯ）",
        "12345 (so)",
        "MOCR:12345",
    ],
)
def test_macau_commercial_registration_variants(text: str) -> None:
    assert parse_trader_id(text) == TraderId("MOCR", "12345 (SO)")


def test_macau_numbers_are_zero_padded_to_five_digits() -> None:
    assert parse_trader_id("SO 345").value == "00345 (SO)"
    assert parse_trader_id("0345 (SO)") == parse_trader_id("345SO")


@pytest.mark.parametrize("bad", ["12345 (SX)", "SO", "0 (SO)", "1234567 (SO)", "ACME LTD", ""])
def test_malformed_identifiers_name_what_was_expected(bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_trader_id(bad, field="buyer_id")
    assert caught.value.field == "buyer_id" and caught.value.found == bad
    assert caught.value.expected


def test_the_key_keeps_registries_apart() -> None:
    """The same digits in two registries are two traders."""
    assert parse_trader_id("12345678").key == "HKBR:12345678"
    assert parse_trader_id("12345 (SO)").key == "MOCR:12345 (SO)"
