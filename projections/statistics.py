"""Follow-up statistics: the aggregate tables the förbund board and the national follow-up ask for.

Pure functions over follow-up rows (codes only, no personal data): no I/O, standard library only. Every table is
a 2-D table of counts with row and column totals, and every published table goes through `suppress`, so that no
participant can be singled out (DOMAIN.md, "What is followed up": cells under 5 are not shown).

Suppression works on the table *with its margins*: the body cells, the row totals (a last column), the column
totals (a last row) and the grand total (the corner). Every line of that bordered table is a sum: a row's cells
add up to its row total, the row totals add up to the grand total, and likewise for columns. The rules:

- primary: every count from 1 to `min_cell - 1`, body cell or total, is suppressed. Zeros are shown.
- secondary, per line: a line with exactly one suppressed entry would give it away (it is the line's total minus
  the visible cells, or the sum of the visible cells). Such a line gets a second suppression: the smallest
  non-zero published cell of the line (ties broken by label order); only when the line has none left, its total.
  This covers a row whose total is published ("0 or >= 2 suppressed cells"), a suppressed row total that could be
  summed from the row's cells, and the totals lines (a suppressed row total is not derivable from the grand total
  and the other row totals); likewise for columns.
- secondary, across lines: the per-line rule is not enough on its own: two blocks of suppressed cells joined by a
  single suppressed cell (a "bridge") pass every line test, yet the bridge equals a sum of published numbers
  (add the line equations on one side of it). Seen as a graph (lines are nodes, suppressed entries are edges),
  a suppressed entry can be pinned down by linear reasoning exactly when it lies on no cycle. So each bridge gets
  further suppressions that close a cycle through it: the cheapest path of non-zero entries between its two
  sides (fewest new suppressions, then fewest totals, then the smallest sum).

Both rules repeat until stable. Only non-zero entries are ever suppressed, so every suppressed entry lies on a
cycle of entries that are all at least 1: adding and subtracting 1 around the cycle gives another table with the
same published numbers. An attacker who knows every published number (and that counts are non-negative) cannot
pin down any suppressed entry. (Differences between tables, such as one period against another, are outside
what a single table can protect.)
"""

from __future__ import annotations

import csv
import heapq
import io
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

GENDERS = ("female", "male")
OUTCOMES = ("work", "studies", "other_support", "moved", "declined", "error")
AGE_BANDS = ("0-15", "16-19", "20-24", "25-29", "30-39", "40-49", "50-64", "65+")
DAY_BANDS = ("0-90", "91-180", "181-365", "366+")
UNKNOWN = "unknown"
TOTAL = "total"
MIN_CELL = 5
MIN_AGE = 16

# Upper limits (inclusive) of every band but the last.
_AGE_LIMITS = ((19, "16-19"), (24, "20-24"), (29, "25-29"), (39, "30-39"), (49, "40-49"), (64, "50-64"))
_DAY_LIMITS = ((90, "0-90"), (180, "91-180"), (365, "181-365"))

Cells = dict[tuple[str, str], int | None]
Totals = dict[str, int | None]
Entry = tuple[int, int]  # (row index, column index) in the bordered table; the last row/column are the totals
_Cost = tuple[int, int, int]  # new suppressions, totals among them, sum of their counts


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


# --- suppression ---------------------------------------------------------------------------------------------


def suppress(
    counts: Mapping[tuple[str, str], int],
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    min_cell: int = MIN_CELL,
) -> tuple[Cells, Totals, Totals, int | None]:
    """Cells, row totals, column totals and grand total of a count table, with small numbers suppressed (None).

    `counts` maps (row, column) to a count; a missing pair counts 0. Published numbers are the true counts.
    """
    row_labels, column_labels = _labels(rows, "row"), _labels(columns, "column")
    if min_cell < 1:
        raise ValueError("min_cell must be at least 1")
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

    hidden = _suppression_pattern(grid, min_cell)

    def shown(i: int, j: int) -> int | None:
        return None if (i, j) in hidden else grid[i][j]

    cells = {(r, c): shown(i, j) for i, r in enumerate(row_labels) for j, c in enumerate(column_labels)}
    row_totals = {r: shown(i, n) for i, r in enumerate(row_labels)}
    column_totals = {c: shown(m, j) for j, c in enumerate(column_labels)}
    return cells, row_totals, column_totals, shown(m, n)


