"""Anchors: the disclosure log's head (seq, hash), signed with the audit key and kept outside the database.

The hash chain and the triggers only show tampering by someone who cannot write the database as its owner: an owner
can switch the triggers off, re-chain the log from an entry on (recomputing every hash), cut the tail and fix the
head, or empty the log and reset it, and the chain still checks. An anchor written before that names a (seq, hash)
the rewritten log no longer holds, and an owner of the database cannot make a new one without the audit key.

Each anchor is one JSON file `anchor-<seq>-<time>.json` in the anchor directory (SAMVERKAN_ANCHOR_DIR): written to
a temporary file, flushed to disk, then linked under its final name (never overwriting one) and the directory
flushed. `check` compares the live log with every anchor there (docs/audit.md, "Anchors").
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.disclosure_log import DisclosureLog, VerifyResult, canonical
from adapters.settings import Settings
from adapters.signing import ManifestSigner, signature_valid
from adapters.storage import DatabaseTarget

logger = logging.getLogger(__name__)

SIGNED_FIELDS = ("seq", "hash", "entries", "created_at", "key_id")


class AnchorError(RuntimeError):
    """An anchor could not be written."""


def anchor_dir_of(settings: Settings, target: DatabaseTarget) -> Path | None:
    """SAMVERKAN_ANCHOR_DIR; without it, `anchors/` beside a SQLite file; on PostgreSQL, none (no anchors)."""
    if settings.anchor_dir is not None:
        return settings.anchor_dir
    if target.engine == "sqlite" and target.sqlite_path is not None:
        return target.sqlite_path.parent / "anchors"
    return None


def _when(anchor: dict[str, Any]) -> str:
    """The anchor's time as a reader wants it: 2026-11-25 14:05 UTC."""
    try:
        return datetime.fromisoformat(str(anchor["created_at"])).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (KeyError, ValueError):
        return str(anchor.get("created_at"))


@dataclass(frozen=True)
class Found:
    """One anchor file as read: its name, its content (None if it does not parse) and whether its signature holds."""

    name: str
    anchor: dict[str, Any] | None
    signed: bool


