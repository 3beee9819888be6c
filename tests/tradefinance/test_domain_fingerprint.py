"""Keyed fingerprints: HMAC-SHA-256 on a published vector, disguised copies meeting, keys and epochs apart."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortia.apps.tradefinance.domain.documents import DocType, TradeDocument
from consortia.apps.tradefinance.domain.fingerprint import (
    FINGERPRINT_KINDS,
    _message,
    alike_number_keys,
    fingerprint_fields,
    fingerprints,
    hmac_sha256,
    number_variants,
    similarity_keys,
)
from consortia.apps.tradefinance.domain.identifiers import parse_trader_id
from consortia.apps.tradefinance.domain.normalise import normalise_doc_number, parse_amount, parse_currency, parse_date
from consortia.apps.tradefinance.domain.similarity import numbers_alike

KEY = bytes(range(32))


def test_hmac_sha256_matches_rfc_4231_test_case_2() -> None:
    """RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?"."""
    digest = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert digest.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_hmac_sha256_matches_rfc_4231_test_case_1() -> None:
    digest = hmac_sha256(b"\x0b" * 20, b"Hi There")
    assert digest.hex() == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"


def original() -> TradeDocument:
    return TradeDocument(
        doc_type=DocType.BILL_OF_LADING,
        doc_number=normalise_doc_number("COSU-0061234567"),
        seller_id=parse_trader_id("91440300568520498A"),
        seller_name="深圳市华盛电子有限公司",
        buyer_id=parse_trader_id("31130878"),
        buyer_name="Wing Lee Trading Limited",
        issue_date=parse_date("2026-05-18"),
        amount=parse_amount("1,234,567.50"),
        currency=parse_currency("RMB"),
        bl_number=normalise_doc_number("COSU-0061234567"),
        vessel="COSCO SHIPPING STAR",
        port_of_loading="Yantian",
    )


def disguised() -> TradeDocument:
    """The same bill retyped: full-width number, Chinese date, amount grouped otherwise, alias, names translated."""
    return TradeDocument(
        doc_type=DocType("提单"),
        doc_number=normalise_doc_number("ｃｏｓｕ ６１２３４５６７"),
        seller_id=parse_trader_id("9144 0300 5685 2049 8a"),
        seller_name="Shenzhen Huasheng Electronics Co., Ltd.",
        buyer_id=parse_trader_id("31130878-000-04-27-1"),
        buyer_name="永利貿易有限公司",
        issue_date=parse_date("2026年5月18日"),
        amount=parse_amount("１ ２３４ ５６７,５"),
        currency=parse_currency("人民币"),
        bl_number=normalise_doc_number("COSU 0061234567"),
        vessel="Cosco  Shipping-Star",
        port_of_loading="YANTIAN",
    )


def test_every_kind_has_a_docstring_and_a_bill_of_lading_has_all_three() -> None:
    assert [k.name for k in FINGERPRINT_KINDS] == ["number", "parties", "bl"]
    assert all(len(k.doc) > 40 for k in FINGERPRINT_KINDS)
    assert [f.kind for f in fingerprints(original(), KEY, 1)] == ["number", "parties", "bl"]
    invoice = replace(original(), doc_type=DocType.INVOICE)
    assert [f.kind for f in fingerprints(invoice, KEY, 1)] == ["number", "parties"]


def test_a_disguised_copy_meets_its_original_on_every_kind() -> None:
    assert fingerprints(disguised(), KEY, 7) == fingerprints(original(), KEY, 7)
    assert all(len(f.value) == 64 and int(f.value, 16) >= 0 for f in fingerprints(original(), KEY, 7))


@pytest.mark.parametrize(
    ("change", "meets"),
    [
        ({"doc_number": "COSU61234567R1"}, {"parties", "bl"}),  # renumbered
        ({"issue_date": date(2026, 6, 18)}, {"number", "bl"}),  # re-dated
        ({"amount": Decimal("2469135")}, {"number", "bl"}),  # another amount
        ({"seller_id": parse_trader_id("12345 (SO)")}, {"bl"}),  # other parties named
    ],
)
def test_a_copy_changed_on_one_value_still_meets_on_another_kind(change: dict[str, object], meets: set[str]) -> None:
    ours = {f.kind: f.value for f in fingerprints(original(), KEY, 1)}
    theirs = {f.kind: f.value for f in fingerprints(replace(disguised(), **change), KEY, 1)}
    assert {kind for kind in ours if ours[kind] == theirs.get(kind)} == meets


def test_keys_and_epochs_keep_fingerprints_apart() -> None:
    base = {f.value for f in fingerprints(original(), KEY, 1)}
    assert base.isdisjoint(f.value for f in fingerprints(original(), KEY, 2))
    assert base.isdisjoint(f.value for f in fingerprints(original(), bytes(32), 1))
    assert base.isdisjoint(f.value for f in similarity_keys(original(), KEY, 1))
    near = {f.value for f in similarity_keys(original(), KEY, 1)}
    assert near.isdisjoint(f.value for f in similarity_keys(original(), KEY, 2))
    with pytest.raises(ValueError, match="epoch"):
        fingerprints(original(), KEY, -1)
    with pytest.raises(ValueError, match="positive amount"):
        similarity_keys(replace(original(), amount=Decimal(0)), KEY, 1)


