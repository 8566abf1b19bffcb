"""The web pages in Swedish (docs/web.md): server-rendered, through the same read door as the API."""

from __future__ import annotations

from fastapi.staticfiles import StaticFiles

from adapters.web.pages import STATIC_DIR, router

__all__ = ["router", "static_files"]


def static_files() -> StaticFiles:
    """The pages' stylesheet, served at /static."""
    return StaticFiles(directory=STATIC_DIR)
