"""The trade-finance contract through the service and the real SDK, on one embedded network of the consortium.

Statuses (REGU, REDU, DFIN, FNCD, CANC) on disguised copies, near-duplicate hits that name no bank, the financing
lifecycle and its refusals, KYC expiry and revocation blocking new financing, the regulators' powers (read
everything, write only flags), private collections (another bank never reads a bank's KYC file or accounts —
not through the contract, not by asking the bank's peer directly), every refusal committed to the ledger, and no
document, file, account or fingerprint key in any block file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from consortia.apps.tradefinance import consortium
from consortia.apps.tradefinance.consortium import CHANNEL, CONTRACT
from consortia.apps.tradefinance.domain.csvrows import COLUMNS, Row, parse_csv
from consortia.apps.tradefinance.domain.documents import DocStatus
from consortia.apps.tradefinance.service.tradefinance import Refused, TradeFinanceError, TradeFinanceService
from consortia.client.errors import EndorsementFailed
from consortia.ledger.config import BatchConfig
from consortia.network.embedded import EmbeddedNetwork
from ledger_scan import scan_block_files

PASSWORD = consortium.DEMO_PASSWORD
SZ, GZ, HK, MO = consortium.SHENZHEN, consortium.GUANGZHOU, consortium.HONG_KONG, consortium.MACAU
SELLER = "91440300MA5F1ABC02"
BUYER_HK = "12345678"
BUYER_MO = "12345 (SO)"
HEADER = ",".join(COLUMNS)
TODAY = datetime.now(UTC).date()


def csv_rows(*lines: str) -> list[Row]:
    """Rows of a CSV made of the header and ``lines``."""
    return parse_csv("\n".join([HEADER, *lines]) + "\n")


def invoice(bank: str, number: str, amount: str, date: str = "2026-11-02", currency: str = "CNY", seller: str = SELLER,
            buyer: str = BUYER_HK) -> str:  # fmt: skip
    """One invoice line."""
    names = f"深圳甲贸易有限公司,{buyer},Harbour Trading Ltd"
    return f'{bank},invoice,{number},{seller},{names},{date},"{amount}",{currency},,,'


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNetwork]:
    """The nine organisations, the contract deployed with its collections and first key."""
    folder = tmp_path_factory.mktemp("tradefinance") / "net"
    net = EmbeddedNetwork.create(folder, consortium.network_spec(BatchConfig(max_transactions=200, timeout_ms=20)))
    consortium.deploy(net)
    try:
        yield net
    finally:
        net.close()


def officer(network: EmbeddedNetwork, bank: str) -> TradeFinanceService:
    """A bank's loan officer, logged in with the demo password."""
    return TradeFinanceService.as_user(network, bank, consortium.OFFICER, PASSWORD)


def examiner(network: EmbeddedNetwork, regulator: str = consortium.PBOC) -> TradeFinanceService:
    """A regulator's examiner."""
    return TradeFinanceService.as_user(network, regulator, consortium.EXAMINER, PASSWORD)


def attest(service: TradeFinanceService, trader: str = SELLER, days: int = 365, start: int = -30) -> None:
    """The service's bank attests KYC of ``trader`` (registering it first)."""
    service.register_trader(trader, {"zh-Hans": "深圳甲贸易有限公司", "en": "Shenzhen Jia Trading"})
    service.attest_kyc(
        trader,
        "standard",
        (TODAY + timedelta(days=start)).isoformat(),
        (TODAY + timedelta(days=days)).isoformat(),
        {"beneficial_owner": f"planted-owner-{service.org}"},
    )


