"""Gallring: erasing personal data when its retention rule has run out (docs/retention.md).

Each party's information in a closed case is kept for that party's number of years after its last entry
(SAMVERKAN_RETENTION_YEARS_*). When a party's time is up, its own information is erased by deleting its key for the
participant (PartyDataErased); once every party's time is up, the whole participant's personal data goes
(PersonalDataErased), identity and consents with it. Open cases are never thinned: they are listed as held. Every
erasure goes through adapters/recording.py: the event, one disclosure-log entry (kind erasure, reason gallring,
the party), then the key; a run finishes erasures an earlier run was stopped in the middle of, so running it again
after a kill is safe, and a second run erases nothing more. The disclosure log itself is kept whole.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import typer
from eventsourcing.application import project_aggregate
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from adapters.access import Caller
from adapters.auth import Role
from adapters.disclosure_log import DisclosureLog
from adapters.importing import OPEN_ERRORS, STORAGE_ERRORS
from adapters.recording import erase_personal_data
from adapters.settings import Settings, SettingsError
from adapters.storage import Storage, open_storage
from consent import Party, local_date
from coordination import GALLRING, Case, CoordinationService, DomainError
from projections import enrolled_case_ids

WHOLE = "whole participant"
# What the run does with an item of its list.
ERASE = "erase"  # the rule has run out: erase (the party's information, or the whole participant's)
FINISH = "finish"  # an erasure recorded earlier whose key is still there (a run was stopped): finish it
HELD = "held"  # the rule has run out but the case is open: never thinned, close the case first
PARTY_ORDER = list(Party)


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class RetentionRules:
    """Years each party's information is kept after that party's last entry in a closed case."""

    years: Mapping[Party, int]

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionRules:
        return cls(
            {
                Party.FK: settings.retention_years_fk,
                Party.AF: settings.retention_years_af,
                Party.REGION: settings.retention_years_region,
                Party.KOMMUN: settings.retention_years_kommun,
                Party.SF: settings.retention_years_sf,
            }
        )

    def due(self, party: Party, last_entry: date) -> date:
        """The day the party's information is due for erasure."""
        return add_years(last_entry, self.years[party])

    def describe(self, party: Party) -> str:
        return f"{party.value} {self.years[party]} years after its last entry"


@dataclass(frozen=True)
class Item:
    """One line of the run's list: which participant, whose information, why, and what became of it."""

    participant_id: UUID
    party: Party | None  # None: the whole participant
    action: str  # ERASE, FINISH or HELD
    rule: str
    last_entry: date | None
    due: date | None
    outcome: str = ""  # would erase | erased | finished | held: case open | failed: <error kind>

    def as_dict(self) -> dict[str, Any]:
        return {
            "participant_id": str(self.participant_id),
            "scope": WHOLE if self.party is None else self.party.value,
            "action": self.action,
            "rule": self.rule,
            "last_entry": None if self.last_entry is None else self.last_entry.isoformat(),
            "due": None if self.due is None else self.due.isoformat(),
            "outcome": self.outcome,
        }


@dataclass
class Report:
    """What a run found and did: its list and the counts."""

    as_of: date
    dry_run: bool
    items: list[Item] = field(default_factory=list)
    scanned: int = 0
    erased_before: int = 0  # participants whose whole erasure was complete before this run
    log_entries: int = 0  # the disclosure log's length after the run: kept whole
    log_retention_years: int = 5
    wal_truncated: bool | None = None  # SQLite: the write-ahead log holding the deleted keys' old pages emptied

    def counts(self) -> dict[str, Any]:
        def count(action: str, whole: bool) -> int:  # done (or, in a dry run, to do); failures apart
            return sum(
                1
                for i in self.items
                if i.action == action and (i.party is None) == whole and not i.outcome.startswith("failed")
            )

        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "participants_scanned": self.scanned,
            "whole_participants": count(ERASE, whole=True),
            "parties": count(ERASE, whole=False),
            "interrupted_finished": count(FINISH, whole=True) + count(FINISH, whole=False),
            "held_open_cases": len({i.participant_id for i in self.items if i.action == HELD}),
            "failed": sum(1 for i in self.items if i.outcome.startswith("failed")),
            "already_erased_before": self.erased_before,
            "disclosure_log": {
                "kept_whole": True,
                "entries": self.log_entries,
                "retention_years_at_least": self.log_retention_years,
            },
            "sqlite_wal_truncated": self.wal_truncated,
        }


# -- what is due ------------------------------------------------------------------------------------------------


def last_entries(case: Case, events: Iterable[Any]) -> dict[Party, datetime]:
    """When each party last wrote to the case ("sista anteckningen"): an agency by its decisions, corrections,
    retractions, blocks and emergency accesses; the förbund (SF) by everything else: enrolment, referral, consents,
    plans, insatser, meetings, closure. Erasures are not entries."""
    last: dict[Party, datetime] = {}
    for event in events:
        party = _author(event, case)
        if party is not None and (party not in last or event.timestamp > last[party]):
            last[party] = event.timestamp
    return last


