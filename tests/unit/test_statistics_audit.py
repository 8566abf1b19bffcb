"""The follow-up statistics as an attacker reads them: every table of one release, solved together.

The audit is written from the published tables alone, not from the module's own model. What the attacker knows:
every printed number of every table; counts are integers >= 0; a suppressed count is >= 1 (zeros are printed);
the tables count the same populations: the two "started" tables share gender totals and grand total, the four
"ended" tables share the grand total and the two by gender their gender totals; everyone who started (by year and
gender) = those with consent (by gender, in the started tables) + those without; an axis lists only codes present.
An integer program (HiGHS) gives the smallest and largest value of every suppressed number and of every without-
consent count of 1 to 4 (by year and gender, by year, by gender, in all); each must span at least PROTECTION.

`SAMVERKAN_STATS_AUDIT_POPULATIONS=20000` runs the audit over more random populations (default 1,000).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

import highspy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from projections.statistics import (
    GENDERS,
    MIN_CELL,
    OUTCOMES,
    TOTAL,
    FollowUpRow,
    Table,
    _count,
    _Counted,
    min_range,
    statistics,
    suppress,
)

PROTECTION = MIN_CELL - 2  # a suppressed number's largest and smallest possible value lie at least this far apart
CAP = 100_000  # stands for "no upper limit": far beyond any population here
POPULATIONS = int(os.environ.get("SAMVERKAN_STATS_AUDIT_POPULATIONS", "1000"))
CHUNKS = 10

STARTED_AGE = "started_by_gender_and_age"
STARTED_MUNICIPALITY = "started_by_municipality_and_gender"
ENDED_OUTCOME = "ended_by_outcome_and_gender"
ENDED_DAYS = "days_in_programme"
ENDED_TABLES = (ENDED_OUTCOME, ENDED_DAYS, "support_before_and_after", "occupation_before_and_after")
EVERYONE = "without_consent_by_year_and_gender"

Key = tuple[str, str, str]  # (table, row label or "total", column label or "total")


# --- the attacker's integer program --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A protected quantity whose possible values lie closer together than PROTECTION."""

    what: str
    low: int
    high: int  # CAP: no upper limit

    def __str__(self) -> str:
        high = "no limit" if self.high >= CAP else self.high
        return f"{self.what}: only {self.low} to {high}"


