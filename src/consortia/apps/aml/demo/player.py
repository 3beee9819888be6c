"""The player of the AML demo (:mod:`.scenario`): it submits the scenario, each step as the person who takes it.

1. An analyst files both exchanges' due-diligence records; an analyst and the BSA officer each approve, in their
   own signed transactions; only then does the bank open the exchanges' accounts.
2. The bank's core-banking program posts the month of activity (policy-checked by the contract), then two
   transactions the policy refuses — each refusal recorded for the analyst's queue.
3. The batch engine scans the month and the alerts are recorded.
4. The analyst opens a case on the structuring alert; the BSA officer assigns it, the analyst writes a note and
   attaches the counterparty graph as evidence; the BSA officer decides SAR and files it (the XML validated
   against FinCEN's schema, its hash on the case's record). A second case is closed without a SAR, with reasons.
   A CTR is filed for the first business day whose cash exceeds $10,000.
5. The examiner writes an examination note on the filed SAR.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from consortia.apps.aml.consortium import (
    ANALYST_USER,
    BANK,
    BSA_OFFICER_USER,
    COMPLIANCE_USER,
    DEMO_PASSWORD,
    EXAMINER_USER,
    EXAMINERS,
    EXCHANGES,
)
from consortia.apps.aml.demo import scenario
from consortia.apps.aml.service.aml import AmlService, PolicyRejected

if TYPE_CHECKING:
    from rich.console import Console

    from consortia.network.embedded import EmbeddedNetwork


@dataclass(frozen=True)
class DemoResult:
    """What the demo made: the ids a test or a summary names."""

    transactions: int
    violations: tuple[str, ...]
    alerts: int
    sar_case: str
    sar_hash: str
    no_sar_case: str
    ctr_hash: str
    note_id: str


def play(network: EmbeddedNetwork) -> DemoResult:
    """Play the scenario on a network where the contract is deployed."""
    today = datetime.now(UTC).astimezone(scenario.ZONE_INFO).date()
    analyst = AmlService.as_user(network, BANK, ANALYST_USER, DEMO_PASSWORD)
    officer = AmlService.as_user(network, BANK, BSA_OFFICER_USER, DEMO_PASSWORD)
    core = AmlService.as_user(network, BANK)
    examiner = AmlService.as_user(network, EXAMINERS, EXAMINER_USER, DEMO_PASSWORD)

    for record in scenario.records(today):
        view = analyst.submit_onboarding(record)
        analyst.approve_onboarding(record.exchange_id, view.record_hash)
        officer.approve_onboarding(record.exchange_id, view.record_hash)

    month = scenario.activity(today)
    for exchange in EXCHANGES:
        core.open_accounts(exchange, month.accounts[exchange])
    core.post_transactions(month.transactions, monitor=False)
    violations = []
    for tx in scenario.refused(today):
        try:
            core.post_transaction(tx)
        except PolicyRejected as exc:
            violations.append(exc.violation_id)
    core.scan()

    alerts = analyst.alerts()
    suspicious = [a for a in alerts if a.typology != "ctr"]
    structuring = next((a for a in suspicious if a.typology == "structuring"), suspicious[0])
    # The case closed without a SAR: a layering alert if the scan found one, else any other alert.
    others = [a for a in alerts if a.alert_id != structuring.alert_id]
    other = next((a for a in others if len(a.accounts) > 1), others[0])

    sar = analyst.open_case([structuring.alert_id])
    officer.case_step(sar.case_id, {"event": "assign", "assignee": f"{BANK}/{ANALYST_USER}"})
    analyst.case_step(sar.case_id, {"event": "note", "text": "Cash deposits of $9,000–$9,900 on consecutive "
                                    "business days; the exchange could not explain the source."})  # fmt: skip
    detail = analyst.alert(structuring.alert_id)
    graph = repr(detail.graph).encode()
    evidence = {
        "event": "evidence",
        "kind": "graph",
        "reference": f"graph of {structuring.alert_id}",
        "sha256": hashlib.sha256(graph).hexdigest(),
        "description": "counterparty graph over the month",
    }
    analyst.case_step(sar.case_id, evidence)
    officer.case_step(sar.case_id, {"event": "decide", "decision": "sar", "reasons": list(scenario.SAR_REASONS)})
    filed = officer.file_sar(sar.case_id)

    closed = analyst.open_case([other.alert_id])
    officer.case_step(closed.case_id, {"event": "assign", "assignee": f"{BANK}/{ANALYST_USER}"})
    analyst.case_step(closed.case_id, {"event": "note", "text": "Counterparties checked against the onboarding file."})
    officer.case_step(
        closed.case_id, {"event": "decide", "decision": "no_sar", "reasons": list(scenario.NO_SAR_REASONS)}
    )

    ctr_hash = ""
    candidates = core.ctr_candidates()
    if candidates:
        account, day = candidates[0]
        ctr_hash = core.ctr(account, day).hash
    note = examiner.examination_note(f"filing:{filed.hash}", "SAR filed within 30 days of detection; narrative "
                                     "cites the transactions; no exception.")  # fmt: skip
    return DemoResult(
        transactions=len(month.transactions),
        violations=tuple(violations),
        alerts=len(alerts),
        sar_case=sar.case_id,
        sar_hash=filed.hash,
        no_sar_case=closed.case_id,
        ctr_hash=ctr_hash,
        note_id=note.note_id,
    )


def seed(network: EmbeddedNetwork, console: Console) -> list[str]:
    """Play the demo and return its summary lines (``{base}`` stands for the server's URL)."""
    started = time.monotonic()
    result = play(network)
    console.print(
        f"AML: {result.transactions} transactions posted for {len(EXCHANGES)} exchanges, "
        f"{len(result.violations)} refused by the account policy (recorded), {result.alerts} alerts; case "
        f"{result.sar_case} decided SAR and filed, case {result.no_sar_case} closed without SAR; "
        f"{time.monotonic() - started:.1f} s."
    )
    people = (
        ("analyst", BANK, ANALYST_USER),
        ("BSA officer", BANK, BSA_OFFICER_USER),
        ("exchange", EXCHANGES[0], COMPLIANCE_USER),
        ("examiner", EXAMINERS, EXAMINER_USER),
    )
    width = max(len(label) for label, _, _ in people) + 1
    data = network.directory
    return [
        f"AML at a US bank (synthetic data), password {DEMO_PASSWORD}:",
        *(f"  {(label + ':').ljust(width + 1)} {{base}}/aml  as {org}/{user}" for label, org, user in people),
        "  Look further (these work while the server runs; without it, leave out --server):",
        f"  consortia aml cases --json --server {{base}} --data {data}",
        f"  consortia aml sar {result.sar_case} --out sar.xml --server {{base}} --data {data}",
    ]