def _author(event: Any, case: Case) -> Party | None:
    kind = type(event).__name__
    if kind in ("PersonalDataErased", "PartyDataErased"):
        return None
    if kind in ("DecisionRecorded", "DecisionCorrected"):
        return Party(event.agency)
    if kind == "DecisionRetracted":
        decision = case.decisions.get(event.decision_id)
        return Party.SF if decision is None else decision.agency
    if kind == "BlockPlaced":
        return Party(event.discloser)
    if kind == "BlockLifted":
        block = case.blocks.get(event.block_id)
        return Party.SF if block is None else block.discloser
    reader = getattr(event, "reader", None)
    if kind.startswith("EmergencyAccess") and reader:
        return Party(reader)
    return Party.SF


def assess(
    case: Case, events: Iterable[Any], rules: RetentionRules, as_of: date, key_erased: Callable[[Party | None], bool]
) -> list[Item]:
    """What a run must do for one case on `as_of`: finish an interrupted erasure, erase parties whose time is up
    (or the whole participant once every party's is, in a closed case), or hold an open case."""
    if case.is_erased:
        return [] if key_erased(None) else [Item(case.id, None, FINISH, "interrupted erasure", None, None)]
    items = [
        Item(case.id, party, FINISH, "interrupted erasure", None, None)
        for party in sorted(case.party_erasures, key=PARTY_ORDER.index)
        if not key_erased(party)
    ]
    entries = {p: local_date(at) for p, at in last_entries(case, events).items()}
    due = {p: rules.due(p, day) for p, day in entries.items()}
    waiting = [p for p in due if p not in case.party_erasures and due[p] > as_of]
    ready = sorted((p for p in due if p not in case.party_erasures and due[p] <= as_of), key=PARTY_ORDER.index)
    if not case.is_closed:
        return items + [Item(case.id, p, HELD, rules.describe(p), entries[p], due[p]) for p in ready]
    if not waiting:  # every party's time is up (or its information already erased): the whole participant goes
        latest = max(due, key=lambda p: due[p])
        rule = "every party's rule ran out: " + ", ".join(
            f"{p.value} {rules.years[p]}y" for p in sorted(due, key=PARTY_ORDER.index)
        )
        return [*items, Item(case.id, None, ERASE, rule, entries[latest], due[latest])]
    return items + [Item(case.id, p, ERASE, rules.describe(p), entries[p], due[p]) for p in ready]


# -- the run ----------------------------------------------------------------------------------------------------


