"""Wiring of the projections to an open storage."""

from __future__ import annotations

from adapters.settings import Settings
from adapters.storage import Storage, schema_lock
from projections.runner import ProjectionRunner
from projections.store import ProjectionStore


def projection_runner(storage: Storage, settings: Settings) -> ProjectionRunner:
    """A runner over the storage's event log and database (tables made on first use)."""
    with schema_lock(storage.target, settings):  # several workers starting at once take turns making tables
        store = ProjectionStore(storage.service.factory.datastore, storage.events_table)  # type: ignore[attr-defined]
        return ProjectionRunner(store, batch_size=settings.projection_batch_size, listen=storage.listen_params())
