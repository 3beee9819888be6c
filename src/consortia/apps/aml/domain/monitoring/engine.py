"""One call to monitor a table of transactions: rule hits (batch engine), then alerts (typologies)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from consortia.apps.aml.domain.monitoring.batch import rule_hits
from consortia.apps.aml.domain.monitoring.config import Rules
from consortia.apps.aml.domain.monitoring.typologies import alerts_from_hits
from consortia.apps.aml.domain.transactions import Alert


@dataclass(frozen=True)
class ScanResult:
    """What a scan found: the alerts, and the rule hits behind them (a table, :data:`.batch.HITS_SCHEMA`)."""

    transactions: int
    alerts: tuple[Alert, ...]
    hits: pl.DataFrame


def scan(frame: pl.DataFrame, rules: Rules) -> ScanResult:
    """Run every rule and typology over ``frame`` (schema :data:`.frame.SCHEMA`)."""
    df, hits = rule_hits(frame, rules)
    return ScanResult(frame.height, tuple(alerts_from_hits(df, hits, rules)), hits)
