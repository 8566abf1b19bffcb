"""Identity numbers over HTTP, on both engines: Skatteverket's published test numbers are all accepted, every
valid spelling of a number finds the same participant, and numbers Skatteverket never issues are a 422."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from coordination.personnummer import Personnummer, luhn_check_digit, parse_personnummer
from tests.e2e.conftest import Api
from tests.e2e.scenario import consent_body
from tests.support import today

SEARCH = "/api/v1/participants/search"
ENROL = "/api/v1/participants"
DATA_FILE = Path(__file__).parents[1] / "data" / "skatteverket_testpersonnummer.txt"
# Skatteverket's published test numbers (see the file's header), twelve digits each.
PUBLISHED = [
    line.strip()
    for line in DATA_FILE.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


def search(api: Api, personnummer: str) -> Any:
    return api.samordnare.post(SEARCH, {"personnummer": personnummer})


def enrol(api: Api, personnummer: str) -> Any:
    return api.samordnare.post(ENROL, {"personnummer": personnummer, "given_name": "Test", "family_name": "Person"})


def parsed(number: str) -> Personnummer:
    return parse_personnummer(number, today=today())


def short(number: str) -> str:
    """YYMMDD-NNNC, or YYMMDD+NNNC from 1 January of the year the person turns a hundred."""
    return f"{number[2:8]}{'+' if today().year - int(number[:4]) >= 100 else '-'}{number[8:]}"


def assert_refused(response: Any, number: str) -> None:
    """A 422 on the personnummer, with a Swedish and an English message that does not echo the number."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"].endswith("/validation-error")
    assert [e["field"] for e in body["errors"]] == ["personnummer"]
    message = body["errors"][0]["message"]
    assert " / " in message  # Swedish / English
    assert not any(char.isdigit() for char in message)
    for form in (number, number.replace("-", ""), number[2:]):
        assert form not in response.text


def test_every_published_test_number_is_valid_and_not_found(api: Api) -> None:
    answers = {number: search(api, number).status_code for number in PUBLISHED}
    assert {n: s for n, s in answers.items() if s != 404} == {}
    # The ten-digit form of every tenth one as well, with the separator Skatteverket prescribes for today.
    short_answers = {short(n): search(api, short(n)).status_code for n in PUBLISHED[::10]}
    assert {n: s for n, s in short_answers.items() if s != 404} == {}


@pytest.mark.parametrize(
    "number",
    [
        "20150916-0006",  # serial 000, which Skatteverket never issues (Luhn-valid)
        "150916-0006",
        "12340101-1238",  # century 12 (Luhn-valid)
        "123401011238",
    ],
)
def test_serial_000_and_century_12_are_refused(api: Api, number: str) -> None:
    assert_refused(search(api, number), number)
    assert_refused(enrol(api, number), number)


def test_the_plus_form_of_someone_turning_100_this_year_finds_the_same_participant(api: Api) -> None:
    centenarians = [n for n in PUBLISHED if int(n[:4]) == today().year - 100 and not parsed(n).birth_date_is_partial]
    assert centenarians, "the data file has no one turning 100 this year: add Skatteverket's numbers for that year"
    # Best of all someone whose hundredth birthday is still to come this year: that is what was misread.
    later = [n for n in centenarians if n[4:8] > today().strftime("%m%d")]
    number = (later or centenarians)[0]
    created = enrol(api, f"{number[:8]}-{number[8:]}")
    assert created.status_code == 201, created.text
    pid = created.json()["id"]

    for form in (short(number), number, f"{number[:8]}+{number[8:]}", f"{number[:8]}-{number[8:]}"):
        found = search(api, form)
        assert (found.status_code, found.json()) == (200, {"id": pid}), form
        again = enrol(api, form)
        assert again.status_code == 409, form
    if later:
        # With '-' the ten-digit form means someone born this century, whose birthday is still to come: refused.
        minus = short(number).replace("+", "-")
        assert_refused(search(api, minus), minus)


def test_a_partly_unknown_birth_date_is_enrolled_once_and_counts_as_young_as_it_can_be(api: Api) -> None:
    # A published samordningsnummer with an unknown month or day whose holder may or may not be 18 yet.
    valid_from = today() - timedelta(days=30)
    adult_born_by = date(valid_from.year - 18, valid_from.month, min(valid_from.day, 28))
    maybe_minor = [
        n
        for n in PUBLISHED
        if parsed(n).birth_date_is_partial
        and parsed(n).earliest_birth_date <= adult_born_by < parsed(n).latest_birth_date
    ]
    if not maybe_minor:
        pytest.skip("no published samordningsnummer with a partly unknown date straddles the 18th birthday today")
    number = maybe_minor[0]
    created = enrol(api, number)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert search(api, short(number)).json() == {"id": pid}
    assert enrol(api, f"{number[:8]}-{number[8:]}").status_code == 409

    body = consent_body(("FK", "SF", ["insurance"]), valid_from=valid_from.isoformat())
    refused = api.samordnare.post(f"/api/v1/participants/{pid}/consents", body)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["guardian"]
    accepted = api.samordnare.post(f"/api/v1/participants/{pid}/consents", {**body, "guardian": "Vårdnadshavare"})
    assert accepted.status_code == 201, accepted.text


def test_a_changed_digit_of_a_published_number_is_refused(api: Api) -> None:
    number = PUBLISHED[0]
    nine = number[2:11]
    wrong = (luhn_check_digit(nine) + 1) % 10
    assert_refused(search(api, f"{number[:11]}{wrong}"), f"{number[:11]}{wrong}")
