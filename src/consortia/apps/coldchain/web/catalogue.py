"""Every string the cold chain's pages show, in Korean and English: one :class:`~consortia.ui.i18n.Catalogue`.

The consumer page, the QR label page, the operators' dashboard and the error pages all render their text from
:data:`CATALOGUE` — server-side through Jinja (``text.key``), and in the browser through the same table, which the
page carries as a JSON data block (``<script type="application/json" id="strings">``) for its script to read, so
no string lives in JavaScript. Keys ending in ``.one`` / ``.other`` are plural forms
(:meth:`~consortia.ui.i18n.Catalogue.plural`: Korean has one form for every count). Placeholders are
``{name}``.

Codes are shown by their names: the critical tracking events (``cte.<code>``, the CBV business step behind each,
e.g. ``retail_selling`` → "Retail sale"), CBV dispositions (``disposition.<code>``), alarm kinds
(``alarm.<code>``, e.g. ``high_temperature_exposure``) and safety states (``state.<code>``).

:data:`ALLOW` lists the names of standards and bodies a Korean page writes in Latin letters (FDA, FAO, RRS).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consortia.apps.coldchain.domain.cte import CTES
from consortia.ui.i18n import Catalogue

LANGUAGES = ("ko", "en")
DEFAULT = "ko"
"""The consumers of Busan and Seoul read Korean first; a browser asking for English gets English."""

ALLOW = ("FDA", "FAO", "RRS")
"""Names of standards and bodies written in Latin letters on a Korean page."""

_EN: dict[str, str] = {
    # shared
    "brand": "Busan Smart Marine Logistics",
    "switch_to": "한국어",
    "lot": "Lot",
    "loading": "Loading…",
    "zone_note": "Times: {zone}",
    # consumer page
    "consumer.title": "Where your fish came from",
    "freshness": "Freshness",
    "origin": "Caught and landed",
    "journey": "The journey",
    "map": "Map",
    "temperature": "Temperature",
    "inspections": "Inspections",
    "verification": "How we know",
    "verification_text": (
        "Each step above was recorded on the consortium's blockchain. Your browser checked the Merkle proofs of "
        "those records against block headers signed by the ordering service — it does not have to trust this server."
    ),
    "verifying": "Checking the ledger…",
    "verified": "Verified on the blockchain",
    "not_verified": "Not verified",
    "unavailable": "Verification unavailable",
    "records.one": "{count} record checked in your browser",
    "records.other": "{count} records checked in your browser",
    "failed.one": "{count} record failed the check",
    "failed.other": "{count} records failed the check",
    "no_proof": "no proof",
    "days_left": "days of shelf life left",
    "days_of": "{days} of {total} days of shelf life left",
    "spoiled": "Past its shelf life",
    "no_readings": "No temperature readings yet.",
    "caught": "Caught in the {area}",
    "caught_by": "Caught in the {area} by",
    "fishing": "Fishing trip {start} – {end}",
    "landed": "Landed at {place}, {when}",
    "species": "Species",
    "shelf_model": "shelf life by the RRS model (1 + 0.1·T)²",
    "limit_abuse": "FDA limit 4.4 °C",
    "limit_high": "21.1 °C (histamine risk)",
    "readings.one": "{count} reading",
    "readings.other": "{count} readings",
    "batches.one": "{count} anchored 5-minute average",
    "batches.other": "{count} anchored 5-minute averages",
    "hours_above": "{hours} h above 4.4 °C",
    "recalled": "This lot was recalled.",
    "alarm_label": "Alarm",
    "inspection_on": "Inspection of {when}: {verdict}",
    "none_inspected": "No inspection recorded for this lot.",
    "cleared_by": "Cleared by the inspection of {when}",
    "cleared_by_result": "Cleared by the inspection of {when}: {result}",
    "not_for_sale": "Not for sale: no shelf life is shown for this lot.",
    "chart_axis": "°C",
    # safety states
    "state.fresh": "Fresh: fine to sell",
    "state.use_soon": "Use soon",
    "state.held_for_inspection": "Held for inspection: not for sale",
    "state.do_not_sell": "Do not sell or eat",
    "state_short.fresh": "Fresh",
    "state_short.use_soon": "Use soon",
    "state_short.held_for_inspection": "Held for inspection",
    "state_short.do_not_sell": "Do not sell",
    # alarm kinds
    "alarm.high_temperature_exposure": "Exposure above 21.1 °C (histamine risk)",
    "alarm.critical_limit_exceeded": "Too long above 4.4 °C",
    "alarm.shelf_life_exhausted": "Shelf life used up",
    "alarm.other": "Temperature alarm",
    # dispositions
    "disposition.conformant": "conformant",
    "disposition.non_conformant": "not conformant",
    "disposition.active": "active",
    "disposition.in_progress": "in progress",
    "disposition.in_transit": "in transit",
    "disposition.retail_sold": "sold",
    "disposition.recalled": "recalled",
    "disposition.other": "other",
    # QR label page
    "qr.title": "QR code of a lot",
    "qr.scan": "Scan with a phone camera to open the lot's page.",
    "qr.open": "Open the consumer page",
    "qr.alt": "QR code of lot {lot}",
    "qr.state": "Safety state",
    # dashboard
    "dash.title": "Cold chain · operators",
    "dash.heading": "Busan cold chain · operators",
    "dash.signed_in": "Signed in as",
    "dash.explorer": "Explorer",
    "dash.logout": "Log out",
    "dash.lots": "Lots",
    "dash.lot": "Lot",
    "dash.last_step": "Last step",
    "dash.when": "When",
    "dash.where": "Where",
    "dash.status": "Status",
    "dash.page": "Consumer page",
    "dash.open": "open",
    "dash.downstream": "Downstream of",
    "dash.downstream_hint": "Click a lot: everything made from it, for a recall.",
    "dash.tracing": "Tracing…",
    "dash.end": "(end)",
    "dash.recall.one": "Recall {lot} and this {count} lot",
    "dash.recall.other": "Recall {lot} and these {count} lots",
    "dash.recall_why": "Why is {lot} recalled?",
    "dash.recall_default": "temperature abuse",
    "dash.open_alarms": "Open alarms",
    "dash.no_alarms": "No open alarms.",
    "dash.live": "Live temperatures",
    "dash.logger": "Logger",
    "dash.site": "Site",
    "dash.celsius": "°C",
    "dash.at": "At",
    "dash.stale": "stale: {age}",
    "dash.recalls": "Recalls",
    "dash.no_recalls": "No recalls.",
    "dash.in_transit": "in transit",
    "dash.alarms.one": "{count} alarm",
    "dash.alarms.other": "{count} alarms",
    "dash.inspected": "inspected: {verdict}",
    "dash.recalled": "recalled",
    "dash.no_value": "—",
    "dash.failed": "Could not load: {detail}",
    "dash.proof": "Proof",
    "dash.verify_reading": "verify",
    "dash.verify_reading_of": "Verify the last anchored reading of {device}",
    "dash.reading_proof": "Reading proof",
    "dash.reading_proof_hint": "Press “verify” beside a logger: its last anchored reading is checked in this browser.",
    "dash.not_anchored": "none anchored yet",
    "dash.anchored_reading": "{celsius} at {when}",
    # reading proofs (consumer page and dashboard)
    "rp.title": "Check a single reading",
    "rp.hint": (
        "Pick a reading from the chart: your browser fetches its proof and checks, step by step, that it is the "
        "reading the logger sent and that the ledger holds it."
    ),
    "rp.warmest": "Warmest reading",
    "rp.latest": "Latest reading",
    "rp.reading": "{celsius} at {when}",
    "rp.check": "Check this reading",
    "rp.checking": "Checking the reading…",
    "rp.ok": "This reading is in the ledger and nobody has changed it since.",
    "rp.failed": "Not verified: the check “{step}” failed.",
    "rp.logger": "Logger",
    "rp.seq": "reading no. {seq}",
    "rp.none": "Only 5-minute averages are kept for this lot here, so there is no single reading to check.",
    "rp.step.shown": "The proof is about the reading shown",
    "rp.step.fetch": "The server sent the proof",
    "rp.step.readable": "The proof can be read",
    "rp.step.leaf": "The reading hashes to the proof's fingerprint",
    "rp.step.batch": "The reading is in its logger's batch",
    "rp.step.anchor": "The batch is the one the logger's ledger record names",
    "rp.step.root": "The ledger transaction carries a Merkle root",
    "rp.step.capture": "That record is in the transaction's Merkle tree",
    "rp.step.named": "The transaction is the one named",
    "rp.step.tx.readable": "The transaction proof can be read",
    "rp.step.tx.leaf": "The transaction hashes to its fingerprint",
    "rp.step.tx.paths": "The transaction proof's paths can be read",
    "rp.step.tx.block": "The transaction is in its block",
    "rp.step.tx.history": "The block is in the ledger's history",
    "rp.step.tx.header": "The block header says what was signed",
    "rp.step.tx.certificate": "The block was signed by a trusted ordering service",
    "rp.step.tx.signature": "The ordering service's signature holds",
    "rp.step.binding": "The transaction's identity is its own (hash of its nonce and signer)",
    "rp.step.other": "Another check",
    # errors
    "error.title": "{status} · {title}",
    "error.401": "Please log in",
    "error.401.detail": "This page is for members of the cold-chain consortium. Log in to see it.",
    "error.login": "Log in",
    "error.403": "Not for you",
    "error.403.detail": "You are logged in, but your organisation is not a member of the cold chain.",
    "error.404": "No such lot",
    "error.404.detail": "We have no record of lot {lot}. Check the code on the pack, or ask the shop.",
    "error.404.bad": "This address is not a lot's code: {reason}",
    "error.404.page": "This page does not exist.",
    "error.400": "Not understood",
    "error.400.detail": "The request could not be read. Check the address.",
    "error.422": "Not understood",
    "error.422.detail": "The request could not be read. Check the address.",
    "error.500": "Something went wrong",
    "error.500.detail": "The server failed; the error was logged. Try again later.",
    "error.other": "Something went wrong",
    "error.start": "Start page",
    "error.status": "Error {status}",
}

_KO: dict[str, str] = {
    "brand": "부산 스마트 해양물류",
    "switch_to": "English",
    "lot": "로트",
    "loading": "불러오는 중…",
    "zone_note": "시각: {zone}",
    "consumer.title": "이 생선이 온 길",
    "freshness": "신선도",
    "origin": "어획 및 양륙",
    "journey": "유통 경로",
    "map": "지도",
    "temperature": "온도 기록",
    "inspections": "검사",
    "verification": "검증 방법",
    "verification_text": (
        "위의 각 단계는 컨소시엄 블록체인에 기록되었습니다. 이 브라우저가 주문 서비스가 서명한 블록 헤더에 대해 각 "
        "기록의 머클 증명을 직접 확인했습니다 — 이 서버를 믿을 필요가 없습니다."
    ),
    "verifying": "블록체인 확인 중…",
    "verified": "블록체인 검증 완료",
    "not_verified": "검증 실패",
    "unavailable": "검증을 할 수 없습니다",
    "records.other": "기록 {count}건을 브라우저에서 확인",
    "failed.other": "기록 {count}건 검증 실패",
    "no_proof": "증명 없음",
    "days_left": "일 남은 유통기한",
    "days_of": "유통기한 {total}일 중 {days}일 남음",
    "spoiled": "유통기한이 지났습니다",
    "no_readings": "아직 온도 기록이 없습니다.",
    "caught": "{area}에서 어획",
    "caught_by": "{area}에서 어획 · 어선",
    "fishing": "조업 기간 {start} – {end}",
    "landed": "{when} {place} 양륙",
    "species": "어종",
    "shelf_model": "RRS 모델 (1 + 0.1·T)²에 따른 유통기한",
    "limit_abuse": "FDA 기준 4.4 °C",
    "limit_high": "21.1 °C (히스타민 위험)",
    "readings.other": "측정값 {count}개",
    "batches.other": "블록체인에 기록된 5분 평균 {count}개",
    "hours_above": "4.4 °C 초과 {hours}시간",
    "recalled": "이 로트는 회수되었습니다.",
    "alarm_label": "경보",
    "inspection_on": "{when} 검사: {verdict}",
    "none_inspected": "이 로트의 검사 기록이 없습니다.",
    "cleared_by": "{when} 검사로 해제",
    "cleared_by_result": "{when} 검사로 해제: {result}",
    "not_for_sale": "판매 불가: 이 로트의 유통기한은 표시하지 않습니다.",
    "chart_axis": "°C",
    "state.fresh": "신선: 판매 가능",
    "state.use_soon": "빨리 드세요",
    "state.held_for_inspection": "검사 대기: 판매 보류",
    "state.do_not_sell": "판매·섭취 금지",
    "state_short.fresh": "신선",
    "state_short.use_soon": "빨리 소비",
    "state_short.held_for_inspection": "검사 대기",
    "state_short.do_not_sell": "판매 금지",
    "alarm.high_temperature_exposure": "21.1 °C 초과 노출 (히스타민 위험)",
    "alarm.critical_limit_exceeded": "4.4 °C 초과 시간 한도 초과",
    "alarm.shelf_life_exhausted": "유통기한 소진",
    "alarm.other": "온도 경보",
    "disposition.conformant": "적합",
    "disposition.non_conformant": "부적합",
    "disposition.active": "활성",
    "disposition.in_progress": "진행 중",
    "disposition.in_transit": "운송 중",
    "disposition.retail_sold": "판매됨",
    "disposition.recalled": "회수됨",
    "disposition.other": "기타",
    "qr.title": "로트 QR 코드",
    "qr.scan": "휴대폰 카메라로 찍으면 이 로트의 페이지가 열립니다.",
    "qr.open": "소비자 페이지 열기",
    "qr.alt": "로트 {lot}의 QR 코드",
    "qr.state": "안전 상태",
    "dash.title": "콜드체인 · 운영자",
    "dash.heading": "부산 콜드체인 · 운영자",
    "dash.signed_in": "로그인:",
    "dash.explorer": "탐색기",
    "dash.logout": "로그아웃",
    "dash.lots": "로트",
    "dash.lot": "로트",
    "dash.last_step": "마지막 단계",
    "dash.when": "시각",
    "dash.where": "장소",
    "dash.status": "상태",
    "dash.page": "소비자 페이지",
    "dash.open": "열기",
    "dash.downstream": "하위 로트:",
    "dash.downstream_hint": "로트를 누르면 그것으로 만든 모든 로트가 나옵니다 (회수용).",
    "dash.tracing": "추적 중…",
    "dash.end": "(최종)",
    "dash.recall.other": "{lot} 및 하위 로트 {count}개 회수",
    "dash.recall_why": "{lot}을(를) 회수하는 이유는?",
    "dash.recall_default": "온도 관리 위반",
    "dash.open_alarms": "미해결 경보",
    "dash.no_alarms": "미해결 경보가 없습니다.",
    "dash.live": "실시간 온도",
    "dash.logger": "기록계",
    "dash.site": "장소",
    "dash.celsius": "°C",
    "dash.at": "측정 시각",
    "dash.stale": "오래됨: {age}",
    "dash.recalls": "회수",
    "dash.no_recalls": "회수된 로트가 없습니다.",
    "dash.in_transit": "운송 중",
    "dash.alarms.other": "경보 {count}건",
    "dash.inspected": "검사: {verdict}",
    "dash.recalled": "회수됨",
    "dash.no_value": "—",
    "dash.failed": "불러오지 못했습니다: {detail}",
    "dash.proof": "증명",
    "dash.verify_reading": "확인",
    "dash.verify_reading_of": "{device}의 마지막으로 기록된 측정값 확인",
    "dash.reading_proof": "측정값 증명",
    "dash.reading_proof_hint": (
        "기록계 옆의 “확인”을 누르면 블록체인에 마지막으로 기록된 측정값을 이 브라우저에서 확인합니다."
    ),
    "dash.not_anchored": "아직 기록 없음",
    "dash.anchored_reading": "{when} {celsius}",
    "rp.title": "측정값 하나 확인하기",
    "rp.hint": (
        "그래프의 측정값을 고르세요: 이 브라우저가 증명을 받아, 기록계가 보낸 바로 그 값이고 블록체인에 "
        "기록되어 있는지 단계별로 확인합니다."
    ),
    "rp.warmest": "가장 높은 온도",
    "rp.latest": "가장 최근 측정값",
    "rp.reading": "{when} {celsius}",
    "rp.check": "이 측정값 확인",
    "rp.checking": "측정값 확인 중…",
    "rp.ok": "이 측정값은 블록체인에 기록되어 있고, 그 뒤로 아무도 바꾸지 않았습니다.",
    "rp.failed": "검증 실패: “{step}” 단계가 맞지 않습니다.",
    "rp.logger": "기록계",
    "rp.seq": "측정 번호 {seq}",
    "rp.none": "이 서버에는 이 로트의 5분 평균만 있어 확인할 개별 측정값이 없습니다.",
    "rp.step.shown": "증명이 화면의 측정값에 대한 것임",
    "rp.step.fetch": "서버가 증명을 보냄",
    "rp.step.readable": "증명을 읽을 수 있음",
    "rp.step.leaf": "측정값의 해시가 증명의 지문과 같음",
    "rp.step.batch": "측정값이 기록계의 묶음에 들어 있음",
    "rp.step.anchor": "그 묶음이 기록계의 블록체인 기록이 가리키는 묶음임",
    "rp.step.root": "블록체인 거래에 머클 루트가 있음",
    "rp.step.capture": "그 기록이 거래의 머클 트리에 들어 있음",
    "rp.step.named": "거래가 증명이 가리키는 거래임",
    "rp.step.tx.readable": "거래 증명을 읽을 수 있음",
    "rp.step.tx.leaf": "거래의 해시가 지문과 같음",
    "rp.step.tx.paths": "거래 증명의 경로를 읽을 수 있음",
    "rp.step.tx.block": "거래가 블록에 들어 있음",
    "rp.step.tx.history": "블록이 원장 이력에 들어 있음",
    "rp.step.tx.header": "블록 헤더가 서명된 내용과 같음",
    "rp.step.tx.certificate": "신뢰하는 주문 서비스가 블록에 서명함",
    "rp.step.tx.signature": "주문 서비스의 서명이 맞음",
    "rp.step.binding": "거래 식별자가 그 거래 자체의 것임 (논스와 서명자의 해시)",
    "rp.step.other": "기타 확인",
    "error.title": "{status} · {title}",
    "error.401": "로그인이 필요합니다",
    "error.401.detail": "콜드체인 컨소시엄 회원을 위한 페이지입니다. 로그인하세요.",
    "error.login": "로그인",
    "error.403": "볼 수 없는 페이지입니다",
    "error.403.detail": "로그인은 되었지만 소속 기관이 콜드체인 회원이 아닙니다.",
    "error.404": "없는 로트입니다",
    "error.404.detail": "로트 {lot}의 기록이 없습니다. 포장의 코드를 확인하거나 매장에 문의하세요.",
    "error.404.bad": "로트 코드가 아닌 주소입니다. 포장의 코드를 확인하세요.",
    "error.404.page": "없는 페이지입니다.",
    "error.400": "이해할 수 없는 요청",
    "error.400.detail": "요청을 읽을 수 없습니다. 주소를 확인하세요.",
    "error.422": "이해할 수 없는 요청",
    "error.422.detail": "요청을 읽을 수 없습니다. 주소를 확인하세요.",
    "error.500": "문제가 생겼습니다",
    "error.500.detail": "서버에 오류가 났고 기록되었습니다. 잠시 후 다시 시도하세요.",
    "error.other": "문제가 생겼습니다",
    "error.start": "처음 페이지",
    "error.status": "오류 {status}",
}

for _code, (_en, _ko, *_rest) in CTES.items():
    _EN[f"cte.{_code}"] = _en
    _KO[f"cte.{_code}"] = _ko
_EN["cte.other"] = "Other step"
_KO["cte.other"] = "기타 단계"
# The plural forms Korean does not have ("one") fall back to "other" by the catalogue's rule; the tables still
# hold the same keys so that ``missing()`` is empty.
for _key in [k for k in _EN if k.endswith(".one")]:
    _KO.setdefault(_key, _KO[_key[: -len(".one")] + ".other"])

CATALOGUE = Catalogue({"en": _EN, "ko": _KO}, default=DEFAULT)


def named(lang: str, kind: str, code: str | None) -> str:
    """A code's name (``cte``, ``alarm``, ``disposition``, ``state``): the catalogue's, else the kind's "other"."""
    table = CATALOGUE.table(lang)
    if code and f"{kind}.{code}" in table:
        return table[f"{kind}.{code}"]
    return table.get(f"{kind}.other", "")


def page_strings(lang: str, prefixes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The table a page's script reads (keys under ``prefixes``, or all), with the language and plural rule."""
    table: Mapping[str, str] = CATALOGUE.table(lang)
    keys = [k for k in table if not prefixes or k.startswith(prefixes)]
    return {"lang": lang, "plural_forms": lang not in ("ko",), "strings": {k: table[k] for k in keys}}
