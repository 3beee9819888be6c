"""A deterministic synthetic batch of Greater Bay Area trade documents, with the truth planted in it.

Tests, the demo and the benchmark need thousands of realistic rows whose duplicates are *known*. The generator
(:func:`generate_batch`, driven only by ``random.Random(seed)``) builds:

* **traders** of the three registries: Mainland enterprises in Shenzhen, Guangzhou, Zhuhai, Dongguan, Foshan …
  with valid unified social credit codes (both check characters computed: GB 11714 for the organisation code,
  ``stdnum.cn.uscc`` for the whole), Hong Kong companies with 8-digit BR numbers, Macau companies with
  ``NNNNN (SO)`` registrations; names in simplified and traditional Chinese, English and (Macau) Portuguese;
* **documents** of the four types between them — invoices numbered in series per seller, bills of lading with a
  carrier prefix, a vessel and a port, 18-digit customs declarations, warehouse receipts — each row written in
  its presenting bank's house style (date notation, amount format, currency alias, name language);

and plants, in known rows:

* **disguised duplicates**: a document presented again at one or two other banks (2–3 banks in all) with
  several fields reformatted at once — full-width digits, another date notation, a currency alias, the number
  with spaces, leading zeros or another case, the amount grouped differently, the identifier spaced or suffixed,
  the names in another language — and for some copies one *value* changed too (renumbered, re-dated, another
  amount, or for a bill of lading other parties named), so only some fingerprint kinds still meet;
* **look-alikes that are different documents** (must not be merged): the next invoice of a series (next number,
  same parties, close date, another amount), a split bill of lading (same vessel, port, parties and date,
  consecutive bill numbers, other amounts), the same amount on the same day between other parties, and the same
  document number from another seller;
* **near misses** (must not be flagged): same parties, type and an alike number, but amounts 2.5–4 % apart or
  dates 4–6 days apart — just beyond the tolerances;
* **near duplicates** for review: same parties and type, amount within 2 % (or equal), dates within 3 days,
  the number one or two characters off (or unlike, with the same amount).

Base documents are kept clear of each other (no two between the same parties within 5 % and 7 days, no number
reused by a seller) so that the planted truth is the whole truth. Row numbers count data rows from 1, as in
:mod:`.csvrows`.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from stdnum.cn import uscc as _uscc

from .csvrows import COLUMNS
from .identifiers import TraderId, organisation_check_char, parse_trader_id
from .normalise import normalise_doc_number
from .similarity import numbers_alike

__all__ = ["SyntheticBatch", "SyntheticTrader", "generate_batch"]

Region = Literal["CN", "HK", "MO"]


@dataclass(frozen=True)
class SyntheticTrader:
    """A generated enterprise: its identifier, its home (CN, HK, MO) and its names by language."""

    trader_id: TraderId
    region: Region
    names: Mapping[str, str]
    """By language: ``zh-Hans``, ``zh-Hant``, ``en`` and, for Macau, ``pt``."""


@dataclass(frozen=True)
class SyntheticBatch:
    """A CSV batch and the truth planted in it: groups of row numbers that are one document, or look-alikes."""

    csv_text: str
    truth_duplicates: frozenset[frozenset[int]]
    """Each set: the rows presenting one underlying document (2 or 3 rows)."""
    truth_suspicious: frozenset[frozenset[int]]
    """Each set: a document and its planted near duplicate (2 rows)."""
    traders: tuple[SyntheticTrader, ...] = ()
    lookalikes: Mapping[str, frozenset[frozenset[int]]] = field(default_factory=dict)
    """Planted pairs of *different* documents by kind (``series``, ``split_bl``, ``same_amount_date``,
    ``same_number_other_seller``, ``near_miss``): none may end up in one duplicate group, nor a near miss in a
    suspicious one."""


# -- traders -------------------------------------------------------------------------------------------------------

# (simplified, traditional, English) city names with their administrative division codes.
_CITIES = (
    ("深圳", "深圳", "Shenzhen", ("440300", "440303", "440304", "440305", "440306")),
    ("广州", "廣州", "Guangzhou", ("440100", "440104", "440106", "440115")),
    ("珠海", "珠海", "Zhuhai", ("440400", "440402", "440403")),
    ("东莞", "東莞", "Dongguan", ("441900",)),
    ("佛山", "佛山", "Foshan", ("440600", "440604", "440606")),
    ("中山", "中山", "Zhongshan", ("442000",)),
    ("惠州", "惠州", "Huizhou", ("441300", "441302")),
    ("江门", "江門", "Jiangmen", ("440700",)),
)
# Brand names: (simplified, traditional, Mandarin pinyin, Cantonese romanisation).
_BRANDS = (
    ("华盛", "華盛", "Huasheng", "Wah Shing"),
    ("永利", "永利", "Yongli", "Wing Lee"),
    ("宏达", "宏達", "Hongda", "Wang Tat"),
    ("金海", "金海", "Jinhai", "Kam Hoi"),
    ("新光", "新光", "Xinguang", "San Kwong"),
    ("嘉信", "嘉信", "Jiaxin", "Ka Shun"),
    ("恒通", "恆通", "Hengtong", "Hang Tung"),
    ("富源", "富源", "Fuyuan", "Fu Yuen"),
    ("德隆", "德隆", "Delong", "Tak Lung"),
    ("明辉", "明輝", "Minghui", "Ming Fai"),
    ("海洋", "海洋", "Haiyang", "Hoi Yeung"),
    ("联发", "聯發", "Lianfa", "Luen Fat"),
    ("万通", "萬通", "Wantong", "Man Tung"),
    ("信和", "信和", "Xinhe", "Shun Wo"),
    ("大昌", "大昌", "Dachang", "Tai Cheong"),
    ("利丰", "利豐", "Lifeng", "Li Fung"),
    ("安泰", "安泰", "Antai", "On Tai"),
    ("鸿基", "鴻基", "Hongji", "Hung Kei"),
    ("荣华", "榮華", "Ronghua", "Wing Wah"),
    ("志成", "志成", "Zhicheng", "Chi Shing"),
)
# Lines of business: (simplified, traditional, English, Portuguese).
_TRADES = (
    ("电子", "電子", "Electronics", "Electrónica"),
    ("贸易", "貿易", "Trading", "Comercial"),
    ("纺织", "紡織", "Textiles", "Têxteis"),
    ("五金", "五金", "Hardware", "Ferragens"),
    ("食品", "食品", "Foods", "Alimentos"),
    ("物流", "物流", "Logistics", "Logística"),
    ("化工", "化工", "Chemicals", "Químicos"),
    ("家具", "傢俬", "Furniture", "Mobiliário"),
    ("塑胶", "塑膠", "Plastics", "Plásticos"),
    ("照明", "照明", "Lighting", "Iluminação"),
)
# The USCC alphabet (no I, O, Z, S, V), which organisation code bodies issued since 2015 also draw from.
_ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _uscc_code(rng: random.Random, division: str) -> str:
    """A valid USCC: 9 (market regulation), 1 (enterprise), division, organisation code + both check characters."""
    if rng.random() < 0.5:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    else:  # codes issued since 2015 start the organisation code with MA
        body = "MA" + "".join(rng.choice(_ORG_ALPHABET) for _ in range(6))
    partial = "91" + division + body + organisation_check_char(body)
    return partial + _uscc.calc_check_digit(partial)


def _make_traders(rng: random.Random, count: int) -> list[SyntheticTrader]:
    traders: list[SyntheticTrader] = []
    seen: set[str] = set()
    regions: tuple[Region, ...] = ("CN", "CN", "CN", "HK", "HK", "MO")
    while len(traders) < count:
        region = regions[len(traders) % len(regions)]
        brand = rng.choice(_BRANDS)
        trade = rng.choice(_TRADES)
        if region == "CN":
            city = rng.choice(_CITIES)
            code = _uscc_code(rng, rng.choice(city[3]))
            names = {
                "zh-Hans": f"{city[0]}市{brand[0]}{trade[0]}有限公司",
                "zh-Hant": f"{city[1]}市{brand[1]}{trade[1]}有限公司",
                "en": f"{city[2]} {brand[2]} {trade[2]} Co., Ltd.",
            }
        elif region == "HK":
            code = f"{rng.randint(10_000_000, 79_999_999)}"
            names = {
                "zh-Hans": f"香港{brand[0]}{trade[0]}有限公司",
                "zh-Hant": f"香港{brand[1]}{trade[1]}有限公司",
                "en": f"{brand[3]} {trade[2]} (Hong Kong) Limited",
            }
        else:
            code = f"{rng.randint(1_000, 85_000):05d} (SO)"
            names = {
                "zh-Hans": f"澳门{brand[0]}{trade[0]}有限公司",
                "zh-Hant": f"澳門{brand[1]}{trade[1]}有限公司",
                "en": f"{brand[3]} {trade[2]} (Macau) Limited",
                "pt": f"{trade[3]} {brand[3]} (Macau), Limitada",
            }
        trader_id = parse_trader_id(code)  # the generator's own codes go through the same validation
        if trader_id.key in seen or any(t.names["en"] == names["en"] for t in traders):
            continue
        seen.add(trader_id.key)
        traders.append(SyntheticTrader(trader_id, region, names))
    return traders


# -- documents -----------------------------------------------------------------------------------------------------

_DOC_TYPES = ("invoice",) * 9 + ("bill_of_lading",) * 5 + ("customs_declaration",) * 3 + ("warehouse_receipt",) * 3
_CARRIERS = ("COSU", "OOLU", "MAEU", "EGLV", "HLCU", "ONEY", "CMDU", "YMLU")
_VESSELS = (
    "COSCO SHIPPING STAR",
    "OOCL HONG KONG",
    "EVER GOLDEN",
    "MAERSK ESSEN",
    "ONE APUS",
    "CMA CGM PEARL RIVER",
    "YM WELLNESS",
    "HUNAN EXPRESS",
    "XIN NAN SHA",
    "MACAU FORTUNE",
)
_PORTS = ("Yantian", "Shekou", "Nansha", "Hong Kong", "Zhuhai Gaolan", "Macau Ka Ho", "Dongguan Humen", "Jiangmen")
_CUSTOMS_CODES = ("5316", "5301", "5141", "5710", "5200", "5700")  # Shenzhen Bay, Huanggang, Nansha, Gongbei …
_CURRENCY_BY_REGION = {"CN": ("CNY", "CNY", "USD"), "HK": ("HKD", "USD", "USD"), "MO": ("MOP", "HKD", "USD")}
_START = date(2025, 1, 1)
_DAYS = 690


@dataclass(frozen=True)
class _Spec:
    """A document's true values (what every rendering of it means)."""

    doc_type: str
    number: str
    seller: int
    buyer: int
    issue_date: date
    amount: Decimal
    currency: str
    bl_number: str = ""
    vessel: str = ""
    port: str = ""