class AnchorStore:
    """Writes and checks the anchors of one log in one directory (None: anchoring is not configured)."""

    def __init__(self, log: DisclosureLog, signer: ManifestSigner, directory: Path | None) -> None:
        self.log = log
        self.signer = signer
        self.directory = directory
        self._lock = threading.Lock()

    # -- writing ---------------------------------------------------------------------------------------------

    def anchor(self) -> tuple[Path, dict[str, Any]]:
        """Signs the log's current head and writes it as a new file; returns the file and the anchor."""
        if self.directory is None:
            raise AnchorError("no anchor directory is configured (set SAMVERKAN_ANCHOR_DIR)")
        seq, head_hash = self.log.head()
        created = datetime.now(UTC)
        anchor: dict[str, Any] = {
            "seq": seq,
            "hash": head_hash,
            "entries": seq,
            "created_at": created.isoformat(),
            "key_id": self.signer.key_id,
        }
        anchor["signature"] = self.signer.sign(canonical(anchor))
        data = json.dumps(anchor, indent=2).encode()
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"anchor-{seq:012d}-{created:%Y%m%dT%H%M%S%fZ}.json"
            target = self.directory / name
            temporary = self.directory / f".{name}.tmp"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.link(temporary, target)  # atomic, and refuses to replace an existing anchor
            except FileExistsError:
                raise AnchorError(f"anchor {target} exists already; not overwritten") from None
            finally:
                temporary.unlink(missing_ok=True)
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return target, anchor

    def anchor_quietly(self, why: str) -> None:
        """Anchors when a directory is configured; a failure is logged, never raised (an export still answers)."""
        if self.directory is None:
            return
        try:
            self.anchor()
        except Exception:  # anchoring must not break the read that triggered it
            logger.exception("could not write an anchor of the disclosure log (%s)", why)

    # -- reading and checking --------------------------------------------------------------------------------

    def found(self) -> list[Found]:
        """Every anchor file in the directory, by name (seq, then time)."""
        assert self.directory is not None
        found = []
        for path in sorted(self.directory.glob("anchor-*.json")):
            try:
                anchor = json.loads(path.read_bytes())
            except (OSError, ValueError):
                found.append(Found(path.name, None, False))
                continue
            if not isinstance(anchor, dict):
                found.append(Found(path.name, None, False))
                continue
            found.append(Found(path.name, anchor, self._signed(anchor)))
        return found

    def _signed(self, anchor: dict[str, Any]) -> bool:
        signature = anchor.get("signature")
        if not isinstance(signature, str) or not isinstance(anchor.get("seq"), int):
            return False
        signed = {name: anchor.get(name) for name in SIGNED_FIELDS}
        return signature_valid(self.signer.public_key, canonical(signed), signature)

    def check(self, chain: VerifyResult) -> VerifyResult:
        """The chain's result (from `DisclosureLog.verify`), checked against every anchor: each must be signed by
        the audit key, and its (seq, hash) must be found in the log. A failing chain is returned as it is."""
        if not chain.ok:
            return chain
        if self.directory is None:
            return _with(chain, {"checked": 0, "note": "no anchor directory is configured: no anchor was checked"})
        if not self.directory.is_dir():
            note = f"the anchor directory {self.directory} does not exist: no anchor was checked"
            return _with(chain, {"checked": 0, "note": note})
        found = self.found()
        if not found:
            return _with(chain, {"checked": 0, "note": f"no anchor in {self.directory}: no anchor was checked"})
        for item in found:
            if not item.signed:
                seq = item.anchor.get("seq") if item.anchor else None
                return _failed(
                    chain,
                    seq if isinstance(seq, int) else None,
                    f"the anchor {item.name} is not signed by the audit key (key {self.signer.key_id}): "
                    "it was forged or altered",
                    len(found),
                )
        anchors = sorted((item.anchor for item in found if item.anchor), key=lambda a: (a["seq"], str(a["created_at"])))
        head = chain.entries  # the live log runs 1..head without gaps (the chain checked it)
        hashes = self.log.hashes_at(sorted({a["seq"] for a in anchors if 0 < a["seq"] <= head}))
        matching: dict[str, Any] | None = None
        for anchor in anchors:
            seq = anchor["seq"]
            if seq > head:
                if head == 0:
                    reason = f"the log is empty but the anchor of {_when(anchor)} names entry {seq}: it was emptied"
                else:
                    reason = (
                        f"the log ends at entry {head} but the anchor of {_when(anchor)} names entry {seq}: "
                        f"entries after {head} were removed"
                    )
                return _failed(chain, head + 1, reason, len(found))
            held = hashes.get(seq) if seq > 0 else None
            if seq > 0 and held != anchor["hash"]:
                reason = (
                    f"the log was rewritten at or before entry {seq}: the hash of entry {seq} differs from "
                    f"the anchor of {_when(anchor)}"
                )
                if matching is not None:  # the rewrite began after the last anchor that still matches
                    reason += f" (entries up to {matching['seq']} match the anchor of {_when(matching)})"
                return _failed(chain, seq, reason, len(found))
            matching = anchor
        newest = max(anchors, key=lambda a: str(a["created_at"]))
        return _with(
            chain, {"checked": len(found), "newest": {"seq": newest["seq"], "created_at": newest["created_at"]}}
        )


def _with(chain: VerifyResult, anchors: dict[str, Any]) -> VerifyResult:
    return VerifyResult(chain.ok, chain.entries, chain.first_bad_seq, chain.reason, anchors=anchors)


def _failed(chain: VerifyResult, seq: int | None, reason: str, checked: int) -> VerifyResult:
    return VerifyResult(False, chain.entries, seq, reason, anchors={"checked": checked})


def anchor_store(settings: Settings, target: DatabaseTarget, log: DisclosureLog, signer: ManifestSigner) -> AnchorStore:
    """The anchor store the settings describe."""
    return AnchorStore(log, signer, anchor_dir_of(settings, target))


class Anchoring:
    """Anchors the log every `interval_s` seconds in a background thread (`samverkan serve`), when the head moved."""

    def __init__(self, store: AnchorStore, interval_s: float) -> None:
        self.store = store
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="anchoring", daemon=True)
        self._last: int | None = None

    def start(self) -> None:
        if self.store.directory is not None and self.interval_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                seq, _ = self.store.log.head()
                if seq != self._last:
                    self.store.anchor()
                    self._last = seq
            except Exception:  # an outage or a full disk: try again at the next interval
                logger.exception("could not write a periodic anchor of the disclosure log")
