"""The player of the demo scenario (:mod:`.scenario`): it acts as each bank and regulator, through the service.

1. The banks register the ten traders in the shared registry and attest KYC of their customers (one attestation
   backdated so it has expired).
2. Each bank registers its documents of the synthetic batch (two hundred, in one file of five banks): the
   disguised copies presented at a second or third bank come back REDU, look-alikes with near-duplicate hits.
3. Banks finance unique documents: apply (FNCD), approve, disburse across the CN–HK–MO corridors with SAFE's
   fields, repay and settle — one defaults. A financing of the trader whose KYC expired is refused (logged).
4. The race: two banks holding one document apply to finance it at the same moment — one FNCD, one DFIN.
5. A regulator (HKMA) flags the near-duplicate for review; a bank's attempt to read another bank's KYC file is
   refused and logged.
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from consortia.apps.tradefinance.consortium import BANKS, DEMO_PASSWORD, EXAMINER, HKMA, JURISDICTION, OFFICER
from consortia.apps.tradefinance.demo.scenario import Scenario, gba
from consortia.apps.tradefinance.domain.csvrows import parse_csv
from consortia.apps.tradefinance.domain.documents import DocStatus
from consortia.apps.tradefinance.domain.synthetic import generate_batch
from consortia.apps.tradefinance.service.tradefinance import (
    FinancingView,
    Refused,
    Registration,
    TradeFinanceService,
)

if TYPE_CHECKING:
    from rich.console import Console

    from consortia.network.embedded import EmbeddedNetwork


def seed(network: EmbeddedNetwork, console: Console, scenario: Scenario | None = None) -> list[str]:
    """Play the scenario; return the demo summary's lines."""
    scenario = scenario or gba()
    batch = generate_batch(scenario.seed, scenario.documents, list(BANKS), traders=scenario.traders)
    rows = parse_csv(batch.csv_text)
    services = {bank: TradeFinanceService.as_user(network, bank, "client") for bank in BANKS}
    today = datetime.now(UTC).date()

    # 1. traders and KYC
    registrar = services[BANKS[0]]
    for trader in batch.traders:
        registrar.register_trader(trader.trader_id.key, dict(trader.names), [])
    expired = batch.traders[scenario.expired_trader % len(batch.traders)].trader_id.key
    sellers: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        sellers[row.bank].add(row.document.seller_id.key)
    for bank in BANKS:
        for trader in sorted(sellers[bank]):
            start, end = today - timedelta(days=30), today + timedelta(days=scenario.kyc_days)
            if trader == expired:
                start, end = today - timedelta(days=400), today - timedelta(days=35)
            services[bank].attest_kyc(
                trader, "standard", start.isoformat(), end.isoformat(), {"file": f"KYC of {trader} at {bank}"}
            )
    console.print(f"  trade finance: {len(batch.traders)} traders registered, KYC attested by {len(BANKS)} banks")

    # 2. documents
    registrations: dict[int, Registration] = {}
    for bank in BANKS:
        own = [row for row in rows if row.bank == bank]
        for registration in services[bank].register_documents(own):
            registrations[registration.row.number] = registration
    counts = defaultdict(int)
    for registration in registrations.values():
        counts[str(registration.status)] += 1
    similar = [r for r in registrations.values() if r.similar]
    console.print(
        f"  trade finance: {len(rows)} documents registered — "
        + ", ".join(f"{status} {counts[status]}" for status in sorted(counts))
        + f"; {len(similar)} with near-duplicate hits"
    )

    # 3. financing: unique documents, each bank's own, not of the expired trader
    in_groups = {n for group in batch.truth_duplicates | batch.truth_suspicious for n in group}
    candidates = [
        r
        for r in sorted(registrations.values(), key=lambda r: r.row.number)
        if r.status is DocStatus.REGU and r.row.number not in in_groups and r.row.document.seller_id.key != expired
    ]
    financed: list[FinancingView] = []
    for index, registration in enumerate(candidates[: scenario.financings]):
        financed.append(_finance(services[registration.row.bank], registration, index, scenario))
    refused_kyc = ""
    blocked = next(
        (r for r in registrations.values() if r.status is DocStatus.REGU and r.row.document.seller_id.key == expired
         and expired in sellers[r.row.bank] and r.row.number not in in_groups),
        None,
    )  # fmt: skip
    if blocked is not None:
        try:
            services[blocked.row.bank].apply_financing(
                blocked.doc_ref, blocked.row.document.amount, blocked.row.document.currency
            )
        except Refused as exc:
            refused_kyc = exc.tx_id or ""

    # 4. the race: one document held by two banks, both apply at once
    race_line = _race(services, batch.truth_duplicates, registrations)

    # 5. a regulator flags the near-duplicate for review; another bank is refused a KYC file (logged)
    examiner = TradeFinanceService.as_user(network, HKMA, EXAMINER, DEMO_PASSWORD)
    review = next((r for r in sorted(similar, key=lambda r: r.row.number) if r.similar[0].other_bank), None)
    review_line = ""
    if review is not None:
        flag = examiner.flag(f"doc:{review.doc_ref}", scenario.review_note)
        review_line = (
            f"near-duplicate for review: document {review.doc_ref} (row {review.row.number}), "
            f"flagged by HKMA in {flag.tx_id[:16]}"
        )
    snooper, owner = services[BANKS[1]], BANKS[0]
    with contextlib.suppress(Refused):
        snooper.kyc_file(next(iter(sorted(sellers[owner]))), owner)
    disbursed = sum(1 for f in financed if f.flows)
    return [
        f"Trade finance (GBA): {len(rows)} documents at {len(BANKS)} banks — "
        + ", ".join(f"{status} {counts[status]}" for status in sorted(counts))
        + f"; {len(financed)} financed ({disbursed} disbursed), KYC refusal logged in {refused_kyc[:16] or '—'}",
        f"  {race_line}",
        f"  {review_line}" if review_line else "  no near-duplicate to review",
        f"  log in at /tradefinance/ as ShenzhenBank/{OFFICER} or HKMA/{EXAMINER} (password {DEMO_PASSWORD})",
    ]


