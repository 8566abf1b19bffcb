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
from coordination import ConsentRequired, CoordinationService, DomainError
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
    Party.KOMMUN: [("forsorjningsstod", "Försörjningsstöd beviljat"), ("arbetstraning", "Arbetsträning beviljad")],
}
INTERVENTIONS = ["kartlaggning", "arbetstraning", "praktik", "studier", "samtalsstod", "friskvard"]
OUTCOMES = ["work", "studies", "studies", "other_support", "moved", "declined"]


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
        number = fictitious_personnummer(birth, rng.randint(0, 99), gender=gender)
        try:
            case_id = service.enrol(
                by="samordnare-demo",
                personnummer=number,
                given_name=rng.choice(GIVEN[gender]),
                family_name=rng.choice(FAMILY),
                municipality=rng.choice(MUNICIPALITIES),
            )
        except DomainError:
            continue  # the same fictitious number drawn twice: skip it
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
        if rng.random() < 0.3:  # noqa: PLR2004
            service.close_case(case_id, by="samordnare-demo", outcome=rng.choice(OUTCOMES), closed_date=today)
            summary.closed += 1
        if progress:
            progress(1)
    return summary
