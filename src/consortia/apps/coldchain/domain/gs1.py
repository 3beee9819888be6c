"""GS1 identifiers: check digits, EPC URIs, and GS1 Digital Link URIs.

Every traded thing in the cold chain carries a GS1 key. A *GTIN* (Global Trade Item Number, 8, 12, 13 or 14
digits, the last one a mod-10 check digit) names a product — "chub mackerel, whole, 10 kg box"; a GTIN plus a
*lot number* (application identifier 10) names one batch of it, the unit FSMA 204 calls a traceability lot. An
*SSCC* names a pallet or shipping container, a *GLN* a location, a *GIAI* an individual asset such as a
temperature logger.

The same key has two spellings. EPCIS 1.x used EPC URNs, which split the key at the company prefix::

    urn:epc:id:sgtin:4012345.011111.9876        a serialised trade item (GTIN 04012345111118, serial 9876)
    urn:epc:class:lgtin:4012345.011111.L42      a lot of a GTIN
    urn:epc:id:sgln:4012345.00005.0             a location (GLN 4012345000054)

EPCIS 2.0 prefers GS1 Digital Link URIs — ordinary web addresses that a phone can open::

    https://id.gs1.org/01/04012345111118/21/9876
    https://example.com/01/04012345111118/10/L42    (any resolver domain; id.gs1.org is the canonical one)

:func:`canonical_id` turns either spelling into the *canonical* Digital Link (domain ``id.gs1.org``, numeric
application identifiers, GTINs padded to 14 digits, no query string, only the finest level of identification),
which is what the CBV 2.0 event hash and this application's indexes compare; an EPC URI that breaks the Tag Data
Standard's grammar is no key and stays as written. :func:`epc_uri` goes back from a Digital Link to the EPC URI,
given the length of the GS1 company prefix (which only GS1's prefix tables know). :class:`LotId` is a traceability
lot: GTIN (check digit verified) and lot number, with its Digital Link for the consumer QR code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

CANONICAL_DOMAIN = "https://id.gs1.org"

# Characters GS1 Digital Link requires percent-encoded in a path segment beyond what EPC URIs already escape
# (GS1 Digital Link standard, table 7-1).
_DL_ESCAPES = {"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", ":": "%3A"}

# GS1 AI 82 character set (the "CSET 82" allowed in lot numbers and serials), as it appears in an EPC URI or a
# Digital Link path segment once percent-escapes are removed.
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")


class GS1Error(ValueError):
    """An identifier that is not a valid GS1 key; the message says what is wrong."""


# -- check digits ------------------------------------------------------------------------------------------------


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of ``body`` (all digits but the check digit)."""
    if not body.isdigit() or not body.isascii():
        raise GS1Error(f"{body!r} must be digits only")
    total = 0
    for position, char in enumerate(reversed(body)):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return (10 - total % 10) % 10


def with_check_digit(body: str) -> str:
    """``body`` followed by its check digit."""
    return body + str(check_digit(body))


def gtin14(gtin: str) -> str:
    """Validate a GTIN-8/12/13/14 (check digit included) and return it padded to 14 digits."""
    if not isinstance(gtin, str) or not gtin.isascii() or not gtin.isdigit():
        raise GS1Error(f"GTIN {gtin!r} must be 8, 12, 13 or 14 digits")
    if len(gtin) not in (8, 12, 13, 14):
        raise GS1Error(f"GTIN {gtin!r} has {len(gtin)} digits; a GTIN has 8, 12, 13 or 14")
    expected = check_digit(gtin[:-1])
    if int(gtin[-1]) != expected:
        raise GS1Error(f"GTIN {gtin} has check digit {gtin[-1]}, expected {expected}")
    return gtin.zfill(14)


def is_valid_gtin(gtin: str) -> bool:
    """Whether ``gtin`` is a GTIN with a correct check digit."""
    try:
        gtin14(gtin)
    except GS1Error:
        return False
    return True