def test_statuses_of_a_disguised_copy_its_financing_and_cancellation(network: EmbeddedNetwork) -> None:
    sz, gz, mo = officer(network, SZ), officer(network, GZ), officer(network, MO)
    attest(sz)
    original = sz.register_documents(csv_rows(invoice(SZ, "INV-2026-0001", "125000.00")))[0]
    assert original.status is DocStatus.REGU and original.similar == ()
    # The same invoice at another bank, disguised on several fields at once.
    disguised = invoice(GZ, "inv 2026 / 0001", "１２５,０００.０", date="2026年11月2日", currency="RMB")
    copy = gz.register_documents(csv_rows(disguised.replace(SELLER, "９１４４０３００ＭＡ５Ｆ１ＡＢＣ０２")))[0]
    assert copy.status is DocStatus.REDU
    # The next invoice of the series is not a duplicate.
    following = sz.register_documents(csv_rows(invoice(SZ, "INV-2026-0002", "98000.00")))[0]
    assert following.status is DocStatus.REGU
    financing = sz.apply_financing(original.doc_ref, "100000", "CNY")
    assert financing.status is DocStatus.FNCD and financing.state == "applied"
    assert {d.doc_ref: d.status for d in gz.documents()}[copy.doc_ref] is DocStatus.DFIN
    third = mo.register_documents(csv_rows(invoice(MO, "INV 2026 0001", "125000", date="02/11/2026")))[0]
    assert third.status is DocStatus.DFIN
    # A cancelled registration stops counting as a duplicate.
    cancelled = sz.cancel_document(following.doc_ref)
    assert cancelled.status is DocStatus.CANC
    again = gz.register_documents(csv_rows(invoice(GZ, "INV-2026-0002", "98000.00")))[0]
    assert again.status is DocStatus.REGU


def test_near_duplicate_hits_give_risk_and_reasons_and_name_no_bank(network: EmbeddedNetwork) -> None:
    hk, zh = officer(network, HK), officer(network, consortium.ZHUHAI)
    first = hk.register_documents(csv_rows(invoice(HK, "INV-7000-0042", "50000.00", date="2026-10-01", buyer=BUYER_MO)))
    assert first[0].status is DocStatus.REGU
    look_alike = invoice(consortium.ZHUHAI, "INV-7000-0043", "50400.00", date="2026-10-02", buyer=BUYER_MO)
    answer = zh.register_documents(csv_rows(look_alike))[0]
    assert answer.status is DocStatus.REGU
    assert len(answer.similar) == 1
    hit = answer.similar[0]
    assert hit.other_bank is True and hit.risk in ("low", "medium", "high")
    assert "same_parties" in hit.reasons and "amount_close" in hit.reasons and "dates_close" in hit.reasons
    # What the block carries for the Zhuhai bank's registration names no other bank and no content.
    block_text = repr(zh._evaluate("documents", consortium.ZHUHAI))
    assert HK not in block_text and "INV-7000" not in block_text and "50000" not in block_text


def test_financing_lifecycle_with_source_of_funds(network: EmbeddedNetwork) -> None:
    mo, regulator = officer(network, MO), examiner(network, consortium.SAFE)
    attest(mo)
    doc = mo.register_documents(csv_rows(invoice(MO, "INV-MO-0001", "80000", currency="MOP", buyer=BUYER_HK)))[0]
    applied = mo.apply_financing(doc.doc_ref, "60000", "MOP")
    fin = applied.financing_id
    with pytest.raises(Refused) as out_of_order:
        mo.settle(fin)
    assert out_of_order.value.code == "CONFLICT" and out_of_order.value.tx_id
    assert mo.approve(fin).state == "approved"
    flow = {"currency": "MOP", "counterparty_country": "HK", "purpose_code": "121010"}
    disbursed = mo.disburse(fin, amount="60000", account_ref="MO-ACCT-PLANTED-0001", **flow)
    assert disbursed.state == "disbursed" and disbursed.outstanding == Decimal(60000)
    assert disbursed.flows[0].corridor == "MO-HK" and disbursed.flows[0].account_ref is None
    repaid = mo.repay(fin, amount="20000", account_ref="MO-ACCT-PLANTED-0002", **flow)
    assert repaid.outstanding == Decimal(40000) and [f.kind for f in repaid.flows] == ["disbursement", "repayment"]
    assert mo.settle(fin).state == "settled"
    assert [s.state for s in mo.financing(fin).steps] == ["applied", "approved", "disbursed", "repaid", "settled"]
    # The regulator follows the money to the accounts (a logged read of the bank's collection).
    followed = regulator.financing(fin, accounts=True)
    assert [f.account_ref for f in followed.flows] == ["MO-ACCT-PLANTED-0001", "MO-ACCT-PLANTED-0002"]
    oversight = regulator.oversight()
    assert any(fin in r.financing_id for r in oversight.records)
    assert any(f.corridor == "HK-HK" or f.bank == MO for f in oversight.financings)
    assert all(f.tx_ids for f in oversight.financings)


