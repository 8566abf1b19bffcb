"""The follow-up statistics (projections/statistics.py): the tables, and small-cell suppression held to its rules.

The properties check `suppress` (one table on its own) against oracles written here: the published numbers are the
true ones, nothing small is shown, and no suppressed number can be worked out from the published ones, both by
linear algebra over exact fractions (any table size) and by brute-force search for a second table (small tables).
The whole release, all seven tables solved together by integer programming, is audited in test_statistics_audit.py.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.statistics import (
    AGE_BANDS,
    DAY_BANDS,
    MIN_CELL,
    SUPPRESSED,
    FollowUpRow,
    Table,
    age_band,
    days_band,
    statistics,
    suppress,
    table_to_csv,
    table_to_json,
)

Counts = dict[tuple[str, str], int]
Entry = tuple[int, int]


# --- oracles -------------------------------------------------------------------------------------------------


def labels(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{k}" for k in range(count))


def bordered(counts: Counts, rows: Sequence[str], columns: Sequence[str]) -> list[list[int]]:
    """The true table with its margins: last column row totals, last row column totals, corner grand total."""
    grid = [[counts.get((r, c), 0) for c in columns] for r in rows]
    for line in grid:
        line.append(sum(line))
    grid.append([sum(line[j] for line in grid) for j in range(len(columns) + 1)])
    return grid


def published(counts: Counts, rows: Sequence[str], columns: Sequence[str]) -> list[list[int | None]]:
    """What `suppress` publishes, laid out like `bordered` (None = suppressed)."""
    cells, row_totals, column_totals, total = suppress(counts, rows, columns)
    grid: list[list[int | None]] = [[*(cells[(r, c)] for c in columns), row_totals[r]] for r in rows]
    grid.append([*(column_totals[c] for c in columns), total])
    return grid


def bordered_lines(m: int, n: int) -> list[list[tuple[Entry, int]]]:
    """Every row and column of an (m+1)x(n+1) bordered table, each entry with its sign in `cells - total = 0`."""
    lines = [[((i, j), -1 if j == n else 1) for j in range(n + 1)] for i in range(m + 1)]
    lines += [[((i, j), -1 if i == m else 1) for i in range(m + 1)] for j in range(n + 1)]
    return lines


def rank(matrix: list[list[Fraction]]) -> int:
    rows = [row[:] for row in matrix]
    result = 0
    width = len(rows[0]) if rows else 0
    for column in range(width):
        pivot = next((k for k in range(result, len(rows)) if rows[k][column] != 0), None)
        if pivot is None:
            continue
        rows[result], rows[pivot] = rows[pivot], rows[result]
        for k in range(len(rows)):
            if k != result and rows[k][column] != 0:
                factor = rows[k][column] / rows[result][column]
                rows[k] = [a - factor * b for a, b in zip(rows[k], rows[result], strict=True)]
        result += 1
    return result


def determined(shown: list[list[int | None]]) -> list[Entry]:
    """Suppressed entries whose value follows linearly from the published ones (the line sums)."""
    m, n = len(shown) - 1, len(shown[0]) - 1
    unknowns = [(i, j) for i in range(m + 1) for j in range(n + 1) if shown[i][j] is None]
    if not unknowns:
        return []
    matrix = []
    for line in bordered_lines(m, n):
        signs = dict(line)
        matrix.append([Fraction(signs.get(u, 0)) for u in unknowns])
    full = rank(matrix)
    return [u for k, u in enumerate(unknowns) if rank([row[:k] + row[k + 1 :] for row in matrix]) < full]


class SearchBudgetExceeded(Exception):
    pass


def second_table_exists(truth: list[list[int]], shown: list[list[int | None]], target: Entry) -> bool:
    """Brute force: is there a table of non-negative counts with every published number (and every line sum)
    of the published table, whose value at `target` differs from the truth?

    The attacker's model here: any value >= 0 (the stricter one, suppressed entries >= 1 because zeros are
    published, is solved by integer programming in test_statistics_audit.py). Values are searched up to the true
    grand total (a witness found within that bound is a witness).
    """
    m, n = len(shown) - 1, len(shown[0]) - 1
    lines = bordered_lines(m, n)
    known = {(i, j): v for i, row in enumerate(shown) for j, v in enumerate(row) if v is not None}
    unknowns = [target, *sorted((i, j) for i in range(m + 1) for j in range(n + 1) if shown[i][j] is None)]
    unknowns = list(dict.fromkeys(unknowns))
    bound = truth[m][n]
    budget = [200_000]

    def solve(assigned: dict[Entry, int]) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            raise SearchBudgetExceeded
        values = dict(assigned)
        changed = True
        while changed:
            changed = False
            for line in lines:
                total_entry = next(e for e, sign in line if sign == -1)
                open_entries = [(e, s) for e, s in line if e not in known and e not in values]
                fixed_sum = sum(s * known.get(e, values.get(e, 0)) for e, s in line)
                if not open_entries:
                    if fixed_sum != 0:
                        return False
                    continue
                if total_entry in known or total_entry in values:
                    cells_so_far = sum(known.get(e, values.get(e, 0)) for e, s in line if s == 1)
                    total = known.get(total_entry, values.get(total_entry, 0))
                    if cells_so_far > total:
                        return False
                if len(open_entries) == 1:
                    entry, sign = open_entries[0]
                    value = -fixed_sum * sign
                    if not 0 <= value <= bound:
                        return False
                    values[entry] = value
                    changed = True
        if values.get(target) == truth[target[0]][target[1]]:
            return False
        free = [u for u in unknowns if u not in values]
        if not free:
            return True
        entry = free[0]
        true_value = truth[entry[0]][entry[1]]
        for value in sorted(range(bound + 1), key=lambda v: (abs(v - true_value), v)):
            if entry == target and value == true_value:
                continue
            if solve({**values, entry: value}):
                return True
        return False

    return solve({})


@st.composite
def count_tables(
    draw: st.DrawFn, max_rows: int = 6, max_columns: int = 5, max_count: int = 30
) -> tuple[Counts, tuple[str, ...], tuple[str, ...]]:
    """Random count tables, biased towards small counts so that suppression has work to do."""
    rows = labels("r", draw(st.integers(2, max_rows)))
    columns = labels("c", draw(st.integers(2, max_columns)))
    count = st.one_of(st.integers(0, max_count), st.integers(0, min(MIN_CELL + 1, max_count)))
    counts = {(r, c): draw(count) for r in rows for c in columns}
    return counts, rows, columns


Table3 = tuple[Counts, tuple[str, ...], tuple[str, ...]]


# --- properties of suppression -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(count_tables())
def test_published_cells_are_zero_or_at_least_min_cell(table: Table3) -> None:
    cells, _, _, _ = suppress(*table)
    assert all(v is None or v == 0 or v >= MIN_CELL for v in cells.values())


@settings(max_examples=200, deadline=None)
@given(count_tables())
def test_published_totals_are_zero_or_at_least_min_cell(table: Table3) -> None:
    _, row_totals, column_totals, total = suppress(*table)
    for v in [*row_totals.values(), *column_totals.values(), total]:
        assert v is None or v == 0 or v >= MIN_CELL


@settings(max_examples=200, deadline=None)
@given(count_tables())
def test_no_line_with_a_published_total_has_exactly_one_suppressed_cell(table: Table3) -> None:
    counts, rows, columns = table
    cells, row_totals, column_totals, _ = suppress(counts, rows, columns)
    for r in rows:
        if row_totals[r] is not None:
            assert sum(cells[(r, c)] is None for c in columns) != 1
    for c in columns:
        if column_totals[c] is not None:
            assert sum(cells[(r, c)] is None for r in rows) != 1


@settings(max_examples=200, deadline=None)
@given(count_tables())
def test_no_line_of_the_bordered_table_has_exactly_one_suppressed_entry(table: Table3) -> None:
    """The same, counting totals as entries: a suppressed total is never the sum of published numbers."""
    shown = published(*table)
    m, n = len(shown) - 1, len(shown[0]) - 1
    for line in bordered_lines(m, n):
        assert sum(shown[i][j] is None for (i, j), _ in line) != 1


@settings(max_examples=200, deadline=None)
@given(count_tables())
def test_published_numbers_are_the_true_counts(table: Table3) -> None:
    truth = bordered(*table)
    shown = published(*table)
    for true_row, shown_row in zip(truth, shown, strict=True):
        for true_value, value in zip(true_row, shown_row, strict=True):
            assert value is None or value == true_value


@settings(max_examples=200, deadline=None)
@given(count_tables())
def test_only_non_zero_numbers_are_suppressed_and_all_small_ones_are(table: Table3) -> None:
    truth = bordered(*table)
    shown = published(*table)
    for true_row, shown_row in zip(truth, shown, strict=True):
        for true_value, value in zip(true_row, shown_row, strict=True):
            if value is None:
                assert true_value > 0
            if 0 < true_value < MIN_CELL:
                assert value is None


@settings(max_examples=200, deadline=None)
@given(count_tables())
def test_nothing_is_suppressed_without_a_small_number(table: Table3) -> None:
    truth = bordered(*table)
    if any(0 < v < MIN_CELL for row in truth for v in row):
        return
    assert published(*table) == truth


@settings(max_examples=150, deadline=None)
@given(count_tables())
def test_no_suppressed_number_follows_from_the_published_ones(table: Table3) -> None:
    """Linear algebra over the line sums, any size: no suppressed entry is fixed by the published numbers."""
    assert determined(published(*table)) == []


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count_tables(max_rows=3, max_columns=3, max_count=8))
def test_every_suppressed_number_has_two_consistent_values(table: Table3) -> None:
    """Brute force on small tables: for every suppressed entry, another table of non-negative counts agrees with
    everything published yet differs in that entry."""
    truth = bordered(*table)
    shown = published(*table)
    for i, row in enumerate(shown):
        for j, value in enumerate(row):
            if value is None:
                assert second_table_exists(truth, shown, (i, j)), f"entry {(i, j)} is pinned down"


@settings(max_examples=100, deadline=None)
@given(count_tables())
def test_suppression_is_deterministic_and_ignores_the_order_of_the_counts(table: Table3) -> None:
    counts, rows, columns = table
    items = list(counts.items())
    items.reverse()
    assert suppress(dict(items), rows, columns) == suppress(counts, rows, columns)
    sparse = {k: v for k, v in counts.items() if v}
    assert suppress(sparse, rows, columns) == suppress(counts, rows, columns)


# --- examples of suppression ---------------------------------------------------------------------------------


def test_one_small_cell_in_a_row_forces_a_secondary_suppression() -> None:
    counts = {("a", "x"): 3, ("a", "y"): 10, ("a", "z"): 20, ("b", "x"): 10, ("b", "y"): 12, ("b", "z"): 10}
    cells, row_totals, column_totals, total = suppress(counts, ("a", "b"), ("x", "y", "z"))
    # 3 is small; row a's next smallest (10) goes too; then columns x and y each need a second: b's 10 and 12.
    assert cells == {
        ("a", "x"): None,
        ("a", "y"): None,
        ("a", "z"): 20,
        ("b", "x"): None,
        ("b", "y"): None,
        ("b", "z"): 10,
    }
    assert row_totals == {"a": 33, "b": 32}
    assert column_totals == {"x": 13, "y": 22, "z": 30}
    assert total == 65


def test_secondary_suppression_breaks_ties_by_label_order() -> None:
    counts = {("a", "x"): 2, ("a", "y"): 7, ("a", "z"): 7, ("b", "x"): 9, ("b", "y"): 9, ("b", "z"): 9}
    cells, _, _, _ = suppress(counts, ("a", "b"), ("x", "y", "z"))
    assert [k for k, v in cells.items() if v is None] == [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")]


def test_zeros_are_shown_and_never_chosen_as_secondary_suppressions() -> None:
    counts = {("a", "x"): 3, ("a", "y"): 0, ("a", "z"): 12, ("b", "x"): 0, ("b", "y"): 0, ("b", "z"): 9}
    cells, row_totals, column_totals, total = suppress(counts, ("a", "b"), ("x", "y", "z"))
    assert cells[("a", "y")] == 0
    assert cells[("b", "x")] == 0
    assert cells[("b", "y")] == 0
    assert cells[("a", "x")] is None
    assert cells[("a", "z")] is None  # row a: the only other non-zero cell
    assert cells[("b", "z")] == 9
    # Column x holds only the 3: its total is 3 and suppressed. The totals row then needs a second suppression,
    # and the only non-zero one left is column z's total, which also gives column z its second.
    assert column_totals == {"x": None, "y": 0, "z": None}
    assert row_totals == {"a": 15, "b": 9}
    assert total == 24
    assert determined(published(counts, ("a", "b"), ("x", "y", "z"))) == []


def test_a_table_without_small_numbers_is_published_in_full() -> None:
    counts = {("a", "x"): 0, ("a", "y"): 5, ("b", "x"): 17, ("b", "y"): 0}
    assert suppress(counts, ("a", "b"), ("x", "y")) == (counts, {"a": 5, "b": 17}, {"x": 17, "y": 5}, 22)


def test_a_single_column_table() -> None:
    counts = {("a", "x"): 2, ("b", "x"): 10, ("c", "x"): 7, ("d", "x"): 0}
    cells, row_totals, column_totals, total = suppress(counts, ("a", "b", "c", "d"), ("x",))
    # a's 2 is small, and so its row total; the column needs a second cell (c's 7), whose row total then follows.
    assert cells == {("a", "x"): None, ("b", "x"): 10, ("c", "x"): None, ("d", "x"): 0}
    assert row_totals == {"a": None, "b": 10, "c": None, "d": 0}
    assert column_totals == {"x": 19}
    assert total == 19
    assert determined(published(counts, ("a", "b", "c", "d"), ("x",))) == []


def test_a_single_row_table() -> None:
    counts = {("a", "x"): 4, ("a", "y"): 6, ("a", "z"): 30}
    cells, row_totals, column_totals, total = suppress(counts, ("a",), ("x", "y", "z"))
    assert cells == {("a", "x"): None, ("a", "y"): None, ("a", "z"): 30}
    assert column_totals == {"x": None, "y": None, "z": 30}
    assert row_totals == {"a": 40}
    assert total == 40


def test_totals_under_min_cell_are_suppressed() -> None:
    counts = {("a", "x"): 2, ("a", "y"): 2, ("b", "x"): 8, ("b", "y"): 9, ("c", "x"): 6, ("c", "y"): 7}
    cells, row_totals, _, total = suppress(counts, ("a", "b", "c"), ("x", "y"))
    assert row_totals["a"] is None  # 4
    # The totals column must not give row a's total away as 32 - 17 - 13: another row total goes too.
    assert sum(v is None for v in row_totals.values()) >= 2
    assert cells[("a", "x")] is None
    assert cells[("a", "y")] is None
    assert total == 34


def test_a_grand_total_under_min_cell_hides_every_non_zero_number() -> None:
    counts = {("a", "x"): 1, ("a", "y"): 0, ("b", "x"): 2, ("b", "y"): 1}
    cells, row_totals, column_totals, total = suppress(counts, ("a", "b"), ("x", "y"))
    assert cells == {("a", "x"): None, ("a", "y"): 0, ("b", "x"): None, ("b", "y"): None}
    assert row_totals == {"a": None, "b": None}
    assert column_totals == {"x": None, "y": None}
    assert total is None


def test_an_empty_table_is_all_zeros() -> None:
    cells, row_totals, column_totals, total = suppress({}, ("a", "b"), ("x", "y"))
    assert set(cells.values()) == {0}
    assert set(row_totals.values()) == set(column_totals.values()) == {0}
    assert total == 0


def test_a_suppressed_cell_joining_two_blocks_is_protected_too() -> None:
    """Two 2x2 blocks of small cells joined by one small cell pass every per-line test, yet the joining cell
    would equal (row totals of the first block) - (its column totals) - (published cells). It gets a cycle."""
    rows = columns = labels("k", 5)
    small = {(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 2), (2, 3), (3, 2), (3, 3)}
    counts = {
        (rows[i], columns[j]): 1 if (i, j) in small else 10 if (i == 4) != (j == 4) else 0
        for i in range(5)
        for j in range(5)
    }
    shown = published(counts, rows, columns)
    assert shown[1][2] is None
    assert determined(shown) == []
    assert all(shown[i][j] is None for i, j in small)


def test_a_suppressed_row_total_is_not_left_derivable_across_lines() -> None:
    """Found by the linear-algebra property with the per-line rule alone: every line has 0 or >= 2 suppressed
    entries, yet row r5's total is 7 - (r0 + r1) = 7 - (column c2's total 5) = 2. Column c2's total goes too."""
    rows, columns = labels("r", 6), labels("c", 4)
    counts = {("r0", "c2"): 2, ("r1", "c2"): 3, ("r5", "c1"): 1, ("r5", "c3"): 1}
    cells, row_totals, column_totals, total = suppress(counts, rows, columns)
    assert [r for r in rows if row_totals[r] is None] == ["r0", "r1", "r5"]
    assert column_totals == {"c0": 0, "c1": None, "c2": None, "c3": None}
    assert total == 7
    assert [k for k, v in cells.items() if v is None] == [("r0", "c2"), ("r1", "c2"), ("r5", "c1"), ("r5", "c3")]
    assert determined(published(counts, rows, columns)) == []


