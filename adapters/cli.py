"""The `samverkan` command line: entry points only translate to the application service."""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from adapters.access import Caller
from adapters.audit_export import FORMATS, SUFFIXES, format_of, lines, verify_export
from adapters.auth import Role, Unauthenticated, issue_token
from adapters.demo import create_demo_cases
from adapters.disclosure_log import LogFilter
from adapters.importing import import_decisions_command
from adapters.logging import configure_logging
from adapters.projections import projection_runner
from adapters.read_service import open_read_service
from adapters.retention import gallring_command
from adapters.review import period_bound, review_lines
from adapters.settings import SECRET_NAMES, Settings, SettingsError, new_key
from adapters.signing import ManifestSigner
from adapters.storage import DatabaseUrlError, open_storage, parse_database_url
from consent import Party
from projections import cases_by_year_and_gender, enrolled_case_ids

app = typer.Typer(no_args_is_help=True, help="Samverkan: the coordination service for samordningsförbund.")
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.keys  # noqa: B018 - fail early, with the message that says what to set
    except (SettingsError, ValueError) as error:
        console.print(f"[red]Configuration error:[/red] {error}")
        raise typer.Exit(2) from None
    return settings


@app.command()
def keygen() -> None:
    """Prints fresh production secrets as environment lines (store them in your secret store, not in git)."""
    for name in SECRET_NAMES:
        typer.echo(f"SAMVERKAN_{name.upper()}={new_key()}")


@app.command()
def demo(
    participants: Annotated[int, typer.Option(min=1, help="How many synthetic participants to create.")] = 25,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same cases.")] = 2026,
) -> None:
    """Creates synthetic demo cases (fictitious people) through the application service, with a progress bar."""
    configure_logging("WARNING")
    settings = _settings()
    try:
        storage = open_storage(settings)
    except (DatabaseUrlError, OSError) as error:
        console.print(f"[red]Cannot open the database:[/red] {error}")
        raise typer.Exit(2) from None
    with (
        storage,
        Progress(
            TextColumn("Skapar demodeltagare"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as bar,
    ):
        task = bar.add_task("demo", total=participants)
        summary = create_demo_cases(storage.service, participants, seed=seed, progress=lambda n: bar.advance(task, n))
        counts = cases_by_year_and_gender(storage.service)
    table = Table(title=f"Demo data in {storage.target.describe()}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in [
        ("participants enrolled now", summary.participants),
        ("consents recorded", summary.consents),
        ("grants withdrawn", summary.withdrawals),
        ("decisions recorded (gate allowed)", summary.decisions),
        ("decisions refused by the gate (no consent)", summary.refused_decisions),
        ("meetings", summary.meetings),
        ("cases closed", summary.closed),
        ("participants in the database, all years", sum(counts.values())),
    ]:
        table.add_row(label, str(value))
    Console().print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (PostgreSQL; SQLite works best with 1).")] = 1,
    demo_participants: Annotated[
        int, typer.Option(help="Create this many demo participants first when the database has none (0: never).")
    ] = 0,
    print_tokens: Annotated[bool, typer.Option(help="Print a development token per role at start.")] = False,
) -> None:
    """Runs the HTTP API (OpenAPI at /docs). Storage from SAMVERKAN_DATABASE_URL."""
    import uvicorn

    from adapters.http.server import uvicorn_options

    settings = _settings()
    configure_logging(settings.log_level)
    if demo_participants:
        with open_storage(settings) as storage:
            if not any(True for _ in enrolled_case_ids(storage.service.recorder)):
                console.print(f"Skapar {demo_participants} demodeltagare (fiktiva personer) ...")
                create_demo_cases(storage.service, demo_participants)
    url = f"http://{host}:{port}"
    console.print(f"Samverkan lyssnar på {url}  (API-dokumentation: {url}/docs)")
    if print_tokens:
        if settings.token_key is None:
            console.print("[yellow]No development token secret in production: use your identity provider.[/yellow]")
        else:
            hours = min(12, settings.token_max_lifetime_hours)  # never longer than the service accepts
            for sub, agency, role in DEMO_USERS:
                token_text = issue_token(
                    settings.token_key,
                    sub=sub,
                    agency=agency,
                    role=role,
                    ttl=f"{hours}h",
                    operator=settings.operator_agency,
                    max_lifetime=settings.token_max_lifetime,
                )
                console.print(f"[bold]{role} ({agency})[/bold]: {token_text}", soft_wrap=True)
    uvicorn.run(
        "adapters.http.asgi:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        **uvicorn_options(),  # the request head's limits, read before the parser sees the bytes
    )


DEMO_USERS = [
    ("samordnare-demo", "SF", "samordnare"),
    ("handlaggare-fk", "FK", "handlaggare"),
    ("handlaggare-af", "AF", "handlaggare"),
    ("handlaggare-region", "REGION", "handlaggare"),
    ("handlaggare-kommun", "KOMMUN", "handlaggare"),
    ("granskare-demo", "SF", "granskare"),
    ("admin-demo", "SF", "admin"),
]


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="The user's id (a pseudonymous subject, not a name).")],
    agency: Annotated[str, typer.Option(help="FK, AF, REGION, KOMMUN or SF.")],
    role: Annotated[str, typer.Option(help="samordnare, handlaggare, granskare or admin.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    ttl: Annotated[
        str | None,
        typer.Option(help="Lifetime, e.g. 8h, 30m; at most SAMVERKAN_TOKEN_MAX_LIFETIME_HOURS.  [default: 8h]"),
    ] = None,
) -> None:
    """Prints a development bearer token signed with the configured secret."""
    settings = _settings()
    if settings.token_key is None:
        console.print(
            "[red]No development token secret:[/red] set SAMVERKAN_TOKEN_SECRET, or use your identity provider."
        )
        raise typer.Exit(2)
    try:
        text = issue_token(
            settings.token_key,
            sub=sub,
            agency=agency,
            role=role,
            name=name,
            # 8 hours, or the maximum lifetime when that is shorter.
            ttl=ttl or f"{min(8, settings.token_max_lifetime_hours)}h",
            operator=settings.operator_agency,
            max_lifetime=settings.token_max_lifetime,
        )
        typer.echo(text)
    except (Unauthenticated, ValueError) as error:
        console.print(f"[red]Cannot make that token:[/red] {error}")
        raise typer.Exit(2) from None


