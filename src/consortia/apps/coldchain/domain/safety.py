"""A lot's safety state: the one verdict a consumer, a shop and an inspector read the same way.

Every rule the cold chain applies can speak about a lot — the temperature-abuse limits and histamine exposure of
scombrotoxin fish (FDA *Fish and Fishery Products Hazards and Controls*, ch. 7), the shelf life used up by its
temperature history (relative rate of spoilage), a recall, an inspection's result — and a person must not be left
to reconcile a red alarm with a green gauge. :func:`safety_state` folds them into one of four states, the
strictest winning:

* ``do_not_sell`` — recalled, declared non-conformant by an inspection, or its shelf life is used up. Nothing
  lifts it.
* ``held_for_inspection`` — a temperature alarm (time above 21.1 °C, or the cumulative limit above 4.4 °C
  exceeded) that no inspection has answered yet.
* ``use_soon`` — saleable, with less than :data:`USE_SOON_FRACTION` of its shelf life left.
* ``fresh`` — saleable, with more left.

An inspection *clears* the temperature alarms it answers: a conformant inspection (for mackerel, a histamine
test below the defect action level) made at or after the end of the exposure it judges (the last reading above
21.1 °C for the high-temperature alarm, above 4.4 °C for the cumulative limit). Exposure after the
inspection is a new alarm, held again. The state names what cleared each alarm, so a page shows the exposure
together with the inspection that cleared it, never a bare green gauge under a red alarm. That an inspection may
release a lot past the cumulative limit is the consortium's rule (the guidance asks for evaluation, e.g. histamine
testing, before release), stated here rather than cited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

USE_SOON_FRACTION = 0.3
"""Below this fraction of its shelf life left, a saleable lot is "use soon" (a consortium default)."""

HELD_ALARMS = ("high_temperature_exposure", "critical_limit_exceeded")
"""Temperature alarms that hold a lot until an inspection answers them."""
FINAL_ALARMS = ("shelf_life_exhausted",)
"""Alarms no inspection lifts."""


class State(StrEnum):
    """The four safety states, strictest last."""

    FRESH = "fresh"
    USE_SOON = "use_soon"
    HELD = "held_for_inspection"
    DO_NOT_SELL = "do_not_sell"


SEVERITY = (State.FRESH, State.USE_SOON, State.HELD, State.DO_NOT_SELL)


@dataclass(frozen=True)
class Inspection:
    """An inspection's verdict on a lot: when, conformant or not, and what it found (e.g. a histamine result)."""

    time_ms: int
    conformant: bool
    result: str | None = None


@dataclass(frozen=True)
class Finding:
    """One rule's word on the lot, and the inspection that cleared it, if one did."""

    code: str
    state: State
    cleared_by: Inspection | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        cleared = self.cleared_by
        return {
            "code": self.code,
            "state": self.state.value,
            "cleared_by": None
            if cleared is None
            else {"time_ms": cleared.time_ms, "conformant": cleared.conformant, "result": cleared.result},
        }


@dataclass(frozen=True)
class Safety:
    """The lot's state and every finding behind it."""

    state: State
    findings: tuple[Finding, ...]

    @property
    def saleable(self) -> bool:
        """Whether the lot may be sold."""
        return self.state in (State.FRESH, State.USE_SOON)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the API's ``safety``)."""
        return {
            "state": self.state.value,
            "saleable": self.saleable,
            "findings": [finding.as_dict() for finding in self.findings],
        }


def safety_state(
    alarms: Sequence[str],
    remaining_fraction: float | None,
    inspections: Sequence[Inspection],
    *,
    recalled: bool,
    exposure_end_ms: Mapping[str, int | None],
) -> Safety:
    """Fold the rules' alarms, the shelf life left, inspections and a recall into one state (strictest wins)."""
    findings: list[Finding] = []
    if recalled:
        findings.append(Finding("recalled", State.DO_NOT_SELL))
    latest = max(inspections, key=lambda i: i.time_ms) if inspections else None
    if latest is not None and not latest.conformant:
        findings.append(Finding("inspection_nonconformant", State.DO_NOT_SELL))
    for code in alarms:
        if code in FINAL_ALARMS:
            findings.append(Finding(code, State.DO_NOT_SELL))
        elif code in HELD_ALARMS:
            answer = _answering(inspections, exposure_end_ms.get(code))
            findings.append(Finding(code, State.HELD if answer is None else State.FRESH, answer))
    if remaining_fraction is not None:
        findings.append(
            Finding("shelf_life", State.USE_SOON if remaining_fraction < USE_SOON_FRACTION else State.FRESH)
        )
    state = max((f.state for f in findings), key=SEVERITY.index, default=State.FRESH)
    return Safety(state, tuple(findings))


def _answering(inspections: Sequence[Inspection], exposure_end_ms: int | None) -> Inspection | None:
    """The conformant inspection, at or after the exposure's end, that answers a temperature alarm (else None)."""
    after = [i for i in inspections if exposure_end_ms is None or i.time_ms >= exposure_end_ms]
    if not after:
        return None
    latest = max(after, key=lambda i: i.time_ms)
    return latest if latest.conformant else None
