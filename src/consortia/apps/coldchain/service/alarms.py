"""Lot alarms: each broken freshness or safety rule of a lot becomes an alarm on the ledger, once per lot and rule.

After batches are anchored the lots they cover are assessed from their whole temperature history
(:mod:`consortia.apps.coldchain.service.history`, FDA chapter 7 limits and the RRS shelf-life model); every rule the
assessment finds broken is submitted as a ``raise_alarm`` transaction, in English and Korean. The alarm names
its lot and the readings that broke the rule, so it travels as transient data and is stored in the members'
private collection; the block holds only its opaque reference, rule and severity.

Only the organisation owning the alarm's lots may close it (:func:`close_alarm`): the contract refuses anyone
else, and the alarm's key-level policy makes the transaction valid only when the owners' peers endorsed it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from consortia.apps.coldchain.service.store import ReadingStore
from consortia.ledger.encoding import canonical_json

if TYPE_CHECKING:
    from consortia.apps.coldchain.domain.species import SpeciesTable
    from consortia.client.sdk import Contract

log = logging.getLogger(__name__)


def raise_lot_alarms(contract: Contract, store: ReadingStore, table: SpeciesTable, lots: set[str]) -> int:
    """Assess lots and record an on-chain alarm for each broken rule (idempotent per lot and rule)."""
    from consortia.apps.coldchain.service.history import assess_lot
    from consortia.client.errors import GatewayError

    raised = 0
    futures = []
    try:
        existing = {alarm["id"] for alarm in contract.evaluate("alarms", False)}
    except GatewayError:
        existing = set()
    for lot in sorted(lots):
        try:
            journey = {**contract.evaluate("lot_journey", lot), **contract.evaluate("lot_sensors", lot)}
        except GatewayError:
            continue
        species, _, assessment = assess_lot(journey, store, table, int(time.time() * 1000))
        if assessment is None or species is None:
            continue
        for alarm in assessment.alarms:
            if f"{lot}#{alarm.code}" in existing:
                continue  # raised before: an alarm is recorded once per lot and rule
            record = {
                "id": f"{lot}#{alarm.code}",
                "code": alarm.code,
                "severity": "critical" if alarm.code != "shelf_life_exhausted" else "warning",
                "lots": [lot],
                "species": species.name,
                "message": alarm.message,
                "message_ko": _korean(alarm.code),
                "observed": round(alarm.observed, 3),
                "limit": alarm.limit,
                "citation": alarm.citation,
                "hours_above_4_4c": round(assessment.hours_above_4_4c, 3),
                "hours_above_21_1c": round(assessment.hours_above_21_1c, 3),
            }
            try:
                futures.append(contract.submit_async("raise_alarm", transient={"alarm": canonical_json(record)}))
                raised += 1
            except GatewayError as exc:
                log.warning("raising alarm %s failed: %s", record["id"], exc)
    for future in futures:
        try:
            future.result(60)
        except Exception as exc:
            log.warning("an alarm did not commit: %s", exc)
    return raised


def close_alarm(contract: Contract, alarm_ref: str, note: str, timeout: float = 30.0) -> dict:
    """Close an alarm by its reference, endorsed by the owners of its lots (the caller must be one of them)."""
    orgs = contract.evaluate("endorsers", {"alarm": alarm_ref})
    committed = contract.submit(
        "close_alarm", alarm_ref, transient={"note": note.encode()}, endorsing_orgs=orgs, timeout=timeout
    )
    return committed.result


def _korean(code: str) -> str:
    return {
        "high_temperature_exposure": "21.1 °C 초과 노출 — 히스타민 생성 위험",
        "critical_limit_exceeded": "4.4 °C 초과 누적 시간이 한계를 넘음",
        "shelf_life_exhausted": "남은 유통기한 소진",
    }.get(code, code)