def test_expired_or_revoked_kyc_blocks_new_financing(network: EmbeddedNetwork) -> None:
    zh = officer(network, consortium.ZHUHAI)
    expired_seller = "91440400MA4W7L8XXK"
    attest(zh, expired_seller, days=-1, start=-400)
    doc = zh.register_documents(csv_rows(invoice(consortium.ZHUHAI, "EXP-1", "1000", seller=expired_seller)))[0]
    with pytest.raises(Refused) as expired:
        zh.apply_financing(doc.doc_ref, "900", "CNY")
    assert expired.value.code == "KYC" and "expired" in expired.value.reason
    attest(zh)
    fresh = zh.register_documents(csv_rows(invoice(consortium.ZHUHAI, "REV-1", "2000")))[0]
    zh.revoke_kyc(SELLER)
    with pytest.raises(Refused) as revoked:
        zh.apply_financing(fresh.doc_ref, "900", "CNY")
    assert revoked.value.code == "KYC" and "revoked" in revoked.value.reason
    logged = {r.tx_id: r for r in examiner(network).refusals()}
    assert expired.value.tx_id in logged and revoked.value.tx_id in logged
    assert logged[revoked.value.tx_id].function == "apply_financing" and logged[revoked.value.tx_id].who.startswith(
        consortium.ZHUHAI
    )


def test_a_regulator_reads_everything_and_writes_only_flags(network: EmbeddedNetwork) -> None:
    sz, regulator = officer(network, SZ), examiner(network, consortium.HKMA)
    attest(sz)
    doc = sz.register_documents(csv_rows(invoice(SZ, "REG-1", "3000")))[0]
    assert regulator.kyc_file(SELLER, SZ) == {"beneficial_owner": f"planted-owner-{SZ}"}
    assert regulator.document(doc.doc_ref, bank=SZ).doc_number == "REG1"
    overview = {d.doc_ref: d for d in regulator.documents()}  # every bank's registrations, without contents
    assert overview[doc.doc_ref].bank == SZ and overview[doc.doc_ref].doc_number == ""
    refused = []
    for attempt in (
        lambda: regulator._write("register_trader", "USCC:" + SELLER, {"en": "x"}, []),
        lambda: regulator._write("apply_financing", doc.doc_ref, "10", "CNY"),
        lambda: regulator._write("cancel", doc.doc_ref),
        lambda: regulator._write("revoke_kyc", "USCC:" + SELLER),
        lambda: regulator._write("rotate_key", 0),
        lambda: regulator._write("register", transient={"documents": b"[]"}),
    ):
        with pytest.raises(Refused) as caught:
            attempt()
        refused.append(caught.value.tx_id)
    flag = regulator.flag(f"doc:{doc.doc_ref}", "ask for the original")
    assert flag.org == consortium.HKMA
    with pytest.raises(Refused) as bank_flag:
        sz.flag(f"doc:{doc.doc_ref}", "a bank may not flag")
    logged = {r.tx_id for r in regulator.refusals()}
    assert {*refused, bank_flag.value.tx_id} <= logged
    assert any(f.tx_id == flag.tx_id for f in regulator.oversight().flags)


