"""How good is the detector? Recall and precision per typology, at the account level, on labelled data.

An analyst works accounts, not transactions, so detection is scored per account: an account is *suspicious*
when the generator planted it in a laundering pattern (:mod:`.generator`), and *alerted* when some suspicion
alert names it (CTR alerts are a report that is due, not a suspicion, and are left out).

- **Recall of a planted typology** — of the accounts planted in that typology, the share named by any suspicion
  alert (the alert may call the shape something else: a stack seen only in part looks like a fan-out).
- **Precision of an alert typology** — of the accounts named by alerts of that typology, the share that were
  planted in some pattern.
- **Overall** — recall over all planted accounts, precision over all alerted accounts.

The target of issue 13 is recall >= 0.9 at precision >= 0.5 overall, on a seed the rules were never tuned on
(``rules.toml`` names the tuning seeds).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from consortia.apps.aml.domain.generator import Dataset
from consortia.apps.aml.domain.transactions import CASH_ACCOUNT, Alert

TARGET_RECALL = 0.9
TARGET_PRECISION = 0.5


@dataclass(frozen=True)
class Score:
    """Recall or precision of one typology (or overall), with the counts behind it."""

    name: str
    hits: int
    total: int

    @property
    def value(self) -> float:
        """hits / total (1.0 when there is nothing to find or nothing was said)."""
        return self.hits / self.total if self.total else 1.0


@dataclass(frozen=True)
class Evaluation:
    """Recall per planted typology, precision per alert typology, and both overall."""

    recall: tuple[Score, ...]
    precision: tuple[Score, ...]
    overall_recall: Score
    overall_precision: Score
    alerts: int

    @property
    def meets_target(self) -> bool:
        """Whether recall >= 0.9 at precision >= 0.5 overall."""
        return self.overall_recall.value >= TARGET_RECALL and self.overall_precision.value >= TARGET_PRECISION

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "overall": {
                "recall": round(self.overall_recall.value, 4),
                "precision": round(self.overall_precision.value, 4),
                "suspicious_accounts": self.overall_recall.total,
                "alerted_accounts": self.overall_precision.total,
                "meets_target": self.meets_target,
            },
            "recall_by_planted_typology": {
                s.name: {"recall": round(s.value, 4), "found": s.hits, "planted": s.total} for s in self.recall
            },
            "precision_by_alert_typology": {
                s.name: {"precision": round(s.value, 4), "suspicious": s.hits, "alerted": s.total}
                for s in self.precision
            },
            "alerts": self.alerts,
        }


def planted_accounts(dataset: Dataset) -> dict[str, str]:
    """Each planted account and the typology it was planted in."""
    return {account: pattern.typology for pattern in dataset.patterns for account in pattern.accounts}


def evaluate(dataset: Dataset, alerts: Iterable[Alert], reporting: Iterable[str] = ("ctr",)) -> Evaluation:
    """Score ``alerts`` against the patterns planted in ``dataset``."""
    truth = planted_accounts(dataset)
    left_out = set(reporting)
    alerted: dict[str, set[str]] = defaultdict(set)
    counted = 0
    for alert in alerts:
        if alert.typology in left_out:
            continue
        counted += 1
        for account in alert.accounts:
            if account != CASH_ACCOUNT:
                alerted[alert.typology].add(account)
    everyone = set().union(*alerted.values()) if alerted else set()
    by_planted: dict[str, list[str]] = defaultdict(list)
    for account, typology in truth.items():
        by_planted[typology].append(account)
    recall = tuple(
        Score(t, sum(1 for a in accounts if a in everyone), len(accounts)) for t, accounts in sorted(by_planted.items())
    )
    precision = tuple(
        Score(t, sum(1 for a in accounts if a in truth), len(accounts)) for t, accounts in sorted(alerted.items())
    )
    return Evaluation(
        recall=recall,
        precision=precision,
        overall_recall=Score("overall", sum(1 for a in truth if a in everyone), len(truth)),
        overall_precision=Score("overall", sum(1 for a in everyone if a in truth), len(everyone)),
        alerts=counted,
    )
