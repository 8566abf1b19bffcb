"""Documents for the participant to keep, in Swedish: the consent receipt, the log extract and the GDPR art. 15
extract (registerutdrag) as PDF.

The read door (adapters/read_service.py) decides what goes in and logs the read; this module only lays out what it
was given. PDFs are drawn by reportlab with the Bitstream Vera fonts that reportlab itself ships (they have å, ä, ö,
§ and the dashes), so nothing depends on fonts installed on the machine (docs/receipts.md).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
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
    DECISION_STATUS,
    GENDERS,
    INTERVENTION_KINDS,
    LOG_KINDS,
    LOG_OUTCOMES,
    MEETING_KINDS,
    MEETING_STATUS,
    NOTHING,
    OCCUPATION,
    OUTCOMES,
    PURPOSES,
    ROLES,
    SUPPORT,
    category,
    day,
    moment,
    word,
)
from coordination import catalogue

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
        author=_NAMES.get().get("SF", PARTY_NAMES["SF"]),
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


# The parties' names of the document being drawn: this installation's (`party_names` in what the read door gave),
# set for the length of one document by `_named`.
_NAMES: ContextVar[Mapping[str, str]] = ContextVar("party_names", default=PARTY_NAMES)


def _party(code: str | None) -> str:
    return NOTHING if code is None else _NAMES.get().get(code, code)


def _named(draw: Callable[[dict[str, Any]], bytes]) -> Callable[[dict[str, Any]], bytes]:
    """Draws a document with the party names its body carries (the installation's), else the generic ones."""

    def drawn(body: dict[str, Any]) -> bytes:
        token = _NAMES.set(body.get("party_names") or PARTY_NAMES)
        try:
            return draw(body)
        finally:
            _NAMES.reset(token)

    drawn.__doc__ = draw.__doc__
    drawn.__name__ = draw.__name__
    return drawn


# -- the consent receipt ----------------------------------------------------------------------------------------


@_named
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


@_named
def extract_pdf(extract: dict[str, Any]) -> bytes:
    """The participant's log extract (ReadService.extract_document's answer) as a PDF in Swedish."""
    s = _styles()
    pagesize = landscape(A4)
    width = pagesize[0] - 36 * mm
    person = extract["participant"]
    rows: list[list[Any]] = [["Tid", "Vem", "Part", "Vad", "Uppgifter", "Samtycke", "Nödåtkomst", "Utfall"]]
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
                "ja" if e.get("emergency") else "nej",
                word(LOG_OUTCOMES, e.get("outcome")),
            ]
        )
    story: list[Any] = [
        _p("Loggutdrag: vem har läst dina uppgifter", s["title"]),
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
            "”eget” betyder att uppgiften var samordningsförbundets egen. Nödåtkomst ”ja” betyder att en handläggare "
            "öppnade uppgifterna utan samtycke i ett nödläge; sådana läsningar granskas alltid i efterhand.",
            s["body"],
        ),
        Spacer(1, 4 * mm),
        _table(
            rows,
            [w * width for w in (0.10, 0.14, 0.14, 0.16, 0.12, 0.16, 0.09, 0.09)],
            s,
        ),
    ]
    return _render(story, "Loggutdrag ur utlämnandeloggen", pagesize)


# -- the GDPR art. 15 extract -------------------------------------------------------------------------------------

# The categories of data the extract names besides the decisions' own (adapters/register_extract.py).
DATA_CATEGORIES = {
    "identity": "identitetsuppgifter (namn, personnummer eller födelsedatum)",
    "contact": "kontaktuppgifter",
    "consent": "samtycken och spärrar",
}
CONTACT_WORDS = {"phone": "Telefon", "email": "E-post", "address": "Adress"}
ATTRIBUTE_WORDS = {
    "fran": "från",
    "manader": "månader",
    "timmar_per_vecka": "timmar per vecka",
    "bradskande": "brådskande",
    "forlangning": "förlängning",
    "insatsform": "insatsform",
}
BLOCK_STATUS = {"active": "gäller", "lifted": "hävd", "pending": "kommande"}
HISTORY_EVENTS = {"recorded": "registrerat", "withdrawn": "återkallat"}


def _attributes(attributes: dict[str, Any] | None) -> str:
    """A decision's typed attributes in words: `omfattning: 50; från: 2026-11-01; beviljad: ja`."""
    shown = []
    for key, value in (attributes or {}).items():
        text = ("ja" if value else "nej") if isinstance(value, bool) else str(value).replace("_", " ")
        shown.append(f"{ATTRIBUTE_WORDS.get(key, key.replace('_', ' '))}: {text}")
    return "; ".join(shown)


def _grant_text(grants: list[dict[str, Any]]) -> str:
    # "till", not an arrow: the Vera fonts have no arrow glyph.
    return "; ".join(f"{_party(g['from_'])} till {_party(g['to'])}: {category(g['category'])}" for g in grants)


