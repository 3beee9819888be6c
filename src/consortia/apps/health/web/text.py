"""What the health pages say, and how they say it: the catalogue, names for codes, times in Gangwon's zone.

Every visible string comes from :data:`CATALOGUE` (the platform's :class:`~consortia.ui.i18n.Catalogue` over
``domain/i18n.py``), in Korean or English. The functions here turn what the ledger and the records hold into what
a person reads:

* codes by their names — a purpose (``CAREMGT`` → "care management" / "진료 관리"), a data class, a LOINC code
  (``8480-6`` → "Systolic blood pressure" / "수축기 혈압"), a blood-pressure or risk category, an alert kind;
* units for people — UCUM's ``mm[Hg]`` is the code FHIR carries; a page writes ``mmHg``;
* instants in Gangwon's zone, Asia/Seoul, with the zone named (``2026년 12월 5일 09:14 KST``) through
  :mod:`consortia.ui.timefmt` — never an ISO timestamp;
* a risk driver in words ("Diabetes: yes; without it the 10-year risk would be 21.9 percentage points lower"),
  never ``True → False``;
* an equation's warning, recognised and said again in the page's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from markupsafe import Markup

from consortia.apps.health.domain import i18n
from consortia.apps.health.domain.readings import parse_iso
from consortia.ui.i18n import Catalogue, TranslationTable, pick_language
from consortia.ui.timefmt import format_date, format_datetime

CATALOGUE = Catalogue(i18n.STRINGS, default=i18n.DEFAULT)
ZONE = "Asia/Seoul"
"""Gangwon's patients, clinics and coordinators read times in Korean time."""
UNITS = {"mm[Hg]": "mmHg", "/min": "/min", "mg/dL": "mg/dL", "mmol/L": "mmol/L", "%": "%", "mmol/mol": "mmol/mol"}
"""UCUM codes (what FHIR carries) → how a page writes the unit."""
MAX_SHOWN_ID = 40
"""An identifier longer than this is not echoed on a page (a 3,000-character id is an attack, not a patient)."""
_RANGE_WARNING = re.compile(r"^(\w+) ([-\d.]+) is outside the range the .+ was derived on \(([-\d.]+)–([-\d.]+)\)")


def language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """``ko`` or ``en`` for this request (an unsupported ``?lang=`` is ignored)."""
    return pick_language(query, cookie, accept, CATALOGUE.languages, i18n.DEFAULT)


def table(lang: str) -> TranslationTable:
    """The strings of one language (what templates call ``t``)."""
    return CATALOGUE.table(lang)


def say(lang: str, key: str, **params: object) -> str:
    """One string of ``lang`` with its parameters filled in."""
    return CATALOGUE.text(lang, key, **params)


def _named(lang: str, prefix: str, code: str, fallback: str | None = None) -> str:
    key = f"{prefix}{code}"
    strings = table(lang)
    if key in strings:
        return strings[key]
    return fallback if fallback is not None else code


def purpose(code: str, lang: str) -> str:
    """A consent purpose by its name (``CAREMGT`` → "care management")."""
    return _named(lang, "purpose_", code)


def data_class(code: str, lang: str) -> str:
    """A data class by its name (``blood-pressure`` → "blood pressure" / "혈압")."""
    return _named(lang, "class_", code)


def loinc(code: str, lang: str) -> str:
    """A LOINC code by its name in the page's language."""
    return _named(lang, "loinc_", code, table(lang)["loinc_other"])


def bp_category(code: str, lang: str) -> str:
    """A blood-pressure category (ACC/AHA 2017 or KSH 2018) by its name."""
    return _named(lang, "bp_", code)


def risk_category(code: str, lang: str) -> str:
    """A 10-year risk category (low, borderline, intermediate, high) by its name."""
    return _named(lang, "risk_", code)


def alert_kind(code: str, lang: str) -> str:
    """An alert's kind by its name ("new alert" when the viewer may not see the kind)."""
    return _named(lang, "alert_", code, table(lang)["alert_new"]) if code else table(lang)["alert_new"]


