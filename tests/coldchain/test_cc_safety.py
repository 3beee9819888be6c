"""Every combination of rules and inspection results a lot can meet folds into the state a person expects.

The expectation is written as a decision table in the order a food inspector reasons — anything final first,
then an unanswered temperature alarm, then the shelf life — independently of ``safety_state``'s fold over
severities, and the two must agree on every combination.
"""

from __future__ import annotations

import itertools

import pytest

from consortia.apps.coldchain.domain.safety import USE_SOON_FRACTION, Inspection, State, safety_state

EXPOSURE_END = 1_000_000
ENDS = {"high_temperature_exposure": EXPOSURE_END, "critical_limit_exceeded": EXPOSURE_END}
BEFORE = Inspection(EXPOSURE_END - 1, True, "histamine 12 ppm")
AFTER_OK = Inspection(EXPOSURE_END + 1, True, "histamine 12 ppm; released")
AFTER_BAD = Inspection(EXPOSURE_END + 1, False, "histamine 80 ppm")
INSPECTIONS = {
    "none": (),
    "conformant before the exposure ended": (BEFORE,),
    "conformant after": (AFTER_OK,),
    "non-conformant after": (AFTER_BAD,),
    "conformant, then non-conformant": (BEFORE, AFTER_BAD),
}
ALARMS = ("high_temperature_exposure", "critical_limit_exceeded", "shelf_life_exhausted")
FRACTIONS = {"plenty": 0.8, "little": USE_SOON_FRACTION / 2, "unknown": None}


def expected(
    alarms: tuple[str, ...], fraction: float | None, inspections: tuple[Inspection, ...], recalled: bool
) -> State:
    latest = max(inspections, key=lambda i: i.time_ms) if inspections else None
    if recalled or "shelf_life_exhausted" in alarms or (latest is not None and not latest.conformant):
        return State.DO_NOT_SELL
    temperature = {"high_temperature_exposure", "critical_limit_exceeded"} & set(alarms)
    answered = latest is not None and latest.conformant and latest.time_ms >= EXPOSURE_END
    if temperature and not answered:
        return State.HELD
    if fraction is not None and fraction < USE_SOON_FRACTION:
        return State.USE_SOON
    return State.FRESH


CASES = [
    (alarms, fraction_name, inspection_name, recalled)
    for size in range(len(ALARMS) + 1)
    for alarms in itertools.combinations(ALARMS, size)
    for fraction_name in FRACTIONS
    for inspection_name in INSPECTIONS
    for recalled in (False, True)
]


@pytest.mark.parametrize(("alarms", "fraction_name", "inspection_name", "recalled"), CASES)
def test_every_combination(alarms: tuple[str, ...], fraction_name: str, inspection_name: str, recalled: bool) -> None:
    fraction, inspections = FRACTIONS[fraction_name], INSPECTIONS[inspection_name]
    safety = safety_state(alarms, fraction, inspections, recalled=recalled, exposure_end_ms=ENDS)
    assert safety.state == expected(alarms, fraction, inspections, recalled)
    assert safety.saleable == (safety.state in (State.FRESH, State.USE_SOON))
    # A cleared alarm is shown with the inspection that cleared it; an uncleared one holds or stops the lot.
    for finding in safety.findings:
        if finding.code in ("high_temperature_exposure", "critical_limit_exceeded"):
            assert (finding.cleared_by is not None) == (finding.state == State.FRESH)
            if finding.cleared_by is not None:
                assert finding.cleared_by.conformant and finding.cleared_by.time_ms >= EXPOSURE_END
    assert len(CASES) == 8 * 3 * 5 * 2


def test_the_demo_excursion_reads_as_cleared_by_its_histamine_test() -> None:
    """Exposure above 21.1 °C answered by a conformant histamine test: saleable, and the page can say why."""
    safety = safety_state(["high_temperature_exposure"], 0.6, [AFTER_OK], recalled=False, exposure_end_ms=ENDS)
    assert safety.state == State.FRESH and safety.saleable
    [exposure] = [f for f in safety.as_dict()["findings"] if f["code"] == "high_temperature_exposure"]
    assert exposure["cleared_by"]["result"] == "histamine 12 ppm; released"
    held = safety_state(["high_temperature_exposure"], 0.6, [], recalled=False, exposure_end_ms=ENDS)
    assert held.state == State.HELD and not held.saleable
