"""Agency import of decisions from an agency system's export (JSON Lines or CSV).

Every row goes through the same checks and the same consent gate as `POST /api/v1/participants/{id}/decisions`
(coordination/bulk.py: `CoordinationService.record_decision`'s rules, the domain's gate), in batched
transactions (`--batch-size`, default 500 rows): a batch's decisions are committed together, and nothing is
counted as recorded before its commit. Idempotent by `source_ref`, so a run stopped at any point (killed, the
database gone) is finished by running the same file again, which stores nothing twice. Refusals are written to
the disclosure log without content; the lookups by personnummer of a batch are logged as one search entry naming
the participants found. Rows that cannot be recorded go to a rejects file (JSON Lines) that names the line, the
row's `source_ref` and the reason, never the personnummer or the summary. The file is read as a stream: memory
stays bounded whatever its size (one batch, and the bounded caches of participants and cases).

`import_decisions` does the work; `import_decisions_command` is the `samverkan import decisions` command
(registered in adapters.cli).
"""

from __future__ import annotations

import csv
import getpass
import json
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Annotated, Any
from uuid import UUID

import psycopg
import typer
from eventsourcing.persistence import InterfaceError, OperationalError
from pydantic import Field, ValidationError, model_validator
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from adapters.access import Caller
from adapters.auth import Role
from adapters.disclosure_log import refused_recording
from adapters.http.schemas import AgencyCode, DecisionCreate
from adapters.read_service import ReadService, open_read_service
from adapters.settings import Settings, SettingsError
from adapters.storage import DatabaseUrlError, open_storage
from consent import Party
from coordination import (
    ConcurrencyConflict,
    ConsentRequired,
    DecisionOutcome,
    DomainError,
    InvalidCommand,
    NotFound,
    NotPermitted,
)
from coordination.bulk import CheckedBatch, DecisionRow, check_decisions, record_checked

__all__ = [
    "AGENCIES",
    "COLUMNS",
    "DEFAULT_BATCH_SIZE",
    "FORMATS",
    "MAX_LINE_BYTES",
    "ImportFileError",
    "ImportRow",
    "ImportSummary",
    "Reject",
    "count_lines",
    "default_rejects_path",
    "import_decisions",
    "import_decisions_command",
    "import_settings",
    "resolve_format",
]

FORMATS = ("jsonl", "csv")
_FORMAT_NAMES = {"jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv"}
_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
AGENCIES: tuple[str, ...] = AgencyCode.__args__  # type: ignore[attr-defined]
COLUMNS = (
    "personnummer",
    "participant_id",
    "category",
    "decision_type",
    "effective_date",
    "summary",
    "source_ref",
    "attributes",
)
REQUIRED_COLUMNS = ("category", "decision_type", "effective_date", "summary", "source_ref")

# Reasons in the rejects file: the domain's problem types, plus `malformed` for a line that is not a row at all.
MALFORMED = "malformed"
VALIDATION = "validation-error"
PURPOSE = "import"
MAX_LINE_BYTES = 1 << 20  # like the HTTP API's body limit: a longer JSON line is rejected, not read whole
DEFAULT_BATCH_SIZE = 500  # rows per transaction (and per lookup entry in the disclosure log)
KNOWN_PARTICIPANTS = 100_000  # participants found by personnummer that a run remembers (not looked up again)
IMPORT_CACHE_CASES = 20_000  # the import's aggregate cache at least: a file's participants' cases stay loaded
_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\udc80-\udcff]")  # undecodable bytes, kept by errors="surrogateescape"
_NAME = re.compile(r"[^\W\d][\w.\-]{0,63}")  # what may be echoed as a field name (never a number)
_NOT_DIGIT = re.compile("[^0-9]")


class ImportFileError(ValueError):
    """The file or an argument cannot be used at all (nothing was imported); the message says what to fix."""