def org(name: str, lang: str) -> str:
    """An organisation of the programme by its name (others as they are called on the network)."""
    return _named(lang, "org_", name, name)


def who(account: str, lang: str) -> Markup:
    """An account (``Org/user``) for people: the organisation by name, its service as "the service of …", a
    person's user name marked ``translate="no"`` (a name, not a word of the page's language)."""
    org_name, _, user = account.partition("/")
    if not user:
        return Markup.escape(org(org_name, lang))
    if user == "client":
        return Markup.escape(say(lang, "service_of", org=org(org_name, lang)))
    name = Markup('<span translate="no">{}</span>').format(user)
    return Markup(say(lang, "person_of", user="\x00", org=str(Markup.escape(org(org_name, lang))))).replace(
        "\x00", name
    )


def unit(code: str) -> str:
    """A UCUM unit as a page writes it (``mm[Hg]`` → ``mmHg``)."""
    return UNITS.get(code, code.replace("[", "").replace("]", ""))


def when(moment: datetime | str | int | None, lang: str, *, seconds: bool = False) -> str:
    """An instant in Korean time with the zone named (an ISO string is parsed first); "" for none."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = parse_iso(moment)
    return format_datetime(moment, ZONE, lang, seconds=seconds)


def day(moment: datetime | str | None, lang: str) -> str:
    """The calendar day of an instant (or an ISO date) in Korean time."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = parse_iso(moment if "T" in moment else f"{moment}T00:00:00+09:00")
    return format_date(moment, ZONE, lang)


def shown_id(value: str) -> str | None:
    """An identifier short enough to echo on a page, else None (the page then says "that identifier")."""
    return value if len(value) <= MAX_SHOWN_ID and value.isprintable() else None


def number(value: float) -> str:
    """A number without a useless ``.0``."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def driver(entry: Mapping[str, Any], lang: str) -> str:
    """One risk driver in words: what the factor is, and how much lower the risk would be at its optimum."""
    factor = table(lang).get(f"factor_{entry['factor']}", entry["factor"])
    points = f"{100 * float(entry['contribution']):.1f}"
    if isinstance(entry["value"], bool):
        return say(lang, "driver_flag", factor=factor, points=points)
    return say(lang, "driver_value", factor=factor, value=number(entry["value"]), optimal=number(entry["optimal"]),
               points=points)  # fmt: skip


def warning(text: str, lang: str) -> str:
    """An equation's warning said in the page's language (a race without its own equation, a value out of range)."""
    if text.startswith("race 'other'"):
        return say(lang, "warn_race")
    match = _RANGE_WARNING.match(text)
    if match:
        name, value, low, high = match.groups()
        factor = table(lang).get(f"factor_{name}", table(lang)["warn_other"])
        return say(lang, "warn_range", factor=factor, value=value, low=low, high=high)
    return say(lang, "warn_other")


_REASONS = (
    ("permitted by consent", "reason_consent"),
    ("the patient's own data", "reason_own"),
    ("the custodian", "reason_custodian"),
    ("records posted by", "reason_posted"),
    ("alert ", "reason_alert"),
    ("erasure", "reason_erasure"),
    ("no active consent", "reason_no_consent"),
    ("denied by consent", "reason_denied"),
    ("purpose ", "reason_role"),
)


def reason(text: str, lang: str) -> str:
    """Why the contract permitted or refused a read (its English reason, recognised), in the page's language."""
    if "was erased" in text:
        return say(lang, "reason_erased")
    for start, key in _REASONS:
        if text.startswith(start):
            return say(lang, key)
    return say(lang, "reason_other")


_HYPER_VALUE = re.compile(r"^≥ (\d+) readings > 250 mg/dL in 24 h$")


def alert_value(value: str, lang: str) -> str:
    """An alert's value for people: ``mmHg`` for the unit, the persistent-hyperglycaemia count in words."""
    match = _HYPER_VALUE.match(value)
    if match:
        return say(lang, "alert_hyper_value", count=match.group(1))
    return value.replace("mm[Hg]", "mmHg").replace("mm Hg", "mmHg")
