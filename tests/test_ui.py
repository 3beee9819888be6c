"""The platform's page conventions: catalogues, the untranslated-text checker, times with zones, round ticks."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from consortia.ui.i18n import Catalogue, pick_language, untranslated, visible_text
from consortia.ui.ticks import nice_ticks, tick_label
from consortia.ui.timefmt import format_date, format_datetime, format_time, local_date, relative, zone_label

CATALOGUE = Catalogue(
    {
        "en": {"title": "Lot history", "alarms.one": "{count} alarm", "alarms.other": "{count} alarms"},
        "ko": {"title": "로트 이력", "alarms.other": "경보 {count}건"},
    },
    default="en",
)


# --- catalogues -------------------------------------------------------------------------------------------------


def test_catalogue_text_plural_and_fallback() -> None:
    assert CATALOGUE.text("ko", "title") == "로트 이력"
    assert CATALOGUE.table("ko").title == "로트 이력"
    assert CATALOGUE.plural("en", "alarms", 1) == "1 alarm"
    assert CATALOGUE.plural("en", "alarms", 2) == "2 alarms"
    assert CATALOGUE.plural("ko", "alarms", 1) == "경보 1건"
    # An unknown language reads the default's strings rather than breaking the page.
    assert CATALOGUE.text("fr", "title") == "Lot history"


def test_missing_names_keys_one_language_lacks() -> None:
    assert CATALOGUE.missing() == {"en": frozenset(), "ko": frozenset({"alarms.one"})}
    complete = Catalogue({"en": {"a": "A"}, "ko": {"a": "가"}}, default="en")
    assert complete.missing() == {"en": frozenset(), "ko": frozenset()}


def test_catalogue_needs_its_default_language() -> None:
    with pytest.raises(ValueError, match="default language 'fr'"):
        Catalogue({"en": {}}, default="fr")


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        ("ko", None, "en", "ko"),
        ("fr", None, "en-US,en;q=0.9", "en"),  # an unsupported ?lang= is ignored, not an error
        (None, "ko", "en", "ko"),
        (None, None, "fr-FR,ko;q=0.8,en;q=0.5", "ko"),
        (None, None, "en;q=0.2,ko-KR;q=0.9", "ko"),
        (None, None, "", "en"),
        (None, None, "ko;q=0", "en"),
    ],
)
def test_pick_language(query: str | None, cookie: str | None, accept: str, expected: str) -> None:
    assert pick_language(query, cookie, accept, ("ko", "en"), "en") == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("zh-CN", "zh-Hans"), ("zh-HK,en;q=0.5", "zh-Hant"), ("zh-TW", "zh-Hant"), ("zh", "zh-Hans"), ("de", "en")],
)
def test_pick_chinese_script_from_region(accept: str, expected: str) -> None:
    assert pick_language(None, None, accept, ("zh-Hans", "zh-Hant", "en"), "en") == expected


# --- the untranslated-text checker -----------------------------------------------------------------------------

KO_PAGE = """<!doctype html><html lang="ko"><head><title>로트 이력</title><style>.a{color:red}</style></head>
<body><h1>로트 MK261203-02</h1><p>혈압 128/82 mmHg, 포도당 5.4 mmol/L ·
GTIN <span translate="no">09506000134352</span></p>
<p><a lang="en" href="?lang=en">English</a> <code>sha256:abc</code></p>
<script>const label = "never shown";</script>
<input type="submit" value="확인"><img alt="온도 그래프" src="x.svg"></body></html>"""


def test_a_translated_korean_page_passes() -> None:
    assert untranslated(KO_PAGE, "ko") == []


@pytest.mark.parametrize(
    ("snippet", "found"),
    [
        ("<p>목적: TREAT</p>", "목적: TREAT"),
        ("<td>retail_sale</td>", "retail_sale"),
        ("<span>normal</span>", "normal"),
        ('<img alt="temperature chart" src="x">', "temperature chart"),
        ('<input placeholder="Search">', "Search"),
        ('<input type="submit" value="Verify">', "Verify"),
        ('<button title="Log out">⏻</button>', "Log out"),
    ],
)
def test_english_left_on_a_korean_page_is_found(snippet: str, found: str) -> None:
    html = f'<html lang="ko"><body><h1>제목</h1>{snippet}</body></html>'
    assert untranslated(html, "ko") == [found]


def test_time_zone_ids_are_data() -> None:
    html = '<html lang="ko"><body><p>2026년 12월 5일 05:19 KST · 한국 표준시 (Asia/Seoul)</p></body></html>'
    assert untranslated(html, "ko") == []
    assert untranslated("<html><body><p>香港時間 (Asia/Hong_Kong)</p></body></html>", "zh-Hant") == []
    assert untranslated("<html><body><p>시간 (Asia/Nowhere)</p></body></html>", "ko") == ["시간 (Asia/Nowhere)"]


def test_allow_list_admits_proper_names() -> None:
    html = '<html lang="ko"><body><p>Busan Fresh 수산</p></body></html>'
    assert untranslated(html, "ko") == ["Busan Fresh 수산"]
    assert untranslated(html, "ko", allow={"Busan", "Fresh"}) == []


def test_korean_left_on_an_english_page_is_found() -> None:
    html = '<html lang="en"><body><p>Blood pressure</p><p>정상</p><a lang="ko" href="?lang=ko">한국어</a></body></html>'
    assert untranslated(html, "en") == ["정상"]


def test_chinese_scripts_are_told_apart() -> None:
    hans = '<html lang="zh-Hans"><body><p>银行发票</p><p>銀行</p></body></html>'
    hant = '<html lang="zh-Hant"><body><p>銀行發票</p><p>发票</p></body></html>'
    assert untranslated(hans, "zh-Hans") == ["銀行"]
    assert untranslated(hant, "zh-Hant") == ["发票"]
    assert untranslated("<html><body><p>Invoice 发票</p></body></html>", "zh-Hans") == ["Invoice 发票"]
    assert untranslated("<html><body><p>발표</p></body></html>", "zh-Hant") == ["발표"]


def test_visible_text_skips_hidden_parts_and_keeps_attributes() -> None:
    fragments = visible_text(KO_PAGE, "ko")
    assert "온도 그래프" in fragments and "확인" in fragments
    assert not any("never shown" in f or "English" in f or "sha256" in f or "color" in f for f in fragments)


# --- times -------------------------------------------------------------------------------------------------------

EVENING_UTC = datetime(2026, 12, 4, 20, 19, 24, 102000, tzinfo=UTC)


def test_format_in_the_places_zone_with_the_zone_named() -> None:
    assert format_datetime(EVENING_UTC, "Asia/Seoul", "en") == "5 Dec 2026, 05:19 KST"
    assert format_datetime(EVENING_UTC, "Asia/Seoul", "ko") == "2026년 12월 5일 05:19 KST"
    assert format_datetime(EVENING_UTC, "Asia/Hong_Kong", "zh-Hant") == "2026年12月5日 04:19 HKT"
    # tzdata's "CST" for Shanghai would read as US Central: an offset is shown instead.
    assert format_datetime(EVENING_UTC, "Asia/Shanghai", "zh-Hans") == "2026年12月5日 04:19 UTC+8"
    assert format_datetime(EVENING_UTC, "America/New_York", "en", seconds=True) == "4 Dec 2026, 15:19:24 EST"
    assert format_datetime(datetime(2026, 7, 4, 16, 0, tzinfo=UTC), "America/New_York", "en") == "4 Jul 2026, 12:00 EDT"
    assert format_time(EVENING_UTC, "Asia/Seoul") == "05:19 KST"


def test_epoch_milliseconds_and_dates() -> None:
    millis = int(EVENING_UTC.timestamp() * 1000)
    assert format_datetime(millis, "Asia/Seoul", "en") == "5 Dec 2026, 05:19 KST"
    assert format_date(millis, "Asia/Seoul", "ko") == "2026년 12월 5일"
    assert format_date(date(2020, 5, 18), "Asia/Macau", "zh-Hans") == "2020年5月18日"
    assert local_date(EVENING_UTC, "Asia/Seoul") == date(2026, 12, 5)
    assert local_date(EVENING_UTC, "America/New_York") == date(2026, 12, 4)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive 2026-12-04T20:19:24"):
        format_datetime(datetime(2026, 12, 4, 20, 19, 24), "Asia/Seoul", "en")
    with pytest.raises(TypeError, match="found str"):
        format_datetime("2026-12-04", "Asia/Seoul", "en")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("delta", "lang", "expected"),
    [
        (timedelta(seconds=20), "en", "just now"),
        (timedelta(minutes=1), "en", "1 minute ago"),
        (timedelta(hours=3, minutes=59), "en", "3 hours ago"),
        (timedelta(hours=3), "ko", "3시간 전"),
        (timedelta(days=2), "zh-Hans", "2天前"),
        (timedelta(days=-2), "en", "in 2 days"),
        (timedelta(days=-2), "zh-Hant", "2天後"),
        (timedelta(days=40), "ko", "1개월 전"),
    ],
)
def test_relative_times(delta: timedelta, lang: str, expected: str) -> None:
    assert relative(EVENING_UTC - delta, EVENING_UTC, lang) == expected


def test_relative_accepts_any_zone_for_now() -> None:
    seoul_now = EVENING_UTC.astimezone(timezone(timedelta(hours=9)))
    assert relative(EVENING_UTC - timedelta(hours=2), seoul_now, "en") == "2 hours ago"


def test_zone_label() -> None:
    assert zone_label("Asia/Seoul", "ko") == "한국 표준시 (Asia/Seoul)"
    assert zone_label("Asia/Macau", "zh-Hant") == "澳門時間 (Asia/Macau)"
    assert zone_label("Europe/Paris", "en") == "Europe/Paris"


# --- ticks -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (50, 200, (50, 100, 150, 200)),
        (0, 1, (0, 0.2, 0.4, 0.6, 0.8, 1)),
        (-1.3, 7.9, (-2, 0, 2, 4, 6, 8)),
        (3.9, 14.2, (0, 5, 10, 15)),
        (5, 5, (4.5, 5, 5.5)),
    ],
)
def test_nice_ticks_examples(lo: float, hi: float, expected: tuple[float, ...]) -> None:
    assert nice_ticks(lo, hi) == expected


def _is_round_step(step: float) -> bool:
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-6)
    return any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5))


def test_nice_ticks_properties_on_random_ranges() -> None:
    """Against the definition: round equal steps, covering the range, within the budget, the smallest such step."""
    rng = random.Random(9162)
    for _ in range(2000):
        lo = rng.uniform(-1e4, 1e4) * 10 ** rng.randint(-4, 2)
        hi = lo + rng.uniform(1e-3, 1e4) * 10 ** rng.randint(-3, 2)
        budget = rng.randint(3, 10)
        ticks = nice_ticks(lo, hi, budget)
        assert 2 <= len(ticks) <= budget
        assert ticks[0] <= lo + 1e-9 * abs(lo) and ticks[-1] >= hi - 1e-9 * abs(hi)
        steps = [b - a for a, b in itertools.pairwise(ticks)]
        assert all(math.isclose(s, steps[0], rel_tol=1e-6) for s in steps)
        assert _is_round_step(steps[0])
        # No smaller round step would have fitted the budget (a naive search over every candidate).
        exponent = math.floor(math.log10(steps[0]))
        for smaller in (m * 10.0**e for e in range(exponent - 1, exponent + 1) for m in (1, 2, 5)):
            if smaller < steps[0] * (1 - 1e-9):
                count = math.ceil(hi / smaller - 1e-9) - math.floor(lo / smaller + 1e-9) + 1
                assert count > budget


def test_nice_ticks_refuses_bad_bounds() -> None:
    with pytest.raises(ValueError, match="finite"):
        nice_ticks(0, math.inf)
    with pytest.raises(ValueError, match="at least 3"):
        nice_ticks(0, 1, 2)


def test_tick_labels() -> None:
    assert [tick_label(t) for t in nice_ticks(50, 200)] == ["50", "100", "150", "200"]
    assert tick_label(0.2) == "0.2" and tick_label(1_000_000.0) == "1000000"