def check_lot(lot: str) -> str:
    """Validate a lot number (GS1 AI 10: 1–20 characters of the CSET 82 set) and return it."""
    if not isinstance(lot, str) or not _CSET82.match(lot):
        raise GS1Error(
            f"lot number {lot!r} must be 1 to 20 characters of GS1 character set 82 (letters, digits, -._/…)"
        )
    return lot


# -- EPC URIs to canonical Digital Link --------------------------------------------------------------------------


def _dl_escape(text: str) -> str:
    return "".join(_DL_ESCAPES.get(char, char) for char in text)


def _split(value: str, parts: int) -> list[str] | None:
    pieces = value.split(".", parts - 1)
    return pieces if len(pieces) == parts else None


def _digits(*values: str) -> bool:
    return all(v.isascii() and v.isdigit() for v in values)


# The EPC URI grammar of GS1's Tag Data Standard (TDS 2.x, section 6 and its EBNF): a component of the GS1 AI
# character set 82 where characters reserved in URIs are percent-escaped, and CPI's narrower set (digits, capital
# letters, "-", and "#" and "/" escaped). An EPC URI outside this grammar is no GS1 key: it stays as written.
_CHAR = r"(?:%(?:2[125-9A-Fa-f]|3[0-9A-Fa-f]|4[1-9A-Fa-f]|5[0-9AaFf]|6[1-9A-Fa-f]|7[0-9Aa])|[!'()*+,\-.:;=A-Za-z0-9_])"
_CPI_CHAR = r"(?:%(?:2[3dfDF]|3[0-9]|4[1-9A-Fa-f]|5[0-9Aa])|[0-9A-Z\-])"
_PREFIXED = r"(\d{6,12})\.(\d*)"  # GS1 company prefix . the key's reference (their total length is fixed)


@dataclass(frozen=True)
class _Scheme:
    """The EPC URI body of one scheme: its pattern and the digits company prefix + reference make (0: any)."""

    pattern: re.Pattern[str]
    digits: int


def _scheme(tail: str, digits: int) -> _Scheme:
    return _Scheme(re.compile(_PREFIXED + tail), digits)


_EPC_IDS = {
    "sgtin": _scheme(rf"\.({_CHAR}{{1,20}})", 13),
    "sscc": _scheme("", 17),
    "sgln": _scheme(rf"\.({_CHAR}{{1,20}})", 12),
    "grai": _scheme(rf"\.({_CHAR}{{1,16}})", 12),
    "giai": _Scheme(re.compile(rf"(\d{{6,12}})\.()({_CHAR}{{1,24}})"), 0),
    "gsrn": _scheme("", 17),
    "gsrnp": _scheme("", 17),
    "gdti": _scheme(rf"\.({_CHAR}{{1,17}})", 12),
    "cpi": _Scheme(re.compile(rf"(\d{{6,12}})\.()({_CPI_CHAR}{{1,24}})\.(\d{{1,12}})"), 0),
    "sgcn": _scheme(r"\.(\d{1,12})", 12),
    "ginc": _Scheme(re.compile(rf"(\d{{6,12}})\.()({_CHAR}{{1,24}})"), 0),
    "gsin": _scheme("", 16),
    "itip": _scheme(rf"\.(\d{{2}})\.(\d{{2}})\.({_CHAR}{{1,20}})", 13),
    "upui": _scheme(rf"\.({_CHAR}{{1,28}})", 13),
    "pgln": _scheme("", 12),
}
_EPC_CLASSES = {"lgtin": _scheme(rf"\.({_CHAR}{{1,20}})", 13)}
_EPC_PATTERNS = {
    "sgtin": _scheme(r"\.\*", 13),
    "upui": _scheme(r"\.\*", 13),
    "itip": _scheme(r"\.(\d{2})\.(\d{2})\.\*", 13),
    # TDS writes a 12-digit company prefix with an empty type as "cp..*"; the reference generator expects
    # "cp...*" and leaves "cp..*" unconverted. We follow TDS (no published answer has such a pattern).
    "grai": _scheme(r"\.\*", 12),
    "gdti": _scheme(r"\.\*", 12),
    "sgcn": _scheme(r"\.\*", 12),
    "cpi": _Scheme(re.compile(rf"(\d{{6,12}})\.()({_CPI_CHAR}{{1,24}})\.\*"), 0),
}
# A GIAI, GINC or CPI reference fills the key up to 30 characters together with the company prefix.
_VARIABLE_LENGTH = 30