def _suppression_pattern(grid: Sequence[Sequence[int]], min_cell: int = MIN_CELL) -> set[Entry]:
    """The entries to suppress in a bordered table (last row: column totals; last column: row totals).

    `grid` must be consistent (every line's last entry is the sum of the others) and non-negative.
    """
    m, n = len(grid) - 1, len(grid[0]) - 1
    hidden = {(i, j) for i in range(m + 1) for j in range(n + 1) if 0 < grid[i][j] < min_cell}
    lines = [[(i, j) for j in range(n + 1)] for i in range(m + 1)]
    lines += [[(i, j) for i in range(m + 1)] for j in range(n + 1)]
    while True:
        while _complete_lines(grid, lines, hidden):
            pass
        if not _close_a_bridge(grid, hidden):
            return hidden


def _complete_lines(grid: Sequence[Sequence[int]], lines: list[list[Entry]], hidden: set[Entry]) -> bool:
    """One pass of the line rule: a line with exactly one suppressed entry gets a second one. True if any did."""
    changed = False
    for line in lines:
        if sum(1 for entry in line if entry in hidden) != 1:
            continue
        *cells, total = line
        candidates = [e for e in cells if e not in hidden and grid[e[0]][e[1]] > 0]
        if not candidates:
            # The hidden entry is non-zero, so the line balances only with another non-zero entry: the total.
            if total in hidden or grid[total[0]][total[1]] == 0:  # pragma: no cover - excluded by the sums
                raise RuntimeError("inconsistent table: a line does not add up")
            candidates = [total]
        hidden.add(min(candidates, key=lambda e: (grid[e[0]][e[1]], e)))
        changed = True
    return changed


def _close_a_bridge(grid: Sequence[Sequence[int]], hidden: set[Entry]) -> bool:
    """Put the first suppressed entry that lies on no cycle on one. True if there was such an entry.

    The cycle is closed by the cheapest path of non-zero entries between the bridge's two sides: fewest new
    suppressions, then fewest totals among them, then the smallest sum; its published entries are suppressed.
    """
    m, n = len(grid) - 1, len(grid[0]) - 1
    # Nodes: rows 0..m, then columns as m+1..m+1+n. Edges: suppressed entries.
    node_count = m + n + 2
    edges = sorted(hidden)
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(node_count)]
    for k, (i, j) in enumerate(edges):
        adjacency[i].append((m + 1 + j, k))
        adjacency[m + 1 + j].append((i, k))
    bridges = _bridges(adjacency)
    if not bridges:
        return False
    bridge_id = min(bridges)
    bridge = edges[bridge_id]
    a_side = _reachable(adjacency, bridge[0], bridge_id)
    b_side = _reachable(adjacency, m + 1 + bridge[1], bridge_id)

    def neighbours(node: int) -> list[tuple[int, Entry]]:
        if node <= m:
            entries = [(node, j) for j in range(n + 1)]
            return [(m + 1 + e[1], e) for e in entries if e != bridge and grid[e[0]][e[1]] > 0]
        entries = [(i, node - m - 1) for i in range(m + 1)]
        return [(e[0], e) for e in entries if e != bridge and grid[e[0]][e[1]] > 0]

    # Dijkstra from side A to side B over the non-zero entries; suppressed ones cost nothing.
    best: dict[int, _Cost] = dict.fromkeys(a_side, (0, 0, 0))
    came_by: dict[int, tuple[int, Entry]] = {}
    heap: list[tuple[_Cost, int]] = [((0, 0, 0), node) for node in sorted(a_side)]
    heapq.heapify(heap)
    done: set[int] = set()
    while heap:
        cost, node = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        if node in b_side:
            while node not in a_side:
                node, entry = came_by[node]
                hidden.add(entry)
            return True
        for neighbour, entry in neighbours(node):
            step = (0, 0, 0) if entry in hidden else (1, int(entry[0] == m or entry[1] == n), grid[entry[0]][entry[1]])
            new_cost = (cost[0] + step[0], cost[1] + step[1], cost[2] + step[2])
            if neighbour not in best or new_cost < best[neighbour]:
                best[neighbour] = new_cost
                came_by[neighbour] = (node, entry)
                heapq.heappush(heap, (new_cost, neighbour))
    # The lines on side A add up, so some non-zero entry other than the bridge leaves it: B is always reached.
    raise RuntimeError("inconsistent table: a line does not add up")  # pragma: no cover


def _bridges(adjacency: list[list[tuple[int, int]]]) -> list[int]:
    """The ids of the edges that lie on no cycle (Tarjan's bridge search, iterative)."""
    discovered = [-1] * len(adjacency)
    low = [0] * len(adjacency)
    clock = 0
    found: list[int] = []
    for root in range(len(adjacency)):
        if discovered[root] != -1:
            continue
        discovered[root] = low[root] = clock
        clock += 1
        stack = [(root, -1, iter(adjacency[root]))]
        while stack:
            node, via, neighbours = stack[-1]
            descended = False
            for neighbour, edge in neighbours:
                if edge == via:
                    continue
                if discovered[neighbour] == -1:
                    discovered[neighbour] = low[neighbour] = clock
                    clock += 1
                    stack.append((neighbour, edge, iter(adjacency[neighbour])))
                    descended = True
                    break
                low[node] = min(low[node], discovered[neighbour])
            if descended:
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > discovered[parent]:
                    found.append(via)
    return found