class Attack:
    """Everything one release prints, as an integer program over every entry of every table."""

    def __init__(self, tables: Mapping[str, Table], *, release: bool = True) -> None:
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.names: list[str] = []
        self.rows: list[tuple[dict[int, int], float, float]] = []
        self.entry: dict[Key, int] = {}
        self.suppressed: list[int] = []
        self.without: dict[str, int] = {}
        for name, table in tables.items():
            self._table(name, table)
        if release:  # the seven follow-up tables of one call to `statistics`
            self._same_population(tables)
            self._codes_present(tables)
            self.without = self._everyone(tables)

    def variable(self, name: str, lower: float, upper: float) -> int:
        self.names.append(name)
        self.lower.append(lower)
        self.upper.append(upper)
        return len(self.names) - 1

    def constraint(self, terms: Mapping[int, int], lower: float = 0.0, upper: float = 0.0) -> None:
        self.rows.append((dict(terms), lower, upper))

    def _table(self, name: str, table: Table) -> None:
        rows, columns = (*table.rows, TOTAL), (*table.columns, TOTAL)
        for r in rows:
            for c in columns:
                if r == TOTAL:
                    value = table.total if c == TOTAL else table.column_totals[c]
                else:
                    value = table.row_totals[r] if c == TOTAL else table.cells[(r, c)]
                q = self.variable(f"{name}[{r}, {c}]", 1 if value is None else value, CAP if value is None else value)
                self.entry[(name, r, c)] = q
                if value is None:
                    self.suppressed.append(q)
        for r in rows:
            self.constraint({**{self.entry[(name, r, c)]: 1 for c in table.columns}, self.entry[(name, r, TOTAL)]: -1})
        for c in columns:
            self.constraint({**{self.entry[(name, r, c)]: 1 for r in table.rows}, self.entry[(name, TOTAL, c)]: -1})

    def equal(self, a: Key, b: Key) -> None:
        self.constraint({self.entry[a]: 1, self.entry[b]: -1})

    def _same_population(self, tables: Mapping[str, Table]) -> None:
        for gender in GENDERS:
            self.equal((STARTED_AGE, gender, TOTAL), (STARTED_MUNICIPALITY, TOTAL, gender))
            self.equal((ENDED_OUTCOME, TOTAL, gender), (ENDED_DAYS, TOTAL, gender))
        self.equal((STARTED_AGE, TOTAL, TOTAL), (STARTED_MUNICIPALITY, TOTAL, TOTAL))
        for name in ENDED_TABLES[1:]:
            self.equal((ENDED_OUTCOME, TOTAL, TOTAL), (name, TOTAL, TOTAL))

    def _codes_present(self, tables: Mapping[str, Table]) -> None:
        """An axis lists a municipality, a code or "unknown" outcome only when someone has it."""
        for r in tables[STARTED_MUNICIPALITY].rows:
            self.constraint({self.entry[(STARTED_MUNICIPALITY, r, TOTAL)]: 1}, 1, CAP)
        if "unknown" in tables[ENDED_OUTCOME].rows:
            self.constraint({self.entry[(ENDED_OUTCOME, "unknown", TOTAL)]: 1}, 1, CAP)
        for name in ENDED_TABLES[2:]:
            for code in tables[name].rows:
                terms = {self.entry[(name, code, TOTAL)]: 1, self.entry[(name, TOTAL, code)]: 1}
                self.constraint(terms, 1, 2 * CAP)

    def _everyone(self, tables: Mapping[str, Table]) -> dict[str, int]:
        """Everyone by year and gender = with consent (unknown by year) + without: the without-consent counts."""
        without: dict[str, int] = {}
        years = tables[EVERYONE].rows
        consent = {(y, g): self.variable(f"with consent[{y}, {g}]", 0, CAP) for y in years for g in GENDERS}
        for y in years:
            for g in GENDERS:
                without[f"{y}, {g}"] = q = self.variable(f"without consent[{y}, {g}]", 0, CAP)
                self.constraint({self.entry[(EVERYONE, y, g)]: 1, consent[(y, g)]: -1, q: -1})
        for g in GENDERS:
            self.constraint({**{consent[(y, g)]: 1 for y in years}, self.entry[(STARTED_AGE, g, TOTAL)]: -1})
        groups = {f"{y}, total": [without[f"{y}, {g}"] for g in GENDERS] for y in years}
        groups |= {f"total, {g}": [without[f"{y}, {g}"] for y in years] for g in GENDERS}
        groups["total, total"] = [without[f"{y}, {g}"] for y in years for g in GENDERS]
        for label, members in groups.items():
            without[label] = q = self.variable(f"without consent[{label}]", 0, CAP)
            self.constraint({**dict.fromkeys(members, 1), q: -1})
        return without

    # --- solving ---

    def reduced(self) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """The unknowns (variables not fixed by a printed number), and the constraints on them alone."""
        fixed = {q: self.lower[q] for q in range(len(self.names)) if self.lower[q] == self.upper[q]}
        unknowns = [q for q in range(len(self.names)) if q not in fixed]
        column = {q: k for k, q in enumerate(unknowns)}
        matrix, lower, upper = [], [], []
        for terms, low, high in self.rows:
            constant = sum(c * fixed[q] for q, c in terms.items() if q in fixed)
            row = np.zeros(len(unknowns))
            for q, c in terms.items():
                if q in column:
                    row[column[q]] = c
            if not row.any():
                assert low <= constant <= high, "the printed numbers contradict each other"
                continue
            matrix.append(row)
            lower.append(low - constant)
            upper.append(high - constant)
        return unknowns, np.array(matrix).reshape(-1, len(unknowns)), np.array(lower), np.array(upper)

    def ranges(self, targets: list[int]) -> dict[int, tuple[int, int]]:
        """The smallest and largest value of each target over every integer solution (CAP: no upper limit).

        Each is solved as a linear program first: a vertex that is all integers is the integer optimum too;
        otherwise the integer program decides.
        """
        if not targets:
            return {}
        unknowns, matrix, row_lower, row_upper = self.reduced()
        column = {q: k for k, q in enumerate(unknowns)}
        n = len(unknowns)
        col_lower = np.array([self.lower[q] for q in unknowns])
        col_upper = np.array([self.upper[q] for q in unknowns])
        programs = [_highs(matrix, row_lower, row_upper, col_lower, col_upper, integer) for integer in (False, True)]
        low = {t: CAP + 1 for t in targets}
        high = {t: -1 for t in targets}

        def solve(costs: Mapping[int, float]) -> None:
            cost = np.zeros(n)
            for q, c in costs.items():
                cost[column[q]] = c
            for highs in programs:
                highs.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
                highs.run()
                status = highs.getModelStatus()
                assert status == highspy.HighsModelStatus.kOptimal, f"the release admits no table: {status}"
                values = np.array(highs.getSolution().col_value)
                solution = np.round(values)
                if np.abs(values - solution).max() < 1e-6:
                    break
            # Every solution found is a table printing the same numbers: check it exactly, then let it count.
            assert (solution >= col_lower).all() and (solution <= col_upper).all()
            sums = matrix @ solution
            assert (sums >= row_lower).all() and (sums <= row_upper).all()
            for t in targets:
                value = int(solution[column[t]])
                low[t], high[t] = min(low[t], value), max(high[t], value)

        # Two solves settle many targets at once (at their lower bound, or without an upper limit).
        solve(dict.fromkeys(targets, 1.0))
        solve(dict.fromkeys(targets, -1.0))
        for t in targets:
            if low[t] > self.lower[t]:
                solve({t: 1.0})
            if high[t] < CAP:
                solve({t: -1.0})
        return {t: (low[t], high[t]) for t in targets}


