"""Documents for the participant to keep, in Swedish: the consent receipt and the log extract as PDF.

The read door (adapters/read_service.py) decides what goes in and logs the read; this module only lays out what it
was given. PDFs are drawn by reportlab with the Bitstream Vera fonts that reportlab itself ships (they have å, ä, ö,
§ and the dashes), so nothing depends on fonts installed on the machine (docs/receipts.md).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from adapters.read_service import PARTY_NAMES
from adapters.web.words import (
    CONSENT_FORMS,
    CONSENT_STATUS,
    LOG_KINDS,
    LOG_OUTCOMES,
    NOTHING,
    PURPOSES,
    ROLES,
    category,
    day,
    moment,
    word,
)

# The pages' words for the log's kinds, and the kind they do not know yet.
KINDS = {**LOG_KINDS, "receipt": "kvitto på samtycke"}
_FONTS = Path(reportlab.__file__).parent / "fonts"
_REGULAR, _BOLD = "SamverkanVera", "SamverkanVera-Bold"


def _register_fonts() -> None:
    if _REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_REGULAR, str(_FONTS / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont(_BOLD, str(_FONTS / "VeraBd.ttf")))


def _styles() -> dict[str, ParagraphStyle]:
    _register_fonts()
    body = ParagraphStyle("body", fontName=_REGULAR, fontSize=10, leading=13)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=_BOLD, fontSize=17, leading=21, spaceAfter=4),
        "heading": ParagraphStyle(
            "heading", parent=body, fontName=_BOLD, fontSize=12, leading=15, spaceBefore=10, spaceAfter=3
        ),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10),
        "head": ParagraphStyle("head", parent=body, fontName=_BOLD, fontSize=8, leading=10),
    }


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(NOTHING if text is None or text == "" else str(text)), style)


def _table(rows: list[list[Any]], widths: list[float], s: dict[str, ParagraphStyle]) -> Table:
    cells = [[_p(v, s["head"] if i == 0 else s["cell"]) for v in row] for i, row in enumerate(rows)]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _facts(pairs: Iterable[tuple[str, Any]], width: float, s: dict[str, ParagraphStyle]) -> Table:
    """Label and value, one pair a row."""
    rows = [[_p(label, s["head"]), _p(value, s["body"])] for label, value in pairs]
    table = Table(rows, colWidths=[45 * mm, width - 45 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return table


def _render(story: list[Any], title: str, pagesize: tuple[float, float]) -> bytes:
    out = io.BytesIO()

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(_REGULAR, 8)
        canvas.drawString(doc.leftMargin, 10 * mm, title)
        canvas.drawRightString(pagesize[0] - doc.rightMargin, 10 * mm, f"Sida {doc.page}")
        canvas.restoreState()

    document = SimpleDocTemplate(
        out,
        pagesize=pagesize,
        title=title,
        author=PARTY_NAMES["SF"],
        lang="sv-SE",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _name(person: dict[str, Any]) -> str:
    names = [person.get("given_name"), person.get("family_name")]
    return " ".join(n for n in names if n) or NOTHING


def _party(code: str | None) -> str:
    return NOTHING if code is None else PARTY_NAMES.get(code, code)


# -- the consent receipt ----------------------------------------------------------------------------------------


def receipt_pdf(receipt: dict[str, Any]) -> bytes:
    """The consent receipt (ReadService.receipt's answer) as a PDF in Swedish."""
    s = _styles()
    width = A4[0] - 36 * mm
    person = receipt["participant"]
    form = receipt["form"]
    form_text = word(CONSENT_FORMS, form["kind"])
    if form["kind"] == "written":
        form_text += f", dokument: {form.get('document_ref') or NOTHING}"
    else:
        form_text += f", bevittnat av: {form.get('witness') or NOTHING}"
    story: list[Any] = [
        _p("Kvitto på samtycke", s["title"]),
        _p(
            "Det här är ditt kvitto på det samtycke du har lämnat till att myndigheterna nedan får lämna uppgifter "
            "om dig till varandra inom samordningsförbundet. Spara kvittot. Ett nytt kvitto (en ny version) "
            "utfärdas när samtycket ändras, till exempel när du återkallar hela eller delar av det.",
            s["body"],
        ),
        Spacer(1, 4 * mm),
        _facts(
            [
                ("Kvittonummer", receipt["receipt_id"]),
                ("Samtycke", f"{receipt['consent_id']}, version {receipt['version']}"),
                ("Utfärdat", moment(receipt["issued_at"])),
                ("Status", word(CONSENT_STATUS, receipt["status"])),
            ],
            width,
            s,
        ),
        _p("Du som har lämnat samtycket", s["heading"]),
        _facts(
            [
                ("Namn", _name(person)),
                ("Personnummer", person.get("personnummer") or person.get("birth_date")),
            ],
            width,
            s,
        ),
        _p("Samtycket", s["heading"]),
        _facts(
            [
                ("Ändamål", "; ".join(p for p in receipt["purposes"] if p) or NOTHING),
                ("Uppgifter", ", ".join(category(c) for c in receipt["categories"]) or NOTHING),
                ("Gäller från", day(receipt["period"]["valid_from"])),
                ("Gäller till och med", day(receipt["period"]["valid_until"])),
                ("Lämnat", moment(receipt["recorded_at"])),
                ("Form", form_text),
                ("Vårdnadshavare", ", ".join(receipt["guardians"]) or NOTHING),
                ("Rättslig grund", receipt["legal_basis"]),
            ],
            width,
            s,
        ),
        _p("Vem får lämna vad till vem", s["heading"]),
        _table(
            [["Lämnar uppgifter", "Till", "Uppgifter", "Status"]]
            + [
                [
                    g["discloser"]["name"],
                    g["recipient"]["name"],
                    category(g["category"]),
                    word(CONSENT_STATUS, g["status"])
                    + (f" {moment(g['withdrawn_at'])}" if g["status"] == "withdrawn" else ""),
                ]
                for g in receipt["grants"]
            ],
            [width * 0.3, width * 0.3, width * 0.18, width * 0.22],
            s,
        ),
        _p("Så återkallar du samtycket", s["heading"]),
        _p(receipt["how_to_withdraw"], s["body"]),
        _p("Personuppgiftsansvariga", s["heading"]),
        _p(", ".join(p["name"] for p in receipt["parties"]), s["body"]),
        _p(receipt["controllers_contact"], s["body"]),
        Spacer(1, 6 * mm),
        _p(f"Kvittot följer {receipt['standard']} (information om samtycke).", s["small"]),
    ]
    return _render(story, f"Kvitto på samtycke, version {receipt['version']}", A4)


# -- the log extract ----------------------------------------------------------------------------------------------


def extract_pdf(extract: dict[str, Any]) -> bytes:
    """The participant's log extract (ReadService.extract_document's answer) as a PDF in Swedish."""
    s = _styles()
    pagesize = landscape(A4)
    width = pagesize[0] - 36 * mm
    person = extract["participant"]
    rows: list[list[Any]] = [["Tid", "Vem", "Part", "Vad", "Uppgifter", "Samtycke", "Utfall"]]
    for e in extract["entries"]:
        role = word(ROLES, e.get("role")) if e.get("role") else NOTHING
        rows.append(
            [
                moment(e.get("recorded_at")),
                f"{e.get('user_id') or NOTHING} ({role})",
                _party(e.get("agency")),
                f"{word(KINDS, e.get('kind'))}, ändamål: {word(PURPOSES, e.get('purpose'))}",
                ", ".join(category(c) for c in e.get("categories") or []) or NOTHING,
                _consents(e.get("disclosed") or []),
                word(LOG_OUTCOMES, e.get("outcome")),
            ]
        )
    story: list[Any] = [
        _p("Registerutdrag: vem har läst dina uppgifter", s["title"]),
        _facts(
            [
                ("Namn", _name(person)),
                ("Personnummer", person.get("personnummer") or person.get("birth_date")),
                ("Utfärdat", moment(extract["issued_at"])),
                ("Antal händelser", len(extract["entries"])),
            ],
            width,
            s,
        ),
        Spacer(1, 3 * mm),
        _p(
            "Varje gång någon läser eller försöker läsa uppgifter om dig i samordningsförbundets system skrivs det "
            "i en logg som inte kan ändras i efterhand. Här är loggens händelser om dig, äldst först. Tider är svensk "
            "tid. Samtycke anger det samtycke som uppgifterna lämnades ut med stöd av (början av samtyckets nummer "
            "på ditt kvitto, och versionen); "
            "”eget” betyder att uppgiften var samordningsförbundets egen.",
            s["body"],
        ),
        Spacer(1, 4 * mm),
        _table(
            rows,
            [w * width for w in (0.11, 0.15, 0.15, 0.17, 0.13, 0.19, 0.10)],
            s,
        ),
    ]
    return _render(story, "Registerutdrag ur utlämnandeloggen", pagesize)


def _consents(disclosed: list[dict[str, Any]]) -> str:
    """The consents an entry's items were shown under: `1a2b3c4d v2` (the first characters of the id, as on the
    receipt's Samtycke line, and the version), or `eget` for the förbund's own."""
    if not disclosed:
        return NOTHING
    seen = dict.fromkeys(
        "eget" if d.get("consent_id") is None else f"{str(d['consent_id'])[:8]} v{d.get('consent_version')}"
        for d in disclosed
    )
    return "; ".join(seen)


def filename(prefix: str, issued_at: datetime) -> str:
    """A download name without personal data: `samtyckeskvitto-2026-11-25.pdf`."""
    return f"{prefix}-{day(issued_at)}.pdf"