def test_suppress_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="outside"):
        suppress({("a", "q"): 1}, ("a",), ("x",))
    with pytest.raises(ValueError, match="negative"):
        suppress({("a", "x"): -1}, ("a",), ("x",))
    with pytest.raises(ValueError, match="distinct"):
        suppress({}, ("a", "a"), ("x",))
    with pytest.raises(ValueError, match="reserved"):
        suppress({}, ("a", "total"), ("x",))


def test_min_cell_can_be_changed() -> None:
    counts = {("a", "x"): 6, ("a", "y"): 20, ("b", "x"): 20, ("b", "y"): 20}
    cells, _, _, _ = suppress(counts, ("a", "b"), ("x", "y"), min_cell=10)
    assert set(cells.values()) == {None}
    assert suppress(counts, ("a", "b"), ("x", "y"), min_cell=1)[0] == counts


# --- bands ---------------------------------------------------------------------------------------------------

AGE_EDGES = [
    (16, "16-19"),
    (19, "16-19"),
    (20, "20-24"),
    (24, "20-24"),
    (25, "25-29"),
    (29, "25-29"),
    (30, "30-39"),
    (39, "30-39"),
    (40, "40-49"),
    (49, "40-49"),
    (50, "50-64"),
    (64, "50-64"),
    (65, "65+"),
    (90, "65+"),
]