def _match(schemes: dict[str, _Scheme], scheme: str, value: str) -> tuple[str, ...] | None:
    """The parts of an EPC URI body (company prefix, reference, then the scheme's own parts), or None."""
    grammar = schemes.get(scheme)
    match = grammar.pattern.fullmatch(value) if grammar else None
    if grammar is None or match is None:
        return None
    parts = match.groups()
    company, reference = parts[0], parts[1]
    if grammar.digits and len(company) + len(reference) != grammar.digits:
        return None
    if grammar.digits == 13 and reference == "":  # a GTIN's item reference includes the indicator digit
        return None
    if not grammar.digits and len(company) + len(re.sub("%..", "_", parts[2])) > _VARIABLE_LENGTH:
        return None
    return parts


def _gtin(company: str, item: str) -> str:
    """GTIN-14 from an EPC company prefix and item reference (whose first digit is the indicator)."""
    return with_check_digit(item[0] + company + item[1:])


def _epc_id(scheme: str, value: str) -> str | None:
    """The canonical Digital Link of an ``urn:epc:id:<scheme>:<value>`` URI, or None if it breaks the grammar."""
    parts = _match(_EPC_IDS, scheme, value)
    if parts is None:
        return None
    company, reference, *rest = parts
    root = CANONICAL_DOMAIN
    if scheme == "sgtin":
        return f"{root}/01/{_gtin(company, reference)}/21/{_dl_escape(rest[0])}"
    if scheme == "upui":
        return f"{root}/01/{_gtin(company, reference)}/235/{_dl_escape(rest[0])}"
    if scheme == "itip":
        return f"{root}/8006/{_gtin(company, reference)}{rest[0]}{rest[1]}/21/{_dl_escape(rest[2])}"
    if scheme == "sscc":
        return f"{root}/00/{with_check_digit(reference[0] + company + reference[1:])}"
    if scheme == "sgln":
        gln = with_check_digit(company + reference)
        return f"{root}/414/{gln}" + ("" if rest[0] == "0" else f"/254/{_dl_escape(rest[0])}")
    if scheme == "pgln":
        return f"{root}/417/{with_check_digit(company + reference)}"
    if scheme == "grai":
        return f"{root}/8003/{with_check_digit('0' + company + reference)}{_dl_escape(rest[0])}"
    if scheme in ("gdti", "sgcn"):
        ai = "253" if scheme == "gdti" else "255"
        return f"{root}/{ai}/{with_check_digit(company + reference)}{_dl_escape(rest[0])}"
    if scheme in ("gsrn", "gsrnp", "gsin"):
        ai = {"gsrn": "8018", "gsrnp": "8017", "gsin": "402"}[scheme]
        return f"{root}/{ai}/{with_check_digit(company + reference)}"
    if scheme in ("giai", "ginc"):
        return f"{root}/{'8004' if scheme == 'giai' else '401'}/{company}{_dl_escape(rest[0])}"
    # cpi: component/part reference, then the serial as AI 8011
    return f"{root}/8010/{_dl_escape(company + rest[0])}/8011/{rest[1]}"


def _epc_class(scheme: str, value: str) -> str | None:
    """The canonical Digital Link of an ``urn:epc:class:lgtin:`` URI (a lot of a GTIN), or None."""
    parts = _match(_EPC_CLASSES, scheme, value)
    if parts is None:
        return None
    return f"{CANONICAL_DOMAIN}/01/{_gtin(parts[0], parts[1])}/10/{_dl_escape(parts[2])}"


