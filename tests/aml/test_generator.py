"""The labelled data generator: deterministic by seed, labelled, realistic enough, in both CSV formats."""

from __future__ import annotations

import polars as pl

from consortia.apps.aml.domain.generator import (
    AMLSIM_COLUMNS,
    NATIVE_COLUMNS,
    TYPOLOGIES,
    GeneratorConfig,
    csv_rows,
    generate,
    to_amlsim_csv,
    to_native_csv,
)
from consortia.apps.aml.domain.monitoring.formats import parse_csv

SMALL = GeneratorConfig(seed=9, people=200, days=70, warmup_days=30, patterns_per_typology=1)


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, again = generate(SMALL), generate(SMALL)
    assert first.frame.equals(again.frame)
    assert first.patterns == again.patterns
    other = generate(GeneratorConfig(seed=10, people=200, days=70, warmup_days=30, patterns_per_typology=1))
    assert not first.frame.equals(other.frame)


def test_every_typology_is_planted_and_labelled() -> None:
    data = generate(SMALL)
    assert sorted({p.typology for p in data.patterns}) == sorted(TYPOLOGIES)
    labelled = data.frame.filter(pl.col("is_sar"))
    assert set(labelled["typology"].unique()) == set(TYPOLOGIES)
    for pattern in data.patterns:
        rows = labelled.filter(pl.col("alert_id") == pattern.pattern_id)
        touched = set(rows["orig_account"]) | set(rows["bene_account"])
        assert touched - {"CASH"} == set(pattern.accounts)
    assert data.frame.filter(~pl.col("is_sar"))["alert_id"].null_count() == data.frame.filter(~pl.col("is_sar")).height


def test_normal_behaviour_looks_like_a_bank() -> None:
    frame = generate(SMALL).frame.filter(~pl.col("is_sar"))
    # Payroll: an employer pays many people at once.
    payroll = (
        frame.filter(pl.col("orig_account").str.starts_with("EMP"))
        .group_by("orig_account", pl.col("timestamp").dt.date())
        .len()
    )
    assert payroll["len"].max() >= 10
    # Merchants are paid by many customers; round amounts are everywhere; cash goes both ways.
    assert frame.filter(pl.col("bene_account").str.starts_with("MER"))["orig_account"].n_unique() >= 100
    assert frame.filter(pl.col("amount_cents") % 100_000 == 0).height >= 20
    assert {"cash_deposit", "cash_withdrawal", "ach", "wire", "transfer", "check"} <= set(frame["tx_type"].unique())
    # Refunds and repaid loans: money flowing back along a relationship.
    pairs = set(zip(frame["orig_account"], frame["bene_account"], strict=True))
    assert sum(1 for a, b in pairs if (b, a) in pairs and a < b) >= 10


def test_amlsim_and_native_csv_round_trip() -> None:
    data = generate(SMALL)
    amlsim = to_amlsim_csv(data)
    assert amlsim.splitlines()[0] == ",".join(AMLSIM_COLUMNS)
    rows = csv_rows(amlsim)
    assert {r["is_sar"] for r in rows} == {"true", "false"}
    assert {r["alert_id"] for r in rows if r["is_sar"] == "false"} == {"-1"}
    native = to_native_csv(data)
    assert native.splitlines()[0].startswith(",".join(NATIVE_COLUMNS))
    expected = data.frame.drop("is_sar", "alert_id", "typology")
    assert parse_csv(amlsim.encode(), "amlsim").equals(expected)
    assert parse_csv(native.encode(), "native").equals(expected)
