"""Group commit: the changes of many concurrent commands saved in one transaction, each answered after it.

One decision per transaction is bounded by one durable commit per decision (a WAL flush on PostgreSQL, an fsync
on SQLite) and, in the library's PostgreSQL recorder, one table lock per save. Requests that arrive while a
commit is under way do not need commits of their own: like PostgreSQL's own group commit and the write paths of
high-throughput event stores, the change first in the queue takes every change waiting behind it (up to
`max_batch` cases) and saves them together through the library (`Application.save` of several cases' events: one
`insert_events`, one transaction). Each waiting command is answered only when that transaction has committed.

What stays as it was:
- Each command was judged by the gate on its own copy of its case at the version it loaded; the save is still
  an optimistic insert at the next version, so a withdrawal committed in between makes that command's insert
  conflict, and the command is judged again on the newest version (CoordinationService._change).
- A conflict or a refusal affects only its own command: when a batch conflicts as a whole (the database refuses
  the transaction because one case was changed by another process), nothing of it is stored, and each case is
  then saved alone, so only the conflicting one reports the conflict.
- Nothing is acknowledged that is not durable: `submit` returns only after the commit, and any other error (the
  database gone, the process killed) reaches every command of the batch; none of them was stored (one
  transaction), and none was answered.
- Two commands on one case never share a batch (the second was judged on the same version as the first and will
  conflict): it waits for the next batch.

With one client at a time, each change is committed at once by its own thread (a batch of one, no hand-over);
batches form by themselves when requests overlap: those arriving while a commit is under way make up the next
one. A `window_s` above zero lets the leader wait that long for a batch to fill when its previous batch held
concurrent changes (more decisions per commit, each waiting a little longer)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import RecordConflictError

DEFAULT_MAX_BATCH = 64


class _Ticket:
    """One command's change, waiting for its batch's commit (or for its turn to lead one)."""

    __slots__ = ("case_id", "done", "error", "events", "turn")

    def __init__(self, case_id: Any, events: Sequence[Any], lock: threading.Lock) -> None:
        self.case_id = case_id
        self.events = events
        self.done = False
        self.error: BaseException | None = None
        self.turn = threading.Condition(lock)


class GroupCommit:
    """Saves the pending events of many cases together; `submit` blocks until its own events are durable.

    No thread of its own: the requests' threads take turns leading (as LevelDB's and MySQL's group commits do).
    Waiting changes form a queue; the thread whose change is first in it commits a batch taken from the front,
    answers everyone in the batch, and hands the lead to the next change still waiting. A lone request finds the
    queue empty and commits its own change at once, with no hand-over at all."""

    def __init__(
        self,
        save: Callable[..., Any],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        window_s: float = 0.0,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._save = save
        self.max_batch = max_batch
        self.window_s = max(0.0, window_s)
        self._lock = threading.Lock()
        self._queue: list[_Ticket] = []
        self._grown = threading.Condition(self._lock)
        self._closed = False
        self._last_batch = 0
        # Figures for benchmarks: commits made and the changes they carried.
        self.commits = 0
        self.changes = 0

    def submit(self, case: Any) -> None:
        """Saves the case's pending events in the next batch and returns once that batch has committed; raises
        what the save raised for this case (RecordConflictError: the case changed since it was loaded)."""
        events = case.collect_events()
        if not events:
            return
        ticket = _Ticket(case.id, events, self._lock)
        with self._lock:
            if self._closed:
                raise RuntimeError("the service is closing; nothing more is saved")
            self._queue.append(ticket)
            self._grown.notify()
            while not ticket.done and self._queue[0] is not ticket:
                ticket.turn.wait()
            if not ticket.done:
                # This change leads: take a batch from the front (it is the first in it).
                if self.window_s and self._last_batch > 1 and len(self._queue) < self.max_batch:
                    self._grown.wait_for(lambda: len(self._queue) >= self.max_batch, timeout=self.window_s)
                batch = self._take()
        if not ticket.done:
            self._commit(batch)
            with self._lock:
                self._last_batch = len(batch)
                taken = set(map(id, batch))
                self._queue = [waiting for waiting in self._queue if id(waiting) not in taken]
                for answered in batch:
                    answered.done = True
                    answered.turn.notify()
                if self._queue:
                    self._queue[0].turn.notify()  # the next change waiting leads the next batch
        if ticket.error is not None:
            raise ticket.error

    @property
    def waiting(self) -> int:
        """Changes queued now, the one being committed included."""
        with self._lock:
            return len(self._queue)

    def close(self) -> None:
        """Refuses further changes (those already submitted are committed by their own threads)."""
        with self._lock:
            self._closed = True

    # -- the leader's work ----------------------------------------------------------------------------------

    def _take(self) -> list[_Ticket]:
        """Up to max_batch waiting changes from the front, at most one per case, in arrival order."""
        batch: list[_Ticket] = []
        cases: set[Any] = set()
        for ticket in self._queue:
            if len(batch) >= self.max_batch:
                break
            if ticket.case_id not in cases:
                cases.add(ticket.case_id)
                batch.append(ticket)
        return batch

    def _commit(self, batch: list[_Ticket]) -> None:
        """Saves the batch in one transaction and sets each change's error (None: committed)."""
        try:
            self._save(*(event for ticket in batch for event in ticket.events))
        except RecordConflictError as conflict:
            if len(batch) == 1:
                batch[0].error = conflict
            else:
                # Nothing of the batch was stored; find the case that conflicted by saving each alone.
                for ticket in batch:
                    self._commit([ticket])
            return
        except BaseException as error:
            for ticket in batch:
                ticket.error = error
            return
        self.commits += 1
        self.changes += len(batch)