def _ref(consent_id: Any, version: Any) -> str:
    return "eget" if consent_id is None else f"{str(consent_id)[:8]} v{version}"


@_named
def register_extract_pdf(extract: dict[str, Any]) -> bytes:
    """The GDPR art. 15 extract (ReadService.register_extract's answer) as a PDF in Swedish."""
    s = _styles()
    width = A4[0] - 36 * mm
    controller = extract["controller"]
    sub = ParagraphStyle("sub", parent=s["body"], fontName=_BOLD, spaceBefore=6, spaceAfter=2)
    story: list[Any] = [
        _p("Registerutdrag enligt artikel 15 i dataskyddsförordningen", s["title"]),
        _p(
            f"Det här är en kopia av de uppgifter om dig som finns i {controller}s system Samverkan, med "
            "information om varför de behandlas, vem som har fått ta del av dem, hur länge de sparas och vilka "
            "rättigheter du har. Samordnaren har tagit fram utdraget på din begäran. Tider är svensk tid.",
            s["body"],
        ),
        Spacer(1, 3 * mm),
        _facts([("Utfärdat av", controller), ("Utfärdat", moment(extract["issued_at"]))], width, s),
    ]
    person = extract.get("person")
    story.append(_p("Dina uppgifter", s["heading"]))
    if person is None:
        story += [
            _p(extract.get("erased_statement"), s["body"]),
            _facts([("Raderade", moment(extract.get("erased_at")))], width, s),
        ]
    else:
        story += _person_part(extract, person, width, s, sub)
    story += _recipients_part(extract, width, s, sub)
    story.append(_p("Hur länge uppgifterna sparas", s["heading"]))
    story.append(_p(extract["retention"]["statement"], s["body"]))
    rules = extract["retention"].get("rules") or []
    if rules:
        story.append(
            _table(
                [["Vems uppgifter", "Hur länge"]]
                + [[_party(r["party"]) if r.get("party") else "Loggen", r.get("rule")] for r in rules],
                [width * 0.3, width * 0.7],
                s,
            )
        )
    story.append(_p("Dina rättigheter", s["heading"]))
    for right in extract["rights"]:
        story += [_p(right["title"], sub), _p(right["text"], s["body"])]
    story += [
        _p("Personuppgiftsansvariga", sub),
        _p(", ".join(c["name"] for c in extract["controllers"]), s["body"]),
        _p(extract["controllers_contact"], s["body"]),
    ]
    return _render(story, f"{controller}: registerutdrag enligt artikel 15 i dataskyddsförordningen", A4)


