"""What the trade-finance pages show, shaped from the service's answers into plain dictionaries for the templates.

Nothing here decides access (the contract does, and :mod:`.routes` keeps each page to its people); this module
only turns views into words a person reads in their language — a status by its name and what it means, a
near-duplicate's reasons in plain words, a time in the viewer's zone with the zone named and how long ago, an
oversight figure as a bar and a link to the records behind it.

Uploads are read with the domain's all-or-nothing CSV reader (:func:`~..domain.csvrows.parse_csv`); the one-document
form is written as a one-row CSV and read the same way, so both paths validate alike.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from consortia.apps.tradefinance.consortium import BANKS, DISPLAY
from consortia.apps.tradefinance.domain.csvrows import COLUMNS, CsvError, Row, parse_csv
from consortia.apps.tradefinance.domain.documents import BL_FIELDS, DocType
from consortia.apps.tradefinance.service.tradefinance import (
    DocumentView,
    FinancingView,
    FlagView,
    Oversight,
    Registration,
    SimilarHit,
    TraderView,
)
from consortia.apps.tradefinance.web import charts
from consortia.apps.tradefinance.web.text import CATALOGUE
from consortia.ui.timefmt import ZONE_NAMES, format_date, format_datetime, relative

TX_ID = re.compile(r"[0-9a-f]{64}")
FORM_FIELDS = tuple(c for c in COLUMNS if c != "bank")
"""The one-document form's fields: the CSV's columns but the bank (the officer's own)."""
ONE_FIELDS = tuple(c for c in FORM_FIELDS if c != "doc_type")
FINANCEABLE = frozenset({"REGU", "REDU"})
"""Statuses a bank may apply to finance (the contract has the last word: DFIN when already financed elsewhere)."""
ENCODINGS = ("utf-8-sig", "gb18030", "big5")
"""How uploaded files are read: UTF-8 first, then what Mainland and Hong Kong spreadsheets save CSV as."""


# -- words ------------------------------------------------------------------------------------------------------


def bank_name(org: str, lang: str) -> str:
    """A member organisation by its name in ``lang``."""
    return DISPLAY.get(org, {}).get(lang, org)


def doc_type_name(value: str, lang: str) -> str:
    """A document type by its name (``bill_of_lading`` → 提单)."""
    key = f"doctype_{value}"
    table = CATALOGUE.table(lang)
    return table.get(key, value)


_REASON_PATTERNS = (
    (re.compile(r"amount_within_(?P<n>[0-9.]+)_?pct"), "reason_amount_within"),
    (re.compile(r"dates?_within_(?P<n>[0-9]+)_days?"), "reason_dates_within"),
)


def reason_text(code: str, lang: str) -> str:
    """A near-duplicate reason in plain words (``dates_within_3_days`` → "issue dates within 3 days")."""
    table = CATALOGUE.table(lang)
    if f"reason_{code}" in table:
        return table[f"reason_{code}"]
    for pattern, key in _REASON_PATTERNS:
        match = pattern.fullmatch(code)
        if match:
            return table[key].format(n=match.group("n"))
    return table["reason_other"]


def similar_view(hits: Iterable[SimilarHit], lang: str) -> list[dict[str, Any]]:
    """Near-duplicate hits: risk class by name and reasons in words — never whose or which document."""
    table = CATALOGUE.table(lang)
    return [
        {
            "risk": hit.risk,
            "risk_name": table.get(f"risk_{hit.risk}", hit.risk),
            "own": not hit.other_bank,
            "reasons": [reason_text(r, lang) for r in hit.reasons],
        }
        for hit in hits
    ]


def moment(ms: int, lang: str, zone: str, now: datetime | None = None) -> dict[str, str]:
    """An instant for a page: in the viewer's zone with the zone named, ISO for ``<time>``, and how long ago."""
    if not ms:
        return {"text": "", "iso": "", "ago": ""}
    when = datetime.fromtimestamp(ms / 1000, UTC)
    return {
        "text": format_datetime(ms, zone, lang),
        "iso": when.isoformat(),
        "ago": relative(ms, now or datetime.now(UTC), lang),
    }


def amount_text(amount: Decimal | str) -> str:
    """An amount with thousands separators and its own decimals (``1234567.5`` → ``1,234,567.50``)."""
    value = Decimal(str(amount))
    return f"{value:,.2f}"


# -- the officer's page -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblems:
    """Why nothing of an upload was registered: one entry per problem, each naming its row and field."""

    problems: tuple[dict[str, Any], ...]


def decode_upload(raw: bytes) -> str:
    """An uploaded file's text (UTF-8 with or without BOM, else GB 18030, else Big5)."""
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def one_row_csv(values: Mapping[str, str], bank: str) -> str:
    """The one-document form as a one-row CSV of the officer's bank (read like any upload)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow([bank if c == "bank" else values.get(c, "") for c in COLUMNS])
    return out.getvalue()


_HINTS = {"buyer_id": "seller_id", "buyer_name": "seller_name", "vessel": "seller_name",
          "port_of_loading": "seller_name"}  # fmt: skip
"""Fields that share another field's rule (and so its words)."""


def _problem(row: int, field: str | None, detail: str, lang: str, found: str | None = None) -> dict[str, Any]:
    """One problem of an upload: where (row, field by name), what a valid value looks like in the page's language
    and what was found; the reader's exact words (English) as the detail."""
    table = CATALOGUE.table(lang)
    where = table["header_row"] if row == 0 else table["row_n"].format(n=row)
    field_name = table.get(f"field_{field}", field or "") if field else ""
    hint = table.get(f"expect_{_HINTS.get(field or '', field)}", "") if field else ""
    return {"row": row, "field": field or "", "where": where, "field_name": field_name, "detail": detail,
            "expected": hint, "found": found if hint else None}  # fmt: skip


def _bank_of(text: str) -> str | None:
    """The member bank a CSV's ``bank`` cell names: its identifier or its name in any language."""
    cleaned = text.strip()
    for bank in BANKS:
        if cleaned.casefold() == bank.casefold() or cleaned in DISPLAY[bank].values():
            return bank
    return None


def parse_rows(text: str, bank: str, lang: str) -> list[Row] | RowProblems:
    """The upload's rows, every one presented by the officer's own bank — or every problem, with row and field."""
    try:
        rows = parse_csv(text)
    except CsvError as exc:
        return RowProblems(tuple(_problem(p.row, p.field, p.message, lang, p.found) for p in exc.problems))
    if not rows:
        return RowProblems((_problem(0, None, "no data rows: expected at least one document", lang),))
    problems = [
        _problem(row.number, "bank", f"expected {bank} (your bank), found {row.bank!r}", lang, row.bank)
        for row in rows
        if _bank_of(row.bank) != bank
    ]
    if problems:
        return RowProblems(tuple(problems))
    return [row if row.bank == bank else Row(row.number, bank, row.document) for row in rows]


def registration_rows(registrations: Sequence[Registration], lang: str) -> list[dict[str, Any]]:
    """One line per registered row: status, what it means, look-alikes, the transaction."""
    return [
        {
            "row": r.row.number,
            "doc_type": doc_type_name(str(r.row.document.doc_type), lang),
            "doc_number": r.row.document.doc_number,
            "status": str(r.status),
            "similar": similar_view(r.similar, lang),
            "tx_id": r.tx_id,
            "doc_ref": r.doc_ref,
        }
        for r in registrations
    ]


def document_rows(documents: Sequence[DocumentView], lang: str, zone: str) -> list[dict[str, Any]]:
    """The bank's own documents, newest first, each with its status, financing step and whether it may apply."""
    now = datetime.now(UTC)
    rows = []
    for d in sorted(documents, key=lambda d: (-d.registered_ms, d.doc_ref)):
        financing = d.financing
        step = financing.state if financing is not None else None
        refused = financing is not None and financing.state == "refused"
        when = moment(d.registered_ms, lang, zone, now)
        rows.append(
            {
                "doc_ref": d.doc_ref,
                "doc_type": doc_type_name(d.doc_type, lang),
                "doc_number": d.doc_number,
                "amount": amount_text(d.amount),
                "amount_raw": str(d.amount),
                "currency": d.currency,
                "status": str(d.status),
                "step": step,
                "similar": similar_view(d.similar, lang),
                "registered": when["text"],
                "registered_iso": when["iso"],
                "registered_ago": when["ago"],
                "can_apply": str(d.status) in FINANCEABLE and (financing is None or refused),
                "can_cancel": str(d.status) in FINANCEABLE and (financing is None or refused),
                "tx_id": d.tx_id,
            }
        )
    return rows


def documents_page(
    documents: Sequence[DocumentView],
    registrations: Sequence[Registration] | None,
    errors: Sequence[dict[str, Any]] | None,
    form: Mapping[str, str] | None,
    lang: str,
    zone: str,
) -> dict[str, Any]:
    """The officer's page: the upload and one-document forms, this registration's outcome, the bank's documents."""
    return {
        "columns": ",".join(COLUMNS),
        "results": None if registrations is None else registration_rows(registrations, lang),
        "errors": list(errors or ()),
        "documents": document_rows(documents, lang, zone),
        "doc_types": [(t.value, doc_type_name(t.value, lang)) for t in DocType],
        "one_fields": ONE_FIELDS,
        "bl_fields": BL_FIELDS,
        "form": dict(form or {}),
        "form_open": bool(form),
    }


def notice_of(financing: FinancingView) -> str:
    """What the page says after an application, as a query value: ``<status>:<financing id or document>``."""
    return f"{financing.status}:{financing.financing_id or financing.doc_ref}"


def refusal_notice(code: str) -> str:
    """What the page says after the contract refused an application for another reason (no current KYC …)."""
    return f"REFUSED:{code}"


NOTICES = {"FNCD": "notice_financed", "DFIN": "notice_dfin", "REFUSED": "notice_refused", "CANC": "notice_cancelled",
           "KYC": "notice_kyc"}  # fmt: skip


def notice_text(value: str, lang: str) -> dict[str, str] | None:
    """A notice of :func:`notice_of` or :func:`refusal_notice` in words, with the reference or code beside it."""
    status, _, ref = value.partition(":")
    if not ref or status not in NOTICES or len(ref) > 200:
        return None
    return {"text": CATALOGUE.text(lang, NOTICES[status]), "ref": ref, "status": status}


def own_tx_ids(documents: Iterable[DocumentView]) -> set[str]:
    """Every transaction of a bank's own documents and their financings (records the bank may open and prove)."""
    found: set[str] = set()
    for d in documents:
        found.add(d.tx_id)
        if d.financing is not None:
            found.add(d.financing.tx_id)
            found.update(s.tx_id for s in d.financing.steps)
            found.update(f.tx_id for f in d.financing.flows)
    found.discard("")
    return found


# -- the trader registry ------------------------------------------------------------------------------------------

_NAME_FALLBACK = ("zh-Hans", "zh-Hant", "en", "pt")
_ID_KINDS = {"USCC": "id_uscc", "HKBR": "id_hkbr", "MOCR": "id_macau"}


def trader_name(names: Mapping[str, str], lang: str, fallback: str) -> tuple[str, str]:
    """A trader's name in ``lang``, else in another language (returned with it, for the ``lang`` attribute)."""
    if names.get(lang):
        return names[lang], ""
    for other in (*(("zh-Hant", "zh-Hans") if lang.startswith("zh") else ()), *_NAME_FALLBACK):
        if names.get(other):
            return names[other], other
    return fallback, ""


KYC_LEVELS = ("simplified", "standard", "enhanced")
"""The contract's levels of customer due diligence."""


def trader_rows(
    traders: Sequence[TraderView], lang: str, zone: str, own_bank: str | None = None
) -> list[dict[str, Any]]:
    """The registry: each trader by name, identifier and kind, its current KYC attestations by bank, and whether
    ``own_bank`` (an officer's bank) may attest it now (it holds no current attestation of its own)."""
    table = CATALOGUE.table(lang)
    rows = []
    for trader in traders:
        name, name_lang = trader_name(trader.names, lang, trader.value)
        attestations = []
        for a in trader.attestations:
            if not a.current:
                continue
            try:
                expires = format_date(date.fromisoformat(a.expiry), zone, lang) if a.expiry else ""
            except ValueError:
                expires = a.expiry
            level = table.get(f"kyc_level_{a.level}", a.level)
            attestations.append({"bank": bank_name(a.bank, lang), "level": level, "expires": expires})
        mine = own_bank is not None and own_bank in trader.kyc_banks
        rows.append(
            {
                "id": trader.trader_id,
                "name": name,
                "name_lang": name_lang,
                "identifier": trader.value,
                "id_kind": table[_ID_KINDS.get(trader.kind, "id_other")],
                "current": trader.current_kyc,
                "attestations": attestations,
                "can_attest": own_bank is not None and not mine,
            }
        )
    rows.sort(key=lambda r: (not r["current"], r["name"]))
    return rows


# -- the regulators' dashboard ------------------------------------------------------------------------------------

SETS = ("financings", "attempts", "exposure")
FILTERS = ("month", "bank", "corridor", "currency", "kind", "trader")
"""The fields a drill-down may narrow a set by (each an attribute of the set's figures)."""
ATTEMPT_KINDS = ("duplicate", "financed_duplicate", "near_duplicate")
MAX_TRADERS = 12
"""Traders per exposure chart: the largest exposures (the table below lists every one)."""
ATTEMPT_COLOURS = {"duplicate": "#d35400", "financed_duplicate": "#b42318", "near_duplicate": "#9a6b00"}


@dataclass(frozen=True)
class Selection:
    """Which oversight figures a drill-down page lists: one set, narrowed by any of its fields."""

    set: str
    month: str = ""
    bank: str = ""
    corridor: str = ""
    currency: str = ""
    kind: str = ""
    trader: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Selection:
        """From ``?set=…&month=…`` (unknown sets read as financings; values are compared, never executed)."""
        chosen = query.get("set", "financings")
        return cls(
            set=chosen if chosen in SETS else "financings",
            **{name: str(query.get(name, ""))[:200] for name in FILTERS},
        )

    def link(self) -> str:
        """The drill-down page of this selection."""
        fields = {name: getattr(self, name) for name in ("set", *FILTERS)}
        return "/tradefinance/oversight/records?" + urlencode({k: v for k, v in fields.items() if v})

    def key(self) -> str:
        """A stable name of the selection (``data-figure`` in the page)."""
        parts = [self.set, self.month, self.bank, self.corridor, self.currency, self.kind, self.trader]
        return "|".join(parts)

    @property
    def kind_key(self) -> str:
        """The catalogue key naming the records of this selection."""
        if self.set == "attempts":
            return "kind_near" if self.kind == "near_duplicate" else "kind_duplicate"
        return "kind_financing"

    def matches(self, figure: Any) -> bool:
        """Whether an oversight figure falls in this selection (each given field equal)."""
        for name in FILTERS:
            wanted = getattr(self, name)
            if wanted and str(getattr(figure, name, "")) != wanted:
                return False
        return True


def figures_of(oversight: Oversight, selection: Selection) -> list[Any]:
    """The figures of the selection's set that it matches."""
    return [f for f in getattr(oversight, selection.set) if selection.matches(f)]


def select(oversight: Oversight, selection: Selection) -> tuple[str, ...]:
    """The transactions behind a selection's figures, each once, in order."""
    return tuple(dict.fromkeys(tx for f in figures_of(oversight, selection) for tx in f.tx_ids))


def corridor_name(corridor: str, lang: str) -> str:
    """``CN-HK`` → 内地→香港; ``CN-CN`` → 内地（境内）."""
    table = CATALOGUE.table(lang)
    origin, _, destination = corridor.partition("-")

    def region(code: str) -> str:
        return table.get(f"region_{code}", code)

    if not destination or origin == destination:
        return table["corridor_within"].format(region=region(origin))
    return f"{region(origin)} → {region(destination)}"


def describe(selection: Selection, lang: str, names: Mapping[str, str] | None = None) -> str:
    """A selection in words: "Financings · 2026-11 · Mainland → Hong Kong · CNY"."""
    table = CATALOGUE.table(lang)
    parts = [table[f"set_{selection.set}"]]
    if selection.kind:
        parts.append(table.get(f"attempt_{selection.kind}", selection.kind))
    if selection.month:
        parts.append(selection.month)
    if selection.bank:
        parts.append(bank_name(selection.bank, lang))
    if selection.corridor:
        parts.append(corridor_name(selection.corridor, lang))
    if selection.currency:
        parts.append(selection.currency)
    if selection.trader:
        parts.append((names or {}).get(selection.trader, selection.trader))
    return " · ".join(parts)


def _figure(selection: Selection, value: str, empty: bool = False) -> dict[str, str]:
    """A figure and its drill-down link (none for an empty figure: there are no records behind a zero)."""
    return {"value": value, "link": "" if empty else selection.link(), "key": selection.key()}


def month_axis(lang: str, zone: str) -> str:
    """The time axis's name: months, and the zone they are counted in."""
    return CATALOGUE.text(lang, "axis_month", zone=ZONE_NAMES.get(zone, {}).get(lang, zone))


def _corridor_section(oversight: Oversight, lang: str, zone: str) -> dict[str, Any]:
    table = CATALOGUE.table(lang)
    months = sorted({f.month for f in oversight.financings})
    pairs = sorted({(f.corridor, f.currency) for f in oversight.financings})
    series = []
    for index, (corridor, currency) in enumerate(pairs):
        label = f"{corridor_name(corridor, lang)} · {currency}"
        segments: list[charts.Segment | None] = []
        for month in months:
            count = sum(f.count for f in oversight.financings
                        if f.month == month and f.corridor == corridor and f.currency == currency)  # fmt: skip
            selection = Selection("financings", month=month, corridor=corridor, currency=currency)
            title = f"{month} · {label}{table['colon']}{count}"
            segments.append(charts.Segment(count, selection.link(), title) if count else None)
        series.append(charts.Series(label, charts.colour(index), segments))
    rows = []
    for month in months:
        for corridor, currency in pairs:
            chosen = [f for f in oversight.financings
                      if f.month == month and f.corridor == corridor and f.currency == currency]  # fmt: skip
            if not chosen:
                continue
            selection = Selection("financings", month=month, corridor=corridor, currency=currency)
            rows.append(
                {
                    "month": month,
                    "corridor": corridor_name(corridor, lang),
                    "currency": currency,
                    "count": _figure(selection, str(sum(f.count for f in chosen))),
                    "total": amount_text(sum((f.amount for f in chosen), Decimal(0))),
                }
            )
    chart = ""
    if months:
        chart = charts.columns(months, series, table["chart_corridors"], "chart-corridors", lang,
                               y_unit=table["axis_financings"], x_unit=month_axis(lang, zone), counts=True)  # fmt: skip
    return {"chart": chart, "legend": [(s.label, s.colour) for s in series], "rows": rows}


def _attempt_section(oversight: Oversight, lang: str, zone: str) -> dict[str, Any]:
    table = CATALOGUE.table(lang)
    months = sorted({f.month for f in oversight.attempts})
    series = []
    for kind in ATTEMPT_KINDS:
        label = table[f"attempt_{kind}"]
        segments: list[charts.Segment | None] = []
        for month in months:
            count = sum(f.count for f in oversight.attempts if f.month == month and f.kind == kind)
            selection = Selection("attempts", month=month, kind=kind)
            title = f"{month} · {label}{table['colon']}{count}"
            segments.append(charts.Segment(count, selection.link(), title) if count else None)
        series.append(charts.Series(label, ATTEMPT_COLOURS[kind], segments))
    rows = []
    for month in months:
        cells = {}
        for kind in ATTEMPT_KINDS:
            count = sum(f.count for f in oversight.attempts if f.month == month and f.kind == kind)
            cells[kind] = _figure(Selection("attempts", month=month, kind=kind), str(count), empty=not count)
        rows.append({"month": month, **cells})
    chart = ""
    if months:
        chart = charts.columns(months, series, table["chart_duplicates"], "chart-duplicates", lang,
                               y_unit=table["axis_attempts"], x_unit=month_axis(lang, zone), counts=True)  # fmt: skip
    return {"chart": chart, "legend": [(s.label, s.colour) for s in series], "rows": rows}


def _exposure_section(oversight: Oversight, names: Mapping[str, str], lang: str) -> dict[str, Any]:
    """One bar chart per currency (amounts of different currencies are never added): traders, segments by bank."""
    table = CATALOGUE.table(lang)
    charts_by_currency = []
    legend: dict[str, str] = {}
    for currency in sorted({f.currency for f in oversight.exposure}):
        figures = [f for f in oversight.exposure if f.currency == currency]
        totals: dict[str, Decimal] = {}
        for f in figures:
            totals[f.trader] = totals.get(f.trader, Decimal(0)) + f.amount
        traders = sorted(totals, key=lambda trader: (-totals[trader], trader))[:MAX_TRADERS]
        series = []
        for bank in (b for b in BANKS if any(f.bank == b for f in figures)):
            segments: list[charts.Segment | None] = []
            for trader in traders:
                found = [f for f in figures if f.trader == trader and f.bank == bank]
                amount = sum((f.amount for f in found), Decimal(0))
                selection = Selection("exposure", trader=trader, currency=currency, bank=bank)
                label = (f"{names.get(trader, trader)} · {bank_name(bank, lang)}{table['colon']}{amount_text(amount)} "
                         f"{currency}")  # fmt: skip
                segments.append(charts.Segment(float(amount), selection.link(), label) if found else None)
            colour = charts.colour(BANKS.index(bank))
            series.append(charts.Series(bank_name(bank, lang), colour, segments))
            legend[bank_name(bank, lang)] = colour
        title = f"{table['chart_exposure']} · {currency}"
        labels = [names.get(trader, trader) for trader in traders]
        chart = charts.bars(labels, series, title, f"chart-exposure-{currency}", lang,
                            x_unit=table["axis_amount"].format(currency=currency))  # fmt: skip
        charts_by_currency.append({"currency": currency, "chart": chart})
    rows = []
    for f in sorted(oversight.exposure, key=lambda f: (f.currency, -f.amount, f.trader, f.bank)):
        selection = Selection("exposure", trader=f.trader, currency=f.currency, bank=f.bank)
        rows.append(
            {
                "trader": names.get(f.trader, f.trader),
                "bank": bank_name(f.bank, lang),
                "currency": f.currency,
                "exposure": _figure(selection, amount_text(f.amount)),
                "share": f"{100 * f.share:.0f}%",
            }
        )
    return {"charts": charts_by_currency, "legend": list(legend.items()), "rows": rows}


def _bank_rows(oversight: Oversight, lang: str) -> list[dict[str, Any]]:
    rows = []
    for bank in BANKS:
        count = sum(f.count for f in oversight.financings if f.bank == bank)
        if count:
            figure = _figure(Selection("financings", bank=bank), str(count))
            rows.append({"bank": bank_name(bank, lang), "count": figure})
    return rows


MAX_REFUSALS = 20
"""Latest refused requests the dashboard lists (each links to its ledger record)."""


def refusal_rows(oversight: Oversight, lang: str, zone: str) -> list[dict[str, Any]]:
    """The latest refused requests, as the contract logged them: who (organisation), what, why (code), when."""
    table = CATALOGUE.table(lang)
    now = datetime.now(UTC)
    rows = []
    for r in sorted(oversight.refusals, key=lambda r: r.at_ms, reverse=True)[:MAX_REFUSALS]:
        when = moment(r.at_ms, lang, zone, now)
        rows.append(
            {
                "org": bank_name(r.org, lang),
                "function": table.get(f"function_{r.function}", table["function_other"]),
                "function_code": r.function,
                "code": r.code,
                "when": when["text"],
                "ago": when["ago"],
                "tx_id": r.tx_id,
            }
        )
    return rows


def trader_names(traders: Sequence[TraderView], lang: str) -> dict[str, str]:
    """Trader identifiers (as figures name them) → names in ``lang``, or the registry number when the trader has
    no name in ``lang`` (a chart label is one run of text and cannot mark a name in another language)."""
    names: dict[str, str] = {}
    for trader in traders:
        name, name_lang = trader_name(trader.names, lang, trader.value)
        for key in (trader.trader_id, f"{trader.kind}:{trader.value}", trader.value):
            names[key] = trader.value if name_lang else name
    return names


def oversight_page(oversight: Oversight, traders: Sequence[TraderView], lang: str, zone: str) -> dict[str, Any]:
    """The dashboard: three charts with their tables, financings by bank; every figure a drill-down link."""
    names = trader_names(traders, lang)
    return {
        "corridors": _corridor_section(oversight, lang, zone),
        "duplicates": _attempt_section(oversight, lang, zone),
        "exposure": _exposure_section(oversight, names, lang),
        "banks": _bank_rows(oversight, lang),
        "refusals": refusal_rows(oversight, lang, zone),
    }


MAX_RECORDS = 200
"""Records one drill-down page lists (the export carries every transaction id of every figure)."""


def record_rows(ledger: Any, tx_ids: Iterable[str], kind_key: str, lang: str, zone: str) -> list[dict[str, Any]]:
    """Ledger records by transaction id: kind, block and when (in the viewer's zone); unknown ids left out."""
    table = CATALOGUE.table(lang)
    now = datetime.now(UTC)
    rows = []
    for tx_id in tx_ids:
        found = ledger.find_transaction(tx_id)
        if found is None:
            continue
        when = moment(found.block.header.timestamp_ms, lang, zone, now)
        rows.append(
            {
                "tx_id": tx_id,
                "kind": table[kind_key],
                "block": found.block.header.number,
                "when": when["text"],
                "when_iso": when["iso"],
                "ago": when["ago"],
            }
        )
    return rows


def flag_rows(flags: Iterable[FlagView], record_ref: str, lang: str, zone: str) -> list[dict[str, Any]]:
    """The supervisory flags and notes on one record, oldest first, by regulator and time."""
    now = datetime.now(UTC)
    rows = []
    for f in sorted((f for f in flags if f.record_ref == record_ref), key=lambda f: f.at_ms):
        when = moment(f.at_ms, lang, zone, now)
        rows.append({"org": bank_name(f.org, lang), "note": f.note, "when": when["text"], "when_iso": when["iso"]})
    return rows


def record_facts(
    tx_id: str,
    oversight: Oversight | None,
    documents: Sequence[DocumentView] | None,
    names: Mapping[str, str],
    lang: str,
) -> dict[str, Any]:
    """What a ledger record is, in words: a financing (bank, trader, amount, state), a registration, a flag, a
    refused attempt — from the figures a regulator reads, or from a bank's own documents."""
    table = CATALOGUE.table(lang)

    def fact(key: str, value: str, code: bool = False) -> dict[str, Any]:
        return {"label": table[key], "value": value, "code": code}

    for d in documents or ():
        if d.tx_id == tx_id:
            return {"kind": table["kind_registration"], "facts": [
                fact("field_doc_type", doc_type_name(d.doc_type, lang)),
                fact("field_doc_number", d.doc_number, True),
                fact("col_status", table[f"status_{d.status}"]),
            ]}  # fmt: skip
        financing = d.financing
        if financing is not None and tx_id in {financing.tx_id, *(s.tx_id for s in financing.steps)}:
            return {"kind": table["kind_financing"], "facts": [
                fact("field_doc_number", d.doc_number, True),
                fact("col_amount", f"{amount_text(financing.amount)} {financing.currency}"),
                fact("col_financing", table.get(f"step_{financing.state}", financing.state)),
            ]}  # fmt: skip
    if oversight is None:
        return {"kind": table["kind_record"], "facts": []}
    for f in oversight.records:
        if tx_id in {f.tx_id, *(s.tx_id for s in f.steps), *(flow.tx_id for flow in f.flows)}:
            return {"kind": table["kind_financing"], "facts": [
                fact("col_bank", bank_name(f.bank, lang)),
                fact("col_trader", names.get(f.trader, f.trader)),
                fact("col_amount", f"{amount_text(f.amount)} {f.currency}"),
                fact("col_financing", table.get(f"step_{f.state}", f.state)),
            ]}  # fmt: skip
    for flag in oversight.flags:
        if flag.tx_id == tx_id:
            return {"kind": table["kind_flag"], "facts": [fact("col_bank", bank_name(flag.org, lang))]}
    for attempt in oversight.attempts:
        if tx_id in attempt.tx_ids:
            return {"kind": table.get(f"attempt_{attempt.kind}", table["kind_record"]), "facts": [
                fact("col_bank", bank_name(attempt.bank, lang)),
                fact("col_month", attempt.month),
            ]}  # fmt: skip
    for refusal in oversight.refusals:
        if refusal.tx_id == tx_id:
            return {"kind": table["kind_refusal"], "facts": [
                fact("col_bank", bank_name(refusal.org, lang)),
                fact("col_reason", refusal.code, True),
            ]}  # fmt: skip
    return {"kind": table["kind_record"], "facts": []}


def financing_of(tx_id: str, financings: Iterable[FinancingView]) -> FinancingView | None:
    """The financing a transaction belongs to: its application, a step, a disbursement or a repayment."""
    for f in financings:
        if tx_id in {f.tx_id, *(s.tx_id for s in f.steps), *(flow.tx_id for flow in f.flows)}:
            return f
    return None


def trail(financing: FinancingView, lang: str, zone: str) -> dict[str, Any]:
    """The money's way from a financing to its settlement: each step and each cross-border flow, as records."""
    table = CATALOGUE.table(lang)
    now = datetime.now(UTC)
    steps = [
        {
            "state": table.get(f"step_{s.state}", s.state),
            "when": moment(s.at_ms, lang, zone, now)["text"],
            "by": bank_name(s.by.split("/")[0], lang),
            "tx_id": s.tx_id,
        }
        for s in sorted(financing.steps, key=lambda s: s.at_ms)
    ]
    flows = [
        {
            "kind": table.get(f"flow_{f.kind}", f.kind),
            "amount": f"{amount_text(f.amount)} {f.currency}",
            "corridor": corridor_name(f.corridor, lang),
            "country": table.get(f"region_{f.counterparty_country}", f.counterparty_country),
            "purpose": f.purpose_code,
            "when": moment(f.at_ms, lang, zone, now)["text"],
            "tx_id": f.tx_id,
        }
        for f in sorted(financing.flows, key=lambda f: f.at_ms)
    ]
    return {"steps": steps, "flows": flows, "outstanding": f"{amount_text(financing.outstanding)} {financing.currency}"}
