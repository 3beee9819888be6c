"""The demo scenario, read from data: ``pilot.json`` says how many patients, over how many days, which scripted
events, which consents and who logs in; :mod:`.player` submits it and :mod:`.synthetic` draws the people.

Organisations are named by their part in the pilot (``custodian``, ``hospital``, ``clinic``, ``care``,
``analytics``) and resolved here to the consortium's organisations, so the file reads as the story it tells.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from consortia.apps.health.consortium import ANALYTICS, CARE, CLINIC, CUSTODIAN, HOSPITAL
from consortia.ledger.encoding import parse_json

PILOT = Path(__file__).with_name("pilot.json")
PARTS = {"custodian": CUSTODIAN, "hospital": HOSPITAL, "clinic": CLINIC, "care": CARE, "analytics": ANALYTICS}
"""The parts organisations play in the scenario, and the consortium's organisation playing each."""


class ScenarioError(ValueError):
    """The scenario file is not a scenario this player can run; the message names the field."""


@dataclass(frozen=True)
class Event:
    """One scripted reading that replaces a patient's ordinary one (``days_before_end`` 0 is the last day)."""

    patient: int
    kind: str  # "bp" (value/value2: systolic/diastolic) or "glucose" (value: mg/dL)
    days_before_end: int
    hour: int
    value: float
    value2: float | None = None


@dataclass(frozen=True)
class Grant:
    """A consent every selected patient gives: to an organisation, for purposes, over data classes (all if empty)."""

    org: str
    purposes: tuple[str, ...]
    classes: tuple[str, ...] = ()
    every: int = 1
    remainder: int = 0

    def applies_to(self, number: int) -> bool:
        return number % self.every == self.remainder % self.every


@dataclass(frozen=True)
class Scenario:
    """The whole demo, as data."""

    name: str
    patients: int
    days: int
    seed: int
    password_patients: int
    events: tuple[Event, ...]
    diabetes: frozenset[int]
    bp_treated: frozenset[int]
    grants: tuple[Grant, ...]
    train_model: bool
    analyst: tuple[str, str]
    alerts_reader: tuple[str, str]
    logins: tuple[tuple[str, str, str], ...]


def _user(text: Any, field: str) -> tuple[str, str]:
    """``part/user`` → (organisation, user)."""
    if not isinstance(text, str) or text.count("/") != 1 or text.split("/")[0] not in PARTS:
        raise ScenarioError(f"{field}: expected part/user with part among {', '.join(PARTS)}, not {text!r}")
    part, user = text.split("/")
    return PARTS[part], user


def parse(document: dict[str, Any]) -> Scenario:
    """A scenario from its JSON document (ScenarioError naming the field that is wrong)."""
    try:
        events = tuple(
            Event(
                int(e["patient"]),
                str(e["kind"]),
                int(e["days_before_end"]),
                int(e["hour"]),
                float(e["value"]),
                None if e.get("value2") is None else float(e["value2"]),
            )
            for e in document.get("events", [])
        )
        if any(e.kind not in ("bp", "glucose") or not 0 <= e.hour < 24 for e in events):
            raise ScenarioError("events: kind must be bp or glucose, hour 0–23")
        grants = []
        for g in document["consents"]:
            if g["to"] not in PARTS:
                raise ScenarioError(f"consents: to must be among {', '.join(PARTS)}, not {g['to']!r}")
            selection = g.get("patients", {})
            grants.append(
                Grant(
                    PARTS[g["to"]],
                    tuple(g["purposes"]),
                    tuple(g.get("classes", ())),
                    int(selection.get("every", 1)),
                    int(selection.get("remainder", 0)),
                )
            )
        profiles = document.get("profiles", {})
        model = document.get("model", {})
        return Scenario(
            name=str(document["name"]),
            patients=int(document["patients"]),
            days=int(document["days"]),
            seed=int(document["seed"]),
            password_patients=int(document.get("password_patients", 0)),
            events=events,
            diabetes=frozenset(int(n) for n in profiles.get("diabetes", ())),
            bp_treated=frozenset(int(n) for n in profiles.get("bp_treated", ())),
            grants=tuple(grants),
            train_model=bool(model.get("train", False)),
            analyst=_user(model.get("trained_by", "analytics/analyst"), "model.trained_by"),
            alerts_reader=_user(document["alerts_seen_by"], "alerts_seen_by"),
            logins=tuple((str(x["as"]), *_user(x["who"], "logins")) for x in document.get("logins", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(f"not a scenario: {exc!r}") from None


def load(path: Path = PILOT) -> Scenario:
    """The scenario in a JSON file (the Gangwon pilot by default)."""
    document = parse_json(path.read_bytes())
    if not isinstance(document, dict):
        raise ScenarioError(f"{path}: a scenario is a JSON object")
    return parse(document)


@cache
def pilot() -> Scenario:
    """The Gangwon pilot (``pilot.json``), read once."""
    return load()