class ImportRow(DecisionCreate):
    """One row of an import file: a decision (the same rules as the HTTP body) and whose it is.

    The participant is named by `personnummer` or by `participant_id` (exactly one). The agency is never read
    from the file: it is the importing user's, like the token's in the HTTP API."""

    personnummer: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    participant_id: UUID | None = None

    @model_validator(mode="after")
    def _one_participant(self) -> ImportRow:
        if self.personnummer is None and self.participant_id is None:
            raise ValueError("name the participant: give personnummer or participant_id")
        if self.personnummer is not None and self.participant_id is not None:
            raise ValueError("give personnummer or participant_id, not both")
        return self


@dataclass(frozen=True)
class Reject:
    """A row that was not recorded: where it is, the agency's reference, and why (no personal data)."""

    line: int
    reason: str
    source_ref: str | None = None
    field: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"line": self.line, "source_ref": self.source_ref, "reason": self.reason}
        if self.field is not None:
            body["field"] = self.field
        if self.detail is not None:
            body["detail"] = self.detail
        return body


@dataclass
class ImportSummary:
    """What an import did, in counts only."""

    file: str
    format: str
    agency: str
    rejects_path: Path
    read: int = 0
    recorded: int = 0
    already_recorded: int = 0
    rejected: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """True when every row read is recorded now (new or from an earlier run)."""
        return self.rejected == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "agency": self.agency,
            "read": self.read,
            "recorded": self.recorded,
            "already_recorded": self.already_recorded,
            "rejected": self.rejected,
            "by_reason": dict(sorted(self.by_reason.items())),
            "rejects_path": str(self.rejects_path),
        }


# -- arguments ------------------------------------------------------------------------------------------------


def resolve_format(path: Path, fmt: str | None = None) -> str:
    """`jsonl` or `csv`: the explicit format when given, else from the file's suffix."""
    if fmt is not None:
        chosen = _FORMAT_NAMES.get(fmt.strip().lower())
        if chosen is None:
            raise ImportFileError(f"unknown format {fmt!r}: use jsonl (or ndjson) or csv")
        return chosen
    chosen = _SUFFIX_FORMATS.get(path.suffix.lower())
    if chosen is None:
        raise ImportFileError(
            "cannot tell the format from the file name: name it .jsonl, .ndjson or .csv, or give --format"
        )
    return chosen


def default_rejects_path(path: Path) -> Path:
    """`<file>.rejects.jsonl`, next to the input."""
    return path.with_name(path.name + ".rejects.jsonl")


def count_lines(path: Path) -> int:
    """The number of lines in the file (a last line without a line break counts), read in chunks."""
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def _agency(agency: str) -> str:
    code = agency.strip().upper()
    if code not in AGENCIES:
        raise ImportFileError(f"--agency must be one of {', '.join(AGENCIES)} (the agency whose decisions these are)")
    return code


# -- reading the file -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    """One row as read: its first line, and either its fields or why it is not a row."""

    line: int
    data: dict[str, Any] | None = None
    malformed: str | None = None


