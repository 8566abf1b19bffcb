"""Follow-up statistics: the aggregate tables the förbund board and the national follow-up ask for.

Pure functions over follow-up rows (codes only, no personal data), no I/O. Every table is a 2-D table of counts
with row and column totals. The seven tables of one call to `statistics` are one release, and the release is
protected as a whole (DOMAIN.md, "What is followed up"; docs/statistics.md has the method and the attacker model):

- primary: every count from 1 to `MIN_CELL - 1`, body cell or total, in every table, is suppressed. Zeros are
  shown, so whoever reads the release knows that every suppressed count is at least 1.
- the release is modelled as one system of integer unknowns: every entry of every table (an entry printed by two
  tables of the same population, such as the gender totals of the two "started" tables, is one unknown), every
  line sum, and the without-consent counts by year and gender (everyone minus those with consent, never printed).
- a suppressed entry is safe when the numbers printed leave it a range of at least `min_range(MIN_CELL)` + 1
  values (4 for `MIN_CELL` 5: never narrower than "1 to 4"); a without-consent count of 1 to 4 likewise. The
  range is found by integer programming (HiGHS): the smallest and largest value over every table of counts >= 0,
  suppressed ones >= 1, that prints the same numbers.
- an unsafe one gets further suppressions: the cheapest set of printed entries (inner cells before totals, grand
  totals last) that, once hidden, lets it reach a value far enough away. Repeat until every one is safe.

Suppression only ever adds unknowns, so a range found once stays valid, and hiding every non-zero entry is always
safe (a copy of a real participant can be added unseen): the loop ends, usually after a few steps.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import highspy
import numpy as np

GENDERS = ("female", "male")
OUTCOMES = ("work", "studies", "other_support", "moved", "declined", "error")
AGE_BANDS = ("0-15", "16-19", "20-24", "25-29", "30-39", "40-49", "50-64", "65+")
DAY_BANDS = ("0-90", "91-180", "181-365", "366+")
UNKNOWN = "unknown"
TOTAL = "total"
MIN_CELL = 5
MIN_AGE = 16
SUPPRESSED = ".."  # every suppressed number, small or hidden to protect a small one: the reason would narrow it

# Upper limits (inclusive) of every band but the last.
_AGE_LIMITS = ((19, "16-19"), (24, "20-24"), (29, "25-29"), (39, "30-39"), (49, "40-49"), (64, "50-64"))
_DAY_LIMITS = ((90, "0-90"), (180, "91-180"), (365, "181-365"))

Cells = dict[tuple[str, str], int | None]
Totals = dict[str, int | None]
Entry = tuple[int, int]  # (row index, column index) in the bordered table; the last row/column are the totals
Grid = list[list[int]]


@dataclass(frozen=True)
class FollowUpRow:
    """One participant, codes only (no personal data)."""

    participant_id: str
    start_date: date  # start in the programme (referral received, else enrolment date)
    end_date: date | None  # closure date, None while open
    outcome: str | None  # work | studies | other_support | moved | declined | error (None while open)
    municipality: str | None  # 4-digit kommun code
    gender: str  # "female" | "male"
    birth_year: int
    with_consent: bool  # False: may be counted by year and gender only
    support_before: str | None
    occupation_before: str | None
    education_level: str | None
    support_after: str | None
    occupation_after: str | None


@dataclass(frozen=True)
class Table:
    """A 2-D table of counts with row and column totals; None marks a suppressed number."""

    title: str
    row_label: str
    column_label: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: Cells
    row_totals: Totals
    column_totals: Totals
    total: int | None


def min_range(min_cell: int = MIN_CELL) -> int:
    """How far apart the smallest and largest value of a suppressed number must be: as wide as "1 to min_cell-1"."""
    return max(1, min_cell - 2)


def age_band(birth_year: int, on: date) -> str:
    """The age band on a date, the age counted as `on.year - birth_year` (the birth date is not kept).
    Minors (a guardian's consent needed) are rare in the programmes and counted together as 0-15."""
    age = on.year - birth_year
    if age < MIN_AGE:
        return AGE_BANDS[0]
    for upper, band in _AGE_LIMITS:
        if age <= upper:
            return band
    return AGE_BANDS[-1]


def days_band(start: date, end: date) -> str:
    """The band of the number of days from start to end (0-90, 91-180, 181-365, 366+)."""
    days = (end - start).days
    if days < 0:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    for upper, band in _DAY_LIMITS:
        if days <= upper:
            return band
    return DAY_BANDS[-1]


# --- the release as a system of unknowns ---------------------------------------------------------------------

# What it costs to suppress an entry: inner cells first, then row and column totals, grand totals last.
_CELL_COST, _MARGIN_COST, _GRAND_COST = 1.0, 2.0, 4.0
_INTEGRAL = 1e-6  # a linear optimum this close to integers is the integer optimum
# HiGHS keeps a task scheduler per calling thread: solving on one thread of our own, one release at a time, keeps
# the server's request threads from each starting one, and keeps instances from meeting across threads.
_SOLVER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="statistics-highs")


