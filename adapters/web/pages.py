"""The web pages, server-rendered in Swedish. Like the API routes they only translate: the session becomes a
`Caller`, a form becomes a call to the read door (`ctx.reads`), `adapters.recording` or the application service,
and the answer becomes HTML. No SQL, gate call or log append here (docs/web.md, tests/e2e/test_read_door.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Coroutine
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from adapters.access import DEFAULT_PURPOSE, Caller
from adapters.auth import Role
from adapters.cli import DEMO_USERS
from adapters.disclosure_log import LogFilter
from adapters.http.context import Context
from adapters.recording import record_decision
from adapters.web import words
from adapters.web.session import COOKIE, CSRF_FIELD, LIFETIME_S, SessionUser, WebSession, dump, load, session_key
from consent import AGENCIES, OWN_CATEGORY, SUB_CATEGORIES, Party, local_date
from coordination import AlreadyEnrolled, ConsentRequired, DomainError, InvalidCommand, NotFound, NotPermitted
from coordination.catalogue import DECISION_TYPES
from projections import statistics as figures

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(
    day=words.day,
    moment=words.moment,
    party=lambda code: words.word(words.PARTIES, code),
    category=words.category,
    sv=lambda code, table: words.word(table, code),
)
templates.env.globals.update(words=words, CSRF_FIELD=CSRF_FIELD)
# Sent with every page: most show personal data, and none of them may be framed or load anything foreign.
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
SIGN_IN_USERS = [(sub, agency, role) for sub, agency, role in DEMO_USERS if role != "admin"]  # admin: no pages yet
HOME = {"samordnare": "/arenden", "handlaggare": "/sok", "granskare": "/granskning"}


class SignInNeeded(Exception):
    """No one is signed in: the page sends the browser to Logga in."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token: refused before anything is read or written."""


class PageRefused(Exception):
    """A page or form this user may not use (a write's role guard, sign-in switched off)."""


class PageRoute(APIRoute):
    """A page: loads the session before the route, turns refusals into Swedish error pages, adds the headers and
    writes the session cookie back when it changed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            ctx: Context = request.app.state.context
            key = session_key(ctx.settings)
            session = load(request.cookies.get(COOKIE), key)
            request.state.web = session
            try:
                response = await original(request)
            except SignInNeeded:
                response = RedirectResponse("/logga-in", status_code=303)
            except CsrfRefused:
                response = error_page(
                    request,
                    403,
                    "Formuläret kunde inte skickas",
                    "Formuläret saknade en giltig säkerhetskod, så ingenting sparades. Ladda om sidan och försök "
                    "igen. Det händer om sidan legat öppen länge eller om du loggat in på nytt i en annan flik.",
                )
            except (NotPermitted, PageRefused):
                response = error_page(
                    request,
                    403,
                    "Du har inte behörighet",
                    "Din roll eller organisation får inte se eller göra det här.",
                )
            except (NotFound, RequestValidationError):
                # A malformed id is "no such page": whatever was typed in the address is not repeated.
                response = error_page(request, 404, "Sidan finns inte", "Det finns ingen sådan sida eller deltagare.")
            except DomainError:
                response = error_page(
                    request,
                    409,
                    "Det gick inte att spara",
                    "Ärendets läge tillåter inte det du försökte göra. Ladda om sidan och se vad som gäller nu.",
                )
            response.headers.update(HEADERS)
            if session.dirty and key is not None:
                response.set_cookie(
                    COOKIE,
                    dump(session, key),
                    max_age=LIFETIME_S,
                    path="/",
                    httponly=True,
                    samesite="lax",
                    secure=ctx.settings.env == "production",
                )
            return response

        return handler


router = APIRouter(route_class=PageRoute, include_in_schema=False)


# -- what every page needs --------------------------------------------------------------------------------------


def context_of(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


def web_session(request: Request) -> WebSession:
    session: WebSession = request.state.web
    return session


def signed_in(request: Request) -> SessionUser:
    user = web_session(request).user
    if user is None:
        raise SignInNeeded
    return user


def caller_of(request: Request, user: SessionUser) -> Caller:
    """The caller the read door and the recording functions need, from the session's user."""
    role = Role(user.role)
    request_id = str(getattr(request.state, "request_id", "-"))
    return Caller(user.sub, Party(user.agency), role, request_id, DEFAULT_PURPOSE[role])