@pytest.mark.parametrize(("age", "band"), AGE_EDGES)
def test_age_bands_at_their_edges(age: int, band: str) -> None:
    assert age_band(2025 - age, date(2025, 6, 1)) == band


def test_age_is_counted_by_years_only() -> None:
    assert age_band(2005, date(2025, 1, 1)) == "20-24"  # 20 by year, whatever the birthday
    assert age_band(2006, date(2025, 12, 31)) == "16-19"


def test_participants_under_16_share_one_band() -> None:
    assert age_band(2012, date(2026, 1, 1)) == "0-15"
    assert age_band(2010, date(2026, 1, 1)) == "16-19"


def test_age_bands_cover_every_age() -> None:
    assert {age_band(2100 - age, date(2100, 1, 1)) for age in range(0, 120)} == set(AGE_BANDS)


@pytest.mark.parametrize(
    ("days", "band"),
    [(0, "0-90"), (90, "0-90"), (91, "91-180"), (180, "91-180"), (181, "181-365"), (365, "181-365"), (366, "366+")],
)
def test_days_bands_at_their_edges(days: int, band: str) -> None:
    start = date(2024, 3, 1)
    assert days_band(start, start + timedelta(days=days)) == band


def test_days_band_refuses_an_end_before_the_start() -> None:
    with pytest.raises(ValueError, match="before"):
        days_band(date(2025, 3, 2), date(2025, 3, 1))