class _JsonLines:
    """Reads one JSON object per line, in binary so a line is never longer in memory than MAX_LINE_BYTES."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.line = 0  # lines consumed so far

    def __iter__(self) -> Iterator[_Record]:
        while True:
            raw = self.handle.readline(MAX_LINE_BYTES)
            if not raw:
                return
            self.line += 1
            if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
                self._skip_rest_of_line()
                yield _Record(self.line, malformed=f"the line is longer than {MAX_LINE_BYTES} bytes")
                continue
            if self.line == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            yield from self._parse(raw)

    def _skip_rest_of_line(self) -> None:
        while (rest := self.handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass

    def _parse(self, raw: bytes) -> Iterator[_Record]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield _Record(self.line, malformed="the line is not UTF-8 text")
            return
        if not text.strip():
            return  # blank lines are allowed and skipped
        try:
            data = _json(text)
        except json.JSONDecodeError as error:
            # The decoder's message names the position only, never the content.
            yield _Record(self.line, malformed=f"not valid JSON ({error.msg} at column {error.colno})")
            return
        except (ValueError, RecursionError):
            yield _Record(self.line, malformed="not valid JSON (NaN, Infinity or nesting too deep)")
            return
        if not isinstance(data, dict):
            yield _Record(self.line, malformed="each line must hold one JSON object")
            return
        yield _Record(self.line, data=data)


class _CsvRows:
    """Reads a CSV file with a header row (comma, semicolon or tab separated; quoted fields may span lines)."""

    def __init__(self, handle: IO[str]) -> None:
        self.line = 0
        self.columns: list[str] = []
        first = handle.readline()
        if not first:
            self.reader: Iterator[list[str]] | None = None  # an empty file: no rows
            return
        if not first.strip():
            raise ImportFileError("the first line must be the header row naming the columns")
        delimiter = max(",;\t", key=first.count)
        self.reader = csv.reader(_chain(first, handle), delimiter=delimiter)
        try:
            header = next(self.reader)
        except csv.Error:
            raise ImportFileError("the header row is not valid CSV") from None
        self.line = self.reader.line_num
        self.columns = _check_header([name.strip() for name in header])

    def __iter__(self) -> Iterator[_Record]:
        if self.reader is None:
            return
        while True:
            start = self.line + 1
            try:
                cells = next(self.reader)
            except StopIteration:
                return
            except csv.Error as error:
                self.line = self.reader.line_num  # type: ignore[attr-defined]
                yield _Record(start, malformed=f"not valid CSV ({error})")
                continue
            self.line = self.reader.line_num  # type: ignore[attr-defined]
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, and rows of empty cells that spreadsheets leave at the end
            if len(cells) != len(self.columns):
                yield _Record(start, malformed=f"expected {len(self.columns)} columns, found {len(cells)}")
                continue
            if any(_SURROGATE.search(cell) for cell in cells):
                yield _Record(start, malformed="the row is not UTF-8 text")
                continue
            yield self._row(start, cells)

    def _row(self, start: int, cells: list[str]) -> _Record:
        data: dict[str, Any] = {}
        for name, cell in zip(self.columns, cells, strict=True):
            value = cell.strip()
            if value:  # an empty cell is a field not given
                data[name] = value
        attributes = data.get("attributes")
        if attributes is not None:
            try:
                data["attributes"] = _json(attributes)
            except (ValueError, RecursionError):
                data["attributes"] = _NOT_JSON
        return _Record(start, data=data)


_NOT_JSON = object()  # marks an attributes cell that is not JSON, reported as a validation error


def _json(text: str) -> Any:
    """Standard JSON only: NaN and Infinity (which Python would accept) are refused."""
    return json.loads(text, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def _check_header(names: list[str]) -> list[str]:
    unknown = [name for name in names if name not in COLUMNS]
    if "agency" in unknown:
        raise ImportFileError("the file has an agency column: the agency is never read from the file, give --agency")
    if unknown:
        named = [name for name in unknown if _NAME.fullmatch(name)]
        # A header that is really a data row would put a personnummer here: name only what looks like a name.
        what = ", ".join(repr(n) for n in named) if len(named) == len(unknown) else f"({len(unknown)} of them)"
        raise ImportFileError(
            f"unknown column(s) {what} in the header row (is the header row missing?); "
            f"the columns are: {', '.join(COLUMNS)}"
        )
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ImportFileError(f"column(s) {', '.join(duplicated)} appear more than once in the header row")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise ImportFileError(f"the header row lacks the column(s) {', '.join(missing)}")
    if "personnummer" not in names and "participant_id" not in names:
        raise ImportFileError("the header row needs a personnummer or a participant_id column")
    return names


# -- importing -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    """A row that passed the file's rules, waiting for its batch: its line, the row, its source_ref as shown."""

    line: int
    row: ImportRow
    source_ref: str | None


@dataclass(frozen=True)
class _Prepared:
    """A batch looked up and checked, waiting to be recorded."""

    batch: Sequence[_Pending | Reject]
    recording: list[_Pending]
    rows: list[DecisionRow]
    checked: CheckedBatch | None
    outcome: dict[int, bool | Reject]


