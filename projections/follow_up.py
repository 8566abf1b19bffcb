"""Follow-up counts from the clear codes in the event log: they need no personal data, so survive erasure.

The seed of the statistics projection: the full tables (suppression, periods, outcomes) come with it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder

from coordination import Case, CoordinationService

ENROLLED_TOPIC = f"{Case.__module__}:{Case.__qualname__}.Enrolled"


def enrolled_case_ids(recorder: ApplicationRecorder, batch: int = 1_000) -> Iterator[UUID]:
    """Every case ever enrolled, in the order of the log."""
    start = 1
    while True:
        notifications = recorder.select_notifications(start=start, limit=batch, topics=[ENROLLED_TOPIC])
        if not notifications:
            return
        for notification in notifications:
            yield UUID(str(notification.originator_id))
        start = notifications[-1].id + 1


def cases_by_year_and_gender(service: CoordinationService) -> Counter[tuple[int, str]]:
    """Participants counted by enrolment year and legal gender: the count kept even without consent."""
    counts: Counter[tuple[int, str]] = Counter()
    for case_id in enrolled_case_ids(service.recorder):
        case = service.get_case(case_id)
        counts[(case.enrolled_at.year, case.gender)] += 1
    return counts