# --- the follow-up tables ------------------------------------------------------------------------------------

PERIOD_FROM = date(2025, 1, 1)
PERIOD_TO = date(2025, 12, 31)
TODAY = date(2026, 2, 1)

_serial = itertools.count()


def participant(**changes: object) -> FollowUpRow:
    row = FollowUpRow(
        participant_id=f"p{next(_serial)}",
        start_date=date(2025, 3, 1),
        end_date=None,
        outcome=None,
        municipality="2480",
        gender="female",
        birth_year=1990,
        with_consent=True,
        support_before="sickness_benefit",
        occupation_before="none",
        education_level="upper_secondary",
        support_after=None,
        occupation_after=None,
    )
    return replace(row, **changes)  # type: ignore[arg-type]


def many(count: int, **changes: object) -> list[FollowUpRow]:
    return [participant(**changes) for _ in range(count)]


def run(rows: list[FollowUpRow], **period: date) -> dict[str, Table]:
    return statistics(
        rows,
        period_from=period.get("period_from", PERIOD_FROM),
        period_to=period.get("period_to", PERIOD_TO),
        today=period.get("today", TODAY),
    )


def test_every_table_is_there() -> None:
    tables = run([])
    assert set(tables) == {
        "started_by_gender_and_age",
        "started_by_municipality_and_gender",
        "ended_by_outcome_and_gender",
        "days_in_programme",
        "support_before_and_after",
        "occupation_before_and_after",
        "without_consent_by_year_and_gender",
    }
    assert tables["started_by_gender_and_age"].rows == ("female", "male")
    assert tables["started_by_gender_and_age"].columns == AGE_BANDS
    assert tables["days_in_programme"].rows == DAY_BANDS
    assert tables["without_consent_by_year_and_gender"].rows == ("2025",)
    assert all(t.total == 0 for t in tables.values())


