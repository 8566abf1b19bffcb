"""Synthetic demo cases, recorded through the application service (so through the gate) like real ones.

Every person is fictitious: numbers are valid in form only and names are drawn from short lists.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from consent import OWN_CATEGORY, Party, local_date
from coordination import AlreadyEnrolled, ConsentRequired, CoordinationService
from coordination.personnummer import fictitious_personnummer

GIVEN = {
    "female": ["Anna", "Maria", "Sara", "Emma", "Fatima", "Linnea", "Elin", "Ida", "Amina", "Johanna"],
    "male": ["Erik", "Lars", "Mohammed", "Johan", "Anders", "Oskar", "Ali", "Karl", "Emil", "Daniel"],
}
FAMILY = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Ahmed", "Berg"]
MUNICIPALITIES = ["2482", "1267", "0138", "1784", "2184"]  # Skellefteå, Höör, Tyresö, Kristinehamn, Hudiksvall
DECISIONS: dict[Party, list[tuple[str, str]]] = {
    Party.FK: [("sjukpenning", "Sjukpenning beviljad på halvtid"), ("rehabiliteringsplan", "Plan upprättad")],
    Party.AF: [("inskrivning", "Inskriven som arbetssökande"), ("arbetsmarknadsutbildning", "Beviljad utbildning")],
    Party.REGION: [("sjukskrivning", "Läkarintyg 50 %"), ("remiss", "Remiss till psykiatrin")],
    Party.KOMMUN: [("ekonomiskt_bistand", "Försörjningsstöd beviljat"), ("arbetstraning", "Arbetsträning beviljad")],
}
INTERVENTIONS = ["kartlaggning", "arbetstraning", "praktik", "studier", "samtalsstod", "friskvard"]
OUTCOMES = ["work", "studies", "studies", "other_support", "moved", "declined"]
SUPPORT = ["ekonomiskt_bistand", "sjukpenning", "aktivitetsersattning", "aktivitetsstod", "lon", "ingen"]
OCCUPATION = ["arbetssokande", "sjukskriven", "studier", "arbete", "ingen"]


@dataclass
class DemoSummary:
    """What the demo recorded, in counts only (no personal data)."""

    participants: int = 0
    consents: int = 0
    withdrawals: int = 0
    decisions: int = 0
    refused_decisions: int = 0
    meetings: int = 0
    closed: int = 0
    by_agency: Counter[str] = field(default_factory=Counter)


def _decide(service: CoordinationService, case_id: object, agency: Party, rng: random.Random, n: int) -> bool:
    decision_type, summary = rng.choice(DECISIONS[agency])
    try:
        service.record_decision(
            case_id,  # type: ignore[arg-type]
            by=f"handlaggare-{agency.value.lower()}",
            agency=agency.value,
            category=OWN_CATEGORY[agency],
            decision_type=decision_type,
            effective_date=local_date_today() - timedelta(days=rng.randint(0, 60)),
            summary=summary,
            source_ref=f"{agency.value}-DEMO-{n}",
        )
    except ConsentRequired:
        return False
    return True


def local_date_today() -> date:
    """Today in Sweden."""
    from datetime import UTC, datetime

    return local_date(datetime.now(UTC))


def create_demo_cases(
    service: CoordinationService,
    participants: int,
    *,
    seed: int = 2026,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Records `participants` realistic synthetic cases; returns counts of what was recorded."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    today = local_date_today()
    summary = DemoSummary()
    for n in range(participants):
        gender: Literal["female", "male"] = rng.choice(["female", "male"])
        birth = date(today.year - rng.randint(19, 63), rng.randint(1, 12), rng.randint(1, 28))
        case_id = None
        for _attempt in range(20):  # the same fictitious number can come up twice (or exist from an earlier run)
            number = fictitious_personnummer(birth, rng.randint(0, 99), gender=gender)
            try:
                case_id = service.enrol(
                    by="samordnare-demo",
                    personnummer=number,
                    given_name=rng.choice(GIVEN[gender]),
                    family_name=rng.choice(FAMILY),
                    municipality=rng.choice(MUNICIPALITIES),
                    baseline={"support_before": rng.choice(SUPPORT), "occupation_before": rng.choice(OCCUPATION)},
                )
                break
            except AlreadyEnrolled:
                birth += timedelta(days=1)
        if case_id is None:
            continue
        summary.participants += 1
        parties = rng.sample(list(Party)[:4], k=rng.randint(2, 4))
        service.record_referral(
            case_id,
            by="samordnare-demo",
            remittent=parties[0].value,
            reason="Behöver samordnat stöd från flera parter",
            received_date=today - timedelta(days=rng.randint(30, 300)),
            needs=[p.value for p in parties],
        )
        sharing = [p for p in parties if rng.random() < 0.8]  # noqa: PLR2004
        if sharing:
            grants = [(p.value, "SF", [OWN_CATEGORY[p]]) for p in sharing]
            grants += [(p.value, q.value, [OWN_CATEGORY[p]]) for p in sharing for q in parties if q != p]
            ref = service.record_consent(
                case_id,
                by="samordnare-demo",
                grants=grants,
                purpose="Samordnad rehabilitering mot arbete eller studier",
                valid_from=today - timedelta(days=rng.randint(0, 200)),
                valid_until=today + timedelta(days=rng.randint(10, 150)),
                form=rng.choice(["written", "written", "oral"]),
                witness="Samordnare Demo",
                document_ref=f"SAMTYCKE-DEMO-{n}",
            )
            summary.consents += 1
            if rng.random() < 0.15:  # noqa: PLR2004 - some participants withdraw a grant
                p = sharing[0]
                service.withdraw_consent(
                    case_id, ref.consent_id, by="samordnare-demo", grants=[(p.value, "SF", [OWN_CATEGORY[p]])]
                )
                summary.withdrawals += 1
        for k, agency in enumerate(parties):
            if _decide(service, case_id, agency, rng, n * 10 + k):
                summary.decisions += 1
                summary.by_agency[agency.value] += 1
            else:
                summary.refused_decisions += 1
        for _ in range(rng.randint(0, 3)):
            service.record_meeting(
                case_id,
                by="samordnare-demo",
                day=today - timedelta(days=rng.randint(0, 90)),
                agencies_present=[p.value for p in parties[:2]],
                attended=rng.random() < 0.8,  # noqa: PLR2004
            )
            summary.meetings += 1
        service.start_intervention(
            case_id,
            by="samordnare-demo",
            kind=rng.choice(INTERVENTIONS),
            start_date=today - timedelta(days=rng.randint(0, 120)),
            provider_agency=rng.choice(parties).value,
        )
        service.book_meeting(
            case_id,
            by="samordnare-demo",
            day=today + timedelta(days=rng.randint(1, 21)),
            agencies_invited=[p.value for p in parties],
        )
        if rng.random() < 0.3:  # noqa: PLR2004
            service.close_case(
                case_id,
                by="samordnare-demo",
                outcome=rng.choice(OUTCOMES),
                closed_date=today,
                follow_up={"support_after": rng.choice(SUPPORT), "occupation_after": rng.choice(OCCUPATION)},
                end_interventions=(today, "Avslutas med ärendet"),
            )
            summary.closed += 1
        if progress:
            progress(1)
    return summary


def bulk_cases(
    service: CoordinationService,
    participants: int,
    *,
    seed: int = 7,
    decisions_per_agency: int = 2,
    per_transaction: int = 100,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Builds many synthetic cases quickly for benchmarks and tests: each case's events are made by the domain
    model itself (so the gate still decides every decision), and many cases are saved per transaction instead
    of one command per transaction. Returns the number of events stored."""
    from datetime import UTC, datetime
    from uuid import uuid4

    from consent import Grant, expand_grants
    from coordination import Case
    from coordination.domain import PlanStep

    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    today = local_date_today()
    pending: list[Case] = []
    stored = 0
    for n in range(participants):
        case_id = uuid4()
        gender: Literal["female", "male"] = rng.choice(["female", "male"])
        birth = date(today.year - rng.randint(19, 63), rng.randint(1, 12), rng.randint(1, 28))
        number = fictitious_personnummer(birth, n % 100, gender=gender)
        service.vault.provision(case_id, service.vault.lookup_hash(f"bulk-{seed}-{n}"))
        seal = lambda text: service.vault.seal(case_id, text)  # noqa: E731, B023 - used at once, in this loop
        at = datetime.now(UTC)
        case = Case(
            id=case_id,
            identity={
                "personnummer": seal(number),
                "given_name": seal(rng.choice(GIVEN[gender])),
                "family_name": seal(rng.choice(FAMILY)),
            },
            birth_year=birth.year,
            gender=gender,
            municipality=rng.choice(MUNICIPALITIES),
            baseline={"support_before": rng.choice(["ekonomiskt_bistand", "sjukpenning", "aktivitetsstod", "ingen"])},
            by="bulk",
            timestamp=at,
        )
        parties = rng.sample(list(Party)[:4], k=rng.randint(2, 4))
        case.receive_referral(
            parties[0],
            seal("Behöver samordnat stöd"),
            today - timedelta(days=rng.randint(30, 300)),
            tuple(parties),
            "bulk",
            datetime.now(UTC),
        )
        grants: tuple[Grant, ...] = expand_grants(
            [(p, Party.SF, [OWN_CATEGORY[p]]) for p in parties]
            + [(p, q, [OWN_CATEGORY[p]]) for p in parties for q in parties if q != p]
        )
        case.record_consent(
            uuid4(),
            grants,
            seal("Samordnad rehabilitering"),
            today - timedelta(days=30),
            today + timedelta(days=300),
            "written",
            None,
            None,
            None,
            "bulk",
            datetime.now(UTC),
        )
        for agency in parties:
            for k in range(decisions_per_agency):
                decision_type, summary = rng.choice(DECISIONS[agency])
                case.record_decision(
                    uuid4(),
                    agency,
                    OWN_CATEGORY[agency],
                    decision_type,
                    today - timedelta(days=rng.randint(0, 60)),
                    seal(summary),
                    service.vault.fingerprint(case_id, f"{agency.value}-BULK-{seed}-{n}-{k}"),
                    {},
                    "bulk",
                    datetime.now(UTC),
                )
        case.revise_plan(
            (seal("Arbete eller studier"),),
            (PlanStep(parties[0], seal("Praktik"), today + timedelta(days=rng.randint(-20, 60))),),
            "bulk",
            datetime.now(UTC),
        )
        intervention = uuid4()
        case.start_intervention(
            intervention,
            rng.choice(INTERVENTIONS),
            today - timedelta(days=rng.randint(0, 120)),
            parties[-1],
            "bulk",
            datetime.now(UTC),
        )
        for _ in range(rng.randint(1, 4)):
            case.record_meeting(
                uuid4(),
                today - timedelta(days=rng.randint(-14, 90)),
                tuple(parties[:2]),
                rng.random() < 0.8,  # noqa: PLR2004
                None,
                "bulk",
                datetime.now(UTC),
            )
        if rng.random() < 0.3:  # noqa: PLR2004
            case.close(
                rng.choice(OUTCOMES),
                today,
                "bulk",
                datetime.now(UTC),
                {"support_after": rng.choice(["lon", "studiemedel", "ekonomiskt_bistand"])},
                (today, None),
            )
        pending.append(case)
        if len(pending) >= per_transaction or n == participants - 1:
            stored += sum(len(c.pending_events) for c in pending)
            service.save(*pending)
            if progress:
                progress(len(pending))
            pending = []
    return stored
