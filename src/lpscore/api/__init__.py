"""The HTTP API over the published scores, the seed of the review console (docs/api.md)."""

from lpscore.api.app import create_app

__all__ = ["create_app"]
