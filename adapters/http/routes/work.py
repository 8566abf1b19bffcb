"""What the förbund's staff work from: the caseload, a participant's timeline, and the follow-up statistics.
All read from the projections; anything that shows a participant's data is written to the disclosure log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request, Response

from adapters.disclosure_log import Disclosed, EntryDraft
from adapters.http.context import Ctx, Samordnare, StatisticsReader, actor, purpose, request_id
from adapters.http.problems import Problem
from consent import Allowed, Party, local_date, may_see
from projections import statistics as figures
from projections.cases import caseload_entry
from projections.definitions import CASES, FOLLOW_UP, TIMELINE

router = APIRouter(prefix="/api/v1", tags=["work"])
CASELOAD = "caseload"
TIMELINE_READ = "timeline"


@router.get("/caseload")
def caseload(user: Samordnare, ctx: Ctx, request: Request) -> Response:
    """Open cases with their phase and next dates: kartläggning end, next meeting and plan step, missed
    appointments in a row (home visit due after two), consents expiring within 30 days."""
    today = local_date(ctx.service.clock())
    rows = ctx.projections.store.select(CASES, "", '"open" = %s ORDER BY "participant_id"', (1,))
    cases: list[dict[str, Any]] = []
    for row in rows:
        facts = orjson.loads(row["facts"])
        participant_id = UUID(row["participant_id"])
        names = facts.get("names", {})
        entry = caseload_entry(facts, today)
        cases.append(
            {
                "participant_id": str(participant_id),
                "given_name": _open(ctx, participant_id, names.get("given_name")),
                "family_name": _open(ctx, participant_id, names.get("family_name")),
                **entry,
            }
        )
    ctx.log.append_many(
        [
            EntryDraft(
                CASELOAD,
                actor(user),
                request_id(request),
                purpose(request, user),
                participant_id=UUID(case["participant_id"]),
                disclosed=[Disclosed(case["participant_id"], "SF", "coordination", None, None)],
            )
            for case in cases
        ]
    )
    body = {"date": today.isoformat(), "count": len(cases), "cases": cases}
    return Response(orjson.dumps(body), media_type="application/json")


def _open(ctx: Ctx, participant_id: UUID, token: str | None) -> str | None:
    return None if token is None else ctx.storage.vault.unseal(participant_id, token)


@router.get("/participants/{participant_id}/timeline")
def timeline(participant_id: UUID, user: Samordnare, ctx: Ctx, request: Request) -> Response:
    """The participant's case events in order, as codes; an agency's decisions only while the förbund may see
    them under the current consent (the gate decides, as for the view)."""
    case = ctx.service.get_case(participant_id)
    now = ctx.service.clock()
    rows = ctx.projections.store.select(
        TIMELINE, "", '"participant_id" = %s ORDER BY "position"', (str(participant_id),)
    )
    consents = list(case.consents.values())
    shown: list[dict[str, Any]] = []
    disclosed: list[Disclosed] = []
    for row in rows:
        if row["kind"].startswith("Decision"):
            item = _Item(Party(row["agency"]), row["category"], datetime.fromisoformat(row["recorded_at"]))
            verdict = may_see(consents, Party.SF, item, now)
            if not isinstance(verdict, Allowed):
                continue
            ref = verdict.consent
            disclosed.append(
                Disclosed(
                    row["ref_id"],
                    row["agency"],
                    row["category"],
                    None if ref is None else ref.consent_id,
                    None if ref is None else ref.version,
                )
            )
        shown.append({k: row[k] for k in ("position", "recorded_at", "kind", "agency", "category", "ref_id")})
    ctx.log.append(
        EntryDraft(TIMELINE_READ, actor(user), request_id(request), purpose(request, user), participant_id, disclosed)
    )
    body = {"participant_id": str(participant_id), "entries": shown}
    return Response(orjson.dumps(body), media_type="application/json")


class _Item:
    """A timeline decision as the gate sees it."""

    def __init__(self, agency: Party, category: str, recorded_at: Any) -> None:
        self.agency, self.category, self.recorded_at = agency, category, recorded_at


@router.get("/statistics")
def statistics(
    user: StatisticsReader,
    ctx: Ctx,
    since: Annotated[
        date | None, Query(alias="from", description="First day of the period (default: 1 January)")
    ] = None,
    until: Annotated[date | None, Query(alias="to", description="Last day of the period (default: today)")] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",  # noqa: A002
) -> Response:
    """Aggregate follow-up figures for the period; cells under 5 are suppressed (and secondary cells where a
    total would reveal them). Participants without consent are counted by year and gender only."""
    today = local_date(ctx.service.clock())
    period_to = until or today
    period_from = since or date(period_to.year, 1, 1)
    if period_from > period_to:
        raise Problem("validation-error", "from: must not be after to", errors=[{"field": "from"}])
    rows = [
        figures.FollowUpRow(
            participant_id=r["participant_id"],
            start_date=date.fromisoformat(r["start_date"]),
            end_date=None if r["end_date"] is None else date.fromisoformat(r["end_date"]),
            outcome=r["outcome"],
            municipality=r["municipality"],
            gender=r["gender"],
            birth_year=int(r["birth_year"]),
            with_consent=bool(r["with_consent"]),
            support_before=r["support_before"],
            occupation_before=r["occupation_before"],
            education_level=r["education_level"],
            support_after=r["support_after"],
            occupation_after=r["occupation_after"],
        )
        for r in ctx.projections.store.select(FOLLOW_UP, "", '"start_date" <= %s', (period_to.isoformat(),))
    ]
    tables = figures.statistics(rows, period_from=period_from, period_to=period_to, today=today)
    if format == "csv":
        text = "\n".join(f"# {table.title}\n{figures.table_to_csv(table)}" for table in tables.values())
        return Response(text, media_type="text/csv; charset=utf-8")
    body = {
        "from": period_from.isoformat(),
        "to": period_to.isoformat(),
        "suppressed_below": figures.MIN_CELL,
        "tables": {name: figures.table_to_json(table) for name, table in tables.items()},
    }
    return Response(orjson.dumps(body), media_type="application/json")
