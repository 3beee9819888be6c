"""QR codes of lots: a GS1 Digital Link a phone camera opens as the lot's consumer page.

The code encodes the lot's Digital Link on a resolver (``https://<resolver>/01/<gtin>/10/<lot>``); GS1 Digital
Link is ordinary HTTPS, so any camera app opens it and the resolver — here the gateway service, which serves
that path — answers with the consumer page. segno writes SVG or PNG with error correction level M (about 15 %
of the code may be dirty or torn on a wet fish box and it still reads).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import segno

from consortia.apps.coldchain.domain import gs1


def payload(lot: str, resolver: str | None = None) -> str:
    """The Digital Link to encode: on ``resolver``, else on the given URI's own host, else on id.gs1.org."""
    lot_id = gs1.LotId.parse(lot)
    if resolver is None and lot.strip().startswith(("http://", "https://")):
        parts = urlsplit(lot.strip())
        resolver = f"{parts.scheme}://{parts.netloc}"
    return lot_id.digital_link(resolver or gs1.CANONICAL_DOMAIN)


def write(lot: str, out: Path, *, resolver: str | None = None, scale: int = 8) -> str:
    """Write the QR code of a lot to ``out`` (.svg or .png); return the encoded Digital Link."""
    suffix = Path(out).suffix.lower()
    if suffix not in (".svg", ".png"):
        raise ValueError(f"{out}: the QR code file must end in .svg or .png")
    data = payload(lot, resolver)
    code = segno.make_qr(data, error="m")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    code.save(str(out), scale=scale, border=4, dark="#0b2239")
    return data


def svg(lot: str, resolver: str | None = None, scale: int = 6) -> str:
    """The QR code of a lot as SVG text."""
    import io

    buffer = io.BytesIO()
    segno.make_qr(payload(lot, resolver), error="m").save(buffer, kind="svg", scale=scale, border=4, dark="#0b2239")
    return buffer.getvalue().decode()