@dataclass
class _Model:
    """Quantities (table entries, linked ones shared, and derived counts never printed) and the sums that tie them.

    Every equation says that its terms add up to zero. A quantity with cost 0 is never printed.
    """

    values: list[int] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    equations: list[list[tuple[int, int]]] = field(default_factory=list)
    protected: list[int] = field(default_factory=list)  # derived quantities protected when small

    def quantity(self, value: int, cost: float = 0.0) -> int:
        self.values.append(value)
        self.costs.append(cost)
        return len(self.values) - 1

    def add_table(self, grid: Grid, links: Mapping[Entry, int] | None = None) -> list[list[int]]:
        """The quantities of a bordered table's entries, with its line sums; `links` gives entries already known."""
        links = links or {}
        m, n = len(grid) - 1, len(grid[0]) - 1
        ids: list[list[int]] = []
        for i in range(m + 1):
            line = []
            for j in range(n + 1):
                cost = _GRAND_COST if (i, j) == (m, n) else _MARGIN_COST if i == m or j == n else _CELL_COST
                if (i, j) in links:
                    q = links[(i, j)]
                    if self.values[q] != grid[i][j]:
                        raise ValueError("linked entries differ: the tables do not count the same population")
                    self.costs[q] += cost
                else:
                    q = self.quantity(grid[i][j], cost)
                line.append(q)
            ids.append(line)
        for i in range(m + 1):
            self.equations.append([*((ids[i][j], 1) for j in range(n)), (ids[i][n], -1)])
        for j in range(n + 1):
            self.equations.append([*((ids[i][j], 1) for i in range(m)), (ids[m][j], -1)])
        return ids