def _person_part(
    extract: dict[str, Any], person: dict[str, Any], width: float, s: dict[str, ParagraphStyle], sub: ParagraphStyle
) -> list[Any]:
    """Dina uppgifter (identity and why), Samtycken, Beslut från myndigheterna, Samordningen."""
    number = person.get("personnummer") or "saknas (reservidentitet)"
    facts: list[tuple[str, Any]] = [("Namn", _name(person)), ("Personnummer", number)]
    if person.get("reserve_identity"):
        facts.append(("Födelsedatum (reservidentitet)", day(person.get("birth_date"))))
    facts += [
        ("Födelseår", person.get("birth_year")),
        ("Juridiskt kön", word(GENDERS, person.get("legal_gender"))),
        ("Kommun", person.get("municipality")),
    ]
    facts += [(CONTACT_WORDS.get(k, k), v) for k, v in person.get("contact", {}).items()]
    baseline = person.get("baseline") or {}
    facts += [
        ("Vårdnadshavare", ", ".join(person.get("guardians") or []) or NOTHING),
        ("Inskriven", moment(person.get("enrolled_at"))),
        ("Försörjning vid start", word(SUPPORT, baseline.get("support_before"))),
        ("Sysselsättning vid start", word(OCCUPATION, baseline.get("occupation_before"))),
        ("Källa", _party(person.get("source"))),
    ]
    categories = [DATA_CATEGORIES.get(c) or category(c) for c in extract["categories"]]
    erased = [
        f"Uppgifterna från {_party(e['party'])} raderades {day(e['erased_at'])}"
        + (" (gallring)" if e.get("reason") == "gallring" else "")
        + " och finns inte längre här."
        for e in extract.get("erasures") or []
    ]
    story: list[Any] = [
        _facts(facts, width, s),
        *[_p(line, s["body"]) for line in erased],
        _p("Varför uppgifterna behandlas", sub),
        *[_p(f"• {purpose}", s["body"]) for purpose in extract["purposes"]],
        _p("Vilka slags uppgifter", sub),
        _p(", ".join(categories) or NOTHING, s["body"]),
        _p("Varifrån uppgifterna kommer", sub),
        _p(extract["sources"], s["body"]),
        _p("Automatiska beslut", sub),
        _p(extract["automated_decisions"], s["body"]),
        _p("Samtycken", s["heading"]),
    ]
    if not extract["consents"]:
        story.append(_p("Inga samtycken registrerade.", s["body"]))
    for c in extract["consents"]:
        form = word(CONSENT_FORMS, c["form"])
        form += f", dokument: {c['document_ref']}" if c.get("document_ref") else ""
        form += f", bevittnat av: {c['witness']}" if c.get("witness") else ""
        story += [
            _p(f"Samtycke {c['id']}, version {c['version']}", sub),
            _facts(
                [
                    ("Status", word(CONSENT_STATUS, c["status"])),
                    ("Syfte", c.get("purpose")),
                    ("Gäller", f"{day(c['valid_from'])} till och med {day(c['valid_until'])}"),
                    ("Form", form),
                    ("Vårdnadshavare", ", ".join(c.get("guardians") or []) or NOTHING),
                    ("Källa", _party(c.get("source"))),
                ],
                width,
                s,
            ),
            _table(
                [["Lämnar uppgifter", "Till", "Uppgifter", "Status"]]
                + [
                    [_party(g["from_"]), _party(g["to"]), category(g["category"]), word(CONSENT_STATUS, g["status"])]
                    for g in c["grants"]
                ],
                [width * 0.3, width * 0.3, width * 0.2, width * 0.2],
                s,
            ),
            Spacer(1, 2 * mm),
            _table(
                [["Tid", "Händelse", "Version", "Delar", "Anledning"]]
                + [
                    [
                        moment(h["at"]),
                        word(HISTORY_EVENTS, h["event"]),
                        h["version"],
                        _grant_text(h["grants"]),
                        h.get("reason"),
                    ]
                    for h in c["history"]
                ],
                [width * w for w in (0.17, 0.13, 0.09, 0.41, 0.20)],
                s,
            ),
        ]
    if extract["blocks"]:
        story += [
            _p("Spärrar", sub),
            _table(
                [["Myndighet", "Uppgifter", "Mot", "Lagd", "Hävd", "Status"]]
                + [
                    [
                        _party(b["discloser"]),
                        category(b["category"]) if b.get("category") else "alla egna uppgifter",
                        _party(b["recipient"]) if b.get("recipient") else "alla andra parter",
                        moment(b["placed_at"]),
                        moment(b.get("lifted_at")),
                        word(BLOCK_STATUS, b["status"]),
                    ]
                    for b in extract["blocks"]
                ],
                [width * w for w in (0.2, 0.17, 0.2, 0.15, 0.15, 0.13)],
                s,
            ),
        ]
    if extract.get("emergency_accesses"):
        reasons: dict[str, str] = getattr(catalogue, "EMERGENCY_REASONS", {})
        story += [
            _p("Nödåtkomst", sub),
            _p(
                "En handläggare har öppnat andra parters uppgifter om dig utan samtycke, i ett nödläge. Varje sådan "
                "läsning loggas och granskas i efterhand.",
                s["body"],
            ),
            _table(
                [["Myndighet", "Användare", "Skäl", "Anteckning", "Öppnad", "Till"]]
                + [
                    [
                        _party(a["reader"]),
                        a["user_id"],
                        reasons.get(a["reason"], a["reason"]),
                        a.get("note"),
                        moment(a["opened_at"]),
                        moment(a["until"]),
                    ]
                    for a in extract["emergency_accesses"]
                ],
                [width * w for w in (0.17, 0.14, 0.22, 0.21, 0.13, 0.13)],
                s,
            ),
        ]
    story.append(_p("Beslut från myndigheterna", s["heading"]))
    if not extract["decisions"]:
        story.append(_p("Inga beslut registrerade.", s["body"]))
    else:
        rows: list[list[Any]] = [["Källa", "Beslut", "Gäller från", "Sammanfattning", "Status", "Registrerat"]]
        for d in extract["decisions"]:
            summary = d.get("summary") or NOTHING
            if d.get("attributes"):
                summary += f" ({_attributes(d['attributes'])})"
            status = word(DECISION_STATUS, d["status"])
            if d["status"] == "retracted":
                status += f" {moment(d.get('retracted_at'))}: {d.get('retraction_reason') or NOTHING}"
            rows.append(
                [
                    _party(d["source"]),
                    f"{d['decision_type'].replace('_', ' ')} ({category(d['category'])})",
                    day(d["effective_date"]),
                    summary,
                    status,
                    f"{moment(d['recorded_at'])}, samtycke {_ref(d.get('consent_id'), d.get('consent_version'))}",
                ]
            )
        story.append(_table(rows, [width * w for w in (0.19, 0.15, 0.11, 0.28, 0.12, 0.15)], s))
    story += _coordination_part(extract, width, s, sub)
    return story


