"""Follow-up statistics through HTTP: aggregates from the projection, small cells suppressed, participants
without consent counted by year and gender only."""

from __future__ import annotations

from datetime import date

from adapters.demo import create_demo_cases
from tests.e2e.conftest import Api
from tests.support import today


def test_statistics_are_aggregates_with_small_cells_suppressed(api: Api) -> None:
    create_demo_cases(api.context.service, 40, seed=5)
    api.context.projections.catch_up()
    response = api.samordnare.get("/api/v1/statistics", params={"from": f"{today().year - 1}-01-01"})
    assert response.status_code == 200
    body = response.json()
    assert body["suppressed_below"] == 5
    tables = body["tables"]
    assert {"started_by_gender_and_age", "ended_by_outcome_and_gender", "without_consent_by_year_and_gender"} <= set(
        tables
    )
    for table in tables.values():
        for row in table["rows"]:
            for value in row["cells"].values():
                assert value is None or value == 0 or value >= 5
    everyone = tables["without_consent_by_year_and_gender"]["total"]
    assert everyone is None or everyone >= 5
    assert "Annika" not in response.text and "personnummer" not in response.text


def test_statistics_as_csv_and_for_the_auditor(api: Api) -> None:
    create_demo_cases(api.context.service, 12, seed=6)
    api.context.projections.catch_up()
    csv = api.granskare.get("/api/v1/statistics", params={"format": "csv"})
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "<5" in csv.text or "total" in csv.text
    assert api.handlaggare("FK").get("/api/v1/statistics").status_code == 403
    bad = api.samordnare.get("/api/v1/statistics", params={"from": "2026-05-01", "to": "2026-01-01"})
    assert bad.status_code == 422
    assert api.samordnare.get("/api/v1/statistics", params={"from": "2026-02-30"}).status_code == 422
    assert date.fromisoformat(api.samordnare.get("/api/v1/statistics").json()["to"]) == today()