class _Importer:
    """Records rows in batches for one user of one agency, and says what it could not record."""

    def __init__(self, reads: ReadService, caller: Caller) -> None:
        self.reads = reads
        self.caller = caller
        # The participants this run has found by personnummer (the lookup logged once, in the batch that found
        # them); later rows of theirs need no new lookup. Bounded, so memory stays flat whatever the file.
        self.known: OrderedDict[str, UUID] = OrderedDict()

    def check(self, record: _Record) -> _Pending | Reject:
        """The row, when it is one and follows the file's rules; a Reject otherwise (nothing is looked up)."""
        if record.malformed is not None:
            return Reject(record.line, MALFORMED, detail=record.malformed)
        data = record.data or {}
        source_ref = _safe_source_ref(data.get("source_ref"), data.get("personnummer"))
        if data.get("attributes") is _NOT_JSON:
            return Reject(record.line, VALIDATION, source_ref, "attributes", "must be a JSON object in the cell")
        try:
            row = ImportRow.model_validate(data)
        except ValidationError as error:
            problems = list(
                dict.fromkeys(
                    (_field_name(e), _message(e)) for e in error.errors(include_input=False, include_url=False)
                )
            )
            detail = "; ".join(f"{name}: {message}" for name, message in problems)
            return Reject(record.line, VALIDATION, source_ref, problems[0][0], detail)
        if row.personnummer is not None and _holds_personnummer(row.source_ref, row.personnummer):
            # A reference that carries the number would end up in the rejects file and in agency systems' logs.
            return Reject(record.line, VALIDATION, None, "source_ref", "must not contain the personnummer")
        return _Pending(record.line, row, source_ref)

    def run(self, batch: Sequence[_Pending | Reject]) -> list[bool | Reject]:
        """Records a batch: for each item, True (recorded now), False (already recorded: same source_ref) or a
        Reject. `prepare` then `record`, one after the other."""
        return self.record(self.prepare(batch))

    def prepare(self, batch: Sequence[_Pending | Reject]) -> _Prepared:
        """The first half of a batch, which stores no decision: the rows' participants looked up together (one
        search entry naming those found), then each row checked and its summary sealed (coordination/bulk.py)."""
        pending = [item for item in batch if isinstance(item, _Pending)]
        answers = self._participants(pending)
        rows: list[DecisionRow] = []
        recording: list[_Pending] = []
        outcome: dict[int, bool | Reject] = {}  # by line
        for item in pending:
            row = item.row
            case_id = row.participant_id if row.personnummer is None else answers[row.personnummer]
            if isinstance(case_id, DomainError):
                outcome[item.line] = self._reject(item, case_id)
                continue
            assert isinstance(case_id, UUID)
            recording.append(item)
            rows.append(
                DecisionRow(
                    case_id,
                    row.category,
                    row.decision_type,
                    row.effective_date,
                    row.summary,
                    row.source_ref,
                    row.attributes,
                )
            )
        checked = check_decisions(self.reads.service, rows, agency=self.caller.agency.value) if rows else None
        return _Prepared(batch, recording, rows, checked, outcome)

    def record(self, prepared: _Prepared) -> list[bool | Reject]:
        """The second half: the rows judged by the gate on their cases and recorded in one transaction, then the
        gate's refusals logged together, all before this returns. A storage error propagates (then nothing of
        the batch's decisions is recorded)."""
        outcome = prepared.outcome
        try:
            results: Sequence[DecisionOutcome | DomainError] = (
                record_checked(self.reads.service, prepared.checked, by=self.caller.user_id)
                if prepared.checked is not None
                else []
            )
        except ConcurrencyConflict as busy:  # the batch collided with other writers again and again
            results = [busy] * len(prepared.rows)
        refusals = []
        for item, decision, result in zip(prepared.recording, prepared.rows, results, strict=True):
            if isinstance(result, ConsentRequired | NotPermitted):
                # As the HTTP route does: who tried which category and why, never the content.
                caller = self.caller
                refusals.append(
                    refused_recording(
                        caller.actor,
                        caller.request_id,
                        caller.purpose,
                        decision.case_id,
                        decision.category,
                        result,
                        line=item.line,
                    )
                )
            outcome[item.line] = result.created if isinstance(result, DecisionOutcome) else self._reject(item, result)
        self.reads.log.append_many(refusals)
        return [item if isinstance(item, Reject) else outcome[item.line] for item in prepared.batch]

    def _participants(self, pending: Sequence[_Pending]) -> dict[str, UUID | Exception]:
        """The participants of the rows that name them by personnummer. A lookup tells whether the person is
        enrolled, so the read door logs it like the HTTP search (the number itself never is): one entry naming
        the participants the batch found, one per number that found nobody. A participant found earlier in this
        run is not looked up again."""
        answers: dict[str, UUID | Exception] = {}
        numbers: dict[str, dict[str, Any]] = {}
        for item in pending:
            number = item.row.personnummer
            if number is None or number in answers or number in numbers:
                continue
            known = self.known.get(number)
            if known is not None:
                self.known.move_to_end(number)
                answers[number] = known
            else:
                numbers[number] = {"line": item.line}
        if numbers:
            found = self.reads.search_many(self.caller, numbers, lines=[pending[0].line, pending[-1].line])
            for number, answer in found.items():
                answers[number] = answer
                if isinstance(answer, UUID):
                    self.known[number] = answer
            while len(self.known) > KNOWN_PARTICIPANTS:
                self.known.popitem(last=False)
        return answers

    @staticmethod
    def _reject(item: _Pending, error: Exception) -> Reject:
        line, source_ref = item.line, item.source_ref
        if isinstance(error, ConsentRequired | NotPermitted):
            return Reject(line, error.kind, source_ref, "category", error.message)
        if isinstance(error, NotFound):
            where = "personnummer" if item.row.personnummer is not None else "participant_id"
            return Reject(line, error.kind, source_ref, where, error.message)
        if isinstance(error, InvalidCommand):
            return Reject(line, error.kind, source_ref, error.field, error.reason)
        if isinstance(error, DomainError):  # Conflict: closed case, erased personal data, concurrent change
            return Reject(line, error.kind, source_ref, detail=error.message)
        raise error