def _reachable(adjacency: list[list[tuple[int, int]]], start: int, without: int) -> set[int]:
    """The nodes reachable from start without crossing edge `without`."""
    seen = {start}
    todo = [start]
    while todo:
        node = todo.pop()
        for neighbour, edge in adjacency[node]:
            if edge != without and neighbour not in seen:
                seen.add(neighbour)
                todo.append(neighbour)
    return seen


def _labels(labels: Sequence[str], what: str) -> tuple[str, ...]:
    result = tuple(labels)
    if len(set(result)) != len(result):
        raise ValueError(f"{what} labels must be distinct")
    if TOTAL in result:
        raise ValueError(f"{what} label {TOTAL!r} is reserved for the totals")
    return result


# --- the follow-up tables ------------------------------------------------------------------------------------


def statistics(rows: Iterable[FollowUpRow], *, period_from: date, period_to: date, today: date) -> dict[str, Table]:
    """The follow-up tables for a period (both ends inclusive), suppressed.

    The period ends no later than `today`: dates after today are not counted. Participants without consent are
    counted only in "without_consent_by_year_and_gender" (by start year and gender), which counts everyone who
    started in the period; every other table counts participants with consent only. Age is the age at the start.
    """
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

    return {
        "started_by_gender_and_age": _table(
            f"Started {period}, by gender and age band (with consent)",
            ("gender", "age_band"),
            (GENDERS, AGE_BANDS),
            started,
            lambda r: (r.gender, age_band(r.birth_year, r.start_date)),
        ),
        "started_by_municipality_and_gender": _table(
            f"Started {period}, by municipality and gender (with consent)",
            ("municipality", "gender"),
            (_code_axis([r.municipality for r in started]), GENDERS),
            started,
            lambda r: (r.municipality or UNKNOWN, r.gender),
        ),
        "ended_by_outcome_and_gender": _table(
            f"Ended {period}, by outcome and gender (with consent)",
            ("outcome", "gender"),
            (outcomes, GENDERS),
            ended,
            lambda r: (outcome(r), r.gender),
        ),
        "days_in_programme": _table(
            f"Ended {period}, by days in the programme and gender (with consent)",
            ("days", "gender"),
            (DAY_BANDS, GENDERS),
            ended,
            lambda r: (days_band(r.start_date, ended_after(r)), r.gender),
        ),
        "support_before_and_after": _table(
            f"Ended {period}, main source of support before and after (with consent)",
            ("support_before", "support_after"),
            (support_codes, support_codes),
            ended,
            lambda r: (r.support_before or UNKNOWN, r.support_after or UNKNOWN),
        ),
        "occupation_before_and_after": _table(
            f"Ended {period}, occupation before and after (with consent)",
            ("occupation_before", "occupation_after"),
            (occupation_codes, occupation_codes),
            ended,
            lambda r: (r.occupation_before or UNKNOWN, r.occupation_after or UNKNOWN),
        ),
        "without_consent_by_year_and_gender": _table(
            f"Started {period}, by start year and gender (everyone, with or without consent)",
            ("year", "gender"),
            (years, GENDERS),
            started_all,
            lambda r: (str(r.start_date.year), r.gender),
        ),
    }


def _code_axis(codes: Iterable[str | None]) -> tuple[str, ...]:
    """The codes present, sorted, then "unknown" if a code is missing."""
    present = set(codes)
    known = sorted(code for code in present if code is not None and code != UNKNOWN)
    return (*known, UNKNOWN) if None in present or UNKNOWN in present else tuple(known)


def _table(
    title: str,
    labels: tuple[str, str],
    axes: tuple[tuple[str, ...], tuple[str, ...]],
    rows: Iterable[FollowUpRow],
    key: Callable[[FollowUpRow], tuple[str, str]],
) -> Table:
    counts = Counter(key(r) for r in rows)
    cells, row_totals, column_totals, total = suppress(counts, axes[0], axes[1])
    return Table(title, labels[0], labels[1], axes[0], axes[1], cells, row_totals, column_totals, total)


# --- output --------------------------------------------------------------------------------------------------

SUPPRESSED = f"<{MIN_CELL}"


def table_to_csv(table: Table) -> str:
    """The table as CSV: a header (row label, columns, "total"), one line per row, then the totals line."""

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
    """The table as JSON-ready data; suppressed numbers are null."""
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
    }
