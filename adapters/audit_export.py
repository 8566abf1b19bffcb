"""Exports of the disclosure log for secrecy review (JSON Lines, CSV, and FHIR R4 AuditEvents as NDJSON), their
signed manifest, and verification of an exported file."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from adapters import fhir
from adapters.disclosure_log import ChainChecker, LogFilter, VerifyResult, canonical
from adapters.signing import ManifestSigner, signature_valid

# fhir: one FHIR R4 AuditEvent per line (bulk-data NDJSON, docs/fhir.md); the hash chain of a FHIR export is checked
# on its jsonl twin (the same filters and until_seq), its bytes against its own signed manifest.
FORMATS = ("jsonl", "csv", "fhir")
SUFFIXES = {"jsonl": "jsonl", "csv": "csv", "fhir": "ndjson"}
FHIR_NOT_CHAINED = (
    "a FHIR export carries no hash chain of its own: check it against its signed manifest (--manifest), and check "
    "the chain on its jsonl twin (format=jsonl with the same filters and until_seq)"
)
CSV_COLUMNS = [
    "seq",
    "prev_hash",
    "recorded_at",
    "kind",
    "user_id",
    "agency",
    "role",
    "participant_id",
    "purpose",
    "request_id",
    "outcome",
    "reason",
    "as_of",
    "categories",
    "disclosed",
    "details",
    "hash",
]
_JSON_COLUMNS = {"categories", "disclosed", "details"}
_NULLABLE = {"participant_id", "reason", "as_of"}


def jsonl_lines(entries: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One canonical JSON object per line."""
    for entry in entries:
        yield canonical(entry).decode() + "\n"


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    # CRLF rows (RFC 4180): every field holding \r or \n gets quoted, on every Python version.
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def csv_lines(entries: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A header, then one row per entry; list and object fields as canonical JSON, null as empty."""
    yield _csv_line(CSV_COLUMNS)
    for entry in entries:
        row = []
        for column in CSV_COLUMNS:
            value = entry.get(column)
            if column in _JSON_COLUMNS:
                row.append(canonical(value).decode())
            else:
                row.append("" if value is None else value)
        yield _csv_line(row)


def lines(entries: Iterable[dict[str, Any]], fmt: str, installation: fhir.Installation | None = None) -> Iterator[str]:
    """The export in `fmt` (jsonl, csv, or fhir with the organisation numbers of `installation`)."""
    if fmt == "fhir":
        return fhir.audit_event_lines(entries, installation or fhir.Installation())
    return jsonl_lines(entries) if fmt == "jsonl" else csv_lines(entries)


def format_of(name: str) -> str:
    """The export format a file's name says: .csv, .ndjson (FHIR), otherwise jsonl."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {"csv": "csv", "ndjson": "fhir"}.get(suffix, "jsonl")


def entries_from_text(text: str, fmt: str) -> Iterator[dict[str, Any] | None]:
    """Parses an export back into entries, exactly as they were hashed; None for a line that does not parse. A FHIR
    export holds AuditEvents, not the hashed entries: ValueError (verify_export checks it against its manifest)."""
    if fmt == "fhir":
        raise ValueError(FHIR_NOT_CHAINED)
    if fmt == "jsonl":
        # Split on \n only: JSON strings may hold U+2028 and the like, which splitlines() would cut at.
        for line in text.split("\n"):
            if line.strip():
                try:
                    entry = json.loads(line)
                except (ValueError, RecursionError):
                    entry = None
                yield entry if isinstance(entry, dict) else None
        return
    try:
        for row in csv.DictReader(io.StringIO(text)):
            yield _csv_entry(row)
    except csv.Error:
        yield None


def _csv_entry(row: dict[str, Any]) -> dict[str, Any] | None:
    entry: dict[str, Any] = {}
    try:
        for column in CSV_COLUMNS:
            value = row.get(column) or ""
            if column in _JSON_COLUMNS:
                entry[column] = json.loads(value) if value else None
            elif column == "seq":
                entry[column] = int(value) if value.isdigit() else value
            elif column in _NULLABLE and value == "":
                entry[column] = None
            else:
                entry[column] = value
    except (ValueError, RecursionError, TypeError):
        return None
    return entry


def build_manifest(
    entries: Iterable[dict[str, Any]],
    where: LogFilter,
    fmt: str,
    signer: ManifestSigner,
    installation: fhir.Installation | None = None,
) -> dict[str, Any]:
    """Count, first and last seq and hash, the SHA-256 of the export's exact bytes in `fmt`, and an Ed25519
    signature over all of it. Streams: constant memory however long the log. `count` counts log entries, also for
    a FHIR export, whose lines are AuditEvents (one or more per entry)."""
    seen: dict[str, Any] = {"count": 0, "first": None, "last": None}

    def watched() -> Iterator[dict[str, Any]]:
        for entry in entries:
            seen["first"] = seen["first"] or entry
            seen["last"] = entry
            seen["count"] += 1
            yield entry

    digest = hashlib.sha256()
    for line in lines(watched(), fmt, installation):
        digest.update(line.encode())
    return _manifest(seen["count"], seen["first"], seen["last"], where, fmt, digest.hexdigest(), signer)


def _manifest(
    count: int,
    first: dict[str, Any] | None,
    last: dict[str, Any] | None,
    where: LogFilter,
    fmt: str,
    sha256: str | None,
    signer: ManifestSigner,
) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "format": fmt,
        "filters": where.as_dict(),
        "count": count,
        "first_seq": None if first is None else first["seq"],
        "last_seq": None if last is None else last["seq"],
        "first_hash": None if first is None else first["hash"],
        "last_hash": None if last is None else last["hash"],
        "sha256": sha256,
        "generated_at": datetime.now(UTC).isoformat(),
        "key_id": signer.key_id,
        "public_key": signer.public_key,
    }
    manifest["signature"] = signer.sign(canonical(manifest))
    return manifest


