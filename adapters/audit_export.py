"""Exports of the disclosure log for secrecy review (JSON Lines, CSV), their signed manifest, and verification
of an exported file."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from adapters.disclosure_log import ChainChecker, LogFilter, VerifyResult, canonical
from adapters.signing import ManifestSigner, signature_valid

FORMATS = ("jsonl", "csv")
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


def lines(entries: Iterable[dict[str, Any]], fmt: str) -> Iterator[str]:
    """The export in `fmt` (jsonl or csv)."""
    return jsonl_lines(entries) if fmt == "jsonl" else csv_lines(entries)


def entries_from_text(text: str, fmt: str) -> Iterator[dict[str, Any] | None]:
    """Parses an export back into entries, exactly as they were hashed; None for a line that does not parse."""
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
    entries: Iterable[dict[str, Any]], where: LogFilter, fmt: str, signer: ManifestSigner
) -> dict[str, Any]:
    """Count, first and last seq and hash, the SHA-256 of the export's exact bytes in `fmt`, and an Ed25519
    signature over all of it. Streams: constant memory however long the log."""
    seen: dict[str, Any] = {"count": 0, "first": None, "last": None}

    def watched() -> Iterator[dict[str, Any]]:
        for entry in entries:
            seen["first"] = seen["first"] or entry
            seen["last"] = entry
            seen["count"] += 1
            yield entry

    digest = hashlib.sha256()
    for line in lines(watched(), fmt):
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
    manifest, also that the manifest is signed by the trusted key, the file's SHA-256 and the count."""
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
