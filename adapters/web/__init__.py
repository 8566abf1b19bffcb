"""The web pages in Swedish (docs/web.md): server-rendered, through the same read door as the API."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from adapters.web import oidc, pages
from adapters.web.pages import STATIC_DIR

__all__ = ["router", "static_files"]

# The pages and the OpenID Connect sign-in (its routes are pages too: same session cookie, headers and errors).
router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
router.include_router(oidc.router)


def static_files() -> StaticFiles:
    """The pages' stylesheet, served at /static."""
    return StaticFiles(directory=STATIC_DIR)
