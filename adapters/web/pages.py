"""The web pages, server-rendered in Swedish. Like the API routes they only translate: the session becomes a
`Caller`, a form becomes a call to the read door (`ctx.reads`), `adapters.recording` or the application service,
and the answer becomes HTML. No SQL, gate call or log append here (docs/web.md, tests/e2e/test_read_door.py)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from adapters import documents
from adapters.access import DEFAULT_PURPOSE, Caller
from adapters.auth import Role
from adapters.cli import DEMO_USERS
from adapters.disclosure_log import LogFilter
from adapters.http.context import Context
from adapters.recording import mark_reviewed, open_emergency_access, record_decision
from adapters.review import OUTCOMES as REVIEW_OUTCOMES
from adapters.review import period_bound, review_lines
from adapters.web import words
from adapters.web.session import COOKIE, CSRF_FIELD, LIFETIME_S, SessionUser, WebSession, dump, load, session_key
from consent import AGENCIES, OWN_CATEGORY, SUB_CATEGORIES, Party, local_date
from coordination import (
    AlreadyEnrolled,
    Conflict,
    ConsentRequired,
    DomainError,
    InvalidCommand,
    NotFound,
    NotPermitted,
)
from coordination.catalogue import DECISION_TYPES, EMERGENCY_NOTE_MIN_LENGTH, EMERGENCY_REASONS, KARTLAGGNING
from coordination.strict import MAX_SEQ, OutOfBounds, character_problem, parse_whole_number, text_problem
from coordination.strict import parse_day as strict_day
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


class FormRefused(Exception):
    """A POSTed form with characters no field takes (control characters, escape sequences, bidi overrides):
    refused as a whole before anything is read or written (coordination/strict.py)."""


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
            except FormRefused:
                response = error_page(
                    request,
                    400,
                    "Formuläret kunde inte sparas",
                    "Formuläret innehöll tecken som inte kan sparas: styrtecken (till exempel från en terminal) eller "
                    "tecken som vänder textens riktning. Ingenting sparades. Gå tillbaka, skriv texten på nytt i "
                    "stället för att klistra in den, och försök igen.",
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
    # The strict text rule's characters, for every field (line breaks allowed: text areas); blank and one-line
    # text is the application service's to refuse, beside its field.
    if any(isinstance(value, str) and character_problem(value, several_lines=True) for _, value in form.multi_items()):
        raise FormRefused
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
        {
            "user": user,
            "csrf": session.csrf,
            "nav": nav,
            "path": request.url.path,
            "printed": context_of(request).service.clock(),
            **values,
        },
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


DAY_BOUNDS = "Datumet måste ligga mellan 1900-01-01 och 2199-12-31."


def parse_day(form: FormData, name: str, errors: Errors, label: str) -> date | None:
    """A date field (ÅÅÅÅ-MM-DD, 1900-2199); an error beside it when it is missing or not such a date."""
    value = text(form, name)
    try:
        return strict_day(value)
    except OutOfBounds:
        errors.add(name, DAY_BOUNDS)
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


PHASE_ORDER = ("referral", "kartlaggning", "plan", "insats", "closing")
PARTY_CODES = [p.value for p in Party]
AGENCY_CODES = [p.value for p in AGENCIES]
NOTHING_YET = "9999-12-31"  # sorts cases without a next meeting last


def _markers(case: dict[str, Any]) -> list[tuple[str, str]]:
    """What needs doing in a case: (code, the samordnare's words)."""
    flags = ("home_visit_due", "first_meeting_too_few_agencies", "kartlaggning_overdue")
    found = [(code, words.MARKERS[code]) for code in flags if case.get(code)]
    expiring = case.get("consents_expiring") or []
    found += [("consent_expiring", f"samtycke går ut {words.day(c['valid_until'])}") for c in expiring]
    return found


def _name_key(case: dict[str, Any]) -> tuple[str, str]:
    return ((case["family_name"] or "").casefold(), (case["given_name"] or "").casefold())


CASE_ORDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "todo": lambda c: (-len(c["markers"]), c.get("next_meeting") or NOTHING_YET, _name_key(c)),
    "name": _name_key,
    "next_meeting": lambda c: (c.get("next_meeting") or NOTHING_YET, _name_key(c)),
    "phase": lambda c: (PHASE_ORDER.index(c["phase"]) if c["phase"] in PHASE_ORDER else 99, _name_key(c)),
}