class _Program:
    """The model as an integer program (HiGHS): one unknown per quantity, or with `deviations` also two per
    quantity (x = value + up - down) so that printed entries may move at their cost.

    Each optimum is sought as a linear program first: a vertex that is all integers is the integer optimum too
    (the tables' sums make that the common case, and it is many times faster); otherwise the integer program.
    """

    def __init__(self, model: _Model, lower: np.ndarray, upper: np.ndarray, *, deviations: bool = False) -> None:
        self.n = n = len(model.values)
        self.width = width = 3 * n if deviations else n
        self.lower = np.zeros(width)
        self.upper = np.full(width, highspy.kHighsInf)
        self.lower[:n], self.upper[:n] = lower, upper
        starts, indices, values, bounds = [], [], [], []
        for equation in model.equations:
            starts.append(len(indices))
            for q, coefficient in equation:
                indices.append(q)
                values.append(coefficient)
            bounds.append(0.0)
        if deviations:
            for q, value in enumerate(model.values):
                starts.append(len(indices))
                indices += [q, n + q, 2 * n + q]
                values += [1, -1, 1]
                bounds.append(float(value))
        self._rows = (
            len(bounds),
            np.array(bounds),
            np.array(bounds),
            len(indices),
            np.array(starts, dtype=np.int32),
            np.array(indices, dtype=np.int32),
            np.array(values, dtype=np.float64),
        )
        self.costs = np.zeros(width)
        self.linear = self._highs(integer=False)
        self._integer: highspy.Highs | None = None

    def _highs(self, *, integer: bool) -> highspy.Highs:
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("mip_rel_gap", 0.0)
        highs.setOptionValue("mip_abs_gap", 0.0)
        highs.setOptionValue("threads", 1)  # tiny programs; and the one thread's scheduler is made for one
        highs.addVars(self.width, self.lower, self.upper)
        if integer:
            highs.changeColsIntegrality(self.n, np.arange(self.n, dtype=np.int32), np.ones(self.n, dtype=np.uint8))
        if self._rows[0]:
            highs.addRows(*self._rows)
        return highs

    def bound(self, q: int, lower: float, upper: float) -> None:
        self.lower[q], self.upper[q] = lower, upper
        for highs in (self.linear, self._integer):
            if highs is not None:
                highs.changeColBounds(q, lower, upper)

    def minimise(self, costs: Mapping[int, float]) -> tuple[float, list[int]] | None:
        """The optimum of sum(cost * x) over integers and its quantities, or None if infeasible."""
        self.costs[:] = 0
        for q, cost in costs.items():
            self.costs[q] = cost
        for integer in (False, True):
            if integer and self._integer is None:
                self._integer = self._highs(integer=True)
            highs = self._integer if integer else self.linear
            highs.changeColsCost(self.width, np.arange(self.width, dtype=np.int32), self.costs)
            highs.run()
            status = highs.getModelStatus()
            if status == highspy.HighsModelStatus.kInfeasible:
                return None
            if status != highspy.HighsModelStatus.kOptimal:  # pragma: no cover - bounded, tiny programs
                raise RuntimeError(f"the statistics program was not solved: {highs.modelStatusToString(status)}")
            found = np.array(highs.getSolution().col_value[: self.n])
            rounded = np.round(found)
            if integer or np.abs(found - rounded).max(initial=0.0) < _INTEGRAL:
                return highs.getInfo().objective_function_value, [int(v) for v in rounded]
        raise AssertionError("unreachable")  # pragma: no cover


def _protect(model: _Model, min_cell: int = MIN_CELL) -> set[int]:
    """`_protected`, on the solver's thread."""
    return _SOLVER.submit(_protected, model, min_cell).result()


def _protected(model: _Model, min_cell: int) -> set[int]:
    """The quantities to suppress: every small entry, and enough others that every suppressed one (and every small
    protected derived count) keeps a range at least `min_range(min_cell)` wide given all the printed numbers."""
    values = np.array(model.values, dtype=np.int64)
    printed = np.array([cost > 0 for cost in model.costs])
    hidden = {q for q in np.flatnonzero(printed).tolist() if 0 < model.values[q] < min_cell}
    derived = [q for q in model.protected if 0 < model.values[q] < min_cell]
    if not hidden and not derived:
        return hidden
    width = min_range(min_cell)
    cap = 2 * int(values.max()) + 4 * min_cell + 10  # stands for "no upper limit": far beyond any range checked
    lower = np.where(printed, values, 0).astype(float)
    upper = np.where(printed, values, cap).astype(float)
    for q in hidden:
        lower[q], upper[q] = 1, cap
    attacker = _Program(model, lower, upper)
    matrix = np.zeros((len(model.equations), len(values)), dtype=np.int64)
    for k, equation in enumerate(model.equations):
        for q, coefficient in equation:
            matrix[k, q] += coefficient
    # The smallest and largest value of each quantity over the tables found so far that print the same numbers
    # (the truth is one). Suppression only removes constraints, so every table found stays one.
    smallest, largest = values.copy(), values.copy()

    def witness(solution: list[int]) -> None:
        nonlocal smallest, largest
        found = np.array(solution, dtype=np.int64)
        if (matrix @ found != 0).any():  # pragma: no cover - HiGHS keeps to the sums
            raise RuntimeError("the statistics program returned a table that does not add up")
        smallest, largest = np.minimum(smallest, found), np.maximum(largest, found)

    def safe(q: int) -> bool:
        for direction in (-1.0, 1.0):  # the largest value, then the smallest
            if largest[q] - smallest[q] >= width:
                return True
            result = attacker.minimise({q: direction})
            if result is None:  # pragma: no cover - the truth prints these numbers
                raise RuntimeError("the published numbers admit no table")
            witness(result[1])
        return bool(largest[q] - smallest[q] >= width)

    while True:
        unsafe = next((q for q in [*sorted(hidden), *derived] if not safe(q)), None)
        if unsafe is None:
            return hidden
        added = _widen(model, hidden, unsafe, (int(smallest[unsafe]), int(largest[unsafe])), width, cap, witness)
        if not added:  # pragma: no cover - the range was exact, so moving the target needs a printed entry
            raise RuntimeError("widening a range suppressed nothing")
        hidden |= added
        for q in added:
            attacker.bound(q, 1, cap)


