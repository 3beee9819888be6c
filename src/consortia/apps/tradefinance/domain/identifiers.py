"""Who trades: the legal identifiers of enterprises in the Mainland, Hong Kong and Macau.

Three registries, three shapes, one :class:`TraderId` (``kind`` and canonical ``value``):

* **USCC** — the Mainland's *unified social credit code* (统一社会信用代码, GB 32100-2015), 18 characters from
  ``0-9`` and ``ABCDEFGHJKLMNPQRTUWXY`` (no I, O, Z, S, V)::

      9 1 440300 MA5F1XXXX X  K
      │ │ │      │         │  └ check character of the whole code (mod 31)        — python-stdnum cn.uscc
      │ │ │      │         └── check character of the organisation code (mod 11) — GB 11714
      │ │ │      └──────────── organisation code body (8 characters)
      │ │ └─────────────────── administrative division (440300 = Shenzhen)
      │ └───────────────────── entity type (1 = enterprise)
      └─────────────────────── registering authority (9 = market regulation)

  Both check characters are verified: ``stdnum.cn.uscc`` checks the last one; the organisation code's own
  check character (weights 3 7 9 10 5 8 4 2, ``11 − sum mod 11``, 10 → ``X``, 11 → ``0``) is checked here,
  because a code retyped with two transposed characters in the organisation code can still pass the mod-31 sum
  only by chance, and both sums passing by chance is far less likely. Every published code tried (python-stdnum's
  test list, including the ``MA…`` codes issued since 2015) satisfies both.
* **HKBR** — a Hong Kong *business registration number*: 8 digits (``stdnum`` 2.2 has no ``hk.brn`` module and
  the number carries no public check digit). The full number printed on a certificate adds a branch number and
  the certificate's own suffix: ``12345678-000-01-23-4`` (branch ``000``, expiry month ``01``, year ``23``, check
  ``4``). The *trader* is the business, so the value is the 8 digits and the suffix is accepted and dropped —
  branches of one business and successive certificates are one trader.
* **MOCR** — a Macau *commercial registration* (registo comercial) number of the Commercial and Movable Property
  Registry, written ``12345 (SO)`` (SO: *sociedade*, a company) and also ``12345(SO)``, ``SO 12345``,
  ``12345 SO``, with or without leading zeros. Canonical: at least five digits, zero-padded, then `` (SO)``:
  ``0345 (SO)`` ≡ ``SO 345`` → ``00345 (SO)``.

:func:`parse_trader_id` reads any of them from free text: NFKC first (full-width digits and letters, the
ideographic space), stray spaces and hyphens ignored, case ignored; the shape decides the kind. An explicit
prefix ``USCC``, ``HKBR``/``BR`` or ``MOCR`` (with a colon or a space) may name the kind when a form wants to be
unambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from stdnum.cn import uscc as _uscc
from stdnum.exceptions import ValidationError

from .normalise import InvalidField, nfkc

__all__ = ["InvalidIdentifier", "TraderId", "organisation_check_char", "parse_trader_id"]

TraderKind = Literal["USCC", "HKBR", "MOCR"]


class InvalidIdentifier(InvalidField):
    """A trader identifier that is none of the three registries' valid numbers (a :class:`ValueError`)."""

    def __init__(self, expected: str, found: str, *, field: str = "trader_id") -> None:
        super().__init__(field, expected, found)


@dataclass(frozen=True)
class TraderId:
    """An enterprise's legal identifier: the registry (``kind``) and the canonical number (``value``)."""

    kind: TraderKind
    value: str

    def __str__(self) -> str:
        return self.value

    @property
    def key(self) -> str:
        """``kind:value``, the spelling fingerprints hash (two registries may share a digit string)."""
        return f"{self.kind}:{self.value}"


