"""The projections: which tables each keeps, and how a batch of case events changes them."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence

import orjson

from projections.cases import Facts, fold, follow_up_row, new_facts, phase
from projections.events import StoredEvent, uuid_text
from projections.store import Delete, Operation, TableSpec, Upsert, integer, text

# Tables of projections that were retired: dropped when the runner starts, so no table is left that nobody reads.
# `view_decisions` (the agency_view projection): an agency view needs the case's current consent, so it loads the
# case anyway, and the case at that version already holds every decision with its status (docs/architecture.md).
RETIRED_TABLES = ("view_decisions",)
RETIRED_PROJECTIONS = ("agency_view",)
TIMELINE = TableSpec(
    "timeline",
    (
        integer("position"),
        text("participant_id"),
        text("recorded_at"),
        text("kind"),
        text("agency"),
        text("category"),
        text("ref_id"),
    ),
    key=("position",),
    indexes=(("participant_id", "position"),),
)
CASES = TableSpec(
    "cases",
    (text("participant_id"), integer("open"), text("phase"), text("facts")),
    key=("participant_id",),
    indexes=(("open", "participant_id"),),
)
FOLLOW_UP = TableSpec(
    "follow_up",
    (
        text("participant_id"),
        text("start_date"),
        text("end_date"),
        text("outcome"),
        text("municipality"),
        text("gender"),
        integer("birth_year"),
        integer("with_consent"),
        text("support_before"),
        text("occupation_before"),
        text("education_level"),
        text("support_after"),
        text("occupation_after"),
    ),
    key=("participant_id",),
    indexes=(("start_date",), ("end_date",)),
)

FactsLoader = Callable[[Sequence[str]], dict[str, Facts]]


class Projection:
    """A read model: its tables, and the operations a batch of events makes on them."""

    name = ""
    tables: tuple[TableSpec, ...] = ()
    insert_only: frozenset[str] = frozenset()  # tables whose upserts always add a new row

    def process(self, events: Sequence[StoredEvent], load_facts: FactsLoader) -> list[Operation]:
        raise NotImplementedError

    def reset(self) -> None:
        """Forgets anything cached (after a failed batch, or when the tables are rebuilt)."""

    def begin_bulk(self) -> None:
        """A rebuild into empty tables starts: rows may be held back and written at the end."""

    def end_bulk(self) -> Iterator[Operation]:
        """The rows held back since begin_bulk()."""
        return iter(())


def timeline_entry(event: StoredEvent) -> tuple[str, str, str | None]:
    """(agency, category, ref_id) of an event on the timeline."""
    data = event.data
    if event.kind.startswith("Decision"):
        agency = data.get("agency")
        return (agency or "", data.get("category") or "", uuid_text(data["decision_id"]))
    if event.kind.startswith("Consent"):
        return ("SF", "consent", uuid_text(data["consent_id"]))
    if event.kind.startswith("Block"):
        return ("SF", "block", uuid_text(data["block_id"]))
    if event.kind.startswith("EmergencyAccess"):
        return (data.get("reader") or "", "emergency", uuid_text(data["access_id"]))
    if event.kind == "PartyDataErased":  # gallring of one party's information: the party whose it was
        return (data.get("party") or "", "erasure", None)
    for key in ("intervention_id", "meeting_id"):
        if key in data:
            return ("SF", "coordination", uuid_text(data[key]))
    return ("SF", "coordination", None)


class TimelineProjection(Projection):
    """Every event of a participant's case in order, as codes (no free text)."""

    name = "timeline"
    tables = (TIMELINE,)
    insert_only = frozenset({TIMELINE.name})

    def process(self, events: Sequence[StoredEvent], load_facts: FactsLoader) -> list[Operation]:
        operations: list[Operation] = []
        for event in events:
            row = self.row(event)
            if row is None:
                operations.append(Delete(TIMELINE.name, "participant_id", event.case_id))
            else:
                operations.append(Upsert(TIMELINE.name, row))
        return operations

    @staticmethod
    def row(event: StoredEvent) -> tuple[object, ...] | None:
        """The event's timeline row; None for an erasure (which removes the case's rows so far)."""
        if event.kind == "PersonalDataErased":
            return None
        agency, category, ref_id = timeline_entry(event)
        return (event.position, event.case_id, event.recorded_at, event.kind, agency, category, ref_id)


def facts_json(facts: Facts) -> str:
    """Facts as canonical JSON (sorted keys), so a rebuilt table is identical to a live one."""
    return orjson.dumps(facts, option=orjson.OPT_SORT_KEYS).decode()


class CasesProjection(Projection):
    """Per case: the facts the caseload is computed from, and the follow-up variables statistics count."""

    name = "cases"
    tables = (CASES, FOLLOW_UP)
    insert_only = frozenset({CASES.name, FOLLOW_UP.name})  # in a rebuild they are written once, at the end
    cache_size = 200_000

    def __init__(self) -> None:
        self.cache: OrderedDict[str, Facts] = OrderedDict()
        self.bulk = False

    def reset(self) -> None:
        self.cache.clear()
        self.bulk = False

    def begin_bulk(self) -> None:
        # Rebuilding into empty tables: every case's facts stay in memory and are written once, at the end.
        self.reset()
        self.bulk = True

    def end_bulk(self) -> Iterator[Operation]:
        # Yielded case by case, each case's facts let go once written: the peak stays at the facts themselves.
        for case_id in sorted(self.cache):
            yield from self._rows(case_id)
            del self.cache[case_id]
        self.bulk = False

    def flush_bulk(self, keep: str | None) -> Iterator[Operation]:
        """The rows of every case held back except `keep`, each let go once yielded: for a rebuild that reads the
        log case by case (a case that is past will not be seen again)."""
        for case_id in [c for c in self.cache if c != keep]:
            yield from self._rows(case_id)
            del self.cache[case_id]

    def process(self, events: Sequence[StoredEvent], load_facts: FactsLoader) -> list[Operation]:
        touched = list(dict.fromkeys(e.case_id for e in events))
        missing = [case_id for case_id in touched if case_id not in self.cache]
        if missing and not self.bulk:
            self.cache.update(load_facts(missing))
        for event in events:
            facts = self.cache.get(event.case_id)
            if facts is None:
                facts = self.cache[event.case_id] = new_facts()
            fold(facts, event)
        if self.bulk:
            return []
        operations = [op for case_id in touched for op in self._rows(case_id)]
        for case_id in touched:
            self.cache.move_to_end(case_id)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return operations

    def _rows(self, case_id: str) -> list[Operation]:
        facts = self.cache[case_id]
        follow_up = follow_up_row(case_id, facts)
        operations: list[Operation] = [Upsert(FOLLOW_UP.name, tuple(follow_up[c] for c in FOLLOW_UP.column_names))]
        if facts["erased"]:
            operations.append(Delete(CASES.name, "participant_id", case_id))
        else:
            is_open = 1 if facts["closure"] is None else 0
            operations.append(Upsert(CASES.name, (case_id, is_open, phase(facts), facts_json(facts))))
        return operations


def all_projections() -> list[Projection]:
    """A fresh instance of every projection."""
    return [TimelineProjection(), CasesProjection()]


def names(projections: Iterable[Projection]) -> list[str]:
    return [p.name for p in projections]