def verify_export(
    text: str, fmt: str, manifest: dict[str, Any] | None = None, trusted_public_key: str | None = None
) -> VerifyResult:
    """Checks an exported file: every entry's own hash and every link between consecutive entries; with its
    manifest, also that the manifest is signed by the trusted key, the file's SHA-256 and the count. A FHIR export
    is checked against its manifest only (`_verify_fhir`): without one it is not verified."""
    if fmt == "fhir":
        return _verify_fhir(text, manifest, trusted_public_key)
    checker = ChainChecker(contiguous=False)
    for entry in entries_from_text(text, fmt):
        if entry is None:
            after = checker.last_seq
            return VerifyResult(False, checker.count, after + 1, f"the entry after entry {after} does not parse")
        if not checker.check(entry):
            return checker.result()
    result = checker.result()
    if manifest is None:
        return result
    problem = _manifest_problem(text, manifest, result.entries, trusted_public_key)
    return VerifyResult(False, result.entries, None, problem) if problem else result


def _manifest_problem(text: str, manifest: dict[str, Any], count: int, trusted_public_key: str | None) -> str | None:
    # The hashes need no secret: only a signature by the service's own key makes a manifest trustworthy.
    if trusted_public_key is None:
        return "no trusted public key to check the manifest's signature against"
    if manifest.get("public_key") != trusted_public_key:
        return "the manifest is signed by an unknown key, not the service's audit key"
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    if not signature_valid(str(manifest.get("public_key")), canonical(unsigned), str(manifest.get("signature"))):
        return "the manifest's signature does not match its content"
    if hashlib.sha256(text.encode()).hexdigest() != manifest.get("sha256"):
        return "the file's SHA-256 differs from the manifest's: the file was changed or is not this export"
    if count != manifest.get("count"):
        return f"the file holds {count} entries, the manifest says {manifest.get('count')}"
    return None


def _verify_fhir(text: str, manifest: dict[str, Any] | None, trusted_public_key: str | None) -> VerifyResult:
    """A FHIR export (one AuditEvent per line, each naming its log entry's seq and hash): every line parses as an
    AuditEvent of an entry, the entries run in seq order; with the manifest, its signature, the file's SHA-256, the
    number of entries and the first and last entry's seq and hash. The entries' own hashes and links cannot be
    recomputed from AuditEvents: they are checked on the jsonl twin."""
    seqs: list[int] = []
    hashes: dict[int, str | None] = {}
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):
            event = None
        seq, digest = fhir.log_entry_of(event) if isinstance(event, dict) else (None, None)
        after = seqs[-1] if seqs else 0
        if not isinstance(event, dict) or event.get("resourceType") != "AuditEvent" or seq is None:
            problem = f"the line after entry {after} is not an AuditEvent of the log"
            return VerifyResult(False, len(seqs), after + 1, problem)
        if seq < after:
            return VerifyResult(False, len(seqs), seq, f"entry {seq} comes after entry {after}: the lines were moved")
        if seq != after:
            seqs.append(seq)
            hashes[seq] = digest
    if manifest is None:
        return VerifyResult(False, len(seqs), None, FHIR_NOT_CHAINED)
    problem = _manifest_problem(text, manifest, len(seqs), trusted_public_key)
    if problem is None and seqs:
        ends = (seqs[0], hashes[seqs[0]], seqs[-1], hashes[seqs[-1]])
        if ends != tuple(manifest.get(k) for k in ("first_seq", "first_hash", "last_seq", "last_hash")):
            problem = "the first or last entry differs from the manifest's"
    return VerifyResult(False, len(seqs), None, problem) if problem else VerifyResult(True, len(seqs))