def test_participants_without_consent_appear_only_in_the_year_and_gender_table() -> None:
    closed = {"end_date": date(2025, 9, 1), "outcome": "work", "support_after": "salary", "occupation_after": "job"}
    without = many(6, with_consent=False, **closed) + many(5, with_consent=False, gender="male", **closed)
    tables = run(without)
    for name, table in tables.items():
        if name != "without_consent_by_year_and_gender":
            assert table.total == 0, name
            assert all(v == 0 for v in table.cells.values()), name
    year_table = tables["without_consent_by_year_and_gender"]
    assert year_table.cells == {("2025", "female"): 6, ("2025", "male"): 5}
    assert year_table.total == 11


def test_the_year_and_gender_table_counts_everyone_who_started() -> None:
    rows = many(6, with_consent=False) + many(7) + many(5, gender="male", start_date=date(2026, 1, 10))
    tables = run(rows, period_to=date(2026, 1, 31))
    year_table = tables["without_consent_by_year_and_gender"]
    assert year_table.rows == ("2025", "2026")
    assert year_table.cells == {("2025", "female"): 13, ("2025", "male"): 0, ("2026", "female"): 0, ("2026", "male"): 5}
    assert tables["started_by_gender_and_age"].total == 12


def test_started_by_gender_and_age_counts_the_age_at_the_start() -> None:
    rows = many(5, birth_year=2005, start_date=date(2025, 1, 2)) + many(
        6, birth_year=2005, start_date=date(2024, 12, 1)
    )
    rows += many(5, birth_year=1960, gender="male")
    table = run(rows)["started_by_gender_and_age"]
    assert table.cells[("female", "20-24")] == 5
    assert table.cells[("male", "65+")] == 5
    assert table.total == 10