@app.command()
def migrate(
    service_role: Annotated[
        str | None,
        typer.Option(help="The role the service connects as: may insert into and read the log, nothing more."),
    ] = None,
) -> None:
    """PostgreSQL: creates the disclosure log's tables and triggers as the owner role of SAMVERKAN_DATABASE_URL and
    grants the service role its rights (docs/audit.md, "Database roles"). Run it as the owner, never the service."""
    from adapters.migrate import MigrateError
    from adapters.migrate import migrate as run_migrate

    settings = _settings()
    try:
        schema = run_migrate(settings, service_role)
    except (MigrateError, DatabaseUrlError) as error:
        console.print(f"[red]Cannot migrate:[/red] {error}")
        raise typer.Exit(2) from None
    granted = f"; {service_role} may insert into and read the log" if service_role else ""
    typer.echo(f"migrated schema {schema} of {parse_database_url(settings.database_url).describe()}{granted}")


audit_app = typer.Typer(no_args_is_help=True, help="The disclosure log: export, verify and review.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    file: Annotated[Path | None, typer.Option(help="Verify this exported file instead of the live log.")] = None,
    manifest: Annotated[Path | None, typer.Option(help="The export's manifest (JSON), checked with the file.")] = None,
    public_key: Annotated[
        str | None,
        typer.Option(help="The service's audit public key (base64); default: the one of the configured key."),
    ] = None,
) -> None:
    """Checks the live log (or an exported file): every hash and link. Names the first bad entry; exit 1 if any."""
    if file is not None:
        fmt = format_of(file.name)  # .csv, .ndjson (FHIR, checked against its manifest), otherwise jsonl
        manifest_data = json.loads(manifest.read_text()) if manifest else None
        if manifest_data is not None and public_key is None:
            public_key = ManifestSigner(_settings().audit_key).public_key
        with file.open(encoding="utf-8", newline="") as handle:  # the exact bytes that were hashed
            text = handle.read()
        result = verify_export(text, fmt, manifest_data, public_key)
    else:
        settings = _settings()
        with open_storage(settings) as storage:
            result = open_read_service(storage, settings).verify(_cli_granskare())
    typer.echo(json.dumps(result.as_dict()))
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor() -> None:
    """Signs the log's head with the audit key and writes it as a new anchor file outside the database
    (SAMVERKAN_ANCHOR_DIR; docs/audit.md, "Anchors"); `audit verify` checks the log against every anchor."""
    from adapters.anchors import AnchorError

    settings = _settings()
    with open_storage(settings) as storage:
        anchors = open_read_service(storage, settings).anchors
        assert anchors is not None
        try:
            path, anchor = anchors.anchor()
        except (AnchorError, OSError) as error:
            console.print(f"[red]Cannot write the anchor:[/red] {error}")
            raise typer.Exit(2) from None
    typer.echo(json.dumps({"file": str(path), **anchor}))


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="Folder to write the export and its manifest into.")] = Path("exports"),
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or fhir (FHIR R4 AuditEvents)")] = "jsonl",
    participant: Annotated[str | None, typer.Option(help="Only this participant (UUID).")] = None,
    agency: Annotated[str | None, typer.Option(help="Only users of this agency.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user id.")] = None,
) -> None:
    """Writes the disclosure log (filtered) and a signed manifest, with a progress bar."""
    if fmt not in FORMATS:
        console.print("[red]--format must be jsonl, csv or fhir[/red]")
        raise typer.Exit(2)
    settings = _settings()
    with open_storage(settings) as storage:
        reads = open_read_service(storage, settings)
        caller = _cli_granskare()
        exported = reads.export(caller, LogFilter(UUID(participant) if participant else None, agency, user), fmt)
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"disclosures-{exported.last_seq}.{SUFFIXES[fmt]}"
        with (
            target.open("w", encoding="utf-8", newline="") as handle,
            Progress(
                TextColumn("Exporterar utlämnandeloggen"), BarColumn(), MofNCompleteColumn(), console=console
            ) as bar,
        ):
            task = bar.add_task("export", total=exported.last_seq)
            ticking = _advancing(exported.entries, lambda e: bar.update(task, completed=e["seq"]))
            for line in lines(ticking, fmt, reads.installation):
                handle.write(line)
            bar.update(task, completed=exported.last_seq)
        where = LogFilter(UUID(participant) if participant else None, agency, user, until_seq=exported.last_seq)
        signed = reads.manifest(caller, where, fmt)
        (out / f"{target.name}.manifest.json").write_text(json.dumps(signed, indent=2))
    typer.echo(f"{target} ({signed['count']} entries) and {target.name}.manifest.json")