def import_decisions(
    reads: ReadService,
    path: Path,
    *,
    agency: str,
    user_id: str,
    fmt: str | None = None,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ImportSummary:
    """Imports an agency's decisions from a JSON Lines or CSV file through the consent gate, `batch_size` rows
    to a transaction.

    `agency` and `user_id` say who imports (as a token would); the file never names the agency. Rows that
    cannot be recorded go to `rejects_path` (default `<file>.rejects.jsonl`, always rewritten) and the import
    goes on. `progress` is called with the number of lines read and done since its last call, after each batch
    has committed. Raises ImportFileError when the file or an argument cannot be used (nothing imported);
    storage errors propagate (batches committed before stay recorded; running the same file again skips them).
    """
    if batch_size < 1:
        raise ImportFileError("the batch size must be at least 1")
    path = Path(path)
    chosen = resolve_format(path, fmt)
    code = _agency(agency)
    user = user_id.strip()
    if not user:
        raise ImportFileError("the user id must not be blank")
    if not path.is_file():
        raise ImportFileError(f"no such file: {path}")
    rejects_path = Path(rejects_path) if rejects_path is not None else default_rejects_path(path)
    if rejects_path.resolve() == path.resolve():
        raise ImportFileError("the rejects file must not be the input file")
    summary = ImportSummary(path.name, chosen, code, rejects_path)
    importer = _Importer(reads, Caller(user, Party(code), Role.HANDLAGGARE, f"import:{path.name}", PURPOSE))
    try:
        handle: IO[Any] = (
            path.open("rb")
            if chosen == "jsonl"
            else path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
        )
    except OSError as error:
        raise ImportFileError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        records = _JsonLines(handle) if chosen == "jsonl" else _CsvRows(handle)  # checks the header first
        try:
            rejects = rejects_path.open("w", encoding="utf-8")
        except OSError as error:
            raise ImportFileError(f"cannot write the rejects file {rejects_path}: {error.strerror}") from None
        with rejects:
            _import_rows(importer, records, rejects, summary, batch_size, progress)
    return summary


def _import_rows(
    importer: _Importer,
    records: _JsonLines | _CsvRows,
    rejects: IO[str],
    summary: ImportSummary,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> None:
    """Reads the rows and records them in batches, counting each batch and writing its rejects once committed."""
    # A batch is looked up and checked (`prepare`) while the one before it is judged and committed (`record`)
    # on a thread of its own; its rows are counted, and its rejects written, once it has committed.
    with ThreadPoolExecutor(1, thread_name_prefix="samverkan-import") as recorder:
        reported = 0
        recording: Future[list[bool | Reject]] | None = None
        recording_ends = 0  # the last line of the batch being recorded

        def collect() -> None:
            nonlocal recording, reported
            if recording is None:
                return
            _done(summary, rejects, recording.result())
            recording = None
            if progress is not None and recording_ends > reported:
                progress(recording_ends - reported)
                reported = recording_ends

        def hand_over(batch: list[_Pending | Reject]) -> None:
            nonlocal recording, recording_ends
            prepared = importer.prepare(batch)
            collect()
            recording, recording_ends = recorder.submit(importer.record, prepared), records.line

        batch: list[_Pending | Reject] = []
        for record in records:
            summary.read += 1
            batch.append(importer.check(record))
            if len(batch) >= batch_size:
                hand_over(batch)
                batch = []
        if batch:
            hand_over(batch)
        collect()
        if progress is not None and records.line > reported:
            progress(records.line - reported)


def _done(summary: ImportSummary, rejects: IO[str], results: Sequence[bool | Reject]) -> None:
    """Counts a committed batch's rows and writes its rejects, in the file's order."""
    for result in results:
        if isinstance(result, Reject):
            summary.rejected += 1
            summary.by_reason[result.reason] += 1
            rejects.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
        elif result:
            summary.recorded += 1
        else:
            summary.already_recorded += 1
    rejects.flush()


def _safe_source_ref(value: Any, personnummer: Any) -> str | None:
    """The row's source_ref for the rejects file, when it is one; withheld if it holds the personnummer."""
    if not isinstance(value, str) or not 0 < len(value) <= 200:  # noqa: PLR2004 - ShortText's limit
        return None
    if isinstance(personnummer, str) and _holds_personnummer(value, personnummer):
        return None
    return value


def _holds_personnummer(text: str, personnummer: str) -> bool:
    """True when the digits of `text` contain the number's ten digits (YYMMDDNNNC), with or without separators."""
    digits = _ten_digits(personnummer)
    return digits is not None and digits in _NOT_DIGIT.sub("", text)


@lru_cache(maxsize=1024)  # a file names each participant on many rows
def _ten_digits(personnummer: str) -> str | None:
    digits = _NOT_DIGIT.sub("", personnummer)
    return digits[-10:] if len(digits) >= 10 else None  # noqa: PLR2004 - YYMMDDNNNC


def _field_name(error: Any) -> str:
    names = [str(part) for part in error.get("loc", ())]
    if not names:
        return "personnummer"  # the only whole-row rule: which participant
    if names[0] == "attributes":
        names = names[:2]  # not the union member pydantic tried (attributes.x.str, attributes.x.int, ...)
    return ".".join(name if _NAME.fullmatch(name) else "?" for name in names)


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "date_from_datetime_parsing": "must be a real date like 2026-03-01",
    "date_from_datetime_inexact": "must be a date without a time, like 2026-03-01",
    "date_parsing": "must be a real date like 2026-03-01",
    "date_type": "must be a date like 2026-03-01",
    "string_too_long": "is too long",
    "string_too_short": "must not be empty",
    "string_pattern_mismatch": "may hold only letters, digits, spaces and . _ -",
    "string_type": "must be a string",
    "too_long": "has too many items",
    "uuid_parsing": "must be a UUID",
    "uuid_type": "must be a UUID",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
}


def _message(error: Any) -> str:
    """A message for a validation error that never echoes the input (pydantic's own can)."""
    kind = str(error.get("type", ""))
    location = tuple(error.get("loc", ()))
    if kind == "extra_forbidden" and location == ("agency",):
        return "is never read from the file: the agency is the one given with --agency"
    if len(location) > 1 and location[0] == "attributes" and kind != "string_too_long":
        return "must be a string, a number, true/false or null"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "value_error":
        # Our validators (category, participant) raise ValueError with messages free of input values.
        return str((error.get("ctx") or {}).get("error", "is not valid"))
    return "is not valid"


# -- the command ------------------------------------------------------------------------------------------------


def import_settings(settings: Settings) -> Settings:
    """The settings an import runs with: an aggregate cache of at least IMPORT_CACHE_CASES cases (unless caching
    is off), so that each participant's case is read from the database once per run, not once per batch. The
    cache is bounded, so memory stays bounded whatever the file's size."""
    if 0 < settings.aggregate_cache_size < IMPORT_CACHE_CASES:
        return settings.model_copy(update={"aggregate_cache_size": IMPORT_CACHE_CASES})
    return settings


_DEFAULT_USER = "cli:<your login name>"
STORAGE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, psycopg.OperationalError)
OPEN_ERRORS: tuple[type[Exception], ...] = (DatabaseUrlError, OSError, *STORAGE_ERRORS)