def _epc_pattern(scheme: str, value: str) -> str | None:
    """The Digital Link of the key shared by every serial an ``urn:epc:idpat:`` URI matches, or None."""
    parts = _match(_EPC_PATTERNS, scheme, value)
    if parts is None:
        return None
    company, reference, *rest = parts
    root = CANONICAL_DOMAIN
    if scheme in ("sgtin", "upui"):
        return f"{root}/01/{_gtin(company, reference)}"
    if scheme == "itip":
        return f"{root}/8006/{_gtin(company, reference)}{rest[0]}{rest[1]}"
    if scheme == "grai":
        return f"{root}/8003/{with_check_digit('0' + company + reference)}"
    if scheme in ("gdti", "sgcn"):
        return f"{root}/{'253' if scheme == 'gdti' else '255'}/{with_check_digit(company + reference)}"
    return f"{root}/8010/{_dl_escape(company + rest[0])}"  # cpi


# Short names some Digital Links use for application identifiers (GS1 Digital Link 1.1, section 6).
_SHORT_NAMES = {
    "gtin": "01",
    "itip": "8006",
    "cpid": "8010",
    "gln": "414",
    "party": "417",
    "gsrnp": "8017",
    "gsrn": "8018",
    "gcn": "255",
    "sscc": "00",
    "gdti": "253",
    "ginc": "401",
    "gsin": "402",
    "grai": "8003",
    "giai": "8004",
    "cpv": "22",
    "lot": "10",
    "ser": "21",
}
_PRIMARY_KEYS = ("01", "8006", "8010", "414", "417", "8017", "8018", "255", "00", "253", "401", "402", "8003", "8004")
_QUALIFIERS = {"01": ("22", "10", "21", "235"), "8006": ("22", "10", "21"), "414": ("254",), "8010": ("8011",)}
_FIXED_LENGTH = {"00": 18, "414": 13, "417": 13, "8017": 18, "8018": 18, "402": 17}
# A value in a Digital Link path: characters of set 82 that need no escaping there, or percent-escapes. Any other
# character ("!", "(", "*", "+", ",", ":" written raw) means the URI is no canonical-able Digital Link, and it
# stays as written; the reference generator draws the same line (it also refuses escapes, which we accept so that
# a canonical Digital Link stays canonical).
_DL_VALUE = re.compile(r"(?:%[0-9A-Fa-f]{2}|[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A])+")
# Keys of variable length (escapes counted as one character): GS1 General Specifications, section 3.
_KEY_SHAPES = {
    "253": re.compile(r"\d{13}.{0,17}"),
    "255": re.compile(r"\d{13}\d{0,12}"),
    "8003": re.compile(r"\d{14}.{0,16}"),
    "8004": re.compile(r".{1,30}"),
    "401": re.compile(r".{1,30}"),
    "8010": re.compile(r".{1,30}"),
    "8006": re.compile(r"\d{18}"),
}