def _widen(
    model: _Model,
    hidden: set[int],
    target: int,
    current: tuple[int, int],
    width: int,
    cap: int,
    witness: Callable[[list[int]], None],
) -> set[int]:
    """The cheapest printed entries whose suppression lets `target` reach a value `width` away from its range.

    Printed non-zero entries may move, at their cost per unit; suppressed ones move freely; zeros stay zeros.
    Both ways (up past the largest, down past the smallest) are tried, and the cheaper taken.
    """
    n = len(model.values)
    lower = np.array([min(1, v) if cost > 0 else 0 for v, cost in zip(model.values, model.costs, strict=True)])
    upper = np.where((lower == 0) & np.array([c > 0 for c in model.costs]), 0, cap)
    program = _Program(model, lower.astype(float), upper.astype(float), deviations=True)
    top = max(model.values) + 1
    costs: dict[int, float] = {}
    for q, cost in enumerate(model.costs):
        if cost > 0 and q not in hidden and model.values[q] > 0:
            # Among equals the smaller count, then the earlier entry (label order), so that ties break the same way.
            costs[n + q] = costs[2 * n + q] = cost + model.values[q] / (10 * top) + q / (100 * top * n)
    low, high = current
    best: tuple[float, list[int]] | None = None
    for least, most in ((low + width, cap), (int(lower[target]), high - width)):
        if most < least:
            continue
        program.bound(target, least, most)
        result = program.minimise(costs)
        if result is not None and (best is None or result[0] < best[0] - 1e-9):
            best = result
    if best is None:  # pragma: no cover - copies of a participant in the target can always be added
        raise RuntimeError("no suppression widens the range")
    witness(best[1])
    return {q for q, value in enumerate(best[1]) if model.costs[q] > 0 and value != model.values[q]} - hidden


# --- one table -----------------------------------------------------------------------------------------------


def suppress(
    counts: Mapping[tuple[str, str], int],
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    min_cell: int = MIN_CELL,
) -> tuple[Cells, Totals, Totals, int | None]:
    """Cells, row totals, column totals and grand total of one count table published on its own, with small
    numbers suppressed (None) and enough others that none can be narrowed (see the module's docstring).

    `counts` maps (row, column) to a count; a missing pair counts 0. Published numbers are the true counts.
    """
    if min_cell < 1:
        raise ValueError("min_cell must be at least 1")
    grid = _grid(counts, rows, columns)
    model = _Model()
    ids = model.add_table(grid)
    hidden = _protect(model, min_cell)
    return _published(grid, ids, hidden, _labels(rows, "row"), _labels(columns, "column"))


def _grid(counts: Mapping[tuple[str, str], int], rows: Sequence[str], columns: Sequence[str]) -> Grid:
    """The bordered table: the counts, a last column of row totals, a last row of column totals and the corner."""
    row_labels, column_labels = _labels(rows, "row"), _labels(columns, "column")
    row_index = {label: i for i, label in enumerate(row_labels)}
    column_index = {label: j for j, label in enumerate(column_labels)}
    m, n = len(row_labels), len(column_labels)
    grid = [[0] * (n + 1) for _ in range(m + 1)]
    for (row, column), count in counts.items():
        if row not in row_index or column not in column_index:
            raise ValueError(f"count for ({row!r}, {column!r}) is outside the table's rows and columns")
        if count < 0:
            raise ValueError(f"count for ({row!r}, {column!r}) is negative")
        grid[row_index[row]][column_index[column]] = count
    for i in range(m):
        grid[i][n] = sum(grid[i][:n])
    for j in range(n + 1):
        grid[m][j] = sum(grid[i][j] for i in range(m))
    return grid