@router.get("/arenden")
def caseload(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    """Ärenden: open cases, filtered by phase or marker and sorted by links whose parameters are codes only."""
    return _caseload_page(request, caller, ctx, None)


@router.post("/arenden")
def caseload_by_name(request: Request, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Ärenden narrowed to the cases whose name holds what was typed (sent in the body: a name never goes in a
    URL); the list is read, and logged, as a whole, and narrowed here."""
    return _caseload_page(request, caller, ctx, text(form, "namn") or None)


def _caseload_page(request: Request, caller: Caller, ctx: Ctx, name: str | None) -> Response:
    listed = ctx.reads.caseload(caller)
    query = request.query_params
    chosen = {
        "fas": query.get("fas") if query.get("fas") in PHASE_ORDER else None,
        "markering": query.get("markering") if query.get("markering") in words.MARKERS else None,
        "sortera": query.get("sortera") if query.get("sortera") in CASE_ORDERS else "todo",
    }
    cases = [{**c, "markers": _markers(c)} for c in listed["cases"]]
    for case in cases:
        case["marker_codes"] = {code for code, _ in case["markers"]}
    counts = {
        "fas": Counter(c["phase"] for c in cases),
        "markering": Counter(code for c in cases for code in c["marker_codes"]),
    }
    shown = [
        c
        for c in cases
        if chosen["fas"] in (None, c["phase"])
        and (chosen["markering"] is None or chosen["markering"] in c["marker_codes"])
    ]
    if name is not None:
        wanted = name.casefold().split()
        shown = [c for c in shown if all(part in " ".join(_name_key(c)) for part in wanted)]
    shown.sort(key=CASE_ORDERS[str(chosen["sortera"])])

    def link(**changes: str | None) -> str:
        """The list's address with these choices changed (codes only: never a name or a number)."""
        wanted = {**chosen, **changes}
        kept = {k: v for k, v in wanted.items() if v is not None and not (k == "sortera" and v == "todo")}
        return "/arenden" + (f"?{urlencode(kept)}" if kept else "")

    return render(
        request,
        "caseload.html",
        cases=shown,
        listing=listed,
        chosen=chosen,
        counts=counts,
        link=link,
        phases=PHASE_ORDER,
        name=name,
    )


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


ENROL_MESSAGES = {
    "personnummer": "Kontrollera personnumret: det skrivs ÅÅÅÅMMDD-NNNN.",
    "birth_date": "Födelsedatumet måste vara ett verkligt datum, inte i framtiden.",
    "legal_gender": "Välj juridiskt kön.",
}


@router.post("/ny-deltagare")
def new_participant(request: Request, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Enrols a participant, with a personnummer or (without one) on a reserve identity, and opens their page."""
    require_role(caller, Role.SAMORDNARE)
    names = ("personnummer", "given_name", "family_name", "birth_date", "legal_gender")
    values = {name: text(form, name) for name in names}
    errors = Errors()
    birth: date | None = None
    if values["personnummer"]:
        if values["birth_date"] or values["legal_gender"]:
            errors.add("birth_date", "Lämna födelsedatum och juridiskt kön tomma när personnumret är ifyllt.")
    elif not values["birth_date"] and not values["legal_gender"]:
        errors.add(
            "personnummer",
            "Skriv personnumret, eller födelsedatum och juridiskt kön om personen saknar personnummer.",
        )
    else:
        birth = parse_day(form, "birth_date", errors, "födelsedatumet")
        if values["legal_gender"] not in words.GENDERS:
            errors.add("legal_gender", "Välj juridiskt kön, som det står i personens handlingar.")
    for name, label in (("given_name", "förnamnet"), ("family_name", "efternamnet")):
        if not values[name]:
            errors.add(name, f"Skriv {label}.")
    if not errors:
        try:
            case_id = ctx.service.enrol(
                by=caller.user_id,
                given_name=values["given_name"],
                family_name=values["family_name"],
                personnummer=values["personnummer"] or None,
                birth_date=birth,
                legal_gender=values["legal_gender"] or None,
            )
        except AlreadyEnrolled:
            errors.add("personnummer", "En deltagare med det personnumret är redan inskriven. Sök under Ärenden.")
        except InvalidCommand as invalid:
            field = invalid.field if invalid.field in values else "personnummer"
            errors.add(field, ENROL_MESSAGES.get(field, "Kontrollera uppgiften."))
        else:
            return RedirectResponse(f"/deltagare/{case_id}", status_code=303)
    return render(request, "new_participant.html", 400, values=values, errors=errors.fields)


GRANT_CHOICES = [
    (discloser.value, OWN_CATEGORY[discloser], [r.value for r in Party if r != discloser]) for discloser in Party
]
PLAN_ROWS_MAX = 30


def _form_defaults(today: date, view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each Deltagare form's first values: today's date where a date is asked for, the current plan to revise."""
    iso = today.isoformat()
    plan = (view.get("coordination") or {}).get("plan") or {}
    plan_values: dict[str, Any] = {"plan-goals": "\n".join(g or "" for g in plan.get("goals") or [])}
    for i, step in enumerate(plan.get("steps") or []):
        plan_values[f"plan-step-{i}-agency"] = step["agency"]
        plan_values[f"plan-step-{i}-description"] = step["description"] or ""
        plan_values[f"plan-step-{i}-due"] = words.day(step["due"])
    return {
        "consent": {
            "purpose": "Samordnad rehabilitering",
            "valid_from": iso,
            "valid_until": (today + timedelta(days=182)).isoformat(),
            "form": "written",
            "grant": [],
        },
        "withdraw": {},
        "personnummer": {},
        "referral": {"referral-received": iso, "referral-needs": []},
        "book": {"book-invited": [], "book-kind": "meeting"},
        "outcome": {"outcome-present": []},
        "meeting": {"meeting-date": iso, "meeting-kind": "meeting", "meeting-present": []},
        "kartlaggning": {"kartlaggning-start": iso, "kartlaggning-provider": "SF"},
        "intervention": {"intervention-start": iso},
        "end": {"end-date": iso},
        "plan": plan_values,
        "close": {"close-date": iso, "close-end-date": iso, "close-end-ongoing": ""},
    }


def _participant_page(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    participant_id: UUID,
    status: int = 200,
    failed: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    """Deltagare: one read through the door (the förbund's view, the timeline and the consents), one log entry;
    the form that failed (`failed`) is shown again with its input and errors."""
    overview = ctx.reads.overview(caller, participant_id)
    view, timeline, consents = overview["view"], overview["timeline"], overview["consents"]
    defaults = _form_defaults(local_date(ctx.service.clock()), view)
    forms = {name: {"values": first, "errors": {}} for name, first in defaults.items()}
    if failed is not None:
        forms[failed] = {"values": {**defaults[failed], **(values or {})}, "errors": errors or {}}
    plan_values = forms["plan"]["values"]
    filled = [i for i in range(PLAN_ROWS_MAX) if any(k.startswith(f"plan-step-{i}-") for k in plan_values)]
    co = view.get("coordination") or {}
    return render(
        request,
        "participant.html",
        status,
        view=view,
        co=co,
        timeline=timeline,
        consents=consents,
        grant_choices=GRANT_CHOICES,
        forms=forms,
        failed=failed,
        errors=errors or {},
        parties=[(code, words.PARTIES[code]) for code in PARTY_CODES],
        agencies=[(code, words.PARTIES[code]) for code in AGENCY_CODES],
        kinds=[(code, name) for code, name in words.INTERVENTION_KINDS.items() if code != KARTLAGGNING],
        plan_rows=min(PLAN_ROWS_MAX, max(3, (max(filled) + 3) if filled else 3)),
        booked=[m for m in co.get("meetings") or [] if m["status"] == "booked"],
        ongoing=[i for i in co.get("interventions") or [] if i["end_date"] is None],
        kartlaggning_weeks=ctx.service.kartlaggning_weeks,
    )


@router.get("/deltagare/{participant_id}")
def participant(request: Request, participant_id: UUID, caller: WebCaller, ctx: Ctx) -> Response:
    return _participant_page(request, caller, ctx, participant_id)


# -- the participant's papers: the API's PDFs, through the same door, on the session (docs/web.md) ---------------

EXTRACT_PURPOSE = "registerutdrag"  # the two extracts are made at the participant's request


def _pdf(content: bytes, name: str) -> Response:
    """A PDF download; like every page it is sent with `Cache-Control: no-store` (HEADERS)."""
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content, media_type="application/pdf", headers=headers)


@router.get("/deltagare/{participant_id}/kvitto/{consent_id}.pdf")
def receipt_pdf(request: Request, participant_id: UUID, consent_id: UUID, caller: WebCaller, ctx: Ctx) -> Response:
    """Kvitto (PDF): the consent receipt as it stands now; one `receipt` entry."""
    receipt = ctx.reads.receipt(caller, participant_id, consent_id, "pdf")
    name = documents.filename(f"samtyckeskvitto-v{receipt['version']}", receipt["issued_at"])
    return _pdf(documents.receipt_pdf(receipt), name)


@router.get("/deltagare/{participant_id}/loggutdrag.pdf")
def log_extract_pdf(request: Request, participant_id: UUID, caller: WebCaller, ctx: Ctx) -> Response:
    """Loggutdrag (PDF): who has read what of the participant's; one `extract` entry, purpose registerutdrag."""
    extract = ctx.reads.extract_document(replace(caller, purpose=EXTRACT_PURPOSE), participant_id, "pdf")
    return _pdf(documents.extract_pdf(extract), documents.filename("loggutdrag", extract["issued_at"]))


@router.get("/deltagare/{participant_id}/registerutdrag.pdf")
def register_extract_pdf(request: Request, participant_id: UUID, caller: WebCaller, ctx: Ctx) -> Response:
    """Registerutdrag (PDF): the GDPR art. 15 extract; one `register-extract` entry, purpose registerutdrag."""
    extract = ctx.reads.register_extract(replace(caller, purpose=EXTRACT_PURPOSE), participant_id, "pdf")
    return _pdf(documents.register_extract_pdf(extract), documents.filename("registerutdrag", extract["issued_at"]))


def _saved(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    participant_id: UUID,
    name: str,
    values: dict[str, Any],
    errors: Errors,
    write: Callable[[], object],
    fields: dict[str, tuple[str, str]],
    anchor: str,
) -> Response:
    """Runs a Deltagare form's write when the input is complete; a refusal goes beside its field (`fields`: the
    domain's field -> (form field, Swedish message); "*" for any other refusal, "conflict" for the case's state)."""
    if not errors:
        try:
            write()
        except InvalidCommand as invalid:
            errors.add(*fields.get(invalid.field, fields["*"]))
        except (Conflict, NotFound):
            errors.add(*fields.get("conflict", fields["*"]))
        else:
            return RedirectResponse(f"/deltagare/{participant_id}#{anchor}", status_code=303)
    return _participant_page(request, caller, ctx, participant_id, 400, name, values, errors.fields)


def chosen_codes(form: FormData, name: str, allowed: list[str]) -> list[str]:
    """The checked boxes of a group that are known codes (anything else is dropped, never echoed)."""
    return [v for v in form.getlist(name) if isinstance(v, str) and v in allowed]


def required_day(form: FormData, name: str, errors: Errors, label: str) -> date:
    """A required date; when it is wrong the error is noted and the write never runs (the value is a stand-in)."""
    return parse_day(form, name, errors, label) or date.min


def optional_day(form: FormData, name: str, errors: Errors, label: str) -> date | None:
    return parse_day(form, name, errors, label) if text(form, name) else None


def uuid_field(form: FormData, name: str, errors: Errors, message: str) -> UUID:
    try:
        return UUID(text(form, name))
    except ValueError:
        errors.add(name, message)
        return UUID(int=0)


CONSENT_FIELDS = {"grants": "grant-FK-SF", "form": "form-written", "guardian": "guardian_1", "guardians": "guardian_1"}


@router.post("/deltagare/{participant_id}/samtycke")
def record_consent(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Registrerar ett samtycke: skriftligt med dokumentreferens, eller muntligt bevittnat."""
    require_role(caller, Role.SAMORDNARE)
    values: dict[str, Any] = {
        name: text(form, name)
        for name in (
            "purpose",
            "valid_from",
            "valid_until",
            "form",
            "document_ref",
            "witness",
            "guardian_1",
            "guardian_2",
        )
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
                guardians=[g for g in (values["guardian_1"], values["guardian_2"]) if g],
            )
        except InvalidCommand as invalid:
            errors.add(CONSENT_FIELDS.get(invalid.field, invalid.field), _consent_message(invalid.field))
        else:
            return RedirectResponse(f"/deltagare/{participant_id}#samtycken", status_code=303)
    return _participant_page(request, caller, ctx, participant_id, 400, "consent", values, errors.fields)


def _consent_message(field: str) -> str:
    return {
        "grants": "En part kan bara lämna sina egna uppgifter, och inte till sig själv.",
        "valid_until": "Giltigt till får inte vara före giltigt från, och ett samtycke gäller högst 12 månader.",
        "guardian": "Deltagaren är under 18 år: skriv namnet på den vårdnadshavare (eller de två) som samtycker.",
        "guardians": "Ange en eller två vårdnadshavare.",
    }.get(field, "Kontrollera uppgiften.")


@router.post("/deltagare/{participant_id}/aterkallelse")
def withdraw_consent(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Återkallar ett samtycke, helt eller de delar som kryssats i, med verkan direkt."""
    require_role(caller, Role.SAMORDNARE)
    try:
        consent_id = UUID(text(form, "consent_id"))
    except ValueError:
        raise NotFound("no such consent") from None  # only a tampered form has no consent id
    prefix = f"withdraw-{consent_id}"
    values: dict[str, Any] = {
        "consent_id": str(consent_id),
        "scope": text(form, "scope") or "all",  # a form without the choice withdraws the whole consent
        "grant": [g for g in form.getlist("grant") if isinstance(g, str)],
        "reason": text(form, "reason"),
    }
    errors = Errors()
    grants: list[tuple[str, str, list[str]]] | None = None
    if values["scope"] == "chosen":
        grants = []
        for chosen in values["grant"]:
            discloser, recipient, category = [*chosen.split(":"), "", ""][:3]
            if discloser in Party.__members__ and recipient in Party.__members__ and category:
                grants += [(discloser, recipient, [category])]
        if not grants:
            errors.add(f"{prefix}-grant", "Kryssa i de delar som ska återkallas, eller välj hela samtycket.")
    elif values["scope"] != "all":
        errors.add(f"{prefix}-scope", "Välj om hela samtycket eller bara vissa delar återkallas.")

    def write() -> None:
        ctx.service.withdraw_consent(
            participant_id, consent_id, by=caller.user_id, grants=grants, reason=values["reason"] or None
        )

    fields = {
        "*": (f"{prefix}-scope", "Samtycket kan inte återkallas: det är redan återkallat eller utgånget."),
        "grants": (f"{prefix}-grant", "Den delen finns inte i samtycket."),
    }
    return _saved(request, caller, ctx, participant_id, "withdraw", values, errors, write, fields, "samtycken")


@router.post("/deltagare/{participant_id}/personnummer")
def add_personnummer(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Lägger till personnumret för en deltagare med reservidentitet (numret i formuläret, aldrig i adressen)."""
    require_role(caller, Role.SAMORDNARE)
    values = {"personnummer": text(form, "personnummer")}
    errors = Errors()
    if not values["personnummer"]:
        errors.add("personnummer", "Skriv personnumret eller samordningsnumret, ÅÅÅÅMMDD-NNNN.")

    def write() -> None:
        ctx.service.add_personnummer(participant_id, by=caller.user_id, personnummer=values["personnummer"])

    fields = {
        "*": ("personnummer", "Det är inte ett giltigt personnummer. Skriv det som ÅÅÅÅMMDD-NNNN."),
        "conflict": ("personnummer", "Numret tillhör redan en annan deltagare, eller deltagaren har redan ett."),
    }
    return _saved(request, caller, ctx, participant_id, "personnummer", values, errors, write, fields, "main")


@router.post("/deltagare/{participant_id}/remiss")
def record_referral(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Registrerar remissen: remittent, skäl, mottagen, och vilka parters stöd deltagaren behöver (minst två)."""
    require_role(caller, Role.SAMORDNARE)
    values: dict[str, Any] = {name: text(form, name) for name in ("referral-remittent", "referral-reason")}
    values["referral-received"] = text(form, "referral-received")
    values["referral-needs"] = chosen_codes(form, "referral-needs", AGENCY_CODES)
    errors = Errors()
    if values["referral-remittent"] not in PARTY_CODES:
        errors.add("referral-remittent", "Välj vem remissen kommer från.")
    if not values["referral-reason"]:
        errors.add("referral-reason", "Skriv skälet till remissen.")
    received = required_day(form, "referral-received", errors, "när remissen kom")
    if len(values["referral-needs"]) < 2:  # noqa: PLR2004 - Finsam: the support of at least two parties
        errors.add("referral-needs", "Välj minst två parter vars stöd deltagaren behöver.")

    def write() -> None:
        ctx.service.record_referral(
            participant_id,
            by=caller.user_id,
            remittent=values["referral-remittent"],
            reason=values["referral-reason"],
            received_date=received,
            needs=values["referral-needs"],
        )

    fields = {
        "*": ("referral-reason", "Kontrollera uppgifterna."),
        "needs": ("referral-needs", "Välj minst två parter vars stöd deltagaren behöver."),
        "conflict": ("referral-remittent", "En remiss är redan registrerad för deltagaren."),
    }
    return _saved(request, caller, ctx, participant_id, "referral", values, errors, write, fields, "remiss")


@router.post("/deltagare/{participant_id}/moten/boka")
def book_meeting(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Bokar ett möte eller hembesök med de parter som bjuds in."""
    require_role(caller, Role.SAMORDNARE)
    values: dict[str, Any] = {"book-date": text(form, "book-date"), "book-kind": text(form, "book-kind")}
    values["book-invited"] = chosen_codes(form, "book-invited", AGENCY_CODES)
    errors = Errors()
    day = required_day(form, "book-date", errors, "datumet")
    if values["book-kind"] not in words.MEETING_KINDS:
        errors.add("book-kind", "Välj möte eller hembesök.")
    elif values["book-kind"] == "meeting" and not values["book-invited"]:
        errors.add("book-invited", "Bjud in minst en part till ett möte.")

    def write() -> None:
        ctx.service.book_meeting(
            participant_id,
            by=caller.user_id,
            day=day,
            agencies_invited=values["book-invited"],
            kind=values["book-kind"],
        )

    fields = {
        "*": ("book-date", "Kontrollera uppgifterna."),
        "date": ("book-date", "Ett möte bokas för i dag eller senare. Ett möte som redan varit registreras nedan."),
        "agencies_invited": ("book-invited", "Bjud in minst en part till ett möte."),
    }
    return _saved(request, caller, ctx, participant_id, "book", values, errors, write, fields, "moten")


def _meeting_values(form: FormData, prefix: str, errors: Errors) -> dict[str, Any]:
    """The outcome part of a meeting form: genomfört or uteblivet, the parties present, a note."""
    values: dict[str, Any] = {f"{prefix}-attended": text(form, f"{prefix}-attended")}
    values[f"{prefix}-present"] = chosen_codes(form, f"{prefix}-present", AGENCY_CODES)
    values[f"{prefix}-notes"] = text(form, f"{prefix}-notes")
    if values[f"{prefix}-attended"] not in words.MEETING_OUTCOMES:
        errors.add(f"{prefix}-attended", "Välj om mötet blev av (genomfört) eller inte (uteblivet).")
    elif values[f"{prefix}-attended"] == "missed" and values[f"{prefix}-present"]:
        errors.add(f"{prefix}-present", "Ett uteblivet möte har inga närvarande parter: ta bort kryssen.")
    return values


@router.post("/deltagare/{participant_id}/moten/utfall")
def meeting_outcome(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Registrerar att ett bokat möte blev genomfört (med närvarande parter) eller uteblivet."""
    require_role(caller, Role.SAMORDNARE)
    errors = Errors()
    values = {"outcome-meeting": text(form, "outcome-meeting")}
    meeting_id = uuid_field(form, "outcome-meeting", errors, "Välj vilket bokat möte det gäller.")
    values |= _meeting_values(form, "outcome", errors)

    def write() -> None:
        ctx.service.record_meeting_outcome(
            participant_id,
            meeting_id,
            by=caller.user_id,
            attended=values["outcome-attended"] == "held",
            agencies_present=values["outcome-present"],
            notes=values["outcome-notes"] or None,
        )

    fields = {
        "*": ("outcome-notes", "Kontrollera uppgifterna."),
        "conflict": ("outcome-meeting", "Mötet är redan registrerat som genomfört eller uteblivet."),
    }
    return _saved(request, caller, ctx, participant_id, "outcome", values, errors, write, fields, "moten")


@router.post("/deltagare/{participant_id}/moten")
def record_meeting(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Registrerar ett möte eller hembesök som inte var bokat: genomfört eller uteblivet."""
    require_role(caller, Role.SAMORDNARE)
    errors = Errors()
    values = {"meeting-date": text(form, "meeting-date"), "meeting-kind": text(form, "meeting-kind")}
    day = required_day(form, "meeting-date", errors, "datumet")
    if values["meeting-kind"] not in words.MEETING_KINDS:
        errors.add("meeting-kind", "Välj möte eller hembesök.")
    values |= _meeting_values(form, "meeting", errors)

    def write() -> None:
        ctx.service.record_meeting(
            participant_id,
            by=caller.user_id,
            day=day,
            agencies_present=values["meeting-present"],
            attended=values["meeting-attended"] == "held",
            notes=values["meeting-notes"] or None,
            kind=values["meeting-kind"],
        )

    fields = {"*": ("meeting-date", "Kontrollera uppgifterna.")}
    return _saved(request, caller, ctx, participant_id, "meeting", values, errors, write, fields, "moten")


@router.post("/deltagare/{participant_id}/kartlaggning")
def start_kartlaggning(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Startar en kartläggning (en insats), med planerat slut."""
    require_role(caller, Role.SAMORDNARE)
    names = ("kartlaggning-start", "kartlaggning-end", "kartlaggning-provider")
    values = {name: text(form, name) for name in names}
    errors = Errors()
    start = required_day(form, "kartlaggning-start", errors, "startdatumet")
    end = optional_day(form, "kartlaggning-end", errors, "planerat slut")
    if values["kartlaggning-provider"] not in PARTY_CODES:
        errors.add("kartlaggning-provider", "Välj vem som gör kartläggningen.")

    def write() -> None:
        ctx.service.start_intervention(
            participant_id,
            by=caller.user_id,
            kind=KARTLAGGNING,
            start_date=start,
            provider_agency=values["kartlaggning-provider"],
            planned_end=end,
        )

    fields = {
        "*": ("kartlaggning-start", "Kontrollera uppgifterna."),
        "planned_end": ("kartlaggning-end", "Planerat slut får inte vara före starten."),
    }
    return _saved(request, caller, ctx, participant_id, "kartlaggning", values, errors, write, fields, "insatser")


@router.post("/deltagare/{participant_id}/insatser")
def start_intervention(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Startar en insats ur katalogen, med startdatum och anordnare."""
    require_role(caller, Role.SAMORDNARE)
    names = ("intervention-kind", "intervention-start", "intervention-provider")
    values = {name: text(form, name) for name in names}
    errors = Errors()
    if values["intervention-kind"] not in words.INTERVENTION_KINDS:
        errors.add("intervention-kind", "Välj vilken insats.")
    start = required_day(form, "intervention-start", errors, "startdatumet")
    if values["intervention-provider"] not in PARTY_CODES:
        errors.add("intervention-provider", "Välj vem som anordnar insatsen.")

    def write() -> None:
        ctx.service.start_intervention(
            participant_id,
            by=caller.user_id,
            kind=values["intervention-kind"],
            start_date=start,
            provider_agency=values["intervention-provider"],
        )

    fields = {"*": ("intervention-kind", "Kontrollera uppgifterna.")}
    return _saved(request, caller, ctx, participant_id, "intervention", values, errors, write, fields, "insatser")


@router.post("/deltagare/{participant_id}/insatser/avsluta")
def end_intervention(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Avslutar en pågående insats, med slutdatum och skäl."""
    require_role(caller, Role.SAMORDNARE)
    values = {name: text(form, name) for name in ("end-intervention", "end-date", "end-reason")}
    errors = Errors()
    intervention_id = uuid_field(form, "end-intervention", errors, "Välj vilken insats som avslutas.")
    end = required_day(form, "end-date", errors, "slutdatumet")

    def write() -> None:
        ctx.service.end_intervention(
            participant_id, intervention_id, by=caller.user_id, end_date=end, reason=values["end-reason"] or None
        )

    fields = {
        "*": ("end-reason", "Kontrollera uppgifterna."),
        "end_date": ("end-date", "Slutdatumet får inte vara före insatsens start."),
        "conflict": ("end-intervention", "Insatsen är redan avslutad."),
    }
    return _saved(request, caller, ctx, participant_id, "end", values, errors, write, fields, "insatser")


@router.post("/deltagare/{participant_id}/handlingsplan")
def revise_plan(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Sparar en ny version av handlingsplanen: mål (ett per rad) och steg (part, beskrivning, datum)."""
    require_role(caller, Role.SAMORDNARE)
    values: dict[str, Any] = {"plan-goals": text(form, "plan-goals")}
    errors = Errors()
    goals = [line.strip() for line in values["plan-goals"].splitlines() if line.strip()]
    steps: list[tuple[str, str, date]] = []
    for i in range(PLAN_ROWS_MAX):
        names = [f"plan-step-{i}-{part}" for part in ("agency", "description", "due")]
        if not any(name in form for name in names):
            continue
        row = {name: text(form, name) for name in names}
        values |= row
        if not any(row.values()):
            continue  # an empty row: not a step
        agency, description, _ = names
        if row[agency] not in PARTY_CODES:
            errors.add(agency, f"Välj vem som ansvarar för steg {i + 1}.")
        if not row[description]:
            errors.add(description, f"Beskriv steg {i + 1}.")
        due = required_day(form, names[2], errors, f"datumet för steg {i + 1}")
        steps += [(row[agency], row[description], due)]
    if not goals and not steps:
        errors.add("plan-goals", "Skriv minst ett mål eller ett steg.")

    def write() -> None:
        ctx.service.revise_plan(participant_id, by=caller.user_id, goals=goals, steps=steps)

    fields = {"*": ("plan-goals", "Kontrollera uppgifterna: ett mål eller ett steg är för långt.")}
    return _saved(request, caller, ctx, participant_id, "plan", values, errors, write, fields, "handlingsplan")


@router.post("/deltagare/{participant_id}/avslut")
def close_case(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Avslutar ärendet: utfall, datum, försörjning och sysselsättning efter; pågående insatser kan avslutas
    samtidigt."""
    require_role(caller, Role.SAMORDNARE)
    names = ("close-outcome", "close-date", "close-support", "close-occupation", "close-end-ongoing", "close-end-date")
    values = {name: text(form, name) for name in names}
    errors = Errors()
    if values["close-outcome"] not in words.OUTCOMES:
        errors.add("close-outcome", "Välj utfall.")
    closed = required_day(form, "close-date", errors, "avslutsdatumet")
    if values["close-support"] not in words.SUPPORT:
        errors.add("close-support", "Välj försörjning efter (okänd går att välja).")
    if values["close-occupation"] not in words.OCCUPATION:
        errors.add("close-occupation", "Välj sysselsättning efter (okänd går att välja).")
    ending: tuple[date, str | None] | None = None
    if values["close-end-ongoing"] == "yes":
        ending = (required_day(form, "close-end-date", errors, "slutdatumet för insatserna"), None)

    def write() -> None:
        ctx.service.close_case(
            participant_id,
            by=caller.user_id,
            outcome=values["close-outcome"],
            closed_date=closed,
            follow_up={"support_after": values["close-support"], "occupation_after": values["close-occupation"]},
            end_interventions=ending,
        )

    fields = {
        "*": ("close-outcome", "Kontrollera uppgifterna."),
        "closed_date": ("close-date", "Ärendet kan inte avslutas före det datum remissen kom."),
        "end_interventions.end_date": ("close-end-date", "Slutdatumet är före en pågående insats start."),
        "conflict": (
            "close-end-ongoing",
            "Insatser pågår: kryssa i att de avslutas samtidigt, eller avsluta dem först.",
        ),
    }
    return _saved(request, caller, ctx, participant_id, "close", values, errors, write, fields, "avslut")


# -- handläggare: Myndighetsvy ----------------------------------------------------------------------------------


def _own_categories(agency: str) -> list[str]:
    top = OWN_CATEGORY[Party(agency)]
    return [top, *(f"{top}.{sub}" for sub in SUB_CATEGORIES.get(top, ()))]


DECISION_FIELDS = ("category", "decision_type", "effective_date", "summary", "source_ref")


def _own_decisions(view: dict[str, Any] | None, agency: str) -> list[dict[str, Any]]:
    """The agency's own decisions still in force: the ones it may correct or retract."""
    decisions = (view or {}).get("decisions") or []
    return [d for d in decisions if d["agency"] == agency and d["status"] == "active"]


def _agency_page(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    participant_id: UUID,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    missing: dict[str, str] | None = None,
    failed: str | None = None,
    emergency_opened: bool = False,
) -> Response:
    """Myndighetsvy: exactly what the door shows the caller's agency (one log entry), the decision form, and a
    rättelse and a makulering form per own decision in force; the nödåtkomst form, and while the caller's
    emergency access is open a notice with its end and reason (docs/emergency.md)."""
    try:
        view: dict[str, Any] | None = ctx.reads.view(caller, participant_id)
    except NotPermitted:
        if caller.role != Role.HANDLAGGARE:
            raise
        view = None  # the agency may see nothing now; it may still record its own decision
    today = local_date(ctx.service.clock())
    agency = caller.agency.value
    own = caller.role == Role.HANDLAGGARE and caller.agency in AGENCIES
    mine = _own_decisions(view, agency) if own else []
    longest = ctx.settings.emergency_access_minutes
    emergency = (view or {}).get("emergency_access")
    if emergency is not None:
        until = words.moment(emergency["until"])  # 14:35 today, 2026-11-26 00:15 on another day
        emergency = {
            "until": until.removeprefix(f"{today.isoformat()} "),
            "reason": EMERGENCY_REASONS.get(emergency["reason"], emergency["reason"]),
        }
    defaults: dict[str, Any] = {"effective_date": today.isoformat(), "emergency-minutes": str(longest)}
    for d in mine:
        prefix = f"fix-{d['id']}-"
        defaults |= {
            prefix + "category": d["category"],
            prefix + "decision_type": d["decision_type"],
            prefix + "effective_date": words.day(d["effective_date"]),
            prefix + "summary": d["summary"] or "",
        }
    return render(
        request,
        "agency_view.html",
        status,
        participant_id=participant_id,
        view=view,
        agency=agency,
        own=own,
        mine=mine,
        categories=_own_categories(agency) if own else [],
        decision_types=list(DECISION_TYPES.get(OWN_CATEGORY[caller.agency], {})) if own else [],
        values=defaults | (values or {}),
        errors=errors or {},
        missing=missing,
        failed=failed,
        emergency=emergency,
        emergency_opened=emergency_opened,
        emergency_reasons=list(EMERGENCY_REASONS.items()),
        emergency_minutes=[(str(m), f"{m} minuter") for m in _emergency_minutes(longest)],
        emergency_note_min=EMERGENCY_NOTE_MIN_LENGTH,
    )


@router.get("/myndighetsvy/{participant_id}")
def agency_view(request: Request, participant_id: UUID, caller: WebCaller, ctx: Ctx) -> Response:
    # `?nodatkomst=oppnad` (a code, set by the nödåtkomst form's redirect) lets the page say that an emergency
    # access was opened even when a block (spärr) still leaves nothing to show.
    opened = request.query_params.get("nodatkomst") == "oppnad"
    return _agency_page(request, caller, ctx, participant_id, emergency_opened=opened)


def _decision_form(
    request: Request, form: FormData, caller: Caller, ctx: Ctx, participant_id: UUID, corrects: UUID | None
) -> Response:
    """A new decision or a rättelse of an own one (the same fields, prefixed `fix-{id}-` for a rättelse), through
    `adapters.recording.record_decision` and the gate (a refusal is logged without content)."""
    require_role(caller, Role.HANDLAGGARE)
    prefix = "" if corrects is None else f"fix-{corrects}-"
    values = {prefix + name: text(form, prefix + name) for name in DECISION_FIELDS}

    def value(name: str) -> str:
        return values[prefix + name]

    errors = Errors()
    if value("category") not in _own_categories(caller.agency.value):
        errors.add(prefix + "category", "Välj en av er myndighets egna kategorier.")
    if value("decision_type") not in DECISION_TYPES.get(OWN_CATEGORY[caller.agency], {}):
        errors.add(prefix + "decision_type", "Välj beslutstyp.")
    effective = parse_day(form, prefix + "effective_date", errors, "beslutsdatum")
    if not value("summary"):
        errors.add(prefix + "summary", "Skriv en kort sammanfattning av beslutet.")
    if not value("source_ref"):
        errors.add(prefix + "source_ref", "Skriv beslutets referens i ert eget system.")
    missing = None
    if not errors and effective is not None:
        try:
            outcome = record_decision(
                ctx.service,
                ctx.log,
                caller,
                participant_id,
                category=value("category"),
                decision_type=value("decision_type"),
                effective_date=effective,
                summary=value("summary"),
                source_ref=value("source_ref"),
                corrects=corrects,
            )
        except ConsentRequired as refused:
            grant = refused.missing
            missing = {"from": grant.discloser.value, "to": grant.recipient.value, "category": grant.category}
        except InvalidCommand as invalid:
            field = invalid.field if invalid.field in DECISION_FIELDS else "summary"
            errors.add(prefix + field, "Kontrollera uppgiften.")
        else:
            if corrects is None or outcome.created:
                return RedirectResponse(f"/myndighetsvy/{participant_id}", status_code=303)
            errors.add(
                prefix + "source_ref",
                "Den referensen är redan registrerad för ett beslut. En rättelse får en ny referens i ert system.",
            )
    failed = None if corrects is None else f"fix-{corrects}"
    return _agency_page(request, caller, ctx, participant_id, 400, values, errors.fields, missing, failed)


@router.post("/myndighetsvy/{participant_id}/beslut")
def agency_decision(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Registrerar myndighetens eget beslut, genom grinden (en vägran loggas utan innehåll)."""
    return _decision_form(request, form, caller, ctx, participant_id, None)


@router.post("/myndighetsvy/{participant_id}/beslut/{decision_id}/rattelse")
def correct_decision(
    request: Request, participant_id: UUID, decision_id: UUID, form: Form, caller: WebCaller, ctx: Ctx
) -> Response:
    """Rättar myndighetens eget gällande beslut: en ny version med egen referens; den gamla markeras rättad."""
    return _decision_form(request, form, caller, ctx, participant_id, decision_id)


@router.post("/myndighetsvy/{participant_id}/beslut/{decision_id}/makulering")
def retract_decision(
    request: Request, participant_id: UUID, decision_id: UUID, form: Form, caller: WebCaller, ctx: Ctx
) -> Response:
    """Makulerar myndighetens eget gällande beslut, med skäl (beslutet finns kvar i historiken, som återtaget)."""
    require_role(caller, Role.HANDLAGGARE)
    field = f"retract-{decision_id}-reason"
    values = {field: text(form, field)}
    errors = Errors()
    if not values[field]:
        errors.add(field, "Skriv varför beslutet makuleras.")
    else:
        try:
            ctx.service.retract_decision(
                participant_id, decision_id, by=caller.user_id, agency=caller.agency.value, reason=values[field]
            )
        except InvalidCommand:
            errors.add(field, "Skälet är för långt: skriv det kortare (högst 2000 tecken).")
        else:
            return RedirectResponse(f"/myndighetsvy/{participant_id}", status_code=303)
    failed = f"retract-{decision_id}"
    return _agency_page(request, caller, ctx, participant_id, 400, values, errors.fields, failed=failed)


EMERGENCY_FIELDS = ("emergency-reason", "emergency-note", "emergency-minutes")
EMERGENCY_WINDOWS = (15, 30, 60)  # minutes a handläggare may choose, up to the setting (its default)
EMERGENCY_NOTE_MAX = 2_000


def _emergency_minutes(longest: int) -> list[int]:
    """The windows offered in *Tid*: the usual ones no longer than the setting, and the setting itself."""
    return sorted({m for m in EMERGENCY_WINDOWS if m <= longest} | {longest})


@router.post("/myndighetsvy/{participant_id}/nodatkomst")
def emergency_access(request: Request, participant_id: UUID, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Nödåtkomst: opens the other parties' information to this handläggare alone for a short window, through
    `adapters.recording.open_emergency_access` (the opening, or the refused attempt, is logged there; the note is
    sealed, never logged). An attempt without a reason or a note goes to the service too, so that it is logged as
    refused, then the form comes back with the errors beside the fields and the input kept."""
    require_role(caller, Role.HANDLAGGARE)
    values = {name: text(form, name) for name in EMERGENCY_FIELDS}
    errors = Errors()
    reason = values["emergency-reason"].lower()
    if reason not in EMERGENCY_REASONS:
        errors.add("emergency-reason", "Välj skälet till nödåtkomsten.")
        values["emergency-reason"] = ""  # only a code from the list is shown again
    note = values["emergency-note"]
    if len(note) < EMERGENCY_NOTE_MIN_LENGTH:
        shortest = EMERGENCY_NOTE_MIN_LENGTH
        errors.add("emergency-note", f"Skriv varför uppgifterna behövs nu, med minst {shortest} tecken.")
    elif len(note) > EMERGENCY_NOTE_MAX:
        errors.add("emergency-note", f"Skriv kortare: högst {EMERGENCY_NOTE_MAX} tecken.")
    longest = ctx.settings.emergency_access_minutes
    minutes = values["emergency-minutes"]
    windows = {str(m): m for m in _emergency_minutes(longest)}
    if minutes not in windows:
        # A malformed request (the select offers only these): refused before the service, like the API's 422.
        errors.add("emergency-minutes", "Välj hur länge nödåtkomsten ska gälla.")
        values["emergency-minutes"] = str(longest)
    else:
        try:
            open_emergency_access(
                ctx.service,
                ctx.log,
                caller,
                participant_id,
                reason=reason or None,
                note=note or None,
                minutes=windows[minutes],
            )
        except InvalidCommand as invalid:
            field = f"emergency-{invalid.field}"
            errors.add(field if field in EMERGENCY_FIELDS else "emergency-note", "Kontrollera uppgiften.")
        else:
            return RedirectResponse(f"/myndighetsvy/{participant_id}?nodatkomst=oppnad", status_code=303)
    return _agency_page(request, caller, ctx, participant_id, 400, values, errors.fields, failed="nodatkomst")


# -- Statistik ---------------------------------------------------------------------------------------------------


def _period(request: Request, ctx: Ctx, errors: Errors) -> tuple[date, date]:
    today = local_date(ctx.service.clock())
    query = request.query_params
    period: dict[str, date] = {"fran": date(today.year, 1, 1), "till": today}
    for name, label in (("fran", "från"), ("till", "till")):
        given = (query.get(name) or "").strip()
        if given:
            try:
                period[name] = strict_day(given)
            except OutOfBounds:
                errors.add(name, DAY_BOUNDS)
            except ValueError:
                errors.add(name, f"Skriv {label}-datumet som ÅÅÅÅ-MM-DD.")
    if not errors and period["fran"] > period["till"]:
        errors.add("fran", "Från-datumet får inte vara efter till-datumet.")
    return period["fran"], period["till"]


CHART = {"width": 720, "label_w": 200, "value_w": 110, "bar_h": 18, "gap": 3, "group_gap": 14, "legend_h": 24}
CHART_MAX_BARS = 40  # more than this and the chart shows each row's total (the table keeps every cell)
SERIES = 6  # colours in web.css, .bar-0 to .bar-5


def _chart(number: int, name: str, table: figures.Table) -> dict[str, Any]:
    """A horizontal bar chart of a table, drawn on the server: a bar per cell grouped by row (or each row's total
    when the table is large); a suppressed number is a hatched mark labelled `..`, never a zero-length bar."""
    rows = [r for r in table.rows if any(table.cells[(r, c)] != 0 for c in table.columns)]
    columns = [c for c in table.columns if any(table.cells[(r, c)] != 0 for r in table.rows)]
    by_total = len(rows) * len(columns) > CHART_MAX_BARS
    series = ["total"] if by_total else columns

    def value(row: str, column: str) -> int | None:
        return table.row_totals[row] if by_total else table.cells[(row, column)]

    known = [v for r in rows for c in series if (v := value(r, c)) is not None]
    scale = (CHART["width"] - CHART["label_w"] - CHART["value_w"]) / max([*known, 1])
    legend, x = [], 0
    legend_rows = 1
    for j, column in enumerate(series):
        label = words.word(words.CODES, column)
        step = 34 + 8 * len(label)
        if x + step > CHART["width"]:
            x, legend_rows = 0, legend_rows + 1
        legend += [{"x": x, "y": (legend_rows - 1) * CHART["legend_h"], "series": j % SERIES, "label": label}]
        x += step
    y = legend_rows * CHART["legend_h"] + 10
    groups, bars = [], []
    for row in rows:
        group_h = len(series) * (CHART["bar_h"] + CHART["gap"]) - CHART["gap"]
        groups += [{"label": words.word(words.CODES, row), "y": y + group_h / 2}]
        for j, column in enumerate(series):
            v = value(row, column)
            bars += [{"y": y, "width": 0 if v is None else round(v * scale, 1), "value": v, "series": j % SERIES}]
            y += CHART["bar_h"] + CHART["gap"]
        y += CHART["group_gap"]
    axes = f"{words.word(words.CODES, table.row_label)} och {words.word(words.CODES, table.column_label)}"
    what = f"totalt per {words.word(words.CODES, table.row_label)}" if by_total else axes
    return {
        **CHART,
        "id": f"diagram-{number}",
        "height": max(y, legend_rows * CHART["legend_h"] + 20),
        "legend": legend,
        "groups": groups,
        "bars": bars,
        "title": f"Stapeldiagram: {words.word(words.TABLES, name)}, {what}. Streckade rutor märkta "
        f"{figures.SUPPRESSED} är skyddade uppgifter. Siffrorna står i tabellen under diagrammet.",
        "empty": not rows,
    }


@router.get("/statistik")
def statistics(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    """Statistik: the follow-up tables with suppressed cells as `..`, and a CSV for Excel."""
    errors = Errors()
    since, until = _period(request, ctx, errors)
    values = {"fran": request.query_params.get("fran") or since.isoformat()}
    values["till"] = request.query_params.get("till") or until.isoformat()
    values |= {name: "" for name in errors.fields if name in values}  # what was wrong is not shown back
    if errors:
        return render(request, "statistics.html", 400, tables={}, values=values, errors=errors.fields)
    tables = ctx.reads.statistics(caller, since, until)
    return render(
        request,
        "statistics.html",
        tables=tables,
        charts={name: _chart(n, name, table) for n, (name, table) in enumerate(tables.items())},
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


LOG_ROWS_MAX = 500  # rows on the page; the download carries every matching entry
LOG_SEARCH = ("deltagare", "part", "anvandare", "fran", "till")
USER_ID = re.compile(r"[A-Za-z0-9._@:+-]{1,200}")


def _log_filter(request: Request, errors: Errors) -> tuple[LogFilter, dict[str, str]]:
    """The log search's filters from the query string: a participant's UUID, a party's code, a user id, dates
    (and `till_nr`, the last seq a download covers). What is not a code, UUID or date is refused, never echoed."""
    query = request.query_params
    values = {name: (query.get(name) or "").strip() for name in LOG_SEARCH}
    participant: UUID | None = None
    if values["deltagare"]:
        try:
            participant = UUID(values["deltagare"])
        except ValueError:
            errors.add("deltagare", "Skriv deltagarens id (ett UUID, som i adressen till Deltagare).")
            values["deltagare"] = ""
    if values["part"] and values["part"] not in PARTY_CODES:
        errors.add("part", "Välj en part i listan.")
        values["part"] = ""
    if values["anvandare"] and not USER_ID.fullmatch(values["anvandare"]):
        errors.add("anvandare", "Skriv användarens id som det står i loggen, till exempel handlaggare-fk.")
        values["anvandare"] = ""
    bounds: dict[str, datetime | None] = {"fran": None, "till": None}
    for name, label in (("fran", "från"), ("till", "till")):
        if values[name]:
            try:
                given = strict_day(values[name])
            except ValueError as wrong:
                errors.add(
                    name, DAY_BOUNDS if isinstance(wrong, OutOfBounds) else f"Skriv {label}-datumet som ÅÅÅÅ-MM-DD."
                )
                values[name] = ""
                continue
            # från: the start of that day in Sweden; till: the whole day included (up to the next midnight).
            start = given if name == "fran" else given + timedelta(days=1)
            bounds[name] = datetime.combine(start, time.min, tzinfo=words.SWEDEN)
    if bounds["fran"] and bounds["till"] and bounds["fran"] >= bounds["till"]:
        errors.add("fran", "Från-datumet får inte vara efter till-datumet.")
    until_seq: int | None = None
    if query.get("till_nr"):
        try:
            until_seq = parse_whole_number(query["till_nr"], MAX_SEQ)
        except ValueError:
            errors.add("till_nr", "Numret på den sista posten måste vara ett heltal. Gör om sökningen.")
    where = LogFilter(
        participant_id=participant,
        agency=values["part"] or None,
        user_id=values["anvandare"] or None,
        since=bounds["fran"],
        until=bounds["till"],
        until_seq=until_seq,
    )
    return where, values


@router.get("/granskning")
def audit(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    """Granskning: search the log (GET, codes, UUIDs and dates only; one export's log entry per search), verify
    it, download a search's export with its signed manifest."""
    if caller.role != Role.GRANSKARE:
        raise PageRefused
    searched = any(name in request.query_params for name in LOG_SEARCH)
    errors = Errors()
    where, values = _log_filter(request, errors)
    if not searched or errors:
        status = 400 if errors else 200
        return render(request, "audit.html", status, result=None, values=values, errors=errors.fields, found=None)
    exported = ctx.reads.export(caller, where, "jsonl")
    shown: deque[dict[str, Any]] = deque(maxlen=LOG_ROWS_MAX)
    count = 0
    for entry in exported.entries:
        shown += [entry]
        count += 1
    kept = {k: v for k, v in values.items() if v} | {"till_nr": str(exported.last_seq)}
    query = urlencode(kept)
    found = {
        "entries": list(shown),
        "count": count,
        "last_seq": exported.last_seq,
        "export": f"/granskning/export.jsonl?{query}",
        "manifest": f"/granskning/manifest.json?{query}",
    }
    return render(request, "audit.html", result=None, values=values, errors={}, found=found, rows_max=LOG_ROWS_MAX)


@router.post("/granskning/kontroll")
def verify(request: Request, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Checks the whole live log (logged by the door) and shows the result."""
    result = ctx.reads.verify(caller)
    return render(request, "audit.html", result=result, values={}, errors={}, found=None)


@router.get("/granskning/export.jsonl")
def export(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    """The matching entries as JSON lines, up to `till_nr` when given (the export is logged first and, without
    `till_nr`, covers its own entry); no filter: the whole log."""
    errors = Errors()
    where, _ = _log_filter(request, errors)
    if errors:
        return error_page(request, 400, "Fel sökning", "Sökningen har ett fel. Gör om den på sidan Granskning.")
    exported = ctx.reads.export(caller, where, "jsonl")
    return StreamingResponse(
        exported.lines,
        media_type="application/x-ndjson",
        headers={
            "X-Samverkan-Until-Seq": str(exported.last_seq),
            "Content-Disposition": f'attachment; filename="utlamnandelogg-{exported.last_seq}.jsonl"',
        },
    )


@router.get("/granskning/manifest.json")
def manifest(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    """The signed manifest of the export with the same filters and `till_nr` (count, first and last entry, the
    export's SHA-256, an Ed25519 signature)."""
    errors = Errors()
    where, _ = _log_filter(request, errors)
    if errors:
        return error_page(request, 400, "Fel sökning", "Sökningen har ett fel. Gör om den på sidan Granskning.")
    signed = ctx.reads.manifest(caller, where, "jsonl")
    last = where.until_seq if where.until_seq is not None else signed.get("last_seq")
    return Response(
        json.dumps(signed, ensure_ascii=False, indent=2, default=str),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="utlamnandelogg-{last}.manifest.json"'},
    )


# -- Granskning: the review queue (granskningskö, docs/review.md) -------------------------------------------------


REVIEW_QUERY = ("fran", "till", "stickprov", "fro")
REVIEW_SAMPLE = 20
REVIEW_SAMPLE_MAX = 1_000
REVIEW_SEED_MAX = 2**62
REVIEW_COMMENT_MAX = 2_000
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")
REVIEW_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
ReviewQuery = tuple[datetime, datetime, int, int | None]


def _given(source: Any) -> dict[str, str]:
    """The queue's parameters from a query string or a form: only these four names are read."""
    return {name: str(source.get(name) or "").strip() for name in REVIEW_QUERY}


def _review_query(given: dict[str, str], today: date, errors: Errors) -> tuple[dict[str, str], ReviewQuery | None]:
    """The queue's period (dates, whole Swedish days, `till` included), sample size and seed; without a period the
    month before this one. What is not a date or a whole number is an error beside its field, never echoed."""
    values = dict(given)
    if not values["fran"] and not values["till"]:
        end_of_last_month = today.replace(day=1) - timedelta(days=1)
        values["fran"], values["till"] = end_of_last_month.replace(day=1).isoformat(), end_of_last_month.isoformat()
    bounds: dict[str, datetime] = {}
    for name, label in (("fran", "från"), ("till", "till")):
        try:
            if not ISO_DAY.fullmatch(values[name]):
                raise ValueError(name)
            bounds[name] = period_bound(values[name], end=name == "till")
        except ValueError:
            errors.add(name, f"Skriv {label}-datumet som ÅÅÅÅ-MM-DD, till exempel 2026-11-01.")
            values[name] = ""
    if len(bounds) == 2 and bounds["till"] <= bounds["fran"]:  # noqa: PLR2004 - both dates given
        errors.add("fran", "Från-datumet får inte vara efter till-datumet.")
    size = REVIEW_SAMPLE
    if values["stickprov"]:
        if WHOLE_NUMBER.fullmatch(values["stickprov"]) and int(values["stickprov"]) <= REVIEW_SAMPLE_MAX:
            size = int(values["stickprov"])
        else:
            errors.add("stickprov", f"Skriv stickprovets storlek som ett heltal från 0 till {REVIEW_SAMPLE_MAX}.")
            values["stickprov"] = ""
    else:
        values["stickprov"] = str(size)
    seed = None
    if values["fro"]:
        if WHOLE_NUMBER.fullmatch(values["fro"]) and int(values["fro"]) <= REVIEW_SEED_MAX:
            seed = int(values["fro"])
        else:
            errors.add("fro", "Skriv fröet som ett heltal, till exempel 12345, eller lämna fältet tomt.")
            values["fro"] = ""
    if errors:
        return values, None
    return values, (bounds["fran"], bounds["till"], size, seed)


def _flag_text(flag: dict[str, Any]) -> str:
    """A rule's flag in Swedish, with what it found (docs/review.md, "The rules")."""
    rule = flag["rule"]
    label = words.word(words.REVIEW_FLAGS, rule)
    if rule == "off-hours":
        return f"{label}: {words.word(words.OFF_HOURS_WHY, flag.get('why'))}"
    if rule == "many-participants":
        return f"{label}: {flag.get('participants')} på {flag.get('minutes')} minuter"
    if rule == "consent-ending":
        return f"{label}: {words.word(words.CONSENT_ENDS, flag.get('how'))} {words.moment(flag.get('at'))}"
    return label


def _review_row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        "kind_text": words.word(words.LOG_KINDS, item["kind"]),
        "refused": item.get("outcome") == "refused" and item["kind"] != "view-refused",
        "flag_texts": [_flag_text(flag) for flag in item["flags"]],
        "flag_rules": " ".join(flag["rule"] for flag in item["flags"]),
        "short_id": (item.get("participant_id") or "")[:8],
    }


def _review_page(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    given: dict[str, str],
    status: int = 200,
    marked: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    failed: int | None = None,
) -> Response:
    """Granskningskö: the queue drawn through the door (one `review` entry), a table with a small form per entry
    to mark it reviewed, and the seed used, so the same sample can be drawn again."""
    wrong = Errors()
    values, parsed = _review_query(given, local_date(ctx.service.clock()), wrong)
    if parsed is None:
        return render(request, "review.html", 400, queue=None, values=values, errors=wrong.fields)
    since, until, size, seed = parsed
    queue = ctx.reads.review(caller, since, until, size, seed)
    kept = {"fran": values["fran"], "till": values["till"], "stickprov": str(size), "fro": str(queue["seed"])}
    rows = [_review_row(item) for item in queue["entries"]]
    current = {f"granska-{r['seq']}-outcome": (r["review"] or {}).get("outcome") or "" for r in rows}
    return render(
        request,
        "review.html",
        status,
        queue=queue,
        rows=rows,
        kept=kept,
        query=urlencode(kept),
        counts={
            "sampled": sum(1 for r in rows if r["sampled"]),
            "flagged": sum(1 for r in rows if r["flags"]),
            "reviewed": sum(1 for r in rows if r["review"]),
        },
        values=values | current | (marked or {}),
        errors=errors or {},
        failed=failed,
    )


@router.get("/granskning/ko")
def review_queue(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    """Granskningskö: a GET form (dates and numbers only); the queue once a period is given (one log entry)."""
    given = _given(request.query_params)
    if not any(name in request.query_params for name in REVIEW_QUERY):
        if caller.role != Role.GRANSKARE:
            raise PageRefused
        values, _ = _review_query(given, local_date(ctx.service.clock()), Errors())
        return render(request, "review.html", queue=None, values=values, errors={})  # the empty form reads nothing
    return _review_page(request, caller, ctx, given)


@router.post("/granskning/granska/{seq}")
def review_mark(request: Request, seq: int, form: Form, caller: WebCaller, ctx: Ctx) -> Response:
    """Marks log entry `seq` reviewed through `adapters.recording.mark_reviewed` (a `review-mark` entry, the
    comment sealed under the participant's key), then back to the same queue: the same period and seed."""
    require_role(caller, Role.GRANSKARE)
    if not 1 <= seq <= REVIEW_SEED_MAX:
        raise NotFound("no log entry with this seq")
    given = _given(form)
    errors = Errors()
    values, parsed = _review_query(given, local_date(ctx.service.clock()), errors)
    if parsed is None:
        return error_page(
            request,
            400,
            "Granskningskön kunde inte visas",
            "Perioden, stickprovet eller fröet hade ett fel, så ingenting sparades. Öppna granskningskön igen.",
        )
    outcome, comment = f"granska-{seq}-outcome", f"granska-{seq}-comment"
    marked = {outcome: text(form, outcome), comment: text(form, comment)}
    if marked[outcome] not in REVIEW_OUTCOMES:
        errors.add(outcome, "Välj en bedömning.")
        marked[outcome] = ""
    if len(marked[comment]) > REVIEW_COMMENT_MAX:
        errors.add(comment, f"Skriv kommentaren kortare: högst {REVIEW_COMMENT_MAX} tecken.")
    elif marked[comment] and text_problem(marked[comment], several_lines=True):
        errors.add(comment, "Skriv kommentaren med synlig text, eller lämna fältet tomt.")
    if not errors:
        try:
            mark_reviewed(ctx.service, ctx.log, caller, seq, outcome=marked[outcome], comment=marked[comment] or None)
        except InvalidCommand as invalid:
            if invalid.field != "comment":
                only = "Bara läsningar av en deltagare och nödåtkomster granskas."
                return error_page(request, 400, "Posten kan inte granskas", only)
            errors.add(comment, "Posten gäller ingen enskild deltagare och tar ingen kommentar. Spara utan kommentar.")
        except Conflict:
            errors.add(comment, "Deltagarens personuppgifter är raderade. Spara bedömningen utan kommentar.")
        else:
            size, seed = parsed[2], parsed[3]
            kept = {"fran": values["fran"], "till": values["till"], "stickprov": str(size)}
            kept |= {} if seed is None else {"fro": str(seed)}
            return RedirectResponse(f"/granskning/ko?{urlencode(kept)}#nr-{seq}", status_code=303)
    return _review_page(request, caller, ctx, given, 400, marked, errors.fields, failed=seq)


def _review_download(request: Request, caller: Caller, ctx: Ctx, fmt: str) -> Response:
    """The queue as CSV or JSON Lines (`adapters.review.review_lines`, as the API gives it); one log entry."""
    _, parsed = _review_query(_given(request.query_params), local_date(ctx.service.clock()), Errors())
    if parsed is None:
        return error_page(request, 400, "Fel period", "Ange perioden som ÅÅÅÅ-MM-DD och stickprov och frö som heltal.")
    queue = ctx.reads.review(caller, *parsed)
    return StreamingResponse(
        review_lines(queue, fmt),
        media_type=REVIEW_MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="granskning-{queue["seed"]}.{fmt}"',
            "X-Samverkan-Seed": str(queue["seed"]),
        },
    )


@router.get("/granskning/ko.csv")
def review_csv(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    return _review_download(request, caller, ctx, "csv")


@router.get("/granskning/ko.jsonl")
def review_jsonl(request: Request, caller: WebCaller, ctx: Ctx) -> Response:
    return _review_download(request, caller, ctx, "jsonl")
