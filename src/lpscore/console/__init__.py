"""The review and calibration console (docs/console.md): a FastAPI app with logins, roles,
CSRF and an audit trail over a data directory, the score store and its cache; static pages
with no CDN. No business logic: scoring and publishing are scoring/ and publish/ calls."""

from lpscore.console.app import create_console_app
from lpscore.console.auth import hash_password
from lpscore.console.db import ROLES, ConsoleDB
from lpscore.console.state import DB_NAME, Console

__all__ = ["DB_NAME", "ROLES", "Console", "ConsoleDB", "create_console_app", "hash_password"]