def test_period_boundaries_are_inclusive() -> None:
    rows = (
        many(5, start_date=PERIOD_FROM)
        + many(6, start_date=PERIOD_TO)
        + many(7, start_date=PERIOD_FROM - timedelta(days=1))
        + many(8, start_date=PERIOD_TO + timedelta(days=1))
    )
    table = run(rows)["started_by_municipality_and_gender"]
    assert table.cells[("2480", "female")] == 11
    ended = (
        many(5, start_date=date(2024, 6, 1), end_date=PERIOD_FROM, outcome="studies")
        + many(6, start_date=date(2024, 6, 1), end_date=PERIOD_TO, outcome="studies")
        + many(7, start_date=date(2024, 6, 1), end_date=PERIOD_FROM - timedelta(days=1), outcome="work")
        + many(8, start_date=date(2024, 6, 1), end_date=PERIOD_TO + timedelta(days=1), outcome="work")
    )
    outcomes = run(ended)["ended_by_outcome_and_gender"]
    assert outcomes.cells[("studies", "female")] == 11
    assert outcomes.cells[("work", "female")] == 0


def test_the_period_ends_today_at_the_latest() -> None:
    rows = many(5, start_date=date(2025, 6, 1)) + many(6, start_date=date(2025, 6, 2))
    tables = run(rows, today=date(2025, 6, 1))
    assert tables["started_by_gender_and_age"].total == 5
    assert tables["without_consent_by_year_and_gender"].total == 5


