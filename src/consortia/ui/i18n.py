"""Translation catalogues, language negotiation, and the checker that finds untranslated text on a page.

A page is translated when a reader of its language finds no word in another language on it. Each application
keeps one :class:`Catalogue` — a table of strings per language, keyed alike — and renders every visible string
from it. :func:`pick_language` chooses the language: an explicit ``?lang=`` (an unsupported one is ignored, never
an error page), else the reader's cookie, else the browser's ``Accept-Language``, else the application's default.

:func:`untranslated` is what a test runs on each rendered page in each language. It reads the page's visible text
(text nodes outside ``script``/``style``, and the ``title``, ``alt``, ``placeholder`` and ``aria-label``
attributes) and reports the fragments that are not in the page's language:

- on a Korean or Chinese page, a word of Latin letters that is not a unit, a standard's acronym or on the
  caller's allow list (``TREAT``, ``retail_sale`` and ``normal`` are found; ``mmHg``, ``GTIN`` and ``QR`` are not);
- on an English page, any Hangul or Han character;
- on a Simplified Chinese page, a character only Traditional Chinese writes (``銀``), and the reverse.

HTML already has the words for what must not be translated, and the checker honours them: an element with
``translate="no"`` (identifiers, hashes, codes shown as codes) is skipped, and so is an element whose ``lang``
attribute names another language (the language switcher's ``<a lang="ko">한국어</a>``, a Korean patient's name
``<span lang="ko">``). Tokens with digits (lot ``MK261203-02``, ``HbA1c``), URLs and e-mail addresses are data.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import lxml.html

LANGUAGES_WITHOUT_PLURAL = frozenset({"ko", "zh-Hans", "zh-Hant", "ja"})
"""CLDR: these languages have one plural form ("other") for every count."""


class TranslationTable(Mapping[str, str]):
    """One language's strings, falling back to the default language's for a key it lacks (a page never breaks)."""

    def __init__(self, own: Mapping[str, str], fallback: Mapping[str, str]) -> None:
        self._own = own
        self._fallback = fallback

    def __getitem__(self, key: str) -> str:
        if key in self._own:
            return self._own[key]
        return self._fallback[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._own
        yield from (key for key in self._fallback if key not in self._own)

    def __len__(self) -> int:
        return len(set(self._own) | set(self._fallback))

    def __getattr__(self, key: str) -> str:
        # Templates write ``text.title``; Jinja tries the attribute first.
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


@dataclass(frozen=True)
class Catalogue:
    """An application's strings: ``strings[language][key]``, every language with the same keys."""

    strings: Mapping[str, Mapping[str, str]]
    default: str
    languages: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.default not in self.strings:
            raise ValueError(f"default language {self.default!r} has no strings; found {sorted(self.strings)}")
        frozen = {lang: MappingProxyType(dict(table)) for lang, table in self.strings.items()}
        object.__setattr__(self, "strings", MappingProxyType(frozen))
        object.__setattr__(self, "languages", tuple(frozen))

    def table(self, lang: str) -> TranslationTable:
        """The strings of ``lang`` (a missing key falls back to the default language's)."""
        own = self.strings.get(lang, self.strings[self.default])
        return TranslationTable(own, self.strings[self.default])

    def text(self, lang: str, key: str, **params: object) -> str:
        """One string of ``lang``, with ``{name}`` placeholders filled from ``params``."""
        template = self.table(lang)[key]
        return template.format(**params) if params else template

    def plural(self, lang: str, key: str, count: int, **params: object) -> str:
        """``key.one`` or ``key.other`` by the language's plural rule, with ``{count}`` filled in."""
        form = "other" if lang in LANGUAGES_WITHOUT_PLURAL or count != 1 else "one"
        table = self.table(lang)
        chosen = f"{key}.{form}" if f"{key}.{form}" in table else f"{key}.other"
        return table[chosen].format(count=count, **params)

    def missing(self) -> dict[str, frozenset[str]]:
        """Per language, the keys some other language has and it lacks (empty sets when complete)."""
        every = set().union(*(set(table) for table in self.strings.values()))
        return {lang: frozenset(every - set(table)) for lang, table in self.strings.items()}


