"""The FastAPI application: wiring only. Routes live in adapters/http/routes/, errors in problems.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from adapters.anchors import Anchoring, anchor_store
from adapters.auth import TokenVerifier
from adapters.disclosure_log import DisclosureLog
from adapters.http import openapi, problems
from adapters.http.context import Context
from adapters.http.fast_view import FastView
from adapters.http.middleware import RequestContext
from adapters.http.routes import audit, case_events, health, participants, reading, work
from adapters.projections import projection_runner
from adapters.read_service import ReadService, installation_of
from adapters.register_extract import retention_rules
from adapters.review import rules_from
from adapters.settings import Settings
from adapters.signing import ManifestSigner
from adapters.storage import Storage, open_storage
from adapters.web import router as web_router
from adapters.web import static_files


def build_context(settings: Settings, storage: Storage | None = None) -> Context:
    """Opens everything a running service needs."""
    storage = storage or open_storage(settings)
    datastore = storage.service.factory.datastore  # type: ignore[attr-defined]
    verifier = TokenVerifier(
        secret=settings.token_key,
        public_key_file=settings.token_public_key_file,
        jwks_file=settings.token_jwks_file,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        operator=settings.operator_agency,
        max_lifetime_hours=settings.token_max_lifetime_hours,
        leeway_s=settings.token_leeway_s,
    )
    log = DisclosureLog(datastore)
    signer = ManifestSigner(settings.audit_key)
    runner = projection_runner(storage, settings)
    return Context(
        settings,
        storage,
        log,
        verifier,
        signer,
        runner,
        ReadService(
            storage.service,
            log,
            runner.store,
            signer,
            read_wait_s=settings.read_wait_ms / 1000,
            nudge=runner.nudge,
            review_rules=rules_from(settings),
            installation=installation_of(settings),
            retention=retention_rules(settings),
            anchors=anchor_store(settings, storage.target, log, signer),
        ),
    )


def create_app(settings: Settings | None = None, *, context: Context | None = None) -> FastAPI:
    """The HTTP service. With `context`, uses (and leaves open) resources the caller owns."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = context is None
        app.state.context = context or build_context(settings)
        follow = owned and settings.projections == "inprocess"
        if follow:
            app.state.context.projections.start()
        # `samverkan serve`: a signed anchor of the log's head every SAMVERKAN_ANCHOR_INTERVAL_S (adapters/anchors.py).
        anchoring = None
        if owned and app.state.context.reads.anchors is not None:
            anchoring = Anchoring(app.state.context.reads.anchors, settings.anchor_interval_s)
            anchoring.start()
        try:
            yield
        finally:
            if anchoring is not None:
                anchoring.stop()
            if follow:
                app.state.context.projections.stop()
            if owned:
                app.state.context.storage.close()

    app = FastAPI(
        title="Samverkan",
        version="1",
        summary="Coordination of participants' shared cases for samordningsförbund (Finsam).",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry export stays off: it would record exception messages and request data (which
        # can hold personal data) outside the ids-only logs (adapters/logging.py), and with it off each request
        # skips the providers' look-up.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    if context is not None:
        app.state.context = context
    problems.install(app)
    openapi.install(app)  # the problem answers of every operation (docs/api.md, "Errors")
    # The agency view's own handler (adapters/http/fast_view.py), inside RequestContext (added later, so outer).
    app.add_middleware(FastView)
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.max_body_bytes,
        max_url_bytes=settings.max_url_bytes,
        max_header_bytes=settings.max_header_bytes,
    )
    for module in (participants, case_events, reading, work, audit, health):
        app.include_router(module.router)
    # The web pages (docs/web.md): their own session cookie and CSRF check live in adapters/web.
    app.include_router(web_router)
    app.mount("/static", static_files(), name="static")
    return app