@audit_app.command("review")
def audit_review(
    since: Annotated[str, typer.Option("--from", help="First day (2026-11-01) or instant with offset.")],
    until: Annotated[str, typer.Option("--to", help="Last day (included) or instant with offset (excluded).")],
    sample: Annotated[int, typer.Option(min=0, max=1_000, help="How many disclosures to draw at random.")] = 20,
    seed: Annotated[int | None, typer.Option(min=0, help="Draws the same sample again (printed at the end).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "csv",
    output: Annotated[Path | None, typer.Option(help="Write the queue to this file (default: the screen).")] = None,
) -> None:
    """The review queue for a period (docs/review.md): a reproducible random sample of disclosures and every
    flagged entry with its rule, as CSV for a spreadsheet or JSON Lines. The review is itself logged."""
    if fmt not in ("jsonl", "csv"):
        console.print("[red]--format must be jsonl or csv[/red]")
        raise typer.Exit(2)
    try:
        start, end = period_bound(since, end=False), period_bound(until, end=True)
    except ValueError as wrong:
        console.print(f"[red]--from/--to: {wrong}[/red]")
        raise typer.Exit(2) from None
    if end <= start:
        console.print("[red]--to must come after --from[/red]")
        raise typer.Exit(2)
    settings = _settings()
    with open_storage(settings) as storage, console.status("Går igenom loggen för perioden"):
        queue = open_read_service(storage, settings).review(_cli_granskare(), start, end, sample, seed)
    text = "".join(review_lines(queue, fmt))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    flagged = sum(1 for item in queue["entries"] if item["flags"])
    console.print(
        f"{queue['count']} entries to review ({flagged} flagged, sample of {sample}); "
        f"seed {queue['seed']} (--seed {queue['seed']} draws the same sample)"
    )


def _cli_granskare() -> Caller:
    """The operator running an audit command, as the log records them."""
    return Caller(f"cli:{getpass.getuser()}", Party.SF, Role.GRANSKARE, "cli", "granskning")


import_app = typer.Typer(no_args_is_help=True, help="Import from agency systems (JSON Lines or CSV).")
app.add_typer(import_app, name="import")
import_app.command("decisions")(import_decisions_command)

# Gallring: erases personal data whose retention rule has run out (adapters/retention.py, docs/retention.md).
app.command("gallring")(gallring_command)

projections_app = typer.Typer(no_args_is_help=True, help="The read models: follow the log, rebuild, status.")
app.add_typer(projections_app, name="projections")


@projections_app.command("run")
def projections_run() -> None:
    """Keeps the projections up to date as a worker of its own (PostgreSQL: woken by NOTIFY; SQLite: polls).
    Stops on Ctrl-C or SIGTERM. Safe beside other runners: batches take turns and commit exactly once."""
    import signal
    import threading

    settings = _settings()
    configure_logging(settings.log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open_storage(settings) as storage:
        runner = projection_runner(storage, settings)
        console.print(f"Följer händelseloggen i {storage.target.describe()} (Ctrl-C avslutar)")
        try:
            runner.run(stop)
        except KeyboardInterrupt:
            stop.set()


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[str | None, typer.Argument(help="timeline or cases (default: all).")] = None,
    batch: Annotated[int, typer.Option(min=100, help="Events per transaction.")] = 5000,
) -> None:
    """Rebuilds projections from position zero into fresh tables, swapped in when complete (with progress)."""
    settings = _settings()
    configure_logging("WARNING")
    with open_storage(settings) as storage:
        runner = projection_runner(storage, settings)
        known = [p.name for p in runner.projections]
        if name is not None and name not in known:
            console.print(f"[red]Unknown projection {name!r}:[/red] use one of {', '.join(known)}")
            raise typer.Exit(2)
        head = max(runner.store.head(), 1)
        with Progress(
            TextColumn("Bygger om projektioner"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("rebuild", total=head, rate="")
            started = time.monotonic()

            def advance(position: int, total: int) -> None:
                elapsed = max(time.monotonic() - started, 1e-6)
                bar.update(task, completed=position, total=max(total, 1), rate=f"{position / elapsed:,.0f} händelser/s")

            position = runner.rebuild(None if name is None else [name], advance, batch_size=batch)
    typer.echo(f"rebuilt {name or ', '.join(known)} up to position {position}")


@projections_app.command("status")
def projections_status() -> None:
    """Each projection's position, how far it is behind the log, and a projection that is failing (or null)."""
    settings = _settings()
    with open_storage(settings) as storage:
        runner = projection_runner(storage, settings)
        health = runner.health()
        status = {"head": runner.store.head(), "positions": runner.positions(), "lag": health["lag_events"]}
        typer.echo(json.dumps({**status, "failing": health["failing"]}))


def _advancing(
    entries: Iterator[dict[str, object]], tick: Callable[[dict[str, object]], None]
) -> Iterator[dict[str, object]]:
    for entry in entries:
        tick(entry)
        yield entry


def main() -> None:
    """Entry point for `python -m adapters.cli`."""
    app()


if __name__ == "__main__":
    main()