def _published(
    grid: Grid, ids: list[list[int]], hidden: set[int], rows: Sequence[str], columns: Sequence[str]
) -> tuple[Cells, Totals, Totals, int | None]:
    m, n = len(rows), len(columns)

    def shown(i: int, j: int) -> int | None:
        return None if ids[i][j] in hidden else grid[i][j]

    cells = {(r, c): shown(i, j) for i, r in enumerate(rows) for j, c in enumerate(columns)}
    row_totals = {r: shown(i, n) for i, r in enumerate(rows)}
    column_totals = {c: shown(m, j) for j, c in enumerate(columns)}
    return cells, row_totals, column_totals, shown(m, n)


def _labels(labels: Sequence[str], what: str) -> tuple[str, ...]:
    result = tuple(labels)
    if len(set(result)) != len(result):
        raise ValueError(f"{what} labels must be distinct")
    if TOTAL in result:
        raise ValueError(f"{what} label {TOTAL!r} is reserved for the totals")
    return result


# --- the follow-up tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counted:
    """A table's true counts before protection."""

    title: str
    labels: tuple[str, str]
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    grid: Grid


def statistics(rows: Iterable[FollowUpRow], *, period_from: date, period_to: date, today: date) -> dict[str, Table]:
    """The follow-up tables for a period (both ends inclusive), protected together as one release.

    The period ends no later than `today`: dates after today are not counted. Participants without consent are
    counted only in "without_consent_by_year_and_gender" (by start year and gender), which counts everyone who
    started in the period; every other table counts participants with consent only. Age is the age at the start.
    """
    counted, without = _count(rows, period_from=period_from, period_to=period_to, today=today)
    model, ids = _release(counted, without)
    hidden = _protect(model)
    return {
        name: Table(t.title, *t.labels, t.rows, t.columns, *_published(t.grid, ids[name], hidden, t.rows, t.columns))
        for name, t in counted.items()
    }