def _highs(
    matrix: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    integer: bool,
) -> highspy.Highs:
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 0.0)
    rows, n = matrix.shape
    highs.addVars(n, lower, upper)
    if integer:
        highs.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.ones(n, dtype=np.uint8))
    starts, indices, values = [], [], []
    for row in matrix:
        starts.append(len(indices))
        nonzero = np.flatnonzero(row)
        indices += nonzero.tolist()
        values += row[nonzero].tolist()
    highs.addRows(
        rows,
        row_lower,
        row_upper,
        len(indices),
        np.array(starts, dtype=np.int32),
        np.array(indices, dtype=np.int32),
        np.array(values, dtype=np.float64),
    )
    return highs


def audit(tables: Mapping[str, Table], without_consent: Mapping[str, int]) -> list[Finding]:
    """What the release leaves too narrow: suppressed numbers, and without-consent counts of 1 to 4."""
    attack = Attack(tables)
    small = [attack.without[label] for label, count in without_consent.items() if 0 < count < MIN_CELL]
    targets = [*attack.suppressed, *small]
    found = attack.ranges(targets)
    return [Finding(attack.names[q], *found[q]) for q in targets if found[q][1] - found[q][0] < PROTECTION]


def without_consent_counts(rows: list[FollowUpRow], period_from: date, last: date) -> dict[str, int]:
    """The true without-consent counts by year and gender, by year, by gender and in all (what must not leak)."""
    counts = Counter(
        (str(r.start_date.year), r.gender) for r in rows if not r.with_consent and period_from <= r.start_date <= last
    )
    years = [str(y) for y in range(period_from.year, last.year + 1)]
    result = {f"{y}, {g}": counts[(y, g)] for y in years for g in GENDERS}
    result |= {f"{y}, total": sum(counts[(y, g)] for g in GENDERS) for y in years}
    result |= {f"total, {g}": sum(counts[(y, g)] for y in years) for g in GENDERS}
    result["total, total"] = sum(counts.values())
    return result


# --- random populations --------------------------------------------------------------------------------------