def _coordination_part(
    extract: dict[str, Any], width: float, s: dict[str, ParagraphStyle], sub: ParagraphStyle
) -> list[Any]:
    """Samordningen: the referral, every version of the plan, the insatser, the meetings, the closure."""
    story: list[Any] = [_p("Samordningen", s["heading"])]
    referral = extract.get("referral")
    story.append(_p("Remiss", sub))
    if referral is None:
        story.append(_p("Ingen remiss registrerad.", s["body"]))
    else:
        story.append(
            _facts(
                [
                    ("Remittent", _party(referral["remittent"])),
                    ("Mottagen", day(referral["received_date"])),
                    ("Behov av stöd från", ", ".join(_party(p) for p in referral["needs"]) or NOTHING),
                    ("Skäl", referral.get("reason")),
                    ("Källa", _party(referral.get("source"))),
                ],
                width,
                s,
            )
        )
    for plan in extract["plans"]:
        story += [
            _p(f"Handlingsplan, version {plan['version']} ({moment(plan['recorded_at'])})", sub),
            *[_p(f"Mål: {goal or NOTHING}", s["body"]) for goal in plan["goals"]],
        ]
        if plan["steps"]:
            story.append(
                _table(
                    [["Datum", "Part", "Steg"]]
                    + [[day(st["due"]), _party(st["agency"]), st.get("description")] for st in plan["steps"]],
                    [width * 0.15, width * 0.3, width * 0.55],
                    s,
                )
            )
    if extract["interventions"]:
        story += [
            _p("Kartläggning och insatser", sub),
            _table(
                [["Insats", "Anordnare", "Start", "Planerat slut", "Slut", "Skäl till slut"]]
                + [
                    [
                        word(INTERVENTION_KINDS, i["kind"]),
                        _party(i["provider_agency"]),
                        day(i["start_date"]),
                        day(i.get("planned_end")),
                        day(i.get("end_date")) if i.get("end_date") else "pågår",
                        i.get("end_reason"),
                    ]
                    for i in extract["interventions"]
                ],
                [width * w for w in (0.18, 0.22, 0.12, 0.13, 0.12, 0.23)],
                s,
            ),
        ]
    if extract["meetings"]:
        story += [
            _p("Möten", sub),
            _table(
                [["Datum", "Typ", "Status", "Inbjudna", "Närvarande", "Anteckning"]]
                + [
                    [
                        day(m["date"]),
                        word(MEETING_KINDS, m["kind"]),
                        word(MEETING_STATUS, m["status"]),
                        ", ".join(_party(p) for p in m["agencies_invited"]) or NOTHING,
                        ", ".join(_party(p) for p in m["agencies_present"]) or NOTHING,
                        m.get("notes"),
                    ]
                    for m in extract["meetings"]
                ],
                [width * w for w in (0.12, 0.11, 0.12, 0.17, 0.17, 0.31)],
                s,
            ),
        ]
    closure = extract.get("closure")
    if closure is not None:
        follow_up = closure.get("follow_up") or {}
        story += [
            _p("Avslut", sub),
            _facts(
                [
                    ("Avslutat", day(closure["closed_date"])),
                    ("Utfall", word(OUTCOMES, closure["outcome"])),
                    ("Försörjning efter", word(SUPPORT, follow_up.get("support_after"))),
                    ("Sysselsättning efter", word(OCCUPATION, follow_up.get("occupation_after"))),
                ],
                width,
                s,
            ),
        ]
    return story


def _recipients_part(
    extract: dict[str, Any], width: float, s: dict[str, ParagraphStyle], sub: ParagraphStyle
) -> list[Any]:
    """Mottagare: who has received what (from the log), and who may receive under the consents in force."""
    story: list[Any] = [_p("Mottagare", s["heading"]), _p(extract["recipients_statement"], s["body"])]
    received = extract["recipients"]
    if received:
        story.append(
            _table(
                [["Part", "Uppgifter", "Antal läsningar", "Första", "Senaste"]]
                + [
                    [r["name"], category(r["category"]), r["disclosures"], moment(r["first_at"]), moment(r["last_at"])]
                    for r in received
                ],
                [width * w for w in (0.32, 0.18, 0.14, 0.18, 0.18)],
                s,
            )
        )
    else:
        story.append(_p("Ingen har tagit del av uppgifter om dig.", s["body"]))
    future = extract.get("future_recipients") or []
    if future:
        story += [
            _p("Får lämnas ut framöver enligt ditt samtycke", sub),
            _table(
                [["Lämnar uppgifter", "Till", "Uppgifter", "Till och med"]]
                + [
                    [_party(g["from_"]), _party(g["to"]), category(g["category"]), day(g["valid_until"])]
                    for g in future
                ],
                [width * 0.3, width * 0.3, width * 0.2, width * 0.2],
                s,
            ),
        ]
    return story


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