class _Builder:
    """Draws documents and keeps them clear of each other, so the planted truth is the whole truth."""

    def __init__(self, rng: random.Random, traders: list[SyntheticTrader]) -> None:
        self.rng = rng
        self.traders = traders
        self.sequence: dict[tuple[int, str], int] = {}
        self.numbers: dict[tuple[str, int], set[str]] = defaultdict(set)  # (type, seller) → normalised numbers
        self.bls: set[tuple[str, str, str]] = set()
        self.close: dict[tuple[str, int, int, str], list[tuple[date, Decimal]]] = defaultdict(list)
        self.prefix = {i: "".join(w[0] for w in t.names["en"].split()[:3]).upper() for i, t in enumerate(traders)}

    # Numbers ---------------------------------------------------------------------------------------------------
    def number_for(self, doc_type: str, seller: int, issue_date: date, seq: int) -> str:
        """The printed number of a seller's ``seq``-th document of a type."""
        if doc_type == "invoice":
            return f"{self.prefix[seller]}{issue_date.year % 100:02d}-{seq:05d}"
        if doc_type == "bill_of_lading":
            carrier = _CARRIERS[(seller + seq // 1000) % len(_CARRIERS)]
            return f"{carrier}{seller:02d}{seq:08d}"
        if doc_type == "customs_declaration":
            return f"{_CUSTOMS_CODES[seller % len(_CUSTOMS_CODES)]}{issue_date.year}{seller:02d}{seq:08d}"
        return f"WR-{self.prefix[seller]}-{seq:06d}"

    def next_seq(self, doc_type: str, seller: int) -> int:
        """The seller's next sequence number for a type (series start somewhere and skip a few: cancelled ones)."""
        key = (seller, doc_type)
        if key not in self.sequence:
            self.sequence[key] = self.rng.randint(100, 9000)
        self.sequence[key] += self.rng.randint(1, 4)
        return self.sequence[key]

    # Constraints -----------------------------------------------------------------------------------------------
    def clear(self, spec: _Spec, partner: _Spec | None = None) -> bool:
        """No other document between the same parties close in amount (5 %) and date (7 days); number unused."""
        if normalise_doc_number(spec.number) in self.numbers[(spec.doc_type, spec.seller)]:
            return False
        if spec.doc_type == "bill_of_lading" and self._bl_key(spec) in self.bls:
            return False
        return self.apart(spec, partner or spec)

    def apart(self, spec: _Spec, partner: _Spec) -> bool:
        """No document but ``partner`` between the same parties close in amount (5 %) and date (7 days)."""
        for when, amount in self.close[self._party_key(spec)]:
            if (when, amount) == (partner.issue_date, partner.amount):
                continue
            low, high = sorted((amount, spec.amount))
            if low >= Decimal("0.95") * high and abs((when - spec.issue_date).days) <= 7:
                return False
        return True

    def first_clear(self, make: Callable[[], _Spec | None], partner: _Spec | None = None) -> _Spec:
        """The first candidate ``make`` offers that is clear of every document (but ``partner``), kept."""
        for _ in range(10_000):
            candidate = make()
            if candidate is not None and self.clear(candidate, partner):
                return self.keep(candidate)
        raise ValueError(f"traders: {len(self.traders)} are too few to keep this many documents apart")

    def keep(self, spec: _Spec) -> _Spec:
        self.numbers[(spec.doc_type, spec.seller)].add(normalise_doc_number(spec.number))
        if spec.doc_type == "bill_of_lading":
            self.bls.add(self._bl_key(spec))
        self.close[self._party_key(spec)].append((spec.issue_date, spec.amount))
        return spec

    @staticmethod
    def _party_key(spec: _Spec) -> tuple[str, int, int, str]:
        return (spec.doc_type, spec.seller, spec.buyer, spec.currency)

    @staticmethod
    def _bl_key(spec: _Spec) -> tuple[str, str, str]:
        return (normalise_doc_number(spec.bl_number), spec.vessel.casefold(), spec.port.casefold())

    # Drawing ---------------------------------------------------------------------------------------------------
    def amount(self) -> Decimal:
        value = self.rng.lognormvariate(11.5, 1.2)  # median ≈ 100,000; most between 10,000 and 1,000,000
        return Decimal(f"{min(max(value, 500.0), 50_000_000.0):.2f}")

    def propose(self, doc_type: str | None = None) -> _Spec:
        """A fresh document between two distinct traders, not yet checked against the others nor kept."""
        kind = doc_type or self.rng.choice(_DOC_TYPES)
        seller, buyer = self.rng.sample(range(len(self.traders)), 2)
        when = _START + timedelta(days=self.rng.randrange(_DAYS))
        currency = self.rng.choice(_CURRENCY_BY_REGION[self.traders[seller].region])
        number = self.number_for(kind, seller, when, self.next_seq(kind, seller))
        spec = _Spec(kind, number, seller, buyer, when, self.amount(), currency)
        if kind == "bill_of_lading":
            spec = replace(spec, bl_number=number, vessel=self.rng.choice(_VESSELS), port=self.rng.choice(_PORTS))
        return spec

    def draw(self, doc_type: str | None = None) -> _Spec:
        """A fresh document clear of every other (drawing again until it is), kept."""
        return self.first_clear(lambda: self.propose(doc_type))


# -- rendering -----------------------------------------------------------------------------------------------------

_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_FULL = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DATE_STYLES: tuple[Callable[[date], str], ...] = (
    lambda d: d.isoformat(),
    lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    lambda d: f"{d.day:02d}-{d.month:02d}-{d.year}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
    lambda d: f"{d.year}年{d.month}月{d.day}日",
    lambda d: f"{d.year}年{d.month:02d}月{d.day:02d}日",
    lambda d: f"{d.day} {_MONTH_FULL[d.month - 1]} {d.year}",
    lambda d: f"{_MONTH_ABBR[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day:02d}-{_MONTH_ABBR[d.month - 1]}-{d.year % 100:02d}",
)


def _grouped(amount: Decimal, group: str, decimal_mark: str, trim: bool) -> str:
    whole, _, fraction = f"{amount:.2f}".partition(".")
    if trim:
        fraction = fraction.rstrip("0")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = group.join(groups)
    return f"{text}{decimal_mark}{fraction}" if fraction else text


_AMOUNT_STYLES: tuple[Callable[[Decimal], str], ...] = (
    lambda a: _grouped(a, ",", ".", False),  # 1,234.50
    lambda a: _grouped(a, "", ".", False),  # 1234.50
    lambda a: _grouped(a, "", ".", True),  # 1234.5
    lambda a: _grouped(a, " ", ".", False),  # 1 234.50
    lambda a: _grouped(a, ".", ",", False),  # 1.234,50
    lambda a: _grouped(a, " ", ",", False),  # 1 234,50
)
_CURRENCY_SPELLINGS = {
    "CNY": ("CNY", "RMB", "人民币", "¥", "元", "CNH", "rmb"),
    "HKD": ("HKD", "HK$", "港币", "港元", "hkd"),
    "MOP": ("MOP", "MOP$", "澳门元", "澳門元", "葡币"),
    "USD": ("USD", "US$", "美元", "usd"),
}


def _fullwidth(text: str) -> str:
    """ASCII letters, digits and punctuation as their full-width forms (what a Chinese input method types)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


def _number_variant(rng: random.Random, number: str) -> str:
    """The same document number as another clerk types it (same after normalisation)."""
    style = rng.randrange(6)
    if style == 0:
        return number.lower()
    if style == 1:
        return number.replace("-", "")
    if style == 2:
        return number.replace("-", " ")
    if style == 3:  # more padding zeros where the digits start (after the letters of a prefix)
        return re.sub(r"(\d)", r"00\1", number, count=1)
    if style == 4:
        return _fullwidth(number)
    return f" {number.replace('-', ' - ')} "


def _id_variant(rng: random.Random, trader: SyntheticTrader) -> str:
    """The trader's identifier as another form spells it (same after parsing)."""
    value = trader.trader_id.value
    style = rng.randrange(3)
    if trader.trader_id.kind == "USCC":
        return (value.lower(), " ".join((value[:2], value[2:8], value[8:17], value[17])), _fullwidth(value))[style]
    if trader.trader_id.kind == "HKBR":
        suffix = f"-000-{rng.randint(1, 12):02d}-{rng.randint(26, 29)}-{rng.randrange(10)}"
        return (f"{value[:4]} {value[4:]}", value + suffix, _fullwidth(value))[style]
    digits = value[:5]
    return (f"{digits}(SO)", f"SO {int(digits)}", f"0{digits} SO")[style]


@dataclass(frozen=True)
class _Style:
    """How one presentation writes each field."""

    date: int
    amount: int
    currency: int
    name_lang: str
    number: bool = False
    """Whether the number (and bill number) is written differently from the printed form."""
    ids: bool = False
    """Whether identifiers are spelled differently from the canonical form."""
    fullwidth_amount: bool = False


def _render(rng: random.Random, spec: _Spec, style: _Style, bank: str, traders: list[SyntheticTrader]) -> list[str]:
    seller, buyer = traders[spec.seller], traders[spec.buyer]

    def name(trader: SyntheticTrader) -> str:
        return trader.names.get(style.name_lang) or trader.names["en"]

    spellings = _CURRENCY_SPELLINGS[spec.currency]
    amount = _AMOUNT_STYLES[style.amount](spec.amount)
    values = {
        "bank": bank,
        "doc_type": spec.doc_type,
        "doc_number": _number_variant(rng, spec.number) if style.number else spec.number,
        "seller_id": _id_variant(rng, seller) if style.ids else seller.trader_id.value,
        "seller_name": name(seller),
        "buyer_id": _id_variant(rng, buyer) if style.ids else buyer.trader_id.value,
        "buyer_name": name(buyer),
        "issue_date": _DATE_STYLES[style.date](spec.issue_date),
        "amount": _fullwidth(amount) if style.fullwidth_amount else amount,
        "currency": spellings[style.currency % len(spellings)],
        "bl_number": "",
        "vessel": "",
        "port_of_loading": "",
    }
    if spec.doc_type == "bill_of_lading":
        values["bl_number"] = _number_variant(rng, spec.bl_number) if style.number else spec.bl_number
        values["vessel"] = spec.vessel.title() if style.number else spec.vessel
        values["port_of_loading"] = spec.port.upper() if style.number else spec.port
        values["doc_type"] = rng.choice(("bill_of_lading", "B/L", "BL", "提单")) if style.number else "bill_of_lading"
    elif spec.doc_type == "invoice" and style.number:
        values["doc_type"] = rng.choice(("INV", "invoice", "发票", "發票"))
    return [values[c] for c in COLUMNS]


def _house_style(rng: random.Random) -> _Style:
    """A bank's usual way of writing (plain ASCII; the bank's own date and amount notation)."""
    return _Style(
        date=rng.randrange(len(_DATE_STYLES)),
        amount=rng.choice((0, 1, 2)),
        currency=0,
        name_lang=rng.choice(("zh-Hans", "zh-Hant", "en")),
    )


def _disguise(rng: random.Random, house: _Style) -> _Style:
    """Another presentation of the same document: several fields reformatted at once."""
    return _Style(
        date=rng.choice([i for i in range(len(_DATE_STYLES)) if i != house.date]),
        amount=rng.choice([i for i in range(len(_AMOUNT_STYLES)) if i != house.amount]),
        currency=rng.randrange(1, 7),
        name_lang=rng.choice([lang for lang in ("zh-Hans", "zh-Hant", "en", "pt") if lang != house.name_lang]),
        number=True,
        ids=rng.random() < 0.7,
        fullwidth_amount=rng.random() < 0.3,
    )


# -- the batch -----------------------------------------------------------------------------------------------------


@dataclass
class _Presentation:
    spec: _Spec
    bank: str
    style: _Style


def generate_batch(seed: int, rows: int, banks: Sequence[str], *, traders: int | None = None) -> SyntheticBatch:
    """A batch of ``rows`` documents presented by ``banks`` with planted truth; the same for the same arguments."""
    if rows < 40:
        raise ValueError(f"rows: expected at least 40 (room for every kind of plant), found {rows}")
    if traders is not None and traders < 4:
        raise ValueError(f"traders: expected at least 4 (two disjoint pairs of parties), found {traders}")
    if len(banks) < 2 or len(set(banks)) != len(banks):
        raise ValueError(f"banks: expected at least two distinct banks, found {list(banks)}")
    rng = random.Random(seed)
    people = _make_traders(rng, traders if traders is not None else max(10, min(80, rows // 25)))
    builder = _Builder(rng, people)
    house = {bank: _house_style(rng) for bank in banks}
    presentations: list[_Presentation] = []
    duplicate_sets: list[list[int]] = []  # indexes into presentations
    suspicious_sets: list[list[int]] = []
    lookalike_sets: dict[str, list[list[int]]] = defaultdict(list)

    def present(spec: _Spec, bank: str, style: _Style | None = None) -> int:
        presentations.append(_Presentation(spec, bank, style or house[bank]))
        return len(presentations) - 1

    def other_banks(bank: str, count: int) -> list[str]:
        return rng.sample([b for b in banks if b != bank], min(count, len(banks) - 1))

    # Disguised duplicates: 1 in 40 rows is an original presented again at one or two other banks.
    for _ in range(max(2, rows // 40)):
        original = builder.draw()
        bank = rng.choice(banks)
        first = present(original, bank)
        group = [first]
        for other in other_banks(bank, rng.choice((1, 1, 2))):
            copy = _altered(rng, builder, original)
            group.append(present(copy, other, _disguise(rng, house[bank])))
        duplicate_sets.append(group)

    # Look-alikes that are different documents.
    def scaled(amount: Decimal, factors: tuple[str, ...]) -> Decimal:
        return (amount * Decimal(rng.choice(factors))).quantize(Decimal("0.01"))

    for _ in range(max(1, rows // 80)):
        # The next invoice of a series: next number, same parties, close date, another amount.
        first = builder.draw("invoice")
        following = builder.first_clear(
            lambda first=first: replace(
                first,
                number=builder.number_for(
                    "invoice", first.seller, first.issue_date, builder.next_seq("invoice", first.seller)
                ),
                issue_date=first.issue_date + timedelta(days=rng.randint(0, 3)),
                amount=scaled(first.amount, ("0.6", "0.75", "1.2", "1.35", "1.5")),
            ),
            first,
        )
        lookalike_sets["series"].append(_pair(present, rng, banks, first, following))

        # A split bill of lading: one shipment, two bills, consecutive numbers, other amounts.
        first = builder.draw("bill_of_lading")
        head = first.bl_number.rstrip("0123456789")
        tail = first.bl_number[len(head) :]
        number = f"{head}{int(tail) + 1:0{len(tail)}d}"
        second = builder.first_clear(
            lambda first=first, number=number: replace(
                first, number=number, bl_number=number, amount=scaled(first.amount, ("0.4", "0.5", "0.7", "1.3", "1.8"))
            ),
            first,
        )
        lookalike_sets["split_bl"].append(_pair(present, rng, banks, first, second))

        # The same amount on the same day between other parties.
        first = builder.draw()

        def elsewhere(first: _Spec = first) -> _Spec | None:
            other = builder.propose(first.doc_type)
            if {other.seller, other.buyer} & {first.seller, first.buyer}:
                return None
            return replace(other, issue_date=first.issue_date, amount=first.amount, currency=first.currency)

        lookalike_sets["same_amount_date"].append(_pair(present, rng, banks, first, builder.first_clear(elsewhere)))

        # The same document number from another seller (same type, buyer, date and amount even).
        first = builder.draw(rng.choice(("invoice", "warehouse_receipt", "customs_declaration")))

        def other_seller(first: _Spec = first) -> _Spec | None:
            seller = rng.randrange(len(people))
            return None if seller in (first.seller, first.buyer) else replace(first, seller=seller)

        lookalike_sets["same_number_other_seller"].append(
            _pair(present, rng, banks, first, builder.first_clear(other_seller))
        )

        # A near miss: same parties and type, just beyond a tolerance (2.5–4 % apart, or 4–6 days), number alike.
        first = builder.draw()

        def near_miss(first: _Spec = first) -> _Spec:
            if rng.random() < 0.5:
                amount, when = scaled(first.amount, ("0.96", "0.965", "1.026", "1.03", "1.04")), first.issue_date
            else:
                amount, when = first.amount, first.issue_date + timedelta(days=rng.choice((-6, -5, -4, 4, 5, 6)))
            number = _alike_number(rng, first.number)
            candidate = replace(first, number=number, amount=amount, issue_date=when)
            return replace(candidate, bl_number=number) if first.doc_type == "bill_of_lading" else candidate

        lookalike_sets["near_miss"].append(_pair(present, rng, banks, first, builder.first_clear(near_miss, first)))

    # Near duplicates for review.
    for index in range(max(2, rows // 60)):
        original = builder.draw()

        def near(original: _Spec = original, medium: bool = index % 3 == 2) -> _Spec | None:
            if medium:  # the same amount, a day or three later, under an unlike number
                seq = builder.next_seq(original.doc_type, original.seller) + rng.randint(3000, 6000)
                number = builder.number_for(original.doc_type, original.seller, original.issue_date, seq)
                if numbers_alike(normalise_doc_number(number), normalise_doc_number(original.number)):
                    return None
                amount = original.amount
                when = original.issue_date + timedelta(days=rng.randint(1, 3))
            else:  # the number one or two characters off, the amount within 2 %, dates within 3 days
                number = _alike_number(rng, original.number)
                amount = scaled(original.amount, ("0.985", "0.992", "0.997", "1.004", "1.009", "1.014"))
                when = original.issue_date + timedelta(days=rng.randint(-3, 3))
            candidate = replace(original, number=number, amount=amount, issue_date=when)
            return replace(candidate, bl_number=number) if original.doc_type == "bill_of_lading" else candidate

        suspicious_sets.append(_pair(present, rng, banks, original, builder.first_clear(near, original)))

    # Everything else: ordinary documents, each presented once.
    while len(presentations) < rows:
        present(builder.draw(), rng.choice(banks))
    if len(presentations) > rows:
        raise ValueError(f"rows: {rows} is too few for the plants ({len(presentations)} rows needed)")

    order = list(range(len(presentations)))
    rng.shuffle(order)
    row_of = {index: position + 1 for position, index in enumerate(order)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for index in order:
        item = presentations[index]
        writer.writerow(_render(rng, item.spec, item.style, item.bank, people))

    def as_rows(sets: list[list[int]]) -> frozenset[frozenset[int]]:
        return frozenset(frozenset(row_of[i] for i in group) for group in sets)

    return SyntheticBatch(
        csv_text=out.getvalue(),
        truth_duplicates=as_rows(duplicate_sets),
        truth_suspicious=as_rows(suspicious_sets),
        traders=tuple(people),
        lookalikes={kind: as_rows(sets) for kind, sets in lookalike_sets.items()},
    )


def _pair(
    present: Callable[..., int], rng: random.Random, banks: Sequence[str], first: _Spec, second: _Spec
) -> list[int]:
    """Present two documents, at one bank or two."""
    return [present(first, rng.choice(banks)), present(second, rng.choice(banks))]


def _alike_number(rng: random.Random, number: str) -> str:
    """A number one or two characters off the original (a digit changed, two digits swapped, a letter added)."""
    while True:
        digits = [i for i, c in enumerate(number) if c.isdigit() and i >= len(number) - 4]
        chars = list(number)
        style = rng.randrange(3)
        if style == 0:
            i = rng.choice(digits)
            chars[i] = rng.choice([d for d in "123456789" if d != chars[i]])
        elif style == 1 and len(digits) >= 2:
            i, j = digits[-2], digits[-1]
            chars[i], chars[j] = chars[j], chars[i]
        else:
            chars.append(rng.choice("ABR"))
        candidate = "".join(chars)
        if normalise_doc_number(candidate) != normalise_doc_number(number):
            return candidate


def _altered(rng: random.Random, builder: _Builder, original: _Spec) -> _Spec:
    """A copy of the original: usually the same values; sometimes one value changed, as a forger would."""
    for _ in range(20):
        change = rng.choice(("none", "none", "none", "number", "date", "amount", "parties"))
        if change == "none":
            return original
        if change == "number":  # renumbered: meets the original on the parties (and bill of lading)
            copy = replace(original, number=f"{original.number}-R{rng.randint(1, 9)}")
        elif change == "date":  # re-dated: meets it on the number
            copy = replace(original, issue_date=original.issue_date + timedelta(days=rng.choice((-40, -12, 9, 30))))
        elif change == "amount":  # another amount: meets it on the number
            factor = Decimal(rng.choice(("0.5", "0.8", "1.25", "2")))
            copy = replace(original, amount=(original.amount * factor).quantize(Decimal("0.01")))
        elif original.doc_type == "bill_of_lading":  # other parties named: meets it only on the bill of lading
            seller, buyer = rng.sample(range(len(builder.traders)), 2)
            copy = replace(original, seller=seller, buyer=buyer)
        else:
            continue
        # The changed copy must not stray near a third document (the truth would then be incomplete).
        if builder.apart(copy, original):
            builder.close[builder._party_key(copy)].append((copy.issue_date, copy.amount))
            builder.numbers[(copy.doc_type, copy.seller)].add(normalise_doc_number(copy.number))
            return copy
    return original
