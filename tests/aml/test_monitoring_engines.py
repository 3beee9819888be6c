"""The vectorised batch engine against the one-transaction-at-a-time streaming engine, on generated data."""

from __future__ import annotations

from consortia.apps.aml.domain.generator import GeneratorConfig, generate
from consortia.apps.aml.domain.monitoring.batch import rule_hits
from consortia.apps.aml.domain.monitoring.frame import transactions_of
from consortia.apps.aml.domain.monitoring.streaming import StreamingEngine, hits_frame
from consortia.apps.aml.domain.monitoring.typologies import alerts_from_hits

from .test_monitoring_rules import RULES


def test_batch_and_streaming_agree_on_every_hit_and_alert() -> None:
    dataset = generate(GeneratorConfig(seed=5, people=250, days=80, warmup_days=30, patterns_per_typology=2))
    frame = dataset.frame.drop("is_sar", "alert_id", "typology")
    df, batch = rule_hits(frame, RULES)
    engine = StreamingEngine(RULES)
    decisions = [engine.decide(tx) for tx in transactions_of(frame)]
    stream = hits_frame(decisions)
    assert batch.height > 500
    assert set(batch["rule"].unique()) >= {"structuring", "fan_in", "pass_through", "cycle", "new_relationship"}
    assert batch.to_dicts() == stream.to_dicts()
    # The same hits make the same alerts; the streaming engine's own account decisions name the same accounts.
    alerts = alerts_from_hits(df, batch, RULES)
    assert alerts == alerts_from_hits(df, stream, RULES)
    account_kinds = {t.name for t in RULES.typologies if t.kind == "account"}
    decided = {(a.typology, a.account) for d in decisions for a in d.alerts}
    alerted = {(a.typology, a.accounts[0]) for a in alerts if a.typology in account_kinds}
    assert decided == alerted
    assert engine.alerts() == alerts
    assert {a.typology for a in alerts} >= {"structuring", "fan_in", "cycle"}


def test_streaming_counts_transactions_that_arrive_late() -> None:
    from datetime import timedelta

    from .test_monitoring_rules import Book, ny

    book = Book()
    book.pay(ny(2026, 3, 2, 10), "A", "B", "10.00")
    book.pay(ny(2026, 3, 2, 10) - timedelta(seconds=1), "A", "B", "10.00")
    engine = StreamingEngine(RULES)
    engine.decide(book.txs[0])
    assert engine.late == 0
    engine.decide(book.txs[1])
    assert engine.late == 1
    assert engine.alerts() == []