def test_another_bank_never_reads_a_banks_kyc_file_or_accounts(network: EmbeddedNetwork) -> None:
    sz, hk = officer(network, SZ), officer(network, HK)
    attest(sz)
    doc = sz.register_documents(csv_rows(invoice(SZ, "PRIV-1", "7000")))[0]
    fin = sz.apply_financing(doc.doc_ref, "5000", "CNY").financing_id
    sz.approve(fin)
    sz.disburse(fin, amount="5000", currency="CNY", counterparty_country="HK", purpose_code="121010",
                account_ref="SZ-ACCT-PLANTED-9")  # fmt: skip
    assert sz.kyc_file(SELLER, SZ)["beneficial_owner"] == f"planted-owner-{SZ}"
    assert sz.accounts(fin, SZ) == ["SZ-ACCT-PLANTED-9"]
    with pytest.raises(Refused) as kyc:
        hk.kyc_file(SELLER, SZ)
    with pytest.raises(Refused) as accounts:
        hk.accounts(fin, SZ)
    with pytest.raises(Refused) as documents:
        hk._private(SZ, "documents", "*")
    logged = {r.tx_id: r for r in examiner(network).refusals()}
    for refusal in (kyc, accounts, documents):
        assert refusal.value.tx_id in logged and logged[refusal.value.tx_id].org == HK
    # Around the contract's access check: the owner's peer answers no access it did not permit…
    contract = hk._contract()
    with pytest.raises(EndorsementFailed) as forged:
        contract.evaluate("read_private", kyc.value.tx_id, org=SZ)
    assert forged.value.contract_code == "FORBIDDEN"
    # …and the bank's own peer holds none of another bank's collection.
    peer_state = network.peer(HK).channel(CHANNEL).ledger.state
    assert peer_state.private_get(CONTRACT, consortium.bank_collection(SZ), f"kyc:USCC:{SELLER}") is None
    # A listing query refused to another bank is logged too (by the service, as the caller).
    with pytest.raises(Refused) as listing:
        hk.financings(SZ)
    assert listing.value.tx_id in {r.tx_id for r in examiner(network).refusals()}


def test_invalid_identifiers_and_unknown_fields_store_nothing(network: EmbeddedNetwork) -> None:
    sz = officer(network, SZ)
    before = len(sz.traders())
    with pytest.raises(TradeFinanceError) as bad:
        sz.register_trader("91440300MA5F1ABC03", {"en": "bad check character"})
    assert bad.value.code == "INVALID" and "trader_id" in str(bad.value)
    assert len(sz.traders()) == before


def test_rotating_the_key_still_meets_documents_of_the_old_epoch(network: EmbeddedNetwork) -> None:
    admin = TradeFinanceService.as_user(network, GZ, "admin")
    gz, hk = officer(network, GZ), officer(network, HK)
    old = gz.register_documents(csv_rows(invoice(GZ, "ROT-0001", "4321.00")))[0]
    assert admin.rotate_key() >= 2
    copy = hk.register_documents(csv_rows(invoice(HK, "rot 0001", "4,321")))[0]
    assert old.status is DocStatus.REGU and copy.status is DocStatus.REDU


def test_no_document_file_account_or_key_in_any_block(network: EmbeddedNetwork) -> None:
    state = network.peer(SZ).channel(CHANNEL).ledger.state
    key = state.private_get(CONTRACT, consortium.KEY_COLLECTION, "key:1")
    assert key is not None
    key_hex = key.value.decode().split('"key":"')[1][:64]
    assert (
        network.peer(consortium.PBOC)
        .channel(CHANNEL)
        .ledger.state.private_get(CONTRACT, consortium.KEY_COLLECTION, "key:1")
        is None
    ), "a regulator's peer must never hold the fingerprint key"
    needles = [
        key_hex,
        "INV-2026-0001",
        "Harbour Trading Ltd",
        "125000",
        f"planted-owner-{SZ}",
        "SZ-ACCT-PLANTED-9",
        "MO-ACCT-PLANTED-0001",
    ]
    # (The sellers' names are in the shared registry, public by design: the buyer's name is not.)
    assert scan_block_files(Path(network.directory), needles) == []
    assert dataclasses.is_dataclass(TradeFinanceService) is False