def _count(
    rows: Iterable[FollowUpRow], *, period_from: date, period_to: date, today: date
) -> tuple[dict[str, _Counted], dict[tuple[str, str], int]]:
    """The seven tables' true counts, and the participants without consent by start year and gender."""
    if period_from > period_to:
        raise ValueError("period_from is after period_to")
    last = min(period_to, today)

    def within(day: date | None) -> bool:
        return day is not None and period_from <= day <= last

    everyone = list(rows)
    for row in everyone:
        if row.gender not in GENDERS:
            raise ValueError(f"participant {row.participant_id}: gender must be one of {', '.join(GENDERS)}")
        if row.outcome is not None and row.outcome not in OUTCOMES:
            raise ValueError(f"participant {row.participant_id}: outcome must be one of {', '.join(OUTCOMES)}")
    started_all = [r for r in everyone if within(r.start_date)]
    started = [r for r in started_all if r.with_consent]
    ended = [r for r in everyone if r.with_consent and within(r.end_date)]

    def outcome(r: FollowUpRow) -> str:
        return r.outcome or UNKNOWN

    def ended_after(r: FollowUpRow) -> date:
        assert r.end_date is not None  # only ended rows are counted
        return r.end_date

    support_codes = _code_axis([r.support_before for r in ended] + [r.support_after for r in ended])
    occupation_codes = _code_axis([r.occupation_before for r in ended] + [r.occupation_after for r in ended])
    outcomes = OUTCOMES + ((UNKNOWN,) if any(r.outcome is None for r in ended) else ())
    years = tuple(str(y) for y in range(period_from.year, period_to.year + 1))
    period = f"{period_from.isoformat()} to {period_to.isoformat()}"

    def year_and_gender(r: FollowUpRow) -> tuple[str, str]:
        return (str(r.start_date.year), r.gender)

    counted = {
        "started_by_gender_and_age": _counted(
            f"Started {period}, by gender and age band (with consent)",
            ("gender", "age_band"),
            (GENDERS, AGE_BANDS),
            started,
            lambda r: (r.gender, age_band(r.birth_year, r.start_date)),
        ),
        "started_by_municipality_and_gender": _counted(
            f"Started {period}, by municipality and gender (with consent)",
            ("municipality", "gender"),
            (_code_axis([r.municipality for r in started]), GENDERS),
            started,
            lambda r: (r.municipality or UNKNOWN, r.gender),
        ),
        "ended_by_outcome_and_gender": _counted(
            f"Ended {period}, by outcome and gender (with consent)",
            ("outcome", "gender"),
            (outcomes, GENDERS),
            ended,
            lambda r: (outcome(r), r.gender),
        ),
        "days_in_programme": _counted(
            f"Ended {period}, by days in the programme and gender (with consent)",
            ("days", "gender"),
            (DAY_BANDS, GENDERS),
            ended,
            lambda r: (days_band(r.start_date, ended_after(r)), r.gender),
        ),
        "support_before_and_after": _counted(
            f"Ended {period}, main source of support before and after (with consent)",
            ("support_before", "support_after"),
            (support_codes, support_codes),
            ended,
            lambda r: (r.support_before or UNKNOWN, r.support_after or UNKNOWN),
        ),
        "occupation_before_and_after": _counted(
            f"Ended {period}, occupation before and after (with consent)",
            ("occupation_before", "occupation_after"),
            (occupation_codes, occupation_codes),
            ended,
            lambda r: (r.occupation_before or UNKNOWN, r.occupation_after or UNKNOWN),
        ),
        "without_consent_by_year_and_gender": _counted(
            f"Started {period}, by start year and gender (everyone, with or without consent)",
            ("year", "gender"),
            (years, GENDERS),
            started_all,
            year_and_gender,
        ),
    }
    without = Counter(year_and_gender(r) for r in started_all if not r.with_consent)
    return counted, {(y, g): without[(y, g)] for y in years for g in GENDERS}