MUNICIPALITIES = ("0180", "2401", "2403", "2460", "2480", "2482")
SUPPORT = ("activity_compensation", "income_support", "none", "salary", "sickness_benefit", "unemployment_benefit")
OCCUPATION = ("internship", "job", "none", "rehabilitation", "studies")
PERIODS = (
    (date(2025, 1, 1), date(2025, 12, 31), date(2026, 2, 1)),  # a calendar year
    (date(2025, 1, 1), date(2025, 12, 31), date(2025, 9, 30)),  # this year so far
    (date(2024, 7, 1), date(2025, 6, 30), date(2026, 2, 1)),  # across two years
    (date(2025, 4, 1), date(2025, 6, 30), date(2026, 2, 1)),  # a quarter
)


@dataclass(frozen=True)
class Population:
    seed: int
    rows: list[FollowUpRow]
    period_from: date
    period_to: date
    today: date


def population(seed: int) -> Population:
    """A small population with skewed distributions: many small cells, some without consent, some ended."""
    rng = random.Random(seed)
    period_from, period_to, today = rng.choice(PERIODS)
    size = rng.choice((rng.randint(1, 12), rng.randint(5, 30), rng.randint(10, 60)))
    consent = rng.choice((1.0, 0.95, 0.8, 0.6))
    ended_share = rng.random()

    def skewed(values: tuple[str, ...]) -> str:
        weights = [rng.random() ** 3 for _ in values]
        return rng.choices(values, weights=weights)[0]

    municipalities = MUNICIPALITIES[: rng.randint(1, len(MUNICIPALITIES))]
    women = rng.choice((0.5, 0.7, 0.9, 1.0))
    born = rng.choice(((1955, 2008), (1985, 2005), (1960, 1975)))
    rows = []
    for k in range(size):
        start = period_from - timedelta(days=200) + timedelta(days=rng.randint(0, (today - period_from).days + 200))
        end = (
            start + timedelta(days=rng.choice((rng.randint(0, 120), rng.randint(0, 500))))
            if (rng.random() < ended_share)
            else None
        )
        rows.append(
            FollowUpRow(
                participant_id=f"p{k}",
                start_date=start,
                end_date=end,
                outcome=None if end is None or rng.random() < 0.1 else skewed(OUTCOMES),
                municipality=skewed(municipalities) if rng.random() < 0.95 else None,
                gender="female" if rng.random() < women else "male",
                birth_year=rng.randint(*born),
                with_consent=rng.random() < consent,
                support_before=skewed(SUPPORT) if rng.random() < 0.9 else None,
                occupation_before=skewed(OCCUPATION),
                education_level=None,
                support_after=skewed(SUPPORT) if end and rng.random() < 0.85 else None,
                occupation_after=skewed(OCCUPATION) if end and rng.random() < 0.9 else None,
            )
        )
    return Population(seed, rows, period_from, period_to, today)


def release(p: Population) -> dict[str, Table]:
    return statistics(p.rows, period_from=p.period_from, period_to=p.period_to, today=p.today)


def audit_population(p: Population, tables: Mapping[str, Table] | None = None) -> list[Finding]:
    tables = release(p) if tables is None else tables
    return audit(tables, without_consent_counts(p.rows, p.period_from, min(p.period_to, p.today)))


def seeds(chunk: int) -> Iterator[int]:
    return iter(range(chunk, POPULATIONS, CHUNKS))


# --- the audit -----------------------------------------------------------------------------------------------


def test_protection_is_what_the_docs_say() -> None:
    assert PROTECTION == min_range() == 3


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_no_release_lets_a_suppressed_number_be_narrowed(chunk: int) -> None:
    """Over POPULATIONS random populations (a tenth per chunk): every suppressed number of the release, and every
    without-consent count of 1 to 4, keeps a range of at least PROTECTION given everything the release prints."""
    for seed in seeds(chunk):
        findings = audit_population(population(seed))
        assert not findings, f"seed {seed}: " + "; ".join(map(str, findings))


