"""The `samverkan` command line: entry points only translate to the application service."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from adapters.demo import create_demo_cases
from adapters.logging import configure_logging
from adapters.settings import Settings, SettingsError, new_key
from adapters.storage import DatabaseUrlError, open_storage
from projections import cases_by_year_and_gender

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
    """Prints fresh keys for SAMVERKAN_MASTER_KEY and SAMVERKAN_LOOKUP_KEY (store them in your secret store)."""
    typer.echo(f"SAMVERKAN_MASTER_KEY={new_key()}")
    typer.echo(f"SAMVERKAN_LOOKUP_KEY={new_key()}")


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


def main() -> None:
    """Entry point for `python -m adapters.cli`."""
    app()


if __name__ == "__main__":
    main()