def test_period_from_after_period_to_is_refused() -> None:
    with pytest.raises(ValueError, match="after"):
        run([], period_from=date(2025, 2, 1), period_to=date(2025, 1, 31))


def test_ended_by_outcome_lists_every_outcome_and_unknown_only_when_present() -> None:
    rows = many(5, end_date=date(2025, 10, 1), outcome="work") + many(5, end_date=date(2025, 10, 1), outcome="moved")
    table = run(rows)["ended_by_outcome_and_gender"]
    assert table.rows == ("work", "studies", "other_support", "moved", "declined", "error")
    assert table.cells[("work", "female")] == 5
    assert table.cells[("moved", "female")] == 5
    table = run([*rows, *many(5, end_date=date(2025, 10, 1))])["ended_by_outcome_and_gender"]
    assert table.rows[-1] == "unknown"
    assert table.cells[("unknown", "female")] == 5


@pytest.mark.parametrize(("days", "band"), [(0, "0-90"), (90, "0-90"), (91, "91-180"), (366, "366+")])
def test_days_in_programme_bands(days: int, band: str) -> None:
    end = date(2025, 11, 30)
    rows = many(5, start_date=end - timedelta(days=days), end_date=end, outcome="work")
    table = run(rows)["days_in_programme"]
    assert table.cells[(band, "female")] == 5
    assert table.total == 5


def test_before_and_after_tables_share_their_codes_and_count_missing_ones_as_unknown() -> None:
    end = {"end_date": date(2025, 10, 1), "outcome": "work"}
    rows = many(5, support_after="salary", **end) + many(6, support_before=None, support_after="salary", **end)
    rows += many(7, **end)  # no support_after recorded
    table = run(rows)["support_before_and_after"]
    assert table.rows == table.columns == ("salary", "sickness_benefit", "unknown")
    assert table.cells[("sickness_benefit", "salary")] == 5
    assert table.cells[("unknown", "salary")] == 6
    assert table.cells[("sickness_benefit", "unknown")] == 7
    occupation = run(rows)["occupation_before_and_after"]
    assert occupation.cells[("none", "unknown")] == 18


def test_municipalities_are_listed_in_code_order_and_small_ones_suppressed() -> None:
    rows = many(7, municipality="2480") + many(2, municipality="0180") + many(6, municipality="2480", gender="male")
    rows += many(8, municipality="0180", gender="male") + many(5, municipality=None)
    table = run(rows)["started_by_municipality_and_gender"]
    assert table.rows == ("0180", "2480", "unknown")
    assert table.cells[("0180", "female")] is None
    assert sum(v is None for v in (table.cells[(r, "female")] for r in table.rows)) >= 2
    assert table.total == 28