def five_women_five_men() -> Population:
    """5 women (2 aged 30-39, 1 aged 40-49, 2 aged 50-64) and 5 men aged 50-64, one municipality, all with
    consent, started in 2025."""

    def person(k: int, gender: str, born: int) -> FollowUpRow:
        return FollowUpRow(
            f"p{k}", date(2025, 3, 1), None, None, "2480", gender, born, True, None, None, None, None, None
        )

    women = [person(0, "female", 1990), person(1, "female", 1991), person(2, "female", 1980)]
    women += [person(3, "female", 1970), person(4, "female", 1965)]
    men = [person(5 + k, "male", 1970) for k in range(5)]
    return Population(0, women + men, date(2025, 1, 1), date(2025, 12, 31), date(2026, 2, 1))


def test_five_women_five_men_example() -> None:
    """The attacker review's example: the per-table method hid both gender rows of the age table, the municipality
    table printed 5 and 5, and women 50-64 = 7 - 5 = 2 followed. Protected together, nothing follows."""
    p = five_women_five_men()
    tables = release(p)
    assert audit_population(p, tables) == []
    age, municipality = tables[STARTED_AGE], tables[STARTED_MUNICIPALITY]
    assert age.cells[("female", "50-64")] is None
    for gender in GENDERS:  # the gender totals are printed by both tables or by neither
        assert (age.row_totals[gender] is None) == (municipality.column_totals[gender] is None)


def published(counted: Mapping[str, _Counted], hidden: Mapping[str, set[tuple[str, str]]]) -> dict[str, Table]:
    """The true tables of `_count`, with the given entries suppressed (nothing else)."""
    tables = {}
    for name, t in counted.items():
        rows, columns = (*t.rows, TOTAL), (*t.columns, TOTAL)
        value = {
            (r, c): None if (r, c) in hidden.get(name, set()) else t.grid[i][j]
            for i, r in enumerate(rows)
            for j, c in enumerate(columns)
        }
        tables[name] = Table(
            t.title,
            *t.labels,
            t.rows,
            t.columns,
            {(r, c): value[(r, c)] for r in t.rows for c in t.columns},
            {r: value[(r, TOTAL)] for r in t.rows},
            {c: value[(TOTAL, c)] for c in t.columns},
            value[(TOTAL, TOTAL)],
        )
    return tables


def test_the_audit_catches_the_per_table_method_on_the_five_women_five_men_example() -> None:
    """What the per-table method printed for this population (its age table below; the others in full): the audit
    must find women 50-64 pinned at 2."""
    p = five_women_five_men()
    counted, _ = _count(p.rows, period_from=p.period_from, period_to=p.period_to, today=p.today)
    # gender,0-15,16-19,20-24,25-29,30-39,40-49,50-64,65+,total
    # female,0,0,0,0,<5,<5,<5,0,<5
    # male,0,0,0,0,0,0,<5,0,<5
    # total,0,0,0,0,<5,<5,7,0,10
    hidden = {("female", band) for band in ("30-39", "40-49", "50-64", TOTAL)}
    hidden |= {("male", "50-64"), ("male", TOTAL), (TOTAL, "30-39"), (TOTAL, "40-49")}
    findings = audit_population(p, published(counted, {STARTED_AGE: hidden}))
    assert Finding(f"{STARTED_AGE}[female, 50-64]", 2, 2) in findings


def test_the_audit_catches_a_without_consent_count_had_by_differencing() -> None:
    """Everyone minus those with consent: 2 women without consent, printed by nothing but a difference."""
    p = five_women_five_men()
    p = replace(p, rows=[*p.rows, *(replace(p.rows[0], participant_id=f"w{k}", with_consent=False) for k in range(2))])
    counted, _ = _count(p.rows, period_from=p.period_from, period_to=p.period_to, today=p.today)
    findings = audit_population(p, published(counted, {}))
    assert Finding("without consent[2025, female]", 2, 2) in findings
    assert audit_population(p) == []


def per_table(p: Population) -> dict[str, Table]:
    """A deliberately weakened method: each table protected on its own (`suppress`), nothing shared."""
    counted, _ = _count(p.rows, period_from=p.period_from, period_to=p.period_to, today=p.today)
    tables = {}
    for name, t in counted.items():
        counts = {(r, c): t.grid[i][j] for i, r in enumerate(t.rows) for j, c in enumerate(t.columns)}
        tables[name] = Table(t.title, *t.labels, t.rows, t.columns, *suppress(counts, t.rows, t.columns))
    return tables