def web_caller(request: Request, user: Annotated[SessionUser, Depends(signed_in)]) -> Caller:
    return caller_of(request, user)


async def checked_form(request: Request) -> FormData:
    """The POSTed form once its CSRF token is the session's; otherwise nothing is read or written."""
    form = await request.form()
    if not web_session(request).csrf_ok(form.get(CSRF_FIELD)):
        raise CsrfRefused
    return form


Ctx = Annotated[Context, Depends(context_of)]
Form = Annotated[FormData, Depends(checked_form)]
WebCaller = Annotated[Caller, Depends(web_caller)]


def require_role(caller: Caller, role: Role) -> None:
    """A write's role guard (reads leave it to the door, which logs the refusal)."""
    if caller.role != role:
        raise PageRefused


def render(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    session = web_session(request)
    user = session.user
    nav: list[tuple[str, str]] = []
    if user is not None:
        nav = {
            "samordnare": [("/arenden", "Ärenden"), ("/ny-deltagare", "Ny deltagare"), ("/statistik", "Statistik")],
            "handlaggare": [("/sok", "Sök deltagare")],
            "granskare": [("/granskning", "Granskning"), ("/statistik", "Statistik")],
        }.get(user.role, [])
    return templates.TemplateResponse(
        request,
        template,
        {"user": user, "csrf": session.csrf, "nav": nav, "path": request.url.path, **values},
        status_code=status,
    )


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", status, title=title, message=message, status_code=status)


class Errors:
    """A form's errors: field id -> Swedish message, in the order of the form (for the summary at the top)."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, message)

    def __bool__(self) -> bool:
        return bool(self.fields)


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_day(form: FormData, name: str, errors: Errors, label: str) -> date | None:
    """A date field (ÅÅÅÅ-MM-DD); an error beside it when it is missing or not a date."""
    value = text(form, name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.add(name, f"Skriv {label} som ÅÅÅÅ-MM-DD, till exempel 2026-11-25.")
        return None


# -- sign-in and the start page ---------------------------------------------------------------------------------


@router.get("/")
def start(request: Request) -> Response:
    """The signed-in user's first page (or Logga in)."""
    user = signed_in(request)
    if user.role not in HOME:
        raise PageRefused
    return RedirectResponse(HOME[user.role], status_code=303)


@router.get("/logga-in")
def sign_in_page(request: Request, ctx: Ctx) -> Response:
    """Logga in: the organisation's identity provider later; in development a list of demo users."""
    return render(
        request,
        "sign_in.html",
        development=ctx.settings.env == "development",
        enabled=session_key(ctx.settings) is not None,
        users=SIGN_IN_USERS,
    )


@router.post("/logga-in")
def sign_in(request: Request, form: Form, ctx: Ctx) -> Response:
    """Development sign-in as one of the demo users (refused outside development)."""
    if ctx.settings.env != "development" or session_key(ctx.settings) is None:
        raise PageRefused
    chosen = text(form, "anvandare")
    match = [u for u in SIGN_IN_USERS if u[0] == chosen]
    if not match:
        return render(
            request,
            "sign_in.html",
            400,
            development=True,
            enabled=True,
            users=SIGN_IN_USERS,
            errors={"anvandare-0": "Välj vem du vill logga in som."},
        )
    sub, agency, role = match[0]
    web_session(request).sign_in(SessionUser(sub, agency, role))
    return RedirectResponse("/", status_code=303)


@router.post("/logga-ut")
def sign_out(request: Request, form: Form) -> Response:
    web_session(request).sign_out()
    return RedirectResponse("/logga-in", status_code=303)


# -- samordnare: Ärenden, search, Ny deltagare, Deltagare -------------------------------------------------------


def _markers(case: dict[str, Any]) -> list[str]:
    """What needs doing in a case, in the samordnare's words."""
    flags = [
        ("home_visit_due", "hembesök behövs"),
        ("first_meeting_too_few_agencies", "första mötet med för få parter"),
        ("kartlaggning_overdue", "kartläggning försenad"),
    ]
    expiring = [f"samtycke går ut {words.day(c['valid_until'])}" for c in case.get("consents_expiring") or []]
    return [text for key, text in flags if case.get(key)] + expiring


@router.get("/arenden")
def caseload(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    """Ärenden: open cases, the ones with something to do first."""
    listed = ctx.reads.caseload(caller)
    cases = [{**c, "markers": _markers(c)} for c in listed["cases"]]
    cases.sort(key=lambda c: (-len(c["markers"]), c.get("next_meeting") or "9999", c["family_name"] or ""))
    return render(request, "caseload.html", cases=cases, listing=listed)


@router.get("/sok")
def search_page(request: Request, caller: WebCaller) -> Response:
    return render(request, "search.html", values={}, errors={})


@router.post("/sok")
def search(request: Request, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Finds a participant by personnummer (sent in the body, never in a URL) and opens their page."""
    number = text(form, "personnummer")
    errors = Errors()
    if not number:
        errors.add("personnummer", "Skriv personnumret, ÅÅÅÅMMDD-NNNN.")
    else:
        try:
            found = ctx.reads.search(caller, number)
        except InvalidCommand:
            errors.add("personnummer", "Det är inte ett giltigt personnummer. Skriv det som ÅÅÅÅMMDD-NNNN.")
        except NotFound:
            errors.add("personnummer", "Ingen deltagare är inskriven med det personnumret.")
        else:
            page = "deltagare" if caller.role == Role.SAMORDNARE else "myndighetsvy"
            return RedirectResponse(f"/{page}/{found}", status_code=303)
    return render(request, "search.html", 400, values={"personnummer": number}, errors=errors.fields)


@router.get("/ny-deltagare")
def new_participant_page(request: Request, caller: WebCaller) -> Response:
    require_role(caller, Role.SAMORDNARE)
    return render(request, "new_participant.html", values={}, errors={})


@router.post("/ny-deltagare")
def new_participant(request: Request, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Enrols a participant and opens their page."""
    require_role(caller, Role.SAMORDNARE)
    values = {name: text(form, name) for name in ("personnummer", "given_name", "family_name")}
    errors = Errors()
    for name, label in (("personnummer", "personnumret"), ("given_name", "förnamnet"), ("family_name", "efternamnet")):
        if not values[name]:
            errors.add(name, f"Skriv {label}.")
    if not errors:
        try:
            case_id = ctx.service.enrol(by=caller.user_id, **values)
        except AlreadyEnrolled:
            errors.add("personnummer", "En deltagare med det personnumret är redan inskriven. Sök under Ärenden.")
        except InvalidCommand as invalid:
            field = invalid.field if invalid.field in values else "personnummer"
            errors.add(field, "Kontrollera uppgiften: personnummer skrivs ÅÅÅÅMMDD-NNNN.")
        else:
            return RedirectResponse(f"/deltagare/{case_id}", status_code=303)
    return render(request, "new_participant.html", 400, values=values, errors=errors.fields)


GRANT_CHOICES = [
    (discloser.value, OWN_CATEGORY[discloser], [r.value for r in Party if r != discloser]) for discloser in Party
]


def _participant_page(
    request: Request, caller: Caller, ctx: Ctx, participant_id: UUID, status: int = 200, **forms: Any
) -> Response:
    """Deltagare: one read through the door (the förbund's view, the timeline and the consents), one log entry."""
    overview = ctx.reads.overview(caller, participant_id)
    view, timeline, consents = overview["view"], overview["timeline"], overview["consents"]
    today = local_date(ctx.service.clock())
    defaults = {
        "purpose": "Samordnad rehabilitering",
        "valid_from": today.isoformat(),
        "valid_until": (today + timedelta(days=182)).isoformat(),
        "form": "written",
        "grant": [],
    }
    consent_form = forms.get("consent_form") or {"values": defaults, "errors": {}}
    withdraw_form = forms.get("withdraw_form") or {"values": {}, "errors": {}}
    errors = {**consent_form["errors"], **withdraw_form["errors"]}
    return render(
        request,
        "participant.html",
        status,
        view=view,
        timeline=timeline,
        consents=consents,
        grant_choices=GRANT_CHOICES,
        consent_form=consent_form,
        withdraw_form=withdraw_form,
        errors=errors,
    )


@router.get("/deltagare/{participant_id}")
def participant(request: Request, participant_id: UUID, caller: WebCaller, ctx: Ctx) -> Response:
    return _participant_page(request, caller, ctx, participant_id)


CONSENT_FIELDS = {"grants": "grant-FK-SF", "form": "form-written"}


@router.post("/deltagare/{participant_id}/samtycke")
def record_consent(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Registrerar ett samtycke: skriftligt med dokumentreferens, eller muntligt bevittnat."""
    require_role(caller, Role.SAMORDNARE)
    values: dict[str, Any] = {
        name: text(form, name) for name in ("purpose", "valid_from", "valid_until", "form", "document_ref", "witness")
    }
    values["grant"] = [g for g in form.getlist("grant") if isinstance(g, str)]
    errors = Errors()
    pairs = [chosen.partition(":")[::2] for chosen in values["grant"]]
    grants = [
        (discloser, recipient, [OWN_CATEGORY[Party(discloser)]])
        for discloser, recipient in pairs
        if discloser in Party.__members__ and recipient in Party.__members__
    ]
    if not grants:
        errors.add("grant-FK-SF", "Välj minst en uppgift som får lämnas.")
    if not values["purpose"]:
        errors.add("purpose", "Skriv syftet med samtycket.")
    valid_from = parse_day(form, "valid_from", errors, "giltigt från")
    valid_until = parse_day(form, "valid_until", errors, "giltigt till")
    if values["form"] not in ("written", "oral"):
        errors.add("form-written", "Välj om samtycket är skriftligt eller muntligt.")
    elif values["form"] == "written" and not values["document_ref"]:
        errors.add("document_ref", "Ett skriftligt samtycke behöver en referens till det undertecknade dokumentet.")
    elif values["form"] == "oral" and not values["witness"]:
        errors.add("witness", "Ett muntligt samtycke behöver namnet på den som tog emot det.")
    if not errors and valid_from is not None and valid_until is not None:
        try:
            ctx.service.record_consent(
                participant_id,
                by=caller.user_id,
                grants=grants,
                purpose=values["purpose"],
                valid_from=valid_from,
                valid_until=valid_until,
                form=values["form"],
                witness=values["witness"] or None if values["form"] == "oral" else None,
                document_ref=values["document_ref"] or None if values["form"] == "written" else None,
            )
        except InvalidCommand as invalid:
            errors.add(CONSENT_FIELDS.get(invalid.field, invalid.field), _consent_message(invalid.field))
        else:
            return RedirectResponse(f"/deltagare/{participant_id}#samtycken", status_code=303)
    return _participant_page(
        request, caller, ctx, participant_id, 400, consent_form={"values": values, "errors": errors.fields}
    )


def _consent_message(field: str) -> str:
    return {
        "grants": "En part kan bara lämna sina egna uppgifter, och inte till sig själv.",
        "valid_until": "Giltigt till får inte vara före giltigt från, och ett samtycke gäller högst 12 månader.",
        "guardian": "Deltagaren är under 18 år: vårdnadshavarens samtycke kan inte registreras här ännu.",
        "guardians": "Deltagaren är under 18 år: vårdnadshavarens samtycke kan inte registreras här ännu.",
    }.get(field, "Kontrollera uppgiften.")


@router.post("/deltagare/{participant_id}/aterkallelse")
def withdraw_consent(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Återkallar ett samtycke helt, med verkan direkt."""
    require_role(caller, Role.SAMORDNARE)
    values = {"consent_id": text(form, "consent_id"), "reason": text(form, "reason")}
    errors = Errors()
    try:
        consent_id = UUID(values["consent_id"])
    except ValueError:
        errors.add("consent_id", "Välj vilket samtycke som återkallas.")
    else:
        try:
            ctx.service.withdraw_consent(participant_id, consent_id, by=caller.user_id, reason=values["reason"] or None)
        except (InvalidCommand, NotFound, DomainError):
            errors.add("consent_id", "Samtycket kan inte återkallas: det är redan återkallat eller utgånget.")
        else:
            return RedirectResponse(f"/deltagare/{participant_id}#samtycken", status_code=303)
    return _participant_page(
        request, caller, ctx, participant_id, 400, withdraw_form={"values": values, "errors": errors.fields}
    )


# -- handläggare: Myndighetsvy ----------------------------------------------------------------------------------


def _own_categories(agency: str) -> list[str]:
    top = OWN_CATEGORY[Party(agency)]
    return [top, *(f"{top}.{sub}" for sub in SUB_CATEGORIES.get(top, ()))]


def _agency_page(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    participant_id: UUID,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    missing: dict[str, str] | None = None,
) -> Response:
    """Myndighetsvy: exactly what the door shows the caller's agency (one log entry), and its decision form."""
    try:
        view: dict[str, Any] | None = ctx.reads.view(caller, participant_id)
    except NotPermitted:
        if caller.role != Role.HANDLAGGARE:
            raise
        view = None  # the agency may see nothing now; it may still record its own decision
    today = local_date(ctx.service.clock())
    agency = caller.agency.value
    own = caller.role == Role.HANDLAGGARE and caller.agency in AGENCIES
    return render(
        request,
        "agency_view.html",
        status,
        participant_id=participant_id,
        view=view,
        agency=agency,
        own=own,
        categories=_own_categories(agency) if own else [],
        decision_types=list(DECISION_TYPES.get(OWN_CATEGORY[caller.agency], {})) if own else [],
        values=values or {"effective_date": today.isoformat()},
        errors=errors or {},
        missing=missing,
    )


@router.get("/myndighetsvy/{participant_id}")
def agency_view(request: Request, participant_id: UUID, caller: WebCaller, ctx: Ctx) -> Response:
    return _agency_page(request, caller, ctx, participant_id)


@router.post("/myndighetsvy/{participant_id}/beslut")
def agency_decision(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Registrerar myndighetens eget beslut, genom grinden (en vägran loggas utan innehåll)."""
    require_role(caller, Role.HANDLAGGARE)
    names = ("category", "decision_type", "effective_date", "summary", "source_ref")
    values = {name: text(form, name) for name in names}
    errors = Errors()
    if values["category"] not in _own_categories(caller.agency.value):
        errors.add("category", "Välj en av er myndighets egna kategorier.")
    if values["decision_type"] not in DECISION_TYPES.get(OWN_CATEGORY[caller.agency], {}):
        errors.add("decision_type", "Välj beslutstyp.")
    effective = parse_day(form, "effective_date", errors, "beslutsdatum")
    if not values["summary"]:
        errors.add("summary", "Skriv en kort sammanfattning av beslutet.")
    if not values["source_ref"]:
        errors.add("source_ref", "Skriv beslutets referens i ert eget system.")
    missing = None
    if not errors and effective is not None:
        try:
            record_decision(
                ctx.service,
                ctx.log,
                caller,
                participant_id,
                category=values["category"],
                decision_type=values["decision_type"],
                effective_date=effective,
                summary=values["summary"],
                source_ref=values["source_ref"],
            )
        except ConsentRequired as refused:
            grant = refused.missing
            missing = {"from": grant.discloser.value, "to": grant.recipient.value, "category": grant.category}
        except InvalidCommand as invalid:
            field = invalid.field if invalid.field in values else "summary"
            errors.add(field, "Kontrollera uppgiften.")
        else:
            return RedirectResponse(f"/myndighetsvy/{participant_id}", status_code=303)
    return _agency_page(request, caller, ctx, participant_id, 400, values, errors.fields, missing)


# -- Statistik ---------------------------------------------------------------------------------------------------


def _period(request: Request, ctx: Ctx, errors: Errors) -> tuple[date, date]:
    today = local_date(ctx.service.clock())
    query = request.query_params
    period: dict[str, date] = {"fran": date(today.year, 1, 1), "till": today}
    for name, label in (("fran", "från"), ("till", "till")):
        given = (query.get(name) or "").strip()
        if given:
            try:
                period[name] = date.fromisoformat(given)
            except ValueError:
                errors.add(name, f"Skriv {label}-datumet som ÅÅÅÅ-MM-DD.")
    if not errors and period["fran"] > period["till"]:
        errors.add("fran", "Från-datumet får inte vara efter till-datumet.")
    return period["fran"], period["till"]


@router.get("/statistik")
def statistics(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    """Statistik: the follow-up tables with suppressed cells as `..`, and a CSV for Excel."""
    errors = Errors()
    since, until = _period(request, ctx, errors)
    values = {"fran": request.query_params.get("fran") or since.isoformat()}
    values["till"] = request.query_params.get("till") or until.isoformat()
    if errors:
        return render(request, "statistics.html", 400, tables={}, values=values, errors=errors.fields)
    tables = ctx.reads.statistics(caller, since, until)
    return render(
        request,
        "statistics.html",
        tables=tables,
        values=values,
        errors={},
        min_cell=figures.MIN_CELL,
        suppressed=figures.SUPPRESSED,
    )


@router.get("/statistik.csv")
def statistics_csv(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    """The same tables as CSV for Excel: UTF-8 with a byte order mark, semicolons between fields."""
    errors = Errors()
    since, until = _period(request, ctx, errors)
    if errors:
        return error_page(request, 400, "Fel period", "Ange perioden som ÅÅÅÅ-MM-DD, från före till.")
    tables = ctx.reads.statistics(caller, since, until)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([f"Samordningsförbundet: uppföljning {since.isoformat()} till {until.isoformat()}"])
    writer.writerow([f"{figures.SUPPRESSED} = skyddad uppgift (färre än {figures.MIN_CELL} eller dold för att skydda)"])
    for name, table in tables.items():
        writer.writerow([])
        writer.writerow([words.word(words.TABLES, name)])
        shown = [words.word(words.CODES, c) for c in table.columns]
        writer.writerow([words.word(words.CODES, table.row_label), *shown, "totalt"])
        for row in table.rows:
            cells = [_cell(table.cells[(row, c)]) for c in table.columns]
            writer.writerow([words.word(words.CODES, row), *cells, _cell(table.row_totals[row])])
        totals = [_cell(table.column_totals[c]) for c in table.columns]
        writer.writerow(["totalt", *totals, _cell(table.total)])
    body = "\ufeff" + buffer.getvalue()
    name = f"statistik-{since.isoformat()}-{until.isoformat()}.csv"
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _cell(value: int | None) -> str:
    return figures.SUPPRESSED if value is None else str(value)


# -- Granskning ---------------------------------------------------------------------------------------------------


@router.get("/granskning")
def audit(request: Request, caller: WebCaller) -> Response:
    """Granskning: verify the log, download an export (a first start)."""
    if caller.role != Role.GRANSKARE:
        raise PageRefused
    return render(request, "audit.html", result=None)


@router.post("/granskning/kontroll")
def verify(request: Request, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Checks the whole live log (logged by the door) and shows the result."""
    return render(request, "audit.html", result=ctx.reads.verify(caller))


@router.get("/granskning/export.jsonl")
def export(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    """The whole disclosure log as JSON lines (the export is logged first and covers its own entry)."""
    exported = ctx.reads.export(caller, LogFilter(), "jsonl")
    return StreamingResponse(
        exported.lines,
        media_type="application/x-ndjson",
        headers={
            "X-Samverkan-Until-Seq": str(exported.last_seq),
            "Content-Disposition": f'attachment; filename="utlamnandelogg-{exported.last_seq}.jsonl"',
        },
    )