def test_a_small_without_consent_count_is_not_left_to_a_difference() -> None:
    """Everyone who started minus those with consent: 2 women without consent must not follow from the tables."""
    rows = many(12) + many(2, with_consent=False) + many(9, gender="male")
    tables = run(rows)
    everyone, started = tables["without_consent_by_year_and_gender"], tables["started_by_gender_and_age"]
    assert None in (everyone.cells[("2025", "female")], started.row_totals["female"])
    assert None in (everyone.total, started.total)


def test_a_gender_total_is_printed_by_both_started_tables_or_by_neither() -> None:
    rows = many(2, birth_year=1990) + many(1, birth_year=1980) + many(2, birth_year=1970)
    rows += many(5, gender="male", birth_year=1970)
    tables = run(rows)
    age, municipality = tables["started_by_gender_and_age"], tables["started_by_municipality_and_gender"]
    for gender in ("female", "male"):
        assert (age.row_totals[gender] is None) == (municipality.column_totals[gender] is None)
    assert (age.total is None) == (municipality.total is None)


def test_a_large_population_without_small_counts_is_published_in_full() -> None:
    rows = many(40) + many(30, gender="male") + many(25, end_date=date(2025, 9, 1), outcome="work")
    rows += many(20, gender="male", end_date=date(2025, 9, 1), outcome="work", support_after="salary")
    tables = run(rows)
    for table in tables.values():
        assert None not in table.cells.values()
        assert None not in (*table.row_totals.values(), *table.column_totals.values(), table.total)


def test_statistics_refuses_unknown_genders_and_outcomes() -> None:
    with pytest.raises(ValueError, match="gender"):
        run([participant(gender="x")])
    with pytest.raises(ValueError, match="outcome"):
        run([participant(end_date=date(2025, 5, 1), outcome="retired")])


# --- output --------------------------------------------------------------------------------------------------


def example_table() -> Table:
    counts = {("a", "x"): 3, ("a", "y"): 10, ("a", "z"): 20, ("b", "x"): 10, ("b", "y"): 12, ("b", "z"): 10}
    rows, columns = ("a", "b"), ("x", "y", "z")
    cells, row_totals, column_totals, total = suppress(counts, rows, columns)
    return Table("Example", "letter", "axis", rows, columns, cells, row_totals, column_totals, total)


def test_table_to_csv() -> None:
    text = table_to_csv(example_table())
    assert list(csv.reader(io.StringIO(text))) == [
        ["letter", "x", "y", "z", "total"],
        ["a", "..", "..", "20", "33"],
        ["b", "..", "..", "10", "32"],
        ["total", "13", "22", "30", "65"],
    ]


def test_table_to_json() -> None:
    assert table_to_json(example_table()) == {
        "title": "Example",
        "row_label": "letter",
        "column_label": "axis",
        "columns": ["x", "y", "z"],
        "rows": [
            {"label": "a", "cells": {"x": None, "y": None, "z": 20}, "total": 33},
            {"label": "b", "cells": {"x": None, "y": None, "z": 10}, "total": 32},
        ],
        "column_totals": {"x": 13, "y": 22, "z": 30},
        "total": 65,
        "suppressed_below": 5,
        "suppressed_label": "..",
    }


def test_every_suppressed_number_has_one_label_whatever_the_reason() -> None:
    """b's 10 and 12 are hidden only to protect a's 3: printing them as "<5" would be false, and a label of
    their own would tell the small ones apart."""
    text = table_to_csv(example_table())
    assert "<" not in text
    assert text.count(SUPPRESSED) == 4


def test_every_statistics_table_renders() -> None:
    rows = many(12) + many(3, gender="male", with_consent=False) + many(4, end_date=date(2025, 8, 1), outcome="work")
    for table in run(rows).values():
        lines = list(csv.reader(io.StringIO(table_to_csv(table))))
        assert len(lines) == len(table.rows) + 2
        assert all(len(line) == len(table.columns) + 2 for line in lines)
        assert len(table_to_json(table)["rows"]) == len(table.rows)  # type: ignore[arg-type]