def test_messages_are_length_prefixed_so_concatenation_cannot_collide() -> None:
    assert _message(b"t", "number", 1, ("AB", "C")) != _message(b"t", "number", 1, ("A", "BC"))
    assert _message(b"t", "number", 1, ("A",)) != _message(b"t", "number", 11, ())
    # Two documents whose fields only concatenate alike: numbers "INV1" + seller, vs "INV" + ... never equal.
    one = replace(original(), doc_type=DocType.INVOICE, doc_number="INV1")
    other = replace(one, doc_number="INV")
    assert fingerprints(one, KEY, 1)[0] != fingerprints(other, KEY, 1)[0]


def test_the_registry_kinds_hash_the_normalised_fields() -> None:
    fields = fingerprint_fields(original())
    assert fields["number"] == ("bill_of_lading", "COSU61234567", "USCC:91440300568520498A")
    assert fields["parties"][3:] == ("2026-05-18", "1234567.5", "CNY")
    assert fields["bl"] == ("COSU61234567", "cosco shipping star", "yantian")


def shifted(days: int, factor: str) -> TradeDocument:
    doc = replace(original(), doc_type=DocType.INVOICE, doc_number="INV7")
    return replace(doc, issue_date=doc.issue_date + timedelta(days=days), amount=doc.amount * Decimal(factor))


@pytest.mark.parametrize("days", [-3, -2, -1, 0, 1, 2, 3])
@pytest.mark.parametrize("factor", ["0.98", "0.985", "0.999", "1", "1.001", "1.01", "1.02"])
def test_near_duplicates_always_share_a_similarity_key(days: int, factor: str) -> None:
    """Within 2 % and 3 days, whatever bucket edge lies between them, at least one of the four keys is shared."""
    base = shifted(0, "1")
    for start in range(0, 12):  # slide both across bucket edges
        a = replace(base, issue_date=base.issue_date + timedelta(days=start))
        b = replace(a, issue_date=a.issue_date + timedelta(days=days), amount=a.amount * Decimal(factor))
        shared = {k.value for k in similarity_keys(a, KEY, 1)} & {k.value for k in similarity_keys(b, KEY, 1)}
        assert shared, (start, days, factor)


def test_amounts_on_both_sides_of_every_bucket_edge_meet() -> None:
    """Walk amounts upwards in 0.5 % steps across many buckets: each neighbour within 2 % shares a key."""
    amounts = [Decimal(1000) * Decimal("1.005") ** i for i in range(400)]
    docs = [replace(shifted(0, "1"), amount=a.quantize(Decimal("0.01"))) for a in amounts]
    keys = [{k.value for k in similarity_keys(d, KEY, 1)} for d in docs]
    for i in range(len(docs) - 3):  # 1.005^3 ≈ 1.5 %: all within 2 %
        for j in range(i + 1, i + 4):
            assert keys[i] & keys[j], (docs[i].amount, docs[j].amount)


def test_far_documents_or_other_parties_share_no_similarity_key() -> None:
    base = {k.value for k in similarity_keys(shifted(0, "1"), KEY, 1)}
    assert base.isdisjoint(k.value for k in similarity_keys(shifted(0, "1.10"), KEY, 1))
    assert base.isdisjoint(k.value for k in similarity_keys(shifted(14, "1"), KEY, 1))
    other_buyer = replace(shifted(0, "1"), buyer_id=parse_trader_id("52399423"))
    assert base.isdisjoint(k.value for k in similarity_keys(other_buyer, KEY, 1))
    in_usd = replace(shifted(0, "1"), currency="USD")
    assert base.isdisjoint(k.value for k in similarity_keys(in_usd, KEY, 1))


@settings(max_examples=400, deadline=None)
@given(
    a=st.text(alphabet="AB0123", min_size=1, max_size=7),
    b=st.text(alphabet="AB0123", min_size=1, max_size=7),
)
def test_alike_number_keys_meet_exactly_when_the_numbers_are_alike(a: str, b: str) -> None:
    """The registry's keyed test and the offline one agree on every pair (few letters, so many pairs are alike)."""
    first = replace(shifted(0, "1"), doc_number=a)
    second = replace(shifted(0, "1"), doc_number=b)
    shared = {k.value for k in alike_number_keys(first, KEY, 1)} & {k.value for k in alike_number_keys(second, KEY, 1)}
    assert bool(shared) == numbers_alike(a, b)


def test_alike_number_keys_need_the_same_type_parties_and_currency() -> None:
    ours = {k.value for k in alike_number_keys(shifted(0, "1"), KEY, 1)}
    assert ours & {k.value for k in alike_number_keys(replace(shifted(0, "1"), doc_number="INV8"), KEY, 1)}
    other_seller = replace(shifted(0, "1"), seller_id=parse_trader_id("52399423"))
    assert ours.isdisjoint(k.value for k in alike_number_keys(other_seller, KEY, 1))
    assert ours.isdisjoint(k.value for k in alike_number_keys(replace(shifted(0, "1"), currency="HKD"), KEY, 1))
    assert ours.isdisjoint(k.value for k in alike_number_keys(shifted(0, "1"), KEY, 2))
    assert number_variants("AB") == {"AB", "A", "B"} and number_variants("A") == {"A"}
