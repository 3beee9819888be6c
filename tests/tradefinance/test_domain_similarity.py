"""Duplicates and look-alikes: pairwise verdicts, and the acceptance line on a generated batch of 2,000+ rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from itertools import combinations

import pytest

from consortia.apps.tradefinance.domain import similarity
from consortia.apps.tradefinance.domain.csvrows import COLUMNS, parse_csv
from consortia.apps.tradefinance.domain.documents import DocType, TradeDocument
from consortia.apps.tradefinance.domain.identifiers import parse_trader_id
from consortia.apps.tradefinance.domain.normalise import normalise_doc_number
from consortia.apps.tradefinance.domain.similarity import compare, group_rows, numbers_alike
from consortia.apps.tradefinance.domain.synthetic import generate_batch

BANKS = ("ShenzhenBank", "GuangzhouBank", "ZhuhaiBank", "HongKongBank", "MacauBank")
SELLER = parse_trader_id("91440300568520498A")
OTHER_SELLER = parse_trader_id("9144030071526726XG")
BUYER = parse_trader_id("31130878")
OTHER_BUYER = parse_trader_id("12345 (SO)")


def invoice(number: str = "INV-0042", **change: object) -> TradeDocument:
    doc = TradeDocument(
        doc_type=DocType.INVOICE,
        doc_number=normalise_doc_number(number),
        seller_id=SELLER,
        seller_name="深圳市华盛电子有限公司",
        buyer_id=BUYER,
        buyer_name="Wing Lee Trading Limited",
        issue_date=__import__("datetime").date(2026, 5, 18),
        amount=Decimal("120000.00"),
        currency="CNY",
    )
    return replace(doc, **change)


def bill(bl_number: str, amount: str) -> TradeDocument:
    number = normalise_doc_number(bl_number)
    return replace(
        invoice(),
        doc_type=DocType.BILL_OF_LADING,
        doc_number=number,
        bl_number=number,
        amount=Decimal(amount),
        vessel="COSCO SHIPPING STAR",
        port_of_loading="Yantian",
    )


# -- pairwise ------------------------------------------------------------------------------------------------------


def test_the_same_document_retyped_is_a_duplicate() -> None:
    verdict = compare(invoice("INV-0042"), invoice("ｉｎｖ ４２", seller_name="Shenzhen Huasheng Electronics"))
    assert verdict.kind == "duplicate" and verdict.risk == "high"
    assert verdict.reasons == ("same_number", "same_parties_date_amount")


def test_the_next_invoice_of_a_series_is_not_a_duplicate() -> None:
    verdict = compare(invoice("INV-0042"), invoice("INV-0043", amount=Decimal("87500.00")))
    assert verdict.kind is None


def test_a_split_bill_of_lading_is_not_a_duplicate() -> None:
    verdict = compare(bill("COSU6123456780", "70000"), bill("COSU6123456781", "50000"))
    assert verdict.kind is None


def test_the_same_amount_and_date_between_other_parties_is_not_a_duplicate() -> None:
    theirs = invoice("HK-2026-118", seller_id=OTHER_SELLER, buyer_id=OTHER_BUYER)
    assert compare(invoice(), theirs).kind is None


def test_the_same_number_from_another_seller_is_not_a_duplicate() -> None:
    assert compare(invoice("INV-0042"), invoice("INV-0042", seller_id=OTHER_SELLER)).kind is None


def test_a_near_duplicate_with_an_alike_number_is_suspicious_high() -> None:
    near = invoice("INV-0024", amount=Decimal("121000.00"), issue_date=invoice().issue_date + timedelta(days=2))
    verdict = compare(invoice(), near)
    assert (verdict.kind, verdict.risk) == ("suspicious", "high")
    assert verdict.reasons == ("same_parties", "amount_within_2pct", "dates_within_3_days", "numbers_alike")


def test_the_same_amount_days_apart_under_another_number_is_suspicious_medium() -> None:
    near = invoice("INV-7311", issue_date=invoice().issue_date + timedelta(days=1))
    verdict = compare(invoice(), near)
    assert (verdict.kind, verdict.risk) == ("suspicious", "medium")
    assert "same_amount" in verdict.reasons and "numbers_alike" not in verdict.reasons


def test_a_close_amount_under_another_number_is_suspicious_low() -> None:
    verdict = compare(invoice(), invoice("INV-7311", amount=Decimal("118000")))
    assert (verdict.kind, verdict.risk) == ("suspicious", "low")


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("116300")},  # 3.1 % less
        {"issue_date": invoice().issue_date + timedelta(days=4)},
        {"currency": "HKD"},
        {"doc_type": DocType.WAREHOUSE_RECEIPT},
        {"buyer_id": OTHER_BUYER},
    ],
)
def test_beyond_the_tolerances_or_between_other_parties_nothing_is_flagged(change: dict[str, object]) -> None:
    assert compare(invoice(), invoice("INV-0043", **change)).kind is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("INV42", "INV43"),  # a typo
        ("INV42", "INV24"),  # two neighbours swapped
        ("COSU6123456780", "COSU6123456708"),
        ("INV42", "INV42A"),  # a character added
        ("INV42", "IV42"),  # a character left out
        ("INV42", "HK42"),  # the same digits
        ("ABXC", "ABCY"),  # one deletion on each side
    ],
)
def test_alike_numbers(a: str, b: str) -> None:
    assert numbers_alike(a, b) and numbers_alike(b, a)


@pytest.mark.parametrize(
    ("a", "b"), [("INV42", "INV7311"), ("INV4210", "INV4301"), ("INV42", "INV4321"), ("WR7", "CD")]
)
def test_unlike_numbers(a: str, b: str) -> None:
    assert not numbers_alike(a, b)


# -- batches -------------------------------------------------------------------------------------------------------


def csv_of(docs: Iterable[tuple[str, str]]) -> str:
    return "\n".join([",".join(COLUMNS), *(f"{bank},{line}" for bank, line in docs)]) + "\n"


def test_group_rows_reports_groups_by_data_row_number() -> None:
    text = csv_of(
        [
            ("ShenzhenBank", 'INV,INV-0042,91440300568520498A,华盛,31130878,Wing Lee,2026-05-18,"120,000.00",RMB,,,'),
            ("ShenzhenBank", "INV,INV-0043,91440300568520498A,华盛,31130878,Wing Lee,2026-05-18,87500,CNY,,,"),
            (
                "HongKongBank",
                "发票,ｉｎｖ ４２,9144 0300 5685 2049 8A,Huasheng,3113 0878,永利,18/05/2026,120000,人民币,,,",
            ),
            ("MacauBank", "INV,INV-0024,91440300568520498A,华盛,31130878,Wing Lee,20 May 2026,121000,CNY,,,"),
            ("MacauBank", "INV,INV-0042,9144030071526726XG,Other,31130878,Wing Lee,2026-05-18,120000,CNY,,,"),
        ]
    )
    groups = group_rows(parse_csv(text))
    assert [g.as_json() for g in groups] == [
        {"rows": [1, 3], "kind": "duplicate", "reasons": ["same_number", "same_parties_date_amount"], "risk": "high"},
        {
            "rows": [1, 3, 4],
            "kind": "suspicious",
            "reasons": ["same_parties", "amount_within_2pct", "dates_within_3_days", "numbers_alike"],
            "risk": "high",
        },
    ]


def test_generated_batches_are_deterministic_and_valid() -> None:
    one = generate_batch(7, 200, BANKS)
    assert one == generate_batch(7, 200, BANKS)
    assert one.csv_text != generate_batch(8, 200, BANKS).csv_text
    rows = parse_csv(one.csv_text)
    assert len(rows) == 200 and {r.bank for r in rows} == set(BANKS)
    assert {t.trader_id.kind for t in one.traders} == {"USCC", "HKBR", "MOCR"}
    assert {r.document.doc_type for r in rows} == set(DocType)
    by_number = {r.number: r for r in rows}
    for group in one.truth_duplicates:  # presented at two or three different banks
        assert 2 <= len(group) <= 3 and len({by_number[n].bank for n in group}) == len(group)
    with pytest.raises(ValueError, match="banks"):
        generate_batch(1, 200, ["OnlyBank"])
    with pytest.raises(ValueError, match="traders"):
        generate_batch(1, 200, BANKS, traders=3)


def test_the_demo_sized_batch_has_ten_traders_and_a_handful_of_each_plant() -> None:
    batch = generate_batch(1, 200, BANKS, traders=10)
    assert len(batch.traders) == 10 and len({t.trader_id for t in batch.traders}) == 10
    assert 3 <= len(batch.truth_duplicates) <= 10 and len(batch.truth_suspicious) >= 1
    groups = group_rows(parse_csv(batch.csv_text))
    assert {g.rows for g in groups if g.kind == "duplicate"} == {tuple(sorted(s)) for s in batch.truth_duplicates}


def pairs(groups: Iterable[Iterable[int]]) -> set[frozenset[int]]:
    return {frozenset(pair) for group in groups for pair in combinations(sorted(group), 2)}


def scores(found: set[frozenset[int]], truth: set[frozenset[int]]) -> tuple[float, float]:
    hits = len(found & truth)
    return hits / len(truth), (hits / len(found) if found else 1.0)


@pytest.mark.parametrize("seed", [2026, 12])
def test_acceptance_disguised_duplicates_caught_and_different_documents_not_merged(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,400 generated rows from five banks: pairwise recall and precision of both kinds, printed for the note."""
    batch = generate_batch(seed, 2400, BANKS)
    rows = parse_csv(batch.csv_text)
    calls = 0
    real_compare = similarity.compare

    def counting(a: TradeDocument, b: TradeDocument) -> similarity.Similarity:
        nonlocal calls
        calls += 1
        return real_compare(a, b)

    monkeypatch.setattr(similarity, "compare", counting)
    groups = group_rows(rows)

    duplicate_pairs = pairs(g.rows for g in groups if g.kind == "duplicate")
    suspicious_pairs = pairs(g.rows for g in groups if g.kind == "suspicious")
    dup_recall, dup_precision = scores(duplicate_pairs, pairs(batch.truth_duplicates))
    sus_recall, sus_precision = scores(suspicious_pairs, pairs(batch.truth_suspicious))
    planted_lookalikes = {kind: pairs(sets) for kind, sets in batch.lookalikes.items()}
    merged = {kind: len(p & duplicate_pairs) for kind, p in planted_lookalikes.items()}
    flagged_near_misses = len(planted_lookalikes["near_miss"] & suspicious_pairs)
    print(
        f"\n[seed {seed}] {len(rows)} rows; duplicates: {len(batch.truth_duplicates)} planted groups "
        f"({len(pairs(batch.truth_duplicates))} pairs), recall {dup_recall:.4f}, precision {dup_precision:.4f}; "
        f"suspicious: {len(batch.truth_suspicious)} planted pairs, recall {sus_recall:.4f}, precision "
        f"{sus_precision:.4f}; look-alikes planted { ({k: len(v) for k, v in planted_lookalikes.items()}) }, merged "
        f"as duplicates {merged}, near misses flagged {flagged_near_misses}; "
        f"pairs compared {calls} (all pairs would be {len(rows) * (len(rows) - 1) // 2})"
    )
    assert len(rows) == 2400
    assert dup_recall == 1.0 and dup_precision == 1.0
    assert sus_recall == 1.0 and sus_precision == 1.0
    assert len(planted_lookalikes) == 5 and all(len(p) >= 25 for p in planted_lookalikes.values())
    assert set(merged.values()) == {0} and flagged_near_misses == 0
    assert calls < 2 * len(rows)  # blocking, not all pairs


def test_keyed_fingerprints_and_buckets_find_the_planted_truth_of_a_batch() -> None:
    """What the ledger sees: every planted copy shares a keyed fingerprint with its original (same kind), every
    planted near duplicate a keyed similarity bucket, and no look-alike pair shares a fingerprint."""
    from consortia.apps.tradefinance.domain.fingerprint import fingerprints, similarity_keys

    key = b"consortium key of epoch 3".ljust(32, b"\0")
    batch = generate_batch(5, 400, BANKS)
    docs = {row.number: row.document for row in parse_csv(batch.csv_text)}

    def prints(n: int) -> set[tuple[str, str]]:
        return {(f.kind, f.value) for f in fingerprints(docs[n], key, 3)}

    for group in batch.truth_duplicates:
        for a, b in combinations(sorted(group), 2):
            assert prints(a) & prints(b), (a, b)
    for pair in batch.truth_suspicious:
        a, b = sorted(pair)
        assert {k.value for k in similarity_keys(docs[a], key, 3)} & {k.value for k in similarity_keys(docs[b], key, 3)}
        assert not prints(a) & prints(b)
    for sets in batch.lookalikes.values():
        for pair in sets:
            a, b = sorted(pair)
            assert not prints(a) & prints(b), (a, b)