def _login_user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in some containers
        return "cli:unknown"


def import_decisions_command(
    file: Annotated[Path, typer.Argument(help="The export to import: .jsonl/.ndjson (JSON Lines) or .csv.")],
    agency: Annotated[str, typer.Option(help="Your agency: FK, AF, REGION or KOMMUN (never read from the file).")],
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl or csv; default: from the file's suffix.")] = None,
    user: Annotated[
        str,
        typer.Option(help="The importing user's id, logged as the actor.", show_default=_DEFAULT_USER),
    ] = "",
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where to write rejected rows (JSON Lines); default: <file>.rejects.jsonl."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Rows recorded per transaction (and per lookup log entry).")
    ] = DEFAULT_BATCH_SIZE,
) -> None:
    """Imports your agency's decisions from a file through the consent gate, in batched transactions.

    Rows already recorded (same source_ref) are skipped, so the same file can be run again, also after the
    import was stopped at any point: nothing is stored twice.

    Exit 0: every row is recorded, now or by an earlier run.

    Exit 1: some rows were rejected; the rejects file says which (line, source_ref, reason).

    Exit 2: the file or an argument cannot be used; nothing was imported.

    Exit 3: the database failed part-way; run the same file again.
    """
    errors = Console(stderr=True)
    try:
        chosen = resolve_format(file, fmt)
        code = _agency(agency)
        if not file.is_file():
            raise ImportFileError(f"no such file: {file}")
    except ImportFileError as error:
        errors.print(f"[red]Cannot import:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        settings = import_settings(Settings())
        settings.keys  # noqa: B018 - fail early, with the message that says what to set
    except (SettingsError, ValueError) as error:
        errors.print(f"[red]Configuration error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    total = count_lines(file)
    try:
        storage = open_storage(settings)
    except OPEN_ERRORS as error:
        errors.print(f"[red]Cannot open the database:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        with (
            storage,
            Progress(
                TextColumn(f"Importerar beslut ({code})"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=errors,
            ) as bar,
        ):
            task = bar.add_task("import", total=total)
            summary = import_decisions(
                open_read_service(storage, settings),
                file,
                agency=code,
                user_id=user.strip() or _login_user(),
                fmt=chosen,
                rejects_path=rejects,
                progress=lambda lines: bar.advance(task, lines),
                batch_size=batch_size,
            )
            bar.update(task, completed=total)
    except ImportFileError as error:
        errors.print(f"[red]Cannot import:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except STORAGE_ERRORS as error:
        errors.print(
            f"[red]The database failed during the import[/red] ({type(error).__name__}). Rows recorded so far "
            "stay recorded; run the same file again to import the rest.",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(3) from None
    Console().print(_summary_table(summary))
    if not summary.ok:
        errors.print(
            f"{summary.rejected} row(s) not recorded: see {summary.rejects_path} (line, source_ref, reason). "
            "Fix them and run the same file again: rows already recorded are skipped.",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _summary_table(summary: ImportSummary) -> Table:
    table = Table(title=f"Import of {summary.file} ({summary.format}) as {summary.agency}")
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("read", str(summary.read))
    table.add_row("recorded now", str(summary.recorded))
    table.add_row("already recorded (same source_ref)", str(summary.already_recorded))
    table.add_row("rejected", str(summary.rejected))
    for reason, count in sorted(summary.by_reason.items()):
        table.add_row(f"  {reason}", str(count))
    return table
