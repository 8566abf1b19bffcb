"""The ASGI entry point for uvicorn (`adapters.http.asgi:app`): settings from the environment."""

from adapters.http.app import create_app
from adapters.logging import configure_logging
from adapters.settings import Settings

_settings = Settings()
configure_logging(_settings.log_level)
app = create_app(_settings)