def _digital_link(uri: str) -> str | None:
    """Constrained canonical form of a GS1 Digital Link URI (any domain), or None if it is not one."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    segments = [s for s in parts.path.split("/") if s != ""]
    segments = [_SHORT_NAMES.get(s, s) for s in segments]
    start = next((i for i, s in enumerate(segments) if s in _PRIMARY_KEYS and i + 1 < len(segments)), None)
    if start is None:
        return None
    key, value = segments[start], segments[start + 1]
    rest = segments[start + 2 :]
    if len(rest) % 2:
        return None
    qualifiers = dict(zip(rest[::2], rest[1::2], strict=True))
    if key == "01":
        # Structure only: check digits are the validator's business (see gtin14), not the normaliser's.
        if not _digits(value) or len(value) not in (8, 12, 13, 14):
            return None
        value = value.zfill(14)
    elif key in _FIXED_LENGTH and (not _digits(value) or len(value) != _FIXED_LENGTH[key]):
        return None
    allowed = _QUALIFIERS.get(key, ())
    if any(q not in allowed for q in qualifiers):
        return None
    if not _DL_VALUE.fullmatch(value) or not all(_DL_VALUE.fullmatch(v) for v in qualifiers.values()):
        return None
    if key in _KEY_SHAPES and not _KEY_SHAPES[key].fullmatch(re.sub("%..", "_", value)):
        return None
    qualifiers.pop("22", None)  # consumer product variant is not part of the identity
    if "21" in qualifiers:
        qualifiers.pop("10", None)  # only the finest level of identification
    path = f"/{key}/{value}" + "".join(f"/{q}/{qualifiers[q]}" for q in allowed if q in qualifiers)
    return CANONICAL_DOMAIN + path


def canonical_id(value: str) -> str | None:
    """The canonical GS1 Digital Link of an EPC URI, EPC class/pattern URI or Digital Link; None if not a GS1 key."""
    if not isinstance(value, str):
        return None
    return _canonical(value)


@lru_cache(maxsize=1 << 16)
def _canonical(value: str) -> str | None:
    """canonical_id, memoised: the same lots, places and loggers recur in event after event."""
    if value.startswith("urn:epc:"):
        _, _, kind, rest = [*value.split(":", 3), "", ""][:4]
        scheme, _, body = rest.partition(":")
        if kind == "id":
            return _epc_id(scheme, body)
        if kind == "class":
            return _epc_class(scheme, body)
        if kind == "idpat":
            return _epc_pattern(scheme, body)
        return None
    if value.startswith(("http://", "https://")):
        return _digital_link(value)
    return None


def normalise_id(value: str) -> str:
    """``canonical_id(value)`` when it is a GS1 key, else the value unchanged."""
    return canonical_id(value) or value


# -- canonical Digital Link back to EPC URIs -----------------------------------------------------------------------

# Characters an EPC URI component may carry unescaped (TDS, section 5: the GS1 AI encodable character set 82 minus
# those reserved in URIs); every other character is percent-escaped.
_EPC_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!'()*+,-.:;=_")
_CPI_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def _epc_escape(segment: str, safe: frozenset[str] = _EPC_SAFE) -> str:
    """A Digital Link path segment as an EPC URI component (its own percent-escapes undone first)."""
    return "".join(c if c in safe else "".join(f"%{b:02X}" for b in c.encode()) for c in unquote(segment))


def epc_uri(value: str, company_prefix_length: int) -> str:
    """The EPC URI of a GS1 key given as Digital Link or EPC URI; the company prefix length splits the key.

    A Digital Link does not say where the GS1 company prefix ends (only GS1's prefix tables do), so the caller
    gives its length. Keys without a serial become the class-level forms: a GTIN with a lot an LGTIN class URI,
    a bare GTIN, ITIP, GRAI, GDTI, GCN or CPI an ``idpat`` pattern of all serials.
    """
    canonical = canonical_id(value)
    if canonical is None:
        raise GS1Error(f"{value!r} is not a GS1 key (expected a GS1 Digital Link or an EPC URI)")
    n = company_prefix_length
    if not isinstance(n, int) or not 6 <= n <= 12:
        raise GS1Error(f"a GS1 company prefix has 6 to 12 digits, got {company_prefix_length!r}")
    segments = canonical[len(CANONICAL_DOMAIN) + 1 :].split("/")
    key, body = segments[0], segments[1]
    qualifiers = dict(zip(segments[2::2], segments[3::2], strict=True))
    if key in ("01", "8006"):
        gtin = body[:14]
        if not _digits(gtin[1 : 1 + n]):
            raise GS1Error(f"GTIN {gtin} has no {n}-digit company prefix")
        company, item = gtin[1 : 1 + n], gtin[0] + gtin[1 + n : 13]
        if key == "8006":
            piece = f"{company}.{item}.{body[14:16]}.{body[16:18]}"
            serial = qualifiers.get("21")
            return f"urn:epc:id:itip:{piece}.{_epc_escape(serial)}" if serial else f"urn:epc:idpat:itip:{piece}.*"
        if "21" in qualifiers:
            return f"urn:epc:id:sgtin:{company}.{item}.{_epc_escape(qualifiers['21'])}"
        if "235" in qualifiers:
            return f"urn:epc:id:upui:{company}.{item}.{_epc_escape(qualifiers['235'])}"
        if "10" in qualifiers:
            return f"urn:epc:class:lgtin:{company}.{item}.{_epc_escape(qualifiers['10'])}"
        return f"urn:epc:idpat:sgtin:{company}.{item}.*"
    if key == "00":
        return f"urn:epc:id:sscc:{body[1 : 1 + n]}.{body[0]}{body[1 + n : 17]}"
    if key in ("414", "417"):
        if key == "417":
            return f"urn:epc:id:pgln:{body[:n]}.{body[n:12]}"
        return f"urn:epc:id:sgln:{body[:n]}.{body[n:12]}.{_epc_escape(qualifiers.get('254', '0'))}"
    if key in ("8017", "8018"):
        return f"urn:epc:id:{'gsrnp' if key == '8017' else 'gsrn'}:{body[:n]}.{body[n:17]}"
    if key == "402":
        return f"urn:epc:id:gsin:{body[:n]}.{body[n:16]}"
    if key in ("8004", "401"):
        return f"urn:epc:id:{'giai' if key == '8004' else 'ginc'}:{body[:n]}.{_epc_escape(body[n:])}"
    if key in ("8003", "253", "255"):
        start = 1 if key == "8003" else 0  # a GRAI starts with a zero that is no part of the company prefix
        scheme = {"8003": "grai", "253": "gdti", "255": "sgcn"}[key]
        head = f"{body[start : start + n]}.{body[start + n : start + 12]}"
        serial = body[start + 13 :]
        return f"urn:epc:id:{scheme}:{head}.{_epc_escape(serial)}" if serial else f"urn:epc:idpat:{scheme}:{head}.*"
    if key == "8010":
        head = f"{body[:n]}.{_epc_escape(body[n:], _CPI_SAFE)}"
        serial = qualifiers.get("8011")
        return f"urn:epc:id:cpi:{head}.{serial}" if serial else f"urn:epc:idpat:cpi:{head}.*"
    raise GS1Error(f"{canonical} has no EPC URI form")  # pragma: no cover - canonical_id yields only the keys above


# -- traceability lots -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotId:
    """A traceability lot: a GTIN (14 digits, check digit verified) and a lot number."""

    gtin: str
    lot: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "gtin", gtin14(self.gtin))
        check_lot(self.lot)

    @property
    def key(self) -> str:
        """The lot's key in the ledger's indexes: ``<gtin14>/<lot>``."""
        return f"{self.gtin}/{self.lot}"

    @property
    def canonical(self) -> str:
        """The canonical Digital Link (``https://id.gs1.org/01/<gtin>/10/<lot>``)."""
        return f"{CANONICAL_DOMAIN}/01/{self.gtin}/10/{quote(self.lot, safe='')}"

    def digital_link(self, resolver: str = CANONICAL_DOMAIN) -> str:
        """The lot's Digital Link on ``resolver`` (e.g. ``https://fish.example.kr``), as printed in its QR code."""
        return f"{resolver.rstrip('/')}/01/{self.gtin}/10/{quote(self.lot, safe='')}"

    @property
    def path(self) -> str:
        """The Digital Link path ``/01/<gtin>/10/<lot>``."""
        return f"/01/{self.gtin}/10/{quote(self.lot, safe='')}"

    @classmethod
    def from_key(cls, key: str) -> LotId:
        """Parse ``<gtin14>/<lot>``."""
        gtin, sep, lot = key.partition("/")
        if not sep:
            raise GS1Error(f"lot key {key!r} must look like <gtin>/<lot>")
        return cls(gtin, lot)

    @classmethod
    def parse(cls, text: str) -> LotId:
        """Parse a lot from a Digital Link (any resolver), an LGTIN class URI, or ``<gtin>/<lot>``."""
        if not isinstance(text, str) or not text.strip():
            raise GS1Error("a lot must be given as a Digital Link, an LGTIN URI or <gtin>/<lot>")
        text = text.strip()
        if text.startswith("urn:epc:class:lgtin:"):
            parts = _split(text[len("urn:epc:class:lgtin:") :], 3)
            if not parts or not _digits(parts[0], parts[1]) or len(parts[0]) + len(parts[1]) != 13:
                raise GS1Error(f"{text!r} is not a valid LGTIN URI (company prefix + item reference = 13 digits)")
            return cls(with_check_digit(parts[1][0] + parts[0] + parts[1][1:]), unquote(parts[2]))
        if text.startswith(("http://", "https://")):
            try:
                segments = [s for s in urlsplit(text).path.split("/") if s]
            except ValueError:
                raise GS1Error(f"{text!r} is not a valid URI") from None
            segments = [_SHORT_NAMES.get(s, s) for s in segments]
            try:
                at = segments.index("01")
            except ValueError:
                raise GS1Error(f"Digital Link {text!r} has no GTIN (/01/<gtin>)") from None
            pairs = dict(zip(segments[at::2], segments[at + 1 :: 2], strict=False))
            if "10" not in pairs:
                raise GS1Error(f"Digital Link {text!r} has no lot number (/10/<lot>)")
            return cls(pairs["01"], unquote(pairs["10"]))
        gtin, sep, lot = text.partition("/")
        if sep:
            return cls(gtin, unquote(lot))
        raise GS1Error(f"{text!r} is not a lot: give a Digital Link, an LGTIN URI or <gtin>/<lot>")

    @classmethod
    def from_id(cls, value: str) -> LotId | None:
        """The lot named by an EPC class URI or Digital Link (with /10/), or None for anything else."""
        return _lot_of(value) if isinstance(value, str) else None


def lgtin_urn(gtin: str, lot: str, company_prefix_length: int) -> str:
    """The EPC class URI of a lot, given the length of the GS1 company prefix inside the GTIN."""
    gtin = gtin14(gtin)
    if not 6 <= company_prefix_length <= 12:
        raise GS1Error("a GS1 company prefix has 6 to 12 digits")
    company = gtin[1 : 1 + company_prefix_length]
    item = gtin[0] + gtin[1 + company_prefix_length : 13]
    return f"urn:epc:class:lgtin:{company}.{item}.{check_lot(lot)}"


def sgln_urn(gln: str, company_prefix_length: int, extension: str = "0") -> str:
    """The EPC URI of a location (GLN with check digit) and an optional extension."""
    if not _digits(gln) or len(gln) != 13 or check_digit(gln[:-1]) != int(gln[-1]):
        raise GS1Error(f"GLN {gln!r} must be 13 digits with a valid check digit")
    return f"urn:epc:id:sgln:{gln[:company_prefix_length]}.{gln[company_prefix_length:12]}.{extension}"


def sscc_urn(company: str, serial_reference: str) -> str:
    """The EPC URI of an SSCC from its company prefix and serial reference (extension digit first)."""
    if not _digits(company, serial_reference) or len(company) + len(serial_reference) != 17:
        raise GS1Error("company prefix + serial reference of an SSCC must be 17 digits")
    return f"urn:epc:id:sscc:{company}.{serial_reference}"


def giai_urn(company: str, asset: str) -> str:
    """The EPC URI of an individual asset (e.g. a temperature logger)."""
    if not _digits(company) or not asset:
        raise GS1Error("a GIAI needs a numeric company prefix and an asset reference")
    return f"urn:epc:id:giai:{company}.{asset}"


@lru_cache(maxsize=1 << 16)
def _lot_of(value: str) -> LotId | None:
    canonical = canonical_id(value)
    if canonical is None or "/01/" not in canonical or "/10/" not in canonical:
        return None
    try:
        return LotId.parse(canonical)
    except GS1Error:
        return None