_ALIASES = {
    "zh-cn": "zh-Hans",
    "zh-sg": "zh-Hans",
    "zh-hans": "zh-Hans",
    "zh": "zh-Hans",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-mo": "zh-Hant",
    "zh-hant": "zh-Hant",
}


def _supported(tag: str, supported: Sequence[str]) -> str | None:
    """The supported language a BCP 47 tag asks for (``ko-KR`` → ``ko``, ``zh-HK`` → ``zh-Hant``), or None."""
    tag = tag.strip().lower()
    if not tag:
        return None
    by_lower = {lang.lower(): lang for lang in supported}
    for candidate in (tag, _ALIASES.get(tag, "").lower(), tag.split("-")[0]):
        if candidate in by_lower:
            return by_lower[candidate]
    primary = tag.split("-")[0]
    alias = _ALIASES.get(primary)
    if alias and alias.lower() in by_lower:
        return by_lower[alias.lower()]
    return None


def pick_language(
    query: str | None, cookie: str | None, accept_language: str | None, supported: Sequence[str], default: str
) -> str:
    """The page's language: ``?lang=``, else the cookie, else ``Accept-Language`` (by q), else ``default``."""
    for explicit in (query, cookie):
        if explicit:
            chosen = _supported(explicit, supported)
            if chosen:
                return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        match = re.search(r"q=([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        chosen = _supported(tag, supported)
        if chosen:
            return chosen
    return default


UNIVERSAL_WORDS = frozenset(
    [
        "mmHg",
        "mg",
        "dL",
        "mmol",
        "L",
        "kg",
        "g",
        "cm",
        "m",
        "km",
        "h",
        "min",
        "s",
        "ms",
        "ml",
        "mL",
        "kcal",
        "bpm",
        "ID",
        "QR",
        "URL",
        "API",
        "JSON",
        "CSV",
        "XLSX",
        "PDF",
        "XML",
        "HTML",
        "HTTP",
        "HTTPS",
        "SQL",
        "UTC",
        "KST",
        "HKT",
        "CST",
        "EST",
        "EDT",
        "GMT",
        "GS1",
        "GTIN",
        "GLN",
        "SSCC",
        "SGTIN",
        "EPC",
        "EPCIS",
        "CBV",
        "FSMA",
        "LOT",
        "FHIR",
        "LOINC",
        "UCUM",
        "HbA1c",
        "ICD",
        "SNOMED",
        "SHA",
        "HMAC",
        "RFC",
        "Ed25519",
        "TLS",
        "X509",
        "CA",
        "USD",
        "CNY",
        "HKD",
        "MOP",
        "EUR",
        "JPY",
        "KRW",
        "GBP",
        "USCC",
        "BR",
        "SO",
        "SWIFT",
        "ICC",
        "DSI",
        "FinCEN",
        "SAR",
        "CTR",
        "BSA",
        "MSB",
        "AML",
        "KYC",
        "EDD",
        "Consortia",
    ]
)
"""Words every language writes in Latin letters: units, currencies, and standards' names and acronyms."""

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Pairs (Simplified, Traditional) of characters common on banking and trade pages, which only one script writes.
_SIMPLIFIED_TRADITIONAL = (
    "银銀 发發 据據 关關 务務 额額 币幣 汇匯 监監 贷貸 单單 货貨 运運 输輸 门門 为為 这這 个個 时時 间間 国國 东東 "
    "广廣 记記 录錄 证證 书書 险險 审審 还還 结結 户戶 账賬 码碼 号號 实實 体體 业業 贸貿 资資 来來 机機 构構 览覽 "
    "导導 页頁 验驗 无無 过過 销銷 请請 总總 计計 数數 图圖 类類 别別 项項 员員 产產 区區 湾灣 龙龍 华華 语語 简簡 "
    "经經 营營 应應 说說 见見 设設 权權 规規 风風 险險 报報 复複 违違 称稱 达達 务務 币幣 价價 质質 "
    "仓倉 库庫 船船 离離 岸岸 认認 识識 详詳 细細 组組 织織 选選 择擇 开開 关關 闭閉 处處 理理 该該 们們 样樣 "
    "后後 动動 态態 变變 更更 删刪 除除 读讀 写寫 入入 对對 比比 条條 联聯 络絡 电電 话話 邮郵 网網 络絡"
)
_PAIRS = [(pair[0], pair[1]) for pair in _SIMPLIFIED_TRADITIONAL.split() if len(pair) == 2 and pair[0] != pair[1]]
SIMPLIFIED_ONLY = frozenset(s for s, _ in _PAIRS)
"""Characters only Simplified Chinese writes (among common banking and trade words)."""
TRADITIONAL_ONLY = frozenset(t for _, t in _PAIRS)
"""Characters only Traditional Chinese writes (among common banking and trade words)."""

_ZONE_IDS = frozenset(zone for zone in zoneinfo.available_timezones() if "/" in zone)

_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "code", "kbd", "samp", "var"})
_TEXT_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")