def _release(
    counted: Mapping[str, _Counted], without: Mapping[tuple[str, str], int]
) -> tuple[_Model, dict[str, list[list[int]]]]:
    """The release as one model: what the tables print twice is one quantity, and everyone = with consent +
    without consent by year and gender, the without-consent counts being protected quantities of their own."""
    model = _Model()
    ids: dict[str, list[list[int]]] = {}
    genders = len(GENDERS)

    def margins(name: str) -> tuple[list[int], int]:
        """The gender totals and the grand total of a table with gender as rows (age) or columns (the others)."""
        table = ids[name]
        if counted[name].rows == GENDERS:
            return [table[g][-1] for g in range(genders)], table[-1][-1]
        return [table[-1][g] for g in range(genders)], table[-1][-1]

    # The two "started" tables count one population: gender totals and grand total are printed by both.
    ids["started_by_gender_and_age"] = model.add_table(counted["started_by_gender_and_age"].grid)
    by_gender, started = margins("started_by_gender_and_age")
    municipality = counted["started_by_municipality_and_gender"].grid
    links = {(len(municipality) - 1, g): q for g, q in enumerate(by_gender)}
    links[(len(municipality) - 1, genders)] = started
    ids["started_by_municipality_and_gender"] = model.add_table(municipality, links)

    # The four "ended" tables count one population: the two by gender share gender totals, all four the total.
    ids["ended_by_outcome_and_gender"] = model.add_table(counted["ended_by_outcome_and_gender"].grid)
    ended_by_gender, ended = margins("ended_by_outcome_and_gender")
    days = counted["days_in_programme"].grid
    links = {(len(days) - 1, g): q for g, q in enumerate(ended_by_gender)}
    links[(len(days) - 1, genders)] = ended
    ids["days_in_programme"] = model.add_table(days, links)
    for name in ("support_before_and_after", "occupation_before_and_after"):
        grid = counted[name].grid
        ids[name] = model.add_table(grid, {(len(grid) - 1, len(grid[0]) - 1): ended})

    # Everyone who started, by year and gender = those with consent (by gender only, in the started tables) +
    # those without. With consent by year is never printed; the without-consent counts are protected.
    ids["without_consent_by_year_and_gender"] = everyone = model.add_table(
        counted["without_consent_by_year_and_gender"].grid
    )
    years = counted["without_consent_by_year_and_gender"].rows
    started_by_year_and_gender: dict[tuple[str, str], int] = {}
    for y, year in enumerate(years):
        for g, gender in enumerate(GENDERS):
            consent = model.values[everyone[y][g]] - without[(year, gender)]
            started_by_year_and_gender[(year, gender)] = model.quantity(consent)
    w: dict[tuple[str, str], int] = {}
    for y, year in enumerate(years):
        for g, gender in enumerate(GENDERS):
            w[(year, gender)] = q = model.quantity(without[(year, gender)])
            model.equations.append([(everyone[y][g], 1), (started_by_year_and_gender[(year, gender)], -1), (q, -1)])
    for g, gender in enumerate(GENDERS):
        model.equations.append(
            [*((started_by_year_and_gender[(year, gender)], 1) for year in years), (by_gender[g], -1)]
        )
    # Sums of without-consent counts (by year, by gender, in all) are derived counts too.
    groups = [[w[(year, gender)] for gender in GENDERS] for year in years]
    groups += [[w[(year, gender)] for year in years] for gender in GENDERS]
    groups.append(list(w.values()))
    for group in groups:
        q = group[0] if len(group) == 1 else model.quantity(sum(model.values[k] for k in group))
        if len(group) > 1:
            model.equations.append([*((k, 1) for k in group), (q, -1)])
        if q not in model.protected:
            model.protected.append(q)
    for q in w.values():
        if q not in model.protected:
            model.protected.append(q)
    return model, ids


def _counted(
    title: str,
    labels: tuple[str, str],
    axes: tuple[tuple[str, ...], tuple[str, ...]],
    rows: Iterable[FollowUpRow],
    key: Callable[[FollowUpRow], tuple[str, str]],
) -> _Counted:
    counts = Counter(key(r) for r in rows)
    return _Counted(title, labels, axes[0], axes[1], _grid(counts, axes[0], axes[1]))


def _code_axis(codes: Iterable[str | None]) -> tuple[str, ...]:
    """The codes present, sorted, then "unknown" if a code is missing."""
    present = set(codes)
    known = sorted(code for code in present if code is not None and code != UNKNOWN)
    return (*known, UNKNOWN) if None in present or UNKNOWN in present else tuple(known)


# --- output --------------------------------------------------------------------------------------------------


def table_to_csv(table: Table) -> str:
    """The table as CSV: a header (row label, columns, "total"), one line per row, then the totals line.
    A suppressed number reads `..`, whatever the reason."""

    def text(value: int | None) -> str:
        return SUPPRESSED if value is None else str(value)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([table.row_label, *table.columns, TOTAL])
    for row in table.rows:
        writer.writerow([row, *(text(table.cells[(row, c)]) for c in table.columns), text(table.row_totals[row])])
    writer.writerow([TOTAL, *(text(table.column_totals[c]) for c in table.columns), text(table.total)])
    return buffer.getvalue()


def table_to_json(table: Table) -> dict[str, object]:
    """The table as JSON-ready data; a suppressed number is null, whatever the reason (`suppressed_label`: what
    CSV prints for it)."""
    return {
        "title": table.title,
        "row_label": table.row_label,
        "column_label": table.column_label,
        "columns": list(table.columns),
        "rows": [
            {
                "label": row,
                "cells": {c: table.cells[(row, c)] for c in table.columns},
                "total": table.row_totals[row],
            }
            for row in table.rows
        ],
        "column_totals": {c: table.column_totals[c] for c in table.columns},
        "total": table.total,
        "suppressed_below": MIN_CELL,
        "suppressed_label": SUPPRESSED,
    }