def test_the_audit_catches_tables_protected_one_by_one() -> None:
    """The audit can fail: over random populations, tables protected one by one leave numbers to be narrowed."""
    caught = [seed for seed in range(100) if audit_population(p := population(seed), per_table(p))]
    assert len(caught) >= 10, caught


@st.composite
def populations(draw: st.DrawFn) -> Population:
    """Few participants over few values, so that hypothesis can shrink a failure to a handful of people."""
    person = st.tuples(
        st.sampled_from(GENDERS),
        st.sampled_from((1990, 1980, 1970)),
        st.sampled_from(MUNICIPALITIES[:3]),
        st.booleans(),  # with consent
        st.sampled_from((None, 10, 100, 400)),  # days to the end
        st.sampled_from(OUTCOMES[:3]),
        st.sampled_from(SUPPORT[:3]),
        st.sampled_from(SUPPORT[:3]),
    )
    rows = [
        FollowUpRow(
            participant_id=f"p{k}",
            start_date=date(2025, 2, 1),
            end_date=None if days is None else date(2025, 2, 1) + timedelta(days=days),
            outcome=None if days is None else outcome,
            municipality=municipality,
            gender=gender,
            birth_year=born,
            with_consent=consent,
            support_before=before,
            occupation_before="none",
            education_level=None,
            support_after=None if days is None else after,
            occupation_after=None if days is None else "job",
        )
        for k, (gender, born, municipality, consent, days, outcome, before, after) in enumerate(
            draw(st.lists(person, max_size=30))
        )
    ]
    return Population(-1, rows, date(2025, 1, 1), date(2025, 12, 31), date(2026, 6, 1))


@settings(max_examples=60, deadline=None)
@given(populations())
def test_no_release_lets_a_suppressed_number_be_narrowed_shrunk(p: Population) -> None:
    """The same audit over populations hypothesis draws (and shrinks, should one fail)."""
    assert audit_population(p) == []


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda m: st.integers(1, 4).flatmap(
            lambda n: st.lists(st.integers(0, 12), min_size=m * n, max_size=m * n).map(lambda v: (m, n, v))
        )
    )
)
def test_one_table_published_on_its_own_keeps_every_range(shape: tuple[int, int, list[int]]) -> None:
    """`suppress` on one table: every suppressed number keeps a range of at least PROTECTION (counts >= 0,
    suppressed ones >= 1), by the same integer program."""
    m, n, values = shape
    rows, columns = tuple(f"r{i}" for i in range(m)), tuple(f"c{j}" for j in range(n))
    counts = {(r, c): values[i * n + j] for i, r in enumerate(rows) for j, c in enumerate(columns)}
    table = Table("t", "r", "c", rows, columns, *suppress(counts, rows, columns))
    attack = Attack({"t": table}, release=False)
    found = attack.ranges(attack.suppressed)
    narrow = [attack.names[q] for q, (low, high) in found.items() if high - low < PROTECTION]
    assert not narrow, (counts, narrow)


def test_highs_agrees_with_scipy_milp() -> None:
    """The audit's ranges, recomputed one by one with scipy.optimize.milp (HiGHS through SciPy), on a few releases."""
    for seed in range(12):
        p = population(seed)
        attack = Attack(release(p))
        targets = attack.suppressed[:12]
        found = attack.ranges(targets)
        n = len(attack.names)
        matrix = np.zeros((len(attack.rows), n))
        for k, (terms, _, _) in enumerate(attack.rows):
            for q, c in terms.items():
                matrix[k, q] = c
        constraints = LinearConstraint(matrix, [r[1] for r in attack.rows], [r[2] for r in attack.rows])
        for t in targets:
            extremes = []
            for sign in (1.0, -1.0):
                cost = np.zeros(n)
                cost[t] = sign
                result = milp(
                    cost, constraints=constraints, integrality=np.ones(n), bounds=Bounds(attack.lower, attack.upper)
                )
                assert result.success, result.message
                extremes.append(round(result.x[t]))
            assert tuple(extremes) == found[t], (seed, attack.names[t])