_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_USCC_SHAPE = re.compile(r"[0-9A-Z]{18}")
_HKBR_SHAPE = re.compile(r"(?P<br>\d{8})(?:-(?P<branch>\d{3})(?:-\d{2}-\d{2}-[0-9A-Z])?)?")
_MOCR_SHAPE = re.compile(r"\(?SO\)?(?P<a>\d{1,6})|(?P<b>\d{1,6})\(?SO\)?")
_PREFIX = re.compile(r"(?P<kind>USCC|HKBR|BR|MOCR)(?:\s*:\s*|\s+|(?=\d))", re.IGNORECASE)

_EXPECTED_USCC = "an 18-character unified social credit code with valid check characters"
_EXPECTED_HKBR = "an 8-digit Hong Kong business registration number (optionally with -branch-MM-YY-check)"
_EXPECTED_MOCR = "a Macau commercial registration number such as 12345 (SO)"
_EXPECTED_ANY = f"{_EXPECTED_USCC}, {_EXPECTED_HKBR}, or {_EXPECTED_MOCR}"


def organisation_check_char(body: str) -> str:
    """The GB 11714 check character of an 8-character organisation code body (digits, letters A=10 … Z=35)."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _parse_uscc(compact: str, text: str, field: str) -> TraderId:
    try:
        value = _uscc.validate(compact)
    except ValidationError as exc:
        raise InvalidIdentifier(f"{_EXPECTED_USCC} ({exc.message})", text, field=field) from None
    if organisation_check_char(value[8:16]) != value[16]:
        raise InvalidIdentifier(
            f"{_EXPECTED_USCC} (the organisation code's check character is wrong)", text, field=field
        )
    return TraderId("USCC", value)


def _parse_hkbr(compact: str, text: str, field: str) -> TraderId:
    match = _HKBR_SHAPE.fullmatch(compact)
    if match is None:
        raise InvalidIdentifier(_EXPECTED_HKBR, text, field=field)
    return TraderId("HKBR", match["br"])


def _parse_mocr(compact: str, text: str, field: str) -> TraderId:
    match = _MOCR_SHAPE.fullmatch(compact)
    if match is None:
        raise InvalidIdentifier(_EXPECTED_MOCR, text, field=field)
    number = int(match["a"] or match["b"])
    if number == 0:
        raise InvalidIdentifier(_EXPECTED_MOCR + " (not zero)", text, field=field)
    return TraderId("MOCR", f"{number:05d} (SO)")


def parse_trader_id(text: str, *, field: str = "trader_id") -> TraderId:
    """A validated :class:`TraderId` from a USCC, a Hong Kong BR number or a Macau ``NNNNN (SO)`` number."""
    return _parse(text, field)


# A batch names the same few traders over and over; the answer is immutable, and failures are not cached.
@lru_cache(maxsize=4096)
def _parse(text: str, field: str) -> TraderId:
    cleaned = nfkc(text).strip()
    kind = None
    prefix = _PREFIX.match(cleaned)
    if prefix is not None:
        kind = {"BR": "HKBR"}.get(prefix["kind"].upper(), prefix["kind"].upper())
        cleaned = cleaned[prefix.end() :]
    # Spaces never matter in these numbers; hyphens only in the HK BR suffix, which keeps them.
    compact = re.sub(r"\s+", "", cleaned).upper()
    if kind is None:
        flat = compact.replace("-", "")
        if "SO" in compact:  # S and O are not in the USCC alphabet: only Macau numbers say SO
            kind = "MOCR"
        elif _HKBR_SHAPE.fullmatch(compact):
            kind = "HKBR"
        elif len(flat) >= 15 and flat.isalnum():
            kind = "USCC"
        else:
            raise InvalidIdentifier(_EXPECTED_ANY, text, field=field)
    if kind == "USCC":
        return _parse_uscc(compact.replace("-", ""), text, field)
    if kind == "MOCR":
        return _parse_mocr(compact if "SO" in compact else compact + "SO", text, field)
    return _parse_hkbr(compact, text, field)
