"""Per-species settings of the freshness and safety rules: hazards, critical limits, shelf life at 0 °C.

Two things differ between fish. *Safety*: scombrotoxin-forming species (mackerels, tunas, bluefish, mahi-mahi…)
build histamine when left warm, which cooking does not destroy, so FDA's seafood HACCP guidance sets limits on
how long they may be exposed above 4.4 °C (40 °F); monkfish is not on that list. *Quality*: how many days a fish
keeps in melting ice (0 °C) before it is spoiled, which the relative-rate-of-spoilage model scales to other
temperatures.

Critical limits (FDA, *Fish and Fishery Products Hazards and Controls Guidance*, Fourth Edition, April 2011,
chapter 7 "Scombrotoxin (Histamine) Formation", control strategy example "Processing" — the critical limits for
unrefrigerated processing of scombrotoxin-forming fish that have not been previously frozen):

* not exposed to ambient temperatures above 40 °F (4.4 °C) for more than **12 hours**, cumulatively, if any
  portion of that time is at temperatures above 70 °F (21.1 °C); or
* not exposed above 40 °F (4.4 °C) for more than **24 hours**, cumulatively, as long as no portion of that time
  is above 70 °F (21.1 °C).

Shelf life in ice (0 °C): consortium defaults of 10 days for chub mackerel (*Scomber japonicus*, a fatty
pelagic fish) and 14 days for monkfish (*Lophius* spp., a lean demersal fish), to be replaced by the consortium's
own sensory trials; Huss (1995), *Quality and quality changes in fresh fish*, FAO Fisheries Technical Paper 348,
chapter 6, describes shelf life in ice and the relative rate of spoilage model the rules use. Every value is
configurable (:func:`load` with a JSON file).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from consortia.ledger.encoding import parse_json

FDA_CHAPTER_7 = (
    "FDA Fish and Fishery Products Hazards and Controls Guidance, 4th ed. (2011), ch. 7 Scombrotoxin (Histamine) "
    "Formation, processing critical limits (fish not previously frozen)"
)


class SpeciesError(ValueError):
    """Unknown species or unusable settings; the message says which."""


@dataclass(frozen=True)
class Limits:
    """Cumulative exposure limits above 4.4 °C, and the stricter one once any exposure exceeded 21.1 °C."""

    abuse_celsius: float = 4.4
    high_celsius: float = 21.1
    max_hours_above_abuse: float = 24.0
    max_hours_above_abuse_if_high: float = 12.0
    citation: str = FDA_CHAPTER_7


@dataclass(frozen=True)
class Species:
    """The rule settings of one species."""

    name: str
    scientific_name: str
    names: dict[str, str] = field(default_factory=dict)
    scombrotoxin: bool = False
    limits: Limits | None = None
    shelf_life_days_at_0c: float = 10.0
    shelf_life_source: str = ""
    t_min_celsius: float = -10.0

    def label(self, language: str) -> str:
        """The species' name in a language ("en", "ko"), falling back to English."""
        return self.names.get(language) or self.names.get("en") or self.name


DEFAULTS: dict[str, Species] = {
    "mackerel": Species(
        name="mackerel",
        scientific_name="Scomber japonicus",
        names={"en": "Chub mackerel", "ko": "고등어"},
        scombrotoxin=True,
        limits=Limits(),
        shelf_life_days_at_0c=10.0,
        shelf_life_source="consortium default for fatty pelagic fish in ice (see Huss 1995, FAO FTP 348, ch. 6)",
    ),
    "monkfish": Species(
        name="monkfish",
        scientific_name="Lophius litulon",
        names={"en": "Monkfish (yellow goosefish)", "ko": "아귀"},
        scombrotoxin=False,
        limits=None,
        shelf_life_days_at_0c=14.0,
        shelf_life_source="consortium default for lean demersal fish in ice (see Huss 1995, FAO FTP 348, ch. 6)",
    ),
}


@dataclass(frozen=True)
class SpeciesTable:
    """Species by name (defaults plus configured ones)."""

    species: dict[str, Species]

    def get(self, name: str) -> Species:
        """A species by name (case-insensitive) or scientific name."""
        key = name.strip().lower()
        for species in self.species.values():
            if key in (species.name.lower(), species.scientific_name.lower()):
                return species
        raise SpeciesError(f"unknown species {name!r}; known: {', '.join(sorted(self.species))}")

    def by_scientific_name(self, scientific_name: str | None) -> Species | None:
        """The species with this scientific name, if configured."""
        if not scientific_name:
            return None
        for species in self.species.values():
            if species.scientific_name.lower() == scientific_name.strip().lower():
                return species
        return None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise SpeciesError(f"{where} must be a number")
    return float(value)


def _species(name: str, value: Any, base: Species | None) -> Species:
    if not isinstance(value, dict):
        raise SpeciesError(f"species {name!r} must be a JSON object")
    known = {"scientific_name", "names", "scombrotoxin", "limits", "shelf_life_days_at_0c", "shelf_life_source"}
    unknown = set(value) - known
    if unknown:
        raise SpeciesError(f"species {name!r}: unknown setting(s) {sorted(unknown)}")
    species = base or Species(name=name, scientific_name=str(value.get("scientific_name", name)))
    changes: dict[str, Any] = {}
    if "scientific_name" in value:
        changes["scientific_name"] = str(value["scientific_name"])
    if "names" in value:
        if not isinstance(value["names"], dict):
            raise SpeciesError(f"species {name!r}: names must map language codes to names")
        changes["names"] = {str(k): str(v) for k, v in value["names"].items()}
    if "scombrotoxin" in value:
        changes["scombrotoxin"] = bool(value["scombrotoxin"])
    if "shelf_life_days_at_0c" in value:
        days = _number(value["shelf_life_days_at_0c"], f"{name}.shelf_life_days_at_0c")
        if days <= 0:
            raise SpeciesError(f"{name}.shelf_life_days_at_0c must be positive")
        changes["shelf_life_days_at_0c"] = days
    if "shelf_life_source" in value:
        changes["shelf_life_source"] = str(value["shelf_life_source"])
    if "limits" in value:
        limits = value["limits"]
        if limits is None:
            changes["limits"] = None
        elif isinstance(limits, dict):
            current = species.limits or Limits()
            numbers = {k: _number(v, f"{name}.limits.{k}") for k, v in limits.items() if k != "citation"}
            unknown_limits = set(numbers) - {
                "abuse_celsius",
                "high_celsius",
                "max_hours_above_abuse",
                "max_hours_above_abuse_if_high",
            }
            if unknown_limits:
                raise SpeciesError(f"{name}.limits: unknown setting(s) {sorted(unknown_limits)}")
            changes["limits"] = replace(current, **numbers, citation=str(limits.get("citation", current.citation)))
        else:
            raise SpeciesError(f"{name}.limits must be an object or null")
    elif changes.get("scombrotoxin") and species.limits is None:
        changes["limits"] = Limits()
    return replace(species, **changes)


def load(path: Path | None = None) -> SpeciesTable:
    """The default species, overridden or extended by a JSON file ``{"name": {settings…}}``."""
    table = dict(DEFAULTS)
    if path is None:
        return SpeciesTable(table)
    try:
        data = parse_json(Path(path).read_bytes())
    except OSError as exc:
        raise SpeciesError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SpeciesError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SpeciesError(f"{path} must hold a JSON object of species")
    for name, value in data.items():
        table[name.lower()] = _species(name.lower(), value, table.get(name.lower()))
    return SpeciesTable(table)