def run(
    storage: Storage,
    log: DisclosureLog,
    caller: Caller,
    rules: RetentionRules,
    as_of: date,
    *,
    dry_run: bool,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Goes through every participant ever enrolled, case by case: lists what is due (dry run) or erases it."""
    service = storage.service
    report = Report(as_of, dry_run)
    case_ids = list(enrolled_case_ids(service.recorder))
    for done, case_id in enumerate(case_ids, start=1):
        events = list(service.events.get(case_id))
        case = project_aggregate(None, events)
        if isinstance(case, Case):
            report.scanned += 1
            items = assess(case, events, rules, as_of, lambda party, pid=case_id: storage.vault.key_erased(pid, party))
            if case.is_erased and not items:
                report.erased_before += 1
            report.items += [_carry_out(service, log, caller, item, dry_run) for item in items]
        if progress is not None:
            progress(done, len(case_ids))
    if not dry_run:  # every real run, so one after an admin's erasure empties the WAL of its key too
        report.wal_truncated = _truncate_wal(storage)
    report.log_entries = log.head()[0]
    return report


def _carry_out(service: CoordinationService, log: DisclosureLog, caller: Caller, item: Item, dry_run: bool) -> Item:
    if item.action == HELD:
        return replace(item, outcome="held: case open")
    if dry_run:
        return replace(item, outcome="would finish" if item.action == FINISH else "would erase")
    details = {"rule": item.rule}
    if item.due is not None and item.last_entry is not None:
        details |= {"last_entry": item.last_entry.isoformat(), "due": item.due.isoformat()}
    try:
        erase_personal_data(service, log, caller, item.participant_id, reason=GALLRING, party=item.party, **details)
    except DomainError as error:  # e.g. writers kept colliding on the case (ConcurrencyConflict): run again
        return replace(item, outcome=f"failed: {type(error).__name__}")
    return replace(item, outcome="finished" if item.action == FINISH else "erased")


def _truncate_wal(storage: Storage) -> bool | None:
    """SQLite: checkpoint and empty the write-ahead log, where the deleted keys' pages could linger. False when a
    reader kept it busy (the next checkpoint overwrites it); None on PostgreSQL (docs/retention.md)."""
    path = storage.target.sqlite_path
    if storage.target.engine != "sqlite" or path is None:
        return None
    connection = sqlite3.connect(path, timeout=5)
    try:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.close()
    return bool(busy == 0)


# -- the command ------------------------------------------------------------------------------------------------


def gallring_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be erased and why; change nothing.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Judge due dates on this day (YYYY-MM-DD) instead of today; later days only with --dry-run."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object a line: each item, then the summary.")
    ] = False,
) -> None:
    """Erases personal data whose retention rule has run out (gallring), party by party (docs/retention.md).

    Lists the participant's id, whose information, the rule, the last entry and the due date; never a name.

    Safe to run again, and after a kill: a second run erases nothing more.

    Exit 0: done (with --dry-run: listed). Exit 1: some erasures failed; run again.

    Exit 2: bad arguments, settings or database; nothing was erased.
    """
    errors = Console(stderr=True)
    try:
        settings = Settings()
        settings.keys  # noqa: B018 - fail early, with the message that says what to set
    except (SettingsError, ValueError) as error:
        errors.print(f"[red]Configuration error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        storage = open_storage(settings)
    except OPEN_ERRORS as error:
        errors.print(f"[red]Cannot open the database:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    with storage:
        today = local_date(storage.service.clock())
        try:
            day = today if as_of is None else date.fromisoformat(as_of)
        except ValueError:
            errors.print("[red]--as-of must be a date: YYYY-MM-DD[/red]")
            raise typer.Exit(2) from None
        if day > today and not dry_run:
            errors.print("[red]--as-of after today erases early: use it with --dry-run to plan ahead[/red]")
            raise typer.Exit(2)
        log = DisclosureLog(storage.service.factory.datastore)  # type: ignore[attr-defined]
        caller = Caller(_operator(), Party.SF, Role.ADMIN, f"gallring-{uuid4().hex[:12]}", "drift")
        try:
            with Progress(
                TextColumn("Gallring (provkörning)" if dry_run else "Gallring"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=errors,
            ) as bar:
                task = bar.add_task("gallring", total=None)
                report = run(
                    storage,
                    log,
                    caller,
                    RetentionRules.from_settings(settings),
                    day,
                    dry_run=dry_run,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        except STORAGE_ERRORS as error:
            errors.print(
                f"[red]The database failed during the run[/red] ({type(error).__name__}). Erasures made so far "
                "stay made; run the command again to finish the rest.",
                highlight=False,
            )
            raise typer.Exit(1) from None
    report.log_retention_years = settings.disclosure_log_retention_years
    for line in _lines(report) if as_json else ():
        typer.echo(line)
    if not as_json:
        _print(report)
    if report.counts()["failed"]:
        raise typer.Exit(1)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in some containers
        return "cli:unknown"


def _lines(report: Report) -> Iterator[str]:
    for item in report.items:
        yield json.dumps(item.as_dict())
    yield json.dumps({"summary": report.counts()})


def _print(report: Report) -> None:
    out = Console()
    if not out.is_terminal:  # a cron log: wide enough for whole ids and dates on one line
        out = Console(width=140)
    if report.items:
        table = Table(title=f"Gallring {'(dry run) ' if report.dry_run else ''}as of {report.as_of.isoformat()}")
        table.add_column("participant", no_wrap=True, min_width=36)  # the whole UUID: it is what one acts on
        table.add_column("scope", no_wrap=True)
        table.add_column("rule")
        for column in ("last entry", "due"):
            table.add_column(column, no_wrap=True, min_width=10)
        table.add_column("outcome")
        for item in report.items:
            row = item.as_dict()
            table.add_row(
                row["participant_id"],
                row["scope"],
                row["rule"],
                row["last_entry"] or "-",
                row["due"] or "-",
                row["outcome"],
            )
        out.print(table)
    counts = report.counts()
    summary = Table(title="Summary")
    summary.add_column("what")
    summary.add_column("count", justify="right")
    verb = "to erase" if report.dry_run else "erased"
    for label, value in [
        ("participants scanned", counts["participants_scanned"]),
        (f"whole participants {verb}", counts["whole_participants"]),
        (f"parties' information {verb}", counts["parties"]),
        (
            "interrupted erasures finished" if not report.dry_run else "interrupted erasures to finish",
            counts["interrupted_finished"],
        ),
        ("open cases held (rule ran out, case open)", counts["held_open_cases"]),
        ("failed (run again)", counts["failed"]),
        ("participants erased before this run", counts["already_erased_before"]),
        ("disclosure log entries (kept whole)", counts["disclosure_log"]["entries"]),
    ]:
        summary.add_row(label, str(value))
    out.print(summary)