def _same_language(tag: str, lang: str) -> bool:
    """Whether an element's ``lang`` attribute names the page's language (``ko-KR`` is ``ko``)."""
    tag, lang = tag.lower(), lang.lower()
    return tag == lang or (tag.split("-")[0] == lang.split("-")[0] and not lang.startswith("zh"))


def visible_text(html: str, lang: str) -> list[str]:
    """The page's visible text fragments and textual attributes, minus what HTML marks as not for translating."""
    root = lxml.html.fromstring(html)
    fragments: list[str] = []

    def walk(element: lxml.html.HtmlElement) -> None:
        if not isinstance(element.tag, str) or element.tag.lower() in _SKIPPED_TAGS:
            return
        if element.get("translate", "").lower() == "no" or "notranslate" in element.get("class", "").split():
            return
        own_lang = element.get("lang")
        if own_lang and element.tag.lower() != "html" and not _same_language(own_lang, lang):
            return
        if element.tag.lower() == "input" and element.get("type", "").lower() in {"submit", "button"}:
            fragments.append(element.get("value", ""))
        for attribute in _TEXT_ATTRIBUTES:
            if element.get(attribute):
                fragments.append(element.get(attribute, ""))
        if element.text:
            fragments.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                fragments.append(child.tail)

    walk(root)
    return [" ".join(fragment.split()) for fragment in fragments if fragment and fragment.strip()]


def _foreign_latin_words(fragment: str, allow: frozenset[str]) -> list[str]:
    """Latin-letter words in ``fragment`` that are not data (digits, URLs, e-mail) and not allowed."""
    found = []
    for token in fragment.split():
        if any(ch.isdigit() for ch in token) or "@" in token or "://" in token or token.startswith("/"):
            continue
        if token.strip("()[]{},.;:·") in _ZONE_IDS:
            continue  # an IANA time-zone id (Asia/Seoul) names the zone for every language
        for word in _LATIN_WORD.findall(token):
            if len(word) < 2 or word in allow or word in UNIVERSAL_WORDS or word.upper() in UNIVERSAL_WORDS:
                continue
            found.append(word)
    return found


def untranslated(html: str, lang: str, allow: Iterable[str] = ()) -> list[str]:
    """The visible fragments of a rendered page that are not in ``lang`` (empty when the page is translated)."""
    allowed = frozenset(allow)
    problems: list[str] = []
    for fragment in visible_text(html, lang):
        if lang == "en" or lang.startswith("en-"):
            if _HANGUL.search(fragment) or _HAN.search(fragment):
                problems.append(fragment)
            continue
        if _HANGUL.search(fragment) and not lang.startswith("ko"):
            problems.append(fragment)
            continue
        if lang == "zh-Hans" and TRADITIONAL_ONLY.intersection(fragment):
            problems.append(fragment)
            continue
        if lang == "zh-Hant" and SIMPLIFIED_ONLY.intersection(fragment):
            problems.append(fragment)
            continue
        if _foreign_latin_words(fragment, allowed):
            problems.append(fragment)
    return problems
