"""Times as people read them: in the place's time zone, the zone named, and "3 hours ago" computed, not written.

The ledger and the services keep instants (UTC datetimes, or epoch milliseconds as the ledger's headers do). A
page shows an instant in the time zone of the place it is about — Asia/Seoul for Gangwon's patients and Busan's
fish, Asia/Shanghai, Asia/Hong_Kong and Asia/Macau for the Greater Bay Area, America/New_York for the US bank —
and always names that zone, because a coordinator in Seoul and an auditor in London read the same page.

A naive datetime (no zone) is refused: it is the bug this module exists to stop ("landed this morning" about a
lot that landed the evening before, in another zone).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

ZONE_NAMES: dict[str, dict[str, str]] = {
    "Asia/Seoul": {
        "ko": "한국 표준시",
        "en": "Korea Standard Time",
        "zh-Hans": "韩国标准时间",
        "zh-Hant": "韓國標準時間",
    },
    "Asia/Shanghai": {"en": "China Standard Time", "zh-Hans": "北京时间", "zh-Hant": "北京時間", "ko": "중국 표준시"},
    "Asia/Hong_Kong": {"en": "Hong Kong Time", "zh-Hans": "香港时间", "zh-Hant": "香港時間", "ko": "홍콩 시간"},
    "Asia/Macau": {"en": "Macau Time", "zh-Hans": "澳门时间", "zh-Hant": "澳門時間", "ko": "마카오 시간"},
    "America/New_York": {
        "en": "Eastern Time",
        "ko": "미국 동부 시간",
        "zh-Hans": "美国东部时间",
        "zh-Hant": "美國東部時間",
    },
    "UTC": {"en": "Coordinated Universal Time", "ko": "협정 세계시", "zh-Hans": "协调世界时", "zh-Hant": "協調世界時"},
}
"""The zones Consortia's places use, named in each page language."""

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def to_datetime(moment: datetime | int) -> datetime:
    """An aware UTC datetime from an aware datetime or epoch milliseconds; a naive datetime is refused."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"expected a time with its zone, found naive {moment.isoformat()}")
        return moment.astimezone(UTC)
    if isinstance(moment, bool) or not isinstance(moment, int):
        raise TypeError(f"expected a datetime or epoch milliseconds, found {type(moment).__name__}")
    return datetime.fromtimestamp(moment / 1000, UTC)


def abbreviation(local: datetime) -> str:
    """The zone's short name at that instant (``KST``, ``HKT``, ``EST``/``EDT``); ``UTC+8`` where it is ambiguous."""
    name = local.tzname() or ""
    offset = local.utcoffset() or timedelta(0)
    # tzdata calls Shanghai and Macau "CST", which readers take for US Central; an offset cannot be misread.
    if (name == "CST" and offset > timedelta(0)) or not name or name[0] in "+-":
        hours, rest = divmod(int(offset.total_seconds()), 3600)
        minutes = abs(rest) // 60
        sign = "+" if offset >= timedelta(0) else "-"
        return f"UTC{sign}{abs(hours)}" + (f":{minutes:02d}" if minutes else "")
    return name


def _date_text(day: date, lang: str) -> str:
    if lang == "ko":
        return f"{day.year}년 {day.month}월 {day.day}일"
    if lang.startswith("zh") or lang == "ja":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def format_datetime(moment: datetime | int, zone: str, lang: str, *, seconds: bool = False) -> str:
    """``5 Dec 2026, 09:14 KST`` / ``2026년 12월 5일 09:14 KST`` / ``2026年12月5日 09:14 UTC+8``."""
    local = to_datetime(moment).astimezone(ZoneInfo(zone))
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    separator = ", " if lang.startswith("en") else " "
    return f"{_date_text(local.date(), lang)}{separator}{clock} {abbreviation(local)}"


def format_time(moment: datetime | int, zone: str, *, seconds: bool = False) -> str:
    """The clock time alone with the zone: ``09:14 KST``."""
    local = to_datetime(moment).astimezone(ZoneInfo(zone))
    return f"{local.strftime('%H:%M:%S' if seconds else '%H:%M')} {abbreviation(local)}"


def format_date(moment: datetime | int | date, zone: str, lang: str) -> str:
    """The calendar day in the place's zone: ``5 Dec 2026`` / ``2026년 12월 5일`` / ``2026年12月5日``."""
    if isinstance(moment, date) and not isinstance(moment, datetime):
        return _date_text(moment, lang)
    return _date_text(to_datetime(moment).astimezone(ZoneInfo(zone)).date(), lang)


def local_date(moment: datetime | int, zone: str) -> date:
    """The calendar day an instant falls on in the place's zone (what "today" and "yesterday" mean there)."""
    return to_datetime(moment).astimezone(ZoneInfo(zone)).date()


_UNITS = (
    (86400 * 365, {"en": ("year", "years"), "ko": "년", "zh-Hans": "年", "zh-Hant": "年"}),
    (86400 * 30, {"en": ("month", "months"), "ko": "개월", "zh-Hans": "个月", "zh-Hant": "個月"}),
    (86400, {"en": ("day", "days"), "ko": "일", "zh-Hans": "天", "zh-Hant": "天"}),
    (3600, {"en": ("hour", "hours"), "ko": "시간", "zh-Hans": "小时", "zh-Hant": "小時"}),
    (60, {"en": ("minute", "minutes"), "ko": "분", "zh-Hans": "分钟", "zh-Hant": "分鐘"}),
)
_JUST_NOW = {"en": "just now", "ko": "방금", "zh-Hans": "刚刚", "zh-Hant": "剛剛"}
_AGO = {"ko": "{n}{unit} 전", "zh-Hans": "{n}{unit}前", "zh-Hant": "{n}{unit}前"}
_LATER = {"ko": "{n}{unit} 후", "zh-Hans": "{n}{unit}后", "zh-Hant": "{n}{unit}後"}


def relative(moment: datetime | int, now: datetime | int, lang: str) -> str:
    """How long before (or after) ``now``: ``3 hours ago``, ``3시간 전``, ``in 2 days``, ``2天后``."""
    seconds = (to_datetime(now) - to_datetime(moment)).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    language = lang if lang in _JUST_NOW else "en"
    if seconds < 60:
        return _JUST_NOW[language]
    size, names = next((size, names) for size, names in _UNITS if seconds >= size)
    count = int(seconds // size)
    if language == "en":
        singular, plural = names["en"]
        text = f"{count} {singular if count == 1 else plural}"
        return f"in {text}" if future else f"{text} ago"
    template = (_LATER if future else _AGO)[language]
    return template.format(n=count, unit=names[language])


def zone_label(zone: str, lang: str) -> str:
    """The zone named for a page footer or column header: ``Korea Standard Time (Asia/Seoul)``."""
    names = ZONE_NAMES.get(zone, {})
    name = names.get(lang) or names.get("en")
    return f"{name} ({zone})" if name else zone