def _finance(service: TradeFinanceService, registration: Registration, index: int, scenario: Scenario) -> FinancingView:
    """Apply, approve, disburse; then repay and settle (or default) — the source-of-funds trail."""
    document = registration.row.document
    amount = round(document.amount * 8 / 10, 2)
    view = service.apply_financing(registration.doc_ref, amount, document.currency)
    if view.status is not DocStatus.FNCD:
        return view
    service.approve(view.financing_id)
    place = JURISDICTION[service.org]
    counterparty = (
        {"CN": "HK", "HK": "MO", "MO": "CN"}[place] if index % 2 else {"CN": "MO", "HK": "CN", "MO": "HK"}[place]
    )
    purpose = scenario.purpose_codes[index % len(scenario.purpose_codes)]
    fields = {"currency": document.currency, "counterparty_country": counterparty, "purpose_code": purpose}
    view = service.disburse(view.financing_id, amount=amount, account_ref=f"{service.org}-LOAN-{index:04d}", **fields)
    if index % 4 == 3:
        return view
    if index < scenario.defaults:
        service.repay(
            view.financing_id, amount=round(amount / 4, 2), account_ref=f"{service.org}-REPAY-{index:04d}", **fields
        )
        return service.default(view.financing_id)
    service.repay(view.financing_id, amount=amount, account_ref=f"{service.org}-REPAY-{index:04d}", **fields)
    return service.settle(view.financing_id)


def _race(
    services: dict[str, TradeFinanceService],
    groups: frozenset[frozenset[int]],
    registrations: dict[int, Registration],
) -> str:
    """Two banks holding one document apply to finance it at the same moment: one FNCD, one DFIN."""
    for group in sorted(groups, key=lambda g: sorted(g)):
        members = [registrations[n] for n in sorted(group) if n in registrations]
        banks = {r.row.bank for r in members}
        if len(members) < 2 or len(banks) < 2 or any(r.status is DocStatus.DFIN for r in members):
            continue
        first, second = members[0], next(r for r in members if r.row.bank != members[0].row.bank)
        answers = race([(services[r.row.bank], r) for r in (first, second)])
        outcome = ", ".join(
            f"{bank} {answer.status}" if isinstance(answer, FinancingView) else f"{bank} refused ({answer})"
            for bank, answer in sorted(answers.items())
        )
        return f"the race for one document at two banks: {outcome}"
    return "no duplicate at two banks to race for"


def race(contenders: list[tuple[TradeFinanceService, Registration]]) -> dict[str, FinancingView | Exception]:
    """Each bank applies to finance its registration of one document, all at the same moment (a barrier)."""
    gate = threading.Barrier(len(contenders))
    answers: dict[str, FinancingView | Exception] = {}

    def apply(service: TradeFinanceService, registration: Registration) -> None:
        document = registration.row.document
        gate.wait()
        try:
            answers[service.org] = service.apply_financing(
                registration.doc_ref, round(document.amount / 2, 2), document.currency
            )
        except Exception as exc:  # a refusal (KYC) is reported with the outcome, not raised in the thread
            answers[service.org] = exc

    threads = [threading.Thread(target=apply, args=pair) for pair in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers
